-- wrk script for scrawl's load tests: POSTs one PNG per request, raw (/api/v1/predict) or as a
-- multipart form field `image` (/predict, the report's form), or LOAD_IMAGES copies of it as
-- `image` fields of one multipart request (mode multi, /api/v1/predict), and prints a JSON
-- summary line. Env: LOAD_PNG (file), LOAD_MODE=raw|form|multi, LOAD_ACCEPT (form and multi),
-- LOAD_IMAGES (multi, default 8). Used by load_wrk.sh and load_compare.sh.
local png_path = os.getenv("LOAD_PNG") or "digit28.png"
local mode = os.getenv("LOAD_MODE") or "raw"
local per_request = mode == "multi" and tonumber(os.getenv("LOAD_IMAGES") or "8") or 1
local f = assert(io.open(png_path, "rb"))
local png = f:read("*a")
f:close()

wrk.method = "POST"
if mode == "form" or mode == "multi" then
  local b = "----scrawlload7MA4YWxkTrZu0gW"
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. b
  wrk.headers["Accept"] = os.getenv("LOAD_ACCEPT") or "application/json"
  local parts = {}
  for i = 1, per_request do
    local name = per_request == 1 and "digit.png" or ("digit" .. i .. ".png")
    parts[i] = "--" .. b .. "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" .. name ..
               "\"\r\nContent-Type: image/png\r\n\r\n" .. png .. "\r\n"
  end
  wrk.body = table.concat(parts) .. "--" .. b .. "--\r\n"
else
  wrk.headers["Content-Type"] = "image/png"
  wrk.body = png
end

local non2xx = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local secs = summary.duration / 1e6
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.2f, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, ' ..
    '"max_ms": %.3f, "errors": %d, "non2xx": %d, "images_per_request": %d, "predictions_per_s": %.1f}\n',
    summary.requests, secs, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    non2xx, per_request, summary.requests * per_request / secs))
end
