#!/usr/bin/env python3
# usage: threads-by-name.py PID SECONDS -> CPU cores per thread name (comm with digits collapsed)
import os, re, sys, time, collections
pid, secs = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf('SC_CLK_TCK')
def snap():
    d = {}
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            s = open(f'/proc/{pid}/task/{t}/stat').read()
        except OSError:
            continue
        comm = s[s.index('(')+1:s.rindex(')')]
        f = s[s.rindex(')')+2:].split()
        cs = 0
        try:
            for l in open(f'/proc/{pid}/task/{t}/status'):
                if l.startswith(('voluntary_ctxt_switches', 'nonvoluntary_ctxt_switches')):
                    cs += int(l.split()[1])
        except OSError:
            pass
        d[t] = (comm, int(f[11]) + int(f[12]), cs)
    return d
a = snap(); t0 = time.time(); time.sleep(secs); b = snap(); dt = time.time() - t0
agg = collections.defaultdict(lambda: [0, 0.0, 0.0])
for t, (comm, ticks, cs) in b.items():
    key = re.sub(r'\d+', 'N', comm)
    agg[key][0] += 1
    agg[key][1] += (ticks - a.get(t, (comm, 0, 0))[1]) / hz / dt
    agg[key][2] += (cs - a.get(t, (comm, 0, 0))[2]) / dt
tot = sum(v[1] for v in agg.values())
print(f'pid {pid} threads {len(b)} cores {tot:.3f} over {dt:.1f}s')
print(f'{"thread":24s} {"n":>5s} {"cores":>7s} {"share":>6s} {"switches/s":>10s}')
for k, (n, c, cs) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print(f'{k:24s} {n:5d} {c:7.3f} {100*c/tot if tot else 0:5.1f}% {cs:10.0f}')
