/* standalone.c — replays fuzz inputs through a libFuzzer target without libFuzzer
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Linked with a tests/fuzz/fuzz-NAME.c into a plain executable, so that every test
 * run (any compiler, with or without sanitizers) feeds the committed seed corpus to
 * LLVMFuzzerTestOneInput:
 *
 *   fuzz-corpus-NAME DIR-OR-FILE…
 *
 * Each regular file of each directory (not recursive; names starting with '.' such
 * as .gitkeep are skipped) and each file named directly is one input. Every input
 * is copied into a buffer of exactly its size so that AddressSanitizer sees a read
 * past the end. Exits 1 when an input cannot be read or when there was no input at
 * all: an empty corpus is a mistake, not a pass.
 */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);
/* Optional in a target, as in libFuzzer. */
int LLVMFuzzerInitialize (int    *argc,
                          char ***argv) __attribute__ ((weak));

static gboolean
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  guint8 *exact;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      g_printerr ("standalone: %s\n", error->message);
      return FALSE;
    }

  /* malloc (0) may return NULL; give the target a valid pointer either way. */
  exact = malloc (len > 0 ? len : 1);
  g_assert (exact != NULL);
  memcpy (exact, contents, len);
  LLVMFuzzerTestOneInput (exact, len);
  free (exact);
  return TRUE;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Runs every input under @path; returns FALSE on a read error. */
static gboolean
run_path (const char *path,
          guint      *n_run)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      if (!run_file (path))
        return FALSE;
      (*n_run)++;
      return TRUE;
    }

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      g_printerr ("standalone: %s\n", error->message);
      return FALSE;
    }

  /* Sorted, so that a failure reproduces in the same order. */
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *file = g_build_filename (path, g_ptr_array_index (names, i), NULL);

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      if (!run_file (file))
        return FALSE;
      (*n_run)++;
    }

  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  guint n_run = 0;
  int n_paths = 0;

  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize (&argc, &argv);

  for (int i = 1; i < argc; i++)
    {
      /* libFuzzer-style flags (-runs=…) mean nothing here. */
      if (argv[i][0] == '-')
        continue;
      n_paths++;
      if (!run_path (argv[i], &n_run))
        return EXIT_FAILURE;
    }

  if (n_paths == 0)
    {
      g_printerr ("usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
      return EXIT_FAILURE;
    }

  if (n_run == 0)
    {
      g_printerr ("%s: FAIL: no seed inputs found in", argv[0]);
      for (int i = 1; i < argc; i++)
        if (argv[i][0] != '-')
          g_printerr (" %s", argv[i]);
      g_printerr (" (commit at least one seed file there)\n");
      return EXIT_FAILURE;
    }

  g_print ("%s: ran %u input%s\n", argv[0], n_run, n_run == 1 ? "" : "s");
  return EXIT_SUCCESS;
}
