// scrawl's page logic: file picker, drag-and-drop, camera, drawing pad, calls to
// POST /api/v1/predict, the answer with its ten bars, the results table and its CSV.
// No libraries, no network beyond this server. Tested by tests/browser/run.sh (headless Chromium).
'use strict';

(function () {
  const NOT_SURE_BELOW = 0.6;  // same threshold as the server's HTML result page
  const READABLE = ['image/png', 'image/jpeg', 'image/bmp', 'image/x-ms-bmp', 'image/webp'];
  const PER_REQUEST = 16;      // images per request when many files are chosen (server allows 64)
  const PER_REQUEST_BYTES = 12 * 1024 * 1024;  // the server's body limit is 16 MiB

  const $ = (id) => document.getElementById(id);
  const fileInput = $('file'), cameraInput = $('camera'), drop = $('drop'), preview = $('preview');
  const pad = $('pad'), readDrawing = $('read-drawing'), clearButton = $('clear');
  const numberMode = $('number-mode');
  const statusEl = $('status'), messageEl = $('message');
  const resultEl = $('result'), answerEl = $('answer'), confidenceEl = $('confidence');
  const notSureEl = $('not-sure'), barsEl = $('bars');
  const batchEl = $('batch'), batchSummary = $('batch-summary'), csvLink = $('csv');
  const tbody = document.querySelector('#results tbody');

  let objectUrls = [];   // thumbnails to release on Clear
  let csvUrl = null;
  let lastFiles = [];    // re-read when the number switch changes
  let drawn = false;     // the pad holds ink
  let generation = 0;    // answers to an older request are dropped

  // ---------------------------------------------------------------- messages

  const FRIENDLY = {
    unsupported_media_type: 'That file is not a picture scrawl can read. Use a PNG, JPEG, BMP or WebP image.',
    no_ink: 'No ink found. Write a dark digit on light paper, large and alone, or draw one in the square.',
    undecodable_image: 'That image could not be opened; it may be damaged or not really an image.',
    image_too_large: 'That image is too large. Try a smaller photo (under 16 MB and 40 megapixels).',
    payload_too_large: 'That upload is too large. Try fewer or smaller images.',
    too_many_images: 'Too many images at once. Try fewer.',
    overloaded: 'scrawl is busy right now. Please try again in a moment.',
    too_many_connections: 'scrawl is busy right now. Please try again in a moment.',
    too_many_bodies: 'scrawl is busy right now. Please try again in a moment.',
    not_ready: 'scrawl is still starting up. Please try again in a moment.',
  };

  function friendly(error) {
    if (!error) return 'Something went wrong.';
    return FRIENDLY[error.code] || error.message || 'Something went wrong.';
  }

  function showMessage(text) {
    messageEl.textContent = text;
    messageEl.hidden = !text;
  }

  function setStatus(text) { statusEl.textContent = text || ''; }

  const percent = (p) => (100 * p).toFixed(1) + ' %';

  // ---------------------------------------------------------------- the answer

  function buildBars() {
    barsEl.textContent = '';
    for (let d = 0; d < 10; d++) {
      const li = document.createElement('li');
      li.className = 'bar-row';
      li.dataset.digit = String(d);
      const label = document.createElement('span');
      label.className = 'bar-label';
      label.textContent = String(d);
      const track = document.createElement('span');
      track.className = 'bar-track';
      const fill = document.createElement('span');
      fill.className = 'bar-fill';
      track.appendChild(fill);
      const value = document.createElement('span');
      value.className = 'bar-value';
      li.append(label, track, value);
      barsEl.appendChild(li);
    }
  }

  // Confidence of a whole result: its least certain digit (number mode) or its digit.
  function confidenceOf(r) {
    if (r.digits && r.digits.length > 1) return Math.min(...r.digits.map((d) => d.confidence));
    return r.confidence;
  }

  function showResult(r) {
    batchEl.hidden = true;
    resultEl.hidden = false;
    const many = r.digits && r.digits.length > 1;
    answerEl.textContent = numberMode.checked ? r.text || r.number : String(r.digit);
    const conf = confidenceOf(r);
    confidenceEl.textContent = (many ? 'least certain digit: ' : 'confidence ') + percent(conf);
    notSureEl.hidden = conf >= NOT_SURE_BELOW;
    resultEl.classList.toggle('unsure', conf < NOT_SURE_BELOW);
    const best = r.digit;
    barsEl.querySelectorAll('.bar-row').forEach((li, d) => {
      const p = r.probabilities[d] || 0;
      li.querySelector('.bar-fill').style.width = (100 * p).toFixed(1) + '%';
      li.querySelector('.bar-value').textContent = percent(p);
      li.classList.toggle('best', d === best);
      li.setAttribute('aria-label', 'digit ' + d + ': ' + percent(p));
    });
    // On a phone the answer is below the inputs: bring it into view.
    if (window.matchMedia('(max-width: 899px)').matches) resultEl.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  function hideResult() {
    resultEl.hidden = true;
    batchEl.hidden = true;
  }

  // ---------------------------------------------------------------- the API

  function predictUrl() {
    return '/api/v1/predict' + (numberMode.checked ? '?mode=number' : '');
  }

  // POSTs and returns {ok, status, body}; retries once on 503 after its Retry-After.
  async function post(body, contentType) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: 'application/json' };
      if (contentType) headers['Content-Type'] = contentType;
      let res;
      try {
        res = await fetch(predictUrl(), { method: 'POST', body, headers });
      } catch (e) {
        return { ok: false, status: 0, body: { error: { code: 'network', message: 'Could not reach scrawl. Is the server running?' } } };
      }
      let json = null;
      try { json = await res.json(); } catch (e) { json = { error: { code: 'bad_response', message: 'The server answered something unexpected.' } }; }
      if (res.status === 503 && attempt === 0) {
        const wait = Math.min(5, Number(res.headers.get('Retry-After')) || 1);
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
      return { ok: res.ok, status: res.status, body: json };
    }
  }

  function readable(file) {
    // An empty type (an unknown extension) is left to the server, which looks at the bytes.
    return !file.type || READABLE.includes(file.type);
  }

  // ---------------------------------------------------------------- files

  // Shows a thumbnail per file; returns their URLs (null for files we cannot show).
  function showPreview(files) {
    releaseThumbnails();
    preview.textContent = '';
    const urls = [];
    for (const f of files) {
      const figure = document.createElement('figure');
      figure.className = 'thumb';
      if (readable(f)) {
        const img = document.createElement('img');
        const url = URL.createObjectURL(f);
        objectUrls.push(url);
        urls.push(url);
        img.src = url;
        img.alt = 'Preview of ' + f.name;
        figure.appendChild(img);
      } else {
        urls.push(null);
        figure.classList.add('bad');
        const span = document.createElement('span');
        span.textContent = '?';
        figure.appendChild(span);
      }
      const cap = document.createElement('figcaption');
      cap.textContent = f.name;
      figure.appendChild(cap);
      preview.appendChild(figure);
    }
    preview.classList.toggle('has-files', files.length > 0);
    return urls;
  }

  function releaseThumbnails() {
    objectUrls.forEach((u) => URL.revokeObjectURL(u));
    objectUrls = [];
  }

  async function handleFiles(fileList) {
    const files = Array.from(fileList || []);
    if (!files.length) return;
    lastFiles = files;
    clearPad();
    showMessage('');
    const urls = showPreview(files);
    if (files.length === 1) return readOne(files[0]);
    return readMany(files, urls);
  }

  async function readOne(file) {
    const gen = ++generation;
    hideResult();
    if (!readable(file)) {
      showMessage('"' + file.name + '" is not a picture scrawl can read (it is ' + (file.type || 'an unknown type') +
                  '). Use a PNG, JPEG, BMP or WebP image.');
      return;
    }
    setStatus('Reading…');
    const form = new FormData();
    form.append('image', file, file.name);
    const r = await post(form);
    if (gen !== generation) return;
    setStatus('');
    if (!r.ok) return showMessage(friendly(r.body && r.body.error));
    showResult(r.body);
  }

  async function readMany(files, urls) {
    const gen = ++generation;
    hideResult();
    tbody.textContent = '';
    batchEl.hidden = false;
    const rows = files.map((f, i) => addRow(f, urls[i]));
    const results = new Array(files.length).fill(null);
    let done = 0;
    setStatus('Reading ' + files.length + ' images…');
    // Unreadable types are answered here; the rest go in chunks.
    const send = [];
    files.forEach((f, i) => {
      if (readable(f)) send.push(i);
      else {
        results[i] = { error: { code: 'unsupported_media_type', message: 'not an image type scrawl reads' } };
        fillRow(rows[i], results[i]);
        done++;
      }
    });
    // Chunks of at most PER_REQUEST images and PER_REQUEST_BYTES (phone photos are large); a
    // file over the limit goes alone and gets the server's 413 in its row.
    const chunks = [];
    let current = [], bytes = 0;
    for (const i of send) {
      if (current.length && (current.length === PER_REQUEST || bytes + files[i].size > PER_REQUEST_BYTES)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(i);
      bytes += files[i].size;
    }
    if (current.length) chunks.push(current);
    for (const chunk of chunks) {
      const form = new FormData();
      chunk.forEach((i) => form.append('image', files[i], files[i].name));
      // One image alone answers an object; several answer {"results": [...]}.
      const r = await post(form);
      if (gen !== generation) return;
      const answers = chunk.length === 1 ? [r.body] : (r.ok ? r.body.results : chunk.map(() => r.body));
      chunk.forEach((i, k) => {
        results[i] = answers[k];
        fillRow(rows[i], results[i]);
        done++;
      });
      setStatus('Read ' + done + ' of ' + files.length + '…');
    }
    setStatus('');
    const ok = results.filter((r) => r && !r.error).length;
    batchSummary.textContent = ok + ' of ' + files.length + ' images read.';
    makeCsv(files, results);
  }

  function addRow(file, thumbUrl) {
    const tr = document.createElement('tr');
    const tdImg = document.createElement('td');
    if (thumbUrl) {
      const img = document.createElement('img');
      img.src = thumbUrl;
      img.alt = '';
      img.className = 'row-thumb';
      tdImg.appendChild(img);
    }
    const tdName = document.createElement('td');
    tdName.textContent = file.name;
    tdName.className = 'file-name';
    const tdRead = document.createElement('td');
    tdRead.className = 'reads';
    tdRead.textContent = '…';
    const tdConf = document.createElement('td');
    tdConf.className = 'conf';
    tr.append(tdImg, tdName, tdRead, tdConf);
    tbody.appendChild(tr);
    return tr;
  }

  function fillRow(tr, r) {
    const reads = tr.querySelector('.reads'), conf = tr.querySelector('.conf');
    if (!r || r.error) {
      tr.classList.add('failed');
      reads.textContent = '–';
      conf.textContent = friendly(r && r.error);
      return;
    }
    reads.textContent = numberMode.checked ? r.text || r.number : String(r.digit);
    const c = confidenceOf(r);
    conf.textContent = percent(c) + (c < NOT_SURE_BELOW ? ' (not sure)' : '');
    tr.classList.toggle('unsure', c < NOT_SURE_BELOW);
  }

  // A cell that starts like a formula (a file named "=HYPERLINK(...).png") is written with a
  // leading apostrophe, so a spreadsheet shows it as text instead of evaluating it.
  function csvCell(v) {
    let s = v === undefined || v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function makeCsv(files, results) {
    const lines = ['file,number,text,digit,confidence,error'];
    files.forEach((f, i) => {
      const r = results[i] || {};
      if (r.error) lines.push([f.name, '', '', '', '', r.error.code + ': ' + r.error.message].map(csvCell).join(','));
      else lines.push([f.name, r.number, r.text, r.digit, r.confidence, ''].map(csvCell).join(','));
    });
    if (csvUrl) URL.revokeObjectURL(csvUrl);
    csvUrl = URL.createObjectURL(new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv' }));
    csvLink.href = csvUrl;
  }

  fileInput.addEventListener('change', () => handleFiles(fileInput.files));
  cameraInput.addEventListener('change', () => handleFiles(cameraInput.files));

  ['dragenter', 'dragover'].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.add('dragging');
  }));
  ['dragleave', 'drop'].forEach((t) => drop.addEventListener(t, (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
  }));
  drop.addEventListener('drop', (e) => handleFiles(e.dataTransfer && e.dataTransfer.files));
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); }
  });
  // Whole-page drops land in the box instead of navigating away.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    if (!drop.contains(e.target)) handleFiles(e.dataTransfer && e.dataTransfer.files);
  });

  // ---------------------------------------------------------------- the drawing pad

  const ctx = pad.getContext('2d');
  let drawing = false, last = null, readTimer = null;

  function clearPad() {
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, pad.width, pad.height);
    drawn = false;
  }

  function padPoint(e) {
    const r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * (pad.width / r.width), y: (e.clientY - r.top) * (pad.height / r.height) };
  }

  function stroke(from, to) {
    ctx.strokeStyle = '#111111';
    ctx.lineWidth = pad.width / 14;  // about MNIST's stroke at 28 px
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  pad.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    if (!drawn && lastFiles.length) { lastFiles = []; preview.textContent = ''; releaseThumbnails(); }
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = padPoint(e);
    stroke(last, last);
    drawn = true;
    clearTimeout(readTimer);
  });
  pad.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    e.preventDefault();
    const p = padPoint(e);
    stroke(last, p);
    last = p;
  });
  function endStroke() {
    if (!drawing) return;
    drawing = false;
    clearTimeout(readTimer);
    readTimer = setTimeout(readPad, 700);  // read when the pen rests
  }
  pad.addEventListener('pointerup', endStroke);
  pad.addEventListener('pointercancel', endStroke);

  async function readPad() {
    clearTimeout(readTimer);
    if (!drawn) {
      showMessage('Draw a digit in the square first.');
      return;
    }
    const gen = ++generation;
    showMessage('');
    setStatus('Reading…');
    const blob = await new Promise((r) => pad.toBlob(r, 'image/png'));
    const r = await post(blob, 'image/png');
    if (gen !== generation) return;
    setStatus('');
    if (!r.ok) { hideResult(); return showMessage(friendly(r.body && r.body.error)); }
    showResult(r.body);
  }
  readDrawing.addEventListener('click', readPad);

  // ---------------------------------------------------------------- clear, mode

  function clearAll() {
    generation++;
    clearTimeout(readTimer);
    clearPad();
    fileInput.value = '';
    cameraInput.value = '';
    lastFiles = [];
    releaseThumbnails();
    preview.textContent = '';
    preview.classList.remove('has-files');
    tbody.textContent = '';
    hideResult();
    showMessage('');
    setStatus('');
  }
  clearButton.addEventListener('click', clearAll);

  numberMode.addEventListener('change', () => {
    if (lastFiles.length) handleFiles(lastFiles);
    else if (drawn) readPad();
  });

  buildBars();
  clearPad();
})();
