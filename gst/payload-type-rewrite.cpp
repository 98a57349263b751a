/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "payload-type-rewrite.h"

#include <gst/rtp/rtp.h>

static gboolean rewrite_buffer(GstBuffer **buffer, guint, gpointer data) {
  guint pt = GPOINTER_TO_UINT(data);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  *buffer = gst_buffer_make_writable(*buffer);
  if (gst_rtp_buffer_map(*buffer, GST_MAP_READWRITE, &rtp)) {
    if (gst_rtp_buffer_get_payload_type(&rtp) != pt)
      gst_rtp_buffer_set_payload_type(&rtp, (guint8)pt);
    gst_rtp_buffer_unmap(&rtp);
  }
  return TRUE;
}

static GstPadProbeReturn rewrite(GstPad *, GstPadProbeInfo *info, gpointer data) {
  guint pt = GPOINTER_TO_UINT(data);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    rewrite_buffer(&buffer, 0, data);
    info->data = buffer;
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    gst_buffer_list_foreach(list, rewrite_buffer, data);
    info->data = list;
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
      GstCaps *caps = nullptr;
      gst_event_parse_caps(event, &caps);
      caps = gst_caps_copy(caps);
      gst_caps_set_simple(caps, "payload", G_TYPE_INT, (gint)pt, nullptr);
      gst_event_unref(event);
      info->data = gst_event_new_caps(caps);
      gst_caps_unref(caps);
    }
  }
  return GST_PAD_PROBE_OK;
}

void tour_rewrite_payload_type(GstPad *pad, guint pt) {
  gst_pad_add_probe(pad,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    rewrite, GUINT_TO_POINTER(pt), nullptr);
}
