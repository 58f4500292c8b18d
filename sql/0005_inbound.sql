-- webhookd schema, version 5: inbound webhook sources (InboundSources,
-- odata.md; POST /inbound/{code}, service/inbound.c).
--
-- A source turns a verified request from an outside system into an event of
-- its integration object and action. The table follows 0002's conventions
-- (pk, row_version, integration_key = code). Its rules live in an AFTER
-- trigger, which fires only for rows really written: NOT NULL or CHECK on
-- optional columns would also judge an upsert's proposed row when a client
-- only updates an existing source (e.g. {"code": "x", "active": false}).
-- Received requests are logged in webhookd.inbound_request (0003).

CREATE TABLE webhookd.inbound_source (
    pk                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    row_version           int NOT NULL DEFAULT 1,
    integration_key       text NOT NULL UNIQUE,
    code                  text NOT NULL UNIQUE,
    integration_object_pk bigint REFERENCES webhookd.integration_object,
    action                text,       -- created | updated | deleted
    verification          text,       -- API_KEY | BASIC | HMAC_SHA256 | HMAC_SHA1 |
                                      -- STANDARD_WEBHOOKS | JWT_RS256
    secret                text,       -- secrets.c stored form, never returned
    header_name           text,       -- NULL: the verification's default header
    encoding              text NOT NULL DEFAULT 'hex',   -- hex | base64 (HMAC)
    id_path               text,       -- the sender's event id in the body: a.b.0.c
    active                boolean NOT NULL DEFAULT true
);
CREATE INDEX ON webhookd.inbound_source (integration_object_pk);

CREATE TRIGGER bump_row_version BEFORE UPDATE ON webhookd.inbound_source
    FOR EACH ROW EXECUTE FUNCTION webhookd.bump_row_version();

CREATE FUNCTION webhookd.check_inbound_source() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.integration_object_pk IS NULL THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            '[InboundSource] [' || NEW.code || '] needs an integrationObject.', 'integrationObject');
    END IF;
    IF NEW.action IS NULL OR NEW.action NOT IN ('created', 'updated', 'deleted') THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'Action [' || coalesce(NEW.action, 'null') || '] is not supported. '
            'Supported actions are created, updated and deleted.', 'action');
    END IF;
    IF NEW.verification IS NULL OR NEW.verification NOT IN ('API_KEY', 'BASIC', 'HMAC_SHA256',
            'HMAC_SHA1', 'STANDARD_WEBHOOKS', 'JWT_RS256') THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'Verification [' || coalesce(NEW.verification, 'null') || '] is not supported. '
            'Supported verifications are API_KEY, BASIC, HMAC_SHA256, HMAC_SHA1, '
            'STANDARD_WEBHOOKS and JWT_RS256.', 'verification');
    END IF;
    IF NEW.encoding NOT IN ('hex', 'base64') THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'Encoding [' || NEW.encoding || '] is not supported. '
            'Supported encodings are hex and base64.', 'encoding');
    END IF;
    IF NEW.secret IS NULL THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            '[InboundSource] [' || NEW.code || '] needs a secret.', 'secret');
    END IF;
    -- an HTTP field name (RFC 9110 token)
    IF NEW.header_name IS NOT NULL AND NEW.header_name !~ '^[-!#$%&''*+.^_`|~0-9A-Za-z]+$' THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'HeaderName [' || NEW.header_name || '] is not an HTTP header name.', 'headerName');
    END IF;
    -- member names separated by dots, none empty (service/inbound.c)
    IF NEW.id_path IS NOT NULL AND NEW.id_path !~ '^[^.]+(\.[^.]+)*$' THEN
        PERFORM webhookd.raise_odata(400, 'invalid_attribute_value',
            'IdPath [' || NEW.id_path || '] must be member names separated by dots, e.g. data.id.',
            'idPath');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER check_inbound_source AFTER INSERT OR UPDATE ON webhookd.inbound_source
    FOR EACH ROW EXECUTE FUNCTION webhookd.check_inbound_source();

-- The monitoring log by source (WebhookMonitoring/InboundRequests?$filter=source eq '...').
CREATE INDEX ON webhookd.inbound_request (source, received_at);

-- A verified request is committed as its inbound_request row alone (one row:
-- the request answers fast); the dispatcher turns unprocessed rows into
-- events in batches (service/dispatch.c, in the fan-out's transaction) and
-- drops the body then. event_id is derived from (source, sender id), so the
-- unique index answers a replay as a duplicate; duplicates are logged with
-- duplicate = true and linked to the first one's event.
ALTER TABLE webhookd.inbound_request
    ADD COLUMN event_id text,
    ADD COLUMN integration_object text,
    ADD COLUMN action text,
    ADD COLUMN body json,
    ADD COLUMN processed boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX inbound_request_event_id ON webhookd.inbound_request (event_id)
    WHERE NOT duplicate;
CREATE INDEX inbound_request_unprocessed ON webhookd.inbound_request (pk) WHERE NOT processed;
