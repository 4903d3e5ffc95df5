/* fuzz-control.c — the control stream decoder and the datagram header
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: one byte giving the chunk size (0 = everything at once), then the bytes
 * of a control stream. The stream is fed to a parser in chunks of that size and
 * every complete message is drained as soon as it can be. Each message must
 * re-encode to exactly the frame it came from (the encoding is canonical) and the
 * re-encoding must decode to the same message. The whole input is also read as
 * a datagram header, which must write back byte for byte.
 */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "pt-control-private.h"

static void
assert_same_message (const PtControlMessage *a,
                     const PtControlMessage *b)
{
  g_assert (a->type == b->type);

  switch (a->type)
    {
    case PT_CONTROL_HELLO:
      g_assert (a->version == b->version);
      g_assert (a->forwards->len == b->forwards->len);
      for (guint i = 0; i < a->forwards->len; i++)
        {
          const PtForwardSpec *fa = g_ptr_array_index (a->forwards, i);
          const PtForwardSpec *fb = g_ptr_array_index (b->forwards, i);

          g_assert (fa->proto == fb->proto);
          g_assert (g_str_equal (fa->host, fb->host));
          g_assert (fa->port == fb->port);
        }
      break;

    case PT_CONTROL_VERDICT:
      g_assert (a->verdicts->len == b->verdicts->len);
      for (guint i = 0; i < a->verdicts->len; i++)
        {
          const PtVerdict *va = g_ptr_array_index (a->verdicts, i);
          const PtVerdict *vb = g_ptr_array_index (b->verdicts, i);

          g_assert (va->accepted == vb->accepted);
          g_assert (g_str_equal (va->reason, vb->reason));
        }
      break;

    case PT_CONTROL_CLOSE:
      g_assert (g_str_equal (a->reason, b->reason));
      break;

    case PT_CONTROL_VPN_HELLO:
      g_assert (a->vpn_flags == b->vpn_flags);
      break;

    case PT_CONTROL_VPN_CONFIG:
      g_assert (memcmp (&a->vpn, &b->vpn, sizeof a->vpn) == 0);
      break;
    }
}

/* Checks @msg, which was decoded from the frame at @frame, and returns that frame's length. */
static gsize
check_message (const PtControlMessage *msg,
               const guint8           *frame,
               gsize                   available)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(PtControlParser) again = NULL;
  g_autoptr(PtControlMessage) copy = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *encoded;
  gsize len;

  bytes = _pt_control_message_encode (msg);
  g_assert (bytes != NULL);
  encoded = g_bytes_get_data (bytes, &len);

  /* Canonical: the same bytes that were received. */
  g_assert (len <= available);
  g_assert (memcmp (encoded, frame, len) == 0);

  again = _pt_control_parser_new ();
  _pt_control_parser_feed (again, encoded, len);
  copy = _pt_control_parser_next (again, &error);
  g_assert (error == NULL);
  g_assert (copy != NULL);
  assert_same_message (msg, copy);
  g_assert (_pt_control_parser_next (again, &error) == NULL);
  g_assert (error == NULL);

  return len;
}

static void
check_datagram (const uint8_t *data,
                size_t         size)
{
  guint8 forward = 0;
  guint32 flow = 0;
  const guint8 *payload = NULL;
  gsize payload_len = 0;
  guint8 header[PT_DATAGRAM_HEADER_LEN];

  if (!_pt_datagram_header_parse (data, size, &forward, &flow, &payload, &payload_len))
    {
      g_assert (size < PT_DATAGRAM_HEADER_LEN);
      return;
    }

  g_assert (payload == data + PT_DATAGRAM_HEADER_LEN);
  g_assert (payload_len == size - PT_DATAGRAM_HEADER_LEN);
  g_assert (_pt_datagram_header_write (header, forward, flow) == PT_DATAGRAM_HEADER_LEN);
  g_assert (memcmp (header, data, PT_DATAGRAM_HEADER_LEN) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(PtControlParser) parser = NULL;
  g_autoptr(GError) first_error = NULL;
  const guint8 *stream;
  gsize stream_len, chunk, fed = 0, consumed = 0;

  check_datagram (data, size);

  if (size < 1)
    return 0;

  chunk = data[0] != 0 ? data[0] : size;
  stream = data + 1;
  stream_len = size - 1;

  parser = _pt_control_parser_new ();

  while (fed < stream_len)
    {
      gsize n = MIN (chunk, stream_len - fed);

      _pt_control_parser_feed (parser, stream + fed, n);
      fed += n;

      for (;;)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PtControlMessage) msg = _pt_control_parser_next (parser, &error);

          if (msg == NULL)
            {
              if (error != NULL)
                {
                  g_assert (error->domain == PT_TUNNEL_ERROR);
                  g_assert (error->code == PT_TUNNEL_ERROR_PROTOCOL);
                  g_assert (g_utf8_validate (error->message, -1, NULL));
                  /* Sticky: the same error again. */
                  if (first_error != NULL)
                    g_assert (g_str_equal (first_error->message, error->message));
                  else
                    first_error = g_steal_pointer (&error);
                }
              break;
            }

          g_assert (first_error == NULL);
          consumed += check_message (msg, stream + consumed, fed - consumed);
        }
    }

  return 0;
}
