/* test-app-portal.c — "Start Hidden at Login" inside a Flatpak: the
 * Background portal instead of an autostart file
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs the real PtApplication (g_application_run) on gtk-test-runner's
 * private bus with PT_SANDBOX=flatpak, and flips the preference from its
 * "activate" signal. No autostart file may appear in any case.
 *
 * 1. No Background portal. Where Debian's xdg-desktop-portal is installed,
 *    this test starts the real one: without a desktop's backend (GNOME's or
 *    KDE's) it exports no org.freedesktop.portal.Background, which is what
 *    a session without one looks like. Elsewhere nothing owns the portal's
 *    name. Either way the switch goes back off and the user is told why.
 * 2–4. The real portal cannot grant or refuse here (that needs a desktop
 *    backend), so a STAND-IN of org.freedesktop.portal.Background, in this
 *    process, answers instead: it checks the request (autostart, the
 *    command line with --hidden, a reason, the handle token) and answers
 *    through the Request object's Response signal: granted (the switch
 *    stays on; turning it off asks again with autostart false), refused by
 *    the user (the switch goes back off, and the user is told), and refused
 *    on a Request path of the portal's own choosing (portals before 0.9):
 *    the app must follow that path to hear it.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-util.h"
#include "pt-application.h"

#define PORTAL_NAME "org.freedesktop.portal.Desktop"
#define PORTAL_PATH "/org/freedesktop/portal/desktop"
#define REAL_PORTAL "/usr/libexec/xdg-desktop-portal"

static GDBusConnection *bus;
static GPtrArray *notified;        /* "summary\nbody" received by the notification stand-in */
static int failures;
static guint tap_number;

/* The Background stand-in */
typedef enum
{
  ANSWER_GRANT,
  ANSWER_REFUSE,
} Answer;

static Answer answer;
static gboolean own_path;          /* answer on a Request path the app could not predict */
static GVariant *last_options;     /* of the last RequestBackground */
static guint requests;
static guint responses;

static void
tap (gboolean    ok,
     const char *what)
{
  g_print ("%s %u %s\n", ok ? "ok" : "not ok", ++tap_number, what);
  if (!ok)
    failures++;
}

static const char background_xml[] =
  "<node><interface name='org.freedesktop.portal.Background'>"
  " <method name='RequestBackground'>"
  "  <arg type='s' direction='in'/><arg type='a{sv}' direction='in'/><arg type='o' direction='out'/>"
  " </method>"
  " <property name='version' type='u' access='read'/>"
  "</interface></node>";

typedef struct
{
  char    *destination;
  char    *handle;
  gboolean autostart;
} PendingResponse;

static gboolean
send_response (gpointer user_data)
{
  PendingResponse *r = user_data;
  GVariantBuilder results;
  guint32 code = answer == ANSWER_REFUSE ? 1 : 0;

  g_variant_builder_init (&results, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&results, "{sv}", "background", g_variant_new_boolean (code == 0));
  g_variant_builder_add (&results, "{sv}", "autostart", g_variant_new_boolean (code == 0 && r->autostart));
  g_dbus_connection_emit_signal (bus, r->destination, r->handle, "org.freedesktop.portal.Request",
                                 "Response", g_variant_new ("(ua{sv})", code, &results), NULL);
  responses++;
  g_free (r->destination);
  g_free (r->handle);
  g_free (r);
  return G_SOURCE_REMOVE;
}

static void
background_method (GDBusConnection       *connection,
                   const char            *sender,
                   const char            *path,
                   const char            *interface,
                   const char            *method,
                   GVariant              *params,
                   GDBusMethodInvocation *invocation,
                   gpointer               user_data)
{
  PendingResponse *r = g_new0 (PendingResponse, 1);
  g_autofree char *name = g_strdup (sender + 1);
  const char *token = "";

  g_clear_pointer (&last_options, g_variant_unref);
  last_options = g_variant_get_child_value (params, 1);
  requests++;
  g_variant_lookup (last_options, "handle_token", "&s", &token);
  g_variant_lookup (last_options, "autostart", "b", &r->autostart);
  g_strdelimit (name, ".", '_');
  r->destination = g_strdup (sender);
  r->handle = own_path
              ? g_strdup_printf (PORTAL_PATH "/request/%s/old%u", name, requests)
              : g_strdup_printf (PORTAL_PATH "/request/%s/%s", name, token);
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(o)", r->handle));
  /* The user takes a moment to answer. */
  g_timeout_add (100, send_response, r);
}

static GVariant *
background_get_property (GDBusConnection  *connection,
                         const char       *sender,
                         const char       *path,
                         const char       *interface,
                         const char       *property,
                         GError          **error,
                         gpointer          user_data)
{
  return g_variant_new_uint32 (1);
}

static void
own_name (const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GError) error = NULL;
  guint32 result = 0;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "RequestName",
                                       g_variant_new ("(su)", name, 4 /* DO_NOT_QUEUE */),
                                       G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  g_variant_get (reply, "(u)", &result);
  g_assert_cmpuint (result, ==, 1 /* PRIMARY_OWNER */);
}

static gboolean
name_has_owner (const char *name)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean has = FALSE;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner", g_variant_new ("(s)", name),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has);
  return has;
}

static void
start_stand_ins (gboolean background)
{
  static const GDBusInterfaceVTable background_vtable = { background_method, background_get_property,
                                                          NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = NULL;

  if (!background)
    {
      app_test_export_notifications (bus, notified);
      own_name ("org.freedesktop.Notifications");
      return;
    }
  info = g_dbus_node_info_new_for_xml (background_xml, NULL);
  g_dbus_connection_register_object (bus, PORTAL_PATH, info->interfaces[0], &background_vtable,
                                     NULL, NULL, NULL);
  own_name (PORTAL_NAME);
}

/* The real xdg-desktop-portal, started by hand rather than by the bus: the
 * bus would hand it this test's G_DEBUG=fatal-warnings, and it warns. */
static GSubprocess *
start_real_portal (char **why_not)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) portal = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_test (REAL_PORTAL, G_FILE_TEST_IS_EXECUTABLE))
    {
      *why_not = g_strdup (REAL_PORTAL " is not installed (Debian package xdg-desktop-portal)");
      return NULL;
    }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  portal = g_subprocess_launcher_spawn (launcher, &error, REAL_PORTAL, "--replace", NULL);
  if (portal == NULL)
    {
      *why_not = g_strdup_printf ("cannot start " REAL_PORTAL ": %s", error->message);
      return NULL;
    }
  SPIN_UNTIL (name_has_owner (PORTAL_NAME), 10000);
  if (!name_has_owner (PORTAL_NAME))
    {
      *why_not = g_strdup (REAL_PORTAL " did not take its name within 10 s");
      g_subprocess_force_exit (portal);
      g_subprocess_wait (portal, NULL, NULL);
      return NULL;
    }
  return g_steal_pointer (&portal);
}

static gboolean
was_notified (const char *summary,
              const char *body)
{
  g_autofree char *wanted = g_strdup_printf ("%s\n%s", summary, body);

  for (guint i = 0; i < notified->len; i++)
    if (g_str_equal (g_ptr_array_index (notified, i), wanted))
      return TRUE;
  return FALSE;
}

static gboolean
no_autostart_file (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "autostart", NULL);
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);

  return listing == NULL || g_dir_read_name (listing) == NULL;
}

static gboolean
request_is_right (gboolean autostart)
{
  g_autofree const char **commandline = NULL;
  const char *reason = NULL, *token = NULL;
  gboolean asked = !autostart;

  if (last_options == NULL ||
      !g_variant_lookup (last_options, "autostart", "b", &asked) || asked != autostart ||
      !g_variant_lookup (last_options, "commandline", "^a&s", &commandline) ||
      !g_variant_lookup (last_options, "reason", "&s", &reason) || reason[0] == '\0' ||
      !g_variant_lookup (last_options, "handle_token", "&s", &token) || token[0] == '\0')
    {
      g_autofree char *text = last_options ? g_variant_print (last_options, TRUE) : g_strdup ("none");

      g_print ("# request: %s\n", text);
      return FALSE;
    }
  return g_strv_length ((char **) commandline) == 2 && g_str_equal (commandline[0], "peertunnel") &&
         g_str_equal (commandline[1], "--hidden");
}

static void
on_activate (PtApplication *app)
{
  static gboolean once;
  GSettings *settings = pt_application_get_settings (app);
  const char *summary = "PeerTunnel cannot start at login";
  g_autofree char *why_not = NULL;
  g_autoptr(GSubprocess) portal = NULL;

  if (once)
    return;
  once = TRUE;
  g_assert_nonnull (settings);

  /* 1. No Background portal: the real one, which has none here, or nobody. */
  portal = start_real_portal (&why_not);
  g_settings_set_boolean (settings, "start-hidden", TRUE);
  SPIN_UNTIL (!g_settings_get_boolean (settings, "start-hidden") && notified->len > 0, 15000);
  {
    g_autofree char *what = g_strdup_printf ("no Background portal (%s): the switch goes back off, "
                                             "the user is told, no autostart file",
                                             portal ? "the real xdg-desktop-portal, no desktop backend"
                                                    : why_not);
    gboolean ok = !g_settings_get_boolean (settings, "start-hidden") &&
                  was_notified (summary, "Starting at login needs the desktop’s background service "
                                         "(the Background portal of xdg-desktop-portal), which this "
                                         "session does not have.") &&
                  no_autostart_file ();

    if (!ok)
      for (guint i = 0; i < notified->len; i++)
        g_print ("# notified: %s\n", (char *) g_ptr_array_index (notified, i));
    tap (ok, what);
  }
  if (portal != NULL)
    {
      g_subprocess_send_signal (portal, SIGTERM);
      g_subprocess_wait (portal, NULL, NULL);
      SPIN_UNTIL (!name_has_owner (PORTAL_NAME), 5000);
    }
  g_ptr_array_set_size (notified, 0);

  /* 2. The stand-in grants; off asks again. */
  start_stand_ins (TRUE);
  answer = ANSWER_GRANT;
  g_settings_set_boolean (settings, "start-hidden", TRUE);
  SPIN_UNTIL (responses == 1, 5000);
  spin_for_ms (200);
  {
    gboolean ok = responses == 1 && request_is_right (TRUE) &&
                  g_settings_get_boolean (settings, "start-hidden") && notified->len == 0 &&
                  no_autostart_file ();

    g_settings_set_boolean (settings, "start-hidden", FALSE);
    SPIN_UNTIL (responses == 2, 5000);
    spin_for_ms (200);
    ok = ok && responses == 2 && request_is_right (FALSE) && notified->len == 0 && no_autostart_file ();
    tap (ok, "the portal grants: the request says autostart, “peertunnel --hidden” and why; the "
             "switch stays on; off asks again without autostart; no autostart file");
  }

  /* 3. The user says no. */
  answer = ANSWER_REFUSE;
  g_settings_set_boolean (settings, "start-hidden", TRUE);
  SPIN_UNTIL (responses == 3 && !g_settings_get_boolean (settings, "start-hidden") && notified->len > 0,
              5000);
  tap (responses == 3 && !g_settings_get_boolean (settings, "start-hidden") &&
       was_notified (summary, "You did not allow PeerTunnel to start at login.") && no_autostart_file (),
       "the user refuses: the switch goes back off and the user is told");

  /* 4. An older portal picks the Request path itself: only an app that
   * follows it hears the refusal. */
  own_path = TRUE;
  g_ptr_array_set_size (notified, 0);
  g_settings_set_boolean (settings, "start-hidden", TRUE);
  SPIN_UNTIL (responses == 4 && !g_settings_get_boolean (settings, "start-hidden") && notified->len > 0,
              5000);
  tap (responses == 4 && request_is_right (TRUE) && !g_settings_get_boolean (settings, "start-hidden") &&
       was_notified (summary, "You did not allow PeerTunnel to start at login.") && no_autostart_file (),
       "the answer on a Request path of the portal's choosing is heard");

  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(PtApplication) app = NULL;
  char *args[] = { argv[0], NULL };
  int status;

  /* TAP by hand: g_application_run drives the test. */
  if (!g_str_has_prefix (g_get_user_config_dir (), g_get_tmp_dir ()))
    {
      g_print ("1..0 # SKIP XDG_CONFIG_HOME is not a temporary folder: run through gtk-test-runner\n");
      return 0;
    }
  g_print ("1..4\n");
  /* Before anything asks: pt-sandbox decides once. */
  g_setenv ("PT_SANDBOX", "flatpak", TRUE);
  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_assert_nonnull (bus);
  notified = g_ptr_array_new_with_free_func (g_free);
  start_stand_ins (FALSE);

  app = pt_application_new ("io.github.peertunnel.PeerTunnel.PortalTest");
  g_signal_connect_after (app, "activate", G_CALLBACK (on_activate), NULL);
  status = g_application_run (G_APPLICATION (app), 1, args);

  if (tap_number != 4)
    {
      g_print ("not ok %u the app ran the checks (exit %d)\n", ++tap_number, status);
      failures++;
    }
  g_clear_pointer (&last_options, g_variant_unref);
  g_ptr_array_unref (notified);
  return failures == 0 && status == 0 ? 0 : 1;
}
