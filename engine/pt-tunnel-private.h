/* pt-tunnel-private.h — what the Nostr client needs from PtTunnel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

/* Client: leave the listeners open when the tunnel ends, for a successor. */
void      _pt_tunnel_set_keep_listeners (PtTunnel *self,
                                         gboolean  keep);
/* Client: a new tunnel with the same ICE configuration, forwards and (open)
 * listeners as @previous, which keeps its listeners open as well. */
PtTunnel *_pt_tunnel_new_successor      (PtTunnel *previous);
/* Client: closes the listeners now. */
void      _pt_tunnel_close_listeners    (PtTunnel *self);

G_END_DECLS
