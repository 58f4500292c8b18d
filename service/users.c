#include "users.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "auth.h"
#include "config.h"
#include "password.h"

#define GENERATED_LEN 24

static void
usage(void)
{
	fprintf(stderr,
	    "usage: webhookd user add NAME --role admin|viewer|publisher|subscriber [--password-stdin]\n"
	    "       webhookd user passwd NAME [--password-stdin]\n"
	    "       webhookd user del NAME\n"
	    "       webhookd user list\n"
	    "Without --password-stdin a random password is generated and printed\n"
	    "on standard output (once; only its hash is stored).\n");
}

static int
read_password(char *buf, size_t size)
{
	size_t n;

	if (fgets(buf, (int)size, stdin) == NULL) {
		fprintf(stderr, "webhookd: no password on standard input\n");
		return -1;
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == size - 1) {
		fprintf(stderr, "webhookd: password longer than %zu characters\n", size - 2);
		return -1;
	}
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "webhookd: empty password\n");
		return -1;
	}
	return 0;
}

/* Runs one statement; returns affected rows, or -1 with the error printed. */
static int
exec_params(PGconn *pg, const char *sql, int n, const char *const *params, PGresult **out)
{
	PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int rows;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(stderr, "webhookd: %s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	rows = st == PGRES_TUPLES_OK ? PQntuples(r) : atoi(PQcmdTuples(r));
	if (out)
		*out = r;
	else
		PQclear(r);
	return rows;
}

static int
set_password(PGconn *pg, const struct config *cfg, const char *name, const char *role,
    bool from_stdin)
{
	char pw[1026];
	char *hash = NULL;
	const char *params[3];
	int rows, rc = 1;

	if (from_stdin ? read_password(pw, sizeof(pw)) < 0
	    : password_generate(pw, sizeof(pw), GENERATED_LEN) < 0)
		goto out;
	hash = password_hash(pw, (unsigned)cfg->kdf_iterations);
	if (hash == NULL) {
		fprintf(stderr, "webhookd: cannot hash the password\n");
		goto out;
	}
	params[0] = name;
	params[1] = hash;
	params[2] = role;
	if (role != NULL)
		rows = exec_params(pg, "INSERT INTO webhookd.users (name, password_hash, role) "
		    "VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING", 3, params, NULL);
	else
		rows = exec_params(pg, "UPDATE webhookd.users SET password_hash = $2, "
		    "updated_at = now() WHERE name = $1", 2, params, NULL);
	if (rows < 0)
		goto out;
	if (rows == 0) {
		fprintf(stderr, "webhookd: user '%s' %s\n", name, role ? "already exists" : "does not exist");
		goto out;
	}
	fprintf(stderr, "webhookd: %s user '%s'%s%s\n", role ? "created" : "changed password of",
	    name, role ? " with role " : "", role ? role : "");
	if (!from_stdin)
		printf("%s\n", pw);
	rc = 0;
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	free(hash);
	return rc;
}

static int
list_users(PGconn *pg)
{
	PGresult *r = NULL;
	int i, n = exec_params(pg, "SELECT name, role, created_at FROM webhookd.users ORDER BY name",
	    0, NULL, &r);

	if (n < 0)
		return 1;
	for (i = 0; i < n; i++)
		printf("%s\t%s\t%s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
	PQclear(r);
	return 0;
}

int
users_main(const struct config *cfg, int argc, char **argv)
{
	const char *verb = argc > 0 ? argv[0] : "", *name = argc > 1 ? argv[1] : NULL;
	const char *role = NULL;
	bool from_stdin = false;
	PGconn *pg;
	int i, rc = 2;

	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--password-stdin") == 0)
			from_stdin = true;
		else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
			role = argv[++i];
		else
			goto bad;
	}
	if (strcmp(verb, "list") == 0 ? argc != 1 : name == NULL)
		goto bad;
	if (strcmp(verb, "add") == 0 && (role == NULL || auth_role_parse(role) == 0)) {
		fprintf(stderr, "webhookd: --role must be admin, viewer, publisher or subscriber\n");
		return 2;
	}
	if (strcmp(verb, "add") != 0 && role != NULL)
		goto bad;
	if (strcmp(verb, "add") && strcmp(verb, "passwd") && strcmp(verb, "del") && strcmp(verb, "list"))
		goto bad;
	pg = PQconnectdb(cfg->database_url);
	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "webhookd: cannot connect to the database: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return 1;
	}
	if (strcmp(verb, "list") == 0) {
		rc = list_users(pg);
	} else if (strcmp(verb, "del") == 0) {
		const char *params[1] = { name };
		int rows = exec_params(pg, "DELETE FROM webhookd.users WHERE name = $1", 1, params, NULL);
		rc = rows == 1 ? 0 : 1;
		if (rows == 0)
			fprintf(stderr, "webhookd: user '%s' does not exist\n", name);
	} else {
		rc = set_password(pg, cfg, name, role, from_stdin);
	}
	PQfinish(pg);
	return rc;
bad:
	usage();
	return 2;
}
