/* config — webhookd.conf (`key = value`) plus WEBHOOKD_<KEY> overrides.
 *
 * Every key is described once, in the table below; parsing, defaults,
 * environment overrides, dumping and freeing are all driven by it, so adding
 * a key means adding one line here and one field in config.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ssrf.h"

/* POSIX requires the application to declare it. */
extern char **environ;

/* T_DURATIONS and T_CIDRS are strings checked at load time by their
 * parsers (config_durations, ssrf_allow_parse) and parsed again by their
 * users, so a bad value stops start-up with the file and line. */
enum type { T_STRING, T_INT, T_BOOL, T_SIZE, T_LOG_LEVEL, T_DURATIONS, T_CIDRS };

struct key {
	const char *name;
	enum type   type;
	size_t      offset;   /* into struct config */
	long long   min, max; /* int/size: value range; strings: min length */
	const char *def;      /* default, as it would be written in the file */
	const char *help;     /* one line for people reading this table */
};

#define KiB 1024LL
#define MiB (1024LL * KiB)
#define GiB (1024LL * MiB)

/* offsetof() plus a compile-time check that the field has the C type the
 * entry's kind implies: the assignment inside sizeof is never evaluated but
 * fails to compile (-Werror) if the pointer types differ. */
#define FIELD(name, ctype) \
	(offsetof(struct config, name) + \
	 0 * sizeof((ctype *){0} = &((struct config *)0)->name))

/* No string key has a use for an empty value, so all require length 1. */
#define STR(n, d, h)          { #n, T_STRING, FIELD(n, char *), 1, 0, d, h }
#define STR0(n, d, h)         { #n, T_STRING, FIELD(n, char *), 0, 0, d, h }
#define INT(n, lo, hi, d, h)  { #n, T_INT, FIELD(n, int), lo, hi, d, h }
#define BOOL(n, d, h)         { #n, T_BOOL, FIELD(n, bool), 0, 1, d, h }
#define SIZE(n, lo, hi, d, h) { #n, T_SIZE, FIELD(n, size_t), lo, hi, d, h }
#define LEVEL(n, d, h)        { #n, T_LOG_LEVEL, FIELD(n, char *), 1, 0, d, h }
#define DURS(n, d, h)         { #n, T_DURATIONS, FIELD(n, char *), 1, 0, d, h }
#define CIDRS(n, d, h)        { #n, T_CIDRS, FIELD(n, char *), 0, 0, d, h }

static const struct key keys[] = {
	/* listener */
	STR(listen_address, "0.0.0.0", "address to listen on"),
	INT(port, 1, 65535, "9002", "TCP port to listen on"),
	INT(workers, 0, 256, "0", "worker threads; 0 = one per core"),
	BOOL(tls, "true", "serve HTTPS; false = plain HTTP behind a proxy"),
	STR(tls_cert_file, "var/tls/cert.pem", "PEM certificate chain"),
	STR(tls_key_file, "var/tls/key.pem", "PEM private key"),
	/* limits */
	SIZE(max_header_size, 1 * KiB, 1 * MiB, "16k",
	     "request line + headers, bytes"),
	SIZE(max_body_size, 1 * KiB, 1 * GiB, "1m", "request body, bytes"),
	INT(request_timeout_ms, 100, 3600000, "30000",
	    "whole request must arrive within this"),
	INT(idle_timeout_ms, 100, 3600000, "60000",
	    "keep-alive connection with no request is closed after this"),
	INT(max_connections, 1, 1000000, "1024",
	    "open connections, over all workers"),
	INT(shutdown_timeout_ms, 0, 600000, "10000",
	    "bound on draining connections after SIGTERM"),
	/* database */
	STR(database_url, "dbname=webhookd", "libpq conninfo string or URI"),
	INT(db_pool_size, 1, 64, "4", "database connections per worker"),
	INT(db_queue_max, 1, 1000000, "1024",
	    "queued queries per worker before answering 503"),
	INT(db_reconnect_min_ms, 10, 60000, "100", "first reconnect delay"),
	INT(db_reconnect_max_ms, 10, 600000, "5000",
	    "reconnect delay doubles up to this"),
	INT(db_statement_timeout_ms, 0, 3600000, "30000",
	    "PostgreSQL statement_timeout for webhookd's connections; 0 = none"),
	INT(retry_after_s, 1, 3600, "5", "Retry-After sent with a 503"),
	/* security */
	STR(master_key_file, "var/master.key", "file holding the master key"),
	INT(auth_cache_ttl_s, 0, 3600, "30",
	    "seconds a verified credential is cached; 0 = no cache"),
	INT(kdf_threads, 1, 64, "1", "threads verifying password hashes"),
	INT(kdf_queue_max, 1, 100000, "64",
	    "pending verifications before answering 503"),
	INT(kdf_iterations, 1000, 100000000, "600000",
	    "PBKDF2 rounds for newly stored hashes"),
	/* OData */
	INT(odata_page_size, 1, 1000000, "10", "rows per page when the client sends no $top"),
	INT(odata_page_max, 1, 1000000, "1000", "most rows per page; a larger $top gets __next"),
	INT(batch_max_requests, 1, 100000, "200", "requests in one $batch"),
	STR0(cors_allowed_origins, "",
	     "comma-separated origins allowed by CORS (\"*\" = any); empty = none"),
	/* dispatcher */
	BOOL(dispatcher, "true", "run the dispatcher in this instance"),
	INT(dispatcher_threads, 1, 64, "1", "dispatcher threads (event loops)"),
	INT(dispatch_batch, 1, 10000, "200",
	    "events fanned out, or deliveries claimed, per query"),
	INT(dispatch_poll_ms, 10, 600000, "1000",
	    "look for work this often even without a NOTIFY"),
	INT(dispatch_max_connections, 1, 100000, "512",
	    "outgoing connections per dispatcher thread"),
	DURS(retry_schedule, "0,5s,5m,30m,2h,5h,10h,10h",
	     "delay before each attempt; its length is the number of attempts"),
	INT(retry_jitter_percent, 0, 100, "20", "random +/- spread of each delay"),
	INT(connect_timeout_ms, 1, 600000, "5000", "connect timeout of a delivery"),
	INT(deactivate_after_s, 1, 315360000, "432000",
	    "continuous failure that deactivates a destination (5 days)"),
	INT(lease_margin_s, 1, 3600, "30",
	    "a claimed delivery's lease outlives its timeout by this much"),
	INT(attempt_retention_s, 1, 315360000, "2592000",
	    "attempts older than this are purged (30 days)"),
	INT(event_retention_s, 1, 315360000, "2592000",
	    "finished events older than this are purged with their deliveries"),
	INT(purge_batch, 1, 100000, "1000", "rows deleted per purge statement"),
	INT(purge_interval_s, 1, 86400, "60", "retention purges run this often"),
	INT(rotation_overlap_s, 0, 31536000, "86400",
	    "the previous signing secret signs too this long after a rotation"),
	INT(publish_max_events, 1, 10000, "100", "events in one POST /api/v1/events"),
	/* PULL subscriptions */
	SIZE(pull_batch_size, 1 * KiB, 1 * GiB, "512k",
	     "default maxBatchSize of a pull (soft limit, bytes of payload)"),
	INT(pull_max_events, 1, 100000, "1000", "most events one pull returns"),
	INT(pull_retention_s, 1, 315360000, "2592000",
	    "events stay readable by a PULL subscription this long (30 days)"),
	INT(pull_inactivity_s, 1, 315360000, "2592000",
	    "a PULL subscription without pulls this long is deactivated (30 days)"),
	/* inbound webhooks */
	INT(inbound_tolerance_s, 1, 86400, "300",
	    "STANDARD_WEBHOOKS timestamps and JWT exp/iat may be off by this much"),
	CIDRS(ssrf_allow, "",
	      "special-use addresses deliveries may connect to, e.g. 127.0.0.1/32"),
	/* logging */
	STR(access_log, "-",
	    "\"-\" = stdout, else a path reopened on SIGHUP"),
	LEVEL(log_level, "info", "debug, info, warn or error"),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const levels[] = { "debug", "info", "warn", "error" };

/* snprintf into err, tolerating a NULL or zero-length buffer. */
__attribute__((format(printf, 3, 4)))
static void errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void *field(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct key *k)
{
	return (const char *)cfg + k->offset;
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Decimal only: an optional '-', then one or more digits, nothing else.
 * strtoll alone would also accept leading blanks, '+' and trailing junk. */
static int parse_ll(const char *s, long long *out)
{
	const char *p = s + (*s == '-');
	char *end;

	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno || *end) ? -1 : 0;
}

/* Digits with an optional k/m/g (1024-based) suffix. */
static int parse_size(const char *s, long long *out)
{
	size_t n = strlen(s);
	long long mult = 1, v;
	char *num;
	int rc;

	if (n > 0) {
		switch (tolower((unsigned char)s[n - 1])) {
		case 'k': mult = KiB; n--; break;
		case 'm': mult = MiB; n--; break;
		case 'g': mult = GiB; n--; break;
		}
	}
	if (s[0] == '-' || (num = strndup(s, n)) == NULL)
		return -1;
	rc = parse_ll(num, &v);
	free(num);
	if (rc < 0 || v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Bytes as the shortest exact form: 16384 -> "16k". */
static void format_size(char *buf, size_t len, long long v)
{
	static const char suffix[] = "gmk";
	long long unit = GiB;

	for (int i = 0; i < 3; i++, unit /= 1024) {
		if (v != 0 && v % unit == 0) {
			snprintf(buf, len, "%lld%c", v / unit, suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%lld", v);
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "on", "yes", "1" };
	static const char *const no[] = { "false", "off", "no", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool is_level(const char *s)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(s, levels[i]) == 0)
			return true;
	return false;
}

/* Replace a string field; the old value is freed only once the copy exists
 * so a failed set leaves the config unchanged. */
static int set_string(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (!copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static int set_int(struct config *cfg, const struct key *k, const char *value,
		   const char *where, char *err, size_t errlen)
{
	long long v;

	if (parse_ll(value, &v) < 0 || v < k->min || v > k->max) {
		errorf(err, errlen, "%s: %s: expected an integer in "
		       "%lld..%lld, got '%s'", where, k->name, k->min, k->max,
		       value);
		return -1;
	}
	*(int *)field(cfg, k) = (int)v;
	return 0;
}

static int set_size(struct config *cfg, const struct key *k, const char *value,
		    const char *where, char *err, size_t errlen)
{
	char lo[32], hi[32];
	long long v;

	if (parse_size(value, &v) < 0 || v < k->min || v > k->max) {
		format_size(lo, sizeof(lo), k->min);
		format_size(hi, sizeof(hi), k->max);
		errorf(err, errlen, "%s: %s: expected a size in %s..%s "
		       "(bytes, or with suffix k, m or g), got '%s'",
		       where, k->name, lo, hi, value);
		return -1;
	}
	*(size_t *)field(cfg, k) = (size_t)v;
	return 0;
}

static int set_bool(struct config *cfg, const struct key *k, const char *value,
		    const char *where, char *err, size_t errlen)
{
	if (parse_bool(value, (bool *)field(cfg, k)) < 0) {
		errorf(err, errlen, "%s: %s: expected true/false, on/off, "
		       "yes/no or 1/0, got '%s'", where, k->name, value);
		return -1;
	}
	return 0;
}

/* "0", "250ms", "5s", "5m", "2h", "5d" or bare seconds, up to 30 days. */
static int parse_duration(const char *s, size_t n, long long *ms)
{
	static const struct { const char *u; long long ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "", 1000 },
	};
	size_t digits = 0;
	long long v = 0;

	while (digits < n && isdigit((unsigned char)s[digits]) && digits < 9)
		v = v * 10 + (s[digits++] - '0');
	if (digits == 0)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n - digits == strlen(units[i].u) &&
		    memcmp(s + digits, units[i].u, n - digits) == 0) {
			*ms = v * units[i].ms;
			return *ms <= 30LL * 86400000 ? 0 : -1;
		}
	}
	return -1;
}

int config_durations(const char *list, long long *ms, int max)
{
	const char *p = list;
	int n = 0;

	for (;;) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, ",");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (n == max || parse_duration(p, len, &ms[n]) < 0)
			return -1;
		n++;
		p += strcspn(p, ",");
		if (*p == '\0')
			return n;
		p++;
	}
}

static int check_typed(const struct key *k, const char *value,
		       const char *where, char *err, size_t errlen)
{
	long long ms[CONFIG_DURATIONS_MAX];
	struct ssrf_allow allow;
	char why[160];

	if (k->type == T_DURATIONS &&
	    config_durations(value, ms, CONFIG_DURATIONS_MAX) < 0) {
		errorf(err, errlen, "%s: %s: expected 1..%d comma-separated "
		       "durations such as 0, 500ms, 5s, 5m, 2h, 1d (each at "
		       "most 30d), got '%s'", where, k->name,
		       CONFIG_DURATIONS_MAX, value);
		return -1;
	}
	if (k->type == T_CIDRS) {
		if (ssrf_allow_parse(value, &allow, why, sizeof(why)) < 0) {
			errorf(err, errlen, "%s: %s: %s", where, k->name, why);
			return -1;
		}
		ssrf_allow_free(&allow);
	}
	return 0;
}

static int set_str(struct config *cfg, const struct key *k, const char *value,
		   const char *where, char *err, size_t errlen)
{
	if (check_typed(k, value, where, err, errlen) < 0)
		return -1;
	if (k->type == T_LOG_LEVEL && !is_level(value)) {
		errorf(err, errlen, "%s: %s: expected debug, info, warn or "
		       "error, got '%s'", where, k->name, value);
		return -1;
	}
	if (strlen(value) < (size_t)k->min) {
		errorf(err, errlen, "%s: %s: must not be empty", where,
		       k->name);
		return -1;
	}
	if (set_string((char **)field(cfg, k), value) < 0) {
		errorf(err, errlen, "%s: %s: out of memory", where, k->name);
		return -1;
	}
	return 0;
}

int config_set(struct config *cfg, const char *key, const char *value,
	       const char *where, char *err, size_t errlen)
{
	const struct key *k = find_key(key);

	if (!k) {
		errorf(err, errlen, "%s: unknown key '%s'", where, key);
		return -1;
	}
	switch (k->type) {
	case T_INT:
		return set_int(cfg, k, value, where, err, errlen);
	case T_SIZE:
		return set_size(cfg, k, value, where, err, errlen);
	case T_BOOL:
		return set_bool(cfg, k, value, where, err, errlen);
	case T_STRING:
	case T_LOG_LEVEL:
	case T_DURATIONS:
	case T_CIDRS:
		return set_str(cfg, k, value, where, err, errlen);
	}
	return -1;
}

/* The struct may hold garbage on entry, so it is zeroed rather than freed
 * (config_free it first to reuse one that holds strings). The defaults are
 * parsed through config_set so they obey the same rules as user input; the
 * only way that can fail is running out of memory at startup, where there
 * is nothing sensible to continue with. */
void config_defaults(struct config *cfg)
{
	char err[256];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NKEYS; i++) {
		if (config_set(cfg, keys[i].name, keys[i].def, "default",
			       err, sizeof(err)) < 0) {
			fprintf(stderr, "webhookd: %s\n", err);
			abort();
		}
	}
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* The value part of a line: everything after '='. A quoted value runs to
 * the next '"' and keeps spaces and '#'; otherwise a '#' preceded by a blank
 * starts a comment, so paths like a#b survive. Returns NULL with *why set
 * on a malformed value. */
static char *parse_value(char *v, const char **why)
{
	char *p = v + strspn(v, " \t");

	if (*p == '"') {
		char *q = strchr(p + 1, '"');

		if (!q) {
			*why = "unterminated quoted value";
			return NULL;
		}
		*q++ = '\0';
		q += strspn(q, " \t");
		if (*q != '\0' && *q != '#') {
			*why = "unexpected text after closing quote";
			return NULL;
		}
		return p + 1;
	}
	for (p = v; *p; p++) {
		if (*p == '#' && p > v && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	return trim(v);
}

/* One line, modified in place. Returns 0 with *key NULL for a blank or
 * comment line, 0 with key/value set, or -1 with *why set. */
static int parse_line(char *line, char **key, char **value, const char **why)
{
	char *s = trim(line), *eq;

	*key = NULL;
	if (*s == '\0' || *s == '#')
		return 0;
	eq = strchr(s, '=');
	if (!eq) {
		*why = "expected 'key = value'";
		return -1;
	}
	*eq = '\0';
	*key = trim(s);
	if (**key == '\0') {
		*why = "missing key before '='";
		return -1;
	}
	*value = parse_value(eq + 1, why);
	return *value ? 0 : -1;
}

static int load_lines(struct config *cfg, FILE *f, const char *path,
		      char *where, size_t wherelen, char *err, size_t errlen)
{
	char *line = NULL, *key, *value;
	size_t cap = 0;
	unsigned long lineno = 0;
	const char *why;
	int rc = 0;

	while (rc == 0 && getline(&line, &cap, f) >= 0) {
		snprintf(where, wherelen, "%s:%lu", path, ++lineno);
		if (parse_line(line, &key, &value, &why) < 0) {
			errorf(err, errlen, "%s: %s", where, why);
			rc = -1;
		} else if (key) {
			rc = config_set(cfg, key, value, where, err, errlen);
		}
	}
	if (rc == 0 && ferror(f)) {
		errorf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	return rc;
}

static int load_file(struct config *cfg, const char *path,
		     char *err, size_t errlen)
{
	size_t wherelen = strlen(path) + 32;
	char *where;
	FILE *f;
	int rc;

	f = fopen(path, "r");
	if (!f) {
		errorf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	where = malloc(wherelen);
	if (!where) {
		fclose(f);
		errorf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	rc = load_lines(cfg, f, path, where, wherelen, err, errlen);
	free(where);
	fclose(f);
	return rc;
}

#define ENV_PREFIX "WEBHOOKD_"

/* WEBHOOKD_ variables that are not keys and belong to the caller:
 * CONFIG names this file, MASTER_KEY carries the keyring text itself
 * (secrets_load_text). Matched exactly, so a misspelt WEBHOOKD_config is
 * reported as an unknown key rather than silently ignored. */
static const char *const env_reserved[] = { "CONFIG", "MASTER_KEY" };

static bool is_reserved(const char *name, size_t len)
{
	size_t n = sizeof(env_reserved) / sizeof(env_reserved[0]);

	for (size_t i = 0; i < n; i++)
		if (strlen(env_reserved[i]) == len &&
		    memcmp(name, env_reserved[i], len) == 0)
			return true;
	return false;
}

/* One environ entry "WEBHOOKD_NAME=value"; NAME lower-cased is the key. */
static int load_env_entry(struct config *cfg, const char *entry,
			  char *err, size_t errlen)
{
	const char *name = entry + strlen(ENV_PREFIX);
	const char *eq = strchr(name, '=');
	char *key, *where;
	size_t wlen;
	int rc = -1;

	if (!eq || is_reserved(name, (size_t)(eq - name)))
		return 0;
	wlen = strlen("environment ") + (size_t)(eq - entry) + 1;
	key = strndup(name, (size_t)(eq - name));
	where = malloc(wlen);
	if (key && where) {
		for (char *p = key; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(where, wlen, "environment %.*s", (int)(eq - entry),
			 entry);
		rc = config_set(cfg, key, eq + 1, where, err, errlen);
	} else {
		errorf(err, errlen, "environment: out of memory");
	}
	free(key);
	free(where);
	return rc;
}

static int load_env(struct config *cfg, char *err, size_t errlen)
{
	size_t plen = strlen(ENV_PREFIX);

	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, ENV_PREFIX, plen) != 0)
			continue;
		if (load_env_entry(cfg, *e, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Relations between keys, checked once every source has been applied so
 * that the order of lines or variables never matters. */
static int cross_check(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->db_reconnect_min_ms > cfg->db_reconnect_max_ms) {
		errorf(err, errlen, "configuration: db_reconnect_min_ms (%d) "
		       "must not exceed db_reconnect_max_ms (%d)",
		       cfg->db_reconnect_min_ms, cfg->db_reconnect_max_ms);
		return -1;
	}
	return 0;
}

/* The caller fills cfg with config_defaults() first; this only overlays the
 * file and then the environment, so the environment wins. On error cfg may
 * be partly updated but every string in it is still owned and valid, so
 * config_free() is always the right cleanup. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
	if (path && load_file(cfg, path, err, errlen) < 0)
		return -1;
	if (load_env(cfg, err, errlen) < 0)
		return -1;
	return cross_check(cfg, err, errlen);
}

/* Quote whatever the parser would otherwise split, strip or misread. */
static bool needs_quotes(const char *s)
{
	return *s == '\0' || *s == '"' || strpbrk(s, " \t#") != NULL;
}

/* One value as the file syntax would spell it; buf backs the numeric cases. */
static const char *format_value(const struct config *cfg, const struct key *k,
				char *buf, size_t len)
{
	const void *p = cfield(cfg, k);
	const char *s;

	switch (k->type) {
	case T_INT:
		snprintf(buf, len, "%d", *(const int *)p);
		return buf;
	case T_BOOL:
		return *(const bool *)p ? "true" : "false";
	case T_SIZE:
		format_size(buf, len, (long long)*(const size_t *)p);
		return buf;
	case T_STRING:
	case T_LOG_LEVEL:
	case T_DURATIONS:
	case T_CIDRS:
		s = *(char *const *)p;
		return s ? s : "";
	}
	return "";
}

void config_dump(const struct config *cfg, void *stream)
{
	FILE *f = stream;
	char buf[32];

	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *v = format_value(cfg, k, buf, sizeof(buf));
		const char *q = "";

		if (k->type != T_INT && k->type != T_BOOL && k->type != T_SIZE)
			q = needs_quotes(v) ? "\"" : "";
		fprintf(f, "%s = %s%s%s\n", k->name, q, v, q);
	}
}

/* Safe to call twice, and on a config that failed to load. */
void config_free(struct config *cfg)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type != T_INT && keys[i].type != T_BOOL &&
		    keys[i].type != T_SIZE) {
			char **slot = field(cfg, &keys[i]);

			free(*slot);
			*slot = NULL;
		}
	}
}
