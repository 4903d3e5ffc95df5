/* pt-tunnel.h — one tunnel between two peers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A client tunnel listens locally for each forward and carries what arrives
 * to the server, which connects to the forward's source if its allow-list
 * permits. State, path kind and counters are GObject properties (notify on
 * change) so a UI can bind to them.
 *
 * Client:  add_forward()… → create_offer_async() → (deliver offer, get answer)
 *          → set_answer() → state walks CHECKING, HANDSHAKE, UP; "forward-ready" per listener.
 * Server:  set_policy() → accept_offer_async() → (deliver answer) → same states.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-allow-list.h"
#include "pt-server-policy.h"
#include "pt-ice-config.h"
#include "pt-signal.h"
#include "pt-types.h"

G_BEGIN_DECLS

#define PT_TYPE_TUNNEL (pt_tunnel_get_type ())
G_DECLARE_FINAL_TYPE (PtTunnel, pt_tunnel, PT, TUNNEL, GObject)

PtTunnel      *pt_tunnel_new                 (PtTunnelRole          role,
                                              PtIceConfig          *ice_config);

PtTunnelRole   pt_tunnel_get_role            (PtTunnel             *self);
PtTunnelState  pt_tunnel_get_state           (PtTunnel             *self);
PtPathKind     pt_tunnel_get_path_kind       (PtTunnel             *self);
/* What carries the packets: "libnice" or "fast (gso+gro)" and the like. */
const char    *pt_tunnel_get_data_path       (PtTunnel             *self);
guint64        pt_tunnel_get_bytes_sent      (PtTunnel             *self);
guint64        pt_tunnel_get_bytes_received  (PtTunnel             *self);
guint          pt_tunnel_get_active_connections (PtTunnel          *self);
/* TCP connections and UDP flows refused because a limit was reached
 * (connections at once, UDP flows, descriptors). */
guint64        pt_tunnel_get_refused_connections (PtTunnel         *self);
/* Why the tunnel failed or closed, or NULL. */
const GError  *pt_tunnel_get_error           (PtTunnel             *self);

/* Client: requests @spec from the server and listens on @listen_address
 * ("127.0.0.1:2222", "[::1]:0"); opens the listener now so a busy port fails early. */
gboolean       pt_tunnel_add_forward         (PtTunnel             *self,
                                              const PtForwardSpec  *spec,
                                              const char           *listen_address,
                                              GError              **error);
/* Client: the bound listener addresses, in add_forward() order ("127.0.0.1:40211"). */
GPtrArray     *pt_tunnel_dup_listen_addresses (PtTunnel            *self);

/* Server: what clients may reach (a reference is kept). Unset: nothing. */
void           pt_tunnel_set_policy          (PtTunnel             *self,
                                              PtServerPolicy       *policy);

/* Client: gathers candidates and returns the offer. */
void           pt_tunnel_create_offer_async  (PtTunnel             *self,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
PtSignal      *pt_tunnel_create_offer_finish (PtTunnel             *self,
                                              GAsyncResult         *result,
                                              GError              **error);
/* Client: takes the server's answer (checked for session and freshness) and connects. */
gboolean       pt_tunnel_set_answer          (PtTunnel             *self,
                                              const PtSignal       *answer,
                                              GError              **error);

/* Server: checks the offer, gathers, returns the answer and starts connecting. */
void           pt_tunnel_accept_offer_async  (PtTunnel             *self,
                                              const PtSignal       *offer,
                                              GCancellable         *cancellable,
                                              GAsyncReadyCallback   callback,
                                              gpointer              user_data);
PtSignal      *pt_tunnel_accept_offer_finish (PtTunnel             *self,
                                              GAsyncResult         *result,
                                              GError              **error);

/* ---------------------------------------------------------------------- */
/* VPN mode */

/* What a VPN server assigned to a client. */
typedef struct
{
  char  *address4;    /* "10.77.0.2/24" */
  char  *address6;    /* "fd00:77::2/64", or NULL */
  char  *server4;     /* "10.77.0.1" */
  char  *server6;     /* or NULL */
  guint  mtu;
  char **dns;         /* resolvers pushed by the server (may be empty) */
} PtVpnSettings;

void           pt_vpn_settings_free      (PtVpnSettings       *settings);

/* A VPN server's router: one TUN device (@tun_fd, taken; made with the
 * first address of @network4, and of @network6 if given) shared by the
 * clients of every tunnel it is set on. Each client gets the next free
 * address, kept per client identity. @dns: resolvers pushed to clients. */
typedef struct _PtVpnRouter PtVpnRouter;

PtVpnRouter   *pt_vpn_router_new         (const char          *network4,
                                          const char          *network6,
                                          int                  tun_fd,
                                          guint                mtu,
                                          const char * const  *dns,
                                          GError             **error);
PtVpnRouter   *pt_vpn_router_ref         (PtVpnRouter         *router);
void           pt_vpn_router_unref       (PtVpnRouter         *router);
/* Packets dropped because a client used a source address not its own. */
guint64        pt_vpn_router_get_spoofed (PtVpnRouter         *router);

/* Server: the client may ask for VPN mode; @client_id keeps its address. */
void           pt_tunnel_set_vpn_router  (PtTunnel            *self,
                                          PtVpnRouter         *router,
                                          const char          *client_id);
/* Client: ask for VPN mode instead of forwards (before create_offer). The
 * tunnel emits "vpn-config" when the server assigned addresses: make the
 * TUN device pt_tunnel_dup_vpn_settings() describes and attach it (the fd
 * is taken) to bring the tunnel up. */
void           pt_tunnel_set_vpn_client  (PtTunnel            *self,
                                          gboolean             want_ipv6);
PtVpnSettings *pt_tunnel_dup_vpn_settings (PtTunnel           *self);
gboolean       pt_tunnel_attach_tun      (PtTunnel            *self,
                                          int                  tun_fd,
                                          GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtVpnSettings, pt_vpn_settings_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtVpnRouter, pt_vpn_router_unref)

/* Closes cleanly (tells the peer); state becomes CLOSED. */
void           pt_tunnel_close               (PtTunnel             *self);

/* Closed tunnels release TURN allocations in the background: before exiting,
 * a process runs the thread-default main context until this returns FALSE
 * (or a short deadline passes). */
gboolean       pt_tunnel_is_anything_closing (void);

G_END_DECLS
