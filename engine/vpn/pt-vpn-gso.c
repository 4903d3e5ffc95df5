/* pt-vpn-gso.c — TCP super-packets of a TUN device with virtio-net headers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A TUN device made with IFF_VNET_HDR and TUN_F_TSO4/TSO6 hands over TCP
 * packets of up to 64 KB, each after a virtio_net_hdr that says how to cut
 * it (gso_size is the MSS) and where the checksum left to do goes. A QUIC
 * DATAGRAM frame carries one packet of the tunnel's MTU, so those are cut
 * here into the packets the kernel would have sent, checksums done.
 *
 * The other way, consecutive segments of one TCP flow that arrive in one
 * batch are joined back into one super-packet, written with a GSO header:
 * the receiving stack then takes ~45 packets in one trip. Whatever cannot be
 * joined is written alone behind an empty header.
 *
 * Everything here reads bytes from the kernel or from a peer: every length
 * is checked against the buffer before use; a packet that does not add up is
 * dropped, never guessed at.
 */
#define G_LOG_DOMAIN "pt-vpn"

#include "config.h"

#include <string.h>

#include "pt-vpn-private.h"

#define IPV4_HEADER_LEN  20
#define IPV6_HEADER_LEN  40
#define TCP_HEADER_LEN   20
#define PROTO_TCP        6

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static inline guint16
get_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline void
put_u16 (guint8  *p,
         guint16  v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static inline guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static inline void
put_u32 (guint8  *p,
         guint32  v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* The one's-complement sum of @data as big-endian 16-bit words, unfolded:
 * the same value as _pt_ip_checksum_add(), eight bytes at a time. */
guint64
_pt_vpn_csum_add (guint64       sum,
                  const guint8 *data,
                  gsize         len)
{
  guint64 acc = 0;
  gsize i = 0;

  /* Sum native 32-bit words into 64 bits; folding the result and swapping
   * bytes once gives the big-endian 16-bit sum (RFC 1071, byte order
   * independence). */
  for (; i + 4 <= len; i += 4)
    {
      guint32 w;

      memcpy (&w, data + i, 4);
      acc += w;
    }
  for (; i + 1 < len; i += 2)
    {
      guint16 w;

      memcpy (&w, data + i, 2);
      acc += w;
    }
  if (i < len)
    {
      guint8 last[2] = { data[i], 0 };
      guint16 w;

      memcpy (&w, last, 2);
      acc += w;
    }
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  acc = GUINT16_SWAP_LE_BE ((guint16) acc);
#endif
  return sum + acc;
}

static guint16
csum_fold (guint64 sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) sum;
}

/* The TCP pseudo-header of @ip (version @version) for @tcp_len bytes. */
static guint64
pseudo_header (guint8        version,
               const guint8 *ip,
               gsize         tcp_len)
{
  guint64 sum;

  if (version == 4)
    sum = _pt_vpn_csum_add (0, ip + 12, 8);
  else
    sum = _pt_vpn_csum_add (0, ip + 8, 32);
  return sum + PROTO_TCP + (tcp_len & 0xffff) + (tcp_len >> 16);
}

/* The lengths of an IPv4 or IPv6 + TCP packet's headers; FALSE unless
 * @packet is exactly that (no IPv6 extension headers, no IPv4 fragment) and
 * both headers fit in @len, which is also what the IP header says. */
static gboolean
parse_tcp (const guint8 *packet,
           gsize         len,
           guint8       *version,
           gsize        *ip_len,
           gsize        *tcp_len)
{
  gsize tcp_off;

  if (len < 1)
    return FALSE;
  *version = packet[0] >> 4;
  if (*version == 4)
    {
      if (len < IPV4_HEADER_LEN)
        return FALSE;
      *ip_len = (packet[0] & 0x0f) * 4u;
      if (*ip_len < IPV4_HEADER_LEN || *ip_len > len || packet[9] != PROTO_TCP
          || get_u16 (packet + 2) != len
          || (get_u16 (packet + 6) & 0x3fff) != 0)   /* MF or a fragment offset */
        return FALSE;
    }
  else if (*version == 6)
    {
      if (len < IPV6_HEADER_LEN)
        return FALSE;
      *ip_len = IPV6_HEADER_LEN;
      if (packet[6] != PROTO_TCP || get_u16 (packet + 4) + (gsize) IPV6_HEADER_LEN != len)
        return FALSE;
    }
  else
    return FALSE;

  tcp_off = *ip_len;
  if (len - tcp_off < TCP_HEADER_LEN)
    return FALSE;
  *tcp_len = (packet[tcp_off + 12] >> 4) * 4u;
  return *tcp_len >= TCP_HEADER_LEN && *tcp_len <= len - tcp_off;
}

/* Does the checksum of a packet whose header says NEEDS_CSUM: the field at
 * @start + @offset holds the pseudo-header's sum; the sum from @start on
 * goes there. */
static gboolean
finish_checksum (guint8 *packet,
                 gsize   len,
                 gsize   start,
                 gsize   offset)
{
  guint16 sum;

  if (start > len || offset > len - start || len - start - offset < 2)
    return FALSE;
  sum = ~csum_fold (_pt_vpn_csum_add (0, packet + start, len - start));
  /* Both zero and 0xffff mean zero in one's complement; UDP needs 0xffff. */
  put_u16 (packet + start + offset, sum == 0 ? 0xffff : sum);
  return TRUE;
}

/* Fills in the IPv4 header checksum of @packet. */
static void
ipv4_checksum (guint8 *packet,
               gsize   ip_len)
{
  put_u16 (packet + 10, 0);
  put_u16 (packet + 10, ~csum_fold (_pt_vpn_csum_add (0, packet, ip_len)));
}

int
_pt_vpn_gso_split (const guint8     *buf,
                   gsize             len,
                   guint8           *scratch,
                   gsize             scratch_len,
                   PtVpnPacketFunc   func,
                   gpointer          data)
{
  PtVnetHdr hdr;
  const guint8 *packet = buf + PT_VNET_HDR_LEN;
  gsize packet_len, ip_len, tcp_len, hdr_len, payload, mss, off;
  guint8 version;
  guint32 seq;
  guint16 id = 0;
  guint8 flags;
  int n = 0;

  if (len < PT_VNET_HDR_LEN)
    return -1;
  memcpy (&hdr, buf, sizeof hdr);
  packet_len = len - PT_VNET_HDR_LEN;

  if ((hdr.gso_type & ~PT_VNET_GSO_ECN) == PT_VNET_GSO_NONE)
    {
      /* One packet; maybe with its checksum to finish. */
      if (packet_len > scratch_len)
        return -1;
      if (!(hdr.flags & PT_VNET_F_NEEDS_CSUM))
        {
          func (packet, packet_len, data);
          return 1;
        }
      memcpy (scratch, packet, packet_len);
      if (!finish_checksum (scratch, packet_len, hdr.csum_start, hdr.csum_offset))
        return -1;
      func (scratch, packet_len, data);
      return 1;
    }

  if ((hdr.gso_type & ~PT_VNET_GSO_ECN) != PT_VNET_GSO_TCPV4
      && (hdr.gso_type & ~PT_VNET_GSO_ECN) != PT_VNET_GSO_TCPV6)
    return -1;
  if (!parse_tcp (packet, packet_len, &version, &ip_len, &tcp_len)
      || (version == 4) != ((hdr.gso_type & ~PT_VNET_GSO_ECN) == PT_VNET_GSO_TCPV4))
    return -1;
  hdr_len = ip_len + tcp_len;
  mss = hdr.gso_size;
  payload = packet_len - hdr_len;
  if (mss == 0 || hdr_len + MIN (mss, payload) > scratch_len)
    return -1;

  seq = get_u32 (packet + ip_len + 4);
  flags = packet[ip_len + 13];
  if (version == 4)
    id = get_u16 (packet + 4);

  off = 0;
  do
    {
      gsize seg = MIN (mss, payload - off);
      gboolean last = off + seg >= payload;
      guint8 *tcp = scratch + ip_len;

      memcpy (scratch, packet, hdr_len);
      memcpy (scratch + hdr_len, packet + hdr_len + off, seg);
      if (version == 4)
        {
          put_u16 (scratch + 2, (guint16) (hdr_len + seg));
          put_u16 (scratch + 4, (guint16) (id + n));
          ipv4_checksum (scratch, ip_len);
        }
      else
        put_u16 (scratch + 4, (guint16) (tcp_len + seg));

      put_u32 (tcp + 4, seq + (guint32) off);
      tcp[13] = flags;
      if (!last)
        tcp[13] &= (guint8) ~(TCP_FIN | TCP_PSH);
      if (n > 0)
        tcp[13] &= (guint8) ~TCP_CWR;
      put_u16 (tcp + 16, 0);
      put_u16 (tcp + 16, ~csum_fold (pseudo_header (version, scratch, tcp_len + seg)
                                     + _pt_vpn_csum_add (0, tcp, tcp_len + seg)));
      func (scratch, hdr_len + seg, data);
      n++;
      off += seg;
    }
  while (off < payload);
  return n;
}

/* ---------------------------------------------------------------------- */
/* Joining */

void
_pt_vpn_gro_init (PtVpnGro        *gro,
                  PtVpnPacketFunc  write,
                  gpointer         data)
{
  memset (gro, 0, sizeof *gro);
  gro->write = write;
  gro->data = data;
}

void
_pt_vpn_gro_flush (PtVpnGro *gro)
{
  guint8 *packet = gro->buf + PT_VNET_HDR_LEN;
  PtVnetHdr hdr = { 0, };

  if (gro->n == 0)
    return;
  if (gro->n > 1)
    {
      guint8 *tcp = packet + gro->ip_len;
      gsize tcp_total = gro->len - gro->ip_len;

      if (gro->version == 4)
        {
          put_u16 (packet + 2, (guint16) gro->len);
          ipv4_checksum (packet, gro->ip_len);
          hdr.gso_type = PT_VNET_GSO_TCPV4;
        }
      else
        {
          put_u16 (packet + 4, (guint16) tcp_total);
          hdr.gso_type = PT_VNET_GSO_TCPV6;
        }
      tcp[13] |= gro->psh;
      /* Left to the kernel: the pseudo-header's sum goes in the field. */
      put_u16 (tcp + 16, csum_fold (pseudo_header (gro->version, packet, tcp_total)));
      hdr.flags = PT_VNET_F_NEEDS_CSUM;
      hdr.hdr_len = (guint16) (gro->ip_len + gro->tcp_len);
      hdr.gso_size = gro->mss;
      hdr.csum_start = (guint16) gro->ip_len;
      hdr.csum_offset = 16;
    }
  memcpy (gro->buf, &hdr, sizeof hdr);
  gro->write (gro->buf, PT_VNET_HDR_LEN + gro->len, gro->data);
  gro->n = 0;
  gro->len = 0;
}

/* May @packet (headers @ip_len + @tcp_len) follow what @gro holds? */
static gboolean
gro_fits (PtVpnGro     *gro,
          const guint8 *packet,
          gsize         len,
          guint8        version,
          gsize         ip_len,
          gsize         tcp_len)
{
  const guint8 *held = gro->buf + PT_VNET_HDR_LEN;
  const guint8 *tcp = packet + ip_len;
  gsize payload = len - ip_len - tcp_len;

  if (gro->n == 0 || gro->closed || version != gro->version || ip_len != gro->ip_len
      || tcp_len != gro->tcp_len || payload > gro->mss || gro->len + payload > G_MAXUINT16
      || gro->n >= PT_VNET_GRO_MAX_SEGMENTS)
    return FALSE;
  if (version == 4)
    {
      /* Version/IHL, TOS; flags; TTL, protocol; addresses. */
      if (memcmp (held, packet, 2) != 0 || held[6] != packet[6]
          || memcmp (held + 8, packet + 8, 2) != 0 || memcmp (held + 12, packet + 12, 8) != 0
          || memcmp (held + 20, packet + 20, ip_len - IPV4_HEADER_LEN) != 0)
        return FALSE;
    }
  else
    {
      /* Version, class, flow label; next header, hop limit; addresses. */
      if (memcmp (held, packet, 4) != 0 || memcmp (held + 6, packet + 6, 34) != 0)
        return FALSE;
    }
  /* Ports; the next sequence number; the same ACK, flags but PSH, window,
   * urgent pointer and options. */
  return memcmp (held + ip_len, tcp, 4) == 0 && get_u32 (tcp + 4) == gro->next_seq
         && memcmp (held + ip_len + 8, tcp + 8, 5) == 0
         && (held[ip_len + 13] & ~TCP_PSH) == (tcp[13] & ~TCP_PSH)
         && memcmp (held + ip_len + 14, tcp + 14, 2) == 0
         && memcmp (held + ip_len + 18, tcp + 18, tcp_len - 18) == 0;
}

void
_pt_vpn_gro_add (PtVpnGro     *gro,
                 const guint8 *packet,
                 gsize         len)
{
  guint8 version;
  gsize ip_len, tcp_len, payload;
  guint8 flags;

  if (len > G_MAXUINT16)
    return;
  if (!parse_tcp (packet, len, &version, &ip_len, &tcp_len)
      || (payload = len - ip_len - tcp_len) == 0
      || ((flags = packet[ip_len + 13]) & ~(TCP_ACK | TCP_PSH | TCP_ECE)) != 0
      || !(flags & TCP_ACK))
    {
      /* Not for joining: written alone, in order. */
      _pt_vpn_gro_flush (gro);
      if (len > 0)   /* memcpy must not see a NULL source (fuzz-tun-gso) */
        memcpy (gro->buf + PT_VNET_HDR_LEN, packet, len);
      gro->len = len;
      gro->n = 1;
      gro->closed = TRUE;
      _pt_vpn_gro_flush (gro);
      return;
    }

  if (gro_fits (gro, packet, len, version, ip_len, tcp_len))
    {
      memcpy (gro->buf + PT_VNET_HDR_LEN + gro->len, packet + ip_len + tcp_len, payload);
      gro->len += payload;
      gro->n++;
      gro->next_seq += (guint32) payload;
      gro->psh = flags & TCP_PSH;
      gro->closed = payload < gro->mss || (flags & TCP_PSH);
      return;
    }

  _pt_vpn_gro_flush (gro);
  memcpy (gro->buf + PT_VNET_HDR_LEN, packet, len);
  gro->len = len;
  gro->n = 1;
  gro->version = version;
  gro->ip_len = ip_len;
  gro->tcp_len = tcp_len;
  gro->mss = (guint16) payload;
  gro->next_seq = get_u32 (packet + ip_len + 4) + (guint32) payload;
  gro->psh = flags & TCP_PSH;
  gro->closed = (flags & TCP_PSH) != 0;
}
