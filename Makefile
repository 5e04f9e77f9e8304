# owlpost - see README.md.  "make run" and "make check" are the two commands.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= cc
SAN ?=
PY ?= /usr/bin/python3
FUZZ_SECONDS ?= 2
TRIALS ?= 30

PKGS := libevent libevent_openssl openssl libcrypt zlib
CPPFLAGS += -D_GNU_SOURCE -Isrc
CFLAGS ?= -O2 -g
CFLAGS += -std=c17 -Wall -Wextra -Werror -Wformat=2 -Wshadow \
	  -Wstrict-prototypes -Wmissing-prototypes -pthread \
	  $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS += $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -levent -levent_openssl -lssl -lcrypto -lcrypt -lz) -lresolv -pthread
ifeq ($(SAN),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard src/lib/*.c src/proto/*.c src/mime/*.c src/store/*.c \
	     src/auth/*.c src/net/*.c src/msgauth/*.c)
OWLD_SRC := $(wildcard src/owld/*.c src/relay/*.c)
OWLCTL_SRC := $(wildcard src/owlctl/*.c)
OWL_SRC := $(wildcard src/owl/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

.PHONY: all run check deps test-deps unit unit-bins prebuild integ asan fuzz fuzz-build deb \
	check-layers check-cluster valgrind install clean bench bench-open bench-imap \
	bench-cluster bench-smoke bench-outbound bench-msgauth torture

all: $(BUILD)/owld $(BUILD)/owlctl $(BUILD)/owl

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libowl.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/owld: $(call obj,$(OWLD_SRC)) $(BUILD)/libowl.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# owlctl doctor asks the DNS as owld does (relay/resolve.c)
OWLCTL_RELAY := src/relay/resolve.c src/relay/dnscache.c
$(BUILD)/owlctl: $(call obj,$(OWLCTL_SRC) $(OWLCTL_RELAY)) $(BUILD)/libowl.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/owl: $(call obj,$(OWL_SRC)) $(BUILD)/libowl.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# the parser tests also cover relay/'s bounce and DNS answer parsing
$(BUILD)/tests/test_parsers: $(BUILD)/obj/tests/unit/test_parsers.o \
		$(call obj,src/relay/bounce.c src/relay/dns.c \
		  src/relay/resolve.c src/relay/dnscache.c) $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# the DNS answer parser and cache of relay/
$(BUILD)/tests/test_dns_cache: $(BUILD)/obj/tests/unit/test_dns_cache.o \
		$(call obj,src/relay/resolve.c src/relay/dnscache.c) \
		$(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# the relay's connection-cache policy (pure) from relay/
$(BUILD)/tests/test_relay_pick: $(BUILD)/obj/tests/unit/test_relay_pick.o \
		$(call obj,src/relay/pick.c) $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# owl's pure text functions (display width, cells, HTML) from owl/
$(BUILD)/tests/test_owl_text: $(BUILD)/obj/tests/unit/test_owl_text.o \
		$(call obj,src/owl/text.c) $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# owl's IMAP response parser and its reply drafts (pure) from owl/
$(BUILD)/tests/test_owl_imap: $(BUILD)/obj/tests/unit/test_owl_imap.o \
		$(call obj,src/owl/imap_resp.c src/owl/reply.c src/owl/text.c) \
		$(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# the IMAP core's tests that run over the in-memory store (imap_fake.h)
IMAP_FAKE_TESTS := $(addprefix $(BUILD)/tests/,test_imap_folder test_imap_server \
		     test_imap_append \
		     test_imap_session test_imap_qresync)
$(IMAP_FAKE_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o \
		$(BUILD)/obj/tests/unit/imap_fake.o $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# the IMAP store adapter's tests link it from owld/
$(BUILD)/tests/test_imap_store: $(BUILD)/obj/tests/unit/test_imap_store.o \
		$(call obj,src/owld/imap_store.c) $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

deps:
	@sh scripts/deps.sh build

test-deps:
	@sh scripts/deps.sh test

# Builds, then runs owld on its embedded default (./owl-data, 127.0.0.1:2525).
run: deps
	$(MAKE) all
	./$(BUILD)/owld

# tests/integ/test_spf.py's driver: the SPF core answered from a zone file
$(BUILD)/tests/spfeval: $(BUILD)/obj/tests/tools/spfeval.o $(BUILD)/libowl.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit: $(UNIT_BIN) $(BUILD)/tests/spfeval
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

unit-bins: $(UNIT_BIN) $(BUILD)/tests/spfeval

# What check's later steps compile (the ASan + UBSan build, the fuzz
# harnesses), made while the plain integration tests run, at the lowest
# priority: those tests mostly wait (timeouts, deadlines, fsync), so the
# builds take the idle CPU and check keeps to its 20 minutes.
prebuild:
	$(MAKE) BUILD=build-asan SAN=1 all unit-bins
	$(MAKE) fuzz-build

integ: all
	OWLD_BUILD=$(BUILD) $(PY) -m pytest -q -p no:cacheprovider --durations=8 tests/integ

# Three owld on a replica-3 GlusterFS volume on loopback (tests/cluster,
# docs/CLUSTER.md); skipped, saying why, where the machine cannot run one
# (not root, no /dev/fuse, no GlusterFS).  Part of check.
check-cluster: all
	OWLD_BUILD=$(BUILD) $(PY) -m pytest -q -rs -p no:cacheprovider tests/cluster

# The unit and integration tests again under ASan + UBSan.
# plain_only tests (tests/integ/conftest.py) run no owld code under ASan
asan:
	$(MAKE) BUILD=build-asan SAN=1 all unit
	OWLD_BUILD=build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  $(PY) -m pytest -q -p no:cacheprovider --durations=8 -m "not plain_only" tests/integ

valgrind: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== valgrind $$t"; \
	  valgrind -q --error-exitcode=1 --leak-check=full \
	  --errors-for-leak-kinds=definite $$t >/dev/null; done

FUZZ_BIN := $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
	      -fno-sanitize-recover=all -D_GNU_SOURCE \
	      -Isrc -std=c17 -Wall -Wextra -Werror
FUZZ_LIB := src/lib/buf.c src/lib/addr.c src/lib/b64.c \
	    $(wildcard src/proto/*.c src/mime/*.c) \
	    src/lib/log.c src/auth/table.c src/auth/aliases.c src/net/framer.c \
	    src/store/uidlist.c

# What a harness links besides FUZZ_LIB: FUZZ_SRC_<harness> (the parsers
# of store/, auth/, relay/ and owl/ that need no event loop and no TLS).
FUZZ_STORE := $(filter-out $(FUZZ_LIB),$(wildcard src/store/*.c))
FUZZ_CONF := src/lib/conf.c src/lib/cidr.c
FUZZ_SRC_fuzz_queue := $(FUZZ_STORE)
FUZZ_SRC_fuzz_users := src/auth/users.c $(FUZZ_STORE)
FUZZ_SRC_fuzz_conf := $(FUZZ_CONF)
FUZZ_SRC_fuzz_mbox := $(FUZZ_STORE)
FUZZ_SRC_fuzz_maildir_name := $(FUZZ_STORE)
FUZZ_SRC_fuzz_folder_name := $(FUZZ_STORE)
FUZZ_SRC_fuzz_dns := src/relay/resolve.c src/relay/dnscache.c \
		     src/msgauth/dnsq.c src/lib/clock.c $(FUZZ_CONF)
FUZZ_SRC_fuzz_bounce := src/relay/bounce.c $(FUZZ_STORE)
FUZZ_SRC_fuzz_cidr := src/lib/cidr.c
FUZZ_SRC_fuzz_owlrc := src/owl/rc.c
FUZZ_SRC_fuzz_owl_text := src/owl/text.c
FUZZ_SRC_fuzz_owl_imap := src/owl/imap_resp.c
FUZZ_SRC_fuzz_imap_folder := tests/unit/imap_fake.c
FUZZ_SRC_fuzz_imap_server := tests/unit/imap_fake.c
FUZZ_SRC_fuzz_dkim := $(wildcard src/msgauth/*.c)
FUZZ_SRC_fuzz_dmarc := $(wildcard src/msgauth/*.c)
FUZZ_SRC_fuzz_authres := $(wildcard src/msgauth/*.c)
FUZZ_SRC_fuzz_spf := $(wildcard src/msgauth/spf*.c) src/msgauth/dnsq.c
FUZZ_SRC_fuzz_inbound := $(wildcard src/msgauth/*.c)
FUZZ_LDLIBS := -lresolv -lcrypt -lcrypto

# Every source is compiled once (instrumented, without libFuzzer's main)
# into build-fuzz/obj, FUZZ_LIB's into one archive; a harness links what
# it uses of it.  Compiling all of proto/ and mime/ for each of 31
# harnesses took minutes of make check.
FUZZ_OBJ_FLAGS := $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_FLAGS))
fuzzobj = $(patsubst %.c,build-fuzz/obj/%.o,$(1))

build-fuzz/obj/%.o: %.c $(wildcard src/*/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_OBJ_FLAGS) -c -o $@ $<

build-fuzz/libfuzz.a: $(call fuzzobj,$(FUZZ_LIB))
	rm -f $@
	ar rcs $@ $^

.SECONDEXPANSION:
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libfuzz.a \
		$$(call fuzzobj,$$(FUZZ_SRC_fuzz_$$*)) $(wildcard src/*/*.h)
	clang $(FUZZ_FLAGS) -o $@ $< $(call fuzzobj,$(FUZZ_SRC_fuzz_$*)) \
	  build-fuzz/libfuzz.a $(FUZZ_LDLIBS)

fuzz-build: $(FUZZ_BIN)

# A short fixed-time run of every harness (longer runs: FUZZ_SECONDS=3600).
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
	  mkdir -p build-fuzz/corpus-$$n; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/$$n.dict \
	    -print_final_stats=0 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n \
	    2>build-fuzz/$$n.log || { tail -50 build-fuzz/$$n.log; exit 1; }; \
	  tail -1 build-fuzz/$$n.log; done

# owld side by side with Postfix, Dovecot and smtp-sink (see bench/bench.py);
# not a test: timings are printed, not judged.  check runs a short smoke.
# Targets in turn in every round, a quiet gate before each run; options in
# BENCH_FLAGS (e.g. "--rounds 5 --quiet-cap 120").
$(BUILD)/pop3load: bench/pop3load.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $<

# section 8's STARTTLS client (Python's clients bounded what they measured)
$(BUILD)/smtptls: bench/smtptls.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lssl -lcrypto -lpthread

bench: test-deps all $(BUILD)/pop3load $(BUILD)/smtptls
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py $(BENCH_FLAGS)

# Section 4b of bench alone (minutes, with the quiet gate's waits): opening a Maildir of 10,000
# and 100,000 messages, owld and Dovecot in turn.
bench-open: test-deps all $(BUILD)/pop3load
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py --only open $(BENCH_FLAGS)

# Section 7 of bench alone: IMAP, owld and Dovecot's imapd in turn
# (FETCH, SELECT + UID FETCH FLAGS, APPEND, IDLE memory, 50 MB messages).
bench-imap: test-deps all
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py --only imap $(BENCH_FLAGS)

# What the shared filesystem costs: one host on local disk, one and three
# hosts on a GlusterFS volume on this machine (bench/cluster.py).  Minutes.
bench-cluster: test-deps all $(BUILD)/pop3load
	OWLD_BUILD=$(BUILD) $(PY) bench/cluster.py

# Section 8 of bench alone: outbound relay (messages relayed as they
# arrive) and STARTTLS ingest at 1 and 100 messages per connection, next to
# Postfix (bench/outbound.py, a section of bench.py's registry).  Minutes.
bench-outbound: test-deps all $(BUILD)/smtptls
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py --only outbound $(BENCH_FLAGS)

bench-msgauth: test-deps all
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py --only msgauth $(BENCH_FLAGS)

bench-smoke: all $(BUILD)/pop3load $(BUILD)/smtptls
	OWLD_BUILD=$(BUILD) $(PY) bench/bench.py --smoke

# The kill -9 campaign (tests/torture/torture.py): TRIALS trials in each of
# four modes (inbound, queue, pop3, imap; MODES=... picks), each mode bounded
# by TORTURE_SECONDS (600).  Not part of check: it takes minutes.
torture: all
	OWLD_BUILD=$(BUILD) $(PY) tests/torture/torture.py --trials $(TRIALS)

# The layers of DESIGN.md (README, Design): the arrows between folders, no
# I/O in the protocol cores, no event loop in store/, no circles of files.
check-layers:
	@$(PY) scripts/check-layers.py src

check: test-deps
	$(MAKE) check-layers
	$(MAKE) all unit
	@mkdir -p build; nice -n 19 $(MAKE) prebuild > build/prebuild.log 2>&1 & \
	  pb=$$!; $(MAKE) integ; ri=$$?; wait $$pb; rp=$$?; \
	  if [ $$rp -ne 0 ]; then tail -50 build/prebuild.log; fi; \
	  test $$ri -eq 0 -a $$rp -eq 0
	$(MAKE) check-cluster
	$(MAKE) bench-smoke
	$(MAKE) valgrind
	$(MAKE) asan
	$(MAKE) fuzz

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/owlpost
	install -m 755 $(BUILD)/owld $(DESTDIR)$(PREFIX)/sbin/owld
	install -m 755 $(BUILD)/owlctl $(DESTDIR)$(PREFIX)/bin/owlctl
	install -m 755 $(BUILD)/owl $(DESTDIR)$(PREFIX)/bin/owl
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 docs/owl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/owld.8 docs/owlctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 docs/owld.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 owld.conf.sample README.md $(DESTDIR)$(PREFIX)/share/doc/owlpost/

clean:
	rm -rf build build-asan build-fuzz

# The Debian package (debian/, debhelper 13): built from a copy of the
# tracked files in $(BUILD)/deb-src, so the worktree stays clean; the
# .deb ends up in $(BUILD)/deb/.  Needs dpkg-dev and debhelper
# (make test-deps), lintian to check it (tests/integ/test_deb.py).
deb:
	rm -rf $(BUILD)/deb-src $(BUILD)/deb
	mkdir -p $(BUILD)/deb-src/owlpost $(BUILD)/deb
	git ls-files -z -co --exclude-standard | grep -zv '^tests/' | \
	  tar --null -T - --ignore-failed-read -cf - 2>/dev/null | \
	  tar -xf - -C $(BUILD)/deb-src/owlpost
	cd $(BUILD)/deb-src/owlpost && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	  -u BUILD dpkg-buildpackage -us -uc -b
	cp $(BUILD)/deb-src/*.deb $(BUILD)/deb/
	@ls $(BUILD)/deb/*.deb
