/* pt-vpn-private.h — VPN mode's sans-I/O parts: IP packets and address pools
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * IP packets travel between the TUN device and QUIC DATAGRAM frames. What is
 * read here comes from outside (a peer, or the local TUN device that any
 * local program may write to): every length is checked before use.
 */
#pragma once

#include <gio/gio.h>

#include "pt.h"
#include "pt-session-private.h"

G_BEGIN_DECLS

/* How much of the offending packet an ICMP error quotes: what fits in the
 * smallest datagram every host accepts (limits in pt-vpn-limits.h). */
#define PT_VPN_ICMP_QUOTE_V4  (PT_VPN_MTU_MIN_IPV4 - 20 - 8)
#define PT_VPN_ICMP_QUOTE_V6  (PT_VPN_MTU_MIN_IPV6 - 40 - 8)

typedef struct
{
  guint8   version;          /* 4 or 6 */
  guint8   src[16];          /* first 4 bytes for IPv4 */
  guint8   dst[16];
  gsize    total_len;        /* as the header says; <= the buffer's length */
  guint8   protocol;         /* IPv4 protocol, or IPv6 next header */
} PtIpHeader;

/* FALSE when @data is not an IPv4/IPv6 packet whose header and declared
 * length fit in @len bytes. */
gboolean  _pt_ip_header_parse        (const guint8 *data,
                                      gsize         len,
                                      PtIpHeader   *header);

/* The ICMP error a router sends for a packet too big for the next hop
 * (IPv4: destination unreachable / fragmentation needed, IPv6: packet too
 * big), from @router to the packet's source, quoting its start; NULL when no
 * error may be sent (IPv4 without DF, ICMP errors, non-first fragments,
 * multicast or unspecified sources). */
GBytes   *_pt_ip_make_too_big        (const guint8 *packet,
                                      gsize         len,
                                      const guint8 *router,   /* 4 or 16 bytes, as the packet */
                                      guint         mtu);

/* The Internet checksum (RFC 1071) of @data, continuing from @sum. */
guint32   _pt_ip_checksum_add        (guint32       sum,
                                      const guint8 *data,
                                      gsize         len);
guint16   _pt_ip_checksum_fold       (guint32       sum);

/* ---------------------------------------------------------------------- */
/* Address pool: the server keeps the network's first host address and hands
 * each client the next free one, keyed by the client's identity so that a
 * client that comes back gets its address again. */

/* pt-vpn-gso.c: TCP super-packets of a TUN device with IFF_VNET_HDR. The
 * header is struct virtio_net_hdr (10 bytes), in the machine's byte order. */
#define PT_VNET_HDR_LEN          10
#define PT_VNET_F_NEEDS_CSUM     1
#define PT_VNET_GSO_NONE         0
#define PT_VNET_GSO_TCPV4        1
#define PT_VNET_GSO_TCPV6        4
#define PT_VNET_GSO_ECN          0x80
#define PT_VNET_GRO_MAX_SEGMENTS 64

typedef struct
{
  guint8  flags;
  guint8  gso_type;
  guint16 hdr_len;
  guint16 gso_size;
  guint16 csum_start;
  guint16 csum_offset;
} PtVnetHdr;

G_STATIC_ASSERT (sizeof (PtVnetHdr) == PT_VNET_HDR_LEN);

typedef void (*PtVpnPacketFunc) (const guint8 *packet,
                                 gsize         len,
                                 gpointer      data);

guint64   _pt_vpn_csum_add           (guint64       sum,
                                      const guint8 *data,
                                      gsize         len);
/* Cuts what one read gave (@buf: header, packet) into IP packets of at most
 * @scratch_len bytes with their checksums done, each given to @func (which
 * may not keep it); returns how many, or -1 for a packet that does not add
 * up (some may have been given already). */
int       _pt_vpn_gso_split          (const guint8     *buf,
                                      gsize             len,
                                      guint8           *scratch,
                                      gsize             scratch_len,
                                      PtVpnPacketFunc   func,
                                      gpointer          data);

typedef struct
{
  PtVpnPacketFunc write;       /* gets header + packet */
  gpointer        data;
  gsize           len;         /* of the packet held, headers included */
  guint           n;           /* segments in it; 0: nothing held */
  gboolean        closed;      /* nothing may follow */
  guint8          version;
  guint8          psh;
  guint16         mss;
  gsize           ip_len;
  gsize           tcp_len;
  guint32         next_seq;
  guint8          buf[PT_VNET_HDR_LEN + 65535];
} PtVpnGro;

void      _pt_vpn_gro_init           (PtVpnGro        *gro,
                                      PtVpnPacketFunc  write,
                                      gpointer         data);
/* Joins @packet to the one held when it continues that TCP flow; else
 * writes what is held and holds @packet (or writes it too). */
void      _pt_vpn_gro_add            (PtVpnGro        *gro,
                                      const guint8    *packet,
                                      gsize            len);
void      _pt_vpn_gro_flush          (PtVpnGro        *gro);

typedef struct _PtVpnPool PtVpnPool;

/* @cidr: an IPv4 network of prefix 8..30 or an IPv6 network of prefix
 * 64..126, inside the private ranges (10/8, 172.16/12, 192.168/16,
 * 100.64/10, fc00::/7). */
PtVpnPool    *_pt_vpn_pool_new           (const char   *cidr,
                                          GError      **error);
void          _pt_vpn_pool_free          (PtVpnPool    *pool);
guint         _pt_vpn_pool_get_prefix    (PtVpnPool    *pool);
GInetAddress *_pt_vpn_pool_get_server    (PtVpnPool    *pool);
/* The address kept for @client_id, or the next free one (NULL with
 * PT_TUNNEL_ERROR_INVALID when the network is full). Marks it in use. */
GInetAddress *_pt_vpn_pool_acquire       (PtVpnPool    *pool,
                                          const char   *client_id,
                                          GError      **error);
/* The client left: its address stays reserved for it, but may be given to
 * another client once no other address is free. */
void          _pt_vpn_pool_release       (PtVpnPool    *pool,
                                          const char   *client_id);
/* Whether @address belongs to the network (host part included). */
gboolean      _pt_vpn_pool_contains      (PtVpnPool    *pool,
                                          GInetAddress *address);

/* ---------------------------------------------------------------------- */
/* Packet paths (pt-vpn.c) */

typedef struct _PtVpnLink   PtVpnLink;

/* Server: routes between one TUN device (@tun_fd, taken) and the sessions
 * attached to it; @network4 gives the addresses (the server has the first),
 * @network6 (or NULL) IPv6 ones; @mtu is the TUN device's. */
PtVpnRouter  *_pt_vpn_router_new         (const char   *network4,
                                          const char   *network6,
                                          int           tun_fd,
                                          guint         mtu,
                                          GError      **error);
PtVpnRouter  *_pt_vpn_router_ref         (PtVpnRouter  *router);
void          _pt_vpn_router_unref       (PtVpnRouter  *router);
/* Lets @session's client ask for VPN mode; @client_id keeps its address. */
void          _pt_vpn_router_attach      (PtVpnRouter  *router,
                                          PtSession    *session,
                                          const char   *client_id);
/* Resolvers pushed to clients (IP address strings; NULL: none). */
gboolean      _pt_vpn_router_set_dns     (PtVpnRouter         *router,
                                          const char * const  *dns,
                                          GError             **error);
/* The public form of what a server assigned. */
PtVpnSettings *_pt_vpn_settings_new      (const PtVpnConfig   *config);
/* Packets dropped because their source was not the client's address. */
guint64       _pt_vpn_router_get_spoofed (PtVpnRouter  *router);

/* The router's decision for one packet, sans I/O (the fuzz target and the
 * unit tests drive it without sessions or a TUN device). */
typedef enum
{
  PT_VPN_ROUTE_DROP,        /* not an IP packet, or from an unknown client */
  PT_VPN_ROUTE_SPOOFED,     /* from a client, with another source address (counted) */
  PT_VPN_ROUTE_UNROUTABLE,  /* from the TUN device, to no client (counted) */
  PT_VPN_ROUTE_TUN,         /* from a client, into the TUN device */
  PT_VPN_ROUTE_CLIENT,      /* to the client whose session is *to */
} PtVpnRoute;

const char   *_pt_vpn_route_to_string    (PtVpnRoute    route);
/* Where @packet (@len bytes) goes that came from the client attached with
 * @from (NULL: from the TUN device). *@to gets the destination session for
 * PT_VPN_ROUTE_CLIENT; *@out_len the bytes to send (the IP header's length,
 * <= @len) for CLIENT and TUN, else 0. */
PtVpnRoute    _pt_vpn_router_route       (PtVpnRouter   *router,
                                          PtSession     *from,
                                          const guint8  *packet,
                                          gsize          len,
                                          PtSession    **to,
                                          gsize         *out_len);
/* Tests and fuzzing: a client known by @key (never dereferenced), given its
 * addresses as a VPN_HELLO would (@flags: PT_VPN_HELLO_*, @mtu the path's),
 * and removed again (remove every such client before the last unref). */
gboolean      _pt_vpn_router_add_test_client    (PtVpnRouter  *router,
                                                 gpointer      key,
                                                 const char   *client_id,
                                                 guint8        flags,
                                                 guint         mtu,
                                                 PtVpnConfig  *config,
                                                 GError      **error);
void          _pt_vpn_router_remove_test_client (PtVpnRouter  *router,
                                                 gpointer      key);

/* Client: joins @session (configured: "vpn-config" came) and its TUN device
 * (@tun_fd, taken), and brings the session up. */
PtVpnLink    *_pt_vpn_link_new           (PtSession    *session,
                                          int           tun_fd,
                                          GError      **error);
void          _pt_vpn_link_free          (PtVpnLink    *link);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtVpnPool, _pt_vpn_pool_free)

G_END_DECLS
