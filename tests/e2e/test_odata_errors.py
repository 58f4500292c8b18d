"""The OData error table (odata.md, "Errors") for reads, URLs and
authentication: 401, 403, invalid_key, not_found (entity set, key,
property), invalid_query (with the position), filter_not_supported, 415 for
$format, and that hostile input gets a 4xx, never a 500.

Every error is {"error": {"code", "message": {"lang": "en", "value"},
"innererror"?}} with Content-Type application/json and DataServiceVersion 2.0.
"""
import base64
import re

import pytest

from conftest import odata_error
from odata_helpers import BASE, OData, assert_error, integration_key, uid, uri_key

UNAUTHORIZED = odata_error("unauthorized", "user must be authenticated")
FORBIDDEN = odata_error("forbidden", "user is not authorized for the operation")


def key_msg(key, type_):
    return (f"The integration key [{key}] is invalid. Please consult the IntegrationKey "
            f"definition of [{type_}] for configuration details.")


def assert_common(r):
    assert r.headers["DataServiceVersion"] == "2.0"
    assert r.headers["Content-Type"] == "application/json"


@pytest.fixture(scope="module")
def data(admin):
    class D:
        pass
    D.T = T = uid("er")
    D.io = f"io-{T}"
    D.target = f"tgt-{T}"
    D.dest = f"dest-{T}"
    admin.create("IntegrationObjects", {"code": D.io})
    admin.create("WebhookConfigurations", {
        "destination": {"id": D.dest, "url": "https://e.example/h", "destinationTarget": {
            "id": D.target, "destinationChannel": {"code": "WEBHOOKSERVICES"},
            "eventConfigurations": [{"eventClass":
                                     "de.hybris.platform.webhookservices.event.ItemSavedEvent"}]}},
        "integrationObject": {"code": D.io}})
    D.dest_key = integration_key(D.dest, D.target)
    D.cfg_key = integration_key(D.dest, D.target, D.io,
                                "de.hybris.platform.webhookservices.event.ItemSavedEvent")
    return D


# ------------------------------------------------------------------- auth --

READ_PATHS = ["", "/", "/$metadata", "/WebhookConfigurations", "/WebhookConfigurations/$count",
              "/DestinationChannels('PULL')", "/NoSuchSet", "/IntegrationObjects?$filter=bad bad"]


def _b64(s):
    return base64.b64encode(s.encode()).decode()


# $metadata answers its errors in XML: test_metadata_errors_are_xml.
JSON_PATHS = [p for p in READ_PATHS if p != "/$metadata"]


@pytest.mark.parametrize("path", JSON_PATHS)
@pytest.mark.parametrize("auth", [None, "Basic " + _b64("e2e-viewer:wrong"),
                                  "Basic " + _b64("nobody-here:pw"), "Bearer x.y.z", "Basic ???"],
                         ids=["none", "wrong-password", "unknown-user", "bearer", "garbled"])
def test_401_without_valid_credentials(server, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = server.get(BASE + path, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert_common(r)
    assert r.content == UNAUTHORIZED


@pytest.mark.parametrize("path", JSON_PATHS[:5])
def test_403_for_publisher(server, users, path):
    r = server.get(BASE + path, headers=users["publisher"].headers)
    assert r.status_code == 403
    assert_common(r)
    assert r.content == FORBIDDEN
    assert "WWW-Authenticate" not in r.headers


@pytest.mark.parametrize("role", ["viewer", "admin"])
@pytest.mark.parametrize("path", ["", "/$metadata", "/WebhookConfigurations",
                                  "/DestinationChannels/$count", "/DestinationChannels('PULL')"])
def test_readers_may_read(server, users, role, path):
    r = server.get(BASE + path, headers=users[role].headers)
    assert r.status_code == 200, r.text
    assert r.headers["DataServiceVersion"] == "2.0"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "MERGE", "DELETE"])
def test_viewer_cannot_write(viewer, data, method):
    path = "IntegrationObjects" if method == "POST" else f"IntegrationObjects('{data.io}')"
    r = viewer.request(method, path, {"code": data.io, "description": "x"})
    assert r.status_code == 403
    assert r.content == FORBIDDEN
    assert viewer.d(f"IntegrationObjects('{data.io}')")["description"] is None


# ------------------------------------------------------------ invalid_key --

@pytest.mark.parametrize("set_,type_,pred,key", [
    # SAP's own example: %257C decodes to a %7C inside one part, so 1 part of 4
    ("WebhookConfigurations", "WebhookConfiguration", "'0215Cssss%257C'", "0215Cssss%7C"),
    ("WebhookConfigurations", "WebhookConfiguration", "'a%7Cb%7Cc'", "a|b|c"),
    ("WebhookConfigurations", "WebhookConfiguration", "'a%7Cb%7Cc%7Cd%7Ce'", "a|b|c|d|e"),
    ("WebhookConfigurations", "WebhookConfiguration", "integrationKey='a%7Cb'", "a|b"),
    ("ConsumedDestinations", "ConsumedDestination", "'only-one'", "only-one"),
    ("ConsumedDestinations", "ConsumedDestination", "'a%7Cb%7Cc'", "a|b|c"),
    ("DestinationTargets", "DestinationTarget", "'a%7Cb'", "a|b"),
    ("EventConfigurations", "EventConfiguration", "'t%7Cx'", "t|x"),
    ("IntegrationObjects", "IntegrationObject", "'%7C'", "|"),
    # undecodable parts: bad escape, NUL, invalid UTF-8 (after the path's
    # own decoding)
    ("DestinationTargets", "DestinationTarget", "'a%25ZZ'", "a%ZZ"),
    ("DestinationTargets", "DestinationTarget", "'a%25'", "a%"),
    ("DestinationTargets", "DestinationTarget", "'a%2500'", "a%00"),
    ("DestinationTargets", "DestinationTarget", "'a%25C3'", "a%C3"),
    ("ConsumedDestinations", "ConsumedDestination", "'a%7Cb%25F'", "a|b%F"),
    # predicates that are not one quoted literal
    ("DestinationTargets", "DestinationTarget", "abc", "abc"),
    ("DestinationTargets", "DestinationTarget", "", ""),
    ("DestinationTargets", "DestinationTarget", "id='a'", "id='a'"),
])
def test_invalid_key(viewer, set_, type_, pred, key):
    for suffix in ("", "/$count" if set_ == "DestinationTargets" else "",
                   "/eventConfigurations" if set_ == "DestinationTargets" else ""):
        if suffix == "/$count":
            continue            # $count must follow a navigation, see test below
        r = viewer.get(f"{set_}({pred}){suffix}")
        assert_error(r, 400, "invalid_key", key_msg(key, type_))
        assert_common(r)


@pytest.mark.parametrize("pred", ["'a''", "'a'x'", "'a'", "('a')", "'a')x("])
def test_malformed_key_predicate_is_400(viewer, pred):
    r = viewer.get(f"DestinationTargets({pred}")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in ("invalid_key", "invalid_query")
    assert_common(r)


def test_invalid_key_on_nav_count(viewer):
    r = viewer.get("DestinationTargets('a%7Cb')/eventConfigurations/$count")
    assert_error(r, 400, "invalid_key", key_msg("a|b", "DestinationTarget"))


def test_unknown_set_beats_key_check(viewer):
    r = viewer.get("NoSuchSet('a%7Cb')")
    assert_error(r, 404, "not_found", "Entity set [NoSuchSet] was not found.")


# -------------------------------------------------------------- not_found --

@pytest.mark.parametrize("path,name", [
    ("NoSuchSet", "NoSuchSet"),
    ("NoSuchSet('x')", "NoSuchSet"),
    ("NoSuchSet/$count", "NoSuchSet"),
    ("NoSuchSet('x')/nav", "NoSuchSet"),
    ("webhookConfigurations", "webhookConfigurations"),
    ("WebhookConfiguration", "WebhookConfiguration"),
    ("InboundSource", "InboundSource"),
])
def test_unknown_entity_set(viewer, path, name):
    r = viewer.get(path)
    assert_error(r, 404, "not_found", f"Entity set [{name}] was not found.")
    assert_common(r)


@pytest.mark.parametrize("set_,type_,key", [
    ("WebhookConfigurations", "WebhookConfiguration", "CDId|DestTargetId|IOCode|WebhookConfigEventType"),
    ("ConsumedDestinations", "ConsumedDestination", "nope|nope"),
    ("DestinationTargets", "DestinationTarget", "nope"),
    ("DestinationChannels", "DestinationChannel", "NOPE"),
    ("EventConfigurations", "EventConfiguration", "t|c|1"),
    ("EventConfigurations", "EventConfiguration", "t|c|not-a-number"),
    ("Endpoints", "Endpoint", "e|v"),
    ("BasicCredentials", "BasicCredential", "b"),
    ("ConsumedOAuthCredentials", "ConsumedOAuthCredential", "o"),
    ("IntegrationObjects", "IntegrationObject", "x%2By+z"),
    ("WebhookFilters", "WebhookFilter", "f"),
    ("String2StringMapTypes", "String2StringMapType", "a%7Cb|k"),
    ("DestinationTargets", "DestinationTarget", ""),
    ("DestinationTargets", "DestinationTarget", "null"),
])
def test_key_not_found(viewer, set_, type_, key):
    key = key.replace("nope", "nope-" + uid())
    for pred in (f"'{uri_key(key)}'", f"integrationKey='{uri_key(key)}'"):
        r = viewer.get(f"{set_}({pred})")
        assert_error(r, 404, "not_found",
                     f"[{type_}] with integration key [{key}] was not found.", key)
        assert_common(r)
        assert "ETag" not in r.headers


def test_not_found_with_long_key_below_limits(viewer):
    key = "k" * 400
    r = viewer.get(f"DestinationTargets('{key}')")
    assert_error(r, 404, "not_found",
                 f"[DestinationTarget] with integration key [{key}] was not found.")


def test_not_found_with_longest_keys(viewer):
    key = "|".join(["p" * 250] * 4)
    r = viewer.get(f"WebhookConfigurations('{uri_key(key)}')")
    assert_error(r, 404, "not_found",
                 f"[WebhookConfiguration] with integration key [{key}] was not found.", key)


def test_not_found_quotes_the_key_with_quote(viewer):
    r = viewer.get("DestinationTargets('O''Brien-" + "x" * 3 + "')")
    assert_error(r, 404, "not_found",
                 "[DestinationTarget] with integration key [O'Brien-xxx] was not found.",
                 "O'Brien-xxx")


@pytest.mark.parametrize("opts,name", [
    ({"filter": "nope eq 'a'"}, "nope"),
    ({"filter": "id eq 'a' or destinationTarget/nope eq 1"}, "nope"),
    ({"filter": "nope/id eq 'a'"}, "nope"),
    ({"filter": "startswith(nope, 'a')"}, "nope"),
    ({"filter": "signingSecret eq 'x'"}, "signingSecret"),
    ({"orderby": "nope"}, "nope"),
    ({"orderby": "id,nope desc"}, "nope"),
    ({"orderby": "destinationTarget/nope"}, "nope"),
    ({"orderby": "signingSecret"}, "signingSecret"),
    ({"select": "nope"}, "nope"),
    ({"select": "id,nope"}, "nope"),
    ({"select": "signingSecret"}, "signingSecret"),
    ({"select": "destinationTarget/nope", "expand": "destinationTarget"}, "nope"),
    ({"expand": "nope"}, "nope"),
    ({"expand": "destinationTarget/nope"}, "nope"),
    ({"expand": "id"}, "id"),
    ({"expand": "destinationTarget,endpoint/nope"}, "nope"),
])
def test_unknown_property(viewer, opts, name):
    for path in ("ConsumedDestinations", "ConsumedDestinations/$count"):
        if "filter" not in opts and path.endswith("$count"):
            continue
        r = viewer.get(path, opts)
        assert_error(r, 404, "not_found", f"Could not find property with name: '{name}'.")
        assert_common(r)


def test_unknown_property_on_entity_and_nav(viewer, data):
    k = uri_key(data.dest_key)
    r = viewer.get(f"ConsumedDestinations('{k}')", {"expand": "nope"})
    assert_error(r, 404, "not_found", "Could not find property with name: 'nope'.")
    r = viewer.get(f"ConsumedDestinations('{k}')", {"select": "nope"})
    assert_error(r, 404, "not_found", "Could not find property with name: 'nope'.")
    r = viewer.get(f"ConsumedDestinations('{k}')/nope")
    assert_error(r, 404, "not_found", "Could not find property with name: 'nope'.")
    r = viewer.get(f"ConsumedDestinations('{k}')/destinationTarget", {"expand": "nope"})
    assert_error(r, 404, "not_found", "Could not find property with name: 'nope'.")
    r = viewer.get(f"DestinationTargets('{data.target}')/eventConfigurations",
                   {"filter": "nope eq 1"})
    assert_error(r, 404, "not_found", "Could not find property with name: 'nope'.")


@pytest.mark.parametrize("path", [
    "DestinationTargets/x", "DestinationTargets('a')/id/x", "DestinationTargets/$count/x",
    "$count", "$value", "$links", "DestinationTargets('a')/eventConfigurations('b')",
    "DestinationTargets('a')/$value",
])
def test_unsupported_paths_are_404(viewer, path):
    r = viewer.get(path)
    assert_error(r, 404, "not_found")
    assert_common(r)


# ---------------------------------------------------------- invalid_query --

POS = re.compile(r"position \d+")


@pytest.mark.parametrize("opts,fragment", [
    ({"filter": ""}, "position 0"),
    ({"filter": "id eq"}, "position 5"),
    ({"filter": "id eq 'a' and"}, "position 13"),
    ({"filter": "(id eq 'a'"}, "position 0"),
    ({"filter": "id eq 'a')"}, "position 9"),
    ({"filter": "id eq 'a"}, "position 6"),
    ({"filter": "id eqq 'a'"}, "position 3"),
    ({"filter": "id eq'a'"}, "position 5"),
    ({"filter": "foo(id) eq 'a'"}, "position 0"),
    ({"filter": "length(id, id) eq 1"}, "position 0"),
    ({"filter": "substring(id) eq 'a'"}, "position 0"),
    ({"filter": "replace(id, 'a') eq 'a'"}, "position 0"),
    ({"filter": "id eq 'a' id"}, "position 10"),
    ({"filter": "maxInFlight eq 12abc"}, "position 15"),
    ({"filter": "maxInFlight eq 99999999999999999999"}, "position 15"),
    ({"filter": "maxInFlight lt 1e999"}, "position 15"),
    ({"filter": "id eq datetime'2024-13-01T00:00'"}, "position 6"),
    ({"filter": "id eq guid'xyz'"}, "position 6"),
    ({"filter": "id eq X'00'"}, "position 6"),
    ({"filter": "id eq 5"}, "position 3"),
    ({"filter": "active eq 'true'"}, "position 7"),
    ({"filter": "maxInFlight add 'a' eq 1"}, "position 12"),
    ({"filter": "length(maxInFlight) eq 1"}, "position 0"),
    ({"filter": "not maxInFlight"}, "position 0"),
    ({"filter": "-id eq 'a'"}, "position 0"),
    ({"filter": "id"}, "position 0"),
    ({"filter": "maxInFlight add 1"}, "position"),
    ({"filter": "null"}, "position 0"),
    ({"filter": "id eq 'a' && id eq 'b'"}, "position 10"),
    ({"filter": "id == 'a'"}, "position 3"),
    ({"filter": "id eq 'a';"}, "position 9"),
    ({"filter": "id eq \"a\""}, "position 6"),
    ({"filter": "id eq 'a' --"}, "position 10"),
    ({"filter": "id / eq 'a'"}, "position"),
    ({"filter": "destinationTarget/ id eq 'a'"}, "position"),
    ({"filter": "id eq 'é' or id eq €"}, "position"),
    ({"orderby": ""}, "position 0"),
    ({"orderby": "id foo"}, "position 3"),
    ({"orderby": "id,"}, "position 3"),
    ({"orderby": ",id"}, "position 0"),
    ({"orderby": "id asc desc"}, "position 7"),
    ({"orderby": "id/"}, "position 3"),
    ({"orderby": "id;drop"}, "position 2"),
    ({"orderby": ",".join(["id"] * 65)}, "position"),
    ({"select": ""}, "position 0"),
    ({"select": "id,,url"}, "position 3"),
    ({"select": "id desc"}, "position 3"),
    ({"expand": ""}, "position 0"),
    ({"expand": "destinationTarget/"}, "position 18"),
    ({"expand": "a/b/c/d/e/f/g/h/i"}, "position"),
    ({"top": ""}, "position 0"),
    ({"top": "-1"}, "position 0"),
    ({"top": "1.5"}, "position 1"),
    ({"top": "abc"}, "position 0"),
    ({"top": "99999999999"}, "position 0"),
    ({"top": " 1"}, "position 0"),
    ({"skip": "-3"}, "position 0"),
    ({"skip": "x"}, "position 0"),
    ({"skip": "2147483648"}, "position 0"),
    ({"skiptoken": "abc"}, "position 0"),
    ({"inlinecount": "all"}, "position 0"),
    ({"inlinecount": "AllPages"}, "position 0"),
    ({"inlinecount": ""}, "position 0"),
    ({"$foo": "1"}, "position 0"),
    ({"$Filter": "id eq 'a'"}, "position 0"),
])
def test_invalid_query(viewer, opts, fragment):
    r = viewer.get("ConsumedDestinations", opts)
    _, msg, inner = assert_error(r, 400, "invalid_query")
    assert fragment in msg, msg
    assert POS.search(msg), msg
    assert inner is None
    assert_common(r)


@pytest.mark.parametrize("query,fragment", [
    ("$top=1&$top=2", "position 7"),
    ("$filter=id%20eq%20'a'&$filter=id%20eq%20'b'", "position 22"),
    ("$filter=id%20eq%20%27%C3%27", "position"),
    ("$filter=id%20eq%20%27%00%27", "position"),
    ("$filter=id%20eq%20%27%ZZ%27", "position"),
    ("$top=%", "position"),
])
def test_invalid_query_string(server, users, query, fragment):
    r = server.get(f"{BASE}/ConsumedDestinations?{query}", headers=users["viewer"].headers)
    _, msg, _ = assert_error(r, 400, "invalid_query")
    assert fragment in msg, msg


@pytest.mark.parametrize("flt", [
    "maxInFlight div 0 eq 1",
    "maxInFlight mod 0 eq 1",
    "timeoutMillis div (maxInFlight sub maxInFlight) eq 1",
    "maxInFlight div 0.0M eq 1",
    "maxInFlight div 0.0d eq 1",
    "maxInFlight mod 0.0d eq 1",
])
def test_division_by_zero_is_400(viewer, data, flt):
    r = viewer.get("ConsumedDestinations", {"filter": f"id eq '{data.dest}' and ({flt})"})
    assert_error(r, 400, "invalid_query", "The request cannot be evaluated: division by zero.")
    assert_common(r)


@pytest.mark.parametrize("flt", [
    "maxInFlight mul 2147483647 gt 0",
    "-(-2147483648) eq maxInFlight",
    "maxInFlight add 9223372036854775807L gt 0",
    "substring(id, 1, -5) eq 'x'",
    "substring(id, 3000000000) eq 'x'",
])
def test_runtime_range_errors_are_400(viewer, data, flt):
    r = viewer.get("ConsumedDestinations", {"filter": f"id eq '{data.dest}' and ({flt})"})
    assert_error(r, 400, "invalid_query")


def _deep(n, inner="active"):
    return "(" * n + inner + ")" * n


@pytest.mark.parametrize("flt", [
    _deep(101),
    _deep(5000),
    "not " * 150 + "active",
    "-" * 150 + "maxInFlight eq 1",
    "length(" * 120 + "id" + ")" * 120 + " eq 1",
    " or ".join(["id eq 'x'"] * 400),
    " and ".join(["1 eq 1"] * 400),
    " add ".join(["1"] * 1100) + " eq 1",
    "id eq " + " or id eq ".join(f"'{i}'" for i in range(500)),
    "/".join(["destinationTarget"] * 40) + " eq 'x'",
    "a" * 200 + " eq 'x'",
    "concat(" * 99 + "id" + ",'a')" * 99 + " eq " + "'x'",
    "(" * 99 + "id eq 'a' or " * 50 + "true" + ")" * 99,
], ids=["parens-101", "parens-5000", "not-150", "neg-150", "calls-120", "or-400",
        "and-1600-nodes", "add-1100", "in-list-500", "path-40", "long-name", "concat-99",
        "mixed-deep"])
def test_hostile_filters_are_4xx_not_500(viewer, flt):
    r = viewer.get("ConsumedDestinations", {"filter": flt})
    assert r.status_code in (200, 400, 404), (r.status_code, r.text[:300])
    assert r.status_code != 500
    if r.status_code >= 400:
        assert_common(r)


def test_long_string_literal(viewer):
    r = viewer.get("ConsumedDestinations", {"filter": "id eq '" + "x" * 6000 + "'"})
    assert r.status_code == 200
    assert r.json()["d"]["results"] == []


# --------------------------------------------------- filter_not_supported --

@pytest.mark.parametrize("set_,flt,path", [
    ("DestinationTargets", "eventConfigurations/version eq 1", "eventConfigurations"),
    ("ConsumedDestinations", "destinationTarget/eventConfigurations/eventClass eq 'x'",
     "destinationTarget/eventConfigurations"),
    ("ConsumedDestinations", "additionalProperties/key eq 'k'", "additionalProperties"),
    ("WebhookConfigurations", "destination/additionalProperties/value eq 'v'",
     "destination/additionalProperties"),
    ("WebhookConfigurations",
     "startswith(destination/destinationTarget/eventConfigurations/exportName, 'x')",
     "destination/destinationTarget/eventConfigurations"),
])
def test_filter_through_to_many(viewer, set_, flt, path):
    for p in (set_, set_ + "/$count"):
        r = viewer.get(p, {"filter": flt})
        _, msg, _ = assert_error(r, 400, "filter_not_supported")
        assert f"[{path}]" in msg, msg
        assert_common(r)


def test_orderby_through_to_many(viewer):
    r = viewer.get("DestinationTargets", {"orderby": "eventConfigurations/version"})
    assert_error(r, 400, "invalid_query")


# ----------------------------------------------------------------- $format --

@pytest.mark.parametrize("fmt", ["xml", "atom", "XML", "text/html", "application/xml", ""])
@pytest.mark.parametrize("path", ["ConsumedDestinations", "ConsumedDestinations/$count",
                                  "DestinationChannels('PULL')"])
def test_format_other_than_json_is_415(viewer, fmt, path):
    r = viewer.get(path, {"format": fmt} if fmt else "$format=")
    _, msg, _ = assert_error(r, 415, "unsupported_media_type")
    assert_common(r)
    assert fmt in msg


@pytest.mark.parametrize("fmt", ["json", "JSON", "application/json"])
def test_format_json_is_ok(viewer, fmt):
    r = viewer.get("DestinationChannels('PULL')", {"format": fmt})
    assert r.status_code == 200 and r.json()["d"]["code"] == "PULL"


# ------------------------------------------------------------- the shape --

def test_error_shape_is_exact(server, users):
    r = server.get(f"{BASE}/NoSuchSet", headers=users["viewer"].headers)
    assert r.content == odata_error("not_found", "Entity set [NoSuchSet] was not found.")
    key = "nope-" + uid()
    r = server.get(f"{BASE}/DestinationTargets('{key}')", headers=users["viewer"].headers)
    assert r.json() == {"error": {"code": "not_found", "message": {
        "lang": "en", "value": f"[DestinationTarget] with integration key [{key}] was not found."},
        "innererror": key}}


def test_error_for_head_has_no_body(viewer):
    r = viewer.head("NoSuchSet")
    assert r.status_code == 404 and r.content == b""
    assert r.headers["DataServiceVersion"] == "2.0"


def test_errors_echo_integration_message_id(viewer, server):
    for path in ("NoSuchSet", "DestinationTargets('a%7Cb')", "ConsumedDestinations?$top=x"):
        r = viewer.get(path, headers={"integrationMessageId": "err-msg-1"})
        assert r.status_code >= 400
        assert r.headers.get("integrationMessageId") == "err-msg-1"
    r = server.get(f"{BASE}/NoSuchSet", headers={"integrationMessageId": "err-msg-2"})
    assert r.status_code == 401 and r.headers.get("integrationMessageId") == "err-msg-2"


def test_error_messages_never_echo_filter_literals(viewer):
    secret = "s3cr3t-" + uid()
    for flt in [f"id eq '{secret}' and", f"id eq '{secret}' eqq 1", f"id eq '{secret}' add 1",
                f"length('{secret}') eq 'x'", f"nope eq '{secret}'"]:
        r = viewer.get("ConsumedDestinations", {"filter": flt})
        assert r.status_code in (400, 404)
        assert secret not in r.text, r.text


@pytest.mark.parametrize("who", ["publisher", "nobody"])
def test_metadata_errors_are_xml(server, users, who):
    headers = users[who].headers if who in users else {}
    r = server.get(f"{BASE}/$metadata", headers=headers)
    assert r.status_code in (401, 403)
    assert r.headers["Content-Type"].startswith("application/xml")
