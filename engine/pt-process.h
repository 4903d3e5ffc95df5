/* pt-process.h — process-wide settings pt and the app make at start
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Raises the soft limit on open descriptors to the hard limit: every TCP
 * connection and UDP flow through a tunnel holds one. Says what it did with
 * g_debug; a failure only costs headroom. */
void pt_raise_fd_limit     (void);
/* Makes the process non-dumpable: no core dump, no ptrace by other processes
 * of the same user, so a crash never writes the long-term key to disk.
 * (/proc/PID/fd is then readable only by root.) PT_DUMPABLE=1 in the
 * environment keeps it dumpable, for debugging. */
void pt_disable_core_dumps (void);
/* Keeps the C library's heap from shrinking and regrowing with every batch
 * of packets (glibc: a 4 MiB top pad). Process-wide; call once at start. */
void pt_tune_allocator     (void);

G_END_DECLS
