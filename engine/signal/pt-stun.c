/* pt-stun.c — the few bytes of STUN needed to probe servers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-stun"

#include "config.h"

#include <string.h>

#include "pt-stun-private.h"

#define STUN_MAGIC_COOKIE          0x2112A442u
#define STUN_BINDING_REQUEST       0x0001
#define STUN_BINDING_SUCCESS       0x0101
#define STUN_BINDING_ERROR         0x0111

void
_pt_stun_write_binding_request (guint8       out[PT_STUN_HEADER_LEN],
                                const guint8 txid[PT_STUN_TXID_LEN])
{
  out[0] = STUN_BINDING_REQUEST >> 8;
  out[1] = STUN_BINDING_REQUEST & 0xff;
  out[2] = 0; /* no attributes */
  out[3] = 0;
  out[4] = (STUN_MAGIC_COOKIE >> 24) & 0xff;
  out[5] = (STUN_MAGIC_COOKIE >> 16) & 0xff;
  out[6] = (STUN_MAGIC_COOKIE >> 8) & 0xff;
  out[7] = STUN_MAGIC_COOKIE & 0xff;
  memcpy (out + 8, txid, PT_STUN_TXID_LEN);
}

int
_pt_stun_match_response (const guint8 *data,
                         gsize         len,
                         const guint8 *txids,
                         guint         n)
{
  guint type, body;
  guint32 cookie;

  if (data == NULL || len < PT_STUN_HEADER_LEN)
    return -1;

  type = (data[0] << 8) | data[1];
  body = (data[2] << 8) | data[3];
  cookie = ((guint32) data[4] << 24) | ((guint32) data[5] << 16) |
           ((guint32) data[6] << 8) | data[7];

  /* The top two bits of a STUN message are zero and its body is a whole
   * number of 4-byte words that fits the datagram. */
  if ((data[0] & 0xc0) != 0 || cookie != STUN_MAGIC_COOKIE ||
      (body & 3) != 0 || body > len - PT_STUN_HEADER_LEN)
    return -1;
  if (type != STUN_BINDING_SUCCESS && type != STUN_BINDING_ERROR)
    return -1;

  for (guint i = 0; i < n; i++)
    if (memcmp (data + 8, txids + i * PT_STUN_TXID_LEN, PT_STUN_TXID_LEN) == 0)
      return (int) i;

  return -1;
}
