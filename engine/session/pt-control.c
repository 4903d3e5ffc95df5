/* pt-control.c — the tunnel protocol's control messages and datagram header
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O: bytes in, messages out, and back. The format is described in
 * docs/protocol.md ("Tunnel protocol"); in short, every control message is a
 * frame `u8 type | u16 length | payload` (big endian) and the length is at
 * most PT_CONTROL_MAX_FRAME:
 *
 *   HELLO    u8 version | u8 n (1..16) | n × (u8 proto | u8 hostlen | host | u16 port)
 *   VERDICT  u8 n (1..16) | n × (u8 accepted | u16 reasonlen | UTF-8 reason)
 *   CLOSE    u16 reasonlen | UTF-8 reason
 *   VPN_HELLO   u8 version | u8 flags (bit 0: wants IPv6; others 0)
 *   VPN_CONFIG  u16 mtu | addr4 (4) | u8 prefix4 | server4 (4) | u8 has_v6 |
 *               [addr6 (16) | u8 prefix6 | server6 (16)] | u8 n_dns (0..4) |
 *               n_dns × (u8 family 4|6 | 4 or 16 address bytes)
 *
 * The encoder is given messages the engine built itself: a HELLO must hold
 * 1..PT_SIGNAL_MAX_FORWARDS valid forwards (anything else is a programming
 * error and returns NULL with a critical); over-long reasons are cut at a
 * character boundary so that every frame fits PT_CONTROL_MAX_FRAME.
 */
#define G_LOG_DOMAIN "pt-control"

#include "config.h"

#include <string.h>

#include "pt-control-private.h"

#define FRAME_HEADER_LEN 3

struct _PtControlParser
{
  GByteArray *buffer;
  GError     *error;        /* sticky once set */
};

static const char *
type_to_string (PtControlType type)
{
  switch (type)
    {
    case PT_CONTROL_HELLO:   return "HELLO";
    case PT_CONTROL_VERDICT: return "VERDICT";
    case PT_CONTROL_CLOSE:   return "CLOSE";
    case PT_CONTROL_VPN_HELLO:  return "VPN_HELLO";
    case PT_CONTROL_VPN_CONFIG: return "VPN_CONFIG";
    }
  return "unknown";
}

static gboolean
type_is_known (guint type)
{
  return type == PT_CONTROL_HELLO ||
         type == PT_CONTROL_VERDICT ||
         type == PT_CONTROL_CLOSE ||
         type == PT_CONTROL_VPN_HELLO ||
         type == PT_CONTROL_VPN_CONFIG;
}

/* Messages */

static void
pt_verdict_free (PtVerdict *verdict)
{
  g_free (verdict->reason);
  g_free (verdict);
}

PtControlMessage *
_pt_control_message_new (PtControlType type)
{
  PtControlMessage *msg = g_new0 (PtControlMessage, 1);

  msg->type = type;
  msg->version = PT_CONTROL_VERSION;
  msg->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);
  msg->verdicts = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_verdict_free);
  msg->reason = g_strdup ("");

  return msg;
}

void
_pt_control_message_free (PtControlMessage *msg)
{
  if (msg == NULL)
    return;

  g_clear_pointer (&msg->forwards, g_ptr_array_unref);
  g_clear_pointer (&msg->verdicts, g_ptr_array_unref);
  g_clear_pointer (&msg->reason, g_free);
  g_free (msg);
}

void
_pt_control_message_add_verdict (PtControlMessage *msg,
                                 gboolean          accepted,
                                 const char       *reason)
{
  PtVerdict *verdict;

  g_return_if_fail (msg != NULL);
  g_return_if_fail (reason == NULL || g_utf8_validate (reason, -1, NULL));

  verdict = g_new0 (PtVerdict, 1);
  verdict->accepted = !!accepted;
  verdict->reason = g_strdup (reason != NULL ? reason : "");
  g_ptr_array_add (msg->verdicts, verdict);
}

/* Encoding */

static void
put_u8 (GByteArray *out,
        guint8      value)
{
  g_byte_array_append (out, &value, 1);
}

static void
put_u16 (GByteArray *out,
         guint16     value)
{
  guint8 bytes[2] = { value >> 8, value & 0xff };

  g_byte_array_append (out, bytes, 2);
}

/* Writes u16 length + at most @budget bytes of @reason, cut at a character boundary. */
static void
put_reason (GByteArray *out,
            const char *reason,
            gsize       budget)
{
  gsize len;

  if (reason == NULL)
    reason = "";

  len = strlen (reason);
  if (len > budget)
    {
      const char *end = reason + budget;

      /* Back up to the start of the character that would be split. */
      while (end > reason && ((guchar) *end & 0xc0) == 0x80)
        end--;
      len = end - reason;
    }

  put_u16 (out, len);
  g_byte_array_append (out, (const guint8 *) reason, len);
}

static gboolean
host_is_valid (const char *host)
{
  gsize len;

  if (host == NULL)
    return FALSE;

  len = strlen (host);
  if (len < 1 || len > PT_SIGNAL_MAX_HOST_LEN)
    return FALSE;

  for (gsize i = 0; i < len; i++)
    if ((guchar) host[i] <= 0x20 || (guchar) host[i] >= 0x7f)
      return FALSE;

  return TRUE;
}

GBytes *
_pt_control_message_encode (const PtControlMessage *msg)
{
  g_autoptr(GByteArray) out = NULL;
  gsize payload_len;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (type_is_known (msg->type), NULL);

  out = g_byte_array_sized_new (64);
  put_u8 (out, msg->type);
  put_u16 (out, 0);                     /* length, filled in below */

  switch (msg->type)
    {
    case PT_CONTROL_HELLO:
      g_return_val_if_fail (msg->forwards != NULL, NULL);
      g_return_val_if_fail (msg->forwards->len >= 1, NULL);
      g_return_val_if_fail (msg->forwards->len <= PT_SIGNAL_MAX_FORWARDS, NULL);

      put_u8 (out, msg->version);
      put_u8 (out, msg->forwards->len);
      for (guint i = 0; i < msg->forwards->len; i++)
        {
          const PtForwardSpec *spec = g_ptr_array_index (msg->forwards, i);

          g_return_val_if_fail (spec->proto == PT_PROTO_TCP || spec->proto == PT_PROTO_UDP, NULL);
          g_return_val_if_fail (host_is_valid (spec->host), NULL);
          g_return_val_if_fail (spec->port != 0, NULL);

          put_u8 (out, spec->proto);
          put_u8 (out, strlen (spec->host));
          g_byte_array_append (out, (const guint8 *) spec->host, strlen (spec->host));
          put_u16 (out, spec->port);
        }
      break;

    case PT_CONTROL_VERDICT:
      {
        guint n;
        gsize budget;

        g_return_val_if_fail (msg->verdicts != NULL, NULL);
        g_return_val_if_fail (msg->verdicts->len >= 1, NULL);
        g_return_val_if_fail (msg->verdicts->len <= PT_SIGNAL_MAX_FORWARDS, NULL);

        /* Reasons are cut to PT_CONTROL_MAX_REASON; if they still do not fit
         * in one frame together, each gets an equal share of it. */
        n = msg->verdicts->len;
        budget = PT_CONTROL_MAX_REASON;
        payload_len = 1 + 3 * n;
        for (guint i = 0; i < n; i++)
          {
            const PtVerdict *verdict = g_ptr_array_index (msg->verdicts, i);

            payload_len += MIN (budget, verdict->reason != NULL ? strlen (verdict->reason) : 0);
          }
        if (payload_len > PT_CONTROL_MAX_FRAME)
          budget = (PT_CONTROL_MAX_FRAME - 1 - 3 * n) / n;

        put_u8 (out, n);
        for (guint i = 0; i < n; i++)
          {
            const PtVerdict *verdict = g_ptr_array_index (msg->verdicts, i);

            put_u8 (out, verdict->accepted ? 1 : 0);
            put_reason (out, verdict->reason, budget);
          }
      }
      break;

    case PT_CONTROL_CLOSE:
      put_reason (out, msg->reason, PT_CONTROL_MAX_REASON);
      break;

    case PT_CONTROL_VPN_HELLO:
      put_u8 (out, msg->version);
      put_u8 (out, msg->vpn_flags);
      break;

    case PT_CONTROL_VPN_CONFIG:
      {
        const PtVpnConfig *c = &msg->vpn;

        g_return_val_if_fail (c->n_dns <= PT_VPN_MAX_DNS, NULL);
        put_u16 (out, c->mtu);
        g_byte_array_append (out, c->addr4, 4);
        put_u8 (out, c->prefix4);
        g_byte_array_append (out, c->server4, 4);
        put_u8 (out, c->has_v6 ? 1 : 0);
        if (c->has_v6)
          {
            g_byte_array_append (out, c->addr6, 16);
            put_u8 (out, c->prefix6);
            g_byte_array_append (out, c->server6, 16);
          }
        put_u8 (out, c->n_dns);
        for (guint i = 0; i < c->n_dns; i++)
          {
            g_return_val_if_fail (c->dns_family[i] == 4 || c->dns_family[i] == 6, NULL);
            put_u8 (out, c->dns_family[i]);
            g_byte_array_append (out, c->dns[i], c->dns_family[i] == 4 ? 4 : 16);
          }
      }
      break;
    }

  payload_len = out->len - FRAME_HEADER_LEN;
  /* Only a HELLO of many very long host names can get here. */
  g_return_val_if_fail (payload_len <= PT_CONTROL_MAX_FRAME, NULL);

  out->data[1] = payload_len >> 8;
  out->data[2] = payload_len & 0xff;

  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* Decoding */

typedef struct
{
  const guint8 *data;
  gsize         len;
  gsize         pos;
} Reader;

static gboolean
get_u8 (Reader *r,
        guint8 *value)
{
  if (r->len - r->pos < 1)
    return FALSE;
  *value = r->data[r->pos++];
  return TRUE;
}

static gboolean
get_u16 (Reader  *r,
         guint16 *value)
{
  if (r->len - r->pos < 2)
    return FALSE;
  *value = (guint16) ((r->data[r->pos] << 8) | r->data[r->pos + 1]);
  r->pos += 2;
  return TRUE;
}

static gboolean
get_bytes (Reader        *r,
           gsize          n,
           const guint8 **bytes)
{
  if (r->len - r->pos < n)
    return FALSE;
  *bytes = r->data + r->pos;
  r->pos += n;
  return TRUE;
}

G_GNUC_PRINTF (2, 3)
static void
set_protocol_error (GError     **error,
                    const char  *format,
                    ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL, message);
}

/* A reason: u16 length, UTF-8 text of at most PT_CONTROL_MAX_REASON bytes. */
static char *
get_reason (Reader      *r,
            const char  *what,
            GError     **error)
{
  guint16 len;
  const guint8 *bytes;

  if (!get_u16 (r, &len) || !get_bytes (r, len, &bytes))
    {
      set_protocol_error (error, "%s ends inside its reason", what);
      return NULL;
    }

  if (len > PT_CONTROL_MAX_REASON)
    {
      set_protocol_error (error, "%s has a reason of %u bytes (at most %u)",
                          what, len, PT_CONTROL_MAX_REASON);
      return NULL;
    }

  /* Also rejects NUL bytes. */
  if (!g_utf8_validate_len ((const char *) bytes, len, NULL))
    {
      set_protocol_error (error, "%s has a reason that is not valid UTF-8 text", what);
      return NULL;
    }

  return g_strndup ((const char *) bytes, len);
}

static gboolean
decode_hello (Reader            *r,
              PtControlMessage  *msg,
              GError           **error)
{
  guint8 n;

  if (!get_u8 (r, &msg->version) || !get_u8 (r, &n))
    {
      set_protocol_error (error, "HELLO ends before its list of forwards");
      return FALSE;
    }

  if (n < 1 || n > PT_SIGNAL_MAX_FORWARDS)
    {
      set_protocol_error (error, "HELLO names %u forwards (1 to %u allowed)",
                          n, PT_SIGNAL_MAX_FORWARDS);
      return FALSE;
    }

  for (guint i = 0; i < n; i++)
    {
      guint8 proto, host_len;
      guint16 port;
      const guint8 *host;

      if (!get_u8 (r, &proto) || !get_u8 (r, &host_len) ||
          !get_bytes (r, host_len, &host) || !get_u16 (r, &port))
        {
          set_protocol_error (error, "HELLO ends inside forward %u of %u", i + 1, n);
          return FALSE;
        }

      if (proto != PT_PROTO_TCP && proto != PT_PROTO_UDP)
        {
          set_protocol_error (error, "HELLO forward %u has unknown protocol %u "
                              "(1 for TCP, 2 for UDP)", i + 1, proto);
          return FALSE;
        }

      if (host_len < 1 || host_len > PT_SIGNAL_MAX_HOST_LEN)
        {
          set_protocol_error (error, "HELLO forward %u has a host of %u bytes (1 to %u allowed)",
                              i + 1, host_len, PT_SIGNAL_MAX_HOST_LEN);
          return FALSE;
        }

      for (guint j = 0; j < host_len; j++)
        if (host[j] <= 0x20 || host[j] >= 0x7f)
          {
            set_protocol_error (error, "HELLO forward %u has a host with byte 0x%02x "
                                "(only printable ASCII without spaces is allowed)",
                                i + 1, host[j]);
            return FALSE;
          }

      if (port == 0)
        {
          set_protocol_error (error, "HELLO forward %u has port 0", i + 1);
          return FALSE;
        }

      {
        g_autofree char *host_str = g_strndup ((const char *) host, host_len);

        g_ptr_array_add (msg->forwards, pt_forward_spec_new (proto, host_str, port));
      }
    }

  return TRUE;
}

static gboolean
decode_verdict (Reader            *r,
                PtControlMessage  *msg,
                GError           **error)
{
  guint8 n;

  if (!get_u8 (r, &n))
    {
      set_protocol_error (error, "VERDICT is empty");
      return FALSE;
    }

  if (n < 1 || n > PT_SIGNAL_MAX_FORWARDS)
    {
      set_protocol_error (error, "VERDICT covers %u forwards (1 to %u allowed)",
                          n, PT_SIGNAL_MAX_FORWARDS);
      return FALSE;
    }

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *what = g_strdup_printf ("VERDICT on forward %u", i + 1);
      g_autofree char *reason = NULL;
      guint8 accepted;

      if (!get_u8 (r, &accepted))
        {
          set_protocol_error (error, "VERDICT ends before its verdict on forward %u of %u",
                              i + 1, n);
          return FALSE;
        }

      if (accepted > 1)
        {
          set_protocol_error (error, "%s has accepted flag %u (0 or 1 allowed)",
                              what, accepted);
          return FALSE;
        }

      reason = get_reason (r, what, error);
      if (reason == NULL)
        return FALSE;

      _pt_control_message_add_verdict (msg, accepted, reason);
    }

  return TRUE;
}

static gboolean
decode_vpn_hello (Reader            *r,
                  PtControlMessage  *msg,
                  GError           **error)
{
  if (!get_u8 (r, &msg->version) || !get_u8 (r, &msg->vpn_flags))
    {
      set_protocol_error (error, "VPN_HELLO ends early");
      return FALSE;
    }
  if (msg->vpn_flags & ~PT_VPN_HELLO_WANTS_IPV6)
    {
      set_protocol_error (error, "VPN_HELLO has unknown flags 0x%02x", msg->vpn_flags);
      return FALSE;
    }
  return TRUE;
}

static gboolean
decode_vpn_config (Reader            *r,
                   PtControlMessage  *msg,
                   GError           **error)
{
  PtVpnConfig *c = &msg->vpn;
  const guint8 *bytes;
  guint8 has_v6;

  if (!get_u16 (r, &c->mtu) || !get_bytes (r, 4, &bytes))
    goto short_frame;
  memcpy (c->addr4, bytes, 4);
  if (!get_u8 (r, &c->prefix4) || !get_bytes (r, 4, &bytes))
    goto short_frame;
  memcpy (c->server4, bytes, 4);
  if (!get_u8 (r, &has_v6))
    goto short_frame;
  if (c->mtu < PT_VPN_MTU_MIN_IPV4 || c->mtu > PT_VPN_MTU_MAX)
    {
      set_protocol_error (error, "VPN_CONFIG has an MTU of %u (%u to %u allowed)", c->mtu,
                          PT_VPN_MTU_MIN_IPV4, PT_VPN_MTU_MAX);
      return FALSE;
    }
  if (c->prefix4 < PT_VPN_PREFIX_MIN_IPV4 || c->prefix4 > PT_VPN_PREFIX_MAX_IPV4)
    {
      set_protocol_error (error, "VPN_CONFIG has an IPv4 prefix of %u (%u to %u allowed)",
                          c->prefix4, PT_VPN_PREFIX_MIN_IPV4, PT_VPN_PREFIX_MAX_IPV4);
      return FALSE;
    }
  if (has_v6 > 1)
    {
      set_protocol_error (error, "VPN_CONFIG has an IPv6 flag of %u (0 or 1 allowed)", has_v6);
      return FALSE;
    }
  c->has_v6 = has_v6;
  if (c->has_v6)
    {
      if (!get_bytes (r, 16, &bytes))
        goto short_frame;
      memcpy (c->addr6, bytes, 16);
      if (!get_u8 (r, &c->prefix6) || !get_bytes (r, 16, &bytes))
        goto short_frame;
      memcpy (c->server6, bytes, 16);
      if (c->prefix6 < PT_VPN_PREFIX_MIN_IPV6 || c->prefix6 > PT_VPN_PREFIX_MAX_IPV6)
        {
          set_protocol_error (error, "VPN_CONFIG has an IPv6 prefix of %u (%u to %u allowed)",
                              c->prefix6, PT_VPN_PREFIX_MIN_IPV6, PT_VPN_PREFIX_MAX_IPV6);
          return FALSE;
        }
    }
  if (!get_u8 (r, &c->n_dns))
    goto short_frame;
  if (c->n_dns > PT_VPN_MAX_DNS)
    {
      set_protocol_error (error, "VPN_CONFIG names %u resolvers (at most %u)", c->n_dns,
                          PT_VPN_MAX_DNS);
      return FALSE;
    }
  for (guint i = 0; i < c->n_dns; i++)
    {
      if (!get_u8 (r, &c->dns_family[i]))
        goto short_frame;
      if (c->dns_family[i] != 4 && c->dns_family[i] != 6)
        {
          set_protocol_error (error, "VPN_CONFIG resolver %u has address family %u (4 or 6)",
                              i + 1, c->dns_family[i]);
          return FALSE;
        }
      if (!get_bytes (r, c->dns_family[i] == 4 ? 4 : 16, &bytes))
        goto short_frame;
      memcpy (c->dns[i], bytes, c->dns_family[i] == 4 ? 4 : 16);
    }
  return TRUE;

short_frame:
  set_protocol_error (error, "VPN_CONFIG ends early");
  return FALSE;
}

static PtControlMessage *
decode_frame (guint8         type,
              const guint8  *payload,
              gsize          len,
              GError       **error)
{
  g_autoptr(PtControlMessage) msg = NULL;
  Reader r = { payload, len, 0 };
  gboolean ok = FALSE;

  msg = _pt_control_message_new (type);

  switch ((PtControlType) type)
    {
    case PT_CONTROL_HELLO:
      ok = decode_hello (&r, msg, error);
      break;

    case PT_CONTROL_VERDICT:
      ok = decode_verdict (&r, msg, error);
      break;

    case PT_CONTROL_CLOSE:
      g_clear_pointer (&msg->reason, g_free);
      msg->reason = get_reason (&r, "CLOSE", error);
      ok = msg->reason != NULL;
      break;

    case PT_CONTROL_VPN_HELLO:
      ok = decode_vpn_hello (&r, msg, error);
      break;

    case PT_CONTROL_VPN_CONFIG:
      ok = decode_vpn_config (&r, msg, error);
      break;
    }

  if (!ok)
    return NULL;

  if (r.pos != r.len)
    {
      gsize extra = r.len - r.pos;

      set_protocol_error (error, "%s frame has %" G_GSIZE_FORMAT " extra byte%s after its last field",
                          type_to_string (type), extra, extra == 1 ? "" : "s");
      return NULL;
    }

  return g_steal_pointer (&msg);
}

/* Parser */

PtControlParser *
_pt_control_parser_new (void)
{
  PtControlParser *parser = g_new0 (PtControlParser, 1);

  parser->buffer = g_byte_array_new ();

  return parser;
}

void
_pt_control_parser_free (PtControlParser *parser)
{
  if (parser == NULL)
    return;

  g_clear_pointer (&parser->buffer, g_byte_array_unref);
  g_clear_error (&parser->error);
  g_free (parser);
}

void
_pt_control_parser_feed (PtControlParser *parser,
                         const guint8    *data,
                         gsize            len)
{
  g_return_if_fail (parser != NULL);
  g_return_if_fail (data != NULL || len == 0);

  /* A failed parser ignores the rest of the stream. */
  if (parser->error != NULL || len == 0)
    return;

  g_byte_array_append (parser->buffer, data, len);
}

PtControlMessage *
_pt_control_parser_next (PtControlParser  *parser,
                         GError          **error)
{
  PtControlMessage *msg;
  const guint8 *data;
  guint8 type;
  gsize len;

  g_return_val_if_fail (parser != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (parser->error != NULL)
    {
      g_propagate_error (error, g_error_copy (parser->error));
      return NULL;
    }

  if (parser->buffer->len < FRAME_HEADER_LEN)
    return NULL;

  data = parser->buffer->data;
  type = data[0];
  len = (data[1] << 8) | data[2];

  /* Judge the header before waiting for the payload. */
  if (!type_is_known (type))
    set_protocol_error (&parser->error, "control frame of unknown type %u", type);
  else if (len > PT_CONTROL_MAX_FRAME)
    set_protocol_error (&parser->error, "%s frame of %" G_GSIZE_FORMAT " bytes "
                        "is larger than the limit of %u",
                        type_to_string (type), len, PT_CONTROL_MAX_FRAME);

  if (parser->error != NULL)
    goto failed;

  if (parser->buffer->len - FRAME_HEADER_LEN < len)
    return NULL;

  msg = decode_frame (type, data + FRAME_HEADER_LEN, len, &parser->error);
  if (msg == NULL)
    goto failed;

  g_byte_array_remove_range (parser->buffer, 0, FRAME_HEADER_LEN + len);

  g_debug ("received %s", type_to_string (msg->type));

  return msg;

failed:
  g_debug ("control stream failed: %s", parser->error->message);
  g_byte_array_set_size (parser->buffer, 0);
  g_propagate_error (error, g_error_copy (parser->error));
  return NULL;
}

/* Datagrams */

gsize
_pt_datagram_header_write (guint8  *out,
                           guint8   forward,
                           guint32  flow)
{
  g_return_val_if_fail (out != NULL, 0);

  out[0] = forward;
  out[1] = (flow >> 24) & 0xff;
  out[2] = (flow >> 16) & 0xff;
  out[3] = (flow >> 8) & 0xff;
  out[4] = flow & 0xff;

  return PT_DATAGRAM_HEADER_LEN;
}

gboolean
_pt_datagram_header_parse (const guint8   *data,
                           gsize           len,
                           guint8         *forward,
                           guint32        *flow,
                           const guint8  **payload,
                           gsize          *payload_len)
{
  if (data == NULL || len < PT_DATAGRAM_HEADER_LEN)
    return FALSE;

  if (forward != NULL)
    *forward = data[0];
  if (flow != NULL)
    *flow = ((guint32) data[1] << 24) | ((guint32) data[2] << 16) |
            ((guint32) data[3] << 8) | (guint32) data[4];
  if (payload != NULL)
    *payload = data + PT_DATAGRAM_HEADER_LEN;
  if (payload_len != NULL)
    *payload_len = len - PT_DATAGRAM_HEADER_LEN;

  return TRUE;
}
