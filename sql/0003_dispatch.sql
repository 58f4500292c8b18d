-- webhookd schema, version 3: events, deliveries, attempts, inbound requests
-- (the dispatcher) and what the dispatcher needs from the configuration.
--
-- The dispatcher keeps the configurations in memory. Every write to a
-- table it caches records the writing transaction in config_change and
-- NOTIFYs webhookd_dispatch 'config'. A dispatcher remembers the snapshot
-- its cache was read in; a claim that sees a config_change row invisible
-- to that snapshot (a change committed before the claimed event) reloads
-- the cache before matching, so a lost or late NOTIFY never matches an
-- event against configurations older than the event.

CREATE TABLE webhookd.config_change (
    xid  xid8 PRIMARY KEY,
    at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION webhookd.config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhookd.config_change (xid) VALUES (pg_current_xact_id())
        ON CONFLICT (xid) DO NOTHING;
    PERFORM pg_notify('webhookd_dispatch', 'config');
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_configuration', 'consumed_destination',
        'destination_target', 'destination_channel', 'integration_object',
        'webhook_filter', 'basic_credential', 'consumed_oauth_credential',
        'string2string_map'] LOOP
        EXECUTE format('CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE '
            'OR TRUNCATE ON webhookd.%I FOR EACH STATEMENT '
            'EXECUTE FUNCTION webhookd.config_changed()', t);
    END LOOP;
END $$;

-- Rotation: the previous secret keeps signing until signing_secret_rotated_at
-- plus the configured overlap (24 h).
ALTER TABLE webhookd.consumed_destination
    ADD COLUMN signing_secret_prev text,         -- secrets.c stored form
    ADD COLUMN signing_secret_rotated_at timestamptz;

-- Events. id is the publisher's idempotency key.
CREATE TABLE webhookd.event (
    pk                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 255),
    integration_object  text NOT NULL CHECK (length(integration_object) BETWEEN 1 AND 255),
    action              text NOT NULL CHECK (action IN ('created', 'updated', 'deleted')),
    subject_key         text,                       -- the event's integrationKey
    payload             json NOT NULL,      -- the text as published
    occurred_at         timestamptz NOT NULL DEFAULT now(),
    received_at         timestamptz NOT NULL DEFAULT now(),
    source              text NOT NULL DEFAULT 'api',
    fanned_out          boolean NOT NULL DEFAULT false,
    fanout_lease_until  timestamptz
);
CREATE INDEX event_pending_fanout ON webhookd.event (pk) WHERE NOT fanned_out;
CREATE INDEX ON webhookd.event (received_at);
CREATE INDEX ON webhookd.event (integration_object, occurred_at);

CREATE FUNCTION webhookd.event_published() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_dispatch', 'event');
    RETURN NULL;
END $$;
CREATE TRIGGER event_published AFTER INSERT ON webhookd.event
    FOR EACH STATEMENT WHEN (coalesce(current_setting('webhookd.local_wake', true), '') <> 'on')
    EXECUTE FUNCTION webhookd.event_published();

-- The transactional outbox: call inside your own transaction; the event
-- exists exactly when that transaction commits. Returns the event id (the
-- given one, or a generated one). Publishing an id again changes nothing.
CREATE FUNCTION webhookd.publish_event(integration_object text, action text,
    payload jsonb, integration_key text DEFAULT NULL, id text DEFAULT NULL,
    occurred_at timestamptz DEFAULT NULL, source text DEFAULT 'outbox')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    eid text := coalesce(id, gen_random_uuid()::text);
BEGIN
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'webhookd.publish_event: payload must be a JSON object'
            USING ERRCODE = '22023';
    END IF;
    -- ids and keys travel as HTTP headers (webhook-id, ce-subject)
    IF eid ~ '[[:cntrl:]]' OR integration_key ~ '[[:cntrl:]]' OR integration_object ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'webhookd.publish_event: id, integration_key and integration_object must not hold control characters'
            USING ERRCODE = '22023';
    END IF;
    INSERT INTO webhookd.event (id, integration_object, action, subject_key,
                                payload, occurred_at, source)
    VALUES (eid, integration_object, action, integration_key, payload::json,
            coalesce(occurred_at, now()), coalesce(source, 'outbox'))
    ON CONFLICT ON CONSTRAINT event_id_key DO NOTHING;
    RETURN eid;
END $$;

-- Dispatcher-owned state of a destination, apart from consumed_destination
-- so that delivery outcomes neither change its etag nor reload caches. Its
-- row is also the lock that makes maxInFlight hold across instances.
CREATE TABLE webhookd.destination_state (
    destination_pk  bigint PRIMARY KEY REFERENCES webhookd.consumed_destination ON DELETE CASCADE,
    failing_since   timestamptz
);

-- One delivery per event and destination.
CREATE TABLE webhookd.delivery (
    pk                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                text NOT NULL UNIQUE DEFAULT ('msg_' || replace(gen_random_uuid()::text, '-', '')),
    event_pk          bigint NOT NULL REFERENCES webhookd.event ON DELETE CASCADE,
    destination_pk    bigint REFERENCES webhookd.consumed_destination ON DELETE SET NULL,
    destination_key   text NOT NULL,
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'IN_FLIGHT', 'DELIVERED', 'FAILED', 'DISCARDED')),
    attempts          int NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_status_code  int,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    lease_owner       text,
    lease_until       timestamptz,
    UNIQUE (event_pk, destination_pk)
);
CREATE INDEX delivery_due ON webhookd.delivery (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX delivery_pending_dest ON webhookd.delivery (destination_pk, next_attempt_at)
    WHERE status = 'PENDING';
CREATE INDEX delivery_in_flight ON webhookd.delivery (destination_pk) WHERE status = 'IN_FLIGHT';
CREATE INDEX delivery_lease ON webhookd.delivery (lease_until) WHERE status = 'IN_FLIGHT';
CREATE INDEX ON webhookd.delivery (destination_key, created_at);
CREATE INDEX ON webhookd.delivery (created_at);

CREATE TABLE webhookd.delivery_attempt (
    pk                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                text NOT NULL UNIQUE DEFAULT ('att_' || replace(gen_random_uuid()::text, '-', '')),
    delivery_pk       bigint NOT NULL REFERENCES webhookd.delivery ON DELETE CASCADE,
    attempt_no        int NOT NULL,
    started_at        timestamptz NOT NULL,
    duration_ms       int NOT NULL DEFAULT 0,
    status_code       int,
    error             text,
    response_excerpt  text
);
CREATE INDEX ON webhookd.delivery_attempt (delivery_pk);
CREATE INDEX ON webhookd.delivery_attempt (started_at);

-- Inbound webhooks (filled by the inbound receiver).
CREATE TABLE webhookd.inbound_request (
    pk                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                      text NOT NULL UNIQUE DEFAULT ('inb_' || replace(gen_random_uuid()::text, '-', '')),
    source                  text NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    verified                boolean NOT NULL DEFAULT false,
    sender_id               text,
    duplicate               boolean NOT NULL DEFAULT false,
    status                  int NOT NULL,
    integration_message_id  text,
    path                    text NOT NULL,
    event_pk                bigint REFERENCES webhookd.event ON DELETE SET NULL
);
CREATE INDEX ON webhookd.inbound_request (received_at);
CREATE INDEX ON webhookd.inbound_request (event_pk);

-- Re-activating a destination resumes what is pending at once and forgets
-- the failure streak that deactivated it.
CREATE FUNCTION webhookd.destination_reactivated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active AND NOT OLD.active THEN
        UPDATE webhookd.destination_state SET failing_since = NULL
            WHERE destination_pk = NEW.pk;
        UPDATE webhookd.delivery SET next_attempt_at = now()
            WHERE destination_pk = NEW.pk AND status = 'PENDING' AND next_attempt_at > now();
        PERFORM pg_notify('webhookd_dispatch', 'delivery');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER destination_reactivated AFTER UPDATE OF active ON webhookd.consumed_destination
    FOR EACH ROW EXECUTE FUNCTION webhookd.destination_reactivated();

-- Deleting a destination discards what was still to be sent to it (the
-- deliveries stay, for the monitoring history).
CREATE FUNCTION webhookd.destination_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE webhookd.delivery SET status = 'DISCARDED', lease_owner = NULL, lease_until = NULL
        WHERE destination_pk = OLD.pk AND status IN ('PENDING', 'IN_FLIGHT');
    RETURN OLD;
END $$;
CREATE TRIGGER destination_deleted BEFORE DELETE ON webhookd.consumed_destination
    FOR EACH ROW EXECUTE FUNCTION webhookd.destination_deleted();

-- Deactivate destinations that answered 410 (gone) or have failed without
-- a success for longer than after_s (failing). Touches consumed_destination
-- only when something is to be deactivated, so that routine calls do not
-- invalidate every dispatcher's cache. Returns how many were deactivated.
CREATE FUNCTION webhookd.deactivate_destinations(gone bigint[], failing bigint[], after_s float8)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int := 0;
BEGIN
    PERFORM 1 FROM webhookd.consumed_destination cd
        JOIN webhookd.destination_state s ON s.destination_pk = cd.pk
        WHERE cd.active AND (cd.pk = ANY(gone) OR (cd.pk = ANY(failing)
              AND s.failing_since < now() - make_interval(secs => after_s)));
    IF FOUND THEN
        UPDATE webhookd.consumed_destination cd SET active = false,
            deactivated_reason = CASE WHEN cd.pk = ANY(gone)
                THEN 'The destination answered 410 Gone.'
                ELSE 'Deliveries failed without a success since '
                     || to_char(s.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '.'
                END
        FROM webhookd.destination_state s
        WHERE s.destination_pk = cd.pk AND cd.active AND (cd.pk = ANY(gone) OR (cd.pk = ANY(failing)
              AND s.failing_since < now() - make_interval(secs => after_s)));
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    RETURN n;
END $$;
