/* pt-admission.c — who may open a session, and how many at once
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-admission"

#include "config.h"

#include "pt-admission-private.h"

#define KEY_REFILL_US           (12 * G_USEC_PER_SEC)
#define GLOBAL_REFILL_US        (2 * G_USEC_PER_SEC)
#define LIMIT_LOG_INTERVAL_US   (60 * G_USEC_PER_SEC)
#define MAX_BUCKETS             4096

typedef struct
{
  double  tokens;
  gint64  updated;       /* monotonic µs; 0: never */
  gint64  last_logged;
} Bucket;

struct _PtAdmission
{
  GArray        *peers;          /* PtPublicKey */
  gboolean       any_peer;
  GPtrArray     *tokens;         /* PtSecretString */
  guint          max_sessions;
  guint          max_pending;
  PtOfferRecord *answered;
  GHashTable    *buckets;        /* peer id → Bucket* */
  Bucket         global;
};

PtAdmission *
_pt_admission_new (void)
{
  PtAdmission *self = g_new0 (PtAdmission, 1);

  self->peers = g_array_new (FALSE, FALSE, sizeof (PtPublicKey));
  self->answered = pt_offer_record_new (PT_OFFER_RECORD_DEFAULT_CAPACITY);
  self->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
_pt_admission_free (PtAdmission *self)
{
  if (self == NULL)
    return;
  g_array_unref (self->peers);
  g_clear_pointer (&self->tokens, g_ptr_array_unref);
  pt_offer_record_free (self->answered);
  g_hash_table_unref (self->buckets);
  g_free (self);
}

void
_pt_admission_add_peer (PtAdmission       *self,
                        const PtPublicKey *peer)
{
  if (!_pt_admission_is_listed (self, peer))
    g_array_append_val (self->peers, *peer);
}

gboolean
_pt_admission_is_listed (PtAdmission       *self,
                         const PtPublicKey *peer)
{
  for (guint i = 0; i < self->peers->len; i++)
    if (pt_public_key_equal (&g_array_index (self->peers, PtPublicKey, i), peer))
      return TRUE;
  return FALSE;
}

void
_pt_admission_set_any_peer (PtAdmission *self,
                            gboolean     any_peer)
{
  self->any_peer = any_peer;
}

void
_pt_admission_set_tokens (PtAdmission *self,
                          GPtrArray   *tokens)
{
  g_clear_pointer (&self->tokens, g_ptr_array_unref);
  if (tokens != NULL)
    self->tokens = g_ptr_array_ref (tokens);
}

void
_pt_admission_set_max_sessions (PtAdmission *self,
                                guint        max_sessions)
{
  self->max_sessions = max_sessions;
}

guint
_pt_admission_get_max_sessions (PtAdmission *self)
{
  return self->max_sessions;
}

void
_pt_admission_set_max_pending (PtAdmission *self,
                               guint        max_pending)
{
  self->max_pending = max_pending;
}

guint
_pt_admission_get_max_pending (PtAdmission *self)
{
  return self->max_pending;
}

gboolean
_pt_admission_check (PtAdmission          *self,
                     const PtPublicKey    *peer,
                     const PtSecretString *token,
                     const PtSignal       *offer,
                     guint                 sessions,
                     guint                 pending,
                     gint64                now,
                     GError              **error)
{
  g_autoptr(GError) stale = NULL;

  if (peer != NULL)
    {
      if (!self->any_peer && !_pt_admission_is_listed (self, peer))
        {
          g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_UNAUTHORIZED,
                               "this key is not allowed (add it with --peer-npub)");
          return FALSE;
        }
      /* The format check leaks nothing about our tokens; the comparison is
       * constant-time. */
      if (self->tokens != NULL && self->tokens->len > 0)
        {
          if (token == NULL)
            {
              g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_NO_TOKEN,
                                   "no token (this server needs one)");
              return FALSE;
            }
          if (!pt_token_validate (token, NULL) || !pt_token_list_contains (self->tokens, token))
            {
              g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_BAD_TOKEN,
                                   "wrong token");
              return FALSE;
            }
        }
    }

  if (self->max_sessions > 0 && sessions >= self->max_sessions)
    {
      g_set_error (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_BUSY,
                   "%u sessions already (--max-sessions %u); ask the client to try again "
                   "once one has ended", sessions, self->max_sessions);
      return FALSE;
    }
  if (self->max_pending > 0 && pending >= self->max_pending)
    {
      g_set_error (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_PENDING,
                   "%u answered sessions are still waiting for their client to connect "
                   "(--max-pending %u); ask the client to try again in a minute",
                   pending, self->max_pending);
      return FALSE;
    }
  if (!pt_signal_check_fresh (offer, now, &stale))
    {
      g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_STALE, stale->message);
      return FALSE;
    }

  /* Last: only an admitted offer is remembered. */
  switch (pt_offer_record_check (self->answered, offer))
    {
    case PT_OFFER_RECORD_NEW:
      return TRUE;
    case PT_OFFER_RECORD_REPEATED:
      g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_REPLAYED,
                           "this offer was already answered; ask the client for a new one");
      return FALSE;
    case PT_OFFER_RECORD_TOO_OLD:
    default:
      g_set_error_literal (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_TOO_OLD,
                           "this server has answered too many offers since this one was made "
                           "to tell whether it answered it already; ask the client for a new one");
      return FALSE;
    }
}

/* Rate limiting of failures */

static void
bucket_refill (Bucket *bucket,
               double  capacity,
               gint64  refill_us,
               gint64  now)
{
  if (bucket->updated == 0)
    bucket->tokens = capacity;
  else
    bucket->tokens = MIN (capacity, bucket->tokens + (double) (now - bucket->updated) / refill_us);
  bucket->updated = now;
}

gboolean
_pt_admission_count_failure (PtAdmission *self,
                             const char  *peer_id,
                             gint64       now_us,
                             char       **limited)
{
  Bucket *bucket = g_hash_table_lookup (self->buckets, peer_id);
  Bucket *which;
  gboolean may_answer;

  *limited = NULL;
  if (bucket == NULL)
    {
      /* Under a flood of fresh keys, the global bucket is what protects:
       * forget per-key history rather than grow without bound. */
      if (g_hash_table_size (self->buckets) >= MAX_BUCKETS)
        g_hash_table_remove_all (self->buckets);
      bucket = g_new0 (Bucket, 1);
      g_hash_table_insert (self->buckets, g_strdup (peer_id), bucket);
    }
  bucket_refill (bucket, PT_ADMISSION_FAILURES_PER_KEY, KEY_REFILL_US, now_us);
  bucket_refill (&self->global, PT_ADMISSION_FAILURES_GLOBAL, GLOBAL_REFILL_US, now_us);

  may_answer = bucket->tokens >= 1.0 && self->global.tokens >= 1.0;
  which = bucket->tokens < 1.0 ? bucket : &self->global;
  bucket->tokens = MAX (0.0, bucket->tokens - 1.0);
  self->global.tokens = MAX (0.0, self->global.tokens - 1.0);
  if (may_answer)
    return TRUE;

  if (which->last_logged == 0 || now_us - which->last_logged >= LIMIT_LOG_INTERVAL_US)
    {
      which->last_logged = now_us;
      *limited = g_strdup (which == bucket
                           ? "too many failed attempts from this key: they are not answered "
                             "for a while"
                           : "too many failed attempts from all clients: they are not answered "
                             "for a while (valid requests still are)");
    }
  return FALSE;
}

void
_pt_admission_prune (PtAdmission *self,
                     gint64       now_us)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->buckets);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Bucket *bucket = value;

      bucket_refill (bucket, PT_ADMISSION_FAILURES_PER_KEY, KEY_REFILL_US, now_us);
      if (bucket->tokens >= PT_ADMISSION_FAILURES_PER_KEY)
        g_hash_table_iter_remove (&iter);
    }
}
