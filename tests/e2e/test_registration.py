"""The registration API (dispatch.md, "Registration API (for CI scripts)").

POST/GET/DELETE /api/v1/webhooks: what one call creates (a DestinationTarget,
EventConfigurations, a ConsumedDestination and WebhookConfigurations),
that it is all or nothing, that the objects are ordinary OData entities
afterwards, that the signing key is shown once, and that a registered
webhook really delivers, signed with that key.
"""
import base64
import json
import re
import threading

import pytest

from conftest import SANITIZED, odata_error, wait_for
from odata_helpers import (ITEM_CREATED, ITEM_DELETED, ITEM_SAVED, ITEM_UPDATED, OData,
                           assert_error, entity_path, integration_key, integration_object, uid)
from sink import Sink, verify
from test_dispatch import DISPATCHER, cleanup as quiesce

API = "/api/v1/webhooks"
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FIELDS = ["uuid", "name", "description", "url", "triggers", "signing_alg"]
TABLES = ["registration", "destination_target", "event_configuration",
          "consumed_destination", "webhook_configuration"]
EVENT_OF = {"saved": ITEM_SAVED, "created": ITEM_CREATED, "updated": ITEM_UPDATED,
            "deleted": ITEM_DELETED}
WAIT = 45 if SANITIZED else 15


# ---------------------------------------------------------------- helpers --

@pytest.fixture(scope="module")
def odata(server, users):
    return OData(server, users["admin"].headers)


@pytest.fixture(scope="module")
def ios(odata):
    """Factory: new IntegrationObjects with unique codes."""
    def make(*prefixes):
        codes = [uid(p) for p in prefixes]
        for c in codes:
            odata.create("IntegrationObjects", integration_object(c))
        return codes
    return make


def call(server, user, method, path=API, body=None, raw=None, headers=None):
    h = dict(user.headers) if user is not None else {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    return server.request(method, path, data=data, headers=h)


def register(server, admin, url="https://hooks.example/ci", triggers=(), **extra):
    body = {"url": url, "name": "AwardFeed", "description": "All WebHook SCPI DEV",
            "triggers": list(triggers), "signing_alg": "HMAC_SHA256"}
    body.update(extra)
    r = call(server, admin, "POST", body=body)
    assert r.status_code == 201, r.text
    return r.json()


def counts(pg):
    return pg.psql(" UNION ALL ".join(
        f"SELECT '{t}', count(*) FROM webhookd.{t}" for t in TABLES))


def view(created):
    """The GET shape of a 201 body."""
    return {k: v for k, v in created.items() if k != "signing_key"}


# ---------------------------------------------------------------- create --

def test_register_returns_everything_and_the_key_once(server, users, ios):
    admin = users["admin"]
    order, cart = ios("OrderIO", "CartIO")
    body = {"url": "https://dev-api.example.com/status", "name": "AwardFeed",
            "description": "All WebHook SCPI DEV",
            "triggers": [f"{order}.created", f"{cart}.updated"],
            "signing_alg": "HMAC_SHA256",
            # the seed's "seeding" key: not the key, ignored
            "signing_key": "tEnAvVNFx4YYTnAimo1ABwtfGNyndEM7yZwh8BZ4BrI="}
    r = call(server, admin, "POST", body=body)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/json"
    got = r.json()
    assert list(got) == FIELDS + ["signing_key"]
    assert UUID4.match(got["uuid"]), got["uuid"]
    assert r.headers["Location"] == f"{API}/{got['uuid']}"
    assert {k: got[k] for k in FIELDS[1:]} == {k: body[k] for k in FIELDS[1:]}
    key = got["signing_key"]
    assert key.startswith("whsec_") and key != "whsec_" + body["signing_key"]
    assert len(base64.b64decode(key[6:], validate=True)) == 32

    one = call(server, admin, "GET", f"{API}/{got['uuid']}")
    assert one.status_code == 200 and one.headers["Content-Type"] == "application/json"
    assert one.json() == view(got) and list(one.json()) == FIELDS
    listed = call(server, admin, "GET")
    assert listed.status_code == 200
    assert view(got) in listed.json()
    assert key[6:] not in listed.text and "signing_key" not in listed.text
    # upper-case uuid text names the same registration
    assert call(server, admin, "GET", f"{API}/{got['uuid'].upper()}").json() == view(got)


def test_the_key_is_stored_encrypted(server, users, ios, pg):
    got = register(server, users["admin"], triggers=[f"{ios('OrderIO')[0]}.saved"])
    stored = pg.psql("SELECT signing_secret FROM webhookd.consumed_destination"
                     f" WHERE id = '{got['uuid']}'")
    assert stored.startswith("v1:") and got["signing_key"][6:] not in stored


def test_defaults_and_optional_fields(server, users, ios, odata):
    code = ios("IO")[0]
    r = call(server, users["admin"], "POST",
             body={"url": "http://h.example/x", "triggers": [f"{code}.deleted"]})
    assert r.status_code == 201, r.text
    got = r.json()
    assert view(got) == {"uuid": got["uuid"], "name": None, "description": None,
                         "url": "http://h.example/x", "triggers": [f"{code}.deleted"],
                         "signing_alg": "HMAC_SHA256"}


def test_signing_alg_none(server, users, ios, odata):
    got = register(server, users["admin"], triggers=[f"{ios('IO')[0]}.saved"], signing_alg="NONE")
    assert got["signing_alg"] == "NONE" and got["signing_key"].startswith("whsec_")
    dest = odata.d(entity_path("ConsumedDestinations", integration_key(got["uuid"], got["uuid"])))
    assert dest["signingAlgorithm"] == "NONE"


def test_list_is_ordered_by_creation(server, users, ios):
    code = ios("IO")[0]
    made = [register(server, users["admin"], triggers=[f"{code}.saved"], name=f"n{i}")["uuid"]
            for i in range(3)]
    listed = [w["uuid"] for w in call(server, users["admin"], "GET").json()]
    assert [u for u in listed if u in made] == made
    assert listed[-3:] == made


# ---------------------------------------------------------- the OData view --

def test_created_objects_are_ordinary_odata_entities(server, users, ios, odata):
    # a code whose key part is encoded, and one with dots (split at the last)
    order, cart, dotted = ios("OrderIO", "Cart IO|x", "com.acme.Order")
    triggers = [f"{order}.created", f"{cart}.created", f"{order}.saved", f"{cart}.deleted",
                f"{dotted}.updated"]
    got = register(server, users["admin"], url="https://h.example/ci?a=1", triggers=triggers)
    u = got["uuid"]

    target = odata.d(entity_path("DestinationTargets", u), {"expand": "destinationChannel"})
    assert target["id"] == u and target["integrationKey"] == u
    assert target["destinationChannel"]["code"] == "WEBHOOKSERVICES"

    # OrderIO.created and CartIO.created share an event class: versions 1 and 2
    want = {(ITEM_CREATED, 1): f"{order}.created", (ITEM_CREATED, 2): f"{cart}.created",
            (ITEM_SAVED, 1): f"{order}.saved", (ITEM_DELETED, 1): f"{cart}.deleted",
            (ITEM_UPDATED, 1): f"{dotted}.updated"}
    for (cls, version), export in want.items():
        key = integration_key(u, cls, version)
        ec = odata.d(entity_path("EventConfigurations", key))
        assert (ec["integrationKey"], ec["eventClass"], ec["version"], ec["exportName"]) == \
            (key, cls, version, export)
    assert odata.count("EventConfigurations", {"filter": f"destinationTarget/id eq '{u}'"}) == 5

    dkey = integration_key(u, u)
    dest = odata.d(entity_path("ConsumedDestinations", dkey))
    assert (dest["id"], dest["url"], dest["signingAlgorithm"], dest["active"]) == \
        (u, "https://h.example/ci?a=1", "HMAC_SHA256", True)
    assert "signingSecret" not in dest

    for t in triggers:
        code, action = t.rsplit(".", 1)
        key = integration_key(u, u, code, EVENT_OF[action])
        wc = odata.d(entity_path("WebhookConfigurations", key),
                     {"expand": "integrationObject,destination"})
        assert wc["integrationKey"] == key and wc["eventType"] == EVENT_OF[action]
        assert wc["integrationObject"]["code"] == code and wc["destination"]["id"] == u
    assert odata.count("WebhookConfigurations",
                       {"filter": f"destination/destinationTarget/id eq '{u}'"}) == 5


def test_url_is_read_live_from_the_destination(server, users, ios, odata):
    got = register(server, users["admin"], triggers=[f"{ios('IO')[0]}.saved"])
    path = entity_path("ConsumedDestinations", integration_key(got["uuid"], got["uuid"]))
    r = odata.patch(path, {"url": "https://moved.example/h"})
    assert r.status_code == 200, r.text
    one = call(server, users["admin"], "GET", f"{API}/{got['uuid']}").json()
    assert one["url"] == "https://moved.example/h"


# ------------------------------------------------------------ validation --

def assert_nothing_created(server, users, pg, body, status, code, message=None, inner=...):
    before = counts(pg)
    r = call(server, users["admin"], "POST", body=body)
    if inner is ...:
        assert_error(r, status, code, message)
    else:
        assert_error(r, status, code, message, inner)
    assert counts(pg) == before
    return r


def test_unknown_integration_object_creates_nothing(server, users, ios, pg):
    order = ios("OrderIO")[0]
    bad = uid("FooIO") + ".created"
    assert_nothing_created(server, users, pg,
                           {"url": "https://h.example/x", "triggers": [f"{order}.created", bad]},
                           400, "invalid_trigger", f"Trigger [{bad}] names no integration object.",
                           bad)


def test_unknown_action(server, users, ios, pg):
    t = ios("OrderIO")[0] + ".fired"
    assert_nothing_created(server, users, pg, {"url": "https://h.example/x", "triggers": [t]},
                           400, "invalid_trigger", f"Trigger [{t}] has an unknown action; use "
                           "saved, created, updated or deleted.", t)


@pytest.mark.parametrize("trigger", ["OrderIO", ".created", "OrderIO.", "", "."])
def test_malformed_trigger(server, users, pg, trigger):
    assert_nothing_created(server, users, pg, {"url": "https://h.example/x", "triggers": [trigger]},
                           400, "invalid_trigger", f"Trigger [{trigger}] is not of the form "
                           "<IntegrationObject code>.<saved|created|updated|deleted>.",
                           trigger or "triggers[0]")


@pytest.mark.parametrize("value", [5, None, ["a.created"], {"a": 1}, True])
def test_non_string_trigger(server, users, pg, ios, value):
    good = ios("IO")[0] + ".saved"
    assert_nothing_created(server, users, pg, {"url": "https://h.example/x",
                                               "triggers": [good, value]},
                           400, "invalid_trigger", "Trigger triggers[1] is not a string.",
                           "triggers[1]")


@pytest.mark.parametrize("triggers", [[], "IO.saved", None, {"IO.saved": 1}, 3])
def test_triggers_must_be_a_non_empty_array(server, users, pg, triggers):
    body = {"url": "https://h.example/x"}
    if triggers is not None:
        body["triggers"] = triggers
    assert_nothing_created(server, users, pg, body, 400, "invalid_attribute_value",
                           "Field [triggers] is required: an array of 1 to 100 strings "
                           "<IntegrationObject code>.<action>.", "triggers")


def test_duplicate_triggers_are_refused(server, users, pg, ios):
    t = ios("IO")[0] + ".created"
    assert_nothing_created(server, users, pg, {"url": "https://h.example/x", "triggers": [t, t]},
                           400, "invalid_trigger", f"Trigger [{t}] is listed more than once.", t)


def test_unknown_fields_are_named(server, users, pg, ios):
    t = ios("IO")[0] + ".created"
    assert_nothing_created(server, users, pg, {"url": "https://h.example/x", "triggers": [t],
                                               "secret": "x"},
                           400, "unknown_field", "Field [secret] is not known; the fields are "
                           "url, name, description, triggers, signing_alg.", "secret")


@pytest.mark.parametrize("url", ["ftp://h.example/x", "not a url", "/relative", "https://",
                                 "http://h example/x"])
def test_bad_url_is_400_from_the_model_check(server, users, pg, ios, url):
    t = ios("IO")[0] + ".created"
    assert_nothing_created(server, users, pg, {"url": url, "triggers": [t]}, 400,
                           "invalid_attribute_value",
                           "[ConsumedDestination] url must be an absolute http or https URL.", "url")


@pytest.mark.parametrize("url", [None, "", 5, ["https://h.example"], "https://h.example/\x01",
                                 "https://h.example/" + "a" * 2048])
def test_missing_or_unusable_url(server, users, pg, ios, url):
    body = {"triggers": [ios("IO")[0] + ".created"]}
    if url is not None:
        body["url"] = url
    assert_nothing_created(server, users, pg, body, 400, "invalid_attribute_value",
                           "Field [url] is required: an absolute http or https URL of at most "
                           "2048 bytes.", "url")


@pytest.mark.parametrize("field,value", [("name", 5), ("description", ["x"]), ("name", "x" * 256),
                                         ("signing_alg", 1)])
def test_optional_fields_must_be_strings(server, users, pg, ios, field, value):
    body = {"url": "https://h.example/x", "triggers": [ios("IO")[0] + ".created"], field: value}
    max_len = 255 if field == "name" else 4096 if field == "description" else 32
    assert_nothing_created(server, users, pg, body, 400, "invalid_attribute_value",
                           f"Field [{field}] must be a string of at most {max_len} bytes.", field)


@pytest.mark.parametrize("alg", ["HMAC_SHA512", "hmac_sha256", ""])
def test_unknown_signing_alg(server, users, pg, ios, alg):
    body = {"url": "https://h.example/x", "triggers": [ios("IO")[0] + ".created"],
            "signing_alg": alg}
    assert_nothing_created(server, users, pg, body, 400, "invalid_attribute_value",
                           f"Field [signing_alg] must be HMAC_SHA256 or NONE, not [{alg}].",
                           "signing_alg")


@pytest.mark.parametrize("raw,message", [
    (b"{", None), (b"", None), (b'{"url": "a", "url": "b"}', None),
    (b"[]", "The payload must be a JSON object."), (b'"x"', "The payload must be a JSON object."),
])
def test_bad_json_is_malformed_payload(server, users, pg, raw, message):
    before = counts(pg)
    r = call(server, users["admin"], "POST", raw=raw, headers={"Content-Type": "application/json"})
    _, msg, _ = assert_error(r, 400, "malformed_payload", message, None)
    if message is None:
        assert msg.startswith("The payload is not valid JSON: ")
    assert counts(pg) == before


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx"])
def test_other_media_types_are_415(server, users, pg, ios, ctype):
    body = json.dumps({"url": "https://h.example/x", "triggers": [ios("IO")[0] + ".created"]})
    before = counts(pg)
    r = call(server, users["admin"], "POST", raw=body.encode(), headers={"Content-Type": ctype})
    assert r.status_code == 415
    assert r.content == odata_error("unsupported_media_type", f"Media type [{ctype}] is not supported.")
    assert counts(pg) == before


@pytest.mark.parametrize("ctype", [None, "application/json; charset=UTF-8"])
def test_json_media_types_are_accepted(server, users, ios, ctype):
    body = json.dumps({"url": "https://h.example/x", "triggers": [ios("IO")[0] + ".created"]})
    r = call(server, users["admin"], "POST", raw=body.encode(),
             headers={"Content-Type": ctype} if ctype else None)
    assert r.status_code == 201, r.text


# ------------------------------------------------------- auth and routing --

@pytest.mark.parametrize("method,path", [("GET", API), ("POST", API),
                                         ("GET", f"{API}/00000000-0000-4000-8000-000000000000"),
                                         ("DELETE", f"{API}/00000000-0000-4000-8000-000000000000")])
def test_admin_only(server, users, method, path):
    r = call(server, None, method, path)
    assert r.status_code == 401
    for role in ("viewer", "publisher"):
        r = call(server, users[role], method, path)
        assert_error(r, 403, "forbidden")


def test_methods_and_paths(server, users):
    admin = users["admin"]
    r = call(server, admin, "DELETE")
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, POST"
    r = call(server, admin, "POST", f"{API}/00000000-0000-4000-8000-000000000000", body={})
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, DELETE"
    assert_error(call(server, admin, "GET", f"{API}/a/b"), 404, "not_found")


@pytest.mark.parametrize("seg", ["00000000-0000-4000-8000-000000000000", "nope", "%ZZ",
                                 "00000000-0000-4000-8000-00000000000", "'; DROP TABLE x; --"])
def test_unknown_or_malformed_uuid_is_404(server, users, seg):
    for method in ("GET", "DELETE"):
        assert_error(call(server, users["admin"], method, f"{API}/{seg}"), 404, "not_found",
                     "No webhook is registered under this uuid.", None)


# ---------------------------------------------------------------- delete --

def test_delete_removes_every_created_row(server, users, ios, pg, odata):
    admin = users["admin"]
    order, cart = ios("OrderIO", "CartIO")
    before = counts(pg)
    got = register(server, admin, triggers=[f"{order}.created", f"{cart}.created",
                                            f"{order}.deleted"])
    assert counts(pg) != before
    r = call(server, admin, "DELETE", f"{API}/{got['uuid']}")
    assert r.status_code == 204 and r.content == b""
    assert counts(pg) == before
    assert_error(call(server, admin, "GET", f"{API}/{got['uuid']}"), 404, "not_found")
    assert_error(call(server, admin, "DELETE", f"{API}/{got['uuid']}"), 404, "not_found")
    assert got["uuid"] not in call(server, admin, "GET").text
    assert odata.get(entity_path("DestinationTargets", got["uuid"])).status_code == 404
    # referenced items stay
    assert odata.get(entity_path("IntegrationObjects", order)).status_code == 200


def test_concurrent_registrations_do_not_collide(server, users, ios):
    order, cart = ios("OrderIO", "CartIO")
    triggers = [f"{order}.created", f"{cart}.created"]
    results = []

    def one():
        results.append(call(server, users["admin"], "POST",
                            body={"url": "https://h.example/x", "triggers": triggers}))
    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 8, [r.text for r in results]
    uuids = {r.json()["uuid"] for r in results}
    keys = {r.json()["signing_key"] for r in results}
    assert len(uuids) == 8 and len(keys) == 8


# -------------------------------------------------------------- delivery --

@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_a_registered_webhook_delivers_signed_with_the_returned_key(start_server, users, pg,
                                                                    sink, ios):
    quiesce(pg)
    srv = start_server(DISPATCHER)
    code = ios("OrderIO")[0]
    path = "/" + uid("reg")
    got = register(srv, users["admin"], url=sink.url(path), triggers=[f"{code}.created"])

    def publish(action):
        ev = {"id": uid("ev"), "integrationObject": code, "action": action,
              "integrationKey": "o-1", "payload": {"code": "o-1", "action": action}}
        r = call(srv, users["publisher"], "POST", "/api/v1/events", body=ev)
        assert r.status_code == 202, r.text
        return ev["id"]

    skipped = [publish("updated"), publish("deleted")]
    delivered = publish("created")
    got_req = sink.wait(1, path, timeout=WAIT)[0]
    assert json.loads(got_req["body"]) == {"code": "o-1", "action": "created"}
    assert verify(got["signing_key"], got_req["headers"], got_req["body"])
    assert got_req["headers"]["ce-type"] == f"sap.cx.commerce.{code}.Created.v1"
    ids = ",".join(f"'{i}'" for i in skipped + [delivered])
    wait_for(lambda: pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id IN ({ids})"
                             " AND fanned_out") == "3", WAIT, what="fan-out")
    assert pg.psql("SELECT count(*) FROM webhookd.delivery d JOIN webhookd.event e"
                   f" ON e.pk = d.event_pk WHERE e.id IN ({ids})") == "1"
    assert len(sink.received(path)) == 1

    # unregistered: a later event goes nowhere
    assert call(srv, users["admin"], "DELETE", f"{API}/{got['uuid']}").status_code == 204
    late = publish("created")
    wait_for(lambda: pg.psql(f"SELECT fanned_out FROM webhookd.event WHERE id = '{late}'") == "t",
             WAIT, what="fan-out")
    assert pg.psql("SELECT count(*) FROM webhookd.delivery d JOIN webhookd.event e"
                   f" ON e.pk = d.event_pk WHERE e.id = '{late}'") == "0"
    quiesce(pg)
