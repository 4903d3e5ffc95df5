/* pt-tray.c — a StatusNotifierItem with a dbusmenu, over GDBus (no GTK 3)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The item (org.kde.StatusNotifierItem at /StatusNotifierItem) and its menu
 * (com.canonical.dbusmenu at /MenuBar) are exported on the session bus and
 * registered with org.kde.StatusNotifierWatcher whenever one appears, by the
 * connection's unique name: no well-known org.kde.StatusNotifierItem-PID-N
 * name is owned, since a Flatpak sandbox refuses those, and watchers take
 * the unique name everywhere, so there is one way for both.
 * Stock GNOME has no watcher: then nothing shows, and the app says how to get
 * back to it (see PtApplication). The menu is rebuilt from the profile list
 * on every change; ids: 1 "Show Window", 2 "Quit", 3 and 4 separators, 6 "New
 * Tunnel…", 7 "Preferences", 1000 + 2n the n-th tunnel (a checkmark, its
 * state in the label), 1000 + 2n + 1 its "Copy Address" while it is up.
 * Hosts click with Event or, batched, with EventGroup (gtk-sni-tray's
 * libdbusmenu does); both reach menu_event().
 *
 * The icon says the overall state with symbolic icons of our own (off,
 * connecting, up, failed: a failure shows before anything else), the tooltip
 * how many tunnels are up; NewIcon, NewToolTip and NewStatus tell the host.
 * A watcher that appears (again) or a host that registers with it gets the
 * item registered again.
 */
#define G_LOG_DOMAIN "pt-tray"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include <pt.h>
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
  ID_SEPARATOR_2 = 4,
  ID_NEW = 6,
  ID_PREFERENCES = 7,
  ID_TUNNEL = 1000,
};

typedef enum
{
  TRAY_OFF,
  TRAY_WAITING,
  TRAY_CONNECTING,
  TRAY_UP,
  TRAY_FAILED,
} TrayState;

static const char item_xml[] =
  "<node>"
  " <interface name='org.kde.StatusNotifierItem'>"
  "  <property name='Category' type='s' access='read'/>"
  "  <property name='Id' type='s' access='read'/>"
  "  <property name='Title' type='s' access='read'/>"
  "  <property name='Status' type='s' access='read'/>"
  "  <property name='IconName' type='s' access='read'/>"
  "  <property name='IconThemePath' type='s' access='read'/>"
  "  <property name='IconPixmap' type='a(iiay)' access='read'/>"
  "  <property name='OverlayIconName' type='s' access='read'/>"
  "  <property name='AttentionIconName' type='s' access='read'/>"
  "  <property name='WindowId' type='i' access='read'/>"
  "  <property name='ToolTip' type='(sa(iiay)ss)' access='read'/>"
  "  <property name='ItemIsMenu' type='b' access='read'/>"
  "  <property name='Menu' type='o' access='read'/>"
  "  <method name='Activate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='SecondaryActivate'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='ContextMenu'><arg type='i' direction='in'/><arg type='i' direction='in'/></method>"
  "  <method name='Scroll'><arg type='i' direction='in'/><arg type='s' direction='in'/></method>"
  "  <signal name='NewStatus'><arg type='s'/></signal>"
  "  <signal name='NewIcon'/>"
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
  GListModel      *services;       /* of PtService */
  char            *icon_name;
  guint            watch_id;
  guint            host_signal;
  guint            retry_id;       /* registering again, the watcher was not ready */
  guint            attempts;
  gboolean         watcher_present;
  char            *last_icon;
  guint            item_reg;
  guint            menu_reg;
  guint            revision;
  gboolean         host_available;
};

G_DEFINE_FINAL_TYPE (PtTray, pt_tray, G_TYPE_OBJECT)

static TrayState
service_state (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);
  gboolean server = pt_profile_get_role (pt_service_get_profile (service)) == PT_TUNNEL_ROLE_SERVER;

  if (!pt_service_get_running (service))
    return pt_service_get_error (service) != NULL ||
           (tunnel != NULL && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED)
           ? TRAY_FAILED : TRAY_OFF;
  if (tunnel == NULL)
    return server ? TRAY_WAITING : TRAY_CONNECTING;
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      return TRAY_UP;
    case PT_TUNNEL_STATE_FAILED:
      return TRAY_FAILED;
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_CLOSED:
      return server ? TRAY_WAITING : TRAY_CONNECTING;
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
      return TRAY_WAITING;
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
  return TRAY_CONNECTING;
}

static const char *
state_label (TrayState state)
{
  switch (state)
    {
    /* Translators: the states of a tunnel in the tray menu, after its name */
    case TRAY_OFF:        return _("Off");
    case TRAY_WAITING:    return _("Waiting for the other computer");
    case TRAY_CONNECTING: return _("Connecting");
    case TRAY_UP:         return _("Up");
    case TRAY_FAILED:     return _("Failed");
    }
  return "";
}

static gboolean
any_running (PtTray *self)
{
  for (guint i = 0; i < g_list_model_get_n_items (self->services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (self->services, i);

      if (pt_service_get_running (service))
        return TRUE;
    }
  return FALSE;
}

static guint
count_up (PtTray *self)
{
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (self->services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (self->services, i);

      n += service_state (service) == TRAY_UP;
    }
  return n;
}

/* Failed shows before up, up before connecting. A failure is only what
 * profiles still running report, or what stopped one by itself. */
static const char *
icon_for_state (PtTray *self)
{
  gboolean failed = FALSE, up = FALSE, busy = FALSE;

  for (guint i = 0; i < g_list_model_get_n_items (self->services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (self->services, i);

      switch (service_state (service))
        {
        case TRAY_FAILED:     failed = TRUE; break;
        case TRAY_UP:         up = TRUE; break;
        case TRAY_WAITING:
        case TRAY_CONNECTING: busy = TRUE; break;
        case TRAY_OFF:        break;
        }
    }
  if (failed)
    return "io.github.peertunnel.PeerTunnel-failed-symbolic";
  if (up)
    return "io.github.peertunnel.PeerTunnel-up-symbolic";
  if (busy)
    return "io.github.peertunnel.PeerTunnel-connecting-symbolic";
  return "io.github.peertunnel.PeerTunnel-off-symbolic";
}

static char *
tooltip_text (PtTray *self)
{
  guint up = count_up (self);

  if (up == 0)
    return g_strdup (any_running (self) ? _("No tunnel is up yet") : _("No tunnel is running"));
  /* Translators: the tray icon's tooltip */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u tunnel is up", "%u tunnels are up", up), up);
}

/* dbusmenu labels take "_" as a mnemonic: a name shows as typed. */
static char *
escape_mnemonic (const char *text)
{
  GString *escaped = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (*p == '_')
        g_string_append_c (escaped, '_');
      g_string_append_c (escaped, *p);
    }
  return g_string_free (escaped, FALSE);
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
  guint n = g_list_model_get_n_items (self->services);

  g_variant_builder_init (&children, G_VARIANT_TYPE ("av"));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (self->services, i);
      const char *name = pt_profile_get_name (pt_service_get_profile (service));
      TrayState state = service_state (service);
      g_autofree char *escaped = escape_mnemonic (name[0] ? name : _("Unnamed tunnel"));
      /* Translators: a tunnel in the tray menu, "Office SSH — Up" */
      g_autofree char *label = g_strdup_printf (_("%s — %s"), escaped, state_label (state));
      g_autofree char *address = NULL;

      g_variant_builder_add (&children, "v",
                             menu_item (ID_TUNNEL + 2 * i, label, NULL,
                                        pt_service_get_running (service) ? 1 : 0, NULL));
      if (state == TRAY_UP && (address = pt_service_dup_local_address (service)) != NULL)
        {
          g_autofree char *escaped_address = escape_mnemonic (address);
          /* Translators: %s is an address such as 127.0.0.1:2222 */
          g_autofree char *copy = g_strdup_printf (_("Copy Address %s"), escaped_address);

          g_variant_builder_add (&children, "v", menu_item (ID_TUNNEL + 2 * i + 1, copy, NULL, -1, NULL));
        }
    }
  if (n > 0)
    g_variant_builder_add (&children, "v", menu_item (ID_SEPARATOR, NULL, "separator", -1, NULL));
  g_variant_builder_add (&children, "v", menu_item (ID_NEW, _("New Tunnel…"), NULL, -1, NULL));
  g_variant_builder_add (&children, "v", menu_item (ID_PREFERENCES, _("Preferences"), NULL, -1, NULL));
  g_variant_builder_add (&children, "v", menu_item (ID_SEPARATOR_2, NULL, "separator", -1, NULL));
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
  const char *icon = icon_for_state (self);

  self->revision++;
  if (self->menu_reg != 0)
    g_dbus_connection_emit_signal (self->connection, NULL, MENU_PATH, "com.canonical.dbusmenu",
                                   "LayoutUpdated", g_variant_new ("(ui)", self->revision, 0), NULL);
  if (self->item_reg == 0)
    return;
  g_dbus_connection_emit_signal (self->connection, NULL, ITEM_PATH, "org.kde.StatusNotifierItem",
                                 "NewStatus",
                                 g_variant_new ("(s)", any_running (self) ? "Active" : "Passive"),
                                 NULL);
  if (g_strcmp0 (icon, self->last_icon) != 0)
    {
      g_free (self->last_icon);
      self->last_icon = g_strdup (icon);
      g_dbus_connection_emit_signal (self->connection, NULL, ITEM_PATH, "org.kde.StatusNotifierItem",
                                     "NewIcon", NULL, NULL);
    }
  g_dbus_connection_emit_signal (self->connection, NULL, ITEM_PATH, "org.kde.StatusNotifierItem",
                                 "NewToolTip", NULL, NULL);
}

static void
copy_address (PtService *service)
{
  g_autofree char *address = pt_service_dup_local_address (service);
  GdkDisplay *display = gdk_display_get_default ();

  if (address != NULL && display != NULL)
    gdk_clipboard_set_text (gdk_display_get_clipboard (display), address);
}

/* FALSE when there is no item @id. */
static gboolean
menu_event (PtTray     *self,
            int         id,
            const char *event)
{
  guint n = g_list_model_get_n_items (self->services);

  if (id != ID_ROOT && id != ID_SHOW && id != ID_QUIT && id != ID_NEW && id != ID_PREFERENCES &&
      id != ID_SEPARATOR && id != ID_SEPARATOR_2 &&
      (id < ID_TUNNEL || (guint) (id - ID_TUNNEL) / 2 >= n))
    return FALSE;
  if (!g_str_equal (event, "clicked"))
    return TRUE;
  switch (id)
    {
    case ID_SHOW:
      g_action_group_activate_action (self->actions, "show-window", NULL);
      break;
    case ID_QUIT:
      g_action_group_activate_action (self->actions, "quit", NULL);
      break;
    case ID_NEW:
      g_action_group_activate_action (self->actions, "new-tunnel", NULL);
      break;
    case ID_PREFERENCES:
      g_action_group_activate_action (self->actions, "preferences", NULL);
      break;
    default:
      if (id >= ID_TUNNEL)
        {
          g_autoptr(PtService) service = g_list_model_get_item (self->services, (id - ID_TUNNEL) / 2);
          PtProfile *profile = pt_service_get_profile (service);

          if ((id - ID_TUNNEL) % 2 == 1)
            copy_address (service);
          else
            g_action_group_activate_action (self->actions, "toggle-tunnel",
                                            g_variant_new_string (pt_profile_get_id (profile)));
        }
    }
  return TRUE;
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
      if (!menu_event (self, id, event))
        g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                               "no menu item %d", id);
      else
        g_dbus_method_invocation_return_value (invocation, NULL);
    }
  else if (g_str_equal (method, "EventGroup"))
    {
      /* Each (id, event, data, timestamp); the answer lists the ids not found. */
      g_autoptr(GVariantIter) events = NULL;
      GVariantBuilder not_found;
      int id;
      const char *event;
      gsize found = 0, total;

      g_variant_get (params, "(a(isvu))", &events);
      total = g_variant_iter_n_children (events);
      g_variant_builder_init (&not_found, G_VARIANT_TYPE ("ai"));
      while (g_variant_iter_next (events, "(i&svu)", &id, &event, NULL, NULL))
        {
          if (menu_event (self, id, event))
            found++;
          else
            g_variant_builder_add (&not_found, "i", id);
        }
      /* The specification: an error only when none of the ids was found. */
      if (found == 0 && total > 0)
        {
          g_variant_builder_clear (&not_found);
          g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
                                                 "none of the menu items exists");
        }
      else
        g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ai)", &not_found));
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
    return g_variant_new_string (icon_for_state (self));
  if (g_str_equal (property, "IconThemePath"))
    /* Running from a source checkout, the icon is not installed yet. */
    return g_variant_new_string (g_file_test (PT_SOURCE_DATA_DIR "/icons", G_FILE_TEST_IS_DIR)
                                 ? PT_SOURCE_DATA_DIR "/icons" : "");
  if (g_str_equal (property, "ToolTip"))
    {
      g_autofree char *text = tooltip_text (self);

      return g_variant_new ("(s@a(iiay)ss)", icon_for_state (self),
                            g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0),
                            "PeerTunnel", text);
    }
  /* Hosts ask for these too; the icon is always a name. */
  if (g_str_equal (property, "IconPixmap"))
    return g_variant_new_array (G_VARIANT_TYPE ("(iiay)"), NULL, 0);
  if (g_str_equal (property, "OverlayIconName") || g_str_equal (property, "AttentionIconName"))
    return g_variant_new_string ("");
  if (g_str_equal (property, "WindowId"))
    return g_variant_new_int32 (0);
  if (g_str_equal (property, "ItemIsMenu"))
    return g_variant_new_boolean (FALSE);
  if (g_str_equal (property, "Menu"))
    return g_variant_new_object_path (MENU_PATH);
  return NULL;
}

/* Registration */

static void
host_checked_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(PtTray) self = user_data;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, NULL);
  g_autoptr(GVariant) value = NULL;

  /* A watcher that cannot say is taken at its word. */
  if (reply != NULL)
    g_variant_get (reply, "(v)", &value);
  self->host_available = value == NULL || !g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN) ||
                         g_variant_get_boolean (value);
  g_debug ("registered with the watcher, %s", self->host_available ? "a host shows it" : "no host yet");
}

static void register_item (PtTray *self);

static gboolean
retry_register (gpointer user_data)
{
  PtTray *self = user_data;

  self->retry_id = 0;
  register_item (self);
  return G_SOURCE_REMOVE;
}

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
      /* A watcher that has just taken its name may not have exported its
       * object yet (status-notifier-watcher, restarted): ask again, a few
       * times, sooner first. */
      if (self->watcher_present && self->retry_id == 0 && self->attempts < 8 &&
          !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        self->retry_id = g_timeout_add (50 << self->attempts++, retry_register, self);
      return;
    }
  self->attempts = 0;
  /* The icon shows only where a host is registered with the watcher. */
  g_dbus_connection_call (self->connection, WATCHER, "/StatusNotifierWatcher",
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", WATCHER, "IsStatusNotifierHostRegistered"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, 5000, NULL,
                          host_checked_cb, g_object_ref (self));
}

static void
register_item (PtTray *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  /* The item lives at ITEM_PATH, the path watchers assume with a bus name. */
  const char *unique_name = g_dbus_connection_get_unique_name (self->connection);

  g_debug ("registering the item as %s with the tray host", unique_name);
  g_dbus_connection_call (self->connection, WATCHER, "/StatusNotifierWatcher", WATCHER,
                          "RegisterStatusNotifierItem", g_variant_new ("(s)", unique_name),
                          NULL, G_DBUS_CALL_FLAGS_NONE, 5000, NULL, registered_cb, g_object_ref (self));
}

/* A host that comes after the item may have a watcher that forgot it. */
static void
host_registered (GDBusConnection *connection,
                 const char      *sender,
                 const char      *path,
                 const char      *interface,
                 const char      *signal,
                 GVariant        *params,
                 gpointer         user_data)
{
  register_item (PT_TRAY (user_data));
}

static void
watcher_appeared (GDBusConnection *connection,
                  const char      *name,
                  const char      *owner,
                  gpointer         user_data)
{
  PtTray *self = user_data;

  self->watcher_present = TRUE;
  self->attempts = 0;
  register_item (self);
}

static void
watcher_vanished (GDBusConnection *connection,
                  const char      *name,
                  gpointer         user_data)
{
  PtTray *self = user_data;

  self->host_available = FALSE;
  self->watcher_present = FALSE;
  g_clear_handle_id (&self->retry_id, g_source_remove);
}

static void
follow_tunnel (PtTray    *self,
               PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  if (tunnel != NULL && g_object_get_data (G_OBJECT (tunnel), "pt-tray") == NULL)
    {
      g_object_set_data (G_OBJECT (tunnel), "pt-tray", self);
      g_signal_connect_object (tunnel, "notify::state", G_CALLBACK (menu_changed), self,
                               G_CONNECT_SWAPPED);
    }
}

static void
on_tunnel_changed (PtTray     *self,
                   GParamSpec *pspec,
                   PtService  *service)
{
  follow_tunnel (self, service);
  menu_changed (self);
}

static void
on_items_changed (PtTray *self)
{
  /* Follow each profile's name and its service's running state. */
  for (guint i = 0; i < g_list_model_get_n_items (self->services); i++)
    {
      g_autoptr(PtService) service = g_list_model_get_item (self->services, i);

      if (g_object_get_data (G_OBJECT (service), "pt-tray") == NULL)
        {
          g_object_set_data (G_OBJECT (service), "pt-tray", self);
          g_signal_connect_object (service, "notify::running", G_CALLBACK (menu_changed), self,
                                   G_CONNECT_SWAPPED);
          g_signal_connect_object (pt_service_get_profile (service), "notify::name",
                                   G_CALLBACK (menu_changed), self, G_CONNECT_SWAPPED);
          g_signal_connect_object (service, "notify::error", G_CALLBACK (menu_changed), self,
                                   G_CONNECT_SWAPPED);
          g_signal_connect_object (service, "notify::tunnel", G_CALLBACK (on_tunnel_changed), self,
                                   G_CONNECT_SWAPPED);
          follow_tunnel (self, service);
        }
    }
  menu_changed (self);
}

static void
pt_tray_dispose (GObject *object)
{
  PtTray *self = PT_TRAY (object);

  g_clear_handle_id (&self->watch_id, g_bus_unwatch_name);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->host_signal != 0)
    g_dbus_connection_signal_unsubscribe (self->connection, self->host_signal);
  self->host_signal = 0;
  if (self->item_reg != 0)
    g_dbus_connection_unregister_object (self->connection, self->item_reg);
  if (self->menu_reg != 0)
    g_dbus_connection_unregister_object (self->connection, self->menu_reg);
  self->item_reg = self->menu_reg = 0;
  if (self->services != NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (self->services); i++)
        {
          g_autoptr(GObject) service = g_list_model_get_item (self->services, i);

          if (g_object_get_data (service, "pt-tray") == self)
            g_object_set_data (service, "pt-tray", NULL);
        }
      g_signal_handlers_disconnect_by_data (self->services, self);
    }
  g_clear_object (&self->services);
  g_clear_object (&self->actions);
  g_clear_object (&self->connection);
  G_OBJECT_CLASS (pt_tray_parent_class)->dispose (object);
}

static void
pt_tray_finalize (GObject *object)
{
  PtTray *self = PT_TRAY (object);

  g_free (self->icon_name);
  g_free (self->last_icon);
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
             GListModel      *services)
{
  static const GDBusInterfaceVTable item_vtable = { item_method, item_get_property, NULL, { 0 } };
  static const GDBusInterfaceVTable menu_vtable = { menu_method, menu_get_property, NULL, { 0 } };
  static GDBusNodeInfo *item_info, *menu_info;
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
  self->services = g_object_ref (services);

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

  g_signal_connect_swapped (services, "items-changed", G_CALLBACK (on_items_changed), self);
  on_items_changed (self);
  /* on_items_changed() may have set it already. */
  g_free (self->last_icon);
  self->last_icon = g_strdup (icon_for_state (self));
  self->host_signal = g_dbus_connection_signal_subscribe (connection, NULL, WATCHER,
                                                          "StatusNotifierHostRegistered",
                                                          "/StatusNotifierWatcher", NULL,
                                                          G_DBUS_SIGNAL_FLAGS_NONE,
                                                          host_registered, self, NULL);
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
