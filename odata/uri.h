/* uri — OData V2 resource paths and system query options: syntax only.
 *
 * Pure C, no I/O, no knowledge of the entity model: set, navigation and
 * property names come back as text and the caller resolves them against the
 * model (an unknown name is its 404). $filter is only extracted here, as
 * decoded text for odata_filter_parse().
 *
 * Resource path (odata_uri_parse_path). The caller passes the path after the
 * service base, still percent-encoded. It is percent-decoded exactly once
 * (RFC 3986: '+' stays '+'), then split on '/' -- except a '/' inside a
 * quoted part of a key predicate, "('...')" with '' for a quote, which does
 * not split. So "%7C" reaches the key as a '|' separator and "%257C" as the
 * text "%7C", which odata_key_split() later form-decodes to a '|' inside one
 * value. Shapes, each with one optional trailing '/':
 *
 *   "" or "/"                         SERVICE
 *   /$metadata                        METADATA
 *   /$batch                           BATCH
 *   /Set  /Set/$count                 SET (count)
 *   /Set(p)  /Set(p)/nav  /Set(p)/nav/$count      SET (has_key, nav, count)
 *   /$id  /$id/nav                    CONTENT_ID (a $batch changeset
 *                                     reference; id is [A-Za-z0-9._-]{1,128}
 *                                     other than metadata, batch, count,
 *                                     value, links)
 *
 * Set and navigation names are identifiers [A-Za-z_][A-Za-z0-9_]* of at most
 * ODATA_URI_MAX_IDENT bytes. p is the text odata_key_predicate_named()
 * accepts: 'k' or name='k' for any identifier name (integrationKey='k',
 * id='k'); the caller checks the name against the entity type's key name
 * (odata_model_key_name) once it knows the type. Errors, by kind (what the
 * server answers):
 *   MALFORMED (400): a bad or truncated % escape, a decoded NUL, invalid
 *     UTF-8 after decoding, a path not starting with '/', an empty segment
 *     ("//"), a predicate without its ')', text after the ')', a path longer
 *     than ODATA_URI_MAX_PATH;
 *   INVALID_KEY (400 invalid_key): odata_key_predicate_named() refused the text
 *     between the parentheses; err->key holds that text so the caller can
 *     build SAP's message with the type name it knows;
 *   UNSUPPORTED (404 not_found): a segment that cannot name anything served
 *     here -- not an identifier, an unknown $ segment, a key on a navigation
 *     or on $metadata, navigation without a key, /Set(p)/$count, $value,
 *     $links, or anything deeper than the shapes above. The message names
 *     the segment.
 *
 * System query options (odata_options_parse). raw_query is the text after
 * '?' (NULL or "" for none), at most ODATA_URI_MAX_QUERY bytes. It is split
 * on '&', each pair on its first '='; name and value are then decoded as
 * application/x-www-form-urlencoded ('+' is a space, %XX a byte, hex in
 * either case). A bad escape, a NUL or invalid UTF-8 is an error. Empty
 * pairs ("a&&b", a trailing '&') and pairs with an empty name are skipped.
 * Names starting with '$' must be one of the nine below, each at most once
 * (case matters: $Top is unknown); other names are custom options, kept in
 * order (at most ODATA_URI_MAX_ITEMS) for __next links and otherwise
 * ignored.
 *   $filter       decoded text, unparsed (may be empty: the filter parser
 *                 rejects that with its own position)
 *   $top $skip    [0-9]+, value <= 2147483647, no sign, no blanks
 *   $skiptoken    the same rule (webhookd's skiptoken is the row offset);
 *                 text and value kept. $skip and $skiptoken may both appear:
 *                 the caller decides how they combine.
 *   $inlinecount  exactly "allpages" or "none"
 *   $format       "json" or "application/json", any case; anything else
 *                 (xml, atom, "") is UNSUPPORTED_FORMAT (415)
 *   $orderby      item (',' item)*, item = path (' '+ ('asc'|'desc'))?
 *                 with asc/desc in any case
 *   $expand       path (',' path)*
 *   $select       item (',' item)*, item = '*' | path | path '/' '*'
 * where path = identifier ('/' identifier)*, at most ODATA_URI_MAX_SEGMENTS
 * segments, and spaces (only ' ', i.e. '+' or %20) are allowed before and
 * after every item. An empty item, a trailing comma, an unknown direction:
 * MALFORMED (400 invalid_query). A list holds at most ODATA_URI_MAX_ITEMS
 * items.
 *
 * err->pos is a 0-based byte offset: into the raw text for encoding errors
 * (% escapes, NUL, UTF-8, limits, unknown or repeated names), into the
 * decoded path for path syntax errors, and into the decoded option value
 * for an option value's syntax. Messages are English sentences naming the
 * option and the position, quote at most ODATA_URI_MAX_ECHO bytes of user
 * text cut at a UTF-8 character boundary, and are always valid UTF-8.
 *
 * Both parsers return 0, or -1 with *err filled (err may be NULL); on -1
 * *out holds nothing to free. Free a successful result with the matching
 * _free function, which also accepts a zeroed or already-freed struct. */
#ifndef WEBHOOKD_ODATA_URI_H
#define WEBHOOKD_ODATA_URI_H

#include <stdbool.h>
#include <stddef.h>

#define ODATA_URI_MAX_PATH     65536	/* bytes of the raw resource path */
#define ODATA_URI_MAX_QUERY    65536	/* bytes of the raw query string */
#define ODATA_URI_MAX_ITEMS    64	/* items of one list option; custom options */
#define ODATA_URI_MAX_SEGMENTS 8	/* segments of one option path */
#define ODATA_URI_MAX_IDENT    128	/* bytes of an identifier or a Content-ID */
#define ODATA_URI_MAX_ECHO     64	/* bytes of user text quoted in a message */

enum odata_uri_errkind {
	ODATA_URI_MALFORMED,		/* 400 invalid_query (bad request for a path) */
	ODATA_URI_INVALID_KEY,		/* 400 invalid_key */
	ODATA_URI_UNSUPPORTED,		/* 404: the path names nothing served */
	ODATA_URI_UNSUPPORTED_FORMAT,	/* 415: $format other than JSON */
	ODATA_URI_NOMEM,		/* out of memory: 500/503 */
};

struct odata_uri_error {
	enum odata_uri_errkind kind;
	size_t pos;		/* see above */
	char option[16];	/* "$orderby"...; "" for path and other errors */
	char message[200];	/* NUL-terminated English sentence */
	char key[256];		/* INVALID_KEY only: the predicate text as it
				 * stood between the parentheses (decoded once),
				 * cut at 255 bytes on a UTF-8 boundary; else "" */
};

/* ---- resource path ---------------------------------------------------- */

enum odata_path_kind {
	ODATA_PATH_SERVICE,
	ODATA_PATH_METADATA,
	ODATA_PATH_BATCH,
	ODATA_PATH_SET,
	ODATA_PATH_CONTENT_ID,
};

struct odata_path {
	enum odata_path_kind kind;
	char *set;		/* SET: the entity set name; else NULL */
	bool has_key;		/* SET: a key predicate was given */
	char *key;		/* has_key: the key text from odata_key_predicate_named()
				 * (decoded once, '' unescaped; not yet split) */
	char *key_name;		/* has_key: the property named in name='k', or
				 * NULL for the bare form 'k' */
	char *nav;		/* navigation name (SET with key, CONTENT_ID) or NULL */
	bool count;		/* ends in /$count (SET only) */
	char *content_id;	/* CONTENT_ID: the text after '$', e.g. "1" */
};

int odata_uri_parse_path(const char *raw, struct odata_path *out, struct odata_uri_error *err);

/* Percent-decodes s[0..n) (form: '+' is a space, as in a query string)
 * into a malloc'd string, by the rules the parsers above use: NULL on a
 * malformed escape, a NUL byte, invalid UTF-8 after decoding, or no
 * memory. For callers outside OData (service/api.c) with path segments
 * and query values of their own. */
char *odata_uri_decode(const char *s, size_t n, bool form);

/* Frees and zeroes *p; p may be NULL. */
void odata_path_free(struct odata_path *p);

/* ---- system query options --------------------------------------------- */

enum odata_inlinecount {
	ODATA_INLINECOUNT_UNSET,	/* $inlinecount absent */
	ODATA_INLINECOUNT_NONE,
	ODATA_INLINECOUNT_ALLPAGES,
};

/* One item of $orderby, $expand or $select. */
struct odata_option_path {
	const char *segs[ODATA_URI_MAX_SEGMENTS];	/* NUL-terminated identifiers */
	size_t nsegs;		/* 1..8; 0 only for a bare '*' in $select */
	bool star;		/* $select: '*' alone (nsegs 0) or path '/' '*' */
	bool desc;		/* $orderby: 'desc' given (else ascending) */
};

struct odata_option_list {
	char *text;		/* the decoded value as given; NULL: option absent */
	struct odata_option_path *items;
	size_t n;		/* 1..ODATA_URI_MAX_ITEMS when text != NULL */
	char *store;		/* private: the storage segs point into */
};

struct odata_custom_option {
	char *name;		/* decoded, non-empty, not starting with '$' */
	char *value;		/* decoded; "" when there was no '=' */
};

struct odata_options {
	char *filter;		/* decoded $filter text; NULL: absent */
	size_t filter_len;	/* == strlen(filter): NUL is rejected */
	bool has_top, has_skip, has_skiptoken;
	long top, skip;		/* 0..2147483647 when present */
	char *skiptoken;	/* the decoded $skiptoken text, when present */
	long skiptoken_value;	/* its value */
	struct odata_option_list orderby, expand, select;
	enum odata_inlinecount inlinecount;
	char *format;		/* decoded $format ("json" or "application/json",
				 * as spelled); NULL: absent */
	struct odata_custom_option *custom;	/* in query order */
	size_t ncustom;
};

int odata_options_parse(const char *raw_query, struct odata_options *out,
    struct odata_uri_error *err);

/* Frees and zeroes *o; o may be NULL. */
void odata_options_free(struct odata_options *o);

/* The query string (without '?') of a __next link: $filter, $orderby,
 * $expand, $select, $inlinecount, $format and the custom options as parsed,
 * in that order, then $top=<top_or_minus1> when top_or_minus1 >= 0 and
 * $skiptoken=<skiptoken> when skiptoken >= 0. $skip, and the $top and
 * $skiptoken of the request, are dropped. Names and values are
 * percent-encoded (upper-case hex, space as %20) except A-Z a-z 0-9 - . _ ~
 * and $ ' ( ) , / * :, so the result parses back to the same options.
 * Values above 2147483647 would not parse back: the caller keeps within
 * that. Returns malloc'd text ("" when nothing is left), or NULL when o is
 * NULL or out of memory. */
char *odata_options_encode_next(const struct odata_options *o, long skiptoken, long top_or_minus1);

#endif
