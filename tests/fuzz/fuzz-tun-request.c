/* fuzz-tun-request.c — the TUN helper's request and reply decoders
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The request parser runs as root on bytes from an unprivileged process. Besides
 * "no crash, no leak": a refusal always names a field and says something printable;
 * an accepted request re-validates, and formats to bytes that parse back to the same
 * request; the same for replies (which the engine parses).
 *
 * The codec is compiled in here (it is libc-only and small) rather than linked,
 * so that this target needs no other build wiring than its name in meson.build.
 */
#include "../../helper/pt-tun-request.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t         size);

static void
check_error (const PtTunError *error)
{
  if (error->field[0] == '\0' || error->message[0] == '\0')
    abort ();
  for (const char *p = error->message; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e)
      abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  PtTunRequest request, again;
  PtTunReply reply, reply_again;
  PtTunError error;
  char text[PT_TUN_MESSAGE_MAX + 1];
  int len;

  memset (&error, 0, sizeof error);
  if (pt_tun_request_parse ((const char *) data, size, &request, &error) == 0)
    {
      if (pt_tun_request_validate (&request, &error) != 0)
        abort ();
      len = pt_tun_request_format (&request, text, sizeof text);
      if (len < 0 || (size_t) len > PT_TUN_MESSAGE_MAX)
        abort ();
      if (pt_tun_request_parse (text, (size_t) len, &again, &error) != 0)
        abort ();
      if (memcmp (&request, &again, sizeof request) != 0)
        abort ();
    }
  else
    check_error (&error);

  memset (&error, 0, sizeof error);
  if (pt_tun_reply_parse ((const char *) data, size, &reply, &error) == 0)
    {
      len = pt_tun_reply_format (&reply, text, sizeof text);
      if (len < 0)
        abort ();
      if (pt_tun_reply_parse (text, (size_t) len, &reply_again, &error) != 0)
        abort ();
      if (reply.status != reply_again.status || reply.ifindex != reply_again.ifindex
          || strcmp (reply.ifname, reply_again.ifname) != 0
          || strcmp (reply.error.message, reply_again.error.message) != 0)
        abort ();
    }
  else
    check_error (&error);

  return 0;
}
