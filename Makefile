# Thin wrapper over CMake. `make run` and `make test` do all the set-up on a fresh Debian 12
# machine: they install the Debian packages that are missing, configure, build, then run.

BUILD_DIR  ?= build
BUILD_TYPE ?= Release
CONFIG     ?= config/config.json
JOBS       ?= $(shell nproc)

# Everything the build, the tests and the benchmarks need, all from Debian 12.
PACKAGES := g++ cmake make pkg-config \
            libboost1.81-dev nlohmann-json3-dev libspdlog-dev \
            libgtest-dev libgmock-dev libbenchmark-dev \
            libssl-dev openssl nats-server libnats-dev \
            chromium libjs-chart.js prometheus man-db

.PHONY: all deps configure build run test sanitize harness bench clean

all: build

deps:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The shipped config keeps its event log in ./data (dataDir): created here, kept between runs.
run: build
	mkdir -p data
	./$(BUILD_DIR)/eventserver -config $(CONFIG)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Like go-eventserver's `make harness`: the daemon on $(CONFIG), the bundled followermaze
# harness at its defaults (10M events, 100 clients; override with HARNESS_ARGS or its
# environment variables), then SIGTERM. Exits with the harness's status.
HARNESS_ARGS ?=
harness: build
	@mkdir -p data; log=$$(mktemp); ./$(BUILD_DIR)/eventserver -config $(CONFIG) >"$$log" 2>&1 & pid=$$!; \
	for i in $$(seq 100); do grep -q "listening for event sources" "$$log" && break; \
	  kill -0 $$pid 2>/dev/null || { cat "$$log"; exit 1; }; sleep 0.1; done; \
	./$(BUILD_DIR)/followermaze --daemonPid=$$pid $(HARNESS_ARGS); status=$$?; \
	kill -TERM $$pid; wait $$pid; tail -n 2 "$$log"; rm -f "$$log"; exit $$status

# Micro-benchmarks, then the end-to-end grid (bench/e2e/run.sh; EVENTS and CLIENTS narrow it).
bench: build
	./$(BUILD_DIR)/bench/eventserver_bench
	bash bench/e2e/run.sh

# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer. Not with -Werror:
# GCC 12 reports false maybe-uninitialized warnings inside libstdc++ (std::function in
# std::regex) once ASan instruments optimised code; `make test` in CI is the -Werror gate.
# -O1 -g1 (line tables: enough for ASan's stack traces) compiles the Asio and Beast templates in
# about half the time of -O2 -g, which keeps CI within its budget. The harness (a separate
# program, verified in `make test`) is left out here.
sanitize: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVENTSERVER_SANITIZE=ON \
	      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DEVENTSERVER_BUILD_HARNESS=OFF \
	      -DEVENTSERVER_WERROR=OFF -DEVENTSERVER_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (tests/fuzz/): built with clang in build-fuzz/, each run for FUZZ_SECONDS
# on a copy of its seed corpus after replaying its regressions. FUZZ_FLAGS: more libFuzzer flags.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_TARGETS   := parse_event line_reader user_id config token
FUZZ_PACKAGES  := cmake nlohmann-json3-dev libssl-dev clang libclang-rt-14-dev

.PHONY: fuzz check-fresh status-page-screenshot deb check-deb

# The README's picture of the status page: the browser test under followermaze load, told to save
# its screenshot there (a plain test run writes only to its temporary directory).
status-page-screenshot: build
	STATUS_PAGE_SCREENSHOT=$(CURDIR)/bench/results/status_page.png \
	  ./$(BUILD_DIR)/tests/status_page_browser_test

fuzz:
	@$(MAKE) --no-print-directory deps PACKAGES="$(FUZZ_PACKAGES)"
	cmake -S tests/fuzz -B $(FUZZ_BUILD_DIR) -DCMAKE_CXX_COMPILER=clang++
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)
	tests/fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# `make test` in a debootstrapped Debian 12 chroot from the committed tree (root; slow: not in CI).
check-fresh:
	.ci/check-fresh

# The Debian package, by the recipe in docs/operations.md: build-deb/eventserver_<version>_amd64.deb.
# cpack needs dpkg-shlibdeps (dpkg-dev) and file for the package's Depends.
DEB_BUILD_DIR ?= build-deb
DEB_PACKAGES  := g++ cmake make libboost1.81-dev nlohmann-json3-dev libspdlog-dev libssl-dev dpkg-dev file
deb:
	@$(MAKE) --no-print-directory deps PACKAGES="$(DEB_PACKAGES)"
	cmake -S . -B $(DEB_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	      -DEVENTSERVER_BUILD_TESTS=OFF -DEVENTSERVER_BUILD_BENCH=OFF -DEVENTSERVER_BUILD_HARNESS=OFF $(CMAKE_ARGS)
	cmake --build $(DEB_BUILD_DIR) -j $(JOBS)
	cd $(DEB_BUILD_DIR) && cpack -G DEB

# The package as an operator meets it (root; minutes; not in CI): installed with apt in a fresh
# Debian 12 root, the daemon run as its systemd unit would, lintian, an upgrade from the previous
# version. Checks the working tree as it is; .ci/check-deb says what it does.
check-deb:
	.ci/check-deb

clean:
	rm -rf $(BUILD_DIR) build-asan $(FUZZ_BUILD_DIR)

# Scale: one daemon, SCALE_CLIENTS concurrent client connections from build/bench/scale_clients
# (over source addresses 127.0.0.2...), SCALE_BROADCASTS broadcasts verified on every one of them;
# writes bench/results/scale.md. The daemon and the bench each need a descriptor per client: with a
# hard limit (`ulimit -Hn`) below SCALE_CLIENTS + 64 the script stops and says so; SCALE_CLIENTS=max
# takes as many as the limit allows.
SCALE_CLIENTS    ?= 50000
SCALE_BROADCASTS ?= 1000

.PHONY: scale

scale: build
	SCALE_CLIENTS=$(SCALE_CLIENTS) SCALE_BROADCASTS=$(SCALE_BROADCASTS) BUILD_DIR=$(BUILD_DIR) \
	  bash bench/scale/run.sh

# Soak (not in CI): the daemon under a steady followermaze stream at SOAK_RATE events/s for
# SOAK_SECONDS with every chaos mode at once, its RSS sampled each second into
# bench/results/soak.csv; PASS needs ALL NOTIFICATIONS RECEIVED and an RSS plateau (the rule is
# stated in bench/soak/run.sh). Writes bench/results/soak.md.
SOAK_SECONDS ?= 600
SOAK_RATE    ?= 20000

.PHONY: soak

soak: build
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_RATE=$(SOAK_RATE) BUILD_DIR=$(BUILD_DIR) bash bench/soak/run.sh

# Crash: the daemon on a data directory (dataDir, logFsync CRASH_FSYNC) under a followermaze run
# with --survive-restarts; CRASH_KILLS times (default 20) over CRASH_EVENTS events (default 10M)
# it is killed with SIGKILL at a random moment and started again on the same directory. PASS needs
# ALL NOTIFICATIONS RECEIVED (each exactly once, in order, across every restart). Writes
# bench/results/crash.md. More knobs (clients, rate, seed, down time) in bench/crash/run.sh.
CRASH_KILLS  ?= 20
CRASH_EVENTS ?= 10000000
CRASH_FSYNC  ?= interval

.PHONY: crash

crash: build
	CRASH_KILLS=$(CRASH_KILLS) CRASH_EVENTS=$(CRASH_EVENTS) CRASH_FSYNC=$(CRASH_FSYNC) BUILD_DIR=$(BUILD_DIR) \
	  bash bench/crash/run.sh

# Damage: tests/daemon/log_damage_test.cpp for DAMAGE_ROUNDS rounds (default 500; `make test` runs
# 12): each a seeded random stream into the built daemon, kill -9, one random cut or flipped byte
# in its data directory, a restart, the producer's resend, and every client's notifications
# compared with the model. DAMAGE_SEED fixes the first round's seed (a failure prints its own).
DAMAGE_ROUNDS ?= 500
DAMAGE_SEED   ?=

.PHONY: damage

damage: build
	DAMAGE_ROUNDS=$(DAMAGE_ROUNDS) DAMAGE_SEED=$(DAMAGE_SEED) \
	  ./$(BUILD_DIR)/tests/log_damage_test --gtest_filter='LogDamage.*'
