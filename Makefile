# Thin wrapper over CMake presets. See README.md.
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all bootstrap build demo demo-ha test bench fmt asan fuzz fuzz-run clean

all: build

bootstrap:
	@scripts/bootstrap.sh

build/release/build.ninja: | bootstrap
	cmake --preset release >/dev/null

build: bootstrap build/release/build.ninja
	cmake --build --preset release -j $(JOBS)

demo: build
	build/release/src/cli/clover demo --config examples/deployment.yaml $(DEMO_ARGS)

# The replicated region for real (3 etcd, 3 Patroni PostgreSQL, 3 gateways + the
# US node), traffic, the loss of the leader's whole DC, every write verified.
# DEMO_HA_ARGS=--json for the JSON summary.
demo-ha: build
	build/release/src/cli/clover demo-ha --config examples/deployment.yaml $(DEMO_HA_ARGS)

test: build
	cd build/release && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The Debian package (CPack): build/release/package/clover_<version>-1_<arch>.deb.
.PHONY: package
package: build
	cmake --build --preset release --target package

bench: build
	scripts/run-benchmarks.sh build/release

# One clang build with ASan + UBSan serves both the unit tests and the libFuzzer targets.
asan: bootstrap
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS) --target unit_tests
	cd build/asan && ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/scripts/ubsan.supp \
	  ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

fuzz: bootstrap
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS) --target fuzzers

# Runs every fuzzer briefly on its seed corpus (FUZZ_SECONDS each).
fuzz-run: fuzz
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$(CURDIR)/scripts/ubsan.supp \
	  scripts/run-fuzzers.sh build/asan $${FUZZ_SECONDS:-20}

fmt:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
