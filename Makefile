# The two commands of the README, and the longer runs beside them.
#
#   make run     install what is missing, build, start vppnotify serve on 127.0.0.1:8080
#   make test    install what is missing, build twice (normal, ASan+UBSan), run every test
#   make demo    vppsim and vppnotify together: subscribe, requests, notifications, the mirror
#                (DEMO_ARGS=--quick: time-scaled further, and stop at the end)
#   make bench   release build + wrk against vppnotify and nginx (bench/README.md);
#                BACKEND=postgresql: 1 and 3 instances on PostgreSQL behind nginx (bench/pg.sh)
#   make chaos   convergence under faults and kills against vppsim, ~10 min (CHAOS_SEED=N);
#                BACKEND=postgresql: 3 instances on PostgreSQL, which is crashed and restarted too
#   make fuzz    libFuzzer harnesses for a bounded time (FUZZ_SECONDS per harness)
#   make install install under PREFIX (default /usr/local), staged under DESTDIR if set
#   make deb     the Debian package (dpkg-buildpackage, debhelper) in build-deb/, lintian-checked
#
# Each target installs exactly the Debian packages it uses (scripts/deps.sh names them by
# group): building and running the daemon needs no test, bench or fuzz package. The test tree
# (cmocka) and bench/vn_cpu (valgrind) are optional at configure time (VN_TESTS, VN_BENCH:
# AUTO, ON or OFF); the targets that install their packages turn them ON.
#
# Build trees: build/ (normal), build-asan/ (sanitizers), build-release/ (bench),
# build-fuzz/ (clang + libFuzzer). All are disposable.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60
DEMO_ARGS ?=
# Extra CMake definitions for build/ (the test targets add -DVN_TESTS=ON).
CMAKE_ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
BACKEND ?= sqlite

.PHONY: all deps build build-asan run demo test test-normal test-asan bench bench-cpu chaos fuzz \
	format clean install deb

all: build

deps:
	@scripts/deps.sh build

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	cmake --build build -j $(JOBS)

build-asan:
	@scripts/deps.sh test
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVN_SANITIZE=ON -DVN_TESTS=ON >/dev/null
	cmake --build build-asan -j $(JOBS)

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory build
	@scripts/run.sh

demo:
	@scripts/deps.sh demo
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(DEMO_ARGS)

test:
	@scripts/deps.sh test
	$(MAKE) --no-print-directory test-normal
	$(MAKE) --no-print-directory test-asan

test-normal:
	@scripts/deps.sh test
	$(MAKE) --no-print-directory build CMAKE_ARGS="$(CMAKE_ARGS) -DVN_TESTS=ON"
	cd build && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test-asan: build-asan
	cd build-asan && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

bench:
	@scripts/deps.sh bench
	@if [ "$(BACKEND)" = postgresql ]; then bench/pg.sh; else bench/run.sh; fi

# Convergence under faults, about ten minutes; CHAOS_SEED=N replays a run (tests/chaos/chaos.sh).
# BACKEND=postgresql: three instances on a throwaway PostgreSQL cluster, which crashes too.
chaos: build
	@scripts/deps.sh test
	@VN_BUILD_DIR=$(CURDIR)/build CHAOS_BACKEND=$(BACKEND) tests/chaos/chaos.sh

bench-cpu:
	@scripts/deps.sh bench
	@bench/cpu.sh

fuzz:
	@scripts/deps.sh fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DVN_FUZZ=ON -DVN_SANITIZE=ON \
		-DVN_TESTS=OFF -DVN_BENCH=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: deps
	cmake -S . -B build-install -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVN_TESTS=OFF \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build-install -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install build-install

deb:
	@scripts/deps.sh deb
	JOBS=$(JOBS) dist/mkdeb.sh

format:
	@scripts/deps.sh format
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-release build-fuzz build-install build-deb
