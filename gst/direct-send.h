/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

/* A sending webrtcbin's RTP, protected and sent by us instead of by its
 * transport: once DTLS has exported the keys (dtlssrtpenc's "on-key-set"),
 * each packet leaving the RTP session (so its sender reports and statistics
 * still count it) is protected under the same key (srtp-protector.h: the
 * bytes libsrtp would make) and handed to the same libnice stream and
 * component as the transport's nicesink, and
 * dropped from webrtcbin's chain. That chain (rtpbin's and the transport's
 * bins, srtpenc, clocksync, funnel, nicesink: about ten pads, each with its
 * locks, per packet per peer) is what a guide with many peers spent most of
 * its sending thread on; RTCP and DTLS stay on it.
 *
 * Held by a tourwebrtcbin; every element of its webrtcbin goes through
 * tour_direct_send_element_added() (deep-element-added). */
typedef struct _TourDirectSend TourDirectSend;

/* @owner: the element logs are about (not referenced; named from its first
 * tour_direct_send_element_added() on). */
TourDirectSend *tour_direct_send_new(GstObject *owner);
/* Safe while webrtcbin still runs: its callbacks hold their own references. */
void tour_direct_send_free(TourDirectSend *send);

void tour_direct_send_element_added(TourDirectSend *send, GstElement *element);

/* Off: every packet goes through webrtcbin's chain. Set before DTLS is up:
 * srtpenc and this sender each count SRTP roll-overs from their own first
 * packet. */
void tour_direct_send_set_enabled(TourDirectSend *send, gboolean enabled);
gboolean tour_direct_send_get_enabled(TourDirectSend *send);

/* Packets sent directly so far, and those libnice did not take (not
 * connected yet, socket full: the same packets nicesink would have lost). */
guint64 tour_direct_send_get_packets(TourDirectSend *send);
guint64 tour_direct_send_get_dropped(TourDirectSend *send);
