/* pt-nostr-server.c — answers tunnel requests that arrive through Nostr relays
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each request names a session (the id of the client's offer). The first
 * request of a session that passes the checks starts a server tunnel; its
 * answer is kept and published again when the client repeats its request
 * (it has not seen the answer yet). Requests for a session that has ended,
 * and copies of an event seen long ago, are replays: refused and reported.
 *
 * Checks, cheapest first: event signature (relay pool), kind/recipient/age
 * (pt-rendezvous), decryption, then the admission (pt-admission): who asks
 * (a listed key, or any key if --any-peer, and a token when tokens are
 * configured), how many sessions run, the offer's age. Every request is
 * checked, at once and in constant time: a 96-bit token cannot be guessed
 * online, so nothing stands between a valid token and its tunnel. What is
 * limited is what a failure costs us: each one drains the admission's two
 * token buckets (per key and global), and while either is empty the
 * refusal is not sent back (no NIP-44 sealing, no signature, nothing
 * published).
 */
#define G_LOG_DOMAIN "pt-nostr-server"

#include "config.h"

#include <string.h>

#include "pt-admission-private.h"
#include "pt-nip44-private.h"
#include "pt-relay-pool-private.h"
#include "pt-rendezvous-private.h"
#include "pt-tunnel-private.h"
#include "pt-vpn-private.h"

#define SUB_ID                  "pt-requests"
#define PRUNE_INTERVAL_S        30
/* A copy of an event arriving within this time is another relay's copy. */
#define REPEAT_GRACE_US         (10 * G_USEC_PER_SEC)
/* Ended sessions and seen events are remembered as long as a replay of
 * their events could still pass the age check. */
#define REMEMBER_US             ((gint64) (PT_RENDEZVOUS_MAX_AGE_S + PT_SIGNAL_SKEW_SECONDS + 60) \
                                 * G_USEC_PER_SEC)
#define MAX_SEEN                65536

typedef struct
{
  gint64   first;                /* monotonic µs */
  char    *session_key;          /* its request's key in sessions, or NULL */
  gboolean reported;             /* as a replay: once is enough */
} Seen;

static void
seen_free (Seen *seen)
{
  g_free (seen->session_key);
  g_free (seen);
}

typedef struct
{
  PtNostrServer *server;         /* unowned */
  PtPublicKey    peer;
  char          *peer_npub;
  char          *hex;            /* session id */
  PtTunnel      *tunnel;
  PtNostrEvent  *answer;         /* published, kept to repeat */
  gboolean       ended;
  gint64         forget_at;      /* monotonic µs, once ended */
} Session;

struct _PtNostrServer
{
  GObject        parent_instance;

  PtSecretKey   *key;
  PtIceConfig   *ice_config;
  PtRelayPool   *pool;

  PtAdmission   *admission;
  PtServerPolicy *policy;       /* every session's tunnel shares it */
  PtVpnRouter   *vpn_router;

  gboolean       started;
  gboolean       stopped;
  GHashTable    *sessions;       /* "peer hex/session hex" → Session* */
  guint          n_live;
  GHashTable    *seen;           /* event id hex → Seen* */
  GSource       *prune;
};

enum { PROP_0, PROP_N_SESSIONS, PROP_CONNECTED_RELAYS, N_PROPS };
enum { SESSION_STARTED, SESSION_ENDED, REQUEST_REFUSED, RELAY_STATE, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtNostrServer, pt_nostr_server, G_TYPE_OBJECT)

static void
session_free (Session *session)
{
  if (session->tunnel != NULL)
    {
      /* An accept in flight finishes later: it must not find us. */
      g_object_set_data (G_OBJECT (session->tunnel), "pt-nostr-session", NULL);
      g_signal_handlers_disconnect_by_data (session->tunnel, session);
      pt_tunnel_close (session->tunnel);
      g_object_unref (session->tunnel);
    }
  g_clear_pointer (&session->answer, _pt_nostr_event_free);
  g_free (session->peer_npub);
  g_free (session->hex);
  g_free (session);
}

/* Takes a unit from @peer's bucket and from everyone's for a failed
 * attempt. TRUE when the refusal may be sent back; otherwise the request
 * gets no answer, and a line says so once a minute. */
static gboolean
count_failure (PtNostrServer *self,
               const char    *peer_hex,
               const char    *peer_npub)
{
  g_autofree char *limited = NULL;

  if (_pt_admission_count_failure (self->admission, peer_hex, g_get_monotonic_time (), &limited))
    return TRUE;
  if (limited != NULL)
    g_signal_emit (self, signals[REQUEST_REFUSED], 0, peer_npub, "", limited);
  return FALSE;
}

/* Replies */

static void
publish (PtNostrServer       *self,
         const PtPublicKey   *peer,
         PtRendezvousMessage *msg,
         PtNostrEvent       **sealed)
{
  g_autoptr(GError) error = NULL;
  guint8 conversation_key[PT_NIP44_KEY_LEN];
  PtNostrEvent *event = NULL;

  if (_pt_nip44_conversation_key (self->key, peer, conversation_key, &error))
    event = _pt_rendezvous_seal (self->key, peer, conversation_key, msg,
                                 g_get_real_time () / G_USEC_PER_SEC, &error);
  explicit_bzero (conversation_key, sizeof conversation_key);
  if (event == NULL)
    {
      g_warning ("cannot send a %s: %s", _pt_rendezvous_type_to_string (msg->type), error->message);
      return;
    }

  _pt_relay_pool_publish (self->pool, event);
  if (sealed != NULL)
    *sealed = event;
  else
    _pt_nostr_event_free (event);
}

static void
refuse (PtNostrServer             *self,
        const PtPublicKey         *peer,
        const char                *peer_npub,
        const PtRendezvousMessage *request,
        const char                *reason,
        const char                *why)
{
  g_autoptr(PtRendezvousMessage) reply = _pt_rendezvous_message_new (PT_RENDEZVOUS_REFUSED);
  g_autofree char *hex = pt_signal_session_to_hex (request->session_id);

  memcpy (reply->session_id, request->session_id, sizeof reply->session_id);
  reply->reason = g_strdup (reason);
  g_autofree char *line = g_strdup_printf ("refused: %s", why);

  publish (self, peer, reply, NULL);
  g_signal_emit (self, signals[REQUEST_REFUSED], 0, peer_npub, hex, line);
}

/* Sessions */

static gboolean
unref_later_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
session_end (Session *session)
{
  PtNostrServer *self = session->server;

  if (session->ended)
    return;
  session->ended = TRUE;
  session->forget_at = g_get_monotonic_time () + REMEMBER_US;
  self->n_live--;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SESSIONS]);
  g_signal_emit (self, signals[SESSION_ENDED], 0, session->tunnel, session->hex);

  /* Replay detection needs only the record; the tunnel (about 250 kB) goes
   * now, from an idle: we may be inside one of its signals. */
  g_object_set_data (G_OBJECT (session->tunnel), "pt-nostr-session", NULL);
  g_signal_handlers_disconnect_by_data (session->tunnel, session);
  g_idle_add (unref_later_cb, g_steal_pointer (&session->tunnel));
  g_clear_pointer (&session->answer, _pt_nostr_event_free);
}

static void
on_tunnel_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 Session    *session)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);

  if (state == PT_TUNNEL_STATE_CLOSED || state == PT_TUNNEL_STATE_FAILED)
    session_end (session);
}

static void
answer_ready_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PtTunnel *tunnel = PT_TUNNEL (object);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = NULL;
  g_autoptr(PtRendezvousMessage) reply = NULL;
  Session *session;

  answer = pt_tunnel_accept_offer_finish (tunnel, result, &error);
  /* The session may have been dropped meanwhile (server stopped). */
  session = g_object_get_data (G_OBJECT (tunnel), "pt-nostr-session");
  if (session == NULL || session->ended)
    return;

  if (answer == NULL)
    {
      g_debug ("session %s: no answer: %s", session->hex, error->message);
      session_end (session);
      return;
    }

  reply = _pt_rendezvous_message_new (PT_RENDEZVOUS_ANSWER);
  memcpy (reply->session_id, answer->session_id, sizeof reply->session_id);
  reply->signal = g_steal_pointer (&answer);
  publish (session->server, &session->peer, reply, &session->answer);
  g_debug ("session %s: answer published", session->hex);
}

static void
start_session (PtNostrServer             *self,
               const PtPublicKey         *peer,
               const char                *peer_npub,
               const char                *key,
               const PtRendezvousMessage *request)
{
  Session *session = g_new0 (Session, 1);

  session->server = self;
  session->peer = *peer;
  session->peer_npub = g_strdup (peer_npub);
  session->hex = pt_signal_session_to_hex (request->session_id);
  session->tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, self->ice_config);
  pt_tunnel_set_policy (session->tunnel, self->policy);
  if (self->vpn_router != NULL)
    _pt_tunnel_set_vpn_router (session->tunnel, self->vpn_router, peer_npub);
  g_object_set_data (G_OBJECT (session->tunnel), "pt-nostr-session", session);

  g_hash_table_insert (self->sessions, g_strdup (key), session);
  self->n_live++;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_SESSIONS]);
  /* Handlers connected to the tunnel in there see its states before we end
   * the session on CLOSED/FAILED. */
  g_signal_emit (self, signals[SESSION_STARTED], 0, session->tunnel, peer_npub, session->hex);
  g_signal_connect (session->tunnel, "notify::state", G_CALLBACK (on_tunnel_state), session);

  pt_tunnel_accept_offer_async (session->tunnel, request->signal, NULL, answer_ready_cb, NULL);
}

static void
handle_request (PtNostrServer             *self,
                const PtNostrEvent        *event,
                const PtRendezvousMessage *request)
{
  g_autofree char *peer_hex = pt_public_key_to_hex (&event->pubkey);
  g_autofree char *peer_npub = pt_public_key_to_npub (&event->pubkey);
  g_autofree char *hex = pt_signal_session_to_hex (request->session_id);
  g_autofree char *key = g_strdup_printf ("%s/%s", peer_hex, hex);
  g_autoptr(GError) refusal = NULL;
  Session *session;

  session = g_hash_table_lookup (self->sessions, key);
  if (session != NULL)
    {
      if (session->ended)
        g_signal_emit (self, signals[REQUEST_REFUSED], 0, peer_npub, hex,
                       "a replayed request: this session has ended already");
      else if (session->answer != NULL && pt_tunnel_get_state (session->tunnel) != PT_TUNNEL_STATE_UP)
        {
          /* The client has not seen our answer yet. */
          g_debug ("session %s: request repeated, answer published again", hex);
          _pt_relay_pool_publish (self->pool, session->answer);
        }
      else
        g_debug ("session %s: request repeated, ignored", hex);
      return;
    }

  if (_pt_admission_check (self->admission, &event->pubkey, request->token, request->signal,
                           self->n_live, 0, g_get_real_time () / G_USEC_PER_SEC, &refusal))
    {
      start_session (self, &event->pubkey, peer_npub, key, request);
      return;
    }
  switch (refusal->code)
    {
    case PT_ADMISSION_ERROR_UNAUTHORIZED:
    case PT_ADMISSION_ERROR_NO_TOKEN:
    case PT_ADMISSION_ERROR_BAD_TOKEN:
      /* What a guess costs is limited; guessing itself is hopeless. */
      if (count_failure (self, peer_hex, peer_npub))
        refuse (self, &event->pubkey, peer_npub, request,
                refusal->code == PT_ADMISSION_ERROR_UNAUTHORIZED ? PT_RENDEZVOUS_REFUSED_UNAUTHORIZED
                                                                 : PT_RENDEZVOUS_REFUSED_TOKEN,
                refusal->message);
      break;

    case PT_ADMISSION_ERROR_BUSY:
    case PT_ADMISSION_ERROR_PENDING:
      refuse (self, &event->pubkey, peer_npub, request, PT_RENDEZVOUS_REFUSED_BUSY, refusal->message);
      break;

    default:
      refuse (self, &event->pubkey, peer_npub, request, PT_RENDEZVOUS_REFUSED_INVALID,
              refusal->message);
      break;
    }
}

static void
on_event (PtRelayPool   *pool,
          const char    *sub_id,
          gpointer       data,
          PtNostrServer *self)
{
  const PtNostrEvent *event = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtRendezvousMessage) msg = NULL;
  g_autofree char *id_hex = NULL;
  guint8 conversation_key[PT_NIP44_KEY_LEN];
  Seen *seen = NULL;

  if (self->stopped || !g_str_equal (sub_id, SUB_ID))
    return;

  id_hex = g_malloc (2 * PT_NOSTR_ID_LEN + 1);
  for (guint i = 0; i < PT_NOSTR_ID_LEN; i++)
    g_snprintf (id_hex + 2 * i, 3, "%02x", event->id[i]);
  if (g_hash_table_size (self->seen) < MAX_SEEN)
    {
      seen = g_new0 (Seen, 1);
      seen->first = g_get_monotonic_time ();
      g_hash_table_replace (self->seen, g_strdup (id_hex), seen);
    }

  if (!_pt_nip44_conversation_key (self->key, &event->pubkey, conversation_key, &error))
    {
      g_debug ("event %s dropped: %s", id_hex, error->message);
      return;
    }
  msg = _pt_rendezvous_open (pt_secret_key_get_public (self->key), conversation_key, event,
                             g_get_real_time () / G_USEC_PER_SEC, &error);
  explicit_bzero (conversation_key, sizeof conversation_key);

  if (msg == NULL)
    {
      if (g_error_matches (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_STALE) ||
          g_error_matches (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_FUTURE) ||
          g_error_matches (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_VERSION))
        {
          g_autofree char *npub = pt_public_key_to_npub (&event->pubkey);
          g_autofree char *why = g_strdup_printf ("dropped: %s", error->message);

          g_signal_emit (self, signals[REQUEST_REFUSED], 0, npub, "", why);
        }
      else
        g_debug ("event %s dropped: %s", id_hex, error->message);
      return;
    }
  if (msg->type != PT_RENDEZVOUS_REQUEST)
    {
      g_debug ("event %s dropped: a %s sent to a server", id_hex,
               _pt_rendezvous_type_to_string (msg->type));
      return;
    }

  if (seen != NULL)
    {
      g_autofree char *peer_hex = pt_public_key_to_hex (&event->pubkey);
      g_autofree char *hex = pt_signal_session_to_hex (msg->session_id);

      seen->session_key = g_strdup_printf ("%s/%s", peer_hex, hex);
    }
  handle_request (self, event, msg);
}

static void
on_event_repeated (PtRelayPool   *pool,
                   const char    *sub_id,
                   gpointer       data,
                   PtNostrServer *self)
{
  const PtNostrEvent *event = data;
  g_autofree char *id_hex = g_malloc (2 * PT_NOSTR_ID_LEN + 1);
  g_autofree char *npub = NULL;
  Session *session = NULL;
  Seen *seen;

  if (self->stopped)
    return;
  for (guint i = 0; i < PT_NOSTR_ID_LEN; i++)
    g_snprintf (id_hex + 2 * i, 3, "%02x", event->id[i]);
  seen = g_hash_table_lookup (self->seen, id_hex);
  if (seen == NULL)
    return;
  if (seen->session_key != NULL)
    session = g_hash_table_lookup (self->sessions, seen->session_key);
  /* Copies from other relays arrive while the session lives, or soon. */
  if (session != NULL ? !session->ended
                      : g_get_monotonic_time () - seen->first < REPEAT_GRACE_US)
    return;
  /* A relay that sends it again and again gets one line, not one each. */
  if (seen->reported)
    return;
  seen->reported = TRUE;

  npub = pt_public_key_to_npub (&event->pubkey);
  g_signal_emit (self, signals[REQUEST_REFUSED], 0, npub, session ? session->hex : "",
                 "a replayed request (an event seen before): ignored");
}

static void
on_relay_state (PtRelayPool   *pool,
                const char    *url,
                gboolean       connected,
                PtNostrServer *self)
{
  g_signal_emit (self, signals[RELAY_STATE], 0, url, connected);
}

static void
on_connected_count (PtRelayPool   *pool,
                    GParamSpec    *pspec,
                    PtNostrServer *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED_RELAYS]);
}

static gboolean
prune_cb (gpointer user_data)
{
  PtNostrServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Session *session = value;

      if (session->ended && now >= session->forget_at)
        g_hash_table_iter_remove (&iter);
    }

  g_hash_table_iter_init (&iter, self->seen);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (now - ((Seen *) value)->first >= REMEMBER_US)
      g_hash_table_iter_remove (&iter);

  _pt_admission_prune (self->admission, now);
  return G_SOURCE_CONTINUE;
}

/* API */

const char * const *
pt_nostr_default_relays (void)
{
  static const char * const relays[] = {
    "wss://relay.damus.io",
    "wss://nos.lol",
    "wss://relay.primal.net",
    "wss://relay.nostr.band",
    NULL
  };

  return relays;
}

PtNostrServer *
pt_nostr_server_new (const PtSecretKey   *key,
                     const char * const  *relays,
                     PtIceConfig         *ice_config,
                     GError             **error)
{
  g_autoptr(PtNostrServer) self = NULL;

  g_return_val_if_fail (key != NULL, NULL);

  self = g_object_new (PT_TYPE_NOSTR_SERVER, NULL);
  self->key = pt_secret_key_copy (key);
  self->ice_config = ice_config ? pt_ice_config_ref (ice_config) : pt_ice_config_new ();
  self->pool = _pt_relay_pool_new (relays ? relays : pt_nostr_default_relays (), error);
  if (self->pool == NULL)
    return NULL;
  g_signal_connect (self->pool, "event", G_CALLBACK (on_event), self);
  g_signal_connect (self->pool, "event-repeated", G_CALLBACK (on_event_repeated), self);
  g_signal_connect (self->pool, "relay-state", G_CALLBACK (on_relay_state), self);
  g_signal_connect (self->pool, "notify::connected-count", G_CALLBACK (on_connected_count), self);
  return g_steal_pointer (&self);
}

void
pt_nostr_server_add_peer (PtNostrServer     *self,
                          const PtPublicKey *peer)
{
  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  _pt_admission_add_peer (self->admission, peer);
}

void
pt_nostr_server_set_any_peer (PtNostrServer *self,
                              gboolean       any_peer)
{
  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  _pt_admission_set_any_peer (self->admission, any_peer);
}

void
pt_nostr_server_set_tokens (PtNostrServer *self,
                            GPtrArray     *tokens)
{
  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  _pt_admission_set_tokens (self->admission, tokens);
}

void
pt_nostr_server_set_policy (PtNostrServer  *self,
                            PtServerPolicy *policy)
{
  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  if (policy != NULL)
    self->policy = pt_server_policy_ref (policy);
}

gboolean
pt_nostr_server_set_vpn (PtNostrServer       *self,
                         const char          *network4,
                         const char          *network6,
                         int                  tun_fd,
                         guint                mtu,
                         const char * const  *dns,
                         GError             **error)
{
  PtVpnRouter *router;

  g_return_val_if_fail (PT_IS_NOSTR_SERVER (self), FALSE);

  router = pt_vpn_router_new (network4, network6, tun_fd, mtu, dns, error);
  if (router == NULL)
    return FALSE;
  g_clear_pointer (&self->vpn_router, _pt_vpn_router_unref);
  self->vpn_router = router;
  return TRUE;
}

guint64
pt_nostr_server_get_vpn_spoofed (PtNostrServer *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_SERVER (self), 0);
  return self->vpn_router ? _pt_vpn_router_get_spoofed (self->vpn_router) : 0;
}

void
pt_nostr_server_set_max_sessions (PtNostrServer *self,
                                  guint          max_sessions)
{
  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  _pt_admission_set_max_sessions (self->admission, max_sessions);
}

void
pt_nostr_server_start (PtNostrServer *self)
{
  g_autoptr(PtNostrFilter) filter = NULL;

  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  if (self->started)
    return;
  self->started = TRUE;

  filter = _pt_nostr_filter_new ();
  _pt_nostr_filter_add_kind (filter, PT_RENDEZVOUS_KIND);
  _pt_nostr_filter_add_p_tag (filter, pt_secret_key_get_public (self->key));
  _pt_nostr_filter_set_since (filter, g_get_real_time () / G_USEC_PER_SEC - PT_RENDEZVOUS_MAX_AGE_S);
  _pt_relay_pool_subscribe (self->pool, SUB_ID, filter);

  self->prune = g_timeout_source_new_seconds (PRUNE_INTERVAL_S);
  g_source_set_callback (self->prune, prune_cb, self, NULL);
  g_source_set_static_name (self->prune, "[pt] nostr server prune");
  g_source_attach (self->prune, g_main_context_get_thread_default ());
  g_debug ("answering requests of kind %d", PT_RENDEZVOUS_KIND);
}

void
pt_nostr_server_stop (PtNostrServer *self)
{
  g_autoptr(GPtrArray) live = NULL;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (PT_IS_NOSTR_SERVER (self));
  if (self->stopped)
    return;
  self->stopped = TRUE;

  if (self->started)
    _pt_relay_pool_unsubscribe (self->pool, SUB_ID);
  if (self->prune != NULL)
    {
      g_source_destroy (self->prune);
      g_clear_pointer (&self->prune, g_source_unref);
    }

  /* Closing a tunnel ends its session (signals): collect first. */
  live = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (!((Session *) value)->ended)
      g_ptr_array_add (live, g_object_ref (((Session *) value)->tunnel));
  for (guint i = 0; i < live->len; i++)
    pt_tunnel_close (g_ptr_array_index (live, i));
}

guint
pt_nostr_server_get_n_sessions (PtNostrServer *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_SERVER (self), 0);
  return self->n_live;
}

guint
pt_nostr_server_get_connected_relays (PtNostrServer *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_SERVER (self), 0);
  return _pt_relay_pool_get_connected_count (self->pool);
}

const PtPublicKey *
pt_nostr_server_get_public_key (PtNostrServer *self)
{
  g_return_val_if_fail (PT_IS_NOSTR_SERVER (self), NULL);
  return pt_secret_key_get_public (self->key);
}

/* Object */

static void
pt_nostr_server_dispose (GObject *object)
{
  PtNostrServer *self = PT_NOSTR_SERVER (object);

  if (self->pool != NULL)
    {
      pt_nostr_server_stop (self);
      g_signal_handlers_disconnect_by_data (self->pool, self);
    }
  /* Sessions refer to us: drop them while we are whole. */
  if (self->sessions != NULL)
    g_hash_table_remove_all (self->sessions);
  g_clear_object (&self->pool);
  g_clear_pointer (&self->vpn_router, _pt_vpn_router_unref);
  G_OBJECT_CLASS (pt_nostr_server_parent_class)->dispose (object);
}

static void
pt_nostr_server_finalize (GObject *object)
{
  PtNostrServer *self = PT_NOSTR_SERVER (object);

  g_clear_pointer (&self->key, pt_secret_key_free);
  g_clear_pointer (&self->ice_config, pt_ice_config_unref);
  g_clear_pointer (&self->admission, _pt_admission_free);
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->seen, g_hash_table_unref);
  G_OBJECT_CLASS (pt_nostr_server_parent_class)->finalize (object);
}

static void
pt_nostr_server_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PtNostrServer *self = PT_NOSTR_SERVER (object);

  switch (prop_id)
    {
    case PROP_N_SESSIONS:
      g_value_set_uint (value, self->n_live);
      break;
    case PROP_CONNECTED_RELAYS:
      g_value_set_uint (value, self->pool ? _pt_relay_pool_get_connected_count (self->pool) : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_nostr_server_class_init (PtNostrServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_nostr_server_dispose;
  object_class->finalize = pt_nostr_server_finalize;
  object_class->get_property = pt_nostr_server_get_property;

  properties[PROP_N_SESSIONS] =
    g_param_spec_uint ("n-sessions", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTED_RELAYS] =
    g_param_spec_uint ("connected-relays", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SESSION_STARTED] =
    g_signal_new ("session-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, PT_TYPE_TUNNEL, G_TYPE_STRING, G_TYPE_STRING);
  signals[SESSION_ENDED] =
    g_signal_new ("session-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, PT_TYPE_TUNNEL, G_TYPE_STRING);
  signals[REQUEST_REFUSED] =
    g_signal_new ("request-refused", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
  signals[RELAY_STATE] =
    g_signal_new ("relay-state", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
pt_nostr_server_init (PtNostrServer *self)
{
  self->admission = _pt_admission_new ();
  _pt_admission_set_max_sessions (self->admission, PT_NOSTR_DEFAULT_MAX_SESSIONS);
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) session_free);
  self->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) seen_free);
}
