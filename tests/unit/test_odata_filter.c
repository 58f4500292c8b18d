/* odata/filter: the $filter grammar, precedence, literals, limits and errors.
 * Each row is an input and either its canonical print or the error position
 * and a substring of the message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"

struct row {
	const char *in;
	const char *want;	/* canonical print, or NULL when an error is expected */
	size_t pos;		/* error position */
	const char *msg;	/* substring of the error message */
	size_t len;		/* input length when it holds a NUL; 0: strlen */
};

#define OK(in, want)		{ in, want, 0, NULL, 0 }
#define ERR(in, pos, msg)	{ in, NULL, pos, msg, 0 }
#define COUNT(a)		(sizeof(a) / sizeof((a)[0]))

static void
check_parse(const char *in, size_t len, const char *want, size_t pos, const char *msg,
    const char *label)
{
	struct odata_filter *f = (struct odata_filter *)&f;	/* must be reset */
	struct odata_filter_error err;
	char buf[8192], at[48];
	int rc = odata_filter_parse(in, len, &f, &err);

	if (want != NULL) {
		if (rc != 0)
			fail_msg("%s: unexpected error: %s", label, err.message);
		odata_filter_print(odata_filter_root(f), buf, sizeof(buf));
		odata_filter_free(f);
		if (strcmp(buf, want) != 0)
			fail_msg("%s:\n got %s\nwant %s", label, buf, want);
		return;
	}
	if (rc == 0) {
		odata_filter_print(odata_filter_root(f), buf, sizeof(buf));
		odata_filter_free(f);
		fail_msg("%s: parsed as %s, want error '%s'", label, buf, msg);
	}
	assert_null(f);
	snprintf(at, sizeof(at), " at position %zu", pos);
	if (err.pos != pos || strstr(err.message, msg) == NULL || strstr(err.message, at) == NULL)
		fail_msg("%s:\n got error %zu '%s'\nwant error %zu '%s'", label, err.pos,
		    err.message, pos, msg);
}

static void
run_rows(const struct row *rows, size_t n)
{
	char label[128];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "row %zu [%.80s]", i, rows[i].in);
		check_parse(rows[i].in, rows[i].len ? rows[i].len : strlen(rows[i].in),
		    rows[i].want, rows[i].pos, rows[i].msg, label);
	}
}

/* ------------------------------------------------------------ operators */

static const struct row operator_rows[] = {
	OK("a eq 1", "(eq (path a) (int32 1))"),
	OK("a ne 1", "(ne (path a) (int32 1))"),
	OK("a gt 1", "(gt (path a) (int32 1))"),
	OK("a ge 1", "(ge (path a) (int32 1))"),
	OK("a lt 1", "(lt (path a) (int32 1))"),
	OK("a le 1", "(le (path a) (int32 1))"),
	OK("a and b", "(and (path a) (path b))"),
	OK("a or b", "(or (path a) (path b))"),
	OK("a add 1", "(add (path a) (int32 1))"),
	OK("a sub 1", "(sub (path a) (int32 1))"),
	OK("a mul 1", "(mul (path a) (int32 1))"),
	OK("a div 1", "(div (path a) (int32 1))"),
	OK("a mod 1", "(mod (path a) (int32 1))"),
	OK("not a", "(not (path a))"),
	/* and binds tighter than or */
	OK("a eq 1 or b eq 2 and c eq 3",
	    "(or (eq (path a) (int32 1)) (and (eq (path b) (int32 2)) (eq (path c) (int32 3))))"),
	OK("a eq 1 and b eq 2 or c eq 3",
	    "(or (and (eq (path a) (int32 1)) (eq (path b) (int32 2))) (eq (path c) (int32 3)))"),
	OK("(a eq 1 or b eq 2) and c eq 3",
	    "(and (or (eq (path a) (int32 1)) (eq (path b) (int32 2))) (eq (path c) (int32 3)))"),
	/* left associativity */
	OK("a or b or c", "(or (or (path a) (path b)) (path c))"),
	OK("a and b and c", "(and (and (path a) (path b)) (path c))"),
	OK("a sub b sub c", "(sub (sub (path a) (path b)) (path c))"),
	OK("a div b mod c", "(mod (div (path a) (path b)) (path c))"),
	/* not is unary, tighter than comparison (OData V2) */
	OK("not a eq b", "(eq (not (path a)) (path b))"),
	OK("not (a eq b)", "(not (eq (path a) (path b)))"),
	OK("not(a eq b)", "(not (eq (path a) (path b)))"),
	OK("not not a", "(not (not (path a)))"),
	OK("not a and b", "(and (not (path a)) (path b))"),
	OK("notx", "(path notx)"),
	/* arithmetic */
	OK("a add b mul c", "(add (path a) (mul (path b) (path c)))"),
	OK("a mul b add c", "(add (mul (path a) (path b)) (path c))"),
	OK("a add b eq c mul d", "(eq (add (path a) (path b)) (mul (path c) (path d)))"),
	OK("(a add b) mul c", "(mul (add (path a) (path b)) (path c))"),
	OK("a gt 1 and a add 2 mul 3 le 10 or not b",
	    "(or (and (gt (path a) (int32 1)) (le (add (path a) (mul (int32 2) (int32 3))) "
	    "(int32 10))) (not (path b)))"),
	/* unary minus */
	OK("-a add 1", "(add (neg (path a)) (int32 1))"),
	OK("- 5", "(neg (int32 5))"),
	OK("-(a)", "(neg (path a))"),
	OK("- -5", "(neg (int32 -5))"),
	OK("a sub -1", "(sub (path a) (int32 -1))"),
	OK("-a mul b", "(mul (neg (path a)) (path b))"),
	/* parentheses and whitespace */
	OK("(((a)))", "(path a)"),
	OK("( a eq 1 )", "(eq (path a) (int32 1))"),
	OK("  a \t eq\r\n1  ", "(eq (path a) (int32 1))"),
	/* keywords are whole words, lower case */
	OK("eqx eq 1", "(eq (path eqx) (int32 1))"),
	OK("a eq eqx", "(eq (path a) (path eqx))"),
	OK("order eq android", "(eq (path order) (path android))"),
	ERR("a eqx 1", 2, "unexpected token 'eqx'"),
	ERR("a EQ 1", 2, "unexpected token 'EQ'"),
	ERR("a And b", 2, "unexpected token 'And'"),
	ERR("NOT a", 4, "unexpected token 'a'"),
	/* V2: relational above equality, both left-associative */
	OK("a eq b eq c", "(eq (eq (path a) (path b)) (path c))"),
	OK("a gt 1 eq true", "(eq (gt (path a) (int32 1)) (bool true))"),
	OK("a eq 1 gt b", "(eq (path a) (gt (int32 1) (path b)))"),
	OK("a lt 1 lt 2", "(lt (lt (path a) (int32 1)) (int32 2))"),
	OK("a lt b ne c", "(ne (lt (path a) (path b)) (path c))"),
	/* whitespace around keywords */
	ERR("a eq'x'", 4, "expected whitespace after 'eq'"),
	ERR("(a eq 1)and(b eq 1)", 8, "expected whitespace before 'and'"),
	ERR("(a eq 1) and(b eq 1)", 12, "expected whitespace after 'and'"),
	ERR("not-1", 3, "expected whitespace after 'not'"),
	ERR("-'x'", 0, "operator '-' needs a numeric operand"),
	ERR("-true", 0, "operator '-' needs a numeric operand"),
	ERR("- null", 0, "operator '-' needs a numeric operand"),
	/* structure */
	ERR("", 0, "empty expression"),
	ERR("   ", 0, "empty expression"),
	ERR("((a eq 1)", 0, "unbalanced parenthesis"),
	ERR("(a eq 1", 0, "unbalanced parenthesis"),
	ERR("a eq (1", 5, "unbalanced parenthesis"),
	ERR("a eq 1)", 6, "unbalanced parenthesis"),
	ERR("(a eq 1))", 8, "unbalanced parenthesis"),
	ERR("()", 1, "unexpected token ')'"),
	ERR("a eq 1 2", 7, "unexpected token '2'"),
	ERR("a eq 1 b", 7, "unexpected token 'b'"),
	ERR("a eq 1 'x'", 7, "unexpected string literal"),
	ERR("(a eq 1 2)", 8, "unexpected token '2'"),
	ERR("a eq", 4, "unexpected end of input"),
	ERR("a eq 1 and", 10, "unexpected end of input"),
	ERR("not", 3, "unexpected end of input"),
	ERR("-", 1, "unexpected end of input"),
	ERR("a eq ,", 5, "unexpected token ','"),
	ERR("eq 1", 3, "unexpected token '1'"),
	ERR("a eq 1 # x", 7, "unexpected character '#'"),
	ERR("a eq \"x\"", 5, "unexpected character '\"'"),
	ERR("a eq $x", 5, "unexpected character '$'"),
	ERR("1-2", 1, "unexpected token '-2'"),
};

static void
test_operators(void **state)
{
	(void)state;
	run_rows(operator_rows, COUNT(operator_rows));
}

/* ------------------------------------------------------------ functions */

static const struct row function_rows[] = {
	OK("substringof('x',name)", "(substringof (string 'x') (path name))"),
	OK("startswith(name,'a')", "(startswith (path name) (string 'a'))"),
	OK("endswith(name,'a')", "(endswith (path name) (string 'a'))"),
	OK("indexof(name,'a') eq 2", "(eq (indexof (path name) (string 'a')) (int32 2))"),
	OK("length(name) gt 3", "(gt (length (path name)) (int32 3))"),
	OK("tolower(name) eq 'a'", "(eq (tolower (path name)) (string 'a'))"),
	OK("toupper(name) eq 'A'", "(eq (toupper (path name)) (string 'A'))"),
	OK("trim(name) eq 'a'", "(eq (trim (path name)) (string 'a'))"),
	OK("concat(a,b) eq 'ab'", "(eq (concat (path a) (path b)) (string 'ab'))"),
	OK("substring(name,1) eq 'b'", "(eq (substring (path name) (int32 1)) (string 'b'))"),
	OK("substring(name,1,2)", "(substring (path name) (int32 1) (int32 2))"),
	OK("replace(name,'a','b')", "(replace (path name) (string 'a') (string 'b'))"),
	OK("year(d) eq 2024", "(eq (year (path d)) (int32 2024))"),
	OK("month(d)", "(month (path d))"),
	OK("day(d)", "(day (path d))"),
	OK("hour(d)", "(hour (path d))"),
	OK("minute(d)", "(minute (path d))"),
	OK("second(d)", "(second (path d))"),
	OK("round(p) eq 1", "(eq (round (path p)) (int32 1))"),
	OK("floor(p)", "(floor (path p))"),
	OK("ceiling(p)", "(ceiling (path p))"),
	OK("concat( concat(a, b) , 'c' )", "(concat (concat (path a) (path b)) (string 'c'))"),
	OK("substringof('x', tolower(name)) eq true",
	    "(eq (substringof (string 'x') (tolower (path name))) (bool true))"),
	OK("not substringof('x',name)", "(not (substringof (string 'x') (path name)))"),
	OK("length(a add 1 eq 2)", "(length (eq (add (path a) (int32 1)) (int32 2)))"),
	OK("substring(a/b,-1 add 2)", "(substring (path a b) (add (int32 -1) (int32 2)))"),
	ERR("substringof('x')", 0, "function 'substringof' takes 2 arguments"),
	ERR("substringof('x',a,b)", 0, "function 'substringof' takes 2 arguments"),
	ERR("startswith(a)", 0, "function 'startswith' takes 2 arguments"),
	ERR("endswith(a,'b','c')", 0, "function 'endswith' takes 2 arguments"),
	ERR("indexof(a)", 0, "function 'indexof' takes 2 arguments"),
	ERR("length()", 0, "function 'length' takes 1 argument"),
	ERR("length(a,b)", 0, "function 'length' takes 1 argument"),
	ERR("tolower()", 0, "function 'tolower' takes 1 argument"),
	ERR("toupper(a,b)", 0, "function 'toupper' takes 1 argument"),
	ERR("trim(a,b)", 0, "function 'trim' takes 1 argument"),
	ERR("concat(a)", 0, "function 'concat' takes 2 arguments"),
	ERR("concat(a,b,c)", 0, "function 'concat' takes 2 arguments"),
	ERR("substring(a)", 0, "function 'substring' takes 2 or 3 arguments"),
	ERR("substring(a,1,2,3)", 0, "function 'substring' takes 2 or 3 arguments"),
	ERR("replace(a,'b')", 0, "function 'replace' takes 3 arguments"),
	ERR("replace(a,'b','c','d')", 0, "function 'replace' takes 3 arguments"),
	ERR("year()", 0, "function 'year' takes 1 argument"),
	ERR("month(a,b)", 0, "function 'month' takes 1 argument"),
	ERR("day()", 0, "function 'day' takes 1 argument"),
	ERR("hour(a,b)", 0, "function 'hour' takes 1 argument"),
	ERR("minute()", 0, "function 'minute' takes 1 argument"),
	ERR("second(a,b)", 0, "function 'second' takes 1 argument"),
	ERR("round()", 0, "function 'round' takes 1 argument"),
	ERR("floor(a,b)", 0, "function 'floor' takes 1 argument"),
	ERR("ceiling()", 0, "function 'ceiling' takes 1 argument"),
	ERR("a eq length()", 5, "function 'length' takes 1 argument"),
	ERR("foo(a)", 0, "unknown function 'foo'"),
	ERR("Length(a)", 0, "unknown function 'Length'"),
	ERR("true()", 0, "unknown function 'true'"),
	ERR("isof(a)", 0, "unknown function 'isof'"),
	ERR("length (a)", 7, "unexpected token '('"),
	ERR("substring(a,1", 9, "unbalanced parenthesis"),
	ERR("substring(a 1)", 12, "unexpected token '1'"),
	ERR("substring(a,)", 12, "unexpected token ')'"),
	ERR("substring(,a)", 10, "unexpected token ','"),
	ERR("length(", 7, "unexpected end of input"),
};

static void
test_functions(void **state)
{
	(void)state;
	run_rows(function_rows, COUNT(function_rows));
}

/* ------------------------------------------------------------- literals */

static const struct row literal_rows[] = {
	OK("null", "(null)"),
	OK("true", "(bool true)"),
	OK("false", "(bool false)"),
	OK("a eq null", "(eq (path a) (null))"),
	OK("12", "(int32 12)"),
	OK("007", "(int32 7)"),
	OK("2147483647", "(int32 2147483647)"),
	OK("-2147483648", "(int32 -2147483648)"),
	OK("2147483648", "(int64 2147483648)"),
	OK("-2147483649", "(int64 -2147483649)"),
	OK("9223372036854775807", "(int64 9223372036854775807)"),
	OK("-9223372036854775808", "(int64 -9223372036854775808)"),
	OK("12L", "(int64 12)"),
	OK("12l", "(int64 12)"),
	OK("-12L", "(int64 -12)"),
	OK("9223372036854775807L", "(int64 9223372036854775807)"),
	OK("1.5M", "(decimal 1.5)"),
	OK("1.5m", "(decimal 1.5)"),
	OK("-0.10M", "(decimal -0.10)"),
	OK("1M", "(decimal 1)"),
	OK("123456789012345678901234567890.123456789M",
	    "(decimal 123456789012345678901234567890.123456789)"),
	OK("1.5d", "(double 1.5)"),
	OK("1.5D", "(double 1.5)"),
	OK("1d", "(double 1)"),
	OK("1e10", "(double 1e10)"),
	OK("1.5E-3", "(double 1.5E-3)"),
	OK("-2e+2d", "(double -2e+2)"),
	OK("1.5", "(double 1.5)"),
	OK("2f", "(double 2)"),
	OK("datetime'2024-01-31T10:00:00'", "(datetime '2024-01-31T10:00:00')"),
	OK("datetime'2024-01-31T10:00'", "(datetime '2024-01-31T10:00')"),
	OK("datetime'2024-01-31T10:00:00.1234567'", "(datetime '2024-01-31T10:00:00.1234567')"),
	OK("datetime'2024-02-29T23:59:59.9'", "(datetime '2024-02-29T23:59:59.9')"),
	OK("datetime'2000-02-29T00:00'", "(datetime '2000-02-29T00:00')"),
	OK("datetimeoffset'2024-01-31T10:00:00Z'", "(datetimeoffset '2024-01-31T10:00:00Z')"),
	OK("datetimeoffset'2024-01-31T10:00:00+05:30'",
	    "(datetimeoffset '2024-01-31T10:00:00+05:30')"),
	OK("datetimeoffset'2024-01-31T10:00:00.5-14:00'",
	    "(datetimeoffset '2024-01-31T10:00:00.5-14:00')"),
	OK("datetimeoffset'2024-01-31T10:00Z'", "(datetimeoffset '2024-01-31T10:00Z')"),
	OK("guid'01234567-89ab-cdef-0123-456789ABCDEF'",
	    "(guid '01234567-89ab-cdef-0123-456789ABCDEF')"),
	OK("created gt datetime'2024-01-31T10:00:00' and id eq guid'01234567-89ab-cdef-0123-456789abcdef'",
	    "(and (gt (path created) (datetime '2024-01-31T10:00:00')) "
	    "(eq (path id) (guid '01234567-89ab-cdef-0123-456789abcdef')))"),
	ERR("12LL", 0, "malformed number literal"),
	ERR("1.5MM", 0, "malformed number literal"),
	ERR("12abc", 0, "malformed number literal"),
	ERR("1.2.3", 0, "malformed number literal"),
	ERR("1.", 0, "malformed number literal"),
	ERR("1.e5", 0, "malformed number literal"),
	ERR("1e", 0, "malformed number literal"),
	ERR("1e+", 0, "malformed number literal"),
	ERR("1.5L", 0, "malformed number literal"),
	ERR("1e5M", 0, "malformed number literal"),
	ERR("1.5dd", 0, "malformed number literal"),
	ERR("a eq 12x", 5, "malformed number literal"),
	ERR(".5", 0, "unexpected character '.'"),
	ERR("99999999999999999999", 0, "integer literal out of range"),
	ERR("9223372036854775808", 0, "integer literal out of range"),
	ERR("-9223372036854775809", 0, "integer literal out of range"),
	ERR("9223372036854775808L", 0, "integer literal out of range"),
	ERR("a eq 1e999", 5, "double literal out of range"),
	ERR("-1e999d", 0, "double literal out of range"),
	ERR("datetime'2024-13-01T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-00-01T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2023-02-29T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'1900-02-29T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-04-31T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-00T00:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'0000-01-01T00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T24:00:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:60'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:00:60'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:00:0'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:00:00.'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:00:00.12345678'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31T10:00:00Z'", 0, "invalid datetime literal"),
	ERR("datetime'2024-1-31T10:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31 10:00'", 0, "invalid datetime literal"),
	ERR("datetime'2024-01-31t10:00'", 0, "invalid datetime literal"),
	ERR("datetime'+2024-01-31T10:00'", 0, "invalid datetime literal"),
	ERR("datetime''", 0, "invalid datetime literal"),
	ERR("a eq datetime'x'", 5, "invalid datetime literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00+15:00'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00+14:01'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00+05:60'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00+0530'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00z'", 0, "invalid datetimeoffset literal"),
	ERR("datetimeoffset'2024-01-31T10:00:00ZZ'", 0, "invalid datetimeoffset literal"),
	ERR("guid'0123456789abcdef0123456789abcdef'", 0, "invalid guid literal"),
	ERR("guid'01234567-89ab-cdef-0123-456789abcdeg'", 0, "invalid guid literal"),
	ERR("guid'{01234567-89ab-cdef-0123-456789abcdef}'", 0, "invalid guid literal"),
	ERR("guid'01234567-89ab-cdef-0123-456789abcde'", 0, "invalid guid literal"),
	ERR("datetime'2024-01-31T10:00", 8, "unterminated string literal"),
	ERR("datetime '2024-01-31T10:00'", 9, "unexpected string literal"),
	ERR("time'PT1H'", 0, "unsupported literal prefix 'time'"),
	ERR("X'00'", 0, "unsupported literal prefix 'X'"),
	ERR("binary'00'", 0, "unsupported literal prefix 'binary'"),
	ERR("DateTime'2024-01-31T10:00'", 8, "unexpected string literal"),
	ERR("foo'x'", 3, "unexpected string literal"),
	ERR("a eq 1 datetime'2024-01-31T10:00'", 7, "unexpected datetime literal"),
};

static void
test_literals(void **state)
{
	(void)state;
	run_rows(literal_rows, COUNT(literal_rows));
}

/* --------------------------------------------------- strings and paths */

static const struct row string_path_rows[] = {
	OK("'abc'", "(string 'abc')"),
	OK("''", "(string '')"),
	OK("'it''s'", "(string 'it''s')"),
	OK("''''", "(string '''')"),
	OK("''''''", "(string '''''')"),
	OK("'a''''b'", "(string 'a''''b')"),
	OK("' spaced  out '", "(string ' spaced  out ')"),
	OK("'a eq 1) or (b'", "(string 'a eq 1) or (b')"),
	OK("name eq 'x'' OR 1=1 --'", "(eq (path name) (string 'x'' OR 1=1 --'))"),
	OK("name eq '; DROP TABLE x; --'", "(eq (path name) (string '; DROP TABLE x; --'))"),
	OK("name eq 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'",
	    "(eq (path name) (string 'caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80'))"),
	OK("name eq 'tab\there'", "(eq (path name) (string 'tab\there'))"),
	ERR("'abc", 0, "unterminated string literal"),
	ERR("a eq 'abc", 5, "unterminated string literal"),
	ERR("'it''s", 0, "unterminated string literal"),
	ERR("'''", 0, "unterminated string literal"),
	ERR("'", 0, "unterminated string literal"),
	ERR("'a''b''", 0, "unterminated string literal"),
	OK("destination/destinationTarget/id eq 'x'",
	    "(eq (path destination destinationTarget id) (string 'x'))"),
	OK("integrationKey eq 'a|b|c|d'", "(eq (path integrationKey) (string 'a|b|c|d'))"),
	OK("address/country eq 'DE'", "(eq (path address country) (string 'DE'))"),
	OK("_x1/Y_2 eq 1", "(eq (path _x1 Y_2) (int32 1))"),
	OK("a/and eq 1", "(eq (path a and) (int32 1))"),
	OK("a/null", "(path a null)"),
	ERR("a/", 2, "expected a property name after '/'"),
	ERR("a/ b", 3, "expected a property name after '/'"),
	ERR("a//b", 2, "expected a property name after '/'"),
	ERR("a/1", 2, "expected a property name after '/'"),
	ERR("a /b", 2, "unexpected token '/'"),
	ERR("/a", 0, "unexpected token '/'"),
	ERR("a/'x'", 2, "expected a property name after '/'"),
	ERR("a/length(b)", 8, "unexpected token '('"),
	ERR("caf\xc3\xa9 eq 1", 3, "unexpected byte 0xC3"),
};

static void
test_strings_paths(void **state)
{
	(void)state;
	run_rows(string_path_rows, COUNT(string_path_rows));
}

/* ------------------------------------------------------- bytes (raw len) */

static const struct row byte_rows[] = {
	{ "a eq 'x\0y'", NULL, 7, "NUL byte", 10 },
	{ "\0", NULL, 0, "NUL byte", 1 },
	{ "a eq 1\0", NULL, 6, "NUL byte", 7 },
	{ "a eq 'x\xffy'", NULL, 7, "invalid UTF-8", 0 },
	{ "a eq '\xc0\xaf'", NULL, 6, "invalid UTF-8", 0 },		/* overlong */
	{ "a eq '\xe0\x80\xaf'", NULL, 6, "invalid UTF-8", 0 },	/* overlong */
	{ "a eq '\xed\xa0\x80'", NULL, 6, "invalid UTF-8", 0 },	/* surrogate */
	{ "a eq '\xf4\x90\x80\x80'", NULL, 6, "invalid UTF-8", 0 },	/* > U+10FFFF */
	{ "a eq 'ab\xe2\x82'", NULL, 8, "invalid UTF-8", 0 },		/* truncated */
	{ "a eq '\x80'", NULL, 6, "invalid UTF-8", 0 },		/* lone continuation */
	{ "a eq 'ok' and b eq '\xc3'", NULL, 20, "invalid UTF-8", 0 },
	{ "a eq 1 \xe2\x82", NULL, 7, "invalid UTF-8", 0 },		/* truncated at end */
	/* the whole input is checked before parsing: the first bad byte wins */
	{ "a eq eq '\xff'", NULL, 9, "invalid UTF-8", 0 },
	/* the bytes of a NUL-free prefix parse as usual */
	{ "a eq 1\0junk", "(eq (path a) (int32 1))", 0, NULL, 6 },
};

static void
test_bytes(void **state)
{
	(void)state;
	run_rows(byte_rows, COUNT(byte_rows));
}

/* ------------------------------------------------------ hostile inputs */

/* unit repeated n times, between head and tail; caller frees. */
static char *
build(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * n + tl + 1), *p;

	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

struct gen {
	const char *head, *unit;
	size_t n;
	const char *tail, *want;
	size_t pos;
	const char *msg;
};

static const struct gen gen_rows[] = {
	/* nesting: parentheses, not, '-', calls all count, up to 100 */
	{ "", "(", 10000, "", NULL, 100, "nesting deeper than 100" },
	{ "", "(", 10000, "a", NULL, 100, "nesting deeper than 100" },
	{ "", ")", 10000, "", NULL, 0, "unexpected token ')'" },
	{ "a eq 1", ")", 10000, "", NULL, 6, "unbalanced parenthesis" },
	{ "", "not ", 10000, "a", NULL, 400, "nesting deeper than 100" },
	{ "", "-", 10000, "a", NULL, 100, "nesting deeper than 100" },
	{ "", "- ", 10000, "1", NULL, 200, "nesting deeper than 100" },
	{ "", "length(", 9000, "a", NULL, 700, "nesting deeper than 100" },
	{ "", "(not ", 10000, "a", NULL, 250, "nesting deeper than 100" },
	{ "", "(", 101, "a", NULL, 100, "nesting deeper than 100" },
	{ "", "not ", 101, "a", NULL, 400, "nesting deeper than 100" },
	{ "", "not ", 100, "a", NULL, 0, NULL },
	{ "a eq ", "(", 10000, "", NULL, 105, "nesting deeper than 100" },
	/* 10,000 (((... closed again still fails on depth, quickly */
	{ "", "((((((((((", 1000, "a", NULL, 100, "nesting deeper than 100" },
	/* strings */
	{ "a eq '", "x", 100 * 1024, "'", NULL, 65536, "expression longer than 65536 bytes" },
	{ "a eq '", "x", 40 * 1024, "'", NULL, 5, "string literal longer than 32768 bytes" },
	{ "a eq '", "''", 16385, "'", NULL, 0, NULL },	/* escapes count once */
	{ "a eq '", "x", 32768, "'", NULL, 0, NULL },
	{ "a eq '", "x", 40 * 1024, "", NULL, 5, "string literal longer than 32768 bytes" },
	{ "a eq '", "x", 30 * 1024, "", NULL, 5, "unterminated string literal" },
	/* input length */
	{ "a eq 1", " ", 65536 - 6, "", "(eq (path a) (int32 1))", 0, NULL },
	{ "a eq 1", " ", 65536 - 5, "", NULL, 65536, "expression longer than 65536 bytes" },
	/* node count: n terms of `a add` make 2n - 1 nodes */
	{ "a", " add a", 499, "", NULL, 0, NULL },
	{ "a", " add a", 500, "", NULL, 2996, "expression has more than 1000 nodes" },
	{ "a", " or a", 10000, "", NULL, 2497, "expression has more than 1000 nodes" },
	/* path limits */
	{ "a", "/a", 31, "", NULL, 0, NULL },
	{ "a", "/a", 32, "", NULL, 64, "path longer than 32 segments" },
	{ "", "a", 128, "", NULL, 0, NULL },
	{ "", "a", 129, "", NULL, 0, "path segment longer than 128 bytes" },
	{ "x/", "a", 129, " eq 1", NULL, 2, "path segment longer than 128 bytes" },
	/* long tokens are echoed truncated */
	{ "a ", "b", 1000, "", NULL, 2, "unexpected token 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...'" },
	{ "", "f", 1000, "(a)", NULL, 0, "unknown function 'ffffffffffffffffffffffffffffffff...'" },
};

static void
test_hostile(void **state)
{
	char label[96];
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(gen_rows); i++) {
		const struct gen *g = &gen_rows[i];
		char *s = build(g->head, g->unit, g->n, g->tail);
		clock_t t0 = clock();
		double ms;

		snprintf(label, sizeof(label), "gen %zu [%s%s x %zu%s]", i, g->head, g->unit,
		    g->n, g->tail);
		if (g->msg == NULL) {
			struct odata_filter *f;
			struct odata_filter_error err;

			if (odata_filter_parse(s, strlen(s), &f, &err) != 0)
				fail_msg("%s: unexpected error: %s", label, err.message);
			if (g->want != NULL) {
				char buf[256];

				odata_filter_print(odata_filter_root(f), buf, sizeof(buf));
				assert_string_equal(buf, g->want);
			}
			odata_filter_free(f);
		} else {
			check_parse(s, strlen(s), NULL, g->pos, g->msg, label);
		}
		ms = (double)(clock() - t0) * 1000.0 / CLOCKS_PER_SEC;
		/* generous under ASan: the point is "linear, not exponential" */
		if (ms > 200.0)
			fail_msg("%s: took %.1f ms", label, ms);
		free(s);
	}
}

/* Exactly 100 of each nesting kind parse; the structure is what it says. */
static void
test_depth_limit_exact(void **state)
{
	char *s = build("", "(", 100, "a");
	char *t = build(s, ")", 100, "");
	struct odata_filter *f;
	struct odata_filter_error err;
	char buf[64];

	(void)state;
	assert_int_equal(odata_filter_parse(t, strlen(t), &f, &err), 0);
	odata_filter_print(odata_filter_root(f), buf, sizeof(buf));
	assert_string_equal(buf, "(path a)");
	odata_filter_free(f);
	free(s);
	free(t);

	/* 99 calls, each with one more level inside: 100 */
	s = build("", "length(", 99, "(a");
	t = build(s, ")", 100, "");
	assert_int_equal(odata_filter_parse(t, strlen(t), &f, &err), 0);
	odata_filter_free(f);
	free(t);
	t = build(s, ")", 99, "");	/* missing one: unbalanced, not depth */
	assert_int_equal(odata_filter_parse(t, strlen(t), &f, &err), -1);
	assert_non_null(strstr(err.message, "unbalanced parenthesis"));
	free(s);
	free(t);
}

/* A long left-assoc chain is a deep tree: print must still work. */
static void
test_long_chain_print(void **state)
{
	char *s = build("a", " add a", 499, "");
	struct odata_filter *f;
	struct odata_filter_error err;
	char *buf;
	int n, m;

	(void)state;
	assert_int_equal(odata_filter_parse(s, strlen(s), &f, &err), 0);
	n = odata_filter_print(odata_filter_root(f), NULL, 0);
	assert_true(n > 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	m = odata_filter_print(odata_filter_root(f), buf, (size_t)n + 1);
	assert_int_equal(m, n);
	assert_int_equal(strlen(buf), (size_t)n);
	assert_int_equal(strncmp(buf, "(add (add (add ", 15), 0);
	free(buf);
	odata_filter_free(f);
	free(s);
}

/* ------------------------------------------------------- node contents */

static struct odata_filter *
parse_ok(const char *s)
{
	struct odata_filter *f = NULL;
	struct odata_filter_error err;

	if (odata_filter_parse(s, strlen(s), &f, &err) != 0)
		fail_msg("%s: %s", s, err.message);
	return f;
}

static void
test_string_values(void **state)
{
	static const struct {
		const char *in, *text;
	} rows[] = {
		{ "'it''s'", "it's" },
		{ "''''", "'" },
		{ "''", "" },
		{ "'x'' OR 1=1 --'", "x' OR 1=1 --" },
		{ "'caf\xc3\xa9'", "caf\xc3\xa9" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(rows); i++) {
		struct odata_filter *f = parse_ok(rows[i].in);
		const struct odata_filter_node *n = odata_filter_root(f);

		assert_int_equal(n->kind, ODATA_FILTER_LITERAL);
		assert_int_equal(n->lit.type, ODATA_FILTER_STRING);
		assert_string_equal(n->lit.text, rows[i].text);
		assert_int_equal(n->lit.len, strlen(rows[i].text));
		odata_filter_free(f);
	}
}

static void
test_number_values(void **state)
{
	static const struct {
		const char *in;
		enum odata_filter_type type;
		const char *text;
		int64_t i;
		double d;
	} rows[] = {
		{ "12", ODATA_FILTER_INT32, "12", 12, 0 },
		{ "-2147483648", ODATA_FILTER_INT32, "-2147483648", INT32_MIN, 0 },
		{ "2147483648", ODATA_FILTER_INT64, "2147483648", 2147483648LL, 0 },
		{ "-9223372036854775808", ODATA_FILTER_INT64, "-9223372036854775808", INT64_MIN, 0 },
		{ "12L", ODATA_FILTER_INT64, "12", 12, 0 },
		{ "1.50M", ODATA_FILTER_DECIMAL, "1.50", 0, 1.5 },
		{ "1.5d", ODATA_FILTER_DOUBLE, "1.5", 0, 1.5 },
		{ "1e10", ODATA_FILTER_DOUBLE, "1e10", 0, 1e10 },
		{ "-2.5E-1", ODATA_FILTER_DOUBLE, "-2.5E-1", 0, -0.25 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < COUNT(rows); i++) {
		struct odata_filter *f = parse_ok(rows[i].in);
		const struct odata_filter_node *n = odata_filter_root(f);

		assert_int_equal(n->lit.type, rows[i].type);
		assert_string_equal(n->lit.text, rows[i].text);
		assert_true(n->lit.i == rows[i].i);
		assert_true(n->lit.d == rows[i].d);
		odata_filter_free(f);
	}
}

static void
test_datetime_values(void **state)
{
	struct odata_filter *f = parse_ok("datetimeoffset'2024-02-29T10:20:30.1234567-05:30'");
	const struct odata_filter_node *n = odata_filter_root(f);
	const struct odata_filter_datetime *dt = &n->lit.dt;

	(void)state;
	assert_int_equal(n->lit.type, ODATA_FILTER_DATETIMEOFFSET);
	assert_string_equal(n->lit.text, "2024-02-29T10:20:30.1234567-05:30");
	assert_int_equal(dt->year, 2024);
	assert_int_equal(dt->month, 2);
	assert_int_equal(dt->day, 29);
	assert_int_equal(dt->hour, 10);
	assert_int_equal(dt->minute, 20);
	assert_int_equal(dt->second, 30);
	assert_int_equal(dt->nanos, 123456700);
	assert_true(dt->has_offset);
	assert_int_equal(dt->offset_minutes, -330);
	odata_filter_free(f);

	f = parse_ok("datetime'2024-01-31T10:00'");
	n = odata_filter_root(f);
	assert_int_equal(n->lit.type, ODATA_FILTER_DATETIME);
	assert_int_equal(n->lit.dt.second, 0);
	assert_int_equal(n->lit.dt.nanos, 0);
	assert_false(n->lit.dt.has_offset);
	odata_filter_free(f);
}

static void
test_node_fields(void **state)
{
	struct odata_filter *f = parse_ok("destination/destinationTarget/id eq 'x' and "
	    "substring(name,1,2) ne true");
	const struct odata_filter_node *n = odata_filter_root(f), *l, *r;

	(void)state;
	assert_int_equal(n->kind, ODATA_FILTER_BINARY);
	assert_int_equal(n->binary.op, ODATA_FILTER_AND);
	assert_int_equal(n->pos, 40);
	l = n->binary.left;
	assert_int_equal(l->binary.op, ODATA_FILTER_EQ);
	assert_int_equal(l->pos, 33);
	assert_int_equal(l->binary.left->kind, ODATA_FILTER_PATH);
	assert_int_equal(l->binary.left->path.nsegs, 3);
	assert_string_equal(l->binary.left->path.segs[0], "destination");
	assert_string_equal(l->binary.left->path.segs[1], "destinationTarget");
	assert_string_equal(l->binary.left->path.segs[2], "id");
	assert_int_equal(l->binary.right->pos, 36);
	r = n->binary.right;
	assert_int_equal(r->binary.left->kind, ODATA_FILTER_CALL);
	assert_int_equal(r->binary.left->call.fn, ODATA_FILTER_SUBSTRING);
	assert_int_equal(r->binary.left->call.argc, 3);
	assert_int_equal(r->binary.left->pos, 44);
	assert_int_equal(r->binary.left->call.args[2]->lit.i, 2);
	assert_int_equal(r->binary.right->lit.type, ODATA_FILTER_BOOL);
	assert_true(r->binary.right->lit.b);
	assert_true(ODATA_FILTER_IS_LOGICAL(n->binary.op));
	assert_true(ODATA_FILTER_IS_COMPARISON(r->binary.op));
	odata_filter_free(f);

	f = parse_ok("not -a");
	n = odata_filter_root(f);
	assert_int_equal(n->kind, ODATA_FILTER_UNARY);
	assert_int_equal(n->unary.op, ODATA_FILTER_NOT);
	assert_int_equal(n->unary.arg->unary.op, ODATA_FILTER_NEG);
	assert_int_equal(n->unary.arg->pos, 4);
	odata_filter_free(f);
}

/* ----------------------------------------------------------------- API */

static void
test_api_edges(void **state)
{
	struct odata_filter *f = NULL;
	struct odata_filter_error err;
	char buf[16];
	int n;

	(void)state;
	/* err may be NULL; out is cleared on failure */
	f = (struct odata_filter *)&n;
	assert_int_equal(odata_filter_parse("a eq", 4, &f, NULL), -1);
	assert_null(f);
	assert_int_equal(odata_filter_parse(NULL, 0, &f, &err), -1);
	assert_non_null(strstr(err.message, "empty expression"));
	assert_int_equal(odata_filter_parse("a", 1, NULL, &err), -1);
	odata_filter_free(NULL);
	assert_null(odata_filter_root(NULL));

	/* print works like snprintf */
	f = parse_ok("a eq 'it''s'");
	n = odata_filter_print(odata_filter_root(f), buf, sizeof(buf));
	assert_int_equal(n, (int)strlen("(eq (path a) (string 'it''s'))"));
	assert_string_equal(buf, "(eq (path a) (s");
	assert_int_equal(odata_filter_print(odata_filter_root(f), NULL, 0), n);
	assert_int_equal(odata_filter_print(odata_filter_root(f), buf, 1), n);
	assert_string_equal(buf, "");
	assert_int_equal(odata_filter_print(NULL, buf, sizeof(buf)), -1);
	odata_filter_free(f);

	assert_string_equal(odata_filter_binop_name(ODATA_FILTER_MOD), "mod");
	assert_string_equal(odata_filter_func_name(ODATA_FILTER_CEILING), "ceiling");
	assert_string_equal(odata_filter_type_name(ODATA_FILTER_DATETIMEOFFSET), "datetimeoffset");

	/* messages fit and end in the position */
	assert_int_equal(odata_filter_parse("a eq 1 2", 8, &f, &err), -1);
	assert_string_equal(err.message, "unexpected token '2' at position 7");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operators),
		cmocka_unit_test(test_functions),
		cmocka_unit_test(test_literals),
		cmocka_unit_test(test_strings_paths),
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_depth_limit_exact),
		cmocka_unit_test(test_long_chain_print),
		cmocka_unit_test(test_string_values),
		cmocka_unit_test(test_number_values),
		cmocka_unit_test(test_datetime_values),
		cmocka_unit_test(test_node_fields),
		cmocka_unit_test(test_api_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
