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
 *                    already delivered (another relay's copy, or a replay).
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

G_END_DECLS
