/* test-nip44.c — NIP-44 v2 against the official test vectors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tests/data/nip44.vectors.json is the official vector file (see
 * tests/data/README.md for its origin and checksum).
 */
#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <json-glib/json-glib.h>

#include "pt.h"
#include "pt-nip44-private.h"

static JsonParser *vectors_parser;

static char *
data_path (const char *name)
{
  const char *srcdir = g_getenv ("PT_SOURCE_DIR");

  if (srcdir != NULL)
    return g_build_filename (srcdir, "tests", "data", name, NULL);
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

static JsonObject *
v2 (const char *section)
{
  JsonObject *root = json_node_get_object (json_parser_get_root (vectors_parser));

  return json_object_get_object_member (json_object_get_object_member (root, "v2"), section);
}

static void
hex_to_bytes (const char *hex,
              guint8     *out,
              gsize       len)
{
  g_assert_cmpuint (strlen (hex), ==, len * 2);
  for (gsize i = 0; i < len; i++)
    out[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 | g_ascii_xdigit_value (hex[2 * i + 1]));
}

static char *
bytes_to_hex (const guint8 *data,
              gsize         len)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (out, "%02x", data[i]);
  return g_string_free (out, FALSE);
}

static char *
sha256_hex (const void *data,
            gsize       len)
{
  guint8 digest[32];

  g_assert_cmpint (gnutls_hash_fast (GNUTLS_DIG_SHA256, data, len, digest), ==, 0);
  return bytes_to_hex (digest, sizeof digest);
}

/* ---------------------------------------------------------------------- */

static void
test_conversation_key (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("valid"), "get_conversation_key");

  g_assert_cmpuint (json_array_get_length (cases), >, 0);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) secret = pt_secret_key_parse (json_object_get_string_member (c, "sec1"), &error);
      g_autofree char *hex = NULL;
      guint8 key[PT_NIP44_KEY_LEN];
      PtPublicKey pub;

      g_assert_no_error (error);
      hex_to_bytes (json_object_get_string_member (c, "pub2"), pub.bytes, PT_KEY_LEN);
      g_assert_true (_pt_nip44_conversation_key (secret, &pub, key, &error));
      g_assert_no_error (error);
      hex = bytes_to_hex (key, sizeof key);
      g_assert_cmpstr (hex, ==, json_object_get_string_member (c, "conversation_key"));
    }
}

/* Secret keys out of range are refused when parsed; public keys off the curve here. */
static void
test_conversation_key_invalid (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("invalid"), "get_conversation_key");
  guint n_checked = 0;

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) secret = pt_secret_key_parse (json_object_get_string_member (c, "sec1"), &error);
      guint8 key[PT_NIP44_KEY_LEN];
      PtPublicKey pub;

      g_test_message ("%s", json_object_get_string_member (c, "note"));
      if (secret == NULL)
        {
          g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
          n_checked++;
          continue;
        }
      hex_to_bytes (json_object_get_string_member (c, "pub2"), pub.bytes, PT_KEY_LEN);
      g_assert_false (pt_public_key_parse (json_object_get_string_member (c, "pub2"), &pub, NULL));
      g_assert_false (_pt_nip44_conversation_key (secret, &pub, key, &error));
      g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY);
      n_checked++;
    }
  g_assert_cmpuint (n_checked, ==, json_array_get_length (cases));
}

static void
test_message_keys (void)
{
  JsonObject *section = json_object_get_object_member (v2 ("valid"), "get_message_keys");
  JsonArray *keys = json_object_get_array_member (section, "keys");
  guint8 conversation_key[PT_NIP44_KEY_LEN];

  hex_to_bytes (json_object_get_string_member (section, "conversation_key"),
                conversation_key, sizeof conversation_key);
  g_assert_cmpuint (json_array_get_length (keys), >, 0);
  for (guint i = 0; i < json_array_get_length (keys); i++)
    {
      JsonObject *k = json_array_get_object_element (keys, i);
      guint8 nonce[PT_NIP44_NONCE_LEN], chacha_key[32], chacha_nonce[12], hmac_key[32];
      g_autofree char *ck = NULL, *cn = NULL, *hk = NULL;

      hex_to_bytes (json_object_get_string_member (k, "nonce"), nonce, sizeof nonce);
      _pt_nip44_message_keys (conversation_key, nonce, chacha_key, chacha_nonce, hmac_key);
      ck = bytes_to_hex (chacha_key, sizeof chacha_key);
      cn = bytes_to_hex (chacha_nonce, sizeof chacha_nonce);
      hk = bytes_to_hex (hmac_key, sizeof hmac_key);
      g_assert_cmpstr (ck, ==, json_object_get_string_member (k, "chacha_key"));
      g_assert_cmpstr (cn, ==, json_object_get_string_member (k, "chacha_nonce"));
      g_assert_cmpstr (hk, ==, json_object_get_string_member (k, "hmac_key"));
    }
}

static void
test_padded_len (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("valid"), "calc_padded_len");

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonArray *pair = json_array_get_array_element (cases, i);

      g_assert_cmpuint (_pt_nip44_calc_padded_len (json_array_get_int_element (pair, 0)), ==,
                        json_array_get_int_element (pair, 1));
    }
}

static void
test_encrypt_decrypt (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("valid"), "encrypt_decrypt");

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *plaintext = json_object_get_string_member (c, "plaintext");
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) sec1 = pt_secret_key_parse (json_object_get_string_member (c, "sec1"), &error);
      g_autoptr(PtSecretKey) sec2 = pt_secret_key_parse (json_object_get_string_member (c, "sec2"), &error);
      guint8 key1[PT_NIP44_KEY_LEN], key2[PT_NIP44_KEY_LEN], nonce[PT_NIP44_NONCE_LEN];
      g_autofree char *hex = NULL;
      g_autofree char *payload = NULL;
      g_autofree char *decrypted = NULL;
      gsize len = 0;

      g_assert_no_error (error);
      /* The conversation key is the same from both sides. */
      g_assert_true (_pt_nip44_conversation_key (sec1, pt_secret_key_get_public (sec2), key1, &error));
      g_assert_true (_pt_nip44_conversation_key (sec2, pt_secret_key_get_public (sec1), key2, &error));
      g_assert_cmpmem (key1, sizeof key1, key2, sizeof key2);
      hex = bytes_to_hex (key1, sizeof key1);
      g_assert_cmpstr (hex, ==, json_object_get_string_member (c, "conversation_key"));

      hex_to_bytes (json_object_get_string_member (c, "nonce"), nonce, sizeof nonce);
      payload = _pt_nip44_encrypt (key1, plaintext, strlen (plaintext), nonce, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (payload, ==, json_object_get_string_member (c, "payload"));

      decrypted = _pt_nip44_decrypt (key2, payload, &len, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (len, ==, strlen (plaintext));
      g_assert_cmpstr (decrypted, ==, plaintext);
    }
}

static void
test_encrypt_decrypt_long (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("valid"), "encrypt_decrypt_long_msg");

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *pattern = json_object_get_string_member (c, "pattern");
      gint64 repeat = json_object_get_int_member (c, "repeat");
      g_autoptr(GString) plaintext = g_string_new (NULL);
      g_autoptr(GError) error = NULL;
      guint8 key[PT_NIP44_KEY_LEN], nonce[PT_NIP44_NONCE_LEN];
      g_autofree char *payload = NULL;
      g_autofree char *plain_hash = NULL;
      g_autofree char *payload_hash = NULL;
      g_autofree char *decrypted = NULL;
      gsize len = 0;

      for (gint64 r = 0; r < repeat; r++)
        g_string_append (plaintext, pattern);
      plain_hash = sha256_hex (plaintext->str, plaintext->len);
      g_assert_cmpstr (plain_hash, ==, json_object_get_string_member (c, "plaintext_sha256"));

      hex_to_bytes (json_object_get_string_member (c, "conversation_key"), key, sizeof key);
      hex_to_bytes (json_object_get_string_member (c, "nonce"), nonce, sizeof nonce);
      payload = _pt_nip44_encrypt (key, plaintext->str, plaintext->len, nonce, &error);
      g_assert_no_error (error);
      payload_hash = sha256_hex (payload, strlen (payload));
      g_assert_cmpstr (payload_hash, ==, json_object_get_string_member (c, "payload_sha256"));

      decrypted = _pt_nip44_decrypt (key, payload, &len, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (decrypted, len, plaintext->str, plaintext->len);
    }
}

static void
test_encrypt_lengths_invalid (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("invalid"), "encrypt_msg_lengths");
  guint8 key[PT_NIP44_KEY_LEN] = { 1 };

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      gsize len = json_array_get_int_element (cases, i);
      g_autofree char *plaintext = g_malloc0 (len + 1);
      g_autoptr(GError) error = NULL;
      g_autofree char *payload = NULL;

      memset (plaintext, 'a', len);
      payload = _pt_nip44_encrypt (key, plaintext, len, NULL, &error);
      g_assert_null (payload);
      g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_TOO_LARGE);
    }
}

static void
test_decrypt_invalid (void)
{
  JsonArray *cases = json_object_get_array_member (v2 ("invalid"), "decrypt");

  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *note = json_object_get_string_member (c, "note");
      g_autoptr(GError) error = NULL;
      g_autofree char *plaintext = NULL;
      guint8 key[PT_NIP44_KEY_LEN];

      g_test_message ("%s", note);
      hex_to_bytes (json_object_get_string_member (c, "conversation_key"), key, sizeof key);
      plaintext = _pt_nip44_decrypt (key, json_object_get_string_member (c, "payload"), NULL, &error);
      g_assert_null (plaintext);
      if (g_str_has_prefix (note, "unknown encryption version"))
        g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_VERSION);
      else
        g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_DECRYPT);
      /* The vectors' notes name the check that must fail. */
      if (g_str_equal (note, "invalid MAC"))
        g_assert_nonnull (strstr (error->message, "invalid MAC"));
      else if (g_str_equal (note, "invalid padding"))
        g_assert_nonnull (strstr (error->message, "invalid padding"));
      else if (g_str_equal (note, "invalid base64"))
        g_assert_nonnull (strstr (error->message, "invalid base64"));
      else if (g_str_has_prefix (note, "invalid payload length"))
        g_assert_nonnull (strstr (error->message, "invalid payload length"));
    }
}

static void
test_roundtrip_random_nonce (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) a = pt_secret_key_generate (&error);
  g_autoptr(PtSecretKey) b = pt_secret_key_generate (&error);
  guint8 key_ab[PT_NIP44_KEY_LEN], key_ba[PT_NIP44_KEY_LEN];
  const char *message = "{\"type\":\"offer\"}";
  g_autofree char *p1 = NULL;
  g_autofree char *p2 = NULL;
  g_autofree char *plain = NULL;

  g_assert_true (_pt_nip44_conversation_key (a, pt_secret_key_get_public (b), key_ab, &error));
  g_assert_true (_pt_nip44_conversation_key (b, pt_secret_key_get_public (a), key_ba, &error));
  p1 = _pt_nip44_encrypt (key_ab, message, strlen (message), NULL, &error);
  p2 = _pt_nip44_encrypt (key_ab, message, strlen (message), NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p1, !=, p2);
  plain = _pt_nip44_decrypt (key_ba, p1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (plain, ==, message);
}

/* Flipping any bit of the payload's bytes is caught (MAC, version or padding). */
static void
test_tamper_every_byte (void)
{
  guint8 key[PT_NIP44_KEY_LEN] = { 7 };
  g_autofree char *payload = _pt_nip44_encrypt (key, "hello", 5, NULL, NULL);
  gsize len = 0;
  g_autofree guint8 *data = g_base64_decode (payload, &len);

  for (gsize i = 0; i < len; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *altered = NULL;
      g_autofree char *plain = NULL;

      data[i] ^= 0x01;
      altered = g_base64_encode (data, len);
      data[i] ^= 0x01;
      plain = _pt_nip44_decrypt (key, altered, NULL, &error);
      g_assert_null (plain);
      g_assert_nonnull (error);
    }
}

static void
test_wrong_key (void)
{
  guint8 key[PT_NIP44_KEY_LEN] = { 7 }, other[PT_NIP44_KEY_LEN] = { 8 };
  g_autofree char *payload = _pt_nip44_encrypt (key, "hello", 5, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *plain = _pt_nip44_decrypt (other, payload, NULL, &error);

  g_assert_null (plain);
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_DECRYPT);
}

/* g_base64_decode() skips junk; the payload check does not. */
static void
test_strict_base64 (void)
{
  guint8 key[PT_NIP44_KEY_LEN] = { 7 };
  g_autofree char *payload = _pt_nip44_encrypt (key, "hello", 5, NULL, NULL);
  const char *inserts[] = { " ", "\n", "=", "-", "*" };

  for (guint i = 0; i < G_N_ELEMENTS (inserts); i++)
    {
      g_autoptr(GError) error = NULL;
      /* Keep the length a multiple of 4 by dropping one character at the end. */
      g_autofree char *altered = g_strdup_printf ("%.10s%s%.*s", payload, inserts[i],
                                                  (int) strlen (payload) - 11, payload + 10);
      g_autofree char *plain = _pt_nip44_decrypt (key, altered, NULL, &error);

      g_assert_null (plain);
      g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_DECRYPT);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);

  path = data_path ("nip44.vectors.json");
  vectors_parser = json_parser_new ();
  json_parser_load_from_file (vectors_parser, path, &error);
  g_assert_no_error (error);

  g_test_add_func ("/nip44/vectors/conversation-key", test_conversation_key);
  g_test_add_func ("/nip44/vectors/conversation-key-invalid", test_conversation_key_invalid);
  g_test_add_func ("/nip44/vectors/message-keys", test_message_keys);
  g_test_add_func ("/nip44/vectors/padded-len", test_padded_len);
  g_test_add_func ("/nip44/vectors/encrypt-decrypt", test_encrypt_decrypt);
  g_test_add_func ("/nip44/vectors/encrypt-decrypt-long", test_encrypt_decrypt_long);
  g_test_add_func ("/nip44/vectors/encrypt-lengths-invalid", test_encrypt_lengths_invalid);
  g_test_add_func ("/nip44/vectors/decrypt-invalid", test_decrypt_invalid);
  g_test_add_func ("/nip44/roundtrip-random-nonce", test_roundtrip_random_nonce);
  g_test_add_func ("/nip44/tamper-every-byte", test_tamper_every_byte);
  g_test_add_func ("/nip44/wrong-key", test_wrong_key);
  g_test_add_func ("/nip44/strict-base64", test_strict_base64);

  ret = g_test_run ();
  g_clear_object (&vectors_parser);
  return ret;
}
