#!/usr/bin/env bash
# tourcast-netem accuracy and cost, as markdown tables (README.md has a run).
# usage: sudo tests/netem/bench.sh BUILD_DIR/tests/netem [PINGS] [CPU_SECONDS]
#  1. each profile on its own attendee, all at once: PINGS (1000) echoes of
#     172-byte packets every 20 ms (an Opus stream's cadence), measured RTT
#     and loss against the configuration and the model alone (simulate);
#  2. each rate-limited profile: 3 s of UDP at twice its rate, uplink;
#  3. forwarder CPU with 20 attendees each receiving 1 Mb/s from the guide.
set -u
bin=${1:?usage: bench.sh DIR_WITH_TOURCAST_NETEM [PINGS] [CPU_SECONDS]}
pings=${2:-1000}
cpu_s=${3:-10}
netem=$bin/tourcast-netem
ping=$bin/tourcast-netem-ping
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 77; }
dir=$(mktemp -d /tmp/tcn-bench.XXXXXX)
netem_pid=
cleanup() {
  [ -n "$netem_pid" ] && kill "$netem_pid" 2>/dev/null && wait "$netem_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
json() { echo "$2" | grep -o "\"$1\":[0-9.]*" | head -n 1 | cut -d: -f2; }

start() {  # start ARGS...: a fresh instance, its ready file sourced
  rm -f "$dir/ready"
  "$netem" --quiet --control "$dir/ctl" --ready-file "$dir/ready" --duration 900 "$@" &
  netem_pid=$!
  for _ in $(seq 200); do [ -f "$dir/ready" ] && break; sleep 0.05; done
  # shellcheck disable=SC1091
  . "$dir/ready"
}
stop() { "$netem" ctl "$dir/ctl" quit >/dev/null; wait "$netem_pid"; netem_pid=; }
server() {  # server NS ADDR
  ip netns exec "$1" "$ping" server --bind "$2" --port 7000 --max-seconds 900 &
  disown $!
}

profiles=(fiber wifi 4g 3g high-latency lossy)
n=${#profiles[@]}
sets=()
for i in $(seq "$n"); do sets+=(--set "a$i both profile=${profiles[$((i - 1))]}"); done
start --attendees "$n" "${sets[@]}"
server "$TCN_GUIDE_NS" "$TCN_GUIDE_ADDR"
sleep 0.3
for i in $(seq "$n"); do
  ns_var=TCN_A${i}_NS
  ip netns exec "${!ns_var}" "$ping" ping --to "$TCN_GUIDE_ADDR" --port 7000 --count "$pings" \
    --interval-ms 20 --wait-ms 3000 >"$dir/ping$i" &
done
wait $(jobs -p | grep -v "^$netem_pid$") 2>/dev/null
stats=$("$netem" ctl "$dir/ctl" stats)
stop

echo "### RTT and loss: $pings pings of 172 B every 20 ms per profile, all profiles at once"
echo
echo "| profile | one-way config | nominal RTT / RT loss | model median / p90 / loss | measured median / p90 / p99 / loss | reordered |"
echo "|---|---|---|---|---|---|"
for i in $(seq "$n"); do
  p=${profiles[$((i - 1))]}
  cfg=$("$netem" profiles | grep -o "\"$p\":{[^}]*}")
  d=$(json delay "$cfg"); j=$(json jitter "$cfg"); l=$(json loss "$cfg")
  gp=$(json ge_p "$cfg"); gr=$(json ge_r "$cfg")
  ow=$(awk -v l="$l" -v p="$gp" -v r="$gr" 'BEGIN { if (p > 0) l = 100 * p / (p + r); print l }')
  rt_loss=$(awk -v l="$ow" 'BEGIN { printf "%.2f", 100 * (1 - (1 - l / 100) ^ 2) }')
  sim=$("$netem" simulate --profile "$p" --interval-ms 20 --count 50000)
  m=$(cat "$dir/ping$i")
  printf '| %s | %s ms ±%s, %s %% loss | %s ms / %s %% | %s / %s ms / %s %% | %.1f / %.1f / %.1f ms / %.1f %% | %s |\n' \
    "$p" "$d" "$j" "$ow" "$((2 * d))" "$rt_loss" \
    "$(json rtt_median_ms "$sim")" "$(json rtt_p90_ms "$sim")" "$(json loss_pct "$sim")" \
    "$(field rtt_median_ms "$m")" "$(field rtt_p90_ms "$m")" "$(field rtt_p99_ms "$m")" \
    "$(field loss_pct "$m")" "$(field reordered "$m")"
done
sum() { echo "$stats" | grep -o "\"$1\":[0-9.]*" | cut -d: -f2 | awk '{ s += $1 } END { print s }'; }
late=$(echo "$stats" | grep -o '"late_max_us":[0-9.]*' | cut -d: -f2 | sort -n | tail -n 1)
echo
echo "Forwarder release lateness (its own timing error): max ${late} µs;" \
  "$(sum late_over_1ms) of $(sum out_pkts) packets over 1 ms"

echo
echo "### Rate: 3 s of 1228-byte IP packets at twice the profile's rate, attendee -> guide"
echo
echo "| profile | rate kb/s | offered kb/s | received kb/s | error | loss |"
echo "|---|---|---|---|---|---|"
for p in 3g 4g wifi fiber; do
  start --attendees 1 --set "a1 both profile=$p delay=0 jitter=0 loss=0"
  server "$TCN_GUIDE_NS" "$TCN_GUIDE_ADDR"
  sleep 0.3
  rate=$(json rate "$("$netem" profiles | grep -o "\"$p\":{[^}]*}")")
  r=$(ip netns exec "$TCN_A1_NS" "$ping" flood --to "$TCN_GUIDE_ADDR" --port 7000 \
    --rate-kbps "$((2 * rate))" --duration 3 --size 1200)
  stop
  printf '| %s | %s | %.0f | %.0f | %+.1f %% | %.1f %% |\n' "$p" "$rate" "$(field tx_kbps "$r")" \
    "$(field rx_kbps "$r")" "$(awk -v a="$(field rx_kbps "$r")" -v b="$rate" \
    'BEGIN { print 100 * (a - b) / b }')" "$(field loss_pct "$r")"
done

echo
echo "### Forwarder CPU: 20 attendees, each receiving 1 Mb/s (1228-byte packets) from the guide"
echo
start --attendees 20 --profile wifi
for i in $(seq 20); do
  ns_var=TCN_A${i}_NS
  addr_var=TCN_A${i}_ADDR
  server "${!ns_var}" "${!addr_var}"
done
sleep 0.5
for i in $(seq 20); do
  addr_var=TCN_A${i}_ADDR
  ip netns exec "$TCN_GUIDE_NS" "$ping" flood --to "${!addr_var}" --port 7000 --rate-kbps 1000 \
    --duration "$((cpu_s + 2))" --size 1200 >"$dir/flood$i" &
done
sleep 1
ticks() { awk '{ print $14 + $15 }' "/proc/$netem_pid/stat"; }
t0=$(ticks)
sleep "$cpu_s"
t1=$(ticks)
wait $(jobs -p | grep -v "^$netem_pid$") 2>/dev/null
stats=$("$netem" ctl "$dir/ctl" stats)
stop
hz=$(getconf CLK_TCK)
rx=0
for i in $(seq 20); do rx=$(awk -v a="$rx" -v b="$(field rx_kbps "$(cat "$dir/flood$i")")" 'BEGIN { print a + b }'); done
pkts=$(echo "$stats" | grep -o '"out_pkts":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s }')
awk -v t="$((t1 - t0))" -v hz="$hz" -v s="$cpu_s" -v rx="$rx" -v p="$pkts" 'BEGIN {
  printf "forwarder CPU %.1f %% of one core over %d s; %d packets forwarded in all; received %.0f kb/s in all\n",
    100 * t / hz / s, s, p, rx }'
