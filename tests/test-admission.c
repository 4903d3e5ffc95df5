/* test-admission.c — who may open a session, for every way of pairing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt-admission-private.h"

#define NOW 1800000000

static PtSignal *
make_offer (guint   n,
            gint64  timestamp)
{
  PtSignal *offer = pt_signal_new (PT_SIGNAL_KIND_OFFER);

  memcpy (offer->session_id, &n, sizeof n);
  memcpy (offer->fingerprint, &n, sizeof n);
  offer->fingerprint[31] = 0x0f;
  offer->timestamp = timestamp;
  offer->ufrag = g_strdup_printf ("uf%u", n);
  offer->pwd = g_strdup_printf ("password-of-offer-%08u", n);
  return offer;
}

static PtPublicKey
make_peer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);

  g_assert_no_error (error);
  return *pt_secret_key_get_public (key);
}

/* Copy-paste has no identities: only counts, age and replays matter. */
static void
test_anonymous (void)
{
  g_autoptr(PtAdmission) admission = _pt_admission_new ();
  g_autoptr(PtSignal) a = make_offer (1, NOW);
  g_autoptr(PtSignal) b = make_offer (2, NOW);
  g_autoptr(PtSignal) old = make_offer (3, NOW - 24 * 3600);
  g_autoptr(GError) why = NULL;

  g_assert_true (_pt_admission_check (admission, NULL, NULL, a, 0, 0, NOW, &why));
  g_assert_no_error (why);
  g_assert_null (why);

  g_assert_false (_pt_admission_check (admission, NULL, NULL, a, 1, 0, NOW, &why));
  g_assert_error (why, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_REPLAYED);
  g_assert_nonnull (strstr (why->message, "already answered"));
  g_clear_error (&why);

  g_assert_false (_pt_admission_check (admission, NULL, NULL, old, 1, 0, NOW, &why));
  g_assert_error (why, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_STALE);
  g_assert_nonnull (strstr (why->message, "minutes old"));
  g_clear_error (&why);

  g_assert_true (_pt_admission_check (admission, NULL, NULL, b, 1, 0, NOW, &why));
  g_assert_no_error (why);

}

/* Over a limit: refused and not remembered, so the same offer passes once
 * there is room. */
static void
test_limits (void)
{
  g_autoptr(PtAdmission) admission = _pt_admission_new ();
  g_autoptr(PtSignal) a = make_offer (1, NOW);
  g_autoptr(GError) why = NULL;

  _pt_admission_set_max_sessions (admission, 3);
  _pt_admission_set_max_pending (admission, 2);
  g_assert_cmpuint (_pt_admission_get_max_sessions (admission), ==, 3);
  g_assert_cmpuint (_pt_admission_get_max_pending (admission), ==, 2);

  g_assert_false (_pt_admission_check (admission, NULL, NULL, a, 3, 0, NOW, &why));
  g_assert_error (why, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_BUSY);
  g_assert_nonnull (strstr (why->message, "--max-sessions 3"));
  g_clear_error (&why);
  g_assert_false (_pt_admission_check (admission, NULL, NULL, a, 2, 2, NOW, &why));
  g_assert_error (why, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_PENDING);
  g_assert_nonnull (strstr (why->message, "--max-pending 2"));
  g_clear_error (&why);
  g_assert_true (_pt_admission_check (admission, NULL, NULL, a, 2, 1, NOW, &why));
  g_assert_no_error (why);

  /* 0 is no limit. */
  _pt_admission_set_max_sessions (admission, 0);
  _pt_admission_set_max_pending (admission, 0);
  {
    g_autoptr(PtSignal) b = make_offer (2, NOW);

    g_assert_true (_pt_admission_check (admission, NULL, NULL, b, 100000, 100000, NOW, &why));
  g_assert_no_error (why);
  }
}

static void
test_keys_and_tokens (void)
{
  g_autoptr(PtAdmission) admission = _pt_admission_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) token = pt_token_generate (&error);
  g_autoptr(PtSecretString) other = pt_token_generate (&error);
  g_autoptr(GPtrArray) tokens = pt_token_list_parse (token, "test", &error);
  PtPublicKey friend = make_peer ();
  PtPublicKey stranger = make_peer ();
  g_autoptr(GError) why = NULL;
  guint n = 1;

  g_assert_no_error (error);
  _pt_admission_add_peer (admission, &friend);
  _pt_admission_add_peer (admission, &friend);
  g_assert_true (_pt_admission_is_listed (admission, &friend));
  g_assert_false (_pt_admission_is_listed (admission, &stranger));

#define OK (-1)
#define CHECK(peer, tok, code) G_STMT_START {                                        \
    g_autoptr(PtSignal) offer = make_offer (n++, NOW);                              \
    gboolean admitted;                                                               \
    g_clear_error (&why);                                                            \
    admitted = _pt_admission_check (admission, peer, tok, offer, 0, 0, NOW, &why);   \
    if ((code) == OK)                                                                \
      {                                                                              \
        g_assert_no_error (why);                                                     \
        g_assert_true (admitted);                                                    \
      }                                                                              \
    else                                                                             \
      {                                                                              \
        g_assert_error (why, PT_ADMISSION_ERROR, (int) (code));                      \
        g_assert_false (admitted);                                                   \
      }                                                                              \
  } G_STMT_END

  CHECK (&friend, NULL, OK);
  CHECK (&stranger, NULL, PT_ADMISSION_ERROR_UNAUTHORIZED);
  g_assert_nonnull (strstr (why->message, "--peer-npub"));

  _pt_admission_set_tokens (admission, tokens);
  CHECK (&friend, NULL, PT_ADMISSION_ERROR_NO_TOKEN);
  CHECK (&friend, other, PT_ADMISSION_ERROR_BAD_TOKEN);
  CHECK (&friend, "not a token", PT_ADMISSION_ERROR_BAD_TOKEN);
  CHECK (&friend, token, OK);
  CHECK (&stranger, token, PT_ADMISSION_ERROR_UNAUTHORIZED);

  _pt_admission_set_any_peer (admission, TRUE);
  CHECK (&stranger, token, OK);
  CHECK (&stranger, other, PT_ADMISSION_ERROR_BAD_TOKEN);
#undef CHECK
#undef OK
}

/* Five failures per key, thirty from everyone, are answered; then one a
 * minute says why the rest are not; refills come back with time. */
static void
test_failure_buckets (void)
{
  g_autoptr(PtAdmission) admission = _pt_admission_new ();
  gint64 t = (gint64) 1000 * G_USEC_PER_SEC;
  guint lines = 0;
  char *limited = NULL;

  for (guint i = 0; i < PT_ADMISSION_FAILURES_PER_KEY; i++)
    {
      g_assert_true (_pt_admission_count_failure (admission, "a", t, &limited));
      g_assert_null (limited);
    }
  for (guint i = 0; i < 10; i++)
    {
      if (!_pt_admission_count_failure (admission, "a", t, &limited) && limited != NULL)
        {
          g_assert_nonnull (strstr (limited, "this key"));
          lines++;
        }
      g_clear_pointer (&limited, g_free);
    }
  g_assert_cmpuint (lines, ==, 1);

  /* Another key still gets answers until everyone's bucket is empty. */
  g_assert_true (_pt_admission_count_failure (admission, "b", t, &limited));
  for (guint i = 0; i < 200; i++)
    {
      char id[16];

      g_snprintf (id, sizeof id, "k%u", i);
      _pt_admission_count_failure (admission, id, t, &limited);
      g_clear_pointer (&limited, g_free);
    }
  g_assert_false (_pt_admission_count_failure (admission, "fresh", t, &limited));
  g_clear_pointer (&limited, g_free);

  /* A minute later, the key has refilled (one per 12 s) and so has everyone's. */
  t += (gint64) 60 * G_USEC_PER_SEC;
  g_assert_true (_pt_admission_count_failure (admission, "a", t, &limited));
  g_assert_null (limited);
  _pt_admission_prune (admission, t + (gint64) 3600 * G_USEC_PER_SEC);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/admission/anonymous", test_anonymous);
  g_test_add_func ("/admission/limits", test_limits);
  g_test_add_func ("/admission/keys-and-tokens", test_keys_and_tokens);
  g_test_add_func ("/admission/failure-buckets", test_failure_buckets);
  return g_test_run ();
}
