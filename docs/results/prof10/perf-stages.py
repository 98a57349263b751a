#!/usr/bin/env python3
"""Per-stage shares of one thread's perf samples.
usage: perf script -F comm,tid,ip,sym,dso ... | stages.py  [--by-element]
Leaf-first classification (self time), with kernel samples attributed by the syscall
they are inside."""
import re, sys, collections
by_element = '--by-element' in sys.argv
samples = []; cur = None
for line in sys.stdin:
    if not line.strip():
        if cur: samples.append(cur); cur = None
        continue
    if not line[0].isspace():
        cur = []; continue
    m = re.match(r'\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$', line)
    if m and cur is not None:
        sym = re.sub(r'\+0x[0-9a-f]+$', '', m.group(2)); dso = m.group(3).split('/')[-1]
        cur.append((sym, dso))
if cur: samples.append(cur)
# dwarf unwinding lists inlined functions as '(inlined)': give them the DSO of the
# frame they are inlined into (the next real one).
for frames in samples:
    for i in range(len(frames) - 1, -1, -1):
        if frames[i][1] == 'inlined':
            frames[i] = (frames[i][0], frames[i + 1][1] if i + 1 < len(frames) else '?')

def kernel_stage(frames):
    syms = [s for s, d in frames if d == '[kernel.kallsyms]']
    user = [s for s, d in frames if d != '[kernel.kallsyms]']
    caller = user[0] if user else ''
    j = ' '.join(syms)
    if not re.search(r'__sys_sendmsg|__sys_sendmmsg|__sys_sendto|udp_sendmsg|futex', j):
        if re.search(r'sendmsg|sendmmsg|sendto', caller):
            return 'kernel sendmsg: syscall entry/exit, scheduling at exit'
        if caller == 'syscall' or 'futex' in caller or 'lll_' in caller:
            return 'futex (lock waits and wake-ups, kernel)'
    if re.search(r'__sys_sendmsg|__sys_sendmmsg|__sys_sendto|udp_sendmsg', j):
        if re.search(r'net_rx_action|__netif_receive_skb|process_backlog|udp_rcv|ip_local_deliver|sock_def_readable|raw_local_deliver', j):
            return 'kernel sendmsg: veth delivery into the receiver (softirq)'
        if re.search(r'veth_xmit|dev_hard_start_xmit|__dev_queue_xmit', j):
            return 'kernel sendmsg: device transmit (veth)'
        if re.search(r'udp_send_skb|ip_make_skb|ip_append_data|ip_route_output|ip_output|ip_finish_output|udp_sendmsg|ip_send_skb|__ip_make_skb|sock_alloc_send|alloc_skb', j):
            return 'kernel sendmsg: UDP/IP send path'
        return 'kernel sendmsg: syscall entry/exit, scheduling at exit'
    if 'futex' in j:
        return 'futex (lock waits and wake-ups, kernel)'
    if re.search(r'schedule|finish_task_switch', j):
        return 'kernel: scheduling (other)'
    if re.search(r'clock_nanosleep|hrtimer|poll|ppoll', j):
        return 'kernel: sleeps, timers, poll'
    if re.search(r'page_fault|exc_page', j):
        return 'kernel: page faults'
    return 'kernel: other (' + (syms[-3] if len(syms) >= 3 else syms[0]) + ')'

SRTP = ('libsrtp2', 'libsoftokn3', 'libfreebl', 'libnss3', 'libnssutil3', 'libgstsrtp', 'libplc4', 'libnspr4', 'libcrypto', 'libssl')
def user_stage(sym, dso):
    sym = re.sub(r'^_*(GI_+)?', '', sym.split('@')[0])
    if re.match(r'(libc_sendmsg|sendmmsg|libc_sendto|sendto)', sym):
        return 'kernel sendmsg: syscall entry/exit, scheduling at exit'
    if sym == 'syscall':
        return 'futex (lock waits and wake-ups, kernel)'
    if sym.startswith('g_type_check_instance') or sym in ('g_type_is_a',) or sym.startswith('g_type_check'):
        return 'GObject type checks'
    if re.match(r'(pthread_mutex_|g_mutex_|g_rec_mutex_|__lll_lock|lll_|pthread_cond|g_cond_|__pthread_cond|pthread_rwlock|g_rw_lock)', sym):
        return 'locks (user space: mutex lock/unlock)'
    if re.match(r'(malloc|free|int_malloc|int_free|cfree|calloc|realloc|libc_malloc|libc_free|_int_realloc|malloc_consolidate|tcache|g_malloc|g_free|g_slice|g_malloc0|g_realloc|unlink_chunk|__memalign|aligned_alloc|posix_memalign|_mid_memalign|_int_memalign)', sym):
        return 'allocation (malloc/free, g_slice)'
    if dso.startswith(SRTP):
        return 'SRTP (libsrtp2 + NSS crypto, srtpenc)'
    if dso.startswith(('libgstrtpmanager', 'libgstrtp-1.0', 'libgstrtp.so')):
        return 'RTP session, rtprtxsend, funnels, payloader (rtpmanager, libgstrtp)'
    if dso.startswith(('libnice', 'libgstnice', 'libgio')):
        return 'libnice + nicesink + GSocket (user space)'
    if dso.startswith('libgstbase'):
        return 'GstBaseSink/BaseSrc/BaseTransform'
    if dso.startswith('libgstreamer'):
        return 'GStreamer core: pad pushes, probes, events, buffer/mini-object refs'
    if dso.startswith(('libgstwebrtc', 'libgstdtls', 'libgstcoreelements')):
        return 'webrtcbin, dtls, core elements (clocksync, funnel)'
    if dso.startswith('libgsttourcast'):
        return 'tourcast router / guide sink'
    if dso.startswith(('libopus', 'libgstopus', 'libgstaudiotestsrc', 'libgstaudio', 'libm.so', 'libgstaudioconvert', 'libgstaudioresample', 'liborc')):
        return 'source + Opus encoders (per level)'
    if dso.startswith('libgobject'):
        return 'GObject other (signals, refs, properties)'
    if dso.startswith('libglib'):
        return 'GLib other (hash tables, lists, atomics)'
    if dso.startswith('libc.so'):
        if re.match(r'(memmove|memcpy|memset)', sym):
            return 'libc memcpy/memset'
        return 'libc other'
    return 'other (%s)' % dso

ELEMENTS = [('libgstsrtp', 'srtpenc'), ('libgstnice', 'nicesink'), ('libnice', 'nicesink'),
            ('libgstdtls', 'dtlssrtpenc'), ('libgstrtpmanager', 'rtpbin/rtpsession/rtprtxsend/funnel'),
            ('libgstwebrtc', 'webrtcbin'), ('libgstcoreelements', 'core elements (queue, funnel, clocksync)'),
            ('libgsttourcast', 'tourcast'), ('libgstopus', 'opusenc'), ('libgstrtp.so', 'rtpopuspay'),
            ('libgstaudiotestsrc', 'audiotestsrc')]
def element_of(frames):
    for sym, dso in frames:
        for prefix, name in ELEMENTS:
            if dso.startswith(prefix):
                return name
    return '(unattributed: no element frame on the stack)'

counts = collections.Counter(); cross = collections.Counter()
def leaf_stage(frames):
    sym, dso = frames[0]
    return kernel_stage(frames) if dso == '[kernel.kallsyms]' else user_stage(sym, dso)
for frames in samples:
    if not frames: continue
    if by_element:
        counts[element_of(frames)] += 1
        cross[(element_of(frames), leaf_stage(frames))] += 1
        continue
    counts[leaf_stage(frames)] += 1
total = sum(counts.values())
print('samples', total)
for k, v in counts.most_common():
    print('%6.1f%%  %5d  %s' % (100.0 * v / total, v, k))
    if by_element:
        for (e, st), n in cross.most_common():
            if e == k and n * 200 >= total:
                print('            %5.1f%%  %s' % (100.0 * n / total, st))
