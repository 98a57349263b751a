/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* A self-signed ECDSA P-256 certificate and its private key, PEM encoded in
 * one string (the form of dtlssrtpdec's "pem" and GstWebRTCDTLSTransport's
 * "certificate"), made once per process and kept for its lifetime; NULL if
 * OpenSSL could not make one.
 *
 * Why: GStreamer 1.22 makes an RSA-2048 certificate for webrtcbin and its
 * DTLS connection answers OpenSSL's MTU query with 0, so handshake messages go
 * out in datagrams of at most 256 bytes: with RSA the handshake takes about 17
 * datagrams, each of which, lost, costs the 1 s DTLS retransmission timer. An
 * ECDSA key makes the certificates, the key exchange signature and the
 * certificate verify message (and so the session ticket, which carries the
 * peer's certificate) about half as long (later GStreamer releases switched
 * their default to ECDSA too). */
const gchar *tour_dtls_certificate_pem(void);

G_END_DECLS
