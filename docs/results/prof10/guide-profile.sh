#!/bin/bash
# Session 8 (branch prof10): a 100-attendee join-storm with main's plugin; once everyone
# heard, the guide's per-thread CPU over 15 s (guide-threads.py), then perf record of the
# guide for ${PERF_S:-10} s. Results in /tmp/prof10/TAG. Classify the send thread's
# samples with perf-stages.py (see docs/performance.md, "Session 8").
# usage: flock /tmp/bench.lock guide-profile.sh TAG
#        PERF_CG="--call-graph dwarf,16384" PERF_S=15 flock /tmp/bench.lock guide-profile.sh TAG
set -u
TAG=$1; D=/tmp/prof10/$TAG; mkdir -p $D/logs
uptime > $D/uptime-start
before=$(ls -d /tmp/tc-join-storm.* 2>/dev/null)
nice /work/main/build/bench/join-storm --attendees 100 --runs 1 --receiver-processes 2 --no-naive --steady 45 \
  --plugin-dir /tmp/plug-main10 --keep-logs $D/logs > $D/storm.json 2> $D/storm.err &
JS=$!
guide=""
for i in $(seq 1 100); do guide=$(pgrep -P $JS -x gst-launch-1.0); [ -n "$guide" ] && break; sleep 0.2; done
echo "guide pid $guide" | tee $D/guide.pid
dir=""
for i in $(seq 1 100); do dir=$(ls -dt /tmp/tc-join-storm.* 2>/dev/null | head -1); [ -n "$dir" ] && ! echo "$before" | grep -qx "$dir" && break; dir=""; sleep 0.2; done
echo "dir $dir"
for i in $(seq 1 1200); do
  n=$(cat $dir/receiver*.log 2>/dev/null | grep -c '^heard')
  [ "$n" -ge 100 ] && break; sleep 0.1
done
echo "heard $n at $(date -u +%T)"; uptime > $D/uptime-heard
sleep 4
python3 "$(dirname "$0")/guide-threads.py" $guide 15 $D/threads.json > /dev/null
uptime > $D/uptime-threads
perf record -F 499 ${PERF_CG:--g} -p $guide -o $D/perf.data -- sleep ${PERF_S:-10} > $D/perf-record.log 2>&1
echo "perf rc $?"; tail -2 $D/perf-record.log
uptime > $D/uptime-perf
wait $JS; echo "storm rc $?"
uptime > $D/uptime-end
