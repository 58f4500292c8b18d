-- webhookd schema, version 4: PULL subscriptions.
--
-- A match for a PULL destination is a delivery row like any other (its id is
-- the envelope id a consumer sees), numbered by stream_offset in the
-- destination's stream and never claimed for an HTTP attempt (its
-- next_attempt_at is infinity). destination_state.stream_end is the next
-- offset to hand out: the fan-out transaction takes it with
-- INSERT .. ON CONFLICT DO UPDATE, so it holds the row lock until it
-- commits and the committed offsets of a stream are always a prefix.
-- subscription holds the consumer's committed cursor; a pull locks its row
-- NOWAIT for its one statement, so a concurrent pull fails fast (409).

ALTER TABLE webhookd.users DROP CONSTRAINT users_role_check;
ALTER TABLE webhookd.users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'viewer', 'publisher', 'subscriber'));

ALTER TABLE webhookd.delivery ADD COLUMN stream_offset bigint;
CREATE UNIQUE INDEX delivery_stream ON webhookd.delivery (destination_pk, stream_offset)
    WHERE stream_offset IS NOT NULL;
-- what a consumer has committed past, still to be marked DELIVERED
CREATE INDEX delivery_stream_pending ON webhookd.delivery (destination_pk, stream_offset)
    WHERE stream_offset IS NOT NULL AND status = 'PENDING';
-- retention: the oldest unread stream deliveries
CREATE INDEX delivery_stream_age ON webhookd.delivery (created_at)
    WHERE stream_offset IS NOT NULL AND status = 'PENDING';

ALTER TABLE webhookd.destination_state ADD COLUMN stream_end bigint NOT NULL DEFAULT 0;

CREATE TABLE webhookd.subscription (
    destination_pk  bigint PRIMARY KEY REFERENCES webhookd.consumed_destination ON DELETE CASCADE,
    cursor          bigint NOT NULL DEFAULT 0 CHECK (cursor >= 0),
    active_at       timestamptz NOT NULL DEFAULT now()   -- last pull or commit
);

-- Re-activation resumes pushes at once; stream deliveries stay unclaimable
-- (they wait for their consumer), and the subscription counts as used now so
-- that the inactivity rule does not deactivate it again at once.
CREATE OR REPLACE FUNCTION webhookd.destination_reactivated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.active AND NOT OLD.active THEN
        UPDATE webhookd.destination_state SET failing_since = NULL
            WHERE destination_pk = NEW.pk;
        UPDATE webhookd.delivery SET next_attempt_at = now()
            WHERE destination_pk = NEW.pk AND status = 'PENDING' AND next_attempt_at > now()
            AND stream_offset IS NULL;
        UPDATE webhookd.subscription SET active_at = now() WHERE destination_pk = NEW.pk;
        PERFORM pg_notify('webhookd_dispatch', 'delivery');
    END IF;
    RETURN NULL;
END $$;

-- Deactivate PULL subscriptions nobody pulled from for inactive_s (a
-- subscription row exists from the first match or pull on). Touches
-- consumed_destination only when something is to be deactivated.
CREATE FUNCTION webhookd.deactivate_subscriptions(inactive_s float8)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE n int := 0;
BEGIN
    PERFORM 1 FROM webhookd.subscription s
        JOIN webhookd.consumed_destination cd ON cd.pk = s.destination_pk AND cd.active
        WHERE s.active_at < now() - make_interval(secs => inactive_s);
    IF FOUND THEN
        UPDATE webhookd.consumed_destination cd SET active = false,
            deactivated_reason = 'No pull or commit since '
                || to_char(s.active_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '.'
        FROM webhookd.subscription s
        WHERE s.destination_pk = cd.pk AND cd.active
          AND s.active_at < now() - make_interval(secs => inactive_s);
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    RETURN n;
END $$;
