/* Unit tests for service/config.c.
 *
 * Most behaviour is covered by one table: each row is a config file text,
 * some WEBHOOKD_* variables, and either the exact error expected or lines
 * that config_dump() must then print. A '@' in an expected error stands for
 * the temporary file's path. The few tests that do not fit a row follow. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

extern char **environ;

#define MAXENV  4
#define MAXWANT 6

struct tcase {
	const char *name;
	const char *text;          /* file contents; NULL = no file */
	const char *path;          /* load this path instead (missing file) */
	const char *env[MAXENV];   /* "WEBHOOKD_X=value" */
	int         rc;
	const char *err;           /* rc -1: whole message, '@' = file path */
	const char *want[MAXWANT]; /* rc 0: lines config_dump must print */
};

#define OK(...)  0, NULL, { __VA_ARGS__ }
#define ERR(msg) -1, msg, { NULL }

static const struct tcase cases[] = {
	/* defaults and layout */
	{ "defaults", NULL, NULL, { NULL }, OK("port = 9002", "tls = true",
	  "max_header_size = 16k", "database_url = dbname=webhookd",
	  "access_log = -", "log_level = info") },
	{ "empty file", "", NULL, { NULL }, OK("port = 9002", "workers = 0") },
	{ "comments blanks indentation",
	  "# comment\n\n   \n  port = 1234  \n\t# indented\n  # x = y\n",
	  NULL, { NULL }, OK("port = 1234") },
	{ "crlf line endings", "port = 1234\r\nlog_level = debug\r\n"
	  "database_url = \"a b\"\r\n", NULL, { NULL },
	  OK("port = 1234", "log_level = debug", "database_url = \"a b\"") },
	{ "no newline at eof", "port = 1234", NULL, { NULL },
	  OK("port = 1234") },
	{ "no spaces around =", "port=1234\nworkers\t=\t3\n", NULL, { NULL },
	  OK("port = 1234", "workers = 3") },
	{ "duplicate key: last wins", "port = 1\nport = 2\n", NULL, { NULL },
	  OK("port = 2") },

	/* durations (retry_schedule) and CIDR lists (ssrf_allow) */
	{ "durations", "retry_schedule = 0, 500ms,5s ,5m,2h,1d,30d,7\n", NULL, { NULL },
	  OK("retry_schedule = \"0, 500ms,5s ,5m,2h,1d,30d,7\"") },
	{ "durations: one entry", "retry_schedule = 0\n", NULL, { NULL },
	  OK("retry_schedule = 0") },
	{ "durations: over 30 days", "retry_schedule = 0,31d\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '0,31d'") },
	{ "durations: unknown unit", "retry_schedule = 5w\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '5w'") },
	{ "durations: empty item", "retry_schedule = 0,,5s\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '0,,5s'") },
	{ "durations: trailing comma", "retry_schedule = 0,5s,\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '0,5s,'") },
	{ "durations: negative", "retry_schedule = -5s\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '-5s'") },
	{ "durations: unit only", "retry_schedule = s\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got 's'") },
	{ "durations: too many", "retry_schedule = 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	  "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1\n", NULL, { NULL },
	  ERR("@:1: retry_schedule: expected 1..32 comma-separated durations such as "
	      "0, 500ms, 5s, 5m, 2h, 1d (each at most 30d), got '1,1,1,1,1,1,1,1,1,1,1,1,"
	      "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1'") },
	{ "durations: from the environment", NULL, NULL,
	  { "WEBHOOKD_RETRY_SCHEDULE=0,1s,2s" }, OK("retry_schedule = 0,1s,2s") },
	{ "cidrs", "ssrf_allow = 127.0.0.1/32, ::1, 10.0.0.0/8\n", NULL, { NULL },
	  OK("ssrf_allow = \"127.0.0.1/32, ::1, 10.0.0.0/8\"") },
	{ "cidrs: empty", "ssrf_allow = \"\"\n", NULL, { NULL }, OK("ssrf_allow = \"\"") },
	{ "cidrs: junk", "ssrf_allow = localhost\n", NULL, { NULL }, ERR(NULL) },
	{ "cidrs: host bits", "ssrf_allow = 10.0.0.1/8\n", NULL, { NULL }, ERR(NULL) },

	/* int */
	{ "int values", "port = 8080\nworkers = 256\nkdf_iterations = 1000\n",
	  NULL, { NULL },
	  OK("port = 8080", "workers = 256", "kdf_iterations = 1000") },
	{ "int range edges", "port = 1\nshutdown_timeout_ms = 0\n"
	  "kdf_iterations = 100000000\nport = 65535\n", NULL, { NULL },
	  OK("port = 65535", "shutdown_timeout_ms = 0",
	     "kdf_iterations = 100000000") },
	{ "int minus zero", "workers = -0\n", NULL, { NULL },
	  OK("workers = 0") },
	{ "int leading zeros are decimal", "port = 0010\n", NULL, { NULL },
	  OK("port = 10") },
	{ "int message", "\nport = abc\n", NULL, { NULL },
	  ERR("@:2: port: expected an integer in 1..65535, got 'abc'") },
	{ "int trailing junk", "port = 80x\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '80x'") },
	{ "int inner space", "port = 8 0\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '8 0'") },
	{ "int plus sign", "port = +80\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '+80'") },
	{ "int hex", "port = 0x50\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '0x50'") },
	{ "int empty", "port =\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got ''") },
	{ "int lone minus", "port = -\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '-'") },
	{ "int overflow", "port = 99999999999999999999\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, "
	      "got '99999999999999999999'") },
	{ "int above range", "port = 65536\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '65536'") },
	{ "int below range", "port = 0\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got '0'") },
	{ "int negative", "workers = -1\n", NULL, { NULL },
	  ERR("@:1: workers: expected an integer in 0..256, got '-1'") },
	{ "int above int range", "workers = 4294967296\n", NULL, { NULL },
	  ERR("@:1: workers: expected an integer in 0..256, "
	      "got '4294967296'") },

	/* size */
	{ "size suffixes", "max_header_size = 32k\nmax_body_size = 1g\n",
	  NULL, { NULL },
	  OK("max_header_size = 32k", "max_body_size = 1g") },
	{ "size m suffix", "max_body_size = 10m\n", NULL, { NULL },
	  OK("max_body_size = 10m") },
	{ "size upper-case suffix", "max_header_size = 1M\n"
	  "max_body_size = 2K\n", NULL, { NULL },
	  OK("max_header_size = 1m", "max_body_size = 2k") },
	{ "size plain bytes", "max_header_size = 1024\nmax_body_size = 1500\n",
	  NULL, { NULL },
	  OK("max_header_size = 1k", "max_body_size = 1500") },
	{ "size fraction", "max_body_size = 1.5m\n", NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '1.5m'") },
	{ "size suffix only", "max_body_size = k\n", NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got 'k'") },
	{ "size negative", "max_body_size = -1k\n", NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '-1k'") },
	{ "size two-letter suffix", "max_body_size = 1kb\n", NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '1kb'") },
	{ "size above range", "max_body_size = 2g\n", NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '2g'") },
	{ "size below range", "max_header_size = 1023\n", NULL, { NULL },
	  ERR("@:1: max_header_size: expected a size in 1k..1m (bytes, or "
	      "with suffix k, m or g), got '1023'") },
	{ "size suffix overflow", "max_body_size = 9999999999999g\n", NULL,
	  { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '9999999999999g'") },
	{ "size number overflow", "max_body_size = 99999999999999999999\n",
	  NULL, { NULL },
	  ERR("@:1: max_body_size: expected a size in 1k..1g (bytes, or with "
	      "suffix k, m or g), got '99999999999999999999'") },

	/* bool */
	{ "bool false", "tls = false\n", NULL, { NULL }, OK("tls = false") },
	{ "bool off", "tls = off\n", NULL, { NULL }, OK("tls = false") },
	{ "bool no", "tls = no\n", NULL, { NULL }, OK("tls = false") },
	{ "bool 0", "tls = 0\n", NULL, { NULL }, OK("tls = false") },
	{ "bool true", "tls = off\ntls = true\n", NULL, { NULL },
	  OK("tls = true") },
	{ "bool on", "tls = off\ntls = on\n", NULL, { NULL },
	  OK("tls = true") },
	{ "bool yes", "tls = off\ntls = yes\n", NULL, { NULL },
	  OK("tls = true") },
	{ "bool 1", "tls = off\ntls = 1\n", NULL, { NULL }, OK("tls = true") },
	{ "bool any case", "tls = OFF\n", NULL, { NULL }, OK("tls = false") },
	{ "bool bad", "tls = maybe\n", NULL, { NULL },
	  ERR("@:1: tls: expected true/false, on/off, yes/no or 1/0, "
	      "got 'maybe'") },
	{ "bool 2", "tls = 2\n", NULL, { NULL },
	  ERR("@:1: tls: expected true/false, on/off, yes/no or 1/0, "
	      "got '2'") },

	/* log_level */
	{ "log_level debug", "log_level = debug\n", NULL, { NULL },
	  OK("log_level = debug") },
	{ "log_level warn", "log_level = warn\n", NULL, { NULL },
	  OK("log_level = warn") },
	{ "log_level error", "log_level = error\n", NULL, { NULL },
	  OK("log_level = error") },
	{ "log_level bad", "log_level = verbose\n", NULL, { NULL },
	  ERR("@:1: log_level: expected debug, info, warn or error, "
	      "got 'verbose'") },
	{ "log_level is case-sensitive", "log_level = INFO\n", NULL, { NULL },
	  ERR("@:1: log_level: expected debug, info, warn or error, "
	      "got 'INFO'") },

	/* strings, quotes, trailing comments */
	{ "string plain", "tls_cert_file = /etc/c.pem\n"
	  "tls_key_file = /etc/k.pem\nmaster_key_file = mk\n"
	  "listen_address = ::1\n", NULL, { NULL },
	  OK("tls_cert_file = /etc/c.pem", "tls_key_file = /etc/k.pem",
	     "master_key_file = mk", "listen_address = ::1") },
	{ "string inner spaces unquoted",
	  "database_url = host=/tmp  dbname=x  \n", NULL, { NULL },
	  OK("database_url = \"host=/tmp  dbname=x\"") },
	{ "quoted keeps spaces and #",
	  "database_url = \"host=/tmp dbname=x # y\"\n", NULL, { NULL },
	  OK("database_url = \"host=/tmp dbname=x # y\"") },
	{ "quoted keeps edge spaces", "access_log = \" a \"\n", NULL, { NULL },
	  OK("access_log = \" a \"") },
	{ "quoted then comment", "database_url = \"a b\"   # note\n", NULL,
	  { NULL }, OK("database_url = \"a b\"") },
	{ "quoted then comment no space", "database_url = \"a b\"#note\n",
	  NULL, { NULL }, OK("database_url = \"a b\"") },
	{ "trailing comment", "access_log = /var/log/w.log # the log\n"
	  "port = 80\t# tab before\n", NULL, { NULL },
	  OK("access_log = /var/log/w.log", "port = 80") },
	{ "hash inside value", "access_log = /var/log/a#b\n", NULL, { NULL },
	  OK("access_log = \"/var/log/a#b\"") },
	{ "hash right after =", "access_log =#x\n", NULL, { NULL },
	  OK("access_log = \"#x\"") },
	{ "value with =", "database_url = postgres://u@h/db?a=b\n", NULL,
	  { NULL }, OK("database_url = postgres://u@h/db?a=b") },
	{ "access_log may not be empty", "access_log = \"\"\n", NULL, { NULL },
	  ERR("@:1: access_log: must not be empty") },
	{ "empty string quoted", "listen_address = \"\"\n", NULL, { NULL },
	  ERR("@:1: listen_address: must not be empty") },
	{ "empty string", "tls_cert_file =\n", NULL, { NULL },
	  ERR("@:1: tls_cert_file: must not be empty") },
	{ "value is only a comment", "database_url = # none\n", NULL, { NULL },
	  ERR("@:1: database_url: must not be empty") },
	{ "unterminated quote", "database_url = \"a b\n", NULL, { NULL },
	  ERR("@:1: unterminated quoted value") },
	{ "text after quote", "database_url = \"a\" b\n", NULL, { NULL },
	  ERR("@:1: unexpected text after closing quote") },

	/* syntax errors */
	{ "unknown key line number", "# c\n\nprot = 1\n", NULL, { NULL },
	  ERR("@:3: unknown key 'prot'") },
	{ "unknown key crlf line number", "port = 1\r\n\r\nprot = 1\r\n", NULL,
	  { NULL }, ERR("@:3: unknown key 'prot'") },
	{ "keys are lower-case", "Port = 1\n", NULL, { NULL },
	  ERR("@:1: unknown key 'Port'") },
	{ "missing =", "port 9002\n", NULL, { NULL },
	  ERR("@:1: expected 'key = value'") },
	{ "empty key", "\n= 5\n", NULL, { NULL },
	  ERR("@:2: missing key before '='") },
	{ "first error wins", "port = x\nprot = 1\n", NULL, { NULL },
	  ERR("@:1: port: expected an integer in 1..65535, got 'x'") },

	/* environment */
	{ "env alone", NULL, NULL, { "WEBHOOKD_LOG_LEVEL=debug" },
	  OK("log_level = debug") },
	{ "env beats file", "port = 1111\nworkers = 2\n", NULL,
	  { "WEBHOOKD_PORT=2222" }, OK("port = 2222", "workers = 2") },
	{ "env every type", NULL, NULL,
	  { "WEBHOOKD_TLS=no", "WEBHOOKD_MAX_BODY_SIZE=4m",
	    "WEBHOOKD_DB_POOL_SIZE=8", "WEBHOOKD_MASTER_KEY_FILE=/k" },
	  OK("tls = false", "max_body_size = 4m", "db_pool_size = 8",
	     "master_key_file = /k") },
	{ "env value taken verbatim", NULL, NULL,
	  { "WEBHOOKD_DATABASE_URL=host=/tmp dbname=x # y" },
	  OK("database_url = \"host=/tmp dbname=x # y\"") },
	{ "env value not trimmed", NULL, NULL, { "WEBHOOKD_PORT= 80" },
	  ERR("environment WEBHOOKD_PORT: port: expected an integer in "
	      "1..65535, got ' 80'") },
	{ "env unknown key", NULL, NULL, { "WEBHOOKD_FOO=1" },
	  ERR("environment WEBHOOKD_FOO: unknown key 'foo'") },
	{ "env bad value", "port = 1\n", NULL, { "WEBHOOKD_PORT=x" },
	  ERR("environment WEBHOOKD_PORT: port: expected an integer in "
	      "1..65535, got 'x'") },
	{ "env empty string", NULL, NULL, { "WEBHOOKD_DATABASE_URL=" },
	  ERR("environment WEBHOOKD_DATABASE_URL: database_url: "
	      "must not be empty") },
	{ "env empty access_log", NULL, NULL, { "WEBHOOKD_ACCESS_LOG=" },
	  ERR("environment WEBHOOKD_ACCESS_LOG: access_log: "
	      "must not be empty") },
	{ "env WEBHOOKD_CONFIG ignored", NULL, NULL,
	  { "WEBHOOKD_CONFIG=/nonexistent/webhookd.conf" },
	  OK("port = 9002") },
	{ "env WEBHOOKD_MASTER_KEY ignored", NULL, NULL,
	  { "WEBHOOKD_MASTER_KEY=k1 AAAA" },
	  OK("master_key_file = var/master.key") },
	{ "env WEBHOOKD_MASTER_KEY_FILE is a key", NULL, NULL,
	  { "WEBHOOKD_MASTER_KEY_FILE=/run/mk" },
	  OK("master_key_file = /run/mk") },
	{ "env lower-case name", NULL, NULL, { "WEBHOOKD_port=81" },
	  OK("port = 81") },
	{ "env WEBHOOKD_config is not WEBHOOKD_CONFIG", NULL, NULL,
	  { "WEBHOOKD_config=x" },
	  ERR("environment WEBHOOKD_config: unknown key 'config'") },
	{ "env empty key", NULL, NULL, { "WEBHOOKD_=1" },
	  ERR("environment WEBHOOKD_: unknown key ''") },
	{ "file error before env", "prot = 1\n", NULL, { "WEBHOOKD_FOO=1" },
	  ERR("@:1: unknown key 'prot'") },

	/* cross-check */
	{ "reconnect min > max", "db_reconnect_min_ms = 6000\n", NULL,
	  { NULL }, ERR("configuration: db_reconnect_min_ms (6000) must not "
			"exceed db_reconnect_max_ms (5000)") },
	{ "reconnect min > max via env", NULL, NULL,
	  { "WEBHOOKD_DB_RECONNECT_MAX_MS=50" },
	  ERR("configuration: db_reconnect_min_ms (100) must not exceed "
	      "db_reconnect_max_ms (50)") },
	{ "reconnect checked after all sources",
	  "db_reconnect_min_ms = 200\ndb_reconnect_max_ms = 100\n", NULL,
	  { "WEBHOOKD_DB_RECONNECT_MAX_MS=300" },
	  OK("db_reconnect_min_ms = 200", "db_reconnect_max_ms = 300") },
	{ "reconnect min == max", "db_reconnect_min_ms = 700\n"
	  "db_reconnect_max_ms = 700\n", NULL, { NULL },
	  OK("db_reconnect_min_ms = 700", "db_reconnect_max_ms = 700") },

	/* files */
	{ "missing file", NULL, "/nonexistent/webhookd.conf", { NULL },
	  ERR("/nonexistent/webhookd.conf: No such file or directory") },
	{ "directory", NULL, "/", { NULL }, ERR("/: Is a directory") },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* Per-test resources, released by the teardown even when an assertion
 * longjmps out of the test body. */
static struct {
	char path[64];
	struct config cfg;
	char *dump;
} fx;

/* Remove every WEBHOOKD_* variable so the runner's environment cannot leak
 * into a case. Names are copied first: unsetenv() rewrites environ. */
static void clear_env(void)
{
	char *names[64];
	size_t n = 0;

	for (char **e = environ; *e && n < 64; e++) {
		if (strncmp(*e, "WEBHOOKD_", 9) == 0)
			names[n++] = strndup(*e, strcspn(*e, "="));
	}
	for (size_t i = 0; i < n; i++) {
		unsetenv(names[i]);
		free(names[i]);
	}
}

static void set_env(const char *assignment)
{
	size_t n = strcspn(assignment, "=");
	char *name = strndup(assignment, n);

	assert_non_null(name);
	assert_int_equal(setenv(name, assignment + n + 1, 1), 0);
	free(name);
}

static void write_temp(const char *text)
{
	size_t len = strlen(text);
	int fd;

	strcpy(fx.path, "/tmp/test_config.XXXXXX");
	fd = mkstemp(fx.path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* config_dump() into a string that begins with '\n' so every line, the
 * first included, can be searched for as "\nkey = value\n". */
static char *dump(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fputc('\n', f);
	config_dump(cfg, f);
	fclose(f);
	return buf;
}

/* Expand '@' in an expected message to the temporary file's path. */
static void expect_error(const char *pattern, const char *path, char *out,
			 size_t outlen)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 1 < outlen; p++) {
		if (*p == '@') {
			o += (size_t)snprintf(out + o, outlen - o, "%s", path);
			if (o >= outlen)
				o = outlen - 1;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void expect_lines(const char *text, const char *const *want)
{
	char needle[512];

	for (int i = 0; i < MAXWANT && want[i]; i++) {
		snprintf(needle, sizeof(needle), "\n%s\n", want[i]);
		if (!strstr(text, needle))
			fail_msg("missing line '%s' in dump:%s", want[i], text);
	}
}

static int setup(void **state)
{
	(void)state;
	memset(&fx, 0, sizeof(fx));
	clear_env();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	config_free(&fx.cfg);
	free(fx.dump);
	if (fx.path[0])
		unlink(fx.path);
	memset(&fx, 0, sizeof(fx));
	clear_env();
	return 0;
}

static void run_case(void **state)
{
	const struct tcase *tc = *state;
	const char *path = tc->path;
	char err[512] = "", want[512];
	int rc;

	for (int i = 0; i < MAXENV && tc->env[i]; i++)
		set_env(tc->env[i]);
	if (tc->text) {
		write_temp(tc->text);
		path = fx.path;
	}
	config_defaults(&fx.cfg);
	rc = config_load(&fx.cfg, path, err, sizeof(err));
	if (rc != tc->rc)
		fail_msg("rc %d, expected %d; err '%s'", rc, tc->rc, err);
	if (rc < 0 && tc->err == NULL) {
		/* the message comes from another module's parser (ssrf.c):
		 * only its place and key are this module's */
		if (strstr(err, ":1: ssrf_allow: ") == NULL)
			fail_msg("unexpected error '%s'", err);
		return;
	}
	if (rc < 0) {
		expect_error(tc->err, path ? path : "", want, sizeof(want));
		assert_string_equal(err, want);
		return;
	}
	fx.dump = dump(&fx.cfg);
	expect_lines(fx.dump, tc->want);
}

/* Every default, field by field, against the comments in config.h. */
static void test_defaults_match_header(void **state)
{
	struct config *c = &fx.cfg;

	(void)state;
	config_defaults(c);
	assert_string_equal(c->listen_address, "0.0.0.0");
	assert_int_equal(c->port, 9002);
	assert_int_equal(c->workers, 0);
	assert_true(c->tls);
	assert_string_equal(c->tls_cert_file, "var/tls/cert.pem");
	assert_string_equal(c->tls_key_file, "var/tls/key.pem");
	assert_int_equal(c->max_header_size, 16384);
	assert_int_equal(c->max_body_size, 1048576);
	assert_int_equal(c->request_timeout_ms, 30000);
	assert_int_equal(c->idle_timeout_ms, 60000);
	assert_int_equal(c->max_connections, 1024);
	assert_int_equal(c->shutdown_timeout_ms, 10000);
	assert_string_equal(c->database_url, "dbname=webhookd");
	assert_int_equal(c->db_pool_size, 4);
	assert_int_equal(c->db_queue_max, 1024);
	assert_int_equal(c->db_reconnect_min_ms, 100);
	assert_int_equal(c->db_reconnect_max_ms, 5000);
	assert_int_equal(c->db_statement_timeout_ms, 30000);
	assert_int_equal(c->retry_after_s, 5);
	assert_string_equal(c->master_key_file, "var/master.key");
	assert_int_equal(c->auth_cache_ttl_s, 30);
	assert_int_equal(c->kdf_threads, 1);
	assert_int_equal(c->kdf_queue_max, 64);
	assert_int_equal(c->kdf_iterations, 600000);
	assert_string_equal(c->access_log, "-");
	assert_string_equal(c->log_level, "info");
}

/* Every field set through the table lands in the right struct member. */
static void test_set_reaches_fields(void **state)
{
	static const struct { const char *key, *value; } set[] = {
		{ "workers", "7" }, { "max_header_size", "2k" },
		{ "max_body_size", "3m" }, { "request_timeout_ms", "101" },
		{ "idle_timeout_ms", "102" }, { "max_connections", "103" },
		{ "shutdown_timeout_ms", "104" }, { "db_pool_size", "5" },
		{ "db_queue_max", "106" }, { "retry_after_s", "7" },
		{ "auth_cache_ttl_s", "0" }, { "kdf_threads", "9" },
		{ "kdf_queue_max", "110" }, { "tls", "no" },
	};
	struct config *c = &fx.cfg;
	char err[256];

	(void)state;
	config_defaults(c);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_int_equal(config_set(c, set[i].key, set[i].value, "t",
					    err, sizeof(err)), 0);
	assert_int_equal(c->workers, 7);
	assert_int_equal(c->max_header_size, 2048);
	assert_int_equal(c->max_body_size, 3 * 1048576);
	assert_int_equal(c->request_timeout_ms, 101);
	assert_int_equal(c->idle_timeout_ms, 102);
	assert_int_equal(c->max_connections, 103);
	assert_int_equal(c->shutdown_timeout_ms, 104);
	assert_int_equal(c->db_pool_size, 5);
	assert_int_equal(c->db_queue_max, 106);
	assert_int_equal(c->retry_after_s, 7);
	assert_int_equal(c->auth_cache_ttl_s, 0);
	assert_int_equal(c->kdf_threads, 9);
	assert_int_equal(c->kdf_queue_max, 110);
	assert_false(c->tls);
	assert_int_equal(c->port, 9002);
}

/* A rejected value leaves the previous one in place. */
static void test_failed_set_keeps_value(void **state)
{
	struct config *c = &fx.cfg;
	char err[256];

	(void)state;
	config_defaults(c);
	assert_int_equal(config_set(c, "port", "x", "here", err,
				    sizeof(err)), -1);
	assert_string_equal(err, "here: port: expected an integer in 1..65535, "
			    "got 'x'");
	assert_int_equal(c->port, 9002);
	assert_int_equal(config_set(c, "database_url", "", "here", err,
				    sizeof(err)), -1);
	assert_string_equal(c->database_url, "dbname=webhookd");
	assert_int_equal(config_set(c, "tls", "nah", "here", err,
				    sizeof(err)), -1);
	assert_true(c->tls);
}

/* Error buffers that are NULL, empty or tiny must not be overrun. */
static void test_small_error_buffers(void **state)
{
	struct config *c = &fx.cfg;
	char tiny[8];

	(void)state;
	config_defaults(c);
	assert_int_equal(config_set(c, "nope", "1", "where", NULL, 0), -1);
	assert_int_equal(config_set(c, "nope", "1", "where", tiny, 0), -1);
	assert_int_equal(config_set(c, "nope", "1", "where", tiny,
				    sizeof(tiny)), -1);
	assert_string_equal(tiny, "where: ");
}

/* dump -> file -> load reproduces the same configuration, quoting and all. */
static void test_dump_roundtrip(void **state)
{
	struct config again;
	char err[256], *second;

	(void)state;
	config_defaults(&fx.cfg);
	assert_int_equal(config_set(&fx.cfg, "database_url",
				    "host=/tmp dbname=x # y", "t", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&fx.cfg, "access_log", "/var/log/a b#c",
				    "t", err, sizeof(err)), 0);
	assert_int_equal(config_set(&fx.cfg, "max_body_size", "1500", "t", err,
				    sizeof(err)), 0);
	assert_int_equal(config_set(&fx.cfg, "tls", "off", "t", err,
				    sizeof(err)), 0);
	fx.dump = dump(&fx.cfg);
	write_temp(fx.dump + 1);

	config_defaults(&again);
	assert_int_equal(config_load(&again, fx.path, err, sizeof(err)), 0);
	second = dump(&again);
	config_free(&again);
	assert_string_equal(second, fx.dump);
	free(second);
}

/* Lines far longer than any fixed buffer are read whole. */
static void test_long_line(void **state)
{
	size_t n = 100000;
	char *text = malloc(n + 32), err[256];

	(void)state;
	assert_non_null(text);
	strcpy(text, "database_url = ");
	memset(text + strlen(text), 'x', n);
	strcpy(text + 15 + n, "\n");
	write_temp(text);
	free(text);
	config_defaults(&fx.cfg);
	assert_int_equal(config_load(&fx.cfg, fx.path, err, sizeof(err)), 0);
	assert_int_equal(strlen(fx.cfg.database_url), n);
}

/* config_free is idempotent. */
static void test_free_twice(void **state)
{
	(void)state;
	config_defaults(&fx.cfg);
	config_free(&fx.cfg);
	assert_null(fx.cfg.database_url);
	config_free(&fx.cfg);
}

/* The shipped webhookd.conf documents every key at its default: loading it
 * changes nothing, and each line config_dump prints for the defaults
 * appears in it verbatim. Run from the repository root. */
static void test_example_conf(void **state)
{
	char err[256], *text = NULL, *line, *save = NULL;
	size_t cap = 0;
	FILE *f = fopen("webhookd.conf", "r");
	ssize_t len;

	(void)state;
	if (!f)
		skip();
	len = getdelim(&text, &cap, '\0', f);
	fclose(f);
	assert_true(len >= 0);
	config_defaults(&fx.cfg);
	fx.dump = dump(&fx.cfg);
	config_free(&fx.cfg);
	config_defaults(&fx.cfg);
	if (config_load(&fx.cfg, "webhookd.conf", err, sizeof(err)) < 0) {
		free(text);
		fail_msg("%s", err);
	}
	for (line = strtok_r(fx.dump, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char needle[256];

		snprintf(needle, sizeof(needle), "\n%s\n", line);
		if (!strstr(text, needle)) {
			free(text);
			fail_msg("webhookd.conf lacks the line '%s'", line);
		}
	}
	free(text);
}

static struct CMUnitTest tests[NCASES + 8];

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test_setup_teardown(test_defaults_match_header,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_reaches_fields,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_set_keeps_value,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_error_buffers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_roundtrip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_line,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_twice,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_example_conf,
						setup, teardown),
	};
	size_t n = 0;

	for (size_t i = 0; i < NCASES; i++) {
		tests[n++] = (struct CMUnitTest){
			.name = cases[i].name, .test_func = run_case,
			.setup_func = setup, .teardown_func = teardown,
			.initial_state = (void *)&cases[i],
		};
	}
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		tests[n++] = extra[i];
	/* cmocka_run_group_tests counts the array by sizeof */
	if (n != sizeof(tests) / sizeof(tests[0]))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
