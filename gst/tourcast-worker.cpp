/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "tourcast-worker.h"

#include <gst/gst.h>

#include <condition_variable>
#include <mutex>

#include "aligned_tick.h"

namespace {

struct Worker {
  std::mutex lock;
  int users = 0;
  GMainContext *context = nullptr;
  GMainLoop *loop = nullptr;
  GThread *thread = nullptr;
};

Worker &worker() {
  static Worker instance;
  return instance;
}

gpointer worker_thread_main(gpointer data) {
  auto *loop = static_cast<GMainLoop *>(data);
  GMainContext *context = g_main_loop_get_context(loop);
  g_main_context_push_thread_default(context);
  g_main_loop_run(loop);
  g_main_context_pop_thread_default(context);
  /* Let sources removed while quitting release their data here. */
  while (g_main_context_iteration(context, FALSE)) {
  }
  g_main_loop_unref(loop);
  return nullptr;
}

struct SyncCall {
  GSourceFunc func;
  gpointer data;
  std::mutex lock;
  std::condition_variable cond;
  bool done = false;
};

gboolean run_sync_call(gpointer data) {
  auto *call = static_cast<SyncCall *>(data);
  call->func(call->data);
  std::lock_guard<std::mutex> guard(call->lock);
  call->done = true;
  call->cond.notify_all();
  return G_SOURCE_REMOVE;
}

}  // namespace

GMainContext *tour_worker_acquire(void) {
  Worker &w = worker();
  std::lock_guard<std::mutex> guard(w.lock);
  if (w.users++ == 0) {
    w.context = g_main_context_new();
    w.loop = g_main_loop_new(w.context, FALSE);
    w.thread = g_thread_new("tourcast-worker", worker_thread_main, g_main_loop_ref(w.loop));
  }
  return w.context;
}

void tour_worker_release(void) {
  Worker &w = worker();
  GThread *thread = nullptr;
  GMainContext *context = nullptr;
  {
    std::lock_guard<std::mutex> guard(w.lock);
    g_return_if_fail(w.users > 0);
    if (--w.users > 0)
      return;
    /* Quit from inside the loop: a g_main_loop_quit() before the new thread
     * reached g_main_loop_run() (a release right after the first acquire)
     * would be undone by the run, which then never returned. */
    GSource *quit = g_idle_source_new();
    g_source_set_priority(quit, G_PRIORITY_HIGH);
    g_source_set_callback(
        quit,
        [](gpointer loop) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop *>(loop));
          return G_SOURCE_REMOVE;
        },
        w.loop, (GDestroyNotify)g_main_loop_unref);
    g_source_attach(quit, w.context);
    g_source_unref(quit);
    w.loop = nullptr;
    thread = w.thread;
    w.thread = nullptr;
    context = w.context;
    w.context = nullptr;
  }
  if (g_thread_self() == thread) {
    /* The last user went away on the worker itself: it cannot join itself. */
    g_thread_unref(thread);
  } else {
    g_thread_join(thread);
  }
  g_main_context_unref(context);
}

gboolean tour_worker_is_current_thread(void) {
  Worker &w = worker();
  std::lock_guard<std::mutex> guard(w.lock);
  return w.thread != nullptr && g_thread_self() == w.thread;
}

void tour_worker_invoke_sync(GSourceFunc func, gpointer data) {
  if (tour_worker_is_current_thread()) {
    func(data);
    return;
  }
  GMainContext *context;
  {
    Worker &w = worker();
    std::lock_guard<std::mutex> guard(w.lock);
    context = w.context ? g_main_context_ref(w.context) : nullptr;
  }
  g_return_if_fail(context != nullptr);
  SyncCall call;
  call.func = func;
  call.data = data;
  g_main_context_invoke(context, run_sync_call, &call);
  std::unique_lock<std::mutex> guard(call.lock);
  call.cond.wait(guard, [&call] { return call.done; });
  g_main_context_unref(context);
}

gint64 tour_now_ms(void) {
  return g_get_monotonic_time() / 1000;
}

gint64 tour_epoch_ms(void) {
  return g_get_real_time() / 1000;
}

namespace {
std::mutex warm_up_lock;
GThread *warm_up_thread = nullptr;
bool warm_up_started = false;
}  // namespace

void tour_dtls_warm_up(void) {
  std::lock_guard<std::mutex> guard(warm_up_lock);
  if (warm_up_started)
    return;
  warm_up_started = true;
  warm_up_thread = g_thread_new(
      "tourcast-dtls",
      [](gpointer) -> gpointer {
        /* dtlssrtpdec holds a dtlsdec, whose first instance makes the
         * certificate; the others load the plugins and libraries (libsrtp2,
         * libnice) a peer's first transport needs: 60-120 ms cold, seconds on
         * a loaded machine, otherwise spent inside set-remote-description. */
        for (const char *factory :
             {"dtlssrtpdec", "dtlssrtpenc", "nicesrc", "nicesink", "rtpbin"}) {
          GstElement *element = gst_element_factory_make(factory, nullptr);
          if (element)
            gst_object_unref(gst_object_ref_sink(element));
        }
        return nullptr;
      },
      nullptr);
}

void tour_dtls_warm_up_finish(void) {
  GThread *thread;
  {
    std::lock_guard<std::mutex> guard(warm_up_lock);
    thread = warm_up_thread;
    warm_up_thread = nullptr;
  }
  if (thread)
    g_thread_join(thread);
}

void tour_worker_defer(GMainContext *context, GSourceFunc func, gpointer data,
                       GDestroyNotify destroy) {
  GSource *source = g_idle_source_new();
  g_source_set_priority(source, G_PRIORITY_DEFAULT);
  g_source_set_callback(source, func, data, destroy);
  g_source_attach(source, context);
  g_source_unref(source);
}

namespace {

struct TickSource {
  GSource source;
  gint64 interval_us;
};

gboolean tick_dispatch(GSource *source, GSourceFunc callback, gpointer data) {
  auto *tick = reinterpret_cast<TickSource *>(source);
  if (callback == nullptr || !callback(data))
    return G_SOURCE_REMOVE;
  g_source_set_ready_time(
      source, tourcast::next_aligned_tick_us(g_source_get_time(source), tick->interval_us));
  return G_SOURCE_CONTINUE;
}

GSourceFuncs tick_funcs = {nullptr, nullptr, tick_dispatch, nullptr, nullptr, nullptr};

}  // namespace

GSource *tour_aligned_tick_source_new(guint interval_ms) {
  g_return_val_if_fail(interval_ms > 0, nullptr);
  GSource *source = g_source_new(&tick_funcs, sizeof(TickSource));
  auto *tick = reinterpret_cast<TickSource *>(source);
  tick->interval_us = (gint64)interval_ms * 1000;
  g_source_set_name(source, "tourcast-aligned-tick");
  g_source_set_ready_time(
      source, tourcast::next_aligned_tick_us(g_get_monotonic_time(), tick->interval_us));
  return source;
}
