/* test-token.c — access tokens: format, Luhn mod 65, token files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "pt.h"

/* The format's published example (tunnel-rs; issue 3). */
#define VECTOR "iABCDEF1234567890k"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

static void
test_vector_is_valid (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_token_validate (VECTOR, &error));
  g_assert_no_error (error);
}

/* Every other check character makes the vector invalid: the check is unique. */
static void
test_vector_other_check_characters (void)
{
  for (guint i = 0; i < strlen (alphabet); i++)
    {
      g_autoptr(GError) error = NULL;
      char token[] = VECTOR;

      if (alphabet[i] == 'k')
        continue;
      token[17] = alphabet[i];
      g_assert_false (pt_token_validate (token, &error));
      g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHECKSUM);
      g_assert_nonnull (strstr (error->message, "mistyped?"));
    }
}

static int
code_point (char c)
{
  return (int) (strchr (alphabet, c) - alphabet);
}

/* Luhn mod 65 catches every substitution in the positions it does not double
 * (the 1st, 3rd… body character from the left); in the doubled ones, as N is
 * odd, the values v and v + 32 add the same to the sum (2v vs 2(v + 32) - 64),
 * so exactly those substitutions slip through: a property of the format. */
static void
test_single_substitutions (void)
{
  for (guint pos = 1; pos < 17; pos++)
    for (guint i = 0; i < strlen (alphabet); i++)
      {
        g_autoptr(GError) error = NULL;
        char token[] = VECTOR;
        gboolean doubled = (17 - pos) % 2 == 1;   /* the rightmost body character is doubled */
        int before = code_point (token[pos]);
        int after = (int) i;

        if (token[pos] == alphabet[i])
          continue;
        token[pos] = alphabet[i];
        if (doubled && ABS (before - after) == 32 && MIN (before, after) >= 1)
          g_assert_true (pt_token_validate (token, NULL));
        else
          {
            g_assert_false (pt_token_validate (token, &error));
            g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHECKSUM);
          }
      }
}

static void
test_generate (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretString) token = pt_token_generate (&error);

      g_assert_no_error (error);
      g_assert_cmpuint (strlen (token), ==, PT_TOKEN_LEN);
      g_assert_cmpint (token[0], ==, 'i');
      g_assert_true (pt_token_validate (token, &error));
      g_assert_no_error (error);
      g_assert_true (g_hash_table_add (seen, g_strdup (token)));
    }
}

/* Over many tokens, every alphabet character turns up in the body. */
static void
test_generate_uses_whole_alphabet (void)
{
  gboolean used[128] = { FALSE };

  for (guint i = 0; i < 500; i++)
    {
      g_autoptr(PtSecretString) token = pt_token_generate (NULL);

      for (guint j = 1; j < 17; j++)
        used[(guchar) token[j]] = TRUE;
    }
  for (guint i = 0; i < strlen (alphabet); i++)
    g_assert_true (used[(guchar) alphabet[i]]);
}

static void
test_wrong_length (void)
{
  const char *cases[] = { "", "i", "iABCDEF1234567890", "iABCDEF1234567890kk" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (pt_token_validate (cases[i], &error));
      g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_LENGTH);
    }
}

static void
test_wrong_prefix (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_token_validate ("xABCDEF1234567890k", &error));
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_PREFIX);
}

static void
test_bad_character_position (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_token_validate ("iABCD!F1234567890k", &error));
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHARACTER);
  g_assert_nonnull (strstr (error->message, "position 6"));
  g_clear_error (&error);

  /* Non-ASCII: UTF-8 bytes are counted, the token never echoed. */
  g_assert_false (pt_token_validate ("iABCDEF123456789\xc3\xa9", &error));
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHARACTER);
  g_assert_nonnull (strstr (error->message, "position 17"));
  g_assert_null (strstr (error->message, "iABCDEF"));
}

static void
test_equal (void)
{
  g_assert_true (pt_token_equal (VECTOR, VECTOR));
  g_assert_false (pt_token_equal (VECTOR, "iABCDEF1234567890j"));
  g_assert_false (pt_token_equal (VECTOR, "iABCDEF1234567890"));
  g_assert_false (pt_token_equal ("", VECTOR));
  g_assert_true (pt_token_equal ("", ""));
}

static void
test_list_contains (void)
{
  g_autoptr(GPtrArray) tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_secret_string_free);
  g_autoptr(PtSecretString) other = pt_token_generate (NULL);

  g_ptr_array_add (tokens, pt_token_generate (NULL));
  g_ptr_array_add (tokens, g_strdup (VECTOR));
  g_ptr_array_add (tokens, pt_token_generate (NULL));
  g_assert_true (pt_token_list_contains (tokens, VECTOR));
  g_assert_false (pt_token_list_contains (tokens, other));
  g_assert_false (pt_token_list_contains (tokens, ""));
  g_ptr_array_set_size (tokens, 0);
  g_assert_false (pt_token_list_contains (tokens, VECTOR));
}

static void
test_list_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = pt_token_list_parse ("# tokens for the office\n"
                                                     "\n"
                                                     "  " VECTOR "  \r\n"
                                                     "\t# laptop\n"
                                                     "iABCDEF1234567890k\n"
                                                     "   \n",
                                                     "test", &error);

  g_assert_no_error (error);
  g_assert_cmpuint (tokens->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (tokens, 0), ==, VECTOR);
}

static void
test_list_parse_error_line (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = pt_token_list_parse ("# first\n" VECTOR "\n\niABCDEF1234567890j\n",
                                                     "token file “t”", &error);

  g_assert_null (tokens);
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_CHECKSUM);
  g_assert_nonnull (strstr (error->message, "token file “t”, line 4:"));
  g_assert_null (strstr (error->message, "iABCDEF1234567890j"));
}

static void
test_list_parse_empty (void)
{
  const char *cases[] = { "", "\n\n", "# only comments\n  # more\n" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) tokens = pt_token_list_parse (cases[i], "test", &error);

      g_assert_null (tokens);
      g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_EMPTY);
    }
}

static void
test_file_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pt-test-token-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "tokens", NULL);
  g_autoptr(GPtrArray) tokens = NULL;

  g_assert_true (g_file_set_contents (path, "# one\n" VECTOR "\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  tokens = pt_token_file_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tokens->len, ==, 1);
  g_clear_pointer (&tokens, g_ptr_array_unref);

  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  tokens = pt_token_file_load (path, &error);
  g_assert_null (tokens);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_PERMISSIONS);
  g_assert_nonnull (strstr (error->message, "chmod 600"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "x\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  tokens = pt_token_file_load (path, &error);
  g_assert_null (tokens);
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_LENGTH);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "line 1"));

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/token/vector/valid", test_vector_is_valid);
  g_test_add_func ("/token/vector/other-check-characters", test_vector_other_check_characters);
  g_test_add_func ("/token/luhn/single-substitutions", test_single_substitutions);
  g_test_add_func ("/token/generate", test_generate);
  g_test_add_func ("/token/generate/whole-alphabet", test_generate_uses_whole_alphabet);
  g_test_add_func ("/token/validate/length", test_wrong_length);
  g_test_add_func ("/token/validate/prefix", test_wrong_prefix);
  g_test_add_func ("/token/validate/bad-character", test_bad_character_position);
  g_test_add_func ("/token/equal", test_equal);
  g_test_add_func ("/token/list-contains", test_list_contains);
  g_test_add_func ("/token/list/parse", test_list_parse);
  g_test_add_func ("/token/list/error-line", test_list_parse_error_line);
  g_test_add_func ("/token/list/empty", test_list_parse_empty);
  g_test_add_func ("/token/file/load", test_file_load);

  return g_test_run ();
}
