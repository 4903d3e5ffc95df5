/* pt-tunnel-row.c — one tunnel in the main list: live state, counters, a switch
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout in ui/pt-tunnel-row.ui. The row shows a profile's name and its
 * service's state: it follows the service's "tunnel" (a GSignalGroup moves
 * with it), that tunnel's state and path kind, and a server's sessions. Byte counters change with every
 * packet, so a change only schedules a refresh at most twice a second.
 */
#define G_LOG_DOMAIN "pt-tunnel-row"

#include "config.h"

#include <glib/gi18n.h>

#include "pt-tunnel-row.h"
#include "pt-session-row.h"
#include "pt-error-text.h"

struct _PtTunnelRow
{
  AdwActionRow  parent_instance;

  PtService    *service;
  PtProfile    *profile;          /* the service's */
  GSignalGroup *tunnel_signals;   /* on the service's current tunnel */
  GtkSwitch    *toggle;
  GtkWidget    *pair_button;
  GtkWidget    *sessions_button;  /* serving: "3 computers", a popover listing them */
  GtkListBox   *sessions_list;
  GtkWidget    *menu_button;
  guint         refresh_id;
  gboolean      updating;
};

G_DEFINE_FINAL_TYPE (PtTunnelRow, pt_tunnel_row, ADW_TYPE_ACTION_ROW)

const char *
pt_describe_path_kind (PtPathKind kind)
{
  switch (kind)
    {
    case PT_PATH_KIND_HOST:  return _("direct, same network");
    case PT_PATH_KIND_SRFLX: return _("direct, through NAT");
    case PT_PATH_KIND_PRFLX: return _("direct, through NAT");
    case PT_PATH_KIND_RELAY: return _("relayed through TURN");
    case PT_PATH_KIND_NONE:  return NULL;
    }
  return NULL;
}

/* "10.77.0.2/24 on ptvpn0 · routes 10.78.0.0/16", or NULL before the device exists. */
static char *
describe_vpn_device (PtService *service)
{
  PtProfile *profile = pt_service_get_profile (service);
  const char *device = pt_service_get_vpn_device (service);
  const char *address6 = pt_service_get_vpn_address6 (service);
  const char * const *routes = pt_profile_get_vpn_routes (profile);
  g_autofree char *addresses = NULL;
  g_autofree char *route_list = NULL;

  if (device == NULL)
    return NULL;
  addresses = address6 ? g_strdup_printf ("%s, %s", pt_service_get_vpn_address (service), address6)
                       : g_strdup (pt_service_get_vpn_address (service));
  if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER || routes[0] == NULL)
    /* Translators: "10.77.0.2/24 on ptvpn0" (an address and a network device) */
    return g_strdup_printf (_("%s on %s"), addresses, device);
  route_list = g_strjoinv (", ", (char **) routes);
  /* Translators: "10.77.0.2/24 on ptvpn0 · routes 10.78.0.0/16, 192.168.5.0/24" */
  return g_strdup_printf (_("%s on %s · routes %s"), addresses, device, route_list);
}

static char *
describe_vpn_state (PtService *service)
{
  PtProfile *profile = pt_service_get_profile (service);
  PtTunnel *tunnel = pt_service_get_tunnel (service);
  gboolean server = pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER;
  g_autofree char *device = describe_vpn_device (service);
  const GError *error = pt_service_get_error (service);

  if (!pt_service_get_running (service))
    /* Translators: %s says why, e.g. "authorization was refused" */
    {
      g_autofree char *why = error ? pt_describe_error (error) : NULL;

      return why ? g_strdup_printf (_("Failed: %s"), why) : g_strdup (_("Off"));
    }
  if (pt_service_get_vpn_authorizing (service))
    return g_strdup (_("Waiting for authorization to create the VPN device"));
  if (server)
    {
      if (device == NULL)
        return g_strdup (_("Starting the VPN"));
      /* Translators: %s is "10.77.0.1/24 on ptvpn0" */
      return g_strdup_printf (_("VPN %s · waiting for computers through Nostr relays"), device);
    }
  if (tunnel == NULL)
    return g_strdup (_("Asking the VPN server through Nostr relays"));
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      {
        g_autofree char *sent = g_format_size (pt_tunnel_get_bytes_sent (tunnel));
        g_autofree char *received = g_format_size (pt_tunnel_get_bytes_received (tunnel));

        if (device == NULL)
          return g_strdup (_("Setting up the VPN device"));
        /* Translators: "Up, VPN 10.77.0.2/24 on ptvpn0 · ↑ 1.2 MB ↓ 3.4 MB" */
        return g_strdup_printf (_("Up, VPN %s · ↑ %s ↓ %s"), device, sent, received);
      }
    case PT_TUNNEL_STATE_CLOSED:
    case PT_TUNNEL_STATE_FAILED:
      {
        const GError *closed = pt_tunnel_get_error (tunnel);
        g_autofree char *why = closed ? pt_describe_error (closed) : NULL;

        if (device != NULL)
          /* Translators: "Reconnecting (keeps 10.77.0.2/24 on ptvpn0): <reason>" */
          return g_strdup_printf (_("Reconnecting (keeps %s): %s"), device,
                                  why ? why : _("the tunnel closed"));
        return g_strdup_printf (_("Trying again: %s"), why ? why : _("unknown reason"));
      }
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
  return device ? g_strdup_printf (_("Reconnecting (keeps %s)"), device)
                : g_strdup (_("Connecting to the VPN server"));
}

char *
pt_describe_service_state (PtService *service)
{
  PtProfile *profile = pt_service_get_profile (service);
  PtTunnel *tunnel = pt_service_get_tunnel (service);
  gboolean server = pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER;

  if (pt_profile_get_mode (profile) == PT_PROFILE_MODE_VPN)
    return describe_vpn_state (service);
  gboolean manual = pt_profile_get_mode (profile) == PT_PROFILE_MODE_MANUAL;

  if (tunnel == NULL)
    return g_strdup (!pt_service_get_running (service) ? _("Off")
                     : manual ? _("Waiting for the other computer’s offer")
                     : server ? _("Waiting for a computer to connect through Nostr relays")
                              : _("Asking the other computer through Nostr relays"));
  /* Serving by copy-paste: a client left, the next one may come. */
  if (pt_service_get_running (service) && manual && server &&
      pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_CLOSED)
    return g_strdup (_("Waiting for the other computer’s offer"));

  if (pt_service_get_running (service) && pt_profile_get_mode (profile) == PT_PROFILE_MODE_NOSTR)
    {
      g_autofree char *why = pt_describe_error (pt_tunnel_get_error (tunnel));

      switch (pt_tunnel_get_state (tunnel))
        {
        case PT_TUNNEL_STATE_CLOSED:
          return g_strdup (server ? _("Waiting for a computer to connect through Nostr relays")
                                  : _("Reconnecting"));
        case PT_TUNNEL_STATE_FAILED:
          /* Translators: %s says why the last attempt failed */
          return g_strdup_printf (_("Trying again: %s"), why);
        case PT_TUNNEL_STATE_NEW:
        case PT_TUNNEL_STATE_GATHERING:
        case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
        case PT_TUNNEL_STATE_CHECKING:
        case PT_TUNNEL_STATE_HANDSHAKE:
        case PT_TUNNEL_STATE_UP:
          break;
        }
    }

  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_NEW:
      return g_strdup (server ? _("Waiting for the other computer’s offer") : _("Starting"));
    case PT_TUNNEL_STATE_GATHERING:
      return g_strdup (_("Finding this computer’s addresses"));
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
      return g_strdup (_("Waiting for the other computer’s answer"));
    case PT_TUNNEL_STATE_CHECKING:
      return g_strdup (_("Connecting"));
    case PT_TUNNEL_STATE_HANDSHAKE:
      return g_strdup (_("Securing the connection"));
    case PT_TUNNEL_STATE_UP:
      {
        g_autofree char *sent = g_format_size (pt_tunnel_get_bytes_sent (tunnel));
        g_autofree char *received = g_format_size (pt_tunnel_get_bytes_received (tunnel));
        g_autofree char *address = pt_service_dup_local_address (service);
        const char *path = pt_describe_path_kind (pt_tunnel_get_path_kind (tunnel));
        g_autofree char *where = address
          /* Translators: %s is an address such as 127.0.0.1:2222 */
          ? g_strdup_printf (_(" · connect to %s"), address) : g_strdup ("");

        /* Translators: "Up, direct, through NAT · ↑ 1.2 MB ↓ 3.4 MB · connect to 127.0.0.1:2222" */
        return g_strdup_printf (_("Up, %s · ↑ %s ↓ %s%s"), path ? path : _("connected"),
                                sent, received, where);
      }
    case PT_TUNNEL_STATE_CLOSED:
      return g_strdup (_("Off"));
    case PT_TUNNEL_STATE_FAILED:
      {
        g_autofree char *why = pt_describe_error (pt_tunnel_get_error (tunnel));

        /* Translators: %s says why, e.g. "The other computer stopped answering" */
        return g_strdup_printf (_("Failed: %s"), why);
      }
    }
  return g_strdup ("");
}

static void
pt_tunnel_row_update (PtTunnelRow *self)
{
  g_autofree char *state = pt_describe_service_state (self->service);
  PtTunnel *tunnel = pt_service_get_tunnel (self->service);
  gboolean running = pt_service_get_running (self->service);
  gboolean failed = (tunnel && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED) ||
                    (!running && pt_service_get_error (self->service) != NULL);
  const char *name = pt_profile_get_name (self->profile);
  g_autofree char *switch_label = NULL;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), name[0] ? name : _("Unnamed tunnel"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), state);

  self->updating = TRUE;
  gtk_switch_set_active (self->toggle, running);
  self->updating = FALSE;

  gtk_widget_set_visible (self->pair_button, running && !pt_service_get_paired (self->service));
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "error");

  /* Translators: accessible name of the on/off switch; %s is the tunnel's name */
  switch_label = g_strdup_printf (_("Run “%s”"), name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->toggle),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, switch_label, -1);
}

static gboolean
refresh_cb (gpointer user_data)
{
  PtTunnelRow *self = user_data;

  self->refresh_id = 0;
  pt_tunnel_row_update (self);
  return G_SOURCE_REMOVE;
}

static void
on_counter (PtTunnelRow *self)
{
  if (self->refresh_id == 0)
    self->refresh_id = g_timeout_add (500, refresh_cb, self);
}

static GtkWidget *
create_session_row (gpointer item,
                    gpointer user_data)
{
  return pt_session_row_new (PT_PEER_SESSION (item));
}

static void
on_sessions_changed (PtTunnelRow *self)
{
  guint n = g_list_model_get_n_items (pt_service_get_sessions (self->service));
  /* Translators: on a serving tunnel's row: how many computers are connected now */
  g_autofree char *label = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u computer",
                                                         "%u computers", n), n);

  gtk_menu_button_set_label (GTK_MENU_BUTTON (self->sessions_button), label);
  gtk_widget_set_visible (self->sessions_button, n > 0);
}

static gboolean
on_switch_state_set (GtkSwitch   *toggle,
                     gboolean     state,
                     PtTunnelRow *self)
{
  if (self->updating)
    return FALSE;
  /* The window's actions start (and pair) or stop the tunnel; the row follows "running". */
  gtk_widget_activate_action (GTK_WIDGET (self), state ? "win.start-tunnel" : "win.stop-tunnel",
                              "s", pt_profile_get_id (self->profile));
  gtk_switch_set_state (toggle, pt_service_get_running (self->service));
  self->updating = TRUE;
  gtk_switch_set_active (toggle, pt_service_get_running (self->service));
  self->updating = FALSE;
  return TRUE;
}

static void
pt_tunnel_row_dispose (GObject *object)
{
  PtTunnelRow *self = PT_TUNNEL_ROW (object);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  if (self->tunnel_signals != NULL)
    g_signal_group_set_target (self->tunnel_signals, NULL);
  g_clear_object (&self->tunnel_signals);
  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->profile, self);
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_signal_handlers_disconnect_by_data (pt_service_get_sessions (self->service), self);
    }
  g_clear_object (&self->profile);
  g_clear_object (&self->service);
  gtk_widget_dispose_template (GTK_WIDGET (object), PT_TYPE_TUNNEL_ROW);
  G_OBJECT_CLASS (pt_tunnel_row_parent_class)->dispose (object);
}

static void
pt_tunnel_row_class_init (PtTunnelRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_tunnel_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/peertunnel/PeerTunnel/pt-tunnel-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PtTunnelRow, toggle);
  gtk_widget_class_bind_template_child (widget_class, PtTunnelRow, pair_button);
  gtk_widget_class_bind_template_child (widget_class, PtTunnelRow, sessions_button);
  gtk_widget_class_bind_template_child (widget_class, PtTunnelRow, sessions_list);
  gtk_widget_class_bind_template_child (widget_class, PtTunnelRow, menu_button);
  gtk_widget_class_bind_template_callback (widget_class, on_switch_state_set);
}

static void
pt_tunnel_row_init (PtTunnelRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->tunnel_signals = g_signal_group_new (PT_TYPE_TUNNEL);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::state",
                                  G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::path-kind",
                                  G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::bytes-sent",
                                  G_CALLBACK (on_counter), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::bytes-received",
                                  G_CALLBACK (on_counter), self);
}

GtkWidget *
pt_tunnel_row_new (PtService *service)
{
  PtTunnelRow *self = g_object_new (PT_TYPE_TUNNEL_ROW, NULL);
  PtProfile *profile = pt_service_get_profile (service);
  g_autoptr(GMenu) menu = g_menu_new ();
  const char *id = pt_profile_get_id (profile);
  g_autofree char *edit = g_strdup_printf ("win.edit-tunnel::%s", id);
  g_autofree char *duplicate = g_strdup_printf ("win.duplicate-tunnel::%s", id);
  g_autofree char *delete = g_strdup_printf ("win.delete-tunnel::%s", id);

  self->service = g_object_ref (service);
  self->profile = g_object_ref (profile);
  g_menu_append (menu, _("_Edit"), edit);
  g_menu_append (menu, _("D_uplicate"), duplicate);
  g_menu_append (menu, _("_Delete"), delete);
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (self->menu_button), G_MENU_MODEL (menu));
  gtk_actionable_set_action_target (GTK_ACTIONABLE (self->pair_button), "s", id);

  g_signal_connect_swapped (profile, "notify::name", G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_connect_swapped (service, "notify::running", G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_connect_swapped (service, "notify::paired", G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_connect_swapped (service, "notify::error", G_CALLBACK (pt_tunnel_row_update), self);
  g_signal_connect_swapped (service, "notify::vpn-device", G_CALLBACK (pt_tunnel_row_update), self);
  g_object_bind_property (service, "tunnel", self->tunnel_signals, "target", G_BINDING_SYNC_CREATE);
  g_signal_connect_swapped (service, "notify::tunnel", G_CALLBACK (pt_tunnel_row_update), self);
  gtk_list_box_bind_model (self->sessions_list, pt_service_get_sessions (service),
                           create_session_row, NULL, NULL);
  g_signal_connect_swapped (pt_service_get_sessions (service), "items-changed",
                            G_CALLBACK (on_sessions_changed), self);
  on_sessions_changed (self);
  pt_tunnel_row_update (self);
  return GTK_WIDGET (self);
}

PtService *
pt_tunnel_row_get_service (PtTunnelRow *self)
{
  return self->service;
}

PtProfile *
pt_tunnel_row_get_profile (PtTunnelRow *self)
{
  return self->profile;
}

GtkSwitch *
pt_tunnel_row_get_switch (PtTunnelRow *self)
{
  return self->toggle;
}

GtkMenuButton *
pt_tunnel_row_get_sessions_button (PtTunnelRow *self)
{
  return GTK_MENU_BUTTON (self->sessions_button);
}

GtkListBox *
pt_tunnel_row_get_sessions_list (PtTunnelRow *self)
{
  return self->sessions_list;
}
