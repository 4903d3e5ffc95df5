/* fuzz-stun.c — STUN probe responses from servers on the network
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first 12 bytes of the input are a transaction id the probe is waiting
 * for; the rest is the datagram that arrived.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "pt-stun-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  guint8 txids[2 * PT_STUN_TXID_LEN];
  guint8 request[PT_STUN_HEADER_LEN];
  int index;

  if (size < PT_STUN_TXID_LEN)
    return 0;

  memcpy (txids, data, PT_STUN_TXID_LEN);
  memset (txids + PT_STUN_TXID_LEN, 0xa5, PT_STUN_TXID_LEN);

  index = _pt_stun_match_response (data + PT_STUN_TXID_LEN, size - PT_STUN_TXID_LEN, txids, 2);
  g_assert (index >= -1 && index < 2);
  if (index >= 0)
    g_assert (memcmp (data + PT_STUN_TXID_LEN + 8, txids + index * PT_STUN_TXID_LEN,
                      PT_STUN_TXID_LEN) == 0);

  /* Our own request is never mistaken for a response. */
  _pt_stun_write_binding_request (request, txids);
  g_assert (_pt_stun_match_response (request, sizeof request, txids, 2) == -1);

  return 0;
}
