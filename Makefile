# dvmount: Kbuild-free GNU make. `make V=1` shows full command lines.
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
sbindir ?= $(prefix)/sbin
bindir ?= $(prefix)/bin
mandir ?= $(prefix)/share/man
libexecdir ?= $(prefix)/libexec
datadir ?= $(prefix)/share
docdir ?= $(datadir)/doc/dvmount
unitdir ?= $(prefix)/lib/systemd/system
hooksdir ?= $(datadir)/containers/oci/hooks.d
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
O ?= build
LINUX_SOURCE ?= /usr/src/linux-source-6.1.tar.xz

# Compile flags of every library; mount is headers only (see LINK_PC below).
LIBS_PC := mount uuid liburing libcap-ng libnl-3.0 json-c
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror=format-security \
	-Werror=implicit-function-declaration -Werror=missing-prototypes -Wshadow \
	-Wno-format-truncation \
	-D_GNU_SOURCE -I. $(shell pkg-config --cflags $(LIBS_PC))
# The six libraries Debian 12 ships as .a (json-c, liburing, libcap-ng,
# libnl-3, libhttp-parser, libuuid) are linked statically into the programs;
# libc stays shared. libmount has no .a in Debian (and would bring libblkid,
# libselinux and pcre2): its headers come from pkg-config mount, and the one
# function that reads a mount table dlopen()s it on first use
# (ns/mountinfo.c), so a command that reads none never maps it. Why: the
# dynamic loader was 22% of a prepare's CPU (issue 11; README: Performance).
# The price: a Debian security update of one of those six libraries reaches
# dvmount only once it is rebuilt (as with runc and crun); an update of
# libmount or libc does not need one. DYNAMIC_DEPS=1 links the six shared
# instead (libmount is still dlopen()ed).
LINK_PC := uuid liburing libcap-ng libnl-3.0 json-c
ifeq ($(DYNAMIC_DEPS),1)
override LDLIBS += $(shell pkg-config --libs $(LINK_PC)) -lhttp_parser
# tests/linking_test.c then expects them among the program's NEEDED libraries.
override CPPFLAGS += -DDVMOUNT_DYNAMIC_DEPS
else
override LDLIBS += -Wl,-Bstatic $(shell pkg-config --static --libs $(LINK_PC)) -lhttp_parser \
	-Wl,-Bdynamic
endif

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

# One sorted list of sources per program (STYLE.md 12), written out: the build
# says what it builds, and `make srcs-check` fails on a .c file in no list.
LIB_SRCS := \
	common/debug.c \
	common/fileio.c \
	helper/audit.c \
	helper/caller.c \
	helper/caps.c \
	helper/cmd_cleanup.c \
	helper/cmd_dvdcli.c \
	helper/cmd_oci_hook.c \
	helper/cmd_policy.c \
	helper/cmd_prepare.c \
	helper/cmd_recover.c \
	helper/cmd_status.c \
	helper/cmd_volume.c \
	helper/error.c \
	helper/globals.c \
	helper/harden.c \
	helper/help.c \
	helper/lifecycle.c \
	helper/log.c \
	helper/oci.c \
	helper/oci_annotations.c \
	helper/plugin/plugin.c \
	helper/plugin/plugin_discovery.c \
	helper/plugin/plugin_slot.c \
	helper/spec/spec.c \
	helper/state/state-container.c \
	helper/state/state-lock.c \
	helper/state/state-scan.c \
	helper/state/state-spare.c \
	helper/state/state-vol.c \
	helper/state/state-volume.c \
	helper/state/state.c \
	ns/attach.c \
	ns/child.c \
	ns/mountinfo.c \
	ns/mountpoint.c \
	ns/peek.c \
	ns/pidfd.c \
	ns/resolve.c \
	ns/tree.c \
	policy/decide.c \
	policy/load.c \
	policy/parse.c \
	uring/http.c \
	uring/rpc.c \
	uring/rpc_poll.c \
	uring/rpc_uring.c
DVMOUNT_SRCS := helper/main.c
TESTPLUGIN_SRCS := \
	tools/testplugin/api.c \
	tools/testplugin/conn.c \
	tools/testplugin/fault.c \
	tools/testplugin/main.c \
	tools/testplugin/volume.c
BENCH_SRCS := \
	tools/bench/cli.c \
	tools/bench/compare.c \
	tools/bench/main.c \
	tools/bench/measure.c \
	tools/bench/proc.c \
	tools/bench/report.c \
	tools/bench/scen_contention.c \
	tools/bench/scen_dvdcli.c \
	tools/bench/scen_oci.c \
	tools/bench/scen_scale.c \
	tools/bench/scen_volumes.c
RUN_SRCS := \
	tools/run/container.c \
	tools/run/main.c
FLOOR_SRCS := tools/bench/floor/floor.c
# A deliberate regression for bench_test: one more fsync after every rename.
REGRESS_SRCS := tests/bench/extra_fsync.c
# The power-cut model: a FUSE filesystem keeping a visible and a durable image.
PCFS_SRCS := tests/pcfs/pcfs.c
# Links the whole library with nothing of the program's (srcs-check's partner).
LINKS_ALONE_SRCS := tests/link/links_alone.c
TESTLIB_SRCS := \
	tests/lib/crashscene.c \
	tests/lib/invariants.c \
	tests/lib/lcenv.c \
	tests/lib/miniplugin.c \
	tests/lib/powercut.c \
	tests/lib/run.c \
	tests/lib/testutil.c
TEST_SRCS := \
	tests/attack_test.c \
	tests/audit_test.c \
	tests/bench_test.c \
	tests/caps_test.c \
	tests/cli_test.c \
	tests/crash_points_test.c \
	tests/demo_test.c \
	tests/discovery_test.c \
	tests/dvmount_run_test.c \
	tests/error_test.c \
	tests/fileio_test.c \
	tests/help_test.c \
	tests/hung_fuse_test.c \
	tests/install_test.c \
	tests/invariants_test.c \
	tests/kill_at_fork_test.c \
	tests/kill_every_syscall_test.c \
	tests/kill_random_test.c \
	tests/lifecycle_concurrency_test.c \
	tests/lifecycle_crash_test.c \
	tests/lifecycle_rootfs_test.c \
	tests/lifecycle_test.c \
	tests/linking_test.c \
	tests/man_test.c \
	tests/ns_test.c \
	tests/oci_annotations_test.c \
	tests/oci_hook_test.c \
	tests/plugin_faults_test.c \
	tests/plugin_protocol_test.c \
	tests/plugin_rclone_test.c \
	tests/policy_test.c \
	tests/powercut_fs_test.c \
	tests/powercut_points_test.c \
	tests/privilege_test.c \
	tests/resolve_test.c \
	tests/rpc_test.c \
	tests/setup_cost_test.c \
	tests/source_checks_test.c \
	tests/spec_test.c \
	tests/state_disk_test.c \
	tests/state_test.c \
	tests/stress_test.c \
	tests/testplugin_test.c \
	tests/volume_cost_test.c
FUZZ_SRCS := \
	tests/fuzz/http_fuzz.c \
	tests/fuzz/oci_fuzz.c \
	tests/fuzz/plugin_answer_fuzz.c \
	tests/fuzz/policy_fuzz.c \
	tests/fuzz/spec_fuzz.c \
	tests/fuzz/state_record_fuzz.c
ALL_SRCS := $(LIB_SRCS) $(DVMOUNT_SRCS) $(TESTPLUGIN_SRCS) $(BENCH_SRCS) $(RUN_SRCS) \
	$(FLOOR_SRCS) $(REGRESS_SRCS) $(PCFS_SRCS) $(LINKS_ALONE_SRCS) $(TESTLIB_SRCS) $(TEST_SRCS) $(FUZZ_SRCS)

LIB := $(O)/libdvmount.a
TESTS := $(patsubst tests/%.c,$(O)/tests/%,$(TEST_SRCS))
HARNESS := $(O)/include/kselftest_harness.h
# The test build of dvmount: stops at each capability phase on request (helper/caps.h).
PAUSING := $(O)/tests/dvmount-pausing
PCFS := $(O)/tests/dvmount-pcfs
PROGS := $(O)/dvmount $(O)/dvdcli $(O)/dvmount-testplugin $(O)/dvmount-bench \
	$(O)/dvmount-bench-floor $(O)/dvmount-run
LINKS_ALONE := $(O)/tests/libdvmount-links-alone

obj = $(patsubst %.c,$(O)/obj/%.o,$(1))

all: $(PROGS) $(TESTS) $(PAUSING) $(PCFS) $(O)/tests/bench-extra-fsync.so $(LINKS_ALONE)

$(O)/obj/%.o: %.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(O)/obj/tests/%.o: tests/%.c $(HARNESS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -isystem $(O)/include -Wno-missing-prototypes \
		-DDVMOUNT_SRCDIR='"$(CURDIR)"' -MMD -MP -c -o $@ $<

$(LIB): $(call obj,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/dvmount: $(call obj,$(DVMOUNT_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/obj/helper/caps-pause.o: helper/caps.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -DDVMOUNT_TEST_PAUSE -MMD -MP -c -o $@ $<

# caps-pause.o defines every symbol of the archive's caps.o, which is then not linked.
$(PAUSING): $(call obj,$(DVMOUNT_SRCS)) $(O)/obj/helper/caps-pause.o $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every object of the library, and only those, with its libraries and -z defs:
# a symbol that only a program defines (as log_error was, in main.c) fails here.
$(LINKS_ALONE): $(call obj,$(LINKS_ALONE_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Wl,-z,defs -o $@ $(call obj,$(LINKS_ALONE_SRCS)) \
		-Wl,--whole-archive $(LIB) -Wl,--no-whole-archive $(LDLIBS)

# libfuse3 for this test program only: the product never links it.
$(call obj,$(PCFS_SRCS)): override CPPFLAGS += $(shell pkg-config --cflags fuse3)
$(PCFS): $(call obj,$(PCFS_SRCS))
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs fuse3)

$(O)/dvdcli: $(O)/dvmount
	$(Q)ln -sf dvmount $@

$(O)/dvmount-testplugin: $(call obj,$(TESTPLUGIN_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/dvmount-bench: $(call obj,$(BENCH_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(O)/dvmount-run: $(call obj,$(RUN_SRCS))
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# Only libc: the floor is what an attach costs without any of dvmount's libraries.
$(O)/dvmount-bench-floor: $(call obj,$(FLOOR_SRCS))
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(O)/tests/bench-extra-fsync.so: $(REGRESS_SRCS)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $^ -ldl

$(O)/tests/%: $(O)/obj/tests/%.o $(call obj,$(TESTLIB_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lpthread

# The kselftest harness is not packaged on its own: take its two headers from
# Debian's kernel source at build time (never committed).
$(HARNESS):
	$(call msg,EXTRACT,$@)
	$(Q)test -r $(LINUX_SOURCE) || { echo "missing $(LINUX_SOURCE): run tools/install-deps" >&2; exit 1; }
	$(Q)mkdir -p $(O)/include
	$(Q)tar -xJf $(LINUX_SOURCE) -C $(O)/include --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h
	$(Q)touch $@

# Seconds each fuzz target runs in `make check` (0: none).
CHECK_FUZZ_TIME ?= 20

deps:
	$(Q)tools/install-deps

check: deps srcs-check layers-check exit-check all
	$(if $(filter-out 0,$(CHECK_FUZZ_TIME)),$(Q)$(MAKE) --no-print-directory O=$(O) \
		FUZZ_TIME=$(CHECK_FUZZ_TIME) fuzz)
	$(Q)O=$(O) tests/run $(TESTS)

# Every C file git knows is in exactly one source list above.
srcs-check:
	$(Q)missing=$$(git ls-files '*.c' 2>/dev/null | grep -vxF $(foreach f,$(ALL_SRCS),-e $(f))); \
	if [ -n "$$missing" ]; then echo "in no source list of the Makefile: $$missing" >&2; exit 1; fi
	$(Q)dups=$$(printf '%s\n' $(ALL_SRCS) | sort | uniq -d); \
	if [ -n "$$dups" ]; then echo "in two source lists of the Makefile: $$dups" >&2; exit 1; fi

# helper/state/, helper/plugin/, helper/spec/ and the libraries ns/, uring/,
# policy/ include nothing of the program above them (tools/layers-check).
layers-check:
	$(Q)tools/layers-check

# The exit status is chosen in helper/error.c only, and errors reach stderr
# through its carrier (tools/exit-check: greps, about a second).
exit-check:
	$(Q)tools/exit-check

# The tree's .clang-format is clang-format 14's (Debian 12).
CLANG_FORMAT ?= clang-format-14
FORMAT_SRCS = $(sort $(ALL_SRCS) $(shell git ls-files '*.h' 2>/dev/null))
format-check:
	$(Q)$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_SRCS)

format:
	$(Q)$(CLANG_FORMAT) -i $(FORMAT_SRCS)

# The fuzzers already run under ASan+UBSan in `make check`: not again here.
asan:
	$(Q)$(MAKE) --no-print-directory O=$(O)/asan CHECK_FUZZ_TIME=0 \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" check

# Each mutation removes one protection; every one must make a test fail.
mutants: deps all
	$(Q)O=$(O) tests/mutants/run

demo: deps $(PROGS)
	$(Q)O=$(O) tools/demo

# Results under $(O)/bench: results.json, results.md and the plots (dvmount-bench(1)).
bench: deps $(PROGS)
	$(Q)$(O)/dvmount-bench --out $(O)/bench \
		--commit "$$(git describe --always --dirty 2>/dev/null || echo unknown)" $(BENCH_ARGS)

# libFuzzer targets: the library again, built by clang with coverage and
# sanitizers; each target links only the objects it uses. `make fuzz` runs each
# for FUZZ_TIME seconds (0: build only) on a scratch copy of its seed corpus
# tests/fuzz/<name>/; a crash leaves its input in $(O)/fuzz/ and fails.
FUZZ_TIME ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -I. $(shell pkg-config --cflags $(LIBS_PC))
FUZZ_LIB := $(O)/fuzz/libdvmount-fuzz.a
FUZZERS := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(FUZZ_SRCS))

$(O)/fuzz/obj/%.o: %.c
	$(call msg,CLANG,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(patsubst %.c,$(O)/fuzz/obj/%.o,$(LIB_SRCS))
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/fuzz/%_fuzz: tests/fuzz/%_fuzz.c $(FUZZ_LIB)
	$(call msg,CLANG,$@)
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(LDLIBS)

fuzz: $(FUZZERS)
	$(Q)tests/fuzz/run $(FUZZ_TIME) $(FUZZERS)

# FHS: the program in sbin (root's), dvmount-run in bin, the test plugin and
# the bench in libexec/dvmount (not commands for users), the example policy
# under doc; /etc/dvmount is the operator's and never written.
MAN_PAGES := $(sort $(wildcard man/*.[1-8]))
HOOKS := $(sort $(wildcard dist/hooks.d/*.json))
UNITS := dist/systemd/dvmount-recover.service dist/systemd/dvmount-recover.timer
SUBST = sed -e 's|@SBINDIR@|$(sbindir)|g'
INSTALLED := $(sbindir)/dvmount $(sbindir)/dvdcli $(bindir)/dvmount-run \
	$(libexecdir)/dvmount/dvmount-testplugin $(libexecdir)/dvmount/dvmount-bench \
	$(libexecdir)/dvmount/dvmount-bench-floor \
	$(foreach m,$(MAN_PAGES),$(mandir)/man$(subst .,,$(suffix $(m)))/$(notdir $(m))) \
	$(addprefix $(hooksdir)/,$(notdir $(HOOKS))) $(addprefix $(unitdir)/,$(notdir $(UNITS))) \
	$(docdir)/README.md $(docdir)/examples/policy.conf

install: $(PROGS)
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) $(DESTDIR)$(libexecdir)/dvmount \
		$(DESTDIR)$(hooksdir) $(DESTDIR)$(unitdir) $(DESTDIR)$(docdir)/examples
	install -m 0755 $(O)/dvmount $(DESTDIR)$(sbindir)/dvmount
	ln -sfn dvmount $(DESTDIR)$(sbindir)/dvdcli
	install -m 0755 $(O)/dvmount-run $(DESTDIR)$(bindir)/dvmount-run
	install -m 0755 $(O)/dvmount-testplugin $(O)/dvmount-bench $(O)/dvmount-bench-floor \
		$(DESTDIR)$(libexecdir)/dvmount/
	for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(mandir)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(mandir)/man$$s/ || exit 1; \
	done
	for f in $(HOOKS); do \
		$(SUBST) $$f >$(DESTDIR)$(hooksdir)/$${f##*/} && chmod 0644 $(DESTDIR)$(hooksdir)/$${f##*/} || exit 1; \
	done
	for f in $(UNITS); do \
		$(SUBST) $$f >$(DESTDIR)$(unitdir)/$${f##*/} && chmod 0644 $(DESTDIR)$(unitdir)/$${f##*/} || exit 1; \
	done
	install -m 0644 README.md $(DESTDIR)$(docdir)/README.md
	install -m 0644 dist/policy.conf.example $(DESTDIR)$(docdir)/examples/policy.conf

# Exactly what install put. Directories: dvmount's own always; the shared ones
# (bin, man1, ...) only in a DESTDIR staging tree, where install made them.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(libexecdir)/dvmount $(DESTDIR)$(docdir)/examples $(DESTDIR)$(docdir) 2>/dev/null
	$(if $(DESTDIR),-for d in $(sort $(dir $(INSTALLED))); do \
		while [ "$$d" != / ] && { [ ! -d $(DESTDIR)$$d ] || rmdir $(DESTDIR)$$d 2>/dev/null; }; do \
			d=$$(dirname $$d); \
		done; \
	done)

clean:
	rm -rf $(O)

.PHONY: all check asan demo bench fuzz install uninstall clean deps mutants srcs-check \
	layers-check exit-check format-check format
.DELETE_ON_ERROR:
.SECONDARY:
-include $(shell find $(O)/obj $(O)/fuzz/obj -name '*.d' 2>/dev/null)
