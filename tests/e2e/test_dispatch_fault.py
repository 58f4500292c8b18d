"""At least once under faults: two dispatching instances on one database,
2,000 events published over HTTP to both, one instance killed with
SIGKILL mid-run and PostgreSQL restarted mid-run. Every event must reach
the receiver; duplicates are allowed, counted and reported.

Runs against a PostgreSQL cluster of its own (like test_db_outage.py), so
restarting it never disturbs the session's database."""
import json
import threading
import time

import pytest
import requests

from conftest import (SANITIZED, Cli, ServerFactory, assert_no_sanitizer_report, basic,
                      migrated_cluster, wait_for)
from odata_helpers import OData, make_webhook, uid
from sink import Sink

SLOW = 3.0 if SANITIZED else 1.0
EVENTS = 2000
BATCH = 100


@pytest.fixture(scope="module")
def own_pg():
    yield from migrated_cluster()


@pytest.fixture
def own_servers(own_pg, master_key, workdir):
    f = ServerFactory(own_pg, master_key, workdir)
    yield f
    f.stop_all()


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_every_event_is_delivered_despite_kill_and_database_restart(
        own_pg, own_servers, sink, workdir, capsys, record_property):
    cli = Cli(own_pg.conninfo, workdir)
    admin_pw = cli.add_user("fault-admin", "admin", password="fault-admin-pw")
    pub_pw = cli.add_user("fault-pub", "publisher", password="fault-pub-pw")
    overrides = {
        "WEBHOOKD_DISPATCHER": "true",
        "WEBHOOKD_SSRF_ALLOW": "127.0.0.1",
        "WEBHOOKD_DISPATCH_POLL_MS": "100",
        "WEBHOOKD_LEASE_MARGIN_S": "2",
        # enough attempts to outlast the database restart several times
        "WEBHOOKD_RETRY_SCHEDULE": "0,500ms,1s,1s,2s,2s,2s,2s,2s,2s,2s,2s",
        "WEBHOOKD_RETRY_JITTER_PERCENT": "20",
        "WEBHOOKD_DB_RECONNECT_MAX_MS": "300",
        "WEBHOOKD_SHUTDOWN_TIMEOUT_MS": "3000",
    }
    a = own_servers(overrides)
    b = own_servers(overrides)
    admin = OData(a, basic("fault-admin", admin_pw))
    tag = uid("fault")
    wh = make_webhook(admin, tag, url=sink.url(f"/{tag}"),
                      dest_extra={"timeoutMillis": 2000, "maxInFlight": 32})
    path = f"/{tag}"

    # the receiver counts deliveries per event (the payload's own "n")
    counts = {}

    def on_request(rec):
        if rec["path"] == path and rec["status"] == 200:
            n = json.loads(rec["body"])["n"]
            counts[n] = counts.get(n, 0) + 1
    sink.on_request = on_request

    def delivered():
        with sink.lock:
            return len(counts)

    run = uid("r")
    batches = [[{"id": f"{run}-{n}", "integrationObject": wh.io_code, "action": "created",
                 "integrationKey": str(n), "payload": {"n": n}}
                for n in range(i, i + BATCH)] for i in range(0, EVENTS, BATCH)]
    accepted = [False] * len(batches)
    refused = []                   # (batch, what) of attempts not accepted
    stop = threading.Event()
    auth = ("fault-pub", pub_pw)

    def publisher():
        for i, batch in enumerate(batches):
            k = i
            while not stop.is_set():
                srv = (a, b)[k % 2]
                k += 1
                try:
                    r = srv.request("POST", "/api/v1/events", data=json.dumps(batch).encode(),
                                    headers={"Content-Type": "application/json"}, auth=auth,
                                    timeout=10)
                    if r.status_code == 202:
                        assert r.json()["ids"] == [e["id"] for e in batch]
                        accepted[i] = True
                        break
                    refused.append((i, r.status_code))
                except requests.RequestException as e:
                    refused.append((i, type(e).__name__))
                time.sleep(0.1)
            time.sleep(0.1)        # spread the batches over the faults

    timeline = []

    def sampler():
        while not stop.is_set():
            timeline.append((round(time.monotonic() - t_start, 1), delivered()))
            time.sleep(0.5)

    t_start = time.monotonic()
    threading.Thread(target=sampler, daemon=True).start()
    pub = threading.Thread(target=publisher, daemon=True)
    pub.start()
    try:
        # kill -9 one instance while it is busy delivering
        wait_for(lambda: sum(accepted) >= 5 and delivered() >= 200, 30 * SLOW, interval=0.02,
                 what="5 batches accepted and 200 events delivered before the kill")
        b.proc.kill()
        b.proc.wait()
        b.returncode = b.proc.returncode
        t_kill = time.monotonic() - t_start
        at_kill = delivered()
        # restart PostgreSQL while events are still being published/delivered
        wait_for(lambda: sum(accepted) >= 12 and delivered() >= 700, 30 * SLOW, interval=0.02,
                 what="12 batches accepted and 700 events delivered before the restart")
        at_restart = delivered()
        published_at_restart = sum(accepted)
        own_pg.stop()
        time.sleep(0.5)
        own_pg.start()
        t_restart = time.monotonic() - t_start
        pub.join(60 * SLOW)
        assert not pub.is_alive(), f"publishing did not finish; refused: {refused[-10:]}"
        assert all(accepted)
        # (events the killed instance had claimed for fan-out wait for that
        # claim's lease, a fixed 15 s or more, not lease_margin_s)
        wait_for(lambda: delivered() == EVENTS, 75 * SLOW, interval=0.2,
                 what=f"all {EVENTS} events delivered (have {delivered()})")
    finally:
        stop.set()
    elapsed = time.monotonic() - t_start

    missing = [n for n in range(EVENTS) if n not in counts]
    assert missing == []
    # stored once each, however often a batch was re-sent
    assert own_pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id LIKE '{run}-%'") \
        == str(EVENTS)
    # the database ends consistent: one delivery per event, all DELIVERED
    wait_for(lambda: own_pg.psql(
        "SELECT count(*) FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
        f" WHERE e.id LIKE '{run}-%' AND d.status = 'DELIVERED'") == str(EVENTS),
        30 * SLOW, interval=0.2, what="every delivery recorded as DELIVERED")
    assert own_pg.psql(
        "SELECT count(*) FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
        f" WHERE e.id LIKE '{run}-%'") == str(EVENTS)
    # duplicates: reported, not failed on
    with sink.lock:
        total = sum(counts.values())
        dup_events = sum(1 for c in counts.values() if c > 1)
    duplicates = total - EVENTS
    # a duplicate keeps its delivery id (ce-id) across instances
    ce_ids = {}
    for rec in sink.received(path):
        if rec["status"] == 200:
            ce_ids.setdefault(json.loads(rec["body"])["n"], set()).add(rec["headers"]["ce-id"])
    assert all(len(v) == 1 for v in ce_ids.values()), \
        {n: v for n, v in ce_ids.items() if len(v) > 1}
    # maxInFlight holds across both instances
    assert sink.max_inflight.get(path, 0) <= 32, sink.max_inflight
    refused_summary = {}
    for _, what in refused:
        refused_summary[what] = refused_summary.get(what, 0) + 1
    report = (f"fault test: {EVENTS} events, {total} deliveries received, "
              f"{duplicates} duplicates ({dup_events} events more than once); "
              f"kill -9 at {t_kill:.1f}s ({at_kill} delivered), database restart at "
              f"{t_restart:.1f}s ({at_restart} delivered, {published_at_restart}/{len(batches)} "
              f"batches published), refused publish attempts: {refused_summary}, "
              f"done in {elapsed:.1f}s")
    errors = own_pg.psql(
        "SELECT coalesce(string_agg(x, '; '), '') FROM (SELECT count(*) || ' x ' || a.error AS x"
        " FROM webhookd.delivery_attempt a JOIN webhookd.delivery d ON d.pk = a.delivery_pk"
        f" JOIN webhookd.event e ON e.pk = d.event_pk WHERE e.id LIKE '{run}-%'"
        " AND a.error IS NOT NULL GROUP BY a.error) s")
    if errors:
        report += f"; failed attempts: {errors}"
    record_property("duplicates", duplicates)
    record_property("fault_report", report)
    with capsys.disabled():
        print("\n" + report)
        if elapsed > 15 * SLOW:
            print("slow run; delivered over time:", timeline)
            print("slowest events (seconds after the first event was received):")
            print(own_pg.psql(
                "WITH t0 AS (SELECT min(received_at) AS t0 FROM webhookd.event"
                f"  WHERE id LIKE '{run}-%')"
                " SELECT e.id || ' received ' || round(extract(epoch FROM e.received_at - t0)::numeric, 2)"
                " || ' fanned-out ' || round(extract(epoch FROM d.created_at - t0)::numeric, 2)"
                " || ' first-attempt ' || coalesce(round(extract(epoch FROM"
                "  (SELECT min(a.started_at) FROM webhookd.delivery_attempt a"
                "   WHERE a.delivery_pk = d.pk) - t0)::numeric, 2)::text, '-')"
                " || ' attempts ' || d.attempts"
                " FROM t0, webhookd.event e JOIN webhookd.delivery d ON d.event_pk = e.pk"
                f" WHERE e.id LIKE '{run}-%' ORDER BY d.created_at - e.received_at DESC LIMIT 3"))
            print(own_pg.psql(
                "WITH t0 AS (SELECT min(received_at) AS t0 FROM webhookd.event"
                f"  WHERE id LIKE '{run}-%')"
                " SELECT e.id || ' received ' || round(extract(epoch FROM e.received_at - t0)::numeric, 2)"
                " || ' fanned-out ' || round(extract(epoch FROM d.created_at - t0)::numeric, 2)"
                " || ' first-attempt ' || round(extract(epoch FROM"
                "  (SELECT min(a.started_at) FROM webhookd.delivery_attempt a"
                "   WHERE a.delivery_pk = d.pk) - t0)::numeric, 2)"
                " FROM t0, webhookd.event e JOIN webhookd.delivery d ON d.event_pk = e.pk"
                f" WHERE e.id LIKE '{run}-%' ORDER BY (SELECT min(a.started_at)"
                " FROM webhookd.delivery_attempt a WHERE a.delivery_pk = d.pk) - d.created_at"
                " DESC NULLS LAST LIMIT 3"))
            print("surviving instance's log (warnings):")
            print("\n".join(line for line in a.stderr().splitlines()
                            if "info:" not in line)[-3000:])
    assert_no_sanitizer_report(b.stderr(), "killed webhookd serve")
    a.stop()
