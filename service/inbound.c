/* inbound — see inbound.h.
 *
 * Two statements on the worker's pool, never blocking the loop: one loads
 * the active source by its code; after verification (verify.c, pure) and
 * the JSON check, one statement commits the inbound_request row with the
 * body and the event's id, integration object and action. The dispatcher
 * makes the event from it (dispatch.c, in its fan-out transaction), so the
 * request writes one row and answers at once.
 *
 * De-duplication: when the sender names its event (the source's idPath in
 * the body, else a Standard Webhooks webhook-id), the event id is derived
 * from (source code, sender id), so a replay conflicts on the row's unique
 * event_id (and the event's id). It holds for as long as the request is kept
 * (event_retention_s). Without a sender id the event id is random and every
 * request is a new event.
 *
 * A refused request stores nothing and learns nothing: 401 with the same
 * message whatever failed (the reason goes to the log). */
#include "inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "secrets.h"
#include "server.h"
#include "uri.h"
#include "verify.h"

#define PREFIX         "/inbound/"
#define CODE_MAX       255
#define SENDER_ID_MAX  255
#define EVENT_ID_LEN   (4 + 64)          /* "inb_" + hex of SHA-256 */
#define SECRET_AAD     "inbound_source.secret"
#define MAX_SAFE_INT   9007199254740992.0  /* 2^53: integers a double holds exactly */

static const char load_sql[] =
	"SELECT s.action, s.verification, s.secret, s.header_name, s.encoding, s.id_path, i.code"
	" FROM webhookd.inbound_source s"
	" JOIN webhookd.integration_object i ON i.pk = s.integration_object_pk"
	" WHERE s.code = $1 AND s.active";
enum { L_ACTION, L_VERIFICATION, L_SECRET, L_HEADER, L_ENCODING, L_ID_PATH, L_IO };

/* The request alone: one row, the body kept until the dispatcher makes the
 * event (dispatch.c). A replay of a sender id conflicts on the unique
 * event_id and is logged as a duplicate instead. */
static const char store_sql[] =
	"WITH ins AS (INSERT INTO webhookd.inbound_request (source, verified, sender_id,"
	"  duplicate, status, integration_message_id, path, event_id, integration_object,"
	"  action, body, processed)"
	"  VALUES ($6, true, $4, false, 200, $7, $8, $1, $2, $3, $5::json, false)"
	"  ON CONFLICT (event_id) WHERE NOT duplicate DO NOTHING RETURNING id, false),"
	" dup AS (INSERT INTO webhookd.inbound_request (source, verified, sender_id, duplicate,"
	"  status, integration_message_id, path, event_id, processed)"
	"  SELECT $6, true, $4, true, 200, $7, $8, $1, false"
	"  WHERE NOT EXISTS (SELECT 1 FROM ins) RETURNING id, true)"
	" SELECT * FROM ins UNION ALL SELECT * FROM dup";

struct inbound {
	struct http_request *req;
	char code[CODE_MAX + 1];
	char event_id[EVENT_ID_LEN + 1];
};

/* ---- the request ------------------------------------------------------------ */

/* The decoded code of "/inbound/<code>" into out; -1 for any other shape. */
static int
path_code(const char *path, char *out)
{
	const char *s;
	char *d;
	size_t n;
	int rc = -1;

	if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
		return -1;
	s = path + strlen(PREFIX);
	if (strchr(s, '/') != NULL)
		return -1;
	n = strlen(s);
	if (n == 0 || n > 3 * CODE_MAX || (d = odata_uri_decode(s, n, false)) == NULL)
		return -1;
	if (*d != '\0' && strlen(d) <= CODE_MAX) {
		memcpy(out, d, strlen(d) + 1);
		rc = 0;
	}
	free(d);
	return rc;
}

/* The decoded value of the first "apikey" query parameter (malloc'd), or NULL. */
static char *
query_apikey(const char *query)
{
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n > 7 && strncmp(p, "apikey=", 7) == 0)
			return odata_uri_decode(p + 7, n - 7, true);
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static const char *
body_bytes(struct http_request *req, size_t *len)
{
	*len = evbuffer_get_length(req->body);
	return *len ? (const char *)evbuffer_pullup(req->body, -1) : "";
}

/* ---- the sender's event id ------------------------------------------------------ */

/* The value at a dotted path ("data.id", "events.0.id": digits index an
 * array), or NULL. */
static json_t *
value_at(json_t *v, const char *path)
{
	char seg[CODE_MAX + 1];

	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, path, n);
		seg[n] = '\0';
		if (json_is_array(v) && n <= 9 && strspn(seg, "0123456789") == n)
			v = json_array_get(v, strtoul(seg, NULL, 10));
		else
			v = json_object_get(v, seg);
		path += n + (path[n] == '.');
	}
	return v;
}

static bool
printable(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SENDER_ID_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* The sender id as text into out: 0, 1 when there is none, -1 when the
 * body holds one that cannot be used (it would be the event's subject,
 * sent as a header). */
static int
sender_id(json_t *root, const char *id_path, const char *webhook_id, char *out, size_t size)
{
	json_t *v = id_path ? value_at(root, id_path) : NULL;
	double d;

	if (v == NULL || json_is_null(v)) {
		if (webhook_id == NULL)
			return 1;
		snprintf(out, size, "%s", webhook_id);
		return printable(webhook_id) ? 0 : -1;
	}
	if (json_is_string(v)) {
		snprintf(out, size, "%s", json_string_value(v));
		return printable(json_string_value(v)) && json_string_length(v) < size ? 0 : -1;
	}
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (d > MAX_SAFE_INT || d < -MAX_SAFE_INT || d != (double)(long long)d)
		return -1;
	snprintf(out, size, "%lld", (long long)d);
	return 0;
}

/* "inb_" + hex: of SHA-256(code NUL sender id) (codes hold no NUL), or of
 * random bytes when there is no sender id. */
static int
event_id(const char *code, const char *sender, char out[EVENT_ID_LEN + 1])
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t len = 16, i;
	EVP_MD_CTX *ctx;
	int ok;

	if (sender == NULL) {
		ok = RAND_bytes(md, 16) == 1;
	} else {
		len = sizeof(md);
		ok = (ctx = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestUpdate(ctx, code, strlen(code) + 1) == 1 &&
		    EVP_DigestUpdate(ctx, sender, strlen(sender)) == 1 &&
		    EVP_DigestFinal_ex(ctx, md, &n) == 1;
		EVP_MD_CTX_free(ctx);
	}
	if (!ok)
		return -1;
	memcpy(out, "inb_", 4);
	for (i = 0; i < len; i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* ---- storing ------------------------------------------------------------------- */

static void
stored(void *arg, const struct db_result *r)
{
	struct inbound *in = arg;
	bool dup;
	json_t *answer;
	char *text;

	if (r->status != DB_OK || PQntuples(r->res) != 1) {
		log_msg(LOG_WARN, "inbound: %s: %s", in->code, r->message ? r->message : "database unavailable");
		if (r->status == DB_SQL_ERROR && strncmp(r->sqlstate, "22", 2) == 0)
			http_reply_error(in->req, 400, "malformed_payload",
			    "The body holds a value the database cannot store.", NULL);
		else
			http_reply_unavailable(in->req, NULL);
		return;
	}
	dup = PQgetvalue(r->res, 0, 1)[0] == 't';
	metrics_count(dup ? "inbound_duplicates" : "inbound_accepted");
	if (!dup)
		server_events_committed(in->req->worker);
	answer = json_pack("{s:s, s:s, s:b}", "id", PQgetvalue(r->res, 0, 0),
	    "eventId", in->event_id, "duplicate", dup);
	text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
	json_decref(answer);
	if (text)
		http_reply_text(in->req, 200, "application/json", text);
	else
		http_reply_unavailable(in->req, NULL);
	free(text);
}

/* After verification: the body must be a JSON object; then one statement. */
static void
store(struct inbound *in, const PGresult *src)
{
	struct http_request *req = in->req;
	const char *id_path = PQgetisnull(src, 0, L_ID_PATH) ? NULL : PQgetvalue(src, 0, L_ID_PATH);
	const char *body, *params[8];
	char sender[SENDER_ID_MAX + 1];
	size_t len;
	json_t *root;
	int has;

	body = body_bytes(req, &len);
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, NULL);
	if (!json_is_object(root)) {
		http_reply_error(req, 400, "malformed_payload", "The body must be a JSON object.", NULL);
		goto done;
	}
	has = sender_id(root, id_path, verify_mode_parse(PQgetvalue(src, 0, L_VERIFICATION)) ==
	    VERIFY_STANDARD_WEBHOOKS ? http_header(req, "webhook-id") : NULL, sender, sizeof(sender));
	if (has < 0) {
		http_reply_error(req, 400, "malformed_payload", "The sender's event id must be a "
		    "string of 1 to 255 printable characters or an integer.", NULL);
		goto done;
	}
	/* libpq wants a C string; jansson refused any NUL in the body */
	if (event_id(in->code, has == 0 ? sender : NULL, in->event_id) < 0 ||
	    evbuffer_add(req->body, "", 1) < 0) {
		http_reply_unavailable(req, NULL);
		goto done;
	}
	params[0] = in->event_id;
	params[1] = PQgetvalue(src, 0, L_IO);
	params[2] = PQgetvalue(src, 0, L_ACTION);
	params[3] = has == 0 ? sender : NULL;
	params[4] = (const char *)evbuffer_pullup(req->body, -1);
	params[5] = in->code;
	params[6] = req->message_id;
	params[7] = req->path;
	if (db_query(req->worker->db, store_sql, 8, params, stored, in) < 0)
		http_reply_unavailable(req, NULL);
done:
	json_decref(root);
}

/* ---- verifying ------------------------------------------------------------------ */

static enum verify_result
check(struct http_request *req, const PGresult *src, int mode, const char *secret, size_t slen)
{
	const char *hdr = PQgetisnull(src, 0, L_HEADER) ? verify_default_header(mode) :
	    PQgetvalue(src, 0, L_HEADER);
	struct verify_input vi = {
		.header = hdr ? http_header(req, hdr) : NULL,
		.authorization = http_header(req, "Authorization"),
		.wh_id = http_header(req, "webhook-id"),
		.wh_timestamp = http_header(req, "webhook-timestamp"),
		.wh_signature = http_header(req, "webhook-signature"),
		.now = (long long)time(NULL),
		.tolerance_s = req->worker->srv->cfg->inbound_tolerance_s,
	};
	enum verify_encoding enc = strcmp(PQgetvalue(src, 0, L_ENCODING), "base64") == 0 ?
	    VERIFY_BASE64 : VERIFY_HEX;
	char *apikey = mode == VERIFY_API_KEY ? query_apikey(req->query) : NULL;
	enum verify_result r;

	vi.query_key = apikey;
	vi.body = body_bytes(req, &vi.body_len);
	r = verify_request((enum verify_mode)mode, secret, slen, enc, &vi);
	if (apikey)
		OPENSSL_clear_free(apikey, strlen(apikey));
	return r;
}

static void
loaded(void *arg, const struct db_result *r)
{
	struct inbound *in = arg;
	struct http_request *req = in->req;
	const PGresult *src = r->res;
	int mode;
	char *secret = NULL;
	size_t slen = 0;
	enum verify_result vr;

	if (r->status != DB_OK) {
		http_reply_unavailable(req, NULL);
		return;
	}
	if (PQntuples(src) != 1) {
		http_reply_error(req, 404, "not_found", "No active inbound source has this code.", NULL);
		return;
	}
	mode = verify_mode_parse(PQgetvalue(src, 0, L_VERIFICATION));
	if (mode < 0 || PQgetisnull(src, 0, L_SECRET) ||
	    (secret = secrets_decrypt(req->worker->srv->secrets, SECRET_AAD,
	    PQgetvalue(src, 0, L_SECRET), &slen)) == NULL) {
		log_msg(LOG_ERROR, "inbound: source %s: its secret cannot be decrypted "
		    "with the master key ring", in->code);
		http_reply_unavailable(req, NULL);
		return;
	}
	vr = check(req, src, mode, secret, slen);
	OPENSSL_clear_free(secret, slen);
	if (vr != VERIFY_OK) {
		metrics_count("inbound_rejected");
		log_msg(vr == VERIFY_BAD_SECRET ? LOG_ERROR : LOG_INFO,
		    "inbound: source %s: request refused (%s)", in->code, verify_result_name(vr));
		http_reply_error(req, 401, "unauthorized", "The request could not be verified.", NULL);
		return;
	}
	store(in, src);
}

void
inbound_handle(struct http_request *req)
{
	struct inbound *in = calloc(1, sizeof(*in));
	const char *p[1];

	if (in == NULL) {
		http_reply_unavailable(req, NULL);
		return;
	}
	in->req = req;
	req->ctx = in;
	req->ctx_free = free;
	if (path_code(req->path, in->code) < 0) {
		http_reply_error(req, 404, "not_found", "Use POST /inbound/{sourceCode}.", NULL);
		return;
	}
	p[0] = in->code;
	if (db_query(req->worker->db, load_sql, 1, p, loaded, in) < 0)
		http_reply_unavailable(req, NULL);
}
