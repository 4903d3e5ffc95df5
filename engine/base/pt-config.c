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
 * Errors never quote the file's text: a value, or a line that lost its key
 * ("=turn://alice:secret@…"), may be a secret. They name the file, the line
 * (when known), the group and the option, and say what is wrong.
 */
#define G_LOG_DOMAIN "pt-config"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pt.h"

/* An option file is a few lines; this bounds the work on a wrong path. */
#define CONFIG_MAX_SIZE (1024 * 1024)
/* pt_config_load() notes each key's line as its comment, for errors. */
#define LINE_COMMENT_PREFIX "pt-config-line "

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

/* What an option's long name looks like: safe to quote back. */
static gboolean
looks_like_option_name (const char *key)
{
  gsize len = strlen (key);

  if (len == 0 || len > 64)
    return FALSE;
  for (const char *p = key; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

/* "FILE:LINE [group]" when pt_config_load() noted the key's line, else
 * "FILE [group]". */
static char *
describe_place (GKeyFile   *key_file,
                const char *origin,
                const char *group,
                const char *key)
{
  g_autofree char *comment = key != NULL ? g_key_file_get_comment (key_file, group, key, NULL)
                                         : NULL;
  const char *number = comment != NULL ? strstr (comment, LINE_COMMENT_PREFIX) : NULL;
  guint64 line = 0;

  if (number != NULL)
    {
      g_autofree char *digits = g_strdup (number + strlen (LINE_COMMENT_PREFIX));

      g_strstrip (digits);
      if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT32, &line, NULL))
        line = 0;
    }
  if (line > 0)
    return g_strdup_printf ("%s:%" G_GUINT64_FORMAT " [%s]", origin, line, group);
  return g_strdup_printf ("%s [%s]", origin, group);
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

/* "FILE:LINE [group]: option “key” must be …": never the value, which may be
 * a secret put under the wrong key. */
static void
set_invalid (GError     **error,
             GKeyFile    *key_file,
             const char  *origin,
             const char  *group,
             const char  *key,
             const char  *expected)
{
  g_autofree char *place = describe_place (key_file, origin, group, key);

  g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
               "%s: option “%s” must be %s (the value is not shown here)",
               place, key, expected);
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
          set_invalid (error, key_file, origin, group, key, "true or false");
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
            set_invalid (error, key_file, origin, group, key, "a whole number");
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
          set_invalid (error, key_file, origin, group, key,
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
          set_invalid (error, key_file, origin, group, key,
                       "a list of valid UTF-8 values separated by “;”");
          return FALSE;
        }
      return TRUE;

    case G_OPTION_ARG_CALLBACK:
    case G_OPTION_ARG_DOUBLE:
    case G_OPTION_ARG_INT64:
      break;
    }

  {
    g_autofree char *place = describe_place (key_file, origin, group, key);

    g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                 "%s: option “%s” cannot be set from a file; give it on the command line",
                 place, key);
  }
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
          g_autofree char *place = describe_place (key_file, origin, group, keys[i]);

          if (looks_like_option_name (keys[i]))
            g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_UNKNOWN_KEY,
                         "%s: unknown option “%s” (see “pt %s --help”)",
                         place, keys[i], group);
          else
            g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_UNKNOWN_KEY,
                         "%s: a key that is not an option name (option names are lower-case "
                         "letters, digits and “-”; see “pt %s --help”)",
                         place, group);
          return FALSE;
        }

      if (value.entry->arg_data == NULL)
        {
          g_autofree char *place = describe_place (key_file, origin, group, keys[i]);

          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                       "%s: option “%s” cannot be set from a file; "
                       "give it on the command line",
                       place, keys[i]);
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

/* GLib's parse errors do not say where, and quote the line: find the first
 * line at which a prefix of the file stops parsing (parsing is line by line,
 * so failure is monotonic in the prefix length), for our own message.
 * Returns 0 if it cannot tell. */
static gsize
find_bad_line (const char  *contents,
               gsize        length,
               char       **line_text,
               gboolean    *group_before)
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
    const char *q = contents;

    *group_before = FALSE;
    while (q < start)
      {
        const char *nl = memchr (q, '\n', start - q);
        const char *r = q;

        while (r < start && (*r == ' ' || *r == '\t'))
          r++;
        if (r < start && *r == '[')
          *group_before = TRUE;
        if (nl == NULL)
          break;
        q = nl + 1;
      }
    while (end > start && (end[-1] == '\n' || end[-1] == '\r'))
      end--;
    *line_text = g_strndup (start, end - start);
  }

  return lo;
}

/* What is wrong with a line GKeyFile refused, in words that quote nothing. */
static const char *
describe_bad_line (const char *line,
                   gboolean    group_before)
{
  const char *p = line;
  const char *eq;

  while (*p == ' ' || *p == '\t')
    p++;
  if (!g_utf8_validate (line, -1, NULL))
    return "this line is not UTF-8 text";
  if (*p == '[')
    return "a [group] line must end with “]” and hold no “[”, “]” or control characters";
  eq = strchr (p, '=');
  if (eq == NULL)
    return "this line is not “key = value”, a [group] or a # comment";
  if (eq == p)
    return "this line has no key before “=” (expected “key = value”)";
  if (!group_before)
    return "an option before the first [group] line (e.g. “[client manual]”)";
  return "the key before “=” is not a valid key name (letters, digits and “-”)";
}

/* Reads @path whole: a regular file (opening a FIFO does not wait for a
 * writer), at most CONFIG_MAX_SIZE bytes. */
static char *
read_config_file (const char  *path,
                  gsize       *length,
                  GError     **error)
{
  g_autoptr(GString) contents = NULL;
  struct stat st;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      int errsv = errno;

      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                   "%s: cannot open it: %s", path, g_strerror (errsv));
      return NULL;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                   "%s: not a regular file: give the path of the option file itself", path);
      return NULL;
    }
  if (st.st_size > CONFIG_MAX_SIZE)
    {
      close (fd);
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                   "%s: too large for an option file (%" G_GUINT64_FORMAT " bytes, at most %d): "
                   "is it the right file?", path, (guint64) st.st_size, CONFIG_MAX_SIZE);
      return NULL;
    }

  contents = g_string_sized_new (st.st_size + 1);
  for (;;)
    {
      char buf[4096];
      gssize n = read (fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          close (fd);
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                       "%s: cannot read it: %s", path, g_strerror (errsv));
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (contents, buf, n);
      if (contents->len > CONFIG_MAX_SIZE)
        {
          close (fd);
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                       "%s: too large for an option file (over %d bytes): is it the right file?",
                       path, CONFIG_MAX_SIZE);
          return NULL;
        }
    }
  close (fd);

  *length = contents->len;
  return g_string_free (g_steal_pointer (&contents), FALSE);
}

/* Notes each key's line number as its comment, for describe_place(). */
static void
note_key_lines (GKeyFile   *key_file,
                const char *contents,
                gsize       length)
{
  g_autofree char *group = NULL;
  const char *p = contents, *end = contents + length;
  guint64 number = 0;

  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *line_end = nl != NULL ? nl : end;
      g_autofree char *line = g_strndup (p, line_end - p);
      const char *eq;

      number++;
      p = nl != NULL ? nl + 1 : end;
      g_strstrip (line);
      if (line[0] == '\0' || line[0] == '#')
        continue;
      if (line[0] == '[')
        {
          char *close = strrchr (line, ']');

          g_free (group);
          group = close != NULL ? g_strndup (line + 1, close - line - 1) : NULL;
          continue;
        }
      eq = strchr (line, '=');
      if (group != NULL && eq != NULL && eq != line)
        {
          g_autofree char *key = g_strndup (line, eq - line);
          g_autofree char *comment = NULL;

          g_strchomp (key);
          if (!g_key_file_has_key (key_file, group, key, NULL))
            continue;
          comment = g_strdup_printf (LINE_COMMENT_PREFIX "%" G_GUINT64_FORMAT, number);
          g_key_file_set_comment (key_file, group, key, comment, NULL);
        }
    }
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

  contents = read_config_file (path, &length, error);
  if (contents == NULL)
    return NULL;

  key_file = g_key_file_new ();

  if (!g_key_file_load_from_data (key_file, contents, length, G_KEY_FILE_NONE, &local_error))
    {
      g_autofree char *line_text = NULL;
      gboolean group_before = FALSE;
      gsize line = find_bad_line (contents, length, &line_text, &group_before);

      if (line == 0)
        g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                     "%s: %s", path,
                     g_error_matches (local_error, G_KEY_FILE_ERROR,
                                      G_KEY_FILE_ERROR_UNKNOWN_ENCODING)
                     ? "not UTF-8 text"
                     : "not an option file (“key = value” lines under [group] lines)");
      else
        g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE,
                     "%s:%" G_GSIZE_FORMAT ": %s (the line is not shown here)",
                     path, line, describe_bad_line (line_text, group_before));
      if (line_text != NULL)
        explicit_bzero (line_text, strlen (line_text));
      explicit_bzero (contents, length);
      return NULL;
    }

  note_key_lines (key_file, contents, length);
  explicit_bzero (contents, length);
  g_debug ("loaded options from %s", path);

  return g_steal_pointer (&key_file);
}
