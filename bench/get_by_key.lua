-- GET WebhookConfigurations('<key>') for a random one of the 10,000 seeded.
local auth = os.getenv("BENCH_AUTH")
local base = "/odata2webservices/WebhookService/WebhookConfigurations('"
local ev = { "ItemCreatedEvent", "ItemUpdatedEvent" }
math.randomseed(os.time())
request = function()
  local d = math.random(1, 100)
  local path = base .. "dest" .. d .. "%7Ctarget" .. (1 + d % 10) .. "%7CIO" .. math.random(1, 50)
     .. "%7Cde.hybris.platform.webhookservices.event." .. ev[math.random(1, 2)] .. "')"
  return wrk.format("GET", path, { ["Authorization"] = auth })
end
