/* pt-cmd-token.c — pt token
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <stdio.h>

#include "pt-cli.h"

#define MAX_COUNT 10000

static const char token_description[] =
  "Prints N random access tokens, one per line, on standard output. A token is\n"
  "“i”, 16 characters from A–Z a–z 0–9 - _ . and a check character that\n"
  "catches a mistyped character before any connection is tried (the format of\n"
  "tunnel-rs, whose tokens work here too).\n"
  "\n"
  "A server accepts the tokens listed in its token file (one per line; lines\n"
  "starting with “#” are comments); give each client its own token, so that\n"
  "one can be withdrawn without the others. Token files must be readable by\n"
  "their owner only:\n"
  "  pt token --count 2 > tokens && chmod 600 tokens\n"
  "\n"
  "Exit status: 0 done, 1 failure, 2 usage error.\n";

int
pt_cmd_token (int    argc,
              char **argv)
{
  int count = 1;
  const GOptionEntry entries[] = {
    { "count", 'n', 0, G_OPTION_ARG_INT, &count,
      "How many tokens to make (default 1)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("— make access tokens");
  g_autoptr(GError) error = NULL;

  g_set_prgname ("pt token");
  g_option_context_set_description (context, token_description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      pt_cli_usage_error ("%s (see “pt token --help”)", error->message);
      return PT_EXIT_USAGE;
    }
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt token --help”)", argv[1]);
      return PT_EXIT_USAGE;
    }
  if (count < 1 || count > MAX_COUNT)
    {
      pt_cli_usage_error ("--count takes a number from 1 to %d", MAX_COUNT);
      return PT_EXIT_USAGE;
    }

  for (int i = 0; i < count; i++)
    {
      g_autoptr(PtSecretString) token = pt_token_generate (&error);

      if (token == NULL)
        {
          pt_cli_error ("%s", error->message);
          return PT_EXIT_FAILURE;
        }
      printf ("%s\n", token);
    }
  if (fflush (stdout) != 0)
    {
      pt_cli_error ("cannot write the tokens to standard output");
      return PT_EXIT_FAILURE;
    }
  return PT_EXIT_OK;
}
