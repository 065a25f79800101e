-- Shared by the bench/wrk scenario scripts, which load it first with dofile().
--
-- done() prints one machine-readable line for bench/run:
--   BENCH requests=… duration_us=… bytes=… connect=… read=… write=… status=… timeout=… p50_us=… p99_us=…
--   checked=… bad=… bad_example=…
-- `status` is wrk's own count of responses >= 400.
--
-- With BENCH_CHECK=1 (bench/run --smoke) every response is also checked here, at the cost of wrk's speed:
-- status must equal BENCH_EXPECT_STATUS, the body must be BENCH_EXPECT_BYTES long, and, when BENCH_ORIGIN is
-- set, Access-Control-Allow-Origin must echo it. Counts are gathered from every wrk thread.

bench = {
  origin = os.getenv("BENCH_ORIGIN") or "http://localhost:3000",
  token = "Bearer bench-7dd5f2c94a1e4b0c8f3a6e21d9b04c55",
  check = os.getenv("BENCH_CHECK") == "1",
  expect_status = tonumber(os.getenv("BENCH_EXPECT_STATUS") or ""),
  expect_bytes = tonumber(os.getenv("BENCH_EXPECT_BYTES") or ""),
}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if bench.check then
  checked = 0
  bad = 0
  bad_example = ""

  function response(status, headers, body)
    checked = checked + 1
    local problem = nil
    if status < 200 or status > 299 then
      problem = "status " .. status
    elseif bench.expect_status and status ~= bench.expect_status then
      problem = "status " .. status .. " (expected " .. bench.expect_status .. ")"
    elseif bench.expect_bytes and #body ~= bench.expect_bytes then
      problem = "body of " .. #body .. " bytes (expected " .. bench.expect_bytes .. ")"
    else
      local acao = nil
      for name, value in pairs(headers) do
        if string.lower(name) == "access-control-allow-origin" then acao = value end
      end
      if acao ~= bench.origin then
        problem = "Access-Control-Allow-Origin " .. tostring(acao)
      end
    end
    if problem then
      bad = bad + 1
      if bad_example == "" then bad_example = problem end
    end
  end
end

function done(summary, latency, requests)
  local checked_total, bad_total, example = 0, 0, ""
  for _, thread in ipairs(threads) do
    checked_total = checked_total + (tonumber(thread:get("checked")) or 0)
    bad_total = bad_total + (tonumber(thread:get("bad")) or 0)
    local e = thread:get("bad_example")
    if example == "" and e and e ~= "" then example = e end
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p99_us=%d checked=%d bad=%d bad_example=%s\n",
    summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), checked_total, bad_total,
    (example:gsub("%s", "_"))))
end
