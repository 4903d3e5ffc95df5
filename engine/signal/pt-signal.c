/* pt-signal.c — offer/answer payloads: binary codec and text armor
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The format is specified in docs/protocol.md ("Signaling payload"). In short:
 * a compact big-endian record ending in 4 bytes of SHA-256, carried raw in a
 * QR code or as base64 between BEGIN/END lines for copy and paste.
 *
 * Decoding reports the error that tells the user what to do: a block cut off
 * while copying is TRUNCATED, a block altered on the way is CORRUPT, a block
 * whose checksum holds but whose fields are impossible is MALFORMED. To tell
 * them apart the decoder first walks the structure (lengths only) to find
 * where the checksum sits, verifies it, and only then reads the fields.
 */
#define G_LOG_DOMAIN "pt-signal"

#include "config.h"

#include <string.h>

#include "pt.h"

#define MAGIC           "PT"
#define MAGIC_LEN       2
#define CHECKSUM_LEN    4
/* magic, version, kind, session id, timestamp, fingerprint */
#define HEADER_LEN      (MAGIC_LEN + 1 + 1 + PT_SIGNAL_SESSION_ID_LEN + 8 + PT_SIGNAL_FINGERPRINT_LEN)
#define UFRAG_MIN_LEN   4
#define PWD_MIN_LEN     22
#define STRING_MAX_LEN  255  /* one length byte */
#define FOUNDATION_MAX  32

#define ARMOR_BEGIN     "-----BEGIN PEERTUNNEL "
#define ARMOR_END       "-----END PEERTUNNEL "
#define ARMOR_WIDTH     64

#define SOURCE_SYNTAX   "expected tcp://HOST:PORT or udp://HOST:PORT"

/* ---------------------------------------------------------------------- */
/* Character classes and field rules shared by the parser and the encoder */

static gboolean
is_credential_char (guchar c)
{
  return c > 0x20 && c < 0x7f;
}

/* RFC 8445 ice-char: ALPHA / DIGIT / "+" / "/" */
static gboolean
is_ice_char (guchar c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

/* Printable, no space; '/' and brackets would make "proto://host:port" ambiguous. */
static gboolean
is_host_char (guchar c)
{
  return c > 0x20 && c < 0x7f && c != '/' && c != '[' && c != ']';
}

/* Returns NULL if @host may be a forward's host, else why not. */
static const char *
host_problem (const char *host,
              gboolean   *too_long)
{
  gsize len = strlen (host);

  *too_long = FALSE;
  if (len == 0)
    return "the host is missing";
  if (len > PT_SIGNAL_MAX_HOST_LEN)
    {
      *too_long = TRUE;
      return "the host is longer than 253 characters";
    }
  for (gsize i = 0; i < len; i++)
    if (!is_host_char (host[i]))
      return "the host contains a space, a control character, a non-ASCII character, “/” or a bracket";
  return NULL;
}

static const char *
kind_name (PtSignalKind kind)
{
  switch (kind)
    {
    case PT_SIGNAL_KIND_OFFER:  return "offer";
    case PT_SIGNAL_KIND_ANSWER: return "answer";
    }
  return "block";
}

static const char *
kind_label (PtSignalKind kind)
{
  switch (kind)
    {
    case PT_SIGNAL_KIND_OFFER:  return "OFFER";
    case PT_SIGNAL_KIND_ANSWER: return "ANSWER";
    }
  return "INVALID";
}

static gboolean
kind_is_valid (guint kind)
{
  return kind == PT_SIGNAL_KIND_OFFER || kind == PT_SIGNAL_KIND_ANSWER;
}

/* Escapes what a terminal should not be handed verbatim. */
static char *
printable_copy (const char *text)
{
  for (const char *p = text; *p; p++)
    if ((guchar) *p < 0x20 || (guchar) *p == 0x7f)
      return g_strescape (text, NULL);
  return g_strdup (text);
}

/* ---------------------------------------------------------------------- */
/* Forward specs */

PtForwardSpec *
pt_forward_spec_new (PtProto     proto,
                     const char *host,
                     guint16     port)
{
  PtForwardSpec *spec;

  g_return_val_if_fail (host != NULL, NULL);

  spec = g_new0 (PtForwardSpec, 1);
  spec->proto = proto;
  spec->host = g_strdup (host);
  spec->port = port;

  return spec;
}

PtForwardSpec *
pt_forward_spec_copy (const PtForwardSpec *spec)
{
  g_return_val_if_fail (spec != NULL, NULL);

  return pt_forward_spec_new (spec->proto, spec->host, spec->port);
}

void
pt_forward_spec_free (PtForwardSpec *spec)
{
  if (spec == NULL)
    return;

  g_free (spec->host);
  g_free (spec);
}

static void
set_source_error (GError     **error,
                  const char  *uri,
                  const char  *reason)
{
  g_autofree char *shown = printable_copy (uri);

  g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED,
               "“%s” is not a source: %s", shown, reason);
}

/* Strict: 1 to 5 digits, no sign, no spaces, 1..65535. */
static gboolean
parse_port (const char *text,
            guint16    *port)
{
  guint value = 0;
  gsize len = strlen (text);

  if (len == 0 || len > 5)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (text[i]))
        return FALSE;
      value = value * 10 + (guint) (text[i] - '0');
    }
  if (value == 0 || value > G_MAXUINT16)
    return FALSE;

  *port = (guint16) value;
  return TRUE;
}

PtForwardSpec *
pt_forward_spec_parse (const char  *uri,
                       GError     **error)
{
  g_autofree char *host = NULL;
  const char *rest;
  const char *port_text;
  const char *problem;
  gboolean too_long;
  PtProto proto;
  guint16 port;

  g_return_val_if_fail (uri != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_ascii_strncasecmp (uri, "tcp://", 6) == 0)
    proto = PT_PROTO_TCP;
  else if (g_ascii_strncasecmp (uri, "udp://", 6) == 0)
    proto = PT_PROTO_UDP;
  else
    {
      set_source_error (error, uri, SOURCE_SYNTAX);
      return NULL;
    }
  rest = uri + 6;

  if (*rest == '[')
    {
      const char *close = strchr (rest, ']');

      if (close == NULL)
        {
          set_source_error (error, uri, "the IPv6 address has no closing “]”");
          return NULL;
        }
      host = g_strndup (rest + 1, close - rest - 1);
      if (strchr (host, ':') == NULL || !g_hostname_is_ip_address (host))
        {
          set_source_error (error, uri, "only an IPv6 address may stand in brackets");
          return NULL;
        }
      if (close[1] != ':')
        {
          set_source_error (error, uri, "the port is missing: " SOURCE_SYNTAX);
          return NULL;
        }
      port_text = close + 2;
    }
  else
    {
      const char *colon = strrchr (rest, ':');

      if (colon == NULL)
        {
          set_source_error (error, uri, "the port is missing: " SOURCE_SYNTAX);
          return NULL;
        }
      host = g_strndup (rest, colon - rest);
      if (strchr (host, ':') != NULL)
        {
          set_source_error (error, uri, "write IPv6 addresses in brackets, as in tcp://[::1]:22");
          return NULL;
        }
      port_text = colon + 1;
    }

  problem = host_problem (host, &too_long);
  if (problem != NULL)
    {
      set_source_error (error, uri, problem);
      return NULL;
    }

  if (!parse_port (port_text, &port))
    {
      set_source_error (error, uri, "the port must be a number from 1 to 65535");
      return NULL;
    }

  return pt_forward_spec_new (proto, host, port);
}

char *
pt_forward_spec_to_string (const PtForwardSpec *spec)
{
  const char *scheme;

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (spec->host != NULL, NULL);

  scheme = spec->proto == PT_PROTO_UDP ? "udp" : "tcp";
  if (strchr (spec->host, ':') != NULL)
    return g_strdup_printf ("%s://[%s]:%u", scheme, spec->host, spec->port);
  return g_strdup_printf ("%s://%s:%u", scheme, spec->host, spec->port);
}

/* ---------------------------------------------------------------------- */
/* Signals */

PtSignal *
pt_signal_new (PtSignalKind kind)
{
  PtSignal *signal = g_new0 (PtSignal, 1);

  signal->kind = kind;
  signal->candidates = g_array_new (FALSE, TRUE, sizeof (PtCandidate));
  signal->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);

  return signal;
}

void
pt_signal_free (PtSignal *signal)
{
  if (signal == NULL)
    return;

  /* The ICE password lets anyone answer connectivity checks: wipe it. */
  if (signal->pwd != NULL)
    memset (signal->pwd, 0, strlen (signal->pwd));
  g_free (signal->pwd);
  g_free (signal->ufrag);
  g_clear_pointer (&signal->candidates, g_array_unref);
  g_clear_pointer (&signal->forwards, g_ptr_array_unref);
  g_free (signal);
}

/* ---------------------------------------------------------------------- */
/* Validation, shared by encoding (our own data) and decoding (the peer's) */

/* Decoding errors are MALFORMED; encoding may be TOO_LARGE for our own lists. */
static void set_invalid (GError     **error,
                         gboolean     decoding,
                         gboolean     too_large,
                         const char  *format,
                         ...) G_GNUC_PRINTF (4, 5);

static void
set_invalid (GError     **error,
             gboolean     decoding,
             gboolean     too_large,
             const char  *format,
             ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);

  if (decoding)
    g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED,
                 "the block is invalid: %s", detail);
  else
    g_set_error (error, PT_SIGNAL_ERROR,
                 too_large ? PT_SIGNAL_ERROR_TOO_LARGE : PT_SIGNAL_ERROR_MALFORMED,
                 "cannot encode the signaling block: %s", detail);
}

static gboolean
check_credential (const char  *what,
                  const char  *value,
                  gsize        min_len,
                  gboolean     decoding,
                  GError     **error)
{
  gsize len;

  if (value == NULL)
    {
      set_invalid (error, decoding, FALSE, "the %s is missing", what);
      return FALSE;
    }
  len = strlen (value);
  if (len > STRING_MAX_LEN)
    {
      set_invalid (error, decoding, TRUE, "the %s is longer than %u characters",
                   what, STRING_MAX_LEN);
      return FALSE;
    }
  if (len < min_len)
    {
      set_invalid (error, decoding, FALSE, "the %s is shorter than %" G_GSIZE_FORMAT " characters",
                   what, min_len);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    if (!is_credential_char (value[i]))
      {
        set_invalid (error, decoding, FALSE,
                     "the %s holds a space or a character that is not printable ASCII", what);
        return FALSE;
      }
  return TRUE;
}

static gboolean
check_candidate (guint               index,
                 const PtCandidate  *candidate,
                 gboolean            decoding,
                 GError            **error)
{
  gsize foundation_len = strnlen (candidate->foundation, sizeof candidate->foundation);

  if ((guint) candidate->type > PT_PATH_KIND_RELAY)
    {
      set_invalid (error, decoding, FALSE, "candidate %u has unknown type %u",
                   index + 1, (guint) candidate->type);
      return FALSE;
    }
  if ((guint) candidate->transport > PT_TRANSPORT_TCP_SO)
    {
      set_invalid (error, decoding, FALSE, "candidate %u has unknown transport %u",
                   index + 1, (guint) candidate->transport);
      return FALSE;
    }
  if (foundation_len == 0 || foundation_len > FOUNDATION_MAX)
    {
      set_invalid (error, decoding, foundation_len > FOUNDATION_MAX,
                   "the foundation of candidate %u must be 1 to %u characters",
                   index + 1, FOUNDATION_MAX);
      return FALSE;
    }
  for (gsize i = 0; i < foundation_len; i++)
    if (!is_ice_char (candidate->foundation[i]))
      {
        set_invalid (error, decoding, FALSE,
                     "the foundation of candidate %u holds a character other than letters, digits, “+” and “/”",
                     index + 1);
        return FALSE;
      }
  if (candidate->family != 4 && candidate->family != 6)
    {
      set_invalid (error, decoding, FALSE, "candidate %u has unknown address family %u",
                   index + 1, candidate->family);
      return FALSE;
    }
  if (candidate->port == 0)
    {
      set_invalid (error, decoding, FALSE, "candidate %u has port 0", index + 1);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_forward (guint                 index,
               const PtForwardSpec  *spec,
               gboolean              decoding,
               GError              **error)
{
  const char *problem;
  gboolean too_long;

  if (spec == NULL || spec->host == NULL)
    {
      set_invalid (error, decoding, FALSE, "source %u is missing", index + 1);
      return FALSE;
    }
  if (spec->proto != PT_PROTO_TCP && spec->proto != PT_PROTO_UDP)
    {
      set_invalid (error, decoding, FALSE, "source %u has unknown protocol %u",
                   index + 1, (guint) spec->proto);
      return FALSE;
    }
  problem = host_problem (spec->host, &too_long);
  if (problem != NULL)
    {
      set_invalid (error, decoding, too_long, "source %u: %s", index + 1, problem);
      return FALSE;
    }
  if (spec->port == 0)
    {
      set_invalid (error, decoding, FALSE, "source %u has port 0", index + 1);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_signal (const PtSignal  *signal,
              gboolean         decoding,
              GError         **error)
{
  if (!kind_is_valid (signal->kind))
    {
      set_invalid (error, decoding, FALSE, "unknown kind %u (neither offer nor answer)",
                   (guint) signal->kind);
      return FALSE;
    }
  if (signal->timestamp < 0)
    {
      set_invalid (error, decoding, FALSE, "the timestamp is before 1970");
      return FALSE;
    }
  if (!check_credential ("ICE user fragment", signal->ufrag, UFRAG_MIN_LEN, decoding, error) ||
      !check_credential ("ICE password", signal->pwd, PWD_MIN_LEN, decoding, error))
    return FALSE;

  if (signal->candidates == NULL || signal->candidates->len > PT_SIGNAL_MAX_CANDIDATES)
    {
      set_invalid (error, decoding, TRUE, "it has %u candidates (at most %u fit)",
                   signal->candidates ? signal->candidates->len : 0, PT_SIGNAL_MAX_CANDIDATES);
      return FALSE;
    }
  for (guint i = 0; i < signal->candidates->len; i++)
    if (!check_candidate (i, &g_array_index (signal->candidates, PtCandidate, i), decoding, error))
      return FALSE;

  if (signal->forwards == NULL || signal->forwards->len > PT_SIGNAL_MAX_FORWARDS)
    {
      set_invalid (error, decoding, TRUE, "it has %u sources (at most %u fit)",
                   signal->forwards ? signal->forwards->len : 0, PT_SIGNAL_MAX_FORWARDS);
      return FALSE;
    }
  /* An offer without sources asks for VPN mode. */
  if (signal->kind == PT_SIGNAL_KIND_ANSWER && signal->forwards->len > 0)
    {
      set_invalid (error, decoding, FALSE, "an answer cannot name sources");
      return FALSE;
    }
  for (guint i = 0; i < signal->forwards->len; i++)
    if (!check_forward (i, g_ptr_array_index (signal->forwards, i), decoding, error))
      return FALSE;

  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Binary codec */

static void
compute_checksum (const guint8 *data,
                  gsize         len,
                  guint8        out[CHECKSUM_LEN])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  g_checksum_update (checksum, data, (gssize) len);
  g_checksum_get_digest (checksum, digest, &digest_len);
  memcpy (out, digest, CHECKSUM_LEN);
}

/* TRUE if the CHECKSUM_LEN bytes at @data + @len are the checksum of @data[0..len). */
static gboolean
checksum_matches (const guint8 *data,
                  gsize         len)
{
  guint8 expected[CHECKSUM_LEN];

  compute_checksum (data, len, expected);
  return memcmp (expected, data + len, CHECKSUM_LEN) == 0;
}

/* TRUE if the buffer's own last bytes checksum the rest: the block arrived
 * intact, so a structural problem is the sender's fault, not the copy's. */
static gboolean
trailer_matches (const guint8 *data,
                 gsize         len)
{
  return len >= HEADER_LEN + CHECKSUM_LEN && checksum_matches (data, len - CHECKSUM_LEN);
}

static void
put_u16 (GByteArray *buf,
         guint16     value)
{
  guint8 b[2] = { value >> 8, value & 0xff };

  g_byte_array_append (buf, b, sizeof b);
}

static void
put_u32 (GByteArray *buf,
         guint32     value)
{
  guint32 be = GUINT32_TO_BE (value);

  g_byte_array_append (buf, (const guint8 *) &be, sizeof be);
}

static void
put_u64 (GByteArray *buf,
         guint64     value)
{
  guint64 be = GUINT64_TO_BE (value);

  g_byte_array_append (buf, (const guint8 *) &be, sizeof be);
}

static void
put_u8 (GByteArray *buf,
        guint8      value)
{
  g_byte_array_append (buf, &value, 1);
}

/* Lengths were checked to fit one byte. */
static void
put_string (GByteArray *buf,
            const char *value)
{
  gsize len = strlen (value);

  put_u8 (buf, (guint8) len);
  g_byte_array_append (buf, (const guint8 *) value, len);
}

GBytes *
pt_signal_encode (const PtSignal  *signal,
                  GError         **error)
{
  g_autoptr(GByteArray) buf = NULL;
  guint8 checksum[CHECKSUM_LEN];

  g_return_val_if_fail (signal != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_signal (signal, FALSE, error))
    return NULL;

  buf = g_byte_array_sized_new (256);
  g_byte_array_append (buf, (const guint8 *) MAGIC, MAGIC_LEN);
  put_u8 (buf, PT_SIGNAL_VERSION);
  put_u8 (buf, signal->kind);
  g_byte_array_append (buf, signal->session_id, PT_SIGNAL_SESSION_ID_LEN);
  put_u64 (buf, (guint64) signal->timestamp);
  g_byte_array_append (buf, signal->fingerprint, PT_SIGNAL_FINGERPRINT_LEN);
  put_string (buf, signal->ufrag);
  put_string (buf, signal->pwd);

  put_u8 (buf, signal->candidates->len);
  for (guint i = 0; i < signal->candidates->len; i++)
    {
      const PtCandidate *c = &g_array_index (signal->candidates, PtCandidate, i);

      put_u8 (buf, (guint8) ((c->type << 4) | c->transport));
      put_u32 (buf, c->priority);
      put_string (buf, c->foundation);
      put_u8 (buf, c->family);
      g_byte_array_append (buf, c->addr, c->family == 4 ? 4 : 16);
      put_u16 (buf, c->port);
    }

  put_u8 (buf, signal->forwards->len);
  for (guint i = 0; i < signal->forwards->len; i++)
    {
      const PtForwardSpec *spec = g_ptr_array_index (signal->forwards, i);

      put_u8 (buf, spec->proto);
      put_string (buf, spec->host);
      put_u16 (buf, spec->port);
    }

  compute_checksum (buf->data, buf->len, checksum);
  g_byte_array_append (buf, checksum, CHECKSUM_LEN);

  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

typedef enum
{
  WALK_OK,
  WALK_SHORT,        /* a length points past the end */
  WALK_BAD_FAMILY,   /* cannot know an address's length */
} WalkResult;

static gboolean
walk_skip (gsize *pos,
           gsize  len,
           gsize  n)
{
  if (len - *pos < n)
    return FALSE;
  *pos += n;
  return TRUE;
}

static gboolean
walk_u8 (const guint8 *data,
         gsize        *pos,
         gsize         len,
         guint        *value)
{
  if (*pos >= len)
    return FALSE;
  *value = data[(*pos)++];
  return TRUE;
}

/* Follows the length fields only, to find where the checksum sits
 * (@checksum_pos) without trusting any other field yet. */
static WalkResult
walk_structure (const guint8 *data,
                gsize         len,
                gsize        *checksum_pos)
{
  gsize pos = 0;
  guint n;

  if (!walk_skip (&pos, len, HEADER_LEN))
    return WALK_SHORT;

  for (guint i = 0; i < 2; i++)  /* ufrag, pwd */
    if (!walk_u8 (data, &pos, len, &n) || !walk_skip (&pos, len, n))
      return WALK_SHORT;

  if (!walk_u8 (data, &pos, len, &n))
    return WALK_SHORT;
  for (guint i = 0, count = n; i < count; i++)
    {
      guint family;

      if (!walk_skip (&pos, len, 1 + 4) ||
          !walk_u8 (data, &pos, len, &n) || !walk_skip (&pos, len, n) ||
          !walk_u8 (data, &pos, len, &family))
        return WALK_SHORT;
      if (family != 4 && family != 6)
        return WALK_BAD_FAMILY;
      if (!walk_skip (&pos, len, (family == 4 ? 4 : 16) + 2))
        return WALK_SHORT;
    }

  if (!walk_u8 (data, &pos, len, &n))
    return WALK_SHORT;
  for (guint i = 0, count = n; i < count; i++)
    if (!walk_skip (&pos, len, 1) ||
        !walk_u8 (data, &pos, len, &n) ||
        !walk_skip (&pos, len, n + 2))
      return WALK_SHORT;

  *checksum_pos = pos;
  if (!walk_skip (&pos, len, CHECKSUM_LEN))
    return WALK_SHORT;

  return WALK_OK;
}

/* Bounds-checked reader; the walk already proved the bounds, this is the belt. */
typedef struct
{
  const guint8 *data;
  gsize         len;
  gsize         pos;
  gboolean      failed;
} Reader;

static const guint8 *
reader_take (Reader *r,
             gsize   n)
{
  const guint8 *p;

  if (r->failed || r->len - r->pos < n)
    {
      r->failed = TRUE;
      return NULL;
    }
  p = r->data + r->pos;
  r->pos += n;
  return p;
}

static guint64
reader_uint (Reader *r,
             gsize   n)
{
  const guint8 *p = reader_take (r, n);
  guint64 value = 0;

  if (p == NULL)
    return 0;
  for (gsize i = 0; i < n; i++)
    value = (value << 8) | p[i];
  return value;
}

static void
reader_copy (Reader *r,
             guint8 *dest,
             gsize   n)
{
  const guint8 *p = reader_take (r, n);

  if (p != NULL)
    memcpy (dest, p, n);
}

/* A length-prefixed string; NULL when past the end or holding a NUL byte
 * (which C strings would silently cut). */
static char *
reader_string (Reader *r)
{
  gsize n = reader_uint (r, 1);
  const guint8 *p = reader_take (r, n);

  if (p == NULL || memchr (p, 0, n) != NULL)
    return NULL;
  return g_strndup ((const char *) p, n);
}

static void
set_truncated (GError **error)
{
  g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TRUNCATED,
                       "the block is truncated (it ends before its last field): copy all of it again");
}

/* Reads the fields of a block whose structure and checksum were verified. */
static PtSignal *
parse_payload (const guint8  *data,
               gsize          len,
               GError       **error)
{
  g_autoptr(PtSignal) signal = NULL;
  Reader r = { data, len, MAGIC_LEN + 1, FALSE };
  guint kind;
  guint64 timestamp;
  guint count;

  kind = reader_uint (&r, 1);
  if (!kind_is_valid (kind))
    {
      set_invalid (error, TRUE, FALSE, "unknown kind %u (neither offer nor answer)", kind);
      return NULL;
    }
  signal = pt_signal_new ((PtSignalKind) kind);

  reader_copy (&r, signal->session_id, PT_SIGNAL_SESSION_ID_LEN);
  timestamp = reader_uint (&r, 8);
  if (timestamp > G_MAXINT64)
    {
      set_invalid (error, TRUE, FALSE, "the timestamp is out of range");
      return NULL;
    }
  signal->timestamp = (gint64) timestamp;
  reader_copy (&r, signal->fingerprint, PT_SIGNAL_FINGERPRINT_LEN);

  signal->ufrag = reader_string (&r);
  signal->pwd = reader_string (&r);
  if (!r.failed && (signal->ufrag == NULL || signal->pwd == NULL))
    {
      set_invalid (error, TRUE, FALSE, "an ICE credential holds a NUL byte");
      return NULL;
    }

  count = reader_uint (&r, 1);
  if (count > PT_SIGNAL_MAX_CANDIDATES)
    {
      set_invalid (error, TRUE, FALSE, "it has %u candidates (at most %u)",
                   count, PT_SIGNAL_MAX_CANDIDATES);
      return NULL;
    }
  for (guint i = 0; i < count && !r.failed; i++)
    {
      PtCandidate c = { 0, };
      guint type_transport = reader_uint (&r, 1);
      gsize foundation_len;
      const guint8 *foundation;

      c.type = (PtPathKind) (type_transport >> 4);
      c.transport = (PtTransport) (type_transport & 0x0f);
      c.priority = reader_uint (&r, 4);
      foundation_len = reader_uint (&r, 1);
      foundation = reader_take (&r, foundation_len);
      if (foundation == NULL)
        break;
      /* Checked here because the field has room for FOUNDATION_MAX only. */
      if (foundation_len == 0 || foundation_len > FOUNDATION_MAX ||
          memchr (foundation, 0, foundation_len) != NULL)
        {
          set_invalid (error, TRUE, FALSE,
                       "the foundation of candidate %u must be 1 to %u characters",
                       i + 1, FOUNDATION_MAX);
          return NULL;
        }
      memcpy (c.foundation, foundation, foundation_len);
      c.family = reader_uint (&r, 1);
      if (c.family != 4 && c.family != 6)
        {
          set_invalid (error, TRUE, FALSE, "candidate %u has unknown address family %u",
                       i + 1, c.family);
          return NULL;
        }
      reader_copy (&r, c.addr, c.family == 4 ? 4 : 16);
      c.port = reader_uint (&r, 2);
      g_array_append_val (signal->candidates, c);
    }

  count = reader_uint (&r, 1);
  if (count > PT_SIGNAL_MAX_FORWARDS)
    {
      set_invalid (error, TRUE, FALSE, "it has %u sources (at most %u)",
                   count, PT_SIGNAL_MAX_FORWARDS);
      return NULL;
    }
  for (guint i = 0; i < count && !r.failed; i++)
    {
      PtForwardSpec *spec = g_new0 (PtForwardSpec, 1);

      g_ptr_array_add (signal->forwards, spec);
      spec->proto = (PtProto) reader_uint (&r, 1);
      spec->host = reader_string (&r);
      spec->port = reader_uint (&r, 2);
      if (!r.failed && spec->host == NULL)
        {
          set_invalid (error, TRUE, FALSE, "the host of source %u holds a NUL byte", i + 1);
          return NULL;
        }
    }

  if (r.failed)
    {
      set_truncated (error);
      return NULL;
    }
  if (r.pos != len)
    {
      set_invalid (error, TRUE, FALSE, "its lengths do not add up");
      return NULL;
    }

  if (!check_signal (signal, TRUE, error))
    return NULL;

  return g_steal_pointer (&signal);
}

PtSignal *
pt_signal_decode (const guint8  *data,
                  gsize          len,
                  GError       **error)
{
  PtSignal *signal;
  gsize checksum_pos = 0;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Judge the magic on what is there, so that one stray byte is "not a
   * block" rather than "truncated". */
  if ((len >= 1 && data[0] != MAGIC[0]) || (len >= 2 && data[1] != MAGIC[1]))
    {
      g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED,
                           "this is not a PeerTunnel signaling block");
      return NULL;
    }
  if (len < MAGIC_LEN + 1)
    {
      set_truncated (error);
      return NULL;
    }
  /* Before the checksum: another version may checksum differently. */
  if (data[MAGIC_LEN] != PT_SIGNAL_VERSION)
    {
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_VERSION,
                   "the block was made by an incompatible PeerTunnel version "
                   "(format %u, this one reads %u): update both sides",
                   data[MAGIC_LEN], PT_SIGNAL_VERSION);
      return NULL;
    }

  switch (walk_structure (data, len, &checksum_pos))
    {
    case WALK_SHORT:
      if (trailer_matches (data, len))
        set_invalid (error, TRUE, FALSE, "its lengths do not add up");
      else
        set_truncated (error);
      return NULL;

    case WALK_BAD_FAMILY:
      if (trailer_matches (data, len))
        set_invalid (error, TRUE, FALSE, "a candidate has an unknown address family");
      else
        g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_CORRUPT,
                             "the block is damaged or was altered (checksum mismatch): copy it again");
      return NULL;

    case WALK_OK:
      break;
    }

  if (!checksum_matches (data, checksum_pos))
    {
      /* Intact but longer than its fields say: an encoder bug, not the copy. */
      if (checksum_pos + CHECKSUM_LEN < len && trailer_matches (data, len))
        set_invalid (error, TRUE, FALSE, "its lengths do not add up");
      else
        g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_CORRUPT,
                             "the block is damaged or was altered (checksum mismatch): copy it again");
      return NULL;
    }
  if (checksum_pos + CHECKSUM_LEN != len)
    {
      set_invalid (error, TRUE, FALSE, "%" G_GSIZE_FORMAT " trailing bytes after its checksum",
                   len - checksum_pos - CHECKSUM_LEN);
      return NULL;
    }

  signal = parse_payload (data, checksum_pos, error);
  if (signal != NULL)
    g_debug ("Decoded %s: %u candidates, %u sources",
             kind_name (signal->kind), signal->candidates->len, signal->forwards->len);
  return signal;
}

gboolean
pt_signal_check_fresh (const PtSignal  *signal,
                       gint64           now,
                       GError         **error)
{
  g_return_val_if_fail (signal != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Unsigned differences: neither side may overflow whatever the inputs. */
  if (now >= signal->timestamp)
    {
      guint64 age = (guint64) now - (guint64) signal->timestamp;

      if (age > PT_SIGNAL_FRESH_SECONDS)
        {
          /* Rounded up, so that "16 minutes old (limit 15)" never reads "15". */
          g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE,
                       "the %s is %" G_GUINT64_FORMAT " minutes old (limit %u): "
                       "ask the peer for a fresh one",
                       kind_name (signal->kind), age / 60 + (age % 60 != 0),
                       PT_SIGNAL_FRESH_SECONDS / 60);
          return FALSE;
        }
    }
  else
    {
      guint64 ahead = (guint64) signal->timestamp - (guint64) now;

      if (ahead > PT_SIGNAL_SKEW_SECONDS)
        {
          g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_FUTURE,
                       "the %s is dated %" G_GUINT64_FORMAT " s in the future: "
                       "check the clocks on both machines",
                       kind_name (signal->kind), ahead);
          return FALSE;
        }
    }

  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Armor */

char *
pt_signal_session_to_hex (const guint8 *session_id)
{
  GString *out = g_string_sized_new (2 * PT_SIGNAL_SESSION_ID_LEN);

  for (guint i = 0; i < PT_SIGNAL_SESSION_ID_LEN; i++)
    g_string_append_printf (out, "%02x", session_id[i]);
  return g_string_free (out, FALSE);
}

char *
pt_signal_armor (const PtSignal  *signal,
                 GError         **error)
{
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *base64 = NULL;
  GString *out;
  gsize len;

  g_return_val_if_fail (signal != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  bytes = pt_signal_encode (signal, error);
  if (bytes == NULL)
    return NULL;

  base64 = g_base64_encode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  len = strlen (base64);

  out = g_string_new (NULL);
  g_string_append_printf (out, ARMOR_BEGIN "%s-----\n", kind_label (signal->kind));
  for (gsize i = 0; i < len; i += ARMOR_WIDTH)
    {
      g_string_append_len (out, base64 + i, MIN (ARMOR_WIDTH, len - i));
      g_string_append_c (out, '\n');
    }
  g_string_append_printf (out, ARMOR_END "%s-----\n", kind_label (signal->kind));

  return g_string_free (out, FALSE);
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

static guint
count_lines (const char *start,
             const char *end)
{
  guint lines = 1;

  for (const char *p = start; p < end; p++)
    if (*p == '\n')
      lines++;
  return lines;
}

/* Collects the base64 text in [@body, @end): spaces, CR, blank lines and
 * mail quoting ('>' at the start of a line) are skipped, so re-wrapped or
 * quoted blocks still read. g_base64_decode() skips bad characters silently,
 * so each one is checked here first. @line is @body's line in the input. */
static GBytes *
decode_body (const char  *body,
             const char  *end,
             guint        line,
             GError     **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  gboolean line_start = TRUE;
  guint padding = 0;
  g_autofree guchar *decoded = NULL;
  gsize decoded_len = 0;

  for (const char *p = body; p < end; p++)
    {
      char c = *p;

      if (c == '\n')
        {
          line++;
          line_start = TRUE;
          continue;
        }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
        continue;
      if (line_start && c == '>')
        continue;
      line_start = FALSE;

      if (c == '=' && padding < 2)
        {
          padding++;
          continue;
        }
      if (!is_base64_char (c) || padding > 0)
        {
          g_autofree char *shown = NULL;

          if (c == '=' || padding > 0)
            shown = g_strdup ("text after the “=” padding");
          else if ((guchar) c > 0x20 && (guchar) c < 0x7f)
            shown = g_strdup_printf ("“%c”", c);
          else
            shown = g_strdup_printf ("byte 0x%02x", (guchar) c);
          g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                       "line %u of the input: %s cannot be in the block "
                       "(only base64 text goes between the BEGIN and END lines)",
                       line, shown);
          return NULL;
        }
      g_string_append_c (text, c);
    }

  if (text->len == 0)
    {
      g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                           "the block is empty: copy it again from the BEGIN line to the END line");
      return NULL;
    }
  /* Padding is optional: some tools drop it. */
  switch (text->len % 4)
    {
    case 0:
      break;
    case 2:
      g_string_append (text, "==");
      break;
    case 3:
      g_string_append_c (text, '=');
      break;
    default:
      g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                           "the base64 text has an impossible length (a character or line is "
                           "missing): copy the block again");
      return NULL;
    }

  decoded = g_base64_decode (text->str, &decoded_len);
  return g_bytes_new_take (g_steal_pointer (&decoded), decoded_len);
}

PtSignal *
pt_signal_dearmor (const char    *text,
                   PtSignalKind   expected,
                   GError       **error)
{
  PtSignalKind other = expected == PT_SIGNAL_KIND_OFFER ? PT_SIGNAL_KIND_ANSWER : PT_SIGNAL_KIND_OFFER;
  g_autofree char *begin_line = NULL;
  g_autofree char *end_tail = NULL;
  g_autofree char *other_begin = NULL;
  g_autofree char *other_tail = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(PtSignal) signal = NULL;
  const char *body;
  const char *end;
  const char *after;
  const char *next;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (kind_is_valid (expected), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  begin_line = g_strdup_printf (ARMOR_BEGIN "%s-----", kind_label (expected));
  other_begin = g_strdup_printf (ARMOR_BEGIN "%s-----", kind_label (other));
  end_tail = g_strdup_printf ("%s-----", kind_label (expected));
  other_tail = g_strdup_printf ("%s-----", kind_label (other));

  /* Searched anywhere, not per line: junk or quoting before BEGIN, and
   * pastes whose line breaks were lost, still work. */
  body = strstr (text, begin_line);
  if (body == NULL)
    {
      if (strstr (text, other_begin) != NULL)
        {
          g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND,
                       "this is an %s, but an %s was expected: paste the block the %s printed",
                       kind_name (other), kind_name (expected),
                       expected == PT_SIGNAL_KIND_OFFER ? "client" : "server");
          return NULL;
        }
      next = strstr (text, ARMOR_BEGIN);
      if (next != NULL)
        {
          g_autofree char *rest = g_strchomp (g_strdup (next + strlen (ARMOR_BEGIN)));

          /* The input ends inside the BEGIN line: cut off, not damaged. */
          if (g_str_has_prefix (end_tail, rest) || g_str_has_prefix (other_tail, rest))
            g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TRUNCATED,
                         "the block's BEGIN line is cut off: copy all of it");
          else
            g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                         "the BEGIN line is damaged: expected %s", begin_line);
          return NULL;
        }
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_NO_BLOCK,
                   "no %s block found in the input", begin_line);
      return NULL;
    }
  body += strlen (begin_line);

  end = strstr (body, ARMOR_END);
  if (end == NULL)
    {
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TRUNCATED,
                   "the block has no " ARMOR_END "%s line: it was cut off, copy all of it",
                   end_tail);
      return NULL;
    }
  /* A cut-off block pasted again in full: use the last BEGIN before END. */
  while ((next = strstr (body, begin_line)) != NULL && next < end)
    body = next + strlen (begin_line);

  after = end + strlen (ARMOR_END);
  if (!g_str_has_prefix (after, end_tail))
    {
      g_autofree char *rest = g_strchomp (g_strdup (after));

      if (g_str_has_prefix (after, other_tail))
        g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                     "the block begins as an %s but ends as an %s: copy one block, "
                     "from its BEGIN line to its END line",
                     kind_name (expected), kind_name (other));
      else if (g_str_has_prefix (end_tail, rest))
        g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_TRUNCATED,
                     "the block's END line is cut off: copy all of it");
      else
        g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_BAD_ARMOR,
                     "the END line is damaged: expected " ARMOR_END "%s", end_tail);
      return NULL;
    }

  bytes = decode_body (body, end, count_lines (text, body), error);
  if (bytes == NULL)
    return NULL;

  signal = pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), error);
  if (signal == NULL)
    return NULL;

  if (signal->kind != expected)
    {
      g_set_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED,
                   "the block is labelled as an %s but holds an %s",
                   kind_name (expected), kind_name (signal->kind));
      return NULL;
    }

  return g_steal_pointer (&signal);
}

gboolean
pt_signal_is_end_line (const char *line)
{
  if (line == NULL)
    return FALSE;

  /* Same rule as pt_signal_dearmor(): the marker anywhere in the line, so
   * that whatever dearmor accepts also stops a line reader. */
  return strstr (line, ARMOR_END "OFFER-----") != NULL ||
         strstr (line, ARMOR_END "ANSWER-----") != NULL;
}
