/* test-app-background.c — the application: closing the window keeps running
 * tunnels up, the tray's toggle action stops and starts them, Quit quits
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs the real PtApplication (g_application_run) on gtk-test-runner's
 * private bus, with one serving profile in its XDG_CONFIG_HOME, and drives it
 * from its "activate" signal.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-util.h"
#include "pt-adw-compat.h"
#include "pt-application.h"
#include "pt-window.h"

static gboolean passed;
static GPtrArray *notified;   /* "summary\nbody" received by the stand-in */

static gboolean
was_notified (const char *summary)
{
  for (guint i = 0; i < notified->len; i++)
    {
      const char *entry = g_ptr_array_index (notified, i);
      gsize len = strlen (summary);

      if (strncmp (entry, summary, len) == 0 && entry[len] == '\n')
        return TRUE;
    }
  return FALSE;
}

static void
start_notification_server (void)
{
  /* Kept for the whole run: the name goes with the last reference. */
  static GDBusConnection *bus;
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_assert_nonnull (bus);
  notified = g_ptr_array_new_with_free_func (g_free);
  app_test_export_notifications (bus, notified);
  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", "org.freedesktop.Notifications", 4),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
}

static PtProfile *
first_profile (PtApplication *app)
{
  GListModel *model = pt_profile_store_get_model (pt_application_get_store (app));
  g_autoptr(PtProfile) profile = g_list_model_get_item (model, 0);

  return profile;   /* the store keeps it */
}

static GtkWindow *
main_window (PtApplication *app)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (PT_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static void
on_activate (PtApplication *app)
{
  static gboolean once;
  PtProfile *profile;
  PtService *service;
  GtkWindow *window;

  if (once)
    return;
  once = TRUE;

  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (pt_application_get_store (app))), ==, 1);
  profile = first_profile (app);
  service = pt_profile_store_get_service (pt_application_get_store (app), profile);
  window = main_window (app);
  g_assert_nonnull (window);

  /* Start it the way the tray does: the pairing window opens. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "toggle-tunnel",
                                  g_variant_new_string (pt_profile_get_id (profile)));
  g_assert_true (pt_service_get_running (service));
  g_assert_nonnull (pt_window_get_pairing (PT_WINDOW (window)));

  /* Close the window: it goes (with its dialog), the tunnel and the app stay. */
  gtk_window_close (window);
  spin_for_ms (300);
  g_assert_null (main_window (app));
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
  g_assert_true (pt_service_get_running (service));
  /* Still waiting for the other computer: a pasted block is read, not
   * refused as untimely. */
  {
    g_autoptr(GBytes) junk = g_bytes_new_static ("PEERTUNNEL?", 11);
    g_autoptr(GError) error = NULL;

    g_assert_false (pt_service_give_remote (service, junk, &error));
    g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_NO_BLOCK);
  }
  /* …and says how to get back. */
  SPIN_UNTIL (was_notified ("PeerTunnel is still running"), 3000);
  g_assert_true (was_notified ("PeerTunnel is still running"));

  /* From the tray, without a window: stop it… */
  g_action_group_activate_action (G_ACTION_GROUP (app), "toggle-tunnel",
                                  g_variant_new_string (pt_profile_get_id (profile)));
  g_assert_false (pt_service_get_running (service));
  spin_for_ms (100);

  /* …and start it again: the window comes back to pair. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "toggle-tunnel",
                                  g_variant_new_string (pt_profile_get_id (profile)));
  g_assert_true (pt_service_get_running (service));
  window = main_window (app);
  g_assert_nonnull (window);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));

  /* Start hidden at login: an autostart entry that says --hidden, gone when off. */
  {
    GSettings *settings = pt_application_get_settings (app);

    g_assert_nonnull (settings);
    /* The entry is named after the compiled-in app id (this run's differs): take the one there is. */
    g_settings_set_boolean (settings, "start-hidden", TRUE);
    {
      g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "autostart", NULL);
      g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
      const char *entry = listing ? g_dir_read_name (listing) : NULL;
      g_autofree char *path = entry ? g_build_filename (dir, entry, NULL) : NULL;
      g_autofree char *contents = NULL;

      g_assert_nonnull (entry);
      g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
      g_assert_nonnull (strstr (contents, " --hidden\n"));
      g_settings_set_boolean (settings, "start-hidden", FALSE);
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
  }

  /* "Show Window" just shows it. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "show-window", NULL);
  g_assert_true (main_window (app) == window);

  /* The shortcuts window, Preferences and About open; the accelerators are set. */
  {
    g_auto(GStrv) quit = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");
    g_auto(GStrv) prefs = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.preferences");
    g_auto(GStrv) add = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "win.new-tunnel");
    guint before = g_list_length (gtk_application_get_windows (GTK_APPLICATION (app)));

    g_assert_cmpstr (quit[0], ==, "<Control>q");
    g_assert_cmpstr (prefs[0], ==, "<Control>comma");
    g_assert_cmpstr (add[0], ==, "<Control>n");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
    {
      /* GTK 4.18 deprecates GtkShortcutsWindow and its getters, with no
       * replacement in GTK: the overlay is looked for by its type's name. */
      GType shortcuts = g_type_from_name ("GtkShortcutsWindow");
      GListModel *toplevels = gtk_window_get_toplevels ();   /* borrowed */
      gboolean shown = FALSE;

      g_assert_true (shortcuts != 0);
      for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
        {
          g_autoptr(GObject) w = g_list_model_get_item (toplevels, i);

          shown |= G_TYPE_CHECK_INSTANCE_TYPE (w, shortcuts) && gtk_widget_get_visible (GTK_WIDGET (w));
        }
      g_assert_true (shown);
    }
    /* (windows of the application with libadwaita 1.2, dialogs over the
     * main window from 1.5 on: pt-adw-compat finds either) */
    g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
    spin_for_ms (200);
    {
      GtkWidget *preferences = pt_adw_preferences_get_shown (GTK_APPLICATION (app));

      g_assert_nonnull (preferences);
      pt_adw_close (preferences);
    }
    g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
    spin_for_ms (200);
    {
      GtkWidget *about = pt_adw_get_shown (GTK_APPLICATION (app), PT_ADW_TYPE_ABOUT);

      g_assert_nonnull (about);
      pt_adw_close (about);
    }
    spin_for_ms (50);
    g_assert_cmpuint (g_list_length (gtk_application_get_windows (GTK_APPLICATION (app))), ==, before);
  }

  /* Pair it with a connecting profile of the same app: "up" is notified. */
  {
    g_autoptr(PtProfile) client = pt_profile_new ();
    const char *sources[] = { "tcp://127.0.0.1:9", NULL };
    const char *targets[] = { "127.0.0.1:0", NULL };
    const char *locals[] = { "127.0.0.1", NULL };
    PtService *client_service;

    pt_profile_set_name (client, "Client");
    pt_profile_set_forwards (client, sources, targets);
    pt_profile_set_ice (client, NULL, NULL, locals, TRUE);
    pt_profile_store_add (pt_application_get_store (app), client);
    client_service = pt_profile_store_get_service (pt_application_get_store (app), client);
    g_assert_true (pt_service_start (client_service, NULL));
    SPIN_UNTIL (pt_service_get_local_payload (client_service) != NULL, 15000);
    g_assert_true (pt_service_give_remote (service, pt_service_get_local_payload (client_service), NULL));
    SPIN_UNTIL (pt_service_get_local_payload (service) != NULL, 15000);
    g_assert_true (pt_service_give_remote (client_service, pt_service_get_local_payload (service), NULL));
    SPIN_UNTIL (was_notified ("“Background” is up") && was_notified ("“Client” is up"), 20000);
    g_assert_true (was_notified ("“Background” is up"));
    g_assert_true (was_notified ("“Client” is up"));

    /* Stopping one side: the other sees it drop. */
    pt_service_stop (client_service);
    SPIN_UNTIL (was_notified ("“Client” stopped") &&
                (was_notified ("“Background” dropped") || was_notified ("“Background” stopped")), 10000);
    g_assert_true (was_notified ("“Client” stopped"));
  }

  passed = TRUE;
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(PtApplication) app = NULL;
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "peertunnel", NULL);
  g_autofree char *path = g_build_filename (dir, "profiles.ini", NULL);
  char *args[] = { argv[0], NULL };
  int status;

  /* TAP by hand: g_application_run is the test. */
  g_print ("1..1\n");
  if (!g_str_has_prefix (g_get_user_config_dir (), g_get_tmp_dir ()))
    {
      g_print ("1..0 # SKIP XDG_CONFIG_HOME is not a temporary folder: run through gtk-test-runner\n");
      return 0;
    }
  g_mkdir_with_parents (dir, 0700);
  g_assert_true (g_file_set_contents (path,
                                      "[profile 2222-background]\nname=Background\nrole=serve\n"
                                      "allowed-tcp=127.0.0.1/32;\nlocal-addresses=127.0.0.1;\n"
                                      "no-stun=true\n", -1, NULL));

  start_notification_server ();
  app = pt_application_new ("io.github.peertunnel.PeerTunnel.Test");
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activate), NULL);
  status = g_application_run (G_APPLICATION (app), 1, args);

  g_print ("%s 1 close to background, toggle from the tray, quit (exit %d)\n",
           passed && status == 0 ? "ok" : "not ok", status);
  g_unlink (path);
  g_ptr_array_unref (notified);
  return passed && status == 0 ? 0 : 1;
}
