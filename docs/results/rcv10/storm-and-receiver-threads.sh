#!/bin/bash
# usage: storm-and-receiver-threads.sh LABEL JOINSTORM PLUGINDIR [extra join-storm args]
# One 100-attendee storm; per-thread CPU of receiver process 1 (15 s) and, with PERF=1, a perf profile (10 s).
# Run under flock /tmp/bench.lock. Output in $OUT/LABEL (default /tmp/rcv10/LABEL).
label=$1; js=$2; plug=$3; shift 3
out=${OUT:-/tmp/rcv10}/$label; mkdir -p $out
uptime > $out/uptime-start
$js --attendees 100 --runs 1 --receiver-processes 2 --no-naive --steady 30 --plugin-dir $plug "$@" > $out/storm.json 2> $out/storm.err &
jsp=$!
rp=""
for i in $(seq 1 100); do
  sleep 0.5
  rp=$(pgrep -P $jsp -f -- "--receiver --first=1 " | head -1)
  [ -n "$rp" ] && break
done
log=$(readlink /proc/$rp/fd/1)
echo "receiver $rp log $log" > $out/info
for i in $(seq 1 120); do
  n=$(grep -c '^heard' $log 2>/dev/null); [ "$n" -ge 50 ] && break; sleep 0.5
done
echo "heard $n at $(date +%T)" >> $out/info
sleep 4
python3 "$(dirname "$0")"/threads-by-name.py $rp 15 > $out/threads.txt
if [ -n "$PERF" ]; then perf record -F 499 -g -o $out/perf.data -p $rp -- sleep 10 > $out/perf.log 2>&1; fi
wait $jsp
uptime > $out/uptime-end
