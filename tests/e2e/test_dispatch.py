"""The dispatcher end to end: publishing, matching, PUSH delivery.

Every test starts its own webhookd with the dispatcher on (against the
session's database) and a local receiver (sink.py), configures webhooks
through OData with unique ids, publishes events over HTTP (or through the
SQL outbox) and checks what the receiver got and what the database
recorded (webhookd.delivery, webhookd.delivery_attempt).

Every dispatcher sees every pending delivery of the shared database, so
each test gets its own receiver paths, and the fixture discards whatever
is still pending once the test's servers have stopped.
"""
import base64
import json
import re
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate

import pytest

from conftest import SANITIZED, free_port, wait_for
from odata_helpers import (ITEM_CREATED, ITEM_DELETED, ITEM_SAVED, ITEM_UPDATED, OData,
                           assert_error, entity_path, make_webhook, uid, uri_key,
                           webhook_configuration)
from sink import Sink, sign, verify

# Sanitized builds run several times slower: stretch every wait and slack.
SLOW = 3.0 if SANITIZED else 1.0
WAIT = 15 * SLOW            # generous upper bound for "eventually"
SLACK = 1.0 * SLOW          # allowed lateness of a timed retry

DISPATCHER = {
    "WEBHOOKD_DISPATCHER": "true",
    "WEBHOOKD_SSRF_ALLOW": "127.0.0.1",
    "WEBHOOKD_RETRY_SCHEDULE": "0,1s,2s",
    "WEBHOOKD_RETRY_JITTER_PERCENT": "0",
    "WEBHOOKD_DISPATCH_POLL_MS": "100",
}

EVENTS = "/api/v1/events"
CE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ACTION_NAME = {"created": "Created", "updated": "Updated", "deleted": "Deleted"}


# ---------------------------------------------------------------- helpers --

def find_key(obj, key):
    """The first value of key anywhere in a JSON value."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            got = find_key(v, key)
            if got is not None:
                return got
    return None


def sql_rows(pg, sql):
    """Rows of a query as dicts (via json_agg)."""
    out = pg.psql(f"SELECT coalesce(json_agg(x), '[]'::json) FROM ({sql}) x")
    return json.loads(out)


def lit(s):
    return "'" + s.replace("'", "''") + "'"


class Hook:
    def __init__(self, wh, path, secret):
        self.wh, self.path, self.secret = wh, path, secret
        self.io, self.key, self.dest_key = wh.io_code, wh.key, wh.dest_key
        self.dest_id, self.target_id = wh.dest["id"], wh.target["id"]


class Dispatch:
    """One test's dispatcher server, receiver and clients."""

    def __init__(self, srv, pg, users, sink):
        self.srv, self.pg, self.users, self.sink = srv, pg, users, sink
        self.admin = OData(srv, users["admin"].headers)
        self.tag = uid("dx")
        self.n = 0

    # -- configuration --

    def hook(self, io=None, event_type=ITEM_SAVED, events=None, path=None, url=None,
             dest_extra=None, config_extra=None, tag=None):
        """A WebhookConfiguration whose destination posts to the sink."""
        self.n += 1
        tag = tag or f"{self.tag}-{self.n}"
        path = path or f"/{tag}"
        io = io or f"io-{tag}"
        wh = make_webhook(self.admin, tag, event_type=event_type, events=events,
                          url=url or self.sink.url(path), dest_extra=dest_extra,
                          config_extra=config_extra, io_code=io)
        return Hook(wh, path, find_key(wh.d, "signingSecret"))

    def add_config(self, hook, event_type, **extra):
        """Another WebhookConfiguration on hook's existing destination."""
        dest = {"id": hook.dest_id, "destinationTarget": {"id": hook.target_id}}
        return self.admin.create("WebhookConfigurations",
                                 webhook_configuration(dest, hook.io, event_type, **extra))

    def dest(self, hook):
        return self.admin.d(entity_path("ConsumedDestinations", hook.dest_key))

    # -- publishing --

    def publish(self, events, user="publisher", status=202):
        r = self.srv.request("POST", EVENTS, data=json.dumps(events).encode(),
                             headers=dict(self.users[user].headers,
                                          **{"Content-Type": "application/json"}))
        assert r.status_code == status, f"publish: {r.status_code} {r.text[:600]}"
        return r.json()["ids"] if status == 202 else r

    def event(self, io, action="created", payload=None, **kw):
        ev = {"id": uid("ev"), "integrationObject": io, "action": action,
              "payload": payload if payload is not None else {"n": 1}}
        ev.update(kw)
        return ev

    def api(self, path, user="admin", **kw):
        return self.srv.request("POST", path, headers=self.users[user].headers, **kw)

    # -- the database --

    def rows(self, sql):
        return sql_rows(self.pg, sql)

    def deliveries(self, event_id):
        return self.rows(
            "SELECT d.id, d.status, d.attempts, d.last_status_code, d.destination_key,"
            " d.delivered_at IS NOT NULL AS delivered, d.next_attempt_at"
            " FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
            f" WHERE e.id = {lit(event_id)} ORDER BY d.destination_key")

    def delivery(self, event_id, hook=None):
        rows = [d for d in self.deliveries(event_id)
                if hook is None or d["destination_key"] == hook.dest_key]
        assert len(rows) == 1, rows
        return rows[0]

    def attempts(self, delivery_id):
        return self.rows(
            "SELECT a.attempt_no, a.status_code, a.error, a.response_excerpt,"
            " octet_length(a.response_excerpt) AS excerpt_bytes, a.duration_ms, a.started_at"
            " FROM webhookd.delivery_attempt a JOIN webhookd.delivery d ON d.pk = a.delivery_pk"
            f" WHERE d.id = {lit(delivery_id)} ORDER BY a.attempt_no, a.pk")

    def wait_delivery(self, event_id, status, hook=None, timeout=WAIT):
        def check():
            rows = [d for d in self.deliveries(event_id)
                    if hook is None or d["destination_key"] == hook.dest_key]
            return rows[0] if len(rows) == 1 and rows[0]["status"] == status else None
        return wait_for(check, timeout, interval=0.1,
                        what=f"delivery of {event_id} to be {status}")

    def wait_fanned_out(self, *event_ids, timeout=WAIT):
        ids = ",".join(lit(i) for i in event_ids)
        wait_for(lambda: self.pg.psql(
            f"SELECT count(*) FROM webhookd.event WHERE id IN ({ids}) AND fanned_out")
            == str(len(event_ids)), timeout, interval=0.1, what=f"fan-out of {event_ids}")

    def db_now(self):
        return datetime.fromisoformat(self.pg.psql(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"))


def cleanup(pg):
    """Nothing of a test may be delivered by a later test's dispatcher."""
    pg.psql("UPDATE webhookd.delivery SET status = 'DISCARDED', lease_owner = NULL,"
            " lease_until = NULL WHERE status IN ('PENDING', 'IN_FLIGHT');"
            " UPDATE webhookd.event SET fanned_out = true WHERE NOT fanned_out")


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


@pytest.fixture
def dx(start_server, pg, users, sink):
    """Factory: a dispatcher server (DISPATCHER plus overrides) -> Dispatch."""
    cleanup(pg)

    def make(**overrides):
        cfg = dict(DISPATCHER)
        cfg.update({k if k.startswith("WEBHOOKD_") else "WEBHOOKD_" + k: str(v)
                    for k, v in overrides.items()})
        return Dispatch(start_server(cfg), pg, users, sink)
    yield make
    try:
        start_server.stop_all()
    finally:
        cleanup(pg)


def assert_ce_headers(h, io, action, delivery_id):
    assert h["content-type"] == "application/json", h
    assert h["ce-specversion"] == "1.0", h
    assert h["ce-id"] == delivery_id, h
    assert h["ce-type"] == f"sap.cx.commerce.{io}.{ACTION_NAME[action]}.v1", h
    assert h["ce-source"] == "webhookd", h
    assert CE_TIME.match(h["ce-time"]), h


# ================================================================ fan-out ==

def test_one_event_fans_out_to_every_matching_destination(dx):
    d = dx()
    io = uid("io")
    hooks = [d.hook(io=io, events=(ITEM_SAVED, ITEM_CREATED)) for _ in range(4)]
    # A second configuration of the first destination matches too: still
    # one delivery per event and destination.
    d.add_config(hooks[0], ITEM_CREATED)
    other = d.hook()                       # another integration object
    ev = d.event(io, "created", {"order": 7}, integrationKey="ord-7")
    [eid] = d.publish(ev)
    assert eid == ev["id"]
    got = {h.path: d.sink.wait(1, h.path, timeout=WAIT) for h in hooks}
    d.wait_fanned_out(eid)
    rows = wait_for(lambda: (lambda r: r if all(x["status"] == "DELIVERED" for x in r) else None)(
        d.deliveries(eid)), WAIT, interval=0.1, what="all deliveries DELIVERED")
    assert sorted(x["destination_key"] for x in rows) == sorted(h.dest_key for h in hooks)
    by_key = {x["destination_key"]: x for x in rows}
    ids = set()
    for h in hooks:
        [req] = got[h.path]
        dv = by_key[h.dest_key]
        assert (dv["attempts"], dv["last_status_code"], dv["delivered"]) == (1, 200, True), dv
        assert_ce_headers(req["headers"], io, "created", dv["id"])
        assert req["headers"]["ce-subject"] == "ord-7"
        assert json.loads(req["body"]) == {"order": 7}
        assert verify(h.secret, req["headers"], req["body"])
        ids.add(dv["id"])
    assert len(ids) == len(hooks)          # a delivery id per destination
    assert d.sink.received(other.path) == []
    # exactly one request per destination, and one attempt each
    for h in hooks:
        assert len(d.sink.received(h.path)) == 1
        assert len(d.attempts(by_key[h.dest_key]["id"])) == 1


def test_metrics_count_deliveries(dx):
    d = dx()
    h = d.hook()
    before = metric(d, "webhookd_deliveries_delivered_total")
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "DELIVERED")
    wait_for(lambda: metric(d, "webhookd_deliveries_delivered_total") >= before + 1, WAIT,
             what="webhookd_deliveries_delivered_total to count the delivery")
    assert metric(d, "webhookd_events_fanned_out_total") >= 1


def metric(d, name):
    r = d.srv.get("/metrics", headers=d.users["admin"].headers)
    assert r.status_code == 200, r.text
    for line in r.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics:\n{r.text[:3000]}")


# =============================================================== matching ==

# event type -> the actions it covers
COVERS = {
    ITEM_SAVED: {"created", "updated"},
    ITEM_CREATED: {"created"},
    ITEM_UPDATED: {"updated"},
    ITEM_DELETED: {"deleted"},
}


def test_event_types_cover_exactly_their_actions(dx):
    d = dx()
    io = uid("io")
    hooks = {et: d.hook(io=io, event_type=et) for et in COVERS}
    evs = {a: d.event(io, a, {"action": a}) for a in ("created", "updated", "deleted")}
    d.publish(list(evs.values()))
    d.wait_fanned_out(*(e["id"] for e in evs.values()))
    want = {(et, a) for et, acts in COVERS.items() for a in acts}
    # each expected delivery arrives ...
    for et, a in sorted(want):
        d.wait_delivery(evs[a]["id"], "DELIVERED", hooks[et])
    # ... and the table is exact: (event type, action) -> delivered or not
    got = set()
    for a, ev in evs.items():
        for row in d.deliveries(ev["id"]):
            et = next(t for t, h in hooks.items() if h.dest_key == row["destination_key"])
            got.add((et, a))
    assert got == want, {"missing": want - got, "unexpected": got - want}
    for et, h in hooks.items():
        reqs = d.sink.received(h.path)
        actions = sorted(json.loads(r["body"])["action"] for r in reqs)
        assert actions == sorted(COVERS[et]), (et, actions)
        for r in reqs:
            a = json.loads(r["body"])["action"]
            assert r["headers"]["ce-type"] == f"sap.cx.commerce.{io}.{ACTION_NAME[a]}.v1"


def test_filters_true_false_and_erroring(dx):
    d = dx()
    io = uid("io")
    flt = {}
    for name, expr in [("paid", "status eq 'PAID' and total gt 100"),
                       ("de", "address/country eq 'DE'"),
                       ("div0", "total div 0 eq 1"),
                       ("type", "status add 1 eq 2")]:
        flt[name] = f"{d.tag}-{name}"
        d.admin.create("WebhookFilters", {"code": flt[name], "expression": expr})
    hooks = {name: d.hook(io=io, config_extra={"filterLocation": f"model://{code}"})
             for name, code in flt.items()}
    plain = d.hook(io=io)                         # no filter: every event
    e1 = d.event(io, "created", {"status": "PAID", "total": 150, "address": {"country": "DE"}})
    e2 = d.event(io, "created", {"status": "PAID", "total": 50, "address": {"country": "FR"}})
    e3 = d.event(io, "updated", {"status": "OPEN", "total": 500})
    d.publish([e1, e2, e3])
    d.wait_fanned_out(e1["id"], e2["id"], e3["id"])
    for e in (e1, e2, e3):
        d.wait_delivery(e["id"], "DELIVERED", plain)
    d.wait_delivery(e1["id"], "DELIVERED", hooks["paid"])
    d.wait_delivery(e1["id"], "DELIVERED", hooks["de"])

    def status(e, name):
        rows = [r for r in d.deliveries(e["id"]) if r["destination_key"] == hooks[name].dest_key]
        return rows[0]["status"] if rows else None

    # filter false: no delivery row at all
    assert [status(e2, "paid"), status(e3, "paid"), status(e2, "de"), status(e3, "de")] == \
        [None] * 4
    # erroring filters: DISCARDED, with an attempt 0 naming the filter
    for name, why in [("div0", "Division by zero"), ("type", "Operator 'add'")]:
        for e in (e1, e2, e3):
            row = d.delivery(e["id"], hooks[name])
            assert (row["status"], row["attempts"]) == ("DISCARDED", 0), (name, row)
            [att] = d.attempts(row["id"])
            assert att["attempt_no"] == 0, att
            assert f"model://{flt[name]}" in att["error"], (name, att)
            assert why in att["error"], (name, att)
            assert att["status_code"] is None
    # what the receivers got
    assert [json.loads(r["body"])["total"] for r in d.sink.received(hooks["paid"].path)] == [150]
    assert [json.loads(r["body"])["total"] for r in d.sink.received(hooks["de"].path)] == [150]
    for name in ("div0", "type"):
        assert d.sink.received(hooks[name].path) == []
    assert len(d.sink.received(plain.path)) == 3


# ================================================================ signing ==

def test_signature_verifies_with_the_secret_returned_at_creation(dx):
    d = dx()
    h = d.hook()
    assert h.secret and h.secret.startswith("whsec_"), h.wh.d
    assert 24 <= len(base64.b64decode(h.secret[6:])) <= 64
    # returned once: not readable afterwards
    assert "whsec_" not in json.dumps(d.dest(h))
    [eid] = d.publish(d.event(h.io, "created", {"x": "y"}))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    hd = req["headers"]
    dv = d.wait_delivery(eid, "DELIVERED")
    assert hd["webhook-id"] == hd["ce-id"] == dv["id"]
    assert abs(int(hd["webhook-timestamp"]) - time.time()) < 60
    sigs = hd["webhook-signature"].split()
    assert len(sigs) == 1 and sigs[0].startswith("v1,")
    assert verify(h.secret, hd, req["body"])
    assert sigs[0] == sign(h.secret, hd["webhook-id"], hd["webhook-timestamp"], req["body"])
    # and nothing else verifies
    assert not verify(h.secret, hd, req["body"] + b" ")
    assert not verify("whsec_" + base64.b64encode(b"k" * 32).decode(), hd, req["body"])


def test_sink_signs_the_published_test_vector():
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                "1614265330", b'{"test": 2432232314}') == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_rotation_signs_with_new_and_old_secret(dx):
    d = dx()
    h = d.hook()
    s1 = h.secret
    r = d.api(f"/api/v1/destinations/{h.dest_key}/rotate-secret")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"signingSecret", "previousSecretValidUntil"}
    s2 = body["signingSecret"]
    assert s2.startswith("whsec_") and s2 != s1
    until = datetime.strptime(body["previousSecretValidUntil"], "%Y-%m-%dT%H:%M:%SZ") \
        .replace(tzinfo=timezone.utc)
    assert abs((until - d.db_now()).total_seconds() - 86400) < 120, body
    [eid] = d.publish(d.event(h.io))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    hd = req["headers"]
    sigs = hd["webhook-signature"].split(" ")
    assert len(sigs) == 2, hd
    want = {sign(s, hd["webhook-id"], hd["webhook-timestamp"], req["body"]): s for s in (s1, s2)}
    # each secret verifies exactly one of the two signatures: new first, then old
    assert [want.get(s) for s in sigs] == [s2, s1], (sigs, want)
    assert verify(s1, hd, req["body"]) and verify(s2, hd, req["body"])
    # rotating again (key sent as %7C): the newest and the one before it
    r = d.api(f"/api/v1/destinations/{uri_key(h.dest_key)}/rotate-secret")
    assert r.status_code == 200, r.text
    s3 = r.json()["signingSecret"]
    d.publish(d.event(h.io))
    req = d.sink.wait(2, h.path, timeout=WAIT)[1]
    hd = req["headers"]
    assert verify(s3, hd, req["body"]) and verify(s2, hd, req["body"])
    assert not verify(s1, hd, req["body"])
    assert len(hd["webhook-signature"].split()) == 2
    # unknown destination, wrong role
    assert_error(d.api("/api/v1/destinations/nope%7Cnope/rotate-secret"), 404, "not_found")
    assert d.api(f"/api/v1/destinations/{h.dest_key}/rotate-secret",
                 user="viewer").status_code == 403
    assert d.api(f"/api/v1/destinations/{h.dest_key}/rotate-secret",
                 user="publisher").status_code == 403


def test_rotation_without_overlap_signs_with_the_new_secret_only(dx):
    d = dx(ROTATION_OVERLAP_S=0)
    h = d.hook()
    r = d.api(f"/api/v1/destinations/{h.dest_key}/rotate-secret")
    assert r.status_code == 200, r.text
    s2 = r.json()["signingSecret"]
    d.publish(d.event(h.io))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    hd = req["headers"]
    assert len(hd["webhook-signature"].split()) == 1, hd
    assert verify(s2, hd, req["body"]) and not verify(h.secret, hd, req["body"])


def test_signing_algorithm_none_sends_no_signature(dx):
    d = dx()
    h = d.hook(dest_extra={"signingAlgorithm": "NONE"})
    [eid] = d.publish(d.event(h.io))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    dv = d.wait_delivery(eid, "DELIVERED")
    hd = req["headers"]
    assert not [k for k in hd if k.startswith("webhook-")], hd
    assert_ce_headers(hd, h.io, "created", dv["id"])


# ======================================================== authorization ==

def test_basic_credentials(dx):
    d = dx()
    h = d.hook(dest_extra={"credentialBasic": {"id": uid("cb"), "username": "alice",
                                               "password": "s3cr:et é"}})
    [eid] = d.publish(d.event(h.io))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    assert req["headers"]["authorization"] == \
        "Basic " + base64.b64encode("alice:s3cr:et é".encode()).decode()
    d.wait_delivery(eid, "DELIVERED")


def test_oauth_token_fetched_once_and_refreshed_on_401(dx):
    d = dx()
    tag = uid("bearer")
    h = d.hook(path=f"/bearer-{tag}", dest_extra={"credentialConsumedOAuth": {
        "id": uid("co"), "clientId": "cid", "clientSecret": "c-secret",
        "oAuthUrl": d.sink.url("/oauth/token"), "scope": "read write"}})
    ids = d.publish([d.event(h.io) for _ in range(3)])
    reqs = d.sink.wait(3, h.path, timeout=WAIT, status=200)
    for eid in ids:
        d.wait_delivery(eid, "DELIVERED")
    assert d.sink.tokens_issued == 1, d.sink.token_requests
    assert {r["headers"]["authorization"] for r in reqs} == {"Bearer tok1"}
    [tr] = d.sink.token_requests
    assert tr["headers"]["authorization"] == "Basic " + base64.b64encode(b"cid:c-secret").decode()
    assert tr["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert tr["body"] == b"grant_type=client_credentials&scope=read%20write"
    # The receiver forgets its tokens: the cached one gets a 401, a new
    # token is fetched once and the same attempt succeeds with it.
    d.sink.revoke_tokens()
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "DELIVERED")
    reqs = d.sink.received(h.path)[3:]
    assert [(r["status"], r["headers"]["authorization"]) for r in reqs] == \
        [(401, "Bearer tok1"), (200, "Bearer tok2")]
    assert reqs[0]["headers"]["ce-id"] == reqs[1]["headers"]["ce-id"]
    dv = d.delivery(eid)
    assert dv["attempts"] == 1
    assert [(a["attempt_no"], a["status_code"]) for a in d.attempts(dv["id"])] == [(1, 200)]
    assert d.sink.tokens_issued == 2
    # and the new token is cached
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "DELIVERED")
    assert d.sink.received(h.path)[-1]["headers"]["authorization"] == "Bearer tok2"
    assert d.sink.tokens_issued == 2


def test_static_headers_from_additional_properties(dx):
    d = dx()
    h = d.hook(dest_extra={"additionalProperties": [
        {"key": "header:X-Api-Key", "value": "abc"},
        {"key": "header:X-Second", "value": "two words"},
        {"key": "not-a-header", "value": "nope"},
        # headers webhookd owns cannot be overridden
        {"key": "header:Content-Type", "value": "text/plain"},
        {"key": "header:ce-id", "value": "spoofed"},
        {"key": "header:Authorization", "value": "Bearer spoofed"},
    ]})
    [eid] = d.publish(d.event(h.io))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    dv = d.wait_delivery(eid, "DELIVERED")
    hd = req["headers"]
    assert hd["x-api-key"] == "abc"
    assert hd["x-second"] == "two words"
    assert "not-a-header" not in hd and "nope" not in hd.values()
    assert "authorization" not in hd
    assert_ce_headers(hd, h.io, "created", dv["id"])


def test_query_tokens_stay_in_the_url(dx):
    d = dx()
    path = f"/{uid('q')}"
    h = d.hook(url=d.sink.url(path + "?token=a%20b&x=1"))
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "DELIVERED")
    [req] = d.sink.received(path + "?token=a%20b&x=1")
    assert verify(h.secret, req["headers"], req["body"])


# ================================================================ retries ==

def test_retry_timing_and_failure_after_the_last_attempt(dx):
    d = dx(RETRY_SCHEDULE="0,1s,2s", RETRY_JITTER_PERCENT=0)
    h = d.hook()
    d.sink.plan(h.path, (500, {}, b"busy"))
    [eid] = d.publish(d.event(h.io))
    reqs = d.sink.wait(3, h.path, timeout=WAIT + 3)
    dv = d.wait_delivery(eid, "FAILED")
    t = [r["t"] for r in reqs]
    assert 0.95 <= t[1] - t[0] <= 1.0 + SLACK, t
    assert 1.95 <= t[2] - t[1] <= 2.0 + SLACK, t
    assert (dv["attempts"], dv["last_status_code"], dv["delivered"]) == (3, 500, False)
    atts = d.attempts(dv["id"])
    assert [(a["attempt_no"], a["status_code"], a["error"], a["response_excerpt"])
            for a in atts] == [(n, 500, "HTTP 500", "busy") for n in (1, 2, 3)]
    # the same delivery id every time, a fresh timestamp, a valid signature
    assert {r["headers"]["ce-id"] for r in reqs} == {dv["id"]}
    assert {r["headers"]["webhook-id"] for r in reqs} == {dv["id"]}
    ts = [int(r["headers"]["webhook-timestamp"]) for r in reqs]
    assert ts[0] < ts[2] and ts == sorted(ts), ts
    assert all(verify(h.secret, r["headers"], r["body"]) for r in reqs)
    assert len(d.sink.received(h.path)) == 3


@pytest.mark.parametrize("retry_after,delay", [("2", 2.0), ("100", 2.0), ("0", 1.0),
                                                ("http-date+30s", 2.0)])
def test_retry_after_is_honoured_within_1x_to_2x(dx, retry_after, delay):
    d = dx(RETRY_SCHEDULE="0,1s", RETRY_JITTER_PERCENT=0)
    h = d.hook()
    if retry_after.startswith("http-date"):
        retry_after = formatdate(time.time() + 30, usegmt=True)
    d.sink.plan(h.path, (503, {"Retry-After": retry_after}), (200,))
    [eid] = d.publish(d.event(h.io))
    reqs = d.sink.wait(2, h.path, timeout=WAIT + delay)
    gap = reqs[1]["t"] - reqs[0]["t"]
    assert delay - 0.05 <= gap <= delay + SLACK, (retry_after, gap)
    dv = d.wait_delivery(eid, "DELIVERED")
    assert dv["attempts"] == 2


def test_gone_410_fails_and_deactivates_the_destination(dx):
    d = dx()
    io = uid("io")
    h = d.hook(io=io)
    other = d.hook(io=io)
    d.sink.plan(h.path, (410, {}, b"gone"))
    [eid] = d.publish(d.event(io))
    dv = d.wait_delivery(eid, "FAILED", h)
    assert (dv["attempts"], dv["last_status_code"]) == (1, 410)
    dest = wait_for(lambda: (lambda x: x if not x["active"] else None)(d.dest(h)), WAIT,
                    what="the destination to be deactivated")
    assert "410" in dest["deactivatedReason"], dest
    assert d.dest(other)["active"] is True
    assert len(d.sink.received(h.path)) == 1
    # an inactive destination matches nothing
    [e2] = d.publish(d.event(io))
    d.wait_delivery(e2, "DELIVERED", other)
    assert [x["destination_key"] for x in d.deliveries(e2)] == [other.dest_key]
    assert len(d.sink.received(h.path)) == 1


def test_ignore_errors_fails_once_and_never_deactivates(dx):
    d = dx(RETRY_SCHEDULE="0,1s,2s", DEACTIVATE_AFTER_S=1)
    h = d.hook(dest_extra={"ignoreErrors": True})
    d.sink.plan(h.path, (500,))
    [e1] = d.publish(d.event(h.io))
    dv = d.wait_delivery(e1, "FAILED")
    assert (dv["attempts"], dv["last_status_code"]) == (1, 500)
    # failing for longer than deactivate_after_s: still active
    time.sleep(1.2)
    [e2] = d.publish(d.event(h.io))
    dv2 = d.wait_delivery(e2, "FAILED")
    assert dv2["attempts"] == 1
    time.sleep(0.5)
    assert d.dest(h)["active"] is True
    assert len(d.sink.received(h.path)) == 2
    assert [a["attempt_no"] for a in d.attempts(dv["id"])] == [1]


def test_ignore_errors_destination_is_not_deactivated_by_410(dx):
    # "ignoreErrors: FAILED after one failure, no retry, never deactivates"
    d = dx()
    h = d.hook(dest_extra={"ignoreErrors": True})
    d.sink.plan(h.path, (410,))
    [e1] = d.publish(d.event(h.io))
    dv = d.wait_delivery(e1, "FAILED")
    assert (dv["attempts"], dv["last_status_code"]) == (1, 410)
    time.sleep(0.5)
    dest = d.dest(h)
    assert dest["active"] is True, dest


def test_continuous_failure_deactivates_and_reactivation_resumes(dx):
    # attempts at 0 s, 1 s, 2 s, then an hour later: deactivation after
    # 1 s of failure stops them; re-activating sends the pending one at once
    d = dx(RETRY_SCHEDULE="0,1s,1s,1h,1h", DEACTIVATE_AFTER_S=1)
    io = uid("io")
    h = d.hook(io=io)
    d.sink.plan(h.path, (503,))
    [eid] = d.publish(d.event(io, payload={"first": True}))
    dest = wait_for(lambda: (lambda x: x if not x["active"] else None)(d.dest(h)), WAIT + 3,
                    what="the destination to be deactivated")
    assert "without a success" in dest["deactivatedReason"], dest
    dv = d.delivery(eid)
    assert dv["status"] == "PENDING" and dv["attempts"] in (2, 3), dv
    n = len(d.sink.received(h.path))
    # deactivated: nothing new matches it, nothing pending is attempted
    [e2] = d.publish(d.event(io, payload={"second": True}))
    d.wait_fanned_out(e2)
    assert d.deliveries(e2) == []
    time.sleep(1.3)
    assert len(d.sink.received(h.path)) == n
    assert d.delivery(eid)["status"] == "PENDING"
    # the receiver recovers; re-activation resumes the pending delivery now
    d.sink.plan(h.path, (200,))
    r = d.admin.patch(entity_path("ConsumedDestinations", h.dest_key), {"active": True})
    assert r.status_code in (200, 204), r.text
    t0 = time.time()
    reqs = d.sink.wait(n + 1, h.path, timeout=WAIT)
    assert reqs[-1]["t"] - t0 < 2.0 * SLOW, reqs[-1]["t"] - t0
    assert json.loads(reqs[-1]["body"]) == {"first": True}
    dv = d.wait_delivery(eid, "DELIVERED")
    assert dv["attempts"] == n + 1
    assert d.dest(h)["active"] is True


def test_an_api_instance_without_dispatcher_wakes_the_others(dx, start_server):
    # the dispatcher polls only once a minute: a prompt delivery proves the
    # publishing instance's NOTIFY reached it (sent after the commit, not in it)
    d = dx(DISPATCH_POLL_MS=60000)
    api = start_server({"WEBHOOKD_DISPATCHER": "false"})
    io = uid("io")
    h = d.hook(io=io)
    time.sleep(0.5)                               # the configuration reload
    for i in range(3):
        t0 = time.time()
        r = api.request("POST", EVENTS, data=json.dumps(d.event(io, payload={"i": i})).encode(),
                        headers=dict(d.users["publisher"].headers,
                                     **{"Content-Type": "application/json"}))
        assert r.status_code == 202, r.text
        d.sink.wait(i + 1, h.path, timeout=WAIT)
        assert time.time() - t0 < 3 * SLOW, time.time() - t0


# ================================================================= safety ==

def test_ssrf_guard_refuses_loopback_without_allow_list(dx):
    d = dx(SSRF_ALLOW="", RETRY_SCHEDULE="0")
    h = d.hook()
    [eid] = d.publish(d.event(h.io))
    dv = d.wait_delivery(eid, "FAILED")
    [att] = d.attempts(dv["id"])
    assert att["status_code"] is None and dv["last_status_code"] is None
    assert "SSRF" in att["error"] and "loopback" in att["error"], att
    assert "127.0.0.1" in att["error"], att
    assert d.sink.received(h.path) == [] and d.sink.arrived(h.path) == 0


def test_redirects_are_not_followed(dx):
    d = dx(RETRY_SCHEDULE="0")
    h = d.hook()
    d.sink.plan(h.path, (302, {"Location": d.sink.url(h.path + "-moved")}))
    [eid] = d.publish(d.event(h.io))
    dv = d.wait_delivery(eid, "FAILED")
    assert (dv["attempts"], dv["last_status_code"]) == (1, 302)
    [att] = d.attempts(dv["id"])
    assert (att["status_code"], att["error"]) == (302, "HTTP 302")
    assert d.sink.received(h.path + "-moved") == []


def test_hanging_destination_does_not_delay_a_healthy_one(dx):
    d = dx(SHUTDOWN_TIMEOUT_MS=500)
    slow = d.hook(dest_extra={"timeoutMillis": 60000, "maxInFlight": 3})
    fast = d.hook()
    d.sink.plan(slow.path, (200, {}, b"late", 10))
    d.publish([d.event(slow.io, payload={"i": i}) for i in range(6)])
    d.sink.wait_until(lambda s: s.inflight.get(slow.path, 0) == 3, WAIT,
                      what="3 requests hanging at the slow destination")
    t0 = time.time()
    ids = d.publish([d.event(fast.io, payload={"i": i}) for i in range(5)])
    reqs = d.sink.wait(5, fast.path, timeout=WAIT)
    assert max(r["t"] for r in reqs) - t0 < 1.0 * SLOW, [r["t"] - t0 for r in reqs]
    for eid in ids:
        d.wait_delivery(eid, "DELIVERED")
    # maxInFlight holds: never more than 3 at once at the slow one
    assert d.sink.max_inflight[slow.path] == 3
    assert d.sink.arrived(slow.path) == 3


# ================================================================ replays ==

def test_redeliver_sends_again_with_the_same_id(dx):
    d = dx()
    h = d.hook()
    [eid] = d.publish(d.event(h.io))
    dv = d.wait_delivery(eid, "DELIVERED")
    r = d.api(f"/api/v1/deliveries/{dv['id']}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json() == {"id": dv["id"], "status": "PENDING"}
    reqs = d.sink.wait(2, h.path, timeout=WAIT)
    assert [x["headers"]["ce-id"] for x in reqs] == [dv["id"], dv["id"]]
    assert reqs[0]["body"] == reqs[1]["body"]
    assert verify(h.secret, reqs[1]["headers"], reqs[1]["body"])
    dv = wait_for(lambda: (lambda x: x if x["status"] == "DELIVERED" and x["attempts"] == 2
                           else None)(d.delivery(eid)), WAIT, what="the redelivery recorded")
    assert [a["attempt_no"] for a in d.attempts(dv["id"])] == [1, 2]
    # unknown id, wrong role
    assert_error(d.api("/api/v1/deliveries/msg_nope/redeliver"), 404, "not_found")
    assert d.api(f"/api/v1/deliveries/{dv['id']}/redeliver", user="viewer").status_code == 403
    assert d.api(f"/api/v1/deliveries/{dv['id']}/redeliver", user="publisher").status_code == 403


def test_redeliver_while_in_flight_is_409(dx):
    d = dx()
    h = d.hook(dest_extra={"timeoutMillis": 30000})
    d.sink.plan(h.path, (200, {}, b"", 2.0 * SLOW))
    [eid] = d.publish(d.event(h.io))
    dv = d.wait_delivery(eid, "IN_FLIGHT")
    assert_error(d.api(f"/api/v1/deliveries/{dv['id']}/redeliver"), 409, "conflict")
    d.wait_delivery(eid, "DELIVERED")
    assert d.api(f"/api/v1/deliveries/{dv['id']}/redeliver").status_code == 202
    d.sink.wait(2, h.path, timeout=WAIT + 2 * SLOW)


def test_recover_requeues_failed_deliveries_since_a_time(dx):
    d = dx(RETRY_SCHEDULE="0")
    h = d.hook()
    d.sink.plan(h.path, (500,))
    [e1] = d.publish(d.event(h.io, payload={"e": 1}))
    d.wait_delivery(e1, "FAILED")
    time.sleep(0.05)
    since = d.db_now()
    [e2, e3] = d.publish([d.event(h.io, payload={"e": 2}), d.event(h.io, payload={"e": 3})])
    d.wait_delivery(e2, "FAILED")
    d.wait_delivery(e3, "FAILED")
    assert len(d.sink.received(h.path)) == 3
    d.sink.plan(h.path, (200,))
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    r = d.api(f"/api/v1/destinations/{h.dest_key}/recover?since={stamp}")
    assert r.status_code == 200, r.text
    assert r.json() == {"requeued": 2}
    d.wait_delivery(e2, "DELIVERED")
    d.wait_delivery(e3, "DELIVERED")
    reqs = d.sink.received(h.path)[3:]
    assert sorted(json.loads(x["body"])["e"] for x in reqs) == [2, 3]
    assert d.delivery(e1)["status"] == "FAILED"
    # the older one too, with an earlier since (and the key as %7C)
    early = (since - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = d.api(f"/api/v1/destinations/{uri_key(h.dest_key)}/recover?since={early}")
    assert (r.status_code, r.json()) == (200, {"requeued": 1}), r.text
    dv = d.wait_delivery(e1, "DELIVERED")
    assert dv["attempts"] == 2
    # nothing FAILED is left (since with an offset, '+' sent raw and as %2B)
    for since_q in ("2020-01-01T02:00:00+02:00", "2020-01-01T02:00:00%2B02:00", early):
        r = d.api(f"/api/v1/destinations/{h.dest_key}/recover?since={since_q}")
        assert (r.status_code, r.json()) == (200, {"requeued": 0}), (since_q, r.text)
    # errors
    assert_error(d.api(f"/api/v1/destinations/nope%7Cnope/recover?since={early}"),
                 404, "not_found")
    assert_error(d.api(f"/api/v1/destinations/{h.dest_key}/recover"), 400, "invalid_query")
    assert_error(d.api(f"/api/v1/destinations/{h.dest_key}/recover?since=yesterday"),
                 400, "invalid_query")
    assert d.api(f"/api/v1/destinations/{h.dest_key}/recover?since={early}",
                 user="viewer").status_code == 403


# ============================================================= publishing ==

def test_same_event_id_is_stored_and_delivered_once(dx):
    d = dx()
    h = d.hook()
    ev = d.event(h.io, payload={"once": True})
    assert d.publish(ev) == [ev["id"]]
    d.wait_delivery(ev["id"], "DELIVERED")
    # again, alone and twice within one request (different content too)
    assert d.publish(ev) == [ev["id"]]
    assert d.publish([ev, dict(ev, payload={"other": 1})]) == [ev["id"], ev["id"]]
    assert d.pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id = {lit(ev['id'])}") == "1"
    # a later event is delivered; the repeated one was not delivered again
    [marker] = d.publish(d.event(h.io, payload={"marker": True}))
    d.wait_delivery(marker, "DELIVERED")
    assert len(d.deliveries(ev["id"])) == 1
    assert [json.loads(r["body"]) for r in d.sink.received(h.path)] == \
        [{"once": True}, {"marker": True}]


def test_generated_ids_and_admin_may_publish(dx):
    d = dx()
    h = d.hook()
    evs = [{"integrationObject": h.io, "action": "updated", "payload": {"k": i}} for i in range(3)]
    ids = d.publish(evs, user="admin")
    assert len(ids) == 3 and len(set(ids)) == 3
    for i in ids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        d.wait_delivery(i, "DELIVERED")
    reqs = d.sink.received(h.path)
    assert sorted(json.loads(r["body"])["k"] for r in reqs) == [0, 1, 2]
    for r in reqs:
        assert "ce-subject" not in r["headers"]        # no integrationKey
    d.publish(d.event(h.io), user="viewer", status=403)


def test_outbox_publish_committed_vs_rolled_back(dx):
    d = dx()
    h = d.hook()
    rolled, committed = uid("ob"), uid("ob")
    d.pg.psql("BEGIN; SELECT webhookd.publish_event("
              f"{lit(h.io)}, 'deleted', '{{\"a\": 1}}'::jsonb, 'key-r', {lit(rolled)}); ROLLBACK")
    out = d.pg.psql("BEGIN; SELECT webhookd.publish_event("
                    f"{lit(h.io)}, 'created', '{{\"a\": 2}}'::jsonb, 'key-c', {lit(committed)});"
                    " COMMIT")
    assert committed in out
    dv = d.wait_delivery(committed, "DELIVERED")
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    assert json.loads(req["body"]) == {"a": 2}
    assert_ce_headers(req["headers"], h.io, "created", dv["id"])
    assert req["headers"]["ce-subject"] == "key-c"
    assert verify(h.secret, req["headers"], req["body"])
    assert d.pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id = {lit(rolled)}") == "0"
    assert d.pg.psql(f"SELECT source FROM webhookd.event WHERE id = {lit(committed)}") == "outbox"
    # the outbox refuses a payload that is not a JSON object
    with pytest.raises(AssertionError, match="payload must be a JSON object"):
        d.pg.psql(f"SELECT webhookd.publish_event({lit(h.io)}, 'created', '[1]'::jsonb)")
    # ... and keys with line breaks (they travel as headers)
    with pytest.raises(AssertionError, match="must not hold control characters"):
        d.pg.psql(f"SELECT webhookd.publish_event({lit(h.io)}, 'created', '{{}}'::jsonb,"
                  " E'a\\r\\nX-Injected: 1')")
    [m] = d.publish(d.event(h.io))
    d.wait_delivery(m, "DELIVERED")
    assert len(d.sink.received(h.path)) == 2


def test_payload_is_delivered_byte_identical(dx):
    d = dx()
    h = d.hook()
    eid = uid("ev")
    payload = ('{ "z" :1,"a":[1.0, 2E+3, -0.0 ,1e-7],  "s":"\\u00e9\\n\\"q\\"/\\/", '
               '"n":null,"t":true,"nested":{"b":{ }, "a":[ ]}, "u":"\u00fc\u6f22", "big":1.50}')
    body = ('{"id": "%s", "integrationObject": "%s", "action": "updated", '
            '"integrationKey": "k|1", "occurredAt": "2026-01-02T03:04:05.123456+02:00", '
            '"payload": %s }' % (eid, h.io, payload)).encode()
    r = d.srv.request("POST", EVENTS, data=body, headers=dict(
        d.users["publisher"].headers, **{"Content-Type": "application/json"}))
    assert r.status_code == 202, r.text
    assert r.json() == {"ids": [eid]}
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    assert req["body"] == payload.encode(), (req["body"], payload.encode())
    assert verify(h.secret, req["headers"], req["body"])
    hd = req["headers"]
    assert hd["ce-time"] == "2026-01-02T01:04:05.123456Z"
    assert hd["ce-subject"] == "k|1"
    assert hd["ce-type"] == f"sap.cx.commerce.{h.io}.Updated.v1"


def test_large_payload_is_delivered_intact(dx):
    d = dx()
    h = d.hook()
    payload = {"blob": "x" * (256 * 1024), "list": list(range(2000))}
    [eid] = d.publish(d.event(h.io, payload=payload))
    [req] = d.sink.wait(1, h.path, timeout=WAIT)
    assert json.loads(req["body"]) == payload
    assert verify(h.secret, req["headers"], req["body"])
    d.wait_delivery(eid, "DELIVERED")


def test_publish_accepts_edge_values(publish_server, users, pg):
    long_id = "i" * 250 + uid("")[-5:]
    evs = [
        {"id": long_id, "integrationObject": "io-edge", "action": "deleted",
         "integrationKey": None, "occurredAt": None, "payload": {}},
        {"id": uid("sp ace~!"), "integrationObject": "io-edge", "action": "updated",
         "integrationKey": "", "occurredAt": "2026-05-06T07:08:09.5-01:30", "payload": {"a": 1}},
    ]
    assert len(long_id) == 255
    r = post_events(publish_server, users, evs)
    assert r.status_code == 202, r.text
    assert r.json() == {"ids": [e["id"] for e in evs]}
    rows = sql_rows(pg, "SELECT id, action, subject_key, payload::text AS payload, source,"
                        " to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')"
                        " AS at, abs(extract(epoch FROM occurred_at - now())) < 60 AS recent"
                        " FROM webhookd.event WHERE id IN (" + ",".join(lit(e["id"]) for e in evs)
                    + ") ORDER BY action")
    assert [(x["id"], x["action"], x["subject_key"], x["payload"], x["source"]) for x in rows] == [
        (long_id, "deleted", None, "{}", "api"),
        (evs[1]["id"], "updated", "", '{"a": 1}', "api")]
    assert rows[0]["recent"] is True
    assert rows[1]["at"] == "2026-05-06T08:38:09.500"


def test_non_ascii_event_ids_are_stored_and_delivered_as_published(dx):
    # An id is "1..255 printable characters"; "é" is one. Two ids that
    # differ must stay two events (idempotency is by the exact id).
    d = dx()
    h = d.hook()
    tail = uid("")[1:]
    ids = [f"é{tail}", f"u00E9{tail}", f"😀{tail}"]
    assert d.publish([d.event(h.io, id=i, payload={"i": i}) for i in ids]) == ids
    stored = sql_rows(d.pg, f"SELECT id FROM webhookd.event WHERE id LIKE '%{tail}' ORDER BY id")
    assert sorted(x["id"] for x in stored) == sorted(ids), stored
    for i in ids:
        d.wait_delivery(i, "DELIVERED")
    assert sorted(json.loads(r["body"])["i"] for r in d.sink.received(h.path)) == sorted(ids)


def test_ce_time_defaults_to_the_publish_time(dx):
    d = dx()
    h = d.hook()
    before = d.db_now()
    d.publish(d.event(h.io, occurredAt="2026-03-04T05:06:07Z"))
    d.publish(d.event(h.io))
    reqs = d.sink.wait(2, h.path, timeout=WAIT)
    times = sorted(r["headers"]["ce-time"] for r in reqs)
    assert "2026-03-04T05:06:07.000000Z" in times
    other = next(t for t in times if t != "2026-03-04T05:06:07.000000Z")
    got = datetime.strptime(other, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs((got - before).total_seconds()) < 30


def _ev(**kw):
    ev = {"integrationObject": "io-bad", "action": "created", "payload": {"a": 1}}
    ev.update(kw)
    return {k: v for k, v in ev.items() if v is not DROP}


DROP = object()

# (body, index, field, message fragment); field "" = the event itself
BAD_EVENTS = [
    (_ev(integrationObject=DROP), 0, "integrationObject", "is required"),
    (_ev(integrationObject=""), 0, "integrationObject", "is required"),
    (_ev(integrationObject=7), 0, "integrationObject", "is required"),
    (_ev(action=DROP), 0, "action", "must be one of created, updated, deleted"),
    (_ev(action="saved"), 0, "action", "must be one of created, updated, deleted"),
    (_ev(action="Created"), 0, "action", "must be one of"),
    (_ev(payload=DROP), 0, "payload", "is required and must be a JSON object"),
    (_ev(payload=[1]), 0, "payload", "must be a JSON object"),
    (_ev(payload="{}"), 0, "payload", "must be a JSON object"),
    (_ev(payload=None), 0, "payload", "must be a JSON object"),
    (_ev(id=""), 0, "id", "1 to 255 printable characters"),
    (_ev(id="x" * 256), 0, "id", "1 to 255 printable characters"),
    (_ev(id="a\nb"), 0, "id", "printable"),
    (_ev(id=5), 0, "id", "must be a string"),
    (_ev(integrationKey=5), 0, "integrationKey", "must be a string or null"),
    (_ev(integrationKey={"a": 1}), 0, "integrationKey", "must be a string or null"),
    (_ev(integrationKey="a\r\nX-Injected: 1"), 0, "integrationKey", "printable"),
    (_ev(integrationKey="k" * 4097), 0, "integrationKey", "at most 4096"),
    (_ev(occurredAt="yesterday"), 0, "occurredAt", "RFC 3339"),
    (_ev(occurredAt="2026-13-01T00:00:00Z"), 0, "occurredAt", "RFC 3339"),
    (_ev(occurredAt=1700000000), 0, "occurredAt", "RFC 3339"),
    (_ev(extra=1), 0, "extra", "is not a known field"),
    ([_ev(), _ev(), _ev(action="nope")], 2, "action", "must be one of"),
    ([_ev(), 5], 1, "", "must be a JSON object"),
    ([_ev(), [_ev()]], 1, "", "must be a JSON object"),
]


@pytest.fixture(scope="module")
def publish_server(module_servers):
    """A plain server (no dispatcher): publishing needs none."""
    return module_servers()


def post_events(srv, users, body, user="publisher"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return srv.request("POST", EVENTS, data=data, headers=dict(
        users[user].headers, **{"Content-Type": "application/json"}))


@pytest.mark.parametrize("body,index,field,fragment", BAD_EVENTS,
                         ids=[f"{i}-{b[2] or 'event'}" for i, b in enumerate(BAD_EVENTS)])
def test_publish_validation(publish_server, users, pg, body, index, field, fragment):
    # give every event an id so that "nothing stored" can be checked
    body = json.loads(json.dumps(body))
    events = body if isinstance(body, list) else [body]
    ids = []
    for ev in events:
        if isinstance(ev, dict) and "id" not in ev:
            ev["id"] = uid("bad")
        if isinstance(ev, dict) and isinstance(ev.get("id"), str) and ev["id"]:
            ids.append(ev["id"])
    r = post_events(publish_server, users, body)
    code, msg, inner = assert_error(r, 400, "invalid_event")
    prefix = f"Event [{index}]: field [{field}] " if field else f"Event [{index}] "
    assert msg.startswith(prefix), msg
    assert fragment in msg, msg
    assert inner == (f"{index}/{field}" if field else f"{index}"), inner
    if ids:
        in_ = ",".join(lit(i) for i in ids)
        assert pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id IN ({in_})") == "0"


@pytest.mark.parametrize("body,code", [
    (b"", "invalid_json"),
    (b"{", "invalid_json"),
    (b'{"integrationObject": "a", "integrationObject": "b"}', "invalid_json"),
    (b"[]", "invalid_event"),
    (b"nul", "invalid_json"),
    (b'"scalar"', "invalid_json"),      # neither an event object nor an array
    (b"5", "invalid_json"),
])
def test_publish_bad_json_and_empty_batch(publish_server, users, body, code):
    assert_error(post_events(publish_server, users, body), 400, code)


def test_publish_batch_limit(publish_server, users, pg):
    evs = [_ev(id=uid("lim")) for _ in range(101)]
    code, msg, _ = assert_error(post_events(publish_server, users, evs), 400, "invalid_event")
    assert "100" in msg and "101" in msg, msg
    in_ = ",".join(lit(e["id"]) for e in evs)
    assert pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id IN ({in_})") == "0"
    r = post_events(publish_server, users, evs[:100])
    assert r.status_code == 202, r.text
    assert r.json()["ids"] == [e["id"] for e in evs[:100]]
    assert pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id IN ({in_})") == "100"


def test_publish_roles(publish_server, users):
    assert post_events(publish_server, users, _ev(), user="viewer").status_code == 403
    r = publish_server.request("POST", EVENTS, data=json.dumps(_ev()).encode(),
                               headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    assert post_events(publish_server, users, _ev(), user="admin").status_code == 202


# ====================================================== attempts, deletes ==

def test_response_excerpt_is_stored_and_truncated_at_4096_bytes(dx):
    d = dx(RETRY_SCHEDULE="0")
    io = uid("io")
    big, utf, odd, ok = (d.hook(io=io) for _ in range(4))
    d.sink.plan(big.path, (500, {}, b"x" * 5000))
    d.sink.plan(utf.path, (500, {}, "é".encode() * 3000))
    d.sink.plan(odd.path, (500, {}, b"ok\xff\x00z"))
    d.sink.plan(ok.path, (200, {}, b'{"accepted":true}'))
    [eid] = d.publish(d.event(io))
    for h in (big, utf, odd):
        d.wait_delivery(eid, "FAILED", h)
    d.wait_delivery(eid, "DELIVERED", ok)

    def att(h):
        [a] = d.attempts(d.delivery(eid, h)["id"])
        return a
    a = att(big)
    assert a["excerpt_bytes"] == 4096 and a["response_excerpt"] == "x" * 4096, a["excerpt_bytes"]
    a = att(utf)
    assert 4090 <= a["excerpt_bytes"] <= 4096, a["excerpt_bytes"]
    assert a["response_excerpt"].startswith("é" * 2000)
    assert att(odd)["response_excerpt"] == "ok??z"
    a = att(ok)
    assert (a["status_code"], a["error"], a["response_excerpt"]) == (200, None, '{"accepted":true}')
    assert a["duration_ms"] >= 0


def test_deleting_a_destination_discards_its_pending_deliveries(dx):
    d = dx(RETRY_SCHEDULE="0,1h")
    h = d.hook()
    d.sink.plan(h.path, (503,))
    [eid] = d.publish(d.event(h.io))
    dv = wait_for(lambda: (lambda x: x if x["status"] == "PENDING" and x["attempts"] == 1
                           else None)(d.delivery(eid)), WAIT, what="the first attempt")
    assert d.admin.delete(entity_path("WebhookConfigurations", h.key)).status_code == 204
    assert d.admin.delete(entity_path("ConsumedDestinations", h.dest_key)).status_code == 204
    dv = d.delivery(eid)
    assert (dv["status"], dv["attempts"], dv["destination_key"]) == ("DISCARDED", 1, h.dest_key)
    # and it stays so; redelivering it is refused
    assert_error(d.api(f"/api/v1/deliveries/{dv['id']}/redeliver"), 409, "conflict")
    assert d.delivery(eid)["status"] == "DISCARDED"
    assert len(d.sink.received(h.path)) == 1


def test_deleting_a_destination_discards_an_attempt_in_flight(dx):
    d = dx(RETRY_SCHEDULE="0,1s")
    h = d.hook(dest_extra={"timeoutMillis": 30000})
    d.sink.plan(h.path, (503, {}, b"", 1.5 * SLOW))
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "IN_FLIGHT")
    d.sink.wait_until(lambda s: s.inflight.get(h.path) == 1, WAIT, what="the attempt to arrive")
    assert d.admin.delete(entity_path("WebhookConfigurations", h.key)).status_code == 204
    assert d.admin.delete(entity_path("ConsumedDestinations", h.dest_key)).status_code == 204
    assert d.delivery(eid)["status"] == "DISCARDED"
    # the attempt ends (503) and is recorded; the delivery stays discarded
    d.sink.wait(1, h.path, timeout=WAIT)
    dv = d.delivery(eid)
    wait_for(lambda: len(d.attempts(dv["id"])) == 1, WAIT, what="the attempt to be recorded")
    assert d.delivery(eid)["status"] == "DISCARDED", d.delivery(eid)


# ================================================= configuration changes ==

def test_configuration_changes_apply_to_the_next_event(dx):
    # No wait between a change and the next publish: an event must never be
    # matched against configurations older than itself.
    d = dx()
    code = f"{d.tag}-f"
    d.admin.create("WebhookFilters", {"code": code, "expression": "n eq 1"})
    h = d.hook(config_extra={"filterLocation": f"model://{code}"})

    def publish_and_settle(*ns):
        evs = [d.event(h.io, payload={"n": n}) for n in ns]
        d.publish(evs)
        d.wait_fanned_out(*(e["id"] for e in evs))
        return [d.deliveries(e["id"]) for e in evs]

    got = publish_and_settle(1, 2)
    assert [len(x) for x in got] == [1, 0]
    r = d.admin.patch(entity_path("WebhookFilters", code), {"expression": "n eq 2"})
    assert r.status_code in (200, 204), r.text
    got = publish_and_settle(1, 2)
    assert [len(x) for x in got] == [0, 1]
    # a new url is used from the next delivery on
    moved = h.path + "-moved"
    r = d.admin.patch(entity_path("ConsumedDestinations", h.dest_key), {"url": d.sink.url(moved)})
    assert r.status_code in (200, 204), r.text
    [e] = d.publish(d.event(h.io, payload={"n": 2}))
    d.wait_delivery(e, "DELIVERED")
    assert [json.loads(r["body"]) for r in d.sink.received(moved)] == [{"n": 2}]
    # a deleted configuration matches nothing
    assert d.admin.delete(entity_path("WebhookConfigurations", h.key)).status_code == 204
    got = publish_and_settle(2)
    assert got == [[]]
    assert [json.loads(r["body"])["n"] for r in d.sink.received(h.path)] == [1, 2]


# ================================================ timeouts, shutting down ==

def test_timeouts_and_connection_errors_are_failed_attempts(dx):
    d = dx(RETRY_SCHEDULE="0", CONNECT_TIMEOUT_MS=2000)
    io = uid("io")
    slow = d.hook(io=io, dest_extra={"timeoutMillis": 1000})
    d.sink.plan(slow.path, (200, {}, b"too late", 3))
    closed = d.hook(io=io, url=f"http://127.0.0.1:{free_port()}/closed")
    [eid] = d.publish(d.event(io))
    dv = d.wait_delivery(eid, "FAILED", slow)
    [a] = d.attempts(dv["id"])
    assert a["status_code"] is None and dv["last_status_code"] is None
    assert a["error"] == "timeout after 1000 ms", a
    assert 900 <= a["duration_ms"] <= 1000 + 1500 * SLOW, a
    dv = d.wait_delivery(eid, "FAILED", closed)
    [a] = d.attempts(dv["id"])
    assert a["status_code"] is None and a["error"], a


def test_stopping_hands_back_deliveries_in_flight(dx):
    d = dx(SHUTDOWN_TIMEOUT_MS=300)
    h = d.hook(dest_extra={"timeoutMillis": 30000})
    d.sink.plan(h.path, (200, {}, b"", 3), (200,))
    [eid] = d.publish(d.event(h.io))
    d.wait_delivery(eid, "IN_FLIGHT")
    d.sink.wait_until(lambda s: s.inflight.get(h.path) == 1, WAIT, what="the attempt to arrive")
    d.srv.stop()                        # SIGTERM: exits 0 within the drain time
    row = d.rows("SELECT d.status, d.lease_owner, d.next_attempt_at <= now() AS due"
                 " FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
                 f" WHERE e.id = {lit(eid)}")
    assert row == [{"status": "PENDING", "lease_owner": None, "due": True}], row
    # the next instance delivers it at once, with the same id
    d2 = dx()
    dv = d2.wait_delivery(eid, "DELIVERED", timeout=WAIT)
    reqs = d.sink.received(h.path)
    assert reqs[-1]["status"] == 200 and reqs[-1]["headers"]["ce-id"] == dv["id"]


# ========================================================== odd publishes ==

def test_integration_key_with_line_breaks_cannot_inject_headers(dx):
    # An integrationKey is a string; one with CR/LF must either be refused
    # when published or be delivered without becoming a header of its own.
    d = dx(RETRY_SCHEDULE="0")
    h = d.hook()
    ev = d.event(h.io, integrationKey="a\r\nX-Injected: 1")
    r = d.srv.request("POST", EVENTS, data=json.dumps(ev).encode(), headers=dict(
        d.users["publisher"].headers, **{"Content-Type": "application/json"}))
    if r.status_code == 400:
        c, m, inner = assert_error(r, 400, "invalid_event")
        assert inner == "0/integrationKey", (m, inner)
        return
    assert r.status_code == 202, r.text
    dv = wait_for(lambda: (lambda x: x if x and x[0]["status"] in ("DELIVERED", "FAILED")
                           else None)(d.deliveries(ev["id"])), WAIT, what="the attempt")[0]
    atts = d.attempts(dv["id"])
    assert dv["status"] == "DELIVERED", (dv, atts)
    [req] = d.sink.received(h.path)
    assert "x-injected" not in req["headers"], req["headers"]


@pytest.mark.parametrize("method_path", [
    "/api/v1/destinations/%FF%FE/rotate-secret",          # not UTF-8
    "/api/v1/destinations/a%00b/recover?since=2026-01-01T00:00:00Z",  # NUL
    "/api/v1/deliveries/%C3/redeliver",                   # truncated UTF-8
    "/api/v1/deliveries/" + "x" * 1025 + "/redeliver",    # too long
])
def test_operator_calls_refuse_undecodable_segments(publish_server, users, method_path):
    # never reaches the database: a clear 400, not a 503 from a refused parameter
    r = publish_server.request("POST", method_path, headers=users["admin"].headers)
    assert_error(r, 400, "invalid_key")


def test_recover_refuses_an_undecodable_since(publish_server, users):
    r = publish_server.request("POST", "/api/v1/destinations/d%7Ct/recover?since=%FF",
                               headers=users["admin"].headers)
    assert_error(r, 400, "invalid_query")


def test_publish_accepts_numbers_beyond_64_bits(publish_server, users, pg):
    # valid JSON, however large its numbers: stored as published
    eid = uid("big")
    payload = '{"big": 123456789012345678901234567890, "neg": -98765432109876543210.5e3}'
    body = ('{"id": "%s", "integrationObject": "io-big", "action": "created", "payload": %s}'
            % (eid, payload)).encode()
    r = post_events(publish_server, users, body)
    assert r.status_code == 202, r.text
    assert pg.psql(f"SELECT payload::text FROM webhookd.event WHERE id = {lit(eid)}") == payload
