/* fuzz-tun-gso.c — libFuzzer target for the TUN device's TCP super-packets
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is what one read of a TUN device with IFF_VNET_HDR gives: a
 * virtio_net_hdr, then a packet. Whatever is cut from it must lie within the
 * room given, carry right checksums, ports and sequence numbers (for a
 * super-packet) and together carry exactly its payload; the pieces, joined again as the receiving side does,
 * must cut into the very same pieces. The packet alone, joined, must come out
 * as it went in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-vpn-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

#define ROOM 1500

typedef struct
{
  GPtrArray *list;      /* GBytes */
} Pieces;

static void
keep (const guint8 *packet,
      gsize         len,
      gpointer      data)
{
  Pieces *p = data;

  CHECK (len <= ROOM);
  g_ptr_array_add (p->list, g_bytes_new (packet, len));
}

static void
keep_write (const guint8 *buf,
            gsize         len,
            gpointer      data)
{
  Pieces *p = data;

  CHECK (len >= PT_VNET_HDR_LEN && len <= PT_VNET_HDR_LEN + 65535);
  g_ptr_array_add (p->list, g_bytes_new (buf, len));
}

static guint32
get_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
check_tcp (const guint8 *p,
           gsize         len)
{
  guint8 version = p[0] >> 4;
  gsize ip_len = version == 4 ? (p[0] & 0x0f) * 4u : 40;
  guint32 sum;

  CHECK (len >= ip_len + 20);
  if (version == 4)
    {
      CHECK (((gsize) p[2] << 8 | p[3]) == len);
      CHECK (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p, ip_len)) == 0);
      sum = _pt_ip_checksum_add (0, p + 12, 8);
    }
  else
    {
      CHECK (((gsize) p[4] << 8 | p[5]) + 40 == len);
      sum = _pt_ip_checksum_add (0, p + 8, 32);
    }
  sum += 6 + (guint32) (len - ip_len);
  CHECK (_pt_ip_checksum_fold (_pt_ip_checksum_add (sum, p + ip_len, len - ip_len)) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static guint8 scratch[ROOM];
  static PtVpnGro gro;
  Pieces cut = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  Pieces joined = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  Pieces again = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  PtVnetHdr hdr;
  int n;

  if (size > PT_VNET_HDR_LEN + 65535)
    goto out;
  n = _pt_vpn_gso_split (data, size, scratch, sizeof scratch, keep, &cut);
  if (n < 0)
    goto out;
  CHECK ((guint) n == cut.list->len && n >= 1);
  memcpy (&hdr, data, sizeof hdr);

  if ((hdr.gso_type & ~PT_VNET_GSO_ECN) != PT_VNET_GSO_NONE)
    {
      const guint8 *packet = data + PT_VNET_HDR_LEN;
      gsize ip_len = (packet[0] >> 4) == 4 ? (packet[0] & 0x0f) * 4u : 40;
      gsize hdr_len = ip_len + (packet[ip_len + 12] >> 4) * 4u, carried = 0;

      for (guint i = 0; i < cut.list->len; i++)
        {
          gsize len;
          const guint8 *p = g_bytes_get_data (cut.list->pdata[i], &len);

          check_tcp (p, len);
          CHECK (len >= hdr_len && len - hdr_len <= hdr.gso_size);
          CHECK (memcmp (p + hdr_len, packet + hdr_len + carried, len - hdr_len) == 0);
          CHECK (get_u32 (p + ip_len + 4) == get_u32 (packet + ip_len + 4) + (guint32) carried);
          CHECK (memcmp (p + ip_len, packet + ip_len, 4) == 0);   /* the ports */
          carried += len - hdr_len;
        }
      CHECK (carried == size - PT_VNET_HDR_LEN - hdr_len);
    }

  /* Joined as the receiving side does, then cut again: the same pieces. */
  _pt_vpn_gro_init (&gro, keep_write, &joined);
  for (guint i = 0; i < cut.list->len; i++)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (cut.list->pdata[i], &len);

      _pt_vpn_gro_add (&gro, p, len);
    }
  _pt_vpn_gro_flush (&gro);
  for (guint i = 0; i < joined.list->len; i++)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (joined.list->pdata[i], &len);
      static guint8 big[65535];

      CHECK (_pt_vpn_gso_split (p, len, big, sizeof big, keep, &again) >= 1);
    }
  CHECK (again.list->len == cut.list->len);
  for (guint i = 0; i < cut.list->len; i++)
    CHECK (g_bytes_equal (cut.list->pdata[i], again.list->pdata[i]));

out:
  /* The input's packet alone goes through joining unchanged. */
  if (size > PT_VNET_HDR_LEN && size - PT_VNET_HDR_LEN <= 65535)
    {
      gsize len;
      const guint8 *p;

      g_ptr_array_set_size (joined.list, 0);
      _pt_vpn_gro_init (&gro, keep_write, &joined);
      _pt_vpn_gro_add (&gro, data + PT_VNET_HDR_LEN, size - PT_VNET_HDR_LEN);
      _pt_vpn_gro_flush (&gro);
      CHECK (joined.list->len == 1);
      p = g_bytes_get_data (joined.list->pdata[0], &len);
      CHECK (len == size);
      memcpy (&hdr, p, sizeof hdr);
      CHECK (hdr.gso_type == 0 && hdr.flags == 0);
      CHECK (memcmp (p + PT_VNET_HDR_LEN, data + PT_VNET_HDR_LEN, size - PT_VNET_HDR_LEN) == 0);
    }
  g_ptr_array_unref (cut.list);
  g_ptr_array_unref (joined.list);
  g_ptr_array_unref (again.list);
  return 0;
}
