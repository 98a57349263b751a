#!/usr/bin/env bash
# tourcast-netem end to end: namespaces, TUN forwarding, delay, jitter, loss,
# link down and up, rate limiting, cleanup after quit and after SIGKILL.
# usage: selftest.sh TOURCAST_NETEM TOURCAST_NETEM_PING
# Exits 77 (skipped) without root, /dev/net/tun or ip(8).
set -u
netem=$1
ping=$2
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
  echo "netem-selftest needs root, /dev/net/tun and ip(8); skipping" >&2
  exit 77
fi

dir=$(mktemp -d /tmp/tcn-selftest.XXXXXX)
netem_pid=
server_pid=
passed=0
failed=0

cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
  if [ -n "$netem_pid" ]; then
    kill "$netem_pid" 2>/dev/null
    wait "$netem_pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

check() {  # check DESCRIPTION VALUE MIN MAX
  if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v >= lo && v <= hi) }'; then
    echo "ok   $1: $2 in [$3, $4]"
    passed=$((passed + 1))
  else
    echo "FAIL $1: $2 not in [$3, $4]"
    failed=$((failed + 1))
  fi
}

field() {  # field NAME "k=v k=v ..."
  echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

json_field() {  # json_field NAME JSON: the first occurrence
  echo "$2" | grep -o "\"$1\":[0-9.]*" | head -n 1 | cut -d: -f2
}

wait_ready() {  # wait_ready FILE PID
  for _ in $(seq 100); do
    [ -f "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

ns_count() {  # namespaces whose names start with $1
  ip netns list | grep -c "^$1" || true
}

"$netem" --attendees 2 --quiet --control "$dir/ctl" --ready-file "$dir/ready" --duration 120 \
  --set "a1 delay=20 jitter=4 loss=3 reorder=1" --set "a2 delay=10 jitter=8" &
netem_pid=$!
if ! wait_ready "$dir/ready" "$netem_pid"; then
  echo "FAIL tourcast-netem did not get ready"
  exit 1
fi
# shellcheck disable=SC1091
. "$dir/ready"
ctl() { "$netem" ctl "$dir/ctl" "$@"; }
in_ns() { ns=$1; shift; ip netns exec "$ns" "$@"; }

in_ns "$TCN_GUIDE_NS" "$ping" server --bind "$TCN_GUIDE_ADDR" --port 7000 --max-seconds 120 &
server_pid=$!
disown "$server_pid"  # it dies with the namespace; no "Terminated" notice
# The server is up once a probe comes back (a2's link loses nothing).
for _ in $(seq 50); do
  r=$(in_ns "$TCN_A2_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 1 --wait-ms 200)
  [ "$(field received "$r")" = 1 ] && break
done

# Delay, uniform jitter and loss, 1000 packets; a2 concurrently checks that
# jitter without reorder=1 keeps packet order. Expected values come from the
# model alone (simulate); the tolerance is the emulator's and the OS's error.
in_ns "$TCN_A2_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 1000 \
  --interval-ms 2 --wait-ms 500 >"$dir/a2" &
a2_pid=$!
a1=$(in_ns "$TCN_A1_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 1000 \
  --interval-ms 4 --wait-ms 500)
wait "$a2_pid"
a2=$(cat "$dir/a2")
echo "a1: $a1"
echo "a2: $a2"
sim2=$("$netem" simulate --set "all delay=10 jitter=8" --interval-ms 2 --count 20000)
echo "a2 model: $sim2"
# Median RTT 2 x 20 ms; p90 of the sum of two U(-4, 4) is 2 x 20 + 4.42.
check "a1 median RTT ms" "$(field rtt_median_ms "$a1")" 39.5 43
check "a1 p90 RTT ms" "$(field rtt_p90_ms "$a1")" 43.9 47.5
check "a1 min RTT ms (jitter bound 32)" "$(field rtt_min_ms "$a1")" 31.9 36
# Round trip through two 3 % losses: 5.91 %; 1000 packets give +-0.75 % (1 sd).
check "a1 loss %" "$(field loss_pct "$a1")" 3.0 9.0
check "a1 reordered (reorder=1)" "$(field reordered "$a1")" 1 1000
check "a2 reordered (reorder=0)" "$(field reordered "$a2")" 0 0
m=$(json_field rtt_median_ms "$sim2")
check "a2 median RTT ms vs model $m" "$(field rtt_median_ms "$a2")" \
  "$(awk -v m="$m" 'BEGIN { print m - 0.5 }')" "$(awk -v m="$m" 'BEGIN { print m + 3 }')"
check "a2 loss %" "$(field loss_pct "$a2")" 0 0

# Link down (uplink only is enough to break the round trip), then up.
ctl set a1 up down=1 >/dev/null
r=$(in_ns "$TCN_A1_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 200 \
  --interval-ms 2 --wait-ms 300)
check "a1 loss % while down" "$(field loss_pct "$r")" 100 100
stats=$(ctl stats)
a1_up=$(echo "$stats" | grep -o '"name":"a1".*' | grep -o '"up":{[^}]*}')
check "a1 up drop_down counter" "$(json_field drop_down "$a1_up")" 200 100000
ctl set a1 up down=0 >/dev/null
r=$(in_ns "$TCN_A1_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 200 \
  --interval-ms 2 --wait-ms 300)
check "a1 loss % after up" "$(field loss_pct "$r")" 0 20

# Rate limit: offer twice the rate; the arrival rate is the link's.
ctl set a1 both profile=ideal rate=1000 queue=50 >/dev/null
r=$(in_ns "$TCN_A1_NS" "$ping" flood --to "$TCN_GUIDE_ADDR" --port 7000 --rate-kbps 2000 \
  --duration 3 --size 1200)
echo "a1 flood: $r"
check "a1 throughput kb/s at 1000 kb/s" "$(field rx_kbps "$r")" 930 1070
# 3 s x 1000 kb/s / 1228 B = 305 packets, plus the 50 queued: 42 % lost.
check "a1 flood loss %" "$(field loss_pct "$r")" 38 46

# Bursty loss (lossy profile: 10 % each way in bursts of 4): 19 % round trip.
ctl set a1 both profile=lossy rate=0 >/dev/null
r=$(in_ns "$TCN_A1_NS" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count 1000 \
  --interval-ms 2 --wait-ms 300)
check "a1 bursty loss %" "$(field loss_pct "$r")" 11 28

# Bad commands are refused and change nothing.
if ctl set a1 loss=500 >/dev/null; then
  echo "FAIL a bad command was accepted"
  failed=$((failed + 1))
fi

# quit removes every namespace and the control socket.
ctl quit >/dev/null
for _ in $(seq 50); do
  kill -0 "$netem_pid" 2>/dev/null || break
  sleep 0.1
done
wait "$netem_pid"
check "exit status after quit" $? 0 0
netem_pid=
server_pid=
prefix=tcn-$TCN_PID-
check "namespaces left after quit" "$(ns_count "$prefix")" 0 0
check "control socket left after quit" "$(ls "$dir/ctl" 2>/dev/null | wc -l)" 0 0

# SIGKILL: the watchdog cleans up.
"$netem" --attendees 1 --quiet --ready-file "$dir/ready2" &
netem_pid=$!
wait_ready "$dir/ready2" "$netem_pid"
prefix=tcn-$netem_pid-
check "namespaces while running" "$(ns_count "$prefix")" 2 2
kill -KILL "$netem_pid"
wait "$netem_pid" 2>/dev/null
netem_pid=
for _ in $(seq 30); do
  [ "$(ns_count "$prefix")" = 0 ] && break
  sleep 0.1
done
check "namespaces left after SIGKILL" "$(ns_count "$prefix")" 0 0

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
