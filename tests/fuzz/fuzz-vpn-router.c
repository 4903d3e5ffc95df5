/* fuzz-vpn-router.c — the VPN server's routing decision, past the IP header
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Packets reach the router from clients (QUIC datagrams: any client may send
 * anything) and from the TUN device (any local program). One router with
 * three clients (10.77.0.0/24 and fd00:77::/64; one of them IPv4 only) takes
 * each input; what it decides must follow from the packet: a client's packet
 * with a source other than its own address is dropped as spoofed, a packet
 * goes to a client only when its destination is that client's address, and
 * never more bytes than the header says and the input holds.
 *
 * Input: one control byte, then the packet.
 *   bits 0-2  source: 0, 1, 2 = that client; 3 = the TUN device; else a
 *             session the router does not know
 *   bits 4-5  the client whose address bit 6 stamps as the destination
 *   bit 6     stamp that client's address as the destination
 *   bit 7     stamp the source client's own address as the source
 * (the stamps let the fuzzer reach the routing paths without knowing the
 * addresses, which the pool derives from the client ids).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pt.h"
#include "pt-vpn-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

#define N_CLIENTS 3

typedef struct
{
  gpointer    key;
  PtVpnConfig config;
} Client;

static PtVpnRouter *router;
static Client clients[N_CLIENTS];

static void
setup (void)
{
  static const struct { const char *id; guint8 flags; guint mtu; } spec[N_CLIENTS] = {
    { "client-a", PT_VPN_HELLO_WANTS_IPV6, 1400 },
    { "client-b", 0, 1400 },
    { "client-c", PT_VPN_HELLO_WANTS_IPV6, 1000 },   /* too small a path for IPv6 */
  };
  g_autoptr(GError) error = NULL;
  int pair[2];

  CHECK (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) == 0);
  close (pair[1]);
  router = _pt_vpn_router_new ("10.77.0.0/24", "fd00:77::/64", pair[0], 1400, &error);
  CHECK (router != NULL);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      clients[i].key = GSIZE_TO_POINTER (0x1000 + i * 0x10);
      CHECK (_pt_vpn_router_add_test_client (router, clients[i].key, spec[i].id, spec[i].flags,
                                             spec[i].mtu, &clients[i].config, &error));
    }
  CHECK (clients[0].config.has_v6 && !clients[1].config.has_v6 && !clients[2].config.has_v6);
}

static const guint8 *
client_address (const Client *client,
                guint         version)
{
  if (version == 4)
    return client->config.addr4;
  return client->config.has_v6 ? client->config.addr6 : NULL;
}

/* The client that owns @addr, or NULL. */
static const Client *
owner (guint         version,
       const guint8 *addr)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      const guint8 *mine = client_address (&clients[i], version);

      if (mine != NULL && memcmp (mine, addr, version == 4 ? 4 : 16) == 0)
        return &clients[i];
    }
  return NULL;
}

static void
stamp (guint8       *packet,
       gsize         len,
       gsize         offset4,
       gsize         offset6,
       const Client *client)
{
  guint version = len > 0 ? packet[0] >> 4 : 0;
  const guint8 *addr = version == 4 || version == 6 ? client_address (client, version) : NULL;

  if (addr == NULL)
    return;
  if (version == 4 && len >= 20)
    memcpy (packet + offset4, addr, 4);
  else if (version == 6 && len >= 40)
    memcpy (packet + offset6, addr, 16);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree guint8 *packet = NULL;
  const Client *from = NULL;
  const Client *dst_owner;
  PtSession *to = NULL;
  gsize len, out_len = 99;
  guint source;
  PtIpHeader ip;
  gboolean parses;
  PtVpnRoute route;

  if (size < 1)
    return 0;
  if (router == NULL)
    setup ();
  source = data[0] & 0x07;
  len = size - 1;
  packet = g_memdup2 (data + 1, len);   /* exactly @len bytes: ASan sees any over-read */
  if (source < N_CLIENTS)
    from = &clients[source];
  if ((data[0] & 0x80) && from != NULL)
    stamp (packet, len, 12, 8, from);
  if (data[0] & 0x40)
    stamp (packet, len, 16, 24, &clients[((data[0] >> 4) & 0x03) % N_CLIENTS]);

  route = _pt_vpn_router_route (router,
                                from != NULL ? from->key
                                : source == N_CLIENTS ? NULL : GSIZE_TO_POINTER (0x9999),
                                packet, len, &to, &out_len);
  CHECK (strcmp (_pt_vpn_route_to_string (route), "invalid") != 0);
  parses = _pt_ip_header_parse (packet, len, &ip);

  switch (route)
    {
    case PT_VPN_ROUTE_DROP:
      CHECK (!parses || (from == NULL && source != N_CLIENTS));
      CHECK (to == NULL && out_len == 0);
      return 0;

    case PT_VPN_ROUTE_SPOOFED:
      {
        const guint8 *mine;

        CHECK (parses && from != NULL);
        mine = client_address (from, ip.version);
        CHECK (mine == NULL || memcmp (mine, ip.src, ip.version == 4 ? 4 : 16) != 0);
        CHECK (to == NULL && out_len == 0);
      }
      return 0;

    case PT_VPN_ROUTE_UNROUTABLE:
      CHECK (parses && from == NULL && source == N_CLIENTS);
      CHECK (owner (ip.version, ip.dst) == NULL);
      CHECK (to == NULL && out_len == 0);
      return 0;

    case PT_VPN_ROUTE_TUN:
      CHECK (parses && from != NULL && client_address (from, ip.version) != NULL);
      CHECK (memcmp (client_address (from, ip.version), ip.src, ip.version == 4 ? 4 : 16) == 0);
      dst_owner = owner (ip.version, ip.dst);
      CHECK (dst_owner == NULL || dst_owner == from);
      CHECK (to == NULL);
      break;

    case PT_VPN_ROUTE_CLIENT:
      CHECK (parses);
      dst_owner = owner (ip.version, ip.dst);
      CHECK (dst_owner != NULL && dst_owner != from && (gpointer) to == dst_owner->key);
      if (from != NULL)
        CHECK (client_address (from, ip.version) != NULL &&
               memcmp (client_address (from, ip.version), ip.src,
                       ip.version == 4 ? 4 : 16) == 0);
      else
        CHECK (source == N_CLIENTS);
      break;
    }

  CHECK (out_len == ip.total_len && out_len <= len);
  /* Too big for a small path: the ICMP error must itself be a good packet. */
  if (out_len > 1280)
    {
      static const guint8 server4[4] = { 10, 77, 0, 1 };
      static const guint8 server6[16] = { 0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
      g_autoptr(GBytes) icmp = _pt_ip_make_too_big (packet, out_len,
                                                    ip.version == 4 ? server4 : server6, 1280);
      PtIpHeader reply;

      if (icmp != NULL)
        {
          gsize icmp_len;
          const guint8 *p = g_bytes_get_data (icmp, &icmp_len);

          CHECK (_pt_ip_header_parse (p, icmp_len, &reply));
          CHECK (memcmp (reply.dst, ip.src, ip.version == 4 ? 4 : 16) == 0);
        }
    }
  return 0;
}
