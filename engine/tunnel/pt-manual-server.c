/* pt-manual-server.c — serves clients paired by copy-paste
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each admitted offer is a session: a server tunnel, its answer, and until
 * the client connects a deadline sooner than the answer's own 15 minutes (a
 * pending session holds sockets and sends checks to whatever the offer
 * named). Sessions end when their tunnel closes or fails; the tunnel is
 * dropped from an idle, as we are then inside one of its signals.
 */
#define G_LOG_DOMAIN "pt-manual-server"

#include "config.h"

#include "pt-admission-private.h"
#include "pt-manual-server.h"

typedef struct
{
  PtManualServer *server;        /* unowned */
  PtTunnel       *tunnel;
  char           *hex;           /* session id */
  gboolean        up;            /* the client connected */
  GSource        *deadline;      /* while pending */
} Session;

struct _PtManualServer
{
  GObject         parent_instance;

  PtIceConfig    *ice_config;
  PtServerPolicy *policy;
  PtVpnRouter    *vpn_router;
  PtAdmission    *admission;
  guint           pending_timeout_s;
  GPtrArray      *sessions;      /* Session*, in arrival order */
  gboolean        stopped;
};

enum { SESSION_STARTED, ANSWERED, SESSION_DROPPED, SESSION_ENDED, N_SIGNALS };

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtManualServer, pt_manual_server, G_TYPE_OBJECT)

static gboolean
unref_later_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
session_free (Session *session)
{
  if (session->deadline != NULL)
    g_source_destroy (session->deadline);
  if (session->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (session->tunnel, session);
      g_object_set_data (G_OBJECT (session->tunnel), "pt-manual-session", NULL);
      g_idle_add (unref_later_cb, g_steal_pointer (&session->tunnel));
    }
  g_free (session->hex);
  g_free (session);
}

static void
on_tunnel_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 Session    *session)
{
  PtManualServer *self = session->server;
  PtTunnelState state = pt_tunnel_get_state (tunnel);
  g_autoptr(PtTunnel) hold = NULL;
  g_autofree char *hex = NULL;

  if (state == PT_TUNNEL_STATE_UP && !session->up)
    {
      session->up = TRUE;
      g_clear_pointer (&session->deadline, g_source_destroy);
    }
  if (state != PT_TUNNEL_STATE_CLOSED && state != PT_TUNNEL_STATE_FAILED)
    return;

  hold = g_object_ref (tunnel);
  hex = g_strdup (session->hex);
  g_ptr_array_remove (self->sessions, session);   /* frees it */
  g_signal_emit (self, signals[SESSION_ENDED], 0, hold, hex);
}

static gboolean
deadline_cb (gpointer data)
{
  Session *session = data;
  g_autofree char *message = NULL;

  session->deadline = NULL;
  message = g_strdup_printf ("the client did not connect within %u s of its answer: session "
                             "dropped (--pending-timeout); the client can make a new offer",
                             session->server->pending_timeout_s);
  g_signal_emit (session->server, signals[SESSION_DROPPED], 0, session->hex, "pending-timeout",
                 message);
  pt_tunnel_close (session->tunnel);   /* → CLOSED → ended */
  return G_SOURCE_REMOVE;
}

static void
answer_ready_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PtTunnel *tunnel = PT_TUNNEL (object);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = pt_tunnel_accept_offer_finish (tunnel, result, &error);
  Session *session = g_object_get_data (G_OBJECT (tunnel), "pt-manual-session");

  /* Gone meanwhile (stopped), or failed: the tunnel's state says why. */
  if (session == NULL)
    return;
  if (answer == NULL)
    {
      g_debug ("session %s: no answer: %s", session->hex, error->message);
      pt_tunnel_close (tunnel);
      return;
    }
  g_signal_emit (session->server, signals[ANSWERED], 0, session->hex, answer);
}

gboolean
pt_manual_server_give_offer (PtManualServer  *self,
                             const PtSignal  *offer,
                             GError         **error)
{
  Session *session;

  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), FALSE);
  g_return_val_if_fail (offer != NULL, FALSE);

  if (self->stopped)
    {
      g_set_error_literal (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                           "this server has stopped");
      return FALSE;
    }
  if (!_pt_admission_check (self->admission, NULL, NULL, offer, self->sessions->len,
                            pt_manual_server_get_n_pending (self),
                            g_get_real_time () / G_USEC_PER_SEC, error))
    return FALSE;

  session = g_new0 (Session, 1);
  session->server = self;
  session->hex = pt_signal_session_to_hex (offer->session_id);
  session->tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, self->ice_config);
  pt_tunnel_set_policy (session->tunnel, self->policy);
  if (self->vpn_router != NULL)
    {
      g_autofree char *client_id = g_strdup_printf ("session %s", session->hex);

      pt_tunnel_set_vpn_router (session->tunnel, self->vpn_router, client_id);
    }
  if (self->pending_timeout_s > 0)
    {
      session->deadline = g_timeout_source_new_seconds (self->pending_timeout_s);
      g_source_set_callback (session->deadline, deadline_cb, session, NULL);
      g_source_set_static_name (session->deadline, "[pt] manual server pending deadline");
      g_source_attach (session->deadline, g_main_context_get_thread_default ());
      g_source_unref (session->deadline);
    }
  g_object_set_data (G_OBJECT (session->tunnel), "pt-manual-session", session);
  g_ptr_array_add (self->sessions, session);

  /* Handlers connected in there see the tunnel's states before we end the
   * session on CLOSED/FAILED. */
  g_signal_emit (self, signals[SESSION_STARTED], 0, session->tunnel, session->hex, offer);
  g_signal_connect (session->tunnel, "notify::state", G_CALLBACK (on_tunnel_state), session);
  pt_tunnel_accept_offer_async (session->tunnel, offer, NULL, answer_ready_cb, NULL);
  return TRUE;
}

void
pt_manual_server_stop (PtManualServer *self)
{
  g_autoptr(GPtrArray) tunnels = NULL;

  g_return_if_fail (PT_IS_MANUAL_SERVER (self));
  self->stopped = TRUE;
  /* Closing a tunnel ends its session (signals): collect first. */
  tunnels = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < self->sessions->len; i++)
    g_ptr_array_add (tunnels, g_object_ref (((Session *) g_ptr_array_index (self->sessions, i))->tunnel));
  for (guint i = 0; i < tunnels->len; i++)
    pt_tunnel_close (g_ptr_array_index (tunnels, i));
}

guint
pt_manual_server_get_n_sessions (PtManualServer *self)
{
  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), 0);
  return self->sessions->len;
}

guint
pt_manual_server_get_n_pending (PtManualServer *self)
{
  guint n = 0;

  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), 0);
  for (guint i = 0; i < self->sessions->len; i++)
    if (!((Session *) g_ptr_array_index (self->sessions, i))->up)
      n++;
  return n;
}

PtManualServer *
pt_manual_server_new (PtIceConfig *ice_config)
{
  PtManualServer *self = g_object_new (PT_TYPE_MANUAL_SERVER, NULL);

  self->ice_config = ice_config ? pt_ice_config_ref (ice_config) : pt_ice_config_new ();
  return self;
}

void
pt_manual_server_set_policy (PtManualServer *self,
                             PtServerPolicy *policy)
{
  g_return_if_fail (PT_IS_MANUAL_SERVER (self));
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  if (policy != NULL)
    self->policy = pt_server_policy_ref (policy);
}

void
pt_manual_server_set_vpn_router (PtManualServer *self,
                                 PtVpnRouter    *router)
{
  g_return_if_fail (PT_IS_MANUAL_SERVER (self));
  g_clear_pointer (&self->vpn_router, pt_vpn_router_unref);
  if (router != NULL)
    self->vpn_router = pt_vpn_router_ref (router);
}

void
pt_manual_server_set_limits (PtManualServer *self,
                             guint           max_sessions,
                             guint           max_pending,
                             guint           pending_timeout_s)
{
  g_return_if_fail (PT_IS_MANUAL_SERVER (self));
  g_return_if_fail (pending_timeout_s >= 1 && pending_timeout_s <= PT_SIGNAL_FRESH_SECONDS);
  _pt_admission_set_max_sessions (self->admission, max_sessions);
  _pt_admission_set_max_pending (self->admission, max_pending);
  self->pending_timeout_s = pending_timeout_s;
}

guint
pt_manual_server_get_max_sessions (PtManualServer *self)
{
  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), 0);
  return _pt_admission_get_max_sessions (self->admission);
}

guint
pt_manual_server_get_max_pending (PtManualServer *self)
{
  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), 0);
  return _pt_admission_get_max_pending (self->admission);
}

guint
pt_manual_server_get_pending_timeout (PtManualServer *self)
{
  g_return_val_if_fail (PT_IS_MANUAL_SERVER (self), 0);
  return self->pending_timeout_s;
}

static void
pt_manual_server_dispose (GObject *object)
{
  PtManualServer *self = PT_MANUAL_SERVER (object);

  if (self->sessions != NULL)
    {
      pt_manual_server_stop (self);
      /* Sessions refer to us: drop them while we are whole. */
      g_ptr_array_set_size (self->sessions, 0);
    }
  G_OBJECT_CLASS (pt_manual_server_parent_class)->dispose (object);
}

static void
pt_manual_server_finalize (GObject *object)
{
  PtManualServer *self = PT_MANUAL_SERVER (object);

  g_clear_pointer (&self->sessions, g_ptr_array_unref);
  g_clear_pointer (&self->ice_config, pt_ice_config_unref);
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  g_clear_pointer (&self->vpn_router, pt_vpn_router_unref);
  g_clear_pointer (&self->admission, _pt_admission_free);
  G_OBJECT_CLASS (pt_manual_server_parent_class)->finalize (object);
}

static void
pt_manual_server_class_init (PtManualServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_manual_server_dispose;
  object_class->finalize = pt_manual_server_finalize;

  signals[SESSION_STARTED] =
    g_signal_new ("session-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, PT_TYPE_TUNNEL, G_TYPE_STRING, G_TYPE_POINTER);
  signals[ANSWERED] =
    g_signal_new ("answered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  signals[SESSION_DROPPED] =
    g_signal_new ("session-dropped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[SESSION_ENDED] =
    g_signal_new ("session-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, PT_TYPE_TUNNEL, G_TYPE_STRING);
}

static void
pt_manual_server_init (PtManualServer *self)
{
  self->admission = _pt_admission_new ();
  self->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) session_free);
  self->pending_timeout_s = PT_MANUAL_DEFAULT_PENDING_TIMEOUT;
  _pt_admission_set_max_sessions (self->admission, PT_MANUAL_DEFAULT_MAX_SESSIONS);
  _pt_admission_set_max_pending (self->admission, PT_MANUAL_DEFAULT_MAX_PENDING);
}
