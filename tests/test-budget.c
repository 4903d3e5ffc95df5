/* test-budget.c — the descriptor budget for forwarded connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/resource.h>

#include "pt.h"
#include "pt-budget-private.h"

static void
set_open_files (rlim_t soft)
{
  struct rlimit limit;

  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &limit));
  if (limit.rlim_max != RLIM_INFINITY && soft > limit.rlim_max)
    soft = limit.rlim_max;
  limit.rlim_cur = soft;
  g_assert_no_errno (setrlimit (RLIMIT_NOFILE, &limit));
  _pt_budget_reset ();
}

/* Under the usual soft limit of 1,024 the reserve is 256 descriptors. */
static void
test_budget_reserve (void)
{
  guint taken = 0;

  set_open_files (1024);
  g_assert_cmpuint (_pt_budget_get_fd_limit (), ==, 1024 - PT_BUDGET_RESERVE_MIN);

  while (_pt_budget_take_fd ())
    taken++;
  g_assert_cmpuint (taken, ==, 1024 - PT_BUDGET_RESERVE_MIN);
  g_assert_cmpuint (_pt_budget_get_fds_in_use (), ==, taken);
  g_assert_false (_pt_budget_take_fd ());

  /* A unit given back can be taken again, once. */
  _pt_budget_release_fd ();
  g_assert_true (_pt_budget_take_fd ());
  g_assert_false (_pt_budget_take_fd ());

  while (taken-- > 0)
    _pt_budget_release_fd ();
  g_assert_cmpuint (_pt_budget_get_fds_in_use (), ==, 0);
}

/* Large limits keep an eighth; a tiny one leaves nothing to peers. */
static void
test_budget_share_of_limit (void)
{
  struct rlimit limit;

  g_assert_no_errno (getrlimit (RLIMIT_NOFILE, &limit));
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 8192)
    {
      g_test_skip ("SKIP: the hard open-files limit is below 8192");
      return;
    }
  set_open_files (8192);
  g_assert_cmpuint (_pt_budget_get_fd_limit (), ==, 8192 - 8192 / PT_BUDGET_RESERVE_SHARE);

  set_open_files (200);
  g_assert_cmpuint (_pt_budget_get_fd_limit (), ==, 0);
  g_assert_false (_pt_budget_take_fd ());
}

static void
offer_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  GError **error = user_data;
  g_autoptr(PtSignal) offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, error);

  g_assert_null (offer);
}

/* A tunnel that would not have its descriptors fails at once, saying why,
 * and takes nothing; one that has them gives them back when it goes. */
static void
test_budget_tunnel (void)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse ("tcp://127.0.0.1:9", NULL);
  g_autoptr(GError) error = NULL;
  PtTunnel *tunnel;

  set_open_files (PT_BUDGET_RESERVE_MIN + PT_BUDGET_FDS_PER_TUNNEL - 1);
  tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  g_assert_true (pt_tunnel_add_forward (tunnel, spec, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  pt_tunnel_create_offer_async (tunnel, NULL, offer_cb, &error);
  while (error == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "open-files limit"));
  g_assert_cmpint (pt_tunnel_get_state (tunnel), ==, PT_TUNNEL_STATE_FAILED);
  g_assert_cmpuint (_pt_budget_get_fds_in_use (), ==, 0);
  g_object_unref (tunnel);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/budget/reserve", test_budget_reserve);
  g_test_add_func ("/budget/share-of-limit", test_budget_share_of_limit);
  g_test_add_func ("/budget/tunnel", test_budget_tunnel);

  return g_test_run ();
}
