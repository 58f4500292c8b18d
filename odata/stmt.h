/* stmt — SQL statements with their parameters, as odata/ hands them to the
 * service: one plan of statements is run as one pipeline in one transaction
 * (service/db.c db_batch), and the role of each statement tells the service
 * how to read its result. */
#ifndef WEBHOOKD_ODATA_STMT_H
#define WEBHOOKD_ODATA_STMT_H

#include "filter_sql.h"

struct odata_render;

enum odata_stmt_role {
	ODATA_STMT_WRITE,    /* result ignored */
	ODATA_STMT_PARENT,   /* no row: the addressed parent entity does not exist */
	ODATA_STMT_COUNT,    /* one row, one column: a count */
	ODATA_STMT_MAIN,     /* the rows of the answer: json text [, ...] */
	ODATA_STMT_SECRET,   /* one row (pk, inserted): a generated secret was stored */
};

struct odata_stmt {
	char *sql;
	struct odata_sql_params params;
	enum odata_stmt_role role;
	int tag;             /* role-specific (SECRET: index into the plan's secrets) */
	struct odata_render *render;   /* MAIN: how rows become JSON (owned) */
};

struct odata_stmts {
	struct odata_stmt *v;
	int n, cap;
};

/* Appends a statement taking ownership of sql (malloc'd) and params (moved;
 * *params is left empty). Returns it, or NULL when out of memory (sql and
 * params are then freed). */
struct odata_stmt *odata_stmts_add(struct odata_stmts *s, char *sql,
                                   struct odata_sql_params *params, enum odata_stmt_role role);
void odata_stmts_free(struct odata_stmts *s);

#endif
