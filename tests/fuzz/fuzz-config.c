/* fuzz-config.c — option files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: the text of a key file. It is loaded with g_key_file_load_from_data and
 * its [client manual] group is applied to a table with every GOptionEntry
 * argument type. On Linux the same bytes also go through pt_config_load (from a
 * memfd), which locates the bad line of files that do not parse.
 */
#define _GNU_SOURCE 1   /* memfd_create */

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#include "config.h"

#include <string.h>
#ifdef __linux__
# include <sys/mman.h>
# include <unistd.h>
#endif

#include "pt.h"

static gboolean
option_callback (const char  *name,
                 const char  *value,
                 gpointer     user_data,
                 GError     **error)
{
  return TRUE;
}

static void
check_apply (GKeyFile *key_file)
{
  gboolean verbose = FALSE, stun = TRUE, quiet = FALSE;
  char *source = NULL, *nsec_file = NULL;
  int port = -1;
  char **relays = NULL, **files = NULL;
  double ratio = 0;
  gint64 big = 0;
  const GOptionEntry entries[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "", NULL },
    { "no-stun", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &stun, "", NULL },
    { "quiet", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &quiet, "", NULL },
    { "source", 0, 0, G_OPTION_ARG_STRING, &source, "", NULL },
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &nsec_file, "", NULL },
    { "port", 0, 0, G_OPTION_ARG_INT, &port, "", NULL },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays, "", NULL },
    { "file", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, "", NULL },
    { "ratio", 0, 0, G_OPTION_ARG_DOUBLE, &ratio, "", NULL },
    { "big", 0, 0, G_OPTION_ARG_INT64, &big, "", NULL },
    { "hook", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, option_callback, "", NULL },
    { "", 0, 0, G_OPTION_ARG_STRING_ARRAY, &files, "", NULL },
    { NULL }
  };
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  if (pt_config_apply (key_file, "fuzz.conf", "client manual", entries, owned, &error))
    {
      g_assert (error == NULL);
      if (source != NULL)
        g_assert (g_utf8_validate (source, -1, NULL));
      if (relays != NULL)
        for (char **r = relays; *r != NULL; r++)
          g_assert (g_utf8_validate (*r, -1, NULL));
      if (files != NULL)
        (void) g_strv_length (files);
      g_assert (ratio == 0 && big == 0);
    }
  else
    {
      g_assert (error != NULL && error->domain == PT_CONFIG_ERROR);
      g_assert (error->code == PT_CONFIG_ERROR_UNKNOWN_KEY ||
                error->code == PT_CONFIG_ERROR_INVALID);
      g_assert (g_str_has_prefix (error->message, "fuzz.conf [client manual]: "));
      /* Nothing is applied from a file that fails. */
      g_assert (owned->len == 0);
      g_assert (source == NULL && relays == NULL && port == -1 && stun && !verbose);
    }
}

#ifdef __linux__
static void
check_load (const uint8_t *data,
            size_t         size)
{
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  int fd;

  fd = memfd_create ("fuzz-config", MFD_CLOEXEC);
  if (fd < 0)
    return;
  if (size > 0 && write (fd, data, size) != (ssize_t) size)
    {
      close (fd);
      return;
    }

  path = g_strdup_printf ("/proc/self/fd/%d", fd);
  key_file = pt_config_load (path, &error);
  g_assert ((key_file == NULL) == (error != NULL));
  if (error != NULL)
    {
      g_assert (error->domain == PT_CONFIG_ERROR && error->code == PT_CONFIG_ERROR_PARSE);
      g_assert (g_str_has_prefix (error->message, path));
    }
  close (fd);
}
#endif

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();

  if (g_key_file_load_from_data (key_file, (const char *) data, size, G_KEY_FILE_NONE, NULL))
    check_apply (key_file);

#ifdef __linux__
  /* Bounded: finding the bad line reloads prefixes of the file. */
  if (size <= 64 * 1024)
    check_load (data, size);
#endif

  return 0;
}
