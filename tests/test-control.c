/* test-control.c — the tunnel protocol's control codec and datagram header
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt-control-private.h"

static PtControlMessage *
make_hello (void)
{
  PtControlMessage *msg = _pt_control_message_new (PT_CONTROL_HELLO);

  g_ptr_array_add (msg->forwards, pt_forward_spec_new (PT_PROTO_TCP, "127.0.0.1", 22));
  g_ptr_array_add (msg->forwards, pt_forward_spec_new (PT_PROTO_UDP, "::1", 53));
  g_ptr_array_add (msg->forwards, pt_forward_spec_new (PT_PROTO_TCP, "db.internal.example", 65535));

  return msg;
}

static PtControlMessage *
make_verdict (void)
{
  PtControlMessage *msg = _pt_control_message_new (PT_CONTROL_VERDICT);

  _pt_control_message_add_verdict (msg, TRUE, NULL);
  _pt_control_message_add_verdict (msg, FALSE, "udp ::1 is not in the allowed list (nothing) — ask the server’s owner");
  _pt_control_message_add_verdict (msg, TRUE, "");

  return msg;
}

static PtControlMessage *
make_close (const char *reason)
{
  PtControlMessage *msg = _pt_control_message_new (PT_CONTROL_CLOSE);

  g_free (msg->reason);
  msg->reason = g_strdup (reason);

  return msg;
}

static void
assert_same_message (const PtControlMessage *a,
                     const PtControlMessage *b)
{
  g_assert_cmpint (a->type, ==, b->type);

  switch (a->type)
    {
    case PT_CONTROL_HELLO:
      g_assert_cmpuint (a->version, ==, b->version);
      g_assert_cmpuint (a->forwards->len, ==, b->forwards->len);
      for (guint i = 0; i < a->forwards->len; i++)
        {
          const PtForwardSpec *fa = g_ptr_array_index (a->forwards, i);
          const PtForwardSpec *fb = g_ptr_array_index (b->forwards, i);

          g_assert_cmpint (fa->proto, ==, fb->proto);
          g_assert_cmpstr (fa->host, ==, fb->host);
          g_assert_cmpuint (fa->port, ==, fb->port);
        }
      break;

    case PT_CONTROL_VERDICT:
      g_assert_cmpuint (a->verdicts->len, ==, b->verdicts->len);
      for (guint i = 0; i < a->verdicts->len; i++)
        {
          const PtVerdict *va = g_ptr_array_index (a->verdicts, i);
          const PtVerdict *vb = g_ptr_array_index (b->verdicts, i);

          g_assert_cmpint (va->accepted, ==, vb->accepted);
          g_assert_cmpstr (va->reason, ==, vb->reason);
        }
      break;

    case PT_CONTROL_CLOSE:
      g_assert_cmpstr (a->reason, ==, b->reason);
      break;

    case PT_CONTROL_VPN_HELLO:
      g_assert_cmpuint (a->vpn_flags, ==, b->vpn_flags);
      break;

    case PT_CONTROL_VPN_CONFIG:
      g_assert_cmpmem (&a->vpn, sizeof a->vpn, &b->vpn, sizeof b->vpn);
      break;
    }
}

/* Feeds @data in one go and expects exactly one message. */
static PtControlMessage *
decode_one (const guint8 *data,
            gsize         len)
{
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  g_autoptr(GError) error = NULL;
  PtControlMessage *msg;

  _pt_control_parser_feed (parser, data, len);
  msg = _pt_control_parser_next (parser, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_null (_pt_control_parser_next (parser, &error));
  g_assert_no_error (error);

  return msg;
}

/* Feeds @data in one go and expects a protocol error mentioning @needle. */
static void
assert_rejected (const guint8 *data,
                 gsize         len,
                 const char   *needle)
{
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PtControlMessage) msg = NULL;

  _pt_control_parser_feed (parser, data, len);
  msg = _pt_control_parser_next (parser, &error);
  g_assert_null (msg);
  g_assert_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL);
  g_test_message ("%s", error->message);
  if (needle != NULL)
    g_assert_nonnull (strstr (error->message, needle));
}

static void
round_trip (PtControlMessage *msg)
{
  g_autoptr(GBytes) bytes = _pt_control_message_encode (msg);
  g_autoptr(PtControlMessage) decoded = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  g_assert_nonnull (bytes);
  g_assert_cmpuint (len, >=, 3);
  g_assert_cmpuint (data[0], ==, msg->type);
  g_assert_cmpuint ((data[1] << 8) | data[2], ==, len - 3);

  decoded = decode_one (data, len);
  assert_same_message (msg, decoded);
}

static void
test_round_trip_hello (void)
{
  g_autoptr(PtControlMessage) msg = make_hello ();

  round_trip (msg);
}

static void
test_round_trip_hello_limits (void)
{
  g_autoptr(PtControlMessage) msg = _pt_control_message_new (PT_CONTROL_HELLO);
  g_autofree char *long_host = g_strnfill (PT_SIGNAL_MAX_HOST_LEN, 'h');

  g_ptr_array_add (msg->forwards, pt_forward_spec_new (PT_PROTO_UDP, long_host, 1));
  for (guint i = 1; i < PT_SIGNAL_MAX_FORWARDS; i++)
    g_ptr_array_add (msg->forwards, pt_forward_spec_new (PT_PROTO_TCP, "!~", 65535 - i));

  round_trip (msg);
}

static void
test_round_trip_verdict (void)
{
  g_autoptr(PtControlMessage) msg = make_verdict ();

  round_trip (msg);
}

static void
test_round_trip_close (void)
{
  g_autoptr(PtControlMessage) empty = _pt_control_message_new (PT_CONTROL_CLOSE);
  g_autoptr(PtControlMessage) msg = make_close ("server shutting down: au revoir, ça va ✓");

  round_trip (empty);
  round_trip (msg);
}

static void
test_round_trip_vpn (void)
{
  g_autoptr(PtControlMessage) hello = _pt_control_message_new (PT_CONTROL_VPN_HELLO);
  g_autoptr(PtControlMessage) config4 = _pt_control_message_new (PT_CONTROL_VPN_CONFIG);
  g_autoptr(PtControlMessage) config6 = _pt_control_message_new (PT_CONTROL_VPN_CONFIG);
  static const guint8 addr4[4] = { 10, 77, 0, 2 }, server4[4] = { 10, 77, 0, 1 };
  static const guint8 addr6[16] = { 0xfd, 0, 0, 0x77, [15] = 2 };
  static const guint8 dns4[4] = { 10, 77, 0, 53 };

  hello->vpn_flags = PT_VPN_HELLO_WANTS_IPV6;
  round_trip (hello);

  config4->vpn.mtu = 1200;
  memcpy (config4->vpn.addr4, addr4, 4);
  config4->vpn.prefix4 = 24;
  memcpy (config4->vpn.server4, server4, 4);
  round_trip (config4);

  config6->vpn = config4->vpn;
  config6->vpn.mtu = 1280;
  config6->vpn.has_v6 = TRUE;
  memcpy (config6->vpn.addr6, addr6, 16);
  config6->vpn.prefix6 = 64;
  memcpy (config6->vpn.server6, addr6, 16);
  config6->vpn.server6[15] = 1;
  config6->vpn.n_dns = 2;
  config6->vpn.dns_family[0] = 4;
  memcpy (config6->vpn.dns[0], dns4, 4);
  config6->vpn.dns_family[1] = 6;
  memcpy (config6->vpn.dns[1], addr6, 16);
  round_trip (config6);
}

static void
test_bad_vpn (void)
{
  static const guint8 hello_flags[] = { 4, 0, 2, 1, 0x82 };
  static const guint8 hello_short[] = { 4, 0, 1, 1 };
  /* mtu 500, 10.77.0.2/24, server 10.77.0.1, no v6, no dns */
  static const guint8 small_mtu[] = { 5, 0, 13, 0x01, 0xf4, 10, 77, 0, 2, 24, 10, 77, 0, 1, 0, 0 };
  static const guint8 bad_prefix[] = { 5, 0, 13, 0x04, 0xb0, 10, 77, 0, 2, 31, 10, 77, 0, 1, 0, 0 };
  static const guint8 bad_v6_flag[] = { 5, 0, 13, 0x04, 0xb0, 10, 77, 0, 2, 24, 10, 77, 0, 1, 2, 0 };
  static const guint8 many_dns[] = { 5, 0, 13, 0x04, 0xb0, 10, 77, 0, 2, 24, 10, 77, 0, 1, 0, 5 };
  static const guint8 dns_family[] = { 5, 0, 18, 0x04, 0xb0, 10, 77, 0, 2, 24, 10, 77, 0, 1, 0, 1,
                                       5, 1, 1, 1, 1 };
  static const guint8 config_cut[] = { 5, 0, 12, 0x04, 0xb0, 10, 77, 0, 2, 24, 10, 77, 0, 1, 1 };

  assert_rejected (hello_flags, sizeof hello_flags, "unknown flags");
  assert_rejected (hello_short, sizeof hello_short, "ends early");
  assert_rejected (small_mtu, sizeof small_mtu, "MTU of 500");
  assert_rejected (bad_prefix, sizeof bad_prefix, "IPv4 prefix of 31");
  assert_rejected (bad_v6_flag, sizeof bad_v6_flag, "IPv6 flag of 2");
  assert_rejected (many_dns, sizeof many_dns, "5 resolvers");
  assert_rejected (dns_family, sizeof dns_family, "family 5");
  assert_rejected (config_cut, sizeof config_cut, "ends early");
}

static void
test_encoding_exact (void)
{
  static const guint8 hello[] = {
    1, 0, 15,                    /* HELLO, 15 bytes */
    1, 2,                        /* version 1, 2 forwards */
    1, 2, 'h', 'i', 0x00, 0x16,  /* tcp hi:22 */
    2, 3, ':', ':', '1', 0xff, 0xff, /* udp ::1:65535 */
  };
  static const guint8 verdict[] = {
    2, 0, 9,
    2,
    1, 0, 0,
    0, 0, 2, 'n', 'o',
  };
  static const guint8 close[] = { 3, 0, 4, 0, 2, 'o', 'k' };
  g_autoptr(PtControlMessage) h = _pt_control_message_new (PT_CONTROL_HELLO);
  g_autoptr(PtControlMessage) v = _pt_control_message_new (PT_CONTROL_VERDICT);
  g_autoptr(PtControlMessage) c = make_close ("ok");
  g_autoptr(GBytes) hb = NULL;
  g_autoptr(GBytes) vb = NULL;
  g_autoptr(GBytes) cb = NULL;
  g_autoptr(GBytes) expected_h = g_bytes_new_static (hello, sizeof hello);
  g_autoptr(GBytes) expected_v = g_bytes_new_static (verdict, sizeof verdict);
  g_autoptr(GBytes) expected_c = g_bytes_new_static (close, sizeof close);

  g_ptr_array_add (h->forwards, pt_forward_spec_new (PT_PROTO_TCP, "hi", 22));
  g_ptr_array_add (h->forwards, pt_forward_spec_new (PT_PROTO_UDP, "::1", 65535));
  _pt_control_message_add_verdict (v, TRUE, NULL);
  _pt_control_message_add_verdict (v, FALSE, "no");

  hb = _pt_control_message_encode (h);
  vb = _pt_control_message_encode (v);
  cb = _pt_control_message_encode (c);
  g_assert_true (g_bytes_equal (hb, expected_h));
  g_assert_true (g_bytes_equal (vb, expected_v));
  g_assert_true (g_bytes_equal (cb, expected_c));
}

static void
test_long_reasons_fit (void)
{
  GString *reason = g_string_new (NULL);
  g_autoptr(PtControlMessage) close_msg = NULL;
  g_autoptr(PtControlMessage) verdict = _pt_control_message_new (PT_CONTROL_VERDICT);
  g_autoptr(GBytes) close_bytes = NULL;
  g_autoptr(GBytes) verdict_bytes = NULL;
  g_autoptr(PtControlMessage) decoded_close = NULL;
  g_autoptr(PtControlMessage) decoded_verdict = NULL;
  gsize len;
  const guint8 *data;

  /* 3-byte characters, so that the limit falls inside one. */
  while (reason->len < 2000)
    g_string_append (reason, "a€");

  close_msg = make_close (reason->str);
  close_bytes = _pt_control_message_encode (close_msg);
  data = g_bytes_get_data (close_bytes, &len);
  decoded_close = decode_one (data, len);
  g_assert_cmpuint (strlen (decoded_close->reason), <=, PT_CONTROL_MAX_REASON);
  g_assert_cmpuint (strlen (decoded_close->reason), >=, PT_CONTROL_MAX_REASON - 3);
  g_assert_true (g_str_has_prefix (reason->str, decoded_close->reason));

  for (guint i = 0; i < PT_SIGNAL_MAX_FORWARDS; i++)
    _pt_control_message_add_verdict (verdict, FALSE, reason->str);
  verdict_bytes = _pt_control_message_encode (verdict);
  data = g_bytes_get_data (verdict_bytes, &len);
  g_assert_cmpuint (len, <=, 3 + PT_CONTROL_MAX_FRAME);
  decoded_verdict = decode_one (data, len);
  g_assert_cmpuint (decoded_verdict->verdicts->len, ==, PT_SIGNAL_MAX_FORWARDS);
  for (guint i = 0; i < PT_SIGNAL_MAX_FORWARDS; i++)
    {
      const PtVerdict *v = g_ptr_array_index (decoded_verdict->verdicts, i);

      g_assert_false (v->accepted);
      g_assert_cmpuint (strlen (v->reason), >, 200);
      g_assert_true (g_str_has_prefix (reason->str, v->reason));
    }

  /* One long reason among short ones fits whole. */
  {
    g_autoptr(PtControlMessage) mixed = _pt_control_message_new (PT_CONTROL_VERDICT);
    g_autoptr(PtControlMessage) decoded = NULL;
    g_autoptr(GBytes) bytes = NULL;
    g_autofree char *full = g_strnfill (PT_CONTROL_MAX_REASON, 'r');
    const PtVerdict *v;

    _pt_control_message_add_verdict (mixed, FALSE, full);
    for (guint i = 1; i < 9; i++)
      _pt_control_message_add_verdict (mixed, TRUE, "ok");
    bytes = _pt_control_message_encode (mixed);
    data = g_bytes_get_data (bytes, &len);
    decoded = decode_one (data, len);
    v = g_ptr_array_index (decoded->verdicts, 0);
    g_assert_cmpstr (v->reason, ==, full);
  }

  g_string_free (reason, TRUE);
}

static GByteArray *
encode_all (void)
{
  GByteArray *stream = g_byte_array_new ();
  PtControlMessage *msgs[] = { make_hello (), make_verdict (), make_close ("bye") };

  for (gsize i = 0; i < G_N_ELEMENTS (msgs); i++)
    {
      g_autoptr(GBytes) bytes = _pt_control_message_encode (msgs[i]);

      g_byte_array_append (stream, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      _pt_control_message_free (msgs[i]);
    }

  return stream;
}

static void
test_parser_byte_at_a_time (void)
{
  g_autoptr(GByteArray) stream = encode_all ();
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  GPtrArray *got = g_ptr_array_new_with_free_func ((GDestroyNotify) _pt_control_message_free);

  for (guint i = 0; i < stream->len; i++)
    {
      g_autoptr(GError) error = NULL;
      PtControlMessage *msg;

      _pt_control_parser_feed (parser, stream->data + i, 1);
      msg = _pt_control_parser_next (parser, &error);
      g_assert_no_error (error);
      if (msg != NULL)
        g_ptr_array_add (got, msg);
    }

  g_assert_cmpuint (got->len, ==, 3);
  g_assert_cmpint (((PtControlMessage *) got->pdata[0])->type, ==, PT_CONTROL_HELLO);
  g_assert_cmpint (((PtControlMessage *) got->pdata[1])->type, ==, PT_CONTROL_VERDICT);
  g_assert_cmpint (((PtControlMessage *) got->pdata[2])->type, ==, PT_CONTROL_CLOSE);

  {
    g_autoptr(PtControlMessage) hello = make_hello ();
    g_autoptr(PtControlMessage) verdict = make_verdict ();
    g_autoptr(PtControlMessage) close_msg = make_close ("bye");

    assert_same_message (hello, got->pdata[0]);
    assert_same_message (verdict, got->pdata[1]);
    assert_same_message (close_msg, got->pdata[2]);
  }

  g_ptr_array_unref (got);
}

static void
test_parser_two_frames (void)
{
  g_autoptr(GByteArray) stream = encode_all ();
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PtControlMessage) first = NULL;
  g_autoptr(PtControlMessage) second = NULL;
  g_autoptr(PtControlMessage) third = NULL;

  _pt_control_parser_feed (parser, stream->data, stream->len);
  first = _pt_control_parser_next (parser, &error);
  g_assert_no_error (error);
  second = _pt_control_parser_next (parser, &error);
  g_assert_no_error (error);
  third = _pt_control_parser_next (parser, &error);
  g_assert_no_error (error);

  g_assert_nonnull (first);
  g_assert_nonnull (second);
  g_assert_nonnull (third);
  g_assert_cmpint (first->type, ==, PT_CONTROL_HELLO);
  g_assert_cmpint (second->type, ==, PT_CONTROL_VERDICT);
  g_assert_cmpint (third->type, ==, PT_CONTROL_CLOSE);
  g_assert_null (_pt_control_parser_next (parser, &error));
  g_assert_no_error (error);
}

/* A stream cut anywhere is incomplete, never an error. */
static void
test_parser_prefixes (void)
{
  g_autoptr(GByteArray) stream = encode_all ();
  g_autoptr(PtControlMessage) hello = make_hello ();
  g_autoptr(GBytes) hello_bytes = _pt_control_message_encode (hello);
  gsize hello_len = g_bytes_get_size (hello_bytes);

  for (gsize cut = 0; cut < hello_len; cut++)
    {
      g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
      g_autoptr(GError) error = NULL;

      _pt_control_parser_feed (parser, stream->data, cut);
      g_assert_null (_pt_control_parser_next (parser, &error));
      g_assert_no_error (error);

      /* The rest arrives later. */
      _pt_control_parser_feed (parser, stream->data + cut, stream->len - cut);
      {
        g_autoptr(PtControlMessage) msg = _pt_control_parser_next (parser, &error);

        g_assert_no_error (error);
        g_assert_nonnull (msg);
        assert_same_message (hello, msg);
      }
    }
}

/* A frame whose length field cuts its payload short (or leaves bytes over) is an error. */
static void
check_every_truncation (PtControlMessage *msg)
{
  g_autoptr(GBytes) bytes = _pt_control_message_encode (msg);
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  for (gsize payload = 0; payload < len - 3; payload++)
    {
      g_autofree guint8 *frame = g_memdup2 (data, 3 + payload);

      frame[1] = payload >> 8;
      frame[2] = payload & 0xff;
      assert_rejected (frame, 3 + payload, NULL);
    }

  /* One byte too many. */
  {
    g_autofree guint8 *frame = g_malloc (len + 1);
    gsize payload = len - 3 + 1;

    memcpy (frame, data, len);
    frame[len] = 0;
    frame[1] = payload >> 8;
    frame[2] = payload & 0xff;
    assert_rejected (frame, len + 1, "1 extra byte after its last field");
  }
}

static void
test_truncations (void)
{
  g_autoptr(PtControlMessage) hello = make_hello ();
  g_autoptr(PtControlMessage) verdict = make_verdict ();
  g_autoptr(PtControlMessage) close_msg = make_close ("bye");
  g_autoptr(PtControlMessage) empty_close = _pt_control_message_new (PT_CONTROL_CLOSE);

  check_every_truncation (hello);
  check_every_truncation (verdict);
  check_every_truncation (close_msg);
  check_every_truncation (empty_close);
}

static void
test_oversize_frame (void)
{
  /* The header alone is enough to reject it: no 4 KiB wait. */
  static const guint8 header[] = { 3, 0x10, 0x01 };
  g_autofree guint8 *big = NULL;

  assert_rejected (header, sizeof header, "4097 bytes");

  /* The largest allowed length is accepted as far as the size goes. */
  big = g_malloc0 (3 + PT_CONTROL_MAX_FRAME);
  big[0] = PT_CONTROL_CLOSE;
  big[1] = PT_CONTROL_MAX_FRAME >> 8;
  big[2] = PT_CONTROL_MAX_FRAME & 0xff;
  assert_rejected (big, 3 + PT_CONTROL_MAX_FRAME, "after its last field");
}

static void
test_unknown_type (void)
{
  static const guint8 nine[] = { 9, 0, 0 };
  static const guint8 zero[] = { 0, 0, 1, 0 };

  assert_rejected (nine, sizeof nine, NULL);
  {
    g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
    g_autoptr(GError) error = NULL;

    _pt_control_parser_feed (parser, nine, sizeof nine);
    g_assert_null (_pt_control_parser_next (parser, &error));
    g_assert_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL);
    g_assert_cmpstr (error->message, ==, "control frame of unknown type 9");
  }
  assert_rejected (zero, sizeof zero, "unknown type 0");
}

static void
test_bad_utf8 (void)
{
  static const guint8 close_bad[] = { 3, 0, 4, 0, 2, 0xc3, 0x28 };
  static const guint8 close_nul[] = { 3, 0, 4, 0, 2, 'a', 0 };
  static const guint8 verdict_bad[] = { 2, 0, 6, 1, 0, 0, 2, 0xff, 'x' };
  static const guint8 close_cut[] = { 3, 0, 3, 0, 1, 0xe2 };

  assert_rejected (close_bad, sizeof close_bad, "not valid UTF-8");
  assert_rejected (close_nul, sizeof close_nul, "not valid UTF-8");
  assert_rejected (verdict_bad, sizeof verdict_bad, "not valid UTF-8");
  assert_rejected (close_cut, sizeof close_cut, "not valid UTF-8");
}

static void
test_bad_values (void)
{
  static const guint8 no_forwards[] = { 1, 0, 2, 1, 0 };
  static const guint8 too_many[] = { 1, 0, 2, 1, 17 };
  static const guint8 bad_proto[] = { 1, 0, 7, 1, 1, 3, 1, 'h', 0, 1 };
  static const guint8 empty_host[] = { 1, 0, 6, 1, 1, 1, 0, 0, 1 };
  static const guint8 space_host[] = { 1, 0, 8, 1, 1, 1, 2, 'a', ' ', 0, 1 };
  static const guint8 ctrl_host[] = { 1, 0, 8, 1, 1, 1, 2, 'a', '\n', 0, 1 };
  static const guint8 high_host[] = { 1, 0, 8, 1, 1, 1, 2, 'a', 0xc3, 0, 1 };
  static const guint8 zero_port[] = { 1, 0, 7, 1, 1, 1, 1, 'h', 0, 0 };
  static const guint8 no_verdicts[] = { 2, 0, 1, 0 };
  static const guint8 many_verdicts[] = { 2, 0, 1, 17 };
  static const guint8 bad_flag[] = { 2, 0, 4, 1, 2, 0, 0 };
  static const guint8 empty_verdict[] = { 2, 0, 0 };
  static const guint8 empty_hello[] = { 1, 0, 0 };
  static const guint8 empty_close[] = { 3, 0, 0 };
  g_autofree guint8 *long_reason = NULL;
  g_autofree guint8 *long_host = NULL;

  assert_rejected (no_forwards, sizeof no_forwards, "HELLO names 0 forwards");
  assert_rejected (too_many, sizeof too_many, "HELLO names 17 forwards");
  assert_rejected (bad_proto, sizeof bad_proto, "unknown protocol 3");
  assert_rejected (empty_host, sizeof empty_host, "host of 0 bytes");
  assert_rejected (space_host, sizeof space_host, "byte 0x20");
  assert_rejected (ctrl_host, sizeof ctrl_host, "byte 0x0a");
  assert_rejected (high_host, sizeof high_host, "byte 0xc3");
  assert_rejected (zero_port, sizeof zero_port, "port 0");
  assert_rejected (no_verdicts, sizeof no_verdicts, "VERDICT covers 0 forwards");
  assert_rejected (many_verdicts, sizeof many_verdicts, "VERDICT covers 17 forwards");
  assert_rejected (bad_flag, sizeof bad_flag, "accepted flag 2");
  assert_rejected (empty_verdict, sizeof empty_verdict, "VERDICT");
  assert_rejected (empty_hello, sizeof empty_hello, "HELLO");
  assert_rejected (empty_close, sizeof empty_close, "CLOSE");

  long_reason = g_malloc (3 + 2 + PT_CONTROL_MAX_REASON + 1);
  memset (long_reason, 'x', 3 + 2 + PT_CONTROL_MAX_REASON + 1);
  long_reason[0] = PT_CONTROL_CLOSE;
  long_reason[1] = (2 + PT_CONTROL_MAX_REASON + 1) >> 8;
  long_reason[2] = (2 + PT_CONTROL_MAX_REASON + 1) & 0xff;
  long_reason[3] = (PT_CONTROL_MAX_REASON + 1) >> 8;
  long_reason[4] = (PT_CONTROL_MAX_REASON + 1) & 0xff;
  assert_rejected (long_reason, 3 + 2 + PT_CONTROL_MAX_REASON + 1, "513 bytes");

  /* Host length 254 > 253. */
  long_host = g_malloc (3 + 2 + 2 + 254 + 2);
  memset (long_host, 'h', 3 + 2 + 2 + 254 + 2);
  long_host[0] = PT_CONTROL_HELLO;
  long_host[1] = (2 + 2 + 254 + 2) >> 8;
  long_host[2] = (2 + 2 + 254 + 2) & 0xff;
  long_host[3] = 1;
  long_host[4] = 1;
  long_host[5] = 1;
  long_host[6] = 254;
  assert_rejected (long_host, 3 + 2 + 2 + 254 + 2, "host of 254 bytes");
}

static void
test_hello_any_version (void)
{
  /* The codec carries the version; the session decides what to do with it. */
  static const guint8 v7[] = { 1, 0, 7, 7, 1, 2, 1, 'h', 0, 9 };
  g_autoptr(PtControlMessage) msg = decode_one (v7, sizeof v7);
  const PtForwardSpec *spec = g_ptr_array_index (msg->forwards, 0);

  g_assert_cmpuint (msg->version, ==, 7);
  g_assert_cmpint (spec->proto, ==, PT_PROTO_UDP);
  g_assert_cmpstr (spec->host, ==, "h");
  g_assert_cmpuint (spec->port, ==, 9);
}

static void
test_error_sticky (void)
{
  static const guint8 bad[] = { 9, 0, 0 };
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  g_autoptr(PtControlMessage) close_msg = make_close ("fine");
  g_autoptr(GBytes) good = _pt_control_message_encode (close_msg);
  g_autoptr(GError) first = NULL;

  _pt_control_parser_feed (parser, bad, sizeof bad);
  g_assert_null (_pt_control_parser_next (parser, &first));
  g_assert_error (first, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) again = NULL;

      _pt_control_parser_feed (parser, g_bytes_get_data (good, NULL), g_bytes_get_size (good));
      g_assert_null (_pt_control_parser_next (parser, &again));
      g_assert_error (again, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL);
      g_assert_cmpstr (again->message, ==, first->message);
    }
}

static void
test_error_after_good_frame (void)
{
  g_autoptr(PtControlMessage) close_msg = make_close ("fine");
  g_autoptr(GBytes) good = _pt_control_message_encode (close_msg);
  g_autoptr(GByteArray) stream = g_byte_array_new ();
  g_autoptr(PtControlParser) parser = _pt_control_parser_new ();
  g_autoptr(PtControlMessage) msg = NULL;
  g_autoptr(GError) error = NULL;
  static const guint8 bad[] = { 3, 0, 1, 0 };

  g_byte_array_append (stream, g_bytes_get_data (good, NULL), g_bytes_get_size (good));
  g_byte_array_append (stream, bad, sizeof bad);
  _pt_control_parser_feed (parser, stream->data, stream->len);

  msg = _pt_control_parser_next (parser, &error);
  g_assert_no_error (error);
  g_assert_nonnull (msg);
  g_assert_null (_pt_control_parser_next (parser, &error));
  g_assert_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL);
}

static void
test_datagram_header (void)
{
  const guint32 flows[] = { 0, 1, 0x01020304, 0x7fffffff, 0x80000000, G_MAXUINT32 };

  for (gsize i = 0; i < G_N_ELEMENTS (flows); i++)
    {
      guint8 packet[PT_DATAGRAM_HEADER_LEN + 3] = { 0 };
      guint8 forward = 0;
      guint32 flow = 0;
      const guint8 *payload = NULL;
      gsize payload_len = 0;

      g_assert_cmpuint (_pt_datagram_header_write (packet, i * 51, flows[i]), ==,
                        PT_DATAGRAM_HEADER_LEN);
      memcpy (packet + PT_DATAGRAM_HEADER_LEN, "abc", 3);

      g_assert_true (_pt_datagram_header_parse (packet, sizeof packet, &forward, &flow,
                                                &payload, &payload_len));
      g_assert_cmpuint (forward, ==, i * 51);
      g_assert_cmpuint (flow, ==, flows[i]);
      g_assert_true (payload == packet + PT_DATAGRAM_HEADER_LEN);
      g_assert_cmpuint (payload_len, ==, 3);
    }

  {
    guint8 packet[PT_DATAGRAM_HEADER_LEN];

    _pt_datagram_header_write (packet, 200, 0x0a0b0c0d);
    g_assert_cmpmem (packet, sizeof packet, "\xc8\x0a\x0b\x0c\x0d", 5);
  }
}

static void
test_datagram_header_short (void)
{
  static const guint8 packet[PT_DATAGRAM_HEADER_LEN] = { 1, 0, 0, 0, 2 };
  const guint8 *payload = NULL;
  gsize payload_len = 99;
  guint8 forward = 0;
  guint32 flow = 0;

  for (gsize len = 0; len < PT_DATAGRAM_HEADER_LEN; len++)
    g_assert_false (_pt_datagram_header_parse (packet, len, &forward, &flow,
                                               &payload, &payload_len));

  /* Exactly a header: an empty payload is fine. */
  g_assert_true (_pt_datagram_header_parse (packet, sizeof packet, &forward, &flow,
                                            &payload, &payload_len));
  g_assert_cmpuint (forward, ==, 1);
  g_assert_cmpuint (flow, ==, 2);
  g_assert_cmpuint (payload_len, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/control/round-trip/hello", test_round_trip_hello);
  g_test_add_func ("/control/round-trip/hello-limits", test_round_trip_hello_limits);
  g_test_add_func ("/control/round-trip/verdict", test_round_trip_verdict);
  g_test_add_func ("/control/round-trip/close", test_round_trip_close);
  g_test_add_func ("/control/round-trip/vpn", test_round_trip_vpn);
  g_test_add_func ("/control/parser/bad-vpn", test_bad_vpn);
  g_test_add_func ("/control/encode/exact", test_encoding_exact);
  g_test_add_func ("/control/encode/long-reasons-fit", test_long_reasons_fit);
  g_test_add_func ("/control/parser/byte-at-a-time", test_parser_byte_at_a_time);
  g_test_add_func ("/control/parser/two-frames", test_parser_two_frames);
  g_test_add_func ("/control/parser/prefixes", test_parser_prefixes);
  g_test_add_func ("/control/parser/truncations", test_truncations);
  g_test_add_func ("/control/parser/oversize", test_oversize_frame);
  g_test_add_func ("/control/parser/unknown-type", test_unknown_type);
  g_test_add_func ("/control/parser/bad-utf8", test_bad_utf8);
  g_test_add_func ("/control/parser/bad-values", test_bad_values);
  g_test_add_func ("/control/parser/hello-any-version", test_hello_any_version);
  g_test_add_func ("/control/parser/error-sticky", test_error_sticky);
  g_test_add_func ("/control/parser/error-after-good-frame", test_error_after_good_frame);
  g_test_add_func ("/control/datagram/round-trip", test_datagram_header);
  g_test_add_func ("/control/datagram/short", test_datagram_header_short);

  return g_test_run ();
}
