/* fuzz-profile.c — libFuzzer target: the app's saved tunnels and secrets files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The desktop app reads two key files it wrote itself but that anything
 * running as the user can change: the saved tunnels (tunnels.ini, every
 * "[profile ID]" group) and, without a keyring, the passwords file (a
 * "[secrets]" group whose values are each one profile's secrets, a key file
 * in their turn); `pt up` reads the same tunnels file. The input goes
 * through the engine's decoders (engine/service/pt-profile.c): pt_profile_parse_key_file(),
 * pt_profile_list_from_key_file() and pt_profile_apply_secrets().
 * Oracles: an error never quotes the input (a line may be a password);
 * what loads saves and loads back the same; secrets survive a round trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pt.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

#define WHAT "the fuzzed file"

static void
check_error_quotes_nothing (const GError *error)
{
  static const char * const allowed[] = {
    WHAT " names a character encoding other than UTF-8",
    WHAT " is not valid UTF-8 text",
    WHAT " is damaged: one of its lines cannot be read. Remove the file to start again, or mend the line in a text editor",
  };

  CHECK (error != NULL && error->domain == PT_PROFILE_ERROR);
  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
    if (strcmp (error->message, allowed[i]) == 0)
      return;
  abort ();
}

static char *
profiles_to_data (GPtrArray *profiles)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();

  for (guint i = 0; i < profiles->len; i++)
    {
      PtProfile *profile = g_ptr_array_index (profiles, i);
      g_autofree char *group = g_strconcat ("profile ", pt_profile_get_id (profile), NULL);

      pt_profile_to_key_file (profile, key_file, group);
    }
  return g_key_file_to_data (key_file, NULL, NULL);
}

static void
fuzz_profiles (const char *text,
               gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_profile_parse_key_file (text, len, WHAT, &error);
  g_autoptr(GPtrArray) profiles = NULL;
  g_autoptr(GKeyFile) again_file = NULL;
  g_autoptr(GPtrArray) again = NULL;
  g_autofree char *saved = NULL;
  g_autofree char *saved_again = NULL;

  if (key_file == NULL)
    {
      check_error_quotes_nothing (error);
      return;
    }
  profiles = pt_profile_list_from_key_file (key_file, &error);
  if (profiles == NULL)
    {
      CHECK (error != NULL);
      return;
    }

  /* What loads is saved and loads back to the same file. Ids must survive
   * as group names: one that GKeyFile cannot write back is skipped. */
  for (guint i = 0; i < profiles->len; i++)
    {
      const char *id = pt_profile_get_id (g_ptr_array_index (profiles, i));

      if (strchr (id, ']') != NULL || strchr (id, '[') != NULL || strchr (id, '\n') != NULL)
        return;
    }
  saved = profiles_to_data (profiles);
  again_file = pt_profile_parse_key_file (saved, strlen (saved), WHAT, &error);
  CHECK (again_file != NULL);
  again = pt_profile_list_from_key_file (again_file, &error);
  CHECK (again != NULL);
  CHECK (again->len == profiles->len);
  saved_again = profiles_to_data (again);
  CHECK (strcmp (saved, saved_again) == 0);
}

static void
fuzz_secrets (const char *text,
              gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_profile_parse_key_file (text, len, WHAT, &error);
  g_auto(GStrv) keys = NULL;

  if (key_file == NULL)
    {
      check_error_quotes_nothing (error);
      return;
    }
  keys = g_key_file_get_keys (key_file, "secrets", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL && i < 16; i++)
    {
      g_autofree char *value = pt_profile_key_file_get_string (key_file, "secrets", keys[i]);
      g_autoptr(PtProfile) profile = pt_profile_new ();
      g_autoptr(PtProfile) copy = pt_profile_new ();
      g_autofree char *dup = NULL;
      g_autofree char *dup_again = NULL;

      if (value == NULL)
        continue;
      pt_profile_apply_secrets (profile, value);
      dup = pt_profile_dup_secrets (profile);
      if (dup == NULL)
        continue;
      pt_profile_apply_secrets (copy, dup);
      dup_again = pt_profile_dup_secrets (copy);
      CHECK (dup_again != NULL && strcmp (dup, dup_again) == 0);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_malloc (size + 1);

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  fuzz_profiles (text, size);
  fuzz_secrets (text, size);
  /* A profile's secrets as the keyring holds them. */
  {
    g_autoptr(PtProfile) profile = pt_profile_new ();

    pt_profile_apply_secrets (profile, text);
  }
  return 0;
}
