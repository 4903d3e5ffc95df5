/* pt-certificate-private.h — per-session self-signed TLS identity
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "pt.h"

G_BEGIN_DECLS

#define PT_TYPE_CERTIFICATE (pt_certificate_get_type ())
G_DECLARE_FINAL_TYPE (PtCertificate, pt_certificate, PT, CERTIFICATE, GObject)

/* A fresh Ed25519 key and a self-signed X.509 certificate (CN=peertunnel). */
PtCertificate *_pt_certificate_new             (GError        **error);
/* SHA-256 of the certificate's DER encoding. */
const guint8  *_pt_certificate_get_fingerprint (PtCertificate  *self);
/* Credentials holding this key + certificate, for a GnuTLS session. */
gnutls_certificate_credentials_t
               _pt_certificate_get_credentials (PtCertificate  *self);

/* Constant-time: SHA-256 of @der equals @fingerprint. */
gboolean       _pt_fingerprint_matches         (const guint8   *fingerprint,
                                                const guint8   *der,
                                                gsize           der_len);

G_END_DECLS
