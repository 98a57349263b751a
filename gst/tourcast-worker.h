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
GMainContext *tour_worker_acquire (void);
void tour_worker_release (void);
gboolean tour_worker_is_current_thread (void);

/* Runs @func on the worker thread and waits for it to return (runs it
 * directly when already on the worker thread). */
void tour_worker_invoke_sync (GSourceFunc func, gpointer data);

/* Monotonic milliseconds, the time base of the core state machines. */
gint64 tour_now_ms (void);
/* Wall-clock milliseconds since the epoch, as stored in Redis. */
gint64 tour_epoch_ms (void);

G_END_DECLS
