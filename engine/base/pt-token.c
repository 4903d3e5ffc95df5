/* pt-token.c — access tokens: "i" + 16 characters + a Luhn mod 65 check character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The check character is the Luhn mod N algorithm (N = 65) over the 16 body
 * characters (not the "i"), with code points given by this alphabet order:
 *
 *   A–Z = 0–25, a–z = 26–51, 0–9 = 52–61, "-" = 62, "_" = 63, "." = 64
 *
 * Going from the rightmost body character leftwards, every other code point
 * is doubled starting with the rightmost; each product p adds p / 65 + p % 65
 * to the sum; the check character's code point is (65 - sum % 65) % 65. This
 * order is the one that makes the format's published example,
 * iABCDEF1234567890k, valid (tests/test-token.c checks it); the example has no
 * "-", "_" or ".", so their order is taken as the format lists them.
 */
#define G_LOG_DOMAIN "pt-token"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "pt-keys-private.h"

#define N_CHARS 65

static const char token_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

G_STATIC_ASSERT (sizeof token_alphabet - 1 == N_CHARS);

/* Code point of @c, or -1. */
static int
code_point (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return 26 + (c - 'a');
  if (c >= '0' && c <= '9')
    return 52 + (c - '0');
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  if (c == '.')
    return 64;
  return -1;
}

/* The check character's code point for @body (all characters valid). */
static int
check_code_point (const char *body,
                  gsize       len)
{
  guint factor = 2;
  guint sum = 0;

  for (gsize i = len; i > 0; i--)
    {
      guint addend = factor * (guint) code_point (body[i - 1]);

      sum += addend / N_CHARS + addend % N_CHARS;
      factor = factor == 2 ? 1 : 2;
    }
  return (N_CHARS - sum % N_CHARS) % N_CHARS;
}

PtSecretString *
_pt_token_new_from_bytes (const guint8 *bytes,
                          gsize         len)
{
  char *token = g_malloc (PT_TOKEN_LEN + 1);
  gsize n = 0;

  token[0] = PT_TOKEN_PREFIX;
  /* Rejection sampling, as in pt_token_generate(). */
  for (gsize i = 0; i < len && n < PT_TOKEN_BODY_LEN; i++)
    if (bytes[i] < 3 * N_CHARS)
      token[1 + n++] = token_alphabet[bytes[i] % N_CHARS];
  if (n < PT_TOKEN_BODY_LEN)
    {
      explicit_bzero (token, PT_TOKEN_LEN + 1);
      g_free (token);
      return NULL;
    }
  token[1 + PT_TOKEN_BODY_LEN] = token_alphabet[check_code_point (token + 1, PT_TOKEN_BODY_LEN)];
  token[PT_TOKEN_LEN] = '\0';
  return token;
}

PtSecretString *
pt_token_generate (GError **error)
{
  char *token = g_malloc (PT_TOKEN_LEN + 1);
  guint8 random[64];
  gsize n = 0;

  token[0] = PT_TOKEN_PREFIX;
  while (n < PT_TOKEN_BODY_LEN)
    {
      int ret = gnutls_rnd (GNUTLS_RND_KEY, random, sizeof random);

      if (ret < 0)
        {
          explicit_bzero (random, sizeof random);
          explicit_bzero (token, PT_TOKEN_LEN + 1);
          g_free (token);
          g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_RANDOM,
                       "the system random generator failed: %s", gnutls_strerror (ret));
          return NULL;
        }
      /* Rejection sampling keeps every character equally likely. */
      for (gsize i = 0; i < sizeof random && n < PT_TOKEN_BODY_LEN; i++)
        if (random[i] < 3 * N_CHARS)
          token[1 + n++] = token_alphabet[random[i] % N_CHARS];
    }
  explicit_bzero (random, sizeof random);

  token[1 + PT_TOKEN_BODY_LEN] = token_alphabet[check_code_point (token + 1, PT_TOKEN_BODY_LEN)];
  token[PT_TOKEN_LEN] = '\0';
  return token;
}

gboolean
pt_token_validate (const char *token,
                   GError    **error)
{
  gsize len;

  g_return_val_if_fail (token != NULL, FALSE);

  len = strlen (token);
  if (len != PT_TOKEN_LEN)
    {
      g_set_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_LENGTH,
                   "a token has %d characters, this one has %" G_GSIZE_FORMAT
                   ": cut off or joined with something while copying?",
                   PT_TOKEN_LEN, len);
      return FALSE;
    }
  if (token[0] != PT_TOKEN_PREFIX)
    {
      g_set_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_PREFIX,
                   "a token starts with “%c”, this one does not", PT_TOKEN_PREFIX);
      return FALSE;
    }
  for (gsize i = 1; i < len; i++)
    if (code_point (token[i]) < 0)
      {
        g_set_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHARACTER,
                     "bad character at position %" G_GSIZE_FORMAT
                     ": a token holds only A–Z, a–z, 0–9, “-”, “_” and “.”",
                     i + 1);
        return FALSE;
      }
  if (code_point (token[len - 1]) != check_code_point (token + 1, PT_TOKEN_BODY_LEN))
    {
      g_set_error_literal (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHECKSUM,
                           "the token's check character is wrong: mistyped?");
      return FALSE;
    }
  return TRUE;
}

gboolean
pt_token_equal (const char *a,
                const char *b)
{
  gsize len_a, len_b;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  len_a = strlen (a);
  len_b = strlen (b);
  /* The length of a token is public (the format fixes it). */
  if (len_a != len_b)
    return FALSE;
  return _pt_memequal_ct (a, b, len_a);
}

gboolean
pt_token_list_contains (GPtrArray  *tokens,
                        const char *token)
{
  gboolean found = FALSE;

  g_return_val_if_fail (tokens != NULL, FALSE);
  g_return_val_if_fail (token != NULL, FALSE);

  for (guint i = 0; i < tokens->len; i++)
    found |= pt_token_equal (g_ptr_array_index (tokens, i), token);
  return found;
}

GPtrArray *
pt_token_list_parse (const char *text,
                     const char *origin,
                     GError    **error)
{
  g_autoptr(GPtrArray) tokens = NULL;
  const char *line = text;
  guint line_no = 0;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (origin != NULL, NULL);

  tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_secret_string_free);
  while (*line != '\0')
    {
      const char *end = strchr (line, '\n');
      gsize len = end ? (gsize) (end - line) : strlen (line);
      g_autoptr(PtSecretString) token = g_strndup (line, len);
      g_autoptr(GError) local_error = NULL;

      line_no++;
      line = end ? end + 1 : line + len;

      g_strstrip (token);
      if (token[0] == '\0' || token[0] == '#')
        continue;
      if (!pt_token_validate (token, &local_error))
        {
          g_set_error (error, PT_TOKEN_ERROR, local_error->code, "%s, line %u: %s",
                       origin, line_no, local_error->message);
          return NULL;
        }
      g_ptr_array_add (tokens, g_steal_pointer (&token));
    }

  if (tokens->len == 0)
    {
      g_set_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_EMPTY,
                   "%s holds no token (one per line; “#” starts a comment)", origin);
      return NULL;
    }
  return g_steal_pointer (&tokens);
}

GPtrArray *
pt_token_file_load (const char *path,
                    GError    **error)
{
  g_autoptr(PtSecretString) contents = NULL;
  g_autofree char *origin = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  contents = _pt_secret_file_read (path, "token file", PT_TOKEN_FILE_MAX_SIZE, error);
  if (contents == NULL)
    return NULL;
  origin = g_strdup_printf ("token file “%s”", path);
  return pt_token_list_parse (contents, origin, error);
}
