"""HTTP Basic authentication against the users table, roles, the credential
cache, and /metrics (the one authenticated route)."""
import base64

import pytest

from conftest import get, odata_error, wait_for

UNAUTHORIZED = odata_error("unauthorized", "user must be authenticated")
FORBIDDEN = odata_error("forbidden", "user is not authorized for the operation")
CHALLENGE = 'Basic realm="webhookd", charset="UTF-8"'


@pytest.fixture(scope="module")
def server(module_servers):
    # No cache: every request runs the user lookup and the KDF.
    return module_servers({"WEBHOOKD_AUTH_CACHE_TTL_S": 0})


def b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def assert_401(r):
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert r.headers["Content-Type"] == "application/json"
    assert r.content == UNAUTHORIZED


def test_metrics_without_credentials_is_401_with_challenge(server):
    assert_401(server.get("/metrics"))


@pytest.mark.parametrize("value", [
    "Basic",
    "Basic ",
    "Basic !!!!",
    "Basic " + b64("no-colon-here"),
    "Basic " + b64(":password-without-user"),
    "Basic " + b64("e2e-admin:x").rstrip("="),        # padding is required
    "Basic " + b64("e2e-admin:x") + " trailing",
    "Basic " + b64(b"e2e-admin:pw\x00x"),              # NUL inside
    "Basic " + b64("u" * 64 + ":pw"),                  # user name too long
    "Bearer abc.def.ghi",
    "Digest username=\"e2e-admin\"",
    "Basicx " + b64("e2e-admin:x"),
    "e2e-admin:x",
    "Basic\t" + b64("e2e-admin:x"),
    "Basic " + b64("e2e-admin:" + "p" * 1025),          # password too long
    "Basic " + b64("e2e-admin:" + "p" * 9000),          # far beyond any buffer
    "Basic " + "A" * 12000,
], ids=["scheme-only", "scheme-space", "bad-base64", "no-colon", "empty-user", "no-padding",
        "trailing-junk", "nul", "long-user", "bearer", "digest", "glued-scheme", "raw",
        "tab-separator", "password-1025", "password-9000", "base64-12000"])
def test_garbled_or_foreign_authorization_is_401(server, value):
    assert_401(server.get("/metrics", headers={"Authorization": value}))


def test_wrong_password_is_401(server, users):
    assert_401(server.get("/metrics", auth=(users["admin"].name, users["admin"].password + "x")))


def test_unknown_user_is_401(server):
    assert_401(server.get("/metrics", auth=("nobody-at-all", "whatever")))


def test_password_is_case_sensitive(server, users):
    assert_401(server.get("/metrics", auth=(users["admin"].name, users["admin"].password.upper())))


def test_user_name_is_case_sensitive(server, users):
    assert_401(server.get("/metrics", auth=(users["admin"].name.upper(), users["admin"].password)))


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_admin_and_viewer_may_read_metrics(server, users, role):
    r = server.get("/metrics", auth=users[role].auth)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4"
    assert "# TYPE webhookd_http_requests_total counter" in r.text
    assert "webhookd_http_request_duration_seconds_bucket{" in r.text


def test_publisher_may_not_read_metrics(server, users):
    r = server.get("/metrics", auth=users["publisher"].auth)
    assert r.status_code == 403
    assert r.headers["Content-Type"] == "application/json"
    assert "WWW-Authenticate" not in r.headers
    assert r.content == FORBIDDEN


def test_scheme_name_is_case_insensitive(server, users):
    u = users["viewer"]
    r = server.get("/metrics", headers={"Authorization": "bAsIc " + b64(f"{u.name}:{u.password}")})
    assert r.status_code == 200


def test_password_may_contain_colons(cli, server):
    cli.add_user("colon-user", "viewer", password="a:b:c")
    assert server.get("/metrics", auth=("colon-user", "a:b:c")).status_code == 200
    assert_401(server.get("/metrics", auth=("colon-user", "a:b")))


def test_head_metrics_with_credentials(raw, users):
    c = raw()
    got = c.request(get("/metrics", method=b"HEAD",
                        extra=f"Authorization: Basic {b64(':'.join(users['admin'].auth))}\r\n".encode()),
                    head=True)
    assert got.status == 200
    assert int(got.header("Content-Length")) > 0
    assert got.header("Content-Type") == "text/plain; version=0.0.4"
    assert c.request(get("/healthz")).status == 200   # no stray body bytes


def test_metrics_counts_requests_by_route_and_status(server, users):
    server.get("/nope")
    server.get("/metrics")
    text = server.get("/metrics", auth=users["admin"].auth).text
    assert 'webhookd_http_requests_total{route="none",status="404"}' in text
    assert 'webhookd_http_requests_total{route="metrics",status="401"}' in text
    assert "webhookd_auth_failures_total " in text


def test_deleted_user_is_refused_at_once_without_cache(cli, server, fresh_user):
    u = fresh_user("viewer")
    assert server.get("/metrics", auth=u.auth).status_code == 200
    cli.del_user(u.name)
    assert_401(server.get("/metrics", auth=u.auth))


def test_changed_password_takes_effect_at_once_without_cache(cli, server, fresh_user):
    u = fresh_user("viewer")
    assert server.get("/metrics", auth=u.auth).status_code == 200
    p = cli.run("user", "passwd", u.name, "--password-stdin", stdin="new-secret\n")
    assert p.returncode == 0, p.stderr
    assert_401(server.get("/metrics", auth=u.auth))
    assert server.get("/metrics", auth=(u.name, "new-secret")).status_code == 200


def refused_soon(srv, auth, timeout=3):
    """The 401 that a changed users table causes, polled for briefly: the
    NOTIFY that empties the cache arrives asynchronously, but in well under
    a second, not after the 30 s TTL."""
    def refused():
        r = srv.get("/metrics", auth=auth)
        return [r] if r.status_code != 200 else None
    return wait_for(refused, timeout, interval=0.05, what="the change to reach the cache")[0]


def test_deleted_user_is_refused_at_once_despite_the_cache(cli, start_server, fresh_user):
    srv = start_server({"WEBHOOKD_AUTH_CACHE_TTL_S": 30})
    u = fresh_user("viewer")
    for _ in range(2):                                  # verified, then cached
        assert srv.get("/metrics", auth=u.auth).status_code == 200
    cli.del_user(u.name)
    assert_401(refused_soon(srv, u.auth))


def test_changed_password_takes_effect_at_once_despite_the_cache(cli, start_server, fresh_user,
                                                                  users):
    srv = start_server({"WEBHOOKD_AUTH_CACHE_TTL_S": 30})
    u = fresh_user("viewer")
    for _ in range(2):
        assert srv.get("/metrics", auth=u.auth).status_code == 200
    p = cli.run("user", "passwd", u.name, "--password-stdin", stdin="rotated\n")
    assert p.returncode == 0, p.stderr
    assert_401(refused_soon(srv, u.auth))
    assert srv.get("/metrics", auth=(u.name, "rotated")).status_code == 200
    # Other users merely lose their cache entry: they still get in.
    assert srv.get("/metrics", auth=users["viewer"].auth).status_code == 200


def kdf_runs(srv, admin):
    text = srv.get("/metrics", auth=admin.auth).text
    return int(next(line.split()[1] for line in text.splitlines()
                    if line.startswith("webhookd_auth_kdf_runs_total ")))


def test_cached_credential_is_verified_again_after_the_ttl(start_server, users):
    ttl = 2     # whole seconds: an entry lives between ttl-1 and ttl seconds
    srv = start_server({"WEBHOOKD_AUTH_CACHE_TTL_S": ttl})
    admin = users["admin"]
    before = kdf_runs(srv, admin)              # verified now, then cached
    # The entry expires after at most ttl seconds (it may go earlier: the
    # cache is also emptied when the LISTEN connection comes up).
    wait_for(lambda: kdf_runs(srv, admin) > before, ttl + 3, interval=0.2,
             what="the credential to be verified again after the TTL")


def test_cache_hits_are_counted(start_server, users):
    srv = start_server()
    for _ in range(3):
        assert srv.get("/metrics", auth=users["viewer"].auth).status_code == 200
    text = srv.get("/metrics", auth=users["viewer"].auth).text
    hits = [line for line in text.splitlines() if line.startswith("webhookd_auth_cache_hits_total ")]
    kdf = [line for line in text.splitlines() if line.startswith("webhookd_auth_kdf_runs_total ")]
    # One verification, or two if the cache was emptied once when the LISTEN
    # connection came up; every other request is a hit.
    assert int(kdf[0].split()[1]) in (1, 2)
    assert int(hits[0].split()[1]) >= 4 - int(kdf[0].split()[1])
