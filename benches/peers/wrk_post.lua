-- wrk script of scripts/loadtest.sh: POSTs one JSON body (read from the file given after
-- `--`) on every request, and prints wrk's own summary as one JSON line at the end.
--
--   wrk -t2 -c64 -d15s --timeout 5s -s benches/peers/wrk_post.lua URL -- body.json
--
-- The body is set in init(), before wrk builds its request, so wrk keeps its fast path
-- (one pre-formatted request reused, no Lua call per request).

function init(args)
   local path = args[1]
   if path == nil then
      error("usage: wrk ... -s wrk_post.lua URL -- BODY_FILE")
   end
   local f = assert(io.open(path, "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_JSON {"duration_us": %d, "requests": %d, "bytes": %d, "connect": %d, ' ..
      '"read": %d, "write": %d, "status": %d, "timeout": %d, "mean_us": %.1f, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d, "max_us": %d}\n',
      summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9), latency.max))
end
