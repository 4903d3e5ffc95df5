/* pt-nostr-event-private.h — NIP-01 events: id, BIP-340 signature, JSON
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O: events are built, signed, serialized and parsed here; relays and
 * subscriptions live elsewhere. The clock is the caller's (created_at).
 */
#pragma once

#include <json-glib/json-glib.h>

#include "pt.h"

G_BEGIN_DECLS

#define PT_NOSTR_ID_LEN          32
#define PT_NOSTR_SIG_LEN         64
#define PT_NOSTR_EVENT_MAX_SIZE  (128 * 1024)  /* bytes of JSON accepted from outside */
#define PT_NOSTR_EVENT_MAX_DEPTH 8             /* an event nests 3 deep: object, tags, tag */
#define PT_NOSTR_MAX_KIND        65535

typedef struct
{
  guint8       id[PT_NOSTR_ID_LEN];
  PtPublicKey  pubkey;
  gint64       created_at;     /* UNIX seconds, >= 0 */
  guint        kind;           /* 0..65535 */
  GPtrArray   *tags;           /* of GStrv, each with at least one element */
  char        *content;        /* UTF-8 */
  guint8       sig[PT_NOSTR_SIG_LEN];
} PtNostrEvent;

/* An unsigned event; @content must be UTF-8. */
PtNostrEvent *_pt_nostr_event_new        (guint               kind,
                                          gint64              created_at,
                                          const char         *content);
void          _pt_nostr_event_free       (PtNostrEvent       *event);
/* Appends a tag: NULL-terminated list of UTF-8 strings, at least one. */
void          _pt_nostr_event_add_tag    (PtNostrEvent       *event,
                                          const char         *first,
                                          ...) G_GNUC_NULL_TERMINATED;
/* The first tag whose first element is @name, or NULL; borrowed. */
const char * const *_pt_nostr_event_find_tag (const PtNostrEvent *event,
                                              const char         *name);

/* [0,"<pubkey>",<created_at>,<kind>,<tags>,"<content>"] as every client
 * serializes it (NIP-01): what the id is the SHA-256 of. */
char         *_pt_nostr_event_serialize_for_id (const PtNostrEvent *event);
void          _pt_nostr_event_compute_id (const PtNostrEvent *event,
                                          guint8             *id);
/* Sets pubkey from @key, then id and a BIP-340 signature (fresh aux randomness). */
gboolean      _pt_nostr_event_sign       (PtNostrEvent       *event,
                                          const PtSecretKey  *key,
                                          GError            **error);
/* BAD_ID when id is not the hash of the event, BAD_SIGNATURE when sig fails. */
gboolean      _pt_nostr_event_verify     (const PtNostrEvent *event,
                                          GError            **error);

/* Parses one event object, strictly (types, lowercase hex lengths, ranges),
 * and verifies its id and signature. */
PtNostrEvent *_pt_nostr_event_parse      (const char         *json,
                                          gsize               len,
                                          GError            **error);
/* The same from an already parsed node (an element of a relay message). */
PtNostrEvent *_pt_nostr_event_from_node  (JsonNode           *node,
                                          GError            **error);
/* With @verify FALSE, the id and signature are NOT checked: for a caller
 * that drops what it has seen before paying for a signature check (the
 * relay pool), and then calls _pt_nostr_event_verify() itself. */
PtNostrEvent *_pt_nostr_event_from_node_full (JsonNode       *node,
                                              gboolean        verify,
                                              GError        **error);
/* {"id":…,"pubkey":…,"created_at":…,"kind":…,"tags":…,"content":…,"sig":…} */
char         *_pt_nostr_event_to_json    (const PtNostrEvent *event);

/* Checks JSON text from outside before json-glib sees it: at most
 * PT_NOSTR_EVENT_MAX_SIZE bytes, nesting at most @max_depth deep (json-glib
 * recurses without a limit). Call it on relay messages before parsing them. */
gboolean      _pt_nostr_json_check_limits (const char        *json,
                                           gsize              len,
                                           guint              max_depth,
                                           GError           **error);

/* Appends @str as a JSON string with the escaping of NIP-01 (and of
 * JavaScript's JSON.stringify, which other clients use). */
void          _pt_nostr_json_append_string (GString          *out,
                                            const char       *str);
/* Appends @data as a quoted lowercase hex JSON string. */
void          _pt_nostr_json_append_hex    (GString          *out,
                                            const guint8     *data,
                                            gsize             len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtNostrEvent, _pt_nostr_event_free)

G_END_DECLS
