-- wrk script of scripts/lb_suite.sh: POSTs the JSON body read from the file named after `--`
-- on every request and prints one summary line at the end:
--   LB_WRK {"requests": N, "duration_us": N, "non2xx": N, "connect": N, "read": N, "write": N, "timeout": N, ...}
-- (wrk counts a non-2xx/3xx answer in errors.status.)
function init(args)
   local f = assert(io.open(assert(args[1], "usage: wrk ... -s lb_wrk.lua URL -- BODY_FILE"), "rb"))
   wrk.body = f:read("*a")
   f:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'LB_WRK {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, ' ..
      '"write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
      summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
