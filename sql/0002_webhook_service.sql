-- webhookd schema, version 2: the WebhookService entity types (odata.md).
--
-- Every table has a surrogate `pk`, a `row_version` (the OData etag, bumped
-- by a trigger only when a row really changes), its `integration_key` as
-- text (computed by webhookd from the key attributes when the row is
-- inserted; key attributes never change afterwards, so neither does it;
-- every lookup by key is one index probe) and a UNIQUE constraint on
-- the columns behind its integrationKey, in SAP's key order; odata/model.c
-- describes the same tables and upserts with ON CONFLICT on those columns.
-- Validation that needs other rows lives in AFTER triggers, which fire only
-- for rows really inserted or updated (BEFORE triggers and NOT NULL/CHECK on
-- optional columns would fire on an upsert's proposed row even when it is
-- only a reference to an existing one).
--
-- Errors meant for API clients are raised by webhookd.raise_odata with
-- SQLSTATE 'WH' || <http status>, the OData code in HINT and the innererror
-- in DETAIL; service/ maps them without parsing any message text.

CREATE FUNCTION webhookd.raise_odata(status int, code text, message text, inner_error text DEFAULT '')
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'WH' || status::text, MESSAGE = message,
        HINT = code, DETAIL = coalesce(inner_error, '');
END $$;

CREATE FUNCTION webhookd.not_found(type_name text, integration_key text)
RETURNS bigint LANGUAGE sql AS $$
    SELECT webhookd.raise_odata(404, 'not_found',
        '[' || type_name || '] with integration key [' || integration_key || '] was not found.',
        integration_key)
$$;

-- Java's URLEncoder.encode(s, "UTF-8"), as odata/key.c does it; NULL is the
-- key part "null". Used to compute integrationKey for responses and for
-- $filter/$orderby on integrationKey.
CREATE FUNCTION webhookd.key_part_encode(s text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    b bytea;
    r text := '';
    c int;
BEGIN
    IF s IS NULL THEN
        RETURN 'null';
    END IF;
    IF s ~ '^[A-Za-z0-9.*_-]*$' THEN
        RETURN s;
    END IF;
    b := convert_to(s, 'UTF8');
    FOR i IN 0 .. length(b) - 1 LOOP
        c := get_byte(b, i);
        IF c BETWEEN 48 AND 57 OR c BETWEEN 65 AND 90 OR c BETWEEN 97 AND 122
           OR c IN (42, 45, 46, 95) THEN
            r := r || chr(c);
        ELSIF c = 32 THEN
            r := r || '+';
        ELSE
            r := r || '%' || upper(lpad(to_hex(c), 2, '0'));
        END IF;
    END LOOP;
    RETURN r;
END $$;

-- The common case (nothing to encode) inline, without a PL/pgSQL call: a
-- SQL function like this one is expanded into the calling query.
CREATE FUNCTION webhookd.key_part(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN s IS NULL THEN 'null'
                WHEN s ~ '^[A-Za-z0-9.*_-]*$' THEN s
                ELSE webhookd.key_part_encode(s) END
$$;

-- An integrationKey as it appears inside a URI's key predicate: the path is
-- percent-decoded once, so '%' and the '|' separators are escaped.
CREATE FUNCTION webhookd.uri_key(k text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(k, '%', '%25'), '|', '%7C')
$$;

CREATE FUNCTION webhookd.bump_row_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.row_version := OLD.row_version + 1;
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE webhookd.destination_channel (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    code        text NOT NULL UNIQUE
);
INSERT INTO webhookd.destination_channel (code, integration_key)
    VALUES ('WEBHOOKSERVICES', 'WEBHOOKSERVICES'), ('PULL', 'PULL'), ('DEFAULT', 'DEFAULT');

CREATE FUNCTION webhookd.default_channel_pk() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT pk FROM webhookd.destination_channel WHERE code = 'DEFAULT'
$$;

CREATE TABLE webhookd.integration_object (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    code        text NOT NULL UNIQUE,
    description text
);

CREATE TABLE webhookd.webhook_filter (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    code        text NOT NULL UNIQUE,
    expression  text
);

CREATE TABLE webhookd.endpoint (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    id          text NOT NULL,
    version     text NOT NULL,
    name        text,
    spec_url    text,
    UNIQUE (id, version)
);

CREATE TABLE webhookd.basic_credential (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    id          text NOT NULL UNIQUE,
    username    text,
    password    text            -- secrets.c stored form, never returned
);

CREATE TABLE webhookd.consumed_oauth_credential (
    pk            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version   int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    id            text NOT NULL UNIQUE,
    client_id     text,
    client_secret text,         -- secrets.c stored form, never returned
    oauth_url     text,
    scope         text
);

CREATE TABLE webhookd.destination_target (
    pk                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version            int NOT NULL DEFAULT 1,
    integration_key        text NOT NULL UNIQUE,
    id                     text NOT NULL UNIQUE,
    destination_channel_pk bigint NOT NULL DEFAULT webhookd.default_channel_pk()
                           REFERENCES webhookd.destination_channel
);
CREATE INDEX ON webhookd.destination_target (destination_channel_pk);

CREATE TABLE webhookd.event_configuration (
    pk                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version           int NOT NULL DEFAULT 1,
    integration_key       text NOT NULL UNIQUE,
    destination_target_pk bigint NOT NULL REFERENCES webhookd.destination_target ON DELETE CASCADE,
    event_class           text NOT NULL,
    version               int NOT NULL DEFAULT 1,
    export_name           text,
    description           text,
    UNIQUE (destination_target_pk, event_class, version)
);

CREATE TABLE webhookd.consumed_destination (
    pk                           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version                  int NOT NULL DEFAULT 1,
    integration_key              text NOT NULL UNIQUE,
    id                           text NOT NULL,
    destination_target_pk        bigint NOT NULL REFERENCES webhookd.destination_target,
    url                          text,
    active                       boolean NOT NULL DEFAULT true,
    signing_algorithm            text NOT NULL DEFAULT 'HMAC_SHA256'
                                 CHECK (signing_algorithm IN ('HMAC_SHA256', 'NONE')),
    signing_secret               text,  -- secrets.c stored form, never returned
    ignore_errors                boolean NOT NULL DEFAULT false,
    max_in_flight                int NOT NULL DEFAULT 8 CHECK (max_in_flight BETWEEN 1 AND 1000),
    timeout_millis               int NOT NULL DEFAULT 15000 CHECK (timeout_millis BETWEEN 1 AND 600000),
    deactivated_reason           text,
    endpoint_pk                  bigint REFERENCES webhookd.endpoint,
    credential_basic_pk          bigint REFERENCES webhookd.basic_credential,
    credential_consumed_oauth_pk bigint REFERENCES webhookd.consumed_oauth_credential,
    UNIQUE (id, destination_target_pk)
);
CREATE INDEX ON webhookd.consumed_destination (destination_target_pk);
CREATE INDEX ON webhookd.consumed_destination (endpoint_pk);
CREATE INDEX ON webhookd.consumed_destination (credential_basic_pk);
CREATE INDEX ON webhookd.consumed_destination (credential_consumed_oauth_pk);

CREATE TABLE webhookd.string2string_map (
    pk          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version int NOT NULL DEFAULT 1,
    integration_key text NOT NULL UNIQUE,
    owner_pk    bigint NOT NULL REFERENCES webhookd.consumed_destination ON DELETE CASCADE,
    key         text NOT NULL,
    value       text,
    UNIQUE (owner_pk, key)
);

CREATE TABLE webhookd.webhook_configuration (
    pk                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version             int NOT NULL DEFAULT 1,
    integration_key         text NOT NULL UNIQUE,
    consumed_destination_pk bigint NOT NULL REFERENCES webhookd.consumed_destination,
    integration_object_pk   bigint NOT NULL REFERENCES webhookd.integration_object,
    event_type              text NOT NULL DEFAULT 'de.hybris.platform.webhookservices.event.ItemSavedEvent',
    filter_location         text,
    UNIQUE (consumed_destination_pk, integration_object_pk, event_type)
);
CREATE INDEX ON webhookd.webhook_configuration (event_type);
CREATE INDEX ON webhookd.webhook_configuration (integration_object_pk);

CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.destination_channel FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.integration_object FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.webhook_filter FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.endpoint FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.basic_credential FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.consumed_oauth_credential FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.destination_target FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.event_configuration FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.consumed_destination FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.string2string_map FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();
CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.webhook_configuration FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();

CREATE FUNCTION webhookd.is_http_url(u text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT u ~* '^https?://[^/?#[:space:]@]+(@[^/?#[:space:]]+)?(:[0-9]{1,5})?([/?#][^[:space:]]*)?$'
$$;

CREATE FUNCTION webhookd.check_consumed_destination() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.url IS NULL OR NOT webhookd.is_http_url(NEW.url) THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            '[ConsumedDestination] url must be an absolute http or https URL.', 'url');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_consumed_destination AFTER INSERT OR UPDATE ON webhookd.consumed_destination
    FOR EACH ROW EXECUTE FUNCTION webhookd.check_consumed_destination();

CREATE FUNCTION webhookd.check_webhook_configuration() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    channel text;
    target_pk bigint;
    target_id text;
    dest_url text;
    filter_code text;
BEGIN
    IF NEW.event_type NOT IN ('de.hybris.platform.webhookservices.event.ItemSavedEvent',
                              'de.hybris.platform.webhookservices.event.ItemCreatedEvent',
                              'de.hybris.platform.webhookservices.event.ItemUpdatedEvent',
                              'de.hybris.platform.webhookservices.event.ItemDeletedEvent') THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'EventType [' || NEW.event_type || '] is not supported. Supported event types are '
            'ItemSavedEvent, ItemCreatedEvent, ItemUpdatedEvent and ItemDeletedEvent of '
            'de.hybris.platform.webhookservices.event.', 'eventType');
    END IF;
    SELECT c.code, t.pk, t.id, d.url INTO channel, target_pk, target_id, dest_url
      FROM webhookd.consumed_destination d
      JOIN webhookd.destination_target t ON t.pk = d.destination_target_pk
      JOIN webhookd.destination_channel c ON c.pk = t.destination_channel_pk
     WHERE d.pk = NEW.consumed_destination_pk;
    IF channel NOT IN ('WEBHOOKSERVICES', 'PULL') THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'DestinationTarget [' || target_id || '] uses channel [' || channel
            || ']; webhooks need channel WEBHOOKSERVICES or PULL.', 'destination');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM webhookd.event_configuration
                    WHERE destination_target_pk = target_pk AND event_class = NEW.event_type) THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'EventType [' || NEW.event_type || '] is not registered as an EventConfiguration of DestinationTarget ['
            || target_id || '].', 'eventType');
    END IF;
    IF NEW.filter_location IS NOT NULL THEN
        IF NEW.filter_location !~ '^model://[^[:space:]/]+$' THEN
            PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
                'FilterLocation [' || NEW.filter_location || '] must be of the form model://<WebhookFilter code>.',
                'filterLocation');
        END IF;
        filter_code := substr(NEW.filter_location, 9);
        IF NOT EXISTS (SELECT 1 FROM webhookd.webhook_filter WHERE code = filter_code) THEN
            PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
                'FilterLocation [' || NEW.filter_location || '] names no existing WebhookFilter.',
                'filterLocation');
        END IF;
    END IF;
    IF dest_url IS NULL OR NOT webhookd.is_http_url(dest_url) THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            '[ConsumedDestination] url must be an absolute http or https URL.', 'url');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_webhook_configuration AFTER INSERT OR UPDATE ON webhookd.webhook_configuration
    FOR EACH ROW EXECUTE FUNCTION webhookd.check_webhook_configuration();

-- The rules above hold for as long as a configuration exists, not only when
-- it is written: changing what it depends on is refused the same way.
-- A destination target used by a configuration keeps a webhook channel.
CREATE FUNCTION webhookd.check_destination_target() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    channel text;
BEGIN
    SELECT code INTO channel FROM webhookd.destination_channel WHERE pk = NEW.destination_channel_pk;
    IF channel NOT IN ('WEBHOOKSERVICES', 'PULL') AND EXISTS (
        SELECT 1 FROM webhookd.webhook_configuration w
          JOIN webhookd.consumed_destination d ON d.pk = w.consumed_destination_pk
         WHERE d.destination_target_pk = NEW.pk) THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'DestinationTarget [' || NEW.id || '] uses channel [' || channel
            || ']; webhooks need channel WEBHOOKSERVICES or PULL.', 'destinationChannel');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_destination_target AFTER UPDATE OF destination_channel_pk ON webhookd.destination_target
    FOR EACH ROW WHEN (NEW.destination_channel_pk IS DISTINCT FROM OLD.destination_channel_pk)
    EXECUTE FUNCTION webhookd.check_destination_target();

-- The event class a configuration listens to stays registered on its target
-- (row triggers run at the end of the statement: a collection replacement
-- that keeps another registration of the class passes).
CREATE FUNCTION webhookd.check_event_configuration_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhookd.webhook_configuration w
                 JOIN webhookd.consumed_destination d ON d.pk = w.consumed_destination_pk
                WHERE d.destination_target_pk = OLD.destination_target_pk
                  AND w.event_type = OLD.event_class)
       AND NOT EXISTS (SELECT 1 FROM webhookd.event_configuration e
                        WHERE e.destination_target_pk = OLD.destination_target_pk
                          AND e.event_class = OLD.event_class) THEN
        PERFORM webhookd.raise_odata(409, 'item_in_use',
            'EventType [' || OLD.event_class || '] of DestinationTarget ['
            || (SELECT id FROM webhookd.destination_target WHERE pk = OLD.destination_target_pk)
            || '] is used by a WebhookConfiguration and cannot be removed.', 'eventConfigurations');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_event_configuration_delete AFTER DELETE ON webhookd.event_configuration
    FOR EACH ROW EXECUTE FUNCTION webhookd.check_event_configuration_delete();

-- A filter named by a configuration's filterLocation stays.
CREATE FUNCTION webhookd.check_webhook_filter_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM webhookd.webhook_configuration
                WHERE filter_location = 'model://' || OLD.code) THEN
        PERFORM webhookd.raise_odata(409, 'item_in_use',
            'WebhookFilter [' || OLD.code || '] is used by a WebhookConfiguration and cannot be removed.',
            OLD.code);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_webhook_filter_delete AFTER DELETE ON webhookd.webhook_filter
    FOR EACH ROW EXECUTE FUNCTION webhookd.check_webhook_filter_delete();

-- Persistence hooks (Pre-Persist-Hook / Post-Persist-Hook headers): a hook
-- is a function registered here by name; webhookd never puts the name into
-- SQL text, it passes it as a parameter to run_persist_hook, which calls the
-- registered function through its regprocedure (an OID, quoted by PostgreSQL).
-- Signature: f(entity_type text, integration_key text, payload jsonb).
-- A pre-hook may RAISE to reject the write; everything runs in the write's
-- transaction.
CREATE TABLE webhookd.persist_hook (
    name     text NOT NULL,
    kind     text NOT NULL CHECK (kind IN ('PRE', 'POST')),
    function regprocedure NOT NULL,
    PRIMARY KEY (name, kind)
);

CREATE FUNCTION webhookd.run_persist_hook(hook_name text, hook_kind text,
    entity_type text, integration_key text, payload jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fn regprocedure;
BEGIN
    SELECT h.function INTO fn FROM webhookd.persist_hook h
     WHERE h.name = hook_name AND h.kind = hook_kind;
    IF fn IS NULL THEN
        PERFORM webhookd.raise_odata(400, 'hook_not_found',
            CASE hook_kind WHEN 'PRE' THEN 'Pre' ELSE 'Post' END
            || '-Persist-Hook [' || hook_name || '] was not found.', hook_name);
    END IF;
    BEGIN
        EXECUTE format('SELECT %s($1, $2, $3)', fn::regproc) USING entity_type, integration_key, payload;
    EXCEPTION WHEN OTHERS THEN
        -- a hook may answer with its own OData error (raise_odata) ...
        IF SQLSTATE LIKE 'WH%' THEN
            RAISE;
        END IF;
        -- ... any other exception rejects the write as SAP's PersistHookException
        -- does: 400 pre_persist_error / post_persist_error. Only a message the
        -- hook raised itself (RAISE EXCEPTION '...') is quoted.
        PERFORM webhookd.raise_odata(400, lower(hook_kind) || '_persist_error',
            'Exception occurred during the execution of '
            || CASE hook_kind WHEN 'PRE' THEN 'Pre' ELSE 'Post' END
            || '-Persist-Hook: [' || hook_name || '].'
            || CASE WHEN SQLSTATE = 'P0001' THEN ' Caused by: ' || SQLERRM ELSE '' END,
            integration_key);
    END;
END $$;

-- If-Match: the etag a client holds must be the row's current one.
CREATE FUNCTION webhookd.check_etag(current_version int, if_match text,
    type_name text, integration_key text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_version IS NULL THEN
        PERFORM webhookd.not_found(type_name, integration_key);
    END IF;
    IF if_match <> '*' AND if_match <> ('W/"' || current_version || '"')
       AND if_match <> ('"' || current_version || '"') THEN
        PERFORM webhookd.raise_odata(412, 'precondition_failed',
            'The entity [' || type_name || '] with integration key [' || integration_key
            || '] has changed: its ETag is W/"' || current_version || '", not ' || if_match || '.',
            integration_key);
    END IF;
END $$;
