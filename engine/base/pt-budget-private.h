/* pt-budget-private.h — the process's descriptor budget for forwarded connections
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every socket a peer can make pt open (a server's connection to a
 * forward's target, a server's UDP flow socket, a client's accepted local
 * connection) takes one unit first and gives it back when it is closed.
 * The budget is the open-files limit less a reserve for everything else
 * (ICE and relay sockets, GLib's wake-up descriptors, resolver threads,
 * files), so that a peer can never drive the process into EMFILE, where
 * GLib aborts.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PT_BUDGET_RESERVE_MIN   256    /* descriptors kept for everything else */
#define PT_BUDGET_RESERVE_SHARE 8      /* … or 1/8 of the limit, if larger */

/* What a tunnel's ICE agent, QUIC and helpers may open (sockets on every
 * local address, TURN, the fast path, the TLS bridge), taken at once when
 * it starts. */
#define PT_BUDGET_FDS_PER_TUNNEL 16

/* FALSE, taking nothing, when the budget is spent. Thread-safe. */
gboolean _pt_budget_take       (guint n);
void     _pt_budget_release    (guint n);
#define  _pt_budget_take_fd()    _pt_budget_take (1)
#define  _pt_budget_release_fd() _pt_budget_release (1)
guint    _pt_budget_get_fds_in_use (void);
guint    _pt_budget_get_fd_limit   (void);

/* Tests: compute the budget again from the current open-files limit. */
void     _pt_budget_reset      (void);

G_END_DECLS
