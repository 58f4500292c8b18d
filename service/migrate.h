/* migrate — versioned SQL migrations compiled into the binary from sql/.
 * Each runs in its own transaction and is recorded in
 * webhookd.schema_migrations; an advisory lock keeps two migrators apart.
 * These calls block: they are for the CLI and for start-up, before any
 * event loop runs. */
#ifndef WEBHOOKD_MIGRATE_H
#define WEBHOOKD_MIGRATE_H

#include <stddef.h>

/* The newest version this binary knows. */
int migrate_latest(void);
/* Apply pending migrations up to version `to` (migrate_latest() for all);
 * prints one line per migration applied. Never migrates down: a database
 * already past `to` is an error. `to` lets tests stop at an older schema,
 * seed rows, and check that the upgrade keeps them. */
int migrate_run(const char *conninfo, int to, char *err, size_t errlen);
/* 0 when the database is exactly at migrate_latest(); else -1 and a message
 * saying whether it is behind (run `webhookd migrate`) or ahead. */
int migrate_check(const char *conninfo, char *err, size_t errlen);

#endif
