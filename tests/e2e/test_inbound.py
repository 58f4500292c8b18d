"""Inbound webhooks end to end: InboundSources through OData, POST
/inbound/{code} with every verification mode (good and bad), what is stored
(and that a refused request stores nothing), de-duplication by sender id,
the monitoring log, and seed 000's flow: an API-key-guarded sender whose
event the dispatcher forwards to a destination with Basic credentials.

One server per module, with the dispatcher on (its events must reach the
sink); the session's database is shared with other modules, so what is
left pending is discarded before and after.
"""
import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import SANITIZED, Cli, Raw, basic, migrate, wait_for
from odata_helpers import (MONITORING_BASE, OData, assert_error, entity_path, make_webhook,
                           uid)
from sink import Sink, sign
from test_dispatch import cleanup

WAIT = 45 if SANITIZED else 15
MAX_BODY = 8192
SOURCES = "InboundSources"
CONFIG = {
    "WEBHOOKD_DISPATCHER": "true",
    "WEBHOOKD_SSRF_ALLOW": "127.0.0.1",
    "WEBHOOKD_DISPATCH_POLL_MS": "100",
    "WEBHOOKD_MAX_BODY_SIZE": str(MAX_BODY),
}


@pytest.fixture(scope="module")
def server(module_servers, pg):
    cleanup(pg)
    yield module_servers(CONFIG)
    cleanup(pg)


@pytest.fixture(scope="module")
def monitor(server, users):
    return OData(server, users["admin"].headers, base=MONITORING_BASE)


# ------------------------------------------------------------------ RSA --

class Rsa:
    """An RSA-2048 key pair for RS256: the `cryptography` package when it is
    there, else the openssl command line."""

    def __init__(self):
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
        except ImportError:
            self._key = None
            self._dir = Path(tempfile.mkdtemp(prefix="whd-rsa-"))
            priv = self._dir / "key.pem"
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            "rsa_keygen_bits:2048", "-out", str(priv)], check=True,
                           capture_output=True)
            self.pem = subprocess.run(["openssl", "pkey", "-in", str(priv), "-pubout"],
                                      check=True, capture_output=True, text=True).stdout
            return
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, data):
        if self._key is not None:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self._dir / "key.pem")],
                              input=data, check=True, capture_output=True).stdout

    def close(self):
        if self._key is None:
            shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rsa_keys():
    keys = Rsa(), Rsa()
    yield keys
    for k in keys:
        k.close()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(key, body, header=None, sub=None, **claims):
    """An RS256 JWT over body (sub = hex SHA-256 unless given); key None:
    unsigned."""
    h = b64url(json.dumps(header or {"alg": "RS256", "typ": "JWT"}).encode())
    payload = {"sub": sub if sub is not None else hashlib.sha256(body).hexdigest(),
               "iat": int(time.time())}
    payload.update(claims)
    p = b64url(json.dumps(payload).encode())
    signing_input = f"{h}.{p}".encode()
    sig = b64url(key.sign(signing_input)) if key is not None else ""
    return f"{h}.{p}.{sig}"


def jwt_hs256(secret, body):
    """The classic confusion: an HS256 token keyed with the public PEM."""
    h = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = b64url(json.dumps({"sub": hashlib.sha256(body).hexdigest()}).encode())
    mac = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(mac)}"


# -------------------------------------------------------------- helpers --

class Inbound:
    """Sources of one module, requests, and what the database holds."""

    def __init__(self, server, admin, pg, users):
        self.server, self.admin, self.pg, self.users = server, admin, pg, users
        self.io = uid("inb-io")
        r = admin.post("IntegrationObjects", {"code": self.io})
        assert r.status_code in (200, 201), r.text

    def source(self, verification, secret, code=None, io=None, **extra):
        code = code or uid("src")
        body = {"code": code, "action": extra.pop("action", "created"),
                "verification": verification, "secret": secret,
                "integrationObject": {"code": io or self.io}}
        body.update(extra)
        d = self.admin.create(SOURCES, body)
        assert "secret" not in d, d
        return code

    def post(self, code, body, headers=None, params=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.server.request("POST", f"/inbound/{code}", data=body, headers=h,
                                   params=params)

    def processed(self):
        """Waits until the dispatcher has made every accepted request an event."""
        wait_for(lambda: self.pg.psql("SELECT count(*) FROM webhookd.inbound_request"
                                      " WHERE NOT processed") == "0",
                 WAIT, interval=0.02, what="inbound requests to become events")

    def counts(self):
        self.processed()
        return self.pg.psql("SELECT (SELECT count(*) FROM webhookd.inbound_request) || ','"
                            " || (SELECT count(*) FROM webhookd.event)")

    def metric(self, name):
        r = self.server.get("/metrics", headers=self.users["admin"].headers)
        assert r.status_code == 200
        for line in r.text.splitlines():
            if line.startswith(f"webhookd_{name}_total "):
                return int(line.split()[1])
        raise AssertionError(f"no metric {name}")

    def request_row(self, request_id):
        self.processed()
        out = self.pg.psql(
            "SELECT row_to_json(x) FROM (SELECT r.source, r.verified, r.sender_id, r.duplicate,"
            " r.status, r.integration_message_id, r.path, e.id AS event_id,"
            " e.integration_object, e.action, e.subject_key, e.payload::text AS payload, e.source"
            " AS event_source FROM webhookd.inbound_request r"
            " LEFT JOIN webhookd.event e ON e.pk = r.event_pk"
            f" WHERE r.id = '{request_id}') x")
        return json.loads(out)


@pytest.fixture(scope="module")
def ib(server, admin, pg, users):
    return Inbound(server, admin, pg, users)


def accepted(r):
    assert r.status_code == 200, f"{r.status_code} {r.text[:500]}"
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"id", "eventId", "duplicate"}, body
    return body


# --------------------------------------------------- verification modes --

BODY = b'{"id": "evt-1", "data": {"id": 42, "name": "caf\xc3\xa9"},  "n": 1.50}'

# mode -> (secret factory, extra source attributes)
def _modes(rsa_keys):
    good_key = rsa_keys[0]
    return {
        "API_KEY": ("key-" + uid("k"), {}),
        "API_KEY_CUSTOM_HEADER": ("key-" + uid("k"), {"headerName": "X-Token"}),
        "BASIC": ("cpi-user:" + uid("pw"), {}),
        "HMAC_SHA256": ("hmac-" + uid("k"), {}),
        "HMAC_SHA1": ("gigya-" + uid("k"), {"encoding": "base64"}),
        "STANDARD_WEBHOOKS": ("whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode(), {}),
        "JWT_RS256": (good_key.pem, {}),
    }


def mac(alg, secret, body, enc):
    d = hmac.new(secret.encode(), body, alg).digest()
    return d.hex() if enc == "hex" else base64.b64encode(d).decode()


def sw_headers(secret, body, ts=None, msg_id=None, sig_secret=None):
    ts = int(time.time()) if ts is None else ts
    msg_id = msg_id or uid("msg")
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(sig_secret or secret, msg_id, ts, body)}


# (mode, case) -> (expected status, request builder(secret, body, keys) -> (headers, params))
CASES = {
    ("API_KEY", "header"): (200, lambda s, b, k: ({"X-API-Key": s}, None)),
    ("API_KEY", "query"): (200, lambda s, b, k: ({}, {"apikey": s})),
    ("API_KEY", "wrong key"): (401, lambda s, b, k: ({"X-API-Key": s + "x"}, None)),
    ("API_KEY", "prefix of key"): (401, lambda s, b, k: ({"X-API-Key": s[:-1]}, None)),
    ("API_KEY", "wrong query"): (401, lambda s, b, k: ({}, {"apikey": "nope"})),
    ("API_KEY", "missing"): (401, lambda s, b, k: ({}, None)),
    ("API_KEY_CUSTOM_HEADER", "header"): (200, lambda s, b, k: ({"X-Token": s}, None)),
    ("API_KEY_CUSTOM_HEADER", "default header"): (401, lambda s, b, k: ({"X-API-Key": s}, None)),
    ("BASIC", "good"): (200, lambda s, b, k: (basic(*s.split(":", 1)), None)),
    ("BASIC", "wrong password"): (401, lambda s, b, k: (basic(s.split(":")[0], "nope"), None)),
    ("BASIC", "missing"): (401, lambda s, b, k: ({}, None)),
    ("HMAC_SHA256", "hex"): (200, lambda s, b, k: (
        {"X-Signature-SHA256": mac(hashlib.sha256, s, b, "hex")}, None)),
    ("HMAC_SHA256", "upper hex, github prefix"): (200, lambda s, b, k: (
        {"X-Signature-SHA256": "sha256=" + mac(hashlib.sha256, s, b, "hex").upper()}, None)),
    ("HMAC_SHA256", "wrong key"): (401, lambda s, b, k: (
        {"X-Signature-SHA256": mac(hashlib.sha256, s + "x", b, "hex")}, None)),
    ("HMAC_SHA256", "bad signature"): (401, lambda s, b, k: (
        {"X-Signature-SHA256": mac(hashlib.sha256, s, b + b" ", "hex")}, None)),
    ("HMAC_SHA256", "truncated"): (401, lambda s, b, k: (
        {"X-Signature-SHA256": mac(hashlib.sha256, s, b, "hex")[:-2]}, None)),
    ("HMAC_SHA256", "wrong prefix"): (401, lambda s, b, k: (
        {"X-Signature-SHA256": "sha1=" + mac(hashlib.sha256, s, b, "hex")}, None)),
    ("HMAC_SHA256", "base64 instead of hex"): (401, lambda s, b, k: (
        {"X-Signature-SHA256": mac(hashlib.sha256, s, b, "base64")}, None)),
    ("HMAC_SHA256", "missing"): (401, lambda s, b, k: ({}, None)),
    ("HMAC_SHA1", "gigya base64"): (200, lambda s, b, k: (
        {"X-Gigya-HMAC-SHA1": mac(hashlib.sha1, s, b, "base64")}, None)),
    ("HMAC_SHA1", "hex instead of base64"): (401, lambda s, b, k: (
        {"X-Gigya-HMAC-SHA1": mac(hashlib.sha1, s, b, "hex")}, None)),
    ("HMAC_SHA1", "sha256 mac"): (401, lambda s, b, k: (
        {"X-Gigya-HMAC-SHA1": mac(hashlib.sha256, s, b, "base64")}, None)),
    ("HMAC_SHA1", "wrong key"): (401, lambda s, b, k: (
        {"X-Gigya-HMAC-SHA1": mac(hashlib.sha1, s[:-1], b, "base64")}, None)),
    ("HMAC_SHA1", "missing"): (401, lambda s, b, k: ({}, None)),
    ("STANDARD_WEBHOOKS", "good"): (200, lambda s, b, k: (sw_headers(s, b), None)),
    ("STANDARD_WEBHOOKS", "stale"): (401, lambda s, b, k: (
        sw_headers(s, b, ts=int(time.time()) - 600), None)),
    ("STANDARD_WEBHOOKS", "future"): (401, lambda s, b, k: (
        sw_headers(s, b, ts=int(time.time()) + 600), None)),
    ("STANDARD_WEBHOOKS", "wrong secret"): (401, lambda s, b, k: (
        sw_headers(s, b, sig_secret="whsec_" + base64.b64encode(b"x" * 24).decode()), None)),
    ("STANDARD_WEBHOOKS", "bad signature"): (401, lambda s, b, k: (
        dict(sw_headers(s, b), **{"webhook-signature": "v1," + "A" * 43 + "="}), None)),
    ("STANDARD_WEBHOOKS", "missing timestamp"): (401, lambda s, b, k: (
        {h: v for h, v in sw_headers(s, b).items() if h != "webhook-timestamp"}, None)),
    ("STANDARD_WEBHOOKS", "missing"): (401, lambda s, b, k: ({}, None)),
    ("JWT_RS256", "good"): (200, lambda s, b, k: ({"x-gigya-sig-jwt": jwt(k[0], b)}, None)),
    ("JWT_RS256", "bearer, base64url sub"): (200, lambda s, b, k: (
        {"x-gigya-sig-jwt": "Bearer " + jwt(k[0], b, sub=b64url(hashlib.sha256(b).digest()))},
        None)),
    ("JWT_RS256", "wrong sub"): (401, lambda s, b, k: (
        {"x-gigya-sig-jwt": jwt(k[0], b, sub=hashlib.sha256(b + b" ").hexdigest())}, None)),
    ("JWT_RS256", "wrong key"): (401, lambda s, b, k: ({"x-gigya-sig-jwt": jwt(k[1], b)}, None)),
    ("JWT_RS256", "alg none"): (401, lambda s, b, k: (
        {"x-gigya-sig-jwt": jwt(None, b, header={"alg": "none"})}, None)),
    ("JWT_RS256", "HS256 keyed with the public key"): (401, lambda s, b, k: (
        {"x-gigya-sig-jwt": jwt_hs256(s, b)}, None)),
    ("JWT_RS256", "expired"): (401, lambda s, b, k: (
        {"x-gigya-sig-jwt": jwt(k[0], b, exp=int(time.time()) - 3600)}, None)),
    ("JWT_RS256", "malformed"): (401, lambda s, b, k: ({"x-gigya-sig-jwt": "a.b"}, None)),
    ("JWT_RS256", "missing"): (401, lambda s, b, k: ({}, None)),
}


@pytest.fixture(scope="module")
def mode_sources(ib, rsa_keys):
    """One source per mode (created on first use): mode -> (code, secret)."""
    made = {}
    modes = _modes(rsa_keys)

    def get(mode):
        if mode not in made:
            secret, extra = modes[mode]
            verification = "API_KEY" if mode.startswith("API_KEY") else mode
            made[mode] = (ib.source(verification, secret, **extra), secret)
        return made[mode]
    return get


@pytest.mark.parametrize("mode,case", list(CASES), ids=[f"{m}-{c}" for m, c in CASES])
def test_verification(ib, mode_sources, rsa_keys, monitor, mode, case):
    status, build = CASES[(mode, case)]
    code, secret = mode_sources(mode)
    headers, params = build(secret, BODY, rsa_keys)
    before, rejected = ib.counts(), ib.metric("inbound_rejected")
    r = ib.post(code, BODY, headers, params)
    if status == 401:
        assert_error(r, 401, "unauthorized", "The request could not be verified.")
        assert ib.counts() == before, "a refused request stored something"
        assert ib.metric("inbound_rejected") == rejected + 1
        return
    got = accepted(r)
    row = ib.request_row(got["id"])
    assert row["verified"] is True and row["status"] == 200 and row["source"] == code
    assert row["path"] == f"/inbound/{code}"
    assert row["event_id"] == got["eventId"] and row["event_source"] == code
    assert row["integration_object"] == ib.io and row["action"] == "created"
    assert row["payload"].encode() == BODY               # the raw text, as sent
    assert ib.metric("inbound_rejected") == rejected
    d = monitor.d(f"InboundRequests('{got['id']}')", {"expand": "event"})
    assert (d["source"], d["verified"], d["status"]) == (code, True, 200)
    assert d["event"]["id"] == got["eventId"] and d["event"]["payload"].encode() == BODY


# ------------------------------------------------------- de-duplication --

def test_replayed_sender_id_is_stored_once(ib):
    key = uid("k")
    code = ib.source("API_KEY", key, idPath="id")
    sender = uid("evt")
    body = {"id": sender, "v": 1}
    acc, dups = ib.metric("inbound_accepted"), ib.metric("inbound_duplicates")
    first = accepted(ib.post(code, body, {"X-API-Key": key, "integrationMessageId": "m-1"}))
    second = accepted(ib.post(code, body, {"X-API-Key": key, "integrationMessageId": "m-2"}))
    assert first["duplicate"] is False and second["duplicate"] is True
    assert first["eventId"] == second["eventId"] and first["id"] != second["id"]
    ib.processed()
    assert ib.pg.psql(f"SELECT count(*) FROM webhookd.event WHERE id = '{first['eventId']}'") == "1"
    rows = ib.pg.psql("SELECT string_agg(duplicate::text || '/' || integration_message_id || '/'"
                      " || (event_pk IS NOT NULL)::text, ',' ORDER BY pk)"
                      f" FROM webhookd.inbound_request WHERE source = '{code}'"
                      f" AND sender_id = '{sender}'")
    assert rows == "false/m-1/true,true/m-2/true"
    assert ib.metric("inbound_accepted") == acc + 1
    assert ib.metric("inbound_duplicates") == dups + 1
    # the same sender id at another source is another event
    other = ib.source("API_KEY", key, idPath="id")
    third = accepted(ib.post(other, body, {"X-API-Key": key}))
    assert third["duplicate"] is False and third["eventId"] != first["eventId"]


@pytest.mark.parametrize("id_path,body,sender", [
    ("data.id", {"data": {"id": "d-7"}}, "d-7"),
    ("data.id", {"data": {"id": 12345678901}}, "12345678901"),
    ("events.0.id", {"events": [{"id": "g-1", "type": "accountCreated"}], "nonce": "n"}, "g-1"),
])
def test_id_path(ib, id_path, body, sender):
    key = uid("k")
    code = ib.source("API_KEY", key, idPath=id_path)
    first = accepted(ib.post(code, body, {"X-API-Key": key}))
    second = accepted(ib.post(code, body, {"X-API-Key": key}))
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    row = ib.request_row(first["id"])
    assert row["sender_id"] == sender and row["subject_key"] == sender


def test_no_sender_id_means_no_dedupe(ib):
    key = uid("k")
    code = ib.source("API_KEY", key, idPath="id")
    a = accepted(ib.post(code, {"other": 1}, {"X-API-Key": key}))
    b = accepted(ib.post(code, {"other": 1}, {"X-API-Key": key}))
    assert not a["duplicate"] and not b["duplicate"] and a["eventId"] != b["eventId"]
    assert ib.request_row(a["id"])["sender_id"] is None


def test_standard_webhooks_dedupes_by_webhook_id(ib):
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    code = ib.source("STANDARD_WEBHOOKS", secret)
    msg_id = uid("msg")
    r1 = accepted(ib.post(code, BODY, sw_headers(secret, BODY, msg_id=msg_id)))
    r2 = accepted(ib.post(code, BODY, sw_headers(secret, BODY, msg_id=msg_id)))
    assert (r1["duplicate"], r2["duplicate"]) == (False, True)
    assert ib.request_row(r1["id"])["sender_id"] == msg_id


def test_unusable_sender_id_is_400(ib):
    key = uid("k")
    code = ib.source("API_KEY", key, idPath="id")
    before = ib.counts()
    for bad in ({"id": {"x": 1}}, {"id": ""}, {"id": "a\nb"}, {"id": "x" * 256}, {"id": 1.5}):
        r = ib.post(code, bad, {"X-API-Key": key})
        assert_error(r, 400, "malformed_payload")
    assert ib.counts() == before


# -------------------------------------------------------- refused bodies --

@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b'"text"', b'{"a": 1, "a": 2}',
                                  b'{"a": "\xff"}'])
def test_body_not_a_json_object_is_400_and_stores_nothing(ib, body):
    key = uid("k")
    code = ib.source("API_KEY", key)
    before = ib.counts()
    r = ib.post(code, body, {"X-API-Key": key})
    assert_error(r, 400, "malformed_payload")
    assert ib.counts() == before


def test_verification_comes_before_the_body_check(ib):
    key = uid("k")
    code = ib.source("API_KEY", key)
    r = ib.post(code, b"not json", {"X-API-Key": "wrong"})
    assert_error(r, 401, "unauthorized")


def test_oversized_body_is_413_and_stores_nothing(ib, server):
    key = uid("k")
    code = ib.source("API_KEY", key)
    before = ib.counts()
    big = b'{"pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    with Raw(server.port) as c:
        got = c.request(f"POST /inbound/{code} HTTP/1.1\r\nHost: t\r\nX-API-Key: {key}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n"
                        .encode())
        assert got.status == 413
    with Raw(server.port) as c:
        head = (f"POST /inbound/{code} HTTP/1.1\r\nHost: t\r\nX-API-Key: {key}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        chunked = b"".join(f"{len(big[i:i + 1000]):x}\r\n".encode() + big[i:i + 1000] + b"\r\n"
                           for i in range(0, len(big), 1000)) + b"0\r\n\r\n"
        c.send(head)
        try:
            c.send(chunked)
        except OSError:
            pass
        assert c.read_response().status == 413
    assert ib.counts() == before
    # a body just under the limit goes through
    ok = b'{"pad": "' + b"x" * (MAX_BODY - 20) + b'"}'
    accepted(ib.post(code, ok, {"X-API-Key": key}))


# ------------------------------------------------------------- sources --

def test_unknown_and_inactive_sources_are_404(ib, admin):
    key = uid("k")
    before = ib.counts()
    r = ib.post(uid("nosuch"), {"a": 1}, {"X-API-Key": key})
    assert_error(r, 404, "not_found")
    code = ib.source("API_KEY", key, active=False)
    r = ib.post(code, {"a": 1}, {"X-API-Key": key})
    assert_error(r, 404, "not_found")
    for path in ("/inbound/", "/inbound/a/b", "/inbound/%ZZ"):
        r = ib.server.request("POST", path, data=b"{}", headers={"X-API-Key": key})
        assert_error(r, 404, "not_found")
    assert ib.counts() == before
    # re-activated, it answers
    r = admin.patch(entity_path(SOURCES, code), {"active": True})
    assert r.status_code == 200, r.text
    accepted(ib.post(code, {"a": 1}, {"X-API-Key": key}))


def test_percent_encoded_code(ib):
    key = uid("k")
    code = ib.source("API_KEY", key, code=uid("a b/é"))
    quoted = code.replace("%", "%25").replace(" ", "%20").replace("/", "%2F").replace(
        "é", "%C3%A9")
    got = accepted(ib.post(quoted, {"a": 1}, {"X-API-Key": key}))
    assert ib.request_row(got["id"])["source"] == code


def test_only_post(ib, server):
    r = server.request("GET", "/inbound/x")
    assert r.status_code == 405


def test_secret_is_never_returned(ib, admin, viewer):
    secret = "never-" + uid("shown")
    code = ib.source("API_KEY", secret, headerName="X-Key", idPath="data.id")
    for client in (admin, viewer):
        d = client.d(entity_path(SOURCES, code))
        assert "secret" not in d and secret not in json.dumps(d)
        assert d["verification"] == "API_KEY" and d["headerName"] == "X-Key"
        assert d["idPath"] == "data.id" and d["active"] is True and d["encoding"] == "hex"
        assert d["integrationKey"] == code
        rows = client.results(SOURCES, {"filter": f"code eq '{code}'", "expand": "integrationObject"})
        assert len(rows) == 1 and "secret" not in rows[0] and secret not in json.dumps(rows)
        assert rows[0]["integrationObject"]["code"] == ib.io
        for opt in ({"select": "secret"}, {"filter": "secret eq 'x'"}, {"orderby": "secret"}):
            assert_error(client.get(SOURCES, opt), 404, "not_found",
                         "Could not find property with name: 'secret'.")
    stored = ib.pg.psql(f"SELECT secret FROM webhookd.inbound_source WHERE code = '{code}'")
    assert stored.startswith("v1:") and secret not in stored
    # a PATCH without the secret keeps it
    r = admin.patch(entity_path(SOURCES, code), {"action": "updated"})
    assert r.status_code == 200 and "secret" not in r.json()["d"], r.text
    accepted(ib.post(code, {"data": {"id": "p1"}}, {"X-Key": secret}))


@pytest.mark.parametrize("attr,value,inner", [
    ("action", "removed", "action"),
    ("verification", "HMAC_MD5", "verification"),
    ("verification", None, "verification"),
    ("encoding", "base32", "encoding"),
    ("secret", None, "secret"),
    ("headerName", "X Bad", "headerName"),
    ("idPath", "data..id", "idPath"),
    ("idPath", ".id", "idPath"),
])
def test_validation(ib, admin, attr, value, inner):
    body = {"code": uid("bad"), "action": "created", "verification": "API_KEY", "secret": "s",
            "integrationObject": {"code": ib.io}}
    if value is None:
        body.pop(attr)
    else:
        body[attr] = value
    r = admin.post(SOURCES, body)
    assert_error(r, 400, "invalid_attribute_value", inner=inner)
    assert admin.get(entity_path(SOURCES, body["code"])).status_code == 404


def test_integration_object_must_exist(admin):
    r = admin.post(SOURCES, {"code": uid("src"), "action": "created", "verification": "API_KEY",
                             "secret": "s", "integrationObject": {"code": uid("nosuch-io")}})
    assert_error(r, 404, "not_found")


def test_upsert_without_secret_updates_an_existing_source(ib, admin):
    key = uid("k")
    code = ib.source("API_KEY", key)
    r = admin.post(SOURCES, {"code": code, "action": "deleted"})
    assert r.status_code == 201, r.text
    got = accepted(ib.post(code, {"a": 1}, {"X-API-Key": key}))
    assert ib.request_row(got["id"])["action"] == "deleted"


# ----------------------------------------------------------- monitoring --

def test_accepted_requests_are_in_the_monitoring_log(ib, monitor):
    key = uid("k")
    code = ib.source("API_KEY", key, idPath="id")
    sender = uid("m")
    body = json.dumps({"id": sender, "x": [1, 2]}).encode()
    got = accepted(ib.post(code, body, {"X-API-Key": key, "integrationMessageId": "msg-42"}))
    ib.processed()
    r = monitor.get(f"InboundRequests('{got['id']}')", {"expand": "event"})
    assert r.status_code == 200, r.text
    d = r.json()["d"]
    assert (d["source"], d["verified"], d["senderId"], d["duplicate"], d["status"],
            d["integrationMessageId"], d["path"]) == \
        (code, True, sender, False, 200, "msg-42", f"/inbound/{code}")
    assert d["event"]["id"] == got["eventId"]
    assert d["event"]["integrationObject"] == ib.io and d["event"]["source"] == code
    assert d["event"]["integrationKey"] == sender
    assert json.loads(d["event"]["payload"]) == json.loads(body)
    rows = monitor.results("InboundRequests", {"filter": f"source eq '{code}'"})
    assert [x["id"] for x in rows] == [got["id"]]


# ---------------------------------------------------------- seed 000 flow --

@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.close()


def test_api_key_sender_forwarded_with_basic_credentials(ib, admin, sink):
    """Seed 000: a sender that only knows an API key; webhookd verifies it
    and the dispatcher forwards the event to a receiver that requires Basic
    authentication (the CPI iFlow)."""
    tag = uid("cpi")
    path = f"/{tag}"
    io = f"io-{tag}"
    make_webhook(admin, tag, url=sink.url(path), io_code=io, dest_extra={
        "credentialBasic": {"id": f"cb-{tag}", "username": "cpi-user", "password": "cpi:pw é"}})
    key = uid("apikey")
    code = ib.source("API_KEY", key, io=io)
    body = b'{"type": "unsubscribe",   "data": {"email": "a@example.com", "n": 1.10}}'
    got = accepted(ib.post(code, body, {"X-API-Key": key}))
    [req] = sink.wait(1, path, timeout=WAIT)
    assert req["body"] == body
    assert req["headers"]["authorization"] == \
        "Basic " + base64.b64encode("cpi-user:cpi:pw é".encode()).decode()
    assert req["headers"]["ce-type"] == f"sap.cx.commerce.{io}.Created.v1"
    wait_for(lambda: ib.pg.psql(
        "SELECT d.status FROM webhookd.delivery d JOIN webhookd.event e ON e.pk = d.event_pk"
        f" WHERE e.id = '{got['eventId']}'") == "DELIVERED", WAIT, what="delivery DELIVERED")
    # a request without the key is refused and forwards nothing
    r = ib.post(code, body, {"X-API-Key": "wrong"})
    assert_error(r, 401, "unauthorized")
    time.sleep(0.5)
    assert len(sink.received(path)) == 1


# ------------------------------------------------- asynchronous processing --

def test_a_request_is_committed_alone_and_becomes_an_event_later(pg, start_server, workdir):
    """The request commits its row and answers; the event is made by a
    dispatcher, even one that starts afterwards (own database: no other
    dispatcher may take the row meanwhile)."""
    db = "inbound_" + uid("a").replace("-", "_")
    conninfo = pg.create_database(db)
    migrate(conninfo)
    cli = Cli(conninfo, workdir)
    admin = basic("async-admin", cli.add_user("async-admin", "admin", password="pw-async"))
    sink = Sink()
    try:
        api = start_server({"WEBHOOKD_DISPATCHER": "false"}, conninfo=conninfo)
        od = OData(api, admin)
        tag = uid("async")
        wh = make_webhook(od, tag, url=sink.url(f"/{tag}"), io_code=f"io-{tag}")
        assert od.post(SOURCES, {"code": tag, "integrationObject": {"code": wh.io_code},
                                 "action": "created", "verification": "API_KEY",
                                 "secret": "k-" + tag, "idPath": "id"}).status_code == 201
        h = {"X-API-Key": "k-" + tag, "Content-Type": "application/json"}
        first = accepted(api.request("POST", f"/inbound/{tag}", data=b'{"id": "s-1", "n": 1}', headers=h))
        again = accepted(api.request("POST", f"/inbound/{tag}", data=b'{"id": "s-1", "n": 1}', headers=h))
        assert (first["duplicate"], again["duplicate"]) == (False, True)
        q = lambda sql: pg.psql(sql, dbname=db)  # noqa: E731
        assert q("SELECT count(*) FROM webhookd.event") == "0"
        assert q("SELECT string_agg(processed::text || '/' || (body IS NOT NULL)::text, ','"
                 " ORDER BY pk) FROM webhookd.inbound_request") == "false/true,false/false"
        start_server.stop_all()

        srv = start_server({"WEBHOOKD_DISPATCHER": "true", "WEBHOOKD_SSRF_ALLOW": "127.0.0.1",
                            "WEBHOOKD_DISPATCH_POLL_MS": "100"}, conninfo=conninfo)
        got = sink.wait(1, f"/{tag}", timeout=WAIT)
        assert json.loads(got[0]["body"]) == {"id": "s-1", "n": 1}
        wait_for(lambda: q("SELECT count(*) FROM webhookd.inbound_request WHERE processed"
                           " AND event_pk IS NOT NULL AND body IS NULL") == "2", WAIT,
                 what="both requests processed")
        assert q("SELECT count(*) || '/' || min(id) FROM webhookd.event") == f"1/{first['eventId']}"
        assert srv.request("POST", f"/inbound/{tag}", data=b'{"id": "s-1"}',
                           headers=h).json()["duplicate"] is True
        time.sleep(0.5)
        assert len(sink.received(f"/{tag}")) == 1
    finally:
        start_server.stop_all()
        sink.close()
        pg.psql(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', dbname="postgres")
