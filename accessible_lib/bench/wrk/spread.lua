-- wrk script for accessible_lib.bench.scale: every connection picks its next URL at random from the file
-- named by BENCH_SCALE_PATHS (one path a line), so a scenario spreads its requests over thousands of
-- books, chapters or queries and no cache can serve it from a handful of pages. `done` prints one JSON
-- line (latency in microseconds) with every non-2xx answer counted, 3xx included: wrk itself counts
-- only statuses of 400 and over.
local paths = {}
for line in io.lines(os.getenv("BENCH_SCALE_PATHS")) do paths[#paths + 1] = line end
local threads = {}
local seed = 1

setup = function(thread)
  thread:set("seed", seed)
  seed = seed + 1
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(seed * 7919)
  non2xx = 0
end

request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept-Language"] = "en"})
end

response = function(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

done = function(summary, latency, requests)
  local non = 0
  for _, thread in ipairs(threads) do non = non + (thread:get("non2xx") or 0) end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "non2xx": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d}\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout, non,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
