/* pt-session.c — the tunnel protocol over one QUIC connection
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The control stream (hello, verdicts, VPN configuration), the QUIC stream
 * events dispatched to the forwarders (pt-forward-tcp.c, pt-forward-udp.c),
 * the budgets they share and the object itself.
 */
#define G_LOG_DOMAIN "pt-session"
#define _GNU_SOURCE

#include "config.h"

#include <string.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "pt-budget-private.h"
#include "pt-control-private.h"
#include "pt-session-internal.h"

/* One stream fills a 100 ms × 1 Gbit/s path, within the session's cap. */
G_STATIC_ASSERT ((guint64) PT_SESSION_MAX_QUEUED >=
                 (guint64) PT_QUIC_BDP_RATE_BYTES_PER_S * PT_QUIC_BDP_RTT_MS / 1000);
G_STATIC_ASSERT (PT_SESSION_MAX_QUEUED <= PT_SESSION_MAX_HELD);

enum { PROP_0, PROP_ACTIVE_CONNECTIONS, PROP_BYTES_SENT, PROP_BYTES_RECEIVED, N_PROPS };
enum { UP, REJECTED, FAILED, VPN_CONFIG, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtSession, pt_session, G_TYPE_OBJECT)

GSource *
_pt_session_watch_socket (GSocket       *socket,
                          GIOCondition   condition,
                          GSourceFunc    func,
                          gpointer       data)
{
  GSource *source = g_socket_create_source (socket, condition, NULL);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

void
_pt_session_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}

static void
session_fail (PtSession  *self,
              GError     *error)
{
  if (self->stopped)
    return;
  g_debug ("session failed: %s", error->message);
  g_signal_emit (self, signals[FAILED], 0, error);
}

static gboolean
notify_counters_cb (gpointer user_data)
{
  PtSession *self = user_data;

  g_clear_pointer (&self->counters_notify, g_source_unref);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_SENT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_RECEIVED]);
  g_object_thaw_notify (G_OBJECT (self));
  return G_SOURCE_REMOVE;
}

/* Counters change with every chunk; a UI needs a few updates a second, so
 * notifications are batched. */
void
_pt_session_add_bytes (PtSession *self,
                       gboolean   sent,
                       gsize      n)
{
  if (sent)
    self->bytes_sent += n;
  else
    self->bytes_received += n;

  if (self->counters_notify == NULL && !self->stopped)
    {
      self->counters_notify = g_timeout_source_new (PT_SESSION_COUNTERS_NOTIFY_MS);
      g_source_set_callback (self->counters_notify, notify_counters_cb, self, NULL);
      g_source_set_static_name (self->counters_notify, "[pt] session counters");
      g_source_attach (self->counters_notify, g_main_context_get_thread_default ());
    }
}

void
_pt_session_notify_active_connections (PtSession *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_CONNECTIONS]);
}

/* Forwards */

static void
forward_free (Forward *forward)
{
  _pt_session_clear_source (&forward->source);
  _pt_session_clear_source (&forward->accept_pause);
  /* A client's listener belongs to its tunnel, which may keep it open for
   * the next session (reconnection). */
  g_clear_object (&forward->socket);
  g_clear_object (&forward->target);
  g_free (forward->reason);
  pt_forward_spec_free (forward->spec);
  g_free (forward);
}

static Forward *
forward_new (PtSession           *self,
             const PtForwardSpec *spec)
{
  Forward *forward = g_new0 (Forward, 1);

  forward->session = self;
  forward->index = self->forwards->len;
  forward->spec = pt_forward_spec_copy (spec);
  g_ptr_array_add (self->forwards, forward);
  return forward;
}

/* Budgets */

/* A connection or flow is refused for want of a budget: count it, and say
 * so in the log at most once a second (a client can ask many times). */
void
_pt_session_refuse (PtSession  *self,
                    const char *what,
                    const char *why)
{
  gint64 now = g_get_monotonic_time ();

  self->refused++;
  if (self->refused_logged_at != 0 && now - self->refused_logged_at < G_USEC_PER_SEC)
    return;

  g_message ("refused %s: %s (%" G_GUINT64_FORMAT " refused in this session)",
             what, why, self->refused);
  self->refused_logged = self->refused;
  self->refused_logged_at = now;
}

/* A socket for @what takes a unit of the process's descriptor budget, if
 * this session has not used up its share: one client cannot take the
 * descriptors every other client needs. */
gboolean
_pt_session_take_fd (PtSession  *self,
                     const char *what)
{
  guint limit = _pt_budget_get_fd_limit ();
  guint share = MAX (PT_SESSION_MIN_FD_SHARE, limit / PT_SESSION_FD_SHARE_DIVISOR);
  g_autofree char *why = NULL;

  if (self->fds < share && _pt_budget_take_fd ())
    {
      self->fds++;
      return TRUE;
    }

  if (self->fds >= share)
    why = g_strdup_printf ("this tunnel already holds %u connections, its share of the "
                           "%u descriptors pt keeps for forwarded connections",
                           self->fds, limit);
  else
    why = g_strdup_printf ("all %u descriptors pt keeps for forwarded connections are in use",
                           limit);
  _pt_session_refuse (self, what, why);
  return FALSE;
}

void
_pt_session_release_fd (PtSession *self)
{
  g_return_if_fail (self->fds > 0);

  self->fds--;
  _pt_budget_release_fd ();
}

/* Control stream */

static void
send_control (PtSession              *self,
              const PtControlMessage *msg)
{
  g_autoptr(GBytes) frame = _pt_control_message_encode (msg);

  _pt_quic_conn_stream_send (self->conn, self->control_stream, frame);
}

static void
session_go_up (PtSession *self)
{
  self->up = TRUE;

  if (self->is_client)
    for (guint i = 0; i < self->forwards->len; i++)
      {
        Forward *forward = g_ptr_array_index (self->forwards, i);

        forward->source = _pt_session_watch_socket (forward->socket, G_IO_IN,
                                        forward->spec->proto == PT_PROTO_TCP
                                        ? (GSourceFunc) _pt_tcp_accept_cb
                                        : (GSourceFunc) _pt_udp_listener_cb,
                                        forward);
      }

  g_debug ("session up");
  g_signal_emit (self, signals[UP], 0);
}

static void
send_verdicts (PtSession *self)
{
  g_autoptr(PtControlMessage) msg = _pt_control_message_new (PT_CONTROL_VERDICT);

  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      _pt_control_message_add_verdict (msg, forward->accepted,
                                       forward->accepted ? "" : forward->reason);
    }

  send_control (self, msg);
  session_go_up (self);
}

static void
reject_forward (PtSession  *self,
                Forward    *forward,
                const char *reason)
{
  g_autofree char *uri = pt_forward_spec_to_string (forward->spec);

  forward->accepted = FALSE;
  g_free (forward->reason);
  forward->reason = g_strdup (reason);
  g_signal_emit (self, signals[REJECTED], 0, uri, reason);
}

typedef struct
{
  PtSession *self;
  Forward   *forward;
} ResolveData;

/* Whether the offer the server accepted showed @spec (same protocol, host and port). */
static gboolean
offer_shows (PtSession           *self,
             const PtForwardSpec *spec)
{
  for (guint i = 0; i < self->offered->len; i++)
    {
      const PtForwardSpec *offered = g_ptr_array_index (self->offered, i);

      if (offered->proto == spec->proto && offered->port == spec->port &&
          g_ascii_strcasecmp (offered->host, spec->host) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
forward_resolved_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autofree ResolveData *data = user_data;
  g_autoptr(GError) error = NULL;
  PtSession *self = data->self;
  Forward *forward = data->forward;
  PtAllowList *allowed;
  GList *addresses;
  g_autofree char *what = NULL;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }

  allowed = pt_server_policy_get_allow_list (self->policy, forward->spec->proto);
  what = pt_forward_spec_to_string (forward->spec);

  /* The client hears which forward (its verdict is in its place; the client
   * names the forward) and why, never the allow-list nor what this server's
   * resolver answered: those stay in the server's log. */
  if (addresses == NULL)
    {
      g_message ("forward %u (%s) refused: %s", forward->index + 1, what,
                 error ? error->message : "no address");
      reject_forward (self, forward, "the server cannot resolve that name");
    }
  else
    {
      /* Connect later to exactly the address checked here. */
      for (GList *l = addresses; l != NULL; l = l->next)
        if (allowed != NULL && pt_allow_list_contains_port (allowed, l->data, forward->spec->port))
          {
            forward->target = G_INET_SOCKET_ADDRESS (
              g_inet_socket_address_new (l->data, forward->spec->port));
            forward->accepted = TRUE;
            break;
          }

      if (!forward->accepted)
        {
          g_autofree char *addr = g_inet_address_to_string (addresses->data);
          g_autofree char *list = allowed ? pt_allow_list_to_string (allowed) : g_strdup ("nothing");
          g_message ("forward %u (%s) refused: %s port %u is not in the allowed %s list (%s)",
                     forward->index + 1, what, addr, forward->spec->port,
                     forward->spec->proto == PT_PROTO_TCP ? "TCP" : "UDP", list);
          reject_forward (self, forward, "not allowed by the server");
        }
      else
        g_debug ("forward %u allowed: %s", forward->index, forward->spec->host);
    }
  g_resolver_free_addresses (addresses);

  if (--self->resolves_pending == 0 && !self->stopped)
    send_verdicts (self);
  g_object_unref (self);
}

static void
handle_hello (PtSession        *self,
              PtControlMessage *msg)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();

  if (self->forwards->len > 0 || msg->version != PT_CONTROL_VERSION)
    {
      g_autoptr(GError) error =
        g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                     msg->version != PT_CONTROL_VERSION
                     ? "the client speaks another tunnel protocol version: update both sides"
                     : "the client sent HELLO twice");
      session_fail (self, error);
      return;
    }

  self->resolves_pending = msg->forwards->len;
  for (guint i = 0; i < msg->forwards->len; i++)
    {
      Forward *forward = forward_new (self, g_ptr_array_index (msg->forwards, i));
      GInetSocketAddress *exposed = pt_server_policy_get_exposed (self->policy, forward->spec->proto);
      ResolveData *data;

      /* Grant only what the accepted offer showed: a modified client could
       * show one forward in the offer and ask for another in HELLO. */
      if (self->offered != NULL && !offer_shows (self, forward->spec))
        {
          g_autofree char *what = pt_forward_spec_to_string (forward->spec);
          g_autofree char *reason = g_strdup_printf ("forward %u was not in the offer",
                                                     forward->index + 1);

          g_message ("forward %u (%s) refused: the client asked for it, but its offer "
                     "did not show it", forward->index + 1, what);
          reject_forward (self, forward, reason);
          self->resolves_pending--;
          continue;
        }

      if (exposed != NULL)
        {
          /* Named mode: the one exposed service, whatever the client named. */
          forward->target = g_object_ref (exposed);
          forward->accepted = TRUE;
          self->resolves_pending--;
          continue;
        }

      data = g_new0 (ResolveData, 1);

      data->self = g_object_ref (self);
      data->forward = forward;
      g_resolver_lookup_by_name_async (resolver, forward->spec->host, self->cancellable,
                                       forward_resolved_cb, data);
    }
  if (self->resolves_pending == 0)
    send_verdicts (self);
}

static void
handle_vpn_hello (PtSession        *self,
                  PtControlMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtControlMessage) config = _pt_control_message_new (PT_CONTROL_VPN_CONFIG);

  if (msg->version != PT_CONTROL_VERSION)
    error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                         "the client speaks another tunnel protocol version: update both sides");
  else if (self->vpn_hooks == NULL)
    error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                         "this server does not offer VPN mode (it forwards ports: use "
                         "--source/--target)");
  else if (self->vpn_hooks->hello (self, msg->vpn_flags, &config->vpn, &error, self->vpn_data))
    {
      self->vpn = TRUE;
      send_control (self, config);
      session_go_up (self);
      return;
    }

  /* Tell the client why before failing. */
  {
    g_autoptr(PtControlMessage) bye = _pt_control_message_new (PT_CONTROL_CLOSE);

    g_free (bye->reason);
    bye->reason = g_strdup (error->message);
    send_control (self, bye);
  }
  session_fail (self, error);
}

static void
handle_verdict (PtSession        *self,
                PtControlMessage *msg)
{
  g_autoptr(GString) refused = NULL;

  if (msg->verdicts->len != self->forwards->len)
    {
      g_autoptr(GError) error =
        g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                     "the server answered for %u forwards, %u were asked for",
                     msg->verdicts->len, self->forwards->len);
      session_fail (self, error);
      return;
    }

  for (guint i = 0; i < msg->verdicts->len; i++)
    {
      PtVerdict *verdict = g_ptr_array_index (msg->verdicts, i);
      Forward *forward = g_ptr_array_index (self->forwards, i);
      g_autofree char *uri = pt_forward_spec_to_string (forward->spec);

      forward->accepted = verdict->accepted;
      if (verdict->accepted)
        continue;

      if (refused == NULL)
        refused = g_string_new (NULL);
      else
        g_string_append (refused, "; ");
      g_string_append_printf (refused, "server refused %s: %s", uri, verdict->reason);
    }

  if (refused != NULL)
    {
      g_autoptr(GError) error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                                             "%s", refused->str);
      session_fail (self, error);
      return;
    }

  session_go_up (self);
}

static void
handle_control_data (PtSession *self,
                     GBytes    *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  _pt_control_parser_feed (self->parser, data, len);
  _pt_quic_conn_stream_consumed (self->conn, self->control_stream, len);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtControlMessage) msg = _pt_control_parser_next (self->parser, &error);

      if (msg == NULL)
        {
          if (error != NULL)
            session_fail (self, error);
          return;
        }

      switch (msg->type)
        {
        case PT_CONTROL_HELLO:
          if (self->is_client)
            goto unexpected;
          handle_hello (self, msg);
          break;

        case PT_CONTROL_VERDICT:
          if (!self->is_client || self->up)
            goto unexpected;
          handle_verdict (self, msg);
          break;

        case PT_CONTROL_VPN_HELLO:
          if (self->is_client || self->forwards->len > 0 || self->vpn)
            goto unexpected;
          handle_vpn_hello (self, msg);
          break;

        case PT_CONTROL_VPN_CONFIG:
          if (!self->is_client || !self->vpn || self->up)
            goto unexpected;
          self->vpn_config = msg->vpn;
          g_debug ("VPN configuration received (MTU %u)", msg->vpn.mtu);
          g_signal_emit (self, signals[VPN_CONFIG], 0);
          break;

        case PT_CONTROL_CLOSE:
          {
            g_autoptr(GError) closed =
              g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_CLOSED,
                           "the peer closed the tunnel: %s", msg->reason);
            session_fail (self, closed);
            return;
          }

        unexpected:
        default:
          {
            g_autoptr(GError) bad = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                                                 "unexpected control message %d", msg->type);
            session_fail (self, bad);
            return;
          }
        }
    }
}

/* QUIC stream events */

static void
on_stream_opened (PtQuicConn *conn,
                  gint64      stream_id,
                  PtSession  *self)
{
  TcpConn *tc;

  if (self->is_client)
    {
      _pt_quic_conn_stream_abort (conn, stream_id, 1); /* servers open no streams */
      return;
    }

  if (self->control_stream < 0)
    {
      self->control_stream = stream_id;
      g_debug ("stream %" G_GINT64_FORMAT ": control", stream_id);
      return;
    }

  tc = _pt_tcp_conn_new (self, NULL, stream_id, NULL);
  tc->header_pending = TRUE;
  tc->connecting = TRUE;
}

static void
on_stream_data (PtQuicConn *conn,
                gint64      stream_id,
                GBytes     *bytes,
                gboolean    fin,
                PtSession  *self)
{
  TcpConn *tc;

  if (stream_id == self->control_stream)
    {
      handle_control_data (self, bytes);
      return;
    }

  tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);
  if (tc == NULL)
    {
      /* A connection already gone: its bytes are dropped, and consumed. */
      _pt_quic_conn_stream_consumed (conn, stream_id, g_bytes_get_size (bytes));
      return;
    }

  if (tc->header_pending && g_bytes_get_size (bytes) > 0)
    {
      const guint8 *data = g_bytes_get_data (bytes, NULL);
      guint8 index = data[0];
      g_autoptr(GBytes) rest = g_bytes_new_from_bytes (bytes, 1, g_bytes_get_size (bytes) - 1);

      tc->header_pending = FALSE;
      _pt_quic_conn_stream_consumed (conn, stream_id, 1);
      if (g_bytes_get_size (rest) > 0)
        g_queue_push_tail (&tc->out_queue, g_bytes_ref (rest));
      tc->remote_fin = fin;
      _pt_tcp_conn_connect (tc, index);
      return;
    }
  else if (tc->header_pending)
    {
      if (fin)
        _pt_tcp_conn_abort (tc);
      return;
    }

  if (g_bytes_get_size (bytes) > 0)
    g_queue_push_tail (&tc->out_queue, g_bytes_ref (bytes));
  if (fin)
    tc->remote_fin = TRUE;
  _pt_tcp_conn_flush_out (tc);
}

/* The session's unacked bytes fell well below its cap: read again from
 * every connection held back for it. */
void
_pt_session_release_held_back (PtSession *self)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  GHashTableIter iter;
  TcpConn *tc;

  g_hash_table_iter_init (&iter, self->tcp_conns);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &tc))
    if (tc->held_back)
      {
        tc->held_back = FALSE;
        g_array_append_val (ids, tc->stream_id);
      }
  self->n_held_back = 0;

  /* Pumping may end connections (and the session): look each one up. */
  for (guint i = 0; i < ids->len && !self->stopped; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);

      tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) id);
      if (tc != NULL && !tc->want_in && !tc->connecting && !tc->local_eof)
        _pt_tcp_conn_pump_in (tc);
    }
}

static void
on_stream_acked (PtQuicConn *conn,
                 gint64      stream_id,
                 PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc != NULL && !tc->want_in && !tc->connecting && !tc->local_eof &&
      _pt_quic_conn_stream_get_queued (conn, stream_id) <
      (tc->held_back ? PT_SESSION_MIN_QUEUED : PT_SESSION_MAX_QUEUED / 2))
    {
      g_autoptr(PtSession) hold = g_object_ref (self);

      if (tc->held_back)
        {
          tc->held_back = FALSE;
          self->n_held_back--;
        }
      if (!_pt_tcp_conn_pump_in (tc) && self->stopped)
        return;
    }
  if (self->n_held_back > 0 && !self->stopped &&
      _pt_quic_conn_get_held_bytes (conn) < PT_SESSION_MAX_HELD / 2)
    _pt_session_release_held_back (self);
}

static void
on_stream_reset (PtQuicConn *conn,
                 gint64      stream_id,
                 PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc != NULL)
    {
      g_debug ("stream %" G_GINT64_FORMAT ": reset by the peer", stream_id);
      _pt_tcp_conn_abort (tc);
    }
}

static void
on_stream_closed (PtQuicConn *conn,
                  gint64      stream_id,
                  PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc == NULL)
    return;

  tc->stream_closed = TRUE;
  if (tc->local_eof && tc->write_shut)
    _pt_tcp_conn_remove (tc);
  else if (!tc->remote_fin || tc->header_pending)
    _pt_tcp_conn_remove (tc); /* closed without FIN: it was reset */
}

/* Object */

static void
pt_session_dispose (GObject *object)
{
  PtSession *self = PT_SESSION (object);

  _pt_session_stop (self);
  if (self->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->conn, self);
      _pt_quic_conn_set_datagram_func (self->conn, NULL, self);
    }
  g_clear_object (&self->conn);
  G_OBJECT_CLASS (pt_session_parent_class)->dispose (object);
}

static void
pt_session_finalize (GObject *object)
{
  PtSession *self = PT_SESSION (object);

  g_clear_pointer (&self->tcp_conns, g_hash_table_unref);
  g_clear_pointer (&self->udp_by_peer, g_hash_table_unref);
  g_clear_pointer (&self->udp_flows, g_hash_table_unref);
  g_clear_pointer (&self->forwards, g_ptr_array_unref);
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  g_clear_pointer (&self->offered, g_ptr_array_unref);
  g_clear_pointer (&self->parser, _pt_control_parser_free);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pt_session_parent_class)->finalize (object);
}

static void
pt_session_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PtSession *self = PT_SESSION (object);

  switch (prop_id)
    {
    case PROP_ACTIVE_CONNECTIONS:
      g_value_set_uint (value, _pt_session_get_active_connections (self));
      break;
    case PROP_BYTES_SENT:
      g_value_set_uint64 (value, self->bytes_sent);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, self->bytes_received);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_session_class_init (PtSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_session_dispose;
  object_class->finalize = pt_session_finalize;
  object_class->get_property = pt_session_get_property;

  properties[PROP_ACTIVE_CONNECTIONS] =
    g_param_spec_uint ("active-connections", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_SENT] =
    g_param_spec_uint64 ("bytes-sent", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_RECEIVED] =
    g_param_spec_uint64 ("bytes-received", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[UP] = g_signal_new ("up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                              0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[REJECTED] = g_signal_new ("rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                    G_TYPE_STRING, G_TYPE_STRING);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[VPN_CONFIG] = g_signal_new ("vpn-config", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pt_session_init (PtSession *self)
{
  self->control_stream = -1;
  self->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) forward_free);
  self->tcp_conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) _pt_tcp_conn_free);
  self->udp_flows = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) _pt_udp_flow_free);
  self->udp_by_peer = g_hash_table_new (_pt_udp_peer_key_hash, _pt_udp_peer_key_equal);
  self->parser = _pt_control_parser_new ();
  self->cancellable = g_cancellable_new ();
}

static PtSession *
pt_session_new (PtQuicConn *conn,
                gboolean    is_client)
{
  PtSession *self = g_object_new (PT_TYPE_SESSION, NULL);

  self->conn = g_object_ref (conn);
  self->is_client = is_client;
  g_signal_connect (conn, "stream-opened", G_CALLBACK (on_stream_opened), self);
  g_signal_connect (conn, "stream-data", G_CALLBACK (on_stream_data), self);
  g_signal_connect (conn, "stream-acked", G_CALLBACK (on_stream_acked), self);
  g_signal_connect (conn, "stream-reset", G_CALLBACK (on_stream_reset), self);
  g_signal_connect (conn, "stream-closed", G_CALLBACK (on_stream_closed), self);
  _pt_quic_conn_set_datagram_func (conn, _pt_udp_on_datagram, self);
  return self;
}

PtSession *
_pt_session_new_client (PtQuicConn *conn,
                        GPtrArray  *forwards,
                        GPtrArray  *sockets)
{
  PtSession *self = pt_session_new (conn, TRUE);

  g_return_val_if_fail (forwards->len == sockets->len, self);

  for (guint i = 0; i < forwards->len; i++)
    {
      Forward *forward = forward_new (self, g_ptr_array_index (forwards, i));

      forward->socket = g_object_ref (g_ptr_array_index (sockets, i));
    }
  return self;
}

PtSession *
_pt_session_new_server (PtQuicConn     *conn,
                        PtServerPolicy *policy)
{
  PtSession *self = pt_session_new (conn, FALSE);

  /* No policy: nothing is allowed. */
  self->policy = policy ? pt_server_policy_ref (policy) : pt_server_policy_new ();
  return self;
}

void
_pt_session_set_offered_forwards (PtSession *self,
                                  GPtrArray *forwards)
{
  g_clear_pointer (&self->offered, g_ptr_array_unref);
  if (forwards == NULL)
    return;
  self->offered = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);
  for (guint i = 0; i < forwards->len; i++)
    g_ptr_array_add (self->offered, pt_forward_spec_copy (g_ptr_array_index (forwards, i)));
}

void
_pt_session_start (PtSession *self)
{
  g_autoptr(PtControlMessage) hello = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->is_client)
    return; /* the server waits for HELLO */

  self->control_stream = _pt_quic_conn_open_stream (self->conn, &error);
  if (self->control_stream < 0)
    {
      session_fail (self, error);
      return;
    }

  if (self->vpn)
    {
      hello = _pt_control_message_new (PT_CONTROL_VPN_HELLO);
      hello->vpn_flags = self->vpn_flags;
      send_control (self, hello);
      return;
    }

  hello = _pt_control_message_new (PT_CONTROL_HELLO);
  hello->version = PT_CONTROL_VERSION;
  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      g_ptr_array_add (hello->forwards, pt_forward_spec_copy (forward->spec));
    }
  send_control (self, hello);
}

PtSession *
_pt_session_new_vpn_client (PtQuicConn *conn,
                            guint8      flags)
{
  PtSession *self = pt_session_new (conn, TRUE);

  self->vpn = TRUE;
  self->vpn_flags = flags;
  return self;
}

void
_pt_session_set_vpn_hooks (PtSession               *self,
                           const PtSessionVpnHooks *hooks,
                           gpointer                 data)
{
  self->vpn_hooks = hooks;
  self->vpn_data = data;
}

const PtVpnConfig *
_pt_session_get_vpn_config (PtSession *self)
{
  return &self->vpn_config;
}

void
_pt_session_vpn_go_up (PtSession *self)
{
  if (!self->up && !self->stopped)
    session_go_up (self);
}

gsize
_pt_session_get_max_ip (PtSession *self)
{
  gsize max = _pt_quic_conn_get_max_datagram (self->conn);

  max = max > PT_DATAGRAM_HEADER_LEN ? max - PT_DATAGRAM_HEADER_LEN : 0;
  /* A VPN client keeps to the MTU the server gave it, even where the path
   * carries more (both ends on one machine). */
  if (self->is_client && self->vpn && self->vpn_config.mtu != 0)
    max = MIN (max, self->vpn_config.mtu);
  return max;
}

gboolean
_pt_session_send_ip (PtSession    *self,
                     const guint8 *packet,
                     gsize         len)
{
  guint8 buf[PT_DATAGRAM_HEADER_LEN + 9216];
  gsize header;

  if (!self->up || self->stopped || len > _pt_session_get_max_ip (self) || len > 9216)
    return FALSE;
  header = _pt_datagram_header_write (buf, PT_DATAGRAM_VPN_INDEX, 0);
  memcpy (buf + header, packet, len);
  /* A full send queue drops the packet, as a router would. */
  if (_pt_quic_conn_send_datagram (self->conn, buf, header + len))
    _pt_session_add_bytes (self, TRUE, len);
  return TRUE;
}

void
_pt_session_stop (PtSession *self)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  if (self->vpn_hooks != NULL && self->vpn_hooks->stopped != NULL)
    self->vpn_hooks->stopped (self, self->vpn_data);
  g_cancellable_cancel (self->cancellable);
  _pt_session_clear_source (&self->udp_sweep);
  _pt_session_clear_source (&self->counters_notify);
  g_hash_table_remove_all (self->tcp_conns);
  g_hash_table_remove_all (self->udp_by_peer);
  g_hash_table_remove_all (self->udp_flows);
  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      _pt_session_clear_source (&forward->source);
      _pt_session_clear_source (&forward->accept_pause);
    }
}

guint
_pt_session_get_active_connections (PtSession *self)
{
  return g_hash_table_size (self->tcp_conns) + g_hash_table_size (self->udp_flows);
}

guint64
_pt_session_get_bytes_sent (PtSession *self)
{
  return self->bytes_sent;
}

guint64
_pt_session_get_bytes_received (PtSession *self)
{
  return self->bytes_received;
}

guint64
_pt_session_get_refused (PtSession *self)
{
  return self->refused;
}

GSocket *
_pt_session_bind_forward (PtProto      proto,
                          const char  *listen_address,
                          GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *spec = NULL;

  /* "2222" alone means 127.0.0.1:2222: nothing is exposed beyond this machine by default. */
  if (g_ascii_string_to_unsigned (listen_address, 10, 0, 65535, NULL, NULL))
    spec = g_strdup_printf ("127.0.0.1:%s", listen_address);
  else
    spec = g_strdup (listen_address);

  connectable = g_network_address_parse (spec, 0, NULL);
  if (connectable == NULL ||
      !g_hostname_is_ip_address (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable))))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_LISTEN,
                   "“%s” is not a local listen address: expected [ADDR:]PORT, "
                   "e.g. 2222, 127.0.0.1:2222 or [::1]:2222",
                   listen_address);
      return NULL;
    }

  {
    g_autoptr(GInetAddress) inet =
      g_inet_address_new_from_string (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)));

    address = g_inet_socket_address_new (inet, g_network_address_get_port (G_NETWORK_ADDRESS (connectable)));
  }

  socket = g_socket_new (g_socket_address_get_family (address),
                         proto == PT_PROTO_TCP ? G_SOCKET_TYPE_STREAM : G_SOCKET_TYPE_DATAGRAM,
                         proto == PT_PROTO_TCP ? G_SOCKET_PROTOCOL_TCP : G_SOCKET_PROTOCOL_UDP,
                         &local_error);
  /* GLib's default backlog of 10 drops bursts of new connections. */
  if (socket != NULL)
    g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (socket == NULL ||
      !g_socket_bind (socket, address, proto == PT_PROTO_TCP, &local_error) ||
      (proto == PT_PROTO_TCP && !g_socket_listen (socket, &local_error)))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_LISTEN,
                   "cannot listen on %s (%s): %s", spec, pt_proto_to_string (proto),
                   local_error->message);
      return NULL;
    }

  g_socket_set_blocking (socket, FALSE);
  if (proto == PT_PROTO_UDP)
    _pt_udp_socket_tune (socket, PT_SESSION_UDP_SOCKET_BUFFER);
  return g_steal_pointer (&socket);
}
