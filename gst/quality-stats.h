/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "quality.h"

namespace tourcast {

/* Reads what the quality score needs out of webrtcbin 1.22's "get-stats"
 * reply. The guide learns about an attendee from its RTCP receiver reports
 * (remote-inbound-rtp: round-trip-time, packets-lost, and the report's jitter
 * in gst-rtpsource-stats), the attendee from what it receives (inbound-rtp).
 * Fields webrtcbin did not fill stay empty: a peer with no RTCP yet has no
 * RTT, which costs nothing in the score. */
RawStats extract_raw_stats(const GstStructure *reply);

/* The same figures as extract_raw_stats() gives for a sending webrtcbin,
 * read straight from its RTP session (the source statistics get-stats
 * builds its RTP entries from, converted the same way), without the rest of
 * a get-stats reply (ICE, transport, codec entries) or a round trip through
 * webrtcbin's thread. False, and @out untouched, when @webrtcbin has no sink
 * pad (it does not send) or receives media: then use get-stats. @session
 * keeps webrtcbin's RTP session between calls: pass a pointer to NULL the
 * first time, and g_object_unref() what it holds when done. */
bool read_sender_stats(GstElement *webrtcbin, GObject **session, RawStats *out);

/* The same figures as extract_raw_stats() gives for a webrtcbin that
 * receives (the attendee's peer): packets-received and jitter from the RTP
 * session's remote source, packets-lost from the stream's jitterbuffer, as
 * get-stats' inbound-rtp entry has them. False, and @out untouched, when
 * @webrtcbin sends, has received no media yet, or has no single
 * jitterbuffer: then use get-stats. @session as for read_sender_stats(). */
bool read_receiver_stats(GstElement *webrtcbin, GObject **session, RawStats *out);

/* The metrics as the fields of a structure named @name (for element
 * messages and the monitor's "metrics" property). Unknown values are left
 * out rather than written as NaN. */
GstStructure *metrics_to_structure(const char *name, const ConnectionMetrics &metrics);

/* Back from such a structure (a `tourcast-quality` message): the fields it
 * has, the loss rate recomputed from the counters, score and category from
 * compute_metrics' rules. */
ConnectionMetrics metrics_from_structure(const GstStructure *s);

}  // namespace tourcast
