-- 100,000 configurations for the dispatcher's memory benchmark
-- (bench/dispatch.sh); psql variables: sink = the port of bench/sink.c,
-- secret = a signing secret's stored form (encrypted under the run's master
-- key; bench/dispatch.sh takes it from the first database).
-- 25,000 integration objects MemIO1..MemIO25000, each with its own
-- destination mem<i> (url /m<i>, all on one target registering the four
-- event types) and four configurations, one per event type (ItemSaved,
-- ItemCreated, ItemUpdated, ItemDeleted): 25,000 x 4 = 100,000. A created
-- or updated event of MemIO<i> matches two of them, one destination: one
-- delivery.
INSERT INTO webhookd.integration_object (code, integration_key)
SELECT 'MemIO' || i, 'MemIO' || i FROM generate_series(1, 25000) i;
INSERT INTO webhookd.destination_target (id, integration_key, destination_channel_pk)
VALUES ('mem', 'mem', (SELECT pk FROM webhookd.destination_channel WHERE code = 'WEBHOOKSERVICES'));
INSERT INTO webhookd.event_configuration (destination_target_pk, event_class, export_name, integration_key)
SELECT dt.pk, 'de.hybris.platform.webhookservices.event.' || e, e,
       dt.id || '|' || webhookd.key_part('de.hybris.platform.webhookservices.event.' || e) || '|1'
  FROM webhookd.destination_target dt,
       unnest(ARRAY['ItemSavedEvent', 'ItemCreatedEvent', 'ItemUpdatedEvent', 'ItemDeletedEvent']) e
 WHERE dt.id = 'mem';
INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, integration_key, signing_secret)
SELECT 'mem' || i, dt.pk, 'http://127.0.0.1:' || :'sink' || '/m' || i, 'mem' || i || '|mem', :'secret'
  FROM webhookd.destination_target dt, generate_series(1, 25000) i WHERE dt.id = 'mem';
INSERT INTO webhookd.webhook_configuration (consumed_destination_pk, integration_object_pk, event_type,
                                            integration_key)
SELECT cd.pk, io.pk, 'de.hybris.platform.webhookservices.event.' || e,
       cd.integration_key || '|' || io.code || '|de.hybris.platform.webhookservices.event.' || e
  FROM webhookd.consumed_destination cd
  JOIN webhookd.integration_object io ON io.code = 'MemIO' || substr(cd.id, 4)
  CROSS JOIN unnest(ARRAY['ItemSavedEvent', 'ItemCreatedEvent', 'ItemUpdatedEvent', 'ItemDeletedEvent']) e
 WHERE cd.id LIKE 'mem%';
ANALYZE;
