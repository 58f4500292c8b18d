"""The read-only OData service /odata2webservices/WebhookMonitoring
(dispatch.md "WebhookMonitoring"): Events, Deliveries, DeliveryAttempts and
InboundRequests through the WebhookService's model-driven machinery, with
every query option of odata.md, and every write refused with 405.

Rows are seeded with SQL (the dispatcher and the receivers write them, never
OData) under a unique tag; every query is restricted to that tag, since the
session's database is shared with other modules. Seeded events are already
fanned out and seeded deliveries are finished or due far in the future, so
a running dispatcher leaves them alone; all timestamps are in the future
(retention never purges them) except one before 1970 (negative /Date/)."""
import calendar
import json
import re
import shutil
import subprocess
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from odata_helpers import BASE, MONITORING_BASE, NS, OData, assert_error, uid

EDMX = "http://schemas.microsoft.com/ado/2007/06/edmx"
M = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
EDM = "http://schemas.microsoft.com/ado/2008/09/edm"
SAP = "http://www.sap.com/Protocols/SAPData"
READ_ONLY = "The WebhookMonitoring service is read-only."
SETS = ["Events", "Deliveries", "DeliveryAttempts", "InboundRequests"]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def q(ns, tag):
    return f"{{{ns}}}{tag}"


def sql_lit(s):
    return "NULL" if s is None else "'" + s.replace("'", "''") + "'"


def ms(ts):
    """Milliseconds since the epoch of an ISO text with offset, floored."""
    dt = datetime.fromisoformat(ts)
    whole = calendar.timegm(dt.astimezone(timezone.utc).timetuple())
    return whole * 1000 + dt.microsecond // 1000


def date_json(ts):
    return None if ts is None else f"/Date({ms(ts)})/"


def key_in_uri(k):
    """A plain key inside Set('...') as the server writes it."""
    out = []
    table = {"%": "%25", "'": "''", "/": "%2F", "?": "%3F", "#": "%23", " ": "%20",
             '"': "%22", "\\": "%5C"}
    for c in k:
        out.append(table.get(c, c))
    return "".join(out)


def path_key(k):
    """A plain key inside Set('...') of a request path (percent-encoded)."""
    return urllib.parse.quote(k.replace("'", "''"), safe="")


# ------------------------------------------------------------------- data --

class Data:
    pass


def seed(pg, T):
    """Inserts the module's rows; returns a Data with the expected values."""
    D = Data()
    D.T = T
    D.io, D.io2 = f"io-{T}", f"io2-{T}"
    D.odd = f"{T}-odd 'q'/%7C?#\"\\|+\u00e9"
    D.events = [
        dict(id=f"{T}-e1", integrationObject=D.io, action="created", integrationKey="Order|1",
             occurredAt="2090-01-02T08:00:00+00:00", receivedAt="2090-01-02T08:00:01.500000+00:00",
             source="api", payload={"code": "o1", "total": 5}),
        dict(id=f"{T}-e2", integrationObject=D.io, action="updated", integrationKey=None,
             occurredAt="2090-01-02T09:30:00.123456+00:00",
             receivedAt="2090-01-02T09:30:00.456000+00:00", source="outbox",
             payload={"a": [1, 2], "s": "x'y"}),
        dict(id=f"{T}-e3", integrationObject=D.io2, action="deleted", integrationKey="k3",
             occurredAt="1969-12-31T23:59:59.999500+00:00",
             receivedAt="2090-01-02T10:15:00+00:00", source=f"src-{T}", payload={}),
        dict(id=D.odd, integrationObject=D.io2, action="created", integrationKey="odd",
             occurredAt="2090-01-03T00:00:00+00:00", receivedAt="2090-01-03T00:00:00+00:00",
             source="api", payload={"odd": True}),
    ]
    dA, dB = f"dA-{T}|tA", f"dB-{T}|tB"
    D.dA, D.dB = dA, dB
    D.deliveries = [
        dict(id=f"{T}-d1", event=0, status="DELIVERED", destinationKey=dA, attempts=1,
             nextAttemptAt="2090-01-02T08:00:02+00:00", lastStatusCode=200,
             createdAt="2090-01-02T08:00:02+00:00", deliveredAt="2090-01-02T08:00:03.250000+00:00"),
        dict(id=f"{T}-d2", event=0, status="FAILED", destinationKey=dB, attempts=3,
             nextAttemptAt="2090-01-02T08:10:00+00:00", lastStatusCode=500,
             createdAt="2090-01-02T08:00:02.500000+00:00", deliveredAt=None),
        dict(id=f"{T}-d3", event=1, status="FAILED", destinationKey=dA, attempts=2,
             nextAttemptAt="2090-01-02T09:40:00+00:00", lastStatusCode=None,
             createdAt="2090-01-02T09:30:01+00:00", deliveredAt=None),
        dict(id=f"{T}-d4", event=1, status="DISCARDED", destinationKey=dA, attempts=0,
             nextAttemptAt="2090-01-02T09:31:00+00:00", lastStatusCode=None,
             createdAt="2090-01-02T09:31:00+00:00", deliveredAt=None),
        dict(id=f"{T}-d5", event=2, status="PENDING", destinationKey=dA, attempts=0,
             nextAttemptAt="2099-01-01T00:00:00+00:00", lastStatusCode=None,
             createdAt="2090-01-02T10:15:01+00:00", deliveredAt=None),
        dict(id=D.odd + "-d", event=3, status="DELIVERED", destinationKey=dB, attempts=1,
             nextAttemptAt="2090-01-03T00:00:01+00:00", lastStatusCode=204,
             createdAt="2090-01-03T00:00:01+00:00", deliveredAt="2090-01-03T00:00:02+00:00"),
    ]
    D.attempts = [
        dict(id=f"{T}-a1", delivery=0, attemptNo=1, startedAt="2090-01-02T08:00:03+00:00",
             durationMs=250, statusCode=200, error=None, responseExcerpt="ok"),
        dict(id=f"{T}-a2", delivery=1, attemptNo=1, startedAt="2090-01-02T08:00:03+00:00",
             durationMs=120, statusCode=500, error=None, responseExcerpt="boom"),
        dict(id=f"{T}-a3", delivery=1, attemptNo=2, startedAt="2090-01-02T08:01:03+00:00",
             durationMs=130, statusCode=500, error=None, responseExcerpt="boom again"),
        dict(id=f"{T}-a4", delivery=1, attemptNo=3, startedAt="2090-01-02T08:05:03+00:00",
             durationMs=15000, statusCode=None, error="timeout", responseExcerpt=None),
        dict(id=f"{T}-a5", delivery=2, attemptNo=1, startedAt="2090-01-02T09:30:02+00:00",
             durationMs=3, statusCode=502, error=None, responseExcerpt="<html>\n\"bad\"</html>"),
        dict(id=f"{T}-a6", delivery=2, attemptNo=2, startedAt="2090-01-02T09:35:02+00:00",
             durationMs=1, statusCode=None, error="connection refused", responseExcerpt=None),
    ]
    D.inbound = [
        dict(id=f"{T}-i1", source=f"src-{T}", receivedAt="2090-01-02T08:00:00+00:00",
             verified=True, senderId="s1", duplicate=False, status=202,
             integrationMessageId=f"msg-{T}-1", path="/inbound/src", event=0),
        dict(id=f"{T}-i2", source=f"src-{T}", receivedAt="2090-01-02T09:00:00+00:00",
             verified=False, senderId=None, duplicate=False, status=401,
             integrationMessageId=None, path="/inbound/src", event=None),
        dict(id=f"{T}-i3", source=f"src-{T}", receivedAt="2090-01-02T09:00:05+00:00",
             verified=True, senderId="s1", duplicate=True, status=200,
             integrationMessageId=f"msg-{T}-1", path="/inbound/src?x=1", event=0),
    ]
    stmts = []
    for e in D.events:
        stmts.append(
            "INSERT INTO webhookd.event (id, integration_object, action, subject_key, payload,"
            " occurred_at, received_at, source, fanned_out) VALUES ("
            f"{sql_lit(e['id'])}, {sql_lit(e['integrationObject'])}, {sql_lit(e['action'])},"
            f" {sql_lit(e['integrationKey'])}, {sql_lit(json.dumps(e['payload']))}::jsonb,"
            f" {sql_lit(e['occurredAt'])}, {sql_lit(e['receivedAt'])}, {sql_lit(e['source'])},"
            " true)")
    for d in D.deliveries:
        ev = D.events[d["event"]]["id"]
        stmts.append(
            "INSERT INTO webhookd.delivery (id, event_pk, destination_key, status, attempts,"
            " next_attempt_at, last_status_code, created_at, delivered_at) VALUES ("
            f"{sql_lit(d['id'])}, (SELECT pk FROM webhookd.event WHERE id = {sql_lit(ev)}),"
            f" {sql_lit(d['destinationKey'])}, {sql_lit(d['status'])}, {d['attempts']},"
            f" {sql_lit(d['nextAttemptAt'])},"
            f" {'NULL' if d['lastStatusCode'] is None else d['lastStatusCode']},"
            f" {sql_lit(d['createdAt'])}, {sql_lit(d['deliveredAt'])})")
    for a in D.attempts:
        dv = D.deliveries[a["delivery"]]["id"]
        stmts.append(
            "INSERT INTO webhookd.delivery_attempt (id, delivery_pk, attempt_no, started_at,"
            " duration_ms, status_code, error, response_excerpt) VALUES ("
            f"{sql_lit(a['id'])}, (SELECT pk FROM webhookd.delivery WHERE id = {sql_lit(dv)}),"
            f" {a['attemptNo']}, {sql_lit(a['startedAt'])}, {a['durationMs']},"
            f" {'NULL' if a['statusCode'] is None else a['statusCode']}, {sql_lit(a['error'])},"
            f" {sql_lit(a['responseExcerpt'])})")
    for i in D.inbound:
        ev = "NULL" if i["event"] is None else \
            f"(SELECT pk FROM webhookd.event WHERE id = {sql_lit(D.events[i['event']]['id'])})"
        stmts.append(
            "INSERT INTO webhookd.inbound_request (id, source, received_at, verified, sender_id,"
            " duplicate, status, integration_message_id, path, event_pk) VALUES ("
            f"{sql_lit(i['id'])}, {sql_lit(i['source'])}, {sql_lit(i['receivedAt'])},"
            f" {str(i['verified']).lower()}, {sql_lit(i['senderId'])},"
            f" {str(i['duplicate']).lower()}, {i['status']}, {sql_lit(i['integrationMessageId'])},"
            f" {sql_lit(i['path'])}, {ev})")
    pg.psql("BEGIN; " + "; ".join(stmts) + "; COMMIT")
    return D


@pytest.fixture(scope="module")
def data(pg):
    return seed(pg, uid("mon"))


@pytest.fixture(scope="module")
def mon(server, users):
    return OData(server, users["viewer"].headers, base=MONITORING_BASE)


@pytest.fixture(scope="module")
def mon_admin(server, users):
    return OData(server, users["admin"].headers, base=MONITORING_BASE)


def snapshot(pg, D):
    """Every seeded row as text, to show that nothing changed."""
    T = D.T.replace("'", "''")
    return pg.psql(
        "SELECT (SELECT string_agg(x::text, ',' ORDER BY x.pk) FROM webhookd.event x"
        f"  WHERE x.id LIKE '{T}%'),"
        " (SELECT string_agg(x::text, ',' ORDER BY x.pk) FROM webhookd.delivery x"
        f"  WHERE x.id LIKE '{T}%'),"
        " (SELECT string_agg(x::text, ',' ORDER BY x.pk) FROM webhookd.delivery_attempt x"
        f"  WHERE x.id LIKE '{T}%'),"
        " (SELECT string_agg(x::text, ',' ORDER BY x.pk) FROM webhookd.inbound_request x"
        f"  WHERE x.id LIKE '{T}%')")


# ----------------------------------------------------- expected entities --

def uri(server, set_, key):
    return f"http://{server.host}:{server.port}{MONITORING_BASE}/{set_}('{key_in_uri(key)}')"


def want_event(e):
    return {"id": e["id"], "integrationObject": e["integrationObject"], "action": e["action"],
            "integrationKey": e["integrationKey"], "occurredAt": date_json(e["occurredAt"]),
            "receivedAt": date_json(e["receivedAt"]), "source": e["source"]}


def want_delivery(d):
    return {k: (date_json(v) if k.endswith("At") else v) for k, v in d.items() if k != "event"}


def want_attempt(a):
    return {k: (date_json(v) if k.endswith("At") else v) for k, v in a.items()
            if k != "delivery"}


def want_inbound(i):
    return {k: (date_json(v) if k.endswith("At") else v) for k, v in i.items() if k != "event"}


def check_event(server, got, e):
    for k, v in want_event(e).items():
        assert got[k] == v, (k, got[k], v)
    assert json.loads(got["payload"]) == e["payload"]
    check_meta(server, got, "Events", "Event", e["id"])


def check_meta(server, got, set_, type_, key):
    u = uri(server, set_, key)
    assert got["__metadata"] == {"id": u, "uri": u, "type": f"{NS}.{type_}"}, got["__metadata"]


def ids(rows):
    return [r["id"] for r in rows]


def mine(D):
    return f"startswith(id,{lit(D.T)})"


# --------------------------------------------------------- service, roles --

def test_service_document(mon):
    assert mon.d("") == {"EntitySets": SETS}
    assert mon.d("/odata2webservices/WebhookMonitoring/") == {"EntitySets": SETS}


def test_services_do_not_mix(server, users, data):
    ws = OData(server, users["viewer"].headers)
    mon = OData(server, users["viewer"].headers, base=MONITORING_BASE)
    for s in SETS:
        assert_error(ws.get(s), 404, "not_found", f"Entity set [{s}] was not found.")
    for s in ("WebhookConfigurations", "DestinationChannels", "IntegrationObjects"):
        assert_error(mon.get(s), 404, "not_found", f"Entity set [{s}] was not found.")
    assert "Events" not in ws.d("")["EntitySets"]


def test_viewer_and_admin_read(mon, mon_admin, data):
    e = data.events[0]
    assert mon.d(f"Events('{e['id']}')")["id"] == e["id"]
    assert mon_admin.d(f"Events('{e['id']}')")["id"] == e["id"]


def test_publisher_forbidden(server, users, data):
    pub = OData(server, users["publisher"].headers, base=MONITORING_BASE)
    for path in ("", "Events", f"Events('{data.events[0]['id']}')", "Deliveries/$count"):
        r = pub.get(path)
        assert r.status_code == 403, (path, r.text)
        assert_error(r, 403, "forbidden", "user is not authorized for the operation")
    r = pub.get("$metadata")               # errors of $metadata are XML
    assert r.status_code == 403 and "<code>forbidden</code>" in r.text


def test_unauthenticated(server, data):
    anon = OData(server, {}, base=MONITORING_BASE)
    for path in ("Events", "Deliveries/$count"):
        r = anon.get(path)
        assert_error(r, 401, "unauthorized", "user must be authenticated")
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = OData(server, {"Authorization": "Basic eDp5"}, base=MONITORING_BASE).get("Events")
    assert r.status_code == 401


# ---------------------------------------------------------------- by key --

def test_event_by_key(server, mon, data):
    for e in data.events:
        r = mon.get(f"Events('{path_key(e['id'])}')")
        assert r.status_code == 200, r.text
        assert "ETag" not in r.headers
        d = r.json()["d"]
        check_event(server, d, e)
        assert d["deliveries"] == {"__deferred": {"uri": uri(server, "Events", e["id"])
                                                  + "/deliveries"}}
        assert set(d) == {"__metadata", "id", "integrationObject", "action", "integrationKey",
                          "occurredAt", "receivedAt", "source", "payload", "deliveries"}


def test_pre_epoch_datetime_floors(mon, data):
    d = mon.d(f"Events('{data.events[2]['id']}')")
    assert d["occurredAt"] == "/Date(-1)/"


def test_every_set_by_key(server, mon, data):
    for d in data.deliveries:
        got = mon.d(f"Deliveries('{path_key(d['id'])}')")
        assert {k: got[k] for k in want_delivery(d)} == want_delivery(d)
        check_meta(server, got, "Deliveries", "Delivery", d["id"])
        assert set(got) == set(want_delivery(d)) | {"__metadata", "event", "deliveryAttempts"}
    for a in data.attempts:
        got = mon.d(f"DeliveryAttempts('{a['id']}')")
        assert {k: got[k] for k in want_attempt(a)} == want_attempt(a)
        check_meta(server, got, "DeliveryAttempts", "DeliveryAttempt", a["id"])
        assert got["delivery"]["__deferred"]["uri"].endswith(f"('{a['id']}')/delivery")
    for i in data.inbound:
        got = mon.d(f"InboundRequests('{i['id']}')")
        assert {k: got[k] for k in want_inbound(i)} == want_inbound(i)
        check_meta(server, got, "InboundRequests", "InboundRequest", i["id"])


def test_key_named_form(mon, data):
    e = data.events[0]
    assert mon.d(f"Events(id='{e['id']}')") == mon.d(f"Events('{e['id']}')")
    assert mon.d(f"Deliveries(id='{data.deliveries[1]['id']}')/event")["id"] == e["id"]


def test_entity_uri_reads_back(server, mon, data):
    """__metadata.uri of an odd key (quote, slash, percent, ?, #, |, +, é) is
    a working address, the same one in every kind of answer."""
    got = mon.d(f"Events('{path_key(data.odd)}')")
    assert got["id"] == data.odd
    again = mon.d(got["__metadata"]["uri"])
    assert again == got
    # rendered in SQL (an expanded collection) and in C (a listed entity)
    dkey = data.odd + "-d"
    exp = mon.d(got["__metadata"]["uri"], {"$expand": "deliveries"})
    sql_uri = exp["deliveries"]["results"][0]["__metadata"]["uri"]
    listed = mon.results("Deliveries", {"$filter": f"id eq {lit(dkey)}"})
    assert listed[0]["__metadata"]["uri"] == sql_uri == uri(server, "Deliveries", dkey)
    assert mon.d(sql_uri)["id"] == dkey
    assert mon.d(sql_uri + "/event")["id"] == data.odd


@pytest.mark.parametrize("set_,type_", [("Events", "Event"), ("Deliveries", "Delivery"),
                                        ("DeliveryAttempts", "DeliveryAttempt"),
                                        ("InboundRequests", "InboundRequest")])
def test_unknown_key_404(mon, data, set_, type_):
    k = f"{data.T}-nope"
    for pred in (f"'{k}'", f"id='{k}'"):
        r = mon.get(f"{set_}({pred})")
        assert_error(r, 404, "not_found", f"[{type_}] with id [{k}] was not found.", k)
    assert_error(mon.get(f"{set_}('')"), 404, "not_found", f"[{type_}] with id [] was not found.")


@pytest.mark.parametrize("pred,shown", [
    ("integrationKey='x'", "integrationKey='x'"), ("ID='x'", "ID='x'"),
    ("code='it''s'", "code='it''s'"), ("x", "x"), ("12", "12"), ("id%20='x'", "id ='x'"),
    ("", ""),
])
def test_bad_key_predicate(mon, pred, shown):
    for suffix in ("", "/deliveries", "/deliveries/$count"):
        r = mon.get(f"Events({pred}){suffix}")
        assert_error(r, 400, "invalid_key", f"The key [{shown}] is invalid. Address [Event] by "
                     "its key property: ('...') or (id='...').")


def test_malformed_key_predicate(mon):
    for pred in ("'a'b'", "'a", "id='a"):
        r = mon.get(f"Events({pred})")
        assert r.status_code == 400, r.text


def test_webhook_service_key_forms_unchanged(server, users):
    ws = OData(server, users["viewer"].headers)
    r = ws.get("DestinationTargets(id='a')")
    assert_error(r, 400, "invalid_key", "The integration key [id='a'] is invalid. Please consult "
                 "the IntegrationKey definition of [DestinationTarget] for configuration details.")


# ------------------------------------------------------------ navigation --

def test_navigation(mon, data):
    E, Dl, A, I = data.events, data.deliveries, data.attempts, data.inbound
    assert ids(mon.results(f"Events('{E[0]['id']}')/deliveries")) == [Dl[0]["id"], Dl[1]["id"]]
    assert ids(mon.results(f"Events('{E[1]['id']}')/deliveries")) == [Dl[2]["id"], Dl[3]["id"]]
    assert mon.d(f"Deliveries('{Dl[2]['id']}')/event")["id"] == E[1]["id"]
    assert ids(mon.results(f"Deliveries('{Dl[1]['id']}')/deliveryAttempts")) == \
        [A[1]["id"], A[2]["id"], A[3]["id"]]
    assert mon.results(f"Deliveries('{Dl[3]['id']}')/deliveryAttempts") == []
    assert mon.d(f"DeliveryAttempts('{A[4]['id']}')/delivery")["id"] == Dl[2]["id"]
    assert mon.d(f"InboundRequests('{I[0]['id']}')/event")["id"] == E[0]["id"]
    assert mon.count(f"Events('{E[0]['id']}')/deliveries") == 2
    assert mon.count(f"Deliveries('{Dl[1]['id']}')/deliveryAttempts") == 3
    # with options on the navigation
    rows = mon.results(f"Deliveries('{Dl[1]['id']}')/deliveryAttempts",
                       {"$filter": "statusCode eq 500", "$orderby": "attemptNo desc",
                        "$select": "attemptNo"})
    assert [r["attemptNo"] for r in rows] == [2, 1]
    assert set(rows[0]) == {"__metadata", "attemptNo"}


def test_navigation_missing(mon, data):
    I = data.inbound
    assert_error(mon.get(f"InboundRequests('{I[1]['id']}')/event"), 404, "not_found",
                 f"[InboundRequest] with id [{I[1]['id']}] has no [event].")
    k = f"{data.T}-nope"
    assert_error(mon.get(f"Events('{k}')/deliveries"), 404, "not_found",
                 f"[Event] with id [{k}] was not found.")
    assert_error(mon.get(f"Deliveries('{k}')/event"), 404, "not_found")
    assert_error(mon.get(f"Events('{k}')/deliveries/$count"), 404, "not_found")
    assert_error(mon.get(f"Events('{data.events[0]['id']}')/nope"), 404, "not_found",
                 "Could not find property with name: 'nope'.")


# ---------------------------------------------------------------- $expand --

def test_expand_nested(server, mon, data):
    E, Dl, A = data.events, data.deliveries, data.attempts
    got = mon.d(f"Events('{E[0]['id']}')", {"$expand": "deliveries/deliveryAttempts"})
    check_event(server, got, E[0])
    res = got["deliveries"]["results"]
    assert ids(res) == [Dl[0]["id"], Dl[1]["id"]]
    for r, d in zip(res, Dl[:2]):
        assert {k: r[k] for k in want_delivery(d)} == want_delivery(d)
        check_meta(server, r, "Deliveries", "Delivery", d["id"])
        assert r["event"] == {"__deferred": {"uri": uri(server, "Deliveries", d["id"]) + "/event"}}
    atts = res[1]["deliveryAttempts"]["results"]
    assert ids(atts) == [A[1]["id"], A[2]["id"], A[3]["id"]]
    for r, a in zip(atts, A[1:4]):
        assert {k: r[k] for k in want_attempt(a)} == want_attempt(a)


def test_expand_to_one_and_null(server, mon, data):
    E, Dl, I = data.events, data.deliveries, data.inbound
    got = mon.d(f"Deliveries('{Dl[1]['id']}')", {"$expand": "event,deliveryAttempts"})
    check_event(server, got["event"], E[0])
    assert len(got["deliveryAttempts"]["results"]) == 3
    rows = mon.results("InboundRequests", {"$filter": mine(data), "$expand": "event"})
    assert ids(rows) == ids(I)
    assert rows[0]["event"]["id"] == E[0]["id"]
    assert rows[0]["event"]["occurredAt"] == date_json(E[0]["occurredAt"])
    assert rows[1]["event"] is None
    got = mon.d(f"DeliveryAttempts('{data.attempts[0]['id']}')",
                {"$expand": "delivery/event/deliveries"})
    assert got["delivery"]["event"]["id"] == E[0]["id"]
    assert ids(got["delivery"]["event"]["deliveries"]["results"]) == [Dl[0]["id"], Dl[1]["id"]]
    # expanded collection values are the same JSON as top-level ones
    top = mon.d(f"Deliveries('{Dl[0]['id']}')")
    inner = got["delivery"]["event"]["deliveries"]["results"][0]
    assert {k: inner[k] for k in want_delivery(Dl[0])} == {k: top[k] for k in want_delivery(Dl[0])}
    assert_error(mon.get("Events", {"$expand": "nope"}), 404, "not_found",
                 "Could not find property with name: 'nope'.")


# ---------------------------------------------------------------- $select --

def test_select(server, mon, data):
    Dl = data.deliveries
    rows = mon.results("Deliveries", {"$filter": mine(data), "$select": "id,status,createdAt"})
    assert [set(r) for r in rows] == [{"__metadata", "id", "status", "createdAt"}] * len(Dl)
    assert rows[0]["createdAt"] == date_json(Dl[0]["createdAt"])
    got = mon.d(f"Deliveries('{Dl[0]['id']}')", {"$select": "event/id,event/occurredAt,id",
                                                  "$expand": "event"})
    assert set(got) == {"__metadata", "id", "event"}
    assert set(got["event"]) == {"__metadata", "id", "occurredAt"}
    got = mon.d(f"Deliveries('{Dl[0]['id']}')", {"$select": "event/*,deliveryAttempts",
                                                  "$expand": "event"})
    assert set(got) == {"__metadata", "event", "deliveryAttempts"}
    assert "deliveries" in got["event"] and "payload" in got["event"]
    got = mon.d(f"Events('{data.events[0]['id']}')", {"$select": "integrationKey,payload"})
    assert got["integrationKey"] == "Order|1" and json.loads(got["payload"])["code"] == "o1"
    assert set(mon.d(f"Events('{data.events[0]['id']}')", {"$select": "*"})) == \
        set(mon.d(f"Events('{data.events[0]['id']}')"))
    assert_error(mon.get("Events", {"$select": "nope"}), 404, "not_found",
                 "Could not find property with name: 'nope'.")


# ---------------------------------------------------------------- $filter --

def filt(D, set_, expr, orderby=None):
    opts = {"$filter": f"{mine(D)} and ({expr})"}
    if orderby:
        opts["$orderby"] = orderby
    return ids(D.mon.all_pages(set_, opts))


FILTERS = [
    # Events
    ("Events", "integrationObject eq '{io}'", ["e1", "e2"]),
    ("Events", "action eq 'deleted'", ["e3"]),
    ("Events", "integrationKey eq 'Order|1'", ["e1"]),
    ("Events", "integrationKey eq null", ["e2"]),
    ("Events", "occurredAt lt datetime'1970-01-01T00:00:00'", ["e3"]),
    ("Events", "occurredAt ge datetime'2090-01-02T09:30:00.123'", ["e2", "odd"]),
    ("Events", "occurredAt gt datetime'2090-01-02T09:30:00.123'", ["e2", "odd"]),
    ("Events", "occurredAt gt datetime'2090-01-02T09:30:00.1235'", ["odd"]),
    ("Events", "occurredAt eq datetime'2090-01-02T08:00'", ["e1"]),
    ("Events", "receivedAt lt datetimeoffset'2090-01-02T10:00:00+01:00'", ["e1"]),
    ("Events", "receivedAt lt datetimeoffset'2090-01-02T09:00:00Z'", ["e1"]),
    ("Events", "receivedAt le datetimeoffset'2090-01-02T03:30:00.456-06:00'", ["e1", "e2"]),
    ("Events", "substringof('\"total\": 5', payload)", ["e1"]),
    ("Events", "source eq 'outbox' or source eq 'src-{T}'", ["e2", "e3"]),
    ("Events", "year(occurredAt) eq 1969", ["e3"]),
    ("Events", "hour(occurredAt) eq 9 and minute(occurredAt) eq 30 and second(occurredAt) eq 0",
     ["e2"]),
    ("Events", "day(receivedAt) eq 3", ["odd"]),
    # Deliveries
    ("Deliveries", "destinationKey eq '{dA}' and status eq 'FAILED' and "
     "createdAt gt datetime'2090-01-02T09:00:00'", ["d3"]),
    ("Deliveries", "status eq 'FAILED'", ["d2", "d3"]),
    ("Deliveries", "lastStatusCode eq null", ["d3", "d4", "d5"]),
    ("Deliveries", "deliveredAt ne null", ["d1", "odd-d"]),
    ("Deliveries", "attempts ge 2", ["d2", "d3"]),
    ("Deliveries", "lastStatusCode ge 500", ["d2"]),
    ("Deliveries", "nextAttemptAt gt datetime'2098-12-31T23:59:59'", ["d5"]),
    ("Deliveries", "event/integrationObject eq '{io}' and event/action eq 'updated'", ["d3", "d4"]),
    ("Deliveries", "event/id eq '{T}-e1'", ["d1", "d2"]),
    ("Deliveries", "not (status eq 'FAILED') and deliveredAt eq null", ["d4", "d5"]),
    ("Deliveries", "deliveredAt lt createdAt", []),
    ("Deliveries", "deliveredAt gt createdAt", ["d1", "odd-d"]),
    # DeliveryAttempts
    ("DeliveryAttempts", "statusCode eq 500", ["a2", "a3"]),
    ("DeliveryAttempts", "error ne null", ["a4", "a6"]),
    ("DeliveryAttempts", "delivery/status eq 'FAILED' and durationMs lt 100", ["a5", "a6"]),
    ("DeliveryAttempts", "delivery/event/id eq '{T}-e2'", ["a5", "a6"]),
    ("DeliveryAttempts", "startedAt ge datetime'2090-01-02T08:01:03' and "
     "startedAt lt datetime'2090-01-02T09:00'", ["a3", "a4"]),
    ("DeliveryAttempts", "attemptNo eq 2 and startswith(responseExcerpt, 'boom')", ["a3"]),
    ("DeliveryAttempts", "substringof('\"bad\"', responseExcerpt)", ["a5"]),
    # InboundRequests
    ("InboundRequests", "verified eq true", ["i1", "i3"]),
    ("InboundRequests", "duplicate", ["i3"]),
    ("InboundRequests", "not verified", ["i2"]),
    ("InboundRequests", "status eq 401", ["i2"]),
    ("InboundRequests", "integrationMessageId eq 'msg-{T}-1'", ["i1", "i3"]),
    ("InboundRequests", "event/id eq '{T}-e1'", ["i1", "i3"]),
    ("InboundRequests", "event/id eq null", ["i2"]),
    ("InboundRequests", "receivedAt gt datetime'2090-01-02T08:30' and senderId eq 's1'", ["i3"]),
    ("InboundRequests", "endswith(path, '?x=1')", ["i3"]),
]


@pytest.mark.parametrize("set_,expr,want", FILTERS)
def test_filter(mon, data, set_, expr, want):
    data.mon = mon
    expr = expr.format(io=data.io, T=data.T, dA=data.dA)
    names = {r["id"]: r["id"][len(data.T) + 1:].replace(data.odd[len(data.T) + 1:], "odd")
             for rows in (data.events, data.deliveries, data.attempts, data.inbound)
             for r in rows}
    got = [names[i] for i in filt(data, set_, expr)]
    assert got == want, (expr, got)


@pytest.mark.parametrize("set_,expr,status,code,message", [
    ("Events", "occurredAt gt datetime'2090-13-01T00:00:00'", 400, "invalid_query", None),
    ("Events", "occurredAt gt datetime'2090-02-30T00:00'", 400, "invalid_query", None),
    ("Events", "occurredAt gt datetime'nope'", 400, "invalid_query", None),
    ("Events", "occurredAt gt datetimeoffset'2090-01-01T00:00:00+15:00'", 400, "invalid_query",
     None),
    ("Events", "occurredAt gt '2090-01-01T00:00:00'", 400, "invalid_query",
     "Invalid $filter: Operator 'gt' is not applicable to Edm.DateTime and Edm.String at "
     "position 11."),
    ("Events", "source eq datetime'2090-01-01T00:00'", 400, "invalid_query",
     "Invalid $filter: Operator 'eq' is not applicable to Edm.String and Edm.DateTime at "
     "position 7."),
    ("Events", "occurredAt add 1 gt 0", 400, "invalid_query", None),
    ("Deliveries", "status eq 5", 400, "invalid_query", None),
    ("Deliveries", "attempts eq 'x'", 400, "invalid_query", None),
    ("Deliveries", "length(createdAt) gt 1", 400, "invalid_query", None),
    ("InboundRequests", "verified eq 1", 400, "invalid_query", None),
    ("Events", "deliveries/id eq 'x'", 400, "filter_not_supported", None),
    ("Events", "nope eq 1", 404, "not_found", "Could not find property with name: 'nope'."),
    ("Deliveries", "event/nope eq 1", 404, "not_found",
     "Could not find property with name: 'nope'."),
    ("Deliveries", "integrationKey eq 'x'", 404, "not_found",
     "Could not find property with name: 'integrationKey'."),
    ("InboundRequests", "event eq null", 404, "not_found",
     "Could not find property with name: 'event'."),
])
def test_filter_errors(mon, set_, expr, status, code, message):
    assert_error(mon.get(set_, {"$filter": expr}), status, code, message)


def test_filter_literal_is_never_sql(mon, data):
    for expr in ("id eq 'x'' or 1=1 --'", "source eq '; DROP TABLE webhookd.event; --'",
                 "payload eq '\\'"):
        assert mon.results("Events", {"$filter": expr}) == []
    assert len(ids(mon.all_pages("Events", {"$filter": mine(data)}))) == len(data.events)


# --------------------------------------------------------------- $orderby --

def test_orderby(mon, data):
    D = data
    data.mon = mon
    rows = mon.results("Deliveries", {"$filter": mine(D), "$orderby": "createdAt desc"})
    assert ids(rows) == [d["id"] for d in sorted(D.deliveries, key=lambda d: ms(d["createdAt"]),
                                                 reverse=True)]
    rows = mon.results("Events", {"$filter": mine(D), "$orderby": "occurredAt"})
    assert ids(rows)[0] == D.events[2]["id"]          # 1969 first
    rows = mon.results("Deliveries", {"$filter": mine(D),
                                      "$orderby": "event/occurredAt desc,createdAt asc"})
    assert ids(rows) == [D.deliveries[i]["id"] for i in (5, 2, 3, 0, 1, 4)]
    rows = mon.results("DeliveryAttempts", {"$filter": mine(D),
                                            "$orderby": "statusCode desc,attemptNo desc"})
    # NULLs first with DESC (PostgreSQL: no. 3, 2), then 502, 500 (no. 2, 1), 200
    assert ids(rows) == [D.attempts[i]["id"] for i in (3, 5, 4, 2, 1, 0)]
    assert_error(mon.get("Events", {"$orderby": "deliveries/id"}), 400, "invalid_query")
    assert_error(mon.get("Events", {"$orderby": "nope"}), 404, "not_found")


# ---------------------------------------------------------------- paging --

def test_paging_with_next(start_server, users, mon, data):
    srv = start_server({"WEBHOOKD_ODATA_PAGE_SIZE": 2})
    small = OData(srv, users["viewer"].headers, base=MONITORING_BASE)
    opts = {"$filter": mine(data), "$orderby": "createdAt desc"}
    first = small.d("Deliveries", opts)
    assert len(first["results"]) == 2 and "__next" in first
    nxt = first["__next"]
    assert nxt.startswith("http://") and MONITORING_BASE + "/Deliveries?" in nxt
    assert "$skiptoken=2" in nxt
    rows = mon.all_pages("Deliveries", opts)
    assert len(rows) == 6
    paged, d = [], first
    while True:
        paged += d["results"]
        if "__next" not in d:
            break
        d = small.d(d["__next"])
    assert ids(paged) == ids(rows)
    assert len(small.all_pages("Events", {"$filter": mine(data), "$expand": "deliveries"})) == 4
    # $top within a page: no __next; $skip, $skiptoken, $top beyond the rows
    opts["$top"] = "5"
    two = mon.d("Deliveries", {**opts, "$top": "2"})
    assert ids(two["results"]) == ids(rows)[:2] and "__next" not in two
    assert ids(mon.results("Deliveries", {**opts, "$skip": "4"})) == ids(rows)[4:]
    assert ids(mon.results("Deliveries", {**opts, "$skiptoken": "5"})) == ids(rows)[5:]
    last = mon.d("Deliveries", {**opts, "$top": "100"})
    assert "__next" not in last and len(last["results"]) == 6


def test_page_max_caps_top(start_server, users, data):
    srv = start_server({"WEBHOOKD_ODATA_PAGE_SIZE": 2, "WEBHOOKD_ODATA_PAGE_MAX": 3})
    mon = OData(srv, users["viewer"].headers, base=MONITORING_BASE)
    d = mon.d("DeliveryAttempts", {"$filter": mine(data), "$orderby": "startedAt,id"})
    assert len(d["results"]) == 2 and "__next" in d
    d = mon.d("DeliveryAttempts", {"$filter": mine(data), "$top": "5"})
    assert len(d["results"]) == 3 and "$top=2" in d["__next"]
    assert len(mon.all_pages("DeliveryAttempts", {"$filter": mine(data)})) == 6


# ---------------------------------------------------- $count, $inlinecount --

def test_count_and_inlinecount(mon, data):
    f = {"$filter": f"{mine(data)} and status eq 'FAILED'"}
    assert mon.count("Deliveries", f) == 2
    assert mon.count("Deliveries", {**f, "$top": "1", "$skip": "1", "$orderby": "id"}) == 2
    d = mon.d("Deliveries", {**f, "$inlinecount": "allpages", "$top": "1"})
    assert d["__count"] == "2" and len(d["results"]) == 1 and "__next" not in d
    d = mon.d("Events", {"$filter": mine(data), "$inlinecount": "none"})
    assert "__count" not in d
    for s, n in (("Events", 4), ("DeliveryAttempts", 6), ("InboundRequests", 3)):
        assert mon.count(s, {"$filter": mine(data)}) == n
    assert mon.count("Events") >= 4
    d = mon.d(f"Deliveries('{data.deliveries[1]['id']}')/deliveryAttempts",
              {"$inlinecount": "allpages", "$top": "1"})
    assert d["__count"] == "3"


def test_format(mon, data):
    assert mon.d(f"Events('{data.events[0]['id']}')", {"$format": "json"})["id"] == \
        data.events[0]["id"]
    assert_error(mon.get("Events", {"$format": "xml"}), 415, "unsupported_media_type")


def test_head_and_csrf(mon, data):
    r = mon.head("Events", headers={"X-CSRF-Token": "Fetch"})
    assert r.status_code == 200 and r.headers.get("X-CSRF-Token")


# -------------------------------------------------------------- $metadata --

def test_metadata(server, mon):
    r = mon.get("$metadata")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == q(EDMX, "Edmx")
    schemas = root.findall(f"{q(EDMX, 'DataServices')}/{q(EDM, 'Schema')}")
    assert len(schemas) == 1 and schemas[0].get("Namespace") == NS
    schema = schemas[0]
    types = {t.get("Name"): t for t in schema.findall(q(EDM, "EntityType"))}
    assert list(types) == ["Event", "Delivery", "DeliveryAttempt", "InboundRequest"]
    props = {}
    for name, t in types.items():
        keys = [p.get("Name") for p in t.findall(f"{q(EDM, 'Key')}/{q(EDM, 'PropertyRef')}")]
        assert keys == ["id"], (name, keys)
        props[name] = {p.get("Name"): p for p in t.findall(q(EDM, "Property"))}
        assert props[name]["id"].get("Nullable") == "false"
        assert props[name]["id"].get("Type") == "Edm.String"
    assert list(props["Event"]) == ["id", "integrationObject", "action", "integrationKey",
                                    "occurredAt", "receivedAt", "source", "payload"]
    assert list(props["Delivery"]) == ["id", "status", "destinationKey", "attempts",
                                       "nextAttemptAt", "lastStatusCode", "createdAt",
                                       "deliveredAt"]
    assert list(props["DeliveryAttempt"]) == ["id", "attemptNo", "startedAt", "durationMs",
                                              "statusCode", "error", "responseExcerpt"]
    assert list(props["InboundRequest"]) == ["id", "source", "receivedAt", "verified",
                                             "senderId", "duplicate", "status",
                                             "integrationMessageId", "path"]
    types_of = {(t, p): e.get("Type") for t, ps in props.items() for p, e in ps.items()}
    for (t, p), edm in types_of.items():
        if p.endswith("At"):
            assert edm == "Edm.DateTime", (t, p)
            assert props[t][p].get("Precision") == "3"
        elif p in ("attempts", "lastStatusCode", "attemptNo", "durationMs", "statusCode") or \
                (t == "InboundRequest" and p == "status"):
            assert edm == "Edm.Int32", (t, p)
        elif p in ("verified", "duplicate"):
            assert edm == "Edm.Boolean", (t, p)
        else:
            assert edm == "Edm.String", (t, p)
    assert props["Delivery"]["deliveredAt"].get("Nullable") is None
    assert props["Delivery"]["createdAt"].get("Nullable") == "false"
    assert props["Event"]["integrationKey"].get("Nullable") is None
    navs = {(t, n.get("Name")): n for t, e in types.items()
            for n in e.findall(q(EDM, "NavigationProperty"))}
    assert set(navs) == {("Event", "deliveries"), ("Delivery", "event"),
                         ("Delivery", "deliveryAttempts"), ("DeliveryAttempt", "delivery"),
                         ("InboundRequest", "event")}
    assocs = {a.get("Name"): {e.get("Role"): (e.get("Type"), e.get("Multiplicity"))
                              for e in a.findall(q(EDM, "End"))}
              for a in schema.findall(q(EDM, "Association"))}
    assert assocs["FK_Event_deliveries"] == {"Event": (f"{NS}.Event", "1"),
                                             "Delivery": (f"{NS}.Delivery", "*")}
    assert assocs["FK_InboundRequest_event"] == {"InboundRequest": (f"{NS}.InboundRequest", "*"),
                                                 "Event": (f"{NS}.Event", "0..1")}
    assert assocs["FK_Delivery_event"]["Event"] == (f"{NS}.Event", "1")
    for (t, n), e in navs.items():
        assert e.get("Relationship") == f"{NS}.FK_{t}_{n}"
    container = schema.find(q(EDM, "EntityContainer"))
    sets = container.findall(q(EDM, "EntitySet"))
    assert [s.get("Name") for s in sets] == SETS
    for s in sets:
        for a in ("creatable", "updatable", "deletable"):
            assert s.get(q(SAP, a)) == "false"
    assert len(container.findall(q(EDM, "AssociationSet"))) == len(assocs) == 5
    text = r.text
    for ws_type in ("WebhookConfiguration", "ConsumedDestination", "IntegrationObject",
                    "integration_key"):
        assert ws_type not in text
    if shutil.which("xmllint"):
        p = subprocess.run(["xmllint", "--noout", "-"], input=r.content, capture_output=True)
        assert p.returncode == 0, p.stderr


def test_webhook_service_metadata_has_no_monitoring_types(server, users):
    ws = OData(server, users["viewer"].headers)
    r = ws.get("$metadata")
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    names = {t.get("Name") for t in root.iter(q(EDM, "EntityType"))}
    assert "WebhookConfiguration" in names
    assert not names & {"Event", "Delivery", "DeliveryAttempt", "InboundRequest"}
    assert "Edm.DateTime" not in r.text and "Deliveries" not in r.text


# ------------------------------------------------------------------ $batch --

BOUNDARY = "batch_mon1"


def batch_body(parts):
    """parts: ("GET", url) or ("changeset", [(method, url, body)])."""
    out = []
    for p in parts:
        out.append(f"--{BOUNDARY}\r\n")
        if p[0] == "changeset":
            cs = "changeset_mon1"
            out.append(f"Content-Type: multipart/mixed; boundary={cs}\r\n\r\n")
            for i, (m, u, b) in enumerate(p[1]):
                body = json.dumps(b) if b is not None else ""
                out.append(f"--{cs}\r\nContent-Type: application/http\r\n"
                           f"Content-Transfer-Encoding: binary\r\nContent-ID: {i + 1}\r\n\r\n"
                           f"{m} {u} HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
                           f"{body}\r\n")
            out.append(f"--{cs}--\r\n")
        else:
            out.append("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                       f"\r\n{p[0]} {p[1]} HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n")
    out.append(f"--{BOUNDARY}--\r\n")
    return "".join(out)


def batch_parts(r):
    """[(status, body text)] of every response part, change sets flattened."""
    return [(int(m.group(1)), m.group(2)) for m in re.finditer(
        r"HTTP/1\.1 (\d{3})[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)(?=\r\n--)", r.text, re.S)]


def post_batch(client, parts):
    return client.post("$batch", batch_body(parts),
                       headers={"Content-Type": f"multipart/mixed; boundary={BOUNDARY}"})


def test_batch_of_gets(mon, data):
    E, Dl = data.events, data.deliveries
    r = post_batch(mon, [
        ("GET", f"Events('{E[0]['id']}')"),
        ("GET", f"{MONITORING_BASE}/Deliveries?$filter=" +
         urllib.parse.quote(f"{mine(data)} and status eq 'FAILED'") + "&$orderby=createdAt%20desc"
         "&$expand=deliveryAttempts&$inlinecount=allpages"),
        ("GET", f"Deliveries/$count?$filter={urllib.parse.quote(mine(data))}"),
        ("GET", f"Events('{data.T}-nope')"),
        ("GET", "$metadata"),
    ])
    assert r.status_code == 202, r.text
    assert r.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    parts = batch_parts(r)
    assert [p[0] for p in parts] == [200, 200, 200, 404, 200]
    assert json.loads(parts[0][1])["d"]["id"] == E[0]["id"]
    d = json.loads(parts[1][1])["d"]
    assert ids(d["results"]) == [Dl[2]["id"], Dl[1]["id"]] and d["__count"] == "2"
    assert len(d["results"][1]["deliveryAttempts"]["results"]) == 3
    assert parts[2][1].strip() == "6"
    assert json.loads(parts[3][1])["error"]["code"] == "not_found"
    assert "EntityType Name=\"Event\"" in parts[4][1]


def test_batch_changeset_is_405(pg, mon_admin, data):
    before = snapshot(pg, data)
    E = data.events
    r = post_batch(mon_admin, [
        ("GET", f"Events('{E[0]['id']}')"),
        ("changeset", [("PATCH", f"Events('{E[0]['id']}')", {"source": "x"}),
                       ("DELETE", f"Events('{E[1]['id']}')", None)]),
        ("changeset", [("POST", "Events", {"id": "new"})]),
        ("GET", f"Events('{E[1]['id']}')"),
    ])
    assert r.status_code == 202, r.text
    parts = batch_parts(r)
    assert [p[0] for p in parts] == [200, 405, 405, 200], parts
    for p in parts[1:3]:
        err = json.loads(p[1])["error"]
        assert err["code"] == "method_not_allowed" and err["message"]["value"] == READ_ONLY
    assert snapshot(pg, data) == before


# ------------------------------------------------------------------ writes --

WRITES = [
    ("POST", "Events", {"id": "new"}, None),
    ("POST", "Deliveries", {"id": "new"}, None),
    ("PUT", "Events('{e}')", {"source": "x"}, None),
    ("PATCH", "Events('{e}')", {"source": "x"}, None),
    ("MERGE", "Events('{e}')", {"source": "x"}, None),
    ("DELETE", "Events('{e}')", None, None),
    ("DELETE", "Deliveries('{d}')", None, None),
    ("PATCH", "DeliveryAttempts('{a}')", {"error": None}, None),
    ("PUT", "InboundRequests('{i}')", {"verified": True}, None),
    ("DELETE", "Events('{e}')/deliveries", None, None),
    ("POST", "Events('{e}')", {"source": "x"}, {"X-HTTP-Method": "MERGE"}),
    ("POST", "Events('{e}')", {"source": "x"}, {"X-HTTP-Method": "PATCH"}),
    ("POST", "Events('{e}')", {"source": "x"}, {"X-HTTP-Method": "PUT"}),
    ("POST", "Events('{e}')", None, {"X-HTTP-Method": "DELETE"}),
    ("POST", "Events", {"id": "new"}, {"X-HTTP-Method": "FOO"}),
    ("POST", "", {"id": "new"}, None),
    ("POST", "$metadata", {"id": "new"}, None),
    ("DELETE", "Nope('x')", None, None),
    ("POST", "Events", "not json", {"Content-Type": "text/plain"}),
]


@pytest.mark.parametrize("method,path,body,headers", WRITES)
def test_writes_are_405(pg, server, users, data, method, path, body, headers):
    before = snapshot(pg, data)
    path = path.format(e=data.events[0]["id"], d=data.deliveries[0]["id"],
                       a=data.attempts[0]["id"], i=data.inbound[0]["id"])
    for user in ("admin", "viewer"):
        c = OData(server, users[user].headers, base=MONITORING_BASE)
        r = c.request(method, path, body, headers=headers)
        if path == "$metadata":            # errors of $metadata are XML
            assert r.status_code == 405 and "<code>method_not_allowed</code>" in r.text
            assert READ_ONLY in r.text
        else:
            assert_error(r, 405, "method_not_allowed", READ_ONLY, None)
        assert r.headers["Allow"] == "GET, HEAD"
    assert snapshot(pg, data) == before
    assert OData(server, users["viewer"].headers, base=MONITORING_BASE).d(
        f"Events('{data.events[0]['id']}')")["source"] == data.events[0]["source"]


def test_write_publisher_is_403(server, users, data):
    pub = OData(server, users["publisher"].headers, base=MONITORING_BASE)
    assert_error(pub.post("Events", {"id": "x"}), 403, "forbidden")


def test_webhook_service_writes_still_work(server, users):
    admin = OData(server, users["admin"].headers)
    code = uid("io")
    assert admin.create("IntegrationObjects", {"code": code})["code"] == code
    r = admin.delete(f"IntegrationObjects('{code}')")
    assert r.status_code == 204, r.text
