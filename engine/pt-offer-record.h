/* pt-offer-record.h — the offers a manual server has answered (replay record)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O and constant memory: a ring of at most @capacity entries, each a
 * keyed hash of one answered offer's session id, certificate fingerprint and
 * ICE credentials (any one of them seen again is a repeat). An offer stays
 * interesting only while it is fresh (pt_signal_check_fresh()); when the ring
 * is full the oldest entry goes, and from then on offers dated no later than
 * it are refused as TOO_OLD, since the record can no longer tell whether
 * they were answered. No offer can so be answered twice.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

#include "pt-signal.h"

G_BEGIN_DECLS

#define PT_OFFER_RECORD_DEFAULT_CAPACITY  4096

typedef enum
{
  PT_OFFER_RECORD_NEW,         /* not seen: now remembered */
  PT_OFFER_RECORD_REPEATED,    /* answered before */
  PT_OFFER_RECORD_TOO_OLD,     /* older than what the record still covers */
} PtOfferRecordVerdict;

typedef struct _PtOfferRecord PtOfferRecord;

PtOfferRecord        *pt_offer_record_new     (guint                capacity);
void                  pt_offer_record_free    (PtOfferRecord       *self);
/* Looks @offer up and, if it is NEW, remembers it. */
PtOfferRecordVerdict  pt_offer_record_check   (PtOfferRecord       *self,
                                               const PtSignal      *offer);
/* Offers remembered now (at most the capacity). */
guint                 pt_offer_record_get_size (PtOfferRecord      *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtOfferRecord, pt_offer_record_free)

G_END_DECLS
