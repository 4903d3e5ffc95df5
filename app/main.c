/* main.c — peertunnel, the desktop app
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "peertunnel"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "pt-application.h"

int
main (int    argc,
      char **argv)
{
  g_autoptr(PtApplication) app = NULL;

  pt_disable_core_dumps ();
  pt_raise_fd_limit ();
  pt_tune_allocator ();
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  app = pt_application_new (APP_ID);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
