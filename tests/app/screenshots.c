/* screenshots.c — renders the app's windows to PNG files for the README and
 * the metainfo: the main window empty and with tunnels (paired in-process,
 * so they are really up), the pairing window and Preferences.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Usage (through gtk-test-runner, see scripts/screenshots): screenshots OUTDIR
 */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "app-test-util.h"
#include "pt-adw-compat.h"
#include "pt-application.h"
#include "pt-pairing-dialog.h"
#include "pt-preferences.h"
#include "pt-profile-editor.h"
#include "pt-profile-store.h"
#include "pt-qr.h"
#include "pt-window.h"

static void
save (GtkWidget  *widget,
      const char *dir,
      const char *name)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);

  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (gtk_widget_get_native (widget)),
                                         node, &GRAPHENE_RECT_INIT (0, 0, w, h));
  if (!gdk_texture_save_to_png (texture, path))
    g_error ("cannot write %s", path);
  g_print ("%s (%d×%d)\n", path, w, h);
}

static PtProfile *
connect_profile (const char *name,
                 const char *source,
                 const char *target)
{
  PtProfile *profile = pt_profile_new ();
  const char *sources[] = { source, NULL };
  const char *targets[] = { target, NULL };
  const char *locals[] = { "127.0.0.1", NULL };

  pt_profile_set_name (profile, name);
  pt_profile_set_forwards (profile, sources, targets);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  return profile;
}

static PtProfile *
serve_profile (const char *name)
{
  PtProfile *profile = pt_profile_new ();
  const char *tcp[] = { "127.0.0.1/32", NULL };
  const char *locals[] = { "127.0.0.1", NULL };

  pt_profile_set_name (profile, name);
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_allowed (profile, tcp, NULL);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  return profile;
}

static gboolean
is_up (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  return tunnel && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *tmp = NULL;
  g_autofree char *profiles = NULL;
  const char *out;
  PtProfileStore *store;
  PtWindow *window;
  PtProfile *ssh, *serve, *printer;
  PtService *ssh_service, *serve_service;
  GtkWindow *dialog;
  GtkWidget *prefs;

  gtk_init ();
  adw_init ();
  if (argc != 2)
    g_error ("usage: screenshots OUTDIR");
  out = argv[1];
  g_mkdir_with_parents (out, 0755);
  g_object_set (gtk_settings_get_default (), "gtk-font-name", "Cantarell 11", NULL);

  tmp = g_dir_make_tmp ("pt-screenshots-XXXXXX", NULL);
  profiles = g_build_filename (tmp, "profiles.ini", NULL);
  store = pt_profile_store_new (profiles);
  window = pt_window_new (NULL, store);
  gtk_window_set_default_size (GTK_WINDOW (window), 560, 520);
  gtk_window_present (GTK_WINDOW (window));
  spin_for_ms (800);
  save (GTK_WIDGET (window), out, "main-empty.png");

  /* Three tunnels: SSH paired with this machine's own serving tunnel (up),
   * a printer not started, and the serving side. */
  ssh = connect_profile ("SSH to the office", "tcp://127.0.0.1:22", "127.0.0.1:2222");
  serve = serve_profile ("Share this computer’s SSH");
  printer = connect_profile ("Printer at home", "tcp://192.168.1.20:631", "6310");
  pt_profile_store_add (store, ssh);
  pt_profile_store_add (store, printer);
  pt_profile_store_add (store, serve);
  ssh_service = pt_profile_store_get_service (store, ssh);
  serve_service = pt_profile_store_get_service (store, serve);

  gtk_widget_activate_action (GTK_WIDGET (window), "win.start-tunnel", "s", pt_profile_get_id (ssh));
  SPIN_UNTIL (pt_service_get_local_payload (ssh_service) != NULL, 15000);
  spin_for_ms (600);
  dialog = pt_window_get_pairing (window);
  save (GTK_WIDGET (dialog), out, "pairing.png");

  pt_service_start (serve_service, NULL);
  pt_service_give_remote (serve_service, pt_service_get_local_payload (ssh_service), NULL);
  SPIN_UNTIL (pt_service_get_local_payload (serve_service) != NULL, 15000);
  pt_service_give_remote (ssh_service, pt_service_get_local_payload (serve_service), NULL);
  SPIN_UNTIL (is_up (ssh_service) && is_up (serve_service), 20000);
  spin_for_ms (800);
  save (GTK_WIDGET (window), out, "main-tunnels.png");

  prefs = pt_preferences_window_new (NULL, NULL, NULL);
  if (GTK_IS_WINDOW (prefs))
    gtk_window_set_default_size (GTK_WINDOW (prefs), 480, 420);
  pt_adw_present (prefs, GTK_WIDGET (window));
  spin_for_ms (800);
  save (prefs, out, "preferences.png");

  pt_adw_close (prefs);

  /* The editor of a serving Nostr tunnel. */
  {
    PtProfileEditor *editor = pt_profile_editor_new (GTK_WINDOW (window), store, printer);

    gtk_window_present (GTK_WINDOW (editor));
    spin_for_ms (800);
    save (GTK_WIDGET (editor), out, "editor.png");
    gtk_window_destroy (GTK_WINDOW (editor));
  }
  pt_service_stop (ssh_service);
  pt_service_stop (serve_service);
  gtk_window_destroy (GTK_WINDOW (window));
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  g_object_unref (ssh);
  g_object_unref (serve);
  g_object_unref (printer);
  g_object_unref (store);
  g_unlink (profiles);
  g_rmdir (tmp);
  return 0;
}
