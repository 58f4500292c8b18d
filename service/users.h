/* users — `webhookd user add|passwd|del|list`: the CLI side of the users
 * table. Blocking libpq: these run from the command line, never on a loop. */
#ifndef WEBHOOKD_USERS_H
#define WEBHOOKD_USERS_H

struct config;

/* argv[0] is the verb ("add", ...). Returns the process exit code. */
int users_main(const struct config *cfg, int argc, char **argv);

#endif
