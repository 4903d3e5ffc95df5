/* pt-application.c — the PeerTunnel application: tunnels, window, background
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The application owns the profile store (and so every running tunnel); the
 * window only shows it. Closing the window while tunnels run keeps the
 * process alive (g_application_hold) unless the user turned that off; the
 * app comes back with the launcher (a second instance activates this one).
 */
#define G_LOG_DOMAIN "pt-application"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "pt-adw-compat.h"
#include "pt-application.h"
#include "pt-identity.h"
#include "pt-preferences.h"
#include "pt-sandbox.h"
#include "pt-secret-store.h"
#include "pt-tray.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"
#include "pt-error-text.h"

struct _PtApplication
{
  AdwApplication  parent_instance;

  PtProfileStore *store;
  PtSecretStore  *secrets;
  PtIdentity     *identity;
  PtTray         *tray;
  GSettings      *settings;
  PtWindow       *window;        /* weak */
  gboolean        held;
  gboolean        start_hidden;
  gboolean        undoing_start_hidden; /* the portal said no: the switch goes back */
  guint           background_response;  /* the Background portal's Response signal */
  GCancellable   *background_cancel;
};

G_DEFINE_FINAL_TYPE (PtApplication, pt_application, ADW_TYPE_APPLICATION)

static gboolean
setting (PtApplication *self,
         const char    *key,
         gboolean       fallback)
{
  return self->settings ? g_settings_get_boolean (self->settings, key) : fallback;
}

static gboolean
any_running (PtApplication *self)
{
  GListModel *services = pt_profile_store_get_services (self->store);

  for (guint i = 0; i < g_list_model_get_n_items (services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (services, i);

      if (pt_service_get_running (service))
        return TRUE;
    }
  return FALSE;
}

/* Notifications */

static void
on_tunnel_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 PtService  *service)
{
  PtApplication *self = PT_APPLICATION (g_application_get_default ());
  PtProfile *profile = pt_service_get_profile (service);
  PtTunnelState state = pt_tunnel_get_state (tunnel);
  gboolean was_up = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (tunnel), "pt-was-up"));
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL;
  g_autofree char *body = NULL;

  if (self == NULL || !setting (self, "notify", TRUE))
    return;

  switch (state)
    {
    case PT_TUNNEL_STATE_UP:
      g_object_set_data (G_OBJECT (tunnel), "pt-was-up", GINT_TO_POINTER (TRUE));
      /* Translators: notification title; %s is the tunnel's name */
      title = g_strdup_printf (_("“%s” is up"), pt_profile_get_name (profile));
      body = pt_describe_service_state (service);
      break;
    case PT_TUNNEL_STATE_FAILED:
      title = g_strdup_printf (was_up ? _("“%s” dropped") : _("“%s” failed"),
                               pt_profile_get_name (profile));
      body = pt_describe_service_state (service);
      break;
    case PT_TUNNEL_STATE_CLOSED:
      if (!was_up || pt_service_get_running (service))
        return;
      title = g_strdup_printf (_("“%s” stopped"), pt_profile_get_name (profile));
      break;
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      return;
    }

  notification = g_notification_new (title);
  if (body != NULL)
    g_notification_set_body (notification, body);
  g_notification_set_default_action (notification, "app.show-window");
  g_application_send_notification (G_APPLICATION (self), pt_profile_get_id (profile), notification);
}

static void
on_service_tunnel (PtService     *service,
                   GParamSpec    *pspec,
                   PtApplication *self)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  if (tunnel != NULL && g_object_get_data (G_OBJECT (tunnel), "pt-watched") == NULL)
    {
      g_object_set_data (G_OBJECT (tunnel), "pt-watched", GINT_TO_POINTER (TRUE));
      g_signal_connect_object (tunnel, "notify::state", G_CALLBACK (on_tunnel_state), service, 0);
    }
}

static void
on_items_changed (GListModel    *model,
                  guint          position,
                  guint          removed,
                  guint          added,
                  PtApplication *self)
{
  for (guint i = position; i < position + added; i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (model, i);

      g_signal_connect_object (service, "notify::tunnel", G_CALLBACK (on_service_tunnel), self, 0);
    }
}

/* Start at login: an autostart entry that starts the app hidden */

static char *
autostart_path (void)
{
  g_autofree char *name = g_strconcat (APP_ID, ".desktop", NULL);

  return g_build_filename (g_get_user_config_dir (), "autostart", name, NULL);
}

/* Quoting of the desktop entry specification's Exec key: double quotes, with
 * \", \`, \$ and \\ escaped (and the backslashes doubled again for the
 * key file's own escaping). */
static char *
desktop_exec_quote (const char *path)
{
  GString *out;

  if (strpbrk (path, " \t\n\"'\\><~|&;$*?#()`") == NULL)
    return g_strdup (path);
  out = g_string_new ("\"");
  for (const char *p = path; *p; p++)
    {
      if (strchr ("\"`$\\", *p) != NULL)
        g_string_append (out, "\\\\");
      g_string_append_c (out, *p);
    }
  g_string_append_c (out, '"');
  return g_string_free (out, FALSE);
}

/* Inside a Flatpak the autostart folder is the sandbox's own, which the
 * session never reads: the Background portal writes the host's entry.
 * GLib 2.74 has no portal API and libportal is not used: RequestBackground
 * over GDBus, answered by a Request object's Response signal. */

#define PORTAL_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"

/* The preferences window's toast when it is open (the user just flipped the
 * switch there), else a notification. */
static void
report_autostart_problem (PtApplication *self,
                          const char    *message)
{
  GtkWidget *preferences = pt_adw_preferences_get_shown (GTK_APPLICATION (self));

  if (preferences != NULL)
    {
      pt_adw_preferences_add_toast (preferences, adw_toast_new (message));
      return;
    }
  {
    g_autoptr(GNotification) notification = g_notification_new (_("PeerTunnel cannot start at login"));

    g_notification_set_body (notification, message);
    g_application_send_notification (G_APPLICATION (self), "autostart", notification);
  }
}

static void
background_done (PtApplication *self,
                 gboolean       wanted,
                 const char    *problem)
{
  if (self->background_response != 0)
    {
      g_dbus_connection_signal_unsubscribe (g_application_get_dbus_connection (G_APPLICATION (self)),
                                            self->background_response);
      self->background_response = 0;
    }
  g_clear_object (&self->background_cancel);
  if (problem == NULL)
    {
      g_debug ("the Background portal %s autostart", wanted ? "set" : "removed");
      return;
    }
  g_debug ("the Background portal: %s", problem);
  report_autostart_problem (self, problem);
  /* The switch says what will happen at login. */
  if (wanted && self->settings != NULL)
    {
      self->undoing_start_hidden = TRUE;
      g_settings_set_boolean (self->settings, "start-hidden", FALSE);
      self->undoing_start_hidden = FALSE;
    }
}

static const char *
background_missing (void)
{
  return _("Starting at login needs the desktop’s background service (the Background portal of "
           "xdg-desktop-portal), which this session does not have.");
}

static void
background_response_cb (GDBusConnection *connection,
                        const char      *sender,
                        const char      *path,
                        const char      *interface,
                        const char      *signal,
                        GVariant        *params,
                        gpointer         user_data)
{
  PtApplication *self = user_data;
  gboolean wanted = setting (self, "start-hidden", FALSE);
  g_autoptr(GVariant) results = NULL;
  gboolean autostart = FALSE;
  guint32 response;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(ua{sv})")))
    return;
  g_variant_get (params, "(u@a{sv})", &response, &results);
  g_variant_lookup (results, "autostart", "b", &autostart);
  g_debug ("Background portal response %u, autostart %s", response, autostart ? "on" : "off");
  if (response == 1)
    background_done (self, wanted, _("You did not allow PeerTunnel to start at login."));
  else if (response != 0)
    background_done (self, wanted, _("The desktop refused to let PeerTunnel start at login."));
  else if (wanted && !autostart)
    background_done (self, wanted, _("The desktop does not let PeerTunnel start at login."));
  else
    background_done (self, wanted, NULL);
}

static void
background_requested_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(PtApplication) self = user_data;
  GDBusConnection *connection = G_DBUS_CONNECTION (source);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (connection, result, &error);
  const char *handle;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      gboolean missing = g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
                         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
                         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD) ||
                         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_INTERFACE) ||
                         g_error_matches (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT);
      g_autofree char *remote = g_dbus_error_get_remote_error (error);

      g_debug ("RequestBackground: %s (%s)", error->message, remote ? remote : "local");
      if (missing && !setting (self, "start-hidden", FALSE))
        background_done (self, FALSE, NULL);   /* no portal, so no entry of its to remove */
      else if (missing)
        background_done (self, TRUE, background_missing ());
      else
        {
          g_dbus_error_strip_remote_error (error);
          /* Translators: %s is the desktop's reason */
          g_autofree char *message = g_strdup_printf (_("The desktop’s background service failed: %s"),
                                                      error->message);

          background_done (self, setting (self, "start-hidden", FALSE), message);
        }
      return;
    }
  g_variant_get (reply, "(&o)", &handle);
  /* Portals older than version 0.9 choose their own path: follow it. */
  if (self->background_response != 0 && self->background_cancel != NULL &&
      g_strcmp0 (handle, g_object_get_data (G_OBJECT (self->background_cancel), "pt-handle")) != 0)
    {
      g_dbus_connection_signal_unsubscribe (connection, self->background_response);
      self->background_response =
        g_dbus_connection_signal_subscribe (connection, PORTAL_NAME, "org.freedesktop.portal.Request",
                                            "Response", handle, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                            background_response_cb, self, NULL);
    }
}

static void
request_background (PtApplication *self,
                    gboolean       autostart)
{
  GDBusConnection *connection = g_application_get_dbus_connection (G_APPLICATION (self));
  const char *commandline[] = { "peertunnel", "--hidden", NULL };
  g_autofree char *token = g_strdup_printf ("peertunnel%u", g_random_int ());
  g_autofree char *sender = NULL;
  g_autofree char *handle = NULL;
  GVariantBuilder options;

  if (connection == NULL)
    {
      background_done (self, autostart, autostart ? background_missing () : NULL);
      return;
    }
  /* A newer request replaces one still waiting for the user. */
  if (self->background_cancel != NULL)
    g_cancellable_cancel (self->background_cancel);
  if (self->background_response != 0)
    g_dbus_connection_signal_unsubscribe (connection, self->background_response);
  g_clear_object (&self->background_cancel);

  /* The Request object's path is known before the call (":1.42" →
   * "1_42"): subscribe first, so that no answer comes too early. */
  sender = g_strdup (g_dbus_connection_get_unique_name (connection) + 1);
  g_strdelimit (sender, ".", '_');
  handle = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender, token);
  self->background_cancel = g_cancellable_new ();
  g_object_set_data_full (G_OBJECT (self->background_cancel), "pt-handle", g_strdup (handle), g_free);
  self->background_response =
    g_dbus_connection_signal_subscribe (connection, PORTAL_NAME, "org.freedesktop.portal.Request",
                                        "Response", handle, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
                                        background_response_cb, self, NULL);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&options, "{sv}", "handle_token", g_variant_new_string (token));
  g_variant_builder_add (&options, "{sv}", "reason",
                         g_variant_new_string (_("Keep tunnels running in the background and start "
                                                 "them at login")));
  g_variant_builder_add (&options, "{sv}", "autostart", g_variant_new_boolean (autostart));
  g_variant_builder_add (&options, "{sv}", "commandline", g_variant_new_strv (commandline, -1));
  g_variant_builder_add (&options, "{sv}", "dbus-activatable", g_variant_new_boolean (FALSE));
  g_debug ("asking the Background portal to %s autostart", autostart ? "set" : "remove");
  g_dbus_connection_call (connection, PORTAL_NAME, PORTAL_PATH, "org.freedesktop.portal.Background",
                          "RequestBackground", g_variant_new ("(sa{sv})", "", &options),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, 30000,
                          self->background_cancel, background_requested_cb, g_object_ref (self));
}

static void
sync_autostart (PtApplication *self)
{
  g_autofree char *path = autostart_path ();
  g_autoptr(GError) error = NULL;

  if (self->undoing_start_hidden)
    return;
  if (pt_sandbox_is_flatpak ())
    {
      request_background (self, setting (self, "start-hidden", FALSE));
      return;
    }
  if (!setting (self, "start-hidden", FALSE))
    {
      if (g_unlink (path) != 0 && errno != ENOENT)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      return;
    }

  {
    /* The installed command when there is one, else this very executable
     * (a build tree). */
    g_autofree char *installed = g_find_program_in_path ("peertunnel");
    g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
    g_autofree char *exec = desktop_exec_quote (installed ? installed : self_exe ? self_exe : "peertunnel");
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *contents =
      g_strdup_printf ("[Desktop Entry]\n"
                       "Type=Application\n"
                       "Name=PeerTunnel\n"
                       "Comment=%s\n"
                       "Exec=%s --hidden\n"
                       "Icon=%s\n"
                       "Terminal=false\n"
                       "X-GNOME-Autostart-enabled=true\n",
                       _("Keep tunnels running in the background"), exec, APP_ID);

    if (g_mkdir_with_parents (dir, 0700) != 0 ||
        !g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error))
      g_warning ("cannot write %s: %s", path, error ? error->message : g_strerror (errno));
  }
}

/* Window */

static gboolean
on_close_request (GtkWindow     *window,
                  PtApplication *self)
{
  gboolean in_tray = self->tray != NULL && pt_tray_get_host_available (self->tray);

  /* With nothing running, the process stays only where its icon shows it. */
  if (!setting (self, "run-in-background", TRUE) || !(any_running (self) || in_tray))
    return FALSE;
  if (!any_running (self) && !self->held)
    {
      g_application_hold (G_APPLICATION (self));
      self->held = TRUE;
    }

  /* Keep the tunnels; the window can go. */
  if (!self->held)
    {
      g_autoptr(GNotification) notification = g_notification_new (_("PeerTunnel is still running"));

      g_application_hold (G_APPLICATION (self));
      self->held = TRUE;
      if (in_tray)
        g_notification_set_body (notification,
                                 _("Your tunnels stay up. PeerTunnel is in the tray: open it "
                                   "or quit it from there."));
      else
        g_notification_set_body (notification,
                                 _("Your tunnels stay up. Open PeerTunnel again from the app "
                                   "launcher to see them, or quit it there with Ctrl+Q."));
      g_notification_set_default_action (notification, "app.show-window");
      g_application_send_notification (G_APPLICATION (self), "background", notification);
    }
  return FALSE;   /* destroy the window; the profiles live on in the application */
}

/* The main window mentions where secrets are only when it is not the keyring. */
static void
update_secrets_note (PtApplication *self)
{
  g_autofree char *note = NULL;

  if (self->window == NULL)
    return;
  if (pt_secret_store_get_backend (self->secrets) == PT_SECRET_BACKEND_FILE)
    note = pt_secret_store_describe (self->secrets);
  pt_window_set_store_note (self->window, note);
}

static void
secrets_probed_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(PtApplication) self = user_data;

  pt_secret_store_probe_finish (PT_SECRET_STORE (source), result, NULL);
  pt_profile_store_set_secret_store (self->store, self->secrets);
  pt_identity_load (self->identity, self->secrets);
  update_secrets_note (self);
}

GtkWindow *
pt_application_show_window (PtApplication *self)
{
  if (self->window == NULL)
    {
      self->window = pt_window_new (GTK_APPLICATION (self), self->store);
      g_object_add_weak_pointer (G_OBJECT (self->window), (gpointer *) &self->window);
      g_signal_connect (self->window, "close-request", G_CALLBACK (on_close_request), self);
      update_secrets_note (self);
      if (self->settings != NULL)
        {
          g_settings_bind (self->settings, "window-width", self->window, "default-width",
                           G_SETTINGS_BIND_DEFAULT);
          g_settings_bind (self->settings, "window-height", self->window, "default-height",
                           G_SETTINGS_BIND_DEFAULT);
        }
    }
  if (self->held)
    {
      g_application_release (G_APPLICATION (self));
      self->held = FALSE;
    }
  gtk_window_present (GTK_WINDOW (self->window));
  return GTK_WINDOW (self->window);
}

/* Actions */

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  PtApplication *self = user_data;

  if (self->window != NULL)
    gtk_window_destroy (GTK_WINDOW (self->window));
  if (self->held)
    {
      g_application_release (G_APPLICATION (self));
      self->held = FALSE;
    }
  g_application_quit (G_APPLICATION (self));
}

static void
show_window_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  pt_application_show_window (PT_APPLICATION (user_data));
}

static void
toggle_tunnel_action (GSimpleAction *action,
                      GVariant      *param,
                      gpointer       user_data)
{
  PtApplication *self = user_data;
  PtProfile *profile = pt_profile_store_find (self->store, g_variant_get_string (param, NULL));
  PtService *service = profile ? pt_profile_store_get_service (self->store, profile) : NULL;
  g_autoptr(GError) error = NULL;
  GtkWindow *window;

  if (service == NULL)
    return;
  if (pt_service_get_running (service))
    {
      pt_service_stop (service);
      return;
    }
  /* Manual pairing needs the window (the other computer's block is pasted
   * or scanned there); Nostr and VPN tunnels start where they are. */
  if (pt_profile_get_mode (profile) == PT_PROFILE_MODE_MANUAL)
    {
      window = pt_application_show_window (self);
      gtk_widget_activate_action (GTK_WIDGET (window), "win.start-tunnel", "s",
                                  pt_profile_get_id (profile));
    }
  else if (!pt_service_start (service, &error))
    {
      g_autoptr(GNotification) notification = NULL;
      /* Translators: %s is the tunnel's name */
      g_autofree char *title = g_strdup_printf (_("“%s” did not start"), pt_profile_get_name (profile));
      g_autofree char *why = pt_describe_error (error);

      notification = g_notification_new (title);
      g_notification_set_body (notification, why);
      g_notification_set_default_action (notification, "app.show-window");
      g_application_send_notification (G_APPLICATION (self), "start-failed", notification);
    }
}

static void
new_tunnel_action (GSimpleAction *action,
                   GVariant      *param,
                   gpointer       user_data)
{
  GtkWindow *window = pt_application_show_window (PT_APPLICATION (user_data));

  gtk_widget_activate_action (GTK_WIDGET (window), "win.new-tunnel", NULL);
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  PtApplication *self = user_data;
  const char *developers[] = { "The PeerTunnel developers", NULL };
  GtkWidget *about;

  about = g_object_new (PT_ADW_TYPE_ABOUT,
                        "application-name", "PeerTunnel",
                        "application-icon", g_application_get_application_id (G_APPLICATION (self)),
                        "version", PACKAGE_VERSION,
                        "developer-name", "The PeerTunnel developers",
                        "developers", developers,
                        "website", "https://github.com/peertunnel/peertunnel",
                        "issue-url", "https://github.com/peertunnel/peertunnel/issues",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "comments", _("Reach services on another computer through NAT, with no open port and no account."),
                        /* Translators: your name and e-mail, one translator per line */
                        "translator-credits", _("translator-credits"),
                        NULL);
  pt_adw_present (about, GTK_WIDGET (self->window));
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *param,
                    gpointer       user_data)
{
  PtApplication *self = user_data;
  GtkWidget *preferences = pt_preferences_window_new (self->settings, self->secrets,
                                                      self->identity);

  pt_adw_present (preferences, GTK_WIDGET (self->window));
}

/* GApplication */

static void
pt_application_activate (GApplication *app)
{
  PtApplication *self = PT_APPLICATION (app);

  if (self->start_hidden && setting (self, "start-hidden", FALSE))
    {
      /* Started at login: stay in the background until asked. */
      self->start_hidden = FALSE;
      if (!self->held)
        {
          g_application_hold (app);
          self->held = TRUE;
        }
      return;
    }
  self->start_hidden = FALSE;
  pt_application_show_window (self);
}

static int
pt_application_handle_local_options (GApplication *app,
                                     GVariantDict *options)
{
  PtApplication *self = PT_APPLICATION (app);

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("peertunnel %s\n", PACKAGE_VERSION);
      return 0;
    }
  if (g_variant_dict_contains (options, "hidden"))
    self->start_hidden = TRUE;
  return -1;
}

static void
pt_application_startup (GApplication *app)
{
  PtApplication *self = PT_APPLICATION (app);
  g_autoptr(GError) error = NULL;
  const GActionEntry entries[] = {
    { "quit", quit_action },
    { "show-window", show_window_action },
    { "about", about_action },
    { "preferences", preferences_action },
    { "toggle-tunnel", toggle_tunnel_action, "s" },
    { "new-tunnel", new_tunnel_action },
  };
  const char *quit_accels[] = { "<Control>q", NULL };
  const char *prefs_accels[] = { "<Control>comma", NULL };
  const char *new_accels[] = { "<Control>n", NULL };
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;

  G_APPLICATION_CLASS (pt_application_parent_class)->startup (app);

  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, "io.github.peertunnel.PeerTunnel", TRUE);
  if (schema == NULL)
    {
      /* Running from the build tree: the schema compiled there. */
      g_autoptr(GSettingsSchemaSource) build_source =
        g_settings_schema_source_new_from_directory (PT_BUILD_DATA_DIR, source, FALSE, NULL);

      if (build_source != NULL)
        schema = g_settings_schema_source_lookup (build_source, "io.github.peertunnel.PeerTunnel", FALSE);
    }
  if (schema != NULL)
    {
      self->settings = g_settings_new_full (schema, NULL, NULL);
      g_signal_connect_swapped (self->settings, "changed::start-hidden",
                                G_CALLBACK (sync_autostart), self);
    }
  else
    g_message ("settings schema io.github.peertunnel.PeerTunnel not installed: "
               "preferences are not saved (set GSETTINGS_SCHEMA_DIR)");

  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.preferences", prefs_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.new-tunnel", new_accels);

  if (g_file_test (PT_SOURCE_DATA_DIR "/icons", G_FILE_TEST_IS_DIR))
    gtk_icon_theme_add_search_path (gtk_icon_theme_get_for_display (gdk_display_get_default ()),
                                    PT_SOURCE_DATA_DIR "/icons");

  g_signal_connect (pt_profile_store_get_services (self->store), "items-changed",
                    G_CALLBACK (on_items_changed), self);
  /* The keyring may ask the user to unlock it: profiles do not wait for
   * that; their TURN credentials arrive when it answers. */
  pt_profile_store_expect_secrets (self->store);
  if (!pt_profile_store_load (self->store, &error))
    g_warning ("%s", error->message);
  pt_secret_store_probe_async (self->secrets, NULL, secrets_probed_cb, g_object_ref (self));

  if (g_application_get_dbus_connection (app) != NULL)
    self->tray = pt_tray_new (g_application_get_dbus_connection (app), APP_ID,
                              G_ACTION_GROUP (app), pt_profile_store_get_services (self->store));
}

static void
pt_application_shutdown (GApplication *app)
{
  PtApplication *self = PT_APPLICATION (app);
  GListModel *services = pt_profile_store_get_services (self->store);
  gint64 deadline;

  for (guint i = 0; i < g_list_model_get_n_items (services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (services, i);

      pt_service_stop (service);
    }
  /* Let closing tunnels tell their peers and release TURN allocations. */
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (pt_tunnel_is_anything_closing () && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }

  g_clear_object (&self->tray);
  if (self->background_cancel != NULL)
    g_cancellable_cancel (self->background_cancel);
  g_clear_object (&self->background_cancel);
  if (self->background_response != 0)
    g_dbus_connection_signal_unsubscribe (g_application_get_dbus_connection (app),
                                          self->background_response);
  self->background_response = 0;
  pt_secret_store_disconnect ();
  G_APPLICATION_CLASS (pt_application_parent_class)->shutdown (app);
}

static void
pt_application_dispose (GObject *object)
{
  PtApplication *self = PT_APPLICATION (object);

  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (pt_profile_store_get_services (self->store), self);
  g_clear_object (&self->store);
  g_clear_object (&self->secrets);
  g_clear_object (&self->identity);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (pt_application_parent_class)->dispose (object);
}

static void
pt_application_class_init (PtApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = pt_application_dispose;
  app_class->activate = pt_application_activate;
  app_class->startup = pt_application_startup;
  app_class->shutdown = pt_application_shutdown;
  app_class->handle_local_options = pt_application_handle_local_options;
}

static void
on_identity (PtIdentity *identity)
{
  /* Nostr tunnels started from now on use it. */
  pt_service_set_default_key (pt_identity_get_key (identity));
}

static void
pt_application_init (PtApplication *self)
{
  const GOptionEntry options[] = {
    { "hidden", 0, 0, G_OPTION_ARG_NONE, NULL,
      N_("Start in the background if the “Start Hidden” preference is on"), NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { NULL }
  };

  self->store = pt_profile_store_new (NULL);
  self->secrets = pt_secret_store_new (NULL);
  self->identity = pt_identity_new ();
  g_signal_connect (self->identity, "notify::npub", G_CALLBACK (on_identity), NULL);
  g_application_add_main_option_entries (G_APPLICATION (self), options);
}

PtApplication *
pt_application_new (const char *application_id)
{
  return g_object_new (PT_TYPE_APPLICATION,
                       "application-id", application_id,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/peertunnel/PeerTunnel",
                       NULL);
}

PtProfileStore *
pt_application_get_store (PtApplication *self)
{
  return self->store;
}

GSettings *
pt_application_get_settings (PtApplication *self)
{
  return self->settings;
}

PtIdentity *
pt_application_get_identity (PtApplication *self)
{
  return self->identity;
}
