#!/usr/bin/env python3
"""Per-thread CPU of a process over a window, from /proc/<pid>/task/*/stat deltas.
usage: threads.py PID SECONDS OUT.json"""
import json, os, re, sys, time
pid, secs, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
tck = os.sysconf('SC_CLK_TCK')
def snap():
    d = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            s = open(f'/proc/{pid}/task/{tid}/stat').read()
        except OSError:
            continue
        comm = s[s.index('(')+1:s.rindex(')')]
        f = s[s.rindex(')')+2:].split()
        d[tid] = (comm, int(f[11]), int(f[12]))
    return d
a = snap(); t0 = time.monotonic()
time.sleep(secs)
b = snap(); wall = time.monotonic() - t0
kinds = {}
for tid, (comm, u, s) in b.items():
    u0, s0 = (a[tid][1], a[tid][2]) if tid in a else (0, 0)
    kind = re.sub(r'\d', '', comm).rstrip(':-_') or '(digits)'
    k = kinds.setdefault(kind, {'threads': 0, 'user_s': 0.0, 'sys_s': 0.0})
    k['threads'] += 1; k['user_s'] += (u-u0)/tck; k['sys_s'] += (s-s0)/tck
res = {'pid': pid, 'wall_s': round(wall, 2), 'threads': len(b), 'kinds': {}}
tot = 0
for kind, k in sorted(kinds.items(), key=lambda kv: -(kv[1]['user_s']+kv[1]['sys_s'])):
    c = (k['user_s']+k['sys_s'])/wall; tot += c
    res['kinds'][kind] = {'threads': k['threads'], 'cores': round(c, 4),
                          'user_cores': round(k['user_s']/wall, 4), 'sys_cores': round(k['sys_s']/wall, 4)}
res['cores'] = round(tot, 4)
json.dump(res, open(out, 'w'), indent=1)
print(json.dumps(res)[:2000])
