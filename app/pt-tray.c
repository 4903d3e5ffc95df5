/* pt-tray.c — a StatusNotifierItem with a dbusmenu, over GDBus (no GTK 3)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The item (org.kde.StatusNotifierItem at /StatusNotifierItem) and its menu
 * (com.canonical.dbusmenu at /MenuBar) are exported on the session bus and
 * registered with org.kde.StatusNotifierWatcher whenever one appears.
 * Stock GNOME has no watcher: then nothing shows, and the app says how to get
 * back to it (see PtApplication). The menu is rebuilt from the profile list
 * on every change; ids: 1 "Show Window", 2 "Quit", 3 separator, 100 + n
 * the n-th tunnel.
 */
#define G_LOG_DOMAIN "pt-tray"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>
#include <unistd.h>

#include "pt-profile.h"
#include "pt-tray.h"

#define ITEM_PATH  "/StatusNotifierItem"
#define MENU_PATH  "/MenuBar"
#define WATCHER    "org.kde.StatusNotifierWatcher"

enum
{
  ID_ROOT = 0,
  ID_SHOW = 1,
  ID_QUIT = 2,
  ID_SEPARATOR = 3,
  ID_TUNNEL = 100,
};

static const char item_xml[] =
  "<node>"
  " <interface name='org.kde.StatusNotifierItem'>"
  "  <property name='Category' type='s' access='read'/>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='Title' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='IconName' type='s' access='read'/>"
  "  <property name='IconThemePath' type='s' access='read'/>"
  "  <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
  "  <property name='ItemIsMenu' type='b' access='read'/>"
  "  <property name='Menu' type='o' access='read'/>"
  "  <method name='Activate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='SecondaryActivate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='ContextMenu'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='Scroll'><arg type='i' direction='in'/><arg type='s' direction='in'/></method>"
  "  <signal name='NewStatus'><arg type='s'/></signal>"
  "  <signal name='NewToolTip'/>"
  " </interface>"
  "</node>";

static const char menu_xml[] =
  "<node>"
  " <interface name='com.canonical.dbusmenu'>"
  "  <property name='Version' type='u' access='read'/>"
  "  <property name='TextDirection' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='IconThemePath' type='as' access='read'/>"
  "  <method name='GetLayout'>"
  "   <arg type='i' direction='in'/><arg type='i' direction='in'/><arg type='as' direction='in'/>"
  "   <arg type='u' direction='out'/><arg type='(ia{sv}av)' direction='out'/>"
  "  </method>"
  "  <method name='GetGroupProperties'>"
  "   <arg type='ai' direction='in'/><arg type='as' direction='in'/>"
  "   <arg type='a(ia{sv})' direction='out'/>"
  "  </method>"
  "  <method name='GetProperty'>"
  "   <arg type='i' direction='in'/><arg type='s' direction='in'/><arg type='v' direction='out'/>"
  "  </method>"
  "  <method name='Event'>"
  "   <arg type='i' direction='in'/><arg type='s' direction='in'/><arg type='v' direction='in'/>"
  "   <arg type='u' direction='in'/>"
  "  </method>"
  "  <method name='EventGroup'>"
  "   <arg type='a(isvu)' direction='in'/><arg type='ai' direction='out'/>"
  "  </method>"
  "  <method name='AboutToShow'><arg type='i' direction='in'/><arg type='b' direction='out'/></method>"
  "  <method name='AboutToShowGroup'>"
  "   <arg type='ai' direction='in'/><arg type='ai' direction='out'/><arg type='ai' direction='out'/>"
  "  </method>"
  "  <signal name='LayoutUpdated'><arg type='u'/><arg type='i'/></signal>"
  "  <signal name='ItemsPropertiesUpdated'>"
  "   <arg type='a(ia{sv})'/><arg type='a(ias)'/>"
  "  </signal>"
  " </interface>"
  "</node>";

struct _PtTray
{
  GObject          parent_instance;

  GDBusConnection *connection;
  GActionGroup    *actions;
  GListModel      *profiles;
  char            *icon_name;
  char            *bus_name;
  guint            owner_id;
  guint            watch_id;
  guint            item_reg;
  guint            menu_reg;
  guint            revision;
  gboolean         host_available;
};

G_DEFINE_FINAL_TYPE (PtTray, pt_tray, G_TYPE_OBJECT)

static gboolean
any_running (PtTray *self)
{
  for (guint i = 0; i < g_list_model_get_n_items (self->profiles); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (self->profiles, i);

      if (pt_profile_get_running (profile))
        return TRUE;
    }
  return FALSE;
}

/* The menu */

static GVariant *
menu_item (int         id,
           const char *label,
           const char *type,
           int         toggle_state,
           GVariant   *children)
{
  GVariantBuilder props;

  g_variant_builder_init (&props, G_VARIANT_TYPE ("a{sv}"));
  if (label != NULL)
    g_variant_builder_add (&props, "{sv}", "label", g_variant_new_string (label));
  if (type != NULL)
    g_variant_builder_add (&props, "{sv}", "type", g_variant_new_string (type));
  if (toggle_state >= 0)
    {
      g_variant_builder_add (&props, "{sv}", "toggle-type", g_variant_new_string ("checkmark"));
      g_variant_builder_add (&props, "{sv}", "toggle-state", g_variant_new_int32 (toggle_state));
    }
  if (children != NULL)
    g_variant_builder_add (&props, "{sv}", "children-display", g_variant_new_string ("submenu"));
  return g_variant_new ("(ia{sv}@av)", id, &props,
                        children ? children : g_variant_new_array (G_VARIANT_TYPE_VARIANT, NULL, 0));
}

static GVariant *
menu_layout (PtTray *self)
{
  GVariantBuilder children;

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < g_list_model_get_n_items (self->profiles); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (self->profiles, i);
      const char *name = pt_profile_get_name (profile);

      g_variant_builder_add (&children, "v",
                             menu_item (ID_TUNNEL + i, name[0] ? name : _("Unnamed tunnel"), NULL,
                                        pt_profile_get_running (profile) ? 1 : 0, NULL));
    }
  if (g_list_model_get_n_items (self->profiles) > 0)
    g_variant_builder_add (&children, "v", menu_item (ID_SEPARATOR, NULL, "separator", -1, NULL));
  g_variant_builder_add (&children, "v", menu_item (ID_SHOW, _("Show Window"), NULL, -1, NULL));
  g_variant_builder_add (&children, "v", menu_item (ID_QUIT, _("Quit"), NULL, -1, NULL));
  return menu_item (ID_ROOT, NULL, NULL, -1, g_variant_builder_end (&children));
}

/* Finds item @id in the layout and returns its properties (a{sv}), or NULL. */
static GVariant *
item_properties (PtTray *self,
                 int     id)
{
  g_autoptr(GVariant) layout = g_variant_ref_sink (menu_layout (self));
  g_autoptr(GVariant) children = NULL;
  GVariantIter iter;
  GVariant *child;

  if (id == ID_ROOT)
    return g_variant_get_child_value (layout, 1);
  children = g_variant_get_child_value (layout, 2);
  g_variant_iter_init (&iter, children);
  while (g_variant_iter_next (&iter, "v", &child))
    {
      int child_id;

      g_variant_get_child (child, 0, "i", &child_id);
      if (child_id == id)
        {
          GVariant *props = g_variant_get_child_value (child, 1);

          g_variant_unref (child);
          return props;
        }
      g_variant_unref (child);
    }
  return NULL;
}

static void
menu_changed (PtTray *self)
{
  self->revision++;
  if (self->menu_reg != 0)
    g_dbus_connection_emit_signal (self->connection, NULL, MENU_PATH, "com.canonical.dbusmenu",
                                   "LayoutUpdated", g_variant_new ("(ui)", self->revision, 0), NULL);
  if (self->item_reg != 0)
    g_dbus_connection_emit_signal (self->connection, NULL, ITEM_PATH, "org.kde.StatusNotifierItem",
                                   "NewStatus",
                                   g_variant_new ("(s)", any_running (self) ? "Active" : "Passive"),
                                   NULL);
}

static void
menu_event (PtTray *self,
            int     id)
{
  switch (id)
    {
    case ID_SHOW:
      g_action_group_activate_action (self->actions, "show-window", NULL);
      return;
    case ID_QUIT:
      g_action_group_activate_action (self->actions, "quit", NULL);
      return;
    default:
      if (id >= ID_TUNNEL && (guint) (id - ID_TUNNEL) < g_list_model_get_n_items (self->profiles))
        {
          g_autoptr(PtProfile) profile = g_list_model_get_item (self->profiles, id - ID_TUNNEL);

          g_action_group_activate_action (self->actions, "toggle-tunnel",
                                          g_variant_new_string (pt_profile_get_id (profile)));
        }
    }
}

static void
menu_method (GDBusConnection       *connection,
             const char            *sender,
             const char            *path,
             const char            *interface,
             const char            *method,
             GVariant              *params,
             GDBusMethodInvocation *invocation,
             gpointer               user_data)
{
  PtTray *self = user_data;

  if (g_str_equal (method, "GetLayout"))
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(u@(ia{sv}av))", self->revision,
                                                          menu_layout (self)));
  else if (g_str_equal (method, "GetGroupProperties"))
    {
      g_autoptr(GVariantIter) ids = NULL;
      GVariantBuilder result;
      int id;

      g_variant_get (params, "(aias)", &ids, NULL);
      g_variant_builder_init (&result, G_VARIANT_TYPE ("a(ia{sv})"));
      while (g_variant_iter_next (ids, "i", &id))
        {
          GVariant *props = item_properties (self, id);

          if (props != NULL)
            g_variant_builder_add (&result, "(i@a{sv})", id, props);
          g_clear_pointer (&props, g_variant_unref);
        }
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(a(ia{sv}))", &result));
    }
  else if (g_str_equal (method, "GetProperty"))
    {
      int id;
      const char *name;
      g_autoptr(GVariant) props = NULL;
      g_autoptr(GVariant) value = NULL;

      g_variant_get (params, "(i&s)", &id, &name);
      props = item_properties (self, id);
      if (props != NULL)
        value = g_variant_lookup_value (props, name, NULL);
      if (value == NULL)
        g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                               "no property %s on item %d", name, id);
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(v)", value));
    }
  else if (g_str_equal (method, "Event"))
    {
      int id;
      const char *event;

      g_variant_get (params, "(i&svu)", &id, &event, NULL, NULL);
      g_dbus_method_invocation_return_value (invocation, NULL);
      if (g_str_equal (event, "clicked"))
        menu_event (self, id);
    }
  else if (g_str_equal (method, "EventGroup"))
    {
      g_autoptr(GVariantIter) events = NULL;
      int id;
      const char *event;
      GVariant *data;
      guint32 timestamp;

      g_variant_get (params, "(a(isvu))", &events);
      g_dbus_method_invocation_return_value (invocation, g_variant_new ("(@ai)",
                                             g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0)));
      while (g_variant_iter_next (events, "(&svu)", &id, &event, &data, &timestamp))
        {
          if (g_str_equal (event, "clicked"))
            menu_event (self, id);
          g_variant_unref (data);
        }
    }
  else if (g_str_equal (method, "AboutToShow"))
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(b)", FALSE));
  else if (g_str_equal (method, "AboutToShowGroup"))
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new ("(@ai@ai)",
                                                          g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0),
                                                          g_variant_new_array (G_VARIANT_TYPE_INT32, NULL, 0)));
  else
    g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                           "no method %s", method);
}

static GVariant *
menu_get_property (GDBusConnection  *connection,
                   const char       *sender,
                   const char       *path,
                   const char       *interface,
                   const char       *property,
                   GError          **error,
                   gpointer          user_data)
{
  if (g_str_equal (property, "Version"))
    return g_variant_new_uint32 (3);
  if (g_str_equal (property, "TextDirection"))
    return g_variant_new_string (gtk_get_locale_direction () == GTK_TEXT_DIR_RTL ? "rtl" : "ltr");
  if (g_str_equal (property, "Status"))
    return g_variant_new_string ("normal");
  if (g_str_equal (property, "IconThemePath"))
    return g_variant_new_strv (NULL, 0);
  return NULL;
}

/* The item */

static void
item_method (GDBusConnection       *connection,
             const char            *sender,
             const char            *path,
             const char            *interface,
             const char            *method,
             GVariant              *params,
             GDBusMethodInvocation *invocation,
             gpointer               user_data)
{
  PtTray *self = user_data;

  g_dbus_method_invocation_return_value (invocation, NULL);
  if (g_str_equal (method, "Activate") || g_str_equal (method, "SecondaryActivate"))
    g_action_group_activate_action (self->actions, "show-window", NULL);
}

static GVariant *
item_get_property (GDBusConnection  *connection,
                   const char       *sender,
                   const char       *path,
                   const char       *interface,
                   const char       *property,
                   GError          **error,
                   gpointer          user_data)
{
  PtTray *self = user_data;

  if (g_str_equal (property, "Category"))
    return g_variant_new_string ("Communications");
  if (g_str_equal (property, "Id") || g_str_equal (property, "Title"))
    return g_variant_new_string (g_str_equal (property, "Id") ? self->icon_name : "PeerTunnel");
  if (g_str_equal (property, "Status"))
    return g_variant_new_string (any_running (self) ? "Active" : "Passive");
  if (g_str_equal (property, "IconName"))
    return g_variant_new_string (self->icon_name);
  if (g_str_equal (property, "IconThemePath"))
    /* Running from a source checkout, the icon is not installed yet. */
    return g_variant_new_string (g_file_test (PT_SOURCE_DATA_DIR "/icons", G_FILE_TEST_IS_DIR)
                                 ? PT_SOURCE_DATA_DIR "/icons" : "");
  if (g_str_equal (property, "ToolTip"))
    return g_variant_new ("(s@a(iiay)ss)", self->icon_name,
                          g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0),
                          "PeerTunnel",
                          any_running (self) ? _("Tunnels are running") : _("No tunnel is running"));
  if (g_str_equal (property, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (property, "Menu"))
    return g_variant_new_object_path (MENU_PATH);
  return NULL;
}

/* Registration */

static void
registered_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(PtTray) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL)
    {
      g_debug ("the tray host refused the item: %s", error->message);
      return;
    }
  g_debug ("registered with the tray host");
  self->host_available = TRUE;
}

static void
watcher_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  PtTray *self = user_data;

  g_dbus_connection_call (connection, WATCHER, "/StatusNotifierWatcher", WATCHER,
                          "RegisterStatusNotifierItem", g_variant_new ("(s)", self->bus_name),
                          NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, registered_cb, g_object_ref (self));
}

static void
watcher_vanished (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  PtTray *self = user_data;

  self->host_available = FALSE;
}

static void
on_items_changed (PtTray *self)
{
  /* Follow each profile's name and running state. */
  for (guint i = 0; i < g_list_model_get_n_items (self->profiles); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (self->profiles, i);

      if (g_object_get_data (G_OBJECT (profile), "pt-tray") == NULL)
        {
          g_object_set_data (G_OBJECT (profile), "pt-tray", self);
          g_signal_connect_object (profile, "notify::running", G_CALLBACK (menu_changed), self,
                                   G_CONNECT_SWAPPED);
          g_signal_connect_object (profile, "notify::name", G_CALLBACK (menu_changed), self,
                                   G_CONNECT_SWAPPED);
        }
    }
  menu_changed (self);
}

static void
pt_tray_dispose (GObject *object)
{
  PtTray *self = PT_TRAY (object);

  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  g_clear_handle_id (&self->owner_id, g_bus_unown_name);
  if (self->item_reg != 0)
    g_dbus_connection_unregister_object (self->connection, self->item_reg);
  if (self->menu_reg != 0)
    g_dbus_connection_unregister_object (self->connection, self->menu_reg);
  self->item_reg = self->menu_reg = 0;
  if (self->profiles != NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (self->profiles); i++)
        {
          g_autoptr(GObject) profile = g_list_model_get_item (self->profiles, i);

          if (g_object_get_data (profile, "pt-tray") == self)
            g_object_set_data (profile, "pt-tray", NULL);
        }
      g_signal_handlers_disconnect_by_data (self->profiles, self);
    }
  g_clear_object (&self->profiles);
  g_clear_object (&self->actions);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (pt_tray_parent_class)->dispose (object);
}

static void
pt_tray_finalize (GObject *object)
{
  PtTray *self = PT_TRAY (object);

  g_free (self->icon_name);
  g_free (self->bus_name);
  G_OBJECT_CLASS (pt_tray_parent_class)->finalize (object);
}

static void
pt_tray_class_init (PtTrayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_tray_dispose;
  object_class->finalize = pt_tray_finalize;
}

static void
pt_tray_init (PtTray *self)
{
}

PtTray *
pt_tray_new (GDBusConnection *connection,
             const char      *icon_name,
             GActionGroup    *actions,
             GListModel      *profiles)
{
  static const GDBusInterfaceVTable item_vtable = { item_method, item_get_property, NULL, { 0 } };
  static const GDBusInterfaceVTable menu_vtable = { menu_method, menu_get_property, NULL, { 0 } };
  static GDBusNodeInfo *item_info, *menu_info;
  static guint counter;
  PtTray *self = g_object_new (PT_TYPE_TRAY, NULL);
  g_autoptr(GError) error = NULL;

  if (item_info == NULL)
    {
      item_info = g_dbus_node_info_new_for_xml (item_xml, NULL);
      menu_info = g_dbus_node_info_new_for_xml (menu_xml, NULL);
    }

  self->connection = g_object_ref (connection);
  self->icon_name = g_strdup (icon_name);
  self->actions = g_object_ref (actions);
  self->profiles = g_object_ref (profiles);
  self->bus_name = g_strdup_printf ("org.kde.StatusNotifierItem-%d-%u", (int) getpid (), ++counter);

  self->item_reg = g_dbus_connection_register_object (connection, ITEM_PATH, item_info->interfaces[0],
                                                      &item_vtable, self, NULL, &error);
  if (self->item_reg != 0)
    self->menu_reg = g_dbus_connection_register_object (connection, MENU_PATH, menu_info->interfaces[0],
                                                        &menu_vtable, self, NULL, &error);
  if (error != NULL)
    {
      g_debug ("no tray item: %s", error->message);
      return self;
    }

  g_signal_connect_swapped (profiles, "items-changed", G_CALLBACK (on_items_changed), self);
  on_items_changed (self);
  self->owner_id = g_bus_own_name_on_connection (connection, self->bus_name, G_BUS_NAME_OWNER_FLAGS_NONE,
                                                 NULL, NULL, NULL, NULL);
  self->watch_id = g_bus_watch_name_on_connection (connection, WATCHER, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   watcher_appeared, watcher_vanished, self, NULL);
  return self;
}

gboolean
pt_tray_get_host_available (PtTray *self)
{
  g_return_val_if_fail (PT_IS_TRAY (self), FALSE);
  return self->host_available;
}
