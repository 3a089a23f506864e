// Two browser agents in ONE headless Chromium (one context each, so each has its own
// sign-in cookie), driven step by step by tests/acd_mixed.rs over stdin/stdout.
//
// usage: node two_agents.mjs BASE_URL TENANT PASSWORD MIC_WAV SHOTS_DIR
//
// Commands on stdin, one per line: `ID VERB AGENT [ARGS…]` (AGENT is a label such as A or B).
// Every command gets exactly one answer line: `OK ID {json}` or `ERR ID message`; a failing
// command also leaves `SHOTS_DIR/AGENT-99-failure-ID.png`. Other lines: `READY` once the
// browser runs, `PAGE-ERROR AGENT text` for the page's console errors. Every wait inside is
// bounded (the timeouts below, or the one the command names).
//
//   signin AGENT LOGIN            open /agent in a new context and sign in (English)
//   available AGENT               click Available, wait for the state; {at_ms}
//   ring AGENT TIMEOUT_MS         wait until a call rings; {at_ms, screen, state}
//   answer AGENT                  click Answer, wait for connected audio, 3 s of it; {inbound}
//   stats AGENT                   the inbound audio stats now; {inbound}
//   hangup AGENT                  click Hang up, wait for wrap-up
//   wait_state AGENT STATE MS     wait for the agent state; {state}
//   wrapup AGENT DISPOSITION      fill the wrap-up form, save, wait for available
//   info AGENT                    {state, call, offers: [the offer events seen]}
//   shot AGENT NAME               screenshot SHOTS_DIR/AGENT-NAME.png
//   quit                          close the browser and exit
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const [base, tenant, password, mic, shots] = process.argv.slice(2);
const say = (line) => console.log(line);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${mic}`,
    '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection',
    // Two pages at once: neither may be throttled as a background tab.
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
    '--disable-backgrounding-occluded-windows'],
});
const pages = new Map();
const page = (agent) => {
  const p = pages.get(agent);
  if (!p) throw new Error(`agent ${agent} has not signed in`);
  return p;
};
const shot = (agent, name) => page(agent).screenshot({ path: join(shots, `${agent}-${name}.png`), fullPage: true });
const stateIs = (p, s, timeout = 10000) =>
  p.waitForFunction((s) => window.hotline && window.hotline.state === s, s, { timeout });
const inbound = (p) => p.evaluate(async () => {
  if (!window.hotline.pc) return null;
  const r = await window.hotline.pc.getStats();
  let got = null;
  r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') got = s; });
  return got ? { packetsReceived: got.packetsReceived, audioLevel: got.audioLevel ?? 0 } : null;
});

const verbs = {
  async signin(agent, login) {
    const ctx = await browser.newContext({ locale: 'en-US' });
    const p = await ctx.newPage();
    p.on('console', (m) => { if (m.type() === 'error') say(`PAGE-ERROR ${agent} ${m.text()}`); });
    pages.set(agent, p);
    await p.goto(`${base}/agent`, { timeout: 15000 });
    await p.fill('input[name=tenant]', tenant);
    await p.fill('input[name=login]', login);
    await p.fill('input[name=password]', password);
    await p.click('#login-form button[type=submit]');
    await p.waitForFunction(() => window.hotline && window.hotline.events.some((e) => e.type === 'hello'),
      null, { timeout: 10000 });
    return { state: await p.evaluate(() => window.hotline.state) };
  },
  async available(agent) {
    const p = page(agent);
    await p.click('#btn-available', { timeout: 5000 });
    await stateIs(p, 'available');
    return { at_ms: Date.now() };
  },
  async ring(agent, timeout) {
    const p = page(agent);
    await p.waitForFunction(() => window.hotline.call && window.hotline.call.state === 'ringing',
      null, { timeout: Number(timeout) });
    const at_ms = Date.now();
    const screen = await p.evaluate(() => ({
      call_id: window.hotline.call.id,
      caller: document.getElementById('caller').textContent,
      queue: document.getElementById('queue').textContent,
      region: document.getElementById('region').textContent,
      path: document.getElementById('ivr-path').textContent,
    }));
    return { at_ms, screen, state: await p.evaluate(() => window.hotline.state) };
  },
  async answer(agent) {
    const p = page(agent);
    await p.click('#btn-answer', { timeout: 5000 });
    await p.waitForFunction(() => window.hotline.call && window.hotline.call.media === 'connected',
      null, { timeout: 10000 });
    await p.waitForTimeout(3000);
    return { inbound: await inbound(p) };
  },
  async stats(agent) {
    return { inbound: await inbound(page(agent)) };
  },
  async hangup(agent) {
    const p = page(agent);
    await p.click('#btn-hangup', { timeout: 5000 });
    await stateIs(p, 'wrap-up');
    return {};
  },
  async wait_state(agent, state, timeout) {
    await stateIs(page(agent), state, Number(timeout));
    return { state };
  },
  async wrapup(agent, disposition) {
    const p = page(agent);
    await p.selectOption('#wrapup select[name=disposition]', disposition, { timeout: 5000 });
    await p.fill('#wrapup textarea[name=notes]', `wrap-up by ${agent}`);
    await p.click('#wrapup button[type=submit]');
    await stateIs(p, 'available');
    return {};
  },
  async info(agent) {
    return page(agent).evaluate(() => ({
      state: window.hotline.state,
      call: window.hotline.call && { id: window.hotline.call.id, state: window.hotline.call.state },
      offers: window.hotline.events.filter((e) => e.type === 'offer'),
    }));
  },
  async shot(agent, name) {
    await shot(agent, name);
    return {};
  },
};

say('READY');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  const [id, verb, agent, ...args] = line.trim().split(/\s+/);
  if (!id) continue;
  if (verb === 'quit') {
    say(`OK ${id} {}`);
    break;
  }
  try {
    const f = verbs[verb];
    if (!f) throw new Error(`unknown command ${verb}`);
    const out = await f(agent, ...args);
    say(`OK ${id} ${JSON.stringify(out ?? {})}`);
  } catch (e) {
    if (pages.has(agent)) await shot(agent, `99-failure-${id}`).catch(() => {});
    say(`ERR ${id} ${String((e && e.message) || e).replace(/\s+/g, ' ')}`);
  }
}
await browser.close();
process.exit(0);
