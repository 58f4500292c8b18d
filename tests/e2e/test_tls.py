"""HTTPS: the certificate from the configuration, TLS 1.2+ only."""
import socket
import ssl
import warnings

import pytest
import requests

from conftest import get, odata_error


@pytest.fixture(scope="module")
def server(module_servers, tls_cert):
    return module_servers({"WEBHOOKD_TLS": "true"}, tls_cert=tls_cert)


def read_to_eof(s, tolerate=()):
    """Everything the peer sends until it closes (or one of `tolerate` is raised)."""
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk
    except tolerate:
        return data


def tls_connect(server, ctx):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        return ctx.wrap_socket(sock, server_hostname="localhost")
    except BaseException:
        sock.close()
        raise


def client_context(cert, lo=None, hi=None):
    ctx = ssl.create_default_context(cafile=cert)
    if lo is not None:
        # SECLEVEL=0 so that the client itself would be willing to speak
        # the old version: any failure is then the server's refusal.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = lo
        ctx.maximum_version = hi
    return ctx


def test_https_healthz_verifies_against_the_configured_certificate(server, tls_cert):
    r = requests.get(f"https://127.0.0.1:{server.port}/healthz", verify=tls_cert[0], timeout=10)
    assert r.status_code == 200
    assert r.content == b'{"status":"ok"}'
    assert r.headers["DataServiceVersion"] == "2.0"


def test_https_by_host_name(server, tls_cert):
    r = requests.get(f"https://localhost:{server.port}/readyz", verify=tls_cert[0], timeout=10)
    assert r.status_code == 200


def test_https_errors_are_odata_too(server, tls_cert):
    r = requests.get(f"https://127.0.0.1:{server.port}/nope", verify=tls_cert[0], timeout=10)
    assert r.status_code == 404
    assert r.content == odata_error("not_found", "Resource [/nope] was not found.")


def test_https_basic_auth(server, tls_cert, users):
    r = requests.get(f"https://127.0.0.1:{server.port}/metrics", verify=tls_cert[0],
                     auth=users["viewer"].auth, timeout=10)
    assert r.status_code == 200


def test_untrusted_certificate_is_rejected_by_a_verifying_client(server):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{server.port}/healthz", timeout=10)


def test_handshake_negotiates_tls_12_or_13(server, tls_cert):
    with tls_connect(server, client_context(tls_cert[0])) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


def test_tls12_client_is_accepted(server, tls_cert):
    ctx = client_context(tls_cert[0], ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2)
    with tls_connect(server, ctx) as s:
        assert s.version() == "TLSv1.2"
        s.sendall(get("/healthz", extra=b"Connection: close\r\n"))
        data = read_to_eof(s)
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize("version", ["TLSv1_1", "TLSv1"])
def test_tls11_and_older_clients_are_refused(server, tls_cert, version):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v = getattr(ssl.TLSVersion, version)
        ctx = client_context(tls_cert[0], v, v)
    with pytest.raises(ssl.SSLError) as e:
        with tls_connect(server, ctx):
            pass
    # The server's protocol_version alert, not a client-side refusal.
    assert "VERSION" in str(e.value).upper(), e.value


def test_plain_http_to_the_tls_port_gets_no_200(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(get("/healthz"))
        data = read_to_eof(s, tolerate=(ConnectionResetError, socket.timeout))
    assert not data.startswith(b"HTTP/1.1 200")
    assert b'{"status":"ok"}' not in data


def test_server_still_healthy_after_bad_handshakes(server):
    assert server.get("/healthz").status_code == 200


def test_keep_alive_over_tls(server, tls_cert):
    with requests.Session() as s:
        for _ in range(3):
            r = s.get(f"https://127.0.0.1:{server.port}/healthz", verify=tls_cert[0], timeout=10)
            assert r.status_code == 200


def test_413_over_tls(start_server, tls_cert):
    srv = start_server({"WEBHOOKD_TLS": "true", "WEBHOOKD_MAX_BODY_SIZE": "1k"}, tls_cert=tls_cert)
    with tls_connect(srv, client_context(tls_cert[0])) as s:
        s.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
        data = read_to_eof(s)
    assert data.startswith(b"HTTP/1.1 413 ")
    assert data.endswith(odata_error("payload_too_large",
                                     "request body is larger than the configured limit"))


def test_413_reaches_a_client_still_sending_a_large_body_over_tls(start_server, tls_cert):
    # Over plain HTTP the server half-closes and drains the refused body
    # for a moment so that the client can read the 413 (test_limits). Over
    # TLS it closes at once, so a client still uploading gets a connection
    # error instead of the answer.
    srv = start_server({"WEBHOOKD_TLS": "true", "WEBHOOKD_MAX_BODY_SIZE": "4k"}, tls_cert=tls_cert)
    r = requests.post(srv.url("/healthz"), data=b"q" * 8_000_000, verify=tls_cert[0], timeout=10)
    assert r.status_code == 413
    assert r.content == odata_error("payload_too_large",
                                    "request body is larger than the configured limit")
