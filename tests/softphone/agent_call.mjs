// Drives Hotline's /agent page in Debian's Chromium as an agent taking one call:
// sign in, go available, ring, answer (WebRTC with the fake microphone playing MIC_WAV),
// check audio arrives (getStats), hold and resume, then wrap up when the caller hangs up.
// Prints progress lines for tests/softphone_calls.rs and a final `RESULT {json}`;
// screenshots of every step go to SHOTS_DIR.
//
// usage: node agent_call.mjs BASE_URL TENANT LOGIN PASSWORD MIC_WAV SHOTS_DIR
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, tenant, login, password, mic, shots] = process.argv.slice(2);
const say = (line) => console.log(line);
const result = { steps: [] };
const shot = async (page, name) => {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  result.steps.push(name);
};

const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'hotline-chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${mic}`,
    '--autoplay-policy=no-user-gesture-required', '--allow-loopback-in-peer-connection'],
});
const page = ctx.pages()[0] || await ctx.newPage();
page.on('console', (m) => { if (m.type() === 'error') say(`PAGE-ERROR ${m.text()}`); });
const state = (s, timeout = 10000) => page.waitForFunction((s) => window.hotline && window.hotline.state === s, s, { timeout });

try {
  await page.goto(`${base}/agent`);
  await page.fill('input[name=tenant]', tenant);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', password);
  await shot(page, '01-sign-in');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => window.hotline && window.hotline.events.some((e) => e.type === 'hello'));
  // Sign-in shot in English (the browser's language), the rest in Chinese.
  await page.click('#lang');
  await page.click('#btn-available');
  await state('available');
  await shot(page, '02-available');
  say('READY');

  await page.waitForFunction(() => window.hotline.call && window.hotline.call.state === 'ringing', null, { timeout: 30000 });
  result.ringing_at_ms = Date.now();
  say(`RINGING ${result.ringing_at_ms}`);
  result.screen = await page.evaluate(() => ({
    caller: document.getElementById('caller').textContent,
    path: document.getElementById('ivr-path').textContent,
    queue: document.getElementById('queue').textContent,
  }));
  await shot(page, '03-ringing');

  await page.click('#btn-answer');
  await page.waitForFunction(() => window.hotline.call && window.hotline.call.media === 'connected', null, { timeout: 10000 });
  await page.waitForTimeout(3000);
  const stats = async () => page.evaluate(async () => {
    const r = await window.hotline.pc.getStats();
    let inbound = null;
    r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s; });
    return inbound ? { packetsReceived: inbound.packetsReceived, audioLevel: inbound.audioLevel ?? 0,
                       codec: inbound.codecId } : null;
  });
  result.inbound = await stats();
  await shot(page, '04-talking');
  say(`TALKING ${JSON.stringify(result.inbound)}`);

  await page.click('#btn-hold');
  await page.waitForTimeout(1500);
  await shot(page, '05-held');
  await page.click('#btn-hold');
  await page.waitForTimeout(1000);
  result.inbound_after_resume = await stats();
  await shot(page, '06-resumed');

  await state('wrap-up', 30000);
  await shot(page, '07-wrap-up');
  await page.selectOption('#wrapup select[name=disposition]', 'resolved');
  await page.fill('#wrapup textarea[name=notes]', 'Caller asked about an order; answered.');
  await page.click('#wrapup button[type=submit]');
  await state('available');
  await shot(page, '08-available-again');
  result.ok = true;
} catch (e) {
  result.ok = false;
  result.error = String(e && e.message || e);
  await shot(page, '99-failure').catch(() => {});
}
say(`RESULT ${JSON.stringify(result)}`);
await ctx.close();
process.exit(result.ok ? 0 : 1);
