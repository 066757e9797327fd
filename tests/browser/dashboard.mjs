// The dashboard in a real headless browser (Debian's chromium, driven by puppeteer-core),
// as an operator uses it: sign in with an API key, read the numbers, sign out.
//
//   node dashboard.mjs        (tests/integration/test_dashboard.sh sets the environment)
//
// VN_API_URL   the API listener (http://127.0.0.1:PORT)
// VN_KEY_FILE  a file holding a read API key; VN_KEY_NAME its name
// VN_EXPECT    a JSON file of what the page must show (the test's known traffic)
// VN_SHOTS     where to write dashboard-desktop.png and dashboard-phone.png
// CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints "ok - ..." per check; exits 1 at the first failure.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

const base = process.env.VN_API_URL;
const key = readFileSync(process.env.VN_KEY_FILE, 'utf8').trim();
const keyName = process.env.VN_KEY_NAME;
const expect = JSON.parse(readFileSync(process.env.VN_EXPECT, 'utf8'));
const shots = process.env.VN_SHOTS;
const profile = mkdtempSync(join(tmpdir(), 'vn-chromium-'));

const ok = (what) => console.log(`ok - ${what}`);

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run',
         `--user-data-dir=${profile}`],
});
const problems = [];
let failed = false;
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith('data:'))
      problems.push(`request to another origin: ${r.url()}`);
  });
  await page.setViewport({ width: 1280, height: 900 });

  // Not signed in: the login form, and a wrong key is refused with a message.
  let resp = await page.goto(`${base}/`, { waitUntil: 'load' });
  assert.equal(resp.status(), 200);
  assert.ok(await page.$('form#login input[name=key]'), 'a login form');
  await page.type('#key', 'vnk_not-a-key');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('form#login button')]);
  assert.equal(resp.status(), 200);
  assert.equal((await page.cookies()).length, 0, 'no cookie for a wrong key');
  assert.match(await page.$eval('#login-error', (e) => e.textContent), /not valid/);
  ok('the dashboard asks for an API key and refuses a wrong one');

  // Sign in.
  await page.type('#key', key);
  [resp] = await Promise.all([page.waitForNavigation(), page.click('form#login button')]);
  assert.equal(resp.status(), 200);
  assert.equal(await page.$eval('#user', (e) => e.textContent), keyName);
  const cookies = await page.cookies();
  const session = cookies.find((c) => c.name === 'vn_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true, 'HttpOnly');
  assert.equal(session.sameSite, 'Strict', 'SameSite=Strict');
  assert.notEqual(session.value, key, 'the key is not the cookie');
  assert.ok(!session.value.includes(key.slice(4, 14)), 'no part of the key in the cookie');
  assert.equal(session.value.length, 43);
  assert.ok(session.expires > Date.now() / 1000 && session.expires < Date.now() / 1000 + 86400,
            'a bounded lifetime');
  ok(`signed in as ${keyName}; cookie HttpOnly, SameSite=Strict, random, expires within a day`);

  // The numbers of the known traffic.
  const metric = (id) => page.$eval(`[data-metric="${id}"]`, (e) => Number(e.textContent));
  for (const [id, n] of Object.entries(expect.tiles))
    assert.equal(await metric(id), n, `tile ${id}`);
  ok(`traffic tiles: ${JSON.stringify(expect.tiles)}`);

  for (const a of expect.licenses) {
    const row = `#licenses tr[data-adam-id="${a.adamId}"][data-pricing-param="${a.pricingParam}"]`;
    const got = await page.$eval(row, (tr) => ({
      assigned: Number(tr.querySelector('[data-field=assigned]').textContent),
      total: Number(tr.querySelector('[data-field=total]').textContent),
      available: Number(tr.querySelector('[data-field=available]').textContent),
      bar: tr.querySelector('.bar i').style.width,
    }));
    assert.deepEqual(got, { assigned: a.assigned, total: a.total, available: a.available,
                            bar: `${Math.floor((a.assigned * 100) / a.total)}%` }, `license ${a.adamId}`);
  }
  ok(`licenses per product with their use bar: ${expect.licenses.length} product(s)`);

  for (const e of expect.events) {
    const got = await page.$eval(`#events tr[data-event-id="${e.eventId}"]`,
                                 (tr) => ({ state: tr.dataset.state, text: tr.textContent }));
    assert.equal(got.state, e.state, `event ${e.eventId}`);
    assert.ok(got.text.includes(e.error), `event ${e.eventId} shows its error '${e.error}'`);
  }
  ok(`events needing attention with their errors: ${expect.events.length}`);

  const loc = await page.$eval(`#locations tr[data-uid="${expect.location.uId}"]`, (tr) => ({
    subscribed: tr.querySelector('[data-field=subscribed]').textContent,
    last: tr.querySelector('[data-field=lastNotification]').textContent,
  }));
  assert.equal(loc.subscribed, expect.location.subscribed);
  assert.match(loc.last, / ago$/);
  ok(`location ${expect.location.uId}: subscribed ${loc.subscribed}, last notification ${loc.last}`);

  const recent = await page.$$eval('#recent tbody tr', (trs) => trs.map((tr) => tr.dataset.notificationId));
  assert.equal(recent.length, expect.recent.length, 'recent notifications');
  assert.deepEqual(recent.slice().sort(), expect.recent.slice().sort());
  ok(`recent notifications: ${recent.length}`);
  assert.equal(await metric('rejected-auth'), expect.rejectedAuth);
  ok(`rejected requests (401/403): ${expect.rejectedAuth}`);
  const rejections = await page.$$eval('#rejections tbody tr', (trs) => trs.map((tr) => ({
    remote: tr.dataset.remote, status: tr.dataset.status,
    count: tr.querySelector('[data-field=count]').textContent })));
  assert.deepEqual(rejections, expect.rejections, 'recorded rejections');
  ok(`recorded rejections: ${JSON.stringify(rejections)}`);

  await page.screenshot({ path: join(shots, 'dashboard-desktop.png'), fullPage: true });
  await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await page.reload({ waitUntil: 'load' });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the phone page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(shots, 'dashboard-phone.png'), fullPage: true });
  ok(`screenshots at 1280x900 and 390x844 in ${shots}; nothing wider than a phone's screen`);

  // Sign out: the session is over on the server, not just in this browser.
  [resp] = await Promise.all([page.waitForNavigation(), page.click('#logout')]);
  assert.ok(await page.$('form#login'), 'back at the login form');
  const other = await browser.newPage();
  await other.setCookie({ name: 'vn_session', value: session.value, url: base });
  await other.goto(`${base}/`, { waitUntil: 'load' });
  assert.ok(await other.$('form#login'), 'the old cookie no longer opens the dashboard');
  ok('sign out ends the session on the server');

  assert.deepEqual(problems, [], 'no console errors, failed requests or other origins');
  ok('no console errors, no failed request, nothing from another origin');
} catch (e) {
  failed = true;
  console.log(`not ok - ${e.message}`);
  if (problems.length) console.log(`# ${problems.join('\n# ')}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
