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

/* VPN mode, as the engine uses it (pt-tunnel.h has the public API). */

/* Client: ask for VPN mode (PT_VPN_HELLO_* flags) instead of forwards. The
 * tunnel emits "vpn-config" once the server assigned addresses; then attach
 * the TUN device so configured to bring the tunnel up. */
void      _pt_tunnel_set_vpn_client     (PtTunnel    *self,
                                         guint8       flags);
/* The configuration the server sent (a PtVpnConfig), or NULL before. */
gconstpointer _pt_tunnel_get_vpn_config (PtTunnel    *self);
gboolean  _pt_tunnel_attach_tun         (PtTunnel    *self,
                                         int          tun_fd,
                                         GError     **error);
/* Server: clients may ask this router for VPN mode; @client_id keeps a
 * client's address across sessions. */
void      _pt_tunnel_set_vpn_router     (PtTunnel    *self,
                                         PtVpnRouter *router,
                                         const char  *client_id);

/* The layers below, for tests: borrowed, NULL before they exist. */
gpointer  _pt_tunnel_get_ice            (PtTunnel    *self);   /* PtIce */
gpointer  _pt_tunnel_get_quic           (PtTunnel    *self);   /* PtQuicConn */

G_END_DECLS
