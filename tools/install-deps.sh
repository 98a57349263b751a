#!/usr/bin/env bash
# Installs what tourcast needs to build, run and test on Debian 12 (as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  ca-certificates g++ meson ninja-build pkg-config \
  libglib2.0-dev nlohmann-json3-dev googletest libgtest-dev \
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev \
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
  gstreamer1.0-plugins-bad gstreamer1.0-nice libnice-dev \
  libhiredis-dev libssl-dev libsrtp2-dev redis-server \
  libsoup-3.0-dev python3 chromium chromium-driver \
  iproute2 util-linux procps
