-- Benchmark data: 10 destination targets (channel WEBHOOKSERVICES) each
-- registering ItemCreated and ItemUpdated events, 100 destinations (10 per
-- target), 50 integration objects (the "event types": SAP events are an
-- integration object plus an action) and one configuration per destination,
-- integration object and action: 100 x 50 x 2 = 10,000 configurations.
-- Inserted as SQL (the validation triggers still run on every row).
-- integration_key is what webhookd computes on insert: the key attributes,
-- each through webhookd.key_part (form-URL-encoding), joined with '|'.
INSERT INTO webhookd.integration_object (code, integration_key)
SELECT 'IO' || i, 'IO' || i FROM generate_series(1, 50) i;
INSERT INTO webhookd.destination_target (id, integration_key, destination_channel_pk)
SELECT 'target' || t, 'target' || t,
       (SELECT pk FROM webhookd.destination_channel WHERE code = 'WEBHOOKSERVICES')
  FROM generate_series(1, 10) t;
INSERT INTO webhookd.event_configuration (destination_target_pk, event_class, export_name, integration_key)
SELECT dt.pk, 'de.hybris.platform.webhookservices.event.' || e, e,
       dt.id || '|' || webhookd.key_part('de.hybris.platform.webhookservices.event.' || e) || '|1'
  FROM webhookd.destination_target dt, unnest(ARRAY['ItemCreatedEvent', 'ItemUpdatedEvent']) e;
INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, integration_key)
SELECT 'dest' || d, (SELECT pk FROM webhookd.destination_target WHERE id = 'target' || (1 + d % 10)),
       'https://sink.example/hook/' || d, 'dest' || d || '|target' || (1 + d % 10)
  FROM generate_series(1, 100) d;
INSERT INTO webhookd.webhook_configuration (consumed_destination_pk, integration_object_pk, event_type,
                                            integration_key)
SELECT cd.pk, io.pk, 'de.hybris.platform.webhookservices.event.' || e,
       cd.integration_key || '|' || io.code || '|de.hybris.platform.webhookservices.event.' || e
  FROM webhookd.consumed_destination cd, webhookd.integration_object io,
       unnest(ARRAY['ItemCreatedEvent', 'ItemUpdatedEvent']) e;
ANALYZE;
