/* odata/filter_eval: $filter AST evaluated over a JSON payload. Each row is
 * a payload (NULL: the shared one below), a $filter text and the expected
 * TRUE / FALSE / ERROR (with a substring of the message), or PARSE for
 * texts the parser refuses (listed only to document where that line runs). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "filter.h"
#include "filter_eval.h"

#define COUNT(a)	(sizeof(a) / sizeof((a)[0]))

static const char payload_json[] =
    "{\"id\": \"e1\", \"type\": \"order.created\", \"active\": true, \"flag\": false,"
    " \"nothing\": null, \"nullbool\": null, \"qty\": 5, \"neg\": -7, \"zero\": 0,"
    " \"zerod\": 0.0, \"big\": 9223372036854775807, \"small\": -9223372036854775808,"
    " \"price\": 19.99, \"ratio\": 0.5, \"name\": \"O'Brien\", \"empty\": \"\","
    " \"uni\": \"héllo wörld\", \"emoji\": \"😀x\", \"spaces\": \"  a b  \","
    " \"tabs\": \"\\ta\\t\", \"nul\": \"a\\u0000b\","
    " \"when\": \"2024-01-31T10:00:00Z\", \"whenoff\": \"2024-01-31T12:30:00+02:30\","
    " \"whenlocal\": \"2024-01-31T10:00:00\", \"date\": \"2024-02-29\","
    " \"notdate\": \"yesterday\", \"uid\": \"01234567-89AB-cdef-0123-456789abcdef\","
    " \"order\": {\"customer\": {\"id\": \"c1\", \"name\": \"Ann\", \"vip\": null},"
    "   \"items\": [{\"sku\": \"a\"}], \"total\": 100, \"lines\": 3},"
    " \"tags\": [\"a\", \"b\"]}";

enum want { W_FALSE, W_TRUE, W_ERROR, W_PARSE };

struct row {
	const char *payload;	/* NULL: payload_json */
	const char *filter;
	enum want want;
	const char *msg;	/* ERROR: a substring of the message */
};

#define T(f)		{ NULL, f, W_TRUE, NULL }
#define F(f)		{ NULL, f, W_FALSE, NULL }
#define E(f, m)		{ NULL, f, W_ERROR, m }
#define PT(p, f)	{ p, f, W_TRUE, NULL }
#define PF(p, f)	{ p, f, W_FALSE, NULL }
#define PE(p, f, m)	{ p, f, W_ERROR, m }
#define PARSE(f)	{ NULL, f, W_PARSE, NULL }

/* ---------------------------------------------------------------- paths */

static const struct row path_rows[] = {
	T("id eq 'e1'"),
	T("order/customer/id eq 'c1'"),
	F("order/customer/id eq 'c2'"),
	T("order/total eq 100"),
	T("order/total gt order/lines"),
	T("order/customer/missing eq null"),
	T("order/missing/deeper eq null"),
	T("missing eq null"),
	F("missing ne null"),
	T("nothing eq null"),
	T("id/sub eq null"),			/* through a string */
	T("qty/sub/more eq null"),		/* through a number */
	T("order/customer/vip eq null"),
	T("order/customer/vip/x eq null"),	/* through null */
	F("missing eq 'a'"),
	T("missing ne 'a'"),
	T("nothing ne 'x'"),
	F("missing/x eq 'a'"),
	E("order/items/sku eq 'a'",
	    "Property [order/items] is a collection and cannot be used in $filter at position 0."),
	E("tags eq null", "Property [tags] is a collection"),
	E("id eq 'x' or tags ne null", "Property [tags] is a collection and cannot be used in "
	    "$filter at position 13."),
	E("order eq null", "Property [order] is a structured value"),
	E("order/customer ne null", "Property [order/customer] is a structured value"),
	PE("[1, 2]", "a eq 1", "Property [a] is a collection"),
	PT("\"just a string\"", "a eq null"),
	PT("null", "a/b eq null"),
	PT("{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": 1}}}}}", "a/b/c/d/e eq 1"),
	PT("{\"a b\": 1, \"a\": 2}", "a eq 2"),
	PT("{\"eq\": 1}", "eq eq 1"),		/* keywords name properties */
	T("active"),
	F("flag"),
	F("nullbool"),
	F("missing"),
	F("not missing"),
	F("not nullbool"),
	T("not flag"),
	E("id", "Expected an Edm.Boolean expression, found Edm.String at position 0."),
	E("qty", "found Edm.Int64 at position 0."),
	E("'x'", "found Edm.String"),
	E("1 add 1", "Expected an Edm.Boolean expression, found Edm.Int32 at position 2."),
	E("null", "found null"),
	E("price", "found Edm.Double"),
	E("1e-308 div 1e30", "Expected an Edm.Boolean expression, found Edm.Double at position 7."),
	E("qty add 1", "Expected an Edm.Boolean expression, found Edm.Int64 at position 4."),
};

/* -------------------------------------------------------- null semantics */

static const struct row null_rows[] = {
	F("missing gt 1"),
	T("not (missing gt 1)"),
	F("missing ge 1"),
	F("missing lt 1"),
	F("missing le 1"),
	T("not (missing le 1)"),
	T("missing eq missing"),
	F("missing ne missing"),
	F("missing eq qty"),
	T("missing ne qty"),
	T("qty ne missing"),
	F("nullbool eq true"),
	T("nullbool ne true"),
	F("nullbool eq false"),
	T("null eq null"),
	F("null ne null"),
	F("null eq 1"),
	T("1 ne null"),
	T("(missing add 1) eq null"),
	T("missing add 1 eq null"),
	T("- missing eq null"),
	T("length(missing) eq null"),
	T("startswith(missing, 'a') eq false"),
	T("not startswith(missing, 'a')"),
	F("startswith(missing, 'a') eq null"),
	T("not nullbool eq null"),		/* (not nullbool) eq null */
	T("(nullbool and true) eq null"),
	F("(nullbool or true) eq null"),
	T("(nullbool and false) eq false"),
	T("nullbool or true"),
	F("nullbool or false"),
	F("nullbool and true"),
	F("not (nullbool and true)"),		/* SQL: NOT NULL is NULL */
	T("not (nullbool and false)"),
	T("(nullbool eq null) and active"),
	T("(missing gt 1) eq false"),
	E("null gt 1", "Operator 'gt' is not applicable to null and Edm.Int32 at position 5."),
	E("1 add null eq 1", "Operator 'add' is not applicable to Edm.Int32 and null at position 2."),
	E("length(null) eq 1", "Function 'length' is not applicable to null at position 0."),
	E("null and true", "Operator 'and' is not applicable to null and Edm.Boolean"),
	E("not null", "Operator 'not' is not applicable to null at position 0."),
	E("missing mul 'a' eq 1", "Operator 'mul' is not applicable to null and Edm.String"),
	E("length(missing) eq 'a'", "Operator 'eq' is not applicable to Edm.Int32 and Edm.String"),
};

/* ----------------------------------------------- operators and precedence */

static const struct row operator_rows[] = {
	T("1 eq 1 and 2 eq 2"),
	T("1 eq 1 or 1 eq 2 and 2 eq 3"),
	F("(1 eq 1 or 1 eq 2) and 2 eq 3"),
	T("1 eq 2 or 2 eq 2"),
	F("1 eq 2 or 2 eq 3"),
	E("not 1 eq 2", "Operator 'not' is not applicable to Edm.Int32 at position 0."),
	T("not (1 eq 2)"),
	T("not active eq false"),
	T("not not active"),
	T("1 add 2 mul 3 eq 7"),
	T("(1 add 2) mul 3 eq 9"),
	T("10 sub 2 sub 3 eq 5"),
	T("100 div 10 div 5 eq 2"),
	T("2 mul 3 mod 4 eq 2"),
	T("1 lt 2 eq true"),
	F("2 gt 1 eq 1 gt 2"),
	T("qty gt 4 and qty lt 6"),
	T("qty ge 5 and qty le 5"),
	F("qty gt 5"),
	F("qty lt 5"),
	T("qty ne 4"),
	T("- qty eq -5"),
	T("-(qty) eq -5"),
	T("- - qty eq 5"),
	T("-1.5M eq - 1.5M"),
	T("-(1.5) eq -1.5d"),
	T("neg mod 2 eq -1"),
	T("-7 mod 2 eq -1"),
	T("7 mod -2 eq 1"),
	T("7 div 2 eq 3"),
	T("-7 div 2 eq -3"),
	T("true eq true"),
	T("true gt false"),
	T("false lt true"),
	T("true ne false"),
	T("'abc' lt 'abd'"),
	T("'ab' lt 'abc'"),
	T("'B' lt 'a'"),			/* bytewise, C collation */
	T("'é' gt 'z'"),
	T("'abc' ge 'abc' and 'abc' le 'abc'"),
	T("name eq 'O''Brien'"),
	F("'a' eq 'A'"),
	F("active and flag"),
	T("active or flag"),
	T("active and not flag"),
	T("nul eq nul"),
	F("nul eq 'a'"),
	T("nul gt 'a'"),
};

/* ------------------------------------------------ literals and promotion */

static const struct row literal_rows[] = {
	T("12 eq 12"),
	T("12L eq 12"),
	T("1.5M eq 1.5d"),
	T("1.5 eq 1.5d"),
	T("1.5M eq 1.50M"),
	T("'O''Brien' eq name"),
	T("'''' eq concat('''', '')"),
	T("datetime'2024-01-31T10:00' eq datetime'2024-01-31T10:00:00'"),
	T("datetimeoffset'2024-01-31T10:00:00Z' eq datetime'2024-01-31T10:00'"),
	T("datetimeoffset'2024-01-31T12:00:00+02:00' eq datetimeoffset'2024-01-31T10:00:00Z'"),
	T("datetimeoffset'2024-01-31T05:00:00-05:00' eq datetimeoffset'2024-01-31T10:00:00Z'"),
	T("guid'01234567-89ab-cdef-0123-456789abcdef' eq guid'01234567-89AB-CDEF-0123-456789ABCDEF'"),
	T("2147483648 eq 2147483648L"),
	T("-2147483648 eq -2147483648L"),
	T("-9223372036854775808 lt -9223372036854775807"),
	T("1e10 eq 10000000000L"),
	T("2f eq 2"),
	T("007 eq 7"),
	F("0.1 add 0.2 eq 0.3"),		/* Double */
	T("0.1d add 0.2d eq 0.30000000000000004"),
	T("0.1M add 0.2M eq 0.3M"),		/* Decimal is exact */
	T("1 eq 1.0"),
	T("1L eq 1"),
	T("1 eq 1.0M"),
	T("qty eq 5.0"),
	T("qty eq 5M"),
	T("price eq 19.99"),
	T("price eq 19.99M"),
	T("ratio mul 2 eq 1"),
	T("qty div 2 eq 2"),
	T("qty div 2.0 eq 2.5"),
	T("qty div 2M eq 2.5M"),
	T("1M div 3M eq 0.33333333333333333333M"),
	T("10M div 3M eq 3.3333333333333333M"),
	T("2M div 3M eq 0.66666666666666666667M"),
	F("1M div 3M mul 3M eq 1M"),
	T("1M div 8M eq 0.125M"),
	T("1M div 7000M eq 0.00014285714285714286M"),
	T("1.00000000000000000000M div 3M eq 0.33333333333333333333M"),
	T("9007199254740993L eq 9007199254740992d"),
	T("big eq 9223372036854775807L"),
	T("1.000000000000000000000000000000000000000000M eq 1"),
	T("12345678901234567890.123456789M mul 2M eq 24691357802469135780.246913578M"),
	T("0.5M mul 0.5M eq 0.25M"),
	T("-1.5M add 1M eq -0.5M"),
	T("0.1M lt 0.10000000000000001M"),
	T("99999999999999999999999999999999999999M gt 9999999999999999999999999999999999999.9M"),
	T("5.5 mod 2 eq 1.5"),
	T("-5.5 mod 2 eq -1.5"),
	T("0.3 mod 0.1 eq 0"),			/* via numeric, not fmod */
	T("5.5M mod 2 eq 1.5M"),
	T("-5.5M mod 2 eq -1.5M"),
	T("9007199254740993L mod 2d eq 1"),
	T("1e300 mod 7 ge 0"),			/* too wide for 38 digits: fmod */
	T("ratio add qty eq 5.5"),
	E("'5' eq 5", "Operator 'eq' is not applicable to Edm.String and Edm.Int32 at position 4."),
	E("qty eq '5'", "Operator 'eq' is not applicable to Edm.Int64 and Edm.String at position 4."),
	E("1234567890123456789012345678901234567890M eq 0",
	    "Decimal literal has more than 38 digits at position 0."),
	E("1M div 100000000000000000000M eq 0", "Operator 'div' overflows Edm.Decimal"),
};

/* ---------------------------------------------------- arithmetic errors */

static const struct row arith_rows[] = {
	E("2147483647 add 1 eq 0", "Operator 'add' overflows Edm.Int32 at position 11."),
	T("2147483647L add 1 eq 2147483648L"),
	T("2147483647 add 1L eq 2147483648L"),
	E("-2147483648 sub 1 eq 0", "Operator 'sub' overflows Edm.Int32"),
	E("65536 mul 65536 eq 0", "Operator 'mul' overflows Edm.Int32"),
	T("65536 mul 65536L eq 4294967296L"),
	E("big add 1 eq 0", "Operator 'add' overflows Edm.Int64 at position 4."),
	E("small sub 1 eq 0", "Operator 'sub' overflows Edm.Int64"),
	E("big mul 2 eq 0", "Operator 'mul' overflows Edm.Int64"),
	E("-2147483648 div -1 eq 0", "Operator 'div' overflows Edm.Int32"),
	E("small div -1 eq 0", "Operator 'div' overflows Edm.Int64"),
	T("-2147483648 mod -1 eq 0"),
	T("small mod -1 eq 0"),
	E("- small eq 0", "Operator '-' overflows Edm.Int64 at position 0."),
	E("-(-2147483648) eq 0", "Operator '-' overflows Edm.Int32 at position 0."),
	T("-(-2147483648L) eq 2147483648L"),
	E("1 div 0 eq 0", "Division by zero at position 2."),
	E("1 mod 0 eq 0", "Division by zero at position 2."),
	E("1.5 div 0 eq 0", "Division by zero at position 4."),
	E("1.5M div 0M eq 0", "Division by zero"),
	E("1.5 mod 0 eq 1", "Division by zero"),
	E("1M mod 0 eq 0", "Division by zero"),
	E("qty div zero eq 1", "Division by zero at position 4."),
	E("qty div zerod eq 1", "Division by zero"),
	E("ratio mod 0.0 eq 1", "Division by zero"),
	E("1e308 mul 10 eq 1", "Operator 'mul' overflows Edm.Double at position 6."),
	E("1e308 add 1e308 gt 0", "Operator 'add' overflows Edm.Double"),
	E("-1e308 sub 1e308 lt 0", "Operator 'sub' overflows Edm.Double"),
	E("1e-308 mul 1e-308 eq 0", "Operator 'mul' underflows Edm.Double at position 7."),
	E("1e-308 div 1e308 eq 0", "Operator 'div' underflows Edm.Double"),
	E("1e308 div 1e-308 eq 0", "Operator 'div' overflows Edm.Double"),
	T("0 mul 1e-308 eq 0"),
	E("99999999999999999999999999999999999999M add 1M eq 0",
	    "Operator 'add' overflows Edm.Decimal at position 40."),
	E("99999999999999999999M mul 99999999999999999999M eq 0",
	    "Operator 'mul' overflows Edm.Decimal"),
	F("missing add 1 gt 0"),
	F("missing div 0 eq 1"),		/* null: no division happens */
	E("1 add 'a' eq 1", "Operator 'add' is not applicable to Edm.Int32 and Edm.String"),
	E("'a' add 1 eq 1", "Operator 'add' is not applicable to Edm.String and Edm.Int32 at "
	    "position 4."),
	E("active add 1 eq 1", "Operator 'add' is not applicable to Edm.Boolean and Edm.Int32"),
	E("- name eq 1", "Operator '-' is not applicable to Edm.String at position 0."),
	E("-(active) eq 1", "Operator '-' is not applicable to Edm.Boolean at position 0."),
	E("datetime'2024-01-31T10:00' add 1 eq 1",
	    "Operator 'add' is not applicable to Edm.DateTime and Edm.Int32"),
};

/* ------------------------------------------------------------ functions */

static const struct row string_fn_rows[] = {
	T("substringof('Bri', name)"),
	F("substringof('bri', name)"),
	T("substringof('', name)"),
	F("substringof('x', empty)"),
	T("substringof('', empty)"),
	T("substringof('wö', uni)"),
	T("substringof(name, 'xO''Brieny')"),
	F("substringof(missing, name)"),
	T("substringof('a', missing) eq false"),
	T("substringof('b', nul)"),
	T("startswith(name, 'O''')"),
	T("startswith(name, '')"),
	F("startswith(empty, 'a')"),
	T("startswith(uni, 'hé')"),
	F("startswith('ab', 'abc')"),
	T("endswith(name, 'ien')"),
	T("endswith(uni, 'örld')"),
	F("endswith('a', 'ba')"),
	T("endswith(empty, '')"),
	T("indexof(name, 'B') eq 2"),
	T("indexof(uni, 'l') eq 2"),
	T("indexof(uni, 'wö') eq 6"),
	T("indexof(name, 'z') eq -1"),
	T("indexof(name, '') eq 0"),
	T("indexof(emoji, 'x') eq 1"),
	T("indexof(missing, 'x') eq null"),
	T("indexof('aab', 'ab') eq 1"),
	T("length(name) eq 7"),
	T("length(uni) eq 11"),
	T("length(emoji) eq 2"),
	T("length(empty) eq 0"),
	T("length(nul) eq 3"),
	T("length('€') eq 1"),
	E("length(5) eq 1", "Function 'length' is not applicable to Edm.Int32 at position 0."),
	E("length(qty) eq 1", "Function 'length' is not applicable to Edm.Int64 at position 0."),
	T("tolower(name) eq 'o''brien'"),
	T("toupper(name) eq 'O''BRIEN'"),
	T("toupper(uni) eq 'HéLLO WöRLD'"),	/* ASCII only */
	T("tolower('ÀB') eq 'Àb'"),
	T("tolower(empty) eq ''"),
	T("toupper('a1-z') eq 'A1-Z'"),
	T("trim(spaces) eq 'a b'"),
	T("trim('   ') eq ''"),
	T("trim(' x ') eq 'x'"),
	T("trim(tabs) eq tabs"),		/* spaces only */
	T("trim(empty) eq ''"),
	T("concat('a', 'b') eq 'ab'"),
	T("concat(name, empty) eq name"),
	T("concat(concat(id, '-'), type) eq 'e1-order.created'"),
	T("concat(missing, 'a') eq null"),
	T("concat('é', 'ü') eq 'éü'"),
	E("concat('a', 1) eq 'a1'",
	    "Function 'concat' is not applicable to Edm.String, Edm.Int32 at position 0."),
	T("substring('hello', 1) eq 'ello'"),
	T("substring('hello', 1, 2) eq 'el'"),
	T("substring('héllo', 1, 2) eq 'él'"),
	T("substring('hello', 0, 0) eq ''"),
	T("substring('hello', 5) eq ''"),
	T("substring('hello', 10) eq ''"),
	T("substring('hello', 10, 2) eq ''"),
	T("substring('hello', -1, 3) eq 'he'"),
	T("substring('hello', -10, 3) eq ''"),
	T("substring('hello', -2) eq 'hello'"),
	T("substring('hello', 3, 100) eq 'lo'"),
	T("substring('hello', 2147483646) eq ''"),
	T("substring('hello', 0, 2147483647) eq 'hello'"),
	T("substring('hello', 1L, 2L) eq 'el'"),
	T("substring(emoji, 1) eq 'x'"),
	T("substring(emoji, 0, 1) eq '😀'"),
	T("substring(missing, 1) eq null"),
	T("substring(name, qty) eq 'en'"),
	T("substring(trim(spaces), 1) eq ' b'"),
	T("substring(tolower(name), 2, 3) eq 'bri'"),
	E("substring('hello', 1, -1) eq ''", "Negative substring length at position 0."),
	E("substring('hello', 2147483647) eq ''",
	    "Argument 2 of 'substring' is out of range at position 0."),
	E("substring(missing, 2147483647) eq null", "Argument 2 of 'substring' is out of range"),
	E("substring('hello', 1, 2147483648L) eq 'ello'", "Argument 3 of 'substring' is out of"),
	E("substring('hello', -2147483649L) eq 'hello'", "Argument 2 of 'substring' is out of"),
	E("substring('hello', 1.5) eq 'ello'",
	    "Function 'substring' is not applicable to Edm.String, Edm.Double at position 0."),
	T("replace(name, '''', '') eq 'OBrien'"),
	T("replace('aaa', 'a', 'bb') eq 'bbbbbb'"),
	T("replace('aaaa', 'aa', 'b') eq 'bb'"),
	T("replace('aaa', 'aa', 'b') eq 'ba'"),
	T("replace('abc', '', 'x') eq 'abc'"),
	T("replace('abc', 'd', 'x') eq 'abc'"),
	T("replace(uni, 'ö', 'o') eq 'héllo world'"),
	T("replace('', 'a', 'b') eq ''"),
	T("replace(missing, 'a', 'b') eq null"),
};

static const struct row date_fn_rows[] = {
	T("year(datetime'2024-01-31T10:20:30') eq 2024"),
	T("month(datetime'2024-01-31T10:20:30') eq 1"),
	T("day(datetime'2024-01-31T10:20:30') eq 31"),
	T("hour(datetime'2024-01-31T10:20:30') eq 10"),
	T("minute(datetime'2024-01-31T10:20:30') eq 20"),
	T("second(datetime'2024-01-31T10:20:30') eq 30"),
	T("second(datetime'2024-01-31T10:20:30.999') eq 30"),
	T("second(datetime'2024-01-31T10:20') eq 0"),
	T("hour(datetimeoffset'2024-01-31T10:00:00+02:00') eq 8"),
	T("day(datetimeoffset'2024-01-01T01:00:00+02:00') eq 31"),
	T("year(datetimeoffset'2024-01-01T01:00:00+02:00') eq 2023"),
	T("month(datetimeoffset'2024-02-29T23:30:00-01:00') eq 3"),
	T("year(datetimeoffset'0001-01-01T00:00:00+01:00') eq -1"),	/* 1 BC */
	T("year(datetimeoffset'9999-12-31T23:00:00-01:00') eq 10000"),
	T("day(datetime'2000-02-29T00:00') eq 29"),
	T("year(when) eq 2024"),
	T("hour(whenoff) eq 10"),
	T("minute(whenoff) eq 0"),
	T("month(date) eq 2"),
	T("day(date) eq 29"),
	T("hour(whenlocal) eq 10"),
	T("year(missing) eq null"),
	E("year(notdate) eq 2024", "Function 'year' is not applicable to Edm.String at position 0."),
	E("year('2024-01-01T00:00') eq 2024", "Function 'year' is not applicable to Edm.String"),
	E("year(qty) eq 1", "Function 'year' is not applicable to Edm.Int64"),
	E("year(substring(when, 0)) eq 2024", "Function 'year' is not applicable to Edm.String"),
	T("round(2.5d) eq 3"),
	T("round(-2.5d) eq -3"),
	T("round(2.4d) eq 2"),
	T("round(2.5M) eq 3"),
	T("round(-2.5M) eq -3M"),
	T("round(1.5M) eq 2.0M"),
	T("round(0.49999999999999994d) eq 0"),
	T("round(-0.4d) eq 0"),
	T("floor(-1.5d) eq -2"),
	T("ceiling(-1.5d) eq -1"),
	T("floor(1.5M) eq 1"),
	T("ceiling(1.1M) eq 2"),
	T("ceiling(-1.1M) eq -1"),
	T("floor(-1.1M) eq -2"),
	T("floor(2M) eq 2"),
	T("round(7) eq 7"),
	T("round(-7L) eq -7"),
	T("floor(qty) eq 5"),
	T("round(price) eq 20"),
	T("ceiling(ratio) eq 1"),
	T("round(missing) eq null"),
	E("round('a') eq 1", "Function 'round' is not applicable to Edm.String at position 0."),
	E("floor(true) eq 1", "Function 'floor' is not applicable to Edm.Boolean"),
};

/* ---------------------------------------------------- datetimes, guids */

static const struct row datetime_rows[] = {
	T("when eq datetimeoffset'2024-01-31T10:00:00Z'"),
	T("when eq datetime'2024-01-31T10:00'"),
	T("whenoff eq datetime'2024-01-31T10:00'"),
	T("whenlocal eq datetimeoffset'2024-01-31T11:00:00+01:00'"),
	T("when gt datetime'2024-01-31T09:59:59.999999'"),
	T("when lt datetime'2024-01-31T10:00:00.000001'"),
	T("when eq datetime'2024-01-31T10:00:00.0000004'"),
	T("datetime'2024-01-31T10:00' le when"),
	T("date eq datetime'2024-02-29T00:00'"),
	T("when ne datetime'2024-01-31T10:00:01'"),
	T("when eq '2024-01-31T10:00:00Z'"),	/* two strings: text */
	F("when eq whenoff"),
	T("datetime'2024-02-29T00:00' lt datetimeoffset'2024-02-29T00:00:00-01:00'"),
	/* rounded to microseconds, ties to even, as PostgreSQL reads them */
	F("datetime'2024-01-31T10:00:00.5' gt datetime'2024-01-31T10:00:00.4999999'"),
	T("datetime'2024-01-31T10:00:00.0000001' eq datetime'2024-01-31T10:00'"),
	T("datetime'2024-01-31T10:00:00.0000015' eq datetime'2024-01-31T10:00:00.000002'"),
	T("datetime'2024-01-31T10:00:00.0000025' eq datetime'2024-01-31T10:00:00.000002'"),
	T("second(datetimeoffset'2024-06-30T23:59:59.9999999+14:00') eq 0"),
	T("datetime'2024-12-31T23:59:59.9999996' eq datetime'2025-01-01T00:00'"),
	F("missing gt datetime'2024-01-01T00:00'"),
	T("missing ne datetime'2024-01-01T00:00'"),
	E("notdate eq datetime'2024-01-01T00:00'",
	    "Operator 'eq' is not applicable to Edm.String and Edm.DateTime at position 8."),
	E("'2024-01-31T10:00' eq datetime'2024-01-31T10:00'",
	    "Operator 'eq' is not applicable to Edm.String and Edm.DateTime"),
	E("qty eq datetime'2024-01-31T10:00'",
	    "Operator 'eq' is not applicable to Edm.Int64 and Edm.DateTime"),
	E("datetime'2024-01-31T10:00' eq guid'01234567-89ab-cdef-0123-456789abcdef'",
	    "Operator 'eq' is not applicable to Edm.DateTime and Edm.Guid"),
	PT("{\"t\": \"2024-01-31t10:00:00z\"}", "t eq datetime'2024-01-31T10:00'"),
	PT("{\"t\": \"2024-01-31 10:00\"}", "t eq datetime'2024-01-31T10:00'"),
	PT("{\"t\": \"2024-01-31 10:00:00.123456789+0100\"}",
	    "t eq datetimeoffset'2024-01-31T09:00:00.123457Z'"),
	PF("{\"t\": \"2024-01-31 10:00:00.123456789+0100\"}",
	    "t gt datetimeoffset'2024-01-31T09:00:00.1234567Z'"),
	PT("{\"t\": \"2024-01-31T10:00:00.1234564991234-00:30\"}",
	    "t eq datetimeoffset'2024-01-31T10:30:00.123456Z'"),
	PT("{\"t\": \"2024-01-31T10:00:00.000000\"}", "t eq datetime'2024-01-31T10:00'"),
	PT("{\"t\": \"2024-01-31T10:00+01\"}", "t eq datetime'2024-01-31T09:00'"),
	PT("{\"t\": \"2024-01-31T10:00:59-0130\"}", "t eq datetime'2024-01-31T11:30:59'"),
	PE("{\"t\": \"2024-02-30T00:00:00Z\"}", "t eq datetime'2024-01-31T10:00'",
	    "Edm.String and Edm.DateTime"),
	PE("{\"t\": \"2024-01-31T10:00:00+01:\"}", "t eq datetime'2024-01-31T10:00'",
	    "Edm.String and Edm.DateTime"),
	PE("{\"t\": \"2024-01-31T24:00\"}", "t eq datetime'2024-01-31T10:00'", "Edm.String"),
	PE("{\"t\": \"2024-01-31T10:00:00.\"}", "t eq datetime'2024-01-31T10:00'", "Edm.String"),
	PE("{\"t\": \"0000-01-01\"}", "t eq datetime'2024-01-31T10:00'", "Edm.String"),
	PE("{\"t\": 1706695200}", "t eq datetime'2024-01-31T10:00'",
	    "Edm.Int64 and Edm.DateTime"),
};

static const struct row guid_rows[] = {
	T("uid eq guid'01234567-89ab-cdef-0123-456789abcdef'"),
	T("guid'01234567-89ab-cdef-0123-456789abcdef' eq '01234567-89AB-CDEF-0123-456789ABCDEF'"),
	T("uid ne guid'00000000-0000-0000-0000-000000000000'"),
	T("guid'00000000-0000-0000-0000-000000000001' gt guid'00000000-0000-0000-0000-000000000000'"),
	T("guid'0000000A-0000-0000-0000-000000000000' gt guid'00000009-0000-0000-0000-000000000000'"),
	F("name eq guid'01234567-89ab-cdef-0123-456789abcdef'"),
	F("missing eq guid'01234567-89ab-cdef-0123-456789abcdef'"),
	E("guid'00000000-0000-0000-0000-000000000000' eq 1",
	    "Operator 'eq' is not applicable to Edm.Guid and Edm.Int32 at position 43."),
	E("length(guid'00000000-0000-0000-0000-000000000000') eq 36",
	    "Function 'length' is not applicable to Edm.Guid"),
};

/* ------------------------------------- type errors and short-circuiting */

static const struct row type_rows[] = {
	E("not 'x'", "Operator 'not' is not applicable to Edm.String at position 0."),
	E("not qty", "Operator 'not' is not applicable to Edm.Int64"),
	E("active and 1", "Operator 'and' is not applicable to Edm.Boolean and Edm.Int32 at "
	    "position 7."),
	E("1 or active", "Operator 'or' is not applicable to Edm.Int32 and Edm.Boolean"),
	E("name or active", "Operator 'or' is not applicable to Edm.String and Edm.Boolean"),
	E("true eq 1", "Operator 'eq' is not applicable to Edm.Boolean and Edm.Int32"),
	E("active eq 'true'", "Operator 'eq' is not applicable to Edm.Boolean and Edm.String"),
	E("startswith(name, 1)", "Function 'startswith' is not applicable to Edm.String, "
	    "Edm.Int32 at position 0."),
	E("substringof(name, 1)", "Function 'substringof' is not applicable"),
	E("length(name) eq 7 and tolower(1) eq ''", "Function 'tolower' is not applicable to "
	    "Edm.Int32 at position 22."),
	/* a type error is one whatever the payload and the evaluation order */
	E("false and 'a' add 1 eq 2", "Operator 'add' is not applicable to Edm.String"),
	E("true or length(1) eq 2", "Function 'length' is not applicable to Edm.Int32"),
	/* run-time errors in a skipped operand are not raised */
	F("false and length(qty) eq 1"),
	T("true or length(qty) eq 1"),
	E("true and length(qty) eq 1", "Function 'length' is not applicable to Edm.Int64"),
	T("true or 1 div 0 eq 1"),
	F("false and 1 div 0 eq 1"),
	E("1 div 0 eq 1 or true", "Division by zero at position 2."),
	E("true and 1 div 0 eq 1", "Division by zero"),
	E("false or 1 div 0 eq 1", "Division by zero"),
	E("missing and 1 div 0 eq 1", "Division by zero"),
	F("zero ne 0 and qty div zero gt 1"),
	T("zero eq 0 or qty div zero gt 1"),
	F("flag and order/items eq null"),
	E("flag or order/items eq null", "is a collection"),
	E("(true or 1 div 0 eq 1) and 2147483647 add 1 eq 0", "Operator 'add' overflows"),
	/* the type error wins over a run-time error met first */
	E("1 div 0 eq 1 or 'a' add 1 eq 1", "Operator 'add' is not applicable to Edm.String and "
	    "Edm.Int32 at position 20."),
	E("qty div zero eq 1 or length(name) eq 'a'", "Operator 'eq' is not applicable to "
	    "Edm.Int32 and Edm.String at position 34."),
};

/* Texts the parser refuses never reach the evaluator. */
static const struct row parse_rows[] = {
	PARSE("-'x' eq 1"),
	PARSE("a eq"),
	PARSE("length()"),
	PARSE("substring('a')"),
	PARSE("replace('a', 'a')"),
	PARSE("1M5 eq 1"),
	PARSE("1.5e3M eq 1"),
	PARSE("datetime'2024-02-30T00:00' eq x"),
	PARSE("guid'0123' eq x"),
	PARSE("foo(1)"),
	PARSE("a/ b eq 1"),
	PARSE("99999999999999999999 eq 1"),
	PARSE("1e400 eq 1"),
};

/* ---------------------------------------------------------------- runner */

static const struct group {
	const char *name;
	const struct row *rows;
	size_t n;
} groups[] = {
	{ "paths", path_rows, COUNT(path_rows) },
	{ "null", null_rows, COUNT(null_rows) },
	{ "operators", operator_rows, COUNT(operator_rows) },
	{ "literals", literal_rows, COUNT(literal_rows) },
	{ "arithmetic", arith_rows, COUNT(arith_rows) },
	{ "string functions", string_fn_rows, COUNT(string_fn_rows) },
	{ "date and number functions", date_fn_rows, COUNT(date_fn_rows) },
	{ "datetimes", datetime_rows, COUNT(datetime_rows) },
	{ "guids", guid_rows, COUNT(guid_rows) },
	{ "types", type_rows, COUNT(type_rows) },
	{ "parse", parse_rows, COUNT(parse_rows) },
};

static const char *const want_names[] = { "FALSE", "TRUE", "ERROR", "PARSE" };

static json_t *
load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (j == NULL)
		fail_msg("payload does not parse: %s: %.60s", jerr.text, text);
	return j;
}

/* 0 when the row holds, else prints why and returns 1. */
static int
run_row(const struct row *w, const json_t *shared)
{
	struct odata_filter *f = NULL;
	struct odata_filter_error perr;
	json_t *own = w->payload != NULL ? load(w->payload) : NULL;
	char err[256], err2[256];
	enum odata_eval_result got, again;
	int bad = 0;

	if (odata_filter_parse(w->filter, strlen(w->filter), &f, &perr) != 0) {
		json_decref(own);
		if (w->want == W_PARSE)
			return 0;
		print_message("[%s]: parse error: %s\n", w->filter, perr.message);
		return 1;
	}
	if (w->want == W_PARSE) {
		print_message("[%s]: parsed, want a parse error\n", w->filter);
		odata_filter_free(f);
		json_decref(own);
		return 1;
	}
	got = odata_filter_eval(odata_filter_root(f), own != NULL ? own : shared, err, sizeof(err));
	again = odata_filter_eval(odata_filter_root(f), own != NULL ? own : shared, err2,
	    sizeof(err2));
	if (got != again || strcmp(err, err2) != 0) {
		print_message("[%s]: not deterministic\n", w->filter);
		bad = 1;
	} else if ((int)got != (int)w->want) {
		print_message("[%s]: got %s%s%s, want %s\n", w->filter, want_names[got],
		    *err ? ": " : "", err, want_names[w->want]);
		bad = 1;
	} else if (got != ODATA_EVAL_ERROR && err[0] != '\0') {
		print_message("[%s]: message without an error: %s\n", w->filter, err);
		bad = 1;
	} else if (got == ODATA_EVAL_ERROR && (strstr(err, " at position ") == NULL ||
	    (w->msg != NULL && strstr(err, w->msg) == NULL))) {
		print_message("[%s]: message '%s', want '%s'\n", w->filter, err,
		    w->msg ? w->msg : "... at position N");
		bad = 1;
	}
	odata_filter_free(f);
	json_decref(own);
	return bad;
}

/* The number of failed rows, each printed. */
static int
run_group(const struct group *g)
{
	json_t *shared = load(payload_json);
	size_t i;
	int bad = 0;

	for (i = 0; i < g->n; i++)
		bad += run_row(&g->rows[i], shared);
	json_decref(shared);
	if (bad > 0)
		print_message("%d of %zu %s rows failed\n", bad, g->n, g->name);
	return bad;
}

static void
test_rows(void **state)
{
	size_t i, total = 0;
	int bad = 0;

	(void)state;
	for (i = 0; i < COUNT(groups); i++) {
		bad += run_group(&groups[i]);
		total += groups[i].n;
	}
	print_message("%zu rows\n", total);
	if (bad > 0)
		fail_msg("%d rows failed", bad);
}

/* --------------------------------------------------------- huge strings */

static enum odata_eval_result
eval_text(const char *filter, const json_t *payload, char *err, size_t errlen)
{
	struct odata_filter *f = NULL;
	struct odata_filter_error perr;
	enum odata_eval_result r;

	if (odata_filter_parse(filter, strlen(filter), &f, &perr) != 0)
		fail_msg("[%.60s]: parse error: %s", filter, perr.message);
	r = odata_filter_eval(odata_filter_root(f), payload, err, errlen);
	odata_filter_free(f);
	return r;
}

static char *
repeat(char c, size_t n, const char *tail)
{
	char *s = malloc(n + strlen(tail) + 1);

	assert_non_null(s);
	memset(s, c, n);
	strcpy(s + n, tail);
	return s;
}

static void
expect(const char *filter, const json_t *payload, enum odata_eval_result want, const char *msg)
{
	char err[256];
	enum odata_eval_result got = eval_text(filter, payload, err, sizeof(err));

	if (got != want || (msg != NULL && strstr(err, msg) == NULL))
		fail_msg("[%.60s]: got %s '%s', want %s '%s'", filter, want_names[got], err,
		    want_names[want], msg ? msg : "");
}

static void
test_huge_strings(void **state)
{
	char *s600k = repeat('a', 600 * 1024, ""), *s2m = repeat('A', 2 * 1024 * 1024, "");
	char *needle = repeat('a', 32767, "b"), *filter, *lit;
	json_t *p = json_pack("{s:s, s:s, s:s}", "s", s600k, "big", s2m, "needle", needle);
	size_t i, len;

	(void)state;
	assert_non_null(p);
	expect("length(s) eq 614400", p, ODATA_EVAL_TRUE, NULL);
	expect("length(big) eq 2097152", p, ODATA_EVAL_TRUE, NULL);
	expect("tolower(s) eq s", p, ODATA_EVAL_TRUE, NULL);
	expect("substring(s, 614399) eq 'a'", p, ODATA_EVAL_TRUE, NULL);
	expect("indexof(s, 'b') eq -1", p, ODATA_EVAL_TRUE, NULL);
	expect("substringof(needle, s)", p, ODATA_EVAL_FALSE, NULL);	/* linear search */
	expect("indexof(concat(s, needle), needle) eq 614400", p, ODATA_EVAL_TRUE, NULL);
	expect("replace(s, needle, '') eq s", p, ODATA_EVAL_TRUE, NULL);
	expect("trim(big) eq big", p, ODATA_EVAL_TRUE, NULL);		/* a slice, no copy */
	expect("concat(s, s) eq s", p, ODATA_EVAL_ERROR,
	    "String result longer than 1048576 bytes at position 0.");
	expect("replace(s, 'a', 'bb') eq s", p, ODATA_EVAL_ERROR, "String result longer than");
	expect("toupper(big) ne ''", p, ODATA_EVAL_ERROR, "String result longer than");
	expect("false and toupper(big) ne ''", p, ODATA_EVAL_FALSE, NULL);

	/* 30 copies of 600 KiB pass 16 MiB in all */
	len = 30 * strlen("tolower(s) eq s and ") + 8;
	filter = malloc(len);
	assert_non_null(filter);
	filter[0] = '\0';
	for (i = 0; i < 30; i++)
		strcat(filter, "tolower(s) eq s and ");
	strcat(filter, "true");
	expect(filter, p, ODATA_EVAL_ERROR, "Strings longer than 16777216 bytes in all");
	free(filter);

	/* the longest string literal */
	lit = repeat('x', ODATA_FILTER_MAX_STRING, "");
	len = strlen(lit) + 64;
	filter = malloc(len);
	assert_non_null(filter);
	snprintf(filter, len, "length('%s') eq %d", lit, ODATA_FILTER_MAX_STRING);
	expect(filter, p, ODATA_EVAL_TRUE, NULL);
	free(filter);
	free(lit);

	json_decref(p);
	free(s600k);
	free(s2m);
	free(needle);
}

/* ------------------------------------------------------------------ API */

static void
test_api(void **state)
{
	struct odata_filter *f = NULL;
	char err[128], small[8];
	json_t *p = json_pack("{s:i}", "a", 1);

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(odata_filter_eval(NULL, p, err, sizeof(err)), ODATA_EVAL_ERROR);
	assert_string_equal(err, "No filter expression at position 0.");
	/* a NULL payload reads as JSON null */
	assert_int_equal(eval_text("a eq null", NULL, err, sizeof(err)), ODATA_EVAL_TRUE);
	assert_string_equal(err, "");
	assert_int_equal(eval_text("a eq 1", p, err, sizeof(err)), ODATA_EVAL_TRUE);
	assert_string_equal(err, "");
	/* no message buffer */
	assert_int_equal(eval_text("1 div 0 eq 1", p, NULL, 0), ODATA_EVAL_ERROR);
	assert_int_equal(eval_text("a eq 1", p, NULL, 0), ODATA_EVAL_TRUE);
	/* truncated like snprintf */
	assert_int_equal(eval_text("1 div 0 eq 1", p, small, sizeof(small)), ODATA_EVAL_ERROR);
	assert_string_equal(small, "Divisio");
	/* one tree, many payloads */
	assert_int_equal(odata_filter_parse("a gt 0", 6, &f, NULL), 0);
	assert_int_equal(odata_filter_eval(odata_filter_root(f), p, err, sizeof(err)),
	    ODATA_EVAL_TRUE);
	json_object_set_new(p, "a", json_integer(-1));
	assert_int_equal(odata_filter_eval(odata_filter_root(f), p, err, sizeof(err)),
	    ODATA_EVAL_FALSE);
	json_object_set_new(p, "a", json_string("x"));
	assert_int_equal(odata_filter_eval(odata_filter_root(f), p, err, sizeof(err)),
	    ODATA_EVAL_ERROR);
	assert_string_equal(err, "Operator 'gt' is not applicable to Edm.String and Edm.Int32 "
	    "at position 2.");
	odata_filter_free(f);
	json_decref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_huge_strings),
		cmocka_unit_test(test_api),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
