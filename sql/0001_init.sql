-- webhookd schema, version 1: users for HTTP Basic authentication.
-- (webhookd.schema_migrations itself is created by `webhookd migrate`.)
CREATE TABLE webhookd.users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE
                  CHECK (length(name) BETWEEN 1 AND 63 AND name !~ '[:[:cntrl:]]'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'viewer', 'publisher')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Running servers cache verified credentials; any change to a user tells
-- them to forget the cache at once (webhookd LISTENs on this channel).
CREATE FUNCTION webhookd.users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webhookd_users', '');
    RETURN NULL;
END $$;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON webhookd.users
    FOR EACH STATEMENT EXECUTE FUNCTION webhookd.users_changed();
