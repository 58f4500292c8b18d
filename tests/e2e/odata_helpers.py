"""Shared helpers for the OData end-to-end tests (read, write, errors, ...).

Stable API (other test modules import it; only add, never change):

    BASE                      "/odata2webservices/WebhookService"
    MONITORING_BASE           "/odata2webservices/WebhookMonitoring"
    NS                        "HybrisCommerceOData"
    ITEM_SAVED, ITEM_CREATED, ITEM_UPDATED, ITEM_DELETED   event type names
    uid(prefix="t")           a unique string "<prefix>-<12 hex>"
    key_part(s)               one integrationKey part: Java URLEncoder(s, UTF-8)
    integration_key(*parts)   the integrationKey of key attribute values
    uri_key(key)              a key as written inside a URI predicate
                              (% -> %25, | -> %7C)
    entity_path(set, key)     "/odata2webservices/WebhookService/<set>('<uri key>')"
                              (' doubled as ''); set may be "Set" or a full path
    query(**opts)             "?$filter=...&$top=..." from keyword options
                              (filter, orderby, top, skip, skiptoken, expand,
                              select, inlinecount, format; or any "$x"/"x" via
                              dict); values percent-encoded (space -> %20)

  Payload builders (plain dicts, nothing sent):
    integration_object(code, **extra)
    destination_target(id, channel="WEBHOOKSERVICES", events=(ITEM_SAVED,), **extra)
        events: event classes (str) or full EventConfiguration dicts
    consumed_destination(id, target, url="https://hooks.example/x", **extra)
        target: a destination_target dict or an id (then {"id": target})
    webhook_configuration(destination, io_code, event_type=ITEM_SAVED, **extra)
        destination: a consumed_destination dict

  Client:
    OData(server, headers, base=BASE)
                              wraps the conftest `server` fixture; headers are
                              the user's (e.g. users["admin"].headers); base:
                              the service root relative paths are under
                              (MONITORING_BASE for WebhookMonitoring)
      .get(path, params=None, headers=None)     path relative to base
            ("WebhookConfigurations", "WebhookConfigurations('k')/destination")
            or absolute ("/odata2..."/"http://..." e.g. a __next link);
            params: a dict (-> query(), None values dropped) or a raw query
            string ("$top=1&$top=2"), appended to any query in path
      .head(path, ...) .delete(path, ...)
      .post(path, body, headers=None)  .put(...)  .patch(...)  .merge(...)
            body: dict (sent as JSON) or bytes/str (sent as is)
      .request(method, path, body=None, headers=None, params=None)
      .d(path, params=None)         GET, assert 200, return the "d" value
      .results(path, params=None)   GET, assert 200, return d["results"]
      .count(path, params=None)     GET <path>/$count, assert 200, return int
      .create(set, body)            POST, assert 201, return the "d" value
      .all_pages(path, params=None) follow __next; return every result row
    error_of(response)        (code, message value, innererror or None);
                              asserts the body is an OData error
    assert_error(response, status, code, message=None, inner=...)
                              checks status, JSON content type, the error code,
                              and optionally the exact message / innererror

  Scenario (one call builds a whole webhook graph):
    make_webhook(client, tag=None, **kw) -> Webhook with .io_code, .target,
        .dest, .config (the posted payload parts), .key (config
        integrationKey), .dest_key, .target_key and .d (the 201 response "d")
        kw: event_type, url, dest_extra (dict merged into the destination),
            target_extra, config_extra, events, channel, io_code, dest_id,
            target_id (defaults derived from tag)
"""
import json
import secrets
import urllib.parse
from dataclasses import dataclass, field

import requests

BASE = "/odata2webservices/WebhookService"
MONITORING_BASE = "/odata2webservices/WebhookMonitoring"
NS = "HybrisCommerceOData"
EVENT_PKG = "de.hybris.platform.webhookservices.event."
ITEM_SAVED = EVENT_PKG + "ItemSavedEvent"
ITEM_CREATED = EVENT_PKG + "ItemCreatedEvent"
ITEM_UPDATED = EVENT_PKG + "ItemUpdatedEvent"
ITEM_DELETED = EVENT_PKG + "ItemDeletedEvent"


def uid(prefix="t"):
    return f"{prefix}-{secrets.token_hex(6)}"


def key_part(s):
    """Java's URLEncoder.encode(s, "UTF-8"); None is "null"."""
    if s is None:
        return "null"
    return urllib.parse.quote_plus(str(s), safe="*-._")


def integration_key(*parts):
    return "|".join(key_part(p) for p in parts)


def uri_key(key):
    return key.replace("%", "%25").replace("|", "%7C")


def entity_path(set_, key):
    if not set_.startswith("/"):
        set_ = f"{BASE}/{set_}"
    return f"{set_}('{uri_key(key).replace(chr(39), chr(39) * 2)}')"


def _qv(v):
    return urllib.parse.quote(str(v), safe="*-._~'()/,:$@!")


def query(opts=None, **kw):
    """A query string ("" when empty) from OData options."""
    items = []
    for src in (opts or {}), kw:
        for k, v in src.items():
            if v is None:
                continue
            name = k if k.startswith("$") or not _is_system(k) else "$" + k
            items.append(f"{name}={_qv(v)}")
    return ("?" + "&".join(items)) if items else ""


_SYSTEM = {"filter", "orderby", "top", "skip", "skiptoken", "expand", "select",
           "inlinecount", "format"}


def _is_system(k):
    return k in _SYSTEM


# ---------------------------------------------------------------- payloads --

def integration_object(code, **extra):
    return {"code": code, **extra}


def destination_target(id_, channel="WEBHOOKSERVICES", events=(ITEM_SAVED,), **extra):
    evs = [e if isinstance(e, dict) else {"eventClass": e} for e in events]
    body = {"id": id_, "destinationChannel": {"code": channel}}
    if evs:
        body["eventConfigurations"] = evs
    body.update(extra)
    return body


def consumed_destination(id_, target, url="https://hooks.example/x", **extra):
    if not isinstance(target, dict):
        target = {"id": target}
    body = {"id": id_, "url": url, "destinationTarget": target}
    body.update(extra)
    return body


def webhook_configuration(destination, io_code, event_type=ITEM_SAVED, **extra):
    body = {"eventType": event_type, "destination": destination,
            "integrationObject": {"code": io_code}}
    body.update(extra)
    return body


# ------------------------------------------------------------------ client --

class OData:
    def __init__(self, server, headers=None, base=BASE):
        self.server = server
        self.headers = dict(headers or {})
        self.base = base

    def _url(self, path, params=None):
        if path.startswith("http://") or path.startswith("https://"):
            url = path
        else:
            if not path.startswith("/"):
                path = f"{self.base}/{path}"
            url = path
        if params:
            q = query(params) if isinstance(params, dict) else params
            if not q.startswith("?"):
                q = "?" + q
            url += ("&" + q[1:]) if "?" in url else q
        return url

    def request(self, method, path, body=None, headers=None, params=None):
        h = dict(self.headers)
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                h.setdefault("Content-Type", "application/json")
            else:
                data = body.encode() if isinstance(body, str) else body
        h.setdefault("Accept", "application/json")
        h.update(headers or {})
        url = self._url(path, params)
        if url.startswith("/"):
            return self.server.request(method, url, data=data, headers=h,
                                       allow_redirects=False)
        kw = {"timeout": 10}
        if getattr(self.server, "tls", False):
            kw["verify"] = self.server.cert
        return requests.request(method, url, data=data, headers=h, allow_redirects=False, **kw)

    def get(self, path, params=None, headers=None):
        return self.request("GET", path, headers=headers, params=params)

    def head(self, path, params=None, headers=None):
        return self.request("HEAD", path, headers=headers, params=params)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, headers=headers)

    def post(self, path, body, headers=None):
        return self.request("POST", path, body, headers=headers)

    def put(self, path, body, headers=None):
        return self.request("PUT", path, body, headers=headers)

    def patch(self, path, body, headers=None):
        return self.request("PATCH", path, body, headers=headers)

    def merge(self, path, body, headers=None):
        return self.request("MERGE", path, body, headers=headers)

    def d(self, path, params=None, headers=None):
        r = self.get(path, params, headers)
        assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:600]}"
        return r.json()["d"]

    def results(self, path, params=None, headers=None):
        d = self.d(path, params, headers)
        assert isinstance(d, dict) and "results" in d, d
        return d["results"]

    def count(self, path, params=None, headers=None):
        r = self.get(path.rstrip("/") + "/$count", params, headers)
        assert r.status_code == 200, f"GET {path}/$count: {r.status_code} {r.text[:600]}"
        assert r.headers["Content-Type"].startswith("text/plain"), r.headers
        return int(r.text)

    def create(self, path, body, headers=None):
        r = self.post(path, body, headers)
        assert r.status_code == 201, f"POST {path}: {r.status_code} {r.text[:800]}"
        return r.json()["d"]

    def all_pages(self, path, params=None, headers=None, limit=10000):
        rows, url = [], None
        d = self.d(path, params, headers)
        while True:
            rows.extend(d["results"])
            url = d.get("__next")
            if not url:
                return rows
            assert len(rows) < limit, "too many pages"
            d = self.d(url, headers=headers)


def error_of(r):
    assert r.headers.get("Content-Type", "").startswith("application/json"), \
        (r.status_code, r.headers, r.text[:300])
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["message"]["lang"] == "en", err
    return err["code"], err["message"]["value"], err.get("innererror")


_ANY = object()


def assert_error(r, status, code, message=None, inner=_ANY):
    assert r.status_code == status, f"expected {status} {code}, got {r.status_code}: {r.text[:600]}"
    c, m, i = error_of(r)
    assert c == code, (c, m, i)
    if message is not None:
        assert m == message, (c, m, i)
    if inner is not _ANY:
        assert i == inner, (c, m, i)
    return c, m, i


# ---------------------------------------------------------------- scenario --

@dataclass
class Webhook:
    io_code: str
    target: dict
    dest: dict
    config: dict
    key: str
    dest_key: str
    target_key: str
    d: dict = field(default=None)


def make_webhook(client, tag=None, event_type=ITEM_SAVED, url="https://hooks.example/x",
                 dest_extra=None, target_extra=None, config_extra=None, events=None,
                 channel="WEBHOOKSERVICES", io_code=None, dest_id=None, target_id=None):
    """POSTs an IntegrationObject and a WebhookConfiguration (with its
    destination, target and event configurations); returns a Webhook."""
    tag = tag or uid("wh")
    io_code = io_code or f"io-{tag}"
    dest_id = dest_id or f"dest-{tag}"
    target_id = target_id or f"tgt-{tag}"
    r = client.post("IntegrationObjects", integration_object(io_code))
    assert r.status_code in (200, 201), r.text
    target = destination_target(target_id, channel=channel,
                                events=events if events is not None else (event_type,),
                                **(target_extra or {}))
    dest = consumed_destination(dest_id, target, url=url, **(dest_extra or {}))
    config = webhook_configuration(dest, io_code, event_type=event_type, **(config_extra or {}))
    d = client.create("WebhookConfigurations", config)
    return Webhook(io_code=io_code, target=target, dest=dest, config=config,
                   key=integration_key(dest_id, target_id, io_code, event_type),
                   dest_key=integration_key(dest_id, target_id),
                   target_key=integration_key(target_id), d=d)
