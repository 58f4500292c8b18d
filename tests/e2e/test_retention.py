"""Retention purges, end to end, in a database of their own (a 1-second
retention would otherwise purge what other tests' rows are about):
attempts, finished events with their deliveries, and inbound requests go
once older than their retention; what is still pending stays."""
import json
import time

from conftest import SANITIZED, Cli, basic, migrate, wait_for
from odata_helpers import OData, make_webhook, uid
from sink import Sink

SLOW = 3.0 if SANITIZED else 1.0


def count(pg, db, sql):
    return int(pg.psql(sql, dbname=db))


def test_retention_purges_attempts_events_and_inbound_requests(pg, start_server, workdir):
    db = "retention_" + uid("r").replace("-", "_")
    conninfo = pg.create_database(db)
    migrate(conninfo)
    cli = Cli(conninfo, workdir)
    admin = basic("ret-admin", cli.add_user("ret-admin", "admin", password="pw-admin"))
    pub = basic("ret-pub", cli.add_user("ret-pub", "publisher", password="pw-pub"))
    sink = Sink()
    try:
        srv = start_server({"WEBHOOKD_DISPATCHER": "true", "WEBHOOKD_SSRF_ALLOW": "127.0.0.1",
                            "WEBHOOKD_DISPATCH_POLL_MS": "100", "WEBHOOKD_RETRY_SCHEDULE": "0,1h",
                            "WEBHOOKD_EVENT_RETENTION_S": "2", "WEBHOOKD_ATTEMPT_RETENTION_S": "2",
                            "WEBHOOKD_PURGE_INTERVAL_S": "1"}, conninfo=conninfo)
        od = OData(srv, admin)
        tag = uid("ret")
        ok = make_webhook(od, tag + "-ok", url=sink.url(f"/{tag}-ok"), io_code=f"io-{tag}")
        bad = make_webhook(od, tag + "-bad", url=sink.url(f"/{tag}-bad"), io_code=f"io-{tag}-bad")
        sink.plan(f"/{tag}-bad", (503,))
        assert od.post("InboundSources", {
            "code": tag, "integrationObject": {"code": ok.io_code}, "action": "created",
            "verification": "API_KEY", "secret": "k-" + tag}).status_code == 201
        hdr = dict(pub, **{"Content-Type": "application/json"})
        for io in (ok.io_code, bad.io_code):
            r = srv.request("POST", "/api/v1/events", headers=hdr, data=json.dumps(
                {"integrationObject": io, "action": "created", "payload": {"n": 1}}).encode())
            assert r.status_code == 202, r.text
        r = srv.request("POST", f"/inbound/{tag}", data=b'{"n": 2}',
                        headers={"X-API-Key": "k-" + tag, "Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        sink.wait(2, f"/{tag}-ok", timeout=15 * SLOW)       # the event and the inbound one
        wait_for(lambda: count(pg, db, "SELECT count(*) FROM webhookd.delivery_attempt") >= 3,
                 15 * SLOW, what="three attempts")
        assert count(pg, db, "SELECT count(*) FROM webhookd.inbound_request") == 1

        # everything finished is purged after 2 s (+ the 1 s purge interval)
        wait_for(lambda: count(pg, db, "SELECT count(*) FROM webhookd.inbound_request") == 0
                 and count(pg, db, "SELECT count(*) FROM webhookd.delivery_attempt") == 0
                 and count(pg, db, "SELECT count(*) FROM webhookd.event") == 1,
                 15 * SLOW, interval=0.2, what="the purges")
        # the failing destination's event stays: its delivery is still pending
        left = json.loads(pg.psql(
            "SELECT json_agg(json_build_object('io', e.integration_object, 'status', d.status))"
            " FROM webhookd.event e JOIN webhookd.delivery d ON d.event_pk = e.pk", dbname=db))
        assert left == [{"io": bad.io_code, "status": "PENDING"}]
    finally:
        start_server.stop_all()
        sink.close()
        pg.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', dbname="postgres")
