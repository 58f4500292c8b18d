-- $filter on eventType, first 20, destination expanded.
local auth = os.getenv("BENCH_AUTH")
local path = "/odata2webservices/WebhookService/WebhookConfigurations?$filter=eventType%20eq%20"
  .. "'de.hybris.platform.webhookservices.event.ItemCreatedEvent'&$top=20&$expand=destination"
request = function()
  return wrk.format("GET", path, { ["Authorization"] = auth })
end
