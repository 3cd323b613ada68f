# leasefence — build, test and tooling entry points.  See README.md; `make help`
# lists the targets.
#
#   make            build/leasefence and build/libleasefence-elector.a (no cmocka, no Go)
#   make test       install Debian packages the tests need, then build and run every test
#   make image      the container image leasefence:$(VERSION), with podman
#   make install    PREFIX=/usr/local DESTDIR=

CC      ?= cc
GO      ?= go
BUILD   := build

# The version is VERSION's one line; the commit is this checkout's HEAD
# ("-dirty" when tracked files differ from it), empty outside a git checkout
# (the image build has no .git and is given it).  Both reach the program
# through $(BUILD)/gen/version.h, which is rewritten only when they change.
VERSION := $(shell if [ -f VERSION ]; then LC_ALL=C grep -Ex '[0-9A-Za-z.+~-]+' VERSION || echo '?'; else echo 0.0.0; fi)
ifneq ($(words $(VERSION)),1)
$(error VERSION must be one line of letters, digits and . + ~ -)
endif
ifeq ($(VERSION),?)
$(error VERSION must be one line of letters, digits and . + ~ -)
endif
ifeq ($(origin LEASEFENCE_COMMIT),undefined)
LEASEFENCE_COMMIT := $(shell [ -e .git ] && c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
                       { git diff --quiet HEAD -- 2>/dev/null && echo "$$c" || echo "$$c-dirty"; })
endif
ifneq ($(shell printf '%s\n' '$(LEASEFENCE_COMMIT)' | LC_ALL=C grep -Ecx '[0-9A-Za-z.+~-]*'),1)
$(error LEASEFENCE_COMMIT must be letters, digits and . + ~ - only)
endif

# Hardening, on for every build of the product (make, make install, the image):
# stack protector, FORTIFY (only when optimizing: glibc warns at -O0), PIE and
# full RELRO.  Override a HARDEN_* variable to drop a part; make sanitize and
# the fuzz build drop FORTIFY, whose checked wrappers hide accesses from ASan.
OPT_LEVEL       = $(lastword $(filter -O%,$(CFLAGS)))
HARDEN_CPPFLAGS ?= $(if $(filter-out -O0,$(OPT_LEVEL)),-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3)
HARDEN_CFLAGS   ?= -fstack-protector-strong -fstack-clash-protection -fPIE
HARDEN_LDFLAGS  ?= -pie -Wl,-z,relro -Wl,-z,now

# -Werror only with DEVELOPER=1, which make test, sanitize, valgrind and the
# other test targets set (git's DEVELOPER): a release built with a newer
# compiler must not fail on a warning that compiler adds.
WARN := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
DEV := DEVELOPER=1

CFLAGS  ?= -O2 -g
# The library's public headers (elector/include/leasefence, what `make install` installs), its internal
# ones (elector), the shared runtime tier (elector/common: the library and the program only) and the
# program's (server).
INCLUDES := -Ielector/include/leasefence -Ielector -Ielector/common -Iserver
ALL_CPPFLAGS = -D_GNU_SOURCE -DH2O_USE_EPOLL=1 $(INCLUDES) -I$(BUILD)/gen $(HARDEN_CPPFLAGS) $(CPPFLAGS)
# What an embedder of the library compiles with: the public headers alone (<leasefence/elector.h>).
EMBED_CPPFLAGS = -D_GNU_SOURCE -Ielector/include $(HARDEN_CPPFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 -fno-strict-aliasing -pthread $(WARN) $(HARDEN_CFLAGS) $(CFLAGS)
ALL_LDFLAGS  = $(HARDEN_LDFLAGS) $(LDFLAGS)
LDLIBS  := -lh2o-evloop -lcurl -ljansson -lyaml -lssl -lcrypto -pthread -lm
TEST_LDLIBS := -lcmocka

# Sources: the elector library is elector/*.c and the shared runtime tier elector/common/*.c; the
# binary is server/*.c (main.c, the commands cmd_*.c and the webhook) + the library.
ELECTOR_SRCS := $(wildcard elector/*.c) $(wildcard elector/common/*.c)
SERVER_SRCS  := $(wildcard server/*.c)
ELECTOR_OBJS := $(ELECTOR_SRCS:%.c=$(BUILD)/obj/%.o)
SERVER_OBJS  := $(SERVER_SRCS:%.c=$(BUILD)/obj/%.o)
# Everything of the server but main(), for unit tests.
SERVER_LIB_OBJS := $(filter-out $(BUILD)/obj/server/main.o,$(SERVER_OBJS))
# The library's public headers, installed as <leasefence/elector.h> and what it includes.
ELECTOR_HEADERS := $(wildcard elector/include/leasefence/*.h)

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# What the unit tests share (tests/unit/*.c but the tests: the fake API server), linked into each.
UNIT_HELPER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c)))
# (objects, kept between builds: make would delete them as intermediates and relink every test)
.SECONDARY: $(UNIT_HELPER_OBJS)
# Helpers the integration scripts run, built with the same warnings: tests/integration/NAME.c -> build/tests/NAME.
# (preload_shim.c is an LD_PRELOAD library the scripts compile themselves)
TEST_HELPER_SRCS := $(filter-out tests/integration/preload_shim.c,$(wildcard tests/integration/*.c))
TEST_HELPER_BINS := $(TEST_HELPER_SRCS:tests/integration/%.c=$(BUILD)/tests/%)

GO_ENV := GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOCACHE=$(abspath $(BUILD)/go-cache) GOPATH=$(abspath $(BUILD)/gopath)
KUBE_SIM_SRCS := $(wildcard tests/kube-sim/*.go) tests/kube-sim/go.mod

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
INSTALL    ?= install

IMAGE ?= leasefence:$(VERSION)

.PHONY: all test-build fuzz-build test unit integration demo lint deps clean sanitize valgrind fuzz bench soak \
        install image image-test help FORCE
all: $(BUILD)/leasefence $(BUILD)/libleasefence-elector.a

# What the tests run: the product, the local API server (Go), the unit tests (cmocka) and the
# integration scripts' helpers.
test-build: all $(BUILD)/kube-sim $(UNIT_BINS) $(TEST_HELPER_BINS)

# ---- what the build bakes in -------------------------------------------------
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '/* generated by make from VERSION and git */\n#define LEASEFENCE_VERSION "%s"\n#define LEASEFENCE_COMMIT "%s"\n' \
	  '$(VERSION)' '$(LEASEFENCE_COMMIT)' >$@+
	@if cmp -s $@+ $@; then rm -f $@+; else mv -f $@+ $@; echo "GEN $@: $(VERSION) $(LEASEFENCE_COMMIT)"; fi

# Every flag that shapes an object or a link; a change rewrites the file and
# everything built with the flags is rebuilt (git's GIT-CFLAGS).
BUILD_FLAGS = $(CC) | $(ALL_CPPFLAGS) | $(ALL_CFLAGS) | $(ALL_LDFLAGS) | $(LDLIBS) | $(TEST_LDLIBS)
$(BUILD)/BUILD-FLAGS: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))' >$@+
	@if cmp -s $@+ $@; then rm -f $@+; else [ ! -f $@ ] || echo "flags changed: rebuilding"; mv -f $@+ $@; fi

# ---- the product ---------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(BUILD)/BUILD-FLAGS | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libleasefence-elector.a: $(ELECTOR_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/leasefence: $(SERVER_OBJS) $(BUILD)/libleasefence-elector.a $(BUILD)/BUILD-FLAGS
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(SERVER_OBJS) $(BUILD)/libleasefence-elector.a $(LDLIBS)

$(BUILD)/libleasefence-server.a: $(SERVER_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

install: $(BUILD)/leasefence $(BUILD)/libleasefence-elector.a
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/leasefence
	$(INSTALL) -m 0755 $(BUILD)/leasefence $(DESTDIR)$(BINDIR)/leasefence
	$(INSTALL) -m 0644 $(BUILD)/libleasefence-elector.a $(DESTDIR)$(LIBDIR)/libleasefence-elector.a
	$(INSTALL) -m 0644 $(ELECTOR_HEADERS) $(DESTDIR)$(INCLUDEDIR)/leasefence/

# ---- the container image ----------------------------------------------------------
# Installs podman, runc and mmdebstrap when missing, makes the local base image
# when missing (tests/image/bases.sh), then builds; nothing is left running.
image:
	@tests/image/deps.sh
	@tests/image/bases.sh
	@start=$$(date +%s); tests/image/podman.sh build --pull=never --network host --force-rm --layers --jobs 2 \
	  --build-arg LEASEFENCE_COMMIT=$(LEASEFENCE_COMMIT) -t $(IMAGE) . && \
	  echo "image: $(IMAGE) built in $$(( $$(date +%s) - start )) s, $$(podman image inspect --format '{{.Size}}' $(IMAGE)) bytes"

image-test: image
	tests/run.sh image

# ---- tests --------------------------------------------------------------------------
# Unit tests link against the archives, so each pulls in only the objects it uses.
$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HELPER_OBJS) $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(BUILD)/BUILD-FLAGS | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/unit -MMD -MP -MF $@.d -o $@ $< $(UNIT_HELPER_OBJS) $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(LDLIBS) $(TEST_LDLIBS)

# Integration helpers (tracker_probe) link the elector library alone, as an embedder would.
$(TEST_HELPER_BINS): $(BUILD)/tests/%: tests/integration/%.c $(BUILD)/libleasefence-elector.a $(BUILD)/BUILD-FLAGS | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(EMBED_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libleasefence-elector.a $(LDLIBS)

# libFuzzer targets: tests/fuzz/fuzz_NAME.c -> build/fuzz/fuzz_NAME, built with
# clang, ASan and UBSan over the library sources.  `make fuzz FUZZ_SECONDS=N`
# runs each for N seconds on its seed corpus tests/fuzz/NAME/.
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
               -std=c11 -D_GNU_SOURCE -DH2O_USE_EPOLL=1 -pthread \
               $(INCLUDES) -Itests/unit -I$(BUILD)/gen
FUZZ_LIB_SRCS := $(ELECTOR_SRCS) $(filter-out server/main.c,$(SERVER_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/FLAGS: FORCE
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(FUZZ_CFLAGS) | $(LDLIBS)' >$@+
	@if cmp -s $@+ $@; then rm -f $@+; else mv -f $@+ $@; fi
$(BUILD)/fuzz/obj/%.o: %.c $(BUILD)/fuzz/FLAGS | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS) $(BUILD)/fuzz/FLAGS
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< $(FUZZ_LIB_OBJS) $(LDLIBS)

# (the objects are named here so that make keeps them: no intermediate files)
fuzz-build: $(FUZZ_BINS) $(FUZZ_LIB_OBJS)
fuzz: deps fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS)

$(BUILD)/kube-sim: $(KUBE_SIM_SRCS)
	@mkdir -p $(BUILD)
	cd tests/kube-sim && $(GO_ENV) $(GO) build -o $(abspath $@) .

# Benchmark programs: tests/bench/NAME.c -> build/bench/NAME (the floor server, cost harness).
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(BUILD)/BUILD-FLAGS | $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(LDLIBS)

bench: deps
	$(MAKE) $(DEV) test-build $(BENCH_BINS)
	tests/bench/run.sh

# The chaos soak with its oracle, with a watch fence and then with a strict one (short ones run in make test).
SOAK_SECONDS ?= 300
SOAK_CONSISTENCY ?= watch strict
soak: deps
	$(MAKE) $(DEV) test-build
	set -e; for c in $(SOAK_CONSISTENCY); do tests/e2e/soak.sh --duration $(SOAK_SECONDS) --consistency $$c; done

deps:
	@tests/deps.sh

test: deps
	$(MAKE) $(DEV) test-build fuzz-build
	tests/lint.sh
	tests/run.sh

unit:
	$(MAKE) $(DEV) test-build
	tests/run.sh unit

integration:
	$(MAKE) $(DEV) test-build
	tests/run.sh integration

demo: deps
	$(MAKE) $(DEV) test-build
	tests/e2e/demo.sh

lint:
	tests/lint.sh

# The unit and integration suites (not e2e) under ASan + UBSan, built with
# clang in build/san.  Any sanitizer report fails the run (halt_on_error).
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LOGS = $(abspath $(BUILD))/san/sanitizer-logs
sanitize: deps
	$(MAKE) $(DEV) BUILD=$(BUILD)/san CC=clang CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" HARDEN_CPPFLAGS= test-build
	rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	LEASEFENCE_BUILD=$(BUILD)/san \
	ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$(SAN_LOGS)/asan \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SAN_LOGS)/ubsan \
	tests/run.sh unit integration
	@if ls $(SAN_LOGS)/* >/dev/null 2>&1; then echo "sanitizers: reports:"; head -40 $(SAN_LOGS)/*; exit 1; \
	 else echo "sanitizers: no report"; fi

# The server's integration tests with every leasefence process under memcheck.
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite --track-fds=no --log-file=$(abspath $(BUILD))/valgrind.%p.log
valgrind: deps
	$(MAKE) $(DEV) test-build
	rm -f $(BUILD)/valgrind.*.log
	LEASEFENCE_WRAPPER="$(VALGRIND)" tests/run.sh integration
	tests/valgrind-check.sh $(BUILD)

clean:
	rm -rf $(BUILD)

help:
	@echo 'leasefence $(VERSION)$(if $(LEASEFENCE_COMMIT), ($(LEASEFENCE_COMMIT))) — make targets:'
	@echo '  make               build/leasefence and build/libleasefence-elector.a (hardened; no cmocka, no Go)'
	@echo '  make install       the binary, the elector library and its headers under PREFIX ($(PREFIX)), staged under DESTDIR'
	@echo '  make image         the container image $(IMAGE) with podman (installs podman, makes the base when missing)'
	@echo '  make image-test    make image, then tests/e2e/test_image.sh (the image against the local API server)'
	@echo '  make test          install test packages (apt-get), build with -Werror, lint, run every suite'
	@echo '  make unit | integration   one suite'
	@echo '  make sanitize      unit + integration suites under ASan + UBSan (clang, build/san)'
	@echo '  make valgrind      the integration suite under memcheck'
	@echo '  make fuzz          every libFuzzer target for FUZZ_SECONDS ($(FUZZ_SECONDS)) s'
	@echo '  make bench         the admission hot path against the floor server'
	@echo '  make soak          the chaos soak for SOAK_SECONDS ($(SOAK_SECONDS)) s'
	@echo '  make demo          the fence at work on the local API server (~30 s)'
	@echo '  make lint          clang-format, banned functions, gofmt, go vet'
	@echo '  make clean         remove build/'
	@echo 'Variables: CC CFLAGS (-O2 -g) CPPFLAGS LDFLAGS DEVELOPER=1 (-Werror) HARDEN_CPPFLAGS HARDEN_CFLAGS'
	@echo '           HARDEN_LDFLAGS PREFIX DESTDIR BINDIR LIBDIR INCLUDEDIR IMAGE ($(IMAGE))'

FORCE:

-include $(shell find $(BUILD) -name '*.d' -not -path '*/go-cache/*' 2>/dev/null)
