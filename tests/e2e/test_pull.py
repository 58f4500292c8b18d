"""PULL subscriptions end to end: destinations whose target channel is PULL
get their matches appended to a stream that a consumer reads with
GET /api/v1/subscriptions/{destinationKey}/events and commits with
PUT .../cursor (dispatch.md, "PULL delivery").

Each test starts its own dispatcher server against the session database
(the dx fixture of test_dispatch.py's kind) and reads through HTTP as the
subscriber user; the database is checked with psql."""
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest

from conftest import PSQL, SANITIZED, wait_for
from odata_helpers import (ITEM_CREATED, ITEM_SAVED, MONITORING_BASE, OData, assert_error,
                           entity_path, make_webhook, uid, webhook_configuration)
from sink import Sink
from test_dispatch import DISPATCHER, Dispatch, Hook, cleanup, find_key, lit

SLOW = 3.0 if SANITIZED else 1.0
WAIT = 15 * SLOW
SUBS = "/api/v1/subscriptions"


class Pull:
    """A PULL destination's subscription, read over HTTP."""

    def __init__(self, d, hook, user="subscriber"):
        self.d, self.hook, self.user = d, hook, user
        self.base = f"{SUBS}/{quote(hook.dest_key, safe='')}"

    def get(self, user=None, raw_query=None, **params):
        q = raw_query if raw_query is not None else "&".join(
            f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in params.items())
        return self.d.srv.request("GET", self.base + "/events" + (f"?{q}" if q else ""),
                                  headers=self.d.users[user or self.user].headers)

    def events(self, **params):
        r = self.get(**params)
        assert r.status_code == 200, r.text[:600]
        return r.json()

    def commit(self, offset, user=None, body=None):
        data = body if body is not None else json.dumps({"offset": offset}).encode()
        return self.d.srv.request("PUT", self.base + "/cursor", data=data,
                                  headers=dict(self.d.users[user or self.user].headers,
                                               **{"Content-Type": "application/json"}))

    def stream(self):
        return self.d.rows(
            "SELECT d.id, d.status, d.stream_offset, d.next_attempt_at, e.id AS event_id"
            " FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
            f" WHERE d.destination_key = {lit(self.hook.dest_key)} ORDER BY d.pk")

    def cursor(self):
        return self.d.pg.psql(
            "SELECT s.cursor FROM webhookd.subscription s JOIN webhookd.consumed_destination cd"
            f" ON cd.pk = s.destination_pk WHERE cd.integration_key = {lit(self.hook.dest_key)}")


@pytest.fixture
def px(start_server, pg, users):
    """Factory: (dispatcher server, PULL hook) -> (Dispatch, Pull)."""
    cleanup(pg)
    sink = Sink()

    def make(event_type=ITEM_SAVED, **overrides):
        cfg = dict(DISPATCHER)
        cfg.update({"WEBHOOKD_" + k: str(v) for k, v in overrides.items()})
        d = Dispatch(start_server(cfg), pg, users, sink)
        tag = uid("pull")
        # the url points at the sink: a PULL destination must never be POSTed to
        wh = make_webhook(d.admin, tag, event_type=event_type, url=sink.url(f"/{tag}"),
                          channel="PULL", io_code=f"io-{tag}")
        hook = Hook(wh, f"/{tag}", find_key(wh.d, "signingSecret"))
        return d, Pull(d, hook)
    yield make
    try:
        start_server.stop_all()
    finally:
        cleanup(pg)
        sink.close()


def publish_n(d, io, n, size=None, per_request=100):
    ids = []
    for start in range(0, n, per_request):
        evs = []
        for i in range(start, min(n, start + per_request)):
            payload = {"i": i} if size is None else {"i": i, "pad": "x" * size}
            evs.append(d.event(io, payload=payload))
        ids += d.publish(evs)
    return ids


def wait_stream(p, n):
    try:
        return wait_for(lambda: (lambda s: s if len(s) >= n else None)(p.stream()), WAIT,
                        interval=0.1, what=f"{n} events in the stream")
    except AssertionError as e:
        raise AssertionError(f"{e}\nserver log:\n{p.d.srv.stderr()[-3000:]}\nevents: "
                             f"{p.d.rows('SELECT id, integration_object, fanned_out FROM webhookd.event ORDER BY pk DESC LIMIT 5')}"
                             f"\ndeliveries: {p.d.rows('SELECT d.id, d.stream_offset, e.id AS eid, d.status FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk ORDER BY d.pk DESC LIMIT 5')}") from None


# ================================================================ shape ==

def test_pull_result_has_the_documented_shape(px):
    d, p = px()
    body = '{"b": 1.50, "a" : [1, 2, {"x": "\\u00e9"}], "big": 123456789012345678901234567890}'
    raw = json.dumps({"id": uid("ev"), "integrationObject": p.hook.io, "action": "created",
                      "integrationKey": "K|1", "payload": "@@"}).replace('"@@"', body)
    r = d.srv.request("POST", "/api/v1/events", data=raw.encode(),
                      headers=dict(d.users["publisher"].headers, **{"Content-Type": "application/json"}))
    assert r.status_code == 202, r.text
    [eid] = r.json()["ids"]
    [e2, e3] = d.publish([d.event(p.hook.io, "updated"), d.event(p.hook.io, "created")])
    rows = wait_stream(p, 3)
    assert [x["stream_offset"] for x in rows] == [0, 1, 2]
    assert all(x["status"] == "PENDING" and x["next_attempt_at"].startswith("infinity")
               for x in rows), rows
    r = p.get()
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert body in r.text                       # the payload byte for byte as published
    j = r.json()
    assert set(j) == {"status", "type", "errors", "total", "data"}
    assert (j["status"], j["type"], j["errors"], j["total"]) == ("OK", "PullResult", [], 3)
    assert set(j["data"]) == {"events", "nextCursor"}
    assert j["data"]["nextCursor"] == {"offset": 3}
    evs = j["data"]["events"]
    assert [e["cursor"] for e in evs] == [{"offset": 0}, {"offset": 1}, {"offset": 2}]
    first = evs[0]["event"]
    assert set(first) == {"id", "eventId", "type", "integrationObject", "action",
                          "integrationKey", "occurredAt", "payload"}
    assert first["id"] == rows[0]["id"] and first["id"].startswith("msg_")
    assert first["eventId"] == eid
    assert first["type"] == f"sap.cx.commerce.{p.hook.io}.Created.v1"
    assert (first["integrationObject"], first["action"], first["integrationKey"]) == \
        (p.hook.io, "created", "K|1")
    assert first["occurredAt"].endswith("Z") and "T" in first["occurredAt"]
    assert first["payload"]["big"] == 123456789012345678901234567890
    assert [e["event"]["eventId"] for e in evs] == [eid, e2, e3]
    assert [e["event"]["type"].split(".")[-2] for e in evs] == ["Created", "Updated", "Created"]
    assert evs[1]["event"]["integrationKey"] is None


def test_empty_subscription_answers_empty_events(px):
    d, p = px()
    j = p.events()
    assert j["total"] == 0 and j["data"] == {"events": [], "nextCursor": {"offset": 0}}
    assert p.commit(0).status_code == 200
    assert_error(p.commit(1), 400, "invalid_cursor")


def test_pull_destination_is_never_posted_to(px):
    d, p = px()
    ids = publish_n(d, p.hook.io, 5)
    d.wait_fanned_out(*ids)
    time.sleep(0.5 * SLOW)
    assert d.sink.received(p.hook.path) == []
    assert len(p.stream()) == 5


def test_push_and_pull_destinations_of_one_event(px):
    d, p = px()
    push = d.hook(io=p.hook.io)
    [eid] = d.publish(d.event(p.hook.io, payload={"both": 1}))
    d.sink.wait(1, push.path, timeout=WAIT)
    d.wait_delivery(eid, "DELIVERED", hook=push)
    j = p.events()
    assert [e["event"]["eventId"] for e in j["data"]["events"]] == [eid]
    assert d.sink.received(p.hook.path) == []


# ====================================================== cursor and commit ==

def test_crash_before_commit_gets_the_same_batch(px):
    d, p = px()
    publish_n(d, p.hook.io, 7)
    wait_stream(p, 7)
    a = p.events(maxBatchSize=30)
    b = p.events(maxBatchSize=30)             # the consumer "crashed" before committing
    assert a == b and 0 < a["total"] < 7
    nxt = a["data"]["nextCursor"]["offset"]
    assert nxt == a["data"]["events"][-1]["cursor"]["offset"] + 1
    r = p.commit(nxt)
    assert r.status_code == 200 and r.json() == {"offset": nxt}
    c = p.events()
    assert [e["cursor"]["offset"] for e in c["data"]["events"]] == list(range(nxt, 7))
    assert p.commit(7).status_code == 200
    assert p.events()["data"] == {"events": [], "nextCursor": {"offset": 7}}


def test_commit_marks_deliveries_delivered(px):
    d, p = px()
    publish_n(d, p.hook.io, 4)
    wait_stream(p, 4)
    assert p.commit(2).status_code == 200
    # the janitor marks what the cursor passed within about a second
    wait_for(lambda: [x["status"] for x in p.stream()] == ["DELIVERED", "DELIVERED", "PENDING", "PENDING"],
             WAIT, interval=0.1, what="committed deliveries to be marked DELIVERED")
    mon = OData(d.srv, d.users["admin"].headers, base=MONITORING_BASE)
    got = mon.results("Deliveries", params={
        "$filter": f"destinationKey eq '{p.hook.dest_key.replace(chr(39), chr(39) * 2)}'",
        "$orderby": "createdAt,id"})
    assert sorted(x["status"] for x in got) == ["DELIVERED", "DELIVERED", "PENDING", "PENDING"]
    assert all(x["nextAttemptAt"] is None for x in got)   # never attempted: read by the consumer


def test_commit_a_cursor_inside_the_last_batch_reads_from_there(px):
    d, p = px()
    publish_n(d, p.hook.io, 3)
    wait_stream(p, 3)
    assert p.commit(1).status_code == 200
    assert [e["cursor"]["offset"] for e in p.events()["data"]["events"]] == [1, 2]


def test_cursor_never_goes_backwards_or_past_the_end(px):
    d, p = px()
    publish_n(d, p.hook.io, 3)
    wait_stream(p, 3)
    assert p.commit(2).status_code == 200
    r = p.commit(1)
    assert_error(r, 400, "invalid_cursor")
    assert "2" in r.json()["error"]["message"]["value"]
    assert_error(p.commit(4), 400, "invalid_cursor")           # beyond the end (3)
    assert_error(p.commit(10 ** 15), 400, "invalid_cursor")
    assert p.cursor() == "2"
    assert p.commit(2).status_code == 200                       # the same: allowed
    assert p.commit(3).status_code == 200                       # exactly the end
    assert p.cursor() == "3"


@pytest.mark.parametrize("body", [
    b"", b"{", b"[]", b'{"offset": -1}', b'{"offset": "1"}', b'{"offset": 1.5}',
    b'{"offset": null}', b'{}', b'{"offset": 1, "extra": 2}', b'{"offset": 1, "offset": 1}',
    b'{"offset": 99999999999999999999999}',
])
def test_commit_body_must_be_an_offset(px, body):
    d, p = px()
    r = p.commit(None, body=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in ("invalid_json", "invalid_cursor")


def test_auto_commit_moves_the_cursor(px):
    d, p = px()
    publish_n(d, p.hook.io, 5)
    wait_stream(p, 5)
    a = p.events(autoCommit=True, maxBatchSize=20)
    b = p.events(autoCommit=True)
    assert a["total"] >= 1 and a["total"] + b["total"] == 5
    assert b["data"]["events"][0]["cursor"]["offset"] == a["data"]["nextCursor"]["offset"]
    assert p.events(autoCommit=True)["total"] == 0
    assert p.cursor() == "5"
    wait_for(lambda: {x["status"] for x in p.stream()} == {"DELIVERED"}, WAIT, interval=0.1,
             what="auto-committed deliveries to be marked DELIVERED")
    assert_error(p.commit(4), 400, "invalid_cursor")


def test_auto_commit_false_leaves_the_cursor(px):
    d, p = px()
    publish_n(d, p.hook.io, 2)
    wait_stream(p, 2)
    assert p.events(autoCommit=False)["total"] == 2
    assert p.events()["total"] == 2
    assert p.cursor() == "0"


# ============================================================ batch size ==

def test_max_batch_size_is_a_soft_limit_on_payload_bytes(px):
    d, p = px()
    publish_n(d, p.hook.io, 6, size=1000)      # each payload a little over 1000 bytes
    wait_stream(p, 6)
    j = p.events(maxBatchSize=2500)
    assert j["total"] == 3                     # 0, ~1010, ~2020 bytes before: under 2500
    j = p.events(maxBatchSize=1)
    assert j["total"] == 1                     # one event larger than the limit still goes
    assert p.events()["total"] == 6            # default 512 KiB


def test_one_event_larger_than_the_default_is_delivered_alone(px):
    d, p = px(PULL_BATCH_SIZE="4k")
    publish_n(d, p.hook.io, 1, size=20000)
    publish_n(d, p.hook.io, 2)
    wait_stream(p, 3)
    j = p.events()
    assert j["total"] == 1 and len(j["data"]["events"][0]["event"]["payload"]["pad"]) == 20000
    assert p.commit(j["data"]["nextCursor"]["offset"]).status_code == 200
    assert p.events()["total"] == 2


def test_pull_max_events_caps_a_batch(px):
    d, p = px(PULL_MAX_EVENTS=4)
    publish_n(d, p.hook.io, 10)
    wait_stream(p, 10)
    j = p.events()
    assert j["total"] == 4 and j["data"]["nextCursor"] == {"offset": 4}


@pytest.mark.parametrize("query", [
    "maxBatchSize=0", "maxBatchSize=-1", "maxBatchSize=abc", "maxBatchSize=",
    "maxBatchSize=1e3", "maxBatchSize=9999999999999999999", "autoCommit=yes",
    "autoCommit=TRUE", "autoCommit=", "autocommit=true", "cursor=1", "maxBatchSize",
    "maxBatchSize=%FF",
])
def test_bad_query_parameters(px, query):
    d, p = px()
    r = p.get(raw_query=query)
    assert_error(r, 400, "invalid_query")


def test_percent_encoded_parameters(px):
    d, p = px()
    publish_n(d, p.hook.io, 1)
    wait_stream(p, 1)
    assert p.get(raw_query="maxBatchSize=%31%30&autoCommit=%74rue").json()["total"] == 1
    assert p.cursor() == "1"


# =========================================================== concurrency ==

def hold_lock(pg, dest_key, seconds):
    """A psql session that holds the subscription's row lock for a while,
    as a pull in progress does."""
    sql = ("BEGIN; SELECT s.cursor FROM webhookd.subscription s JOIN webhookd.consumed_destination cd"
           f" ON cd.pk = s.destination_pk WHERE cd.integration_key = {lit(dest_key)} FOR UPDATE;"
           f" SELECT pg_sleep({seconds}); COMMIT;")
    return subprocess.Popen([PSQL, "-X", "-q", "-tA", pg.url("webhookd"), "-c", sql],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_pull_while_another_runs_gets_409(px, pg):
    d, p = px()
    publish_n(d, p.hook.io, 2)
    wait_stream(p, 2)
    locker = hold_lock(pg, p.hook.dest_key, 3 * SLOW)
    try:
        wait_for(lambda: pg.psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                                 " WHERE c.relname = 'subscription' AND l.mode = 'RowShareLock'"
                                 " AND l.granted") != "0", WAIT, what="the lock to be held")
        t0 = time.time()
        r = p.get()
        assert_error(r, 409, "conflict")
        assert time.time() - t0 < 2 * SLOW             # fails fast, does not wait
        assert_error(p.commit(1), 409, "conflict")
    finally:
        locker.wait(timeout=30)
    assert p.cursor() == "0"
    assert p.events()["total"] == 2
    assert p.commit(2).status_code == 200


def test_concurrent_consumers_with_auto_commit_see_each_event_once(px):
    d, p = px()
    ids = publish_n(d, p.hook.io, 300)
    wait_stream(p, 300)
    seen, statuses, lock = [], [], threading.Lock()

    def consumer():
        for _ in range(2000):
            r = p.get(autoCommit=True, maxBatchSize=200)
            with lock:
                statuses.append(r.status_code)
                if r.status_code == 200:
                    seen.extend(e["event"]["eventId"] for e in r.json()["data"]["events"])
                if len(seen) >= len(ids):
                    return

    with ThreadPoolExecutor(6) as ex:
        for f in [ex.submit(consumer) for _ in range(6)]:
            f.result()
    assert set(statuses) <= {200, 409}, set(statuses)
    assert sorted(seen) == sorted(ids)                   # each exactly once
    assert len(seen) == len(set(seen))


def test_consumer_loop_reads_10000_events_exactly_once(px):
    """A consumer pulls in batches and commits each nextCursor while the
    events are still being published; now and then it "crashes" before
    committing and must get the same batch again."""
    d, p = px()
    n = 10000
    published, done = [], threading.Event()

    def producer():
        try:
            published.extend(publish_n(d, p.hook.io, n, per_request=100))
        finally:
            done.set()

    t = threading.Thread(target=producer)
    t.start()
    seen, batches, replays, last = [], 0, 0, None
    deadline = time.time() + 120 * SLOW
    while len(seen) < n and time.time() < deadline:
        j = p.events(maxBatchSize=16384)
        evs = j["data"]["events"]
        if not evs:
            time.sleep(0.05)
            continue
        if last is not None and j == last:
            pytest.fail("a committed batch came back")
        batches += 1
        if batches % 7 == 0:                         # crash: no commit, pull again
            again = p.events(maxBatchSize=16384)
            assert [e["event"]["id"] for e in again["data"]["events"][:len(evs)]] == \
                [e["event"]["id"] for e in evs]
            replays += 1
        offs = [e["cursor"]["offset"] for e in evs]
        assert offs == sorted(offs) and j["data"]["nextCursor"]["offset"] == offs[-1] + 1
        seen.extend(e["event"]["eventId"] for e in evs)
        r = p.commit(j["data"]["nextCursor"]["offset"])
        assert r.status_code == 200, r.text
        last = j
    t.join()
    assert done.is_set() and len(published) == n
    assert len(seen) == n, f"read {len(seen)} of {n} in {batches} batches"
    assert len(set(seen)) == n                       # no duplicates
    assert set(seen) == set(published)               # none missing
    assert seen == [e["event_id"] for e in p.stream()]   # in stream order
    print(f"consumer: {n} events in {batches} batches, {replays} replays")
    assert replays > 0 and batches > 10


# ====================================================== retention, errors ==

def test_events_past_retention_are_not_returned_and_are_discarded(px):
    d, p = px(PULL_RETENTION_S=2)
    publish_n(d, p.hook.io, 2)
    wait_stream(p, 2)
    assert p.events()["total"] == 2
    time.sleep(2.5)
    j = p.events()
    assert j["total"] == 0 and j["data"]["nextCursor"] == {"offset": 2}
    wait_for(lambda: {x["status"] for x in p.stream()} == {"DISCARDED"}, 10 * SLOW,
             interval=0.2, what="expired stream deliveries to be discarded")
    [eid] = d.publish(d.event(p.hook.io))
    wait_stream(p, 3)
    assert [e["event"]["eventId"] for e in p.events()["data"]["events"]] == [eid]


def test_inactive_subscription_is_deactivated_and_reactivation_resumes(px):
    d, p = px(PULL_INACTIVITY_S=2)
    publish_n(d, p.hook.io, 1)
    wait_stream(p, 1)
    dest = wait_for(lambda: (lambda x: x if not x["active"] else None)(d.dest(p.hook)),
                    15 * SLOW, interval=0.3, what="the subscription to be deactivated")
    assert dest["deactivatedReason"].startswith("No pull or commit since "), dest
    [late] = d.publish(d.event(p.hook.io))
    d.wait_fanned_out(late)
    assert len(p.stream()) == 1                      # deactivated: not matched
    assert p.events()["total"] == 1                  # what it holds stays readable
    r = d.admin.patch(entity_path("ConsumedDestinations", p.hook.dest_key), {"active": True})
    assert r.status_code in (200, 204), r.text
    [again] = d.publish(d.event(p.hook.io))
    wait_stream(p, 2)
    assert [e["event"]["eventId"] for e in p.events()["data"]["events"]][-1] == again


def test_pulls_keep_a_subscription_active(px):
    d, p = px(PULL_INACTIVITY_S=3)
    publish_n(d, p.hook.io, 1)
    wait_stream(p, 1)
    t_end = time.time() + 8
    while time.time() < t_end:
        assert p.get().status_code == 200
        time.sleep(0.5)
    assert d.dest(p.hook)["active"] is True


def test_event_types_and_filters_apply_to_pull(px):
    d, p = px(event_type=ITEM_CREATED)
    [c, u] = d.publish([d.event(p.hook.io, "created"), d.event(p.hook.io, "updated")])
    d.wait_fanned_out(c, u)
    assert [x["event_id"] for x in p.stream()] == [c]


def test_a_filter_error_is_discarded_outside_the_stream(px):
    d, p = px()
    f = uid("f")
    assert d.admin.post("WebhookFilters", {"code": f, "expression": "n add 1 eq 2"}).status_code == 201
    cfg = webhook_configuration({"id": p.hook.dest_id, "destinationTarget": {"id": p.hook.target_id}},
                                p.hook.io, ITEM_SAVED, filterLocation=f"model://{f}")
    r = d.admin.post("WebhookConfigurations", cfg)
    assert r.status_code in (200, 201), r.text
    ok = d.publish(d.event(p.hook.io, payload={"n": 1}))
    bad = d.publish(d.event(p.hook.io, payload={"n": "text"}))
    d.wait_fanned_out(*ok, *bad)
    rows = {x["event_id"]: x for x in p.stream()}
    assert rows[bad[0]]["status"] == "DISCARDED" and rows[bad[0]]["stream_offset"] is None
    assert rows[ok[0]]["stream_offset"] == 0
    assert [e["event"]["eventId"] for e in p.events()["data"]["events"]] == ok


def test_redeliver_of_a_pull_delivery_is_refused(px):
    d, p = px()
    publish_n(d, p.hook.io, 1)
    [row] = wait_stream(p, 1)
    r = d.api(f"/api/v1/deliveries/{row['id']}/redeliver")
    assert_error(r, 409, "conflict")
    assert p.stream()[0]["next_attempt_at"].startswith("infinity")


def test_deleting_the_destination_discards_its_stream(px):
    d, p = px()
    publish_n(d, p.hook.io, 2)
    wait_stream(p, 2)
    assert d.admin.delete(entity_path("WebhookConfigurations", p.hook.key)).status_code == 204
    assert d.admin.delete(entity_path("ConsumedDestinations", p.hook.dest_key)).status_code == 204
    assert {x["status"] for x in p.stream()} == {"DISCARDED"}
    assert_error(p.get(), 404, "not_found")


# ============================================================ addressing ==

def test_unknown_destination_and_push_destination_are_404(px):
    d, p = px()
    push = d.hook()
    r = d.srv.request("GET", f"{SUBS}/{quote(push.dest_key, safe='')}/events",
                      headers=d.users["subscriber"].headers)
    assert_error(r, 404, "not_found")
    assert "not PULL" in r.json()["error"]["message"]["value"]
    r = d.srv.request("GET", f"{SUBS}/nope%7Cnothing/events", headers=d.users["subscriber"].headers)
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("path,method,status", [
    (f"{SUBS}/%FF/events", "GET", 400),
    (f"{SUBS}/a%00b/events", "GET", 400),
    (f"{SUBS}/k/other", "GET", 404),
    (f"{SUBS}/k", "GET", 404),
    (f"{SUBS}/k/events/x", "GET", 404),
    (f"{SUBS}/k/cursor", "GET", 404),
    (f"{SUBS}/k/events", "PUT", 404),
    (f"{SUBS}/k/events", "POST", 405),
    (f"{SUBS}/k/events", "DELETE", 405),
])
def test_bad_paths_and_methods(px, path, method, status):
    d, p = px()
    r = d.srv.request(method, path, headers=d.users["subscriber"].headers)
    assert r.status_code == status, r.text


def test_roles(px):
    d, p = px()
    assert p.get(user="subscriber").status_code == 200
    assert p.get(user="admin").status_code == 200
    assert_error(p.get(user="publisher"), 403, "forbidden")
    assert_error(p.get(user="viewer"), 403, "forbidden")
    assert_error(p.commit(0, user="publisher"), 403, "forbidden")
    r = d.srv.request("GET", p.base + "/events")
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_pull_metrics(px):
    d, p = px()
    p.get()
    r = d.srv.request("GET", "/metrics", headers=d.users["admin"].headers)
    assert "webhookd_pulls_total" in r.text
