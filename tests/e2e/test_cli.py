"""The command line: `user`, `migrate`, `check-config`, `version`, and the
ways `serve` refuses to start."""
import os
import re
import socket

import pytest

from conftest import MIGRATIONS, ROOT, SCHEMA_VERSION, clean_env, free_port, migrate, run_cli


# ---- webhookd user -------------------------------------------------------

def test_user_add_prints_a_generated_password(cli):
    p = cli.run("user", "add", "cli-gen", "--role", "viewer")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"[A-Za-z0-9]{24}\n", p.stdout), p.stdout
    assert "created user 'cli-gen' with role viewer" in p.stderr


def test_user_add_with_password_stdin_prints_nothing(cli):
    p = cli.run("user", "add", "cli-stdin", "--role", "publisher", "--password-stdin",
                stdin="s3cret\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""


def test_duplicate_user_add_exits_1(cli):
    cli.add_user("cli-dup", "admin", password="a")
    p = cli.run("user", "add", "cli-dup", "--role", "viewer", "--password-stdin", stdin="b\n")
    assert p.returncode == 1
    assert "already exists" in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("args", [
    ["user", "add", "cli-badrole", "--role", "root"],
    ["user", "add", "cli-badrole", "--role", "Admin"],
    ["user", "add", "cli-norole"],
])
def test_user_add_with_a_bad_or_missing_role_exits_2(cli, args):
    p = cli.run(*args)
    assert p.returncode == 2
    assert "--role must be admin, viewer, publisher or subscriber" in p.stderr


@pytest.mark.parametrize("args", [
    ["user"], ["user", "frobnicate", "x"], ["user", "del"], ["user", "list", "extra"],
    ["user", "del", "x", "--role", "admin"], ["user", "passwd", "x", "--bogus"],
])
def test_user_usage_errors_exit_2(cli, args):
    p = cli.run(*args)
    assert p.returncode == 2
    assert "usage: webhookd user" in p.stderr


@pytest.mark.parametrize("name", ["n" * 64, "", "tab\there"])
def test_user_add_with_an_invalid_name_fails(cli, name):
    p = cli.run("user", "add", name, "--role", "viewer", "--password-stdin", stdin="x\n")
    assert p.returncode == 1
    assert "check constraint" in p.stderr


def test_longest_password_is_accepted_and_one_more_is_refused(cli, start_server):
    ok = "p" * 1024
    cli.add_user("cli-longpw", "viewer", password=ok)
    p = cli.run("user", "add", "cli-longpw2", "--role", "viewer", "--password-stdin",
                stdin="p" * 1025 + "\n")
    assert p.returncode == 1
    assert "password longer than 1024 characters" in p.stderr
    srv = start_server()
    assert srv.get("/metrics", auth=("cli-longpw", ok)).status_code == 200
    assert srv.get("/metrics", auth=("cli-longpw", ok + "p")).status_code == 401


def test_user_passwd_with_password_stdin(cli):
    cli.add_user("cli-pw", "viewer", password="old")
    p = cli.run("user", "passwd", "cli-pw", "--password-stdin", stdin="new\n")
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    assert "changed password of user 'cli-pw'" in p.stderr


def test_user_passwd_without_stdin_prints_a_new_password(cli):
    cli.add_user("cli-pw2", "viewer", password="old")
    p = cli.run("user", "passwd", "cli-pw2")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"[A-Za-z0-9]{24}\n", p.stdout)


def test_user_passwd_of_unknown_user_exits_1(cli):
    p = cli.run("user", "passwd", "cli-nobody", "--password-stdin", stdin="x\n")
    assert p.returncode == 1
    assert "does not exist" in p.stderr


@pytest.mark.parametrize("stdin", ["", "\n"])
def test_empty_password_on_stdin_is_refused(cli, stdin):
    p = cli.run("user", "add", "cli-empty", "--role", "viewer", "--password-stdin", stdin=stdin)
    assert p.returncode == 1
    assert "password" in p.stderr
    assert "cli-empty" not in cli.run("user", "list").stdout


def test_user_del_then_del_again(cli):
    cli.add_user("cli-del", "viewer", password="x")
    p = cli.run("user", "del", "cli-del")
    assert p.returncode == 0, p.stderr
    p = cli.run("user", "del", "cli-del")
    assert p.returncode == 1
    assert "does not exist" in p.stderr


def test_user_list_shows_name_role_and_creation_time_sorted(cli):
    cli.add_user("cli-list-b", "publisher", password="x")
    cli.add_user("cli-list-a", "admin", password="x")
    p = cli.run("user", "list")
    assert p.returncode == 0, p.stderr
    rows = [line.split("\t") for line in p.stdout.splitlines()]
    assert all(len(r) == 3 for r in rows), p.stdout
    names = [r[0] for r in rows]
    assert names == sorted(names)
    roles = {r[0]: r[1] for r in rows}
    assert roles["cli-list-a"] == "admin"
    assert roles["cli-list-b"] == "publisher"


def test_user_command_without_database_exits_1(workdir):
    env = clean_env(WEBHOOKD_DATABASE_URL=f"host={workdir}/nosock port=1 dbname=x")
    p = run_cli(["user", "list"], env)
    assert p.returncode == 1
    assert "cannot connect to the database" in p.stderr


# ---- migrate, version, usage ---------------------------------------------

def test_migrate_is_idempotent(pg):
    p = migrate(pg.conninfo)
    assert p.stdout == f"schema is current (version {SCHEMA_VERSION})\n"


def test_migrate_a_fresh_database_applies_every_migration(pg):
    url = pg.create_database("whd_fresh_migrate")
    p = migrate(url)
    assert p.stdout == "".join(f"applied {f.stem}\n" for f in MIGRATIONS)
    assert pg.psql("SELECT max(version) FROM webhookd.schema_migrations",
                   dbname="whd_fresh_migrate") == str(SCHEMA_VERSION)


def test_version_names_the_schema():
    p = run_cli(["version"], clean_env())
    assert p.returncode == 0
    assert re.fullmatch(r"webhookd \S+ \(schema %d\)\n" % SCHEMA_VERSION, p.stdout)


def test_no_command_prints_usage_and_exits_2():
    p = run_cli([], clean_env())
    assert p.returncode == 2
    assert "usage: webhookd" in p.stderr


def test_unknown_command_exits_2():
    p = run_cli(["frobnicate"], clean_env())
    assert p.returncode == 2


# ---- configuration -------------------------------------------------------

def write(path, text):
    path.write_text(text)
    return str(path)


def test_check_config_prints_every_key(tmp_path):
    conf = write(tmp_path / "ok.conf", "# comment\nport = 1234\nmax_body_size = 2m\n")
    p = run_cli(["-c", conf, "check-config"], clean_env())
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "port = 1234" in lines
    assert "max_body_size = 2m" in lines
    assert "tls = true" in lines
    # Exactly the keys that the example configuration documents.
    example = [line.split("=")[0].strip() for line in (ROOT / "webhookd.conf").read_text().splitlines()
               if re.match(r"^[a-z_]+ *=", line)]
    assert [line.split(" = ")[0] for line in lines] == example


def test_environment_overrides_the_file(tmp_path):
    conf = write(tmp_path / "env.conf", "port = 1111\n")
    p = run_cli(["-c", conf, "check-config"], clean_env(WEBHOOKD_PORT="2222"))
    assert p.returncode == 0, p.stderr
    assert "port = 2222" in p.stdout.splitlines()


def test_config_file_from_webhookd_config_variable(tmp_path):
    conf = write(tmp_path / "var.conf", "workers = 3\n")
    p = run_cli(["check-config"], clean_env(WEBHOOKD_CONFIG=conf))
    assert p.returncode == 0, p.stderr
    assert "workers = 3" in p.stdout.splitlines()


def test_unknown_key_in_file_exits_2_naming_file_and_line(tmp_path):
    conf = write(tmp_path / "bad.conf", "# header\nport = 9002\nprot = 9003\n")
    p = run_cli(["-c", conf, "check-config"], clean_env())
    assert p.returncode == 2
    assert f"{conf}:3: unknown key 'prot'" in p.stderr
    assert p.stdout == ""


@pytest.mark.parametrize("var,value", [
    ("WEBHOOKD_PORT", "abc"),
    ("WEBHOOKD_PORT", "0"),
    ("WEBHOOKD_PORT", " 80"),
    ("WEBHOOKD_MAX_BODY_SIZE", "512"),
    ("WEBHOOKD_MAX_HEADER_SIZE", "2g"),
    ("WEBHOOKD_TLS", "maybe"),
    ("WEBHOOKD_LOG_LEVEL", "verbose"),
    ("WEBHOOKD_DATABASE_URL", ""),
    ("WEBHOOKD_REQUEST_TIMEOUT_MS", "99"),
])
def test_bad_value_in_environment_exits_2_naming_the_variable(var, value):
    p = run_cli(["check-config"], clean_env(**{var: value}))
    assert p.returncode == 2
    assert f"environment {var}: " in p.stderr


def test_unknown_webhookd_variable_exits_2():
    p = run_cli(["check-config"], clean_env(WEBHOOKD_PROT="1"))
    assert p.returncode == 2
    assert "environment WEBHOOKD_PROT: unknown key 'prot'" in p.stderr


def test_reconnect_min_above_max_exits_2():
    p = run_cli(["check-config"], clean_env(WEBHOOKD_DB_RECONNECT_MIN_MS="600",
                                            WEBHOOKD_DB_RECONNECT_MAX_MS="500"))
    assert p.returncode == 2
    assert "configuration: db_reconnect_min_ms (600) must not exceed db_reconnect_max_ms (500)" \
        in p.stderr


def test_missing_config_file_exits_2(tmp_path):
    p = run_cli(["-c", str(tmp_path / "absent.conf"), "check-config"], clean_env())
    assert p.returncode == 2
    assert "absent.conf: No such file or directory" in p.stderr


def test_serve_with_a_bad_config_exits_2_before_doing_anything():
    p = run_cli(["serve"], clean_env(WEBHOOKD_PORT="abc"), timeout=20)
    assert p.returncode == 2
    assert "WEBHOOKD_PORT" in p.stderr


# ---- serve refuses to start ----------------------------------------------

def serve_env(pg, master_key, **extra):
    cfg = {"WEBHOOKD_LISTEN_ADDRESS": "127.0.0.1", "WEBHOOKD_PORT": str(free_port()),
           "WEBHOOKD_WORKERS": "2", "WEBHOOKD_TLS": "false", "WEBHOOKD_KDF_ITERATIONS": "1000",
           "WEBHOOKD_DATABASE_URL": pg.conninfo, "WEBHOOKD_MASTER_KEY_FILE": master_key}
    cfg.update(extra)
    return clean_env(**cfg)


def serve_fails(env, cwd):
    p = run_cli(["serve"], env, timeout=30, cwd=cwd)
    assert p.returncode != 0, f"serve started:\n{p.stderr}"
    return p


def test_serve_refuses_a_database_that_was_never_migrated(pg, master_key, workdir):
    url = pg.create_database("whd_behind")
    p = serve_fails(serve_env(pg, master_key, WEBHOOKD_DATABASE_URL=url), workdir)
    assert "run `webhookd migrate`" in p.stderr


def test_serve_refuses_a_schema_newer_than_the_binary(pg, master_key, workdir):
    url = pg.create_database("whd_ahead")
    migrate(url)
    pg.psql("INSERT INTO webhookd.schema_migrations (version, name) VALUES (999, 'future')",
            dbname="whd_ahead")
    p = serve_fails(serve_env(pg, master_key, WEBHOOKD_DATABASE_URL=url), workdir)
    assert "newer than this binary" in p.stderr
    # migrate refuses too: it cannot downgrade.
    m = run_cli(["migrate"], clean_env(WEBHOOKD_DATABASE_URL=url))
    assert m.returncode != 0
    assert "newer than this binary" in m.stderr


def test_serve_refuses_an_unreachable_database(pg, master_key, workdir):
    env = serve_env(pg, master_key, WEBHOOKD_DATABASE_URL=f"host={workdir}/nosock port=1 dbname=x")
    p = serve_fails(env, workdir)
    assert "cannot connect to the database" in p.stderr


def test_serve_refuses_a_missing_master_key(pg, workdir):
    p = serve_fails(serve_env(pg, str(workdir / "no-such.key")), workdir)
    assert "master key" in p.stderr


def test_serve_refuses_a_group_readable_master_key(pg, master_key, workdir):
    loose = workdir / "loose.key"
    loose.write_text(open(master_key).read())
    os.chmod(loose, 0o644)
    p = serve_fails(serve_env(pg, str(loose)), workdir)
    assert "master key" in p.stderr


def test_serve_refuses_missing_tls_files(pg, master_key, workdir):
    env = serve_env(pg, master_key, WEBHOOKD_TLS="true",
                    WEBHOOKD_TLS_CERT_FILE=str(workdir / "none.pem"),
                    WEBHOOKD_TLS_KEY_FILE=str(workdir / "none-key.pem"))
    p = serve_fails(env, workdir)
    assert "tls_cert_file" in p.stderr


def test_serve_refuses_a_listen_address_that_is_not_an_ip(pg, master_key, workdir):
    p = serve_fails(serve_env(pg, master_key, WEBHOOKD_LISTEN_ADDRESS="localhost"), workdir)
    assert "listen_address" in p.stderr


def test_serve_refuses_a_port_in_use(pg, master_key, workdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = serve_fails(serve_env(pg, master_key, WEBHOOKD_PORT=str(port)), workdir)
    assert "cannot listen" in p.stderr


def test_serve_refuses_the_port_of_another_webhookd(pg, master_key, workdir, start_server):
    # the workers' SO_REUSEPORT would let a second instance join the first
    # one's port and take half of its connections
    first = start_server()
    p = serve_fails(serve_env(pg, master_key, WEBHOOKD_PORT=str(first.port)), workdir)
    assert "another process is listening there" in p.stderr
    assert first.get("/healthz").status_code == 200


def test_serve_refuses_a_malformed_master_key_variable(pg, master_key, workdir):
    p = serve_fails(serve_env(pg, master_key, WEBHOOKD_MASTER_KEY="k1 not-base64"), workdir)
    assert "master key (WEBHOOKD_MASTER_KEY)" in p.stderr


def test_serve_takes_the_keyring_from_webhookd_master_key(start_server, master_key, workdir):
    srv = start_server({"WEBHOOKD_MASTER_KEY": open(master_key).read(),
                        "WEBHOOKD_MASTER_KEY_FILE": str(workdir / "does-not-exist.key")})
    assert srv.get("/readyz").status_code == 200
