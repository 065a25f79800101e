-- Requests from RELOAD_ORIGIN while the proxy reloads between two configs (ReloadUnderLoadTests): config A does not
-- allow the origin, config B does. Every response is classified:
--   B: 200 with Access-Control-Allow-Origin: RELOAD_ORIGIN;
--   A: 403 whose body names origin_not_allowed, without Access-Control-Allow-Origin;
--   other: anything else (the first one kept as an example).
-- done() prints one line:
--   RELOAD requests=… a=… b=… other=… connect=… read=… write=… timeout=… p50_us=… p99_us=… other_example=…

local origin = os.getenv("RELOAD_ORIGIN") or "http://y.test"
wrk.headers["Origin"] = origin

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

a = 0
b = 0
other = 0
other_example = ""

function response(status, headers, body)
  local acao = nil
  for name, value in pairs(headers) do
    if string.lower(name) == "access-control-allow-origin" then acao = value end
  end
  if status == 200 and acao == origin then
    b = b + 1
  elseif status == 403 and acao == nil and string.find(body, "origin_not_allowed", 1, true) then
    a = a + 1
  else
    other = other + 1
    if other_example == "" then other_example = status .. " " .. tostring(acao) .. " " .. body end
  end
end

function done(summary, latency, requests)
  local ta, tb, tother, example = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    ta = ta + (tonumber(thread:get("a")) or 0)
    tb = tb + (tonumber(thread:get("b")) or 0)
    tother = tother + (tonumber(thread:get("other")) or 0)
    local e = thread:get("other_example")
    if example == "" and e and e ~= "" then example = e end
  end
  local errors = summary.errors
  io.write(string.format(
    "RELOAD requests=%d a=%d b=%d other=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d " ..
    "other_example=%s\n",
    summary.requests, ta, tb, tother, errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(99), (example:gsub("%s", "_"))))
end
