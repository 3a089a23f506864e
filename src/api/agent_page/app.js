// Hotline agent softphone: sign-in, state, incoming calls with the caller's context, audio
// over WebRTC to Hotline's gateway, hold/mute/keypad/hang-up, wrap-up. Talks to the server
// over /api/v1/agent/ws (JSON) and reconnects by itself.

const T = {
  zh: {
    desk: '坐席工作台', signin: '坐席登录', tenant: '租户', login: '工号', password: '密码',
    'signin-btn': '登录', status: '状态', 'go-available': '就绪', 'go-away': '示忙', signout: '签出',
    'r-break': '小休', 'r-lunch': '用餐', 'r-training': '培训', 'r-meeting': '会议',
    waiting: '等待来电…', 'ivr-path': 'IVR 路径', answer: '接听', reject: '拒接', hold: '保持',
    resume: '恢复', mute: '静音', unmute: '取消静音', keypad: '拨号盘', hangup: '挂断',
    history: '历史来电', 'no-history': '无', wrapup: '话后处理', disposition: '结果', notes: '备注',
    save: '保存并就绪', 'd-resolved': '已解决', 'd-follow': '需跟进', 'd-escalated': '已升级',
    'd-wrong': '打错电话', 'd-other': '其他', online: '已连接', offline: '未连接', retry: '重连中',
    'logged-out': '已签出', available: '就绪', away: '示忙', ringing: '振铃', 'on-call': '通话中',
    'wrap-up': '话后处理', connected: '通话中', held: '保持中', ended: '已结束', media: '建立音频…',
    queue: '队列', bad_login: '租户、工号或密码错误', callbacks: '待回拨', transfer: '转接', to_queue: '队列', to_agent: '坐席', to_number: '号码', ph_queue: '队列名', ph_agent: '坐席工号', ph_number: '电话号码', transferred: '已转接',
  },
  en: {
    desk: 'Agent desk', signin: 'Agent sign-in', tenant: 'Tenant', login: 'Login', password: 'Password',
    'signin-btn': 'Sign in', status: 'Status', 'go-available': 'Available', 'go-away': 'Away', signout: 'Sign out',
    'r-break': 'Break', 'r-lunch': 'Lunch', 'r-training': 'Training', 'r-meeting': 'Meeting',
    waiting: 'Waiting for calls…', 'ivr-path': 'IVR path', answer: 'Answer', reject: 'Reject', hold: 'Hold',
    resume: 'Resume', mute: 'Mute', unmute: 'Unmute', keypad: 'Keypad', hangup: 'Hang up',
    history: 'Earlier calls', 'no-history': 'None', wrapup: 'Wrap-up', disposition: 'Disposition', notes: 'Notes',
    save: 'Save and go available', 'd-resolved': 'Resolved', 'd-follow': 'Follow-up', 'd-escalated': 'Escalated',
    'd-wrong': 'Wrong number', 'd-other': 'Other', online: 'Connected', offline: 'Offline', retry: 'Reconnecting',
    'logged-out': 'Signed out', available: 'Available', away: 'Away', ringing: 'Ringing', 'on-call': 'On a call',
    'wrap-up': 'Wrap-up', connected: 'Talking', held: 'On hold', ended: 'Ended', media: 'Connecting audio…',
    queue: 'Queue', bad_login: 'Wrong tenant, login or password', callbacks: 'Callbacks', transfer: 'Transfer', to_queue: 'Queue', to_agent: 'Agent', to_number: 'Number', ph_queue: 'queue name', ph_agent: 'agent login', ph_number: 'phone number', transferred: 'Transferred',
  },
};

const $ = (id) => document.getElementById(id);
const S = {
  lang: (localStorage.getItem('lang') || (navigator.language.startsWith('zh') ? 'zh' : 'en')),
  ws: null, retry: 0, agent: null, state: 'logged-out', call: null, pc: null, stream: null,
  muted: false, held: false, timerStart: 0, events: [],
};
window.hotline = S; // for tests and supervisors' debugging

function t(k) { return (T[S.lang] && T[S.lang][k]) || k; }
function applyLang() {
  document.documentElement.lang = S.lang;
  document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
  if ($('xfer-kind')) xferPlaceholder();
  $('lang').textContent = S.lang === 'zh' ? 'EN' : '中文';
  render();
}
$('lang').onclick = () => { S.lang = S.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('lang', S.lang); applyLang(); };

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('desk-view').hidden = view !== 'desk';
}

async function start() {
  applyLang();
  const me = await fetch('/api/v1/agent/me', { credentials: 'same-origin' });
  if (me.ok) { S.agent = await me.json(); enterDesk(); } else { show('login'); }
}

$('login-form').onsubmit = async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const r = await fetch('/api/v1/agent/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
    body: JSON.stringify({ tenant: f.get('tenant'), login: f.get('login'), password: f.get('password') }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { $('login-error').textContent = r.status === 401 ? t('bad_login') : (body.error || r.statusText); return; }
  S.agent = body.agent; enterDesk();
};

function enterDesk() {
  show('desk');
  $('who').textContent = `${S.agent.name} · ${S.agent.login}`;
  connect();
}

function setConn(state) {
  $('conn').dataset.state = state;
  $('conn-text').textContent = t(state === 'on' ? 'online' : state === 'retry' ? 'retry' : 'offline');
}

function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/agent/ws`);
  S.ws = ws;
  ws.onopen = () => { S.retry = 0; setConn('on'); };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = () => {
    setConn('retry');
    S.retry = Math.min(S.retry + 1, 6);
    setTimeout(connect, Math.min(10000, 500 * 2 ** S.retry));
  };
}

function send(cmd) {
  if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(cmd));
}

function onEvent(ev) {
  S.events.push(ev);
  switch (ev.type) {
    case 'hello':
      S.state = ev.state;
      // Back after a reload or a network drop during a call: restore the audio.
      if (ev.state === 'on-call' && ev.call_id) {
        if (!S.call || S.call.id !== ev.call_id) S.call = { id: ev.call_id, state: 'connected', history: [] };
        reconnectMedia();
      }
      break;
    case 'state':
      S.state = ev.state; S.reason = ev.reason;
      if (ev.state === 'wrap-up') { $('wrapup').hidden = false; }
      if (ev.state === 'available' || ev.state === 'away' || ev.state === 'logged-out') {
        $('wrapup').hidden = true; if (S.call && S.call.state !== 'connected') S.call = null;
      }
      break;
    case 'offer':
      S.call = { id: ev.call_id, caller: ev.caller, queue: ev.queue, path: ev.ivr_path, state: 'ringing',
                 region: ev.region, vip: ev.vip, history: [] };
      $('history').innerHTML = `<li class="muted">${t('no-history')}</li>`;
      break;
    case 'history':
      if (S.call && S.call.id === ev.call_id) S.call.history = ev.calls;
      break;
    case 'offer_withdrawn':
      if (S.call && S.call.id === ev.call_id && S.call.state === 'ringing') { hangupMedia(); S.call = null; }
      break;
    case 'webrtc_answer':
      if (S.pc) S.pc.setRemoteDescription({ type: 'answer', sdp: ev.sdp }).catch((e) => error(e.message));
      break;
    case 'call':
      if (S.call && S.call.id === ev.call_id) {
        if (ev.state) S.call.state = ev.state;
        if (ev.state === 'connected' && !S.timerStart) S.timerStart = Date.now();
        if (ev.state === 'ended' || ev.state === 'transferred') { hangupMedia(); S.timerStart = 0; }
      }
      break;
    case 'media':
      if (S.call) S.call.media = ev.state;
      break;
    case 'error':
      error(ev.message);
      break;
    case 'callbacks':
      S.callbacks = ev.items || [];
      break;
  }
  render();
}

function error(msg) { $('desk-error').textContent = msg || ''; }

async function openMedia(callId) {
  hangupMedia();
  S.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection({ iceServers: [] });
  S.pc = pc;
  S.stream.getTracks().forEach((tr) => pc.addTrack(tr, S.stream));
  pc.ontrack = (e) => { $('remote').srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  // The gateway is ICE-lite and takes no trickled candidates: send the complete offer.
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  send({ type: 'answer', call_id: callId, sdp: pc.localDescription.sdp });
}

function reconnectMedia() { if (S.call) openMedia(S.call.id).catch((e) => error(e.message)); }

function hangupMedia() {
  if (S.pc) { S.pc.close(); S.pc = null; }
  if (S.stream) { S.stream.getTracks().forEach((tr) => tr.stop()); S.stream = null; }
  S.muted = false; S.held = false;
}

$('btn-available').onclick = () => send({ type: 'set_state', state: 'available' });
$('btn-away').onclick = () => send({ type: 'set_state', state: 'away', reason: $('away-reason').value });
$('btn-logout').onclick = async () => {
  send({ type: 'set_state', state: 'logged-out' });
  await fetch('/api/v1/agent/logout', { method: 'POST', credentials: 'same-origin' });
  location.reload();
};
$('btn-answer').onclick = () => { if (S.call) openMedia(S.call.id).catch((e) => error(e.message)); };
$('btn-reject').onclick = () => { if (S.call) { send({ type: 'reject', call_id: S.call.id }); S.call = null; render(); } };
$('btn-hangup').onclick = () => { if (S.call) send({ type: 'hangup', call_id: S.call.id }); };
$('btn-hold').onclick = () => {
  if (!S.call) return;
  S.held = !S.held;
  send({ type: S.held ? 'hold' : 'resume', call_id: S.call.id });
  render();
};
$('btn-mute').onclick = () => {
  if (!S.call || !S.stream) return;
  S.muted = !S.muted;
  S.stream.getAudioTracks().forEach((tr) => { tr.enabled = !S.muted; });
  send({ type: 'mute', call_id: S.call.id, on: S.muted });
  render();
};
// The target box says what to type for the chosen kind of transfer.
function xferPlaceholder() { $('xfer-queue').placeholder = t('ph_' + $('xfer-kind').value); }
$('xfer-kind').onchange = xferPlaceholder;
$('btn-transfer').onclick = () => {
  // Blind transfer: to a queue, an agent (login) or a number, as the select says.
  const target = $('xfer-queue').value.trim();
  const kind = $('xfer-kind').value;
  if (S.call && target) send({ type: 'transfer', call_id: S.call.id, [kind]: target });
};
$('btn-keypad').onclick = () => { $('keypad').hidden = !$('keypad').hidden; };
$('keypad').onclick = (e) => {
  if (e.target.tagName === 'BUTTON' && S.call) send({ type: 'dtmf', call_id: S.call.id, digits: e.target.textContent });
};
$('wrapup').onsubmit = (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const id = S.call ? S.call.id : (S.events.filter((x) => x.call_id).pop() || {}).call_id;
  send({ type: 'wrap_up', call_id: id, disposition: f.get('disposition'), notes: f.get('notes') });
  e.target.reset();
  S.call = null;
  render();
};

function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c])); }

function render() {
  setConn($('conn').dataset.state);
  // State changes wait while a call rings or is up (away after the call: wrap-up form).
  const busy = S.state === 'ringing' || S.state === 'on-call';
  ['btn-available', 'btn-away', 'btn-logout', 'away-reason'].forEach((id) => { $(id).disabled = busy; });
  $('state').textContent = t(S.state);
  $('state').dataset.state = S.state;
  $('state-reason').textContent = S.state === 'away' && S.reason ? `(${S.reason})` : '';
  const cbs = S.callbacks || [];
  $('callbacks').hidden = cbs.length === 0;
  $('callback-list').innerHTML = cbs.map((x) => `<li>${esc(x.number)} · ${t('queue')}: ${esc(x.queue)}</li>`).join('');
  const c = S.call;
  $('idle').hidden = !!c || S.state === 'wrap-up';
  $('call').hidden = !c;
  if (!c) return;
  $('call').classList.toggle('ringing', c.state === 'ringing');
  $('caller').textContent = c.caller || '';
  $('queue').textContent = c.queue ? `${t('queue')}: ${c.queue}` : '';
  $('region').textContent = c.region || '';
  $('vip').hidden = !c.vip;
  $('ivr-path').textContent = c.path || '—';
  const talking = c.state === 'connected' || c.state === 'held';
  $('call-state').textContent = c.media === 'connected' || c.state !== 'connected' ? t(c.state) : t('media');
  document.querySelector('.ringing-actions').hidden = c.state !== 'ringing';
  document.querySelector('.talking-actions').hidden = !talking;
  $('btn-hold').textContent = t(S.held ? 'resume' : 'hold');
  $('btn-hold').setAttribute('aria-pressed', S.held);
  $('btn-mute').textContent = t(S.muted ? 'unmute' : 'mute');
  $('btn-mute').setAttribute('aria-pressed', S.muted);
  $('history').innerHTML = (c.history && c.history.length)
    ? c.history.map((h) => `<li>${esc(h.started_at.slice(0, 16).replace('T', ' '))} · ${esc(h.agent || '—')} · ${esc(h.disposition || '—')}${h.notes ? ' · ' + esc(h.notes) : ''}</li>`).join('')
    : `<li class="muted">${t('no-history')}</li>`;
}

setInterval(() => {
  if (S.timerStart && S.call) {
    const s = Math.floor((Date.now() - S.timerStart) / 1000);
    $('timer').textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  }
}, 500);

start();
