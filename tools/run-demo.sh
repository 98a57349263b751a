#!/usr/bin/env bash
# Builds tourcast (into build/, reusing it when it exists) and runs the demo:
# a guide and attendees on loopback, an embedded redis-server on a free port,
# live status. Arguments go to `tourcast demo` (see --help); Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${TOURCAST_BUILD_DIR:-build}
if [ -d "$build" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build" >/dev/null
fi
ninja -C "$build" >/dev/null
exec "$build/tools/tourcast" demo "$@"
