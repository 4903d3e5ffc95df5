/* test-bip340.c — the official BIP-340 test vectors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * tests/interop/bip340-test-vectors.csv is bip-0340/test-vectors.csv of the
 * bitcoin/bips repository, unmodified (last changed there by 200f9b26,
 * "bip340: Allow variable-length messages"; SHA-256
 * 34c9d1d9c3a88d524bc80778540dc43f8306ec249a7485293063c376db851c2d;
 * BSD-2-Clause, MIT or CC0-1.0). Events are signed and verified by
 * libsecp256k1 through the engine's context (pt-nostr-event.c calls
 * secp256k1_schnorrsig_sign32 and _verify); the keys are the engine's.
 * For every vector:
 *   - a secret key gives the vector's public key (pt_secret_key_*);
 *   - signing with the vector's aux_rand gives the vector's signature;
 *   - the public key parses (pt_public_key_parse) unless the vector says
 *     it is not a valid one, and the signature verifies exactly when the
 *     vector says so.
 */
#include "config.h"

#include <string.h>

#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "pt.h"
#include "pt-keys-private.h"

#define CSV_SHA256 "34c9d1d9c3a88d524bc80778540dc43f8306ec249a7485293063c376db851c2d"
#define N_VECTORS  19

enum
{
  COL_INDEX,
  COL_SECRET,
  COL_PUBLIC,
  COL_AUX,
  COL_MESSAGE,
  COL_SIGNATURE,
  COL_RESULT,
  COL_COMMENT,
  N_COLS
};

static char *
csv_path (void)
{
  const char *srcdir = g_getenv ("PT_SOURCE_DIR");

  return g_build_filename (srcdir != NULL ? srcdir : ".", "tests", "interop",
                           "bip340-test-vectors.csv", NULL);
}

/* Uppercase or lowercase hex to bytes; NULL on anything else. */
static GBytes *
unhex (const char *text)
{
  gsize len = strlen (text);
  g_autofree guint8 *bytes = NULL;

  if (len % 2 != 0)
    return NULL;
  bytes = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return NULL;
      bytes[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new (bytes, len / 2);
}

static GBytes *
unhex_checked (const char *text,
               gsize       expected_len)
{
  GBytes *bytes = unhex (text);

  g_assert_nonnull (bytes);
  if (expected_len > 0)
    g_assert_cmpuint (g_bytes_get_size (bytes), ==, expected_len);
  return bytes;
}

/* The vectors, one GStrv of N_COLS per line after the header. */
static GPtrArray *
load_vectors (void)
{
  g_autofree char *path = csv_path ();
  g_autofree char *contents = NULL;
  g_autofree char *sha256 = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *vectors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, len);
  g_assert_cmpstr (sha256, ==, CSV_SHA256);

  lines = g_strsplit (contents, "\n", -1);
  g_assert_true (g_str_has_prefix (lines[0], "index,secret key,public key,aux_rand,message,"));
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char **fields;

      g_strchomp (lines[i]);
      if (lines[i][0] == '\0')
        continue;
      /* The comment is last, so it may hold commas. */
      fields = g_strsplit (lines[i], ",", N_COLS);
      g_assert_cmpuint (g_strv_length (fields), ==, N_COLS);
      g_assert_cmpuint (g_ascii_strtoull (fields[COL_INDEX], NULL, 10), ==, vectors->len);
      g_ptr_array_add (vectors, fields);
    }
  g_assert_cmpuint (vectors->len, ==, N_VECTORS);
  return vectors;
}

/* ---------------------------------------------------------------------- */

/* Vectors with a secret key: the engine derives the vector's public key. */
static void
test_public_keys (void)
{
  g_autoptr(GPtrArray) vectors = load_vectors ();
  guint n_checked = 0;

  for (guint i = 0; i < vectors->len; i++)
    {
      char **v = g_ptr_array_index (vectors, i);
      g_autoptr(GBytes) secret = NULL;
      g_autoptr(GBytes) public = NULL;
      g_autoptr(PtSecretKey) key = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *hex = NULL;
      g_autofree char *expected = NULL;

      if (v[COL_SECRET][0] == '\0')
        continue;
      g_test_message ("vector %s", v[COL_INDEX]);
      secret = unhex_checked (v[COL_SECRET], PT_KEY_LEN);
      key = pt_secret_key_new_from_bytes (g_bytes_get_data (secret, NULL), &error);
      g_assert_no_error (error);
      hex = pt_public_key_to_hex (pt_secret_key_get_public (key));
      expected = g_ascii_strdown (v[COL_PUBLIC], -1);
      g_assert_cmpstr (hex, ==, expected);

      /* And as the lowercase hex that Nostr writes, it parses to the same key. */
      {
        g_autofree char *lower = g_ascii_strdown (v[COL_SECRET], -1);
        g_autoptr(PtSecretKey) parsed = pt_secret_key_parse (lower, &error);

        g_assert_no_error (error);
        g_assert_true (pt_public_key_equal (pt_secret_key_get_public (parsed),
                                            pt_secret_key_get_public (key)));
      }
      n_checked++;
    }
  g_assert_cmpuint (n_checked, ==, 8);
}

/* Vectors with a secret key: signing with their aux_rand gives their signature. */
static void
test_sign (void)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  g_autoptr(GPtrArray) vectors = load_vectors ();
  guint n_checked = 0;

  for (guint i = 0; i < vectors->len; i++)
    {
      char **v = g_ptr_array_index (vectors, i);
      g_autoptr(GBytes) secret = NULL;
      g_autoptr(GBytes) aux = NULL;
      g_autoptr(GBytes) message = NULL;
      g_autoptr(GBytes) signature = NULL;
      g_autoptr(PtSecretKey) key = NULL;
      secp256k1_schnorrsig_extraparams extra = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
      secp256k1_keypair keypair;
      guint8 sig[64];
      gsize msg_len;
      const guint8 *msg;

      if (v[COL_SECRET][0] == '\0')
        continue;
      g_test_message ("vector %s", v[COL_INDEX]);
      secret = unhex_checked (v[COL_SECRET], PT_KEY_LEN);
      aux = unhex_checked (v[COL_AUX], 32);
      message = unhex_checked (v[COL_MESSAGE], 0);
      signature = unhex_checked (v[COL_SIGNATURE], 64);
      key = pt_secret_key_new_from_bytes (g_bytes_get_data (secret, NULL), NULL);
      g_assert_nonnull (key);
      g_assert_true (secp256k1_keypair_create (ctx, &keypair, pt_secret_key_get_bytes (key)));
      msg = g_bytes_get_data (message, &msg_len);

      extra.ndata = (void *) g_bytes_get_data (aux, NULL);
      g_assert_true (secp256k1_schnorrsig_sign_custom (ctx, sig, msg_len > 0 ? msg : NULL,
                                                       msg_len, &keypair, &extra));
      g_assert_cmpmem (sig, sizeof sig, g_bytes_get_data (signature, NULL), 64);

      /* What _pt_nostr_event_sign calls, for the 32-byte messages (event ids). */
      if (msg_len == 32)
        {
          memset (sig, 0, sizeof sig);
          g_assert_true (secp256k1_schnorrsig_sign32 (ctx, sig, msg, &keypair,
                                                      g_bytes_get_data (aux, NULL)));
          g_assert_cmpmem (sig, sizeof sig, g_bytes_get_data (signature, NULL), 64);
        }
      explicit_bzero (&keypair, sizeof keypair);
      n_checked++;
    }
  g_assert_cmpuint (n_checked, ==, 8);
}

/* Every vector: verification gives the vector's result; the two whose public
 * keys are not valid (not on the curve, not below the field size) are
 * refused by pt_public_key_parse already. */
static void
test_verify (void)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  g_autoptr(GPtrArray) vectors = load_vectors ();
  guint n_true = 0, n_false = 0, n_bad_keys = 0;

  for (guint i = 0; i < vectors->len; i++)
    {
      char **v = g_ptr_array_index (vectors, i);
      g_autoptr(GBytes) message = unhex_checked (v[COL_MESSAGE], 0);
      g_autoptr(GBytes) signature = unhex_checked (v[COL_SIGNATURE], 64);
      g_autofree char *lower = g_ascii_strdown (v[COL_PUBLIC], -1);
      g_autoptr(GError) error = NULL;
      gboolean expected;
      PtPublicKey key;
      secp256k1_xonly_pubkey xonly;
      gsize msg_len;
      const guint8 *msg = g_bytes_get_data (message, &msg_len);

      g_test_message ("vector %s: %s", v[COL_INDEX], v[COL_COMMENT]);
      g_assert_true (g_str_equal (v[COL_RESULT], "TRUE") || g_str_equal (v[COL_RESULT], "FALSE"));
      expected = g_str_equal (v[COL_RESULT], "TRUE");
      n_true += expected;
      n_false += !expected;

      if (!pt_public_key_parse (lower, &key, &error))
        {
          g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
          g_assert_false (expected);
          g_assert_true (g_str_has_prefix (v[COL_COMMENT], "public key"));
          n_bad_keys++;
          continue;
        }
      g_assert_false (g_str_has_prefix (v[COL_COMMENT], "public key"));
      g_assert_true (secp256k1_xonly_pubkey_parse (ctx, &xonly, key.bytes));
      g_assert_cmpint (secp256k1_schnorrsig_verify (ctx, g_bytes_get_data (signature, NULL),
                                                    msg_len > 0 ? msg : NULL, msg_len, &xonly),
                       ==, expected);
    }
  g_assert_cmpuint (n_true, ==, 9);
  g_assert_cmpuint (n_false, ==, 10);
  g_assert_cmpuint (n_bad_keys, ==, 2);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/bip340/vectors/public-keys", test_public_keys);
  g_test_add_func ("/bip340/vectors/sign", test_sign);
  g_test_add_func ("/bip340/vectors/verify", test_verify);

  return g_test_run ();
}
