/* pt-vpn-packet.c — IP headers and ICMP "too big" errors for VPN mode
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Only what the VPN needs: where a packet comes from and goes to, how long it
 * says it is, and the ICMP error that tells a sender to use smaller packets
 * (RFC 792/1191 for IPv4, RFC 4443/8201 for IPv6), so that TCP inside the
 * tunnel adapts to the path instead of stalling.
 */
#define G_LOG_DOMAIN "pt-vpn"

#include "config.h"

#include <string.h>

#include "pt-vpn-private.h"

#define IPV4_HEADER_LEN 20
#define IPV6_HEADER_LEN 40
#define ICMP_HEADER_LEN 8
#define PROTO_ICMP      1
#define PROTO_ICMPV6    58

static guint16
get_u16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static void
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

gboolean
_pt_ip_header_parse (const guint8 *data,
                     gsize         len,
                     PtIpHeader   *header)
{
  memset (header, 0, sizeof *header);
  if (len < 1)
    return FALSE;

  switch (data[0] >> 4)
    {
    case 4:
      {
        gsize ihl;

        if (len < IPV4_HEADER_LEN)
          return FALSE;
        ihl = (gsize) (data[0] & 0x0f) * 4;
        header->total_len = get_u16 (data + 2);
        if (ihl < IPV4_HEADER_LEN || ihl > len || header->total_len < ihl || header->total_len > len)
          return FALSE;
        header->version = 4;
        header->protocol = data[9];
        memcpy (header->src, data + 12, 4);
        memcpy (header->dst, data + 16, 4);
        return TRUE;
      }

    case 6:
      if (len < IPV6_HEADER_LEN)
        return FALSE;
      header->total_len = IPV6_HEADER_LEN + (gsize) get_u16 (data + 4);
      if (header->total_len > len)
        return FALSE;
      header->version = 6;
      header->protocol = data[6];
      memcpy (header->src, data + 8, 16);
      memcpy (header->dst, data + 24, 16);
      return TRUE;

    default:
      return FALSE;
    }
}

guint32
_pt_ip_checksum_add (guint32       sum,
                     const guint8 *data,
                     gsize         len)
{
  gsize i;

  for (i = 0; i + 1 < len; i += 2)
    sum += (guint32) get_u16 (data + i);
  if (i < len)
    sum += (guint32) data[i] << 8;
  return sum;
}

guint16
_pt_ip_checksum_fold (guint32 sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) ~sum;
}

static gboolean
is_zero (const guint8 *p,
         gsize         len)
{
  for (gsize i = 0; i < len; i++)
    if (p[i] != 0)
      return FALSE;
  return TRUE;
}

static GBytes *
too_big_v4 (const guint8     *packet,
            const PtIpHeader *ip,
            const guint8     *router,
            guint             mtu)
{
  guint16 frag = get_u16 (packet + 6);
  gsize ihl = (gsize) (packet[0] & 0x0f) * 4;
  gsize quote = MIN (ip->total_len, (gsize) PT_VPN_ICMP_QUOTE_V4);
  gsize out_len = IPV4_HEADER_LEN + ICMP_HEADER_LEN + quote;
  guint8 *out;

  /* Only for packets that asked not to be fragmented, first fragments only,
   * never about ICMP errors, never to nowhere, multicast or broadcast. */
  if (!(frag & 0x4000) || (frag & 0x1fff) != 0)
    return NULL;
  if (ip->protocol == PROTO_ICMP && ip->total_len > ihl &&
      (packet[ihl] == 3 || packet[ihl] == 4 || packet[ihl] == 5 || packet[ihl] == 11 ||
       packet[ihl] == 12))
    return NULL;
  if (is_zero (ip->src, 4) || (ip->src[0] & 0xf0) == 0xe0 || ip->src[0] == 0xff)
    return NULL;

  out = g_malloc0 (out_len);
  out[0] = 0x45;
  put_u16 (out + 2, (guint16) out_len);
  out[8] = 64;                          /* TTL */
  out[9] = PROTO_ICMP;
  memcpy (out + 12, router, 4);
  memcpy (out + 16, ip->src, 4);
  put_u16 (out + 10, _pt_ip_checksum_fold (_pt_ip_checksum_add (0, out, IPV4_HEADER_LEN)));

  out[20] = 3;                          /* destination unreachable */
  out[21] = 4;                          /* fragmentation needed and DF set */
  put_u16 (out + 26, (guint16) MIN (mtu, G_MAXUINT16));
  memcpy (out + 28, packet, quote);
  put_u16 (out + 22, _pt_ip_checksum_fold (_pt_ip_checksum_add (0, out + 20, out_len - 20)));
  return g_bytes_new_take (out, out_len);
}

static GBytes *
too_big_v6 (const guint8     *packet,
            const PtIpHeader *ip,
            const guint8     *router,
            guint             mtu)
{
  gsize quote = MIN (ip->total_len, (gsize) PT_VPN_ICMP_QUOTE_V6);
  gsize icmp_len = ICMP_HEADER_LEN + quote;
  gsize out_len = IPV6_HEADER_LEN + icmp_len;
  guint8 pseudo[8] = { 0, };
  guint32 sum;
  guint8 *out;

  /* Not about ICMPv6 errors (types below 128); not to nowhere or multicast. */
  if (ip->protocol == PROTO_ICMPV6 && ip->total_len > IPV6_HEADER_LEN &&
      packet[IPV6_HEADER_LEN] < 128)
    return NULL;
  if (is_zero (ip->src, 16) || ip->src[0] == 0xff)
    return NULL;

  out = g_malloc0 (out_len);
  out[0] = 0x60;
  put_u16 (out + 4, (guint16) icmp_len);
  out[6] = PROTO_ICMPV6;
  out[7] = 64;                          /* hop limit */
  memcpy (out + 8, router, 16);
  memcpy (out + 24, ip->src, 16);

  out[40] = 2;                          /* packet too big */
  out[44] = (mtu >> 24) & 0xff;
  out[45] = (mtu >> 16) & 0xff;
  out[46] = (mtu >> 8) & 0xff;
  out[47] = mtu & 0xff;
  memcpy (out + 48, packet, quote);

  /* Pseudo-header: source, destination, upper-layer length, next header. */
  sum = _pt_ip_checksum_add (0, out + 8, 32);
  pseudo[2] = (icmp_len >> 8) & 0xff;
  pseudo[3] = icmp_len & 0xff;
  pseudo[7] = PROTO_ICMPV6;
  sum = _pt_ip_checksum_add (sum, pseudo, sizeof pseudo);
  sum = _pt_ip_checksum_add (sum, out + 40, icmp_len);
  put_u16 (out + 42, _pt_ip_checksum_fold (sum));
  return g_bytes_new_take (out, out_len);
}

GBytes *
_pt_ip_make_too_big (const guint8 *packet,
                     gsize         len,
                     const guint8 *router,
                     guint         mtu)
{
  PtIpHeader ip;

  if (!_pt_ip_header_parse (packet, len, &ip))
    return NULL;
  return ip.version == 4 ? too_big_v4 (packet, &ip, router, mtu)
                         : too_big_v6 (packet, &ip, router, mtu);
}
