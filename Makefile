# webhookd — see README.md. `make run` and `make test` are the two commands.
CC       ?= cc
PKGS     := libevent libevent_openssl libevent_pthreads libpq jansson openssl libcurl
WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes
CFLAGS   ?= -O2 -g
CPPFLAGS := -std=c11 -D_GNU_SOURCE -Iservice -Iodata -Ibuild/gen $(WARN)
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
B        ?= build

SRC      := $(wildcard service/*.c odata/*.c)
OBJ      := $(SRC:%.c=$(B)/%.o) $(B)/gen/migrations.o
LIBOBJ   := $(filter-out $(B)/service/main.o,$(OBJ))
UNIT     := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
SQL      := $(sort $(wildcard sql/[0-9][0-9][0-9][0-9]_*.sql))
PYTEST   := /usr/bin/python3 -m pytest

.PHONY: all deps run stop-db test unit unit-asan e2e e2e-asan asan bench clean cppcheck fuzz

all: $(B)/webhookd

$(B)/webhookd: $(OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKGLIBS)

$(B)/%.o: %.c $(wildcard service/*.h odata/*.h) build/gen/migrations.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKGCFLAGS) $(CFLAGS) -c -o $@ $<

# Migrations are compiled into the binary so that it knows which schema
# version it speaks; `serve` refuses a database behind or ahead of it.
# One rule writes both files; the header only follows it (a two-target rule
# would run twice under -j and race).
build/gen/migrations.c: $(SQL) scripts/embed-sql.sh
	@mkdir -p build/gen
	sh scripts/embed-sql.sh build/gen $(SQL)
build/gen/migrations.h: build/gen/migrations.c ;

$(B)/gen/migrations.o: build/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKGCFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKGCFLAGS) $(CFLAGS) -o $@ $< $(LIBOBJ) $(PKGLIBS) -lcmocka

deps:
	@bash scripts/deps.sh run

run: deps
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

stop-db:
	@bash scripts/pg.sh stop var

test:
	@bash scripts/deps.sh test
	@$(MAKE) --no-print-directory -j2 all
	@$(MAKE) --no-print-directory -j2 asan
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-asan
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory e2e-asan

unit: $(UNIT)
	@set -e; for t in $(UNIT); do echo "== $$t"; $$t; done

e2e: $(B)/webhookd
	WHD_BIN=$(abspath $(B)/webhookd) $(PYTEST) -q tests/e2e

# The sanitizer build lives in its own tree so both can coexist.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
asan:
	@$(MAKE) --no-print-directory B=build/asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" build/asan/webhookd

unit-asan:
	@ASAN_OPTIONS=detect_leaks=1 $(MAKE) --no-print-directory -j2 B=build/asan \
	  CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" unit

e2e-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	WHD_BIN=$(abspath build/asan/webhookd) WHD_SANITIZED=1 $(PYTEST) -q tests/e2e

bench: all
	@bash scripts/deps.sh bench
	@bash bench/run.sh

# libFuzzer targets, each run for FUZZ_SECONDS (never part of `make test`).
FUZZ_SECONDS ?= 60
FUZZ := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZCC := clang -g -O1 -fsanitize=fuzzer,address,undefined -Iservice -Iodata
build/fuzz/fuzz_httpparse: tests/fuzz/fuzz_httpparse.c service/httpparse.c service/httpparse.h
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< service/httpparse.c
build/fuzz/fuzz_odata_multipart: tests/fuzz/fuzz_odata_multipart.c odata/multipart.c odata/multipart.h \
    odata/strbuf.c odata/strbuf.h
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< odata/multipart.c odata/strbuf.c
build/fuzz/fuzz_odata_read: tests/fuzz/fuzz_odata_read.c $(wildcard odata/*.c odata/*.h)
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< odata/read.c odata/scope.c odata/stmt.c odata/model.c odata/key.c \
	  odata/filter.c odata/filter_sql.c odata/strbuf.c odata/error.c odata/uri.c odata/render.c \
	  odata/utf8.c -ljansson
build/fuzz/fuzz_odata_write: tests/fuzz/fuzz_odata_write.c $(wildcard odata/*.c odata/*.h)
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< odata/write.c odata/read.c odata/scope.c odata/stmt.c odata/model.c \
	  odata/key.c odata/filter.c odata/filter_sql.c odata/strbuf.c odata/error.c odata/uri.c \
	  odata/render.c odata/utf8.c -ljansson
build/fuzz/fuzz_odata_filter_eval: tests/fuzz/fuzz_odata_filter_eval.c $(wildcard odata/*.c odata/*.h)
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< odata/filter_eval.c odata/filter.c odata/filter_sql.c odata/strbuf.c \
	  odata/utf8.c -ljansson
build/fuzz/fuzz_odata_%: tests/fuzz/fuzz_odata_%.c odata/%.c odata/%.h
	@mkdir -p build/fuzz
	$(FUZZCC) -o $@ $< odata/$*.c odata/utf8.c
fuzz:
	@bash scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory $(FUZZ)
	@set -e; for f in $(FUZZ); do mkdir -p $$f.corpus; \
	  d=tests/fuzz/$$(basename $$f).dict; dict=; [ -f $$d ] && dict=-dict=$$d; \
	  UBSAN_OPTIONS=halt_on_error=1 $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict $$f.corpus 2>&1 | tail -n 12; done

cppcheck:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Iservice -Iodata \
	  --include=/usr/include/jansson.h service odata

clean:
	rm -rf build
