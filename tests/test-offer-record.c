/* test-offer-record.c — the manual server's record of answered offers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

static PtSignal *
make_offer (guint   n,
            gint64  timestamp)
{
  PtSignal *offer = pt_signal_new (PT_SIGNAL_KIND_OFFER);

  memcpy (offer->session_id, &n, sizeof n);
  memcpy (offer->fingerprint, &n, sizeof n);
  offer->fingerprint[31] = 0xf0;
  offer->timestamp = timestamp;
  offer->ufrag = g_strdup_printf ("uf%u", n);
  offer->pwd = g_strdup_printf ("password-of-offer-%08u", n);
  return offer;
}

static void
test_repeat (void)
{
  g_autoptr(PtOfferRecord) record = pt_offer_record_new (16);
  g_autoptr(PtSignal) a = make_offer (1, 1000);
  g_autoptr(PtSignal) b = make_offer (2, 1000);

  g_assert_cmpint (pt_offer_record_check (record, a), ==, PT_OFFER_RECORD_NEW);
  g_assert_cmpint (pt_offer_record_check (record, a), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, a), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, b), ==, PT_OFFER_RECORD_NEW);
  g_assert_cmpuint (pt_offer_record_get_size (record), ==, 2);
}

/* Changing the date, the candidates or one of the unique parts is not enough. */
static void
test_edited_repeat (void)
{
  g_autoptr(PtOfferRecord) record = pt_offer_record_new (16);
  g_autoptr(PtSignal) a = make_offer (1, 1000);
  g_autoptr(PtSignal) new_date = make_offer (1, 1001);
  g_autoptr(PtSignal) new_session = make_offer (1, 1000);
  g_autoptr(PtSignal) new_ice = make_offer (1, 1000);
  g_autoptr(PtSignal) new_fingerprint = make_offer (1, 1000);
  g_autoptr(PtSignal) fresh = make_offer (7, 1000);

  new_session->session_id[7] ^= 1;
  g_free (new_ice->ufrag);
  new_ice->ufrag = g_strdup ("other");
  new_fingerprint->fingerprint[0] ^= 1;

  g_assert_cmpint (pt_offer_record_check (record, a), ==, PT_OFFER_RECORD_NEW);
  g_assert_cmpint (pt_offer_record_check (record, new_date), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, new_session), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, new_ice), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, new_fingerprint), ==, PT_OFFER_RECORD_REPEATED);
  g_assert_cmpint (pt_offer_record_check (record, fresh), ==, PT_OFFER_RECORD_NEW);
}

/* Memory stays bounded; what fell out of the ring is refused, never answered again. */
static void
test_bounded (void)
{
  g_autoptr(PtOfferRecord) record = pt_offer_record_new (4);

  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(PtSignal) offer = make_offer (i, 1000 + i);

      g_assert_cmpint (pt_offer_record_check (record, offer), ==, PT_OFFER_RECORD_NEW);
      g_assert_cmpuint (pt_offer_record_get_size (record), ==, MIN (i + 1, 4));
    }

  /* 0..5 were dropped (the newest of them made at 1005); 6..9 are still known. */
  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(PtSignal) offer = make_offer (i, 1000 + i);

      g_assert_cmpint (pt_offer_record_check (record, offer), ==,
                       i < 6 ? PT_OFFER_RECORD_TOO_OLD : PT_OFFER_RECORD_REPEATED);
    }

  /* A new offer made before the horizon cannot be told apart: refused too. */
  {
    g_autoptr(PtSignal) late = make_offer (100, 1005);
    g_autoptr(PtSignal) newer = make_offer (101, 1006);

    g_assert_cmpint (pt_offer_record_check (record, late), ==, PT_OFFER_RECORD_TOO_OLD);
    g_assert_cmpint (pt_offer_record_check (record, newer), ==, PT_OFFER_RECORD_NEW);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/offer-record/repeat", test_repeat);
  g_test_add_func ("/offer-record/edited-repeat", test_edited_repeat);
  g_test_add_func ("/offer-record/bounded", test_bounded);

  return g_test_run ();
}
