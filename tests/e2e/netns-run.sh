#!/bin/sh
# Runs a test inside a network namespace of its own: loopback up, and a veth
# pair whose ends carry the guide's and the attendees' addresses. No traffic
# can leave the namespace; tests may run in parallel, each in its own.
set -eu
if [ "$(id -u)" != 0 ]; then
  echo "end-to-end tests need root for network namespaces (unshare -n); skipping" >&2
  exit 77
fi
exec unshare -n sh -c '
  set -e
  ip link set lo up
  ip link add tcguide type veth peer name tcattendee
  ip addr add 198.18.0.1/24 dev tcguide
  ip addr add 198.18.0.2/24 dev tcattendee
  ip link set tcguide up
  ip link set tcattendee up
  # libnice pins each socket to its interface (IP_UNICAST_IF): a packet from
  # one end arrives on the other with a source address of this namespace,
  # which Linux drops unless accept_local is on.
  sysctl -q -w net.ipv4.conf.tcguide.accept_local=1 net.ipv4.conf.tcattendee.accept_local=1
  export TOURCAST_TEST_GUIDE_ADDRESS=198.18.0.1
  export TOURCAST_TEST_ATTENDEE_ADDRESS=198.18.0.2
  exec "$@"' netns-run "$@"
