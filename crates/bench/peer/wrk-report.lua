-- wrk's end-of-run hook for compare.sh: one line "JSON {...}" with the request count,
-- the measured seconds, the error counts (status = non-2xx/3xx answers) and the
-- latency percentiles in milliseconds. Used on its own for GET requests, or loaded by
-- wrk-token.lua.
function done(summary, latency, requests)
  local e = summary.errors
  local function ms(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    'JSON {"requests":%d,"seconds":%.3f,"requests_per_second":%.1f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_ms":{"mean":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean / 1000, ms(50), ms(90), ms(99), latency.max / 1000))
end
