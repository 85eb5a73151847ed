// The Locust-style user scenario, in Node (Locust is not installable here): each simulated
// user opens the page (GET /) and posts the form (POST /predict, multipart field `image`,
// Accept: text/html as a browser sends), over keep-alive, as fast as answers come.
// Usage: node profiling/load_scenario.mjs URL PNG [--users 32] [--seconds 30]
// Prints one JSON line: requests/s per endpoint, latency percentiles, failures.
// Used by profiling/load_compare.sh against scrawl and the Flask app alike.
import fs from 'node:fs';
import http from 'node:http';

const [url, pngPath, ...rest] = process.argv.slice(2);
if (!url || !pngPath) {
  console.error('usage: node load_scenario.mjs URL PNG [--users N] [--seconds S]');
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = rest.indexOf('--' + name);
  return i >= 0 ? Number(rest[i + 1]) : dflt;
};
const users = opt('users', 32), seconds = opt('seconds', 30);
const target = new URL(url);
const png = fs.readFileSync(pngPath);
const boundary = '----scrawlscenario7MA4YWxkTrZu0gW';
const form = Buffer.concat([
  Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="digit.png"\r\nContent-Type: image/png\r\n\r\n`),
  png, Buffer.from(`\r\n--${boundary}--\r\n`)]);
const agent = new http.Agent({ keepAlive: true, maxSockets: users });

function request(method, path, body, headers) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request({ host: target.hostname, port: target.port, method, path, agent, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ ok: res.statusCode >= 200 && res.statusCode < 300, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    if (body) req.end(body); else req.end();
  });
}

const stats = { page: [], predict: [] };
let failures = 0;
const end = Date.now() + seconds * 1000;
async function user() {
  while (Date.now() < end) {
    const a = await request('GET', '/', null, { Accept: 'text/html' });
    a.ok ? stats.page.push(a.ms) : failures++;
    const b = await request('POST', '/predict', form, {
      'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': form.length, Accept: 'text/html' });
    b.ok ? stats.predict.push(b.ms) : failures++;
  }
}
const t0 = Date.now();
await Promise.all(Array.from({ length: users }, user));
const elapsed = (Date.now() - t0) / 1000;
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))].toFixed(3);
};
const summary = { users, seconds: +elapsed.toFixed(2), failures };
for (const [k, xs] of Object.entries(stats))
  summary[k] = { requests: xs.length, rps: +(xs.length / elapsed).toFixed(1), p50_ms: pct(xs, 50), p99_ms: pct(xs, 99) };
summary.total_rps = +((stats.page.length + stats.predict.length) / elapsed).toFixed(1);
console.log('JSON ' + JSON.stringify(summary));
agent.destroy();
