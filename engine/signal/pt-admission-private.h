/* pt-admission-private.h — who may open a session, and how many at once
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One admission for every way of pairing: the Nostr server and the manual
 * (copy-paste) server ask it about each offer, and write only their
 * transport. It checks, cheapest first: the peer's key (when the method has
 * one), the token (constant time, whatever the rate limit says), the number
 * of sessions and of answered sessions still waiting for their client, the
 * offer's age, and whether the offer was answered before. Failed attempts
 * drain two token buckets (the peer's and everyone's); while either is
 * empty a refusal is not worth sending back.
 *
 * Sans-I/O and clock-free: the caller passes the counts and the time.
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

/* Failed attempts (bad token, key not allowed) answered with a refusal before
 * further failures go unanswered for a while: per peer key, and from everyone
 * together. */
#define PT_ADMISSION_FAILURES_PER_KEY  5      /* then one more per 12 s */
#define PT_ADMISSION_FAILURES_GLOBAL   30     /* then one more per 2 s */

typedef struct _PtAdmission PtAdmission;

PtAdmission        *_pt_admission_new              (void);
void                _pt_admission_free             (PtAdmission       *self);

/* Who: a listed key, or any key (any_peer); tokens (a GPtrArray of
 * PtSecretString, a reference is kept; NULL or empty: none needed). */
void                _pt_admission_add_peer         (PtAdmission       *self,
                                                    const PtPublicKey *peer);
gboolean            _pt_admission_is_listed        (PtAdmission       *self,
                                                    const PtPublicKey *peer);
void                _pt_admission_set_any_peer     (PtAdmission       *self,
                                                    gboolean           any_peer);
void                _pt_admission_set_tokens       (PtAdmission       *self,
                                                    GPtrArray         *tokens);
/* How many: 0 is no limit. */
void                _pt_admission_set_max_sessions (PtAdmission       *self,
                                                    guint              max_sessions);
guint               _pt_admission_get_max_sessions (PtAdmission       *self);
void                _pt_admission_set_max_pending  (PtAdmission       *self,
                                                    guint              max_pending);
guint               _pt_admission_get_max_pending  (PtAdmission       *self);

/* Judges @offer from @peer (NULL: a method without identities, such as
 * copy-paste; then neither key nor token is asked for) with @token (or
 * NULL), while @sessions run of which @pending wait for their client, at
 * @now (seconds since the epoch). An admitted offer is remembered, so that
 * the same offer is refused as REPLAYED later. A refusal is a
 * PT_ADMISSION_ERROR saying what it means for the person who runs the
 * server and for the client ("this offer was already answered; ask the
 * client for a new one"), without a prefix: the caller says "refused" in
 * its own way. */
gboolean            _pt_admission_check            (PtAdmission          *self,
                                                    const PtPublicKey    *peer,
                                                    const PtSecretString *token,
                                                    const PtSignal       *offer,
                                                    guint                 sessions,
                                                    guint                 pending,
                                                    gint64                now,
                                                    GError              **error);

/* A failed attempt by @peer_id (e.g. a key in hex) at @now_us (monotonic):
 * TRUE while both buckets had a unit left, so the refusal may be sent back.
 * Otherwise, once a minute per bucket, *@limited says why (free it). */
gboolean            _pt_admission_count_failure    (PtAdmission          *self,
                                                    const char           *peer_id,
                                                    gint64                now_us,
                                                    char                **limited);
/* Forgets peers whose bucket is full again. */
void                _pt_admission_prune            (PtAdmission          *self,
                                                    gint64                now_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtAdmission, _pt_admission_free)

G_END_DECLS
