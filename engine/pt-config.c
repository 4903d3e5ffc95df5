/* pt-config.c — option files (GKeyFile) mapped onto GOptionEntry tables
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A `--config FILE` holds the same options as the command line, one group per
 * subcommand:
 *
 *   [client manual]
 *   source = tcp://127.0.0.1:22
 *   stun-server = stun.example.org:3478;stun2.example.org:3478
 *
 * Keys are the options' long names. Values are validated as a whole before
 * anything is stored, so a failed apply leaves the options untouched.
 *
 * Memory: every string and string array stored into an entry's arg_data is
 * appended to @owned, which the caller creates with
 * g_ptr_array_new_with_free_func (g_free). A string array is appended as its
 * strings followed by the array itself, so freeing each element with g_free
 * releases it completely. GOptionContext never frees what it finds in
 * arg_data, so a value the command line later replaces is still released
 * with @owned.
 *
 * Errors never echo the value of an option whose name suggests a secret.
 */
#define G_LOG_DOMAIN "pt-config"

#include "config.h"

#include <string.h>

#include "pt.h"

typedef struct
{
  const GOptionEntry *entry;
  union {
    gboolean  v_bool;
    int       v_int;
    char     *v_string;
    char    **v_strv;
  };
} PendingValue;

static gboolean
key_is_secret (const char *key)
{
  static const char * const words[] = { "token", "pass", "nsec", "secret" };
  g_autofree char *lower = g_ascii_strdown (key, -1);

  for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
    if (strstr (lower, words[i]) != NULL)
      return TRUE;

  return FALSE;
}

static const GOptionEntry *
find_entry (const GOptionEntry *entries,
            const char         *key)
{
  for (const GOptionEntry *e = entries; e->long_name != NULL; e++)
    if (e->long_name[0] != '\0' && g_str_equal (e->long_name, key))
      return e;

  return NULL;
}

static void
pending_value_clear (PendingValue *pending)
{
  switch (pending->entry->arg)
    {
    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:
      g_clear_pointer (&pending->v_string, g_free);
      break;

    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:
      g_clear_pointer (&pending->v_strv, g_strfreev);
      break;

    case G_OPTION_ARG_NONE:
    case G_OPTION_ARG_INT:
    case G_OPTION_ARG_CALLBACK:
    case G_OPTION_ARG_DOUBLE:
    case G_OPTION_ARG_INT64:
      break;
    }
}

/* "FILE [group]: option “key” …, not “value”", leaving the value out for secrets. */
static void
set_invalid (GError     **error,
             const char  *origin,
             const char  *group,
             const char  *key,
             const char  *value,
             const char  *expected)
{
  if (value == NULL || key_is_secret (key))
    g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                 "%s [%s]: option “%s” must be %s",
                 origin, group, key, expected);
  else
    g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                 "%s [%s]: option “%s” must be %s, not “%s”",
                 origin, group, key, expected, value);
}

/* GLib 2.74's g_key_file_get_string() sets its GError twice for a value with
 * both a bad escape and a trailing backslash (a warning, fatal in tests), so
 * escapes are checked here first. */
static gboolean
escapes_are_valid (const char *raw,
                   gboolean    list)
{
  for (const char *p = raw; p != NULL && *p != '\0'; p++)
    {
      if (*p != '\\')
        continue;
      p++;
      if (*p == '\0')
        return FALSE;
      if (strchr ("sntr\\", *p) == NULL && !(list && *p == ';'))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_value (GKeyFile      *key_file,
            const char    *origin,
            const char    *group,
            const char    *key,
            PendingValue  *pending,
            GError       **error)
{
  const GOptionEntry *entry = pending->entry;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *raw = NULL;

  raw = g_key_file_get_value (key_file, group, key, NULL);

  switch (entry->arg)
    {
    case G_OPTION_ARG_NONE:
      pending->v_bool = g_key_file_get_boolean (key_file, group, key, &local_error);
      if (local_error != NULL)
        {
          set_invalid (error, origin, group, key, raw, "true or false");
          return FALSE;
        }
      if (entry->flags & G_OPTION_FLAG_REVERSE)
        pending->v_bool = !pending->v_bool;
      return TRUE;

    case G_OPTION_ARG_INT:
      {
        gint64 number = 0;

        if (raw == NULL ||
            !g_ascii_string_to_signed (raw, 10, G_MININT, G_MAXINT, &number, NULL))
          {
            set_invalid (error, origin, group, key, raw, "a whole number");
            return FALSE;
          }
        pending->v_int = (int) number;
        return TRUE;
      }

    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:
      if (escapes_are_valid (raw, FALSE))
        pending->v_string = g_key_file_get_string (key_file, group, key, &local_error);
      else
        g_set_error_literal (&local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "");
      if (local_error != NULL)
        {
          /* GLib 2.74 may return a string along with the error. */
          g_clear_pointer (&pending->v_string, g_free);
          /* Not valid UTF-8 or a bad escape: the raw text is garbage anyway. */
          set_invalid (error, origin, group, key, NULL,
                       "valid UTF-8 text (escapes: \\s \\n \\t \\r \\\\)");
          return FALSE;
        }
      return TRUE;

    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:
      if (escapes_are_valid (raw, TRUE))
        pending->v_strv = g_key_file_get_string_list (key_file, group, key, NULL, &local_error);
      else
        g_set_error_literal (&local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "");
      if (local_error != NULL)
        {
          g_clear_pointer (&pending->v_strv, g_strfreev);
          set_invalid (error, origin, group, key, NULL,
                       "a list of valid UTF-8 values separated by “;”");
          return FALSE;
        }
      return TRUE;

    case G_OPTION_ARG_CALLBACK:
    case G_OPTION_ARG_DOUBLE:
    case G_OPTION_ARG_INT64:
      break;
    }

  g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
               "%s [%s]: option “%s” cannot be set from a file; "
               "give it on the command line",
               origin, group, key);
  return FALSE;
}

static void
store_value (PendingValue *pending,
             GPtrArray    *owned)
{
  const GOptionEntry *entry = pending->entry;

  switch (entry->arg)
    {
    case G_OPTION_ARG_NONE:
      *(gboolean *) entry->arg_data = pending->v_bool;
      break;

    case G_OPTION_ARG_INT:
      *(int *) entry->arg_data = pending->v_int;
      break;

    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:
      g_ptr_array_add (owned, pending->v_string);
      *(char **) entry->arg_data = g_steal_pointer (&pending->v_string);
      break;

    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:
      for (char **s = pending->v_strv; *s != NULL; s++)
        g_ptr_array_add (owned, *s);
      g_ptr_array_add (owned, pending->v_strv);
      *(char ***) entry->arg_data = g_steal_pointer (&pending->v_strv);
      break;

    case G_OPTION_ARG_CALLBACK:
    case G_OPTION_ARG_DOUBLE:
    case G_OPTION_ARG_INT64:
      g_assert_not_reached ();
    }
}

gboolean
pt_config_apply (GKeyFile            *key_file,
                 const char          *origin,
                 const char          *group,
                 const GOptionEntry  *entries,
                 GPtrArray           *owned,
                 GError             **error)
{
  g_auto(GStrv) keys = NULL;
  g_autoptr(GArray) pending = NULL;
  gsize n_keys = 0;

  g_return_val_if_fail (key_file != NULL, FALSE);
  g_return_val_if_fail (origin != NULL, FALSE);
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (entries != NULL, FALSE);
  g_return_val_if_fail (owned != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_key_file_has_group (key_file, group))
    {
      g_debug ("%s has no [%s] group", origin, group);
      return TRUE;
    }

  keys = g_key_file_get_keys (key_file, group, &n_keys, NULL);
  if (keys == NULL)
    return TRUE;

  pending = g_array_sized_new (FALSE, TRUE, sizeof (PendingValue), n_keys);
  g_array_set_clear_func (pending, (GDestroyNotify) pending_value_clear);

  /* Read and check everything first… */
  for (gsize i = 0; i < n_keys; i++)
    {
      PendingValue value = { 0 };

      value.entry = find_entry (entries, keys[i]);

      if (value.entry == NULL)
        {
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_UNKNOWN_KEY,
                       "%s [%s]: unknown option “%s” (see “pt %s --help”)",
                       origin, group, keys[i], group);
          return FALSE;
        }

      if (value.entry->arg_data == NULL)
        {
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                       "%s [%s]: option “%s” cannot be set from a file; "
                       "give it on the command line",
                       origin, group, keys[i]);
          return FALSE;
        }

      if (!read_value (key_file, origin, group, keys[i], &value, error))
        return FALSE;

      g_array_append_val (pending, value);
    }

  /* …then store it, so that a bad file changes nothing. */
  for (guint i = 0; i < pending->len; i++)
    {
      store_value (&g_array_index (pending, PendingValue, i), owned);
      g_debug ("%s [%s]: set %s", origin, group, keys[i]);
    }

  return TRUE;
}

/* GLib's parse errors do not say where: find the first line at which a
 * prefix of the file stops parsing (parsing is line by line, so failure is
 * monotonic in the prefix length). Returns 0 if it cannot tell. */
static gsize
find_bad_line (const char  *contents,
               gsize        length,
               char       **line_text)
{
  g_autoptr(GPtrArray) line_ends = g_ptr_array_new ();
  gsize lo, hi;

  for (gsize i = 0; i < length; i++)
    if (contents[i] == '\n')
      g_ptr_array_add (line_ends, (gpointer) (contents + i + 1));
  if (length == 0 || contents[length - 1] != '\n')
    g_ptr_array_add (line_ends, (gpointer) (contents + length));

  /* Smallest n such that the first n lines fail to load. */
  lo = 1;
  hi = line_ends->len;
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      const char *end = line_ends->pdata[mid - 1];
      g_autoptr(GKeyFile) probe = g_key_file_new ();

      if (g_key_file_load_from_data (probe, contents, end - contents, G_KEY_FILE_NONE, NULL))
        lo = mid + 1;
      else
        hi = mid;
    }

  if (lo == 0 || lo > line_ends->len)
    return 0;

  {
    const char *start = lo == 1 ? contents : line_ends->pdata[lo - 2];
    const char *end = line_ends->pdata[lo - 1];

    while (end > start && (end[-1] == '\n' || end[-1] == '\r'))
      end--;
    *line_text = g_strndup (start, end - start);
  }

  return lo;
}

GKeyFile *
pt_config_load (const char  *path,
                GError     **error)
{
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                   "%s: %s", path, local_error->message);
      return NULL;
    }

  key_file = g_key_file_new ();

  if (!g_key_file_load_from_data (key_file, contents, length, G_KEY_FILE_NONE, &local_error))
    {
      g_autofree char *line_text = NULL;
      gsize line = find_bad_line (contents, length, &line_text);

      if (line == 0)
        g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                     "%s: %s", path, local_error->message);
      else if (key_is_secret (line_text) ||
               (strchr (line_text, '=') == NULL && line_text[0] != '['))
        /* GLib quotes the whole line, which may be a pasted secret. */
        g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                     "%s:%" G_GSIZE_FORMAT ": this line is not “key = value”, "
                     "a [group] or a # comment",
                     path, line);
      else
        g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                     "%s:%" G_GSIZE_FORMAT ": %s", path, line, local_error->message);
      return NULL;
    }

  g_debug ("loaded options from %s", path);

  return g_steal_pointer (&key_file);
}
