/* pt-relay-pool.c — a set of Nostr relays used as one, over libsoup websockets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each relay is a small state machine (disconnected → connecting → connected
 * → waiting → connecting …) driven by libsoup callbacks and two timers (the
 * connect timeout and the backoff), all on the pool's main context. Nothing
 * blocks. A relay that breaks the protocol (binary frames, text that is not a
 * relay message) is dropped and retried with backoff like one that closed.
 *
 * Connection attempts outlive nothing: each carries its own GCancellable, and
 * its callback touches the relay only when that cancellable was not
 * cancelled. The pool cancels an attempt before it abandons it (timeout) or
 * frees its relay (dispose).
 */
#define G_LOG_DOMAIN "pt-relay-pool"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <libsoup/soup.h>

#include "pt-relay-pool-private.h"

typedef enum
{
  RELAY_STATE_DISCONNECTED,
  RELAY_STATE_CONNECTING,
  RELAY_STATE_CONNECTED,
  RELAY_STATE_WAITING,      /* backing off before the next attempt */
} RelayState;

typedef struct
{
  PtRelayPool             *pool;          /* owns the relay */
  char                    *url;
  RelayState               state;
  SoupWebsocketConnection *conn;
  GCancellable            *cancellable;   /* of the attempt in flight */
  GSource                 *timer;         /* connect timeout or backoff */
  guint                    failures;      /* consecutive, for the backoff */
  gint64                   connected_at;  /* monotonic µs */
  GQueue                   inbox;         /* of GBytes: received, not handled yet */
  gsize                    inbox_bytes;
  double                   flood_tokens;  /* messages it may still send at once */
  gint64                   flood_updated; /* monotonic µs */
  guint                    floods;        /* consecutive flood disconnections */
} Relay;

typedef enum
{
  RECENT_DROPPED,     /* unusable (malformed, bad signature): drop it again */
  RECENT_UNMATCHED,   /* no subscription wanted it: look at it again */
  RECENT_DELIVERED,   /* delivered: a copy is a repeat */
} RecentKind;

typedef struct
{
  guint8      digest[PT_RELAY_POOL_DIGEST_LEN];
  RecentKind  kind;
  gint64      last_reported;              /* monotonic µs, of event-repeated */
  guint       n_reported;
  GList       link;                       /* in recent_order; data = this */
} Recent;

typedef struct
{
  GCancellable *cancellable;
  Relay        *relay;                    /* valid only while not cancelled */
} ConnectAttempt;

typedef struct
{
  guint8      id[PT_NOSTR_ID_LEN];
  char       *message;                    /* ["EVENT",…] */
  gint64      expires_at;                 /* monotonic µs */
  GHashTable *accepted_by;                /* Relay* set: relays that said OK */
} PendingPublish;

struct _PtRelayPool
{
  GObject       parent_instance;

  GMainContext *context;
  SoupSession  *session;
  GPtrArray    *relays;                   /* of Relay* */
  GStrv         urls;
  GSource      *start_source;

  GHashTable   *subscriptions;            /* sub_id → PtNostrFilter* */
  GQueue        pending;                  /* of PendingPublish* */

  GHashTable   *seen;                     /* "sub_id\nid" → GList* link in seen_order */
  GQueue        seen_order;               /* most recent first, of the same keys */
  guint         n_duplicates;
  guint         n_verified;

  GHashTable   *recent;                   /* digest → Recent* (owned) */
  guint8        recent_salt[16];          /* so that relays cannot aim at hash buckets */
  GQueue        recent_order;             /* of Recent, most recent first */

  GSource      *dispatch_source;          /* while an inbox holds messages */
  guint         next_inbox;               /* whose turn it is */

  guint         connected_count;
};

G_DEFINE_FINAL_TYPE (PtRelayPool, pt_relay_pool, G_TYPE_OBJECT)

enum { PROP_0, PROP_CONNECTED_COUNT, N_PROPS };
static GParamSpec *properties[N_PROPS];

enum { SIGNAL_EVENT, SIGNAL_EVENT_REPEATED, SIGNAL_RELAY_STATE, SIGNAL_EOSE, SIGNAL_PUBLISH_RESULT, N_SIGNALS };
static guint signals[N_SIGNALS];

static void relay_connect (Relay *relay);
static void relay_clear_inbox (Relay *relay);

static const char *
relay_state_to_string (RelayState state)
{
  switch (state)
    {
    case RELAY_STATE_DISCONNECTED: return "disconnected";
    case RELAY_STATE_CONNECTING:   return "connecting";
    case RELAY_STATE_CONNECTED:    return "connected";
    case RELAY_STATE_WAITING:      return "waiting";
    }
  return "invalid";
}

static void
relay_enter_state (Relay      *relay,
                   RelayState  state)
{
  PtRelayPool *self = relay->pool;
  gboolean was_up = relay->state == RELAY_STATE_CONNECTED;
  gboolean is_up = state == RELAY_STATE_CONNECTED;

  g_debug ("%s: %s → %s", relay->url,
           relay_state_to_string (relay->state), relay_state_to_string (state));
  relay->state = state;

  if (was_up == is_up)
    return;
  self->connected_count += is_up ? 1 : -1;
  g_signal_emit (self, signals[SIGNAL_RELAY_STATE], 0, relay->url, is_up);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED_COUNT]);
}

static void
relay_clear_timer (Relay *relay)
{
  if (relay->timer != NULL)
    {
      g_source_destroy (relay->timer);
      g_clear_pointer (&relay->timer, g_source_unref);
    }
}

static void
relay_set_timer (Relay       *relay,
                 guint        ms,
                 GSourceFunc  func)
{
  relay_clear_timer (relay);
  relay->timer = g_timeout_source_new (ms);
  g_source_set_callback (relay->timer, func, relay, NULL);
  g_source_set_name (relay->timer, "[peertunnel] relay timer");
  g_source_attach (relay->timer, relay->pool->context);
}

static void
relay_cancel_attempt (Relay *relay)
{
  if (relay->cancellable != NULL)
    {
      g_cancellable_cancel (relay->cancellable);
      g_clear_object (&relay->cancellable);
    }
}

static void
relay_drop_connection (Relay *relay)
{
  if (relay->conn == NULL)
    return;
  g_signal_handlers_disconnect_by_data (relay->conn, relay);
  if (soup_websocket_connection_get_state (relay->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (relay->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_clear_object (&relay->conn);
}

static void
relay_free (Relay *relay)
{
  relay_clear_timer (relay);
  relay_cancel_attempt (relay);
  relay_drop_connection (relay);
  relay_clear_inbox (relay);
  g_free (relay->url);
  g_free (relay);
}

/* 1 s, 2 s, 4 s … 60 s, each ±20 %, never outside [1 s, 60 s]. */
static guint
backoff_ms (guint failures)
{
  guint64 base = (guint64) PT_RELAY_POOL_BACKOFF_MIN_MS << MIN (failures, 6u);
  double jittered = (double) MIN (base, PT_RELAY_POOL_BACKOFF_MAX_MS) * g_random_double_range (0.8, 1.2);

  return (guint) CLAMP (jittered, PT_RELAY_POOL_BACKOFF_MIN_MS, PT_RELAY_POOL_BACKOFF_MAX_MS);
}

static gboolean
relay_retry_cb (gpointer data)
{
  Relay *relay = data;

  g_clear_pointer (&relay->timer, g_source_unref);
  relay_connect (relay);
  return G_SOURCE_REMOVE;
}

/* After a failed attempt, a close, a protocol violation or a flood (then
 * waiting at least @min_delay_ms). A connection that stayed up a while
 * resets the backoff; one that drops at once does not, so a relay that
 * accepts and then misbehaves is not hammered every second. */
static void
relay_schedule_retry_after (Relay      *relay,
                            const char *reason,
                            guint       min_delay_ms)
{
  guint delay;
  gint64 up_us = g_get_monotonic_time () - relay->connected_at;

  relay_drop_connection (relay);
  relay_cancel_attempt (relay);
  if (relay->state == RELAY_STATE_CONNECTED && up_us >= 30 * G_USEC_PER_SEC)
    relay->failures = 0;
  /* (A flood has just counted itself: relay_flooded() clears the record.) */
  if (relay->state == RELAY_STATE_CONNECTED && min_delay_ms == 0 &&
      up_us >= PT_RELAY_POOL_FLOOD_FORGET_S * G_USEC_PER_SEC)
    relay->floods = 0;

  delay = MAX (backoff_ms (relay->failures), min_delay_ms);
  if (relay->failures < G_MAXUINT)
    relay->failures++;
  g_debug ("%s: %s; retrying in %u ms", relay->url, reason, delay);
  relay_enter_state (relay, RELAY_STATE_WAITING);
  relay_set_timer (relay, delay, relay_retry_cb);
}

static void
relay_schedule_retry (Relay      *relay,
                      const char *reason)
{
  relay_schedule_retry_after (relay, reason, 0);
}

static void
relay_send (Relay      *relay,
            const char *text)
{
  g_return_if_fail (relay->state == RELAY_STATE_CONNECTED);
  soup_websocket_connection_send_text (relay->conn, text);
}

static void
relay_send_req (Relay               *relay,
                const char          *sub_id,
                const PtNostrFilter *filter)
{
  g_autofree char *req = _pt_nostr_message_encode_req (sub_id, &filter, 1);

  g_debug ("%s: subscribing %s", relay->url, sub_id);
  relay_send (relay, req);
}

/* ---------------------------------------------------------------------- */
/* Publishing */

static void
id_to_hex (const guint8 *id,
           char         *out)
{
  static const char digits[] = "0123456789abcdef";

  for (gsize i = 0; i < PT_NOSTR_ID_LEN; i++)
    {
      out[2 * i] = digits[id[i] >> 4];
      out[2 * i + 1] = digits[id[i] & 0xf];
    }
  out[PT_NOSTR_ID_LEN * 2] = '\0';
}

static void
pending_free (PendingPublish *pending)
{
  g_free (pending->message);
  g_hash_table_unref (pending->accepted_by);
  g_free (pending);
}

static void
pending_expire (PtRelayPool *self)
{
  gint64 now = g_get_monotonic_time ();

  for (GList *l = self->pending.head; l != NULL;)
    {
      GList *next = l->next;
      PendingPublish *pending = l->data;

      if (pending->expires_at <= now)
        {
          pending_free (pending);
          g_queue_delete_link (&self->pending, l);
        }
      l = next;
    }
}

void
_pt_relay_pool_publish (PtRelayPool        *self,
                        const PtNostrEvent *event)
{
  PendingPublish *pending;
  char id[PT_NOSTR_ID_LEN * 2 + 1];

  g_return_if_fail (PT_IS_RELAY_POOL (self));
  g_return_if_fail (event != NULL);

  pending_expire (self);
  while (self->pending.length >= PT_RELAY_POOL_PENDING_MAX)
    pending_free (g_queue_pop_tail (&self->pending));

  pending = g_new0 (PendingPublish, 1);
  memcpy (pending->id, event->id, PT_NOSTR_ID_LEN);
  pending->message = _pt_nostr_message_encode_event (event);
  pending->expires_at = g_get_monotonic_time () + PT_RELAY_POOL_PUBLISH_WINDOW_S * G_USEC_PER_SEC;
  pending->accepted_by = g_hash_table_new (NULL, NULL);
  g_queue_push_head (&self->pending, pending);

  id_to_hex (event->id, id);
  g_debug ("publishing %s (kind %u) to %u of %u relays", id, event->kind,
           self->connected_count, self->relays->len);
  for (guint i = 0; i < self->relays->len; i++)
    {
      Relay *relay = g_ptr_array_index (self->relays, i);

      if (relay->state == RELAY_STATE_CONNECTED)
        relay_send (relay, pending->message);
    }
}

static void
handle_ok (Relay                     *relay,
           const PtNostrRelayMessage *message)
{
  PtRelayPool *self = relay->pool;
  char id[PT_NOSTR_ID_LEN * 2 + 1];

  id_to_hex (message->event_id, id);

  g_debug ("%s: %s %s%s%s", relay->url, message->accepted ? "accepted" : "REJECTED", id,
           *message->message ? ": " : "", message->message);
  if (message->accepted)
    for (GList *l = self->pending.head; l != NULL; l = l->next)
      {
        PendingPublish *pending = l->data;

        if (memcmp (pending->id, message->event_id, PT_NOSTR_ID_LEN) == 0)
          g_hash_table_add (pending->accepted_by, relay);
      }
  g_signal_emit (self, signals[SIGNAL_PUBLISH_RESULT], 0,
                 relay->url, id, message->accepted, message->message);
}

/* ---------------------------------------------------------------------- */
/* Receiving */

/* Whether (sub_id, id) was delivered among the last SEEN_MAX; a hit
 * becomes the most recent. */
static gboolean
seen_lookup (PtRelayPool        *self,
             const char         *sub_id,
             const PtNostrEvent *event,
             GString           **key_out)
{
  GString *key = g_string_new (sub_id);
  GList *link;

  g_string_append_c (key, '\n');
  g_string_append_len (key, (const char *) event->id, PT_NOSTR_ID_LEN);

  link = g_hash_table_lookup (self->seen, key);
  if (link != NULL)
    {
      g_queue_unlink (&self->seen_order, link);
      g_queue_push_head_link (&self->seen_order, link);
      g_string_free (key, TRUE);
      return TRUE;
    }
  *key_out = key;
  return FALSE;
}

static void
seen_add (PtRelayPool *self,
          GString     *key)
{
  if (self->seen_order.length >= PT_RELAY_POOL_SEEN_MAX)
    {
      GString *oldest = g_queue_pop_tail (&self->seen_order);

      g_hash_table_remove (self->seen, oldest);   /* frees it */
    }
  g_queue_push_head (&self->seen_order, key);
  g_hash_table_insert (self->seen, key, self->seen_order.head);
}

/* The recent set: digests of the last RECENT_MAX EVENT messages handled
 * (their raw text, and the id ‖ signature of those that failed to verify),
 * so that a message seen before costs one SHA-256 and no parsing. */
static Recent *
recent_lookup (PtRelayPool  *self,
               const guint8 *digest)
{
  Recent *recent = g_hash_table_lookup (self->recent, digest);

  if (recent != NULL)
    {
      g_queue_unlink (&self->recent_order, &recent->link);
      g_queue_push_head_link (&self->recent_order, &recent->link);
    }
  return recent;
}

static Recent *
recent_add (PtRelayPool  *self,
            const guint8 *digest,
            RecentKind    kind)
{
  Recent *recent = recent_lookup (self, digest);

  if (recent != NULL)
    {
      recent->kind = kind;
      return recent;
    }
  if (self->recent_order.length >= PT_RELAY_POOL_RECENT_MAX)
    {
      Recent *oldest = self->recent_order.tail->data;

      g_queue_unlink (&self->recent_order, &oldest->link);
      g_hash_table_remove (self->recent, oldest->digest);   /* frees it */
    }
  recent = g_new0 (Recent, 1);
  memcpy (recent->digest, digest, sizeof recent->digest);
  recent->kind = kind;
  recent->link.data = recent;
  g_queue_push_head_link (&self->recent_order, &recent->link);
  g_hash_table_insert (self->recent, recent->digest, recent);
  return recent;
}

/* SHA-256 of a random salt of the pool's, @domain and @data: digests no
 * relay can predict, so none can crowd one bucket of the recent table. */
static void
digest_of (PtRelayPool  *self,
           guint8       *digest,
           const void   *data,
           gsize         len,
           guint8        domain)
{
  gnutls_hash_hd_t hash;

  /* SHA-256 never fails to initialize with a working GnuTLS; if it did,
   * an all-zero digest would only make dedup miss, never wrongly hit. */
  memset (digest, 0, PT_RELAY_POOL_DIGEST_LEN);
  if (gnutls_hash_init (&hash, GNUTLS_DIG_SHA256) < 0)
    return;
  gnutls_hash (hash, self->recent_salt, sizeof self->recent_salt);
  gnutls_hash (hash, &domain, 1);
  gnutls_hash (hash, data, len);
  gnutls_hash_deinit (hash, digest);
}

/* Repeats are news for the owner (another relay's copy, or a replay);
 * floods of them are not: the first few of each message are reported, then
 * at most one a second. */
static gboolean
recent_may_report (Recent *recent)
{
  gint64 now = g_get_monotonic_time ();

  if (recent->n_reported >= PT_RELAY_POOL_REPEATS_REPORTED &&
      now - recent->last_reported < G_USEC_PER_SEC)
    return FALSE;
  if (recent->n_reported < G_MAXUINT)
    recent->n_reported++;
  recent->last_reported = now;
  return TRUE;
}

static void
emit_repeated (PtRelayPool               *self,
               const PtNostrRelayMessage *message)
{
  self->n_duplicates++;
  g_signal_emit (self, signals[SIGNAL_EVENT_REPEATED], 0, message->sub_id, message->event);
}

/* An EVENT message, parsed but not verified. Cheapest checks first:
 * subscription and filter, then whether its id was delivered already (one
 * SHA-256 proves the copy is the same event), then whether this id and
 * signature failed before, and only then the signature. */
static void
handle_event (Relay                     *relay,
              const PtNostrRelayMessage *message,
              Recent                    *recent)
{
  PtRelayPool *self = relay->pool;
  PtNostrFilter *filter = g_hash_table_lookup (self->subscriptions, message->sub_id);
  PtNostrEvent *event = message->event;
  g_autoptr(GError) error = NULL;
  guint8 id_sig[PT_NOSTR_ID_LEN + PT_NOSTR_SIG_LEN];
  guint8 bad_digest[PT_RELAY_POOL_DIGEST_LEN];
  guint8 id[PT_NOSTR_ID_LEN];
  GString *key = NULL;
  Recent *bad;

  if (filter == NULL)
    {
      g_debug ("%s: event for unknown subscription %s ignored", relay->url, message->sub_id);
      recent->kind = RECENT_UNMATCHED;
      return;
    }
  /* Relays are not trusted to apply filters (some ignore tag filters). */
  if (!_pt_nostr_filter_matches (filter, event))
    {
      g_debug ("%s: event outside the filter of %s ignored", relay->url, message->sub_id);
      recent->kind = RECENT_UNMATCHED;
      return;
    }
  if (seen_lookup (self, message->sub_id, event, &key))
    {
      _pt_nostr_event_compute_id (event, id);
      if (memcmp (id, event->id, sizeof id) != 0)
        {
          g_debug ("%s: event dropped: a delivered event's id on other contents", relay->url);
          return;
        }
      recent->kind = RECENT_DELIVERED;
      if (recent_may_report (recent))
        emit_repeated (self, message);
      else
        self->n_duplicates++;
      return;
    }

  memcpy (id_sig, event->id, PT_NOSTR_ID_LEN);
  memcpy (id_sig + PT_NOSTR_ID_LEN, event->sig, PT_NOSTR_SIG_LEN);
  digest_of (self, bad_digest, id_sig, sizeof id_sig, 'b');
  bad = g_hash_table_lookup (self->recent, bad_digest);
  if (bad != NULL)
    {
      g_debug ("%s: event dropped: its id and signature failed before", relay->url);
      g_string_free (key, TRUE);
      return;
    }

  self->n_verified++;
  if (!_pt_nostr_event_verify (event, &error))
    {
      g_debug ("%s: event dropped: %s", relay->url, error->message);
      recent_add (self, bad_digest, RECENT_DROPPED);
      g_string_free (key, TRUE);
      return;
    }
  seen_add (self, key);
  recent->kind = RECENT_DELIVERED;
  g_signal_emit (self, signals[SIGNAL_EVENT], 0, message->sub_id, event);
}

/* Whether @text starts like ["EVENT", … (white space allowed). */
static gboolean
looks_like_event_message (const char *text,
                          gsize       len)
{
  static const char prefix[] = "\"EVENT\"";
  gsize i = 0;

  while (i < len && g_ascii_isspace (text[i]))
    i++;
  if (i >= len || text[i++] != '[')
    return FALSE;
  while (i < len && g_ascii_isspace (text[i]))
    i++;
  return len - i >= sizeof prefix - 1 && memcmp (text + i, prefix, sizeof prefix - 1) == 0;
}

/* Handles one message of @relay. Returns FALSE when the relay broke the
 * protocol and must be dropped. */
static gboolean
handle_text (Relay      *relay,
             const char *text,
             gsize       len)
{
  PtRelayPool *self = relay->pool;
  g_autoptr(PtNostrRelayMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  gboolean is_event = looks_like_event_message (text, len);
  guint8 digest[PT_RELAY_POOL_DIGEST_LEN];
  Recent *recent = NULL;

  if (is_event)
    {
      digest_of (self, digest, text, len, 'm');
      recent = recent_lookup (self, digest);
      if (recent != NULL && recent->kind != RECENT_UNMATCHED)
        {
          /* The very same message again: no parsing, no signature. */
          if (recent->kind != RECENT_DELIVERED)
            {
              g_debug ("%s: event dropped: the same message was unusable before", relay->url);
              return TRUE;
            }
          if (!recent_may_report (recent))
            {
              self->n_duplicates++;
              return TRUE;
            }

          /* Verified before, byte for byte: parsing it again is enough. */
          message = _pt_nostr_relay_message_parse_full (text, len, FALSE, NULL);
          if (message != NULL && message->type == PT_NOSTR_RELAY_MESSAGE_EVENT &&
              g_hash_table_contains (self->subscriptions, message->sub_id))
            emit_repeated (self, message);
          return TRUE;
        }
      if (recent == NULL)
        recent = recent_add (self, digest, RECENT_DROPPED);
      recent->kind = RECENT_DROPPED;
    }

  message = _pt_nostr_relay_message_parse_full (text, len, FALSE, &error);
  if (message == NULL)
    {
      /* A forged or damaged event is not worth a reconnect: anyone can
       * publish one, and json-glib even refuses whole messages that other
       * clients accept (a lone surrogate escape in the content). Skip an
       * EVENT message we cannot use; drop a relay that sends other nonsense. */
      if (is_event)
        {
          g_debug ("%s: event dropped: %s", relay->url, error->message);
          return TRUE;
        }
      g_message ("relay %s: %s; dropping it", relay->url, error->message);
      return FALSE;
    }

  switch (message->type)
    {
    case PT_NOSTR_RELAY_MESSAGE_EVENT:
      if (recent == NULL)
        {
          /* Parsed as an EVENT without looking like one: cannot be. */
          g_debug ("%s: event dropped: unusual form", relay->url);
          break;
        }
      handle_event (relay, message, recent);
      break;
    case PT_NOSTR_RELAY_MESSAGE_OK:
      handle_ok (relay, message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_EOSE:
      g_debug ("%s: end of stored events for %s", relay->url, message->sub_id);
      if (g_hash_table_contains (relay->pool->subscriptions, message->sub_id))
        g_signal_emit (relay->pool, signals[SIGNAL_EOSE], 0, relay->url, message->sub_id);
      break;
    case PT_NOSTR_RELAY_MESSAGE_CLOSED:
      g_message ("relay %s closed subscription %s: %s", relay->url, message->sub_id,
                 message->message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_NOTICE:
      g_debug ("%s: notice: %s", relay->url, message->message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_AUTH:
      g_debug ("%s: authentication request ignored", relay->url);
      break;
    }
  return TRUE;
}

/* The inbox: messages wait there, in order per relay, until the pool's
 * dispatch source handles at most PT_RELAY_POOL_DISPATCH_MAX of them (taking
 * turns between relays) and lets the main loop run other sources (ICE,
 * QUIC, timers) before the next batch. */

static void
relay_clear_inbox (Relay *relay)
{
  GBytes *bytes;

  while ((bytes = g_queue_pop_head (&relay->inbox)) != NULL)
    g_bytes_unref (bytes);
  relay->inbox_bytes = 0;
}

static gboolean
dispatch_cb (gpointer data)
{
  PtRelayPool *self = g_object_ref (data);
  guint budget = PT_RELAY_POOL_DISPATCH_MAX;
  gboolean more = TRUE;

  while (budget > 0 && more && self->relays != NULL)
    {
      more = FALSE;
      for (guint n = 0; n < self->relays->len && budget > 0 && self->relays != NULL; n++)
        {
          Relay *relay = g_ptr_array_index (self->relays, self->next_inbox % self->relays->len);
          g_autoptr(GBytes) bytes = g_queue_pop_head (&relay->inbox);
          const char *text;
          gsize len = 0;

          self->next_inbox++;
          if (bytes == NULL)
            continue;
          text = g_bytes_get_data (bytes, &len);
          relay->inbox_bytes -= len;
          budget--;
          if (!handle_text (relay, text, len) && self->relays != NULL)
            {
              relay_clear_inbox (relay);
              relay_schedule_retry (relay, "protocol violation");
            }
          more = more || (self->relays != NULL && relay->inbox.length > 0);
        }
    }
  more = FALSE;
  for (guint i = 0; self->relays != NULL && i < self->relays->len && !more; i++)
    more = ((Relay *) g_ptr_array_index (self->relays, i))->inbox.length > 0;
  if (!more && self->dispatch_source != NULL)
    g_clear_pointer (&self->dispatch_source, g_source_unref);
  g_object_unref (self);
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
pool_schedule_dispatch (PtRelayPool *self)
{
  if (self->dispatch_source != NULL)
    return;
  /* Default priority, like the sockets: it takes turns with them. */
  self->dispatch_source = g_idle_source_new ();
  g_source_set_priority (self->dispatch_source, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->dispatch_source, dispatch_cb, self, NULL);
  g_source_set_static_name (self->dispatch_source, "[peertunnel] relay pool dispatch");
  g_source_attach (self->dispatch_source, self->context);
}

/* The relay sent more than the flood limits allow: it goes, for longer
 * each time (60 s, 2 min … 16 min), and says so. */
static void
relay_flooded (Relay      *relay,
               const char *what)
{
  guint delay_s;

  if (g_get_monotonic_time () - relay->connected_at >= PT_RELAY_POOL_FLOOD_FORGET_S * G_USEC_PER_SEC)
    relay->floods = 0;      /* it behaved for a long while first */
  delay_s = PT_RELAY_POOL_FLOOD_BACKOFF_MIN_S << MIN (relay->floods, 4u);
  if (relay->floods < G_MAXUINT)
    relay->floods++;
  g_message ("relay %s sent %s: disconnected from it; trying again in %u s",
             relay->url, what, delay_s);
  relay_clear_inbox (relay);
  relay_schedule_retry_after (relay, "flood", delay_s * 1000);
}

static void
on_message (SoupWebsocketConnection *conn,
            gint                     type,
            GBytes                  *bytes,
            gpointer                 data)
{
  Relay *relay = data;
  gint64 now = g_get_monotonic_time ();
  gsize len = g_bytes_get_size (bytes);

  if (type != SOUP_WEBSOCKET_DATA_TEXT)
    {
      g_message ("relay %s: sent a binary message; dropping it", relay->url);
      relay_clear_inbox (relay);
      relay_schedule_retry (relay, "binary message");
      return;
    }

  /* A token bucket per relay: BURST messages at once, RATE a second after. */
  relay->flood_tokens = MIN ((double) PT_RELAY_POOL_FLOOD_BURST,
                             relay->flood_tokens +
                             (double) (now - relay->flood_updated) * PT_RELAY_POOL_FLOOD_RATE /
                             G_USEC_PER_SEC);
  relay->flood_updated = now;
  if (relay->flood_tokens < 1.0)
    {
      relay_flooded (relay, "more than " G_STRINGIFY (PT_RELAY_POOL_FLOOD_BURST) " messages at "
                     "once or " G_STRINGIFY (PT_RELAY_POOL_FLOOD_RATE) " a second for a while");
      return;
    }
  relay->flood_tokens -= 1.0;
  if (relay->inbox.length >= PT_RELAY_POOL_INBOX_MAX ||
      relay->inbox_bytes + len > PT_RELAY_POOL_INBOX_MAX_BYTES)
    {
      relay_flooded (relay, "more messages than could be handled");
      return;
    }
  g_queue_push_tail (&relay->inbox, g_bytes_ref (bytes));
  relay->inbox_bytes += len;
  pool_schedule_dispatch (relay->pool);
}

static void
on_error (SoupWebsocketConnection *conn,
          GError                  *error,
          gpointer                 data)
{
  Relay *relay = data;

  g_debug ("%s: websocket error: %s", relay->url, error->message);
}

static void
on_closed (SoupWebsocketConnection *conn,
           gpointer                 data)
{
  Relay *relay = data;
  g_autofree char *reason = g_strdup_printf ("closed (code %u)",
                                             soup_websocket_connection_get_close_code (conn));

  relay_schedule_retry (relay, reason);
}

/* ---------------------------------------------------------------------- */
/* Connecting */

static void
relay_on_connected (Relay                   *relay,
                    SoupWebsocketConnection *conn)
{
  PtRelayPool *self = relay->pool;
  GHashTableIter iter;
  gpointer key, value;

  relay_clear_timer (relay);
  g_clear_object (&relay->cancellable);
  relay->conn = conn;
  relay->connected_at = g_get_monotonic_time ();
  relay->flood_tokens = PT_RELAY_POOL_FLOOD_BURST;
  relay->flood_updated = relay->connected_at;
  /* A relay message is at most an event plus its envelope. */
  soup_websocket_connection_set_max_incoming_payload_size (conn, PT_NOSTR_EVENT_MAX_SIZE + 1024);
  soup_websocket_connection_set_keepalive_interval (conn, PT_RELAY_POOL_KEEPALIVE_S);
  g_signal_connect (conn, "message", G_CALLBACK (on_message), relay);
  g_signal_connect (conn, "error", G_CALLBACK (on_error), relay);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), relay);
  relay_enter_state (relay, RELAY_STATE_CONNECTED);

  /* relay-state handlers may have done anything, dropping this relay included. */
  if (relay->state != RELAY_STATE_CONNECTED)
    return;

  g_hash_table_iter_init (&iter, self->subscriptions);
  while (g_hash_table_iter_next (&iter, &key, &value))
    relay_send_req (relay, key, value);

  pending_expire (self);
  for (GList *l = self->pending.tail; l != NULL; l = l->prev)
    {
      PendingPublish *pending = l->data;

      if (!g_hash_table_contains (pending->accepted_by, relay))
        relay_send (relay, pending->message);
    }
}

static void
connect_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  ConnectAttempt *attempt = data;
  g_autoptr(SoupWebsocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  Relay *relay = attempt->relay;
  gboolean cancelled = g_cancellable_is_cancelled (attempt->cancellable);

  conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  g_object_unref (attempt->cancellable);
  g_free (attempt);

  if (cancelled)
    {
      if (conn != NULL)
        soup_websocket_connection_close (conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      return;   /* the relay may be gone */
    }
  if (conn == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("cannot connect: %s", error->message);

      relay_schedule_retry (relay, reason);
      return;
    }
  relay_on_connected (relay, g_steal_pointer (&conn));
}

static gboolean
relay_connect_timeout_cb (gpointer data)
{
  Relay *relay = data;

  g_clear_pointer (&relay->timer, g_source_unref);
  relay_schedule_retry (relay, "no connection after " G_STRINGIFY (PT_RELAY_POOL_CONNECT_TIMEOUT_S) " s");
  return G_SOURCE_REMOVE;
}

static void
relay_connect (Relay *relay)
{
  PtRelayPool *self = relay->pool;
  g_autoptr(SoupMessage) msg = NULL;
  ConnectAttempt *attempt;

  relay_cancel_attempt (relay);
  relay->cancellable = g_cancellable_new ();
  relay_enter_state (relay, RELAY_STATE_CONNECTING);

  msg = soup_message_new (SOUP_METHOD_GET, relay->url);
  if (msg == NULL)
    {
      /* Checked in _pt_relay_pool_new(); libsoup should agree. */
      relay_schedule_retry (relay, "libsoup refused the URL");
      return;
    }
  attempt = g_new0 (ConnectAttempt, 1);
  attempt->cancellable = g_object_ref (relay->cancellable);
  attempt->relay = relay;
  relay_set_timer (relay, PT_RELAY_POOL_CONNECT_TIMEOUT_S * 1000, relay_connect_timeout_cb);
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
                                        relay->cancellable, connect_cb, attempt);
}

static gboolean
start_cb (gpointer data)
{
  PtRelayPool *self = data;

  g_clear_pointer (&self->start_source, g_source_unref);
  for (guint i = 0; i < self->relays->len; i++)
    relay_connect (g_ptr_array_index (self->relays, i));
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------- */
/* URLs */

/* ws[s]://host[:port][/path][?query], no user info nor fragment; returns the
 * normalized form or NULL with an error naming @url. */
static char *
check_url (const char *url,
           GError    **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *scheme;

  if (url == NULL || *url == '\0')
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                           "empty relay URL: give one like wss://relay.example.org");
      return NULL;
    }
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                   "relay URL “%s” is not a valid URL: %s", url, local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                   "relay URL “%s” must start with wss:// (or ws:// for a relay without TLS)", url);
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                   "relay URL “%s” has no host name", url);
      return NULL;
    }
  if (g_uri_get_userinfo (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                   "relay URL “%s” may not hold a user name, password or #fragment", url);
      return NULL;
    }
  {
    g_autofree char *host = g_ascii_strdown (g_uri_get_host (uri), -1);
    g_autoptr(GUri) normalized = g_uri_build (g_uri_get_flags (uri), g_uri_get_scheme (uri), NULL,
                                              host, g_uri_get_port (uri), g_uri_get_path (uri),
                                              g_uri_get_query (uri), NULL);

    return g_uri_to_string (normalized);
  }
}

/* ---------------------------------------------------------------------- */
/* GObject */

PtRelayPool *
_pt_relay_pool_new (const char * const *urls,
                    GError            **error)
{
  g_autoptr(PtRelayPool) self = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);

  if (urls == NULL || urls[0] == NULL)
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                           "no relay URL given");
      return NULL;
    }
  for (gsize i = 0; urls[i] != NULL; i++)
    {
      char *normalized = check_url (urls[i], error);
      gboolean duplicate = FALSE;

      if (normalized == NULL)
        return NULL;
      for (guint j = 0; j < seen->len && !duplicate; j++)
        duplicate = g_str_equal (g_ptr_array_index (seen, j), normalized);
      if (duplicate)
        {
          g_debug ("relay %s given twice; using it once", normalized);
          g_free (normalized);
          continue;
        }
      g_ptr_array_add (seen, normalized);
      g_strv_builder_add (builder, normalized);
    }
  if (seen->len > PT_RELAY_POOL_MAX_RELAYS)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_RELAY_URL,
                   "%u relays given, at most %d are used at once", seen->len, PT_RELAY_POOL_MAX_RELAYS);
      return NULL;
    }

  self = g_object_new (PT_TYPE_RELAY_POOL, NULL);
  self->urls = g_strv_builder_end (builder);
  for (gsize i = 0; self->urls[i] != NULL; i++)
    {
      Relay *relay = g_new0 (Relay, 1);

      relay->pool = self;
      relay->url = g_strdup (self->urls[i]);
      relay->state = RELAY_STATE_DISCONNECTED;
      g_ptr_array_add (self->relays, relay);
    }

  /* Connect from the loop, so that signal handlers and the test-only TLS
   * database are in place before the first attempt. */
  self->start_source = g_idle_source_new ();
  g_source_set_callback (self->start_source, start_cb, self, NULL);
  g_source_set_name (self->start_source, "[peertunnel] relay pool start");
  g_source_attach (self->start_source, self->context);
  return g_steal_pointer (&self);
}

void
_pt_relay_pool_subscribe (PtRelayPool         *self,
                          const char          *sub_id,
                          const PtNostrFilter *filter)
{
  PtNostrFilter *copy;

  g_return_if_fail (PT_IS_RELAY_POOL (self));
  g_return_if_fail (_pt_nostr_sub_id_is_valid (sub_id));
  g_return_if_fail (filter != NULL);

  copy = _pt_nostr_filter_copy (filter);
  g_hash_table_replace (self->subscriptions, g_strdup (sub_id), copy);
  for (guint i = 0; i < self->relays->len; i++)
    {
      Relay *relay = g_ptr_array_index (self->relays, i);

      if (relay->state == RELAY_STATE_CONNECTED)
        relay_send_req (relay, sub_id, copy);
    }
}

void
_pt_relay_pool_unsubscribe (PtRelayPool *self,
                            const char  *sub_id)
{
  g_autofree char *close = NULL;

  g_return_if_fail (PT_IS_RELAY_POOL (self));
  g_return_if_fail (_pt_nostr_sub_id_is_valid (sub_id));

  if (!g_hash_table_remove (self->subscriptions, sub_id))
    return;
  close = _pt_nostr_message_encode_close (sub_id);
  for (guint i = 0; i < self->relays->len; i++)
    {
      Relay *relay = g_ptr_array_index (self->relays, i);

      if (relay->state == RELAY_STATE_CONNECTED)
        relay_send (relay, close);
    }
}

guint
_pt_relay_pool_get_connected_count (PtRelayPool *self)
{
  g_return_val_if_fail (PT_IS_RELAY_POOL (self), 0);
  return self->connected_count;
}

const char * const *
_pt_relay_pool_get_urls (PtRelayPool *self)
{
  g_return_val_if_fail (PT_IS_RELAY_POOL (self), NULL);
  return (const char * const *) self->urls;
}

void
_pt_relay_pool_set_tls_database (PtRelayPool  *self,
                                 GTlsDatabase *database)
{
  g_return_if_fail (PT_IS_RELAY_POOL (self));
  g_return_if_fail (database == NULL || G_IS_TLS_DATABASE (database));

  g_debug ("using a test TLS database for wss:// relays");
  soup_session_set_tls_database (self->session, database);
}

guint
_pt_relay_pool_get_n_duplicates (PtRelayPool *self)
{
  g_return_val_if_fail (PT_IS_RELAY_POOL (self), 0);
  return self->n_duplicates;
}

guint
_pt_relay_pool_get_n_verified (PtRelayPool *self)
{
  g_return_val_if_fail (PT_IS_RELAY_POOL (self), 0);
  return self->n_verified;
}

gboolean
_pt_relay_pool_feed_message (PtRelayPool *self,
                             guint        relay_index,
                             const char  *text,
                             gsize        len)
{
  g_return_val_if_fail (PT_IS_RELAY_POOL (self), FALSE);
  g_return_val_if_fail (relay_index < self->relays->len, FALSE);
  g_return_val_if_fail (text != NULL || len == 0, FALSE);

  return handle_text (g_ptr_array_index (self->relays, relay_index), text, len);
}

static guint
recent_hash (gconstpointer key)
{
  guint hash;

  memcpy (&hash, key, sizeof hash);    /* a SHA-256: evenly spread already */
  return hash;
}

static gboolean
recent_equal (gconstpointer a,
              gconstpointer b)
{
  return memcmp (a, b, PT_RELAY_POOL_DIGEST_LEN) == 0;
}

static guint
seen_key_hash (gconstpointer key)
{
  return g_string_hash (key);
}

static gboolean
seen_key_equal (gconstpointer a,
                gconstpointer b)
{
  return g_string_equal (a, b);
}

static void
seen_key_free (gpointer key)
{
  g_string_free (key, TRUE);
}

static void
pt_relay_pool_dispose (GObject *object)
{
  PtRelayPool *self = PT_RELAY_POOL (object);

  if (self->start_source != NULL)
    {
      g_source_destroy (self->start_source);
      g_clear_pointer (&self->start_source, g_source_unref);
    }
  if (self->dispatch_source != NULL)
    {
      g_source_destroy (self->dispatch_source);
      g_clear_pointer (&self->dispatch_source, g_source_unref);
    }
  /* Without emitting anything: the pool is going away. */
  g_clear_pointer (&self->relays, g_ptr_array_unref);

  G_OBJECT_CLASS (pt_relay_pool_parent_class)->dispose (object);
}

static void
pt_relay_pool_finalize (GObject *object)
{
  PtRelayPool *self = PT_RELAY_POOL (object);

  g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
  g_queue_clear (&self->seen_order);
  g_hash_table_unref (self->seen);
  g_hash_table_unref (self->recent);      /* frees every Recent, links included */
  g_hash_table_unref (self->subscriptions);
  g_strfreev (self->urls);
  g_clear_object (&self->session);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (pt_relay_pool_parent_class)->finalize (object);
}

static void
pt_relay_pool_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  PtRelayPool *self = PT_RELAY_POOL (object);

  switch (prop_id)
    {
    case PROP_CONNECTED_COUNT:
      g_value_set_uint (value, self->connected_count);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_relay_pool_class_init (PtRelayPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_relay_pool_dispose;
  object_class->finalize = pt_relay_pool_finalize;
  object_class->get_property = pt_relay_pool_get_property;

  properties[PROP_CONNECTED_COUNT] =
    g_param_spec_uint ("connected-count", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_EVENT] =
    g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  signals[SIGNAL_EVENT_REPEATED] =
    g_signal_new ("event-repeated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_POINTER);
  signals[SIGNAL_RELAY_STATE] =
    g_signal_new ("relay-state", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[SIGNAL_EOSE] =
    g_signal_new ("eose", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PUBLISH_RESULT] =
    g_signal_new ("publish-result", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN, G_TYPE_STRING);
}

static void
pt_relay_pool_init (PtRelayPool *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->session = soup_session_new_with_options ("user-agent", "peertunnel/" PACKAGE_VERSION " ",
                                                 NULL);
  self->relays = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_free);
  self->subscriptions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) _pt_nostr_filter_free);
  self->seen = g_hash_table_new_full (seen_key_hash, seen_key_equal, seen_key_free, NULL);
  self->recent = g_hash_table_new_full (recent_hash, recent_equal, NULL, g_free);
  for (gsize i = 0; i < sizeof self->recent_salt; i += 4)
    {
      guint32 r = g_random_int ();

      memcpy (self->recent_salt + i, &r, 4);
    }
  g_queue_init (&self->recent_order);
  g_queue_init (&self->pending);
  g_queue_init (&self->seen_order);
}
