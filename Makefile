# leasefence — build, test and tooling entry points.  See README.md.
#
#   make            build/leasefence, build/kube-sim and build/libleasefence-elector.a
#   make test       install Debian packages the tests need, then run every test
#   make demo       the main job on the local API server
#   make lint       clang-format check + banned-function grep

CC      ?= cc
GO      ?= go
BUILD   := build
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN    := -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 -Werror
CFLAGS  ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE -DH2O_USE_EPOLL=1 -DLEASEFENCE_VERSION='"$(VERSION)"' \
           -fno-strict-aliasing -pthread $(WARN) -Ielector -Iserver
LDLIBS  := -lh2o-evloop -lcurl -ljansson -lyaml -lssl -lcrypto -pthread -lm
TEST_LDLIBS := -lcmocka

# Sources: the elector library is elector/*.c except the CLI (elector/cmd_*.c);
# the binary is server/*.c + elector/cmd_*.c + the library.
ELECTOR_CMD  := $(wildcard elector/cmd_*.c)
ELECTOR_SRCS := $(filter-out $(ELECTOR_CMD),$(wildcard elector/*.c))
SERVER_SRCS  := $(wildcard server/*.c)
ELECTOR_OBJS := $(ELECTOR_SRCS:%.c=$(BUILD)/obj/%.o)
SERVER_OBJS  := $(SERVER_SRCS:%.c=$(BUILD)/obj/%.o)
CMD_OBJS     := $(ELECTOR_CMD:%.c=$(BUILD)/obj/%.o)
# Everything of the server but main(), for unit tests.
SERVER_LIB_OBJS := $(filter-out $(BUILD)/obj/server/main.o,$(SERVER_OBJS))

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

GO_ENV := GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOCACHE=$(abspath $(BUILD)/go-cache) GOPATH=$(abspath $(BUILD)/gopath)
KUBE_SIM_SRCS := $(wildcard tests/kube-sim/*.go) tests/kube-sim/go.mod

.PHONY: fuzz-build all test unit integration demo lint deps clean sanitize valgrind fuzz bench soak check-go
all: $(BUILD)/leasefence $(BUILD)/kube-sim $(BUILD)/libleasefence-elector.a $(UNIT_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libleasefence-elector.a: $(ELECTOR_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/leasefence: $(SERVER_OBJS) $(CMD_OBJS) $(BUILD)/libleasefence-elector.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SERVER_OBJS) $(CMD_OBJS) $(BUILD)/libleasefence-elector.a $(LDLIBS)

$(BUILD)/libleasefence-server.a: $(SERVER_LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Unit tests link against the archives, so each pulls in only the objects it uses.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests/unit -MMD -MP -MF $@.d -o $@ $< $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(LDLIBS) $(TEST_LDLIBS)

# libFuzzer targets: tests/fuzz/fuzz_NAME.c -> build/fuzz/fuzz_NAME, built with
# clang, ASan and UBSan over the library sources.  `make fuzz FUZZ_SECONDS=N`
# runs each for N seconds on its seed corpus tests/fuzz/NAME/.
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
               -std=c11 -D_GNU_SOURCE -DH2O_USE_EPOLL=1 -DLEASEFENCE_VERSION='"$(VERSION)"' -pthread \
               -Ielector -Iserver -Itests/unit
FUZZ_LIB_SRCS := $(ELECTOR_SRCS) $(filter-out server/main.c,$(SERVER_SRCS))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -o $@ $< $(FUZZ_LIB_OBJS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)
fuzz: deps fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS)

$(BUILD)/kube-sim: $(KUBE_SIM_SRCS)
	@mkdir -p $(BUILD)
	cd tests/kube-sim && $(GO_ENV) $(GO) build -o $(abspath $@) .

# Benchmark programs: tests/bench/NAME.c -> build/bench/NAME (the floor server, cost harness).
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libleasefence-server.a $(BUILD)/libleasefence-elector.a $(LDLIBS)

bench: deps
	$(MAKE) all $(BENCH_BINS)
	tests/bench/run.sh

# The chaos soak with its oracle (a short one runs in make test).
SOAK_SECONDS ?= 300
soak: deps
	$(MAKE) all
	tests/e2e/soak.sh --duration $(SOAK_SECONDS)

deps:
	@tests/deps.sh

test: deps
	$(MAKE) all fuzz-build
	tests/lint.sh
	tests/run.sh

unit: all
	tests/run.sh unit

integration: all
	tests/run.sh integration

demo: deps
	$(MAKE) all
	tests/e2e/demo.sh

lint:
	tests/lint.sh

# The whole C suite (unit, integration, e2e) under ASan + UBSan, built with
# clang in build/san.  Any sanitizer report fails the run (halt_on_error).
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_LOGS = $(abspath $(BUILD))/san/sanitizer-logs
sanitize: deps
	$(MAKE) BUILD=$(BUILD)/san CC=clang CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" all
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
	$(MAKE) all
	rm -f $(BUILD)/valgrind.*.log
	LEASEFENCE_WRAPPER="$(VALGRIND)" tests/run.sh integration
	tests/valgrind-check.sh $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -not -path '*/go-cache/*' 2>/dev/null)
