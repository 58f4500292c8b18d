"""Size limits, request and idle timeouts, and the connection limit."""
import base64
import select
import socket
import time

import pytest
import requests

from conftest import Raw, get, odata_error, wait_for

MAX_BODY = 4096
MAX_HEADER = 1024
REQUEST_TIMEOUT_MS = 500
IDLE_TIMEOUT_MS = 400

TOO_LARGE = odata_error("payload_too_large", "request body is larger than the configured limit")
HEAD_TOO_LARGE = odata_error("header_too_large",
                             "request header fields are larger than the configured limit")
TIMEOUT = odata_error("request_timeout", "the request was not received in time")


@pytest.fixture(scope="module")
def server(module_servers):
    return module_servers({
        "WEBHOOKD_MAX_BODY_SIZE": "4k",
        "WEBHOOKD_MAX_HEADER_SIZE": "1k",
        "WEBHOOKD_REQUEST_TIMEOUT_MS": REQUEST_TIMEOUT_MS,
        "WEBHOOKD_IDLE_TIMEOUT_MS": IDLE_TIMEOUT_MS,
    })


def post(path="/healthz", extra=b""):
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n"


def chunked(body, size=1000):
    out = b""
    for i in range(0, len(body), size):
        piece = body[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def assert_refused(c, got, status, body):
    assert got.status == status, got
    assert got.body == body
    assert got.header("Connection") == "close"
    assert c.closed_by_peer(timeout=5)


# ---- body size ----------------------------------------------------------

def test_body_at_the_limit_is_accepted(raw):
    got = raw().request(post(extra=b"Content-Length: %d\r\n" % MAX_BODY) + b"x" * MAX_BODY)
    assert got.status == 405                    # read in full, then routed


def test_content_length_over_the_limit_is_413_before_the_body_is_sent(raw):
    c = raw()
    got = c.request(post(extra=b"Content-Length: %d\r\n" % (MAX_BODY + 1)))
    assert_refused(c, got, 413, TOO_LARGE)


@pytest.mark.parametrize("method", [b"GET", b"POST", b"PUT"])
@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/nope"])
def test_size_is_checked_before_routing(raw, method, path):
    c = raw()
    got = c.request(method + b" " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
                    b"Content-Length: 1000000\r\n\r\n")
    assert_refused(c, got, 413, TOO_LARGE)


def test_chunked_body_at_the_limit_is_accepted(raw):
    got = raw().request(post(extra=b"Transfer-Encoding: chunked\r\n") + chunked(b"y" * MAX_BODY))
    assert got.status == 405


def test_chunked_body_over_the_limit_is_413_by_decoded_size(raw):
    c = raw()
    # The encoding overhead alone would pass the limit; the decoded size is
    # what counts, so this 4096-byte body in 1-byte chunks is fine ...
    ok = raw().request(post(extra=b"Transfer-Encoding: chunked\r\n") + chunked(b"z" * MAX_BODY, 1))
    assert ok.status == 405
    # ... and one byte more is not.
    got = c.request(post(extra=b"Transfer-Encoding: chunked\r\n") + chunked(b"z" * (MAX_BODY + 1)))
    assert_refused(c, got, 413, TOO_LARGE)


def test_413_reaches_a_client_still_sending_a_large_body(server):
    r = requests.post(server.url("/healthz"), data=b"q" * 8_000_000, timeout=10)
    assert r.status_code == 413
    assert r.content == TOO_LARGE
    assert r.headers["Connection"] == "close"


def test_413_for_a_streamed_chunked_upload(server):
    def gen():
        for _ in range(20):
            yield b"c" * 1000
    r = requests.post(server.url("/healthz"), data=gen(), timeout=10)
    assert r.status_code == 413
    assert r.content == TOO_LARGE


# ---- header size --------------------------------------------------------

def test_head_at_the_limit_is_accepted(raw):
    base = get("/healthz", extra=b"X-Pad: \r\n")
    data = get("/healthz", extra=b"X-Pad: " + b"p" * (MAX_HEADER - len(base)) + b"\r\n")
    assert len(data) == MAX_HEADER
    got = raw().request(data)
    assert got.status == 200


def test_head_over_the_limit_is_431(raw):
    c = raw()
    got = c.request(get("/healthz", extra=b"X-Pad: " + b"p" * 2000 + b"\r\n"))
    assert_refused(c, got, 431, HEAD_TOO_LARGE)


def test_endless_head_is_cut_off_at_the_limit(raw):
    c = raw()
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    answered = False
    for i in range(64):            # 64 * 64 bytes: far past the limit
        try:
            c.send(b"X-Fill-%04d: " % i + b"v" * 50 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            break
        r, _, _ = select.select([c.sock], [], [], 0.005)
        if r:
            answered = True
            break
    assert answered or (select.select([c.sock], [], [], 2)[0])
    got = c.read_response()
    assert_refused(c, got, 431, HEAD_TOO_LARGE)


# ---- timeouts -----------------------------------------------------------

def trickle_until_answered(c, first, piece, every=0.1, limit=5.0):
    """Sends first, then piece every `every` s until the server answers."""
    start = time.monotonic()
    c.send(first)
    c.sock.settimeout(every)
    while time.monotonic() - start < limit:
        try:
            if c.fill():
                break
        except socket.timeout:
            pass
        c.send(piece)
    c.sock.settimeout(5)
    return c.read_response(), time.monotonic() - start


def test_slowloris_head_gets_408_and_is_disconnected(raw):
    c = raw()
    got, elapsed = trickle_until_answered(c, b"GET /healthz HTTP/1.1\r\nHost: t\r\n", b"X-A: b\r\n")
    assert elapsed >= REQUEST_TIMEOUT_MS / 1000 * 0.9
    assert elapsed < 3
    assert_refused(c, got, 408, TIMEOUT)


def test_slow_body_gets_408(raw):
    c = raw()
    got, elapsed = trickle_until_answered(c, post(extra=b"Content-Length: 4000\r\n"), b"b")
    assert elapsed >= REQUEST_TIMEOUT_MS / 1000 * 0.9
    assert_refused(c, got, 408, TIMEOUT)


def test_partial_head_then_silence_gets_408(raw):
    c = raw()
    c.send(b"GET /heal")
    got = c.read_response()
    assert_refused(c, got, 408, TIMEOUT)


def test_request_timeout_bounds_head_and_body_together(start_server):
    # "The whole request must arrive within request_timeout_ms": a head that
    # takes 80% of the timeout followed by a body that takes another 75% is
    # a request that took 155% of it, and must be answered 408.
    srv = start_server({"WEBHOOKD_REQUEST_TIMEOUT_MS": 1000})
    with Raw(srv.port) as c:
        head = post(extra=b"Content-Length: 5\r\n")
        start = time.monotonic()
        answered = False
        for delay, data in [(0.8, head[:-2]), (0.4, head[-2:]), (0.35, b"ab"), (0, b"cde")]:
            c.send(data)
            if delay and select.select([c.sock], [], [], delay)[0]:
                answered = True
                break
        got = c.read_response()
        elapsed = time.monotonic() - start
        assert got.status == 408, f"answered {got.status} after {elapsed:.2f}s"
        assert answered, "the 408 came only after the request was complete"
        assert got.body == TIMEOUT


def test_request_timeout_counts_from_the_first_byte_not_from_connect(raw):
    c = raw()
    time.sleep(IDLE_TIMEOUT_MS / 1000 * 0.5)  # idle, under the idle timeout
    got = c.request(get("/healthz"))
    assert got.status == 200


def test_idle_keep_alive_connection_is_closed_silently(raw):
    c = raw()
    got = c.request(get("/healthz"))
    assert got.status == 200
    start = time.monotonic()
    assert c.closed_by_peer(timeout=5)            # no 408, no bytes at all
    assert time.monotonic() - start >= IDLE_TIMEOUT_MS / 1000 * 0.9


def test_connection_that_never_sends_is_closed_silently(raw):
    c = raw()
    start = time.monotonic()
    assert c.closed_by_peer(timeout=5)
    assert time.monotonic() - start >= IDLE_TIMEOUT_MS / 1000 * 0.9


def test_request_timeouts_are_counted_in_metrics(raw, server, users):
    c = raw()
    c.send(b"GET /")
    assert c.read_response().status == 408

    def count():
        text = server.get("/metrics", auth=users["admin"].auth).text
        for line in text.splitlines():
            if line.startswith("webhookd_request_timeouts_total "):
                return int(line.split()[1]) >= 1
        return False
    assert wait_for(count, 5, what="webhookd_request_timeouts_total >= 1")


# ---- connection limit ---------------------------------------------------

def served_connection(port):
    """A connection that got a 200: retried for a moment, since the
    start-up probe's connection may still count against the limit."""
    def attempt():
        c = Raw(port)
        try:
            if c.request(get("/healthz")).status == 200:
                return c
        except (EOFError, OSError):
            pass
        c.close()
        return None
    return wait_for(attempt, 5, what="a served connection")


def test_connection_over_max_connections_is_closed_while_the_others_work(start_server, users):
    n = 3
    srv = start_server({"WEBHOOKD_WORKERS": 1, "WEBHOOKD_MAX_CONNECTIONS": n})
    conns = []
    try:
        for _ in range(n):
            conns.append(served_connection(srv.port))
        with Raw(srv.port) as extra:
            assert extra.closed_by_peer(timeout=3), "the connection over the limit stayed open"
        for c in conns:                      # the first n still work
            assert c.request(get("/readyz")).status == 200
        conns.pop(0).close()                 # a slot frees up
        conns.append(served_connection(srv.port))
        for c in conns:
            c.close()
        conns.clear()
        admin = served_connection(srv.port)
        conns.append(admin)
        text = admin.request(get("/metrics", extra=b"Authorization: Basic "
                                 + base64.b64encode(":".join(users["admin"].auth).encode())
                                 + b"\r\n")).body.decode()
        refused = [line for line in text.splitlines()
                   if line.startswith("webhookd_connections_refused_limit_total ")]
        assert int(refused[0].split()[1]) >= 1
    finally:
        for c in conns:
            c.close()


# ---- integrationMessageId on refusals after a complete head ---------------

MID = b"integrationMessageId: mid-%s\r\n"


@pytest.mark.parametrize("case", ["413-content-length", "413-chunked", "400-target", "408-body"])
def test_message_id_is_echoed_and_logged_when_a_parsed_request_is_refused(raw, server, case):
    # The head was received and parsed in full, so its integrationMessageId
    # is known; the refusal must carry it like any other response.
    mid = MID % case.encode()
    c = raw()
    if case == "413-content-length":
        c.send(post(extra=mid + b"Content-Length: 100000\r\n"))
    elif case == "413-chunked":
        c.send(post(extra=mid + b"Transfer-Encoding: chunked\r\n") + chunked(b"x" * (MAX_BODY + 10)))
    elif case == "400-target":
        c.send(b"GET http://t/healthz HTTP/1.1\r\nHost: t\r\n" + mid + b"\r\n")
    else:
        c.send(post(extra=mid + b"Content-Length: 10\r\n") + b"abc")
    got = c.read_response()
    assert got.status == int(case[:3])
    want = f"mid-{case}"
    log = wait_for(lambda: [e for e in server.access_log() if e["status"] == got.status
                            and e["path"] in ("/healthz", "http://t/healthz")], 5)
    assert got.header("integrationMessageId") == want
    assert want in [e["integrationMessageId"] for e in log]
