"""db_statement_timeout_ms reaches PostgreSQL: a query stuck behind a lock
is cancelled by the server instead of holding its request."""
import subprocess
import time

from conftest import PSQL, wait_for


def hold_lock(pg, seconds):
    """Another session holds an exclusive lock on the table /readyz reads."""
    p = subprocess.Popen([PSQL, "-X", "-q", pg.url(), "-c",
                          "BEGIN; LOCK TABLE webhookd.schema_migrations IN ACCESS EXCLUSIVE MODE; "
                          f"SELECT pg_sleep({seconds}); COMMIT;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: pg.psql("SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' "
                             "AND relation = 'webhookd.schema_migrations'::regclass") == "1",
             10, what="lock taken")
    return p


def test_statement_timeout_cancels_a_blocked_query(start_server, pg):
    srv = start_server({"WEBHOOKD_DB_STATEMENT_TIMEOUT_MS": 300})
    assert srv.get("/readyz").status_code == 200   # the statement is prepared unblocked
    locker = hold_lock(pg, 3)
    try:
        t0 = time.monotonic()
        r = srv.get("/readyz", timeout=10)
        took = time.monotonic() - t0
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "service_unavailable"
        assert took < 2.0, took
    finally:
        locker.wait(15)
    assert srv.get("/readyz").status_code == 200


def test_without_a_timeout_the_query_waits_for_the_lock(start_server, pg):
    srv = start_server({"WEBHOOKD_DB_STATEMENT_TIMEOUT_MS": 0})
    assert srv.get("/readyz").status_code == 200
    locker = hold_lock(pg, 1.5)
    try:
        t0 = time.monotonic()
        r = srv.get("/readyz", timeout=10)
        assert r.status_code == 200
        assert time.monotonic() - t0 > 0.5
    finally:
        locker.wait(15)
