"""Migrations go forward without losing rows, one migrator at a time.

The upgrade test stops a fresh database at every older version the binary
knows (`migrate --to N`), seeds what that version's schema holds, upgrades
to the latest and compares the rows. With one migration it only proves the
mechanism; each later migration makes it a real upgrade test, and a new
migration that needs its own seed rows adds them to SEEDS."""
import re
import subprocess

import pytest

from conftest import BIN, PSQL, Cli, clean_env, run_cli


def latest_version():
    m = re.search(r"schema (\d+)", run_cli(["version"], clean_env()).stdout)
    return int(m.group(1))


def migrate_to(url, to):
    return run_cli(["migrate", "--to", str(to)], clean_env(WEBHOOKD_DATABASE_URL=url))


# Rows to seed once the schema has reached a version, and the query that
# must return them unchanged after the upgrade.
SEED_V2 = """
INSERT INTO webhookd.integration_object (code, description, integration_key) VALUES ('Order', 'orders', 'Order');
INSERT INTO webhookd.destination_target (id, integration_key, destination_channel_pk)
  SELECT 'upgrade-target', 'upgrade-target', pk FROM webhookd.destination_channel
   WHERE code = 'WEBHOOKSERVICES';
INSERT INTO webhookd.event_configuration (destination_target_pk, event_class, export_name, integration_key)
  SELECT pk, 'de.hybris.platform.webhookservices.event.ItemSavedEvent', 'saved',
         'upgrade-target|de.hybris.platform.webhookservices.event.ItemSavedEvent|1'
    FROM webhookd.destination_target WHERE id = 'upgrade-target';
INSERT INTO webhookd.consumed_destination (id, destination_target_pk, url, signing_secret, integration_key)
  SELECT 'upgrade-dest', pk, 'https://example.com/h', 'v1:k:x', 'upgrade-dest|upgrade-target'
    FROM webhookd.destination_target WHERE id = 'upgrade-target';
INSERT INTO webhookd.string2string_map (owner_pk, key, value, integration_key)
  SELECT pk, 'a', 'b', 'upgrade-dest%7Cupgrade-target|a' FROM webhookd.consumed_destination
   WHERE id = 'upgrade-dest';
INSERT INTO webhookd.webhook_configuration (consumed_destination_pk, integration_object_pk, integration_key)
  SELECT d.pk, i.pk, 'upgrade-dest|upgrade-target|Order|de.hybris.platform.webhookservices.event.ItemSavedEvent'
    FROM webhookd.consumed_destination d, webhookd.integration_object i
   WHERE d.id = 'upgrade-dest' AND i.code = 'Order';
"""


def seed_v2(cli):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cli.conninfo, "-c", SEED_V2],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


SEED_V3 = """
SELECT webhookd.publish_event('Order', 'created', '{"code": "o1"}', 'o1', 'upgrade-event');
INSERT INTO webhookd.destination_state (destination_pk)
  SELECT pk FROM webhookd.consumed_destination WHERE id = 'upgrade-dest';
INSERT INTO webhookd.delivery (event_pk, destination_pk, destination_key, status, attempts)
  SELECT e.pk, d.pk, d.integration_key, 'FAILED', 8 FROM webhookd.event e, webhookd.consumed_destination d
   WHERE e.id = 'upgrade-event' AND d.id = 'upgrade-dest';
INSERT INTO webhookd.delivery_attempt (delivery_pk, attempt_no, started_at, status_code, error)
  SELECT pk, 8, '2026-11-24T10:00:00Z', 503, 'HTTP 503' FROM webhookd.delivery;
INSERT INTO webhookd.inbound_request (source, status, path, integration_message_id)
  VALUES ('src', 200, '/inbound/src', 'm1');
"""


def seed_v3(cli):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cli.conninfo, "-c", SEED_V3],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


SEED_V4 = """
SELECT webhookd.publish_event('Order', 'updated', '{"code": "o2"}', 'o2', 'upgrade-stream-event');
UPDATE webhookd.destination_state SET stream_end = 8
 WHERE destination_pk = (SELECT pk FROM webhookd.consumed_destination WHERE id = 'upgrade-dest');
INSERT INTO webhookd.delivery (event_pk, destination_pk, destination_key, status, next_attempt_at, stream_offset)
  SELECT e.pk, d.pk, d.integration_key, 'PENDING', 'infinity', 7 FROM webhookd.event e,
         webhookd.consumed_destination d WHERE e.id = 'upgrade-stream-event' AND d.id = 'upgrade-dest';
INSERT INTO webhookd.subscription (destination_pk, cursor, active_at)
  SELECT pk, 7, '2026-11-24T10:00:00Z' FROM webhookd.consumed_destination WHERE id = 'upgrade-dest';
"""


def seed_v4(cli):
    cli.add_user("upgrade-subscriber", "subscriber")
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cli.conninfo, "-c", SEED_V4],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


SEED_V5 = """
INSERT INTO webhookd.inbound_source (code, integration_key, integration_object_pk, action,
                                     verification, secret, header_name, encoding, id_path)
  SELECT 'upgrade-src', 'upgrade-src', pk, 'updated', 'HMAC_SHA1', 'v1:k:x',
         'X-Gigya-HMAC-SHA1', 'base64', 'events.0.id'
    FROM webhookd.integration_object WHERE code = 'Order';
"""


def seed_v5(cli):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cli.conninfo, "-c", SEED_V5],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


SEED_V6 = """
INSERT INTO webhookd.registration (uuid, name, description, triggers, signing_alg,
                                   destination_target_pk)
  SELECT 'e8309c18-4437-45d7-bc8c-0bbe137db54e', 'AwardFeed', 'All WebHook SCPI DEV',
         ARRAY['Order.saved'], 'HMAC_SHA256', pk
    FROM webhookd.destination_target WHERE id = 'upgrade-target';
"""


def seed_v6(cli):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", cli.conninfo, "-c", SEED_V6],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


SEEDS = {
    1: ("SELECT name, password_hash, role, created_at FROM webhookd.users ORDER BY name",
        lambda cli: [cli.add_user(f"upgrade-{r}", r) for r in ("admin", "viewer", "publisher")]),
    2: ("SELECT c.integration_key, c.event_type, c.filter_location, c.row_version, d.id, d.url, d.active, d.signing_secret, "
        "t.id, ch.code, e.event_class, e.version, i.code, i.description, m.key, m.value "
        "FROM webhookd.webhook_configuration c JOIN webhookd.consumed_destination d ON d.pk = c.consumed_destination_pk "
        "JOIN webhookd.destination_target t ON t.pk = d.destination_target_pk "
        "JOIN webhookd.destination_channel ch ON ch.pk = t.destination_channel_pk "
        "JOIN webhookd.event_configuration e ON e.destination_target_pk = t.pk "
        "JOIN webhookd.integration_object i ON i.pk = c.integration_object_pk "
        "JOIN webhookd.string2string_map m ON m.owner_pk = d.pk ORDER BY d.id",
        seed_v2),
    3: ("SELECT e.id, e.integration_object, e.action, e.subject_key, e.payload::text, e.source, "
        "v.id, v.destination_key, v.status, v.attempts, a.attempt_no, a.started_at, a.status_code, "
        "a.error, i.source, i.status, i.path, i.integration_message_id "
        "FROM webhookd.event e JOIN webhookd.delivery v ON v.event_pk = e.pk "
        "JOIN webhookd.delivery_attempt a ON a.delivery_pk = v.pk, webhookd.inbound_request i "
        "ORDER BY e.id",
        seed_v3),
    4: ("SELECT u.name, u.role, v.id, v.status, v.next_attempt_at, v.stream_offset, st.stream_end, "
        "sb.cursor, sb.active_at FROM webhookd.users u, webhookd.delivery v "
        "JOIN webhookd.destination_state st ON st.destination_pk = v.destination_pk "
        "JOIN webhookd.subscription sb ON sb.destination_pk = v.destination_pk "
        "WHERE u.role = 'subscriber' AND v.stream_offset IS NOT NULL ORDER BY u.name",
        seed_v4),
    5: ("SELECT s.integration_key, s.code, i.code, s.action, s.verification, s.secret, "
        "s.header_name, s.encoding, s.id_path, s.active, s.row_version "
        "FROM webhookd.inbound_source s JOIN webhookd.integration_object i "
        "ON i.pk = s.integration_object_pk ORDER BY s.code",
        seed_v5),
    6: ("SELECT r.uuid, r.name, r.description, r.triggers, r.signing_alg, r.created_at, t.id "
        "FROM webhookd.registration r JOIN webhookd.destination_target t ON t.pk = r.destination_target_pk "
        "ORDER BY r.uuid",
        seed_v6),
}


@pytest.mark.parametrize("start", range(1, latest_version() + 1))
def test_upgrade_from_an_older_version_keeps_every_row(pg, workdir, start):
    db = f"whd_upgrade_from_{start}"
    url = pg.create_database(db)
    assert migrate_to(url, start).returncode == 0
    cli = Cli(url, workdir)
    queries = []
    for version, (query, seed) in SEEDS.items():
        if version <= start:
            seed(cli)
            queries.append(query)
    # read back once everything is seeded: a later seed may add rows to an earlier table
    checks = [(q, pg.psql(q, dbname=db)) for q in queries]
    p = migrate_to(url, latest_version())
    assert p.returncode == 0, p.stderr
    for query, before in checks:
        assert before != ""
        assert pg.psql(query, dbname=db) == before, query
    assert pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) "
                   "FROM webhookd.schema_migrations", dbname=db) == \
        ",".join(str(v) for v in range(1, latest_version() + 1))


def test_inbound_requests_from_before_schema_5_are_not_converted_again(pg, workdir):
    # 0005 lets the dispatcher turn unprocessed requests into events; the
    # requests of schema 3 already had their event (or none) and must not
    # be taken for new ones
    url = pg.create_database("whd_upgrade_inbound")
    assert migrate_to(url, 3).returncode == 0
    seed_v2(Cli(url, workdir))
    seed_v3(Cli(url, workdir))
    assert migrate_to(url, latest_version()).returncode == 0
    assert pg.psql("SELECT bool_and(processed) AND bool_and(body IS NULL) AND count(*) = 1"
                   " FROM webhookd.inbound_request", dbname="whd_upgrade_inbound") == "t"


def test_migrate_to_zero_creates_only_the_bookkeeping(pg):
    url = pg.create_database("whd_migrate_zero")
    p = migrate_to(url, 0)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "schema is current (version 0)\n"
    assert pg.psql("SELECT to_regclass('webhookd.users') IS NULL", dbname="whd_migrate_zero") == "t"


def test_migrations_never_go_down(pg):
    p = migrate_to(pg.conninfo, 0)
    assert p.returncode == 1
    assert "migrations only go forward" in p.stderr
    assert pg.psql("SELECT max(version) FROM webhookd.schema_migrations") == str(latest_version())


@pytest.mark.parametrize("to", ["x", "-1", "", "1x", "999"])
def test_migrate_to_refuses_unknown_versions(to):
    p = run_cli(["migrate", "--to", to], clean_env())
    assert p.returncode == 2
    assert "expected a version in 0.." in p.stderr


def test_concurrent_migrators_apply_each_migration_once(pg):
    url = pg.create_database("whd_migrate_race")
    env = clean_env(WEBHOOKD_DATABASE_URL=url)
    procs = [subprocess.Popen([BIN, "migrate"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e for _, e in outs]
    applied = "".join(o for o, _ in outs)
    assert applied.count("applied 0001_init") == 1, applied
    assert pg.psql("SELECT count(*) FROM webhookd.schema_migrations",
                   dbname="whd_migrate_race") == str(latest_version())
