/* test-signal.c — offer/answer codec and armor
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

#define NOW            G_GINT64_CONSTANT (1700000000)
#define HEADER_LEN     52   /* magic, version, kind, session id, timestamp, fingerprint */
#define QR_V10_M_BYTES 213  /* byte-mode capacity of a version 10 QR code at ECC level M */

/* ---------------------------------------------------------------------- */
/* Helpers */

static void
add_candidate (PtSignal    *signal,
               PtPathKind   type,
               PtTransport  transport,
               const char  *foundation,
               const char  *address,
               guint16      port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  PtCandidate c = { 0, };

  g_assert_nonnull (inet);
  c.type = type;
  c.transport = transport;
  c.priority = 2130706431u - signal->candidates->len;
  g_strlcpy (c.foundation, foundation, sizeof c.foundation);
  c.family = g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
  memcpy (c.addr, g_inet_address_to_bytes (inet), g_inet_address_get_native_size (inet));
  c.port = port;
  g_array_append_val (signal->candidates, c);
}

static void
fill_common (PtSignal *signal)
{
  for (guint i = 0; i < PT_SIGNAL_SESSION_ID_LEN; i++)
    signal->session_id[i] = 0xa0 + i;
  for (guint i = 0; i < PT_SIGNAL_FINGERPRINT_LEN; i++)
    signal->fingerprint[i] = i * 7;
  signal->timestamp = NOW;
  /* libnice-like credentials: 4-character ufrag, 22-character password */
  signal->ufrag = g_strdup ("aB3+");
  signal->pwd = g_strdup ("Zq8/xY2w+Lm4Np6Rt0Uv1s");
}

/* The typical offer: 4 candidates (host v4/v6, srflx, relay), one source. */
static PtSignal *
make_offer (void)
{
  PtSignal *signal = pt_signal_new (PT_SIGNAL_KIND_OFFER);

  fill_common (signal);
  add_candidate (signal, PT_PATH_KIND_HOST, PT_TRANSPORT_UDP, "1", "192.168.1.20", 50123);
  add_candidate (signal, PT_PATH_KIND_HOST, PT_TRANSPORT_UDP, "2", "2001:db8::20", 50124);
  add_candidate (signal, PT_PATH_KIND_SRFLX, PT_TRANSPORT_UDP, "3", "203.0.113.7", 61000);
  add_candidate (signal, PT_PATH_KIND_RELAY, PT_TRANSPORT_UDP, "4", "198.51.100.9", 49152);
  g_ptr_array_add (signal->forwards, pt_forward_spec_new (PT_PROTO_TCP, "127.0.0.1", 22));

  return signal;
}

static PtSignal *
make_answer (void)
{
  PtSignal *signal = pt_signal_new (PT_SIGNAL_KIND_ANSWER);

  fill_common (signal);
  add_candidate (signal, PT_PATH_KIND_HOST, PT_TRANSPORT_TCP_PASSIVE, "5", "10.0.0.2", 9);
  add_candidate (signal, PT_PATH_KIND_PRFLX, PT_TRANSPORT_TCP_SO, "ab+/", "fe80::1", 4000);

  return signal;
}

static void
assert_signals_equal (const PtSignal *a,
                      const PtSignal *b)
{
  g_assert_cmpint (a->kind, ==, b->kind);
  g_assert_cmpmem (a->session_id, sizeof a->session_id, b->session_id, sizeof b->session_id);
  g_assert_cmpint (a->timestamp, ==, b->timestamp);
  g_assert_cmpmem (a->fingerprint, sizeof a->fingerprint, b->fingerprint, sizeof b->fingerprint);
  g_assert_cmpstr (a->ufrag, ==, b->ufrag);
  g_assert_cmpstr (a->pwd, ==, b->pwd);

  g_assert_cmpuint (a->candidates->len, ==, b->candidates->len);
  for (guint i = 0; i < a->candidates->len; i++)
    {
      const PtCandidate *ca = &g_array_index (a->candidates, PtCandidate, i);
      const PtCandidate *cb = &g_array_index (b->candidates, PtCandidate, i);
      gsize addr_len = ca->family == 4 ? 4 : 16;

      g_assert_cmpint (ca->type, ==, cb->type);
      g_assert_cmpint (ca->transport, ==, cb->transport);
      g_assert_cmpuint (ca->priority, ==, cb->priority);
      g_assert_cmpstr (ca->foundation, ==, cb->foundation);
      g_assert_cmpuint (ca->family, ==, cb->family);
      g_assert_cmpmem (ca->addr, addr_len, cb->addr, addr_len);
      g_assert_cmpuint (ca->port, ==, cb->port);
    }

  g_assert_cmpuint (a->forwards->len, ==, b->forwards->len);
  for (guint i = 0; i < a->forwards->len; i++)
    {
      const PtForwardSpec *fa = g_ptr_array_index (a->forwards, i);
      const PtForwardSpec *fb = g_ptr_array_index (b->forwards, i);

      g_assert_cmpint (fa->proto, ==, fb->proto);
      g_assert_cmpstr (fa->host, ==, fb->host);
      g_assert_cmpuint (fa->port, ==, fb->port);
    }
}

/* A mutable copy of @signal's encoding. */
static guint8 *
encode_copy (const PtSignal *signal,
             gsize          *len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = pt_signal_encode (signal, &error);

  g_assert_no_error (error);
  g_assert_nonnull (bytes);
  return g_bytes_unref_to_data (g_steal_pointer (&bytes), len);
}

/* Rewrites the checksum after a test patched a field on purpose. */
static void
reseal (guint8 *data,
        gsize   len)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  g_checksum_update (checksum, data, len - 4);
  g_checksum_get_digest (checksum, digest, &digest_len);
  memcpy (data + len - 4, digest, 4);
}

/* Offset of the candidate count in an encoding of @signal. */
static gsize
candidates_offset (const PtSignal *signal)
{
  return HEADER_LEN + 1 + strlen (signal->ufrag) + 1 + strlen (signal->pwd);
}

static void
assert_decode_error (const guint8 *data,
                     gsize         len,
                     PtSignalError code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = pt_signal_decode (data, len, &error);

  g_assert_error (error, PT_SIGNAL_ERROR, (gint) code);
  g_assert_null (decoded);
}

static char *
armor (const PtSignal *signal)
{
  g_autoptr(GError) error = NULL;
  char *text = pt_signal_armor (signal, &error);

  g_assert_no_error (error);
  g_assert_nonnull (text);
  return text;
}

static char *
replace (const char *text,
         const char *from,
         const char *to)
{
  g_auto(GStrv) parts = g_strsplit (text, from, -1);

  return g_strjoinv (to, parts);
}

static void
assert_dearmors_to (const char     *text,
                    PtSignalKind    kind,
                    const PtSignal *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = pt_signal_dearmor (text, kind, &error);

  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  assert_signals_equal (expected, decoded);
}

/* ---------------------------------------------------------------------- */
/* Forward specs */

static void
test_forward_spec_parse (void)
{
  struct { const char *uri; PtProto proto; const char *host; guint16 port; const char *canonical; } cases[] = {
    { "tcp://127.0.0.1:22", PT_PROTO_TCP, "127.0.0.1", 22, "tcp://127.0.0.1:22" },
    { "udp://example.com:53", PT_PROTO_UDP, "example.com", 53, "udp://example.com:53" },
    { "tcp://[::1]:22", PT_PROTO_TCP, "::1", 22, "tcp://[::1]:22" },
    { "udp://[2001:db8::5]:65535", PT_PROTO_UDP, "2001:db8::5", 65535, "udp://[2001:db8::5]:65535" },
    { "TCP://localhost:1", PT_PROTO_TCP, "localhost", 1, "tcp://localhost:1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (cases[i].uri, &error);
      g_autoptr(PtForwardSpec) copy = NULL;
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (spec);
      g_assert_cmpint (spec->proto, ==, cases[i].proto);
      g_assert_cmpstr (spec->host, ==, cases[i].host);
      g_assert_cmpuint (spec->port, ==, cases[i].port);

      text = pt_forward_spec_to_string (spec);
      g_assert_cmpstr (text, ==, cases[i].canonical);

      copy = pt_forward_spec_copy (spec);
      g_assert_true (copy->host != spec->host);
      g_assert_cmpstr (copy->host, ==, spec->host);
      g_assert_cmpint (copy->proto, ==, spec->proto);
      g_assert_cmpuint (copy->port, ==, spec->port);
    }
}

static void
test_forward_spec_bad (void)
{
  g_autofree char *long_host = g_strnfill (PT_SIGNAL_MAX_HOST_LEN + 1, 'a');
  g_autofree char *long_uri = g_strdup_printf ("tcp://%s:22", long_host);
  const char *uris[] = {
    "", "tcp:/x", "ftp://h:21", "tcp//h:22", "tcp://h", "tcp://h:", "tcp://h:0",
    "tcp://h:65536", "tcp://h:123456", "tcp://h:-1", "tcp://h:+22", "tcp://h: 22",
    "tcp://h:22/x", "tcp://a/b:22", "tcp://:22", "tcp://h h:22", "tcp://h\n:22",
    "tcp://h\t:22", "tcp://::1:22", "tcp://[::1:22", "tcp://[::1]22", "tcp://[::1]",
    "tcp://[example.com]:22", "tcp://[127.0.0.1]:22", "tcp://[]:22", "udp://b\xc3\xbc" "cher:80",
    long_uri,
  };

  for (guint i = 0; i < G_N_ELEMENTS (uris); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (uris[i], &error);

      g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
      g_assert_null (spec);
      g_assert_nonnull (strstr (error->message, "is not a source: "));
    }
}

static void
test_forward_spec_message (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse ("tcp:/x", &error);

  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_cmpstr (error->message, ==,
                   "“tcp:/x” is not a source: expected tcp://HOST:PORT or udp://HOST:PORT");
  g_clear_error (&error);

  /* Control characters are escaped, not sent to the terminal. */
  g_clear_pointer (&spec, pt_forward_spec_free);
  spec = pt_forward_spec_parse ("tcp://a\033[2J:22", &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_null (strchr (error->message, '\033'));
}

/* ---------------------------------------------------------------------- */
/* Binary codec */

static void
test_round_trip_offer (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) again = NULL;
  g_autoptr(PtSignal) decoded = NULL;

  bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);

  decoded = pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  assert_signals_equal (offer, decoded);

  again = pt_signal_encode (decoded, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (bytes, again));
}

static void
test_round_trip_answer (void)
{
  g_autoptr(PtSignal) answer = make_answer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(PtSignal) decoded = NULL;

  bytes = pt_signal_encode (answer, &error);
  g_assert_no_error (error);

  decoded = pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  assert_signals_equal (answer, decoded);
  g_assert_cmpuint (decoded->forwards->len, ==, 0);
}

static void
test_round_trip_limits (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(PtSignal) decoded = NULL;
  g_autofree char *host = g_strnfill (PT_SIGNAL_MAX_HOST_LEN, 'h');
  PtCandidate c = g_array_index (offer->candidates, PtCandidate, 0);

  g_array_set_size (offer->candidates, 0);
  for (guint i = 0; i < PT_SIGNAL_MAX_CANDIDATES; i++)
    {
      memset (c.foundation, 'F', 32);
      c.foundation[32] = '\0';
      c.port = 65535;
      c.priority = G_MAXUINT32;
      g_array_append_val (offer->candidates, c);
    }
  g_ptr_array_set_size (offer->forwards, 0);
  for (guint i = 0; i < PT_SIGNAL_MAX_FORWARDS; i++)
    g_ptr_array_add (offer->forwards, pt_forward_spec_new (PT_PROTO_UDP, host, 1 + i));
  g_free (offer->ufrag);
  offer->ufrag = g_strnfill (255, 'u');
  g_free (offer->pwd);
  offer->pwd = g_strnfill (255, '~');
  offer->timestamp = G_MAXINT64;

  bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  decoded = pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);
  assert_signals_equal (offer, decoded);
}

static void
test_typical_offer_size (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(PtForwardSpec) source = pt_forward_spec_parse ("tcp://127.0.0.1:22", &error);

  g_assert_no_error (error);
  g_ptr_array_set_size (offer->forwards, 0);
  g_ptr_array_add (offer->forwards, g_steal_pointer (&source));

  bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  g_test_message ("typical offer: %" G_GSIZE_FORMAT " bytes (QR version 10-M holds %u)",
                  g_bytes_get_size (bytes), QR_V10_M_BYTES);
  g_assert_cmpuint (g_bytes_get_size (bytes), <=, QR_V10_M_BYTES);
}

static void
test_encode_invalid (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = make_answer ();
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GBytes) bytes = NULL;
  PtCandidate *c;

  /* An answer carries no sources. An offer without any asks for VPN mode:
   * it encodes and reads back without sources. */
  g_ptr_array_add (answer->forwards, pt_forward_spec_new (PT_PROTO_TCP, "h", 1));
  bytes = pt_signal_encode (answer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_null (bytes);
  g_clear_error (&error);

  g_ptr_array_set_size (offer->forwards, 0);
  bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  {
    g_autoptr(PtSignal) back = pt_signal_decode (g_bytes_get_data (bytes, NULL),
                                                 g_bytes_get_size (bytes), &error);

    g_assert_no_error (error);
    g_assert_cmpuint (back->forwards->len, ==, 0);
  }
  g_clear_pointer (&bytes, g_bytes_unref);
  g_ptr_array_add (offer->forwards, pt_forward_spec_new (PT_PROTO_TCP, "h", 1));

  /* Bad candidate fields. */
  c = &g_array_index (offer->candidates, PtCandidate, 0);
  c->type = PT_PATH_KIND_NONE;
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  c->type = PT_PATH_KIND_HOST;

  c->family = 5;
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  c->family = 4;

  g_strlcpy (c->foundation, "a-b", sizeof c->foundation);
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);

  memset (c->foundation, 'a', sizeof c->foundation);  /* not NUL-terminated */
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_strlcpy (c->foundation, "1", sizeof c->foundation);

  c->port = 0;
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  c->port = 1;

  /* Credentials: too short or with a space is malformed. */
  g_free (offer->ufrag);
  offer->ufrag = g_strdup ("abc");
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  g_free (offer->ufrag);
  offer->ufrag = g_strdup ("ab cd");
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  g_free (offer->ufrag);
  offer->ufrag = g_strdup ("abcd");

  offer->timestamp = -1;
  bytes = pt_signal_encode (offer, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_clear_error (&error);
  offer->timestamp = NOW;

  bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bytes);
}

static void
test_encode_too_large (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  {
    g_autoptr(PtSignal) offer = make_offer ();
    PtCandidate c = g_array_index (offer->candidates, PtCandidate, 0);

    while (offer->candidates->len <= PT_SIGNAL_MAX_CANDIDATES)
      g_array_append_val (offer->candidates, c);
    bytes = pt_signal_encode (offer, &error);
    g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TOO_LARGE);
    g_assert_null (bytes);
    g_clear_error (&error);
  }
  {
    g_autoptr(PtSignal) offer = make_offer ();

    while (offer->forwards->len <= PT_SIGNAL_MAX_FORWARDS)
      g_ptr_array_add (offer->forwards, pt_forward_spec_new (PT_PROTO_TCP, "h", 1));
    bytes = pt_signal_encode (offer, &error);
    g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }
  {
    g_autoptr(PtSignal) offer = make_offer ();

    g_free (offer->pwd);
    offer->pwd = g_strnfill (256, 'p');
    bytes = pt_signal_encode (offer, &error);
    g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }
  {
    g_autoptr(PtSignal) offer = make_offer ();
    PtForwardSpec *spec = g_ptr_array_index (offer->forwards, 0);

    g_free (spec->host);
    spec->host = g_strnfill (PT_SIGNAL_MAX_HOST_LEN + 1, 'h');
    bytes = pt_signal_encode (offer, &error);
    g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TOO_LARGE);
    g_clear_error (&error);
  }
}

static void
test_error_magic (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);

  data[0] = 'X';
  assert_decode_error (data, len, PT_SIGNAL_ERROR_MALFORMED);
  assert_decode_error (data, 1, PT_SIGNAL_ERROR_MALFORMED);
  assert_decode_error ((const guint8 *) "hello, world", 12, PT_SIGNAL_ERROR_MALFORMED);
}

static void
test_error_version (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = NULL;
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);

  data[2] = 2;
  reseal (data, len);
  decoded = pt_signal_decode (data, len, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_VERSION);
  g_assert_null (decoded);
  g_assert_nonnull (strstr (error->message, "format 2, this one reads 1"));

  /* Checked before anything else a later version may change. */
  assert_decode_error (data, 3, PT_SIGNAL_ERROR_VERSION);
}

static void
test_error_corrupt (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);
  gsize ncand = candidates_offset (offer);

  /* A flipped bit anywhere that does not change the structure. */
  data[30] ^= 0x01;                   /* fingerprint */
  assert_decode_error (data, len, PT_SIGNAL_ERROR_CORRUPT);
  data[30] ^= 0x01;

  data[ncand + 3] ^= 0x80;            /* first candidate's priority */
  assert_decode_error (data, len, PT_SIGNAL_ERROR_CORRUPT);
  data[ncand + 3] ^= 0x80;

  data[len - 1] ^= 0xff;              /* the checksum itself */
  assert_decode_error (data, len, PT_SIGNAL_ERROR_CORRUPT);
  data[len - 1] ^= 0xff;

  /* An altered address family: structure unknown, checksum wrong. */
  data[ncand + 1 + 1 + 4 + 1 + 1] = 5;
  assert_decode_error (data, len, PT_SIGNAL_ERROR_CORRUPT);
}

static void
test_error_truncated (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);

  /* Each prefix in its own allocation, so that ASan sees any over-read. */
  for (gsize n = 0; n < len; n++)
    {
      g_autofree guint8 *prefix = g_memdup2 (data, n);

      assert_decode_error (prefix, n, PT_SIGNAL_ERROR_TRUNCATED);
    }
}

static void
test_error_trailing (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = NULL;
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);
  g_autofree guint8 *longer = g_malloc0 (len + 3);

  memcpy (longer, data, len);
  decoded = pt_signal_decode (longer, len + 3, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "trailing"));
}

static void
test_error_malformed_fields (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  gsize len;
  g_autofree guint8 *data = encode_copy (offer, &len);
  g_autofree guint8 *copy = NULL;
  gsize ncand = candidates_offset (offer);
  gsize first = ncand + 1;  /* first candidate's type/transport byte */
  struct { gsize offset; guint8 value; } patches[] = {
    { 3, 3 },                              /* kind */
    { 3, PT_SIGNAL_KIND_ANSWER },          /* an answer with a source */
    { 12, 0x80 },                          /* timestamp beyond gint64 */
    { HEADER_LEN + 1, ' ' },               /* space in the ufrag */
    { ncand - 1, 0x7f },                   /* DEL in the password */
    { ncand - 1, 0 },                      /* NUL in the password */
    { first, 0x40 },                       /* candidate type 4 */
    { first, 0x04 },                       /* transport 4 */
    { first + 1 + 4 + 1, '-' },            /* foundation character */
    { first + 1 + 4 + 1 + 1, 5 },          /* address family */
    { len - 4 - 2 - 9 - 1 - 1, 3 },        /* source protocol */
    { len - 4 - 2 - 9 + 3, ' ' },          /* space in the host */
  };

  for (guint i = 0; i < G_N_ELEMENTS (patches); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSignal) decoded = NULL;

      g_clear_pointer (&copy, g_free);
      copy = g_memdup2 (data, len);
      copy[patches[i].offset] = patches[i].value;
      reseal (copy, len);
      decoded = pt_signal_decode (copy, len, &error);
      g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
      g_assert_null (decoded);
    }

  /* Port 0 needs both bytes. */
  g_clear_pointer (&copy, g_free);
  copy = g_memdup2 (data, len);
  copy[len - 4 - 2] = 0;
  copy[len - 4 - 1] = 0;
  reseal (copy, len);
  assert_decode_error (copy, len, PT_SIGNAL_ERROR_MALFORMED);

  /* Too many candidates: the count is structure, so lengths no longer add up. */
  g_clear_pointer (&copy, g_free);
  copy = g_memdup2 (data, len);
  copy[ncand] = PT_SIGNAL_MAX_CANDIDATES + 1;
  reseal (copy, len);
  assert_decode_error (copy, len, PT_SIGNAL_ERROR_MALFORMED);
}

static void
test_check_fresh (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_signal_check_fresh (offer, NOW, &error));
  g_assert_no_error (error);
  g_assert_true (pt_signal_check_fresh (offer, NOW + PT_SIGNAL_FRESH_SECONDS, &error));
  g_assert_no_error (error);
  g_assert_true (pt_signal_check_fresh (offer, NOW - PT_SIGNAL_SKEW_SECONDS, &error));
  g_assert_no_error (error);
}

static void
test_error_stale (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(PtSignal) answer = make_answer ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_signal_check_fresh (offer, NOW + PT_SIGNAL_FRESH_SECONDS + 1, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE);
  g_assert_cmpstr (error->message, ==,
                   "the offer is 16 minutes old (limit 15): ask the peer for a fresh one");
  g_clear_error (&error);

  g_assert_false (pt_signal_check_fresh (answer, NOW + 3600, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE);
  g_assert_true (g_str_has_prefix (error->message, "the answer is 60 minutes old"));
  g_clear_error (&error);

  /* No overflow at the extremes. */
  offer->timestamp = 0;
  g_assert_false (pt_signal_check_fresh (offer, G_MAXINT64, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE);
}

static void
test_error_future (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_signal_check_fresh (offer, NOW - PT_SIGNAL_SKEW_SECONDS - 1, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_FUTURE);
  g_assert_cmpstr (error->message, ==,
                   "the offer is dated 121 s in the future: check the clocks on both machines");
  g_clear_error (&error);

  offer->timestamp = G_MAXINT64;
  g_assert_false (pt_signal_check_fresh (offer, G_MININT64, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_FUTURE);
}

/* ---------------------------------------------------------------------- */
/* Armor */

static void
test_armor_round_trip (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(PtSignal) answer = make_answer ();
  g_autofree char *offer_text = armor (offer);
  g_autofree char *answer_text = armor (answer);
  g_auto(GStrv) lines = g_strsplit (offer_text, "\n", -1);
  guint n_lines = g_strv_length (lines);

  g_assert_true (g_str_has_prefix (offer_text, "-----BEGIN PEERTUNNEL OFFER-----\n"));
  g_assert_true (g_str_has_suffix (offer_text, "\n-----END PEERTUNNEL OFFER-----\n"));
  g_assert_true (g_str_has_prefix (answer_text, "-----BEGIN PEERTUNNEL ANSWER-----\n"));
  g_assert_true (g_str_has_suffix (answer_text, "\n-----END PEERTUNNEL ANSWER-----\n"));

  /* BEGIN, body lines of 64 columns but the last, END, "" after the final newline */
  g_assert_cmpuint (n_lines, >=, 4);
  for (guint i = 1; i + 3 < n_lines; i++)
    g_assert_cmpuint (strlen (lines[i]), ==, 64);
  g_assert_cmpuint (strlen (lines[n_lines - 3]), <=, 64);
  g_assert_cmpuint (strlen (lines[n_lines - 3]), >, 0);

  assert_dearmors_to (offer_text, PT_SIGNAL_KIND_OFFER, offer);
  assert_dearmors_to (answer_text, PT_SIGNAL_KIND_ANSWER, answer);
}

static void
test_dearmor_crlf (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_autofree char *crlf = replace (text, "\n", "\r\n");
  g_autofree char *spaces = replace (text, "\n", "   \n\n  \t");

  assert_dearmors_to (crlf, PT_SIGNAL_KIND_OFFER, offer);
  assert_dearmors_to (spaces, PT_SIGNAL_KIND_OFFER, offer);
}

static void
test_dearmor_rewrapped (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GString) base64 = g_string_new (NULL);
  g_autoptr(GString) rewrapped = g_string_new ("  -----BEGIN PEERTUNNEL OFFER-----\n");
  g_autofree char *one_line = NULL;

  for (guint i = 1; lines[i] != NULL && !g_str_has_prefix (lines[i], "-----END"); i++)
    g_string_append (base64, lines[i]);

  for (gsize i = 0; i < base64->len; i += 40)
    {
      g_string_append (rewrapped, "  ");
      g_string_append_len (rewrapped, base64->str + i, MIN (40, base64->len - i));
      g_string_append_c (rewrapped, '\n');
    }
  g_string_append (rewrapped, "  -----END PEERTUNNEL OFFER-----\n");
  assert_dearmors_to (rewrapped->str, PT_SIGNAL_KIND_OFFER, offer);

  /* A chat client that turned line breaks into spaces. */
  one_line = replace (text, "\n", " ");
  assert_dearmors_to (one_line, PT_SIGNAL_KIND_OFFER, offer);

  /* Padding dropped by some tool. */
  while (base64->str[base64->len - 1] == '=')
    g_string_truncate (base64, base64->len - 1);
  g_string_prepend (base64, "-----BEGIN PEERTUNNEL OFFER-----\n");
  g_string_append (base64, "\n-----END PEERTUNNEL OFFER-----\n");
  assert_dearmors_to (base64->str, PT_SIGNAL_KIND_OFFER, offer);
}

static void
test_dearmor_quoted (void)
{
  g_autoptr(PtSignal) answer = make_answer ();
  g_autofree char *text = armor (answer);
  const char *prefixes[] = { "> ", ">> ", ">", "> > ", ">>", "  >\t" };

  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autofree char *joiner = g_strconcat ("\n", prefixes[i], NULL);
      g_autofree char *quoted_body = replace (text, "\n", joiner);
      g_autofree char *quoted = g_strconcat ("On Monday, Bob wrote:\n", prefixes[i],
                                             quoted_body, "\n\nThanks!\n", NULL);

      assert_dearmors_to (quoted, PT_SIGNAL_KIND_ANSWER, answer);
    }
}

static void
test_dearmor_chatter (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_autofree char *chatter = g_strconcat ("hey, here is my offer:\n\n[10:31] alice: ", text,
                                          "\nlet me know when it works -----\n", NULL);

  assert_dearmors_to (chatter, PT_SIGNAL_KIND_OFFER, offer);
}

static void
test_dearmor_reposted (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_autofree char *cut = g_strndup (text, strlen (text) / 2);
  g_autofree char *both = g_strconcat (cut, "\noops, again:\n", text, NULL);

  /* A half-copied block followed by the full one: the last BEGIN wins. */
  assert_dearmors_to (both, PT_SIGNAL_KIND_OFFER, offer);
}

static void
test_error_wrong_kind (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autoptr(PtSignal) answer = make_answer ();
  g_autofree char *offer_text = armor (offer);
  g_autofree char *answer_text = armor (answer);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = NULL;

  decoded = pt_signal_dearmor (offer_text, PT_SIGNAL_KIND_ANSWER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND);
  g_assert_null (decoded);
  g_assert_cmpstr (error->message, ==,
                   "this is an offer, but an answer was expected: paste the block the server printed");
  g_clear_error (&error);

  decoded = pt_signal_dearmor (answer_text, PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND);
  g_assert_null (decoded);
}

static void
test_error_label_mismatch (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_autofree char *relabelled = replace (text, "OFFER", "ANSWER");
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = NULL;

  /* The armor says answer, the payload says offer. */
  decoded = pt_signal_dearmor (relabelled, PT_SIGNAL_KIND_ANSWER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_null (decoded);
}

static void
test_error_no_block (void)
{
  const char *inputs[] = {
    "", "hello", "\n\n\n", "-----END PEERTUNNEL OFFER-----\n",
    "-----BEGIN PGP MESSAGE-----\nabcd\n-----END PGP MESSAGE-----\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSignal) decoded = pt_signal_dearmor (inputs[i], PT_SIGNAL_KIND_OFFER, &error);

      g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_NO_BLOCK);
      g_assert_null (decoded);
      g_assert_cmpstr (error->message, ==,
                       "no -----BEGIN PEERTUNNEL OFFER----- block found in the input");
    }
}

static void
test_error_armor_truncated (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  gsize len = strlen (text);
  gsize marker_len = strlen ("-----BEGIN PEERTUNNEL ");

  /* Every cut but the final newline's. */
  for (gsize n = 0; n + 1 < len; n++)
    {
      g_autofree char *prefix = g_strndup (text, n);
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSignal) decoded = pt_signal_dearmor (prefix, PT_SIGNAL_KIND_OFFER, &error);

      g_assert_null (decoded);
      if (n < marker_len)
        g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_NO_BLOCK);
      else
        g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TRUNCATED);
    }
}

static void
test_error_bad_armor (void)
{
  g_autoptr(PtSignal) offer = make_offer ();
  g_autofree char *text = armor (offer);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) decoded = NULL;
  g_autofree char *mixed = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *damaged_begin = NULL;
  g_autofree char *missing_char = NULL;

  /* END of the other kind */
  mixed = replace (text, "END PEERTUNNEL OFFER", "END PEERTUNNEL ANSWER");
  decoded = pt_signal_dearmor (mixed, PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_assert_null (decoded);
  g_clear_error (&error);

  /* A character outside base64 on line 3 of the input (line 2 of the body) */
  lines[2][10] = '!';
  joined = g_strjoinv ("\n", lines);
  decoded = pt_signal_dearmor (joined, PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_assert_nonnull (strstr (error->message, "line 3"));
  g_assert_nonnull (strstr (error->message, "“!”"));
  g_clear_error (&error);

  /* Damaged BEGIN line */
  damaged_begin = replace (text, "BEGIN PEERTUNNEL OFFER", "BEGIN PEERTUNNEL OFFFER");
  decoded = pt_signal_dearmor (damaged_begin, PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_clear_error (&error);

  /* Empty body */
  decoded = pt_signal_dearmor ("-----BEGIN PEERTUNNEL OFFER-----\n-----END PEERTUNNEL OFFER-----\n",
                               PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_clear_error (&error);

  /* Base64 length that no encoder makes */
  decoded = pt_signal_dearmor ("-----BEGIN PEERTUNNEL OFFER-----\nUFQBAQ\nAAA\n-----END PEERTUNNEL OFFER-----\n",
                               PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_clear_error (&error);

  /* Text after padding */
  decoded = pt_signal_dearmor ("-----BEGIN PEERTUNNEL OFFER-----\nUFQ=AQ\n-----END PEERTUNNEL OFFER-----\n",
                               PT_SIGNAL_KIND_OFFER, &error);
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR);
  g_clear_error (&error);

  /* A lost character reaches the binary decoder, which notices. */
  missing_char = g_strdup (text);
  memmove (missing_char + 40, missing_char + 41, strlen (missing_char + 41) + 1);
  decoded = pt_signal_dearmor (missing_char, PT_SIGNAL_KIND_OFFER, &error);
  g_assert_nonnull (error);
  g_assert_null (decoded);
}

static void
test_is_end_line (void)
{
  const char *yes[] = {
    "-----END PEERTUNNEL OFFER-----",
    "-----END PEERTUNNEL ANSWER-----",
    "-----END PEERTUNNEL OFFER-----\n",
    "-----END PEERTUNNEL ANSWER-----\r\n",
    "> -----END PEERTUNNEL OFFER-----",
    ">> -----END PEERTUNNEL OFFER-----  ",
    ">-----END PEERTUNNEL ANSWER-----",
    "    -----END PEERTUNNEL OFFER-----\t\r\n",
  };
  const char *no[] = {
    "", "\n", "-----BEGIN PEERTUNNEL OFFER-----", "-----END PEERTUNNEL FOO-----",
    "-----END PEERTUNNEL OFFER----", "-----END PGP MESSAGE-----", "UFQBAQ==",
  };

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    g_assert_true (pt_signal_is_end_line (yes[i]));
  for (guint i = 0; i < G_N_ELEMENTS (no); i++)
    g_assert_false (pt_signal_is_end_line (no[i]));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/signal/forward-spec/parse", test_forward_spec_parse);
  g_test_add_func ("/signal/forward-spec/bad", test_forward_spec_bad);
  g_test_add_func ("/signal/forward-spec/message", test_forward_spec_message);

  g_test_add_func ("/signal/codec/round-trip-offer", test_round_trip_offer);
  g_test_add_func ("/signal/codec/round-trip-answer", test_round_trip_answer);
  g_test_add_func ("/signal/codec/round-trip-limits", test_round_trip_limits);
  g_test_add_func ("/signal/codec/typical-offer-size", test_typical_offer_size);
  g_test_add_func ("/signal/codec/encode-invalid", test_encode_invalid);
  g_test_add_func ("/signal/codec/encode-too-large", test_encode_too_large);
  g_test_add_func ("/signal/codec/error-magic", test_error_magic);
  g_test_add_func ("/signal/codec/error-version", test_error_version);
  g_test_add_func ("/signal/codec/error-corrupt", test_error_corrupt);
  g_test_add_func ("/signal/codec/error-truncated", test_error_truncated);
  g_test_add_func ("/signal/codec/error-trailing", test_error_trailing);
  g_test_add_func ("/signal/codec/error-malformed-fields", test_error_malformed_fields);

  g_test_add_func ("/signal/fresh/ok", test_check_fresh);
  g_test_add_func ("/signal/fresh/stale", test_error_stale);
  g_test_add_func ("/signal/fresh/future", test_error_future);

  g_test_add_func ("/signal/armor/round-trip", test_armor_round_trip);
  g_test_add_func ("/signal/armor/crlf", test_dearmor_crlf);
  g_test_add_func ("/signal/armor/rewrapped", test_dearmor_rewrapped);
  g_test_add_func ("/signal/armor/quoted", test_dearmor_quoted);
  g_test_add_func ("/signal/armor/chatter", test_dearmor_chatter);
  g_test_add_func ("/signal/armor/reposted", test_dearmor_reposted);
  g_test_add_func ("/signal/armor/error-wrong-kind", test_error_wrong_kind);
  g_test_add_func ("/signal/armor/error-label-mismatch", test_error_label_mismatch);
  g_test_add_func ("/signal/armor/error-no-block", test_error_no_block);
  g_test_add_func ("/signal/armor/error-truncated", test_error_armor_truncated);
  g_test_add_func ("/signal/armor/error-bad-armor", test_error_bad_armor);
  g_test_add_func ("/signal/armor/is-end-line", test_is_end_line);

  return g_test_run ();
}
