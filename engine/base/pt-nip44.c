/* pt-nip44.c — NIP-44 v2 payload encryption
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * conversation key = HKDF-extract(SHA-256, salt "nip44-v2", IKM = x of the
 *                    ECDH shared point, unhashed)
 * message keys     = HKDF-expand(conversation key, info = nonce, 76 bytes):
 *                    ChaCha20 key (32) ‖ ChaCha20 nonce (12) ‖ HMAC key (32)
 * padded           = big-endian u16 length ‖ plaintext ‖ zeros up to
 *                    calc_padded_len (32 bytes minimum, then chunks that
 *                    grow with the length)
 * payload          = base64 (0x02 ‖ nonce (32) ‖ ChaCha20 (padded) ‖
 *                    HMAC-SHA256 (HMAC key, nonce ‖ ciphertext))
 *
 * Decryption checks the MAC, in constant time, before it decrypts anything.
 * Verified against the official NIP-44 vectors (tests/data/nip44.vectors.json).
 */
#define G_LOG_DOMAIN "pt-nip44"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>

#include "pt-keys-private.h"
#include "pt-nip44-private.h"

#define SALT              "nip44-v2"
#define CHACHA_KEY_LEN    32
#define CHACHA_NONCE_LEN  12
#define HMAC_KEY_LEN      32
#define MAC_LEN           32
#define MESSAGE_KEYS_LEN  (CHACHA_KEY_LEN + CHACHA_NONCE_LEN + HMAC_KEY_LEN)
#define MIN_DATA_LEN      99      /* version, nonce, 2 + 32 padded bytes, MAC */
#define MAX_DATA_LEN      65603   /* version, nonce, 2 + 65536 padded bytes, MAC */

/* ---------------------------------------------------------------------- */
/* Keys */

static int
copy_x (unsigned char       *output,
        const unsigned char *x32,
        const unsigned char *y32,
        void                *data)
{
  memcpy (output, x32, 32);
  return 1;
}

gboolean
_pt_nip44_conversation_key (const PtSecretKey *secret,
                            const PtPublicKey *peer,
                            guint8            *conversation_key,
                            GError           **error)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  secp256k1_pubkey pubkey;
  guint8 compressed[33];
  guint8 shared_x[32];
  gnutls_datum_t ikm = { shared_x, sizeof shared_x };
  gnutls_datum_t salt = { (unsigned char *) SALT, strlen (SALT) };
  int ret;

  g_return_val_if_fail (secret != NULL && peer != NULL && conversation_key != NULL, FALSE);

  /* An x-only key stands for the point with an even y. */
  compressed[0] = 0x02;
  memcpy (compressed + 1, peer->bytes, 32);
  if (!secp256k1_ec_pubkey_parse (ctx, &pubkey, compressed, sizeof compressed))
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY,
                           "the peer's public key is not a point of the secp256k1 curve");
      return FALSE;
    }
  if (!secp256k1_ecdh (ctx, shared_x, &pubkey, pt_secret_key_get_bytes (secret), copy_x, NULL))
    {
      explicit_bzero (shared_x, sizeof shared_x);
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY,
                           "no shared secret with this public key");
      return FALSE;
    }
  ret = gnutls_hkdf_extract (GNUTLS_MAC_SHA256, &ikm, &salt, conversation_key);
  explicit_bzero (shared_x, sizeof shared_x);
  if (ret < 0)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY,
                   "HKDF failed: %s", gnutls_strerror (ret));
      return FALSE;
    }
  return TRUE;
}

void
_pt_nip44_message_keys (const guint8 *conversation_key,
                        const guint8 *nonce,
                        guint8       *chacha_key,
                        guint8       *chacha_nonce,
                        guint8       *hmac_key)
{
  gnutls_datum_t prk = { (unsigned char *) conversation_key, PT_NIP44_KEY_LEN };
  gnutls_datum_t info = { (unsigned char *) nonce, PT_NIP44_NONCE_LEN };
  guint8 keys[MESSAGE_KEYS_LEN];
  int ret;

  ret = gnutls_hkdf_expand (GNUTLS_MAC_SHA256, &prk, &info, keys, sizeof keys);
  /* Only fails for lengths above 255 * 32 bytes. */
  g_assert (ret == 0);

  memcpy (chacha_key, keys, CHACHA_KEY_LEN);
  memcpy (chacha_nonce, keys + CHACHA_KEY_LEN, CHACHA_NONCE_LEN);
  memcpy (hmac_key, keys + CHACHA_KEY_LEN + CHACHA_NONCE_LEN, HMAC_KEY_LEN);
  explicit_bzero (keys, sizeof keys);
}

gsize
_pt_nip44_calc_padded_len (gsize unpadded_len)
{
  gsize next_power = 1, chunk;

  if (unpadded_len <= 32)
    return 32;
  /* The smallest power of two above unpadded_len - 1. */
  while (next_power <= unpadded_len - 1)
    next_power <<= 1;
  chunk = next_power <= 256 ? 32 : next_power / 8;
  return chunk * ((unpadded_len - 1) / chunk + 1);
}

/* ---------------------------------------------------------------------- */
/* ChaCha20 and HMAC */

/* Encrypts or decrypts (the same for a stream cipher) @len bytes in place. */
static gboolean
chacha20 (const guint8 *key,
          const guint8 *nonce,
          guint8       *data,
          gsize         len)
{
  gnutls_cipher_hd_t handle;
  guint8 iv[16] = { 0 };   /* 32-bit little-endian block counter 0, then the nonce */
  gnutls_datum_t key_datum = { (unsigned char *) key, CHACHA_KEY_LEN };
  gnutls_datum_t iv_datum = { iv, sizeof iv };
  int ret;

  memcpy (iv + 4, nonce, CHACHA_NONCE_LEN);
  ret = gnutls_cipher_init (&handle, GNUTLS_CIPHER_CHACHA20_32, &key_datum, &iv_datum);
  if (ret < 0)
    {
      g_debug ("ChaCha20 unavailable: %s", gnutls_strerror (ret));
      return FALSE;
    }
  ret = gnutls_cipher_encrypt2 (handle, data, len, data, len);
  gnutls_cipher_deinit (handle);
  return ret == 0;
}

static gboolean
hmac (const guint8 *key,
      const guint8 *nonce,
      const guint8 *ciphertext,
      gsize         len,
      guint8       *mac)
{
  gnutls_hmac_hd_t handle;

  if (gnutls_hmac_init (&handle, GNUTLS_MAC_SHA256, key, HMAC_KEY_LEN) < 0)
    return FALSE;
  if (gnutls_hmac (handle, nonce, PT_NIP44_NONCE_LEN) < 0 ||
      gnutls_hmac (handle, ciphertext, len) < 0)
    {
      gnutls_hmac_deinit (handle, NULL);
      return FALSE;
    }
  gnutls_hmac_deinit (handle, mac);
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Payloads */

char *
_pt_nip44_encrypt (const guint8 *conversation_key,
                   const char   *plaintext,
                   gsize         len,
                   const guint8 *nonce_in,
                   GError      **error)
{
  guint8 chacha_key[CHACHA_KEY_LEN], chacha_nonce[CHACHA_NONCE_LEN], hmac_key[HMAC_KEY_LEN];
  guint8 nonce[PT_NIP44_NONCE_LEN];
  g_autofree guint8 *data = NULL;
  gsize padded_len, data_len;
  guint8 *ciphertext;
  char *payload = NULL;

  g_return_val_if_fail (conversation_key != NULL, NULL);
  g_return_val_if_fail (plaintext != NULL || len == 0, NULL);

  if (len < PT_NIP44_MIN_PLAINTEXT || len > PT_NIP44_MAX_PLAINTEXT)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_TOO_LARGE,
                   "cannot encrypt %" G_GSIZE_FORMAT " bytes: NIP-44 takes %d to %d",
                   len, PT_NIP44_MIN_PLAINTEXT, PT_NIP44_MAX_PLAINTEXT);
      return NULL;
    }
  if (nonce_in != NULL)
    memcpy (nonce, nonce_in, sizeof nonce);
  else
    {
      int ret = gnutls_rnd (GNUTLS_RND_NONCE, nonce, sizeof nonce);

      if (ret < 0)
        {
          g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_RANDOM,
                       "the system random generator failed: %s", gnutls_strerror (ret));
          return NULL;
        }
    }

  padded_len = 2 + _pt_nip44_calc_padded_len (len);
  data_len = 1 + PT_NIP44_NONCE_LEN + padded_len + MAC_LEN;
  data = g_malloc0 (data_len);
  data[0] = PT_NIP44_VERSION;
  memcpy (data + 1, nonce, PT_NIP44_NONCE_LEN);
  ciphertext = data + 1 + PT_NIP44_NONCE_LEN;
  ciphertext[0] = (guint8) (len >> 8);
  ciphertext[1] = (guint8) (len & 0xff);
  memcpy (ciphertext + 2, plaintext, len);

  _pt_nip44_message_keys (conversation_key, nonce, chacha_key, chacha_nonce, hmac_key);
  if (!chacha20 (chacha_key, chacha_nonce, ciphertext, padded_len) ||
      !hmac (hmac_key, nonce, ciphertext, padded_len, ciphertext + padded_len))
    {
      explicit_bzero (data, data_len);
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY,
                           "GnuTLS could not encrypt (ChaCha20 or HMAC-SHA256 unavailable)");
      goto out;
    }
  payload = g_base64_encode (data, data_len);

out:
  explicit_bzero (chacha_key, sizeof chacha_key);
  explicit_bzero (chacha_nonce, sizeof chacha_nonce);
  explicit_bzero (hmac_key, sizeof hmac_key);
  return payload;
}

/* Standard base64 with padding, nothing else (g_base64_decode skips junk). */
static gboolean
is_strict_base64 (const char *text,
                  gsize       len)
{
  gsize n_pad = 0;

  if (len == 0 || len % 4 != 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = text[i];

      if (c == '=')
        {
          n_pad++;
          continue;
        }
      if (n_pad > 0)
        return FALSE;   /* data after padding */
      if (!g_ascii_isalnum (c) && c != '+' && c != '/')
        return FALSE;
    }
  return n_pad <= 2;
}

static char *
decrypt_error (GError    **error,
               gint        code,
               const char *message)
{
  g_set_error (error, PT_NOSTR_ERROR, code, "cannot decrypt: %s", message);
  return NULL;
}

char *
_pt_nip44_decrypt (const guint8 *conversation_key,
                   const char   *payload,
                   gsize        *len_out,
                   GError      **error)
{
  guint8 chacha_key[CHACHA_KEY_LEN], chacha_nonce[CHACHA_NONCE_LEN], hmac_key[HMAC_KEY_LEN];
  guint8 mac[MAC_LEN];
  g_autofree guint8 *data = NULL;
  gsize payload_len, data_len = 0, padded_len, unpadded_len;
  const guint8 *nonce, *their_mac;
  guint8 *ciphertext;
  char *plaintext = NULL;

  g_return_val_if_fail (conversation_key != NULL, NULL);
  g_return_val_if_fail (payload != NULL, NULL);

  payload_len = strlen (payload);
  if (payload_len > 0 && payload[0] == '#')
    return decrypt_error (error, PT_NOSTR_ERROR_VERSION,
                          "unknown encryption version (not NIP-44 v2)");
  if (payload_len < PT_NIP44_MIN_PAYLOAD || payload_len > PT_NIP44_MAX_PAYLOAD)
    return decrypt_error (error, PT_NOSTR_ERROR_DECRYPT, "invalid payload length");
  if (!is_strict_base64 (payload, payload_len))
    return decrypt_error (error, PT_NOSTR_ERROR_DECRYPT, "invalid base64");

  data = g_base64_decode (payload, &data_len);
  if (data_len < MIN_DATA_LEN || data_len > MAX_DATA_LEN)
    return decrypt_error (error, PT_NOSTR_ERROR_DECRYPT, "invalid data length");
  if (data[0] != PT_NIP44_VERSION)
    return decrypt_error (error, PT_NOSTR_ERROR_VERSION,
                          "unknown encryption version (not NIP-44 v2)");

  nonce = data + 1;
  ciphertext = data + 1 + PT_NIP44_NONCE_LEN;
  padded_len = data_len - 1 - PT_NIP44_NONCE_LEN - MAC_LEN;
  their_mac = ciphertext + padded_len;

  _pt_nip44_message_keys (conversation_key, nonce, chacha_key, chacha_nonce, hmac_key);
  if (!hmac (hmac_key, nonce, ciphertext, padded_len, mac))
    {
      decrypt_error (error, PT_NOSTR_ERROR_KEY, "HMAC-SHA256 unavailable");
      goto out;
    }
  if (!_pt_memequal_ct (mac, their_mac, MAC_LEN))
    {
      decrypt_error (error, PT_NOSTR_ERROR_DECRYPT,
                     "invalid MAC (wrong key, or altered on the way)");
      goto out;
    }
  if (!chacha20 (chacha_key, chacha_nonce, ciphertext, padded_len))
    {
      decrypt_error (error, PT_NOSTR_ERROR_KEY, "ChaCha20 unavailable");
      goto out;
    }

  unpadded_len = (gsize) ciphertext[0] << 8 | ciphertext[1];
  if (unpadded_len < PT_NIP44_MIN_PLAINTEXT ||
      padded_len != 2 + _pt_nip44_calc_padded_len (unpadded_len))
    {
      explicit_bzero (ciphertext, padded_len);
      decrypt_error (error, PT_NOSTR_ERROR_DECRYPT, "invalid padding");
      goto out;
    }

  plaintext = g_malloc (unpadded_len + 1);
  memcpy (plaintext, ciphertext + 2, unpadded_len);
  plaintext[unpadded_len] = '\0';
  explicit_bzero (ciphertext, padded_len);
  if (len_out != NULL)
    *len_out = unpadded_len;

out:
  explicit_bzero (chacha_key, sizeof chacha_key);
  explicit_bzero (chacha_nonce, sizeof chacha_nonce);
  explicit_bzero (hmac_key, sizeof hmac_key);
  return plaintext;
}
