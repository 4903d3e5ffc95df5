/* app-test-util.h — helpers shared by the app's widget tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>
#include <stdlib.h>
#include <string.h>

/* Runs the default main context until @cond holds or @timeout_ms passes;
 * returns whether it held. Clicks and transitions animate for ~250 ms. */

static inline gboolean
spin_for_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return TRUE;
}

#define SPIN_UNTIL(cond, timeout_ms)                                      \
  G_STMT_START {                                                          \
    gint64 _end = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    while (!(cond) && g_get_monotonic_time () < _end)                     \
      if (!g_main_context_iteration (NULL, FALSE))                        \
        g_usleep (1000);                                                  \
  } G_STMT_END

/* Widgets of @type under @root, depth first (the list is owned by the caller). */
static inline void
collect_widgets (GtkWidget *root,
                 GType      type,
                 GPtrArray *out)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    g_ptr_array_add (out, root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    collect_widgets (child, type, out);
}

/* Waits for the windows that were destroyed to be finalized by GTK. */
static inline void
drain_main_context (void)
{
  spin_for_ms (50);
}

/* A desktop notification server stand-in (org.freedesktop.Notifications):
 * every Notify appends "SUMMARY\nBODY" to the GPtrArray of strings given to
 * app_test_export_notifications(). The caller owns the name. */
static inline void
app_test_notifications_method (GDBusConnection       *connection,
                               const char            *sender,
                               const char            *path,
                               const char            *interface,
                               const char            *method,
                               GVariant              *params,
                               GDBusMethodInvocation *invocation,
                               gpointer               user_data)
{
  GPtrArray *notified = user_data;

  if (g_str_equal (method, "Notify"))
    {
      const char *summary, *body;

      g_variant_get_child (params, 3, "&s", &summary);
      g_variant_get_child (params, 4, "&s", &body);
      g_ptr_array_add (notified, g_strdup_printf ("%s\n%s", summary, body));
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(u)", notified->len));
    }
  else if (g_str_equal (method, "GetCapabilities"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new_parsed ("(['body', 'actions'],)"));
  else if (g_str_equal (method, "GetServerInformation"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ssss)", "stand-in", "pt", "1", "1.2"));
  else
    g_dbus_method_invocation_return_value (invocation, NULL);
}

static inline void
app_test_export_notifications (GDBusConnection *bus,
                               GPtrArray       *notified)
{
  static const char xml[] =
    "<node><interface name='org.freedesktop.Notifications'>"
    " <method name='Notify'>"
    "  <arg type='s' direction='in'/><arg type='u' direction='in'/><arg type='s' direction='in'/>"
    "  <arg type='s' direction='in'/><arg type='s' direction='in'/><arg type='as' direction='in'/>"
    "  <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/><arg type='u' direction='out'/>"
    " </method>"
    " <method name='CloseNotification'><arg type='u' direction='in'/></method>"
    " <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
    " <method name='GetServerInformation'>"
    "  <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "  <arg type='s' direction='out'/><arg type='s' direction='out'/>"
    " </method>"
    " <signal name='NotificationClosed'><arg type='u'/><arg type='u'/></signal>"
    " <signal name='ActionInvoked'><arg type='u'/><arg type='s'/></signal>"
    "</interface></node>";
  static const GDBusInterfaceVTable vtable = { app_test_notifications_method, NULL, NULL, { 0 } };
  g_autoptr(GDBusNodeInfo) info = g_dbus_node_info_new_for_xml (xml, NULL);

  g_dbus_connection_register_object (bus, "/org/freedesktop/Notifications", info->interfaces[0],
                                     &vtable, notified, NULL, NULL);
}

/* The lines a child prints, gathered as they come (line_cb re-arms itself
 * until end of file). */
typedef struct
{
  GString  *text;
  gboolean  eof;
} Lines;

static inline void
line_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lines *lines = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, NULL);

  if (line == NULL)
    {
      lines->eof = TRUE;
      return;
    }
  g_string_append_printf (lines->text, "%s\n", line);
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL,
                                       line_cb, lines);
}

/* What the tests that talk to `pt` through a Nostr relay need: node and
 * tests/relay (with its packages), and the built pt. */
typedef struct
{
  char *node;
  char *relay_dir;
  char *relay_js;
  char *pt;
} RelayTools;

static inline void
relay_tools_clear (RelayTools *tools)
{
  g_clear_pointer (&tools->node, g_free);
  g_clear_pointer (&tools->relay_dir, g_free);
  g_clear_pointer (&tools->relay_js, g_free);
  g_clear_pointer (&tools->pt, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RelayTools, relay_tools_clear)

/* FALSE, with the test marked skipped and why, when one is missing. */
static inline gboolean
relay_tools_find (RelayTools *tools)
{
  const char *source_dir = g_getenv ("PT_SOURCE_DIR");
  const char *build_dir = g_getenv ("PT_BUILD_DIR");
  g_autofree char *modules = NULL;

  tools->node = g_find_program_in_path ("node");
  tools->relay_dir = source_dir ? g_build_filename (source_dir, "tests", "relay", NULL) : NULL;
  tools->relay_js = tools->relay_dir ? g_build_filename (tools->relay_dir, "relay.mjs", NULL) : NULL;
  tools->pt = build_dir ? g_build_filename (build_dir, "cli", "pt", NULL) : NULL;
  modules = tools->relay_dir ? g_build_filename (tools->relay_dir, "node_modules", NULL) : NULL;
  if (tools->node == NULL || modules == NULL || !g_file_test (modules, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("SKIP: no node or no tests/relay/node_modules (./scripts/test installs them)");
      return FALSE;
    }
  if (tools->pt == NULL || !g_file_test (tools->pt, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("SKIP: no pt executable (PT_BUILD_DIR)");
      return FALSE;
    }
  return TRUE;
}

/* Starts tests/relay/relay.mjs on a free loopback port; its stdout goes to
 * @lines. Returns its ws:// URL. */
static inline char *
start_relay (const RelayTools  *tools,
             Lines             *lines,
             GSubprocess      **relay,
             GDataInputStream **relay_out)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  const char *port;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_cwd (launcher, tools->relay_dir);
  *relay = g_subprocess_launcher_spawn (launcher, &error, tools->node, tools->relay_js, "0", NULL);
  g_assert_no_error (error);
  *relay_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (*relay));
  g_data_input_stream_read_line_async (*relay_out, G_PRIORITY_DEFAULT, NULL, line_cb, lines);
  SPIN_UNTIL (strstr (lines->text->str, "listening ") != NULL || lines->eof, 20000);
  port = strstr (lines->text->str, "listening ");
  g_assert_nonnull (port);
  return g_strdup_printf ("ws://127.0.0.1:%d", atoi (port + strlen ("listening ")));
}
