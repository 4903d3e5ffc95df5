/* test-stun.c — recognising STUN probe answers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt-stun-private.h"

static const guint8 txids[2 * PT_STUN_TXID_LEN] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
  21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

/* A response to probe @which, of @type, with a body of @body zero bytes. */
static gsize
make_response (guint8 *out,
               guint   type,
               guint   which,
               guint   body)
{
  _pt_stun_write_binding_request (out, txids + which * PT_STUN_TXID_LEN);
  out[0] = type >> 8;
  out[1] = type & 0xff;
  out[2] = body >> 8;
  out[3] = body & 0xff;
  memset (out + PT_STUN_HEADER_LEN, 0, body);
  return PT_STUN_HEADER_LEN + body;
}

static void
test_request_layout (void)
{
  guint8 request[PT_STUN_HEADER_LEN];
  const guint8 expected[8] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };

  _pt_stun_write_binding_request (request, txids);
  g_assert_cmpmem (request, 8, expected, 8);
  g_assert_cmpmem (request + 8, PT_STUN_TXID_LEN, txids, PT_STUN_TXID_LEN);
  /* A request is not an answer. */
  g_assert_cmpint (_pt_stun_match_response (request, sizeof request, txids, 2), ==, -1);
}

static void
test_answers_matched (void)
{
  guint8 buf[64];
  gsize len;

  len = make_response (buf, 0x0101, 1, 12);
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 2), ==, 1);

  len = make_response (buf, 0x0111, 0, 8);   /* an error answer proves it is alive too */
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 2), ==, 0);
}

static void
test_others_ignored (void)
{
  guint8 buf[64];
  gsize len;

  len = make_response (buf, 0x0101, 1, 12);
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 1), ==, -1);       /* unknown txid */
  g_assert_cmpint (_pt_stun_match_response (buf, len - 4, txids, 2), ==, -1);   /* body cut */
  g_assert_cmpint (_pt_stun_match_response (buf, 19, txids, 2), ==, -1);        /* no header */
  g_assert_cmpint (_pt_stun_match_response (NULL, 0, txids, 2), ==, -1);

  len = make_response (buf, 0x0101, 0, 6);                                       /* not 4-aligned */
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 2), ==, -1);

  len = make_response (buf, 0x0101, 0, 0);
  buf[4] ^= 1;                                                                   /* cookie */
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 2), ==, -1);

  len = make_response (buf, 0x0101, 0, 0);
  buf[0] |= 0x40;                                                                /* a QUIC packet */
  g_assert_cmpint (_pt_stun_match_response (buf, len, txids, 2), ==, -1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun/request-layout", test_request_layout);
  g_test_add_func ("/stun/answers-matched", test_answers_matched);
  g_test_add_func ("/stun/others-ignored", test_others_ignored);

  return g_test_run ();
}
