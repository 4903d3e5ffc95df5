/* pt-cmd-keygen.c — pt keygen, pt show-npub
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The secret key goes to a file (mode 0600, written atomically) or, with
 * --output -, to standard output only; it never reaches standard error, an
 * error message or the command line.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pt-cli.h"

static const char keygen_description[] =
  "Makes a long-term secp256k1 key, the kind Nostr uses, and writes it to FILE\n"
  "as an nsec1… string (NIP-19) readable by you only (mode 0600). The file is\n"
  "written completely or not at all, and an existing file is never replaced\n"
  "unless --force is given. The public key (npub1…) is printed on standard\n"
  "output: give it to the peers that should recognize this machine.\n"
  "\n"
  "With --output -, the nsec is printed on standard output (nothing else is)\n"
  "and the npub on standard error, for piping into a secret store:\n"
  "  pt keygen --output - | secret-tool store --label=pt pt nsec\n"
  "\n"
  "Keep the nsec secret: whoever has it can act as this machine.\n"
  "\n"
  "Exit status: 0 done, 1 failure, 2 usage error.\n";

static const char show_npub_description[] =
  "Prints the public key (npub1…) of the secret key in FILE. The file holds an\n"
  "nsec1… string or 64 hex characters and must be readable by its owner only;\n"
  "a file that others may read is refused (fix it with chmod 600).\n"
  "\n"
  "Exit status: 0 done, 1 failure, 2 usage error.\n";

/* Parses @argv with @entries; prints the usage error itself. */
static gboolean
parse_options (const char         *command,
               const char         *parameter_string,
               const char         *description,
               const GOptionEntry *entries,
               int                *argc,
               char             ***argv)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameter_string);
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("pt %s", command);

  g_set_prgname (prgname);
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      pt_cli_usage_error ("%s (see “pt %s --help”)", error->message, command);
      return FALSE;
    }
  if (*argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt %s --help”)", (*argv)[1], command);
      return FALSE;
    }
  return TRUE;
}

static void
enable_debug (gboolean verbose)
{
  if (verbose)
    g_log_set_debug_enabled (TRUE);
}

int
pt_cmd_keygen (int    argc,
               char **argv)
{
  g_autofree char *output = NULL;
  gboolean force = FALSE;
  gboolean verbose = FALSE;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Write the secret key to FILE (“-”: standard output)", "FILE" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      "Replace FILE if it exists (the old key is lost)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print debug messages", NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autofree char *npub = NULL;

  if (!parse_options ("keygen", "--output FILE — make a long-term key",
                      keygen_description, entries, &argc, &argv))
    return PT_EXIT_USAGE;
  enable_debug (verbose);
  if (output == NULL || *output == '\0')
    {
      pt_cli_usage_error ("pt keygen: where should the key go? “--output FILE” "
                          "(or “--output -” for standard output)");
      return PT_EXIT_USAGE;
    }
  if (force && g_str_equal (output, "-"))
    {
      pt_cli_usage_error ("pt keygen: --force means nothing with --output -");
      return PT_EXIT_USAGE;
    }

  key = pt_secret_key_generate (&error);
  if (key == NULL)
    {
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }
  npub = pt_public_key_to_npub (pt_secret_key_get_public (key));

  if (g_str_equal (output, "-"))
    {
      g_autoptr(PtSecretString) nsec = pt_secret_key_to_nsec (key);
      g_autoptr(PtSecretString) line = g_strconcat (nsec, "\n", NULL);

      if (!pt_cli_write_stdout (line))
        {
          pt_cli_error ("cannot write the key to standard output");
          return PT_EXIT_FAILURE;
        }
      fprintf (stderr, "%s\n", npub);
      return PT_EXIT_OK;
    }

  if (!pt_secret_key_save (key, output, force, &error))
    {
      if (g_error_matches (error, PT_KEY_ERROR, PT_KEY_ERROR_EXISTS))
        pt_cli_error ("%s (add --force to replace it; its key would be lost)", error->message);
      else
        pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }

  printf ("%s\n", npub);
  if (fflush (stdout) != 0)
    return PT_EXIT_FAILURE;
  return PT_EXIT_OK;
}

int
pt_cmd_show_npub (int    argc,
                  char **argv)
{
  g_autofree char *nsec_file = NULL;
  gboolean hex = FALSE;
  gboolean verbose = FALSE;
  const GOptionEntry entries[] = {
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &nsec_file,
      "The secret key file (as written by pt keygen)", "FILE" },
    { "hex", 0, 0, G_OPTION_ARG_NONE, &hex,
      "Print the public key as 64 hex characters instead of npub1…", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print debug messages", NULL },
    { NULL }
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autofree char *text = NULL;

  if (!parse_options ("show-npub", "--nsec-file FILE — print the public key of a key",
                      show_npub_description, entries, &argc, &argv))
    return PT_EXIT_USAGE;
  enable_debug (verbose);
  if (nsec_file == NULL || *nsec_file == '\0')
    {
      pt_cli_usage_error ("pt show-npub: which key? “--nsec-file FILE”");
      return PT_EXIT_USAGE;
    }

  key = pt_secret_key_load (nsec_file, &error);
  if (key == NULL)
    {
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }

  text = hex ? pt_public_key_to_hex (pt_secret_key_get_public (key))
             : pt_public_key_to_npub (pt_secret_key_get_public (key));
  printf ("%s\n", text);
  if (fflush (stdout) != 0)
    return PT_EXIT_FAILURE;
  return PT_EXIT_OK;
}
