-- webhookd schema, version 6: the registration API (dispatch.md, "Registration
-- API (for CI scripts)"), a flat REST face over the WebhookService model.
--
-- A registration is a DestinationTarget (id = the registration's uuid,
-- channel WEBHOOKSERVICES) with one EventConfiguration per trigger, one
-- ConsumedDestination (id = the uuid) and one WebhookConfiguration per
-- trigger: ordinary rows of the model, readable and writable through OData
-- afterwards. This table only remembers what the client sent (name,
-- description, the triggers as written) and which target it owns; it goes
-- with that target (ON DELETE CASCADE).
--
-- register() and unregister() are the whole write path: service/webhooks.c
-- calls each as ONE statement with every value as a parameter, so a
-- registration is created or removed in one transaction or not at all.
-- Integration keys are computed as odata/key.c computes them (key_part of
-- each key attribute, in the model's order, joined with '|'), so the rows
-- are addressable by the keys the OData layer derives.

CREATE TABLE webhookd.registration (
    pk                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid                  uuid NOT NULL UNIQUE,
    name                  text,
    description           text,
    triggers              text[] NOT NULL,
    signing_alg           text NOT NULL CHECK (signing_alg IN ('HMAC_SHA256', 'NONE')),
    created_at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    destination_target_pk bigint NOT NULL UNIQUE
                          REFERENCES webhookd.destination_target ON DELETE CASCADE
);
CREATE INDEX ON webhookd.registration (created_at, pk);

-- The API's view of a registration; url and signing_alg are read live from
-- the ConsumedDestination (OData may have changed them since).
CREATE FUNCTION webhookd.registration_json(r webhookd.registration) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('uuid', r.uuid, 'name', r.name, 'description', r.description,
        'url', d.url, 'triggers', to_json(r.triggers),
        'signing_alg', coalesce(d.signing_algorithm, r.signing_alg))
      FROM (SELECT 1) one
      LEFT JOIN webhookd.consumed_destination d
        ON d.destination_target_pk = r.destination_target_pk AND d.id = r.uuid::text
$$;

-- p_triggers: a JSON array, in the client's order, of
-- {"trigger": "OrderIO.created", "code": "OrderIO",
--  "event_class": "de.hybris.platform.webhookservices.event.ItemCreatedEvent"}
-- (parsed and checked in C; codes are checked here). p_secret is the
-- secrets.c stored form of the generated signing secret.
--
-- EventConfiguration's key is destinationTarget.id|eventClass|version, so two
-- triggers of one event class (OrderIO.created, CartIO.created) need two
-- versions: each class's triggers are numbered 1, 2, ... in the order sent.
CREATE FUNCTION webhookd.register(p_uuid uuid, p_name text, p_description text,
    p_url text, p_triggers jsonb, p_signing_alg text, p_secret text)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE
    id text := p_uuid::text;
    target_pk bigint;
    dest_pk bigint;
    bad text;
    reg webhookd.registration;
BEGIN
    -- the first trigger naming no integration object, before anything is written
    SELECT t.e->>'trigger' INTO bad
      FROM jsonb_array_elements(p_triggers) WITH ORDINALITY AS t(e, n)
     WHERE NOT EXISTS (SELECT 1 FROM webhookd.integration_object i WHERE i.code = t.e->>'code')
     ORDER BY t.n LIMIT 1;
    IF bad IS NOT NULL THEN
        PERFORM webhookd.raise_odata(400, 'invalid_trigger',
            'Trigger [' || bad || '] names no integration object.', bad);
    END IF;

    INSERT INTO webhookd.destination_target (id, integration_key, destination_channel_pk)
        SELECT id, webhookd.key_part(id), c.pk FROM webhookd.destination_channel c
         WHERE c.code = 'WEBHOOKSERVICES'
        RETURNING pk INTO target_pk;

    INSERT INTO webhookd.event_configuration (destination_target_pk, event_class, version,
                                              export_name, integration_key)
        SELECT target_pk, v.event_class, v.version, v.trigger,
               webhookd.key_part(id) || '|' || webhookd.key_part(v.event_class) || '|' || v.version
          FROM (SELECT t.e->>'event_class' AS event_class, t.e->>'trigger' AS trigger,
                       row_number() OVER (PARTITION BY t.e->>'event_class' ORDER BY t.n)::int AS version
                  FROM jsonb_array_elements(p_triggers) WITH ORDINALITY AS t(e, n)) v;

    -- check_consumed_destination refuses a url that is not absolute http(s)
    INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, signing_algorithm,
                                               signing_secret, integration_key)
        VALUES (id, target_pk, p_url, p_signing_alg, p_secret,
                webhookd.key_part(id) || '|' || webhookd.key_part(id))
        RETURNING pk INTO dest_pk;

    INSERT INTO webhookd.webhook_configuration (consumed_destination_pk, integration_object_pk,
                                                event_type, integration_key)
        SELECT dest_pk, i.pk, t.e->>'event_class',
               webhookd.key_part(id) || '|' || webhookd.key_part(id) || '|'
               || webhookd.key_part(i.code) || '|' || webhookd.key_part(t.e->>'event_class')
          FROM jsonb_array_elements(p_triggers) AS t(e)
          JOIN webhookd.integration_object i ON i.code = t.e->>'code';

    INSERT INTO webhookd.registration (uuid, name, description, triggers, signing_alg,
                                       destination_target_pk)
        SELECT p_uuid, p_name, p_description,
               ARRAY(SELECT t.e->>'trigger' FROM jsonb_array_elements(p_triggers)
                        WITH ORDINALITY AS t(e, n) ORDER BY t.n),
               p_signing_alg, target_pk
        RETURNING * INTO reg;
    RETURN webhookd.registration_json(reg);
END $$;

-- Removes everything hanging off the registration's DestinationTarget (its
-- ConsumedDestinations with their WebhookConfigurations, its
-- EventConfigurations), then the target, which takes the registration row
-- with it. Referenced items (integration objects, credentials, endpoints)
-- stay, as with an OData DELETE. False when no such registration exists.
CREATE FUNCTION webhookd.unregister(p_uuid uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    tpk bigint;
BEGIN
    -- a concurrent unregister of the same uuid waits here, then finds nothing
    SELECT destination_target_pk INTO tpk FROM webhookd.registration
     WHERE uuid = p_uuid FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM webhookd.webhook_configuration w USING webhookd.consumed_destination d
     WHERE d.pk = w.consumed_destination_pk AND d.destination_target_pk = tpk;
    DELETE FROM webhookd.consumed_destination WHERE destination_target_pk = tpk;
    DELETE FROM webhookd.event_configuration WHERE destination_target_pk = tpk;
    DELETE FROM webhookd.destination_target WHERE pk = tpk;
    RETURN true;
END $$;
