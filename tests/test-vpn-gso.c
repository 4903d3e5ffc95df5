/* test-vpn-gso.c — cutting a TUN device's TCP super-packets and joining them
 * back (engine/vpn/pt-vpn-gso.c)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Checksums are checked with the engine's other, byte-by-byte checksum code
 * (pt-vpn-packet.c), not with the one under test.
 */
#include "config.h"

#include <string.h>

#include "pt.h"
#include "pt-vpn-private.h"

#define MSS 1289

static const guint8 src6[16] = { 0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const guint8 dst6[16] = { 0xfd, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

/* An IPv4 or IPv6 TCP packet 10.77.0.2:40000 → 10.77.0.1:5201 (fd77::2 →
 * fd77::1) carrying @payload bytes (byte i of the stream is (seq + i) % 251),
 * with a 12-byte timestamp option; checksums left zero. */
static gsize
make_tcp (guint8  *p,
          guint8   version,
          guint32  seq,
          gsize    payload,
          guint8   flags)
{
  gsize ip_len = version == 4 ? 20 : 40, tcp_len = 32, total = ip_len + tcp_len + payload;
  guint8 *tcp = p + ip_len;

  memset (p, 0, ip_len + tcp_len);
  if (version == 4)
    {
      p[0] = 0x45;
      p[2] = total >> 8, p[3] = total & 0xff;
      p[4] = 0x12, p[5] = 0x34;
      p[6] = 0x40;
      p[8] = 64;
      p[9] = 6;
      p[12] = 10, p[13] = 77, p[14] = 0, p[15] = 2;
      p[16] = 10, p[17] = 77, p[18] = 0, p[19] = 1;
    }
  else
    {
      p[0] = 0x60;
      p[4] = (total - 40) >> 8, p[5] = (total - 40) & 0xff;
      p[6] = 6;
      p[7] = 64;
      memcpy (p + 8, src6, 16);
      memcpy (p + 24, dst6, 16);
    }
  tcp[0] = 40000 >> 8, tcp[1] = 40000 & 0xff;
  tcp[2] = 5201 >> 8, tcp[3] = 5201 & 0xff;
  tcp[4] = seq >> 24, tcp[5] = seq >> 16, tcp[6] = seq >> 8, tcp[7] = seq;
  tcp[8] = 0xaa, tcp[11] = 0x01;                    /* ack */
  tcp[12] = (tcp_len / 4) << 4;
  tcp[13] = flags;
  tcp[14] = 0x01, tcp[15] = 0xf5;                   /* window */
  tcp[20] = 1, tcp[21] = 1, tcp[22] = 8, tcp[23] = 10;
  tcp[27] = 0x77, tcp[31] = 0x66;
  for (gsize i = 0; i < payload; i++)
    tcp[tcp_len + i] = (guint8) ((seq + i) % 251);
  return total;
}

static guint32
tcp_seq (const guint8 *tcp)
{
  return ((guint32) tcp[4] << 24) | ((guint32) tcp[5] << 16) | ((guint32) tcp[6] << 8) | tcp[7];
}

/* The packet's IPv4 and TCP checksums are right. */
static void
assert_checksums (const guint8 *p,
                  gsize         len)
{
  guint8 version = p[0] >> 4;
  gsize ip_len = version == 4 ? 20 : 40;
  guint32 sum;

  if (version == 4)
    g_assert_cmpuint (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p, 20)), ==, 0);
  sum = version == 4 ? _pt_ip_checksum_add (0, p + 12, 8) : _pt_ip_checksum_add (0, p + 8, 32);
  sum += 6 + (guint32) (len - ip_len);
  sum = _pt_ip_checksum_add (sum, p + ip_len, len - ip_len);
  g_assert_cmpuint (_pt_ip_checksum_fold (sum), ==, 0);
}

typedef struct
{
  GPtrArray *packets;   /* GBytes */
} Collect;

static void
collect (const guint8 *packet,
         gsize         len,
         gpointer      data)
{
  Collect *c = data;

  g_ptr_array_add (c->packets, g_bytes_new (packet, len));
}

/* A super-packet as a TSO device hands it over: headers, @payload bytes. */
static gsize
make_super (guint8  *buf,
            guint8   version,
            gsize    payload,
            guint8   flags)
{
  PtVnetHdr hdr = { 0, };
  gsize len = make_tcp (buf + PT_VNET_HDR_LEN, version, 1000, payload, flags);

  hdr.flags = PT_VNET_F_NEEDS_CSUM;
  hdr.gso_type = version == 4 ? PT_VNET_GSO_TCPV4 : PT_VNET_GSO_TCPV6;
  hdr.hdr_len = (version == 4 ? 20 : 40) + 32;
  hdr.gso_size = MSS;
  hdr.csum_start = version == 4 ? 20 : 40;
  hdr.csum_offset = 16;
  memcpy (buf, &hdr, sizeof hdr);
  return PT_VNET_HDR_LEN + len;
}

static void
check_split (guint8 version)
{
  static guint8 buf[PT_VNET_HDR_LEN + 65535], scratch[65535];
  gsize payload = 10 * MSS + 7, ip_len = version == 4 ? 20 : 40, got = 0;
  gsize len = make_super (buf, version, payload, 0x18 | 0x01);   /* ACK PSH FIN */
  Collect c = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  int n = _pt_vpn_gso_split (buf, len, scratch, sizeof scratch, collect, &c);

  g_assert_cmpint (n, ==, 11);
  g_assert_cmpuint (c.packets->len, ==, 11);
  for (guint i = 0; i < c.packets->len; i++)
    {
      gsize plen;
      const guint8 *p = g_bytes_get_data (c.packets->pdata[i], &plen);
      const guint8 *tcp = p + ip_len;
      gboolean last = i + 1 == c.packets->len;
      PtIpHeader ip;

      g_assert_cmpuint (plen, ==, ip_len + 32 + (last ? 7 : MSS));
      g_assert_true (_pt_ip_header_parse (p, plen, &ip));
      g_assert_cmpuint (ip.total_len, ==, plen);
      assert_checksums (p, plen);
      g_assert_cmpuint (tcp_seq (tcp), ==, 1000 + got);
      g_assert_cmpuint (tcp[13], ==, last ? 0x19 : 0x10);
      if (version == 4)
        g_assert_cmpuint ((p[4] << 8) | p[5], ==, 0x1234 + i);
      for (gsize k = 0; k < plen - ip_len - 32; k++)
        g_assert_cmpuint (tcp[32 + k], ==, (1000 + got + k) % 251);
      got += plen - ip_len - 32;
    }
  g_assert_cmpuint (got, ==, payload);
  g_ptr_array_unref (c.packets);
}

static void
test_split_v4 (void)
{
  check_split (4);
}

static void
test_split_v6 (void)
{
  check_split (6);
}

/* A plain packet passes as it is; one with its checksum to finish gets it. */
static void
test_split_plain (void)
{
  static guint8 buf[PT_VNET_HDR_LEN + 2000], scratch[65535];
  Collect c = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  PtVnetHdr hdr = { 0, };
  gsize len = make_tcp (buf + PT_VNET_HDR_LEN, 4, 5, 100, 0x10);
  guint32 sum;
  gsize plen;
  const guint8 *p;

  memcpy (buf, &hdr, sizeof hdr);
  g_assert_cmpint (_pt_vpn_gso_split (buf, PT_VNET_HDR_LEN + len, scratch, sizeof scratch,
                                      collect, &c), ==, 1);
  p = g_bytes_get_data (c.packets->pdata[0], &plen);
  g_assert_cmpmem (p, plen, buf + PT_VNET_HDR_LEN, len);

  /* The field holds the pseudo-header's sum, as the kernel leaves it. */
  hdr.flags = PT_VNET_F_NEEDS_CSUM;
  hdr.csum_start = 20;
  hdr.csum_offset = 16;
  memcpy (buf, &hdr, sizeof hdr);
  sum = _pt_ip_checksum_add (0, buf + PT_VNET_HDR_LEN + 12, 8) + 6 + (guint32) (len - 20);
  sum = ~_pt_ip_checksum_fold (sum) & 0xffff;
  buf[PT_VNET_HDR_LEN + 36] = sum >> 8;
  buf[PT_VNET_HDR_LEN + 37] = sum & 0xff;
  g_assert_cmpint (_pt_vpn_gso_split (buf, PT_VNET_HDR_LEN + len, scratch, sizeof scratch,
                                      collect, &c), ==, 1);
  p = g_bytes_get_data (c.packets->pdata[1], &plen);
  g_assert_cmpuint (plen, ==, len);
  {
    guint32 s = _pt_ip_checksum_add (0, p + 12, 8) + 6 + (guint32) (len - 20);

    g_assert_cmpuint (_pt_ip_checksum_fold (_pt_ip_checksum_add (s, p + 20, len - 20)), ==, 0);
  }
  g_ptr_array_unref (c.packets);
}

/* Whatever does not add up is refused, never read beyond its end. */
static void
test_split_bad (void)
{
  static guint8 buf[PT_VNET_HDR_LEN + 65535], scratch[65535];
  Collect c = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  gsize len = make_super (buf, 4, 5000, 0x10);
  PtVnetHdr hdr;

  g_assert_cmpint (_pt_vpn_gso_split (buf, 5, scratch, sizeof scratch, collect, &c), ==, -1);
  /* the IP length says more than there is */
  g_assert_cmpint (_pt_vpn_gso_split (buf, len - 1, scratch, sizeof scratch, collect, &c), ==, -1);
  /* segments larger than the room for them */
  g_assert_cmpint (_pt_vpn_gso_split (buf, len, scratch, 1000, collect, &c), ==, -1);

  memcpy (&hdr, buf, sizeof hdr);
  hdr.gso_size = 0;
  memcpy (buf, &hdr, sizeof hdr);
  g_assert_cmpint (_pt_vpn_gso_split (buf, len, scratch, sizeof scratch, collect, &c), ==, -1);
  hdr.gso_size = MSS;
  hdr.gso_type = PT_VNET_GSO_TCPV6;     /* not what the packet is */
  memcpy (buf, &hdr, sizeof hdr);
  g_assert_cmpint (_pt_vpn_gso_split (buf, len, scratch, sizeof scratch, collect, &c), ==, -1);
  hdr.gso_type = 3;                     /* UDP */
  memcpy (buf, &hdr, sizeof hdr);
  g_assert_cmpint (_pt_vpn_gso_split (buf, len, scratch, sizeof scratch, collect, &c), ==, -1);
  hdr.gso_type = PT_VNET_GSO_TCPV4;
  memcpy (buf, &hdr, sizeof hdr);
  buf[PT_VNET_HDR_LEN + 20 + 12] = 0xf0;  /* a TCP header longer than the packet allows */
  g_assert_cmpint (_pt_vpn_gso_split (buf, PT_VNET_HDR_LEN + 20 + 40, scratch, sizeof scratch,
                                      collect, &c), ==, -1);

  /* no GSO, a checksum place outside the packet */
  memset (&hdr, 0, sizeof hdr);
  hdr.flags = PT_VNET_F_NEEDS_CSUM;
  hdr.csum_start = 60;
  hdr.csum_offset = 16;
  memcpy (buf, &hdr, sizeof hdr);
  g_assert_cmpint (_pt_vpn_gso_split (buf, PT_VNET_HDR_LEN + 70, scratch, sizeof scratch,
                                      collect, &c), ==, -1);
  g_assert_cmpuint (c.packets->len, ==, 0);
  g_ptr_array_unref (c.packets);
}

static void
test_csum (void)
{
  guint8 data[301];

  for (gsize i = 0; i < sizeof data; i++)
    data[i] = (guint8) (i * 37 + 11);
  for (gsize len = 0; len <= sizeof data; len++)
    for (gsize off = 0; off < 4 && off <= len; off++)
      {
        guint32 want = _pt_ip_checksum_add (0, data + off, len - off);
        guint64 got = _pt_vpn_csum_add (0, data + off, len - off);

        g_assert_cmpuint (_pt_ip_checksum_fold (want), ==, _pt_ip_checksum_fold (
          (guint32) ((got & 0xffffffff) + (got >> 32))));
      }
}

typedef struct
{
  GPtrArray *writes;    /* GBytes: header + packet */
} Writes;

static void
record_write (const guint8 *buf,
              gsize         len,
              gpointer      data)
{
  Writes *w = data;

  g_ptr_array_add (w->writes, g_bytes_new (buf, len));
}

/* Segments cut from a super-packet join back into one, which cuts into the
 * same segments again. */
static void
check_join (guint8 version)
{
  static guint8 buf[PT_VNET_HDR_LEN + 65535], scratch[65535];
  static PtVpnGro gro;
  gsize payload = 40 * MSS + 100, ip_len = version == 4 ? 20 : 40;
  gsize len = make_super (buf, version, payload, 0x18);
  Collect first = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  Collect again = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  Writes w = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  PtVnetHdr hdr;
  gsize wlen;
  const guint8 *wp;

  g_assert_cmpint (_pt_vpn_gso_split (buf, len, scratch, sizeof scratch, collect, &first), ==, 41);
  _pt_vpn_gro_init (&gro, record_write, &w);
  for (guint i = 0; i < first.packets->len; i++)
    {
      gsize plen;
      const guint8 *p = g_bytes_get_data (first.packets->pdata[i], &plen);

      _pt_vpn_gro_add (&gro, p, plen);
    }
  g_assert_cmpuint (w.writes->len, ==, 0);    /* held until the batch ends */
  _pt_vpn_gro_flush (&gro);
  g_assert_cmpuint (w.writes->len, ==, 1);

  wp = g_bytes_get_data (w.writes->pdata[0], &wlen);
  g_assert_cmpuint (wlen, ==, len);
  memcpy (&hdr, wp, sizeof hdr);
  g_assert_cmpuint (hdr.flags, ==, PT_VNET_F_NEEDS_CSUM);
  g_assert_cmpuint (hdr.gso_type, ==, version == 4 ? PT_VNET_GSO_TCPV4 : PT_VNET_GSO_TCPV6);
  g_assert_cmpuint (hdr.gso_size, ==, MSS);
  g_assert_cmpuint (hdr.hdr_len, ==, ip_len + 32);
  g_assert_cmpuint (hdr.csum_start, ==, ip_len);
  g_assert_cmpuint (hdr.csum_offset, ==, 16);
  if (version == 4)
    g_assert_cmpuint (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, wp + PT_VNET_HDR_LEN, 20)),
                      ==, 0);
  g_assert_cmpuint (wp[PT_VNET_HDR_LEN + ip_len + 13], ==, 0x18);   /* the last one's PSH */

  g_assert_cmpint (_pt_vpn_gso_split (wp, wlen, scratch, sizeof scratch, collect, &again), ==, 41);
  for (guint i = 0; i < first.packets->len; i++)
    g_assert_true (g_bytes_equal (first.packets->pdata[i], again.packets->pdata[i]));

  g_ptr_array_unref (first.packets);
  g_ptr_array_unref (again.packets);
  g_ptr_array_unref (w.writes);
}

static void
test_join_v4 (void)
{
  check_join (4);
}

static void
test_join_v6 (void)
{
  check_join (6);
}

/* Only what continues the flow joins; everything is written, in order. */
static void
test_join_breaks (void)
{
  static PtVpnGro gro;
  static guint8 p[4][2000];
  gsize len[4];
  Writes w = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  PtVnetHdr hdr;
  const guint8 *wp;
  gsize wlen;

  _pt_vpn_gro_init (&gro, record_write, &w);
  len[0] = make_tcp (p[0], 4, 1, MSS, 0x10);
  len[1] = make_tcp (p[1], 4, 1 + MSS + 1, MSS, 0x10);      /* a gap: not joined */
  len[2] = make_tcp (p[2], 4, 1 + 2 * MSS + 1, 10, 0x11);   /* FIN: alone */
  len[3] = make_tcp (p[3], 6, 5, 0, 0x10);                   /* a bare ACK: alone */
  for (guint i = 0; i < 4; i++)
    _pt_vpn_gro_add (&gro, p[i], len[i]);
  _pt_vpn_gro_flush (&gro);

  g_assert_cmpuint (w.writes->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    {
      wp = g_bytes_get_data (w.writes->pdata[i], &wlen);
      memcpy (&hdr, wp, sizeof hdr);
      g_assert_cmpuint (hdr.gso_type, ==, PT_VNET_GSO_NONE);
      g_assert_cmpuint (hdr.flags, ==, 0);
      g_assert_cmpmem (wp + PT_VNET_HDR_LEN, wlen - PT_VNET_HDR_LEN, p[i], len[i]);
    }

  /* A shorter segment ends the run; the next one starts another. */
  g_ptr_array_set_size (w.writes, 0);
  len[0] = make_tcp (p[0], 4, 1, MSS, 0x10);
  len[1] = make_tcp (p[1], 4, 1 + MSS, 100, 0x10);
  len[2] = make_tcp (p[2], 4, 1 + MSS + 100, MSS, 0x10);
  for (guint i = 0; i < 3; i++)
    _pt_vpn_gro_add (&gro, p[i], len[i]);
  _pt_vpn_gro_flush (&gro);
  g_assert_cmpuint (w.writes->len, ==, 2);
  wp = g_bytes_get_data (w.writes->pdata[0], &wlen);
  memcpy (&hdr, wp, sizeof hdr);
  g_assert_cmpuint (hdr.gso_type, ==, PT_VNET_GSO_TCPV4);
  g_assert_cmpuint (wlen, ==, PT_VNET_HDR_LEN + 52 + MSS + 100);
  g_ptr_array_unref (w.writes);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vpn/gso/csum", test_csum);
  g_test_add_func ("/vpn/gso/split-v4", test_split_v4);
  g_test_add_func ("/vpn/gso/split-v6", test_split_v6);
  g_test_add_func ("/vpn/gso/split-plain", test_split_plain);
  g_test_add_func ("/vpn/gso/split-bad", test_split_bad);
  g_test_add_func ("/vpn/gso/join-v4", test_join_v4);
  g_test_add_func ("/vpn/gso/join-v6", test_join_v6);
  g_test_add_func ("/vpn/gso/join-breaks", test_join_breaks);
  return g_test_run ();
}
