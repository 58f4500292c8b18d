"""The write side of the WebhookService OData API (odata.md "Operations"):
POST as deep upsert, PATCH/MERGE/PUT/DELETE, nested collections replaced,
ETags and If-Match, write-only values, WebhookConfiguration validation,
payload errors, persist hooks and integrationMessageId.

The session shares one database: every test makes its own rows with unique
ids (uid) and counts only rows carrying its own tag."""
import base64
import json
import re

import pytest

from conftest import odata_error, wait_for
from odata_helpers import (
    BASE, ITEM_CREATED, ITEM_DELETED, ITEM_SAVED, ITEM_UPDATED, NS, OData, assert_error,
    consumed_destination, destination_target, entity_path, integration_key, make_webhook, uid,
    webhook_configuration,
)

FORBIDDEN = odata_error("forbidden", "user is not authorized for the operation")
STORED_SECRET = re.compile(r"^v1:[A-Za-z0-9_-]{1,16}:[A-Za-z0-9+/]+=*$")


def url(server, set_, key):
    return server.url(entity_path(set_, key))


# ---------------------------------------------------------------- database --

COUNTS_SQL = """SELECT json_build_object(
 'webhook_configuration', (SELECT count(*) FROM webhookd.webhook_configuration w
     JOIN webhookd.consumed_destination d ON d.pk = w.consumed_destination_pk WHERE d.id LIKE '%{t}%'),
 'consumed_destination', (SELECT count(*) FROM webhookd.consumed_destination WHERE id LIKE '%{t}%'),
 'destination_target', (SELECT count(*) FROM webhookd.destination_target WHERE id LIKE '%{t}%'),
 'event_configuration', (SELECT count(*) FROM webhookd.event_configuration e
     JOIN webhookd.destination_target t ON t.pk = e.destination_target_pk WHERE t.id LIKE '%{t}%'),
 'string2string_map', (SELECT count(*) FROM webhookd.string2string_map s
     JOIN webhookd.consumed_destination d ON d.pk = s.owner_pk WHERE d.id LIKE '%{t}%'),
 'basic_credential', (SELECT count(*) FROM webhookd.basic_credential WHERE id LIKE '%{t}%'),
 'consumed_oauth_credential', (SELECT count(*) FROM webhookd.consumed_oauth_credential WHERE id LIKE '%{t}%'),
 'endpoint', (SELECT count(*) FROM webhookd.endpoint WHERE id LIKE '%{t}%'),
 'integration_object', (SELECT count(*) FROM webhookd.integration_object WHERE code LIKE '%{t}%'),
 'webhook_filter', (SELECT count(*) FROM webhookd.webhook_filter WHERE code LIKE '%{t}%'))"""


def counts(pg, tag):
    """Rows of every webhookd table that belong to the graph tagged `tag`."""
    assert re.fullmatch(r"[A-Za-z0-9-]+", tag)
    return json.loads(pg.psql(COUNTS_SQL.format(t=tag)))


def nothing(pg, tag):
    return all(v == 0 for v in counts(pg, tag).values())


def props(pg, dest_id):
    rows = pg.psql("SELECT s.key || '=' || coalesce(s.value, '<null>') FROM webhookd.string2string_map s "
                   "JOIN webhookd.consumed_destination d ON d.pk = s.owner_pk "
                   f"WHERE d.id = '{dest_id}' ORDER BY s.key")
    return rows.split("\n") if rows else []


def events_of(pg, target_id):
    rows = pg.psql("SELECT e.event_class || '/' || e.version FROM webhookd.event_configuration e "
                   "JOIN webhookd.destination_target t ON t.pk = e.destination_target_pk "
                   f"WHERE t.id = '{target_id}' ORDER BY 1")
    return rows.split("\n") if rows else []


# ---------------------------------------------------------------- payloads --

def full_graph(tag, io_code, with_secret=True):
    """A WebhookConfiguration payload using every nested type."""
    target = destination_target(
        f"tgt-{tag}", events=[ITEM_SAVED, {"eventClass": ITEM_CREATED, "exportName": "created",
                                            "version": 2, "description": "second"}])
    dest = consumed_destination(
        f"dest-{tag}", target, url=f"https://hooks.example/{tag}?a=1", active=True,
        signingAlgorithm="HMAC_SHA256", ignoreErrors=True, maxInFlight=3, timeoutMillis=2000,
        endpoint={"id": f"ep-{tag}", "version": "v1", "name": "ep", "specUrl": "https://spec.example/x"},
        credentialBasic={"id": f"cb-{tag}", "username": "user", "password": f"pw-plain-{tag}"},
        credentialConsumedOAuth={"id": f"co-{tag}", "clientId": "cid", "clientSecret": f"cs-plain-{tag}",
                                 "oAuthUrl": "https://oauth.example/token", "scope": "read"},
        additionalProperties=[{"key": "k1", "value": "v1"}, {"key": "k2", "value": "v2"}])
    if with_secret:
        dest["signingSecret"] = f"ss-plain-{tag}"
    return webhook_configuration(dest, io_code, ITEM_SAVED, filterLocation=f"model://flt-{tag}")


def setup_io_filter(admin, tag):
    admin.create("IntegrationObjects", {"code": f"io-{tag}"})
    admin.create("WebhookFilters", {"code": f"flt-{tag}", "expression": "code eq 'x'"})
    return f"io-{tag}"


def entities(d, out=None):
    """{(type, integrationKey): etag} of every entity in a response."""
    out = {} if out is None else out
    if isinstance(d, list):
        for x in d:
            entities(x, out)
    elif isinstance(d, dict):
        m = d.get("__metadata")
        if m is not None:
            out[(m["type"], d["integrationKey"])] = m["etag"]
        for k, v in d.items():
            if k != "__metadata":
                entities(v, out)
    return out


# ====================================================== POST: deep upsert ==

def test_post_creates_the_whole_graph_and_answers_201_with_the_payload_expanded(server, admin, pg):
    tag = uid("g")
    io = setup_io_filter(admin, tag)
    r = admin.post("WebhookConfigurations", full_graph(tag, io))
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"] == "application/json"
    d = r.json()["d"]
    key = integration_key(f"dest-{tag}", f"tgt-{tag}", io, ITEM_SAVED)
    assert d["integrationKey"] == key
    assert r.headers["Location"] == url(server, "WebhookConfigurations", key)
    assert r.headers["ETag"] == d["__metadata"]["etag"] == 'W/"1"'
    assert d["__metadata"]["type"] == f"{NS}.WebhookConfiguration"
    assert d["__metadata"]["uri"] == r.headers["Location"]
    assert (d["eventType"], d["filterLocation"]) == (ITEM_SAVED, f"model://flt-{tag}")
    dest = d["destination"]
    assert dest["integrationKey"] == f"dest-{tag}|tgt-{tag}"
    assert (dest["url"], dest["active"], dest["ignoreErrors"], dest["maxInFlight"],
            dest["timeoutMillis"], dest["deactivatedReason"]) == \
        (f"https://hooks.example/{tag}?a=1", True, True, 3, 2000, None)
    # every nested entity of the payload is inline, the rest deferred
    assert dest["destinationTarget"]["destinationChannel"]["code"] == "WEBHOOKSERVICES"
    evs = dest["destinationTarget"]["eventConfigurations"]["results"]
    assert sorted((e["eventClass"], e["version"], e["exportName"]) for e in evs) == \
        [(ITEM_CREATED, 2, "created"), (ITEM_SAVED, 1, None)]
    assert "__deferred" in evs[0]["destinationTarget"]
    assert dest["endpoint"]["specUrl"] == "https://spec.example/x"
    assert dest["credentialBasic"]["username"] == "user"
    assert dest["credentialConsumedOAuth"]["scope"] == "read"
    assert sorted((p["key"], p["value"]) for p in dest["additionalProperties"]["results"]) == \
        [("k1", "v1"), ("k2", "v2")]
    assert d["integrationObject"]["code"] == io
    assert counts(pg, tag) == {
        "webhook_configuration": 1, "consumed_destination": 1, "destination_target": 1,
        "event_configuration": 2, "string2string_map": 2, "basic_credential": 1,
        "consumed_oauth_credential": 1, "endpoint": 1, "integration_object": 1, "webhook_filter": 1}
    # and the GET of the Location agrees
    got = admin.d(r.headers["Location"], {"$expand": "destination,integrationObject"})
    assert got["destination"]["maxInFlight"] == 3
    assert got["__metadata"]["etag"] == 'W/"1"'


def test_posting_the_same_payload_twice_changes_nothing(admin, pg):
    tag = uid("same")
    io = setup_io_filter(admin, tag)
    body = full_graph(tag, io)
    first = admin.post("WebhookConfigurations", body)
    assert first.status_code == 201, first.text
    before = counts(pg, tag)
    second = admin.post("WebhookConfigurations", body)
    assert second.status_code == 201, second.text
    assert second.headers["ETag"] == first.headers["ETag"] == 'W/"1"'
    e1, e2 = entities(first.json()["d"]), entities(second.json()["d"])
    assert len(e1) == 12
    # write-only values (password, clientSecret, signingSecret) included:
    # the same plaintext again is not a change
    assert e2 == e1
    assert counts(pg, tag) == before


def test_post_ignores_a_client_integration_key(admin):
    code = uid("io")
    d = admin.create("IntegrationObjects", {"code": code, "integrationKey": "forged"})
    assert d["integrationKey"] == code
    r = admin.get(entity_path("IntegrationObjects", "forged"))
    assert_error(r, 404, "not_found")


def test_post_accepts_a_verbose_d_wrapper(admin):
    code = uid("io")
    d = admin.create("IntegrationObjects", {"d": {"code": code, "description": "wrapped"}})
    assert (d["code"], d["description"]) == (code, "wrapped")


def test_post_updates_an_existing_entity_found_by_its_key(admin, pg):
    tag = uid("upd")
    w = make_webhook(admin, tag)
    dest = dict(w.dest, maxInFlight=7, url="https://hooks.example/changed")
    r = admin.post("WebhookConfigurations", dict(w.config, destination=dest))
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == 'W/"1"'                 # the configuration did not change
    assert r.json()["d"]["destination"]["__metadata"]["etag"] == 'W/"2"'
    got = admin.d(entity_path("ConsumedDestinations", w.dest_key))
    assert (got["maxInFlight"], got["url"]) == (7, "https://hooks.example/changed")
    assert counts(pg, tag)["consumed_destination"] == 1


def test_post_of_a_nested_collection_element_updates_it_in_place(admin, pg):
    tag = uid("ec")
    w = make_webhook(admin, tag)
    target = dict(w.target, eventConfigurations=[{"eventClass": ITEM_SAVED, "exportName": "renamed"}])
    admin.create("DestinationTargets", target)
    rows = pg.psql(f"SELECT export_name || ' ' || e.row_version FROM webhookd.event_configuration e "
                   f"JOIN webhookd.destination_target t ON t.pk = e.destination_target_pk "
                   f"WHERE t.id = 'tgt-{tag}'")
    assert rows == "renamed 2"


# ================================================ nested collections ====

def _props_body(items, form):
    return items if form == "array" else {"results": items}


@pytest.mark.parametrize("form", ["array", "results"])
@pytest.mark.parametrize("how", ["post-config", "post-destination", "patch-destination",
                                 "merge-destination", "patch-config"])
def test_a_nested_collection_sent_replaces_the_stored_one(admin, pg, form, how):
    tag = uid("coll")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [
        {"key": "keep", "value": "old"}, {"key": "drop", "value": "x"}]})
    assert props(pg, w.dest["id"]) == ["drop=x", "keep=old"]
    new = _props_body([{"key": "keep", "value": "new"}, {"key": "add"}], form)
    dest = dict(w.dest, additionalProperties=new)
    dest_ref = {"id": w.dest["id"], "destinationTarget": {"id": w.target["id"]},
                "additionalProperties": new}
    if how == "post-config":
        r = admin.post("WebhookConfigurations", dict(w.config, destination=dest))
        got = r.json()["d"]["destination"]
    elif how == "post-destination":
        r = admin.post("ConsumedDestinations", dest)
        got = r.json()["d"]
    elif how == "patch-config":
        r = admin.patch(entity_path("WebhookConfigurations", w.key), {"destination": dest_ref})
        got = r.json()["d"]["destination"]
    else:
        r = admin.request("PATCH" if how == "patch-destination" else "MERGE",
                          entity_path("ConsumedDestinations", w.dest_key),
                          {"additionalProperties": new})
        got = r.json()["d"]
    assert r.status_code in (200, 201), r.text
    assert props(pg, w.dest["id"]) == ["add=<null>", "keep=new"]
    assert sorted((p["key"], p["value"]) for p in got["additionalProperties"]["results"]) == \
        [("add", None), ("keep", "new")]
    assert sorted(p["key"] for p in admin.results(
        entity_path("ConsumedDestinations", w.dest_key) + "/additionalProperties")) == ["add", "keep"]


@pytest.mark.parametrize("empty", [[], {"results": []}])
def test_an_empty_collection_deletes_every_child(admin, pg, empty):
    tag = uid("empty")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a", "value": "1"}]})
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key), {"additionalProperties": empty})
    assert r.status_code == 200, r.text
    assert r.json()["d"]["additionalProperties"] == {"results": []}
    assert props(pg, w.dest["id"]) == []


def test_a_collection_not_sent_is_left_alone(admin, pg):
    tag = uid("keep")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a", "value": "1"}]})
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key), {"maxInFlight": 2})
    assert r.status_code == 200, r.text
    assert props(pg, w.dest["id"]) == ["a=1"]
    r = admin.post("ConsumedDestinations", {k: v for k, v in w.dest.items()
                                            if k != "additionalProperties"})
    assert r.status_code == 201, r.text
    assert props(pg, w.dest["id"]) == ["a=1"]


def test_a_collection_nested_two_levels_down_is_replaced_in_a_patch(admin, pg):
    tag = uid("deep")
    w = make_webhook(admin, tag, events=[ITEM_SAVED, ITEM_DELETED])
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key),
                    {"destinationTarget": {"id": w.target["id"], "eventConfigurations": [
                        {"eventClass": ITEM_SAVED}, {"eventClass": ITEM_UPDATED}]}})
    assert r.status_code == 200, r.text
    assert events_of(pg, w.target["id"]) == [ITEM_SAVED + "/1", ITEM_UPDATED + "/1"]
    evs = r.json()["d"]["destinationTarget"]["eventConfigurations"]["results"]
    assert sorted(e["eventClass"] for e in evs) == [ITEM_SAVED, ITEM_UPDATED]


@pytest.mark.parametrize("bad,msg", [
    ({"additionalProperties": {"key": "a"}},
     "Navigation property [additionalProperties] of [ConsumedDestination] must be a collection."),
    ({"additionalProperties": ["a"]}, "Elements of [additionalProperties] must be entities."),
    ({"additionalProperties": [{"value": "no key"}]},
     "Key attribute [key] of [String2StringMapType] is missing."),
])
def test_a_malformed_collection_is_refused_and_nothing_changes(admin, pg, bad, msg):
    tag = uid("badcoll")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a", "value": "1"}]})
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key), dict(bad, maxInFlight=1))
    code = "missing_key" if "missing" in msg else "invalid_attribute_value"
    assert_error(r, 400, code, msg)
    assert props(pg, w.dest["id"]) == ["a=1"]
    assert admin.d(entity_path("ConsumedDestinations", w.dest_key))["maxInFlight"] == 8


# ======================================================= PATCH / MERGE ====

@pytest.mark.parametrize("method,tunnel", [
    ("PATCH", None), ("MERGE", None), ("POST", "MERGE"), ("POST", "PATCH"), ("POST", "merge"),
])
def test_patch_merge_and_tunnelled_updates_answer_200_with_the_entity(admin, method, tunnel):
    w = make_webhook(admin)
    path = entity_path("ConsumedDestinations", w.dest_key)
    r = admin.request(method, path, {"maxInFlight": 4, "ignoreErrors": True},
                      headers={"X-HTTP-Method": tunnel} if tunnel else None)
    assert r.status_code == 200, r.text
    assert "Location" not in r.headers
    d = r.json()["d"]
    assert (d["maxInFlight"], d["ignoreErrors"], d["timeoutMillis"]) == (4, True, 15000)
    assert r.headers["ETag"] == d["__metadata"]["etag"] == 'W/"2"'
    assert admin.d(path)["maxInFlight"] == 4


def test_patch_changes_only_the_properties_sent(admin):
    w = make_webhook(admin, dest_extra={"maxInFlight": 5, "timeoutMillis": 999})
    path = entity_path("ConsumedDestinations", w.dest_key)
    d = admin.patch(path, {"active": False}).json()["d"]
    assert (d["active"], d["maxInFlight"], d["timeoutMillis"], d["url"]) == \
        (False, 5, 999, w.dest["url"])


def test_patch_that_repeats_the_key_attributes_is_accepted(admin):
    w = make_webhook(admin)
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key),
                    {"id": w.dest["id"], "destinationTarget": {"id": w.target["id"]}, "maxInFlight": 6})
    assert r.status_code == 200, r.text
    assert r.json()["d"]["maxInFlight"] == 6
    r = admin.patch(entity_path("WebhookConfigurations", w.key),
                    {"eventType": ITEM_SAVED, "integrationObject": {"code": w.io_code},
                     "filterLocation": None})
    assert r.status_code == 200, r.text


def test_patch_writes_through_a_nested_key_navigation(admin):
    w = make_webhook(admin)
    r = admin.patch(entity_path("WebhookConfigurations", w.key), {"destination": {
        "id": w.dest["id"], "destinationTarget": {"id": w.target["id"]},
        "url": "https://hooks.example/via-config"}})
    assert r.status_code == 200, r.text
    assert r.json()["d"]["destination"]["url"] == "https://hooks.example/via-config"
    assert r.json()["d"]["__metadata"]["etag"] == 'W/"1"'
    assert admin.d(entity_path("ConsumedDestinations", w.dest_key))["url"] == \
        "https://hooks.example/via-config"


@pytest.mark.parametrize("set_,body,payload_key", [
    ("ConsumedDestinations", {"id": "other"}, "other|{t}"),
    ("ConsumedDestinations", {"destinationTarget": {"id": "other"}}, "{d}|other"),
    ("WebhookConfigurations", {"eventType": ITEM_CREATED}, "{d}|{t}|{io}|" + ITEM_CREATED),
    ("WebhookConfigurations", {"integrationObject": {"code": "x y"}}, "{d}|{t}|x+y|" + ITEM_SAVED),
])
def test_patch_whose_payload_key_differs_from_the_path_is_400_invalid_key(admin, set_, body, payload_key):
    w = make_webhook(admin)
    key = w.dest_key if set_ == "ConsumedDestinations" else w.key
    r = admin.patch(entity_path(set_, key), body)
    pk = payload_key.format(d=w.dest["id"], t=w.target["id"], io=w.io_code)
    assert_error(r, 400, "invalid_key",
                 f"Key [{pk}] in the payload does not match the key [{key}] in the path.")
    # (the seed's example message, word for word) and the same for PUT
    r = admin.put(entity_path(set_, key), body)
    assert_error(r, 400, "invalid_key",
                 f"Key [{pk}] in the payload does not match the key [{key}] in the path.")


@pytest.mark.parametrize("method", ["PATCH", "PUT", "MERGE", "DELETE"])
def test_update_or_delete_of_a_missing_key_is_404(admin, method):
    key = integration_key(uid("d"), uid("t"), uid("io"), ITEM_SAVED)
    r = admin.request(method, entity_path("WebhookConfigurations", key),
                      None if method == "DELETE" else {"filterLocation": None})
    assert r.status_code == 404
    assert r.content == odata_error(
        "not_found", f"[WebhookConfiguration] with integration key [{key}] was not found.", key)


@pytest.mark.parametrize("path", [
    "WebhookConfigurations('a%7Cb')", "ConsumedDestinations('only-one')",
])
def test_update_with_a_malformed_key_is_400_invalid_key(admin, path):
    r = admin.patch(path, {})
    assert_error(r, 400, "invalid_key")


@pytest.mark.parametrize("method,path", [
    ("POST", "IntegrationObjects('x')"),              # POST addresses a set
    ("PATCH", "IntegrationObjects"),                  # the others an entity
    ("PUT", "IntegrationObjects"),
    ("DELETE", "IntegrationObjects"),
    ("PATCH", "IntegrationObjects/$count"),
    ("POST", "WebhookConfigurations('a%7Cb%7Cc%7Cd')/destination"),
])
def test_writes_to_the_wrong_kind_of_resource_are_405(admin, method, path):
    r = admin.request(method, path, {})
    assert_error(r, 405, "method_not_allowed")


# ================================================================ PUT =====

def test_put_replaces_the_whole_entity(admin, pg):
    tag = uid("put")
    w = make_webhook(admin, tag, dest_extra={
        "maxInFlight": 3, "active": False, "ignoreErrors": True, "timeoutMillis": 100,
        "signingAlgorithm": "NONE",
        "endpoint": {"id": f"ep-{tag}", "version": "1"},
        "credentialBasic": {"id": f"cb-{tag}", "password": "pw"},
        "additionalProperties": [{"key": "a", "value": "1"}]})
    path = entity_path("ConsumedDestinations", w.dest_key)
    r = admin.put(path, {"url": "https://hooks.example/put"})
    assert r.status_code == 200, r.text
    d = r.json()["d"]
    assert (d["url"], d["maxInFlight"], d["active"], d["ignoreErrors"], d["timeoutMillis"],
            d["signingAlgorithm"]) == ("https://hooks.example/put", 8, True, False, 15000, "HMAC_SHA256")
    assert d["additionalProperties"] == {"results": []}
    assert r.headers["ETag"] == 'W/"2"'
    got = admin.d(path, {"$expand": "endpoint,credentialBasic,credentialConsumedOAuth,destinationTarget"})
    assert got["endpoint"] is None and got["credentialBasic"] is None
    assert got["destinationTarget"]["id"] == w.target["id"]     # the key stays
    assert props(pg, w.dest["id"]) == []
    # the referenced rows themselves stay
    assert counts(pg, tag)["endpoint"] == counts(pg, tag)["basic_credential"] == 1


def test_put_keeps_write_only_values_it_does_not_send(admin, pg):
    """A client can never read a secret back, so a GET-edit-PUT round trip
    must not erase it."""
    w = make_webhook(admin)
    path = entity_path("ConsumedDestinations", w.dest_key)
    sql = f"SELECT signing_secret FROM webhookd.consumed_destination WHERE id = '{w.dest['id']}'"
    stored = pg.psql(sql)
    assert STORED_SECRET.match(stored)
    got = admin.d(path)
    body = {k: v for k, v in got.items() if not isinstance(v, dict) and k != "integrationKey"}
    r = admin.put(path, dict(body, maxInFlight=2))
    assert r.status_code == 200, r.text
    assert pg.psql(sql) == stored
    # a PUT that does send one replaces it
    r = admin.put(path, dict(body, signingSecret="whsec_new"))
    assert r.status_code == 200, r.text
    assert pg.psql(sql) not in ("", stored)


def test_put_on_an_unchanged_entity_keeps_its_etag(admin):
    w = make_webhook(admin)
    path = entity_path("ConsumedDestinations", w.dest_key)
    r = admin.put(path, {"url": w.dest["url"]})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == 'W/"1"'


# ============================================================= DELETE =====

def test_delete_answers_204_and_leaves_referenced_items(admin, pg):
    tag = uid("del")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a", "value": "1"}]})
    r = admin.delete(entity_path("WebhookConfigurations", w.key))
    assert r.status_code == 204
    assert r.content == b""
    assert "Content-Type" not in r.headers
    assert_error(admin.get(entity_path("WebhookConfigurations", w.key)), 404, "not_found")
    c = counts(pg, tag)
    assert (c["webhook_configuration"], c["consumed_destination"], c["destination_target"],
            c["event_configuration"], c["integration_object"], c["string2string_map"]) == (0, 1, 1, 1, 1, 1)
    assert admin.d(entity_path("ConsumedDestinations", w.dest_key))["id"] == w.dest["id"]


@pytest.mark.parametrize("set_,key_of", [
    ("ConsumedDestinations", lambda w: w.dest_key),
    ("DestinationTargets", lambda w: w.target_key),
    ("IntegrationObjects", lambda w: w.io_code),
    ("BasicCredentials", lambda w: w.dest["credentialBasic"]["id"]),
])
def test_deleting_an_item_still_referenced_is_409_item_in_use(admin, pg, set_, key_of):
    tag = uid("inuse")
    w = make_webhook(admin, tag, dest_extra={"credentialBasic": {"id": f"cb-{tag}", "username": "u"}})
    before = counts(pg, tag)
    r = admin.delete(entity_path(set_, key_of(w)))
    assert_error(r, 409, "item_in_use")
    assert counts(pg, tag) == before


def test_deleting_a_parent_deletes_its_owned_children(admin, pg):
    tag = uid("own")
    w = make_webhook(admin, tag, events=[ITEM_SAVED, ITEM_CREATED],
                     dest_extra={"additionalProperties": [{"key": "a"}, {"key": "b"}],
                                 "credentialBasic": {"id": f"cb-{tag}"}})
    assert admin.delete(entity_path("WebhookConfigurations", w.key)).status_code == 204
    assert admin.delete(entity_path("ConsumedDestinations", w.dest_key)).status_code == 204
    c = counts(pg, tag)
    assert (c["consumed_destination"], c["string2string_map"], c["basic_credential"],
            c["event_configuration"]) == (0, 0, 1, 2)
    assert admin.delete(entity_path("DestinationTargets", w.target_key)).status_code == 204
    assert counts(pg, tag)["event_configuration"] == 0
    assert admin.delete(entity_path("BasicCredentials", f"cb-{tag}")).status_code == 204


def test_delete_of_a_collection_element_by_its_key(admin, pg):
    tag = uid("s2s")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a"}, {"key": "b"}]})
    key = integration_key(w.dest_key, "a")
    assert admin.d(entity_path("String2StringMapTypes", key))["key"] == "a"
    assert admin.delete(entity_path("String2StringMapTypes", key)).status_code == 204
    assert props(pg, w.dest["id"]) == ["b=<null>"]


# ============================================================== ETags =====

@pytest.mark.parametrize("if_match,status", [
    ('W/"{n}"', 200), ('"{n}"', 200), ("*", 200),
    ('W/"{stale}"', 412), ('"{stale}"', 412), ("W/1", 412), ("garbage", 412),
])
@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
def test_if_match(admin, method, if_match, status):
    w = make_webhook(admin)
    path = entity_path("ConsumedDestinations", w.dest_key)
    assert admin.patch(path, {"maxInFlight": 2}).headers["ETag"] == 'W/"2"'
    if method == "DELETE":
        assert admin.delete(entity_path("WebhookConfigurations", w.key)).status_code == 204
    im = if_match.format(n=2, stale=1)
    r = admin.request(method, path, None if method == "DELETE" else {"url": "https://hooks.example/im"},
                      headers={"If-Match": im})
    if status == 200:
        assert r.status_code == (204 if method == "DELETE" else 200), r.text
        return
    assert r.status_code == 412
    assert r.content == odata_error(
        "precondition_failed",
        f"The entity [ConsumedDestination] with integration key [{w.dest_key}] has changed: "
        f"its ETag is W/\"2\", not {im}.", w.dest_key)
    got = admin.d(path)
    assert (got["url"], got["__metadata"]["etag"]) == (w.dest["url"], 'W/"2"')


def test_if_match_on_a_missing_entity_is_404(admin):
    key = integration_key(uid("d"), uid("t"))
    r = admin.patch(entity_path("ConsumedDestinations", key), {}, headers={"If-Match": "*"})
    assert_error(r, 404, "not_found", f"[ConsumedDestination] with integration key [{key}] was not found.")


@pytest.mark.parametrize("if_match,status", [('W/"1"', 201), ("*", 201), ('W/"9"', 412)])
def test_if_match_on_an_upsert_checks_the_addressed_entity(admin, if_match, status):
    code = uid("io")
    admin.create("IntegrationObjects", {"code": code})
    r = admin.post("IntegrationObjects", {"code": code, "description": "d"},
                   headers={"If-Match": if_match})
    assert r.status_code == status, r.text
    if status == 412:
        assert r.content == odata_error(
            "precondition_failed", f"The entity [IntegrationObject] with integration key [{code}] "
            f"has changed: its ETag is W/\"1\", not {if_match}.", code)
        assert admin.d(entity_path("IntegrationObjects", code))["description"] is None


def test_etag_bumps_only_when_the_row_really_changes(admin):
    w = make_webhook(admin)
    path = entity_path("ConsumedDestinations", w.dest_key)
    seq = [({"maxInFlight": 8}, 'W/"1"'), ({"maxInFlight": 9}, 'W/"2"'), ({"maxInFlight": 9}, 'W/"2"'),
           ({"url": w.dest["url"], "active": True}, 'W/"2"'), ({"active": False}, 'W/"3"'),
           ({"additionalProperties": [{"key": "a"}]}, 'W/"3"'),     # a child changed, not the row
           ({"signingSecret": "s-1"}, 'W/"4"'), ({"signingSecret": "s-1"}, 'W/"4"'),
           ({"signingSecret": "s-2"}, 'W/"5"')]
    for body, etag in seq:
        r = admin.patch(path, body)
        assert r.status_code == 200, r.text
        assert (body, r.headers["ETag"]) == (body, etag)
        assert r.json()["d"]["__metadata"]["etag"] == etag
    assert admin.get(path).headers["ETag"] == 'W/"5"'


def test_repeating_a_password_does_not_bump_the_credential_etag(admin):
    w = make_webhook(admin)
    cid = uid("cb")
    body = {"credentialBasic": {"id": cid, "username": "u", "password": "same-pw"},
            "credentialConsumedOAuth": {"id": cid, "clientId": "c", "clientSecret": "same-cs"}}
    path = entity_path("ConsumedDestinations", w.dest_key)
    assert admin.patch(path, body).status_code == 200
    for _ in range(2):
        admin.patch(path, body)
        assert admin.get(entity_path("BasicCredentials", cid)).headers["ETag"] == 'W/"1"'
        assert admin.get(entity_path("ConsumedOAuthCredentials", cid)).headers["ETag"] == 'W/"1"'
    body["credentialBasic"]["password"] = "other-pw"
    admin.patch(path, body)
    assert admin.get(entity_path("BasicCredentials", cid)).headers["ETag"] == 'W/"2"'


# ================================================= write-only values =====

def test_write_only_values_are_stored_encrypted_and_never_returned(admin, pg):
    tag = uid("wo")
    io = setup_io_filter(admin, tag)
    r = admin.post("WebhookConfigurations", full_graph(tag, io))
    assert r.status_code == 201
    plain = [f"pw-plain-{tag}", f"cs-plain-{tag}", f"ss-plain-{tag}"]
    for sql in (f"SELECT password FROM webhookd.basic_credential WHERE id = 'cb-{tag}'",
                f"SELECT client_secret FROM webhookd.consumed_oauth_credential WHERE id = 'co-{tag}'",
                f"SELECT signing_secret FROM webhookd.consumed_destination WHERE id = 'dest-{tag}'"):
        stored = pg.psql(sql)
        assert STORED_SECRET.match(stored), stored
        assert not any(p in stored for p in plain)
        assert not any(base64.b64encode(p.encode()).decode()[:12] in stored for p in plain)
    dest_path = entity_path("ConsumedDestinations", f"dest-{tag}|tgt-{tag}")
    texts = [r.text,
             admin.patch(dest_path, {"credentialBasic": {"id": f"cb-{tag}", "password": plain[0]}}).text,
             admin.get(dest_path, {"$expand": "credentialBasic,credentialConsumedOAuth"}).text,
             admin.get("BasicCredentials", {"$filter": f"id eq 'cb-{tag}'"}).text,
             admin.get(entity_path("ConsumedOAuthCredentials", f"co-{tag}")).text]
    for t in texts:
        assert not any(p in t for p in plain), t
        for name in ('"password"', '"clientSecret"', '"signingSecret"'):
            assert name not in t, t


SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9+/]{43}=$")


def test_a_generated_signing_secret_is_shown_once_in_the_creating_response(admin, pg):
    tag = uid("gen")
    w = make_webhook(admin, tag)
    secret = w.d["destination"].get("signingSecret")
    assert secret and SECRET_RE.match(secret), w.d["destination"]
    assert len(base64.b64decode(secret[6:])) == 32
    assert "signingSecret" not in w.d                                # only on the destination
    stored = pg.psql(f"SELECT signing_secret FROM webhookd.consumed_destination WHERE id = 'dest-{tag}'")
    assert STORED_SECRET.match(stored) and secret not in stored
    again = admin.post("WebhookConfigurations", w.config)
    assert again.status_code == 201
    assert "signingSecret" not in again.text
    dest_path = entity_path("ConsumedDestinations", w.dest_key)
    assert "signingSecret" not in admin.get(dest_path).text
    assert "signingSecret" not in admin.post("ConsumedDestinations", w.dest).text
    assert "signingSecret" not in admin.patch(dest_path, {"maxInFlight": 1}).text
    assert pg.psql(f"SELECT signing_secret FROM webhookd.consumed_destination WHERE id = 'dest-{tag}'") == stored


def test_a_directly_created_destination_shows_its_generated_secret(admin):
    tag = uid("gen2")
    r = admin.post("ConsumedDestinations", consumed_destination(f"d-{tag}", f"t-{tag}"))
    assert r.status_code == 201
    assert SECRET_RE.match(r.json()["d"]["signingSecret"])
    other = admin.post("ConsumedDestinations", consumed_destination(f"e-{tag}", f"t-{tag}"))
    assert other.json()["d"]["signingSecret"] != r.json()["d"]["signingSecret"]


def test_a_client_signing_secret_is_never_echoed(admin, pg):
    tag = uid("own")
    r = admin.post("ConsumedDestinations", consumed_destination(
        f"d-{tag}", f"t-{tag}", signingSecret=f"whsec_mine_{tag}"))
    assert r.status_code == 201
    assert "signingSecret" not in r.text and f"whsec_mine_{tag}" not in r.text
    stored = pg.psql(f"SELECT signing_secret FROM webhookd.consumed_destination WHERE id = 'd-{tag}'")
    assert STORED_SECRET.match(stored)


# ================================================ configuration rules =====

def _config(tag, io, **kw):
    target = destination_target(f"tgt-{tag}", channel=kw.pop("channel", "WEBHOOKSERVICES"),
                                events=kw.pop("events", (ITEM_SAVED,)))
    dest = consumed_destination(f"dest-{tag}", target, url=kw.pop("url", "https://hooks.example/x"))
    return webhook_configuration(dest, io, kw.pop("event_type", ITEM_SAVED), **kw)


@pytest.fixture(scope="module")
def shared_io(admin):
    code = uid("io-shared")
    admin.create("IntegrationObjects", {"code": code})
    admin.create("WebhookFilters", {"code": f"{code}-f", "expression": "code eq 'x'"})
    return code


EVT_MSG = ("EventType [{e}] is not supported. Supported event types are ItemSavedEvent, "
           "ItemCreatedEvent, ItemUpdatedEvent and ItemDeletedEvent of de.hybris.platform.webhookservices.event.")
URL_MSG = "[ConsumedDestination] url must be an absolute http or https URL."


@pytest.mark.parametrize("kw,status,code,msg,inner", [
    ({"event_type": "ItemSavedEvent"}, 400, "invalid_attribute_value",
     EVT_MSG.format(e="ItemSavedEvent"), "eventType"),
    ({"event_type": "de.hybris.platform.webhookservices.event.ItemChangedEvent",
      "events": ["de.hybris.platform.webhookservices.event.ItemChangedEvent"]}, 400,
     "invalid_attribute_value", EVT_MSG.format(e="de.hybris.platform.webhookservices.event.ItemChangedEvent"),
     "eventType"),
    ({"channel": "DEFAULT"}, 400, "invalid_attribute_value",
     "DestinationTarget [tgt-{tag}] uses channel [DEFAULT]; webhooks need channel WEBHOOKSERVICES or PULL.",
     "destination"),
    ({"channel": "NOPE"}, 404, "not_found", "[DestinationChannel] with integration key [NOPE] was not found.",
     "NOPE"),
    ({"event_type": ITEM_DELETED}, 400, "invalid_attribute_value",
     f"EventType [{ITEM_DELETED}] is not registered as an EventConfiguration of DestinationTarget [tgt-{{tag}}].",
     "eventType"),
    ({"events": []}, 400, "invalid_attribute_value",
     f"EventType [{ITEM_SAVED}] is not registered as an EventConfiguration of DestinationTarget [tgt-{{tag}}].",
     "eventType"),
    ({"filterLocation": "{io}-f"}, 400, "invalid_attribute_value",
     "FilterLocation [{io}-f] must be of the form model://<WebhookFilter code>.", "filterLocation"),
    ({"filterLocation": "model://{io}-f/x"}, 400, "invalid_attribute_value",
     "FilterLocation [model://{io}-f/x] must be of the form model://<WebhookFilter code>.", "filterLocation"),
    ({"filterLocation": "model://"}, 400, "invalid_attribute_value",
     "FilterLocation [model://] must be of the form model://<WebhookFilter code>.", "filterLocation"),
    ({"filterLocation": "model://missing-{tag}"}, 400, "invalid_attribute_value",
     "FilterLocation [model://missing-{tag}] names no existing WebhookFilter.", "filterLocation"),
    ({"url": "ftp://hooks.example/x"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": "hooks.example/x"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": "/relative"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": "http://"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": "https://a b/"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": "mailto:x@hooks.example"}, 400, "invalid_attribute_value", URL_MSG, "url"),
    ({"url": None}, 400, "invalid_attribute_value", URL_MSG, "url"),
])
def test_webhook_configuration_rules_refuse_the_write_and_leave_nothing(admin, pg, shared_io, kw,
                                                                        status, code, msg, inner):
    tag = uid("rule")
    kw = {k: (v.format(tag=tag, io=shared_io) if isinstance(v, str) else v) for k, v in kw.items()}
    r = admin.post("WebhookConfigurations", _config(tag, shared_io, **kw))
    assert r.status_code == status, r.text
    assert r.content == odata_error(code, msg.format(tag=tag, io=shared_io), inner)
    assert nothing(pg, tag)


@pytest.mark.parametrize("kw", [
    {}, {"channel": "PULL"}, {"filterLocation": "model://{io}-f"}, {"url": "HTTP://hooks.example:8080"},
    {"url": "https://user:pw@hooks.example/p?q=1#f"},
    *({"event_type": e, "events": [e]} for e in (ITEM_CREATED, ITEM_UPDATED, ITEM_DELETED)),
])
def test_webhook_configuration_rules_accept_valid_configurations(admin, pg, shared_io, kw):
    tag = uid("ok")
    kw = {k: (v.format(io=shared_io) if isinstance(v, str) else v) for k, v in kw.items()}
    r = admin.post("WebhookConfigurations", _config(tag, shared_io, **kw))
    assert r.status_code == 201, r.text
    assert counts(pg, tag)["webhook_configuration"] == 1


def test_a_configuration_needs_an_existing_integration_object(admin, pg):
    tag = uid("noio")
    r = admin.post("WebhookConfigurations", _config(tag, f"io-{tag}"))
    assert r.status_code == 404
    assert r.content == odata_error(
        "not_found", f"[IntegrationObject] with integration key [io-{tag}] was not found.", f"io-{tag}")
    assert nothing(pg, tag)


@pytest.mark.parametrize("drop,path", [("destination", "destination/id"),
                                       ("integrationObject", "integrationObject/code")])
def test_a_configuration_without_destination_or_integration_object_is_missing_key(admin, pg, shared_io,
                                                                                 drop, path):
    tag = uid("mk")
    body = _config(tag, shared_io)
    del body[drop]
    r = admin.post("WebhookConfigurations", body)
    assert r.content == odata_error(
        "missing_key", f"Key attribute [{path}] of [WebhookConfiguration] is missing.", path)
    assert r.status_code == 400
    body[drop] = None
    assert_error(admin.post("WebhookConfigurations", body), 400, "missing_key")
    assert nothing(pg, tag)


def test_a_patch_that_breaks_a_rule_is_rolled_back_entirely(admin, pg):
    tag = uid("rb")
    w = make_webhook(admin, tag, dest_extra={"additionalProperties": [{"key": "a", "value": "1"}]})
    before = counts(pg, tag)
    r = admin.patch(entity_path("ConsumedDestinations", w.dest_key), {
        "additionalProperties": [{"key": "b"}], "credentialBasic": {"id": f"cb-{tag}"},
        "maxInFlight": 2, "url": "gopher://x"})
    assert_error(r, 400, "invalid_attribute_value", URL_MSG, "url")
    assert counts(pg, tag) == before
    assert props(pg, w.dest["id"]) == ["a=1"]
    # removing the event type a configuration uses is refused the same way
    r = admin.patch(entity_path("WebhookConfigurations", w.key), {"filterLocation": "model://nope"})
    assert_error(r, 400, "invalid_attribute_value")
    assert admin.d(entity_path("WebhookConfigurations", w.key))["filterLocation"] is None


def test_what_a_configuration_depends_on_cannot_be_changed_under_it(admin, pg):
    """The rules hold while the configuration exists: its target keeps a
    webhook channel, its event class stays registered, its filter stays."""
    tag = uid("dep")
    flt = f"flt-{tag}"
    admin.create("WebhookFilters", {"code": flt, "expression": "a eq 1"})
    w = make_webhook(admin, tag, events=[ITEM_SAVED, ITEM_CREATED],
                     config_extra={"filterLocation": f"model://{flt}"})
    tp = entity_path("DestinationTargets", w.target_key)
    r = admin.patch(tp, {"destinationChannel": {"code": "DEFAULT"}})
    assert r.status_code == 400
    assert r.content == odata_error("invalid_attribute_value", f"DestinationTarget [tgt-{tag}] uses channel "
                                    "[DEFAULT]; webhooks need channel WEBHOOKSERVICES or PULL.",
                                    "destinationChannel")
    assert admin.patch(tp, {"destinationChannel": {"code": "PULL"}}).status_code == 200
    used = (f"EventType [{ITEM_SAVED}] of DestinationTarget [tgt-{tag}] is used by a WebhookConfiguration "
            "and cannot be removed.")
    r = admin.patch(tp, {"eventConfigurations": [{"eventClass": ITEM_CREATED}]})
    assert r.status_code == 409
    assert r.content == odata_error("item_in_use", used, "eventConfigurations")
    r = admin.delete(entity_path("EventConfigurations", integration_key(f"tgt-{tag}", ITEM_SAVED, 1)))
    assert r.content == odata_error("item_in_use", used, "eventConfigurations")
    assert events_of(pg, f"tgt-{tag}") == [ITEM_CREATED + "/1", ITEM_SAVED + "/1"]
    # a registration of another version of the class is enough
    r = admin.patch(tp, {"eventConfigurations": [{"eventClass": ITEM_SAVED, "version": 2}]})
    assert r.status_code == 200, r.text
    assert events_of(pg, f"tgt-{tag}") == [ITEM_SAVED + "/2"]
    r = admin.delete(entity_path("WebhookFilters", flt))
    assert r.status_code == 409
    assert r.content == odata_error(
        "item_in_use", f"WebhookFilter [{flt}] is used by a WebhookConfiguration and cannot be removed.", flt)
    # once the configuration is gone, all of it may change
    assert admin.delete(entity_path("WebhookConfigurations", w.key)).status_code == 204
    assert admin.delete(entity_path("WebhookFilters", flt)).status_code == 204
    assert admin.patch(tp, {"destinationChannel": {"code": "DEFAULT"}, "eventConfigurations": []}).status_code == 200
    assert events_of(pg, f"tgt-{tag}") == []


def test_a_failed_deep_post_leaves_no_half_written_rows(admin, pg, shared_io):
    tag = uid("half")
    body = full_graph(tag, shared_io)            # names flt-<tag>, which does not exist
    r = admin.post("WebhookConfigurations", body)
    assert_error(r, 400, "invalid_attribute_value",
                 f"FilterLocation [model://flt-{tag}] names no existing WebhookFilter.")
    assert nothing(pg, tag)


# ================================================== payload errors =====

def _dest(tag, **kw):
    return consumed_destination(f"d-{tag}", f"t-{tag}", **kw)


@pytest.mark.parametrize("kw,code,msg,inner", [
    ({"maxInFlight": "3"}, "invalid_attribute_value",
     "Property [maxInFlight] of [ConsumedDestination] must be Edm.Int32.", "maxInFlight"),
    ({"maxInFlight": 1.5}, "invalid_attribute_value",
     "Property [maxInFlight] of [ConsumedDestination] must be Edm.Int32.", "maxInFlight"),
    ({"timeoutMillis": 2 ** 31}, "invalid_attribute_value",
     "Property [timeoutMillis] of [ConsumedDestination] must be Edm.Int32.", "timeoutMillis"),
    ({"active": "true"}, "invalid_attribute_value",
     "Property [active] of [ConsumedDestination] must be Edm.Boolean.", "active"),
    ({"active": 1}, "invalid_attribute_value",
     "Property [active] of [ConsumedDestination] must be Edm.Boolean.", "active"),
    ({"url": 5}, "invalid_attribute_value",
     "Property [url] of [ConsumedDestination] must be Edm.String.", "url"),
    ({"url": ["https://x"]}, "invalid_attribute_value",
     "Property [url] of [ConsumedDestination] must be Edm.String.", "url"),
    ({"active": None}, "invalid_attribute_value",
     "Property [active] of [ConsumedDestination] cannot be null.", "active"),
    ({"maxInFlight": None}, "invalid_attribute_value",
     "Property [maxInFlight] of [ConsumedDestination] cannot be null.", "maxInFlight"),
    ({"signingAlgorithm": None}, "invalid_attribute_value",
     "Property [signingAlgorithm] of [ConsumedDestination] cannot be null.", "signingAlgorithm"),
    ({"signingAlgorithm": "HMAC_SHA1"}, "invalid_attribute_value",
     "Property [signingAlgorithm] of [ConsumedDestination] has an unsupported value.", "signingAlgorithm"),
    ({"signingAlgorithm": "hmac_sha256"}, "invalid_attribute_value",
     "Property [signingAlgorithm] of [ConsumedDestination] has an unsupported value.", "signingAlgorithm"),
    ({"url": "https://h.example/" + "x" * 2031}, "invalid_attribute_value",
     "Property [url] of [ConsumedDestination] is longer than 2048 bytes.", "url"),
    ({"deactivatedReason": 5}, None, None, None),          # read-only: ignored
    ({"maxInFlight": 0}, "invalid_attribute_value", None, None),
    ({"timeoutMillis": -1}, "invalid_attribute_value", None, None),
    ({"bogus": 1}, "invalid_property", "Property [bogus] is not a property of [ConsumedDestination].", "bogus"),
    ({"destinationTarget": {"id": "t", "bogus": 1}}, "invalid_property",
     "Property [bogus] is not a property of [DestinationTarget].", "bogus"),
    ({"destinationTarget": "t"}, "missing_key",
     "Key attribute [destinationTarget/id] of [ConsumedDestination] is missing.", "destinationTarget/id"),
    ({"endpoint": "e"}, "invalid_attribute_value",
     "Navigation property [endpoint] of [ConsumedDestination] must be an entity.", "endpoint"),
])
def test_property_errors_are_400(admin, pg, kw, code, msg, inner):
    tag = uid("prop")
    body = _dest(tag, **kw)
    if "destinationTarget" in kw and isinstance(kw["destinationTarget"], dict):
        body["destinationTarget"] = dict(kw["destinationTarget"], id=f"t-{tag}")
    r = admin.post("ConsumedDestinations", body)
    if code is None:
        assert r.status_code == 201, r.text
        assert r.json()["d"]["deactivatedReason"] is None
        return
    assert r.status_code == 400, r.text
    if msg is None:
        assert_error(r, 400, code)
    else:
        assert r.content == odata_error(code, msg, inner)
    assert nothing(pg, tag)


@pytest.mark.parametrize("set_,body,path,type_", [
    ("ConsumedDestinations", {"url": "https://x.example"}, "id", "ConsumedDestination"),
    ("ConsumedDestinations", {"id": "x", "url": "https://x.example"}, "destinationTarget/id",
     "ConsumedDestination"),
    ("ConsumedDestinations", {"id": "x", "destinationTarget": {}}, "destinationTarget/id",
     "ConsumedDestination"),
    ("IntegrationObjects", {"description": "d"}, "code", "IntegrationObject"),
    ("IntegrationObjects", {"code": None}, "code", "IntegrationObject"),
    ("Endpoints", {"id": "e"}, "version", "Endpoint"),
    ("EventConfigurations", {"eventClass": ITEM_SAVED}, "destinationTarget/id", "EventConfiguration"),
    ("String2StringMapTypes", {"key": "k"}, "owner/integrationKey", "String2StringMapType"),
])
def test_a_missing_key_attribute_is_400_missing_key(admin, set_, body, path, type_):
    r = admin.post(set_, body)
    assert r.status_code == 400
    assert r.content == odata_error("missing_key", f"Key attribute [{path}] of [{type_}] is missing.", path)


@pytest.mark.parametrize("raw,msg", [
    (b"", None), (b"{", None), (b"not json", None), (b'{"code": "a", "code": "b"}', None),
    (b"[]", "The payload must be a JSON object."), (b'"text"', "The payload must be a JSON object."),
    (b"42", "The payload must be a JSON object."), (b"null", "The payload must be a JSON object."),
    (b'{"code": "a"} trailing', None), (b"\xff\xfe", None),
])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_body_that_is_not_a_json_object_is_400_malformed_payload(admin, raw, msg, method):
    path = "IntegrationObjects" if method == "POST" else entity_path("IntegrationObjects", "x")
    r = admin.request(method, path, raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_payload", msg, inner=None)


@pytest.mark.parametrize("ctype", [
    "application/x-www-form-urlencoded", "text/plain", "application/xml", "multipart/mixed; boundary=x",
    "application/jsonx",
])
@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_a_body_that_is_not_json_is_415(admin, pg, ctype, method):
    code = uid("io415")
    path = "IntegrationObjects" if method == "POST" else entity_path("IntegrationObjects", code)
    r = admin.request(method, path, json.dumps({"code": code}), headers={"Content-Type": ctype})
    assert r.status_code == 415
    assert r.content == odata_error("unsupported_media_type", f"Media type [{ctype}] is not supported.")
    assert nothing(pg, code)


@pytest.mark.parametrize("ctype", ["application/json", "application/json;charset=UTF-8",
                                   "Application/JSON ; odata=verbose", None])
def test_json_media_types_are_accepted(server, users, ctype):
    code = uid("io")
    h = dict(users["admin"].headers)
    if ctype:
        h["Content-Type"] = ctype
    r = server.request("POST", f"{BASE}/IntegrationObjects", headers=h, data=json.dumps({"code": code}))
    assert r.status_code == 201, r.text


def test_a_body_over_the_limit_is_413(server, users):
    h = dict(users["admin"].headers, **{"Content-Type": "application/json"})
    big = json.dumps({"code": uid("big"), "description": "x" * (1024 * 1024)})
    r = server.request("POST", f"{BASE}/IntegrationObjects", headers=h, data=big)
    assert_error(r, 413, "payload_too_large")


def test_webhook_filter_expressions_must_parse(admin, pg):
    ok = uid("flt")
    d = admin.create("WebhookFilters", {"code": ok, "expression":
                                        "startswith(code, 'A') and (price gt 10 or not active)"})
    assert d["expression"].startswith("startswith")
    for expr in ("code eq", "code eq 'x", "((a eq 1)", "a eq 1 and", "eq 1"):
        bad = uid("flt")
        r = admin.post("WebhookFilters", {"code": bad, "expression": expr})
        c, m, i = assert_error(r, 400, "invalid_attribute_value", inner="expression")
        assert m.startswith("Property [expression] of [WebhookFilter] is not a valid filter: "), m
        assert nothing(pg, bad)
    r = admin.patch(entity_path("WebhookFilters", ok), {"expression": "code eq"})
    assert_error(r, 400, "invalid_attribute_value", inner="expression")


@pytest.mark.parametrize("method,path", [
    ("POST", "DestinationChannels"), ("PATCH", "DestinationChannels('PULL')"),
    ("PUT", "DestinationChannels('PULL')"), ("DELETE", "DestinationChannels('DEFAULT')"),
    ("MERGE", "DestinationChannels('WEBHOOKSERVICES')"),
])
def test_destination_channels_are_read_only(admin, pg, method, path):
    r = admin.request(method, path, None if method == "DELETE" else {"code": "NEW"})
    assert_error(r, 405, "method_not_allowed", "[DestinationChannel] is read-only.")
    assert pg.psql("SELECT string_agg(code, ',' ORDER BY code) FROM webhookd.destination_channel") == \
        "DEFAULT,PULL,WEBHOOKSERVICES"


def test_a_nested_destination_channel_is_only_looked_up(admin, pg):
    tag = uid("ch")
    r = admin.post("DestinationTargets", {"id": f"t-{tag}", "destinationChannel": {"code": "PULL", "x": 1}})
    assert r.status_code == 201, r.text
    assert pg.psql("SELECT count(*) FROM webhookd.destination_channel") == "3"


@pytest.mark.parametrize("who", ["viewer", "publisher"])
@pytest.mark.parametrize("method,path", [
    ("POST", "IntegrationObjects"), ("PATCH", "IntegrationObjects('x')"),
    ("PUT", "IntegrationObjects('x')"), ("MERGE", "IntegrationObjects('x')"),
    ("DELETE", "IntegrationObjects('x')"), ("POST", "DestinationChannels"),
])
def test_users_without_the_admin_role_cannot_write(request, pg, who, method, path):
    client = request.getfixturevalue(who)
    code = uid("io403")
    r = client.request(method, path, None if method == "DELETE" else {"code": code})
    assert r.status_code == 403
    assert r.content == FORBIDDEN
    assert nothing(pg, code)


def test_viewers_can_still_read(viewer, admin):
    code = uid("io")
    admin.create("IntegrationObjects", {"code": code})
    assert viewer.d(entity_path("IntegrationObjects", code))["code"] == code


# ==================================================== persist hooks =====

@pytest.fixture(scope="module")
def hooks(pg):
    """Hook functions and their registry rows; names unique to this run."""
    t = uid("h").replace("-", "_")
    names = {k: f"{k}_{t}" for k in ("log", "reject", "fail_post", "raise_odata")}
    pg.psql(f"""
      CREATE TABLE public.{t}_log (n serial, kind text, entity_type text, integration_key text,
                                    payload jsonb, seen int);
      CREATE FUNCTION public.{t}_pre(entity_type text, integration_key text, payload jsonb)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO public.{t}_log (kind, entity_type, integration_key, payload, seen)
          VALUES ('PRE', entity_type, integration_key, payload,
                  (SELECT count(*) FROM webhookd.integration_object io WHERE io.code = $2));
        END $$;
      CREATE FUNCTION public.{t}_post(entity_type text, integration_key text, payload jsonb)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO public.{t}_log (kind, entity_type, integration_key, payload, seen)
          VALUES ('POST', entity_type, integration_key, payload,
                  (SELECT count(*) FROM webhookd.integration_object io WHERE io.code = $2));
        END $$;
      CREATE FUNCTION public.{t}_reject(entity_type text, integration_key text, payload jsonb)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'code % is not allowed', payload->>'code'; END $$;
      CREATE FUNCTION public.{t}_odata(entity_type text, integration_key text, payload jsonb)
        RETURNS void LANGUAGE sql AS $$
        SELECT webhookd.raise_odata(422, 'hook_says_no', 'Rejected by policy.', integration_key) $$;
      INSERT INTO webhookd.persist_hook (name, kind, function) VALUES
        ('{names['log']}', 'PRE', 'public.{t}_pre(text,text,jsonb)'),
        ('{names['log']}', 'POST', 'public.{t}_post(text,text,jsonb)'),
        ('{names['reject']}', 'PRE', 'public.{t}_reject(text,text,jsonb)'),
        ('{names['fail_post']}', 'POST', 'public.{t}_reject(text,text,jsonb)'),
        ('{names['raise_odata']}', 'PRE', 'public.{t}_odata(text,text,jsonb)');
    """)
    names["table"] = f"public.{t}_log"
    return names


def hook_log(pg, hooks, key):
    out = pg.psql(f"SELECT json_agg(json_build_object('kind', kind, 'type', entity_type, 'key', "
                  f"integration_key, 'payload', payload, 'seen', seen) ORDER BY n) "
                  f"FROM {hooks['table']} WHERE integration_key = '{key}'")
    return json.loads(out) if out else []


def test_hooks_run_in_the_write_with_the_entity_type_key_and_payload(admin, pg, hooks):
    code = uid("iohook")
    body = {"code": code, "description": "hooked"}
    r = admin.post("IntegrationObjects", body, headers={
        "Pre-Persist-Hook": hooks["log"], "Post-Persist-Hook": hooks["log"]})
    assert r.status_code == 201, r.text
    assert hook_log(pg, hooks, code) == [
        {"kind": "PRE", "type": "IntegrationObject", "key": code, "payload": body, "seen": 0},
        {"kind": "POST", "type": "IntegrationObject", "key": code, "payload": body, "seen": 1}]
    r = admin.patch(entity_path("IntegrationObjects", code), {"description": "again"},
                    headers={"Post-Persist-Hook": hooks["log"]})
    assert r.status_code == 200, r.text
    assert hook_log(pg, hooks, code)[-1] == {"kind": "POST", "type": "IntegrationObject", "key": code,
                                             "payload": {"description": "again"}, "seen": 1}


def test_hooks_on_a_delete_get_no_payload(admin, pg, hooks):
    code = uid("iohookdel")
    admin.create("IntegrationObjects", {"code": code})
    r = admin.delete(entity_path("IntegrationObjects", code), headers={
        "Pre-Persist-Hook": hooks["log"], "Post-Persist-Hook": hooks["log"]})
    assert r.status_code == 204, r.text
    assert hook_log(pg, hooks, code) == [
        {"kind": "PRE", "type": "IntegrationObject", "key": code, "payload": None, "seen": 1},
        {"kind": "POST", "type": "IntegrationObject", "key": code, "payload": None, "seen": 0}]


def test_hooks_see_the_root_entity_of_a_deep_post(admin, pg, hooks):
    w = make_webhook(admin)
    r = admin.post("WebhookConfigurations", w.config, headers={"Post-Persist-Hook": hooks["log"]})
    assert r.status_code == 201
    log = hook_log(pg, hooks, w.key)
    assert [(x["type"], x["payload"]) for x in log] == [("WebhookConfiguration", w.config)]


@pytest.mark.parametrize("header,name,code,status,msg", [
    ("Pre-Persist-Hook", "reject", "pre_persist_error", 400,
     "Exception occurred during the execution of Pre-Persist-Hook: [{name}]. Caused by: code {code} is not allowed"),
    ("Post-Persist-Hook", "fail_post", "post_persist_error", 400,
     "Exception occurred during the execution of Post-Persist-Hook: [{name}]. Caused by: code {code} is not allowed"),
    ("Pre-Persist-Hook", "raise_odata", "hook_says_no", 422, "Rejected by policy."),
])
def test_a_hook_that_raises_rejects_the_write(admin, pg, hooks, header, name, code, status, msg):
    io = uid("iorej")
    r = admin.post("IntegrationObjects", {"code": io}, headers={header: hooks[name]})
    assert r.status_code == status, r.text
    assert r.content == odata_error(code, msg.format(name=hooks[name], code=io), io)
    assert nothing(pg, io)
    # an update is rejected the same way and leaves the row as it was
    admin.create("IntegrationObjects", {"code": io, "description": "before"})
    r = admin.patch(entity_path("IntegrationObjects", io), {"description": "after"},
                    headers={header: hooks[name]})
    assert r.status_code == status
    assert admin.d(entity_path("IntegrationObjects", io))["description"] == "before"


@pytest.mark.parametrize("header,kind", [("Pre-Persist-Hook", "Pre"), ("Post-Persist-Hook", "Post")])
@pytest.mark.parametrize("name", ["no-such-hook", "x'); DROP TABLE webhookd.persist_hook; --", "log"])
def test_an_unknown_hook_is_400_hook_not_found(admin, pg, hooks, header, kind, name):
    io = uid("iohnf")
    r = admin.post("IntegrationObjects", {"code": io}, headers={header: name})
    assert r.status_code == 400
    assert r.content == odata_error("hook_not_found", f"{kind}-Persist-Hook [{name}] was not found.", name)
    assert nothing(pg, io)
    assert int(pg.psql("SELECT count(*) FROM webhookd.persist_hook")) >= 5


def test_a_pre_hook_registered_only_as_post_is_not_found(admin, hooks):
    r = admin.post("IntegrationObjects", {"code": uid("io")}, headers={"Pre-Persist-Hook": hooks["fail_post"]})
    assert_error(r, 400, "hook_not_found")


# ============================================== integrationMessageId =====

@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE", "PUT"])
def test_integration_message_id_is_echoed_and_logged(server, admin, method):
    code = uid("iomid")
    admin.create("IntegrationObjects", {"code": code})
    mid = uid("msg")
    path = "IntegrationObjects" if method == "POST" else entity_path("IntegrationObjects", code)
    r = admin.request(method, path, None if method == "DELETE" else {"code": code},
                      headers={"integrationMessageId": mid})
    assert r.status_code in (200, 201, 204)
    assert r.headers["integrationMessageId"] == mid
    r = admin.request(method, path, None if method == "DELETE" else {"bogus": 1},
                      headers={"integrationMessageId": mid + "-err", "If-Match": 'W/"77"'})
    assert r.status_code in (400, 404, 412)
    assert r.headers["integrationMessageId"] == mid + "-err"

    def lines():
        got = [(x["method"], x["integrationMessageId"]) for x in server.access_log()
               if x.get("integrationMessageId") in (mid, mid + "-err")]
        return got if len(got) == 2 else None
    assert wait_for(lines, 5, what="access log lines") == [(method, mid), (method, mid + "-err")]


def test_a_secret_generated_for_an_existing_destination_is_never_shown(admin, pg):
    """The destination exists already (its secret was shown when it was
    created); a new configuration naming it must not show the secret the
    server generated in vain (it was never stored)."""
    tag = uid("fake")
    io = admin.create("IntegrationObjects", {"code": f"io-{tag}"})["code"]
    dest = consumed_destination(f"dest-{tag}", destination_target(f"tgt-{tag}"))
    created = admin.create("ConsumedDestinations", dest)
    assert SECRET_RE.match(created["signingSecret"])
    r = admin.post("WebhookConfigurations", webhook_configuration(dest, io))
    assert r.status_code == 201, r.text
    assert "signingSecret" not in r.text
    # nor does a new configuration show the (stored) secret of a new destination twice
    tag2 = uid("fake2")
    dest2 = consumed_destination(f"dest-{tag2}", destination_target(f"tgt-{tag2}"))
    d = admin.create("WebhookConfigurations", webhook_configuration(dest2, io))
    assert SECRET_RE.match(d["destination"]["signingSecret"])
    assert "signingSecret" not in json.dumps({k: v for k, v in d.items() if k != "destination"})


@pytest.mark.parametrize("code", ["a b", "a|b", "it's", "50%", "über", "x/y", "a+b", "q?x#y", "t\tt", "(x)"])
def test_keys_with_special_characters_round_trip_through_location(server, admin, code):
    code = f"{code}-{uid()}"
    r = admin.post("IntegrationObjects", {"code": code})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == url(server, "IntegrationObjects", integration_key(code))
    got = admin.get(r.headers["Location"])
    assert got.status_code == 200, got.text
    assert got.json()["d"]["code"] == code
    assert got.headers["ETag"] == r.headers["ETag"]
    r = admin.patch(r.headers["Location"], {"description": "x"})
    assert (r.status_code, r.json()["d"]["code"]) == (200, code)


def test_a_payload_writing_more_than_1000_entities_is_413(admin, pg):
    tag = uid("many")
    body = consumed_destination(f"d-{tag}", f"t-{tag}",
                                additionalProperties=[{"key": f"k{i}"} for i in range(1001)])
    r = admin.post("ConsumedDestinations", body)
    assert r.status_code == 413
    assert r.content == odata_error("payload_too_large", "The payload writes more than 1000 entities.")
    assert nothing(pg, tag)
    body["additionalProperties"] = body["additionalProperties"][:900]
    assert admin.post("ConsumedDestinations", body).status_code == 201
    assert counts(pg, tag)["string2string_map"] == 900
