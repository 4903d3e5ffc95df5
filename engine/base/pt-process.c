/* pt-process.c — process-wide settings pt and the app make at start
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-process"

#include "config.h"

#include <errno.h>
#ifdef __GLIBC__
# include <malloc.h>
#endif
#include <sys/resource.h>
#ifdef __linux__
# include <sys/prctl.h>
#endif

#include "pt.h"

void
pt_raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    {
      g_debug ("cannot read the open-files limit: %s", g_strerror (errno));
      return;
    }
  if (limit.rlim_cur == limit.rlim_max)
    {
      g_debug ("open-files limit already at its maximum (%" G_GUINT64_FORMAT ")",
               (guint64) limit.rlim_cur);
      return;
    }

  {
    rlim_t before = limit.rlim_cur;

    limit.rlim_cur = limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
      g_debug ("cannot raise the open-files limit from %" G_GUINT64_FORMAT ": %s",
               (guint64) before, g_strerror (errno));
    else if (limit.rlim_max == RLIM_INFINITY)
      g_debug ("open-files limit raised from %" G_GUINT64_FORMAT " to unlimited",
               (guint64) before);
    else
      g_debug ("open-files limit raised from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
               (guint64) before, (guint64) limit.rlim_max);
  }
}

void
pt_disable_core_dumps (void)
{
  /* For debugging (gdb -p, a core file) and for tests that list the
   * process's descriptors as the same, unprivileged user. */
  if (g_strcmp0 (g_getenv ("PT_DUMPABLE"), "1") == 0)
    {
      g_debug ("PT_DUMPABLE=1: the process stays dumpable");
      return;
    }

#ifdef __linux__
  if (prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    g_debug ("cannot make the process non-dumpable: %s", g_strerror (errno));
#else
  struct rlimit none = { 0, 0 };

  if (setrlimit (RLIMIT_CORE, &none) != 0)
    g_debug ("cannot turn core dumps off: %s", g_strerror (errno));
#endif
}

void
pt_tune_allocator (void)
{
#ifdef __GLIBC__
  /* The data path allocates and frees 64 KiB chunks all the time (socket
   * reads held until acknowledged, received stream data queued for a
   * socket).  With glibc's defaults the top of the heap is given back to
   * the kernel after nearly every batch and faulted in again on the next:
   * one brk() pair and a few page faults per chunk.  Growing the heap in
   * 4 MiB steps, and keeping that much when trimming, ends the churn
   * (8 streams across a veth: server CPU per byte -25 to -30 %). */
  if (mallopt (M_TOP_PAD, 4 * 1024 * 1024) != 1)
    g_debug ("cannot set the allocator's top pad");
#endif
}
