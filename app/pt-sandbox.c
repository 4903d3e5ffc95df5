/* pt-sandbox.c — whether the app runs inside a Flatpak sandbox
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Inside a Flatpak there is no pkexec and no setuid, so the TUN helper
 * cannot run (the engine's PtProfile is told so on the first call here;
 * pt-profile-editor.c says it as well), and autostart goes
 * through the Background portal (pt-application.c). The tray item cannot
 * own a well-known name there either, but pt-tray.c registers its unique
 * name everywhere and so never asks. Flatpak puts /.flatpak-info in every
 * sandbox it makes: that file is the test, as in GLib's own portal code.
 * $PT_SANDBOX ("flatpak" or "none") overrides it so that tests can take
 * either path on any machine.
 */
#define G_LOG_DOMAIN "pt-sandbox"

#include "config.h"

#include <glib/gi18n.h>

#include "pt-sandbox.h"

#include <pt.h>

gboolean
pt_sandbox_is_flatpak (void)
{
  static gsize decided;
  static gboolean flatpak;

  if (g_once_init_enter (&decided))
    {
      const char *force = g_getenv ("PT_SANDBOX");

      if (g_strcmp0 (force, "flatpak") == 0)
        flatpak = TRUE;
      else if (g_strcmp0 (force, "none") == 0)
        flatpak = FALSE;
      else
        flatpak = g_file_test ("/.flatpak-info", G_FILE_TEST_EXISTS);
      g_debug ("%s a Flatpak sandbox%s", flatpak ? "in" : "not in",
               force != NULL && force[0] != '\0' ? " ($PT_SANDBOX)" : "");
      if (flatpak)
        pt_service_set_vpn_refusal (pt_sandbox_vpn_explanation ());
      g_once_init_leave (&decided, 1);
    }
  return flatpak;
}

const char *
pt_sandbox_vpn_explanation (void)
{
  return _("VPN tunnels need PeerTunnel installed on this computer, not as a Flatpak: "
           "a Flatpak may not create network devices.");
}
