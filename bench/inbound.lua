-- POST /inbound/{code} for bench/inbound.sh: every request a different
-- pre-signed body (bench/inbound_bodies.py), so that none is a duplicate.
-- Environment:
--   INBOUND_BODIES  the file of "<signature> <body>" lines
--   INBOUND_OFFSET  index of the first pair to use (a run after a warm-up
--                   starts past the pairs the warm-up used)
local bodies = {}
for line in io.lines(os.getenv("INBOUND_BODIES")) do
  local sp = line:find(" ", 1, true)
  bodies[#bodies + 1] = { line:sub(sp + 1), line:sub(1, sp - 1) }
end
local offset = tonumber(os.getenv("INBOUND_OFFSET") or "0")
local i, step = 0, 2      -- wrk -t2: the threads take alternate pairs
threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
init = function()
  i = offset + tid
end
request = function()
  local b = bodies[(i - 1) % #bodies + 1]
  i = i + step
  return wrk.format("POST", wrk.path, { ["Content-Type"] = "application/json",
    ["X-Signature"] = b[2] }, b[1])
end
