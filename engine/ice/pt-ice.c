/* pt-ice.c — one ICE session (libnice) carrying datagrams
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-ice"

#include "config.h"

#include <string.h>

#include <agent.h>
#include <gnutls/crypto.h>
#include <stun/usages/ice.h>

#include "pt-fast-path-private.h"
#include "pt-ice-private.h"
#include "pt-stun-private.h"
#include "pt-tls-bridge-private.h"

#define PT_ICE_PROBE_TIMEOUT_MS  1500
#define PT_ICE_PROBE_RESEND_MS   300

/* While the selected pair is relayed, each side knocks on the peer's direct
 * candidates this often (see knock_direct()): fast for the first
 * PT_ICE_UPGRADE_FAST_KNOCKS, then slowly for as long as the tunnel lives. */
#define PT_ICE_UPGRADE_FIRST_MS     1000
#define PT_ICE_UPGRADE_FAST_MS      5000
#define PT_ICE_UPGRADE_SLOW_MS      20000
#define PT_ICE_UPGRADE_FAST_KNOCKS  24

struct _PtIce
{
  GObject           parent_instance;

  PtIceConfig      *config;
  NiceAgent        *agent;
  guint             stream_id;
  gboolean          controlling;

  PtIceReceiveFunc  receive_func;
  PtIceBatchFunc    batch_func;
  gpointer          receive_data;

  PtSignal         *remote;          /* the peer's credentials and candidates, for retries */
  GPtrArray        *bridges;         /* PtTlsBridge*, one per turns:// server */
  PtPathKind        path_kind;
  PtFastPath       *fast_path;       /* pt's own socket on the selected pair, or NULL */
  char             *data_path;       /* "libnice" or "fast (MODE)" */
  gboolean          local_pair;      /* both ends of the selected pair are this machine */
  guint64           dropped_not_quic; /* libnice delivered data without the QUIC fixed bit */
  guint             dropped_candidates; /* the peer's, for their address */
  guint             fast_path_builds;
  gboolean          connected;
  gboolean          failed;
  gboolean          closed;

  /* Upgrading a relayed path to a direct one */
  GSource          *upgrade_timer;
  guint             upgrade_knocks;
  gboolean          upgrade_hopeless;

  /* Gathering */
  GTask            *gather_task;
  GSource          *gather_timeout;
  guint             resolves_pending;
  GPtrArray        *stun_addrs;      /* GInetSocketAddress*, parallel to the STUN servers; NULL = unresolved */
  char             *stun_ip;         /* the one given to libnice */
  guint16           stun_port;
  GPtrArray        *turn_ips;        /* parallel to config's TURN servers; NULL = unresolved */
  GCancellable     *resolve_cancellable;

  /* Probing several STUN servers */
  GSocket          *probe_socket[2]; /* IPv4, IPv6 */
  GSource          *probe_watch[2];
  GSource          *probe_resend;
  GPtrArray        *probe_targets;   /* GInetSocketAddress*, those that resolved */
  guint8           *probe_txids;
  guint             probe_sends;
};

enum { PROP_0, PROP_PATH_KIND, PROP_DATA_PATH, N_PROPS };
enum { CONNECTED, FAILED, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];
static guint pending_closes;

G_DEFINE_FINAL_TYPE (PtIce, pt_ice, G_TYPE_OBJECT)

static void pt_ice_start_gathering (PtIce *self);
static void stop_probe (PtIce *self);
static void update_upgrade (PtIce *self);
static void update_fast_path (PtIce *self);

guint
_pt_ice_get_pending_closes (void)
{
  return pending_closes;
}

guint
_pt_ice_get_dropped_candidates (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), 0);
  return self->dropped_candidates;
}

static void
agent_closed_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_debug ("agent %p closed", object);
  pending_closes--;
  g_object_unref (object);
}

void
_pt_ice_close (PtIce *self)
{
  g_return_if_fail (PT_IS_ICE (self));

  if (self->closed)
    return;
  self->closed = TRUE;

  if (self->resolve_cancellable != NULL)
    g_cancellable_cancel (self->resolve_cancellable);
  g_clear_pointer (&self->upgrade_timer, g_source_destroy);
  g_clear_pointer (&self->fast_path, _pt_fast_path_free);

  if (self->agent != NULL)
    {
      NiceAgent *agent = g_steal_pointer (&self->agent);

      g_signal_handlers_disconnect_by_data (agent, self);
      /* TURN deallocation goes through the bridges: they live as long as the agent. */
      if (self->bridges != NULL)
        g_object_set_data_full (G_OBJECT (agent), "pt-tls-bridges",
                                g_steal_pointer (&self->bridges),
                                (GDestroyNotify) g_ptr_array_unref);
      if (self->stream_id != 0)
        nice_agent_attach_recv (agent, self->stream_id, 1, NULL, NULL, NULL);
      pending_closes++;
      /* The callback drops our reference once TURN allocations are released. */
      nice_agent_close_async (agent, agent_closed_cb, NULL);
    }
}

static void
pt_ice_dispose (GObject *object)
{
  PtIce *self = PT_ICE (object);

  _pt_ice_close (self);
  stop_probe (self);
  g_clear_pointer (&self->gather_timeout, g_source_destroy);
  G_OBJECT_CLASS (pt_ice_parent_class)->dispose (object);
}

static void
pt_ice_finalize (GObject *object)
{
  PtIce *self = PT_ICE (object);

  g_clear_pointer (&self->config, pt_ice_config_unref);
  g_clear_pointer (&self->remote, pt_signal_free);

  g_clear_pointer (&self->bridges, g_ptr_array_unref);
  g_clear_pointer (&self->turn_ips, g_ptr_array_unref);
  g_clear_pointer (&self->stun_addrs, g_ptr_array_unref);
  g_clear_object (&self->resolve_cancellable);
  g_free (self->stun_ip);
  g_free (self->data_path);
  G_OBJECT_CLASS (pt_ice_parent_class)->finalize (object);
}

static void
pt_ice_get_property (GObject    *object,
                     guint       prop_id,
                     GValue     *value,
                     GParamSpec *pspec)
{
  PtIce *self = PT_ICE (object);

  switch (prop_id)
    {
    case PROP_PATH_KIND:
      g_value_set_enum (value, self->path_kind);
      break;
    case PROP_DATA_PATH:
      g_value_set_string (value, self->data_path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_ice_class_init (PtIceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_ice_dispose;
  object_class->finalize = pt_ice_finalize;
  object_class->get_property = pt_ice_get_property;

  properties[PROP_PATH_KIND] =
    g_param_spec_enum ("path-kind", NULL, NULL,
                       PT_TYPE_PATH_KIND, PT_PATH_KIND_NONE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_DATA_PATH] =
    g_param_spec_string ("data-path", NULL, NULL, "libnice",
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CONNECTED] = g_signal_new ("connected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                     0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
pt_ice_init (PtIce *self)
{
  self->path_kind = PT_PATH_KIND_NONE;
  self->data_path = g_strdup ("libnice");
}

PtIce *
_pt_ice_new (gboolean     controlling,
             PtIceConfig *config)
{
  PtIce *self = g_object_new (PT_TYPE_ICE, NULL);

  self->controlling = controlling;
  self->config = pt_ice_config_ref (config);
  return self;
}

/* Conversions between libnice and the signaling types */

static PtPathKind
path_kind_from_nice (NiceCandidateType type)
{
  switch (type)
    {
    case NICE_CANDIDATE_TYPE_HOST:             return PT_PATH_KIND_HOST;
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return PT_PATH_KIND_SRFLX;
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:   return PT_PATH_KIND_PRFLX;
    case NICE_CANDIDATE_TYPE_RELAYED:          return PT_PATH_KIND_RELAY;
    }
  return PT_PATH_KIND_NONE;
}

static PtTransport
transport_from_nice (NiceCandidateTransport transport)
{
  switch (transport)
    {
    case NICE_CANDIDATE_TRANSPORT_UDP:         return PT_TRANSPORT_UDP;
    case NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE:  return PT_TRANSPORT_TCP_ACTIVE;
    case NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE: return PT_TRANSPORT_TCP_PASSIVE;
    case NICE_CANDIDATE_TRANSPORT_TCP_SO:      return PT_TRANSPORT_TCP_SO;
    }
  return PT_TRANSPORT_UDP;
}

static NiceRelayType
relay_type_from_transport (PtTurnTransport transport)
{
  switch (transport)
    {
    case PT_TURN_TRANSPORT_UDP: return NICE_RELAY_TYPE_TURN_UDP;
    case PT_TURN_TRANSPORT_TCP: return NICE_RELAY_TYPE_TURN_TCP;
    case PT_TURN_TRANSPORT_TLS: return NICE_RELAY_TYPE_TURN_TLS;
    }
  return NICE_RELAY_TYPE_TURN_UDP;
}

static gboolean
candidate_to_pt (const NiceCandidate *nc,
                 PtCandidate         *out)
{
  struct sockaddr_storage ss;

  memset (out, 0, sizeof *out);
  out->type = path_kind_from_nice (nc->type);
  out->transport = transport_from_nice (nc->transport);
  out->priority = nc->priority;
  g_strlcpy (out->foundation, nc->foundation, sizeof out->foundation);
  out->port = nice_address_get_port (&nc->addr);

  nice_address_copy_to_sockaddr (&nc->addr, (struct sockaddr *) &ss);
  if (ss.ss_family == AF_INET)
    {
      out->family = 4;
      memcpy (out->addr, &((struct sockaddr_in *) &ss)->sin_addr, 4);
    }
  else if (ss.ss_family == AF_INET6)
    {
      const struct in6_addr *a6 = &((struct sockaddr_in6 *) &ss)->sin6_addr;

      /* Link-local addresses need a scope the peer cannot know. */
      if (IN6_IS_ADDR_LINKLOCAL (a6))
        return FALSE;
      out->family = 6;
      memcpy (out->addr, a6, 16);
    }
  else
    return FALSE;

  return out->port != 0 && out->foundation[0] != '\0';
}

/* Gathering */

static void
update_path_kind (PtIce      *self,
                  PtPathKind  kind)
{
  if (self->path_kind == kind)
    return;
  g_debug ("path kind: %s → %s", pt_path_kind_to_string (self->path_kind),
           pt_path_kind_to_string (kind));
  self->path_kind = kind;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PATH_KIND]);
  update_upgrade (self);
}

static void
finish_gathering (PtIce *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->gather_task);

  g_clear_pointer (&self->gather_timeout, g_source_destroy);
  if (task == NULL)
    return;

  if (self->closed)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "gathering was cancelled");
      return;
    }

  {
    g_autoptr(PtSignal) probe = pt_signal_new (PT_SIGNAL_KIND_OFFER);

    _pt_ice_fill_local (self, probe);
    if (probe->candidates->len == 0)
      {
        const char *tls_failure = NULL;

        for (guint i = 0; self->bridges && i < self->bridges->len; i++)
          if (_pt_tls_bridge_get_failure (g_ptr_array_index (self->bridges, i)) != NULL)
            tls_failure = _pt_tls_bridge_get_failure (g_ptr_array_index (self->bridges, i));

        if (tls_failure != NULL)
          g_task_return_new_error (task, PT_ICE_ERROR, PT_ICE_ERROR_GATHERING,
                                   "no relayed candidate could be gathered: %s", tls_failure);
        else
          g_task_return_new_error (task, PT_ICE_ERROR, PT_ICE_ERROR_GATHERING,
                                   pt_ice_config_get_relay_only (self->config)
                                   ? "no relayed candidate could be gathered: check the --turn "
                                     "servers (address, credentials, transport)"
                                   : "no usable network address was found on this machine");
        return;
      }
    g_debug ("gathered %u candidates", probe->candidates->len);
  }

  g_task_return_boolean (task, TRUE);
}

static void
on_gathering_done (NiceAgent *agent,
                   guint      stream_id,
                   PtIce     *self)
{
  g_debug ("candidate gathering done");
  finish_gathering (self);
}

static gboolean
gather_timeout_cb (gpointer user_data)
{
  PtIce *self = user_data;

  g_debug ("gathering deadline reached: going on with what was found");
  self->gather_timeout = NULL;
  finish_gathering (self);
  return G_SOURCE_REMOVE;
}

static void
update_selected_pair (PtIce         *self,
                      NiceCandidate *local,
                      NiceCandidate *remote)
{
  PtPathKind kind = path_kind_from_nice (local->type);
  PtPathKind rkind = path_kind_from_nice (remote->type);
  struct sockaddr_storage remote_addr;

  memset (&remote_addr, 0, sizeof remote_addr);
  nice_address_copy_to_sockaddr (&remote->addr, (struct sockaddr *) &remote_addr);
  self->local_pair = local->type != NICE_CANDIDATE_TYPE_RELAYED &&
                     remote->type != NICE_CANDIDATE_TYPE_RELAYED &&
                     _pt_fast_path_is_local_address ((struct sockaddr *) &remote_addr);

  if (kind == PT_PATH_KIND_RELAY || rkind == PT_PATH_KIND_RELAY)
    kind = PT_PATH_KIND_RELAY;
  else if (rkind > kind)
    kind = rkind;
  update_path_kind (self, kind);
  update_fast_path (self);
}

static void
on_component_state_changed (NiceAgent *agent,
                            guint      stream_id,
                            guint      component_id,
                            guint      state,
                            PtIce     *self)
{
  g_debug ("component state: %s", nice_component_state_to_string (state));

  if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
      !self->connected)
    {
      NiceCandidate *local = NULL, *remote = NULL;

      if (nice_agent_get_selected_pair (agent, stream_id, component_id, &local, &remote))
        update_selected_pair (self, local, remote);
      self->connected = TRUE;
      update_fast_path (self);
      update_upgrade (self);
      g_signal_emit (self, signals[CONNECTED], 0);
    }
  else if (state == NICE_COMPONENT_STATE_FAILED && !self->failed)
    {
      g_autoptr(GError) error = NULL;

      self->failed = TRUE;
      /* Consent lost (or never had): nothing may bypass libnice's verdict. */
      update_fast_path (self);
      error = g_error_new (PT_ICE_ERROR, PT_ICE_ERROR_FAILED,
                           "no network path to the peer worked (all ICE checks failed): "
                           "if both sides are behind strict NATs or firewalls, add a TURN "
                           "server with --turn");
      g_signal_emit (self, signals[FAILED], 0, error);
    }
}

static void
on_new_selected_pair (NiceAgent     *agent,
                      guint          stream_id,
                      guint          component_id,
                      NiceCandidate *local,
                      NiceCandidate *remote,
                      PtIce         *self)
{
  update_selected_pair (self, local, remote);
}

/* From relayed to direct
 *
 * libnice stops checking once a pair is nominated, and a pair whose checks
 * failed stays failed: a session that started relayed (the direct path was
 * not there yet, or the NATs' filters opened too late) would stay relayed.
 * What libnice does do, selected pair or not, is answer a check that
 * arrives on a failed pair of higher priority than the selected one with a
 * triggered check of its own (RFC 8445 7.3.1.4), and the controlling agent
 * (aggressive nomination: every check carries USE-CANDIDATE) selects a pair
 * of higher priority as soon as such a check succeeds; the controlled agent
 * follows the nomination. Every direct pair outranks every relayed one.
 *
 * So, while the selected pair is relayed, each side "knocks": it sends an
 * authenticated Binding request, built like libnice's own checks, from each
 * of the agent's host sockets to each direct (non-relayed) candidate of the
 * peer. A knock that gets through makes the peer's agent check that pair
 * back; that check, and the one our agent triggers in turn, open both NATs'
 * filters; the controlling side nominates; both agents move the selected pair.
 * Nothing is restarted: credentials, the relayed pair, consent freshness and
 * the QUIC connection above carry on untouched (QUIC never sees addresses,
 * and libnice accepts packets from every validated address, old and new).
 * The answers to the knocks themselves match no transaction of the agent's
 * and are dropped by it.
 *
 * Both sides knock because a port-restricted NAT only lets the peer's
 * packets in after its own side sent to the peer: the two sides' knocks
 * open the way for each other. */

static guint32
knock_priority (const NiceCandidate *host)
{
  /* A peer-reflexive candidate's priority (RFC 8445 5.1.2.1), with the local
   * preference of the host candidate it comes from: what the peer learns
   * when the knock arrives from an address it does not know. */
  return (110u << 24) | (((host->priority >> 8) & 0xffff) << 8) | (256u - 1u);
}

static gboolean
same_address (GSocketAddress     *socket_address,
              const NiceAddress  *nice_address)
{
  NiceAddress addr;
  struct sockaddr_storage ss;

  if (!g_socket_address_to_native (socket_address, &ss, sizeof ss, NULL))
    return FALSE;
  nice_address_init (&addr);
  nice_address_set_from_sockaddr (&addr, (struct sockaddr *) &ss);
  return nice_address_equal (&addr, nice_address);
}

/* Sends one round of knocks. Returns how many direct candidates of the peer
 * there were to knock on (whether or not the sends succeeded: a full socket
 * buffer under load loses a round, not the upgrade). */
static guint
knock_direct (PtIce *self)
{
  g_autofree char *local_ufrag = NULL;
  g_autofree char *local_pwd = NULL;
  g_autofree char *username = NULL;
  g_autoptr(GPtrArray) sockets = NULL;
  GSList *locals, *remotes;
  gboolean controlling = FALSE;
  guint64 tie;
  guint targets = 0, sent = 0;

  if (self->agent == NULL || self->remote == NULL ||
      !nice_agent_get_local_credentials (self->agent, self->stream_id, &local_ufrag, &local_pwd))
    return 0;
  /* Only our fragment is needed: the knocks are signed with the peer's password. */
  explicit_bzero (local_pwd, strlen (local_pwd));
  /* RFC 8445 7.2.2: the peer's fragment first, then ours. */
  username = g_strconcat (self->remote->ufrag, ":", local_ufrag, NULL);
  /* libnice may have switched roles after a conflict: knock in its role. */
  g_object_get (self->agent, "controlling-mode", &controlling, NULL);
  gnutls_rnd (GNUTLS_RND_NONCE, &tie, sizeof tie);

  sockets = nice_agent_get_sockets (self->agent, self->stream_id, 1);
  if (sockets == NULL)
    return 0;
  locals = nice_agent_get_local_candidates (self->agent, self->stream_id, 1);
  remotes = nice_agent_get_remote_candidates (self->agent, self->stream_id, 1);

  for (GSList *l = locals; l; l = l->next)
    {
      const NiceCandidate *host = l->data;
      GSocket *socket = NULL;

      if (host->type != NICE_CANDIDATE_TYPE_HOST || host->transport != NICE_CANDIDATE_TRANSPORT_UDP)
        continue;

      for (guint i = 0; i < sockets->len && socket == NULL; i++)
        {
          GSocket *candidate_socket = g_ptr_array_index (sockets, i);
          g_autoptr(GSocketAddress) address = NULL;

          if (g_socket_get_socket_type (candidate_socket) != G_SOCKET_TYPE_DATAGRAM)
            continue;
          address = g_socket_get_local_address (candidate_socket, NULL);
          if (address != NULL && same_address (address, &host->base_addr))
            socket = candidate_socket;
        }
      if (socket == NULL)
        continue;

      for (GSList *r = remotes; r; r = r->next)
        {
          const NiceCandidate *peer = r->data;
          struct sockaddr_storage ss;
          g_autoptr(GSocketAddress) destination = NULL;
          StunAgent stun_agent;
          StunMessage message;
          uint8_t buffer[STUN_MAX_MESSAGE_SIZE_IPV6];
          size_t len;

          if (peer->type == NICE_CANDIDATE_TYPE_RELAYED ||
              peer->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
              nice_address_ip_version (&peer->addr) != nice_address_ip_version (&host->addr))
            continue;

          /* A fresh STUN agent per knock: nothing is remembered, the answer
           * is not waited for. */
          stun_agent_init (&stun_agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                           STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS |
                           STUN_AGENT_USAGE_USE_FINGERPRINT);
          len = stun_usage_ice_conncheck_create (&stun_agent, &message, buffer, sizeof buffer,
                                                 (const uint8_t *) username, strlen (username),
                                                 (const uint8_t *) self->remote->pwd,
                                                 strlen (self->remote->pwd),
                                                 FALSE, controlling, knock_priority (host),
                                                 tie, NULL, STUN_USAGE_ICE_COMPATIBILITY_RFC5245);
          if (len == 0)
            continue;
          targets++;

          nice_address_copy_to_sockaddr (&peer->addr, (struct sockaddr *) &ss);
          destination = g_socket_address_new_from_native (&ss, sizeof ss);
          /* Lost knocks are fine: there is another one later. */
          if (destination != NULL &&
              g_socket_send_to (socket, destination, (const char *) buffer, len, NULL, NULL) > 0)
            sent++;
          explicit_bzero (buffer, sizeof buffer);
        }
    }

  g_slist_free_full (remotes, (GDestroyNotify) nice_candidate_free);
  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  if (targets > 0)
    g_debug ("relayed path: knocked on the peer's direct candidates (%u of %u requests sent, "
             "round %u)", sent, targets, self->upgrade_knocks + 1);
  return targets;
}

static gboolean
upgrade_timer_cb (gpointer user_data)
{
  PtIce *self = user_data;
  guint targets = knock_direct (self);

  self->upgrade_knocks++;
  if (targets == 0)
    {
      /* Relay-only on one side (or no direct address at all): nothing can
       * appear later, since candidates are not trickled. */
      g_debug ("relayed path: no direct candidate to try, staying relayed");
      self->upgrade_hopeless = TRUE;
      self->upgrade_timer = NULL;
      return G_SOURCE_REMOVE;
    }
  g_source_set_ready_time (self->upgrade_timer,
                           g_get_monotonic_time () +
                           (self->upgrade_knocks < PT_ICE_UPGRADE_FAST_KNOCKS
                            ? PT_ICE_UPGRADE_FAST_MS : PT_ICE_UPGRADE_SLOW_MS) * 1000);
  return G_SOURCE_CONTINUE;
}

static gboolean
upgrade_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs upgrade_source_funcs = { NULL, NULL, upgrade_dispatch, NULL, NULL, NULL };

/* Knocks while the selected pair is relayed and a direct one could exist. */
static void
update_upgrade (PtIce *self)
{
  gboolean wanted = self->connected && !self->closed && self->agent != NULL &&
                    self->remote != NULL && self->path_kind == PT_PATH_KIND_RELAY &&
                    !pt_ice_config_get_relay_only (self->config) && !self->upgrade_hopeless;

  if (wanted && self->upgrade_timer == NULL)
    {
      g_debug ("relayed path: looking for a direct one");
      self->upgrade_knocks = 0;
      self->upgrade_timer = g_source_new (&upgrade_source_funcs, sizeof (GSource));
      g_source_set_callback (self->upgrade_timer, upgrade_timer_cb, self, NULL);
      g_source_set_static_name (self->upgrade_timer, "[pt] ICE upgrade");
      g_source_set_ready_time (self->upgrade_timer,
                               g_get_monotonic_time () + PT_ICE_UPGRADE_FIRST_MS * 1000);
      g_source_attach (self->upgrade_timer, g_main_context_get_thread_default ());
      g_source_unref (self->upgrade_timer);
    }
  else if (!wanted && self->upgrade_timer != NULL)
    {
      g_debug ("%s: no more knocking after %u rounds",
               self->path_kind == PT_PATH_KIND_RELAY ? "closing" : "direct path",
               self->upgrade_knocks);
      g_clear_pointer (&self->upgrade_timer, g_source_destroy);
    }
}

static void
recv_cb (NiceAgent *agent,
         guint      stream_id,
         guint      component_id,
         guint      len,
         gchar     *buf,
         gpointer   user_data)
{
  PtIce *self = user_data;

  /* Every QUIC packet has the fixed bit (no greasing: STUN shares the
   * port); anything else is not for QUIC, whoever sent it. */
  if (len == 0 || (buf[0] & 0x40) == 0)
    {
      self->dropped_not_quic++;
      return;
    }
  if (self->receive_func != NULL)
    self->receive_func ((const guint8 *) buf, len, self->receive_data);
}

static void
fast_path_receive (const guint8 *packet,
                   gsize         len,
                   gpointer      user_data)
{
  PtIce *self = user_data;

  if (self->receive_func != NULL)
    self->receive_func (packet, len, self->receive_data);
}

static void
fast_path_batch_done (gpointer user_data)
{
  PtIce *self = user_data;

  if (self->batch_func != NULL)
    self->batch_func (self->receive_data);
}

static void
set_data_path (PtIce      *self,
               const char *data_path)
{
  if (g_strcmp0 (self->data_path, data_path) == 0)
    return;
  g_free (self->data_path);
  self->data_path = g_strdup (data_path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DATA_PATH]);
}

/* The fast path follows the selected pair: (re)built whenever it changes,
 * torn down when ICE fails (consent lost) or closes.  Pairs relayed on our
 * side, or over TCP, stay on libnice. */
static void
update_fast_path (PtIce *self)
{
  NiceCandidate *local = NULL, *remote = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;
  struct sockaddr_storage remote_addr;
  socklen_t remote_len;
  const char *why = NULL;

  if (self->closed || self->failed || !self->connected || self->agent == NULL)
    why = "not connected";
  else if (!nice_agent_get_selected_pair (self->agent, self->stream_id, 1, &local, &remote))
    why = "no selected pair";
  else if (local->transport != NICE_CANDIDATE_TRANSPORT_UDP)
    why = "not a UDP pair";
  else if (local->type == NICE_CANDIDATE_TYPE_RELAYED)
    why = "relayed on this side";

  if (why == NULL)
    {
      memset (&remote_addr, 0, sizeof remote_addr);
      nice_address_copy_to_sockaddr (&remote->addr, (struct sockaddr *) &remote_addr);
      remote_len = remote_addr.ss_family == AF_INET6 ? sizeof (struct sockaddr_in6)
                                                     : sizeof (struct sockaddr_in);
    }

  if (why == NULL && !_pt_fast_path_allowed ())
    why = "turned off (PT_FAST_PATH)";

  if (why == NULL)
    {
      socket = nice_agent_get_selected_socket (self->agent, self->stream_id, 1);
      if (socket == NULL)
        why = "libnice has no socket for the pair";
    }

  /* The same pair again (state changes report it too): keep what works. */
  if (why == NULL && self->fast_path != NULL &&
      _pt_fast_path_matches (self->fast_path, socket, (struct sockaddr *) &remote_addr))
    return;

  g_clear_pointer (&self->fast_path, _pt_fast_path_free);

  if (why == NULL)
    {
      self->fast_path = _pt_fast_path_new (socket, (struct sockaddr *) &remote_addr, remote_len,
                                           fast_path_receive, fast_path_batch_done,
                                           self, &error);
      if (self->fast_path == NULL)
        why = error->message;
      else
        self->fast_path_builds++;
    }

  if (self->fast_path != NULL)
    {
      g_autofree char *data_path = g_strdup_printf ("fast (%s)",
                                                    _pt_fast_path_get_mode (self->fast_path));

      g_debug ("data path: pt's own socket, %s", _pt_fast_path_get_mode (self->fast_path));
      set_data_path (self, data_path);
    }
  else
    {
      if (self->connected && !self->closed)
        g_debug ("data path: libnice (%s)", why);
      set_data_path (self, "libnice");
    }
}

static void
pt_ice_start_gathering (PtIce *self)
{
  GMainContext *context = g_main_context_get_thread_default ();
  const char * const *local_addresses = pt_ice_config_get_local_addresses (self->config);
  GPtrArray *turn = pt_ice_config_get_turn_servers (self->config);
  gboolean relay_only = pt_ice_config_get_relay_only (self->config);

  if (self->closed)
    {
      finish_gathering (self);
      return;
    }

  self->agent = nice_agent_new_full (context, NICE_COMPATIBILITY_RFC5245,
                                     NICE_AGENT_OPTION_CONSENT_FRESHNESS);
  g_object_set (self->agent,
                "controlling-mode", self->controlling,
                "ice-tcp", FALSE,
                "ice-udp", TRUE,
                "force-relay", relay_only,
                /* An unreachable STUN server costs about a second, not half a minute. */
                "stun-initial-timeout", 200,
                "stun-max-retransmissions", 3,
                NULL);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->agent), "upnp") != NULL)
    g_object_set (self->agent, "upnp", FALSE, NULL);

  if (self->stun_ip != NULL && !relay_only)
    g_object_set (self->agent,
                  "stun-server", self->stun_ip,
                  "stun-server-port", (guint) self->stun_port,
                  NULL);

  for (guint i = 0; local_addresses[i] != NULL; i++)
    {
      NiceAddress addr;

      nice_address_init (&addr);
      if (nice_address_set_from_string (&addr, local_addresses[i]))
        nice_agent_add_local_address (self->agent, &addr);
    }

  g_signal_connect (self->agent, "candidate-gathering-done",
                    G_CALLBACK (on_gathering_done), self);
  g_signal_connect (self->agent, "component-state-changed",
                    G_CALLBACK (on_component_state_changed), self);
  g_signal_connect (self->agent, "new-selected-pair-full",
                    G_CALLBACK (on_new_selected_pair), self);

  self->bridges = g_ptr_array_new_with_free_func (g_object_unref);
  self->stream_id = nice_agent_add_stream (self->agent, 1);
  nice_agent_set_stream_name (self->agent, self->stream_id, "application");

  for (guint i = 0; i < turn->len; i++)
    {
      const PtTurnServer *server = g_ptr_array_index (turn, i);
      const char *ip = g_ptr_array_index (self->turn_ips, i);

      if (server->transport == PT_TURN_TRANSPORT_TLS)
        {
          g_autoptr(GError) error = NULL;
          PtTlsBridge *bridge = _pt_tls_bridge_new (server->host, server->port,
                                                    pt_ice_config_get_turn_ca_file (self->config),
                                                    &error);

          if (bridge == NULL)
            {
              g_autoptr(GTask) task = g_steal_pointer (&self->gather_task);

              g_task_return_error (task, g_steal_pointer (&error));
              return;
            }
          g_ptr_array_add (self->bridges, bridge);
          nice_agent_set_relay_info (self->agent, self->stream_id, 1, "127.0.0.1",
                                     _pt_tls_bridge_get_port (bridge),
                                     server->username, server->password,
                                     NICE_RELAY_TYPE_TURN_TCP);
          continue;
        }

      if (ip == NULL)
        continue;
      nice_agent_set_relay_info (self->agent, self->stream_id, 1, ip, server->port,
                                 server->username, server->password,
                                 relay_type_from_transport (server->transport));
    }

  nice_agent_attach_recv (self->agent, self->stream_id, 1, context, recv_cb, self);

  self->gather_timeout = g_timeout_source_new (PT_ICE_GATHER_TIMEOUT_MS);
  g_source_set_callback (self->gather_timeout, gather_timeout_cb, self, NULL);
  g_source_set_static_name (self->gather_timeout, "[pt] ICE gathering deadline");
  g_source_attach (self->gather_timeout, context);
  g_source_unref (self->gather_timeout);

  if (!nice_agent_gather_candidates (self->agent, self->stream_id))
    {
      g_autoptr(GTask) task = g_steal_pointer (&self->gather_task);

      g_clear_pointer (&self->gather_timeout, g_source_destroy);
      g_task_return_new_error (task, PT_ICE_ERROR, PT_ICE_ERROR_GATHERING,
                               "ICE could not start gathering candidates "
                               "(no usable local address or bad relay settings)");
    }
}

static void
unref_if_set (gpointer object)
{
  if (object != NULL)
    g_object_unref (object);
}

/* STUN servers: libnice takes one, so when there are several, the first to
 * answer a Binding request gets the job. */

static void
set_stun_address (PtIce      *self,
                  int         index,
                  char       *ip,      /* owned */
                  guint16     port)
{
  g_autofree char *owned = ip;
  g_autoptr(GInetAddress) inet = ip ? g_inet_address_new_from_string (ip) : NULL;

  if (inet == NULL || index < 0 || (guint) index >= self->stun_addrs->len)
    return;
  g_clear_object (&g_ptr_array_index (self->stun_addrs, index));
  g_ptr_array_index (self->stun_addrs, index) = g_inet_socket_address_new (inet, port);
}

static void
use_stun_server (PtIce              *self,
                 GInetSocketAddress *address)
{
  g_free (self->stun_ip);
  self->stun_ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  self->stun_port = g_inet_socket_address_get_port (address);
  g_debug ("STUN server: %s port %u", self->stun_ip, self->stun_port);
}

static void
stop_probe (PtIce *self)
{
  for (guint f = 0; f < 2; f++)
    {
      if (self->probe_watch[f] != NULL)
        {
          g_source_destroy (self->probe_watch[f]);
          g_clear_pointer (&self->probe_watch[f], g_source_unref);
        }
      if (self->probe_socket[f] != NULL)
        g_socket_close (self->probe_socket[f], NULL);
      g_clear_object (&self->probe_socket[f]);
    }
  g_clear_pointer (&self->probe_resend, g_source_destroy);
  g_clear_pointer (&self->probe_targets, g_ptr_array_unref);
  g_clear_pointer (&self->probe_txids, g_free);
}

static void
finish_probe (PtIce              *self,
              GInetSocketAddress *winner)
{
  if (winner != NULL)
    use_stun_server (self, winner);
  else
    g_debug ("no STUN server answered within %d ms: going on without one",
             PT_ICE_PROBE_TIMEOUT_MS);
  stop_probe (self);
  pt_ice_start_gathering (self);
}

static void
send_probes (PtIce *self)
{
  for (guint i = 0; i < self->probe_targets->len; i++)
    {
      GSocketAddress *target = g_ptr_array_index (self->probe_targets, i);
      guint f = g_socket_address_get_family (target) == G_SOCKET_FAMILY_IPV4 ? 0 : 1;
      guint8 request[PT_STUN_HEADER_LEN];

      if (self->probe_socket[f] == NULL)
        continue;
      _pt_stun_write_binding_request (request, self->probe_txids + i * PT_STUN_TXID_LEN);
      /* Unreachable networks fail here at once: the others still get a chance. */
      g_socket_send_to (self->probe_socket[f], target, (const char *) request,
                        sizeof request, NULL, NULL);
    }
  self->probe_sends++;
}

static gboolean
probe_resend_cb (gpointer user_data)
{
  PtIce *self = user_data;

  if ((self->probe_sends + 1) * PT_ICE_PROBE_RESEND_MS > PT_ICE_PROBE_TIMEOUT_MS)
    {
      self->probe_resend = NULL;
      finish_probe (self, NULL);
      return G_SOURCE_REMOVE;
    }
  send_probes (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
probe_readable_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data)
{
  PtIce *self = user_data;
  guint8 buf[1500];

  for (;;)
    {
      gssize n = g_socket_receive (socket, (char *) buf, sizeof buf, NULL, NULL);
      int index;

      if (n < 0)
        return G_SOURCE_CONTINUE;

      index = _pt_stun_match_response (buf, n, self->probe_txids, self->probe_targets->len);
      if (index >= 0)
        {
          g_autoptr(GInetSocketAddress) winner =
            g_object_ref (g_ptr_array_index (self->probe_targets, index));

          finish_probe (self, winner);
          return G_SOURCE_REMOVE;
        }
    }
}

static void
choose_stun_server (PtIce *self)
{
  g_autoptr(GPtrArray) targets = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; self->stun_addrs && i < self->stun_addrs->len; i++)
    if (g_ptr_array_index (self->stun_addrs, i) != NULL)
      g_ptr_array_add (targets, g_object_ref (g_ptr_array_index (self->stun_addrs, i)));

  if (targets->len <= 1 || self->closed)
    {
      if (targets->len == 1)
        use_stun_server (self, g_ptr_array_index (targets, 0));
      pt_ice_start_gathering (self);
      return;
    }

  g_debug ("probing %u STUN servers", targets->len);
  self->probe_targets = g_steal_pointer (&targets);
  self->probe_txids = g_malloc (self->probe_targets->len * PT_STUN_TXID_LEN);
  gnutls_rnd (GNUTLS_RND_NONCE, self->probe_txids, self->probe_targets->len * PT_STUN_TXID_LEN);

  for (guint f = 0; f < 2; f++)
    {
      GSocketFamily family = f == 0 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6;

      self->probe_socket[f] = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
      if (self->probe_socket[f] == NULL)
        continue;
      g_socket_set_blocking (self->probe_socket[f], FALSE);
      self->probe_watch[f] = g_socket_create_source (self->probe_socket[f], G_IO_IN, NULL);
      g_source_set_callback (self->probe_watch[f], (GSourceFunc) probe_readable_cb, self, NULL);
      g_source_attach (self->probe_watch[f], g_main_context_get_thread_default ());
    }

  send_probes (self);
  self->probe_resend = g_timeout_source_new (PT_ICE_PROBE_RESEND_MS);
  g_source_set_callback (self->probe_resend, probe_resend_cb, self, NULL);
  g_source_set_static_name (self->probe_resend, "[pt] STUN probe");
  g_source_attach (self->probe_resend, g_main_context_get_thread_default ());
  g_source_unref (self->probe_resend);
}

/* Name resolution with a deadline */

typedef struct
{
  PtIce   *self;       /* owned */
  int      turn_index; /* -1: a STUN server */
  int      stun_index; /* -1: a TURN server */
  guint16  port;
} ResolveData;

static void
resolve_done (PtIce *self)
{
  if (--self->resolves_pending == 0)
    {
      g_clear_pointer (&self->gather_timeout, g_source_destroy);
      choose_stun_server (self);
    }
}

static char *
pick_address (GList *addresses)
{
  /* Prefer IPv4: that is what most STUN/TURN deployments answer on. */
  for (GList *l = addresses; l; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      return g_inet_address_to_string (l->data);
  return addresses ? g_inet_address_to_string (addresses->data) : NULL;
}

static void
lookup_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  ResolveData *data = user_data;
  g_autoptr(PtIce) self = data->self;
  g_autoptr(GError) error = NULL;
  GList *addresses;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (addresses == NULL)
    g_debug ("lookup failed: %s", error->message);

  if (addresses != NULL && self->resolves_pending > 0)
    {
      if (data->turn_index >= 0)
        g_ptr_array_index (self->turn_ips, data->turn_index) = pick_address (addresses);
      else
        set_stun_address (self, data->stun_index, pick_address (addresses), data->port);
    }
  g_resolver_free_addresses (addresses);
  g_free (data);

  if (self->resolves_pending > 0)
    resolve_done (self);
}

static gboolean
resolve_timeout_cb (gpointer user_data)
{
  PtIce *self = user_data;

  g_debug ("name resolution deadline reached: going on without the slow servers");
  self->gather_timeout = NULL;
  self->resolves_pending = 0;
  g_cancellable_cancel (self->resolve_cancellable);
  choose_stun_server (self);
  return G_SOURCE_REMOVE;
}

static void
resolve (PtIce      *self,
         const char *host,
         guint16     port,
         int         turn_index,
         int         stun_index)
{
  g_autoptr(GResolver) resolver = NULL;
  ResolveData *data;

  if (g_hostname_is_ip_address (host))
    {
      if (turn_index >= 0)
        g_ptr_array_index (self->turn_ips, turn_index) = g_strdup (host);
      else
        set_stun_address (self, stun_index, g_strdup (host), port);
      return;
    }

  data = g_new0 (ResolveData, 1);
  data->self = g_object_ref (self);
  data->turn_index = turn_index;
  data->stun_index = stun_index;
  data->port = port;
  resolver = g_resolver_get_default ();
  self->resolves_pending++;
  g_resolver_lookup_by_name_async (resolver, host, self->resolve_cancellable, lookup_cb, data);
}

void
_pt_ice_gather_async (PtIce               *self,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  const char * const *stun = pt_ice_config_get_stun_servers (self->config);
  GPtrArray *turn = pt_ice_config_get_turn_servers (self->config);
  gboolean relay_only = pt_ice_config_get_relay_only (self->config);

  g_return_if_fail (PT_IS_ICE (self));
  g_return_if_fail (self->gather_task == NULL && self->agent == NULL);

  self->gather_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->gather_task, _pt_ice_gather_async);
  self->resolve_cancellable = g_cancellable_new ();
  self->turn_ips = g_ptr_array_new_full (turn->len, g_free);
  g_ptr_array_set_size (self->turn_ips, turn->len);
  self->stun_addrs = g_ptr_array_new_with_free_func (unref_if_set);
  g_ptr_array_set_size (self->stun_addrs, g_strv_length ((char **) stun));

  /* Count the lookups first so that one finishing early cannot start gathering. */
  self->resolves_pending = 1;

  for (guint i = 0; stun[i] != NULL && !relay_only; i++)
    {
      g_autoptr(GSocketConnectable) addr = g_network_address_parse (stun[i], 3478, NULL);

      if (addr != NULL)
        resolve (self, g_network_address_get_hostname (G_NETWORK_ADDRESS (addr)),
                 g_network_address_get_port (G_NETWORK_ADDRESS (addr)), -1, i);
    }

  for (guint i = 0; i < turn->len; i++)
    {
      const PtTurnServer *server = g_ptr_array_index (turn, i);

      resolve (self, server->host, server->port, i, -1);
    }

  if (self->resolves_pending > 1)
    {
      self->gather_timeout = g_timeout_source_new (PT_ICE_RESOLVE_TIMEOUT_MS);
      g_source_set_callback (self->gather_timeout, resolve_timeout_cb, self, NULL);
      g_source_set_static_name (self->gather_timeout, "[pt] ICE resolve deadline");
      g_source_attach (self->gather_timeout, g_main_context_get_thread_default ());
      g_source_unref (self->gather_timeout);
    }

  resolve_done (self);
}

gboolean
_pt_ice_gather_finish (PtIce         *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static int
compare_candidates (gconstpointer a,
                    gconstpointer b)
{
  const PtCandidate *ca = a, *cb = b;

  /* Relayed and reflexive first (they are what crosses NATs), then by priority. */
  if ((ca->type == PT_PATH_KIND_HOST) != (cb->type == PT_PATH_KIND_HOST))
    return ca->type == PT_PATH_KIND_HOST ? 1 : -1;
  return ca->priority < cb->priority ? 1 : ca->priority > cb->priority ? -1 : 0;
}

void
_pt_ice_fill_local (PtIce    *self,
                    PtSignal *signal)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  g_autoptr(GArray) all = g_array_new (FALSE, TRUE, sizeof (PtCandidate));
  gboolean relay_only = pt_ice_config_get_relay_only (self->config);
  GSList *list;

  if (self->agent == NULL)
    return;

  nice_agent_get_local_credentials (self->agent, self->stream_id, &ufrag, &pwd);
  g_free (signal->ufrag);
  g_free (signal->pwd);
  signal->ufrag = g_steal_pointer (&ufrag);
  signal->pwd = g_steal_pointer (&pwd);

  list = nice_agent_get_local_candidates (self->agent, self->stream_id, 1);
  for (GSList *l = list; l; l = l->next)
    {
      PtCandidate c;

      if (!candidate_to_pt (l->data, &c))
        continue;
      if (relay_only && c.type != PT_PATH_KIND_RELAY)
        continue;
      g_array_append_val (all, c);
    }
  g_slist_free_full (list, (GDestroyNotify) nice_candidate_free);

  g_array_sort (all, compare_candidates);
  g_array_set_size (signal->candidates, 0);
  g_array_append_vals (signal->candidates, all->data, MIN (all->len, PT_ICE_MAX_OFFERED));
}

/* Hands the stored remote side to the agent: checks start. */
static gboolean
apply_remote (PtIce   *self,
              GError **error)
{
  const PtSignal *remote = self->remote;
  GSList *list = NULL;
  int added;

  if (!nice_agent_set_remote_credentials (self->agent, self->stream_id, remote->ufrag, remote->pwd))
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_REMOTE, "the peer's ICE credentials were rejected");
      return FALSE;
    }

  for (guint i = 0; i < remote->candidates->len; i++)
    {
      const PtCandidate *c = &g_array_index (remote->candidates, PtCandidate, i);
      NiceCandidate *nc = _pt_ice_candidate_from_peer (c, self->stream_id, ~0u, NULL);

      if (nc != NULL)
        list = g_slist_prepend (list, nc);
    }
  list = g_slist_reverse (list);

  added = nice_agent_set_remote_candidates (self->agent, self->stream_id, 1, list);
  g_slist_free_full (list, (GDestroyNotify) nice_candidate_free);

  if (added <= 0)
    {
      if (self->dropped_candidates > 0)
        g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_REMOTE,
                     "none of the peer's network candidates can be used from here (%u are "
                     "loopback, link-local or unusable addresses, which this side was not "
                     "told to use)", self->dropped_candidates);
      else
        g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_REMOTE,
                     "none of the peer's %u network candidates can be used from here",
                     remote->candidates->len);
      return FALSE;
    }

  g_debug ("%d remote candidates added", added);
  return TRUE;
}

/* Keeps the peer's candidates that this side may send checks to: not this
 * machine's own services or the local link, unless we use them too. */
static PtSignal *
copy_remote (PtIce          *self,
             const PtSignal *remote)
{
  PtSignal *copy = pt_signal_new (remote->kind);
  GSList *locals = nice_agent_get_local_candidates (self->agent, self->stream_id, 1);
  guint scopes = _pt_ice_local_scopes (locals);

  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  copy->ufrag = g_strdup (remote->ufrag);
  copy->pwd = g_strdup (remote->pwd);
  for (guint i = 0; i < remote->candidates->len; i++)
    {
      const PtCandidate *c = &g_array_index (remote->candidates, PtCandidate, i);
      PtAddressScope scope;
      NiceCandidate *nc = _pt_ice_candidate_from_peer (c, self->stream_id, scopes, &scope);

      if (nc == NULL)
        {
          g_autofree char *where = _pt_candidate_address_to_string (c);

          g_message ("ignoring the peer's candidate %s: a %s address, which this side "
                     "was not told to use", where, _pt_address_scope_to_string (scope));
          self->dropped_candidates++;
          continue;
        }
      nice_candidate_free (nc);
      g_array_append_val (copy->candidates, *c);
    }
  return copy;
}

gboolean
_pt_ice_set_remote (PtIce           *self,
                    const PtSignal  *remote,
                    GError         **error)
{
  g_return_val_if_fail (PT_IS_ICE (self), FALSE);

  if (self->agent == NULL || self->remote != NULL)
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_REMOTE,
                   self->agent == NULL ? "ICE is not ready for the peer yet"
                                       : "ICE already has its peer");
      return FALSE;
    }

  self->remote = copy_remote (self, remote);
  return apply_remote (self, error);
}

void
_pt_ice_retry_checks (PtIce *self)
{
  g_autofree char *ufrag = NULL;
  g_autofree char *pwd = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (PT_IS_ICE (self));

  if (self->agent == NULL || self->remote == NULL || self->connected || self->closed)
    return;

  g_debug ("no path to the peer yet: checking again");

  /* An ICE restart forgets the checks but keeps the local candidates (and
   * their TURN allocations); putting the old credentials back keeps the
   * block the peer holds valid. */
  nice_agent_get_local_credentials (self->agent, self->stream_id, &ufrag, &pwd);
  nice_agent_restart_stream (self->agent, self->stream_id);
  nice_agent_set_local_credentials (self->agent, self->stream_id, ufrag, pwd);
  explicit_bzero (pwd, strlen (pwd));
  self->failed = FALSE;

  if (!apply_remote (self, &error))
    g_debug ("retrying checks failed: %s", error->message);
}

void
_pt_ice_set_receive_func (PtIce            *self,
                          PtIceReceiveFunc  func,
                          PtIceBatchFunc    batch_func,
                          gpointer          user_data)
{
  self->receive_func = func;
  self->batch_func = batch_func;
  self->receive_data = user_data;
}

void
_pt_ice_send (PtIce        *self,
              const guint8 *data,
              gsize         len)
{
  if (self->agent == NULL || !self->connected)
    return;
  if (self->fast_path != NULL)
    {
      GOutputVector packet = { data, len };

      _pt_fast_path_send (self->fast_path, &packet, 1);
      return;
    }
  /* Losing a datagram here is fine: QUIC retransmits. */
  nice_agent_send (self->agent, self->stream_id, 1, len, (const char *) data);
}

void
_pt_ice_send_batch (PtIce               *self,
                    const GOutputVector *packets,
                    guint                n_packets)
{
  NiceOutputMessage messages[64];
  guint sent = 0;

  if (self->agent == NULL || !self->connected)
    return;
  if (self->fast_path != NULL)
    {
      _pt_fast_path_send (self->fast_path, packets, n_packets);
      return;
    }

  /* On a UDP pair libnice hands the whole batch to one sendmmsg. */
  while (sent < n_packets)
    {
      guint n = MIN (n_packets - sent, G_N_ELEMENTS (messages));
      gint done;

      for (guint i = 0; i < n; i++)
        {
          messages[i].buffers = (GOutputVector *) &packets[sent + i];
          messages[i].n_buffers = 1;
        }
      done = nice_agent_send_messages_nonblocking (self->agent, self->stream_id, 1,
                                                   messages, n, NULL, NULL);
      /* A full socket buffer drops the rest: QUIC retransmits. */
      if (done < (gint) n)
        break;
      sent += n;
    }
}

PtPathKind
_pt_ice_get_path_kind (PtIce *self)
{
  return self->path_kind;
}

const char *
_pt_ice_get_data_path (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), NULL);
  return self->data_path;
}

gboolean
_pt_ice_is_local_pair (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), FALSE);
  return self->local_pair;
}

gboolean
_pt_ice_get_fast_path_stats (PtIce           *self,
                             PtFastPathStats *stats)
{
  g_return_val_if_fail (PT_IS_ICE (self), FALSE);

  if (self->fast_path == NULL)
    return FALSE;
  _pt_fast_path_get_stats (self->fast_path, stats);
  return TRUE;
}

guint
_pt_ice_get_fast_path_builds (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), 0);
  return self->fast_path_builds;
}

guint64
_pt_ice_get_dropped_not_quic (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), 0);
  return self->dropped_not_quic;
}

static NiceCandidate *
find_candidate (GSList     *candidates,
                const char *ip)
{
  for (GSList *l = candidates; l != NULL; l = l->next)
    {
      NiceCandidate *c = l->data;
      char text[NICE_ADDRESS_STRING_LEN];

      nice_address_to_string (&c->addr, text);
      if (g_str_equal (text, ip) && c->type == NICE_CANDIDATE_TYPE_HOST)
        return c;
    }
  return NULL;
}

gboolean
_pt_ice_force_pair (PtIce      *self,
                    const char *local_ip,
                    const char *remote_ip)
{
  GSList *locals, *remotes;
  NiceCandidate *local, *remote;
  gboolean done = FALSE;

  g_return_val_if_fail (PT_IS_ICE (self), FALSE);

  if (self->agent == NULL)
    return FALSE;
  locals = nice_agent_get_local_candidates (self->agent, self->stream_id, 1);
  remotes = nice_agent_get_remote_candidates (self->agent, self->stream_id, 1);
  local = find_candidate (locals, local_ip);
  remote = find_candidate (remotes, remote_ip);
  if (local != NULL && remote != NULL)
    {
      NiceCandidate *selected_local = NULL, *selected_remote = NULL;

      /* Already this pair: nothing would change. */
      if (nice_agent_get_selected_pair (self->agent, self->stream_id, 1,
                                        &selected_local, &selected_remote) &&
          nice_address_equal (&selected_local->addr, &local->addr) &&
          nice_address_equal (&selected_remote->addr, &remote->addr))
        done = FALSE;
      else
        done = nice_agent_set_selected_pair (self->agent, self->stream_id, 1,
                                             local->foundation, remote->foundation);
    }
  g_slist_free_full (locals, (GDestroyNotify) nice_candidate_free);
  g_slist_free_full (remotes, (GDestroyNotify) nice_candidate_free);
  return done;
}

guint
_pt_ice_get_knock_rounds (PtIce *self)
{
  g_return_val_if_fail (PT_IS_ICE (self), 0);
  return self->upgrade_knocks;
}
