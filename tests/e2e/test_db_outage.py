"""Losing PostgreSQL while serving: 503 with Retry-After, then recovery.

Runs against a cluster of its own, so stopping it never disturbs the
session's database."""
import pytest

from conftest import Cli, ServerFactory, migrated_cluster, odata_error, wait_for, SCHEMA_VERSION

UNAVAILABLE = odata_error("service_unavailable",
                          "The service is temporarily unavailable; retry later.")


@pytest.fixture(scope="module")
def own_pg():
    yield from migrated_cluster()


@pytest.fixture
def own_server(own_pg, master_key, workdir):
    f = ServerFactory(own_pg, master_key, workdir)
    yield f
    f.stop_all()


def status_is(srv, path, want, **kw):
    def check():
        r = srv.get(path, **kw)
        return [r] if r.status_code == want else None
    return check


def assert_503(r, retry_after="5"):
    assert r.status_code == 503
    assert r.headers["Retry-After"] == retry_after
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == UNAVAILABLE


def test_database_outage_is_503_and_the_server_recovers(own_pg, own_server, workdir):
    cli = Cli(own_pg.conninfo, workdir)
    cached_pw = cli.add_user("cached", "viewer", password="cached-pw")
    unused_pw = cli.add_user("never-used", "viewer", password="unused-pw")
    srv = own_server()
    assert srv.get("/readyz").status_code == 200
    assert srv.get("/metrics", auth=("cached", cached_pw)).status_code == 200

    own_pg.stop()
    try:
        r = wait_for(status_is(srv, "/readyz", 503), 10, what="/readyz to report 503")[0]
        assert_503(r)
        # HEAD gets the same status and headers.
        h = srv.request("HEAD", "/readyz")
        assert h.status_code == 503 and h.headers["Retry-After"] == "5" and h.content == b""
        # A credential never seen before needs the users table: unavailable.
        assert_503(srv.get("/metrics", auth=("never-used", unused_pw)))
        # A wrong password for a never-seen user is not a 401 either: the
        # server cannot know.
        assert_503(srv.get("/metrics", auth=("never-used", "wrong")))
        # Liveness does not depend on the database.
        assert srv.get("/healthz").status_code == 200
        # A credential verified a moment ago is served from the cache.
        assert srv.get("/metrics", auth=("cached", cached_pw)).status_code == 200
    finally:
        own_pg.start()

    wait_for(status_is(srv, "/readyz", 200), 15, what="/readyz to recover")
    # Each worker reconnects on its own schedule: wait until all have.
    srv.wait_db(2)
    assert srv.get("/metrics", auth=("never-used", unused_pw)).status_code == 200
    for _ in range(6):
        assert srv.get("/readyz").content == b'{"status":"ready","schema":%d}' % SCHEMA_VERSION
    srv.stop()


ODATA = "/odata2webservices/WebhookService"


def test_odata_reads_and_writes_are_503_while_the_database_is_down(own_pg, own_server, workdir):
    cli = Cli(own_pg.conninfo, workdir)
    pw = cli.add_user("odata-admin", "admin", password="odata-pw")
    auth = ("odata-admin", pw)
    srv = own_server()
    assert srv.get(ODATA + "/DestinationChannels", auth=auth).status_code == 200   # warms the cache
    own_pg.stop()
    try:
        wait_for(status_is(srv, "/readyz", 503), 10, what="/readyz to report 503")
        assert_503(srv.get(ODATA + "/DestinationChannels('PULL')", auth=auth))
        assert_503(srv.get(ODATA + "/WebhookConfigurations?$filter=eventType eq 'x'", auth=auth))
        assert_503(srv.request("POST", ODATA + "/IntegrationObjects", auth=auth,
                               headers={"Content-Type": "application/json"},
                               data=b'{"code": "outage"}'))
        # answered without the database: the document and $metadata
        assert srv.get(ODATA + "/$metadata", auth=auth).status_code == 200
    finally:
        own_pg.start()
    wait_for(status_is(srv, "/readyz", 200), 15, what="/readyz to recover")
    srv.wait_db(2)
    # nothing of the refused write was kept, and writes work again
    assert srv.get(ODATA + "/IntegrationObjects('outage')", auth=auth).status_code == 404
    r = srv.request("POST", ODATA + "/IntegrationObjects", auth=auth,
                    headers={"Content-Type": "application/json"}, data=b'{"code": "outage"}')
    assert r.status_code == 201, r.text
    srv.stop()


def test_retry_after_follows_the_configuration(own_pg, own_server):
    srv = own_server({"WEBHOOKD_RETRY_AFTER_S": 17})
    own_pg.stop()
    try:
        r = wait_for(status_is(srv, "/readyz", 503), 10, what="/readyz to report 503")[0]
        assert_503(r, retry_after="17")
    finally:
        own_pg.start()
    wait_for(status_is(srv, "/readyz", 200), 15, what="/readyz to recover")
    srv.wait_db(2)


def test_server_stops_cleanly_while_the_database_is_down(own_pg, own_server):
    srv = own_server()
    own_pg.stop()
    try:
        wait_for(status_is(srv, "/readyz", 503), 10, what="/readyz to report 503")
        srv.stop()
    finally:
        own_pg.start()


def test_readyz_reports_a_schema_changed_under_the_running_server(own_pg, own_server):
    srv = own_server({"WEBHOOKD_RETRY_AFTER_S": 17})
    assert srv.get("/readyz").status_code == 200
    own_pg.psql("INSERT INTO webhookd.schema_migrations (version, name) VALUES (999, 'future')")
    try:
        r = srv.get("/readyz")
        assert r.status_code == 503
        assert r.content == odata_error("service_unavailable",
                                        f"database schema is at version 999, expected {SCHEMA_VERSION}")
        assert srv.get("/healthz").status_code == 200
        # retry_after_s is "the Retry-After value sent with a 503".
        assert r.headers["Retry-After"] == "17"
    finally:
        own_pg.psql("DELETE FROM webhookd.schema_migrations WHERE version = 999")
    assert srv.get("/readyz").status_code == 200
