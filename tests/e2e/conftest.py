"""Shared fixtures for webhookd's end-to-end tests.

One PostgreSQL cluster per session (scripts/pg.sh, socket only), migrated
once; users are created once per session with a cheap KDF count. Servers are
started per module or per test through the `start_server` factory, which
stops (and checks) every server it started, even when the test failed.

The binary comes from WHD_BIN; WHD_SANITIZED=1 means it was built with
ASan/UBSan, and then every server and CLI run is also checked for sanitizer
reports on stderr.
"""
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("WHD_BIN") or str(ROOT / "build" / "webhookd")
# The latest schema version: the number of migrations under sql/.
MIGRATIONS = sorted((ROOT / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql"))
SCHEMA_VERSION = len(MIGRATIONS)
SANITIZED = os.environ.get("WHD_SANITIZED") == "1"
PG_SH = str(ROOT / "scripts" / "pg.sh")
PSQL = "/usr/lib/postgresql/15/bin/psql"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# PBKDF2 rounds for test users: the minimum, so verification is instant.
FAST_KDF = "1000"
# ~1 s per verification on the reference machine: a request that stays in
# flight long enough to signal the server meanwhile. Sanitized builds run
# the KDF several times slower, so there the count is calibrated instead.
SLOW_KDF = "4000000"
SLOW_KDF_SECONDS = 1.0


# ---------------------------------------------------------------- helpers --

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra):
    """os.environ without any WEBHOOKD_* variable, plus extra.

    The server treats every WEBHOOKD_* variable as a configuration key and
    refuses unknown ones, so nothing may leak in from the caller's shell.
    ASAN_OPTIONS/UBSAN_OPTIONS are kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOKD_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def assert_no_sanitizer_report(text, what):
    if not SANITIZED:
        return
    for marker in SANITIZER_MARKERS:
        assert marker not in text, f"{what}: sanitizer report:\n{text[-6000:]}"


def odata_error(code, message, inner=None):
    """The exact bytes of a webhookd OData error body."""
    err = {"code": code, "message": {"lang": "en", "value": message}}
    if inner is not None:
        err["innererror"] = inner
    return json.dumps({"error": err}, separators=(",", ":")).encode()


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a truthy value; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - reported on timeout
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def run_cli(args, env, stdin=None, timeout=60, cwd=None):
    """Runs `webhookd ARGS`; returns the CompletedProcess (text mode).
    Runs outside the checkout so that relative defaults (var/...) never
    reach `make run`'s files."""
    proc = subprocess.run([BIN, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or tempfile.gettempdir())
    assert_no_sanitizer_report(proc.stderr, f"webhookd {' '.join(args)}")
    return proc


# --------------------------------------------------------------- postgres --

class Postgres:
    """A throwaway cluster driven by scripts/pg.sh (socket only)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="whd-e2e-pg-")
        os.chmod(self.dir, 0o755)       # the "postgres" user must traverse it
        self.port = free_port()
        self.conninfo = None

    def start(self):
        p = subprocess.run(["bash", PG_SH, "start", self.dir, str(self.port)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"pg.sh start failed:\n{p.stderr}"
        self.conninfo = p.stdout.strip().splitlines()[-1]
        return self.conninfo

    def stop(self):
        subprocess.run(["bash", PG_SH, "stop", self.dir], capture_output=True,
                       text=True, timeout=120)

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, dbname="webhookd"):
        return self.conninfo.replace("dbname=webhookd", f"dbname={dbname}")

    def psql(self, sql, dbname="webhookd"):
        p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA",
                            self.url(dbname), "-c", sql],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, f"psql {sql!r} failed:\n{p.stderr}"
        return p.stdout.strip()

    def create_database(self, name):
        self.psql(f'CREATE DATABASE "{name}"', dbname="postgres")
        return self.url(name)


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="whd-e2e-")
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def master_key(workdir):
    path = workdir / "master.key"
    path.write_text("k1 " + base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return str(path)


@pytest.fixture(scope="session")
def tls_cert(workdir):
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return str(cert), str(key)


def migrate(conninfo):
    p = run_cli(["migrate"], clean_env(WEBHOOKD_DATABASE_URL=conninfo))
    assert p.returncode == 0, p.stderr
    return p


def migrated_cluster():
    """A new PostgreSQL with database "webhookd" migrated; destroyed after use."""
    cluster = Postgres()
    try:
        cluster.start()
        migrate(cluster.conninfo)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg():
    """The session's PostgreSQL."""
    yield from migrated_cluster()


class Cli:
    """`webhookd` subcommands against one database."""

    def __init__(self, conninfo, workdir):
        self.conninfo = conninfo
        self.cwd = str(workdir)

    def env(self, **extra):
        cfg = {"WEBHOOKD_DATABASE_URL": self.conninfo, "WEBHOOKD_KDF_ITERATIONS": FAST_KDF}
        cfg.update(extra)
        return clean_env(**cfg)

    def run(self, *args, stdin=None, **env):
        return run_cli(list(args), self.env(**env), stdin=stdin, cwd=self.cwd)

    def add_user(self, name, role, password=None, iterations=FAST_KDF):
        """Creates a user; returns its password (generated unless given)."""
        args = ["user", "add", name, "--role", role]
        if password is not None:
            args.append("--password-stdin")
        p = self.run(*args, stdin=None if password is None else password + "\n",
                     WEBHOOKD_KDF_ITERATIONS=iterations)
        assert p.returncode == 0, p.stderr
        if password is None:
            password = p.stdout.strip()
            assert password and "\n" not in password
        return password

    def del_user(self, name):
        p = self.run("user", "del", name)
        assert p.returncode == 0, p.stderr


@pytest.fixture(scope="session")
def cli(pg, workdir):
    return Cli(pg.conninfo, workdir)


class User:
    def __init__(self, name, password, role):
        self.name, self.password, self.role = name, password, role

    @property
    def auth(self):
        return (self.name, self.password)

    @property
    def headers(self):
        return basic(self.name, self.password)


@pytest.fixture(scope="session")
def users(cli):
    """One long-lived user per role; tests that delete users make their own."""
    out = {}
    for role in ("admin", "viewer", "publisher", "subscriber"):
        pw = "pw-" + secrets.token_hex(8)
        cli.add_user(f"e2e-{role}", role, password=pw)
        out[role] = User(f"e2e-{role}", pw, role)
    return out


@pytest.fixture(scope="session")
def slow_kdf(cli):
    """PBKDF2 rounds for about SLOW_KDF_SECONDS per verification."""
    if not SANITIZED:
        return SLOW_KDF
    def timed(name, rounds):
        t = time.monotonic()
        cli.add_user(name, "viewer", password="x", iterations=str(rounds))
        return time.monotonic() - t
    base = timed("calibrate-base", 1000)
    probe = timed("calibrate-probe", 200000)
    per_round = max(probe - base, 0.005) / 199000
    return str(min(max(int(SLOW_KDF_SECONDS / per_round), 500000), 20000000))


@pytest.fixture(scope="session")
def slow_user(cli, slow_kdf):
    """A viewer whose every verification takes about a second."""
    cli.add_user("slow-kdf", "viewer", password="slow-pw", iterations=slow_kdf)
    return User("slow-kdf", "slow-pw", "viewer")


_user_seq = [0]


@pytest.fixture
def fresh_user(cli):
    """Factory: a new user with a unique name (never used before)."""
    def make(role="viewer", iterations=FAST_KDF):
        _user_seq[0] += 1
        name = f"u{os.getpid()}-{_user_seq[0]}-{secrets.token_hex(3)}"
        pw = "p-" + secrets.token_hex(8)
        cli.add_user(name, role, password=pw, iterations=iterations)
        return User(name, pw, role)
    return make


# ----------------------------------------------------------------- server --

class Server:
    """One `webhookd serve` process with its stdout/stderr in files."""

    def __init__(self, conninfo, master_key, rundir, overrides=None, tls_cert=None):
        self.port = free_port()
        self.rundir = Path(tempfile.mkdtemp(prefix="srv-", dir=rundir))
        self.tls = False
        cfg = {
            "WEBHOOKD_LISTEN_ADDRESS": "127.0.0.1",
            "WEBHOOKD_PORT": self.port,
            "WEBHOOKD_WORKERS": 2,
            "WEBHOOKD_TLS": "false",
            "WEBHOOKD_DATABASE_URL": conninfo,
            "WEBHOOKD_MASTER_KEY_FILE": master_key,
            "WEBHOOKD_DB_RECONNECT_MAX_MS": 500,
            "WEBHOOKD_AUTH_CACHE_TTL_S": 30,
            # The start-up dummy hash (timing equaliser for unknown users)
            # is made with this count; keep start-up fast.
            "WEBHOOKD_KDF_ITERATIONS": FAST_KDF,
            # Only the dispatcher tests run one (they turn it on): the
            # others share the database and count connection lines.
            "WEBHOOKD_DISPATCHER": "false",
        }
        if tls_cert is not None:
            cfg["WEBHOOKD_TLS_CERT_FILE"], cfg["WEBHOOKD_TLS_KEY_FILE"] = tls_cert
        cfg.update(overrides or {})
        self.port = int(cfg["WEBHOOKD_PORT"])
        addr = str(cfg["WEBHOOKD_LISTEN_ADDRESS"])
        self.host = f"[{addr}]" if ":" in addr else addr
        self.workers = int(cfg["WEBHOOKD_WORKERS"]) or os.cpu_count()
        self.tls = str(cfg["WEBHOOKD_TLS"]).lower() in ("true", "1", "yes", "on")
        self.cert = tls_cert[0] if tls_cert else None
        self.env = clean_env(**cfg)
        self.out_path = self.rundir / "stdout.log"
        self.err_path = self.rundir / "stderr.log"
        self.proc = None
        self.returncode = None

    @property
    def base(self):
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def url(self, path):
        return self.base + path

    def get(self, path, **kw):
        kw.setdefault("timeout", 10)
        if self.tls:
            kw.setdefault("verify", self.cert)
        return requests.get(self.url(path), **kw)

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 10)
        if self.tls:
            kw.setdefault("verify", self.cert)
        return requests.request(method, self.url(path), **kw)

    def stderr(self):
        try:
            return self.err_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access_log(self):
        """The JSON access lines written so far."""
        lines = []
        for line in self.out_path.read_text(errors="replace").splitlines():
            if line.strip():
                lines.append(json.loads(line))
        return lines

    def start(self, timeout=10):
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([BIN, "serve"], env=self.env, stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, cwd=str(self.rundir))
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                pytest.fail(f"webhookd serve exited with {rc} during start-up:\n"
                            f"{self.stderr()[-3000:]}")
            try:
                if self.get("/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"webhookd did not answer /healthz within {timeout}s:\n"
                            f"{self.stderr()[-3000:]}")
            time.sleep(0.05)
        # Each worker connects its own database pool after it starts
        # serving; wait for all of them so that no test sees a start-up 503.
        if str(self.env.get("WEBHOOKD_LOG_LEVEL", "info")) in ("debug", "info"):
            self.wait_db(1, timeout=max(deadline - time.monotonic(), 1))
        return self

    def db_connections_established(self):
        """How many times a worker's pool went from no connection to one."""
        return self.stderr().count("database connection established")

    def wait_db(self, rounds, timeout=15):
        """Waits until every worker has (re)connected `rounds` times."""
        wait_for(lambda: self.db_connections_established() >= rounds * self.workers, timeout,
                 what=f"{rounds * self.workers} 'database connection established' lines")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=15):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"webhookd did not exit within {timeout}s:\n{self.stderr()[-3000:]}")
        return self.returncode

    def kill(self):
        if self.running:
            self.proc.kill()
            self.proc.wait()

    def check_exit(self):
        text = self.stderr()
        assert_no_sanitizer_report(text, "webhookd serve")
        assert self.returncode == 0, \
            f"webhookd serve exited with {self.returncode}:\n{text[-3000:]}"

    def stop(self, timeout=15):
        """SIGTERM, wait, and check: exit 0 and no sanitizer report."""
        if self.proc is None:
            return
        if self.running:
            self.signal(signal.SIGTERM)
        self.wait(timeout)
        self.check_exit()


class ServerFactory:
    def __init__(self, pg, master_key, rundir, tls_cert=None):
        self.pg, self.master_key, self.rundir, self.tls_cert = pg, master_key, rundir, tls_cert
        self.servers = []

    def __call__(self, overrides=None, conninfo=None, tls_cert=None, start=True):
        srv = Server(conninfo or self.pg.conninfo, self.master_key, self.rundir,
                     overrides, tls_cert=tls_cert)
        self.servers.append(srv)
        return srv.start() if start else srv

    def stop_all(self):
        """Stops every server; reports the first failure after stopping all."""
        errors = []
        for srv in self.servers:
            try:
                if srv.proc is not None and srv.returncode is None:
                    srv.stop()
            except BaseException as e:  # noqa: BLE001 - keep stopping the others
                srv.kill()
                errors.append(e)
        self.servers.clear()
        if errors:
            raise errors[0]


@pytest.fixture
def start_server(pg, master_key, workdir):
    """Factory for servers that live for one test."""
    f = ServerFactory(pg, master_key, workdir)
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def module_servers(pg, master_key, workdir):
    """Factory for servers that live for one module."""
    f = ServerFactory(pg, master_key, workdir)
    yield f
    f.stop_all()


@pytest.fixture(scope="module")
def server(module_servers):
    """A server with the test defaults, shared by a module's tests."""
    return module_servers()


# ------------------------------------------------------------- raw socket --

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version, self.status, self.reason = version, status, reason
        self.header_list = headers                 # [(name, value)] as sent
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:200]!r}>"


class Raw:
    """A plain TCP client for exact bytes on the wire."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        """Reads more bytes; returns False at EOF."""
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_response(self, head=False):
        """One response; head=True for a reply to HEAD (no body)."""
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                raise EOFError(f"connection closed before a full response head: {self.buf!r}")
        raw_head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        length = 0
        for name, value in headers:
            if name.lower() == "content-length":
                length = int(value)
        status = int(status)
        if head or status < 200 or status in (204, 304):
            length = 0
        while len(self.buf) < length:
            if not self.fill():
                raise EOFError("connection closed inside a response body")
        body, self.buf = self.buf[:length], self.buf[length:]
        return Response(version, status, reason, headers, body)

    def request(self, data, head=False):
        self.send(data)
        return self.read_response(head=head)

    def closed_by_peer(self, timeout=5.0):
        """True when the peer closes (EOF or reset) within timeout without
        sending anything more; bytes received meanwhile are an error."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False
        assert data == b"", f"expected the connection to close, got {data!r}"
        return True


def get(path="/healthz", host="t", extra=b"", version=b"HTTP/1.1", method=b"GET"):
    """Request bytes for a simple request."""
    return (method + b" " + path.encode() + b" " + version + b"\r\nHost: " + host.encode()
            + b"\r\n" + extra + b"\r\n")


@pytest.fixture
def raw(server):
    """Opens raw connections to the module's server; closes them after."""
    conns = []

    def connect(port=None, timeout=5.0):
        c = Raw(port or server.port, timeout)
        conns.append(c)
        return c
    yield connect
    for c in conns:
        c.close()


# ---- OData clients, one per role (module-scoped: one server per module) ----

@pytest.fixture(scope="module")
def admin(server, users):
    from odata_helpers import OData
    return OData(server, users["admin"].headers)


@pytest.fixture(scope="module")
def viewer(server, users):
    from odata_helpers import OData
    return OData(server, users["viewer"].headers)


@pytest.fixture(scope="module")
def publisher(server, users):
    from odata_helpers import OData
    return OData(server, users["publisher"].headers)
