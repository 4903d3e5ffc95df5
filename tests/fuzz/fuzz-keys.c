/* fuzz-keys.c — libFuzzer target for key text (nsec/npub/hex, bech32)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input as text to pt_secret_key_parse(), pt_public_key_parse()
 * and the bech32 decoder. Whatever decodes must encode back to a form that
 * decodes to the same key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-keys-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

static void
fuzz_secret (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (text, &error);
  g_autoptr(PtSecretString) nsec = NULL;
  g_autoptr(PtSecretKey) again = NULL;

  CHECK ((key == NULL) == (error != NULL));
  if (key == NULL)
    return;
  nsec = pt_secret_key_to_nsec (key);
  again = pt_secret_key_parse (nsec, &error);
  CHECK (again != NULL);
  CHECK (memcmp (pt_secret_key_get_bytes (key), pt_secret_key_get_bytes (again), PT_KEY_LEN) == 0);
}

static void
fuzz_public (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *npub = NULL;
  g_autofree char *hex = NULL;
  PtPublicKey key, again;

  if (!pt_public_key_parse (text, &key, &error))
    {
      CHECK (error != NULL);
      return;
    }
  CHECK (error == NULL);
  npub = pt_public_key_to_npub (&key);
  CHECK (pt_public_key_parse (npub, &again, NULL));
  CHECK (pt_public_key_equal (&key, &again));
  hex = pt_public_key_to_hex (&key);
  CHECK (pt_public_key_parse (hex, &again, NULL));
  CHECK (pt_public_key_equal (&key, &again));
}

static void
fuzz_bech32 (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hrp = NULL;
  g_autoptr(GByteArray) bytes = NULL;
  g_autofree char *encoded = NULL;

  if (!_pt_bech32_decode (text, &hrp, &bytes, &error))
    {
      CHECK (error != NULL);
      return;
    }
  /* Canonical form is lower case. */
  encoded = _pt_bech32_encode (hrp, bytes->data, bytes->len);
  CHECK (g_ascii_strcasecmp (encoded, text) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_malloc (size + 1);

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  fuzz_secret (text);
  fuzz_public (text);
  fuzz_bech32 (text);
  return 0;
}
