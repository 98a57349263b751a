/* tourcast
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dtls-certificate.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <string>

GST_DEBUG_CATEGORY_STATIC(tour_dtls_certificate_debug);
#define GST_CAT_DEFAULT tour_dtls_certificate_debug

namespace {

/* Browsers check the fingerprint, not the dates; a year spans any tour. */
constexpr long kValiditySeconds = 365L * 24 * 3600;
/* A day back: a peer whose clock is behind still sees a valid certificate. */
constexpr long kBackdateSeconds = 24L * 3600;

std::string bio_contents(BIO *bio) {
  char *data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return length > 0 ? std::string(data, static_cast<size_t>(length)) : std::string();
}

/* Certificate first, then the key: the order GstDtlsCertificate reads. */
std::string make_certificate_pem() {
  std::string pem;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x509 = X509_new();
  BIO *bio = BIO_new(BIO_s_mem());
  guint32 serial = 0;
  bool made =
      key != nullptr && x509 != nullptr && bio != nullptr &&
      RAND_bytes(reinterpret_cast<unsigned char *>(&serial), sizeof serial) == 1 &&
      X509_set_version(x509, 2) == 1 &&
      ASN1_INTEGER_set(X509_get_serialNumber(x509), static_cast<long>(serial & 0x7fffffff)) == 1 &&
      X509_gmtime_adj(X509_getm_notBefore(x509), -kBackdateSeconds) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(x509), kValiditySeconds) != nullptr &&
      X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char *>("tourcast"), -1, -1,
                                 0) == 1 &&
      X509_set_issuer_name(x509, X509_get_subject_name(x509)) == 1 &&
      X509_set_pubkey(x509, key) == 1 && X509_sign(x509, key, EVP_sha256()) > 0 &&
      PEM_write_bio_X509(bio, x509) == 1 &&
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  if (made)
    pem = bio_contents(bio);
  BIO_free(bio);
  X509_free(x509);
  EVP_PKEY_free(key);
  return pem;
}

}  // namespace

const gchar *tour_dtls_certificate_pem(void) {
  static gchar *pem = nullptr;
  static gsize made = 0;
  if (g_once_init_enter(&made)) {
    GST_DEBUG_CATEGORY_INIT(tour_dtls_certificate_debug, "tourdtlscertificate", 0,
                            "tourcast DTLS certificate");
    std::string text = make_certificate_pem();
    if (text.empty())
      GST_ERROR("could not make an ECDSA certificate: webrtcbin keeps its own RSA one");
    else
      pem = g_strdup(text.c_str());
    /* GStreamer's dtls elements share one agent (an SSL context) per
     * certificate and free it with its last user; making it takes about 10 ms
     * on this machine, which an attendee, whose only peer is the one joining,
     * would pay inside every join (webrtcbin's transport creation). This
     * element, never started, keeps the agent for the process. */
    static GstElement *agent_keeper = nullptr;
    if (pem && (agent_keeper = gst_element_factory_make("dtlsdec", nullptr)) != nullptr) {
      gst_object_ref_sink(agent_keeper);
      g_object_set(agent_keeper, "pem", pem, nullptr);
    }
    g_once_init_leave(&made, 1);
  }
  return pem;
}
