#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "migrations.h"

/* An arbitrary constant: the advisory lock key all migrators agree on. */
#define MIGRATE_LOCK "7120514812"

int
migrate_latest(void)
{
	return migrations_count > 0 ? migrations[migrations_count - 1].version : 0;
}

static PGconn *
connect_db(const char *conninfo, char *err, size_t errlen)
{
	PGconn *pg = PQconnectdb(conninfo);

	if (PQstatus(pg) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to the database: %s", PQerrorMessage(pg));
		err[strcspn(err, "\n")] = '\0';
		PQfinish(pg);
		return NULL;
	}
	return pg;
}

static int
exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexec(pg, sql);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok) {
		snprintf(err, errlen, "%s: %s", what, PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(r);
	return ok ? 0 : -1;
}

static int
query_int(PGconn *pg, const char *sql, int *out, char *err, size_t errlen)
{
	PGresult *r = PQexec(pg, sql);
	int rc = -1;

	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		*out = atoi(PQgetvalue(r, 0, 0));
		rc = 0;
	} else {
		snprintf(err, errlen, "cannot read the schema version: %s", PQresultErrorMessage(r));
		err[strcspn(err, "\n")] = '\0';
	}
	PQclear(r);
	return rc;
}

/* Current version; 0 when the migrations table does not exist yet. */
static int
current_version(PGconn *pg, int *version, char *err, size_t errlen)
{
	int exists;

	if (query_int(pg, "SELECT (to_regclass('webhookd.schema_migrations') IS NOT NULL)::int",
	    &exists, err, errlen) < 0)
		return -1;
	*version = 0;
	if (!exists)
		return 0;
	return query_int(pg, "SELECT coalesce(max(version), 0) FROM webhookd.schema_migrations",
	    version, err, errlen);
}

static int
apply(PGconn *pg, const struct migration *m, char *err, size_t errlen)
{
	char ver[16];
	const char *params[2] = { ver, m->name };
	PGresult *r;

	if (exec_ok(pg, "BEGIN", err, errlen, m->name) < 0)
		return -1;
	if (exec_ok(pg, m->sql, err, errlen, m->name) < 0)
		goto fail;
	snprintf(ver, sizeof(ver), "%d", m->version);
	r = PQexecParams(pg, "INSERT INTO webhookd.schema_migrations (version, name) "
	    "VALUES ($1, $2)", 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s: %s", m->name, PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	PQclear(r);
	return exec_ok(pg, "COMMIT", err, errlen, m->name);
fail:
	PQclear(PQexec(pg, "ROLLBACK"));
	return -1;
}

int
migrate_run(const char *conninfo, int to, char *err, size_t errlen)
{
	PGconn *pg = connect_db(conninfo, err, errlen);
	int version, i, rc = -1, applied = 0;

	if (pg == NULL)
		return -1;
	PQclear(PQexec(pg, "SET client_min_messages = warning"));
	if (exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", err, errlen, "lock") < 0 ||
	    exec_ok(pg, "CREATE SCHEMA IF NOT EXISTS webhookd", err, errlen, "schema") < 0 ||
	    exec_ok(pg, "CREATE TABLE IF NOT EXISTS webhookd.schema_migrations ("
	        "version integer PRIMARY KEY, name text NOT NULL, "
	        "applied_at timestamptz NOT NULL DEFAULT now())", err, errlen, "schema_migrations") < 0 ||
	    current_version(pg, &version, err, errlen) < 0)
		goto out;
	if (version > migrate_latest()) {
		snprintf(err, errlen, "the database schema is at version %d, newer than this "
		    "binary's %d: upgrade webhookd", version, migrate_latest());
		goto out;
	}
	if (to < version) {
		snprintf(err, errlen, "the database schema is at version %d, past the requested %d: "
		    "migrations only go forward", version, to);
		goto out;
	}
	for (i = 0; i < migrations_count; i++) {
		if (migrations[i].version <= version || migrations[i].version > to)
			continue;
		if (apply(pg, &migrations[i], err, errlen) < 0)
			goto out;
		printf("applied %s\n", migrations[i].name);
		applied++;
	}
	if (applied == 0)
		printf("schema is current (version %d)\n", version);
	rc = 0;
out:
	PQfinish(pg);
	return rc;
}

int
migrate_check(const char *conninfo, char *err, size_t errlen)
{
	PGconn *pg = connect_db(conninfo, err, errlen);
	int version, rc = -1;

	if (pg == NULL)
		return -1;
	if (current_version(pg, &version, err, errlen) < 0)
		goto out;
	if (version < migrate_latest())
		snprintf(err, errlen, "the database schema is at version %d but this binary needs "
		    "%d: run `webhookd migrate`", version, migrate_latest());
	else if (version > migrate_latest())
		snprintf(err, errlen, "the database schema is at version %d, newer than this "
		    "binary's %d: upgrade webhookd", version, migrate_latest());
	else
		rc = 0;
out:
	PQfinish(pg);
	return rc;
}
