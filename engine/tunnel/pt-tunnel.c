/* pt-tunnel.c — one tunnel between two peers: signaling, ICE, QUIC and session
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-tunnel"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "pt-budget-private.h"
#include "pt-certificate-private.h"
#include "pt-ice-private.h"
#include "pt-quic-conn-private.h"
#include "pt-session-private.h"
#include "pt-tunnel-private.h"
#include "pt-vpn-private.h"

/* The client connects as soon as it has the answer; the server waits as long
 * as its answer stays valid, for the user to carry it across. */
#define PT_TUNNEL_CONNECT_TIMEOUT_S  30
#define PT_TUNNEL_SERVER_WAIT_S      PT_SIGNAL_FRESH_SECONDS
#define PT_TUNNEL_ICE_RETRY_MS       1000

struct _PtTunnel
{
  GObject         parent_instance;

  PtTunnelRole    role;
  PtIceConfig    *ice_config;
  PtTunnelState   state;
  PtPathKind      path_kind;
  GError         *error;

  PtCertificate  *certificate;
  guint8          session_id[PT_SIGNAL_SESSION_ID_LEN];
  guint8          peer_fingerprint[PT_SIGNAL_FINGERPRINT_LEN];

  PtIce          *ice;
  PtQuicConn     *quic;
  PtSession      *session;
  gboolean        holds_fds;     /* PT_BUDGET_FDS_PER_TUNNEL taken, until disposed */
  GSource        *connect_timeout;
  GSource        *ice_retry;

  /* Client */
  GPtrArray      *forwards;          /* PtForwardSpec* */
  GPtrArray      *sockets;           /* GSocket*, bound */
  GPtrArray      *listen_addresses;  /* char* */
  gboolean        keep_listeners;
  gboolean        vpn_client;
  guint8          vpn_flags;
  gboolean        vpn_configured;
  PtVpnLink      *vpn_link;

  /* Server */
  PtServerPolicy *policy;            /* shared with the front end's other tunnels */
  PtVpnRouter    *vpn_router;
  char           *vpn_client_id;
};

enum
{
  PROP_0,
  PROP_ROLE,
  PROP_STATE,
  PROP_PATH_KIND,
  PROP_DATA_PATH,
  PROP_BYTES_SENT,
  PROP_BYTES_RECEIVED,
  PROP_ACTIVE_CONNECTIONS,
  N_PROPS
};

enum { FORWARD_REJECTED, VPN_CONFIG, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtTunnel, pt_tunnel, G_TYPE_OBJECT)

static void
pt_tunnel_enter_state (PtTunnel      *self,
                       PtTunnelState  state)
{
  if (self->state == state)
    return;

  g_debug ("tunnel %p: %s → %s", self,
           pt_tunnel_state_to_string (self->state),
           pt_tunnel_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static gboolean
is_finished (PtTunnel *self)
{
  return self->state == PT_TUNNEL_STATE_CLOSED || self->state == PT_TUNNEL_STATE_FAILED;
}

void
_pt_tunnel_close_listeners (PtTunnel *self)
{
  if (self->sockets != NULL)
    for (guint i = 0; i < self->sockets->len; i++)
      g_socket_close (g_ptr_array_index (self->sockets, i), NULL);
}

/* Stops every layer; tells the peer why when QUIC is up. Idempotent. */
static void
teardown (PtTunnel   *self,
          guint64     app_error,
          const char *reason)
{
  g_clear_pointer (&self->connect_timeout, g_source_destroy);
  g_clear_pointer (&self->ice_retry, g_source_destroy);
  if (self->session != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->session, self);
      _pt_session_stop (self->session);
    }
  g_clear_pointer (&self->vpn_link, _pt_vpn_link_free);
  if (self->quic != NULL)
    {
      /* Disconnect first: our own close must not come back as "closed". */
      g_signal_handlers_disconnect_by_data (self->quic, self);
      _pt_quic_conn_close (self->quic, app_error, reason);
    }
  if (self->ice != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->ice, self);
      _pt_ice_set_receive_func (self->ice, NULL, NULL, NULL);
      _pt_ice_close (self->ice);
    }
  if (!self->keep_listeners)
    _pt_tunnel_close_listeners (self);
}

static void
pt_tunnel_fail (PtTunnel *self,
                GError   *error)
{
  if (is_finished (self))
    return;

  g_debug ("tunnel %p failed: %s", self, error->message);
  g_clear_error (&self->error);
  self->error = g_error_copy (error);
  teardown (self, 1, error->message);
  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_FAILED);
}

static void
pt_tunnel_finish (PtTunnel *self)
{
  if (is_finished (self))
    return;
  teardown (self, 0, "closed");
  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_CLOSED);
}

/* Events from the layers below */

static void
on_ice_path_kind (PtIce      *ice,
                  GParamSpec *pspec,
                  PtTunnel   *self)
{
  self->path_kind = _pt_ice_get_path_kind (ice);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH_KIND]);
}

static void
on_ice_data_path (PtIce      *ice,
                  GParamSpec *pspec,
                  PtTunnel   *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DATA_PATH]);
}

static void
on_ice_connected (PtIce    *ice,
                  PtTunnel *self)
{
  if (self->state != PT_TUNNEL_STATE_CHECKING)
    return;
  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_HANDSHAKE);
  _pt_quic_conn_set_local_path (self->quic, _pt_ice_is_local_pair (ice));
  _pt_quic_conn_start (self->quic);
}

static gboolean
ice_retry_cb (gpointer user_data)
{
  PtTunnel *self = user_data;

  self->ice_retry = NULL;
  _pt_ice_retry_checks (self->ice);
  return G_SOURCE_REMOVE;
}

static void
on_ice_failed (PtIce    *ice,
               GError   *error,
               PtTunnel *self)
{
  /* Checks failing before the deadline usually mean the peer has not
   * started yet (its block is still being pasted): both sides keep
   * checking, which also keeps holes in their NATs open for each other.
   * The connect deadline decides when to give up. */
  if (self->state == PT_TUNNEL_STATE_CHECKING && self->connect_timeout != NULL)
    {
      if (self->ice_retry == NULL)
        {
          self->ice_retry = g_timeout_source_new (PT_TUNNEL_ICE_RETRY_MS);
          g_source_set_callback (self->ice_retry, ice_retry_cb, self, NULL);
          g_source_set_static_name (self->ice_retry, "[pt] ICE retry");
          g_source_attach (self->ice_retry, g_main_context_get_thread_default ());
          g_source_unref (self->ice_retry);
        }
      return;
    }

  /* Once QUIC is up, consent freshness failing shows as an idle timeout too;
   * during the handshake it is the reason the tunnel cannot come up. */
  if (self->state == PT_TUNNEL_STATE_CHECKING || self->state == PT_TUNNEL_STATE_HANDSHAKE)
    pt_tunnel_fail (self, error);
}

static void
ice_receive (const guint8 *data,
             gsize         len,
             gpointer      user_data)
{
  PtTunnel *self = user_data;

  if (self->quic != NULL)
    {
      /* A server's connection starts with the client's first packet (no
       * need to ask once the tunnel is up). */
      if (self->role == PT_TUNNEL_ROLE_SERVER && self->state != PT_TUNNEL_STATE_UP)
        _pt_quic_conn_set_local_path (self->quic, _pt_ice_is_local_pair (self->ice));
      _pt_quic_conn_receive (self->quic, data, len);
    }
}

static void
ice_batch_done (gpointer user_data)
{
  PtTunnel *self = user_data;

  if (self->quic != NULL)
    _pt_quic_conn_flush (self->quic);
}

static void
quic_send (const guint8 *packet,
           gsize         len,
           gpointer      user_data)
{
  PtTunnel *self = user_data;

  if (self->ice != NULL)
    _pt_ice_send (self->ice, packet, len);
}

static void
quic_send_batch (const GOutputVector *packets,
                 guint                n_packets,
                 gpointer             user_data)
{
  PtTunnel *self = user_data;

  if (self->ice != NULL)
    _pt_ice_send_batch (self->ice, packets, n_packets);
}

static void
on_quic_handshake_completed (PtQuicConn *quic,
                             PtTunnel   *self)
{
  g_debug ("tunnel %p: QUIC handshake completed, peer authenticated", self);
  _pt_session_start (self->session);
}

static void
on_quic_closed (PtQuicConn *quic,
                GError     *error,
                PtTunnel   *self)
{
  if (error != NULL && self->role == PT_TUNNEL_ROLE_SERVER && self->state == PT_TUNNEL_STATE_UP &&
      g_error_matches (error, PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CLOSED))
    {
      /* A client leaving, even upset (say, at a refused forward), is how a
       * server's session ends: keep its reason, but it is no failure here. */
      g_clear_error (&self->error);
      self->error = g_error_copy (error);
      pt_tunnel_finish (self);
    }
  else if (error != NULL)
    pt_tunnel_fail (self, error);
  else
    {
      if (self->error == NULL)
        self->error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_CLOSED, "the tunnel was closed");
      pt_tunnel_finish (self);
    }
}

static void
on_session_up (PtSession *session,
               PtTunnel  *self)
{
  g_clear_pointer (&self->connect_timeout, g_source_destroy);
  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_UP);
}

static void
on_session_rejected (PtSession  *session,
                     const char *forward,
                     const char *reason,
                     PtTunnel   *self)
{
  g_signal_emit (self, signals[FORWARD_REJECTED], 0, forward, reason);
}

static void
on_session_vpn_config (PtSession *session,
                       PtTunnel  *self)
{
  self->vpn_configured = TRUE;
  g_signal_emit (self, signals[VPN_CONFIG], 0);
}

static void
on_session_failed (PtSession *session,
                   GError    *error,
                   PtTunnel  *self)
{
  pt_tunnel_fail (self, error);
}

static void
on_session_notify (PtSession  *session,
                   GParamSpec *pspec,
                   PtTunnel   *self)
{
  /* Property names are interned: pointer comparison is enough. */
  if (pspec->name == g_intern_static_string ("bytes-sent"))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_SENT]);
  else if (pspec->name == g_intern_static_string ("bytes-received"))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_RECEIVED]);
  else if (pspec->name == g_intern_static_string ("active-connections"))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_CONNECTIONS]);
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  PtTunnel *self = user_data;
  g_autoptr(GError) error = NULL;

  self->connect_timeout = NULL;
  if (self->role == PT_TUNNEL_ROLE_SERVER && self->state == PT_TUNNEL_STATE_CHECKING)
    error = g_error_new (PT_ICE_ERROR, PT_ICE_ERROR_FAILED,
                         "the client did not connect within %d minutes of this answer: it "
                         "never got the answer, or no network path worked (if both sides are "
                         "behind strict NATs, add a TURN server with --turn on both)",
                         PT_TUNNEL_SERVER_WAIT_S / 60);
  else
    error = g_error_new (PT_ICE_ERROR, PT_ICE_ERROR_FAILED,
                         "could not reach the peer within %d s (%s): if both sides are behind "
                         "strict NATs, add a TURN server with --turn on both; also check that "
                         "the server is still running (and, pairing by hand, that this answer "
                         "came from it)",
                         PT_TUNNEL_CONNECT_TIMEOUT_S,
                         self->state == PT_TUNNEL_STATE_CHECKING
                         ? "no network path worked" : "the secure handshake did not finish");
  pt_tunnel_fail (self, error);
  return G_SOURCE_REMOVE;
}

/* Creates QUIC and the session, hands the peer's ICE data over and starts checks. */
static gboolean
start_connecting (PtTunnel        *self,
                  const PtSignal  *remote,
                  GError         **error)
{
  gboolean is_client = self->role == PT_TUNNEL_ROLE_CLIENT;

  memcpy (self->peer_fingerprint, remote->fingerprint, sizeof self->peer_fingerprint);

  self->quic = _pt_quic_conn_new (is_client, self->certificate, self->peer_fingerprint,
                                  quic_send, self, error);
  if (self->quic == NULL)
    return FALSE;
  _pt_quic_conn_set_send_batch_func (self->quic, quic_send_batch);

  g_signal_connect (self->quic, "handshake-completed",
                    G_CALLBACK (on_quic_handshake_completed), self);
  g_signal_connect (self->quic, "closed", G_CALLBACK (on_quic_closed), self);

  if (is_client && self->vpn_client)
    {
      self->session = _pt_session_new_vpn_client (self->quic, self->vpn_flags);
      g_signal_connect (self->session, "vpn-config", G_CALLBACK (on_session_vpn_config), self);
    }
  else if (is_client)
    self->session = _pt_session_new_client (self->quic, self->forwards, self->sockets);
  else
    {
      self->session = _pt_session_new_server (self->quic, self->policy);
      _pt_session_set_offered_forwards (self->session, remote->forwards);
      if (self->vpn_router != NULL)
        _pt_vpn_router_attach (self->vpn_router, self->session, self->vpn_client_id);
    }

  g_signal_connect (self->session, "up", G_CALLBACK (on_session_up), self);
  g_signal_connect (self->session, "rejected", G_CALLBACK (on_session_rejected), self);
  g_signal_connect (self->session, "failed", G_CALLBACK (on_session_failed), self);
  g_signal_connect (self->session, "notify", G_CALLBACK (on_session_notify), self);

  _pt_ice_set_receive_func (self->ice, ice_receive, ice_batch_done, self);
  if (!_pt_ice_set_remote (self->ice, remote, error))
    return FALSE;

  self->connect_timeout = g_timeout_source_new_seconds (is_client ? PT_TUNNEL_CONNECT_TIMEOUT_S
                                                                  : PT_TUNNEL_SERVER_WAIT_S);
  g_source_set_callback (self->connect_timeout, connect_timeout_cb, self, NULL);
  g_source_set_static_name (self->connect_timeout, "[pt] tunnel connect deadline");
  g_source_attach (self->connect_timeout, g_main_context_get_thread_default ());
  g_source_unref (self->connect_timeout);

  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_CHECKING);
  return TRUE;
}

static PtSignal *
make_signal (PtTunnel     *self,
             PtSignalKind  kind)
{
  PtSignal *signal = pt_signal_new (kind);

  memcpy (signal->session_id, self->session_id, sizeof signal->session_id);
  signal->timestamp = g_get_real_time () / G_USEC_PER_SEC;
  memcpy (signal->fingerprint, _pt_certificate_get_fingerprint (self->certificate),
          sizeof signal->fingerprint);
  _pt_ice_fill_local (self->ice, signal);
  return signal;
}

/* Starts gathering after creating this session's identity. */
static gboolean
begin_gathering (PtTunnel             *self,
                 GTask                *task,
                 GAsyncReadyCallback   gathered)
{
  g_autoptr(GError) error = NULL;

  if (self->state != PT_TUNNEL_STATE_NEW)
    {
      g_task_return_new_error (task, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                               "this tunnel was already started");
      return FALSE;
    }

  /* Descriptors for the ICE agent and the rest, before opening any: when
   * they are spent the process stays healthy and says why. */
  if (!_pt_budget_take (PT_BUDGET_FDS_PER_TUNNEL))
    {
      error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_BUSY,
                           "too many tunnels at once for this process's open-files limit "
                           "(%u descriptors for tunnels and their connections, all in use)",
                           _pt_budget_get_fd_limit ());
      pt_tunnel_fail (self, error);
      g_task_return_error (task, g_steal_pointer (&error));
      return FALSE;
    }
  self->holds_fds = TRUE;

  self->certificate = _pt_certificate_new (&error);
  if (self->certificate == NULL)
    {
      pt_tunnel_fail (self, error);
      g_task_return_error (task, g_steal_pointer (&error));
      return FALSE;
    }

  self->ice = _pt_ice_new (self->role == PT_TUNNEL_ROLE_CLIENT, self->ice_config);
  g_signal_connect (self->ice, "notify::path-kind", G_CALLBACK (on_ice_path_kind), self);
  g_signal_connect (self->ice, "notify::data-path", G_CALLBACK (on_ice_data_path), self);
  g_signal_connect (self->ice, "connected", G_CALLBACK (on_ice_connected), self);
  g_signal_connect (self->ice, "failed", G_CALLBACK (on_ice_failed), self);

  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_GATHERING);
  _pt_ice_gather_async (self->ice, g_task_get_cancellable (task), gathered, task);
  return TRUE;
}

/* FALSE (and @task answered) when gathering failed or the tunnel closed meanwhile. */
static gboolean
finish_gathering (PtTunnel     *self,
                  PtIce        *ice,
                  GAsyncResult *result,
                  GTask        *task)
{
  g_autoptr(GError) error = NULL;

  if (!_pt_ice_gather_finish (ice, result, &error))
    {
      pt_tunnel_fail (self, error);
      g_task_return_error (task, g_steal_pointer (&error));
      return FALSE;
    }
  if (is_finished (self))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the tunnel was closed");
      return FALSE;
    }
  return TRUE;
}

/* Client */

static void
offer_gathered_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PtTunnel *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  PtSignal *offer;

  if (!finish_gathering (self, PT_ICE (object), result, task))
    return;

  offer = make_signal (self, PT_SIGNAL_KIND_OFFER);
  for (guint i = 0; i < self->forwards->len; i++)
    g_ptr_array_add (offer->forwards, pt_forward_spec_copy (g_ptr_array_index (self->forwards, i)));

  pt_tunnel_enter_state (self, PT_TUNNEL_STATE_WAITING_FOR_ANSWER);
  g_task_return_pointer (task, offer, (GDestroyNotify) pt_signal_free);
}

void
pt_tunnel_create_offer_async (PtTunnel            *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (PT_IS_TUNNEL (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pt_tunnel_create_offer_async);

  if (self->role != PT_TUNNEL_ROLE_CLIENT || (self->forwards->len == 0 && !self->vpn_client))
    {
      g_task_return_new_error (task, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                               self->role != PT_TUNNEL_ROLE_CLIENT
                               ? "only a client makes offers"
                               : "an offer needs at least one forward");
      return;
    }

  gnutls_rnd (GNUTLS_RND_NONCE, self->session_id, sizeof self->session_id);
  if (begin_gathering (self, task, offer_gathered_cb))
    g_steal_pointer (&task);
}

PtSignal *
pt_tunnel_create_offer_finish (PtTunnel      *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
pt_tunnel_set_answer (PtTunnel        *self,
                      const PtSignal  *answer,
                      GError         **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (PT_IS_TUNNEL (self), FALSE);
  g_return_val_if_fail (answer != NULL, FALSE);

  if (self->role != PT_TUNNEL_ROLE_CLIENT || self->state != PT_TUNNEL_STATE_WAITING_FOR_ANSWER)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "this tunnel is not waiting for an answer (it is %s)",
                   pt_tunnel_state_to_string (self->state));
      return FALSE;
    }

  if (answer->kind != PT_SIGNAL_KIND_ANSWER)
    {
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND,
                   "this is an offer, but an answer was expected: paste the block the server printed");
      return FALSE;
    }

  if (memcmp (answer->session_id, self->session_id, sizeof self->session_id) != 0)
    {
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_SESSION,
                   "this answer belongs to another offer: give the server this client's "
                   "latest offer and paste the answer it prints for it");
      return FALSE;
    }

  if (!pt_signal_check_fresh (answer, g_get_real_time () / G_USEC_PER_SEC, error))
    return FALSE;

  if (!start_connecting (self, answer, &local_error))
    {
      pt_tunnel_fail (self, local_error);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

gboolean
pt_tunnel_add_forward (PtTunnel             *self,
                       const PtForwardSpec  *spec,
                       const char           *listen_address,
                       GError              **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autofree char *addr = NULL;

  g_return_val_if_fail (PT_IS_TUNNEL (self), FALSE);

  if (self->role != PT_TUNNEL_ROLE_CLIENT || self->state != PT_TUNNEL_STATE_NEW)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "forwards are added to a client tunnel before it starts");
      return FALSE;
    }
  if (self->forwards->len >= PT_SIGNAL_MAX_FORWARDS)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "a tunnel carries at most %d forwards", PT_SIGNAL_MAX_FORWARDS);
      return FALSE;
    }

  socket = _pt_session_bind_forward (spec->proto, listen_address, error);
  if (socket == NULL)
    return FALSE;

  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return FALSE;

  {
    GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (bound);
    g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));

    if (strchr (host, ':') != NULL)
      addr = g_strdup_printf ("[%s]:%u", host, g_inet_socket_address_get_port (inet));
    else
      addr = g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (inet));
  }

  g_ptr_array_add (self->forwards, pt_forward_spec_copy (spec));
  g_ptr_array_add (self->sockets, g_steal_pointer (&socket));
  g_ptr_array_add (self->listen_addresses, g_steal_pointer (&addr));
  return TRUE;
}

GPtrArray *
pt_tunnel_dup_listen_addresses (PtTunnel *self)
{
  GPtrArray *copy;

  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);

  copy = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->listen_addresses->len; i++)
    g_ptr_array_add (copy, g_strdup (g_ptr_array_index (self->listen_addresses, i)));
  return copy;
}

/* Server */

void
pt_tunnel_set_policy (PtTunnel       *self,
                      PtServerPolicy *policy)
{
  g_return_if_fail (PT_IS_TUNNEL (self));

  g_clear_pointer (&self->policy, pt_server_policy_unref);
  if (policy != NULL)
    self->policy = pt_server_policy_ref (policy);
}

static void
answer_gathered_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PtTunnel *self = g_task_get_source_object (task);
  const PtSignal *offer = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = NULL;

  if (!finish_gathering (self, PT_ICE (object), result, task))
    return;

  answer = make_signal (self, PT_SIGNAL_KIND_ANSWER);
  if (!start_connecting (self, offer, &error))
    {
      pt_tunnel_fail (self, error);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&answer), (GDestroyNotify) pt_signal_free);
}

static PtSignal *
copy_signal (const PtSignal *signal)
{
  g_autoptr(GBytes) bytes = pt_signal_encode (signal, NULL);

  return bytes ? pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL)
               : NULL;
}

void
pt_tunnel_accept_offer_async (PtTunnel            *self,
                              const PtSignal      *offer,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  PtSignal *copy;

  g_return_if_fail (PT_IS_TUNNEL (self));
  g_return_if_fail (offer != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, pt_tunnel_accept_offer_async);

  if (self->role != PT_TUNNEL_ROLE_SERVER)
    {
      g_task_return_new_error (task, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                               "only a server accepts offers");
      return;
    }
  if (offer->kind != PT_SIGNAL_KIND_OFFER)
    {
      g_task_return_new_error (task, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND,
                               "this is an answer, but an offer was expected: paste the block "
                               "the client printed");
      return;
    }
  if (!pt_signal_check_fresh (offer, g_get_real_time () / G_USEC_PER_SEC, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  copy = copy_signal (offer);
  if (copy == NULL)
    {
      g_task_return_new_error (task, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED,
                               "the offer cannot be used");
      return;
    }
  g_task_set_task_data (task, copy, (GDestroyNotify) pt_signal_free);
  memcpy (self->session_id, offer->session_id, sizeof self->session_id);

  if (begin_gathering (self, task, answer_gathered_cb))
    g_steal_pointer (&task);
}

PtSignal *
pt_tunnel_accept_offer_finish (PtTunnel      *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
pt_tunnel_close (PtTunnel *self)
{
  g_return_if_fail (PT_IS_TUNNEL (self));

  if (is_finished (self))
    return;

  g_clear_error (&self->error);
  self->error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_CLOSED, "the tunnel was closed");
  pt_tunnel_finish (self);
}

/* Getters */

PtTunnelRole
pt_tunnel_get_role (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), PT_TUNNEL_ROLE_CLIENT);
  return self->role;
}

PtTunnelState
pt_tunnel_get_state (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), PT_TUNNEL_STATE_FAILED);
  return self->state;
}

PtPathKind
pt_tunnel_get_path_kind (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), PT_PATH_KIND_NONE);
  return self->path_kind;
}

gpointer
_pt_tunnel_get_ice (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);
  return self->ice;
}

gpointer
_pt_tunnel_get_quic (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);
  return self->quic;
}

const char *
pt_tunnel_get_data_path (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);

  if (self->ice == NULL || is_finished (self))
    return "libnice";
  return _pt_ice_get_data_path (self->ice);
}

guint64
pt_tunnel_get_bytes_sent (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), 0);
  return self->session ? _pt_session_get_bytes_sent (self->session) : 0;
}

guint64
pt_tunnel_get_bytes_received (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), 0);
  return self->session ? _pt_session_get_bytes_received (self->session) : 0;
}

guint64
pt_tunnel_get_refused_connections (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), 0);
  return self->session ? _pt_session_get_refused (self->session) : 0;
}

guint
pt_tunnel_get_active_connections (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), 0);
  return self->session ? _pt_session_get_active_connections (self->session) : 0;
}

const GError *
pt_tunnel_get_error (PtTunnel *self)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);
  return self->error;
}

/* Object */

static void
pt_tunnel_dispose (GObject *object)
{
  PtTunnel *self = PT_TUNNEL (object);

  if (!is_finished (self))
    teardown (self, 0, "closed");
  g_clear_object (&self->session);
  g_clear_object (&self->quic);
  g_clear_object (&self->ice);
  if (self->holds_fds)
    {
      self->holds_fds = FALSE;
      _pt_budget_release (PT_BUDGET_FDS_PER_TUNNEL);
    }
  G_OBJECT_CLASS (pt_tunnel_parent_class)->dispose (object);
}

static void
pt_tunnel_finalize (GObject *object)
{
  PtTunnel *self = PT_TUNNEL (object);

  g_clear_object (&self->certificate);
  g_clear_pointer (&self->ice_config, pt_ice_config_unref);
  g_clear_pointer (&self->forwards, g_ptr_array_unref);
  g_clear_pointer (&self->sockets, g_ptr_array_unref);
  g_clear_pointer (&self->listen_addresses, g_ptr_array_unref);
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  g_clear_pointer (&self->vpn_router, _pt_vpn_router_unref);
  g_clear_pointer (&self->vpn_client_id, g_free);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (pt_tunnel_parent_class)->finalize (object);
}

static void
pt_tunnel_get_property (GObject    *object,
                        guint       prop_id,
                        GValue     *value,
                        GParamSpec *pspec)
{
  PtTunnel *self = PT_TUNNEL (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_PATH_KIND:
      g_value_set_enum (value, self->path_kind);
      break;
    case PROP_DATA_PATH:
      g_value_set_string (value, pt_tunnel_get_data_path (self));
      break;
    case PROP_BYTES_SENT:
      g_value_set_uint64 (value, pt_tunnel_get_bytes_sent (self));
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, pt_tunnel_get_bytes_received (self));
      break;
    case PROP_ACTIVE_CONNECTIONS:
      g_value_set_uint (value, pt_tunnel_get_active_connections (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_tunnel_set_property (GObject      *object,
                        guint         prop_id,
                        const GValue *value,
                        GParamSpec   *pspec)
{
  PtTunnel *self = PT_TUNNEL (object);

  switch (prop_id)
    {
    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_tunnel_class_init (PtTunnelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_tunnel_dispose;
  object_class->finalize = pt_tunnel_finalize;
  object_class->get_property = pt_tunnel_get_property;
  object_class->set_property = pt_tunnel_set_property;

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, PT_TYPE_TUNNEL_ROLE, PT_TUNNEL_ROLE_CLIENT,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PT_TYPE_TUNNEL_STATE, PT_TUNNEL_STATE_NEW,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PATH_KIND] =
    g_param_spec_enum ("path-kind", NULL, NULL, PT_TYPE_PATH_KIND, PT_PATH_KIND_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /* "libnice", or "fast (MODE)" while pt's own socket carries the packets
   * of the selected pair (MODE: gso+gro, gro, gso or batched). */
  properties[PROP_DATA_PATH] =
    g_param_spec_string ("data-path", NULL, NULL, "libnice",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_SENT] =
    g_param_spec_uint64 ("bytes-sent", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_RECEIVED] =
    g_param_spec_uint64 ("bytes-received", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ACTIVE_CONNECTIONS] =
    g_param_spec_uint ("active-connections", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* Client, VPN mode (private for now): the server assigned addresses. */
  signals[VPN_CONFIG] =
    g_signal_new ("vpn-config", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /* Server: a requested forward was refused (forward URI, reason). */
  signals[FORWARD_REJECTED] =
    g_signal_new ("forward-rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
pt_tunnel_init (PtTunnel *self)
{
  self->state = PT_TUNNEL_STATE_NEW;
  self->path_kind = PT_PATH_KIND_NONE;
  self->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->listen_addresses = g_ptr_array_new_with_free_func (g_free);
}

PtTunnel *
pt_tunnel_new (PtTunnelRole  role,
               PtIceConfig  *ice_config)
{
  PtTunnel *self = g_object_new (PT_TYPE_TUNNEL, "role", role, NULL);

  self->ice_config = ice_config ? pt_ice_config_ref (ice_config) : pt_ice_config_new ();
  return self;
}

void
_pt_tunnel_set_keep_listeners (PtTunnel *self,
                               gboolean  keep)
{
  self->keep_listeners = keep;
}

PtTunnel *
_pt_tunnel_new_successor (PtTunnel *previous)
{
  PtTunnel *self = pt_tunnel_new (previous->role, previous->ice_config);

  g_return_val_if_fail (previous->role == PT_TUNNEL_ROLE_CLIENT, self);

  previous->keep_listeners = TRUE;
  self->keep_listeners = TRUE;
  for (guint i = 0; i < previous->forwards->len; i++)
    {
      g_ptr_array_add (self->forwards, pt_forward_spec_copy (g_ptr_array_index (previous->forwards, i)));
      g_ptr_array_add (self->sockets, g_object_ref (g_ptr_array_index (previous->sockets, i)));
      g_ptr_array_add (self->listen_addresses,
                       g_strdup (g_ptr_array_index (previous->listen_addresses, i)));
    }
  return self;
}

void
_pt_tunnel_set_vpn_client (PtTunnel *self,
                           guint8    flags)
{
  g_return_if_fail (self->role == PT_TUNNEL_ROLE_CLIENT && self->state == PT_TUNNEL_STATE_NEW);
  self->vpn_client = TRUE;
  self->vpn_flags = flags;
}

gconstpointer
_pt_tunnel_get_vpn_config (PtTunnel *self)
{
  return self->vpn_configured ? _pt_session_get_vpn_config (self->session) : NULL;
}

gboolean
_pt_tunnel_attach_tun (PtTunnel  *self,
                       int        tun_fd,
                       GError   **error)
{
  if (!self->vpn_configured || self->vpn_link != NULL || is_finished (self))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "this tunnel is not waiting for a TUN device");
      return FALSE;
    }
  self->vpn_link = _pt_vpn_link_new (self->session, tun_fd, error);
  return self->vpn_link != NULL;
}

void
_pt_tunnel_set_vpn_router (PtTunnel    *self,
                           PtVpnRouter *router,
                           const char  *client_id)
{
  g_return_if_fail (self->role == PT_TUNNEL_ROLE_SERVER && self->state == PT_TUNNEL_STATE_NEW);
  g_clear_pointer (&self->vpn_router, _pt_vpn_router_unref);
  self->vpn_router = router ? _pt_vpn_router_ref (router) : NULL;
  g_free (self->vpn_client_id);
  self->vpn_client_id = g_strdup (client_id);
}

/* VPN mode: public API */

void
pt_tunnel_set_vpn_client (PtTunnel *self,
                          gboolean  want_ipv6)
{
  g_return_if_fail (PT_IS_TUNNEL (self));
  _pt_tunnel_set_vpn_client (self, want_ipv6 ? PT_VPN_HELLO_WANTS_IPV6 : 0);
}

PtVpnSettings *
pt_tunnel_dup_vpn_settings (PtTunnel *self)
{
  const PtVpnConfig *config;

  g_return_val_if_fail (PT_IS_TUNNEL (self), NULL);
  config = _pt_tunnel_get_vpn_config (self);
  return config ? _pt_vpn_settings_new (config) : NULL;
}

gboolean
pt_tunnel_attach_tun (PtTunnel  *self,
                      int        tun_fd,
                      GError   **error)
{
  g_return_val_if_fail (PT_IS_TUNNEL (self), FALSE);
  return _pt_tunnel_attach_tun (self, tun_fd, error);
}

void
pt_tunnel_set_vpn_router (PtTunnel    *self,
                          PtVpnRouter *router,
                          const char  *client_id)
{
  g_return_if_fail (PT_IS_TUNNEL (self));
  _pt_tunnel_set_vpn_router (self, router, client_id);
}

PtVpnRouter *
pt_vpn_router_new (const char          *network4,
                   const char          *network6,
                   int                  tun_fd,
                   guint                mtu,
                   const char * const  *dns,
                   GError             **error)
{
  PtVpnRouter *router = _pt_vpn_router_new (network4, network6, tun_fd, mtu, error);

  if (router != NULL && !_pt_vpn_router_set_dns (router, dns, error))
    g_clear_pointer (&router, _pt_vpn_router_unref);
  return router;
}

PtVpnRouter *
pt_vpn_router_ref (PtVpnRouter *router)
{
  return _pt_vpn_router_ref (router);
}

void
pt_vpn_router_unref (PtVpnRouter *router)
{
  _pt_vpn_router_unref (router);
}

guint64
pt_vpn_router_get_spoofed (PtVpnRouter *router)
{
  return _pt_vpn_router_get_spoofed (router);
}

gboolean
pt_tunnel_is_anything_closing (void)
{
  return _pt_ice_get_pending_closes () > 0;
}
