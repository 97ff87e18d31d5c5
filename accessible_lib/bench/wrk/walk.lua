-- wrk script for the benches that walk a page list (bench/load.py, bench/harvest_search.py,
-- bench/calibre_web.py): each thread walks the file named by BENCH_WALK_PATHS (one path a line) in turn,
-- from a starting point of its own, so every page is asked for again and again. `done` prints the
-- figures as one JSON line (latency in microseconds), so a bench reads them without parsing wrk's report.
local paths = {}
for line in io.lines(os.getenv("BENCH_WALK_PATHS")) do paths[#paths + 1] = line end
local counter = 0

init = function(args)
  counter = math.random(#paths)
end

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Accept-Language"] = "en"})
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "bytes": %d, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
