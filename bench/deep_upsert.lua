-- POST WebhookConfigurations: a deep upsert creating a new destination and
-- its configuration each time (target, channel, event configuration and
-- integration object nested as references), so every request writes rows.
local auth = os.getenv("BENCH_AUTH")
-- tid is a global: setup() sets it in each thread's own Lua state.
local n = 0
threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
request = function()
  n = n + 1
  local body = '{"integrationObject":{"code":"IO' .. (1 + n % 50) .. '"},'
    .. '"eventType":"de.hybris.platform.webhookservices.event.ItemCreatedEvent",'
    .. '"destination":{"id":"bench-' .. tid .. '-' .. os.time() .. '-' .. n .. '",'
    .. '"url":"https://sink.example/new","signingSecret":"whsec_benchbenchbench",'
    .. '"destinationTarget":{"id":"target1","destinationChannel":{"code":"WEBHOOKSERVICES"},'
    .. '"eventConfigurations":[{"eventClass":"de.hybris.platform.webhookservices.event.ItemCreatedEvent","exportName":"ItemCreatedEvent"},'
    .. '{"eventClass":"de.hybris.platform.webhookservices.event.ItemUpdatedEvent","exportName":"ItemUpdatedEvent"}]}}}'
  return wrk.format("POST", "/odata2webservices/WebhookService/WebhookConfigurations",
    { ["Authorization"] = auth, ["Content-Type"] = "application/json" }, body)
end
