"""Routes, response headers, keep-alive, pipelining, chunked bodies, the
access log: the HTTP behaviour of a healthy server with default settings."""
import re
import secrets
import socket

import pytest
import requests

from conftest import get, odata_error, wait_for, SCHEMA_VERSION

OK = b'{"status":"ok"}'
READY = b'{"status":"ready","schema":%d}' % SCHEMA_VERSION
DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")


def test_healthz_answers_ok_without_auth(server):
    r = server.get("/healthz")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == OK


def test_healthz_ignores_the_query_string(server):
    r = server.get("/healthz?probe=1&x=%20")
    assert (r.status_code, r.content) == (200, OK)


def test_readyz_runs_a_query_and_reports_the_schema(server):
    r = server.get("/readyz")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == READY


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_head_gets_the_get_headers_without_a_body(raw, path):
    c = raw()
    got = c.request(get(path, method=b"HEAD"), head=True)
    assert got.status == 200
    assert got.header("Content-Length") == str(len(OK if path == "/healthz" else READY))
    assert got.header("Content-Type") == "application/json"
    # No body bytes follow: the next response starts right away.
    nxt = c.request(get("/healthz"))
    assert (nxt.status, nxt.body) == (200, OK)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/nope", "/metrics"])
def test_every_response_carries_the_standard_headers(raw, path):
    got = raw().request(get(path))
    assert got.header("DataServiceVersion") == "2.0"
    assert DATE_RE.match(got.header("Date")), got.header("Date")
    assert got.header("Content-Length") == str(len(got.body))


@pytest.mark.parametrize("path", ["/", "/nope", "/healthz/", "/HEALTHZ", "/readyz/x", "/metrics.txt"])
def test_unknown_path_is_404_not_found(server, path):
    r = server.get(path)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == odata_error("not_found", f"Resource [{path}] was not found.")


def test_unknown_path_is_404_even_without_credentials_and_for_any_method(server):
    r = server.request("DELETE", "/admin")
    assert r.status_code == 404
    assert r.content == odata_error("not_found", "Resource [/admin] was not found.")


@pytest.mark.parametrize("method,path", [
    ("POST", "/healthz"), ("PUT", "/healthz"), ("DELETE", "/readyz"),
    ("PATCH", "/readyz"), ("OPTIONS", "/healthz"), ("MERGE", "/healthz"),
    ("POST", "/metrics"),  # before authentication: no credentials needed for a 405
])
def test_known_path_with_another_method_is_405_with_allow(server, method, path):
    r = server.request(method, path)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == odata_error(
        "method_not_allowed", f"Method [{method}] is not supported by [{path}].")


def test_unknown_method_token_is_405(raw):
    got = raw().request(get("/healthz", method=b"BREW"))
    assert got.status == 405
    assert got.header("Allow") == "GET, HEAD"
    assert got.body == odata_error("method_not_allowed",
                                   "Method [BREW] is not supported by [/healthz].")


def test_methods_are_case_sensitive(raw):
    got = raw().request(get("/healthz", method=b"get"))
    assert got.status == 405
    assert got.body == odata_error("method_not_allowed",
                                   "Method [get] is not supported by [/healthz].")


def test_keep_alive_serves_several_requests_on_one_connection(raw):
    c = raw()
    for path, body in [("/healthz", OK), ("/readyz", READY), ("/healthz", OK)]:
        got = c.request(get(path))
        assert (got.status, got.body) == (200, body)
        assert got.header("Connection") is None


def test_pipelined_requests_in_one_send_are_answered_in_order(raw):
    c = raw()
    mids = [f"pipe-{i}-{secrets.token_hex(4)}" for i in range(4)]
    paths = ["/healthz", "/readyz", "/nope", "/healthz"]
    c.send(b"".join(get(p, extra=f"integrationMessageId: {m}\r\n".encode())
                    for p, m in zip(paths, mids)))
    for p, m in zip(paths, mids):
        got = c.read_response()
        assert got.header("integrationMessageId") == m
        assert got.status == (404 if p == "/nope" else 200)


def test_connection_close_request_gets_connection_close_and_eof(raw):
    c = raw()
    got = c.request(get("/healthz", extra=b"Connection: close\r\n"))
    assert (got.status, got.body) == (200, OK)
    assert got.header("Connection") == "close"
    assert c.closed_by_peer(timeout=3)


def test_http10_closes_by_default(raw):
    c = raw()
    got = c.request(b"GET /healthz HTTP/1.0\r\n\r\n")
    assert got.version == "HTTP/1.1"
    assert (got.status, got.body) == (200, OK)
    assert got.header("Connection") == "close"
    assert c.closed_by_peer(timeout=3)


def test_http10_keep_alive_is_honoured(raw):
    c = raw()
    for _ in range(2):
        got = c.request(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert (got.status, got.body) == (200, OK)
        assert got.header("Connection") == "keep-alive"


def test_leading_empty_lines_before_the_request_line_are_ignored(raw):
    got = raw().request(b"\r\n\r\n" + get("/healthz"))
    assert (got.status, got.body) == (200, OK)


def test_bare_lf_line_endings_are_accepted(raw):
    got = raw().request(b"GET /healthz HTTP/1.1\nHost: t\n\n")
    assert (got.status, got.body) == (200, OK)


def test_content_length_body_is_read_before_the_next_request(raw):
    c = raw()
    body = b"x" * 1000
    c.send(get("/healthz", method=b"POST",
               extra=b"Content-Length: %d\r\n" % len(body)) + body + get("/healthz"))
    first = c.read_response()
    assert first.status == 405
    second = c.read_response()
    assert (second.status, second.body) == (200, OK)


def test_chunked_request_body_is_accepted_and_keep_alive_continues(raw):
    c = raw()
    c.send(get("/healthz", method=b"POST", extra=b"Transfer-Encoding: chunked\r\n")
           + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer-A: x\r\n\r\n"
           + get("/healthz"))
    first = c.read_response()
    assert first.status == 405           # the body was consumed, then routed
    assert first.header("Connection") is None
    second = c.read_response()
    assert (second.status, second.body) == (200, OK)


def test_chunked_body_split_across_many_sends(raw):
    c = raw()
    c.send(get("/healthz", method=b"POST", extra=b"Transfer-Encoding: chunked\r\n"))
    for piece in [b"3\r", b"\nabc", b"\r\n", b"10\r\n", b"0123456789abcdef", b"\r\n0\r\n", b"\r\n"]:
        c.send(piece)
    got = c.read_response()
    assert got.status == 405


def test_malformed_chunked_body_is_400_and_closes(raw):
    c = raw()
    got = c.request(get("/healthz", method=b"POST", extra=b"Transfer-Encoding: chunked\r\n")
                    + b"zz\r\nhello\r\n0\r\n\r\n")
    assert got.status == 400
    assert got.body == odata_error("invalid_request", "malformed chunked body")
    assert got.header("Connection") == "close"
    assert c.closed_by_peer(timeout=5)


def test_expect_100_continue_gets_an_interim_response(raw):
    c = raw()
    c.send(get("/healthz", method=b"POST",
               extra=b"Content-Length: 4\r\nExpect: 100-continue\r\n"))
    interim = c.read_response()
    assert interim.status == 100
    c.send(b"data")
    final = c.read_response()
    assert final.status == 405


def test_integration_message_id_is_echoed(server):
    mid = "AGm-" + secrets.token_hex(8)
    r = server.get("/healthz", headers={"integrationMessageId": mid})
    assert r.status_code == 200
    assert r.headers["integrationMessageId"] == mid


def test_integration_message_id_is_echoed_on_errors(server):
    mid = "AGm-" + secrets.token_hex(8)
    r = server.get("/nope", headers={"integrationMessageId": mid})
    assert r.status_code == 404
    assert r.headers["integrationMessageId"] == mid


def test_no_integration_message_id_header_when_none_was_sent(server):
    r = server.get("/healthz")
    assert "integrationMessageId" not in r.headers


def test_access_log_has_one_json_line_per_request(server):
    mid = "log-" + secrets.token_hex(8)
    r = server.get("/nope?q=1", headers={"integrationMessageId": mid})
    assert r.status_code == 404

    def line():
        return [e for e in server.access_log() if e.get("integrationMessageId") == mid]
    entries = wait_for(line, 5, what="the access log line")
    assert len(entries) == 1
    e = entries[0]
    assert set(e) == {"ts", "remote", "method", "path", "status", "bytes", "latency_ms",
                      "user", "integrationMessageId"}
    assert e["remote"] == "127.0.0.1"
    assert e["method"] == "GET"
    assert e["path"] == "/nope"
    assert e["status"] == 404
    assert e["bytes"] == len(r.content)
    assert isinstance(e["latency_ms"], (int, float)) and e["latency_ms"] >= 0
    assert e["user"] == ""
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["ts"])


def test_access_log_names_the_authenticated_user(server, users):
    mid = "log-" + secrets.token_hex(8)
    r = server.get("/metrics", auth=users["viewer"].auth, headers={"integrationMessageId": mid})
    assert r.status_code == 200
    entries = wait_for(lambda: [e for e in server.access_log()
                                if e.get("integrationMessageId") == mid], 5)
    assert entries[0]["user"] == users["viewer"].name
    assert entries[0]["path"] == "/metrics"
    assert entries[0]["status"] == 200


def test_access_log_escapes_quotes_backslashes_tabs_and_high_bytes(server, raw):
    mid = 'q"b\\s\tt\xe9' + secrets.token_hex(4)
    got = raw().request(
        get("/healthz", extra=b"integrationMessageId: " + mid.encode("latin-1") + b"\r\n"))
    assert got.status == 200
    assert got.header("integrationMessageId") == mid
    entries = wait_for(lambda: [e for e in server.access_log()
                                if e.get("integrationMessageId") == mid], 5)
    assert len(entries) == 1


def test_requests_library_session_reuses_the_connection(server):
    with requests.Session() as s:
        for _ in range(5):
            r = s.get(server.url("/healthz"), timeout=5)
            assert r.status_code == 200


def test_head_of_an_error_has_its_headers_but_no_body(raw):
    c = raw()
    got = c.request(get("/nope", method=b"HEAD"), head=True)
    assert got.status == 404
    assert got.header("Content-Length") == str(len(odata_error("not_found", "Resource [/nope] was not found.")))
    nxt = c.request(get("/healthz"))
    assert (nxt.status, nxt.body) == (200, OK)


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_client_that_half_closes_after_its_request_still_gets_the_response(raw, path):
    c = raw()
    c.send(get(path))
    c.sock.shutdown(socket.SHUT_WR)
    got = c.read_response()
    assert got.status == 200
    assert c.closed_by_peer(timeout=5)


def test_listens_on_ipv6_loopback(start_server):
    port = free_port6()
    srv = start_server({"WEBHOOKD_LISTEN_ADDRESS": "::1", "WEBHOOKD_PORT": port})
    mid = "v6-" + secrets.token_hex(4)
    r = requests.get(f"http://[::1]:{port}/healthz", headers={"integrationMessageId": mid}, timeout=5)
    assert (r.status_code, r.content) == (200, OK)
    entries = wait_for(lambda: [e for e in srv.access_log() if e.get("integrationMessageId") == mid], 5)
    assert entries[0]["remote"] == "::1"


def free_port6():
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def test_404_message_escapes_quotes_and_backslashes_in_the_path(raw):
    got = raw().request(get('/a"b\\c'))
    assert got.status == 404
    assert got.body == odata_error("not_found", 'Resource [/a"b\\c] was not found.')
    assert got.json()["error"]["message"]["value"] == 'Resource [/a"b\\c] was not found.'


def test_a_hundred_pipelined_requests_in_one_send(raw):
    c = raw()
    c.send(b"".join(get("/readyz" if i % 10 == 0 else "/healthz") for i in range(100)))
    for i in range(100):
        got = c.read_response()
        assert (got.status, got.body) == (200, READY if i % 10 == 0 else OK)
