/* pt-rendezvous.c — the signaling exchange carried by Nostr events
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plaintext (before NIP-44), one JSON object:
 *   {"v":1,"type":"request","signal":"<base64 offer block>","token":"i…"}
 *   {"v":1,"type":"answer","signal":"<base64 answer block>"}
 *   {"v":1,"type":"refused","session":"<16 hex>","reason":"busy"}
 * The signal is the binary block of pt-signal.c (the one a QR code
 * carries), so the session id, timestamp, fingerprint, ICE data and
 * forwards are checked by the same decoder as in manual mode.
 */
#define G_LOG_DOMAIN "pt-rendezvous"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "pt-nip44-private.h"
#include "pt-rendezvous-private.h"

#define MAX_SIGNAL_BASE64  4096
#define MAX_TOKEN_LEN      64

PtRendezvousMessage *
_pt_rendezvous_message_new (PtRendezvousType type)
{
  PtRendezvousMessage *msg = g_new0 (PtRendezvousMessage, 1);

  msg->type = type;
  return msg;
}

void
_pt_rendezvous_message_free (PtRendezvousMessage *msg)
{
  if (msg == NULL)
    return;
  g_clear_pointer (&msg->signal, pt_signal_free);
  g_clear_pointer (&msg->token, pt_secret_string_free);
  g_free (msg->reason);
  g_free (msg);
}

const char *
_pt_rendezvous_type_to_string (PtRendezvousType type)
{
  switch (type)
    {
    case PT_RENDEZVOUS_REQUEST: return "request";
    case PT_RENDEZVOUS_ANSWER:  return "answer";
    case PT_RENDEZVOUS_REFUSED: return "refused";
    }
  return "invalid";
}

static gboolean
is_reason_word (const char *reason)
{
  gsize len = strlen (reason);

  if (len == 0 || len > PT_RENDEZVOUS_MAX_REASON)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (reason[i]) && reason[i] != '-')
      return FALSE;
  return TRUE;
}

PtSecretString *
_pt_rendezvous_message_encode (const PtRendezvousMessage  *msg,
                               GError                    **error)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *session = NULL;

  g_string_append_printf (out, "{\"v\":%d,\"type\":", PT_RENDEZVOUS_VERSION);
  _pt_nostr_json_append_string (out, _pt_rendezvous_type_to_string (msg->type));

  switch (msg->type)
    {
    case PT_RENDEZVOUS_REQUEST:
    case PT_RENDEZVOUS_ANSWER:
      {
        g_autoptr(GBytes) block = NULL;
        g_autofree char *base64 = NULL;
        PtSignalKind want = msg->type == PT_RENDEZVOUS_REQUEST ? PT_SIGNAL_KIND_OFFER
                                                               : PT_SIGNAL_KIND_ANSWER;

        if (msg->signal == NULL || msg->signal->kind != want)
          {
            g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED,
                         "a %s carries an %s block", _pt_rendezvous_type_to_string (msg->type),
                         want == PT_SIGNAL_KIND_OFFER ? "offer" : "answer");
            return NULL;
          }
        block = pt_signal_encode (msg->signal, error);
        if (block == NULL)
          return NULL;
        base64 = g_base64_encode (g_bytes_get_data (block, NULL), g_bytes_get_size (block));
        g_string_append (out, ",\"signal\":");
        _pt_nostr_json_append_string (out, base64);
        if (msg->type == PT_RENDEZVOUS_REQUEST && msg->token != NULL)
          {
            g_string_append (out, ",\"token\":");
            _pt_nostr_json_append_string (out, msg->token);
          }
      }
      break;

    case PT_RENDEZVOUS_REFUSED:
      if (msg->reason == NULL || !is_reason_word (msg->reason))
        {
          g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED,
                       "a refusal needs a reason word");
          return NULL;
        }
      session = pt_signal_session_to_hex (msg->session_id);
      g_string_append_printf (out, ",\"session\":\"%s\",\"reason\":", session);
      _pt_nostr_json_append_string (out, msg->reason);
      break;
    }

  g_string_append_c (out, '}');
  /* Moved into a secret string: the buffer may hold a token. */
  {
    PtSecretString *text = g_strndup (out->str, out->len);

    explicit_bzero (out->str, out->len);
    return text;
  }
}

/* Parsing */

static gpointer
malformed (GError    **error,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);

static gpointer
malformed (GError    **error,
           const char *format,
           ...)
{
  va_list args;
  g_autofree char *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED,
               "a rendezvous message that cannot be used: %s", what);
  return NULL;
}

/* The member @name as a UTF-8 string of at most @max bytes; NULL and
 * *present = FALSE when absent. */
static const char *
get_string (JsonObject  *object,
            const char  *name,
            gsize        max,
            gboolean    *present,
            GError     **error)
{
  JsonNode *node = json_object_get_member (object, name);
  const char *value;

  *present = node != NULL;
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return malformed (error, "“%s” is not a string", name);
  value = json_node_get_string (node);
  /* json-glib lets invalid escapes through as non-UTF-8 bytes. */
  if (!g_utf8_validate (value, -1, NULL))
    return malformed (error, "“%s” is not UTF-8", name);
  if (strlen (value) > max)
    return malformed (error, "“%s” is longer than %" G_GSIZE_FORMAT " bytes", name, max);
  return value;
}

static PtSignal *
decode_signal (const char    *base64,
               PtSignalKind   want,
               GError       **error)
{
  gsize len = strlen (base64);
  gsize raw_len = 0;
  g_autofree guchar *raw = NULL;
  PtSignal *signal;

  /* g_base64_decode() skips what it does not know: check the alphabet first. */
  if (len == 0 || len % 4 != 0)
    return malformed (error, "“signal” is not base64");
  for (gsize i = 0; i < len; i++)
    {
      char c = base64[i];

      if (!(g_ascii_isalnum (c) || c == '+' || c == '/' ||
            (c == '=' && i >= len - 2 && (i == len - 1 || base64[len - 1] == '='))))
        return malformed (error, "“signal” is not base64");
    }

  raw = g_base64_decode (base64, &raw_len);
  signal = pt_signal_decode (raw, raw_len, error);
  if (signal == NULL)
    return NULL;
  if (signal->kind != want)
    {
      pt_signal_free (signal);
      return malformed (error, "its block is an %s, an %s was expected",
                        want == PT_SIGNAL_KIND_OFFER ? "answer" : "offer",
                        want == PT_SIGNAL_KIND_OFFER ? "offer" : "answer");
    }
  return signal;
}

static gboolean
parse_session_hex (const char *hex,
                   guint8     *session_id)
{
  if (strlen (hex) != 2 * PT_SIGNAL_SESSION_ID_LEN)
    return FALSE;
  for (guint i = 0; i < PT_SIGNAL_SESSION_ID_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[2 * i]) || g_ascii_isupper (hex[2 * i + 1]))
        return FALSE;
      session_id[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

PtRendezvousMessage *
_pt_rendezvous_message_parse (const char  *json,
                              gsize        len,
                              GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PtRendezvousMessage) msg = NULL;
  JsonNode *root;
  JsonObject *object;
  JsonNode *version;
  const char *type;
  const char *value;
  gboolean present;

  if (len > PT_RENDEZVOUS_MAX_JSON)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_TOO_LARGE,
                   "a rendezvous message of %" G_GSIZE_FORMAT " bytes (at most %d are accepted)",
                   len, PT_RENDEZVOUS_MAX_JSON);
      return NULL;
    }
  if (!_pt_nostr_json_check_limits (json, len, 2, error))
    return NULL;

  parser = json_parser_new_immutable ();
  /* json-glib's message quotes the input, which may hold a token and need
   * not be UTF-8: say only that it is not JSON. */
  if (!json_parser_load_from_data (parser, json, (gssize) len, &local_error))
    return malformed (error, "not JSON");

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return malformed (error, "not a JSON object");
  object = json_node_get_object (root);

  version = json_object_get_member (object, "v");
  if (version == NULL || !JSON_NODE_HOLDS_VALUE (version) ||
      json_node_get_value_type (version) != G_TYPE_INT64)
    return malformed (error, "no version number");
  if (json_node_get_int (version) != PT_RENDEZVOUS_VERSION)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_VERSION,
                   "the peer speaks rendezvous version %" G_GINT64_FORMAT ", this one speaks %d: "
                   "update both sides", json_node_get_int (version), PT_RENDEZVOUS_VERSION);
      return NULL;
    }

  type = get_string (object, "type", 16, &present, error);
  if (type == NULL)
    return present ? NULL : malformed (error, "no “type”");

  if (g_str_equal (type, "request") || g_str_equal (type, "answer"))
    {
      gboolean is_request = g_str_equal (type, "request");

      msg = _pt_rendezvous_message_new (is_request ? PT_RENDEZVOUS_REQUEST : PT_RENDEZVOUS_ANSWER);
      value = get_string (object, "signal", MAX_SIGNAL_BASE64, &present, error);
      if (value == NULL)
        return present ? NULL : malformed (error, "no “signal”");
      msg->signal = decode_signal (value, is_request ? PT_SIGNAL_KIND_OFFER : PT_SIGNAL_KIND_ANSWER,
                                   error);
      if (msg->signal == NULL)
        return NULL;
      memcpy (msg->session_id, msg->signal->session_id, sizeof msg->session_id);

      value = get_string (object, "token", MAX_TOKEN_LEN, &present, error);
      if (value == NULL && present)
        return NULL;
      if (value != NULL && !is_request)
        return malformed (error, "an answer with a token");
      if (value != NULL)
        msg->token = g_strdup (value);
    }
  else if (g_str_equal (type, "refused"))
    {
      msg = _pt_rendezvous_message_new (PT_RENDEZVOUS_REFUSED);
      value = get_string (object, "session", 2 * PT_SIGNAL_SESSION_ID_LEN, &present, error);
      if (value == NULL)
        return present ? NULL : malformed (error, "no “session”");
      if (!parse_session_hex (value, msg->session_id))
        return malformed (error, "“session” is not %d lowercase hex digits",
                          2 * PT_SIGNAL_SESSION_ID_LEN);
      value = get_string (object, "reason", PT_RENDEZVOUS_MAX_REASON, &present, error);
      if (value == NULL)
        return present ? NULL : malformed (error, "no “reason”");
      if (!is_reason_word (value))
        return malformed (error, "“reason” is not a word");
      msg->reason = g_strdup (value);
    }
  else
    return malformed (error, "unknown type “%s”", type);

  return g_steal_pointer (&msg);
}

/* Events */

PtNostrEvent *
_pt_rendezvous_seal (const PtSecretKey          *key,
                     const PtPublicKey          *peer,
                     const guint8               *conversation_key,
                     const PtRendezvousMessage  *msg,
                     gint64                      now,
                     GError                    **error)
{
  g_autoptr(PtSecretString) plaintext = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *peer_hex = NULL;
  g_autoptr(PtNostrEvent) event = NULL;

  plaintext = _pt_rendezvous_message_encode (msg, error);
  if (plaintext == NULL)
    return NULL;
  payload = _pt_nip44_encrypt (conversation_key, plaintext, strlen (plaintext), NULL, error);
  if (payload == NULL)
    return NULL;

  peer_hex = pt_public_key_to_hex (peer);
  event = _pt_nostr_event_new (PT_RENDEZVOUS_KIND, now, payload);
  _pt_nostr_event_add_tag (event, "p", peer_hex, NULL);
  if (!_pt_nostr_event_sign (event, key, error))
    return NULL;
  return g_steal_pointer (&event);
}

PtRendezvousMessage *
_pt_rendezvous_open (const PtPublicKey   *me,
                     const guint8        *conversation_key,
                     const PtNostrEvent  *event,
                     gint64               now,
                     GError             **error)
{
  const char * const *p_tag;
  PtPublicKey recipient;
  g_autoptr(PtSecretString) plaintext = NULL;
  gsize len = 0;

  if (event->kind != PT_RENDEZVOUS_KIND)
    return malformed (error, "an event of kind %u", event->kind);

  p_tag = _pt_nostr_event_find_tag (event, "p");
  if (p_tag == NULL || p_tag[1] == NULL || !pt_public_key_parse (p_tag[1], &recipient, NULL) ||
      !pt_public_key_equal (&recipient, me))
    return malformed (error, "an event addressed to someone else");

  if (event->created_at < now - PT_RENDEZVOUS_MAX_AGE_S)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_STALE,
                   "a stale event, made %" G_GINT64_FORMAT " s ago (at most %d s are accepted)",
                   now - event->created_at, PT_RENDEZVOUS_MAX_AGE_S);
      return NULL;
    }
  if (event->created_at > now + PT_SIGNAL_SKEW_SECONDS)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_FUTURE,
                   "an event dated %" G_GINT64_FORMAT " s in the future: one of the two clocks "
                   "is wrong", event->created_at - now);
      return NULL;
    }

  plaintext = _pt_nip44_decrypt (conversation_key, event->content, &len, error);
  if (plaintext == NULL)
    return NULL;
  return _pt_rendezvous_message_parse (plaintext, len, error);
}

/* Named rendezvous */

#include <math.h>

#include <argon2.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "pt-keys-private.h"

/* Argon2id parameters: part of the protocol (both sides must agree). The
 * salt is the lowercase hex SHA-256 of NAMED_SALT_PREFIX followed by the
 * name: per name, computed by both sides alike, and printable so that the
 * argon2 command-line tool can check the derivation (docs/protocol.md). */
#define NAMED_SALT_PREFIX "peertunnel named rendezvous v2\n"
#define NAMED_T_COST      8
#define NAMED_M_COST_KIB  (64 * 1024)
#define NAMED_LANES       1
#define NAMED_OUT_LEN     96      /* 32 key bytes, 64 for the token's characters */

/* The bits a piece of a name is worth (docs/protocol.md, "Named
 * rendezvous"): digits 3.32 each; letters 4.7 each, but a run of letters
 * counts as one word from a list of 8,192 at most (13 bits). */
#define BITS_PER_DIGIT    3.32
#define BITS_PER_LETTER   4.7
#define BITS_PER_WORD     13.0
#define BITS_PER_TOKEN_CHAR 6.02  /* log2 (65) */

typedef enum
{
  CHAR_SEPARATOR,
  CHAR_DIGIT,
  CHAR_LOWER,
  CHAR_UPPER,
  CHAR_OTHER_LETTER,    /* a letter outside ASCII */
} CharClass;

static CharClass
classify (gunichar c)
{
  if (c >= '0' && c <= '9')
    return CHAR_DIGIT;
  if (c >= 'a' && c <= 'z')
    return CHAR_LOWER;
  if (c >= 'A' && c <= 'Z')
    return CHAR_UPPER;
  if (c >= 0x80 && (g_unichar_isalpha (c) || g_unichar_isdigit (c)))
    return CHAR_OTHER_LETTER;
  return CHAR_SEPARATOR;
}

/* Pieces of a name are secret too. */
static void
wipe_free (gpointer data)
{
  explicit_bzero (data, strlen (data));
  g_free (data);
}

static double
piece_bits (CharClass klass,
            glong     len)
{
  if (klass == CHAR_DIGIT)
    return BITS_PER_DIGIT * len;
  return MIN (BITS_PER_LETTER * len, BITS_PER_WORD);
}

double
_pt_named_name_bits (const char *name)
{
  g_autoptr(GHashTable) pieces = g_hash_table_new_full (g_str_hash, g_str_equal, wipe_free, NULL);
  const char *piece = NULL;
  CharClass piece_class = CHAR_SEPARATOR;
  CharClass previous = CHAR_SEPARATOR;
  double bits = 0.0;

  g_return_val_if_fail (name != NULL, 0.0);
  if (!g_utf8_validate (name, -1, NULL))
    return 0.0;

  /* What pt token prints (16 random characters of 65, and a check one) has
   * 96 bits, which the rule below would underrate (it takes a run of random
   * letters for a word). Unless it has fewer than 8 distinct characters
   * (about one random token in a million): then each counts log2 (65). */
  if (pt_token_validate (name, NULL))
    {
      guint distinct = 0;

      for (gsize i = 1; i < PT_TOKEN_LEN - 1; i++)
        distinct += memchr (name + 1, name[i], i - 1) == NULL;
      return distinct >= 8 ? 96.0 : BITS_PER_TOKEN_CHAR * distinct;
    }

  /* Pieces: runs of digits, of letters (a capital may start one: "Horse",
   * "HORSE"; "camelCase" is two), split by anything else. A piece that
   * comes again (in any case) is worth nothing the second time. */
  for (const char *p = name;; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      CharClass klass = c == 0 ? CHAR_SEPARATOR : classify (c);
      gboolean letters = klass == CHAR_LOWER || klass == CHAR_UPPER;
      gboolean same = piece != NULL &&
                      (klass == piece_class ||
                       (letters && (piece_class == CHAR_LOWER || piece_class == CHAR_UPPER) &&
                        !(previous == CHAR_LOWER && klass == CHAR_UPPER)));

      if (piece != NULL && !same)
        {
          g_autofree char *folded = g_utf8_casefold (piece, p - piece);

          if (g_hash_table_add (pieces, g_steal_pointer (&folded)))
            bits += piece_bits (piece_class, g_utf8_strlen (piece, p - piece));
          piece = NULL;
        }
      if (c == 0)
        break;
      if (piece == NULL && klass != CHAR_SEPARATOR)
        {
          piece = p;
          piece_class = klass;
        }
      else if (piece != NULL && piece_class == CHAR_UPPER && klass == CHAR_LOWER)
        piece_class = CHAR_LOWER;     /* one letters class from here on */
      previous = klass;
    }
  return bits;
}

gboolean
pt_named_name_check (const char  *name,
                     GError     **error)
{
  double bits;

  g_return_val_if_fail (name != NULL, FALSE);

  if (!g_utf8_validate (name, -1, NULL) || g_utf8_strlen (name, -1) < PT_NAMED_MIN_LEN)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME,
                   "the name must be UTF-8 text of at least %d characters: it is the only "
                   "secret, and anyone who guesses it can reach the service",
                   PT_NAMED_MIN_LEN);
      return FALSE;
    }
  bits = _pt_named_name_bits (name);
  if (bits < PT_NAMED_MIN_BITS)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME,
                   "the name is too easy to guess (about %.0f bits, %d are needed): it is the "
                   "only secret, and anyone who guesses it can reach the service. Use %d or more "
                   "random words, or a token that “pt token” prints",
                   floor (bits), PT_NAMED_MIN_BITS,
                   (int) ceil (PT_NAMED_MIN_BITS / BITS_PER_WORD));
      return FALSE;
    }
  return TRUE;
}

gboolean
pt_named_rendezvous_derive (const char      *name,
                            PtSecretKey    **key,
                            PtSecretString **token,
                            GError         **error)
{
  guint8 out[NAMED_OUT_LEN];
  guint8 digest[32];
  char salt[2 * sizeof digest + 1];
  g_autoptr(PtSecretKey) derived_key = NULL;
  gsize prefix_len = strlen (NAMED_SALT_PREFIX);
  gsize name_len;
  char *salted;
  int ret;

  g_return_val_if_fail (name != NULL, FALSE);

  if (!pt_named_name_check (name, error))
    return FALSE;
  name_len = strlen (name);

  /* The salt itself is public (anyone with the name has it), but the name
   * it is made from is not: the buffer is wiped. */
  salted = g_malloc (prefix_len + name_len);
  memcpy (salted, NAMED_SALT_PREFIX, prefix_len);
  memcpy (salted + prefix_len, name, name_len);
  ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, salted, prefix_len + name_len, digest);
  explicit_bzero (salted, prefix_len + name_len);
  g_free (salted);
  if (ret < 0)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME,
                   "cannot derive keys from the name: %s", gnutls_strerror (ret));
      return FALSE;
    }
  for (gsize i = 0; i < sizeof digest; i++)
    g_snprintf (salt + 2 * i, 3, "%02x", digest[i]);

  ret = argon2id_hash_raw (NAMED_T_COST, NAMED_M_COST_KIB, NAMED_LANES,
                           name, name_len, salt, strlen (salt),
                           out, sizeof out);
  if (ret != ARGON2_OK)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME,
                   "cannot derive keys from the name: %s", argon2_error_message (ret));
      return FALSE;
    }

  /* 32 bytes below the curve order and not zero: all but ~2^-128 of them. */
  derived_key = pt_secret_key_new_from_bytes (out, error);
  if (derived_key != NULL && token != NULL)
    {
      *token = _pt_token_new_from_bytes (out + 32, sizeof out - 32);
      if (*token == NULL)
        {
          g_clear_pointer (&derived_key, pt_secret_key_free);
          g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME,
                       "this name cannot be used: choose another one");
        }
    }
  explicit_bzero (out, sizeof out);
  if (derived_key == NULL)
    return FALSE;
  if (key != NULL)
    *key = g_steal_pointer (&derived_key);
  return TRUE;
}
