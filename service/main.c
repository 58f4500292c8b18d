/* webhookd — entry point: global options, configuration, subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "metadata.h"
#include "migrate.h"
#include "model.h"
#include "secrets.h"
#include "server.h"
#include "users.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: webhookd [-c FILE] COMMAND [ARGS]\n"
	    "\n"
	    "commands:\n"
	    "  serve          serve the API until SIGTERM or SIGINT (SIGHUP reopens the access log)\n"
	    "  migrate [--to N]  apply pending database migrations (up to version N)\n"
	    "  check-config   validate the configuration and print every key's value\n"
	    "  user ...       add, passwd, del, list users (webhookd user --help)\n"
	    "  version        print the version and the schema version\n"
	    "  metadata       print the OData $metadata document (EDMX) to stdout\n"
	    "\n"
	    "-c FILE (or WEBHOOKD_CONFIG=FILE) reads FILE; every key can be overridden\n"
	    "by WEBHOOKD_<KEY> in the environment. Without a file, defaults apply.\n");
}

/* The master keyring: WEBHOOKD_MASTER_KEY (the file's text) or the file. */
static struct secrets *
load_secrets(const struct config *cfg)
{
	const char *text = getenv("WEBHOOKD_MASTER_KEY");
	char err[256];
	struct secrets *s;

	s = text ? secrets_load_text(text, err, sizeof(err))
	         : secrets_load_file(cfg->master_key_file, err, sizeof(err));
	if (s == NULL)
		log_error("master key (%s): %s", text ? "WEBHOOKD_MASTER_KEY" : cfg->master_key_file, err);
	return s;
}

static int
cmd_serve(const struct config *cfg)
{
	/* Loaded now so a missing or bad key stops start-up, not a later write. */
	struct secrets *s = load_secrets(cfg);
	int rc;

	if (s == NULL)
		return 1;
	rc = server_run(cfg, s);
	secrets_free(s);
	return rc;
}

static int
cmd_migrate(const struct config *cfg, int argc, char **argv)
{
	int to = migrate_latest();
	char err[512], *end;
	long v;

	if (argc == 2 && strcmp(argv[0], "--to") == 0) {
		v = strtol(argv[1], &end, 10);
		if (*argv[1] == '\0' || *end != '\0' || v < 0 || v > migrate_latest()) {
			fprintf(stderr, "webhookd: migrate --to: expected a version in 0..%d, got '%s'\n",
			    migrate_latest(), argv[1]);
			return 2;
		}
		to = (int)v;
	} else if (argc != 0) {
		usage(stderr);
		return 2;
	}
	if (migrate_run(cfg->database_url, to, err, sizeof(err)) < 0) {
		fprintf(stderr, "webhookd: migrate: %s\n", err);
		return 1;
	}
	return 0;
}

/* The EDMX document, as GET /$metadata serves it; needs no database. */
static int
cmd_metadata(void)
{
	char *edmx;
	int rc = 0;

	odata_model_init();
	edmx = odata_metadata_edmx();
	if (edmx == NULL) {
		fprintf(stderr, "webhookd: metadata: out of memory\n");
		return 1;
	}
	if (fputs(edmx, stdout) == EOF || fflush(stdout) == EOF) {
		fprintf(stderr, "webhookd: metadata: cannot write to stdout\n");
		rc = 1;
	}
	free(edmx);
	return rc;
}

static int
wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *path = getenv("WEBHOOKD_CONFIG");
	struct config cfg;
	char err[512];
	const char *cmd;
	int rc;

	argc--, argv++;
	if (argc >= 2 && (strcmp(argv[0], "-c") == 0 || strcmp(argv[0], "--config") == 0)) {
		path = argv[1];
		argc -= 2, argv += 2;
	}
	if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0) {
		usage(argc == 0 ? stderr : stdout);
		return argc == 0 ? 2 : 0;
	}
	cmd = argv[0];
	if (wants_help(argc - 1, argv + 1)) {
		usage(stdout);
		return 0;
	}
	config_defaults(&cfg);
	if (config_load(&cfg, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "webhookd: %s\n", err);
		config_free(&cfg);
		return 2;
	}
	log_init(cfg.log_level, cfg.access_log);
	if (strcmp(cmd, "serve") == 0 && argc == 1) {
		rc = cmd_serve(&cfg);
	} else if (strcmp(cmd, "migrate") == 0) {
		rc = cmd_migrate(&cfg, argc - 1, argv + 1);
	} else if (strcmp(cmd, "check-config") == 0 && argc == 1) {
		config_dump(&cfg, stdout);
		rc = 0;
	} else if (strcmp(cmd, "user") == 0) {
		rc = users_main(&cfg, argc - 1, argv + 1);
	} else if (strcmp(cmd, "version") == 0 && argc == 1) {
		printf("webhookd 0.1.0 (schema %d)\n", migrate_latest());
		rc = 0;
	} else if (strcmp(cmd, "metadata") == 0 && argc == 1) {
		rc = cmd_metadata();
	} else {
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
