/* pt-nip44-private.h — NIP-44 v2 payload encryption
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O. A conversation key is computed once per pair of keys (it is the
 * same from both sides) and then encrypts and decrypts any number of
 * messages. Conversation keys and message keys are secrets: wipe them.
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

#define PT_NIP44_VERSION          2
#define PT_NIP44_KEY_LEN          32
#define PT_NIP44_NONCE_LEN        32
#define PT_NIP44_MIN_PLAINTEXT    1
#define PT_NIP44_MAX_PLAINTEXT    65535
#define PT_NIP44_MIN_PAYLOAD      132    /* base64 characters */
#define PT_NIP44_MAX_PAYLOAD      87472

/* HKDF-extract(salt "nip44-v2", shared x) of our secret and their public key. */
gboolean _pt_nip44_conversation_key (const PtSecretKey *secret,
                                     const PtPublicKey *peer,
                                     guint8            *conversation_key,
                                     GError           **error);
/* The three keys HKDF-expand derives from a conversation key and a nonce
 * (exposed for the test vectors). */
void     _pt_nip44_message_keys     (const guint8      *conversation_key,
                                     const guint8      *nonce,
                                     guint8            *chacha_key,    /* 32 */
                                     guint8            *chacha_nonce,  /* 12 */
                                     guint8            *hmac_key);     /* 32 */
/* Length of the padded plaintext (without the 2-byte length prefix). */
gsize    _pt_nip44_calc_padded_len  (gsize              unpadded_len);

/* Base64 payload of @plaintext (@len bytes, 1..65535); @nonce is NULL for a
 * random one (tests pass the vectors' nonces). */
char    *_pt_nip44_encrypt          (const guint8      *conversation_key,
                                     const char        *plaintext,
                                     gsize              len,
                                     const guint8      *nonce,
                                     GError           **error);
/* The plaintext (NUL-terminated; @len gets its length without the NUL), or
 * NULL with VERSION or DECRYPT. Never says more about a failed MAC. The
 * plaintext is not checked for UTF-8: callers that need text do that. */
char    *_pt_nip44_decrypt          (const guint8      *conversation_key,
                                     const char        *payload,
                                     gsize             *len,
                                     GError           **error);

G_END_DECLS
