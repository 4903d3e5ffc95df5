/* pt-nostr-message-private.h — NIP-01 messages between client and relay
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O: what a client sends (EVENT, REQ, CLOSE) is encoded to JSON text
 * here, and what a relay sends (EVENT, OK, EOSE, CLOSED, NOTICE, AUTH) is
 * parsed here, strictly. Sockets live in pt-relay-pool.c.
 */
#pragma once

#include "pt.h"
#include "pt-nostr-event-private.h"

G_BEGIN_DECLS

/* NIP-01: a subscription id is a non-empty string of at most 64 characters. */
#define PT_NOSTR_SUB_ID_MAX_LEN 64
/* A relay message wraps an event one level deeper than the event itself. */
#define PT_NOSTR_MESSAGE_MAX_DEPTH (PT_NOSTR_EVENT_MAX_DEPTH + 1)

/* ---------------------------------------------------------------------- */
/* Filters: the subset of NIP-01 that PeerTunnel asks relays for. A filter
 * with no condition matches every event. */

typedef struct
{
  GArray  *kinds;     /* of guint */
  GArray  *authors;   /* of PtPublicKey */
  GArray  *p_tags;    /* of PtPublicKey: events with a "p" tag naming one */
  gint64   since;     /* UNIX seconds, or -1 for none */
  gint64   limit;     /* or -1 for none */
} PtNostrFilter;

PtNostrFilter *_pt_nostr_filter_new        (void);
PtNostrFilter *_pt_nostr_filter_copy       (const PtNostrFilter *filter);
void           _pt_nostr_filter_free       (PtNostrFilter       *filter);
void           _pt_nostr_filter_add_kind   (PtNostrFilter       *filter,
                                            guint                kind);
void           _pt_nostr_filter_add_author (PtNostrFilter       *filter,
                                            const PtPublicKey   *author);
void           _pt_nostr_filter_add_p_tag  (PtNostrFilter       *filter,
                                            const PtPublicKey   *pubkey);
void           _pt_nostr_filter_set_since  (PtNostrFilter       *filter,
                                            gint64               since);
void           _pt_nostr_filter_set_limit  (PtNostrFilter       *filter,
                                            guint                limit);
/* {"kinds":[…],"authors":[…],"#p":[…],"since":…,"limit":…}, absent members left out. */
char          *_pt_nostr_filter_to_json    (const PtNostrFilter *filter);
/* Whether @event meets every condition of @filter (limit aside, which only
 * bounds what a relay sends back from its store). */
gboolean       _pt_nostr_filter_matches    (const PtNostrFilter *filter,
                                            const PtNostrEvent  *event);

/* ---------------------------------------------------------------------- */
/* Client → relay */

gboolean       _pt_nostr_sub_id_is_valid         (const char          *sub_id);
/* ["EVENT",<event>] */
char          *_pt_nostr_message_encode_event    (const PtNostrEvent  *event);
/* ["REQ","<sub_id>",<filter>…]; @sub_id must be valid, @n_filters >= 1. */
char          *_pt_nostr_message_encode_req      (const char          *sub_id,
                                                  const PtNostrFilter * const *filters,
                                                  gsize                n_filters);
/* ["CLOSE","<sub_id>"] */
char          *_pt_nostr_message_encode_close    (const char          *sub_id);

/* ---------------------------------------------------------------------- */
/* Relay → client */

typedef enum
{
  PT_NOSTR_RELAY_MESSAGE_EVENT,    /* sub_id, event */
  PT_NOSTR_RELAY_MESSAGE_OK,       /* event_id, accepted, message */
  PT_NOSTR_RELAY_MESSAGE_EOSE,     /* sub_id */
  PT_NOSTR_RELAY_MESSAGE_CLOSED,   /* sub_id, message */
  PT_NOSTR_RELAY_MESSAGE_NOTICE,   /* message */
  PT_NOSTR_RELAY_MESSAGE_AUTH,     /* nothing kept: NIP-42 is not used */
} PtNostrRelayMessageType;

typedef struct
{
  PtNostrRelayMessageType  type;
  char                    *sub_id;
  PtNostrEvent            *event;
  guint8                   event_id[PT_NOSTR_ID_LEN];
  gboolean                 accepted;
  char                    *message;   /* "" when the relay gave none */
} PtNostrRelayMessage;

const char          *_pt_nostr_relay_message_type_to_string (PtNostrRelayMessageType type);
/* Parses one relay message, strictly: limits checked before json-glib sees the
 * text, exact array lengths and types, valid subscription ids, and for EVENT
 * an event whose id and signature verify (BAD_ID / BAD_SIGNATURE otherwise;
 * MALFORMED or TOO_LARGE for everything else). */
PtNostrRelayMessage *_pt_nostr_relay_message_parse (const char          *json,
                                                    gsize                len,
                                                    GError             **error);
/* The same; with @verify FALSE an EVENT's id and signature are NOT checked
 * (see _pt_nostr_event_from_node_full()). */
PtNostrRelayMessage *_pt_nostr_relay_message_parse_full (const char     *json,
                                                         gsize           len,
                                                         gboolean        verify,
                                                         GError        **error);
void                 _pt_nostr_relay_message_free  (PtNostrRelayMessage *message);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtNostrFilter, _pt_nostr_filter_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtNostrRelayMessage, _pt_nostr_relay_message_free)

G_END_DECLS
