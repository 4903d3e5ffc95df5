/* fuzz-ip-packet.c — libFuzzer target for VPN mode's IP packet handling
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Packets come from the peer (QUIC datagrams) and from the local TUN device.
 * Whatever parses must lie within the input; every ICMP "too big" error made
 * for it must itself parse, quote the packet's start and carry valid
 * checksums.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-vpn-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const guint8 router[16] = { 0xfd, 0, 0, 0x77, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  static const guint8 router4[4] = { 10, 77, 0, 1 };
  PtIpHeader ip, reply;
  g_autoptr(GBytes) icmp = NULL;
  const guint8 *p;
  gsize len;

  if (!_pt_ip_header_parse (data, size, &ip))
    {
      CHECK (_pt_ip_make_too_big (data, size, router, 1280) == NULL);
      return 0;
    }
  CHECK (ip.total_len <= size);
  CHECK (ip.version == 4 || ip.version == 6);

  icmp = _pt_ip_make_too_big (data, size, ip.version == 4 ? router4 : router, 1200);
  if (icmp == NULL)
    return 0;
  p = g_bytes_get_data (icmp, &len);
  CHECK (_pt_ip_header_parse (p, len, &reply));
  CHECK (reply.version == ip.version);
  CHECK (reply.total_len == len);
  CHECK (memcmp (reply.dst, ip.src, ip.version == 4 ? 4 : 16) == 0);
  if (ip.version == 4)
    {
      CHECK (len <= 576);
      CHECK (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p, 20)) == 0);
      CHECK (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p + 20, len - 20)) == 0);
      CHECK (memcmp (p + 28, data, MIN (ip.total_len, len - 28)) == 0);
    }
  else
    {
      CHECK (len <= 1280);
      CHECK (memcmp (p + 48, data, MIN (ip.total_len, len - 48)) == 0);
    }
  return 0;
}
