/* pt-certificate.c — per-session self-signed TLS identity
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each session gets a fresh Ed25519 key and a self-signed X.509 certificate.
 * Nothing in the certificate is trusted: the peer pins the SHA-256 of its
 * DER encoding, carried in the authenticated offer/answer.
 */
#define G_LOG_DOMAIN "pt-certificate"

#include "config.h"

#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

#include "pt-certificate-private.h"

#define PT_FINGERPRINT_LEN 32 /* SHA-256 */

struct _PtCertificate
{
  GObject parent_instance;

  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_certificate_credentials_t credentials;
  guint8 fingerprint[PT_FINGERPRINT_LEN];
};

G_DEFINE_FINAL_TYPE (PtCertificate, pt_certificate, G_TYPE_OBJECT)

static void
pt_certificate_finalize (GObject *object)
{
  PtCertificate *self = PT_CERTIFICATE (object);

  /* The credentials hold their own copy of the key: free both.  GnuTLS
   * zeroes private key material when it releases it. */
  g_clear_pointer (&self->credentials, gnutls_certificate_free_credentials);
  g_clear_pointer (&self->crt, gnutls_x509_crt_deinit);
  g_clear_pointer (&self->key, gnutls_x509_privkey_deinit);

  G_OBJECT_CLASS (pt_certificate_parent_class)->finalize (object);
}

static void
pt_certificate_class_init (PtCertificateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pt_certificate_finalize;
}

static void
pt_certificate_init (PtCertificate *self)
{
}

static gboolean
pt_certificate_fail (int          ret,
                     const char  *step,
                     GError     **error)
{
  g_set_error (error, PT_QUIC_ERROR, PT_QUIC_ERROR_TLS,
               "Could not create this session's TLS certificate (%s): %s",
               step, gnutls_strerror (ret));
  return FALSE;
}

static gboolean
pt_certificate_generate (PtCertificate  *self,
                         GError        **error)
{
  gnutls_datum_t der = { NULL, 0 };
  guint8 serial[16];
  time_t now = time (NULL);
  int ret;

  if ((ret = gnutls_x509_privkey_init (&self->key)) < 0)
    return pt_certificate_fail (ret, "key", error);
  if ((ret = gnutls_x509_privkey_generate (self->key, GNUTLS_PK_EDDSA_ED25519, 0, 0)) < 0)
    return pt_certificate_fail (ret, "Ed25519 key generation", error);

  if ((ret = gnutls_x509_crt_init (&self->crt)) < 0)
    return pt_certificate_fail (ret, "certificate", error);
  if ((ret = gnutls_x509_crt_set_version (self->crt, 3)) < 0)
    return pt_certificate_fail (ret, "version", error);

  /* A positive, non-zero 128-bit serial number. */
  if ((ret = gnutls_rnd (GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
    return pt_certificate_fail (ret, "serial", error);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  if ((ret = gnutls_x509_crt_set_serial (self->crt, serial, sizeof serial)) < 0)
    return pt_certificate_fail (ret, "serial", error);

  if ((ret = gnutls_x509_crt_set_activation_time (self->crt, now - 3600)) < 0 ||
      (ret = gnutls_x509_crt_set_expiration_time (self->crt, now + 86400)) < 0)
    return pt_certificate_fail (ret, "validity", error);

  if ((ret = gnutls_x509_crt_set_dn_by_oid (self->crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                            "peertunnel", strlen ("peertunnel"))) < 0)
    return pt_certificate_fail (ret, "name", error);
  if ((ret = gnutls_x509_crt_set_key (self->crt, self->key)) < 0)
    return pt_certificate_fail (ret, "public key", error);
  if ((ret = gnutls_x509_crt_set_basic_constraints (self->crt, 0, -1)) < 0)
    return pt_certificate_fail (ret, "basic constraints", error);
  if ((ret = gnutls_x509_crt_set_key_usage (self->crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0)
    return pt_certificate_fail (ret, "key usage", error);

  /* Ed25519 signs the whole message: no separate digest. */
  if ((ret = gnutls_x509_crt_sign2 (self->crt, self->crt, self->key, GNUTLS_DIG_UNKNOWN, 0)) < 0)
    return pt_certificate_fail (ret, "self-signature", error);

  if ((ret = gnutls_x509_crt_export2 (self->crt, GNUTLS_X509_FMT_DER, &der)) < 0)
    return pt_certificate_fail (ret, "export", error);
  ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, der.data, der.size, self->fingerprint);
  gnutls_free (der.data);
  if (ret < 0)
    return pt_certificate_fail (ret, "fingerprint", error);

  if ((ret = gnutls_certificate_allocate_credentials (&self->credentials)) < 0)
    return pt_certificate_fail (ret, "credentials", error);
  if ((ret = gnutls_certificate_set_x509_key (self->credentials, &self->crt, 1, self->key)) < 0)
    return pt_certificate_fail (ret, "credentials", error);

  return TRUE;
}

PtCertificate *
_pt_certificate_new (GError **error)
{
  g_autoptr(PtCertificate) self = g_object_new (PT_TYPE_CERTIFICATE, NULL);

  if (!pt_certificate_generate (self, error))
    return NULL;

  g_debug ("Generated a session certificate (Ed25519, self-signed)");

  return g_steal_pointer (&self);
}

const guint8 *
_pt_certificate_get_fingerprint (PtCertificate *self)
{
  g_return_val_if_fail (PT_IS_CERTIFICATE (self), NULL);

  return self->fingerprint;
}

gnutls_certificate_credentials_t
_pt_certificate_get_credentials (PtCertificate *self)
{
  g_return_val_if_fail (PT_IS_CERTIFICATE (self), NULL);

  return self->credentials;
}

gboolean
_pt_fingerprint_matches (const guint8 *fingerprint,
                         const guint8 *der,
                         gsize         der_len)
{
  guint8 digest[PT_FINGERPRINT_LEN];
  gboolean matches;

  g_return_val_if_fail (fingerprint != NULL, FALSE);
  g_return_val_if_fail (der != NULL || der_len == 0, FALSE);

  if (der == NULL || der_len == 0)
    return FALSE;

  if (gnutls_hash_fast (GNUTLS_DIG_SHA256, der, der_len, digest) < 0)
    return FALSE;

  /* gnutls_memcmp() does not stop at the first difference. */
  matches = gnutls_memcmp (digest, fingerprint, sizeof digest) == 0;
  gnutls_memset (digest, 0, sizeof digest);

  return matches;
}
