#!/usr/bin/env bash
# Builds tourcast and runs the whole test suite: unit tests, fuzz corpus
# replays, end-to-end tests (real redis-server, real webrtcbin peers, each in
# a network namespace of its own; needs root), then the leak check (unit
# tests and one end-to-end test under LeakSanitizer).
# Prints "N passed, N failed" last; exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build=${TOURCAST_BUILD_DIR:-build}
asan_build=${TOURCAST_ASAN_BUILD_DIR:-build-asan}
jobs=${TOURCAST_TEST_JOBS:-2}

passed=0
failed=0

count_results() {
  # meson writes one JSON object per test to testlog.json
  local log=$1/meson-logs/testlog.json
  if [ ! -f "$log" ]; then
    failed=$((failed + 1))
    return
  fi
  local p f
  p=$(grep -c '"result": "OK"' "$log" || true)
  f=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + p))
  failed=$((failed + f))
}

configure() {
  local dir=$1
  shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@"
  fi
}

echo "== build ($build)"
if configure "$build" -Dtests=enabled && ninja -C "$build"; then
  echo "== tests"
  meson test -C "$build" --num-processes "$jobs" --print-errorlogs
  count_results "$build"
else
  echo "build failed"
  failed=$((failed + 1))
fi

if [ "${TOURCAST_SKIP_LEAK_CHECK:-0}" != 1 ]; then
  echo "== leak check ($asan_build: AddressSanitizer + LeakSanitizer)"
  if configure "$asan_build" -Dtests=enabled -Dtools=disabled -Dbenchmarks=disabled \
      -Db_sanitize=address \
      -Db_lundef=false && ninja -C "$asan_build"; then
    LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0" \
    ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0" \
      meson test -C "$asan_build" --num-processes "$jobs" --print-errorlogs \
      --suite unit --suite fuzz --suite leak
    count_results "$asan_build"
  else
    echo "leak-check build failed"
    failed=$((failed + 1))
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
