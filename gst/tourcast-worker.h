/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One thread per process runs a GMainContext for all tourcast signallers and
 * element timers, so that N peers cost no extra threads and all hiredis I/O
 * happens on a single thread without locks. Reference counted: the thread
 * stops when the last user releases it. */
GMainContext *tour_worker_acquire(void);
void tour_worker_release(void);
gboolean tour_worker_is_current_thread(void);

/* Runs @func on the worker thread and waits for it to return (runs it
 * directly when already on the worker thread). */
void tour_worker_invoke_sync(GSourceFunc func, gpointer data);

/* Runs @func on @context's thread later, never from within this call (unlike
 * g_main_context_invoke, which runs it at once when called on that thread):
 * for work a pad probe must not do while the pad is still in use. */
void tour_worker_defer(GMainContext *context, GSourceFunc func, gpointer data,
                       GDestroyNotify destroy);

/* A timer source that fires at every multiple of @interval_ms on the
 * monotonic clock (g_timeout_source_new fires @interval_ms after its own
 * start): every such timer of the process with the same interval fires in
 * the same wake-up of the worker. A worker serving N attendees otherwise
 * wakes N times per interval, and each wake-up polls all their sources and
 * sockets. Set a callback as for any GSource. */
GSource *tour_aligned_tick_source_new(guint interval_ms);

/* Monotonic milliseconds, the time base of the core state machines. */
gint64 tour_now_ms(void);
/* Wall-clock milliseconds since the epoch, as stored in Redis. */
gint64 tour_epoch_ms(void);

G_END_DECLS

G_BEGIN_DECLS
/* dtlsdec makes one self-signed certificate per process, on its first
 * instance, and that takes a few hundred milliseconds: paid by whoever makes
 * the first offer or answer. Making it (and loading the plugins a peer's
 * transport needs) in the background before the first join takes it off the
 * first connection's path. */
void tour_dtls_warm_up(void);
/* Waits for the warm-up: a process that exits while OpenSSL is still making
 * the key crashes in OpenSSL's exit handlers. Called when elements go to NULL. */
void tour_dtls_warm_up_finish(void);
G_END_DECLS
