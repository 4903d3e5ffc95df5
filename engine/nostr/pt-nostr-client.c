/* pt-nostr-client.c — asks a server for a tunnel through Nostr relays
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An attempt: a fresh client tunnel (the same listeners) makes an offer;
 * the request carrying it is published, and published again as a new
 * event after 2, 4, 8 and then every 16 s until the answer comes or
 * PT_NOSTR_CLIENT_ANSWER_TIMEOUT_S passes (sooner, with NO_RELAY, when no
 * relay has connected after PT_RELAY_POOL_CONNECT_TIMEOUT_S). Once a tunnel
 * has been up, a failed attempt or a dropped tunnel leads to another
 * attempt after a jittered, doubling delay (1 s … 60 s) unless reconnection
 * is off. Refusals for the key or the token end it: retrying cannot help.
 */
#define G_LOG_DOMAIN "pt-nostr-client"

#include "config.h"

#include <string.h>

#include "pt-nip44-private.h"
#include "pt-relay-pool-private.h"
#include "pt-rendezvous-private.h"
#include "pt-tunnel-private.h"
#include "pt-vpn-private.h"

#include <unistd.h>

#define SUB_ID                 "pt-answers"
#define REPUBLISH_FIRST_MS     2000
#define REPUBLISH_MAX_MS       16000

struct _PtNostrClient
{
  GObject             parent_instance;

  PtSecretKey        *key;
  PtPublicKey         server;
  guint8              conversation_key[PT_NIP44_KEY_LEN];
  PtIceConfig        *ice_config;
  PtRelayPool        *pool;
  PtSecretString     *token;
  gboolean            reconnect;

  PtNostrClientState  state;
  GError             *error;
  PtTunnel           *tunnel;          /* current attempt; holds the listeners */
  gboolean            ever_up;
  guint               retry_delay_s;
  guint               attempt;

  PtRendezvousMessage *request;        /* NULL once answered */
  guint               republish_ms;
  GSource            *republish;
  GSource            *deadline;
  GSource            *relay_check;
  GSource            *retry;
  GCancellable       *cancellable;

  /* VPN mode */
  gboolean            vpn;
  guint8              vpn_flags;
  int                 tun_fd;          /* ours; each tunnel gets a dup */
  PtVpnConfig         tun_config;      /* what tun_fd was made for */
};

enum { PROP_0, PROP_STATE, PROP_TUNNEL, N_PROPS };
enum { ATTEMPT_FAILED, RELAY_STATE, VPN_CONFIG, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtNostrClient, pt_nostr_client, G_TYPE_OBJECT)

static void begin_attempt   (PtNostrClient *self);
static void on_tunnel_state (PtTunnel      *tunnel,
                             GParamSpec    *pspec,
                             PtNostrClient *self);

static void
enter_state (PtNostrClient      *self,
             PtNostrClientState  state)
{
  if (self->state == state)
    return;
  g_debug ("nostr client %p: %s → %s", self, pt_nostr_client_state_to_string (self->state),
           pt_nostr_client_state_to_string (state));
  self->state = state;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
add_timeout (guint        ms,
             GSourceFunc  func,
             gpointer     data,
             const char  *name)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_set_static_name (source, name);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static void
stop_requesting (PtNostrClient *self)
{
  clear_source (&self->republish);
  clear_source (&self->deadline);
  clear_source (&self->relay_check);
  g_clear_pointer (&self->request, _pt_rendezvous_message_free);
}

static gboolean
unref_later_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static gboolean
retry_cb (gpointer user_data)
{
  PtNostrClient *self = user_data;

  g_clear_pointer (&self->retry, g_source_unref);
  begin_attempt (self);
  return G_SOURCE_REMOVE;
}

/* The attempt (or the up tunnel) failed with @error; try again if that can help. */
static void
attempt_failed (PtNostrClient *self,
                const GError  *error,
                gboolean       fatal)
{
  if (self->state == PT_NOSTR_CLIENT_STATE_STOPPED || self->state == PT_NOSTR_CLIENT_STATE_FAILED)
    return;

  stop_requesting (self);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->tunnel != NULL)
    {
      /* Its "closed" is ours, not news. */
      g_signal_handlers_disconnect_by_func (self->tunnel, on_tunnel_state, self);
      pt_tunnel_close (self->tunnel);
    }

  if (!fatal && self->reconnect && self->ever_up)
    {
      guint delay_s = self->retry_delay_s;
      /* ±25 % so that clients of one restarted server do not ask at once. */
      guint jittered_ms = delay_s * 750 + g_random_int_range (0, (gint32) delay_s * 500 + 1);

      self->retry_delay_s = MIN (self->retry_delay_s * 2, PT_NOSTR_CLIENT_RETRY_MAX_S);
      enter_state (self, PT_NOSTR_CLIENT_STATE_RECONNECTING);
      g_signal_emit (self, signals[ATTEMPT_FAILED], 0, error, (jittered_ms + 999) / 1000);
      self->retry = add_timeout (jittered_ms, retry_cb, self, "[pt] nostr client retry");
      return;
    }

  g_clear_error (&self->error);
  self->error = g_error_copy (error);
  _pt_tunnel_close_listeners (self->tunnel);
  enter_state (self, PT_NOSTR_CLIENT_STATE_FAILED);
}

static void
on_tunnel_state (PtTunnel      *tunnel,
                 GParamSpec    *pspec,
                 PtNostrClient *self)
{
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      self->ever_up = TRUE;
      self->retry_delay_s = 1;
      enter_state (self, PT_NOSTR_CLIENT_STATE_UP);
      break;

    case PT_TUNNEL_STATE_FAILED:
    case PT_TUNNEL_STATE_CLOSED:
      {
        g_autoptr(GError) error = NULL;
        const GError *why = pt_tunnel_get_error (tunnel);

        if (self->state == PT_NOSTR_CLIENT_STATE_STOPPED || tunnel != self->tunnel)
          return;
        error = why ? g_error_copy (why)
                    : g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_CLOSED, "the tunnel was closed");
        attempt_failed (self, error, FALSE);
      }
      break;

    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
}

static gboolean
same_addresses (const PtVpnConfig *a,
                const PtVpnConfig *b)
{
  return memcmp (a->addr4, b->addr4, 4) == 0 && a->prefix4 == b->prefix4 &&
         a->has_v6 == b->has_v6 &&
         (!a->has_v6 || (memcmp (a->addr6, b->addr6, 16) == 0 && a->prefix6 == b->prefix6));
}

static void
on_tunnel_vpn_config (PtTunnel      *tunnel,
                      PtNostrClient *self)
{
  const PtVpnConfig *config = _pt_tunnel_get_vpn_config (tunnel);
  g_autoptr(GError) error = NULL;

  if (tunnel != self->tunnel)
    return;
  if (self->tun_fd < 0)
    {
      g_signal_emit (self, signals[VPN_CONFIG], 0);
      return;
    }

  /* Reconnected: the device made for the first session serves again if the
   * server gave the same addresses (it keeps them per client key). */
  if (!same_addresses (config, &self->tun_config))
    {
      error = g_error_new (PT_NOSTR_ERROR, PT_NOSTR_ERROR_REFUSED,
                           "after reconnecting, the server assigned other addresses than "
                           "the VPN device has: restart the client");
      attempt_failed (self, error, TRUE);
      return;
    }
  if (!_pt_tunnel_attach_tun (tunnel, dup (self->tun_fd), &error))
    attempt_failed (self, error, FALSE);
}

static void
publish_request (PtNostrClient *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) event = NULL;

  /* A new event each time (a relay or the server may have dropped the last
   * one as already seen); the session stays the same. */
  event = _pt_rendezvous_seal (self->key, &self->server, self->conversation_key, self->request,
                               g_get_real_time () / G_USEC_PER_SEC, &error);
  if (event == NULL)
    {
      attempt_failed (self, error, TRUE);
      return;
    }
  g_debug ("request published (%u relays connected)", _pt_relay_pool_get_connected_count (self->pool));
  _pt_relay_pool_publish (self->pool, event);
}

static gboolean
republish_cb (gpointer user_data)
{
  PtNostrClient *self = user_data;

  g_clear_pointer (&self->republish, g_source_unref);
  self->republish_ms = MIN (self->republish_ms * 2, REPUBLISH_MAX_MS);
  self->republish = add_timeout (self->republish_ms, republish_cb, self, "[pt] nostr republish");
  publish_request (self);
  return G_SOURCE_REMOVE;
}

static GError *
no_relay_error (PtNostrClient *self)
{
  const char * const *urls = _pt_relay_pool_get_urls (self->pool);
  g_autofree char *list = g_strjoinv (", ", (char **) urls);

  return g_error_new (PT_NOSTR_ERROR, PT_NOSTR_ERROR_NO_RELAY,
                      "could not reach any relay (%s): check the network connection and the "
                      "--relay URLs", list);
}

static gboolean
relay_check_cb (gpointer user_data)
{
  PtNostrClient *self = user_data;

  g_clear_pointer (&self->relay_check, g_source_unref);
  if (_pt_relay_pool_get_connected_count (self->pool) == 0)
    {
      g_autoptr(GError) error = no_relay_error (self);

      attempt_failed (self, error, FALSE);
    }
  return G_SOURCE_REMOVE;
}

static gboolean
deadline_cb (gpointer user_data)
{
  PtNostrClient *self = user_data;
  g_autoptr(GError) error = NULL;
  guint connected = _pt_relay_pool_get_connected_count (self->pool);

  g_clear_pointer (&self->deadline, g_source_unref);
  if (connected == 0)
    error = no_relay_error (self);
  else
    {
      g_autofree char *npub = pt_public_key_to_npub (&self->server);

      error = g_error_new (PT_NOSTR_ERROR, PT_NOSTR_ERROR_TIMEOUT,
                           "no answer from the server within %d s (%u relays connected): check "
                           "that “pt server nostr” runs with the key %s and shares a relay with "
                           "this client",
                           PT_NOSTR_CLIENT_ANSWER_TIMEOUT_S, connected, npub);
    }
  attempt_failed (self, error, FALSE);
  return G_SOURCE_REMOVE;
}

static void
offer_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(PtNostrClient) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = NULL;

  offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);
  if (PT_TUNNEL (object) != self->tunnel || self->state == PT_NOSTR_CLIENT_STATE_STOPPED ||
      self->state == PT_NOSTR_CLIENT_STATE_FAILED)
    return;
  if (offer == NULL)
    {
      /* A failed tunnel reports through its state already. */
      if (pt_tunnel_get_state (self->tunnel) != PT_TUNNEL_STATE_FAILED)
        attempt_failed (self, error, FALSE);
      return;
    }

  self->request = _pt_rendezvous_message_new (PT_RENDEZVOUS_REQUEST);
  memcpy (self->request->session_id, offer->session_id, sizeof self->request->session_id);
  self->request->signal = g_steal_pointer (&offer);
  self->request->token = g_strdup (self->token);

  self->republish_ms = REPUBLISH_FIRST_MS;
  self->republish = add_timeout (self->republish_ms, republish_cb, self, "[pt] nostr republish");
  self->deadline = add_timeout (PT_NOSTR_CLIENT_ANSWER_TIMEOUT_S * 1000, deadline_cb, self,
                                "[pt] nostr answer deadline");
  if (_pt_relay_pool_get_connected_count (self->pool) == 0)
    self->relay_check = add_timeout (PT_RELAY_POOL_CONNECT_TIMEOUT_S * 1000, relay_check_cb, self,
                                     "[pt] nostr relay check");
  publish_request (self);
}

static void
begin_attempt (PtNostrClient *self)
{
  if (self->tunnel != NULL && pt_tunnel_get_state (self->tunnel) != PT_TUNNEL_STATE_NEW)
    {
      PtTunnel *previous = self->tunnel;

      g_signal_handlers_disconnect_by_data (previous, self);
      self->tunnel = _pt_tunnel_new_successor (previous);
      /* We may be inside one of its signals. */
      g_idle_add (unref_later_cb, previous);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TUNNEL]);
    }

  if (self->vpn && pt_tunnel_get_state (self->tunnel) == PT_TUNNEL_STATE_NEW)
    {
      _pt_tunnel_set_vpn_client (self->tunnel, self->vpn_flags);
      g_signal_connect (self->tunnel, "vpn-config", G_CALLBACK (on_tunnel_vpn_config), self);
    }

  self->attempt++;
  g_debug ("attempt %u", self->attempt);
  enter_state (self, PT_NOSTR_CLIENT_STATE_CONNECTING);
  g_signal_connect (self->tunnel, "notify::state", G_CALLBACK (on_tunnel_state), self);
  self->cancellable = g_cancellable_new ();
  pt_tunnel_create_offer_async (self->tunnel, self->cancellable, offer_ready_cb, g_object_ref (self));
}

static const char *
refusal_text (const char *reason)
{
  if (g_str_equal (reason, PT_RENDEZVOUS_REFUSED_UNAUTHORIZED))
    return "the server does not allow this client's key";
  if (g_str_equal (reason, PT_RENDEZVOUS_REFUSED_TOKEN))
    return "the server needs a valid token: give one with --auth-token-file";
  if (g_str_equal (reason, PT_RENDEZVOUS_REFUSED_BUSY))
    return "the server has as many sessions as it allows (--max-sessions): try again later";
  if (g_str_equal (reason, PT_RENDEZVOUS_REFUSED_INVALID))
    return "the server could not use this client's offer (are both clocks right?)";
  return NULL;
}

static void
on_event (PtRelayPool   *pool,
          const char    *sub_id,
          gpointer       data,
          PtNostrClient *self)
{
  const PtNostrEvent *event = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtRendezvousMessage) msg = NULL;

  if (!g_str_equal (sub_id, SUB_ID) || self->request == NULL)
    return;

  msg = _pt_rendezvous_open (pt_secret_key_get_public (self->key), self->conversation_key,
                             event, g_get_real_time () / G_USEC_PER_SEC, &error);
  if (msg == NULL)
    {
      g_debug ("event from the server dropped: %s", error->message);
      return;
    }
  if (memcmp (msg->session_id, self->request->session_id, sizeof msg->session_id) != 0)
    {
      g_debug ("%s for another session ignored", _pt_rendezvous_type_to_string (msg->type));
      return;
    }

  switch (msg->type)
    {
    case PT_RENDEZVOUS_ANSWER:
      stop_requesting (self);
      g_debug ("answer received");
      if (!pt_tunnel_set_answer (self->tunnel, msg->signal, &error))
        attempt_failed (self, error, FALSE);
      break;

    case PT_RENDEZVOUS_REFUSED:
      {
        const char *text = refusal_text (msg->reason);
        g_autofree char *npub = pt_public_key_to_npub (pt_secret_key_get_public (self->key));
        gboolean busy = g_str_equal (msg->reason, PT_RENDEZVOUS_REFUSED_BUSY);

        error = g_error_new (PT_NOSTR_ERROR, PT_NOSTR_ERROR_REFUSED,
                             "the server refused the tunnel: %s (this client is %s)",
                             text ? text : msg->reason, npub);
        attempt_failed (self, error, !busy);
      }
      break;

    case PT_RENDEZVOUS_REQUEST:
      g_debug ("a request sent to a client ignored");
      break;
    }
}

static void
on_relay_state (PtRelayPool   *pool,
                const char    *url,
                gboolean       connected,
                PtNostrClient *self)
{
  g_signal_emit (self, signals[RELAY_STATE], 0, url, connected);
}

/* API */

PtNostrClient *
pt_nostr_client_new (const PtSecretKey   *key,
                     const PtPublicKey   *server,
                     const char * const  *relays,
                     PtIceConfig         *ice_config,
                     GError             **error)
{
  g_autoptr(PtNostrClient) self = NULL;
  g_autoptr(PtNostrFilter) filter = NULL;

  g_return_val_if_fail (server != NULL, NULL);

  self = g_object_new (PT_TYPE_NOSTR_CLIENT, NULL);
  self->key = key ? pt_secret_key_copy (key) : pt_secret_key_generate (error);
  if (self->key == NULL)
    return NULL;
  self->server = *server;
  if (!_pt_nip44_conversation_key (self->key, server, self->conversation_key, error))
    return NULL;
  self->ice_config = ice_config ? pt_ice_config_ref (ice_config) : pt_ice_config_new ();
  self->tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, self->ice_config);
  _pt_tunnel_set_keep_listeners (self->tunnel, TRUE);

  self->pool = _pt_relay_pool_new (relays ? relays : pt_nostr_default_relays (), error);
  if (self->pool == NULL)
    return NULL;
  g_signal_connect (self->pool, "event", G_CALLBACK (on_event), self);
  g_signal_connect (self->pool, "relay-state", G_CALLBACK (on_relay_state), self);

  filter = _pt_nostr_filter_new ();
  _pt_nostr_filter_add_kind (filter, PT_RENDEZVOUS_KIND);
  _pt_nostr_filter_add_author (filter, server);
  _pt_nostr_filter_add_p_tag (filter, pt_secret_key_get_public (self->key));
  _pt_nostr_filter_set_since (filter, g_get_real_time () / G_USEC_PER_SEC - PT_RENDEZVOUS_MAX_AGE_S);
  _pt_relay_pool_subscribe (self->pool, SUB_ID, filter);
  return g_steal_pointer (&self);
}

const PtPublicKey *
pt_nostr_client_get_public_key (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), NULL);
  return pt_secret_key_get_public (self->key);
}

void
pt_nostr_client_set_token (PtNostrClient *self,
                           const char    *token)
{
  g_return_if_fail (PT_IS_NOSTR_CLIENT (self));
  g_clear_pointer (&self->token, pt_secret_string_free);
  self->token = g_strdup (token);
}

void
pt_nostr_client_set_reconnect (PtNostrClient *self,
                               gboolean       reconnect)
{
  g_return_if_fail (PT_IS_NOSTR_CLIENT (self));
  self->reconnect = reconnect;
}

void
pt_nostr_client_set_vpn (PtNostrClient *self,
                         gboolean       want_ipv6)
{
  g_return_if_fail (PT_IS_NOSTR_CLIENT (self));
  g_return_if_fail (self->state == PT_NOSTR_CLIENT_STATE_IDLE);
  self->vpn = TRUE;
  self->vpn_flags = want_ipv6 ? PT_VPN_HELLO_WANTS_IPV6 : 0;
}

PtVpnSettings *
pt_nostr_client_dup_vpn_settings (PtNostrClient *self)
{
  const PtVpnConfig *config;

  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), NULL);
  config = self->tunnel ? _pt_tunnel_get_vpn_config (self->tunnel) : NULL;
  return config ? _pt_vpn_settings_new (config) : NULL;
}

gboolean
pt_nostr_client_attach_tun (PtNostrClient  *self,
                            int             tun_fd,
                            GError        **error)
{
  const PtVpnConfig *config;

  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), FALSE);

  config = self->tunnel ? _pt_tunnel_get_vpn_config (self->tunnel) : NULL;
  if (config == NULL || self->tun_fd >= 0)
    {
      close (tun_fd);
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "this client is not waiting for a VPN device");
      return FALSE;
    }
  self->tun_fd = tun_fd;
  self->tun_config = *config;
  return _pt_tunnel_attach_tun (self->tunnel, dup (tun_fd), error);
}

gboolean
pt_nostr_client_add_forward (PtNostrClient        *self,
                             const PtForwardSpec  *spec,
                             const char           *listen_address,
                             GError              **error)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), FALSE);
  return pt_tunnel_add_forward (self->tunnel, spec, listen_address, error);
}

GPtrArray *
pt_nostr_client_dup_listen_addresses (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), NULL);
  return pt_tunnel_dup_listen_addresses (self->tunnel);
}

void
pt_nostr_client_start (PtNostrClient *self)
{
  g_return_if_fail (PT_IS_NOSTR_CLIENT (self));
  if (self->state != PT_NOSTR_CLIENT_STATE_IDLE)
    return;
  begin_attempt (self);
}

void
pt_nostr_client_stop (PtNostrClient *self)
{
  g_return_if_fail (PT_IS_NOSTR_CLIENT (self));
  if (self->state == PT_NOSTR_CLIENT_STATE_STOPPED)
    return;

  stop_requesting (self);
  clear_source (&self->retry);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  enter_state (self, PT_NOSTR_CLIENT_STATE_STOPPED);
  if (self->tunnel != NULL)
    {
      pt_tunnel_close (self->tunnel);
      _pt_tunnel_close_listeners (self->tunnel);
    }
  /* The VPN device (with its addresses and routes) goes with the last fd. */
  if (self->tun_fd >= 0)
    {
      close (self->tun_fd);
      self->tun_fd = -1;
    }
  if (self->pool != NULL)
    _pt_relay_pool_unsubscribe (self->pool, SUB_ID);
}

PtNostrClientState
pt_nostr_client_get_state (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), PT_NOSTR_CLIENT_STATE_FAILED);
  return self->state;
}

PtTunnel *
pt_nostr_client_get_tunnel (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), NULL);
  return self->tunnel;
}

const GError *
pt_nostr_client_get_error (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), NULL);
  return self->error;
}

guint
pt_nostr_client_get_connected_relays (PtNostrClient *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_CLIENT (self), 0);
  return self->pool ? _pt_relay_pool_get_connected_count (self->pool) : 0;
}

/* Object */

static void
pt_nostr_client_dispose (GObject *object)
{
  PtNostrClient *self = PT_NOSTR_CLIENT (object);

  if (self->pool != NULL || self->tunnel != NULL)
    pt_nostr_client_stop (self);
  if (self->tunnel != NULL)
    g_signal_handlers_disconnect_by_data (self->tunnel, self);
  if (self->pool != NULL)
    g_signal_handlers_disconnect_by_data (self->pool, self);
  g_clear_object (&self->tunnel);
  g_clear_object (&self->pool);
  G_OBJECT_CLASS (pt_nostr_client_parent_class)->dispose (object);
}

static void
pt_nostr_client_finalize (GObject *object)
{
  PtNostrClient *self = PT_NOSTR_CLIENT (object);

  explicit_bzero (self->conversation_key, sizeof self->conversation_key);
  g_clear_pointer (&self->key, pt_secret_key_free);
  g_clear_pointer (&self->token, pt_secret_string_free);
  g_clear_pointer (&self->ice_config, pt_ice_config_unref);
  g_clear_error (&self->error);
  G_OBJECT_CLASS (pt_nostr_client_parent_class)->finalize (object);
}

static void
pt_nostr_client_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PtNostrClient *self = PT_NOSTR_CLIENT (object);

  switch (prop_id)
    {
    case PROP_STATE:
      g_value_set_enum (value, self->state);
      break;
    case PROP_TUNNEL:
      g_value_set_object (value, self->tunnel);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_nostr_client_class_init (PtNostrClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_nostr_client_dispose;
  object_class->finalize = pt_nostr_client_finalize;
  object_class->get_property = pt_nostr_client_get_property;

  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, PT_TYPE_NOSTR_CLIENT_STATE, PT_NOSTR_CLIENT_STATE_IDLE,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TUNNEL] =
    g_param_spec_object ("tunnel", NULL, NULL, PT_TYPE_TUNNEL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[ATTEMPT_FAILED] =
    g_signal_new ("attempt-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_UINT);
  signals[RELAY_STATE] =
    g_signal_new ("relay-state", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[VPN_CONFIG] =
    g_signal_new ("vpn-config", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pt_nostr_client_init (PtNostrClient *self)
{
  self->state = PT_NOSTR_CLIENT_STATE_IDLE;
  self->reconnect = TRUE;
  self->tun_fd = -1;
  self->retry_delay_s = 1;
}
