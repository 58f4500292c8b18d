"""OData V2 $batch on the WebhookService (odata.md "Operations"): query
operations answered in order, change sets atomic with Content-ID
references, the request limit, malformed bodies, roles, and the bodies
SAPUI5 and curl send.

The session shares one database: every test makes its own rows with unique
ids (uid) and counts only rows carrying its own tag."""
import json
import re

import pytest

from conftest import odata_error
from odata_helpers import (
    BASE, ITEM_SAVED, consumed_destination, destination_target, entity_path, integration_key, uid,
    uri_key, webhook_configuration,
)

FORBIDDEN = odata_error("forbidden", "user is not authorized for the operation")


# ------------------------------------------------------------------ bodies --

class Req:
    """One request of a $batch; url relative to the service root unless
    it starts with / or http."""

    def __init__(self, method, url, body=None, headers=None, cid=None, cid_in_request=False):
        self.method, self.url, self.body, self.cid = method, url, body, cid
        self.headers = dict(headers or {})
        self.cid_in_request = cid_in_request
        if isinstance(body, (dict, list)):
            self.headers.setdefault("Content-Type", "application/json")


class Changeset:
    def __init__(self, *reqs, boundary=None):
        self.reqs = reqs
        self.boundary = boundary or "changeset_" + uid("c")[2:]


def GET(url, **kw):
    return Req("GET", url, **kw)


def _request_part(r, eol, binary=True, content_length=False):
    lines = ["Content-Type: application/http"]
    if binary:
        lines.append("Content-Transfer-Encoding: binary")
    if r.cid is not None and not r.cid_in_request:
        lines.append(f"Content-ID: {r.cid}")
    lines += ["", f"{r.method} {r.url} HTTP/1.1"]
    body = r.body
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    headers = dict(r.headers)
    if r.cid is not None and r.cid_in_request:
        headers["Content-ID"] = str(r.cid)
    if content_length and body is not None:
        headers["Content-Length"] = str(len(body.encode()))
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append("")
    lines.append(body or "")
    return eol.join(lines)


def build(items, boundary="batch_1", eol="\r\n", binary=True, content_length=False):
    """A $batch body (str) from Req and Changeset items."""
    out = []
    for it in items:
        if isinstance(it, Changeset):
            inner = [f"--{it.boundary}{eol}{_request_part(r, eol, binary, content_length)}"
                     for r in it.reqs]
            out.append(f"--{boundary}{eol}Content-Type: multipart/mixed; boundary={it.boundary}{eol}{eol}"
                       + eol.join(inner) + f"{eol}--{it.boundary}--{eol}")
        else:
            out.append(f"--{boundary}{eol}{_request_part(it, eol, binary, content_length)}{eol}")
    return "".join(out) + f"--{boundary}--{eol}"


# ---------------------------------------------------------------- answers --

class Part:
    def __init__(self, mime, status, reason, headers, body):
        self.mime, self.status, self.reason, self.headers, self.body = mime, status, reason, headers, body

    def json(self):
        return json.loads(self.body)

    @property
    def d(self):
        assert self.status < 300, (self.status, self.body)
        return self.json()["d"]

    def __repr__(self):
        return f"<Part {self.status} {self.body[:120]!r}>"


def _split(text, boundary):
    """The bodies of the parts of a multipart text (CRLF framing checked)."""
    delim = "--" + boundary
    assert f"{delim}--\r\n" in text or text.endswith(f"{delim}--"), text[-200:]
    parts, cur = [], None
    for line in text.split("\r\n"):
        if line == delim:
            if cur is not None:
                parts.append(cur)
            cur = []
        elif line == delim + "--":
            if cur is not None:
                parts.append(cur)
            return ["\r\n".join(p) for p in parts]
        elif cur is not None:
            cur.append(line)
    raise AssertionError(f"no close delimiter {delim}--")


def _headers(block):
    out = {}
    for line in block.split("\r\n"):
        if line:
            k, _, v = line.partition(":")
            out[k.strip().lower()] = v.strip()
    return out


def _parse_part(raw):
    mime_block, _, rest = raw.partition("\r\n\r\n")
    mime = _headers(mime_block)
    ctype = mime.get("content-type", "")
    if ctype.startswith("multipart/mixed"):
        b = re.search(r"boundary=([^;\s]+)", ctype).group(1)
        return [_parse_part(p) for p in _split(rest, b)]
    assert ctype == "application/http", mime
    assert mime.get("content-transfer-encoding") == "binary", mime
    head, _, body = rest.partition("\r\n\r\n")
    status_line, _, header_block = head.partition("\r\n")
    m = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.*)", status_line)
    assert m, status_line
    headers = _headers(header_block)
    if "content-length" in headers:
        n = int(headers["content-length"])
        assert len(body.encode()) >= n, (n, body)
        assert body.encode()[n:] in (b"", b"\r\n"), body
        body = body.encode()[:n].decode()
    else:
        assert body in ("", "\r\n"), body
        body = ""
    return Part(mime, int(m.group(1)), m.group(2), headers, body)


def parse(r):
    """The parts of a 202 $batch answer: Part for a query operation or a
    failed change set, a list of Part for a change set."""
    assert r.status_code == 202, f"{r.status_code} {r.text[:600]}"
    ctype = r.headers["Content-Type"]
    m = re.fullmatch(r"multipart/mixed; boundary=(\S+)", ctype)
    assert m, ctype
    return [_parse_part(p) for p in _split(r.content.decode(), m.group(1))]


def post_batch(server, user, body, boundary="batch_1", ctype=None, headers=None):
    h = dict(user.headers)
    h["Content-Type"] = ctype or f"multipart/mixed; boundary={boundary}"
    h.update(headers or {})
    data = body.encode() if isinstance(body, str) else body
    return server.request("POST", f"{BASE}/$batch", headers=h, data=data)


def batch(server, user, items, **kw):
    build_kw = {k: kw.pop(k) for k in ("eol", "binary", "content_length", "boundary") if k in kw}
    return parse(post_batch(server, user, build(items, **build_kw),
                            boundary=build_kw.get("boundary", "batch_1"), **kw))


# ----------------------------------------------------------------- helpers --

@pytest.fixture(scope="module")
def admin(users):
    return users["admin"]


def rows(pg, table, column, like):
    return int(pg.psql(f"SELECT count(*) FROM webhookd.{table} WHERE {column} LIKE '%{like}%'"))


def get(server, user, path):
    return server.request("GET", f"{BASE}/{path}", headers=user.headers)


def graph(tag, io_code, url="https://hooks.example/b"):
    return webhook_configuration(
        consumed_destination(f"dest-{tag}", destination_target(f"tgt-{tag}"), url=url), io_code)


# ========================================================= query operations ==

def test_query_operations_are_answered_in_order(server, admin):
    tag = uid("q")
    ios = [f"io-{tag}-{i}" for i in range(3)]
    for io in ios:
        assert server.request("POST", f"{BASE}/IntegrationObjects", headers=dict(
            admin.headers, **{"Content-Type": "application/json"}), json={"code": io}).status_code == 201
    missing = "CDId|DestTargetId|IOCode|WebhookConfigEventType"
    parts = batch(server, admin, [
        GET(f"IntegrationObjects('{ios[2]}')"),
        GET(f"IntegrationObjects?$filter=startswith(code,'io-{tag}')&$orderby=code%20desc&$inlinecount=allpages"),
        GET(f"WebhookConfigurations('{uri_key(missing)}')"),
        GET(f"IntegrationObjects/$count?$filter=startswith(code,'io-{tag}')"),
        GET(f"IntegrationObjects('{ios[0]}')"),
        GET("WebhookConfigurations?$filter=nonExistingItemAttributeName%20eq%201"),
    ])
    assert [p.status for p in parts] == [200, 200, 404, 200, 200, 404]
    assert all(p.headers["dataserviceversion"] == "2.0" for p in parts)
    assert parts[0].d["code"] == ios[2]
    assert parts[0].headers["etag"] == 'W/"1"'
    assert [x["code"] for x in parts[1].d["results"]] == ios[::-1]
    assert parts[1].d["__count"] == "3"
    # the seed's example 404 messages, word for word
    assert parts[2].headers["content-type"] == "application/json"
    assert parts[2].body.encode() == odata_error(
        "not_found", f"[WebhookConfiguration] with integration key [{missing}] was not found.", missing)
    assert (parts[3].headers["content-type"], parts[3].body) == ("text/plain", "3")
    assert parts[4].d["code"] == ios[0]
    assert parts[5].json()["error"]["message"]["value"] == \
        "Could not find property with name: 'nonExistingItemAttributeName'."


def test_an_empty_batch_is_answered_with_an_empty_multipart(server, admin):
    r = post_batch(server, admin, "--batch_1--\r\n")
    assert parse(r) == []


def test_the_response_framing_is_crlf_with_exact_lengths(server, admin):
    r = post_batch(server, admin, build([GET("IntegrationObjects?$top=1"), GET("$metadata")]))
    assert r.status_code == 202
    text = r.content.decode()
    assert re.search(r"[^\r]\n--batchresponse", text) is None
    assert re.search(r"[^\r]\n(Content-|HTTP/1.1 |DataServiceVersion)", text.split("<?xml")[0]) is None
    parts = parse(r)
    assert parts[1].status == 200 and parts[1].body.startswith("<?xml")
    assert int(parts[1].headers["content-length"]) == len(parts[1].body.encode())


def test_integration_message_id_is_echoed_on_the_batch(server, admin):
    r = post_batch(server, admin, build([GET("IntegrationObjects/$count")]),
                   headers={"integrationMessageId": "batch-msg-1"})
    assert r.status_code == 202
    assert r.headers["integrationMessageId"] == "batch-msg-1"


# =============================================================== changesets ==

def test_a_changeset_writes_and_answers_each_request(server, admin, pg):
    tag = uid("cs")
    io = f"io-{tag}"
    parts = batch(server, admin, [
        Changeset(
            Req("POST", "IntegrationObjects", {"code": io}, cid="1"),
            # a later request sees what an earlier one wrote: the new IntegrationObject
            Req("POST", "WebhookConfigurations", graph(tag, io), cid="2"),
            Req("PATCH", entity_path("ConsumedDestinations", f"dest-{tag}|tgt-{tag}"),
                {"maxInFlight": 5}, cid="3"),
            Req("MERGE", entity_path("IntegrationObjects", io), {"description": "merged"}),
        ),
        GET(entity_path("ConsumedDestinations", f"dest-{tag}|tgt-{tag}")),
    ])
    assert len(parts) == 2
    cs, after = parts
    assert isinstance(cs, list) and [p.status for p in cs] == [201, 201, 200, 200]
    assert [p.mime.get("content-id") for p in cs] == ["1", "2", "3", None]
    assert cs[0].headers["location"].endswith(f"/IntegrationObjects('{io}')")
    assert cs[1].headers["etag"] == 'W/"1"'
    key = integration_key(f"dest-{tag}", f"tgt-{tag}", io, ITEM_SAVED)
    assert cs[1].d["integrationKey"] == key
    assert cs[1].d["destination"]["signingSecret"].startswith("whsec_")
    assert cs[2].d["maxInFlight"] == 5 and cs[2].headers["etag"] == 'W/"2"'
    assert cs[3].d["description"] == "merged"
    assert after.d["maxInFlight"] == 5
    assert rows(pg, "webhook_configuration w JOIN webhookd.integration_object i ON i.pk = w.integration_object_pk",
                "i.code", tag) == 1


@pytest.mark.parametrize("fail", ["planning", "database", "missing", "forbidden-media"])
def test_a_failed_changeset_leaves_nothing_and_is_answered_by_one_part(server, admin, pg, fail):
    tag = uid("atom")
    io = f"io-{tag}"
    bad = {
        "planning": (Req("POST", "WebhookConfigurations", dict(graph(tag, io), bogus=1), cid="3"),
                     400, odata_error("invalid_property",
                                      "Property [bogus] is not a property of [WebhookConfiguration].", "bogus")),
        "database": (Req("POST", "WebhookConfigurations", graph(tag, io, url="ftp://x"), cid="3"),
                     400, odata_error("invalid_attribute_value",
                                      "[ConsumedDestination] url must be an absolute http or https URL.", "url")),
        "missing": (Req("PATCH", entity_path("IntegrationObjects", f"{io}-x"), {"description": "x"}, cid="3"),
                    404, odata_error("not_found",
                                     f"[IntegrationObject] with integration key [{io}-x] was not found.",
                                     f"{io}-x")),
        "forbidden-media": (Req("POST", "IntegrationObjects", "code=x", cid="3",
                                headers={"Content-Type": "application/x-www-form-urlencoded"}),
                            415, odata_error("unsupported_media_type",
                                             "Media type [application/x-www-form-urlencoded] is not supported.")),
    }[fail]
    parts = batch(server, admin, [
        GET("IntegrationObjects/$count"),
        Changeset(
            Req("POST", "IntegrationObjects", {"code": io}, cid="1"),
            Req("POST", "ConsumedDestinations", consumed_destination(f"d2-{tag}", f"t2-{tag}"), cid="2"),
            bad[0],
            Req("POST", "IntegrationObjects", {"code": f"{io}-after"}, cid="4"),
        ),
        GET(entity_path("IntegrationObjects", io)),
    ])
    assert len(parts) == 3
    err = parts[1]
    assert isinstance(err, Part), err                  # one response, not a change set
    assert (err.status, err.body.encode()) == (bad[1], bad[2])
    assert err.mime.get("content-id") == "3"
    assert parts[2].status == 404
    for table, col in (("integration_object", "code"), ("consumed_destination", "id"),
                       ("destination_target", "id")):
        assert rows(pg, table, col, tag) == 0, table


def test_changesets_of_one_batch_are_independent(server, admin, pg):
    tag = uid("ind")
    parts = batch(server, admin, [
        Changeset(Req("POST", "IntegrationObjects", {"code": f"io-{tag}-a"}),
                  Req("POST", "IntegrationObjects", {"code": None})),
        Changeset(Req("POST", "IntegrationObjects", {"code": f"io-{tag}-b"})),
        GET(f"IntegrationObjects/$count?$filter=startswith(code,'io-{tag}')"),
    ])
    assert parts[0].status == 400 and parts[0].json()["error"]["code"] == "missing_key"
    assert [p.status for p in parts[1]] == [201]
    assert parts[2].body == "1"
    assert rows(pg, "integration_object", "code", tag) == 1


def test_a_changeset_rolls_back_what_a_post_hook_rejects(server, admin, pg):
    t = uid("bh").replace("-", "_")
    pg.psql(f"""CREATE FUNCTION public.{t}(a text, b text, c jsonb) RETURNS void LANGUAGE plpgsql AS
                $$ BEGIN IF c->>'code' LIKE '%-no' THEN RAISE EXCEPTION 'no'; END IF; END $$;
                INSERT INTO webhookd.persist_hook VALUES ('{t}', 'POST', 'public.{t}(text,text,jsonb)')""")
    tag = uid("hk")
    parts = batch(server, admin, [Changeset(
        Req("POST", "IntegrationObjects", {"code": f"io-{tag}-yes"}, headers={"Post-Persist-Hook": t}),
        Req("POST", "IntegrationObjects", {"code": f"io-{tag}-no"}, headers={"Post-Persist-Hook": t}),
    )])
    assert parts[0].status == 400
    assert parts[0].json()["error"]["code"] == "post_persist_error"
    assert rows(pg, "integration_object", "code", tag) == 0


# ============================================================= Content-ID ==

def test_content_id_references_name_what_an_earlier_request_wrote(server, admin, pg):
    tag = uid("cid")
    dest = consumed_destination(f"d|{tag}", f"t'{tag}")        # key characters that need escaping
    parts = batch(server, admin, [Changeset(
        Req("POST", "ConsumedDestinations", dest, cid="1"),
        Req("PATCH", "$1", {"maxInFlight": 3}, cid="2"),
        Req("POST", "$1", {"timeoutMillis": 1234}, headers={"X-HTTP-Method": "MERGE"}),
        Req("PUT", "$1", {"url": "https://hooks.example/put", "maxInFlight": 4}),
    ), GET(entity_path("ConsumedDestinations", integration_key(f"d|{tag}", f"t'{tag}")))])
    cs, after = parts
    assert [p.status for p in cs] == [201, 200, 200, 200], cs
    key = integration_key(f"d|{tag}", f"t'{tag}")
    assert [p.d["integrationKey"] for p in cs] == [key] * 4
    assert (cs[1].d["maxInFlight"], cs[2].d["timeoutMillis"], cs[2].d["maxInFlight"]) == (3, 1234, 3)
    assert (after.d["url"], after.d["maxInFlight"], after.d["timeoutMillis"]) == \
        ("https://hooks.example/put", 4, 15000)


def test_a_content_id_reference_to_a_deleted_entity(server, admin):
    tag = uid("ciddel")
    parts = batch(server, admin, [Changeset(
        Req("POST", "IntegrationObjects", {"code": f"io-{tag}"}, cid="a1"),
        Req("DELETE", "$a1", cid="a2"),
    ), GET(entity_path("IntegrationObjects", f"io-{tag}"))])
    assert [p.status for p in parts[0]] == [201, 204]
    assert parts[0][1].body == "" and "content-type" not in parts[0][1].headers
    assert parts[1].status == 404


@pytest.mark.parametrize("url,status,code", [
    ("$1/destination", 405, "method_not_allowed"),     # resolved: writes to a navigation are not served
    ("$9", 400, "invalid_query"),                      # no request with that Content-ID
    ("$2", 400, "invalid_query"),                      # its own Content-ID: not written yet
])
def test_unusable_content_id_references_fail_the_changeset(server, admin, pg, url, status, code):
    tag = uid("cidbad")
    parts = batch(server, admin, [Changeset(
        Req("POST", "IntegrationObjects", {"code": f"io-{tag}"}, cid="1"),
        Req("PATCH", url, {"description": "x"}, cid="2"),
    )])
    assert isinstance(parts[0], Part), parts
    assert parts[0].status == status, parts[0]
    assert parts[0].json()["error"]["code"] == code
    assert rows(pg, "integration_object", "code", tag) == 0


def test_content_ids_are_per_changeset(server, admin):
    tag = uid("cidscope")
    parts = batch(server, admin, [
        Changeset(Req("POST", "IntegrationObjects", {"code": f"io-{tag}"}, cid="1")),
        Changeset(Req("PATCH", "$1", {"description": "x"})),
    ])
    assert [p.status for p in parts[0]] == [201]
    assert parts[1].status == 400


def test_content_id_may_be_given_in_the_embedded_request(server, admin):
    tag = uid("cidreq")
    parts = batch(server, admin, [Changeset(
        Req("POST", "IntegrationObjects", {"code": f"io-{tag}"}, cid="7", cid_in_request=True),
        Req("PATCH", "$7", {"description": "via header"}),
    )])
    assert [p.status for p in parts[0]] == [201, 200]
    assert parts[0][0].mime.get("content-id") == "7"
    assert parts[0][1].d["description"] == "via header"


# ============================================================== the limits ==

def test_more_than_200_requests_is_400_batch_limit_exceeded(server, admin):
    r = post_batch(server, admin, build([GET("IntegrationObjects/$count")] * 201))
    assert r.status_code == 400
    assert r.content == odata_error("batch_limit_exceeded", "The $batch holds more than 200 requests.")
    cs = Changeset(*[Req("POST", "IntegrationObjects", {"code": uid("io")}) for _ in range(101)])
    r = post_batch(server, admin, build([cs, Changeset(*cs.reqs[:100], boundary="cs2")]))
    assert r.status_code == 400
    assert r.content == odata_error("batch_limit_exceeded", "The $batch holds more than 200 requests.")


def test_200_requests_are_served(server, admin):
    parts = batch(server, admin, [GET("DestinationChannels/$count")] * 200)
    assert [p.body for p in parts] == ["3"] * 200


def test_the_limit_follows_batch_max_requests(start_server, admin):
    srv = start_server({"WEBHOOKD_BATCH_MAX_REQUESTS": 3})
    r = post_batch(srv, admin, build([GET("DestinationChannels/$count")] * 2 +
                                     [Changeset(Req("DELETE", "IntegrationObjects('nope-1')"),
                                                Req("DELETE", "IntegrationObjects('nope-2')"))]))
    assert r.status_code == 400
    assert r.content == odata_error("batch_limit_exceeded", "The $batch holds more than 3 requests.")
    assert [p.status for p in parse(post_batch(srv, admin, build([GET("DestinationChannels/$count")] * 3)))] \
        == [200] * 3


def test_a_changeset_too_big_for_one_transaction_is_413_and_writes_nothing(server, admin, pg):
    tag = uid("big")
    ios = [f"io-{tag}-{i}" for i in range(3)]
    reqs = [Req("POST", "IntegrationObjects", {"code": io}) for io in ios]
    reqs += [Req("POST", "WebhookConfigurations", graph(f"{tag}-{i}", ios[i % 3])) for i in range(197)]
    parts = batch(server, admin, [Changeset(*reqs)])
    assert isinstance(parts[0], Part)
    assert parts[0].status == 413, parts[0]
    assert parts[0].json()["error"]["code"] == "payload_too_large"
    assert rows(pg, "integration_object", "code", tag) == 0
    assert rows(pg, "consumed_destination", "id", tag) == 0


# ========================================================= malformed bodies ==

MALFORMED = [
    ("no close delimiter", "--batch_1\r\nContent-Type: application/http\r\n\r\nGET IntegrationObjects HTTP/1.1\r\n\r\n"),
    ("empty body", ""),
    ("no delimiter", "GET IntegrationObjects HTTP/1.1\r\n\r\n"),
    ("GET in a changeset", build([Changeset(GET("IntegrationObjects"))])),
    ("empty changeset", "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs--\r\n--batch_1--\r\n"),
    ("bad request line", "--batch_1\r\nContent-Type: application/http\r\n\r\nGET\r\n\r\n--batch_1--\r\n"),
    ("lower-case method", "--batch_1\r\nContent-Type: application/http\r\n\r\nget IntegrationObjects HTTP/1.1"
                          "\r\n\r\n--batch_1--\r\n"),
    ("HTTP/2", "--batch_1\r\nContent-Type: application/http\r\n\r\nGET IntegrationObjects HTTP/2\r\n\r\n"
               "--batch_1--\r\n"),
    ("nested changeset", "--batch_1\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\n"
                         "Content-Type: multipart/mixed; boundary=cs2\r\n\r\n--cs2\r\n"
                         "Content-Type: application/http\r\n\r\nPOST IntegrationObjects HTTP/1.1\r\n\r\n{}\r\n"
                         "--cs2--\r\n--cs--\r\n--batch_1--\r\n"),
    ("duplicate Content-ID", build([Changeset(Req("POST", "IntegrationObjects", {"code": "a"}, cid="1"),
                                              Req("POST", "IntegrationObjects", {"code": "b"}, cid="1"))])),
    ("folded header", "--batch_1\r\nContent-Type: application/http\r\n\r\nGET IntegrationObjects HTTP/1.1\r\n"
                      "Accept: a\r\n b\r\n\r\n--batch_1--\r\n"),
]


@pytest.mark.parametrize("name,body", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_batch_is_400_malformed_payload(server, admin, pg, name, body):
    r = post_batch(server, admin, body)
    assert r.status_code == 400, r.text
    code = r.json()["error"]["code"]
    assert code == "malformed_payload", r.text
    assert r.json()["error"]["message"]["value"].startswith("Malformed $batch body: ")


@pytest.mark.parametrize("ctype,msg", [
    ("multipart/mixed", "Media type of a $batch must be multipart/mixed with a boundary."),
    ("application/json", "Media type of a $batch must be multipart/mixed with a boundary."),
    ("multipart/form-data; boundary=batch_1", "Media type of a $batch must be multipart/mixed with a boundary."),
])
def test_a_batch_that_is_not_multipart_mixed_is_415(server, admin, ctype, msg):
    r = post_batch(server, admin, build([GET("IntegrationObjects")]), ctype=ctype)
    assert r.status_code == 415
    assert r.content == odata_error("unsupported_media_type", msg)


def test_a_batch_must_be_posted(server, admin):
    r = server.request("GET", f"{BASE}/$batch", headers=admin.headers)
    assert r.status_code in (400, 404, 405), r.text


# ==================================================================== roles ==

def test_a_viewer_may_read_in_a_batch_but_not_write(server, users, pg):
    tag = uid("view")
    parts = batch(server, users["viewer"], [
        GET("DestinationChannels('PULL')"),
        Changeset(Req("POST", "IntegrationObjects", {"code": f"io-{tag}"}, cid="1"),
                  Req("PATCH", "$1", {"description": "x"})),
        Changeset(Req("DELETE", "DestinationChannels('PULL')")),
        GET("DestinationChannels/$count"),
    ])
    assert parts[0].d["code"] == "PULL"
    for p in parts[1:3]:
        assert isinstance(p, Part)
        assert (p.status, p.body.encode()) == (403, FORBIDDEN)
    assert parts[3].body == "3"
    assert rows(pg, "integration_object", "code", tag) == 0


def test_a_batch_without_credentials_is_401(server):
    r = server.request("POST", f"{BASE}/$batch", data=build([GET("IntegrationObjects")]),
                       headers={"Content-Type": "multipart/mixed; boundary=batch_1"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")


# =================================================== clients' real bodies ==

def test_a_sapui5_batch(server, admin, pg):
    """What SAPUI5's v2 ODataModel sends: CRLF, Content-Transfer-Encoding:
    binary, relative URLs, its headers in every request, MERGE for updates,
    Content-Length in each request, a blank line after the change set."""
    tag = uid("ui5")
    io = f"io-{tag}"
    b, cs = "batch_8d5e-2c4a-7b1f", "changeset_1f2e-9a8b-3c4d"
    ui5 = ("sap-cancel-on-close: true\r\nsap-contextid-accept: header\r\nAccept: application/json\r\n"
           "Accept-Language: en-US\r\nDataServiceVersion: 2.0\r\nMaxDataServiceVersion: 2.0\r\n"
           "X-Requested-With: XMLHttpRequest\r\n")
    create = json.dumps({"code": io, "description": "from ui5"})
    merge = json.dumps({"description": "merged by ui5"})
    body = (
        f"--{b}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n"
        f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"POST IntegrationObjects HTTP/1.1\r\n{ui5}Content-Type: application/json\r\n"
        f"Content-Length: {len(create)}\r\n\r\n{create}\r\n"
        f"--{cs}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"MERGE IntegrationObjects('{io}') HTTP/1.1\r\n{ui5}Content-Type: application/json\r\n"
        f"Content-Length: {len(merge)}\r\n\r\n{merge}\r\n"
        f"--{cs}--\r\n\r\n"
        f"--{b}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
        f"GET IntegrationObjects?$skip=0&$top=20&$filter=code%20eq%20'{io}'&$inlinecount=allpages HTTP/1.1\r\n"
        f"{ui5}\r\n\r\n"
        f"--{b}--\r\n")
    r = post_batch(server, admin, body, boundary=b, headers={"X-CSRF-Token": "Fetch"})
    parts = parse(r)
    assert [p.status for p in parts[0]] == [201, 200]
    assert parts[0][1].d["description"] == "merged by ui5"
    assert parts[1].d["__count"] == "1"
    assert parts[1].d["results"][0]["description"] == "merged by ui5"
    assert rows(pg, "integration_object", "code", tag) == 1


def test_a_curl_style_batch_with_bare_lf_and_absolute_urls(server, admin, pg):
    tag = uid("curl")
    io = f"io-{tag}"
    base = server.url(BASE)
    body = build([
        Changeset(Req("POST", f"{base}/IntegrationObjects", {"code": io}, cid="1"),
                  Req("PATCH", f"{BASE}/IntegrationObjects('{io}')", {"description": "lf"})),
        GET(f"{base}/IntegrationObjects('{io}')"),
        GET(f"/IntegrationObjects('{io}')"),
    ], eol="\n", binary=False)
    assert "\r" not in body
    parts = parse(post_batch(server, admin, body))
    assert [p.status for p in parts[0]] == [201, 200]
    assert parts[1].d["description"] == parts[2].d["description"] == "lf"


def test_requests_in_a_batch_keep_their_headers(server, admin, pg):
    """If-Match, X-HTTP-Method and persist hooks are taken from each embedded request."""
    tag = uid("hdr")
    io = f"io-{tag}"
    parts = batch(server, admin, [
        Changeset(Req("POST", "IntegrationObjects", {"code": io})),
        Changeset(Req("PATCH", f"IntegrationObjects('{io}')", {"description": "a"},
                      headers={"If-Match": 'W/"7"'})),
        Changeset(Req("POST", f"IntegrationObjects('{io}')", {"description": "b"},
                      headers={"If-Match": 'W/"1"', "X-HTTP-Method": "MERGE"})),
        Changeset(Req("POST", "IntegrationObjects", {"code": io}, headers={"Pre-Persist-Hook": "nope"})),
        Changeset(Req("DELETE", f"IntegrationObjects('{io}')", headers={"If-Match": 'W/"1"'})),
    ])
    assert parts[1].status == 412 and parts[1].json()["error"]["code"] == "precondition_failed"
    assert parts[2][0].d["description"] == "b" and parts[2][0].headers["etag"] == 'W/"2"'
    assert parts[3].body.encode() == odata_error("hook_not_found", "Pre-Persist-Hook [nope] was not found.",
                                                 "nope")
    assert parts[4].status == 412
    assert get(server, admin, f"IntegrationObjects('{io}')").json()["d"]["description"] == "b"


def test_the_seed_invalid_key_example_in_a_batch(server, admin):
    w_tag = uid("seed")
    io = f"io-{w_tag}"
    parts = batch(server, admin, [
        Changeset(Req("POST", "IntegrationObjects", {"code": io}),
                  Req("POST", "WebhookConfigurations", graph(w_tag, io), cid="c")),
        Changeset(Req("PATCH", "WebhookConfigurations('{}')".format(
            uri_key(integration_key(f"dest-{w_tag}", f"tgt-{w_tag}", io, ITEM_SAVED))),
            {"eventType": "de.hybris.platform.webhookservices.event.ItemCreatedEvent"})),
    ])
    key = integration_key(f"dest-{w_tag}", f"tgt-{w_tag}", io, ITEM_SAVED)
    assert [p.status for p in parts[0]] == [201, 201]
    assert parts[1].status == 400
    assert parts[1].body.encode() == odata_error(
        "invalid_key", f"Key [{key[:-len(ITEM_SAVED)]}de.hybris.platform.webhookservices.event.ItemCreatedEvent]"
        f" in the payload does not match the key [{key}] in the path.")


# ================================================================= variants ==

def _cs(body, cs="cs"):
    return (f"--batch_1\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n--{cs}\r\n"
            f"Content-Type: application/http\r\n\r\n{body}\r\n--{cs}--\r\n--batch_1--\r\n")


def _q(line):
    return f"--batch_1\r\nContent-Type: application/http\r\n\r\n{line} HTTP/1.1\r\n\r\n\r\n--batch_1--\r\n"


VARIANTS = [
    # name, body (io: a fresh IntegrationObject code), Content-Type boundary, expected [(status, body check)]
    ("quoted boundaries", '--b 1\r\nContent-Type: multipart/mixed; boundary="c s"\r\n\r\n--c s\r\n'
     'Content-Type: application/http\r\n\r\nPOST IntegrationObjects HTTP/1.1\r\nContent-Type: application/json'
     '\r\n\r\n{{"code": "{io}"}}\r\n--c s--\r\n--b 1--\r\n', '"b 1"', [[201]]),
    ("preamble and epilogue", "preamble\r\n" + _q("GET DestinationChannels/$count") + "epilogue\r\n",
     "batch_1", [200]),
    ("msgtype parameter", _q("GET DestinationChannels/$count").replace(
        "application/http", "application/http; msgtype=request"), "batch_1", [200]),
    ("shorter Content-Length wins", _cs('POST IntegrationObjects HTTP/1.1\r\nContent-Type: application/json\r\n'
                                        'Content-Length: {n}\r\n\r\n{{"code": "{io}"}}trailing garbage'),
     "batch_1", [[201]]),
    ("delimiter text inside a body", _cs('POST IntegrationObjects HTTP/1.1\r\nContent-Type: application/json\r\n\r\n'
                                         '{{"code": "{io}", "description": "\\r\\n--changesetresponse_1\\r\\n"}}'),
     "batch_1", [[201]]),
    ("UTF-8 bodies", _cs('POST IntegrationObjects HTTP/1.1\r\nContent-Type: application/json\r\n\r\n'
                         '{{"code": "{io}", "description": "über ✓"}}'), "batch_1", [[201]]),
    ("a POST without a body", _cs("POST IntegrationObjects HTTP/1.1\r\nContent-Type: application/json\r\n"),
     "batch_1", [400]),
    ("$batch inside $batch", _cs("POST $batch HTTP/1.1\r\n"), "batch_1", [400]),
    ("unknown method in a change set", _cs("BREW IntegrationObjects HTTP/1.1\r\n"), "batch_1", [405]),
    ("service document and $metadata", _q("GET /").replace("--batch_1--\r\n", "") + _q("GET $metadata"),
     "batch_1", [200, 200]),
    ("an unknown entity set", _q("GET Nope"), "batch_1", [404]),
]


@pytest.mark.parametrize("name,body,boundary,expect", VARIANTS, ids=[v[0] for v in VARIANTS])
def test_batch_variants(server, admin, pg, name, body, boundary, expect):
    io = uid("iovar")
    body = body.format(io=io, n=len(json.dumps({"code": io})))
    parts = parse(post_batch(server, admin, body, ctype=f"multipart/mixed; boundary={boundary}"))
    got = [[p.status for p in x] if isinstance(x, list) else x.status for x in parts]
    assert got == expect, parts
    if expect == [[201]]:
        d = parts[0][0].d
        assert d["code"] == io
        if "UTF-8" in name:
            assert d["description"] == "über ✓"
        if "delimiter" in name:
            assert d["description"] == "\r\n--changesetresponse_1\r\n"


def test_transfer_encoding_in_a_batched_request_is_malformed(server, admin):
    r = post_batch(server, admin, _cs("POST IntegrationObjects HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{}"))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_payload"


def test_the_service_root_inside_a_query_is_not_taken_for_the_path(server, admin):
    io = uid("ioroot")
    text = "/odata2webservices/WebhookService/x"
    parts = batch(server, admin, [
        Changeset(Req("POST", "IntegrationObjects", {"code": io, "description": text})),
        GET(f"IntegrationObjects?$filter=description%20eq%20'{text}'%20and%20code%20eq%20'{io}'"),
        GET(f"{BASE}/IntegrationObjects?$filter=code%20eq%20'{io}'%20and%20description%20eq%20'{text}'"),
        GET(f"odata2webservices/WebhookService/IntegrationObjects('{io}')"),
    ])
    assert [p.status for p in parts[0]] == [201]
    assert [r["code"] for r in parts[1].d["results"]] == [io]
    assert [r["code"] for r in parts[2].d["results"]] == [io]
    assert parts[3].d["code"] == io
