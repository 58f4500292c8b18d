"""A local webhook receiver for the dispatcher tests.

Records every request (path, headers, body, time) and answers according to
a per-path plan: a list of responses consumed in order (the last one
repeats), each (status, headers, body, delay_s). Verifies Standard Webhooks
signatures against the secrets registered for a path. Also serves an OAuth
2.0 token endpoint.
"""
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sign(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secret, headers, body):
    """True when one of the webhook-signature entries is secret's."""
    want = sign(secret, headers.get("webhook-id", ""),
                headers.get("webhook-timestamp", ""), body)
    return any(hmac.compare_digest(want, s)
               for s in headers.get("webhook-signature", "").split())


class Sink:
    def __init__(self):
        self.lock = threading.Condition()
        self.requests = []           # dicts: path, headers, body, t
        self.plans = {}              # path -> [(status, headers, body, delay)]
        self.tokens_issued = 0
        self.token_ttl = 3600
        self.token_requests = []
        self.valid_tokens = set()
        self.inflight = {}           # path -> requests being answered now
        self.max_inflight = {}       # path -> most at once
        self.arrivals = []           # (path, t) at arrival, before any delay
        self.on_request = None       # optional callable(rec), called under the lock
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                if self.path.startswith("/oauth/token"):
                    return sink._token(self, body)
                rec = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "t": time.time()}
                status, hdrs, out, delay = sink._next(self.path)
                with sink.lock:
                    n = sink.inflight.get(self.path, 0) + 1
                    sink.inflight[self.path] = n
                    sink.max_inflight[self.path] = max(n, sink.max_inflight.get(self.path, 0))
                    sink.arrivals.append((self.path, rec["t"]))
                    sink.lock.notify_all()
                try:
                    if delay:
                        time.sleep(delay)
                finally:
                    with sink.lock:
                        sink.inflight[self.path] -= 1
                auth = rec["headers"].get("authorization", "")
                if self.path.startswith("/bearer") and auth.startswith("Bearer "):
                    if auth[7:] not in sink.valid_tokens:
                        status, out = 401, b"bad token"
                with sink.lock:
                    rec["status"] = status
                    sink.requests.append(rec)
                    if sink.on_request is not None:
                        sink.on_request(rec)
                    sink.lock.notify_all()
                try:
                    self.send_response(status)
                    for k, v in hdrs.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256     # many deliveries connect at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def plan(self, path, *responses):
        """responses: (status[, headers[, body[, delay]]]) tuples."""
        full = []
        for r in responses:
            r = tuple(r) + (None,) * (4 - len(r))
            full.append((r[0], r[1] or {}, r[2] or b"", r[3] or 0))
        with self.lock:
            self.plans[path] = full

    def _next(self, path):
        with self.lock:
            p = self.plans.get(path.split("?")[0])
            if not p:
                return 200, {}, b"ok", 0
            return p.pop(0) if len(p) > 1 else p[0]

    def _token(self, handler, body):
        with self.lock:
            self.token_requests.append({"headers": {k.lower(): v for k, v in handler.headers.items()},
                                        "body": body, "path": handler.path, "t": time.time()})
            self.tokens_issued += 1
            tok = f"tok{self.tokens_issued}"
            self.valid_tokens.add(tok)
        out = json.dumps({"access_token": tok, "token_type": "Bearer",
                          "expires_in": self.token_ttl}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(out)))
        handler.end_headers()
        handler.wfile.write(out)

    def revoke_tokens(self):
        with self.lock:
            self.valid_tokens.clear()

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]

    def wait(self, count, path=None, timeout=20.0, status=None):
        """Wait until `count` requests (for path, answered with status)."""
        end = time.time() + timeout
        with self.lock:
            while True:
                got = [r for r in self.requests
                       if (path is None or r["path"] == path)
                       and (status is None or r["status"] == status)]
                if len(got) >= count:
                    return got
                left = end - time.time()
                if left <= 0:
                    raise AssertionError(
                        f"sink: {len(got)} of {count} requests to {path} after {timeout}s")
                self.lock.wait(left)

    def wait_until(self, predicate, timeout=20.0, what="condition"):
        """Waits (on the sink's lock) until predicate(sink) is true."""
        end = time.time() + timeout
        with self.lock:
            while not predicate(self):
                left = end - time.time()
                if left <= 0:
                    raise AssertionError(f"sink: timed out after {timeout}s waiting for {what}")
                self.lock.wait(min(left, 0.2))

    def arrived(self, path):
        """How many requests to path have arrived (answered or not)."""
        with self.lock:
            return sum(1 for p, _ in self.arrivals if p == path)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
