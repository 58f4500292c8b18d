-- Data of the dispatcher benchmarks (bench/dispatch.sh); psql variable
-- sink = the port of bench/sink.c on 127.0.0.1. Inserted as SQL (the
-- validation triggers still run on every row); integration_key is what
-- webhookd computes on insert (see bench/seed.sql).
--
--   one target "bench" (channel WEBHOOKSERVICES) registering all four event types
--   BenchIO: one destination "sink" (url /hook), one ItemSavedEvent configuration
--            -> every created/updated event of BenchIO is one delivery
--   FanIO:   1,000 destinations fan1..fan1000 (urls /d1../d1000), one
--            ItemSavedEvent configuration each -> one event, 1,000 deliveries
INSERT INTO webhookd.integration_object (code, integration_key)
VALUES ('BenchIO', 'BenchIO'), ('FanIO', 'FanIO');
INSERT INTO webhookd.destination_target (id, integration_key, destination_channel_pk)
VALUES ('bench', 'bench', (SELECT pk FROM webhookd.destination_channel WHERE code = 'WEBHOOKSERVICES'));
INSERT INTO webhookd.event_configuration (destination_target_pk, event_class, export_name, integration_key)
SELECT dt.pk, 'de.hybris.platform.webhookservices.event.' || e, e,
       dt.id || '|' || webhookd.key_part('de.hybris.platform.webhookservices.event.' || e) || '|1'
  FROM webhookd.destination_target dt,
       unnest(ARRAY['ItemSavedEvent', 'ItemCreatedEvent', 'ItemUpdatedEvent', 'ItemDeletedEvent']) e
 WHERE dt.id = 'bench';
INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, integration_key)
SELECT 'sink', dt.pk, 'http://127.0.0.1:' || :'sink' || '/hook', 'sink|bench'
  FROM webhookd.destination_target dt WHERE dt.id = 'bench';
INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, integration_key)
SELECT 'fan' || d, dt.pk, 'http://127.0.0.1:' || :'sink' || '/d' || d, 'fan' || d || '|bench'
  FROM webhookd.destination_target dt, generate_series(1, 1000) d WHERE dt.id = 'bench';
INSERT INTO webhookd.webhook_configuration (consumed_destination_pk, integration_object_pk, event_type,
                                            integration_key)
SELECT cd.pk, io.pk, 'de.hybris.platform.webhookservices.event.ItemSavedEvent',
       cd.integration_key || '|' || io.code || '|de.hybris.platform.webhookservices.event.ItemSavedEvent'
  FROM webhookd.consumed_destination cd
  JOIN webhookd.integration_object io ON io.code = CASE WHEN cd.id = 'sink' THEN 'BenchIO' ELSE 'FanIO' END;
-- The events of the run, for pgbench's reference: one one-row INSERT per transaction.
CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v int,
                           at timestamptz DEFAULT now());
ANALYZE;
