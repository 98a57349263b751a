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

}  // namespace

RawStats extract_raw_stats(const GstStructure *reply) {
  Collected c;
  if (reply == nullptr)
    return {};
  gst_structure_foreach(reply, collect, &c);
  if (c.attendee_side.packets_received)
    return c.attendee_side;
  RawStats out = c.guide_side;
  if (!out.jitter_ms && c.report_jitter && c.clock_rate > 0)
    out.jitter_ms = *c.report_jitter * 1000.0 / c.clock_rate;
  if (c.have_sent && out.packets_lost) {
    int64_t lost = *out.packets_lost > 0 ? *out.packets_lost : 0;
    out.packets_received = (int64_t)c.packets_sent > lost ? c.packets_sent - lost : 0;
  }
  return out;
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
