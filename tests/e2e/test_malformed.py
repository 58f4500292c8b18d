"""Malformed requests on a raw socket: each is answered with the exact OData
error, `Connection: close`, and then the server closes the connection."""
import pytest

from conftest import odata_error

H = b"Host: t\r\n"

# (id, request bytes, status, code, message)
CASES = [
    # request line
    ("no-version", b"GET /healthz\r\n" + H + b"\r\n", 400, "invalid_request", "malformed request line"),
    ("method-only", b"hello\r\n\r\n", 400, "invalid_request", "malformed request line"),
    ("double-space", b"GET  /healthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "invalid request target"),
    ("trailing-space", b"GET /healthz HTTP/1.1 \r\n" + H + b"\r\n", 400, "invalid_request", "malformed HTTP version"),
    ("tab-separator", b"GET\t/healthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "malformed request line"),
    ("ctl-in-target", b"GET /heal\x7fthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "invalid request target"),
    ("ctl-method", b"\x01GET /healthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "invalid method"),
    ("method-too-long", b"A" * 21 + b" /healthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "invalid method"),
    ("lowercase-version", b"GET /healthz http/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "malformed HTTP version"),
    ("garbled-version", b"GET /healthz HTTP/1.x\r\n" + H + b"\r\n", 400, "invalid_request", "malformed HTTP version"),
    ("http-2.0", b"GET /healthz HTTP/2.0\r\n" + H + b"\r\n", 505, "invalid_request", "unsupported HTTP version"),
    ("http-1.2", b"GET /healthz HTTP/1.2\r\n" + H + b"\r\n", 505, "invalid_request", "unsupported HTTP version"),
    ("http-0.9", b"GET /healthz HTTP/0.9\r\n" + H + b"\r\n", 505, "invalid_request", "unsupported HTTP version"),
    ("absolute-form", b"GET http://t/healthz HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "request-target must be a path"),
    ("asterisk-form", b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n", 400, "invalid_request", "request-target must be a path"),
    # header fields
    ("no-host-http11", b"GET /healthz HTTP/1.1\r\n\r\n", 400, "invalid_request", "missing Host header"),
    ("two-hosts", b"GET /healthz HTTP/1.1\r\n" + H + H + b"\r\n", 400, "invalid_request", "more than one Host header"),
    ("obs-fold", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n", 400, "invalid_request", "obsolete line folding"),
    ("nul-in-value", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400, "invalid_request", "invalid character in header value"),
    ("bare-cr-in-value", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400, "invalid_request", "invalid character in header value"),
    ("del-in-value", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n", 400, "invalid_request", "invalid character in header value"),
    ("space-before-colon", b"GET /healthz HTTP/1.1\r\nHost : t\r\n\r\n", 400, "invalid_request", "whitespace before colon in header"),
    ("no-colon", b"GET /healthz HTTP/1.1\r\n" + H + b"X-A\r\n\r\n", 400, "invalid_request", "header line without colon"),
    ("bad-name", b"GET /healthz HTTP/1.1\r\n" + H + b"X(A): b\r\n\r\n", 400, "invalid_request", "invalid header name"),
    ("empty-name", b"GET /healthz HTTP/1.1\r\n" + H + b": b\r\n\r\n", 400, "invalid_request", "invalid header name"),
    ("too-many-fields", b"GET /healthz HTTP/1.1\r\n" + H + b"a:b\r\n" * 100 + b"\r\n", 431, "invalid_request", "too many header fields"),
    # framing
    ("cl-and-te", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "invalid_request", "Transfer-Encoding and Content-Length together"),
    ("te-and-cl", b"POST /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "invalid_request", "Transfer-Encoding and Content-Length together"),
    ("te-gzip", b"POST /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 501, "invalid_request", "unsupported Transfer-Encoding"),
    ("te-gzip-chunked", b"POST /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n", 501, "invalid_request", "unsupported Transfer-Encoding"),
    ("te-twice", b"POST /healthz HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "invalid_request", "unsupported Transfer-Encoding"),
    ("te-http10", b"POST /healthz HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "invalid_request", "Transfer-Encoding in HTTP/1.0"),
    ("cl-letters", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-negative", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-plus", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: +1\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-list", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 1, 1\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-empty", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length:\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-overflow", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n", 400, "invalid_request", "invalid Content-Length"),
    ("cl-conflict", b"POST /healthz HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 01\r\n\r\n", 400, "invalid_request", "conflicting Content-Length"),
    ("expect-other", b"GET /healthz HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\n\r\n", 417, "invalid_request", "unsupported Expect"),
]


@pytest.mark.parametrize("data,status,code,message",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_request_is_refused_with_odata_error_and_close(raw, data, status, code, message):
    c = raw()
    got = c.request(data)
    assert got.status == status, got
    assert got.header("Content-Type") == "application/json"
    assert got.body == odata_error(code, message)
    assert got.header("Connection") == "close"
    assert got.header("DataServiceVersion") == "2.0"
    assert c.closed_by_peer(timeout=5)


def test_malformed_request_after_a_good_one_on_the_same_connection(raw):
    c = raw()
    c.send(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n" + b"GET /healthz HTTP/9.9\r\n" + H + b"\r\n")
    first = c.read_response()
    assert first.status == 200
    second = c.read_response()
    assert second.status == 505
    assert c.closed_by_peer(timeout=5)


def test_server_survives_a_burst_of_malformed_requests(raw, server):
    for data in [c[1] for c in CASES]:
        c = raw()
        c.send(data)
        c.read_response()
    assert server.get("/healthz").status_code == 200


def test_identical_duplicate_content_length_is_accepted(raw):
    got = raw().request(b"POST /healthz HTTP/1.1\r\n" + H +
                        b"Content-Length: 2\r\nContent-Length: 2\r\n\r\nab")
    assert got.status == 405


def test_expect_100_continue_from_http10_is_ignored(raw):
    c = raw()
    c.send(b"POST /healthz HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nab")
    got = c.read_response()
    assert got.status == 405            # no interim 100 first
