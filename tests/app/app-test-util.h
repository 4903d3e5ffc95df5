/* app-test-util.h — helpers shared by the app's widget tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

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
