/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "quality-stats.h"

#include <gst/webrtc/webrtc.h>

namespace tourcast {

namespace {

struct Collected {
  RawStats guide_side;    /* from remote-inbound-rtp + outbound-rtp */
  RawStats attendee_side; /* from inbound-rtp */
  guint64 packets_sent = 0;
  bool have_sent = false;
  guint clock_rate = 48000;
  std::optional<guint> report_jitter; /* RTP clock units */
};

std::optional<double> get_double(const GstStructure *s, const char *field) {
  gdouble v;
  if (gst_structure_get_double(s, field, &v))
    return v;
  return std::nullopt;
}

std::optional<int64_t> get_int64(const GstStructure *s, const char *field) {
  gint64 i;
  guint64 u;
  gint i32;
  guint u32;
  if (gst_structure_get_int64(s, field, &i))
    return i;
  if (gst_structure_get_uint64(s, field, &u))
    return (int64_t)MIN(u, (guint64)G_MAXINT64);
  if (gst_structure_get_int(s, field, &i32))
    return i32;
  if (gst_structure_get_uint(s, field, &u32))
    return u32;
  return std::nullopt;
}

void read_remote_inbound(const GstStructure *s, Collected *c) {
  if (auto rtt = get_double(s, "round-trip-time"))
    c->guide_side.rtt_ms = *rtt * 1000.0;
  if (auto lost = get_int64(s, "packets-lost"))
    c->guide_side.packets_lost = *lost;
  /* 1.22 keeps the rest of the receiver report (jitter in RTP clock units,
   * the extended highest sequence number) in the RTP source's own
   * statistics. */
  const GstStructure *source = nullptr;
  const GValue *v = gst_structure_get_value(s, "gst-rtpsource-stats");
  if (v && G_VALUE_HOLDS(v, GST_TYPE_STRUCTURE))
    source = gst_value_get_structure(v);
  guint highest_seq;
  if (source && gst_structure_get_uint(source, "rb-exthighestseq", &highest_seq))
    c->guide_side.report_highest_seq = highest_seq;
  if (auto jitter = get_double(s, "jitter")) {
    c->guide_side.jitter_ms = *jitter * 1000.0;
    return;
  }
  guint rb_jitter;
  if (source && gst_structure_get_uint(source, "rb-jitter", &rb_jitter))
    c->report_jitter = rb_jitter;
}

gboolean collect(GQuark, const GValue *value, gpointer data) {
  auto *c = static_cast<Collected *>(data);
  if (!G_VALUE_HOLDS(value, GST_TYPE_STRUCTURE))
    return TRUE;
  const GstStructure *s = gst_value_get_structure(value);
  GstWebRTCStatsType type;
  if (!gst_structure_get(s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, nullptr))
    return TRUE;
  switch (type) {
    case GST_WEBRTC_STATS_CODEC: {
      const gchar *mime = gst_structure_get_string(s, "mime-type");
      guint rate;
      if (mime) {
        c->guide_side.audio_codec = mime;
        c->attendee_side.audio_codec = mime;
      }
      if (gst_structure_get_uint(s, "clock-rate", &rate))
        c->clock_rate = rate;
      break;
    }
    case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
      read_remote_inbound(s, c);
      break;
    case GST_WEBRTC_STATS_OUTBOUND_RTP:
      if (auto sent = get_int64(s, "packets-sent")) {
        c->packets_sent = *sent;
        c->have_sent = *sent > 0;
      }
      break;
    case GST_WEBRTC_STATS_INBOUND_RTP: {
      auto received = get_int64(s, "packets-received");
      if (!received || *received == 0)
        break; /* the guide's inbound stream carries no media */
      c->attendee_side.packets_received = received;
      c->attendee_side.packets_lost = get_int64(s, "packets-lost");
      if (auto jitter = get_double(s, "jitter"))
        c->attendee_side.jitter_ms = *jitter * 1000.0;
      break;
    }
    default:
      break;
  }
  return TRUE;
}

/* The sending side's figures once collected: the same rules whether they came
 * from a get-stats reply or straight from the RTP session. */
RawStats guide_side(const Collected &c) {
  RawStats out = c.guide_side;
  if (!out.jitter_ms && c.report_jitter && c.clock_rate > 0)
    out.jitter_ms = *c.report_jitter * 1000.0 / c.clock_rate;
  if (c.have_sent && out.packets_lost) {
    int64_t lost = *out.packets_lost > 0 ? *out.packets_lost : 0;
    out.packets_received = (int64_t)c.packets_sent > lost ? c.packets_sent - lost : 0;
  }
  return out;
}

/* The codec as get-stats names it (`media/encoding-name` of the pad's caps)
 * and its clock rate, from the caps on webrtcbin's sink pad. */
void read_send_caps(GstElement *webrtcbin, Collected *c) {
  GstCaps *caps = nullptr;
  GST_OBJECT_LOCK(webrtcbin);
  for (GList *l = webrtcbin->sinkpads; l; l = l->next) {
    if (GstCaps *current = gst_pad_get_current_caps(GST_PAD(l->data))) {
      gst_caps_replace(&caps, current);
      gst_caps_unref(current);
    }
  }
  GST_OBJECT_UNLOCK(webrtcbin);
  if (caps == nullptr)
    return;
  if (gst_caps_is_fixed(caps)) {
    const GstStructure *s = gst_caps_get_structure(caps, 0);
    const gchar *media = gst_structure_get_string(s, "media");
    const gchar *encoding = gst_structure_get_string(s, "encoding-name");
    gint rate;
    if (media || encoding)
      c->guide_side.audio_codec =
          std::string(media ? media : "") + "/" + (encoding ? encoding : "");
    if (gst_structure_get_int(s, "clock-rate", &rate) && rate > 0)
      c->clock_rate = rate;
  }
  gst_caps_unref(caps);
}

/* rtpsession 1.22 hands its sources over in a GValueArray. */
G_GNUC_BEGIN_IGNORE_DEPRECATIONS

const GstStructure *source_at(GValueArray *sources, guint i) {
  const GValue *v = g_value_array_get_nth(sources, i);
  return v && G_VALUE_HOLDS(v, GST_TYPE_STRUCTURE) ? gst_value_get_structure(v) : nullptr;
}

/* The RTP session's own statistics (what get-stats builds its RTP entries
 * from): our sending source's packets-sent, and the report block about it
 * from the remote source that sent one, converted as get-stats converts
 * them. False when a remote source sends media to us: the inbound figures
 * are get-stats' business. */
bool read_session_sources(const GstStructure *session_stats, Collected *c) {
  const GValue *v = gst_structure_get_value(session_stats, "source-stats");
  if (v == nullptr || !G_VALUE_HOLDS(v, g_value_array_get_type()))
    return false;
  auto *sources = static_cast<GValueArray *>(g_value_get_boxed(v));
  const guint n = sources ? sources->n_values : 0;
  std::optional<guint> sender_ssrc;
  for (guint i = 0; i < n; i++) {
    const GstStructure *s = source_at(sources, i);
    gboolean internal = FALSE, is_sender = FALSE;
    guint ssrc;
    guint64 count = 0;
    if (s == nullptr || !gst_structure_get_uint(s, "ssrc", &ssrc))
      continue;
    gst_structure_get_boolean(s, "internal", &internal);
    gst_structure_get_boolean(s, "is-sender", &is_sender);
    if (!internal) {
      if (gst_structure_get_uint64(s, "packets-received", &count) && count > 0)
        return false;
      continue;
    }
    if (is_sender && gst_structure_get_uint64(s, "packets-sent", &count) &&
        (!sender_ssrc || count > c->packets_sent)) {
      sender_ssrc = ssrc;
      c->packets_sent = count;
      c->have_sent = count > 0;
    }
  }
  for (guint i = 0; sender_ssrc && i < n; i++) {
    const GstStructure *s = source_at(sources, i);
    gboolean internal = TRUE, have_rb = FALSE;
    guint rb_ssrc, round_trip, jitter, highest_seq;
    gint lost;
    if (s == nullptr || !gst_structure_get_boolean(s, "internal", &internal) || internal ||
        !gst_structure_get_boolean(s, "have-rb", &have_rb) || !have_rb ||
        !gst_structure_get_uint(s, "rb-ssrc", &rb_ssrc) || rb_ssrc != *sender_ssrc)
      continue;
    /* RTT is 16.16 fixed point seconds. */
    if (gst_structure_get_uint(s, "rb-round-trip", &round_trip))
      c->guide_side.rtt_ms = ((round_trip >> 16) + (round_trip & 0xffff) / 65536.0) * 1000.0;
    if (gst_structure_get_int(s, "rb-packetslost", &lost))
      c->guide_side.packets_lost = lost;
    if (gst_structure_get_uint(s, "rb-exthighestseq", &highest_seq))
      c->guide_side.report_highest_seq = highest_seq;
    if (gst_structure_get_uint(s, "rb-jitter", &jitter))
      c->report_jitter = jitter;
  }
  return true;
}

/* The remote source that sends us media, as get-stats' inbound-rtp entry
 * has it: packets-received, and the interarrival jitter in RTP clock units
 * converted with the source's clock rate. False when none has sent media
 * yet. */
bool read_session_receiver(const GstStructure *session_stats, Collected *c) {
  const GValue *v = gst_structure_get_value(session_stats, "source-stats");
  if (v == nullptr || !G_VALUE_HOLDS(v, g_value_array_get_type()))
    return false;
  auto *sources = static_cast<GValueArray *>(g_value_get_boxed(v));
  for (guint i = 0; sources && i < sources->n_values; i++) {
    const GstStructure *s = source_at(sources, i);
    gboolean internal = TRUE;
    guint64 received = 0;
    if (s == nullptr || !gst_structure_get_boolean(s, "internal", &internal) || internal ||
        !gst_structure_get_uint64(s, "packets-received", &received) || received == 0)
      continue;
    c->attendee_side.packets_received = (int64_t)MIN(received, (guint64)G_MAXINT64);
    guint jitter;
    gint clock_rate = 0;
    if (gst_structure_get_uint(s, "jitter", &jitter) &&
        gst_structure_get_int(s, "clock-rate", &clock_rate) && clock_rate > 0)
      c->attendee_side.jitter_ms = (double)jitter / (double)clock_rate * 1000.0;
    return true;
  }
  return false;
}

G_GNUC_END_IGNORE_DEPRECATIONS

/* The jitterbuffer rtpbin made for the one stream received (tourcast
 * bundles one m-line), or NULL when there is none or more than one (which
 * is whose is get-stats' business: it maps them by SSRC). */
GstElement *receiving_jitterbuffer(GstElement *webrtcbin) {
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(webrtcbin), "rtpbin");
  if (rtpbin == nullptr)
    return nullptr;
  GstElement *found = nullptr;
  int count = 0;
  GST_OBJECT_LOCK(rtpbin);
  for (GList *l = GST_BIN_CHILDREN(rtpbin); l; l = l->next) {
    GstElementFactory *factory = gst_element_get_factory(GST_ELEMENT(l->data));
    if (factory && g_strcmp0(GST_OBJECT_NAME(factory), "rtpjitterbuffer") == 0 && count++ == 0)
      found = GST_ELEMENT(l->data);
  }
  if (count == 1)
    gst_object_ref(found);
  GST_OBJECT_UNLOCK(rtpbin);
  gst_object_unref(rtpbin);
  return count == 1 ? found : nullptr;
}

/* webrtcbin's RTP session 0 (tourcast bundles its one m-line), looked up
 * once into @session. */
bool find_session(GstElement *webrtcbin, GObject **session) {
  if (*session)
    return true;
  GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(webrtcbin), "rtpbin");
  if (rtpbin == nullptr)
    return false;
  g_signal_emit_by_name(rtpbin, "get-internal-session", 0u, session);
  gst_object_unref(rtpbin);
  return *session != nullptr;
}

}  // namespace

RawStats extract_raw_stats(const GstStructure *reply) {
  Collected c;
  if (reply == nullptr)
    return {};
  gst_structure_foreach(reply, collect, &c);
  if (c.attendee_side.packets_received)
    return c.attendee_side;
  return guide_side(c);
}

bool read_sender_stats(GstElement *webrtcbin, GObject **session, RawStats *out) {
  GST_OBJECT_LOCK(webrtcbin);
  const bool sends = webrtcbin->numsinkpads > 0;
  GST_OBJECT_UNLOCK(webrtcbin);
  if (!sends || !GST_IS_BIN(webrtcbin))
    return false;
  Collected c;
  if (find_session(webrtcbin, session)) {
    GstStructure *stats = nullptr;
    g_object_get(*session, "stats", &stats, nullptr);
    const bool sender_only = stats && read_session_sources(stats, &c);
    if (stats)
      gst_structure_free(stats);
    if (!sender_only)
      return false;
  }
  read_send_caps(webrtcbin, &c);
  *out = guide_side(c);
  return true;
}

bool read_receiver_stats(GstElement *webrtcbin, GObject **session, RawStats *out) {
  GST_OBJECT_LOCK(webrtcbin);
  const bool sends = webrtcbin->numsinkpads > 0;
  GST_OBJECT_UNLOCK(webrtcbin);
  if (sends || !GST_IS_BIN(webrtcbin) || !find_session(webrtcbin, session))
    return false;
  GstElement *jitterbuffer = receiving_jitterbuffer(webrtcbin);
  if (jitterbuffer == nullptr)
    return false;
  Collected c;
  GstStructure *stats = nullptr;
  g_object_get(*session, "stats", &stats, nullptr);
  const bool receiving = stats && read_session_receiver(stats, &c);
  if (stats)
    gst_structure_free(stats);
  /* get-stats' packets-lost is the jitterbuffer's count of packets it gave
   * up on, not the RTP source's expected minus received. */
  GstStructure *jitterbuffer_stats = nullptr;
  if (receiving)
    g_object_get(jitterbuffer, "stats", &jitterbuffer_stats, nullptr);
  gst_object_unref(jitterbuffer);
  guint64 lost = 0;
  if (jitterbuffer_stats && gst_structure_get_uint64(jitterbuffer_stats, "num-lost", &lost))
    c.attendee_side.packets_lost = (int64_t)MIN(lost, (guint64)G_MAXINT64);
  if (jitterbuffer_stats)
    gst_structure_free(jitterbuffer_stats);
  if (!receiving)
    return false;
  /* No codec: webrtcbin 1.22 reports none for a receiving pad (its codec
   * entry is made from caps only a sink pad records). */
  *out = c.attendee_side;
  return true;
}

GstStructure *metrics_to_structure(const char *name, const ConnectionMetrics &m) {
  GstStructure *s = gst_structure_new(
      name, "packets-lost", G_TYPE_INT64, (gint64)m.packets_lost, "packets-received", G_TYPE_INT64,
      (gint64)m.packets_received, "loss-rate", G_TYPE_DOUBLE, m.loss_rate, "score", G_TYPE_INT,
      m.score, "category", G_TYPE_STRING, to_string(m.category), nullptr);
  if (m.rtt_ms)
    gst_structure_set(s, "rtt-ms", G_TYPE_DOUBLE, *m.rtt_ms, nullptr);
  if (m.jitter_ms)
    gst_structure_set(s, "jitter-ms", G_TYPE_DOUBLE, *m.jitter_ms, nullptr);
  if (m.audio_level)
    gst_structure_set(s, "audio-level", G_TYPE_DOUBLE, *m.audio_level, nullptr);
  if (m.audio_energy)
    gst_structure_set(s, "audio-energy", G_TYPE_DOUBLE, *m.audio_energy, nullptr);
  if (!m.audio_codec.empty())
    gst_structure_set(s, "audio-codec", G_TYPE_STRING, m.audio_codec.c_str(), nullptr);
  return s;
}

ConnectionMetrics metrics_from_structure(const GstStructure *s) {
  RawStats raw;
  gdouble d;
  gint64 i;
  if (gst_structure_get_double(s, "rtt-ms", &d))
    raw.rtt_ms = d;
  if (gst_structure_get_double(s, "jitter-ms", &d))
    raw.jitter_ms = d;
  if (gst_structure_get_int64(s, "packets-lost", &i))
    raw.packets_lost = i;
  if (gst_structure_get_int64(s, "packets-received", &i))
    raw.packets_received = i;
  if (gst_structure_get_double(s, "audio-level", &d))
    raw.audio_level = d;
  if (gst_structure_get_double(s, "audio-energy", &d))
    raw.audio_energy = d;
  if (const gchar *codec = gst_structure_get_string(s, "audio-codec"))
    raw.audio_codec = codec;
  return compute_metrics(raw);
}

}  // namespace tourcast
