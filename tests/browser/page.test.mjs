// End-to-end test of scrawl's page in Debian's headless Chromium, driven by playwright-core
// (no browser download): upload with preview, clear, draw a digit, several files with the CSV,
// number mode, invalid files, the "not sure" display, phone layout and touch drawing.
// Run by tests/browser/run.sh, which starts `scrawl serve` and passes its URL; screenshots go to
// tests/browser/artifacts/.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
if (!base) {
  console.error('usage: node page.test.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const artifacts = path.join(here, 'artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const seven = fs.readFileSync(path.join(here, '..', 'fixtures', 'seven.png'));

const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let failures = 0;
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

// Draws digits as PNG files in the page itself (a canvas), so the test needs no image library.
async function drawnPng(page, digits, size = 140) {
  const dataUrl = await page.evaluate(({ digits, size }) => {
    const c = document.createElement('canvas');
    c.width = size * digits.length;
    c.height = size;
    const g = c.getContext('2d');
    g.fillStyle = '#f2f0ea';
    g.fillRect(0, 0, c.width, c.height);
    g.strokeStyle = '#1a1a1a';
    g.lineWidth = size / 11;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    const s = size / 100;
    const shapes = {
      0: (x) => { g.beginPath(); g.ellipse(x + 50 * s, 50 * s, 22 * s, 36 * s, 0, 0, 2 * Math.PI); g.stroke(); },
      1: (x) => { g.beginPath(); g.moveTo(x + 42 * s, 22 * s); g.lineTo(x + 54 * s, 12 * s); g.lineTo(x + 54 * s, 88 * s); g.stroke(); },
      2: (x) => { g.beginPath(); g.moveTo(x + 28 * s, 30 * s); g.bezierCurveTo(x + 30 * s, 5 * s, x + 75 * s, 5 * s, x + 70 * s, 32 * s);
                   g.lineTo(x + 28 * s, 86 * s); g.lineTo(x + 76 * s, 86 * s); g.stroke(); },
      4: (x) => { g.beginPath(); g.moveTo(x + 58 * s, 12 * s); g.lineTo(x + 24 * s, 62 * s); g.lineTo(x + 78 * s, 62 * s); g.stroke();
                   g.beginPath(); g.moveTo(x + 62 * s, 36 * s); g.lineTo(x + 62 * s, 90 * s); g.stroke(); },
      7: (x) => { g.beginPath(); g.moveTo(x + 24 * s, 16 * s); g.lineTo(x + 76 * s, 16 * s); g.lineTo(x + 44 * s, 88 * s); g.stroke(); },
    };
    digits.split('').forEach((d, i) => shapes[d](i * size));
    return c.toDataURL('image/png');
  }, { digits, size });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

const blankPng = async (page) => Buffer.from((await page.evaluate(() => {
  const c = document.createElement('canvas');
  c.width = c.height = 80;
  const g = c.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, 80, 80);
  return c.toDataURL('image/png');
})).split(',')[1], 'base64');

// Draws polylines on the pad with the mouse; points in [0, 1] of the pad's box.
async function drawWithMouse(page, strokes) {
  const box = await page.locator('#pad').boundingBox();
  for (const line of strokes) {
    const pts = line.map(([x, y]) => [box.x + x * box.width, box.y + y * box.height]);
    await page.mouse.move(pts[0][0], pts[0][1]);
    await page.mouse.down();
    for (let i = 1; i < pts.length; i++) await page.mouse.move(pts[i][0], pts[i][1], { steps: 12 });
    await page.mouse.up();
  }
}

// The same with touch pointer events, as a finger on a phone produces them.
async function drawWithTouch(page, strokes) {
  await page.evaluate((strokes) => {
    const pad = document.getElementById('pad');
    const box = pad.getBoundingClientRect();
    const fire = (type, x, y) => pad.dispatchEvent(new PointerEvent(type, {
      pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true, cancelable: true,
      clientX: box.left + x * box.width, clientY: box.top + y * box.height, buttons: type === 'pointerup' ? 0 : 1,
    }));
    pad.setPointerCapture = () => {};  // synthetic pointers cannot be captured
    for (const line of strokes) {
      fire('pointerdown', line[0][0], line[0][1]);
      for (let i = 1; i < line.length; i++) {
        const [x0, y0] = line[i - 1], [x1, y1] = line[i];
        for (let k = 1; k <= 12; k++) fire('pointermove', x0 + (x1 - x0) * k / 12, y0 + (y1 - y0) * k / 12);
      }
      const last = line[line.length - 1];
      fire('pointerup', last[0], last[1]);
    }
  }, strokes);
}

const SEVEN_STROKES = [[[0.25, 0.22], [0.75, 0.22], [0.45, 0.82]]];
const ONE_STROKES = [[[0.42, 0.28], [0.52, 0.18], [0.52, 0.82]]];

async function answer(page) {
  await page.locator('#result').waitFor({ state: 'visible', timeout: 10000 });
  return (await page.locator('#answer').textContent()).trim();
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'scrawl-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: CHROMIUM_FLAGS,
  viewport: { width: 1280, height: 900 },
  acceptDownloads: true,
});

try {
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  const foreign = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (4\d\d|503)/.test(m.text())) problems.push('console: ' + m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url()); });

  await check('the page loads, self-contained', async () => {
    const res = await page.goto(base + '/');
    assert.equal(res.status(), 200);
    await page.locator('#pad').waitFor();
    assert.equal(await page.locator('#bars li').count(), 10);
    assert.match(await page.locator('.help').textContent(), /How to use it/);
    await page.screenshot({ path: path.join(artifacts, '01-desktop-empty.png'), fullPage: true });
  });

  await check('upload one file: preview, then the answer with ten bars', async () => {
    await page.setInputFiles('#file', { name: 'seven.png', mimeType: 'image/png', buffer: seven });
    await page.locator('#preview img').first().waitFor({ state: 'visible' });
    assert.equal(await page.locator('#preview img').count(), 1);
    const natural = await page.locator('#preview img').evaluate((img) => img.complete && img.naturalWidth);
    assert.ok(natural > 0, 'the preview image rendered');
    assert.equal(await answer(page), '7');
    assert.match(await page.locator('#confidence').textContent(), /confidence \d+\.\d %/);
    const widths = await page.locator('#bars .bar-fill').evaluateAll((els) => els.map((e) => parseFloat(e.style.width)));
    assert.equal(widths.length, 10);
    assert.equal(widths.indexOf(Math.max(...widths)), 7, 'the longest bar is the 7');
    assert.equal(await page.locator('#bars li.best').getAttribute('data-digit'), '7');
    await page.screenshot({ path: path.join(artifacts, '02-upload-seven.png'), fullPage: true });
  });

  await check('clear empties preview, answer and pad', async () => {
    await page.click('#clear');
    assert.equal(await page.locator('#preview img').count(), 0);
    assert.equal(await page.locator('#result').isHidden(), true);
    assert.equal(await page.locator('#message').isHidden(), true);
    const ink = await page.locator('#pad').evaluate((c) => {
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let dark = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
      return dark;
    });
    assert.equal(ink, 0, 'the pad is blank');
    await page.screenshot({ path: path.join(artifacts, '03-cleared.png'), fullPage: true });
  });

  await check('draw a 7 with the mouse and read it', async () => {
    await drawWithMouse(page, SEVEN_STROKES);
    await page.click('#read-drawing');
    assert.equal(await answer(page), '7');
    await page.screenshot({ path: path.join(artifacts, '04-drawn-seven.png'), fullPage: true });
    await page.click('#clear');
  });

  await check('drawing is read when the pen rests, without a click', async () => {
    await drawWithMouse(page, ONE_STROKES);
    assert.equal(await answer(page), '1');
    await page.click('#clear');
  });

  await check('drag and drop a file onto the box', async () => {
    const dataTransfer = await page.evaluateHandle((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped-seven.png', { type: 'image/png' }));
      return dt;
    }, seven.toString('base64'));
    await page.dispatchEvent('#drop', 'dragenter', { dataTransfer });
    assert.equal(await page.locator('#drop.dragging').count(), 1, 'the box shows it will take the drop');
    await page.dispatchEvent('#drop', 'drop', { dataTransfer });
    assert.equal(await answer(page), '7');
    assert.equal(await page.locator('#preview figcaption').textContent(), 'dropped-seven.png');
    await page.click('#clear');
  });

  await check('several files: a table with thumbnails, and a CSV', async () => {
    const files = [
      { name: 'seven.png', mimeType: 'image/png', buffer: seven },
      { name: 'one.png', mimeType: 'image/png', buffer: await drawnPng(page, '1') },
      { name: '=SUM(1,2).png', mimeType: 'image/png', buffer: await drawnPng(page, '0') },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') },
      { name: 'blank.png', mimeType: 'image/png', buffer: await blankPng(page) },
    ];
    await page.setInputFiles('#file', files);
    await page.locator('#batch').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('batch-summary').textContent.length > 0, null, { timeout: 15000 });
    const rows = page.locator('#results tbody tr');
    assert.equal(await rows.count(), 5);
    const reads = await page.locator('#results tbody .reads').allTextContents();
    assert.deepEqual(reads.slice(0, 3), ['7', '1', '0']);
    assert.equal(await page.locator('#results tbody tr').nth(3).locator('.conf').textContent(),
      'That file is not a picture scrawl can read. Use a PNG, JPEG, BMP or WebP image.');
    assert.match(await page.locator('#results tbody tr').nth(4).locator('.conf').textContent(), /No ink found/);
    assert.equal(await page.locator('#results tbody img.row-thumb').count(), 4, 'a thumbnail per image file');
    assert.equal(await page.locator('#batch-summary').textContent(), '3 of 5 images read.');
    await page.screenshot({ path: path.join(artifacts, '05-batch.png'), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    assert.equal(download.suggestedFilename(), 'scrawl-results.csv');
    const csv = fs.readFileSync(await download.path(), 'utf8').trim().split(/\r?\n/);
    fs.writeFileSync(path.join(artifacts, 'results.csv'), csv.join('\n') + '\n');
    assert.equal(csv[0], 'file,number,text,digit,confidence,error');
    assert.equal(csv.length, 6);
    assert.match(csv[1], /^seven\.png,7,7,7,0?\.\d+,$/);
    assert.match(csv[2], /^one\.png,1,1,1,/);
    // A name that a spreadsheet would take for a formula stays text.
    assert.match(csv[3], /^"'=SUM\(1,2\)\.png",0,0,0,/);
    assert.match(csv[4], /^notes\.txt,,,,,"?unsupported_media_type: /);
    assert.match(csv[5], /^blank\.png,,,,,"?no_ink: /);
    await page.click('#clear');
    assert.equal(await page.locator('#batch').isHidden(), true);
  });

  await check('an invalid file alone gets a friendly message', async () => {
    await page.setInputFiles('#file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
    await page.locator('#message').waitFor({ state: 'visible' });
    assert.match(await page.locator('#message').textContent(), /"notes\.txt" is not a picture scrawl can read/);
    assert.equal(await page.locator('#result').isHidden(), true);
    await page.screenshot({ path: path.join(artifacts, '06-invalid-file.png'), fullPage: true });
    // Claims to be a PNG but is not one: the server's 422, shown kindly.
    await page.setInputFiles('#file', { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
    await page.waitForFunction(() => /could not be opened/.test(document.getElementById('message').textContent));
    // A blank page: no ink.
    await page.setInputFiles('#file', { name: 'blank.png', mimeType: 'image/png', buffer: await blankPng(page) });
    await page.waitForFunction(() => /No ink found/.test(document.getElementById('message').textContent));
    await page.screenshot({ path: path.join(artifacts, '07-no-ink.png'), fullPage: true });
    await page.click('#clear');
  });

  await check('read a whole number', async () => {
    await page.locator('label.switch').click();  // the switch, as a person flips it
    assert.equal(await page.locator('#number-mode').isChecked(), true);
    await page.setInputFiles('#file', { name: 'seventy-one.png', mimeType: 'image/png', buffer: await drawnPng(page, '71') });
    await page.waitForFunction(() => document.getElementById('answer').textContent === '71', null, { timeout: 10000 });
    await page.screenshot({ path: path.join(artifacts, '08-number.png'), fullPage: true });
    await page.locator('label.switch').click();  // off again: re-reads the file as one digit
    assert.equal(await page.locator('#number-mode').isChecked(), false);
    await page.waitForFunction(() => /^\d$/.test(document.getElementById('answer').textContent), null, { timeout: 10000 });
    await page.click('#clear');
  });

  await check('low confidence shows "not sure"', async () => {
    await page.route('**/api/v1/predict*', (route) => route.fulfill({
      status: 200, contentType: 'application/json',
      body: JSON.stringify({ digit: 4, confidence: 0.31, probabilities: [0.05, 0.02, 0.1, 0.2, 0.31, 0.1, 0.05, 0.07, 0.06, 0.04],
                             number: '4', digits: [{ digit: 4, confidence: 0.31, box: [0, 0, 10, 10] }], device: 'cpu', model: 'default' }),
    }));
    await page.setInputFiles('#file', { name: 'seven.png', mimeType: 'image/png', buffer: seven });
    assert.equal(await answer(page), '4');
    await page.locator('#not-sure').waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(artifacts, '09-not-sure.png'), fullPage: true });
    await page.unroute('**/api/v1/predict*');
    await page.click('#clear');
  });

  await check('a busy server is retried after Retry-After', async () => {
    let calls = 0;
    await page.route('**/api/v1/predict*', async (route) => {
      if (++calls === 1) return route.fulfill({ status: 503, headers: { 'Retry-After': '1' }, contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'overloaded', message: 'queue full' } }) });
      return route.continue();
    });
    await page.setInputFiles('#file', { name: 'seven.png', mimeType: 'image/png', buffer: seven });
    assert.equal(await answer(page), '7');
    assert.equal(calls, 2);
    await page.unroute('**/api/v1/predict*');
    await page.click('#clear');
  });

  await check('the report\'s form still works: POST /predict answers a page', async () => {
    const res = await page.request.post(base + '/predict', {
      multipart: { image: { name: 'seven.png', mimeType: 'image/png', buffer: seven } },
      headers: { Accept: 'text/html' },
    });
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    assert.match(await res.text(), /id="answer">7</);
  });

  await check('no page errors, nothing fetched from other origins', async () => {
    assert.deepEqual(problems, []);
    assert.deepEqual(foreign, []);
  });
  await page.close();

  // ---- a phone: narrow viewport, touch drawing, camera input present
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await check('phone: fits the width, camera button, touch drawing', async () => {
    await phone.goto(base + '/');
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, 'no horizontal scrolling, overflow ' + overflow);
    assert.equal(await phone.locator('#camera').getAttribute('capture'), 'environment');
    const padBox = await phone.locator('#pad').boundingBox();
    assert.ok(padBox.width <= 390 && padBox.width >= 200, 'the pad fits the screen: ' + padBox.width);
    await phone.locator('#pad').scrollIntoViewIfNeeded();
    await drawWithTouch(phone, SEVEN_STROKES);
    await phone.click('#read-drawing');
    assert.equal(await answer(phone), '7');
    await phone.screenshot({ path: path.join(artifacts, '10-phone-drawn.png'), fullPage: true });
  });
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
