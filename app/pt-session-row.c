/* pt-session-row.c — one client of a serving tunnel, in its row's session list
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout in ui/pt-session-row.ui. The row shows who the client is (its key,
 * shortened), how it is connected and what it carried; counters refresh at
 * most twice a second, as in the tunnel row.
 */
#define G_LOG_DOMAIN "pt-session-row"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pt-session-row.h"
#include "pt-tunnel-row.h"
#include "pt-error-text.h"

struct _PtSessionRow
{
  AdwActionRow   parent_instance;

  GtkLabel      *since_label;

  PtPeerSession *session;
  GSignalGroup  *tunnel_signals;
  guint          refresh_id;
};

G_DEFINE_FINAL_TYPE (PtSessionRow, pt_session_row, ADW_TYPE_ACTION_ROW)

/* "npub1qy8…k3x9": enough to tell keys apart, short enough for 360 px. */
static char *
short_key (const char *npub)
{
  if (strlen (npub) <= 20)
    return g_strdup (npub);
  return g_strdup_printf ("%.*s…%s", 10, npub, npub + strlen (npub) - 6);
}

static char *
describe (PtTunnel *tunnel)
{
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      {
        g_autofree char *sent = g_format_size (pt_tunnel_get_bytes_sent (tunnel));
        g_autofree char *received = g_format_size (pt_tunnel_get_bytes_received (tunnel));
        const char *path = pt_describe_path_kind (pt_tunnel_get_path_kind (tunnel));

        /* Translators: "Up, direct, through NAT · ↑ 1.2 MB ↓ 3.4 MB" for one connected computer */
        return g_strdup_printf (_("Up, %s · ↑ %s ↓ %s"), path ? path : _("connected"), sent, received);
      }
    case PT_TUNNEL_STATE_FAILED:
      {
        g_autofree char *why = pt_describe_error (pt_tunnel_get_error (tunnel));

        return g_strdup_printf (_("Failed: %s"), why);
      }
    case PT_TUNNEL_STATE_CLOSED:
      return g_strdup (_("Disconnected"));
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
      return g_strdup (_("Connecting"));
    case PT_TUNNEL_STATE_HANDSHAKE:
      return g_strdup (_("Securing the connection"));
    }
  return g_strdup ("");
}

static void
pt_session_row_update (PtSessionRow *self)
{
  g_autofree char *text = describe (pt_peer_session_get_tunnel (self->session));

  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), text);
}

static gboolean
refresh_cb (gpointer user_data)
{
  PtSessionRow *self = user_data;

  self->refresh_id = 0;
  pt_session_row_update (self);
  return G_SOURCE_REMOVE;
}

static void
on_counter (PtSessionRow *self)
{
  if (self->refresh_id == 0)
    self->refresh_id = g_timeout_add (500, refresh_cb, self);
}

static void
pt_session_row_dispose (GObject *object)
{
  PtSessionRow *self = PT_SESSION_ROW (object);

  g_clear_handle_id (&self->refresh_id, g_source_remove);
  if (self->tunnel_signals != NULL)
    g_signal_group_set_target (self->tunnel_signals, NULL);
  g_clear_object (&self->tunnel_signals);
  g_clear_object (&self->session);
  gtk_widget_dispose_template (GTK_WIDGET (object), PT_TYPE_SESSION_ROW);
  G_OBJECT_CLASS (pt_session_row_parent_class)->dispose (object);
}

static void
pt_session_row_class_init (PtSessionRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_session_row_dispose;
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/peertunnel/PeerTunnel/pt-session-row.ui");
  gtk_widget_class_bind_template_child (widget_class, PtSessionRow, since_label);
}

static void
pt_session_row_init (PtSessionRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->tunnel_signals = g_signal_group_new (PT_TYPE_TUNNEL);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::state",
                                  G_CALLBACK (pt_session_row_update), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::path-kind",
                                  G_CALLBACK (pt_session_row_update), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::bytes-sent",
                                  G_CALLBACK (on_counter), self);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::bytes-received",
                                  G_CALLBACK (on_counter), self);
}

GtkWidget *
pt_session_row_new (PtPeerSession *session)
{
  PtSessionRow *self = g_object_new (PT_TYPE_SESSION_ROW, NULL);
  const char *peer = pt_peer_session_get_peer (session);
  g_autofree char *title = peer ? short_key (peer) : g_strdup (_("Connected computer"));
  g_autofree char *since = g_date_time_format (pt_peer_session_get_since (session), "%R");
  /* Translators: when a computer connected, e.g. "since 09:12" */
  g_autofree char *since_text = g_strdup_printf (_("since %s"), since);

  self->session = g_object_ref (session);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), title);
  if (peer != NULL)
    gtk_widget_set_tooltip_text (GTK_WIDGET (self), peer);
  gtk_label_set_text (self->since_label, since_text);
  g_signal_group_set_target (self->tunnel_signals, pt_peer_session_get_tunnel (session));
  pt_session_row_update (self);
  return GTK_WIDGET (self);
}

PtPeerSession *
pt_session_row_get_session (PtSessionRow *self)
{
  g_return_val_if_fail (PT_IS_SESSION_ROW (self), NULL);
  return self->session;
}
