/* pt-relay-pool-private.h — a set of Nostr relays used as one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A PtRelayPool connects to every relay URL it is given (ws:// or wss://)
 * on the thread-default main context of its creator, reconnects each relay
 * with jittered exponential backoff (1 s up to 60 s) after a failure or a
 * close, publishes to every relay, sends every subscription to every relay
 * (again after each reconnect) and delivers each matching event once, however
 * many relays carry it. It works while at least one relay is up.
 *
 * Signals:
 *   "event"          (const char *sub_id, gpointer event): a PtNostrEvent*,
 *                    borrowed for the handler's duration; verified and matching
 *                    the subscription's filter; each (sub_id, id) at most once
 *                    among the last PT_RELAY_POOL_SEEN_MAX events.
 *   "event-repeated" (const char *sub_id, gpointer event): an event dropped as
 *                    already delivered (another relay's copy, or a replay);
 *                    for a flood of copies, only some of them (see below).
 *   "relay-state"    (const char *url, gboolean connected)
 *   "eose"           (const char *url, const char *sub_id): that relay has
 *                    sent its stored events and now delivers live ones.
 *   "publish-result" (const char *url, const char *event_id_hex,
 *                    gboolean accepted, const char *message): a relay's "OK".
 * Property:
 *   "connected-count" (guint, read-only, notified on change)
 */
#pragma once

#include <gio/gio.h>

#include "pt.h"
#include "pt-nostr-event-private.h"
#include "pt-nostr-message-private.h"

G_BEGIN_DECLS

#define PT_RELAY_POOL_CONNECT_TIMEOUT_S   10
#define PT_RELAY_POOL_BACKOFF_MIN_MS      1000
#define PT_RELAY_POOL_BACKOFF_MAX_MS      60000
#define PT_RELAY_POOL_KEEPALIVE_S         30
/* An event published while a relay is down is sent to it when it comes up
 * within this window. */
#define PT_RELAY_POOL_PUBLISH_WINDOW_S    15
#define PT_RELAY_POOL_PENDING_MAX         256
#define PT_RELAY_POOL_SEEN_MAX            4096
#define PT_RELAY_POOL_MAX_RELAYS          32

/* Hostile relays. An EVENT message seen before (its SHA-256, among the last
 * RECENT_MAX) is dropped before any parsing; a copy of a delivered event (same
 * id, other bytes) after one SHA-256 of its contents; an id and signature that
 * failed to verify are not verified again. So only new events cost a
 * signature check. */
#define PT_RELAY_POOL_DIGEST_LEN          32
#define PT_RELAY_POOL_RECENT_MAX          8192
/* "event-repeated" for the first REPEATS_REPORTED copies of a delivered
 * message, then at most once a second. */
#define PT_RELAY_POOL_REPEATS_REPORTED    4
/* Messages wait in a per-relay inbox; one pass of the main loop handles at
 * most DISPATCH_MAX of them, relays taking turns, so that ICE and QUIC run
 * in between whatever a relay sends. */
#define PT_RELAY_POOL_DISPATCH_MAX        32
/* A relay may send FLOOD_BURST messages at once and FLOOD_RATE a second
 * after that, and hold at most INBOX_MAX messages (INBOX_MAX_BYTES) waiting;
 * past that it is disconnected (a line says so) and tried again after
 * FLOOD_BACKOFF_MIN_S, doubling with each flood up to 16 times that; a
 * connection that stays up FLOOD_FORGET_S clears its record. */
#define PT_RELAY_POOL_FLOOD_BURST         1000
#define PT_RELAY_POOL_FLOOD_RATE          200
#define PT_RELAY_POOL_INBOX_MAX           1000
#define PT_RELAY_POOL_INBOX_MAX_BYTES     (8 * 1024 * 1024)
#define PT_RELAY_POOL_FLOOD_BACKOFF_MIN_S 60
#define PT_RELAY_POOL_FLOOD_FORGET_S      600

#define PT_TYPE_RELAY_POOL (pt_relay_pool_get_type ())
G_DECLARE_FINAL_TYPE (PtRelayPool, pt_relay_pool, PT, RELAY_POOL, GObject)

/* Checks every URL (PT_NOSTR_ERROR_RELAY_URL names the first bad one) and
 * starts connecting. Identical URLs are used once. */
PtRelayPool *_pt_relay_pool_new             (const char * const *urls,
                                             GError            **error);
/* Sends the (signed) event to every connected relay, and to relays that
 * connect within PT_RELAY_POOL_PUBLISH_WINDOW_S and have not accepted it. */
void         _pt_relay_pool_publish         (PtRelayPool        *self,
                                             const PtNostrEvent *event);
/* Replaces any subscription of the same id. */
void         _pt_relay_pool_subscribe       (PtRelayPool         *self,
                                             const char          *sub_id,
                                             const PtNostrFilter *filter);
void         _pt_relay_pool_unsubscribe     (PtRelayPool        *self,
                                             const char         *sub_id);
guint        _pt_relay_pool_get_connected_count (PtRelayPool    *self);
/* The URLs in use, normalized; borrowed. */
const char * const *_pt_relay_pool_get_urls (PtRelayPool        *self);

/* Tests only: trust the certificates of @database for wss:// instead of the
 * system's (a self-signed test relay). Never used by the CLI or the app. */
void         _pt_relay_pool_set_tls_database (PtRelayPool       *self,
                                              GTlsDatabase      *database);
/* Tests only: how many events were dropped as already delivered. */
guint        _pt_relay_pool_get_n_duplicates (PtRelayPool       *self);
/* Tests only: how many event signatures were checked. */
guint        _pt_relay_pool_get_n_verified   (PtRelayPool       *self);
/* Tests and fuzzing only: handles @text at once as if the relay of URL
 * number @relay_index had sent it (dedup, parsing, filters, signatures,
 * signals; not the inbox nor the flood limits). FALSE when the relay broke
 * the protocol and would be dropped. */
gboolean     _pt_relay_pool_feed_message     (PtRelayPool       *self,
                                              guint              relay_index,
                                              const char        *text,
                                              gsize              len);

G_END_DECLS
