/* pt-budget.c — the process's descriptor budget for forwarded connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-budget"

#include "config.h"

#include <sys/resource.h>

#include "pt-budget-private.h"

#define PT_BUDGET_UNLIMITED_CAP (1u << 20)

static gint fd_limit = -1;     /* computed on first use */
static gint fds_in_use;

static guint
budget_compute (void)
{
  struct rlimit limit;
  guint64 open_files = 1024;
  guint64 reserve;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    open_files = limit.rlim_cur == RLIM_INFINITY ? PT_BUDGET_UNLIMITED_CAP
                                                 : MIN (limit.rlim_cur, PT_BUDGET_UNLIMITED_CAP);

  reserve = MAX ((guint64) PT_BUDGET_RESERVE_MIN, open_files / PT_BUDGET_RESERVE_SHARE);
  if (open_files <= reserve)
    return 0;

  g_debug ("%" G_GUINT64_FORMAT " descriptors for forwarded connections "
           "(open-files limit %" G_GUINT64_FORMAT ")",
           open_files - reserve, open_files);
  return (guint) (open_files - reserve);
}

guint
_pt_budget_get_fd_limit (void)
{
  gint limit = g_atomic_int_get (&fd_limit);

  if (limit < 0)
    {
      limit = (gint) budget_compute ();
      /* Two threads computing at once get the same answer. */
      g_atomic_int_set (&fd_limit, limit);
    }
  return (guint) limit;
}

gboolean
_pt_budget_take (guint n)
{
  gint limit = (gint) _pt_budget_get_fd_limit ();

  g_return_val_if_fail (n <= G_MAXINT / 2, FALSE);

  for (;;)
    {
      gint used = g_atomic_int_get (&fds_in_use);

      if (used > limit - (gint) n)
        return FALSE;
      if (g_atomic_int_compare_and_exchange (&fds_in_use, used, used + (gint) n))
        return TRUE;
    }
}

void
_pt_budget_release (guint n)
{
  gint before = g_atomic_int_add (&fds_in_use, -(gint) n);

  g_return_if_fail (before >= (gint) n);
}

guint
_pt_budget_get_fds_in_use (void)
{
  return (guint) g_atomic_int_get (&fds_in_use);
}

void
_pt_budget_reset (void)
{
  g_atomic_int_set (&fd_limit, -1);
}
