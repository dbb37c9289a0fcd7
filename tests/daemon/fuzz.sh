#!/usr/bin/env bash
# daemon-fuzz: the libFuzzer targets (tests/fuzz/fuzz_*.c: config file and
# flags, HTTP request handling and negotiation, the web config YAML, the
# exposition encoder's escaping), each run for FUZZ_SECONDS (default 20)
# from the seed corpus in tests/daemon/fuzz-corpus, after replaying it.
cd "$(dirname "$0")/../.."
source tests/lib/tap.sh
source tests/lib/fuzz.sh
BUILD=${BUILD:-build}
tmp=$(mktemp -d /tmp/poold-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! command -v clang >/dev/null; then
  skip "fuzz targets" "clang is not installed (scripts/deps.sh fuzz)"; done_testing; exit 0
fi
targets=(config http webconfig expo)
bins=("${targets[@]/#/$BUILD/fuzz/fuzz_}")
make --no-print-directory "${bins[@]}" >"$tmp/make.log" 2>&1
ok $? "make builds the fuzz targets" || { tail -20 "$tmp/make.log" | sed 's/^/#   /'; done_testing; exit 1; }
for t in "${targets[@]}"; do
  run_fuzz_target "fuzz_$t" "$BUILD/fuzz/fuzz_$t" "$tmp" tests/daemon/fuzz-corpus/$t
done
done_testing
