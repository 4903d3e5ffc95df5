/* pt-offer-record.c — the offers a manual server has answered
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-offer-record"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>

#include "pt-offer-record.h"

/* A client makes each of these afresh for every offer: a second offer with
 * any of them equal is the same session again. */
typedef enum
{
  TAG_SESSION_ID,
  TAG_FINGERPRINT,
  TAG_ICE_CREDENTIALS,
  N_TAGS
} TagKind;

typedef struct
{
  gint64  timestamp;
  guint64 tags[N_TAGS];
} Entry;

struct _PtOfferRecord
{
  guint8  key[32];      /* keys the tags: a peer cannot aim at a collision */
  Entry  *entries;      /* a ring of @capacity */
  guint   capacity;
  guint   size;
  guint   next;         /* where the next entry goes */
  gboolean evicted;     /* an entry was dropped: @horizon applies */
  gint64  horizon;      /* newest timestamp of a dropped entry */
};

PtOfferRecord *
pt_offer_record_new (guint capacity)
{
  PtOfferRecord *self = g_new0 (PtOfferRecord, 1);

  self->capacity = MAX (capacity, 1);
  self->entries = g_new0 (Entry, self->capacity);
  gnutls_rnd (GNUTLS_RND_NONCE, self->key, sizeof self->key);
  return self;
}

void
pt_offer_record_free (PtOfferRecord *self)
{
  if (self == NULL)
    return;
  g_free (self->entries);
  g_free (self);
}

static guint64
make_tag (PtOfferRecord *self,
          TagKind        kind,
          const guint8  *data,
          gsize          len,
          const char    *more)
{
  g_autoptr(GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, self->key, sizeof self->key);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  guint8 k = (guint8) kind;
  guint64 tag;

  g_hmac_update (hmac, &k, 1);
  g_hmac_update (hmac, data, (gssize) len);
  if (more != NULL)
    {
      /* The ufrag's length keeps "ab"+"c" apart from "a"+"bc". */
      guint8 n = (guint8) MIN (len, 255);

      g_hmac_update (hmac, &n, 1);
      g_hmac_update (hmac, (const guint8 *) more, (gssize) strlen (more));
    }
  g_hmac_get_digest (hmac, digest, &digest_len);
  memcpy (&tag, digest, sizeof tag);
  return tag;
}

PtOfferRecordVerdict
pt_offer_record_check (PtOfferRecord  *self,
                       const PtSignal *offer)
{
  const char *ufrag = offer->ufrag ? offer->ufrag : "";
  Entry entry = { 0 };

  g_return_val_if_fail (self != NULL, PT_OFFER_RECORD_REPEATED);

  entry.timestamp = offer->timestamp;
  entry.tags[TAG_SESSION_ID] = make_tag (self, TAG_SESSION_ID, offer->session_id,
                                         sizeof offer->session_id, NULL);
  entry.tags[TAG_FINGERPRINT] = make_tag (self, TAG_FINGERPRINT, offer->fingerprint,
                                          sizeof offer->fingerprint, NULL);
  entry.tags[TAG_ICE_CREDENTIALS] = make_tag (self, TAG_ICE_CREDENTIALS, (const guint8 *) ufrag,
                                              strlen (ufrag), offer->pwd ? offer->pwd : "");

  for (guint i = 0; i < self->size; i++)
    for (guint t = 0; t < N_TAGS; t++)
      if (self->entries[i].tags[t] == entry.tags[t])
        {
          g_debug ("offer seen before (same %s)",
                   t == TAG_SESSION_ID ? "session id"
                   : t == TAG_FINGERPRINT ? "fingerprint" : "ICE credentials");
          return PT_OFFER_RECORD_REPEATED;
        }

  if (self->evicted && offer->timestamp <= self->horizon)
    return PT_OFFER_RECORD_TOO_OLD;

  if (self->size == self->capacity)
    {
      const Entry *oldest = &self->entries[self->next];

      if (!self->evicted || oldest->timestamp > self->horizon)
        self->horizon = oldest->timestamp;
      self->evicted = TRUE;
    }
  else
    self->size++;
  self->entries[self->next] = entry;
  self->next = (self->next + 1) % self->capacity;
  return PT_OFFER_RECORD_NEW;
}

guint
pt_offer_record_get_size (PtOfferRecord *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->size;
}
