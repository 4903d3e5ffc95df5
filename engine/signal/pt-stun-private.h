/* pt-stun-private.h — the few bytes of STUN (RFC 8489) needed to probe servers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libnice takes one STUN server. When the user names several, a Binding
 * request goes to each at once and the first to answer is given to libnice;
 * dead servers then cost at most one short probe deadline. Sans-I/O.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PT_STUN_HEADER_LEN   20
#define PT_STUN_TXID_LEN     12

/* Writes a Binding request with @txid into @out (PT_STUN_HEADER_LEN bytes). */
void _pt_stun_write_binding_request (guint8        out[PT_STUN_HEADER_LEN],
                                     const guint8  txid[PT_STUN_TXID_LEN]);

/* If @data is a Binding success or error response whose transaction id is one
 * of @txids (n of them, PT_STUN_TXID_LEN bytes each), returns its index;
 * otherwise -1. Any server answer proves it is alive, even an error. */
int  _pt_stun_match_response        (const guint8 *data,
                                     gsize         len,
                                     const guint8 *txids,
                                     guint         n);

G_END_DECLS
