-- POST /api/v1/events for the dispatcher benchmarks (bench/dispatch.sh).
-- Environment:
--   BENCH_AUTH       Authorization header value (a publisher)
--   PUBLISH_IO       integration object code, or a prefix when PUBLISH_IOS is set
--   PUBLISH_IOS      when set: each event names PUBLISH_IO .. random(1, PUBLISH_IOS)
--   PUBLISH_BATCH    events per request (1: a bare object; more: an array)
--   PUBLISH_DELAY_MS mean pause before each request on each connection
--                    (uniform 0.5x..1.5x, so connections do not march in step);
--                    unset: as fast as possible
--   PUBLISH_MAX_PER_THREAD  when set: each wrk thread stops after this many
--                    answers (bounds the events queued by the 100-per-request run)
local auth = os.getenv("BENCH_AUTH")
local io = os.getenv("PUBLISH_IO") or "BenchIO"
local ios = tonumber(os.getenv("PUBLISH_IOS") or "0")
local batch = tonumber(os.getenv("PUBLISH_BATCH") or "1")
local mean = tonumber(os.getenv("PUBLISH_DELAY_MS") or "0")
local maxreq = tonumber(os.getenv("PUBLISH_MAX_PER_THREAD") or "0")
local answered = 0
local headers = { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
local actions = { "created", "updated" }
local n = 0
threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function()
  math.randomseed(os.time() * 100 + tid)
end
local function event()
  n = n + 1
  local code = io
  if ios > 0 then code = io .. math.random(1, ios) end
  return '{"integrationObject":"' .. code .. '","action":"' .. actions[1 + n % 2] .. '",'
    .. '"integrationKey":"order-' .. tid .. '-' .. n .. '",'
    .. '"payload":{"code":"order-' .. tid .. '-' .. n .. '","status":"PAID","total":' .. (n % 1000)
    .. '.5,"currency":"EUR","lines":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}]}}'
end
request = function()
  local body
  if batch <= 1 then
    body = event()
  else
    local t = {}
    for i = 1, batch do t[i] = event() end
    body = "[" .. table.concat(t, ",") .. "]"
  end
  return wrk.format("POST", "/api/v1/events", headers, body)
end
if mean > 0 then
  delay = function()
    return math.floor(mean * (0.5 + math.random()))
  end
end
if maxreq > 0 then
  response = function(status, headers, body)
    answered = answered + 1
    if answered >= maxreq then wrk.thread:stop() end
  end
end
