/* fuzz-nip44.c — libFuzzer target for NIP-44 v2 payloads
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input as a payload to _pt_nip44_decrypt() under a fixed
 * conversation key. Random input never has a valid MAC, so the input is
 * also encrypted (when its length allows), and the result must decrypt to
 * the input; and the decoded payload bytes are re-MACed ("resealed") to
 * reach the padding checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "pt.h"
#include "pt-nip44-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

static const guint8 key[PT_NIP44_KEY_LEN] = {
  0x8f, 0xc2, 0x62, 0x09, 0x9c, 0xe0, 0xd0, 0xbb, 0x9b, 0x89, 0xba, 0xc0, 0x5b, 0xb9, 0xe0, 0x4f,
  0x9b, 0xc0, 0x09, 0x0a, 0xcc, 0x18, 0x1f, 0xef, 0x68, 0x40, 0xcc, 0xee, 0x47, 0x03, 0x71, 0xed,
};

static void
fuzz_decrypt (const char *text)
{
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  g_autofree char *plain = _pt_nip44_decrypt (key, text, &len, &error);

  CHECK ((plain == NULL) == (error != NULL));
  if (plain != NULL)
    CHECK (len >= 1 && len <= PT_NIP44_MAX_PLAINTEXT);
}

static void
fuzz_roundtrip (const uint8_t *data,
                size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *payload = _pt_nip44_encrypt (key, (const char *) data, size, NULL, &error);
  g_autofree char *plain = NULL;
  gsize len = 0;

  if (size < 1 || size > PT_NIP44_MAX_PLAINTEXT)
    {
      CHECK (payload == NULL && error != NULL);
      return;
    }
  CHECK (payload != NULL);
  plain = _pt_nip44_decrypt (key, payload, &len, &error);
  CHECK (plain != NULL);
  CHECK (len == size && memcmp (plain, data, size) == 0);
}

/* Treats the input as the decoded bytes of a payload (version, nonce,
 * ciphertext), appends a valid MAC and decrypts. */
static void
fuzz_resealed (const uint8_t *data,
               size_t         size)
{
  guint8 chacha_key[32], chacha_nonce[12], hmac_key[32];
  g_autofree guint8 *bytes = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *plain = NULL;
  g_autoptr(GError) error = NULL;
  gnutls_hmac_hd_t hmac;

  if (size < 1 + PT_NIP44_NONCE_LEN || size > 65603 - 32)
    return;
  bytes = g_malloc (size + 32);
  memcpy (bytes, data, size);
  _pt_nip44_message_keys (key, bytes + 1, chacha_key, chacha_nonce, hmac_key);
  CHECK (gnutls_hmac_init (&hmac, GNUTLS_MAC_SHA256, hmac_key, sizeof hmac_key) == 0);
  CHECK (gnutls_hmac (hmac, bytes + 1, size - 1) == 0);
  gnutls_hmac_deinit (hmac, bytes + size);

  payload = g_base64_encode (bytes, size + 32);
  plain = _pt_nip44_decrypt (key, payload, NULL, &error);
  CHECK ((plain == NULL) == (error != NULL));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_malloc (size + 1);

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  fuzz_decrypt (text);
  fuzz_roundtrip (data, size);
  fuzz_resealed (data, size);
  return 0;
}
