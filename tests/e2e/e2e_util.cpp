/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "e2e_util.h"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

namespace tourcast::test {

int threads_named(const std::string &name) {
  int n = 0;
  GDir *dir = g_dir_open("/proc/self/task", 0, nullptr);
  if (dir == nullptr)
    return -1;
  while (const gchar *task = g_dir_read_name(dir)) {
    gchar *comm = nullptr;
    gchar *path = g_strdup_printf("/proc/self/task/%s/comm", task);
    if (g_file_get_contents(path, &comm, nullptr, nullptr))
      n += g_strcmp0(g_strstrip(comm), name.c_str()) == 0;
    g_free(comm);
    g_free(path);
  }
  g_dir_close(dir);
  return n;
}

bool wait_until(const std::function<bool()> &condition, int timeout_ms) {
  gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (!condition()) {
    if (g_get_monotonic_time() > deadline)
      return false;
    g_usleep(10000);
  }
  return true;
}

static std::string env_or(const char *name, const char *fallback) {
  const char *value = g_getenv(name);
  return value && *value ? value : fallback;
}

std::string guide_address() {
  return env_or("TOURCAST_TEST_GUIDE_ADDRESS", "127.0.0.1");
}

std::string attendee_address() {
  return env_or("TOURCAST_TEST_ATTENDEE_ADDRESS", "127.0.0.1");
}

static int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

RedisServer::RedisServer(const std::vector<std::string> &extra_args) {
  port_ = free_tcp_port();
  args_ = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no",     "--loglevel",          "warning"};
  args_.insert(args_.end(), extra_args.begin(), extra_args.end());
  for (size_t i = 0; i + 1 < extra_args.size(); i++)
    if (extra_args[i] == "--requirepass")
      password_ = extra_args[i + 1];
  launch();
}

bool RedisServer::start_again() {
  kill_now();
  return launch();
}

bool RedisServer::launch() {
  std::vector<char *> argv;
  for (auto &a : args_)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    /* Dies with the test: a test that aborts must not leave a server holding
     * meson's output pipe open (meson then waits for its timeout). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp("redis-server", argv.data());
    _exit(127);
  }
  if (pid_ < 0) {
    error_ = "fork failed";
    return false;
  }
  bool up = wait_until(
      [this] {
        RedisClient client(port_, password_);
        return client.connected();
      },
      5000);
  if (!up) {
    error_ = "redis-server did not answer on port " + std::to_string(port_);
    kill_now();
  }
  return up;
}

RedisServer::~RedisServer() {
  kill_now();
}

void RedisServer::kill_now() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

std::string RedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_);
}

RedisClient::RedisClient(int port, const std::string &password, int db) {
  timeval timeout{1, 0};
  context_ = redisConnectWithTimeout("127.0.0.1", port, timeout);
  if (context_ && context_->err) {
    redisFree(context_);
    context_ = nullptr;
    return;
  }
  if (!password.empty())
    freeReplyObject(command({"AUTH", password}));
  if (db != 0)
    freeReplyObject(command({"SELECT", std::to_string(db)}));
  redisReply *reply = command({"PING"});
  bool pong = reply && reply->type == REDIS_REPLY_STATUS;
  if (reply)
    freeReplyObject(reply);
  if (!pong) {
    redisFree(context_);
    context_ = nullptr;
  }
}

RedisClient::~RedisClient() {
  if (context_)
    redisFree(context_);
}

redisReply *RedisClient::command(const std::vector<std::string> &args) {
  if (!context_)
    return nullptr;
  std::vector<const char *> argv;
  std::vector<size_t> lens;
  for (const auto &a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return static_cast<redisReply *>(
      redisCommandArgv(context_, (int)args.size(), argv.data(), lens.data()));
}

std::optional<std::string> RedisClient::get(const std::string &key) {
  redisReply *r = command({"GET", key});
  std::optional<std::string> value;
  if (r && r->type == REDIS_REPLY_STRING)
    value = std::string(r->str, r->len);
  if (r)
    freeReplyObject(r);
  return value;
}

static long long integer_reply(redisReply *r) {
  long long v = (r && r->type == REDIS_REPLY_INTEGER) ? r->integer : -3;
  if (r)
    freeReplyObject(r);
  return v;
}

long long RedisClient::pttl(const std::string &key) {
  return integer_reply(command({"PTTL", key}));
}

bool RedisClient::exists(const std::string &key) {
  return integer_reply(command({"EXISTS", key})) == 1;
}

long long RedisClient::llen(const std::string &key) {
  return integer_reply(command({"LLEN", key}));
}

void RedisClient::set(const std::string &key, const std::string &value) {
  redisReply *r = command({"SET", key, value});
  if (r)
    freeReplyObject(r);
}

long long RedisClient::publish(const std::string &channel, const std::string &message) {
  return integer_reply(command({"PUBLISH", channel, message}));
}

std::vector<std::string> RedisClient::scan(const std::string &pattern) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    redisReply *r = command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      if (r)
        freeReplyObject(r);
      break;
    }
    cursor.assign(r->element[0]->str, r->element[0]->len);
    for (size_t i = 0; i < r->element[1]->elements; i++)
      keys.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
    freeReplyObject(r);
  } while (cursor != "0");
  return keys;
}

Pipeline::Pipeline(const std::string &description) {
  GError *error = nullptr;
  pipeline_ = gst_parse_launch(description.c_str(), &error);
  if (error) {
    parse_error_ = error->message;
    g_clear_error(&error);
    if (pipeline_) {
      gst_object_unref(pipeline_);
      pipeline_ = nullptr;
    }
    return;
  }
  latency_pool_ = g_thread_pool_new(
      [](gpointer pipeline, gpointer) { gst_bin_recalculate_latency(GST_BIN(pipeline)); }, nullptr,
      1, FALSE, nullptr);
  GstBus *bus = gst_element_get_bus(pipeline_);
  gst_bus_set_sync_handler(bus, on_message, this, nullptr);
  gst_object_unref(bus);
}

Pipeline::~Pipeline() {
  stop();
  if (latency_pool_)
    g_thread_pool_free(latency_pool_, FALSE, TRUE);
  if (pipeline_) {
    GstBus *bus = gst_element_get_bus(pipeline_);
    gst_bus_set_sync_handler(bus, nullptr, nullptr, nullptr);
    gst_object_unref(bus);
    gst_object_unref(pipeline_);
  }
  for (Captured &m : messages_)
    if (m.structure)
      gst_structure_free(m.structure);
}

GstStateChangeReturn Pipeline::play() {
  return gst_element_set_state(pipeline_, GST_STATE_PLAYING);
}

void Pipeline::stop() {
  if (pipeline_)
    gst_element_set_state(pipeline_, GST_STATE_NULL);
}

GstElement *Pipeline::get(const char *name) const {
  /* The bin keeps the element alive; callers don't own a reference. */
  GstElement *e = gst_bin_get_by_name(GST_BIN(pipeline_), name);
  if (e)
    gst_object_unref(e);
  return e;
}

GstBusSyncReply Pipeline::on_message(GstBus *, GstMessage *message, gpointer data) {
  auto *self = static_cast<Pipeline *>(data);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_LATENCY)
    g_thread_pool_push(self->latency_pool_, self->pipeline_, nullptr);
  Captured c{GST_MESSAGE_TYPE(message), nullptr, {}};
  if (c.type == GST_MESSAGE_ELEMENT && gst_message_get_structure(message)) {
    c.structure = gst_structure_copy(gst_message_get_structure(message));
  } else if (c.type == GST_MESSAGE_ERROR || c.type == GST_MESSAGE_WARNING) {
    GError *error = nullptr;
    gchar *debug = nullptr;
    if (c.type == GST_MESSAGE_ERROR)
      gst_message_parse_error(message, &error, &debug);
    else
      gst_message_parse_warning(message, &error, &debug);
    c.text = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(message))) + ": " + error->message +
             (debug ? std::string(" | ") + debug : "");
    g_clear_error(&error);
    g_free(debug);
  }
  /* A sync handler that drops a message owns it. */
  gst_message_unref(message);
  if (c.type != GST_MESSAGE_ELEMENT && c.type != GST_MESSAGE_ERROR && c.type != GST_MESSAGE_WARNING)
    return GST_BUS_DROP;
  std::lock_guard<std::mutex> guard(self->lock_);
  self->messages_.push_back(std::move(c));
  return GST_BUS_DROP;
}

std::optional<std::string> Pipeline::find_element_message(
    const std::string &name, const std::function<bool(const GstStructure *)> &match) const {
  std::lock_guard<std::mutex> guard(lock_);
  for (const Captured &m : messages_) {
    if (m.type != GST_MESSAGE_ELEMENT)
      continue;
    const GstStructure *s = m.structure;
    if (!gst_structure_has_name(s, name.c_str()) || (match && !match(s)))
      continue;
    gchar *text = gst_structure_to_string(s);
    std::string result = text;
    g_free(text);
    return result;
  }
  return std::nullopt;
}

size_t Pipeline::for_each_element_message(
    const std::string &name, const std::function<void(const GstStructure *)> &visit) const {
  std::lock_guard<std::mutex> guard(lock_);
  size_t n = 0;
  for (const Captured &m : messages_) {
    if (m.type != GST_MESSAGE_ELEMENT || !gst_structure_has_name(m.structure, name.c_str()))
      continue;
    visit(m.structure);
    n++;
  }
  return n;
}

bool Pipeline::wait_element_message(const std::string &name, int timeout_ms,
                                    const std::function<bool(const GstStructure *)> &match) const {
  return wait_until([&] { return find_element_message(name, match).has_value(); }, timeout_ms);
}

void Pipeline::forget_element_messages() {
  std::lock_guard<std::mutex> guard(lock_);
  std::vector<Captured> kept;
  for (Captured &m : messages_) {
    if (m.type == GST_MESSAGE_ELEMENT)
      gst_structure_free(m.structure);
    else
      kept.push_back(std::move(m));
  }
  messages_ = std::move(kept);
  messages_.shrink_to_fit();
}

std::vector<std::string> Pipeline::texts(GstMessageType type) const {
  std::lock_guard<std::mutex> guard(lock_);
  std::vector<std::string> out;
  for (const Captured &m : messages_)
    if (m.type == type)
      out.push_back(m.text);
  return out;
}

std::vector<std::string> Pipeline::errors() const {
  return texts(GST_MESSAGE_ERROR);
}

std::vector<std::string> Pipeline::warnings() const {
  return texts(GST_MESSAGE_WARNING);
}

bool Pipeline::wait_error(int timeout_ms) const {
  return wait_until([&] { return !errors().empty(); }, timeout_ms);
}

ToneMeter::ToneMeter(GstElement *appsink)
    : appsink_(GST_ELEMENT(gst_object_ref(appsink))), samples_(std::make_shared<Samples>()) {
  g_object_set(appsink, "emit-signals", TRUE, "sync", FALSE, nullptr);
  handler_ = g_signal_connect_data(
      appsink, "new-sample", G_CALLBACK(on_sample), new std::shared_ptr<Samples>(samples_),
      [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<Samples> *>(data); },
      GConnectFlags(0));
}

ToneMeter::~ToneMeter() {
  g_signal_handler_disconnect(appsink_, handler_);
  gst_object_unref(appsink_);
}

GstFlowReturn ToneMeter::on_sample(GstElement *sink, gpointer data) {
  Samples &samples = **static_cast<std::shared_ptr<Samples> *>(data);
  GstSample *sample = nullptr;
  g_signal_emit_by_name(sink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_OK;
  GstBuffer *buffer = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    const float *f = reinterpret_cast<const float *>(map.data);
    std::lock_guard<std::mutex> guard(samples.lock);
    samples.values.insert(samples.values.end(), f, f + map.size / sizeof(float));
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

size_t ToneMeter::sample_count() const {
  std::lock_guard<std::mutex> guard(samples_->lock);
  return samples_->values.size();
}

std::vector<float> ToneMeter::last(int window_ms) const {
  std::lock_guard<std::mutex> guard(samples_->lock);
  const std::vector<float> &values = samples_->values;
  size_t n = (size_t)window_ms * 48;
  if (values.size() < n)
    return {};
  return std::vector<float>(values.end() - n, values.end());
}

double ToneMeter::level_dbfs(int window_ms) const {
  std::vector<float> x = last(window_ms);
  if (x.empty())
    return -INFINITY;
  double energy = 0;
  for (float v : x)
    energy += (double)v * v;
  return 10 * std::log10(energy / x.size() + 1e-20);
}

double ToneMeter::quietest_chunk_dbfs(int window_ms, int chunk_ms) const {
  std::vector<float> x = last(window_ms);
  size_t chunk = static_cast<size_t>(chunk_ms) * 48;
  if (x.size() < chunk || chunk == 0)
    return -INFINITY;
  double quietest = INFINITY;
  for (size_t start = 0; start + chunk <= x.size(); start += chunk) {
    double energy = 0;
    for (size_t i = start; i < start + chunk; i++)
      energy += (double)x[i] * x[i];
    quietest = std::min(quietest, 10 * std::log10(energy / chunk + 1e-20));
  }
  return quietest;
}

std::string ToneMeter::chunk_profile(int window_ms, int chunk_ms) const {
  std::vector<float> x = last(window_ms);
  size_t chunk = static_cast<size_t>(chunk_ms) * 48;
  std::string out;
  for (size_t start = 0; chunk > 0 && start + chunk <= x.size(); start += chunk) {
    double energy = 0;
    for (size_t i = start; i < start + chunk; i++)
      energy += (double)x[i] * x[i];
    out += std::to_string(std::lround(10 * std::log10(energy / chunk + 1e-20))) + " ";
  }
  return out;
}

double ToneMeter::tone_share(double frequency, int window_ms) const {
  std::vector<float> x = last(window_ms);
  if (x.empty())
    return 0;
  double w = 2 * M_PI * frequency / 48000.0;
  double coeff = 2 * std::cos(w), s1 = 0, s2 = 0, energy = 0;
  for (float v : x) {
    double s0 = v + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += (double)v * v;
  }
  double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  if (energy <= 0)
    return 0;
  return 2 * power / (x.size() * energy);
}

Listener listen(const std::string &name, const std::string &tour, const std::string &language,
                const std::string &redis_url, const std::string &extra) {
  Listener l;
  l.name = name;
  l.pipeline =
      std::make_unique<Pipeline>(attendee_description(name, tour, language, redis_url, extra));
  if (l.pipeline->ok()) {
    l.meter = std::make_unique<ToneMeter>(l.pipeline->get((name + "_out").c_str()));
    l.pipeline->play();
  }
  return l;
}

std::string guide_description(const std::string &name, const std::string &tour,
                              const std::string &language, double frequency,
                              const std::string &redis_url, const std::string &extra) {
  return "audiotestsrc is-live=true wave=sine volume=0.5 freq=" + std::to_string(frequency) +
         " ! audio/x-raw,rate=48000,channels=1 ! tourguidesink name=" + name + " tour=" + tour +
         " language=" + language + " redis-url=" + redis_url + " ice-addresses=" + guide_address() +
         " heartbeat-interval=500 " + extra;
}

std::string attendee_description(const std::string &name, const std::string &tour,
                                 const std::string &language, const std::string &redis_url,
                                 const std::string &extra) {
  return "tourattendeesrc name=" + name + " tour=" + tour + " language=" + language +
         " redis-url=" + redis_url + " ice-addresses=" + attendee_address() +
         " heartbeat-interval=500 latency=50 " + extra +
         " ! audioconvert ! audio/x-raw,format=F32LE,channels=1,rate=48000 ! appsink name=" + name +
         "_out";
}

}  // namespace tourcast::test
