"""OData READ side of the WebhookService (odata.md): entities by key in both
predicate forms, navigation, /$count, $filter (table-driven, every operator
and string function), $orderby, paging with __next, $inlinecount, $expand,
$select, the service document, $metadata, CSRF, CORS and the
integrationMessageId echo.

All data is created once per module with a unique tag, and every query is
restricted to that tag: the session's database is shared with other modules.
"""
import json
import urllib.parse
import xml.dom.minidom

import pytest

from odata_helpers import (BASE, ITEM_CREATED, ITEM_SAVED, NS, OData, assert_error,
                           integration_key, uid, uri_key)


def lit(s):
    """An OData string literal."""
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------- data --

class Data:
    pass


def dest_specs(T, A, B):
    """The module's ConsumedDestinations, in insertion order, with the values
    the tests expect back. String orderings are only compared between
    lower-case ASCII ids (collation independent)."""
    return [
        dict(id=f"{T}-alpha", target=A, url="https://alpha.example/hook", maxInFlight=1,
             timeoutMillis=1000, active=True, ignoreErrors=False, signingAlgorithm="HMAC_SHA256"),
        dict(id=f"{T}-bravo", target=A, url="http://bravo.example/x?y=1", maxInFlight=2,
             timeoutMillis=2500, active=False, ignoreErrors=False, signingAlgorithm="HMAC_SHA256"),
        dict(id=f"{T}-O'Brien", target=A, url="https://ob.example/", maxInFlight=3,
             timeoutMillis=3000, active=True, ignoreErrors=False, signingAlgorithm="NONE"),
        dict(id=f"{T}-trail  ", target=B, url="https://trail.example/", maxInFlight=4,
             timeoutMillis=4000, active=True, ignoreErrors=True, signingAlgorithm="HMAC_SHA256"),
        dict(id=f"{T}-Ünï|%'x y+z", target=B, url="https://uni.example/", maxInFlight=10,
             timeoutMillis=15000, active=True, ignoreErrors=False, signingAlgorithm="HMAC_SHA256"),
        dict(id=f"{T}-x' or 1=1 --", target=B, url="https://sql.example/", maxInFlight=5,
             timeoutMillis=600000, active=False, ignoreErrors=False, signingAlgorithm="HMAC_SHA256"),
    ]


@pytest.fixture(scope="module")
def data(admin):
    D = Data()
    D.T = T = uid("rd")
    D.A, D.B = f"tgtA-{T}", f"tgtB-{T}"
    D.io, D.io2 = f"io-{T}", f"io-{T}-2"
    D.wf = f"wf-{T}"
    for code in (D.io, D.io2):
        admin.create("IntegrationObjects", {"code": code, "description": f"desc {code}"})
    admin.create("WebhookFilters", {"code": D.wf, "expression": "code eq 'x'"})
    D.dests = dest_specs(T, D.A, D.B)
    targets = {
        D.A: {"id": D.A, "destinationChannel": {"code": "WEBHOOKSERVICES"},
              "eventConfigurations": [{"eventClass": ITEM_SAVED, "exportName": "saved"},
                                      {"eventClass": ITEM_CREATED, "exportName": "created"}]},
        D.B: {"id": D.B, "destinationChannel": {"code": "WEBHOOKSERVICES"},
              "eventConfigurations": [{"eventClass": ITEM_SAVED}]},
    }
    for d in D.dests:
        d["key"] = integration_key(d["id"], d["target"])
    # configs: (dest index, io, event type, filterLocation), insertion order
    plan = [(0, D.io, ITEM_SAVED, f"model://{D.wf}"), (0, D.io, ITEM_CREATED, None),
            (1, D.io, ITEM_SAVED, None), (1, D.io2, ITEM_SAVED, None),
            (2, D.io, ITEM_SAVED, None), (3, D.io, ITEM_SAVED, None),
            (4, D.io, ITEM_SAVED, None), (5, D.io, ITEM_SAVED, None)]
    D.configs = []
    for i, io, ev, fl in plan:
        d = D.dests[i]
        dest = {k: d[k] for k in ("id", "url", "maxInFlight", "timeoutMillis", "active",
                                  "ignoreErrors", "signingAlgorithm")}
        dest["destinationTarget"] = targets[d["target"]]
        if i == 0:
            dest["credentialBasic"] = {"id": f"bc-{T}", "username": "user-a",
                                       "password": "PW-" + T}
            dest["credentialConsumedOAuth"] = {"id": f"oa-{T}", "clientId": "cid",
                                               "clientSecret": "CS-" + T,
                                               "oAuthUrl": "https://oauth.example/token"}
            dest["endpoint"] = {"id": f"ep-{T}", "version": "v1", "name": "ep"}
            dest["additionalProperties"] = [{"key": "k1", "value": "v1"},
                                            {"key": "k2", "value": "v2"}]
        body = {"eventType": ev, "destination": dest, "integrationObject": {"code": io}}
        if fl:
            body["filterLocation"] = fl
        admin.create("WebhookConfigurations", body)
        D.configs.append(dict(dest=i, io=io, eventType=ev, filterLocation=fl,
                              key=integration_key(d["id"], d["target"], io, ev)))
    # plain IntegrationObjects for paging: 12 of them
    D.pio = [f"pio-{T}-{n:02d}" for n in range(12)]
    for code in D.pio:
        admin.create("IntegrationObjects", {"code": code})
    return D


def mine(D):
    return f"startswith(id, '{D.T}')"


def mine_cfg(D):
    return f"startswith(integrationObject/code, 'io-{D.T}')"


def dest_ids(rows):
    return [r["id"] for r in rows]


def cfg_keys(rows):
    return [r["integrationKey"] for r in rows]


def entity_uri(server, set_, key):
    return server.url(f"{BASE}/{set_}('{uri_key(key)}')")


# --------------------------------------------------------- entity by key --

def test_get_by_key_shape_metadata_etag(server, viewer, data):
    c = data.configs[0]
    r = viewer.get(f"WebhookConfigurations('{uri_key(c['key'])}')")
    assert r.status_code == 200, r.text
    assert r.headers["DataServiceVersion"] == "2.0"
    assert r.headers["Content-Type"].startswith("application/json")
    e = r.json()["d"]
    uri = entity_uri(server, "WebhookConfigurations", c["key"])
    assert e["__metadata"] == {"id": uri, "uri": uri, "type": f"{NS}.WebhookConfiguration",
                               "etag": 'W/"1"'}
    assert r.headers["ETag"] == e["__metadata"]["etag"]
    assert e["integrationKey"] == c["key"]
    assert e["eventType"] == ITEM_SAVED
    assert e["filterLocation"] == f"model://{data.wf}"
    assert e["destination"] == {"__deferred": {"uri": uri + "/destination"}}
    assert e["integrationObject"] == {"__deferred": {"uri": uri + "/integrationObject"}}
    assert set(e) == {"__metadata", "eventType", "filterLocation", "integrationKey",
                      "destination", "integrationObject"}


def test_metadata_uri_follows_host_header(server, viewer, data):
    c = data.configs[0]
    r = viewer.get(f"WebhookConfigurations('{uri_key(c['key'])}')",
                   headers={"Host": "hooks.example.org:8443"})
    assert r.status_code == 200, r.text
    assert r.json()["d"]["__metadata"]["uri"] == (
        f"http://hooks.example.org:8443{BASE}/WebhookConfigurations('{uri_key(c['key'])}')")


@pytest.mark.parametrize("i", range(6))
def test_destination_by_key_roundtrip(server, viewer, data, i):
    """Fetch each destination (quotes, spaces, '+', '|', '%', non-ASCII in
    its id) by the uri its own __metadata gives."""
    d = data.dests[i]
    e = viewer.d(f"ConsumedDestinations('{uri_key(d['key'])}')")
    assert e["id"] == d["id"]
    assert e["integrationKey"] == d["key"]
    for k in ("url", "maxInFlight", "timeoutMillis", "active", "ignoreErrors",
              "signingAlgorithm"):
        assert e[k] == d[k], k
    assert e["deactivatedReason"] is None
    assert "signingSecret" not in e
    uri = e["__metadata"]["uri"]
    assert uri == entity_uri(server, "ConsumedDestinations", d["key"])
    again = viewer.d(uri)
    assert again["id"] == d["id"]


def test_key_predicate_forms(viewer, data):
    d = data.dests[2]           # id contains a quote
    k = uri_key(d["key"])
    by_plain = viewer.d(f"ConsumedDestinations('{k}')")
    by_name = viewer.d(f"ConsumedDestinations(integrationKey='{k}')")
    assert by_plain == by_name
    assert by_plain["id"] == d["id"]


def test_key_with_decoded_quote_and_raw_unicode(viewer, data):
    """The key parts are form-decoded once more: a literal ' (written '')
    and raw UTF-8 in the predicate name the same entity as %27 / %C3%9C."""
    d = data.dests[4]
    raw = (d["id"].replace("%", "%25").replace("|", "%7C").replace("+", "%2B")
           .replace(" ", "+"))
    key = raw + "|" + d["target"]
    path = f"ConsumedDestinations('{uri_key(key).replace(chr(39), chr(39) * 2)}')"
    path = urllib.parse.quote(path, safe="/()'%+=")
    e = viewer.d(path)
    assert e["id"] == d["id"]


def test_percent_7c_is_a_separator_and_257c_a_bar(viewer, data):
    d = data.dests[4]                       # its id contains '|'
    good = uri_key(d["key"])
    assert "%257C" in good
    assert viewer.d(f"ConsumedDestinations('{good}')")["id"] == d["id"]
    bad = good.replace("%257C", "%7C")      # the '|' now separates: 3 parts
    r = viewer.get(f"ConsumedDestinations('{bad}')")
    assert_error(r, 400, "invalid_key")


@pytest.fixture(scope="module")
def odd_target(admin, data):
    """A DestinationTarget whose id has '/', parentheses, a quote, a space."""
    tid = f"{data.T}/a(b)c'd e"
    admin.create("DestinationTargets", {"id": tid, "destinationChannel": {"code": "PULL"}})
    return tid


@pytest.mark.parametrize("pred", [
    "'{enc}'",                                  # the key as __metadata writes it
    "integrationKey='{enc}'",
    "'{T}%2Fa(b)c''d e'",                       # raw characters, quote doubled
    "'{T}/a(b)c''d+e'",                         # '/' and ')' inside the quotes
    "'{T}%2Fa%28b%29c%27%27d%20e'",
    "%27{T}%2Fa(b)c%27%27d+e%27",               # quotes percent-encoded
])
def test_key_with_slash_parens_quote(server, viewer, data, odd_target, pred):
    key = integration_key(odd_target)
    path = "DestinationTargets(" + pred.format(T=data.T, enc=uri_key(key)) + ")"
    e = viewer.d(path)
    assert e["id"] == odd_target and e["integrationKey"] == key
    assert e["__metadata"]["uri"] == entity_uri(server, "DestinationTargets", key)
    ch = viewer.d(path + "/destinationChannel")
    assert ch["code"] == "PULL"
    assert viewer.count(path + "/eventConfigurations") == 0


def test_percent_encoded_parentheses_in_path(viewer):
    r = viewer.get("DestinationChannels%28'PULL'%29")
    assert r.status_code == 200, r.text
    assert r.json()["d"]["code"] == "PULL"


def test_missing_key_404_with_inner(viewer, data):
    key = integration_key("nope-" + data.T, data.A)
    r = viewer.get(f"ConsumedDestinations('{uri_key(key)}')")
    assert_error(r, 404, "not_found",
                 f"[ConsumedDestination] with integration key [{key}] was not found.", key)
    assert r.headers["DataServiceVersion"] == "2.0"
    assert "ETag" not in r.headers


def test_write_only_properties_never_read(viewer, data):
    T = data.T
    reads = [
        viewer.get("BasicCredentials", {"filter": f"id eq 'bc-{T}'"}),
        viewer.get(f"BasicCredentials('bc-{T}')"),
        viewer.get(f"ConsumedOAuthCredentials('oa-{T}')"),
        viewer.get("ConsumedDestinations", {"filter": mine(data), "top": 50}),
        viewer.get("WebhookConfigurations",
                   {"filter": mine_cfg(data), "expand": "destination/credentialBasic,"
                    "destination/credentialConsumedOAuth", "top": 50}),
        viewer.get(f"ConsumedDestinations('{uri_key(data.dests[0]['key'])}')/credentialBasic"),
    ]
    for r in reads:
        assert r.status_code == 200, r.text
        text = r.text
        assert "PW-" + T not in text and "CS-" + T not in text and "whsec_" not in text
        for name in ('"password"', '"clientSecret"', '"signingSecret"'):
            assert name not in text
    bc = reads[1].json()["d"]
    assert bc["username"] == "user-a" and bc["integrationKey"] == f"bc-{T}"


# ------------------------------------------------------------- navigation --

def test_nav_to_one(server, viewer, data):
    c = data.configs[2]
    e = viewer.d(f"WebhookConfigurations('{uri_key(c['key'])}')/destination")
    assert e["id"] == data.dests[1]["id"]
    assert e["__metadata"]["type"] == f"{NS}.ConsumedDestination"
    assert e["__metadata"]["uri"] == entity_uri(server, "ConsumedDestinations",
                                                data.dests[1]["key"])
    r = viewer.get(f"WebhookConfigurations('{uri_key(c['key'])}')/integrationObject")
    assert r.status_code == 200
    assert r.json()["d"]["code"] == data.io
    assert r.headers.get("ETag") == r.json()["d"]["__metadata"]["etag"]


def test_nav_to_one_optional_present_and_null(viewer, data):
    k0, k1 = uri_key(data.dests[0]["key"]), uri_key(data.dests[1]["key"])
    assert viewer.d(f"ConsumedDestinations('{k0}')/endpoint")["id"] == f"ep-{data.T}"
    r = viewer.get(f"ConsumedDestinations('{k1}')/credentialBasic")
    assert_error(r, 404, "not_found",
                 f"[ConsumedDestination] with integration key [{data.dests[1]['key']}] "
                 "has no [credentialBasic].")


def test_nav_to_many(viewer, data):
    rows = viewer.results(f"DestinationTargets('{data.A}')/eventConfigurations")
    assert sorted(r["eventClass"] for r in rows) == sorted([ITEM_SAVED, ITEM_CREATED])
    assert all(r["__metadata"]["type"] == f"{NS}.EventConfiguration" for r in rows)
    props = viewer.results(f"ConsumedDestinations('{uri_key(data.dests[0]['key'])}')"
                           "/additionalProperties")
    assert [(p["key"], p["value"]) for p in props] == [("k1", "v1"), ("k2", "v2")]
    none = viewer.results(f"ConsumedDestinations('{uri_key(data.dests[1]['key'])}')"
                          "/additionalProperties")
    assert none == []


def test_nav_to_many_with_options(viewer, data):
    k0 = uri_key(data.dests[0]["key"])
    rows = viewer.results(f"ConsumedDestinations('{k0}')/additionalProperties",
                          {"filter": "key eq 'k2'"})
    assert [p["value"] for p in rows] == ["v2"]
    rows = viewer.results(f"ConsumedDestinations('{k0}')/additionalProperties",
                          {"orderby": "key desc", "top": 1})
    assert [p["key"] for p in rows] == ["k2"]
    d = viewer.d(f"ConsumedDestinations('{k0}')/additionalProperties",
                 {"inlinecount": "allpages", "skip": 1})
    assert d["__count"] == "2" and [p["key"] for p in d["results"]] == ["k2"]


@pytest.mark.parametrize("path", [
    "ConsumedDestinations('{k}')/destinationTarget",
    "ConsumedDestinations('{k}')/additionalProperties",
    "ConsumedDestinations('{k}')/additionalProperties/$count",
])
def test_nav_parent_missing_is_404_of_parent(viewer, data, path):
    key = integration_key("gone-" + data.T, data.A)
    r = viewer.get(path.format(k=uri_key(key)))
    assert_error(r, 404, "not_found",
                 f"[ConsumedDestination] with integration key [{key}] was not found.", key)


# ----------------------------------------------------------------- $count --

def test_count_set_honours_filter_ignores_paging(viewer, data):
    n = viewer.count("ConsumedDestinations", {"filter": mine(data)})
    assert n == 6
    assert viewer.count("ConsumedDestinations", {"filter": mine(data), "top": 1, "skip": 2,
                                                 "orderby": "id desc"}) == 6
    assert viewer.count("ConsumedDestinations",
                        {"filter": mine(data) + " and active eq false"}) == 2
    r = viewer.get("ConsumedDestinations/$count", {"filter": mine(data)})
    assert r.text.strip() == "6"
    assert r.headers["DataServiceVersion"] == "2.0"


def test_count_whole_set_and_channels(viewer):
    n = viewer.count("DestinationChannels")
    assert n >= 3
    codes = {r["code"] for r in viewer.results("DestinationChannels", {"top": 1000})}
    assert {"WEBHOOKSERVICES", "PULL", "DEFAULT"} <= codes
    assert viewer.count("DestinationChannels", {"filter": "code eq 'PULL'"}) == 1


def test_count_nav(viewer, data):
    assert viewer.count(f"DestinationTargets('{data.A}')/eventConfigurations") == 2
    assert viewer.count(f"DestinationTargets('{data.A}')/eventConfigurations",
                        {"filter": f"eventClass eq '{ITEM_CREATED}'", "top": 0}) == 1
    assert viewer.count(f"DestinationTargets('{data.B}')/eventConfigurations") == 1


def test_channels_seeded(server, viewer):
    for code in ("WEBHOOKSERVICES", "PULL", "DEFAULT"):
        e = viewer.d(f"DestinationChannels('{code}')")
        assert e["code"] == code and e["integrationKey"] == code
        assert e["__metadata"]["uri"] == entity_uri(server, "DestinationChannels", code)


# ---------------------------------------------------------------- $filter --

# (id, filter builder(D), expected predicate over a dest spec (d, D))
DEST_FILTERS = [
    ("eq", lambda D: "maxInFlight eq 3", lambda d, D: d["maxInFlight"] == 3),
    ("ne", lambda D: "maxInFlight ne 3", lambda d, D: d["maxInFlight"] != 3),
    ("gt", lambda D: "maxInFlight gt 3", lambda d, D: d["maxInFlight"] > 3),
    ("ge", lambda D: "maxInFlight ge 3", lambda d, D: d["maxInFlight"] >= 3),
    ("lt", lambda D: "maxInFlight lt 3", lambda d, D: d["maxInFlight"] < 3),
    ("le", lambda D: "maxInFlight le 3", lambda d, D: d["maxInFlight"] <= 3),
    ("literal-left", lambda D: "3 lt maxInFlight", lambda d, D: 3 < d["maxInFlight"]),
    ("and", lambda D: "maxInFlight gt 1 and maxInFlight lt 5",
     lambda d, D: 1 < d["maxInFlight"] < 5),
    ("or", lambda D: "maxInFlight eq 1 or maxInFlight eq 10",
     lambda d, D: d["maxInFlight"] in (1, 10)),
    ("not", lambda D: "not (maxInFlight eq 1)", lambda d, D: d["maxInFlight"] != 1),
    ("not-and", lambda D: "not (active eq true and maxInFlight gt 2)",
     lambda d, D: not (d["active"] and d["maxInFlight"] > 2)),
    ("precedence", lambda D: "maxInFlight eq 1 or maxInFlight eq 2 and active eq true",
     lambda d, D: d["maxInFlight"] == 1 or (d["maxInFlight"] == 2 and d["active"])),
    ("parens", lambda D: "(maxInFlight eq 1 or maxInFlight eq 2) and active eq true",
     lambda d, D: d["maxInFlight"] in (1, 2) and d["active"]),
    ("bool-false", lambda D: "active eq false", lambda d, D: not d["active"]),
    ("bool-true", lambda D: "active eq true", lambda d, D: d["active"]),
    ("bool-bare", lambda D: "active", lambda d, D: d["active"]),
    ("bool-not", lambda D: "not active", lambda d, D: not d["active"]),
    ("bool-ne", lambda D: "ignoreErrors ne false", lambda d, D: d["ignoreErrors"]),
    ("add", lambda D: "maxInFlight add 1 eq 4", lambda d, D: d["maxInFlight"] == 3),
    ("sub", lambda D: "maxInFlight sub 1 eq 0", lambda d, D: d["maxInFlight"] == 1),
    ("mul", lambda D: "maxInFlight mul 2 eq 20", lambda d, D: d["maxInFlight"] == 10),
    ("div-int", lambda D: "timeoutMillis div 1000 eq 2",
     lambda d, D: d["timeoutMillis"] // 1000 == 2),
    ("mod", lambda D: "timeoutMillis mod 1000 eq 500",
     lambda d, D: d["timeoutMillis"] % 1000 == 500),
    ("div-cols", lambda D: "timeoutMillis div maxInFlight gt 1000",
     lambda d, D: d["timeoutMillis"] // d["maxInFlight"] > 1000),
    ("arith-parens", lambda D: "(maxInFlight add 2) mul 3 eq 15",
     lambda d, D: (d["maxInFlight"] + 2) * 3 == 15),
    ("arith-precedence", lambda D: "maxInFlight add 2 mul 3 eq 9",
     lambda d, D: d["maxInFlight"] + 6 == 9),
    ("negate", lambda D: "-maxInFlight eq -4", lambda d, D: d["maxInFlight"] == 4),
    ("int64", lambda D: "maxInFlight lt 3L", lambda d, D: d["maxInFlight"] < 3),
    ("decimal", lambda D: "maxInFlight lt 2.5M", lambda d, D: d["maxInFlight"] < 2.5),
    ("double", lambda D: "maxInFlight gt 4.5d", lambda d, D: d["maxInFlight"] > 4.5),
    ("big-int", lambda D: "timeoutMillis ge 600000", lambda d, D: d["timeoutMillis"] >= 600000),
    ("substringof", lambda D: "substringof('lph', id)", lambda d, D: "lph" in d["id"]),
    ("substringof-url", lambda D: "substringof('.example/', url)", lambda d, D: True),
    ("startswith", lambda D: f"startswith(id, '{D.T}-br')",
     lambda d, D: d["id"].startswith(f"{D.T}-br")),
    ("endswith", lambda D: "endswith(id, 'trail  ')", lambda d, D: d["id"].endswith("trail  ")),
    ("endswith-false", lambda D: "endswith(id, 'trail')", lambda d, D: False),
    ("indexof", lambda D: f"indexof(id, 'bravo') eq {len(D.T) + 1}",
     lambda d, D: d["id"].find("bravo") == len(D.T) + 1),
    ("indexof-missing", lambda D: "indexof(id, 'zzz') eq -1", lambda d, D: True),
    ("length", lambda D: f"length(id) eq {len(D.T) + 6}",
     lambda d, D: len(d["id"]) == len(D.T) + 6),
    ("length-unicode", lambda D: f"length(id) eq {len(D.dests[4]['id'])}",
     lambda d, D: len(d["id"]) == len(D.dests[4]["id"])),
    ("tolower", lambda D: f"tolower(id) eq {lit(D.T.lower() + chr(45) + 'o' + chr(39) + 'brien')}",
     lambda d, D: d["id"].lower() == f"{D.T}-o'brien"),
    ("toupper", lambda D: f"toupper(id) eq '{D.T.upper()}-ALPHA'",
     lambda d, D: d["id"].upper() == f"{D.T.upper()}-ALPHA"),
    ("trim", lambda D: f"trim(id) eq '{D.T}-trail'", lambda d, D: d["id"].strip() == f"{D.T}-trail"),
    ("concat", lambda D: f"concat(id, 'Z') eq '{D.T}-alphaZ'",
     lambda d, D: d["id"] + "Z" == f"{D.T}-alphaZ"),
    ("concat-nested", lambda D: f"concat(concat(id, '@'), url) eq '{D.T}-bravo@http://bravo.example/x?y=1'",
     lambda d, D: d["id"] + "@" + d["url"] == f"{D.T}-bravo@http://bravo.example/x?y=1"),
    ("substring2", lambda D: f"substring(id, {len(D.T) + 1}) eq 'alpha'",
     lambda d, D: d["id"][len(D.T) + 1:] == "alpha"),
    ("substring3", lambda D: f"substring(id, {len(D.T) + 1}, 2) eq 'al'",
     lambda d, D: d["id"][len(D.T) + 1:len(D.T) + 3] == "al"),
    ("replace", lambda D: f"replace(id, 'alpha', 'omega') eq '{D.T}-omega'",
     lambda d, D: d["id"].replace("alpha", "omega") == f"{D.T}-omega"),
    ("tolower-startswith", lambda D: f"startswith(tolower(id), '{D.T}-o')",
     lambda d, D: d["id"].lower().startswith(f"{D.T}-o")),
    ("quote", lambda D: f"id eq {lit(D.T + chr(45) + 'O' + chr(39) + 'Brien')}",
     lambda d, D: d["id"] == f"{D.T}-O'Brien"),
    ("sql-looking", lambda D: f"id eq {lit(D.T + '-x' + chr(39) + ' or 1=1 --')}",
     lambda d, D: d["id"] == f"{D.T}-x' or 1=1 --"),
    ("unicode", lambda D: f"id eq {lit(D.dests[4]['id'])}", lambda d, D: d is D.dests[4]),
    ("null-eq", lambda D: "deactivatedReason eq null", lambda d, D: True),
    ("null-ne", lambda D: "deactivatedReason ne null", lambda d, D: False),
    ("null-left", lambda D: "null eq url", lambda d, D: False),
    ("enum-string", lambda D: "signingAlgorithm eq 'NONE'",
     lambda d, D: d["signingAlgorithm"] == "NONE"),
    ("to-one", lambda D: f"destinationTarget/id eq '{D.B}'", lambda d, D: d["target"] == D.B),
    ("to-one-deep", lambda D: "destinationTarget/destinationChannel/code eq 'WEBHOOKSERVICES'",
     lambda d, D: True),
    ("to-one-optional", lambda D: f"endpoint/id eq 'ep-{D.T}'", lambda d, D: d is D.dests[0]),
    ("to-one-optional-null", lambda D: "endpoint/id eq null", lambda d, D: d is not D.dests[0]),
    ("to-one-optional-ne", lambda D: "credentialBasic/username ne 'user-a'",
     lambda d, D: d is not D.dests[0]),
    ("key-eq", lambda D: f"integrationKey eq {lit(D.dests[1]['key'])}",
     lambda d, D: d is D.dests[1]),
    ("key-eq-special", lambda D: f"integrationKey eq {lit(D.dests[4]['key'])}",
     lambda d, D: d is D.dests[4]),
    ("key-eq-left", lambda D: f"{lit(D.dests[2]['key'])} eq integrationKey",
     lambda d, D: d is D.dests[2]),
    ("key-ne", lambda D: f"integrationKey ne {lit(D.dests[1]['key'])}",
     lambda d, D: d is not D.dests[1]),
    ("key-bad-arity", lambda D: "integrationKey eq 'a|b|c'", lambda d, D: False),
    ("key-startswith", lambda D: f"startswith(integrationKey, '{D.T}-br')",
     lambda d, D: d["id"].startswith(f"{D.T}-br")),
    ("key-endswith", lambda D: f"endswith(integrationKey, '|{D.B}')",
     lambda d, D: d["target"] == D.B),
    ("key-to-one", lambda D: f"destinationTarget/integrationKey eq '{D.A}'",
     lambda d, D: d["target"] == D.A),
    ("key-not", lambda D: f"not (integrationKey eq {lit(D.dests[0]['key'])})",
     lambda d, D: d is not D.dests[0]),
    ("key-startswith-encoded", lambda D: f"startswith(integrationKey, '{D.T}-%C3%9Cn')",
     lambda d, D: d is D.dests[4]),
    # null semantics: OData's null ne 'x' is true, comparisons with null are
    # false (also under not), null eq null is true
    ("null-ne-literal", lambda D: "deactivatedReason ne 'x'", lambda d, D: True),
    ("null-not-eq", lambda D: "not (deactivatedReason eq 'x')", lambda d, D: True),
    ("null-not-gt", lambda D: "not (deactivatedReason gt 'a')", lambda d, D: True),
    ("null-or", lambda D: "deactivatedReason eq 'x' or maxInFlight eq 1",
     lambda d, D: d["maxInFlight"] == 1),
    ("null-not-or", lambda D: "not (maxInFlight gt 3 or deactivatedReason eq 'x')",
     lambda d, D: d["maxInFlight"] <= 3),
    ("null-not-startswith", lambda D: "not startswith(deactivatedReason, 'x')", lambda d, D: True),
    ("null-not-substringof", lambda D: "not substringof('x', deactivatedReason)", lambda d, D: True),
    ("null-self-eq", lambda D: "deactivatedReason eq deactivatedReason", lambda d, D: True),
    ("null-self-ne", lambda D: "deactivatedReason ne deactivatedReason", lambda d, D: False),
    ("null-length", lambda D: "length(deactivatedReason) eq null", lambda d, D: True),
    ("null-concat", lambda D: "concat(deactivatedReason, 'x') eq 'x'", lambda d, D: False),
    ("join-null-not", lambda D: f"not (endpoint/id eq 'ep-{D.T}')", lambda d, D: d is not D.dests[0]),
    ("join-null-ne", lambda D: "endpoint/name ne 'ep'", lambda d, D: d is not D.dests[0]),
    ("join-null-not-gt", lambda D: "not (credentialBasic/username gt 'a')",
     lambda d, D: d is not D.dests[0]),
    ("bool-compare-cmp", lambda D: "(maxInFlight gt 3) eq active",
     lambda d, D: (d["maxInFlight"] > 3) == d["active"]),
    ("rel-binds-tighter", lambda D: "maxInFlight gt 3 eq false", lambda d, D: d["maxInFlight"] <= 3),
    ("not-not", lambda D: "not not active", lambda d, D: d["active"]),
    # string functions are not LIKE patterns
    ("percent-literal", lambda D: "substringof('%', id)", lambda d, D: "%" in d["id"]),
    ("underscore-literal", lambda D: "substringof('_', id) or endswith(id, '%')",
     lambda d, D: False),
    ("startswith-percent", lambda D: f"startswith(id, '{D.T}-%')", lambda d, D: False),
    ("indexof-0", lambda D: f"indexof(id, '{D.T}') eq 0", lambda d, D: True),
    ("substring-0-n", lambda D: f"substring(id, 0, {len(D.T)}) eq '{D.T}'", lambda d, D: True),
    ("quote-in-function", lambda D: "substringof('''', id)", lambda d, D: "'" in d["id"]),
]


@pytest.mark.parametrize("build,expect", [(b, e) for _, b, e in DEST_FILTERS],
                         ids=[i for i, _, _ in DEST_FILTERS])
def test_filter_destinations(viewer, data, build, expect):
    flt = f"{mine(data)} and ({build(data)})"
    rows = viewer.results("ConsumedDestinations", {"filter": flt, "top": 100})
    want = [d["id"] for d in data.dests if expect(d, data)]
    assert dest_ids(rows) == want, flt
    assert viewer.count("ConsumedDestinations", {"filter": flt}) == len(want)


@pytest.mark.parametrize("n", [1, 32, 33, 100])
def test_filter_names_integration_key_many_times(viewer, data, n):
    """Regression: more than 32 integrationKey references in one request
    answered 500 "Out of memory."."""
    keys = [d["key"] for d in data.dests[:3]]
    terms = [f"integrationKey eq {lit(keys[i % 3])}" for i in range(n)]
    terms += [f"startswith(integrationKey, 'zz{i}')" for i in range(n)]
    flt = f"{mine(data)} and ({' or '.join(terms)})"
    orderby = ",".join(["integrationKey"] * min(n, 64))
    rows = viewer.results("ConsumedDestinations", {"filter": flt, "top": 100, "orderby": orderby})
    assert sorted(dest_ids(rows)) == sorted(d["id"] for d in data.dests[:min(n, 3)])
    rows = viewer.results("WebhookConfigurations", {
        "filter": f"{mine_cfg(data)} and (" + " or ".join(
            [f"destination/integrationKey eq {lit(data.dests[1]['key'])}"] * n) + ")",
        "orderby": ",".join(["destination/integrationKey desc", "integrationKey"] * min(n, 32))})
    assert sorted(cfg_keys(rows)) == sorted([data.configs[2]["key"], data.configs[3]["key"]])
    orderby = ",".join(["integrationKey desc", "destinationTarget/integrationKey"] * min(n, 32))
    assert viewer.results("ConsumedDestinations", {"filter": mine(data), "orderby": orderby})


def test_filter_injection_matches_nothing_anywhere(viewer, data):
    for f in ["id eq 'x'' or 1=1 --'", "id eq 'x'' or ''1''=''1'",
              "id eq 'x''); DROP TABLE webhookd.consumed_destination; --'",
              "substringof('''', id) and id eq 'nope'"]:
        assert viewer.results("ConsumedDestinations", {"filter": f}) == [], f
    assert viewer.count("ConsumedDestinations", {"filter": mine(data)}) == 6


CFG_FILTERS = [
    ("deep-to-one", lambda D: f"destination/destinationTarget/id eq '{D.B}'",
     lambda c, D: D.dests[c["dest"]]["target"] == D.B),
    ("to-one", lambda D: f"destination/id eq '{D.T}-alpha'", lambda c, D: c["dest"] == 0),
    ("event", lambda D: f"eventType eq '{ITEM_CREATED}'", lambda c, D: c["eventType"] == ITEM_CREATED),
    ("filterLocation-null", lambda D: "filterLocation eq null", lambda c, D: c["filterLocation"] is None),
    ("filterLocation-notnull", lambda D: "filterLocation ne null",
     lambda c, D: c["filterLocation"] is not None),
    ("dest-bool", lambda D: "destination/active eq false",
     lambda c, D: not D.dests[c["dest"]]["active"]),
    ("dest-int", lambda D: "destination/maxInFlight ge 4",
     lambda c, D: D.dests[c["dest"]]["maxInFlight"] >= 4),
    ("io", lambda D: f"integrationObject/code eq '{D.io2}'", lambda c, D: c["io"] == D.io2),
    ("key", lambda D: f"integrationKey eq {lit(D.configs[3]['key'])}", lambda c, D: c is D.configs[3]),
    ("key-special", lambda D: f"integrationKey eq {lit(D.configs[6]['key'])}",
     lambda c, D: c is D.configs[6]),
    ("nested-key", lambda D: f"destination/integrationKey eq {lit(D.dests[4]['key'])}",
     lambda c, D: c["dest"] == 4),
    ("deep-channel", lambda D: "destination/destinationTarget/destinationChannel/code eq 'PULL'",
     lambda c, D: False),
    ("deep-and-or", lambda D: f"(destination/destinationTarget/id eq '{D.A}' and "
     f"eventType eq '{ITEM_SAVED}') or destination/maxInFlight eq 10",
     lambda c, D: (D.dests[c["dest"]]["target"] == D.A and c["eventType"] == ITEM_SAVED)
     or D.dests[c["dest"]]["maxInFlight"] == 10),
    ("deep-string-fn", lambda D: "endswith(destination/url, '/hook')", lambda c, D: c["dest"] == 0),
]


@pytest.mark.parametrize("build,expect", [(b, e) for _, b, e in CFG_FILTERS],
                         ids=[i for i, _, _ in CFG_FILTERS])
def test_filter_configurations(viewer, data, build, expect):
    flt = f"{mine_cfg(data)} and ({build(data)})"
    rows = viewer.results("WebhookConfigurations", {"filter": flt, "top": 100})
    want = [c["key"] for c in data.configs if expect(c, data)]
    assert cfg_keys(rows) == want, flt


# --------------------------------------------------------------- $orderby --

def _sorted(D, key, reverse=False):
    return [d["id"] for d in sorted(D.dests, key=key, reverse=reverse)]


@pytest.mark.parametrize("orderby,expect", [
    ("maxInFlight desc", lambda D: _sorted(D, lambda d: d["maxInFlight"], True)),
    ("maxInFlight", lambda D: _sorted(D, lambda d: d["maxInFlight"])),
    ("maxInFlight asc", lambda D: _sorted(D, lambda d: d["maxInFlight"])),
    ("active asc,maxInFlight desc",
     lambda D: _sorted(D, lambda d: (d["active"], -d["maxInFlight"]))),
    ("active desc, timeoutMillis asc",
     lambda D: _sorted(D, lambda d: (not d["active"], d["timeoutMillis"]))),
    ("destinationTarget/id desc,maxInFlight asc",
     lambda D: _sorted(D, lambda d: (d["target"] != D.B, d["maxInFlight"]))),
    ("destinationTarget/id", lambda D: [d["id"] for d in D.dests if d["target"] == D.A]
     + [d["id"] for d in D.dests if d["target"] == D.B]),
    ("signingAlgorithm desc", lambda D: [D.dests[2]["id"]] + [d["id"] for d in D.dests
                                                             if d is not D.dests[2]]),
], ids=lambda x: x if isinstance(x, str) else "")
def test_orderby_destinations(viewer, data, orderby, expect):
    rows = viewer.results("ConsumedDestinations",
                          {"filter": mine(data), "orderby": orderby, "top": 100})
    assert dest_ids(rows) == expect(data)


def test_default_order_is_insertion(viewer, data):
    rows = viewer.results("ConsumedDestinations", {"filter": mine(data), "top": 100})
    assert dest_ids(rows) == [d["id"] for d in data.dests]
    rows = viewer.results("WebhookConfigurations", {"filter": mine_cfg(data), "top": 100})
    assert cfg_keys(rows) == [c["key"] for c in data.configs]


def test_orderby_to_one_path_desc(viewer, data):
    # alpha and bravo only (lower-case ASCII ids: any collation agrees)
    flt = f"{mine_cfg(data)} and destination/maxInFlight le 2"
    rows = viewer.results("WebhookConfigurations",
                          {"filter": flt, "orderby": "destination/id desc,eventType asc"})
    c = data.configs
    assert cfg_keys(rows) == [c[2]["key"], c[3]["key"], c[1]["key"], c[0]["key"]]
    rows = viewer.results("WebhookConfigurations",
                          {"filter": flt, "orderby": "destination/id,eventType desc"})
    assert cfg_keys(rows) == [c[0]["key"], c[1]["key"], c[2]["key"], c[3]["key"]]


def test_orderby_deep_path_and_key(viewer, data):
    rows = viewer.results("WebhookConfigurations", {
        "filter": mine_cfg(data),
        "orderby": "destination/destinationTarget/id desc, destination/maxInFlight desc,"
                   " integrationObject/code desc"})
    c = data.configs
    want = [c[6], c[7], c[5], c[4], c[3], c[2], c[0], c[1]]
    assert cfg_keys(rows) == [x["key"] for x in want]


# ----------------------------------------------------------------- paging --

def pio_filter(D):
    return f"startswith(code, 'pio-{D.T}-')"


def test_default_page_is_10_with_next(server, viewer, data):
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data)})
    assert [r["code"] for r in d["results"]] == data.pio[:10]
    nxt = d["__next"]
    assert nxt.startswith(server.url(f"{BASE}/IntegrationObjects?"))
    assert "$skiptoken=10" in nxt
    d2 = viewer.d(nxt)
    assert [r["code"] for r in d2["results"]] == data.pio[10:]
    assert "__next" not in d2


@pytest.mark.parametrize("top,expect", [(0, 0), (1, 1), (10, 10), (11, 11), (12, 12), (50, 12)])
def test_top_within_cap_has_no_next(viewer, data, top, expect):
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data), "top": top})
    assert [r["code"] for r in d["results"]] == data.pio[:expect]
    assert "__next" not in d


@pytest.mark.parametrize("skip,top,expect", [
    (3, None, lambda p: p[3:12]), (11, None, lambda p: p[11:]), (12, None, lambda p: []),
    (100, None, lambda p: []), (2, 3, lambda p: p[2:5]), (0, 5, lambda p: p[:5]),
])
def test_skip_and_top(viewer, data, skip, top, expect):
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data), "skip": skip, "top": top})
    assert [r["code"] for r in d["results"]] == expect(data.pio)
    assert "__next" not in d


def test_skip_with_default_page_and_next(viewer, data):
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data), "skip": 1})
    assert [r["code"] for r in d["results"]] == data.pio[1:11]
    d2 = viewer.d(d["__next"])
    assert [r["code"] for r in d2["results"]] == data.pio[11:]


@pytest.mark.parametrize("opts,expect_n", [
    ({"inlinecount": "allpages"}, 10),
    ({"inlinecount": "allpages", "top": 3}, 3),
    ({"inlinecount": "allpages", "skip": 5, "top": 2}, 2),
    ({"inlinecount": "allpages", "skip": 50}, 0),
    ({"inlinecount": "allpages", "orderby": "code desc", "top": 0}, 0),
])
def test_inlinecount_allpages(viewer, data, opts, expect_n):
    d = viewer.d("IntegrationObjects", dict(opts, filter=pio_filter(data)))
    assert d["__count"] == "12"
    assert isinstance(d["__count"], str)
    assert len(d["results"]) == expect_n


def test_inlinecount_none_and_entity(viewer, data):
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data), "inlinecount": "none"})
    assert "__count" not in d
    d = viewer.d("IntegrationObjects", {"filter": pio_filter(data) + " and code eq 'zz'",
                                        "inlinecount": "allpages"})
    assert d == {"results": [], "__count": "0"} or (d["results"] == [] and d["__count"] == "0")


def test_format_json_accepted(viewer, data):
    for fmt in ("json", "application/json"):
        d = viewer.d("IntegrationObjects", {"filter": pio_filter(data), "top": 2, "format": fmt})
        assert [r["code"] for r in d["results"]] == data.pio[:2]


@pytest.fixture(scope="module")
def small(module_servers, users):
    srv = module_servers({"WEBHOOKD_ODATA_PAGE_SIZE": "3", "WEBHOOKD_ODATA_PAGE_MAX": "5"})
    return OData(srv, users["viewer"].headers)


@pytest.mark.parametrize("opts", [
    {},
    {"orderby": "code desc"},
    {"skip": 2},
    {"inlinecount": "allpages"},
    {"select": "code"},
    {"top": 7},
    {"top": 11, "skip": 1},
    {"top": 100},
], ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "none")
def test_following_next_returns_every_row_once(small, data, opts):
    params = dict(opts, filter=pio_filter(data))
    rows, pages, url = [], [], None
    d = small.d("IntegrationObjects", params)
    while True:
        pages.append(d)
        rows.extend(r["code"] for r in d["results"])
        assert len(d["results"]) <= 5
        if "__count" in opts.get("inlinecount", ""):
            pass
        if opts.get("inlinecount"):
            assert d["__count"] == "12"
        url = d.get("__next")
        if not url:
            break
        assert url.startswith(small.server.url(f"{BASE}/IntegrationObjects?"))
        assert len(pages) < 20
        d = small.d(url)
    codes = sorted(data.pio, reverse=opts.get("orderby") == "code desc")
    skip = opts.get("skip", 0)
    top = opts.get("top")
    want = codes[skip:] if top is None else codes[skip:skip + top]
    assert rows == want
    assert len(rows) == len(set(rows))


def test_next_round_trips_special_characters(small, data):
    flt = (pio_filter(data) + " and code ne 'a&b=c+d%e#f?g/h ü € ''x'' ;,$' "
           "and not startswith(code, '%2B')")
    params = {"filter": flt, "orderby": "code desc", "sap-client": "100", "x y": "a&b"}
    d = small.d("IntegrationObjects", params)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(d["__next"]).query)
    assert q["$filter"] == [flt]
    assert q["$orderby"] == ["code desc"]
    assert q["sap-client"] == ["100"]
    rows = small.all_pages("IntegrationObjects", params)
    assert [r["code"] for r in rows] == sorted(data.pio, reverse=True)


def test_small_page_default_and_cap(small, data):
    d = small.d("IntegrationObjects", {"filter": pio_filter(data)})
    assert len(d["results"]) == 3 and "$skiptoken=3" in d["__next"]
    d = small.d("IntegrationObjects", {"filter": pio_filter(data), "top": 5})
    assert len(d["results"]) == 5 and "__next" not in d
    d = small.d("IntegrationObjects", {"filter": pio_filter(data), "top": 7})
    assert len(d["results"]) == 5
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(d["__next"]).query)
    assert q["$top"] == ["2"] and q["$skiptoken"] == ["5"]
    assert q["$filter"] == [pio_filter(data)]


def test_default_page_larger_than_cap_is_capped(module_servers, users, data):
    """Regression: with odata_page_size > odata_page_max a request without
    $top got odata_page_size rows, more than the configured maximum."""
    srv = module_servers({"WEBHOOKD_ODATA_PAGE_SIZE": "8", "WEBHOOKD_ODATA_PAGE_MAX": "5"})
    c = OData(srv, users["viewer"].headers)
    d = c.d("IntegrationObjects", {"filter": pio_filter(data)})
    assert [r["code"] for r in d["results"]] == data.pio[:5]
    assert "$skiptoken=5" in d["__next"]
    assert [r["code"] for r in c.all_pages("IntegrationObjects",
                                           {"filter": pio_filter(data)})] == data.pio


def test_next_carries_expand_select_and_custom_options(small, data):
    d = small.d("WebhookConfigurations", {"filter": mine_cfg(data), "expand": "destination",
                                          "select": "eventType,destination/id",
                                          "orderby": "destination/maxInFlight desc"})
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(d["__next"]).query)
    assert q["$expand"] == ["destination"]
    assert q["$select"] == ["eventType,destination/id"]
    rows = small.all_pages("WebhookConfigurations", {
        "filter": mine_cfg(data), "expand": "destination", "select": "eventType,destination/id",
        "orderby": "destination/maxInFlight desc"})
    assert len(rows) == 8
    for r in rows:
        assert set(r) == {"__metadata", "eventType", "destination"}
        assert set(r["destination"]) == {"__metadata", "id"}
    mifs = [next(d["maxInFlight"] for d in data.dests if d["id"] == r["destination"]["id"])
            for r in rows]
    assert mifs == sorted(mifs, reverse=True)


# ---------------------------------------------------------- $expand/$select --

def cfg0(data):
    return f"WebhookConfigurations('{uri_key(data.configs[0]['key'])}')"


def test_expand_to_one(server, viewer, data):
    e = viewer.d(cfg0(data), {"expand": "destination"})
    dest = e["destination"]
    d0 = data.dests[0]
    assert dest["id"] == d0["id"] and dest["integrationKey"] == d0["key"]
    assert dest["__metadata"]["type"] == f"{NS}.ConsumedDestination"
    duri = entity_uri(server, "ConsumedDestinations", d0["key"])
    assert dest["destinationTarget"] == {"__deferred": {"uri": duri + "/destinationTarget"}}
    assert e["integrationObject"] == {"__deferred": {"uri": e["__metadata"]["uri"]
                                                     + "/integrationObject"}}
    assert "signingSecret" not in dest


def test_expand_comma_list_and_nested(viewer, data):
    e = viewer.d(cfg0(data), {"expand": "destination/destinationTarget/eventConfigurations,"
                                        "integrationObject"})
    assert e["integrationObject"]["code"] == data.io
    tgt = e["destination"]["destinationTarget"]
    assert tgt["id"] == data.A
    evs = tgt["eventConfigurations"]["results"]
    assert [x["eventClass"] for x in evs] == [ITEM_SAVED, ITEM_CREATED]
    assert [x["exportName"] for x in evs] == ["saved", "created"]
    assert "__deferred" in tgt["destinationChannel"]
    assert "__deferred" in evs[0]["destinationTarget"]


def test_expand_to_many_in_collection(viewer, data):
    rows = viewer.results("DestinationTargets", {
        "filter": f"id eq '{data.A}' or id eq '{data.B}'",
        "expand": "eventConfigurations,destinationChannel"})
    assert [r["id"] for r in rows] == [data.A, data.B]
    assert [len(r["eventConfigurations"]["results"]) for r in rows] == [2, 1]
    assert all(r["destinationChannel"]["code"] == "WEBHOOKSERVICES" for r in rows)


def test_expand_optional_null_and_present(viewer, data):
    rows = viewer.results("ConsumedDestinations", {
        "filter": mine(data), "expand": "credentialBasic,endpoint,additionalProperties"})
    assert rows[0]["credentialBasic"]["username"] == "user-a"
    assert rows[0]["endpoint"]["id"] == f"ep-{data.T}"
    assert [p["key"] for p in rows[0]["additionalProperties"]["results"]] == ["k1", "k2"]
    for r in rows[1:]:
        assert r["credentialBasic"] is None and r["endpoint"] is None
        assert r["additionalProperties"] == {"results": []}
        assert "__deferred" in r["credentialConsumedOAuth"]


def test_expand_same_nav_twice_and_prefix(viewer, data):
    e = viewer.d(cfg0(data), {"expand": "destination,destination/destinationTarget,destination"})
    assert e["destination"]["destinationTarget"]["id"] == data.A


@pytest.mark.parametrize("select,expand,check", [
    ("eventType", None, lambda e, D: set(e) == {"__metadata", "eventType"}),
    ("eventType,destination", None,
     lambda e, D: set(e) == {"__metadata", "eventType", "destination"}
     and set(e["destination"]) == {"__deferred"}),
    ("integrationKey", None,
     lambda e, D: set(e) == {"__metadata", "integrationKey"} and e["integrationKey"] == D.configs[0]["key"]),
    ("*", None, lambda e, D: {"eventType", "filterLocation", "integrationKey", "destination",
                             "integrationObject"} <= set(e)),
    ("destination/id", "destination",
     lambda e, D: set(e) == {"__metadata", "destination"}
     and set(e["destination"]) == {"__metadata", "id"}),
    ("destination/*,eventType", "destination",
     lambda e, D: set(e) == {"__metadata", "destination", "eventType"}
     and {"id", "url", "maxInFlight", "integrationKey", "destinationTarget"} <= set(e["destination"])
     and "signingSecret" not in e["destination"]),
    ("destination", "destination",
     lambda e, D: set(e) == {"__metadata", "destination"}
     and {"id", "url", "destinationTarget"} <= set(e["destination"])),
    ("destination/destinationTarget/id,eventType", "destination/destinationTarget",
     lambda e, D: set(e) == {"__metadata", "destination", "eventType"}
     and set(e["destination"]) == {"__metadata", "destinationTarget"}
     and set(e["destination"]["destinationTarget"]) == {"__metadata", "id"}),
    ("eventType", "destination",
     lambda e, D: set(e) == {"__metadata", "eventType"}),
    ("destination/url,destination/id,filterLocation", "destination,integrationObject",
     lambda e, D: set(e) == {"__metadata", "destination", "filterLocation"}
     and set(e["destination"]) == {"__metadata", "url", "id"}),
], ids=lambda x: x if isinstance(x, str) else "")
def test_select(viewer, data, select, expand, check):
    e = viewer.d(cfg0(data), {"select": select, "expand": expand})
    assert check(e, data), json.dumps(e)[:800]
    rows = viewer.results("WebhookConfigurations", {"filter": mine_cfg(data), "select": select,
                                                    "expand": expand})
    assert len(rows) == 8 and check(rows[0], data), json.dumps(rows[0])[:800]


CFG_ALL = {"__metadata", "eventType", "filterLocation", "integrationKey", "destination",
           "integrationObject"}
DEST_PROPS = {"__metadata", "id", "url", "active", "signingAlgorithm", "ignoreErrors",
              "maxInFlight", "timeoutMillis", "deactivatedReason", "integrationKey",
              "destinationTarget", "endpoint", "credentialBasic", "credentialConsumedOAuth",
              "additionalProperties"}


@pytest.mark.parametrize("select,expand,top,dest,target", [
    ("*,eventType", None, CFG_ALL, None, None),
    ("eventType,*", None, CFG_ALL, None, None),
    ("integrationKey,*,eventType", None, CFG_ALL, None, None),
    ("destination/*,destination/id", "destination", {"__metadata", "destination"}, DEST_PROPS, None),
    ("destination/id,destination/*", "destination", {"__metadata", "destination"}, DEST_PROPS, None),
    ("destination,destination/id", "destination", {"__metadata", "destination"}, DEST_PROPS, None),
    ("destination/id,destination", "destination", {"__metadata", "destination"}, DEST_PROPS, None),
    ("destination/*,destination/destinationTarget/id", "destination/destinationTarget",
     {"__metadata", "destination"}, DEST_PROPS, {"__metadata", "id"}),
    ("destination/destinationTarget/id,destination/*", "destination/destinationTarget",
     {"__metadata", "destination"}, DEST_PROPS, {"__metadata", "id"}),
    ("destination/destinationTarget/id,destination/url", "destination/destinationTarget",
     {"__metadata", "destination"}, {"__metadata", "url", "destinationTarget"}, {"__metadata", "id"}),
])
def test_select_items_are_a_union_in_any_order(viewer, data, select, expand, top, dest, target):
    """Regression: a later item used to narrow what an earlier '*' or whole
    navigation had selected (`*,eventType` showed only eventType)."""
    e = viewer.d(cfg0(data), {"select": select, "expand": expand})
    assert set(e) == top
    if dest is not None:
        assert set(e["destination"]) == dest
    if target is not None:
        assert set(e["destination"]["destinationTarget"]) == target


@pytest.mark.parametrize("set_,select,name", [
    ("DestinationTargets", "destinationChannel/nope", "nope"),
    ("DestinationTargets", "id,eventConfigurations/nope", "nope"),
    ("WebhookConfigurations", "destination/destinationTarget/nope", "nope"),
    ("WebhookConfigurations", "destination/nosuchnav/id", "nosuchnav"),
    ("WebhookConfigurations", "destination/signingSecret", "signingSecret"),
    ("ConsumedDestinations", "credentialBasic/password", "password"),
])
def test_select_unknown_property_below_unexpanded_nav_is_404(viewer, set_, select, name):
    """Regression: names below a navigation that is not expanded were never
    checked, so a typo answered 200."""
    r = viewer.get(set_, {"select": select})
    assert_error(r, 404, "not_found", f"Could not find property with name: '{name}'.")


@pytest.mark.parametrize("select", ["destination/id", "destination/*", "destination/integrationKey",
                                    "destination/destinationTarget/eventConfigurations/version"])
def test_select_below_unexpanded_nav_shows_it_deferred(viewer, data, select):
    e = viewer.d(cfg0(data), {"select": select})
    assert set(e) == {"__metadata", "destination"}
    assert set(e["destination"]) == {"__deferred"}


def test_select_inside_expanded_collection(viewer, data):
    rows = viewer.results("WebhookConfigurations", {
        "filter": f"{mine_cfg(data)} and destination/maxInFlight eq 1",
        "expand": "destination/destinationTarget/eventConfigurations",
        "select": "destination/destinationTarget/eventConfigurations/exportName,eventType"})
    assert len(rows) == 2
    for r in rows:
        assert set(r) == {"__metadata", "eventType", "destination"}
        tgt = r["destination"]["destinationTarget"]
        assert set(r["destination"]) == {"__metadata", "destinationTarget"}
        assert set(tgt) == {"__metadata", "eventConfigurations"}
        evs = tgt["eventConfigurations"]["results"]
        assert [set(x) for x in evs] == [{"__metadata", "exportName"}] * 2
        assert [x["exportName"] for x in evs] == ["saved", "created"]


def test_map_entries_by_nested_key(server, viewer, data):
    """String2StringMapType's key embeds its owner's (encoded) key."""
    d0 = data.dests[0]
    key = integration_key(d0["key"], "k2")
    assert "%7C" in key
    e = viewer.d(f"String2StringMapTypes('{uri_key(key)}')")
    assert (e["key"], e["value"], e["integrationKey"]) == ("k2", "v2", key)
    assert e["__metadata"]["uri"] == entity_uri(server, "String2StringMapTypes", key)
    assert "owner" not in e
    rows = viewer.results("String2StringMapTypes", {"filter": f"integrationKey eq {lit(key)}"})
    assert [r["integrationKey"] for r in rows] == [key]
    rows = viewer.results("String2StringMapTypes", {
        "filter": f"startswith(integrationKey, {lit(integration_key(d0['key']))})",
        "orderby": "key desc"})
    assert [r["key"] for r in rows] == ["k2", "k1"]
    r = viewer.get(f"String2StringMapTypes('{uri_key(integration_key(d0['key'], 'k9'))}')")
    assert_error(r, 404, "not_found")


def test_select_sap_client_channel_form(viewer, data):
    rows = viewer.results("DestinationTargets", {
        "filter": f"id eq '{data.A}'", "select": "destinationChannel/*,id",
        "expand": "destinationChannel"})
    assert len(rows) == 1
    r = rows[0]
    assert set(r) == {"__metadata", "id", "destinationChannel"}
    ch = r["destinationChannel"]
    assert ch["code"] == "WEBHOOKSERVICES" and ch["integrationKey"] == "WEBHOOKSERVICES"
    assert ch["__metadata"]["type"] == f"{NS}.DestinationChannel"


def test_select_write_only_is_not_a_property(viewer, data):
    for set_, prop in [("BasicCredentials", "password"),
                       ("ConsumedOAuthCredentials", "clientSecret"),
                       ("ConsumedDestinations", "signingSecret")]:
        r = viewer.get(set_, {"select": prop})
        assert_error(r, 404, "not_found", f"Could not find property with name: '{prop}'.")
        r = viewer.get(set_, {"filter": f"{prop} eq 'x'"})
        assert_error(r, 404, "not_found", f"Could not find property with name: '{prop}'.")
        r = viewer.get(set_, {"orderby": prop})
        assert_error(r, 404, "not_found", f"Could not find property with name: '{prop}'.")
    T = data.T
    for f in [f"password eq 'PW-{T}'", "startswith(password, 'PW')"]:
        r = viewer.get("BasicCredentials", {"filter": f})
        assert r.status_code == 404


# ------------------------------------------- service document, $metadata --

def test_service_document(viewer):
    for path in (BASE + "/", BASE):
        r = viewer.get(path)
        assert r.status_code == 200
        assert r.headers["DataServiceVersion"] == "2.0"
        sets = r.json()["d"]["EntitySets"]
        assert {"WebhookConfigurations", "ConsumedDestinations", "DestinationTargets",
                "DestinationChannels", "EventConfigurations", "Endpoints", "BasicCredentials",
                "ConsumedOAuthCredentials", "IntegrationObjects", "WebhookFilters",
                "String2StringMapTypes"} <= set(sets)


def test_every_set_is_readable(viewer):
    sets = viewer.d(BASE + "/")["EntitySets"]
    for s in sets:
        r = viewer.get(s, {"top": 1})
        assert r.status_code == 200, (s, r.text)
        assert "results" in r.json()["d"]
        assert viewer.count(s) >= 0


def test_metadata_is_xml(viewer):
    r = viewer.get(BASE + "/$metadata")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/xml")
    assert r.headers["DataServiceVersion"] == "2.0"
    doc = xml.dom.minidom.parseString(r.content)
    assert doc.documentElement.tagName == "edmx:Edmx"
    names = {e.getAttribute("Name") for e in doc.getElementsByTagName("EntitySet")}
    assert {"WebhookConfigurations", "DestinationChannels"} <= names


# --------------------------------------------------- headers: CSRF, msg id --

def test_head_and_csrf_fetch(viewer, data):
    for method in ("GET", "HEAD"):
        r = viewer.request(method, "IntegrationObjects", headers={"X-CSRF-Token": "Fetch"},
                           params={"top": 1})
        assert r.status_code == 200
        tok = r.headers.get("X-CSRF-Token")
        assert tok and tok.lower() != "fetch" and len(tok) >= 16
        assert r.headers["DataServiceVersion"] == "2.0"
    r = viewer.get("IntegrationObjects", {"top": 1})
    assert "X-CSRF-Token" not in r.headers
    r = viewer.head(cfg0(data))
    assert r.status_code == 200 and r.content == b""


def test_integration_message_id_echoed(viewer, data):
    for path in ("IntegrationObjects", cfg0(data), "NoSuchSet", "IntegrationObjects/$count"):
        r = viewer.get(path, headers={"integrationMessageId": "msg-" + data.T})
        assert r.headers.get("integrationMessageId") == "msg-" + data.T, (path, r.headers)


# ------------------------------------------------------------------- CORS --

ORIGIN = "https://ui.example"
NEEDED_HEADERS = ["Authorization", "Content-Type", "Accept", "Accept-Language", "If-Match",
                  "X-CSRF-Token", "X-Requested-With", "DataServiceVersion",
                  "MaxDataServiceVersion", "sap-cancel-on-close", "sap-contextid-accept",
                  "integrationMessageId"]


@pytest.fixture(scope="module")
def cors_server(module_servers):
    return module_servers({"WEBHOOKD_CORS_ALLOWED_ORIGINS": "https://other.example, " + ORIGIN})


def _split(v):
    return {x.strip().lower() for x in (v or "").split(",") if x.strip()}


def test_cors_preflight_without_credentials(cors_server):
    r = cors_server.request("OPTIONS", BASE + "/WebhookConfigurations", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-csrf-token"})
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert {"get", "post", "put", "patch", "merge", "delete"} <= _split(
        r.headers["Access-Control-Allow-Methods"])
    assert {h.lower() for h in NEEDED_HEADERS} <= _split(r.headers["Access-Control-Allow-Headers"])
    assert r.content == b""


def test_cors_on_normal_responses(cors_server, users, data):
    c = OData(cors_server, users["viewer"].headers)
    for path in (f"IntegrationObjects('{data.io}')", "NoSuchSet"):
        r = c.get(path, headers={"Origin": ORIGIN})
        assert r.headers["Access-Control-Allow-Origin"] == ORIGIN
        assert {"etag", "x-csrf-token", "dataserviceversion", "location"} <= _split(
            r.headers["Access-Control-Expose-Headers"])
    r = OData(cors_server).get("IntegrationObjects", headers={"Origin": ORIGIN})
    assert r.status_code == 401


@pytest.mark.parametrize("who", ["nobody", "publisher"])
def test_cors_on_auth_errors(cors_server, users, who):
    c = OData(cors_server, users[who].headers if who in users else {})
    r = c.get("IntegrationObjects", headers={"Origin": ORIGIN})
    assert r.status_code in (401, 403)
    assert r.headers.get("Access-Control-Allow-Origin") == ORIGIN


@pytest.mark.parametrize("origin", ["https://evil.example", "https://ui.example.evil",
                                    "http://ui.example", "null"])
def test_cors_other_origin(cors_server, users, origin):
    r = cors_server.request("OPTIONS", BASE + "/WebhookConfigurations",
                            headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    r = OData(cors_server, users["viewer"].headers).get("IntegrationObjects",
                                                        headers={"Origin": origin})
    assert r.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in r.headers)


def test_no_origin_allowed_by_default(server, users):
    r = server.request("OPTIONS", BASE + "/WebhookConfigurations",
                       headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})
    assert r.status_code == 403
    assert "Access-Control-Allow-Origin" not in r.headers
    r = OData(server, users["viewer"].headers).get("IntegrationObjects",
                                                   headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers
