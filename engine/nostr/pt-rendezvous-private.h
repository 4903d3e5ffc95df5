/* pt-rendezvous-private.h — the signaling exchange carried by Nostr events
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O. A client asks a server for a tunnel with a REQUEST (its offer:
 * ICE credentials and candidates, certificate fingerprint, session id,
 * timestamp and requested forwards, plus an optional token); the server
 * replies with an ANSWER (its own offer block for that session) or says why
 * it REFUSED. Each message is JSON, encrypted with NIP-44 v2 to the peer's
 * key and carried in a signed ephemeral event of kind PT_RENDEZVOUS_KIND
 * that names the recipient in a "p" tag: relays see who talks to whom and
 * when, nothing else. docs/protocol.md specifies the format.
 */
#pragma once

#include "pt.h"
#include "pt-nostr-event-private.h"

G_BEGIN_DECLS

/* Ephemeral (20000–29999: relays forward, never store); no published NIP
 * uses it (see docs/protocol.md, "Nostr rendezvous"). */
#define PT_RENDEZVOUS_KIND          25837
#define PT_RENDEZVOUS_VERSION       1
/* An event made longer ago than this is stale; one from further in the
 * future than PT_SIGNAL_SKEW_SECONDS is refused as well. */
#define PT_RENDEZVOUS_MAX_AGE_S     120
#define PT_RENDEZVOUS_MAX_JSON      8192   /* bytes of decrypted JSON accepted */
#define PT_RENDEZVOUS_MAX_REASON    64

typedef enum
{
  PT_RENDEZVOUS_REQUEST,
  PT_RENDEZVOUS_ANSWER,
  PT_RENDEZVOUS_REFUSED,
} PtRendezvousType;

/* Why a server refused; the wire carries the string form. */
#define PT_RENDEZVOUS_REFUSED_UNAUTHORIZED   "unauthorized"   /* key not allowed */
#define PT_RENDEZVOUS_REFUSED_TOKEN          "bad-token"      /* missing or wrong token */
#define PT_RENDEZVOUS_REFUSED_BUSY           "busy"           /* --max-sessions reached */
#define PT_RENDEZVOUS_REFUSED_INVALID        "invalid"        /* the offer cannot be used */

typedef struct
{
  PtRendezvousType  type;
  /* REQUEST: an OFFER; ANSWER: an ANSWER. NULL for REFUSED. */
  PtSignal         *signal;
  /* The session the message belongs to (from the signal when there is one). */
  guint8            session_id[PT_SIGNAL_SESSION_ID_LEN];
  /* REQUEST only, may be NULL; as sent, not validated. */
  PtSecretString   *token;
  /* REFUSED only: one of the PT_RENDEZVOUS_REFUSED_* strings, or another
   * printable ASCII word from a newer peer. */
  char             *reason;
} PtRendezvousMessage;

PtRendezvousMessage *_pt_rendezvous_message_new   (PtRendezvousType           type);
void                 _pt_rendezvous_message_free  (PtRendezvousMessage       *msg);
const char          *_pt_rendezvous_type_to_string (PtRendezvousType          type);

/* The JSON plaintext. The token, if any, is in it: wipe the result. */
PtSecretString      *_pt_rendezvous_message_encode (const PtRendezvousMessage *msg,
                                                    GError                   **error);
/* Parses decrypted JSON strictly (UTF-8, sizes, types, version, a signal of
 * the kind the type needs). PT_NOSTR_ERROR_MALFORMED or _VERSION. */
PtRendezvousMessage *_pt_rendezvous_message_parse  (const char                *json,
                                                    gsize                      len,
                                                    GError                   **error);

/* Encrypts @msg to @peer with @conversation_key (_pt_nip44_conversation_key
 * of @key and @peer) and returns the signed event, made at @now. */
PtNostrEvent        *_pt_rendezvous_seal  (const PtSecretKey         *key,
                                           const PtPublicKey         *peer,
                                           const guint8              *conversation_key,
                                           const PtRendezvousMessage *msg,
                                           gint64                     now,
                                           GError                   **error);
/* Checks an event addressed to @me (verified already, as the relay pool
 * does): kind, "p" tag, age (PT_NOSTR_ERROR_STALE / _FUTURE), then
 * decrypts with @conversation_key and parses. */
PtRendezvousMessage *_pt_rendezvous_open  (const PtPublicKey         *me,
                                           const guint8              *conversation_key,
                                           const PtNostrEvent        *event,
                                           gint64                     now,
                                           GError                   **error);

/* Named rendezvous: what guessing @name would take, in bits, by the rule of
 * docs/protocol.md ("Named rendezvous"); 0 for text that is not UTF-8. */
double               _pt_named_name_bits (const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtRendezvousMessage, _pt_rendezvous_message_free)

G_END_DECLS
