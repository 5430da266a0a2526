# smfs: top-level build. `make` builds everything, `make check` runs every test plain
# and under ASan+UBSan, `make deps` installs what is missing, `make demo` shows it work.
# Variants build side by side: build/rel (optimised) and build/asan (sanitizers).

CC       ?= cc
B        ?= build/rel
VARIANT  ?= rel
OPT      ?= -O2
SAN      ?=
CFLAGS_W := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wno-missing-field-initializers
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
CPPFLAGS := -I. -MMD -MP $(XML_CFLAGS)
ALLCFLAGS = $(CFLAGS_W) $(OPT) -g $(SAN) $(CPPFLAGS) $(CFLAGS)
LDLIBS_CORE  := -lxxhash -lxml2 -lcurl -lcrypto -lyaml -lz -llz4 -lzstd -lsnappy -lsystemd -lm
LDLIBS_TOOLS := -ljansson
LDLIBS_IPC   := -lcrypto -lmicrohttpd -lcurl
FUSE_CFLAGS  := $(shell pkg-config --cflags fuse3 2>/dev/null || echo -I/usr/include/fuse3)
LDLIBS_FUSE  := -lfuse3 -pthread

CORE_SRC  := $(wildcard core/*.c)
IPC_SRC   := $(wildcard ipc/*.c)
CTL_SRC   := $(wildcard control/*.c)
FS_SRC    := $(filter-out fs/smfs.c,$(wildcard fs/*.c))
TOOLS_SRC := $(wildcard tools/*.c)
HELP_SRC  := $(wildcard tests/helpers/*.c)
BENCH_SRC := $(wildcard bench/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o)
IPC_OBJ   := $(IPC_SRC:%.c=$(B)/%.o)
CTL_OBJ   := $(CTL_SRC:%.c=$(B)/%.o)
FS_OBJ    := $(FS_SRC:%.c=$(B)/%.o)
TOOLS_OBJ := $(TOOLS_SRC:%.c=$(B)/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELP_BIN  := $(HELP_SRC:tests/helpers/%.c=$(B)/tests/%)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
CORE_LIB  := $(B)/libsmfscore.a
IPC_LIB   := $(B)/libsmfsipc.a
CTL_LIB   := $(B)/libsmfscontrol.a
FS_LIB    := $(B)/libsmfsfs.a
LIBS      := $(IPC_LIB) $(CORE_LIB)
LDLIBS    := $(LDLIBS_TOOLS) $(LDLIBS_IPC) $(LDLIBS_CORE)

SMCTL := $(B)/smctl
SMFS  := $(B)/smfs

.SECONDARY:
.PHONY: all deps check check-variant test-unit test-integration fuzz fuzz-smoke fuzz-long demo bench clean install uninstall deb
.DEFAULT_GOAL := all

all: $(SMCTL) $(SMFS) $(UNIT_BIN) $(HELP_BIN) $(BENCH_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

# fs/ and whatever talks to a mount (the daemon, its tests and bench/read) see libfuse.
$(B)/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(FUSE_CFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(IPC_LIB): $(IPC_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(CTL_LIB): $(CTL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SMCTL): $(TOOLS_OBJ) $(LIBS)
	$(CC) $(SAN) -o $@ $(TOOLS_OBJ) $(LIBS) $(LDLIBS)

$(FS_LIB): $(FS_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Layers link top down: fs → control → ipc → core.
$(SMFS): $(B)/fs/smfs.o $(FS_LIB) $(CTL_LIB) $(LIBS)
	$(CC) $(SAN) -o $@ $< $(FS_LIB) $(CTL_LIB) $(LIBS) $(LDLIBS) $(LDLIBS_FUSE)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(FS_LIB) $(CTL_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -pthread -o $@ $< $(FS_LIB) $(CTL_LIB) $(LIBS) -lcmocka $(LDLIBS) $(LDLIBS_FUSE)

# Helpers the tests start (servers for node-q), not tests themselves.
$(B)/tests/%: $(B)/tests/helpers/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -pthread -o $@ $< $(LIBS) $(LDLIBS)

$(B)/bench/%: $(B)/bench/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -pthread -o $@ $< $(LIBS) $(LDLIBS)

deps:
	@./mk/deps.sh

# One variant: unit tests (cmocka) then integration tests (shell, real files).
check-variant: all
	@./mk/run-tests.sh $(VARIANT) $(B)

check: deps
	@./mk/check-layers.sh
	@$(MAKE) --no-print-directory check-variant B=build/rel VARIANT=rel
	@$(MAKE) --no-print-directory check-variant B=build/asan VARIANT=asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
	@$(MAKE) --no-print-directory fuzz-smoke
	@echo "make check: all variants passed"

# Fuzz targets (clang + libFuzzer): build/fuzz/fuzz_*. `make fuzz-smoke` runs each on
# the golden files and the seed corpus for a few seconds; `make fuzz-long` runs them longer.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_FLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -I. $(XML_CFLAGS) -fsanitize=fuzzer,address,undefined
# core/, ipc/ and control/ compiled once for every target (instrumented, not linked with the
# fuzzer's main), then archived: each target only compiles its own file.
FUZZ_OBJ := $(CORE_SRC:%.c=build/fuzz/obj/%.o) $(IPC_SRC:%.c=build/fuzz/obj/%.o) $(CTL_SRC:%.c=build/fuzz/obj/%.o)
FUZZ_LIB := build/fuzz/libsmfsfuzz.a
fuzz: $(FUZZ_BIN)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -I. $(XML_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) -pthread -o $@ $< $(FUZZ_LIB) $(LDLIBS_TOOLS) $(LDLIBS_IPC) $(LDLIBS_CORE)
fuzz-smoke: fuzz
	@./mk/fuzz-smoke.sh $(FUZZ_BIN)

# Long fuzzing: FUZZ_SECONDS of CPU per target (default an hour), corpora kept in
# build/fuzz/corpus. FUZZ_TARGETS="fuzz_ipc fuzz_k" runs only those (one make per core).
# The build is serialised by a lock (flock, util-linux): two makes started at once must
# not compile the same objects together.
FUZZ_TARGETS ?= $(FUZZ_BIN:build/fuzz/%=%)
fuzz-long:
	@mkdir -p build/fuzz && flock build/fuzz/.build.lock $(MAKE) --no-print-directory fuzz
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-3600} FUZZ_KEEP=$(CURDIR)/build/fuzz/corpus ./mk/fuzz-smoke.sh $(FUZZ_TARGETS:%=build/fuzz/%)

# Benchmarks print figures as ratios against native work in the same run; they never
# pass or fail on time. Run on the optimised build.
bench: all
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# Install (PREFIX, DESTDIR as usual): the binaries, man pages, the systemd unit, the
# examples, and the helper mount(8) runs for `mount -t fuse.smfs` (a link to
# mount.fuse3, in /sbin whatever PREFIX is: mount looks only there).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/smfs
UNITDIR ?= $(PREFIX)/lib/systemd/system
SBINDIR ?= /sbin
INSTALL_DOCS := mnt-examples/full.yaml mnt-examples/minimal.yaml mnt-examples/tiers-s3.yaml \
                mnt-examples/fstab mnt-examples/smfs.logrotate README.md LICENSE
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(SMFS) $(SMCTL) $(DESTDIR)$(BINDIR)/
	install -m 0644 man/smctl.1 $(DESTDIR)$(MANDIR)/man1/smctl.1
	install -m 0644 man/smfs.8 $(DESTDIR)$(MANDIR)/man8/smfs.8
	install -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	sed 's#/usr/local/bin/smfs#$(BINDIR)/smfs#' mnt-examples/smfs.service >$(DESTDIR)$(UNITDIR)/smfs.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smfs.service
	ln -sf mount.fuse3 $(DESTDIR)$(SBINDIR)/mount.fuse.smfs
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smfs $(DESTDIR)$(BINDIR)/smctl $(DESTDIR)$(MANDIR)/man1/smctl.1 \
	    $(DESTDIR)$(MANDIR)/man8/smfs.8 $(DESTDIR)$(UNITDIR)/smfs.service $(DESTDIR)$(SBINDIR)/mount.fuse.smfs
	rm -rf $(DESTDIR)$(DOCDIR)

# A Debian package from a staged install under /usr (build/deb/smfs_VERSION_ARCH.deb).
deb: all
	@./mk/deb.sh $(B)

DEMO_DIR ?= /tmp/smfs-demo
demo: deps all
	@./mnt-examples/demo.sh $(SMCTL) $(SMFS) $(DEMO_DIR)

clean:
	rm -rf build

-include $(CORE_OBJ:.o=.d) $(IPC_OBJ:.o=.d) $(CTL_OBJ:.o=.d) $(FS_OBJ:.o=.d) $(B)/fs/smfs.d $(TOOLS_OBJ:.o=.d) $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%.d) \
         $(HELP_SRC:%.c=$(B)/%.d) $(BENCH_SRC:%.c=$(B)/%.d) $(FUZZ_OBJ:.o=.d)
