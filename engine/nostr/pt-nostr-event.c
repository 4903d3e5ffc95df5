/* pt-nostr-event.c — NIP-01 events: id, BIP-340 signature, JSON
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The id is the SHA-256 of [0,pubkey,created_at,kind,tags,content] written
 * without white space. Strings in it are escaped as NIP-01 lists (\n \" \\ \r
 * \t \b \f) and, for the other control characters, as \u00XX in lowercase
 * like JavaScript's JSON.stringify, which most clients use; everything else,
 * DEL and non-ASCII included, is written verbatim. json-glib's generator
 * differs (raw 0x1F, escaped 0x7F), so this file writes JSON by hand and uses
 * json-glib only to parse. tests/data/nostr-events.json holds events made by
 * nostr-tools that the tests check ids and signatures against.
 */
#define G_LOG_DOMAIN "pt-nostr-event"

#include "config.h"

#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "pt-keys-private.h"
#include "pt-nostr-event-private.h"

/* ---------------------------------------------------------------------- */
/* Building */

PtNostrEvent *
_pt_nostr_event_new (guint       kind,
                     gint64      created_at,
                     const char *content)
{
  PtNostrEvent *event;

  g_return_val_if_fail (kind <= PT_NOSTR_MAX_KIND, NULL);
  g_return_val_if_fail (created_at >= 0, NULL);
  g_return_val_if_fail (content != NULL && g_utf8_validate (content, -1, NULL), NULL);

  event = g_new0 (PtNostrEvent, 1);
  event->kind = kind;
  event->created_at = created_at;
  event->content = g_strdup (content);
  event->tags = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  return event;
}

void
_pt_nostr_event_free (PtNostrEvent *event)
{
  if (event == NULL)
    return;
  g_clear_pointer (&event->tags, g_ptr_array_unref);
  g_free (event->content);
  g_free (event);
}

void
_pt_nostr_event_add_tag (PtNostrEvent *event,
                         const char   *first,
                         ...)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  va_list args;

  g_return_if_fail (event != NULL);
  g_return_if_fail (first != NULL);

  va_start (args, first);
  for (const char *s = first; s != NULL; s = va_arg (args, const char *))
    {
      if (!g_utf8_validate (s, -1, NULL))
        {
          va_end (args);
          g_return_if_reached ();
        }
      g_strv_builder_add (builder, s);
    }
  va_end (args);
  g_ptr_array_add (event->tags, g_strv_builder_end (builder));
}

const char * const *
_pt_nostr_event_find_tag (const PtNostrEvent *event,
                          const char         *name)
{
  g_return_val_if_fail (event != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < event->tags->len; i++)
    {
      char **tag = g_ptr_array_index (event->tags, i);

      if (g_str_equal (tag[0], name))
        return (const char * const *) tag;
    }
  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Serializing */

void
_pt_nostr_json_append_string (GString    *out,
                              const char *str)
{
  g_string_append_c (out, '"');
  for (const guchar *p = (const guchar *) str; *p; p++)
    {
      switch (*p)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        default:
          if (*p < 0x20)
            g_string_append_printf (out, "\\u%04x", *p);
          else
            g_string_append_c (out, (char) *p);
        }
    }
  g_string_append_c (out, '"');
}

void
_pt_nostr_json_append_hex (GString      *out,
                           const guint8 *data,
                           gsize         len)
{
  static const char digits[] = "0123456789abcdef";

  g_string_append_c (out, '"');
  for (gsize i = 0; i < len; i++)
    {
      g_string_append_c (out, digits[data[i] >> 4]);
      g_string_append_c (out, digits[data[i] & 0xf]);
    }
  g_string_append_c (out, '"');
}

static void
append_tags (GString         *out,
             const GPtrArray *tags)
{
  g_string_append_c (out, '[');
  for (guint i = 0; i < tags->len; i++)
    {
      char **tag = g_ptr_array_index (tags, i);

      if (i > 0)
        g_string_append_c (out, ',');
      g_string_append_c (out, '[');
      for (guint j = 0; tag[j] != NULL; j++)
        {
          if (j > 0)
            g_string_append_c (out, ',');
          _pt_nostr_json_append_string (out, tag[j]);
        }
      g_string_append_c (out, ']');
    }
  g_string_append_c (out, ']');
}

char *
_pt_nostr_event_serialize_for_id (const PtNostrEvent *event)
{
  GString *out;

  g_return_val_if_fail (event != NULL, NULL);

  out = g_string_new ("[0,");
  _pt_nostr_json_append_hex (out, event->pubkey.bytes, PT_KEY_LEN);
  g_string_append_printf (out, ",%" G_GINT64_FORMAT ",%u,", event->created_at, event->kind);
  append_tags (out, event->tags);
  g_string_append_c (out, ',');
  _pt_nostr_json_append_string (out, event->content);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

void
_pt_nostr_event_compute_id (const PtNostrEvent *event,
                            guint8             *id)
{
  g_autofree char *serialized = _pt_nostr_event_serialize_for_id (event);
  int ret = gnutls_hash_fast (GNUTLS_DIG_SHA256, serialized, strlen (serialized), id);

  /* SHA-256 cannot fail short of a broken library. */
  g_assert (ret == 0);
}

char *
_pt_nostr_event_to_json (const PtNostrEvent *event)
{
  GString *out;

  g_return_val_if_fail (event != NULL, NULL);

  out = g_string_new ("{\"id\":");
  _pt_nostr_json_append_hex (out, event->id, PT_NOSTR_ID_LEN);
  g_string_append (out, ",\"pubkey\":");
  _pt_nostr_json_append_hex (out, event->pubkey.bytes, PT_KEY_LEN);
  g_string_append_printf (out, ",\"created_at\":%" G_GINT64_FORMAT ",\"kind\":%u,\"tags\":",
                          event->created_at, event->kind);
  append_tags (out, event->tags);
  g_string_append (out, ",\"content\":");
  _pt_nostr_json_append_string (out, event->content);
  g_string_append (out, ",\"sig\":");
  _pt_nostr_json_append_hex (out, event->sig, PT_NOSTR_SIG_LEN);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* ---------------------------------------------------------------------- */
/* Signing and verifying */

gboolean
_pt_nostr_event_sign (PtNostrEvent      *event,
                      const PtSecretKey *key,
                      GError           **error)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  secp256k1_keypair keypair;
  guint8 aux[32];
  int ret;

  g_return_val_if_fail (event != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  event->pubkey = *pt_secret_key_get_public (key);
  _pt_nostr_event_compute_id (event, event->id);

  ret = gnutls_rnd (GNUTLS_RND_NONCE, aux, sizeof aux);
  if (ret < 0)
    {
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_RANDOM,
                   "the system random generator failed: %s", gnutls_strerror (ret));
      return FALSE;
    }
  if (!secp256k1_keypair_create (ctx, &keypair, pt_secret_key_get_bytes (key)) ||
      !secp256k1_schnorrsig_sign32 (ctx, event->sig, event->id, &keypair, aux))
    {
      explicit_bzero (&keypair, sizeof keypair);
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_KEY,
                           "could not sign the event with this key");
      return FALSE;
    }
  explicit_bzero (&keypair, sizeof keypair);
  explicit_bzero (aux, sizeof aux);
  return TRUE;
}

gboolean
_pt_nostr_event_verify (const PtNostrEvent *event,
                        GError            **error)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  secp256k1_xonly_pubkey pubkey;
  guint8 id[PT_NOSTR_ID_LEN];

  g_return_val_if_fail (event != NULL, FALSE);

  _pt_nostr_event_compute_id (event, id);
  if (memcmp (id, event->id, sizeof id) != 0)
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_ID,
                           "the event's id is not the hash of its contents: altered on the way?");
      return FALSE;
    }
  if (!secp256k1_xonly_pubkey_parse (ctx, &pubkey, event->pubkey.bytes))
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_SIGNATURE,
                           "the event's pubkey is not a point of the secp256k1 curve");
      return FALSE;
    }
  if (!secp256k1_schnorrsig_verify (ctx, event->sig, event->id, sizeof event->id, &pubkey))
    {
      g_set_error_literal (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_SIGNATURE,
                           "the event's signature is not valid for its pubkey");
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Parsing */

gboolean
_pt_nostr_json_check_limits (const char *json,
                             gsize       len,
                             guint       max_depth,
                             GError    **error)
{
  gboolean in_string = FALSE, escaped = FALSE;
  guint depth = 0;

  if (len > PT_NOSTR_EVENT_MAX_SIZE)
    {
      g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_TOO_LARGE,
                   "message of %" G_GSIZE_FORMAT " bytes, at most %d are accepted",
                   len, PT_NOSTR_EVENT_MAX_SIZE);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      char c = json[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          if (++depth > max_depth)
            {
              g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED,
                           "JSON nested more than %u levels deep", max_depth);
              return FALSE;
            }
        }
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

static gboolean
malformed (GError    **error,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);

static gboolean
malformed (GError    **error,
           const char *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED, "not a valid event: %s", message);
  return FALSE;
}

static JsonNode *
get_member (JsonObject *object,
            const char *name,
            GError    **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    malformed (error, "no “%s” field", name);
  return node;
}

/* Lowercase hex of exactly @len bytes, as NIP-01 requires. */
static gboolean
get_hex (JsonObject *object,
         const char *name,
         guint8     *out,
         gsize       len,
         GError    **error)
{
  JsonNode *node = get_member (object, name, error);
  const char *text;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return malformed (error, "“%s” is not a string", name);
  text = json_node_get_string (node);
  if (strlen (text) != len * 2)
    return malformed (error, "“%s” has %" G_GSIZE_FORMAT " characters, %" G_GSIZE_FORMAT
                      " lowercase hex digits were expected", name, strlen (text), len * 2);
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);

      if (hi < 0 || lo < 0 || g_ascii_isupper (text[2 * i]) || g_ascii_isupper (text[2 * i + 1]))
        return malformed (error, "“%s” is not lowercase hex", name);
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

static gboolean
get_integer (JsonObject *object,
             const char *name,
             gint64      max,
             gint64     *out,
             GError    **error)
{
  JsonNode *node = get_member (object, name, error);
  gint64 value;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return malformed (error, "“%s” is not an integer", name);
  value = json_node_get_int (node);
  if (value < 0 || value > max)
    return malformed (error, "“%s” is out of range (0 to %" G_GINT64_FORMAT ")", name, max);
  *out = value;
  return TRUE;
}

static gboolean
is_string_node (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
get_tags (JsonObject *object,
          GPtrArray  *tags,
          GError    **error)
{
  JsonNode *node = get_member (object, "tags", error);
  JsonArray *array;

  if (node == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return malformed (error, "“tags” is not an array");
  array = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *tag_node = json_array_get_element (array, i);
      JsonArray *tag;
      GStrv strv;
      guint n;

      if (!JSON_NODE_HOLDS_ARRAY (tag_node))
        return malformed (error, "tag %u is not an array", i + 1);
      tag = json_node_get_array (tag_node);
      n = json_array_get_length (tag);
      if (n == 0)
        return malformed (error, "tag %u is empty", i + 1);
      strv = g_new0 (char *, n + 1);
      for (guint j = 0; j < n; j++)
        {
          JsonNode *element = json_array_get_element (tag, j);

          if (!is_string_node (element))
            {
              g_strfreev (strv);
              return malformed (error, "element %u of tag %u is not a string", j + 1, i + 1);
            }
          strv[j] = g_strdup (json_node_get_string (element));
        }
      g_ptr_array_add (tags, strv);
    }
  return TRUE;
}

PtNostrEvent *
_pt_nostr_event_from_node (JsonNode *node,
                           GError  **error)
{
  return _pt_nostr_event_from_node_full (node, TRUE, error);
}

PtNostrEvent *
_pt_nostr_event_from_node_full (JsonNode *node,
                                gboolean  verify,
                                GError  **error)
{
  g_autoptr(PtNostrEvent) event = NULL;
  JsonObject *object;
  JsonNode *content;
  gint64 kind = 0;

  g_return_val_if_fail (node != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      malformed (error, "not a JSON object");
      return NULL;
    }
  object = json_node_get_object (node);

  event = g_new0 (PtNostrEvent, 1);
  event->tags = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);

  if (!get_hex (object, "id", event->id, PT_NOSTR_ID_LEN, error) ||
      !get_hex (object, "pubkey", event->pubkey.bytes, PT_KEY_LEN, error) ||
      !get_integer (object, "created_at", G_MAXINT64, &event->created_at, error) ||
      !get_integer (object, "kind", PT_NOSTR_MAX_KIND, &kind, error) ||
      !get_tags (object, event->tags, error) ||
      !get_hex (object, "sig", event->sig, PT_NOSTR_SIG_LEN, error))
    return NULL;
  event->kind = (guint) kind;

  content = get_member (object, "content", error);
  if (content == NULL)
    return NULL;
  if (!is_string_node (content))
    {
      malformed (error, "“content” is not a string");
      return NULL;
    }
  event->content = g_strdup (json_node_get_string (content));

  if (verify && !_pt_nostr_event_verify (event, error))
    return NULL;
  return g_steal_pointer (&event);
}

PtNostrEvent *
_pt_nostr_event_parse (const char *json,
                       gsize       len,
                       GError    **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  g_return_val_if_fail (json != NULL || len == 0, NULL);

  if (!_pt_nostr_json_check_limits (json, len, PT_NOSTR_EVENT_MAX_DEPTH, error))
    return NULL;
  if (len == 0 || memchr (json, '\0', len) != NULL || !g_utf8_validate (json, len, NULL))
    {
      malformed (error, len == 0 ? "empty" : "not UTF-8 text");
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, json, len, &local_error))
    {
      g_autofree char *why = g_utf8_make_valid (local_error->message, -1);

      /* json-glib quotes the input, which may not be UTF-8. */
      malformed (error, "%s", why);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      malformed (error, "empty");
      return NULL;
    }
  return _pt_nostr_event_from_node (root, error);
}
