/* pt-nostr-message.c — NIP-01 messages between client and relay
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Written by hand (strings with the NIP-01 escaping of pt-nostr-event.c),
 * parsed with json-glib after _pt_nostr_json_check_limits() has bounded the
 * size and nesting. Every relay message is an array whose first element names
 * its type and whose length is fixed by that type; anything else is refused
 * with PT_NOSTR_ERROR_MALFORMED and a message that says what was wrong.
 */
#define G_LOG_DOMAIN "pt-nostr-message"

#include "config.h"

#include <string.h>

#include "pt-nostr-message-private.h"

/* ---------------------------------------------------------------------- */
/* Filters */

PtNostrFilter *
_pt_nostr_filter_new (void)
{
  PtNostrFilter *filter = g_new0 (PtNostrFilter, 1);

  filter->kinds = g_array_new (FALSE, FALSE, sizeof (guint));
  filter->authors = g_array_new (FALSE, FALSE, sizeof (PtPublicKey));
  filter->p_tags = g_array_new (FALSE, FALSE, sizeof (PtPublicKey));
  filter->since = -1;
  filter->limit = -1;
  return filter;
}

PtNostrFilter *
_pt_nostr_filter_copy (const PtNostrFilter *filter)
{
  PtNostrFilter *copy;

  g_return_val_if_fail (filter != NULL, NULL);

  copy = _pt_nostr_filter_new ();
  g_array_append_vals (copy->kinds, filter->kinds->data, filter->kinds->len);
  g_array_append_vals (copy->authors, filter->authors->data, filter->authors->len);
  g_array_append_vals (copy->p_tags, filter->p_tags->data, filter->p_tags->len);
  copy->since = filter->since;
  copy->limit = filter->limit;
  return copy;
}

void
_pt_nostr_filter_free (PtNostrFilter *filter)
{
  if (filter == NULL)
    return;
  g_array_unref (filter->kinds);
  g_array_unref (filter->authors);
  g_array_unref (filter->p_tags);
  g_free (filter);
}

void
_pt_nostr_filter_add_kind (PtNostrFilter *filter,
                           guint          kind)
{
  g_return_if_fail (filter != NULL);
  g_return_if_fail (kind <= PT_NOSTR_MAX_KIND);
  g_array_append_val (filter->kinds, kind);
}

void
_pt_nostr_filter_add_author (PtNostrFilter     *filter,
                             const PtPublicKey *author)
{
  g_return_if_fail (filter != NULL);
  g_return_if_fail (author != NULL);
  g_array_append_vals (filter->authors, author, 1);
}

void
_pt_nostr_filter_add_p_tag (PtNostrFilter     *filter,
                            const PtPublicKey *pubkey)
{
  g_return_if_fail (filter != NULL);
  g_return_if_fail (pubkey != NULL);
  g_array_append_vals (filter->p_tags, pubkey, 1);
}

void
_pt_nostr_filter_set_since (PtNostrFilter *filter,
                            gint64         since)
{
  g_return_if_fail (filter != NULL);
  g_return_if_fail (since >= -1);
  filter->since = since;
}

void
_pt_nostr_filter_set_limit (PtNostrFilter *filter,
                            guint          limit)
{
  g_return_if_fail (filter != NULL);
  filter->limit = limit;
}

static void
append_keys (GString    *out,
             const char *name,
             GArray     *keys,
             gboolean   *first)
{
  if (keys->len == 0)
    return;
  g_string_append_printf (out, "%s\"%s\":[", *first ? "" : ",", name);
  for (guint i = 0; i < keys->len; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      _pt_nostr_json_append_hex (out, g_array_index (keys, PtPublicKey, i).bytes, PT_KEY_LEN);
    }
  g_string_append_c (out, ']');
  *first = FALSE;
}

static void
append_filter (GString             *out,
               const PtNostrFilter *filter)
{
  gboolean first = TRUE;

  g_string_append_c (out, '{');
  if (filter->kinds->len > 0)
    {
      g_string_append (out, "\"kinds\":[");
      for (guint i = 0; i < filter->kinds->len; i++)
        g_string_append_printf (out, "%s%u", i > 0 ? "," : "", g_array_index (filter->kinds, guint, i));
      g_string_append_c (out, ']');
      first = FALSE;
    }
  append_keys (out, "authors", filter->authors, &first);
  append_keys (out, "#p", filter->p_tags, &first);
  if (filter->since >= 0)
    {
      g_string_append_printf (out, "%s\"since\":%" G_GINT64_FORMAT, first ? "" : ",", filter->since);
      first = FALSE;
    }
  if (filter->limit >= 0)
    g_string_append_printf (out, "%s\"limit\":%" G_GINT64_FORMAT, first ? "" : ",", filter->limit);
  g_string_append_c (out, '}');
}

char *
_pt_nostr_filter_to_json (const PtNostrFilter *filter)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (filter != NULL, NULL);

  append_filter (out, filter);
  return g_string_free (out, FALSE);
}

static gboolean
key_in (GArray     *keys,
        const char *hex)
{
  PtPublicKey key;

  if (strlen (hex) != PT_KEY_LEN * 2)
    return FALSE;
  for (gsize i = 0; i < PT_KEY_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      key.bytes[i] = (guint8) (hi << 4 | lo);
    }
  for (guint i = 0; i < keys->len; i++)
    if (memcmp (g_array_index (keys, PtPublicKey, i).bytes, key.bytes, PT_KEY_LEN) == 0)
      return TRUE;
  return FALSE;
}

gboolean
_pt_nostr_filter_matches (const PtNostrFilter *filter,
                          const PtNostrEvent  *event)
{
  gboolean found;

  g_return_val_if_fail (filter != NULL, FALSE);
  g_return_val_if_fail (event != NULL, FALSE);

  if (filter->kinds->len > 0)
    {
      found = FALSE;
      for (guint i = 0; i < filter->kinds->len && !found; i++)
        found = g_array_index (filter->kinds, guint, i) == event->kind;
      if (!found)
        return FALSE;
    }
  if (filter->authors->len > 0)
    {
      found = FALSE;
      for (guint i = 0; i < filter->authors->len && !found; i++)
        found = memcmp (g_array_index (filter->authors, PtPublicKey, i).bytes,
                        event->pubkey.bytes, PT_KEY_LEN) == 0;
      if (!found)
        return FALSE;
    }
  if (filter->p_tags->len > 0)
    {
      found = FALSE;
      for (guint i = 0; i < event->tags->len && !found; i++)
        {
          char **tag = g_ptr_array_index (event->tags, i);

          found = g_str_equal (tag[0], "p") && tag[1] != NULL && key_in (filter->p_tags, tag[1]);
        }
      if (!found)
        return FALSE;
    }
  if (filter->since >= 0 && event->created_at < filter->since)
    return FALSE;
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Client → relay */

gboolean
_pt_nostr_sub_id_is_valid (const char *sub_id)
{
  return sub_id != NULL && sub_id[0] != '\0' &&
         g_utf8_validate (sub_id, -1, NULL) &&
         g_utf8_strlen (sub_id, -1) <= PT_NOSTR_SUB_ID_MAX_LEN;
}

char *
_pt_nostr_message_encode_event (const PtNostrEvent *event)
{
  g_autofree char *json = NULL;

  g_return_val_if_fail (event != NULL, NULL);

  json = _pt_nostr_event_to_json (event);
  return g_strconcat ("[\"EVENT\",", json, "]", NULL);
}

char *
_pt_nostr_message_encode_req (const char                  *sub_id,
                              const PtNostrFilter * const *filters,
                              gsize                        n_filters)
{
  GString *out;

  g_return_val_if_fail (_pt_nostr_sub_id_is_valid (sub_id), NULL);
  g_return_val_if_fail (filters != NULL && n_filters > 0, NULL);

  out = g_string_new ("[\"REQ\",");
  _pt_nostr_json_append_string (out, sub_id);
  for (gsize i = 0; i < n_filters; i++)
    {
      g_string_append_c (out, ',');
      append_filter (out, filters[i]);
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

char *
_pt_nostr_message_encode_close (const char *sub_id)
{
  GString *out;

  g_return_val_if_fail (_pt_nostr_sub_id_is_valid (sub_id), NULL);

  out = g_string_new ("[\"CLOSE\",");
  _pt_nostr_json_append_string (out, sub_id);
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

/* ---------------------------------------------------------------------- */
/* Relay → client */

const char *
_pt_nostr_relay_message_type_to_string (PtNostrRelayMessageType type)
{
  switch (type)
    {
    case PT_NOSTR_RELAY_MESSAGE_EVENT:  return "EVENT";
    case PT_NOSTR_RELAY_MESSAGE_OK:     return "OK";
    case PT_NOSTR_RELAY_MESSAGE_EOSE:   return "EOSE";
    case PT_NOSTR_RELAY_MESSAGE_CLOSED: return "CLOSED";
    case PT_NOSTR_RELAY_MESSAGE_NOTICE: return "NOTICE";
    case PT_NOSTR_RELAY_MESSAGE_AUTH:   return "AUTH";
    }
  return "invalid";
}

void
_pt_nostr_relay_message_free (PtNostrRelayMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->sub_id);
  g_clear_pointer (&message->event, _pt_nostr_event_free);
  g_free (message->message);
  g_free (message);
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
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED,
               "not a valid relay message: %s", text);
  return FALSE;
}

static const char *
get_string (JsonArray  *array,
            guint       index,
            const char *what,
            GError    **error)
{
  JsonNode *node = json_array_get_element (array, index);

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      malformed (error, "%s (element %u) is not a string", what, index + 1);
      return NULL;
    }
  return json_node_get_string (node);
}

static char *
get_sub_id (JsonArray *array,
            GError   **error)
{
  const char *sub_id = get_string (array, 1, "the subscription id", error);

  if (sub_id == NULL)
    return NULL;
  if (!_pt_nostr_sub_id_is_valid (sub_id))
    {
      malformed (error, "the subscription id is empty or longer than %d characters",
                 PT_NOSTR_SUB_ID_MAX_LEN);
      return NULL;
    }
  return g_strdup (sub_id);
}

static gboolean
check_length (JsonArray  *array,
              const char *type,
              guint       expected,
              GError    **error)
{
  guint len = json_array_get_length (array);

  if (len != expected)
    return malformed (error, "“%s” with %u elements, %u were expected", type, len, expected);
  return TRUE;
}

static gboolean
parse_event_id (const char *hex,
                guint8     *out,
                GError    **error)
{
  if (strlen (hex) != PT_NOSTR_ID_LEN * 2)
    return malformed (error, "“OK” for an event id of %" G_GSIZE_FORMAT
                      " characters, 64 lowercase hex digits were expected", strlen (hex));
  for (gsize i = 0; i < PT_NOSTR_ID_LEN; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0 || g_ascii_isupper (hex[2 * i]) || g_ascii_isupper (hex[2 * i + 1]))
        return malformed (error, "“OK” for an event id that is not lowercase hex");
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

static gboolean
parse_array (JsonArray           *array,
             PtNostrRelayMessage *message,
             gboolean             verify,
             GError             **error)
{
  const char *type;
  const char *text;
  JsonNode *node;

  if (json_array_get_length (array) == 0)
    return malformed (error, "an empty array");
  type = get_string (array, 0, "the message type", error);
  if (type == NULL)
    return FALSE;

  if (g_str_equal (type, "EVENT"))
    {
      message->type = PT_NOSTR_RELAY_MESSAGE_EVENT;
      if (!check_length (array, type, 3, error) ||
          (message->sub_id = get_sub_id (array, error)) == NULL)
        return FALSE;
      message->event = _pt_nostr_event_from_node_full (json_array_get_element (array, 2), verify,
                                                       error);
      return message->event != NULL;
    }
  if (g_str_equal (type, "OK"))
    {
      message->type = PT_NOSTR_RELAY_MESSAGE_OK;
      if (!check_length (array, type, 4, error) ||
          (text = get_string (array, 1, "the event id", error)) == NULL ||
          !parse_event_id (text, message->event_id, error))
        return FALSE;
      node = json_array_get_element (array, 2);
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return malformed (error, "the “OK” status (element 3) is not true or false");
      message->accepted = json_node_get_boolean (node);
      if ((text = get_string (array, 3, "the “OK” message", error)) == NULL)
        return FALSE;
      message->message = g_strdup (text);
      return TRUE;
    }
  if (g_str_equal (type, "EOSE"))
    {
      message->type = PT_NOSTR_RELAY_MESSAGE_EOSE;
      return check_length (array, type, 2, error) &&
             (message->sub_id = get_sub_id (array, error)) != NULL;
    }
  if (g_str_equal (type, "CLOSED"))
    {
      message->type = PT_NOSTR_RELAY_MESSAGE_CLOSED;
      if (!check_length (array, type, 3, error) ||
          (message->sub_id = get_sub_id (array, error)) == NULL ||
          (text = get_string (array, 2, "the “CLOSED” message", error)) == NULL)
        return FALSE;
      message->message = g_strdup (text);
      return TRUE;
    }
  if (g_str_equal (type, "NOTICE"))
    {
      message->type = PT_NOSTR_RELAY_MESSAGE_NOTICE;
      if (!check_length (array, type, 2, error) ||
          (text = get_string (array, 1, "the notice", error)) == NULL)
        return FALSE;
      message->message = g_strdup (text);
      return TRUE;
    }
  if (g_str_equal (type, "AUTH"))
    {
      /* NIP-42 challenge: PeerTunnel never authenticates to relays. */
      message->type = PT_NOSTR_RELAY_MESSAGE_AUTH;
      if (json_array_get_length (array) < 2)
        return malformed (error, "“AUTH” without a challenge");
      return TRUE;
    }
  return malformed (error, "unknown message type “%.32s”", type);
}

PtNostrRelayMessage *
_pt_nostr_relay_message_parse (const char *json,
                               gsize       len,
                               GError    **error)
{
  return _pt_nostr_relay_message_parse_full (json, len, TRUE, error);
}

PtNostrRelayMessage *
_pt_nostr_relay_message_parse_full (const char *json,
                                    gsize       len,
                                    gboolean    verify,
                                    GError    **error)
{
  g_autoptr(PtNostrRelayMessage) message = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;

  g_return_val_if_fail (json != NULL || len == 0, NULL);

  if (!_pt_nostr_json_check_limits (json, len, PT_NOSTR_MESSAGE_MAX_DEPTH, error))
    return NULL;
  if (len == 0)
    {
      malformed (error, "empty");
      return NULL;
    }
  if (memchr (json, '\0', len) != NULL || !g_utf8_validate (json, len, NULL))
    {
      malformed (error, "not UTF-8 text");
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
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    {
      malformed (error, "not a JSON array");
      return NULL;
    }

  message = g_new0 (PtNostrRelayMessage, 1);
  if (!parse_array (json_node_get_array (root), message, verify, error))
    return NULL;
  return g_steal_pointer (&message);
}
