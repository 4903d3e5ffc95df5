/* fuzz-token.c — libFuzzer target for tokens and token files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input to pt_token_validate() and pt_token_list_parse(); every
 * token a list yields must validate on its own and be found in the list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_malloc (size + 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = NULL;

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  if (!pt_token_validate (text, &error))
    CHECK (error != NULL);
  g_clear_error (&error);

  tokens = pt_token_list_parse (text, "fuzz", &error);
  CHECK ((tokens == NULL) == (error != NULL));
  if (tokens == NULL)
    return 0;
  CHECK (tokens->len > 0);
  for (guint i = 0; i < tokens->len; i++)
    {
      const char *token = g_ptr_array_index (tokens, i);

      CHECK (pt_token_validate (token, NULL));
      CHECK (pt_token_list_contains (tokens, token));
    }
  return 0;
}
