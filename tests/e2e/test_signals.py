"""SIGTERM/SIGINT drain the server gracefully; SIGHUP reopens the access log.

A request is kept in flight by authenticating as the `slow_user`, whose
hash takes about a second to verify."""
import base64
import signal
import socket
import threading
import time

import requests

from conftest import Raw, get, odata_error, wait_for


class InFlight(threading.Thread):
    """GET /metrics as the slow user, on its own connection."""

    def __init__(self, srv, user):
        super().__init__(daemon=True)
        self.srv, self.user = srv, user
        self.response = self.error = None

    def run(self):
        try:
            self.response = requests.get(self.srv.url("/metrics"), auth=self.user.auth, timeout=30)
        except Exception as e:  # noqa: BLE001 - inspected by the test
            self.error = e


def connect_refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            # Accepted by a listener that is about to close: the server
            # must close it at once without answering.
            s.settimeout(1)
            return s.recv(1) == b""
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return True


def test_request_in_flight_at_sigterm_completes(start_server, slow_user):
    srv = start_server()
    req = InFlight(srv, slow_user)
    req.start()
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    # While draining, nobody new gets in ...
    assert wait_for(lambda: connect_refused(srv.port), 2, what="new connections to be refused")
    assert req.is_alive(), "the slow request finished before the test could check draining"
    # ... and the request in flight still gets its answer.
    req.join(30)
    assert req.error is None, req.error
    assert req.response.status_code == 200
    assert req.response.headers["Connection"] == "close"
    assert "webhookd_http_requests_total" in req.response.text
    assert srv.wait(15) == 0
    srv.check_exit()


def test_idle_keep_alive_connection_does_not_delay_shutdown(start_server):
    srv = start_server()
    c = Raw(srv.port)
    try:
        assert c.request(get("/healthz")).status == 200
        start = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert c.closed_by_peer(timeout=3)
        assert srv.wait(15) == 0
        assert time.monotonic() - start < 3
        srv.check_exit()
    finally:
        c.close()


def test_sigint_drains_like_sigterm(start_server):
    srv = start_server()
    assert srv.get("/readyz").status_code == 200
    srv.signal(signal.SIGINT)
    assert srv.wait(15) == 0
    srv.check_exit()
    assert "SIGINT: draining" in srv.stderr()


def test_drain_deadline_drops_a_request_that_takes_too_long(start_server, slow_user):
    srv = start_server({"WEBHOOKD_SHUTDOWN_TIMEOUT_MS": 100})
    req = InFlight(srv, slow_user)
    req.start()
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    assert srv.wait(15) == 0
    srv.check_exit()
    req.join(30)
    assert req.response is None                    # disconnected, never answered
    assert isinstance(req.error, requests.ConnectionError), req.error
    assert "drain deadline passed" in srv.stderr()


def test_second_sigterm_stops_waiting_for_requests(start_server, slow_user):
    srv = start_server({"WEBHOOKD_SHUTDOWN_TIMEOUT_MS": 60000})
    req = InFlight(srv, slow_user)
    req.start()
    time.sleep(0.3)
    srv.signal(signal.SIGTERM)
    time.sleep(0.1)
    srv.signal(signal.SIGTERM)
    assert srv.wait(15) == 0
    srv.check_exit()
    req.join(30)
    assert req.response is None


def test_sighup_reopens_the_access_log(start_server, workdir):
    log = workdir / "access-hup.log"
    srv = start_server({"WEBHOOKD_ACCESS_LOG": str(log)})
    assert srv.get("/healthz", headers={"integrationMessageId": "before-hup"}).status_code == 200
    rotated = workdir / "access-hup.log.1"
    log.rename(rotated)
    srv.signal(signal.SIGHUP)
    wait_for(lambda: "reopening the access log" in srv.stderr(), 5, what="the SIGHUP log line")
    assert srv.get("/healthz", headers={"integrationMessageId": "after-hup"}).status_code == 200
    wait_for(lambda: log.exists() and "after-hup" in log.read_text(), 5, what="the new log file")
    assert "before-hup" in rotated.read_text()
    assert "after-hup" not in rotated.read_text()
    assert srv.running


# ---- slow requests, without signals --------------------------------------

def test_client_leaving_during_verification_does_not_hurt_the_server(start_server, slow_user):
    srv = start_server()
    c = Raw(srv.port)
    c.send(get("/metrics", extra=b"integrationMessageId: gone-client\r\n"
               b"Authorization: Basic " + base64.b64encode(b"slow-kdf:slow-pw") + b"\r\n"))
    time.sleep(0.2)
    c.close()
    # The handler still finishes (and logs) once the KDF is done.
    entries = wait_for(lambda: [e for e in srv.access_log()
                                if e.get("integrationMessageId") == "gone-client"], 10,
                       what="the access line of the abandoned request")
    assert entries[0]["status"] == 200
    assert srv.get("/healthz").status_code == 200


def test_full_kdf_queue_is_503(start_server, slow_user, fresh_user):
    srv = start_server({"WEBHOOKD_KDF_THREADS": 1, "WEBHOOKD_KDF_QUEUE_MAX": 1})
    first = InFlight(srv, slow_user)         # verifying on the only KDF thread
    first.start()
    time.sleep(0.15)
    second = InFlight(srv, slow_user)        # waits in the queue
    second.start()
    time.sleep(0.2)
    other = fresh_user("viewer")             # no room left
    r = srv.get("/metrics", auth=other.auth)
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"
    assert r.content == odata_error("service_unavailable",
                                    "The service is temporarily unavailable; retry later.")
    for t in (first, second):
        t.join(30)
        assert t.error is None, t.error
        assert t.response.status_code == 200
    assert srv.get("/metrics", auth=other.auth).status_code == 200
