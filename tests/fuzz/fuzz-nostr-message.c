/* fuzz-nostr-message.c — libFuzzer target for NIP-01 relay messages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input to _pt_nostr_relay_message_parse(). Whatever parses is
 * written back out (subscription ids and messages with the NIP-01 escaping)
 * and must parse again to the same fields. An input shaped like
 * ["EVENT",<sub_id>,{"content":…}] is also "resealed": its content is signed
 * with a fixed key so that the code after signature verification is reached.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-nostr-message-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

static PtSecretKey *fuzz_key;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_key = pt_secret_key_parse ("0000000000000000000000000000000000000000000000000000000000000003", NULL);
  CHECK (fuzz_key != NULL);
  return 0;
}

static char *
reencode (const PtNostrRelayMessage *message)
{
  GString *out = g_string_new ("[");
  static const char digits[] = "0123456789abcdef";
  g_autofree char *event = NULL;

  _pt_nostr_json_append_string (out, _pt_nostr_relay_message_type_to_string (message->type));
  switch (message->type)
    {
    case PT_NOSTR_RELAY_MESSAGE_EVENT:
      event = _pt_nostr_event_to_json (message->event);
      g_string_append_c (out, ',');
      _pt_nostr_json_append_string (out, message->sub_id);
      g_string_append_printf (out, ",%s", event);
      break;
    case PT_NOSTR_RELAY_MESSAGE_OK:
      g_string_append (out, ",\"");
      for (gsize i = 0; i < PT_NOSTR_ID_LEN; i++)
        {
          g_string_append_c (out, digits[message->event_id[i] >> 4]);
          g_string_append_c (out, digits[message->event_id[i] & 0xf]);
        }
      g_string_append_printf (out, "\",%s,", message->accepted ? "true" : "false");
      _pt_nostr_json_append_string (out, message->message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_EOSE:
      g_string_append_c (out, ',');
      _pt_nostr_json_append_string (out, message->sub_id);
      break;
    case PT_NOSTR_RELAY_MESSAGE_CLOSED:
      g_string_append_c (out, ',');
      _pt_nostr_json_append_string (out, message->sub_id);
      g_string_append_c (out, ',');
      _pt_nostr_json_append_string (out, message->message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_NOTICE:
      g_string_append_c (out, ',');
      _pt_nostr_json_append_string (out, message->message);
      break;
    case PT_NOSTR_RELAY_MESSAGE_AUTH:
      g_string_append (out, ",\"challenge\"");
      break;
    }
  g_string_append_c (out, ']');
  return g_string_free (out, FALSE);
}

static void
check_round_trip (const PtNostrRelayMessage *message)
{
  g_autofree char *json = reencode (message);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrRelayMessage) again = _pt_nostr_relay_message_parse (json, strlen (json), &error);

  /* A string with an escaped NUL is cut by json-glib and cannot round-trip. */
  if (again == NULL)
    {
      CHECK (error != NULL);
      return;
    }
  CHECK (again->type == message->type);
  CHECK (g_strcmp0 (again->sub_id, message->sub_id) == 0);
  CHECK (g_strcmp0 (again->message, message->message) == 0);
  CHECK (again->accepted == message->accepted);
  CHECK (memcmp (again->event_id, message->event_id, PT_NOSTR_ID_LEN) == 0);
  CHECK ((again->event == NULL) == (message->event == NULL));
  if (again->event != NULL)
    CHECK (memcmp (again->event->id, message->event->id, PT_NOSTR_ID_LEN) == 0);
}

static void
fuzz_parse (const char *text,
            size_t      size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrRelayMessage) message = _pt_nostr_relay_message_parse (text, size, &error);

  CHECK ((message == NULL) == (error != NULL));
  CHECK (error == NULL || error->domain == PT_NOSTR_ERROR);
  if (message != NULL)
    {
      CHECK (message->type != PT_NOSTR_RELAY_MESSAGE_EVENT || message->event != NULL);
      check_round_trip (message);
    }
}

static void
fuzz_resealed (const char *text,
               size_t      size)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(PtNostrEvent) event = NULL;
  g_autoptr(PtNostrRelayMessage) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *event_json = NULL;
  GString *json;
  JsonArray *array;
  JsonNode *content;

  if (!_pt_nostr_json_check_limits (text, size, PT_NOSTR_MESSAGE_MAX_DEPTH, NULL) ||
      !g_utf8_validate (text, size, NULL) ||
      !json_parser_load_from_data (parser, text, size, NULL) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser)))
    return;
  array = json_node_get_array (json_parser_get_root (parser));
  if (json_array_get_length (array) != 3 ||
      !JSON_NODE_HOLDS_VALUE (json_array_get_element (array, 1)) ||
      json_node_get_value_type (json_array_get_element (array, 1)) != G_TYPE_STRING ||
      !JSON_NODE_HOLDS_OBJECT (json_array_get_element (array, 2)))
    return;
  content = json_object_get_member (json_node_get_object (json_array_get_element (array, 2)), "content");
  /* json-glib turns some bad escapes ("\\252") into raw bytes: event
   * content is UTF-8, so such text never reaches the signer. */
  if (content == NULL || !JSON_NODE_HOLDS_VALUE (content) ||
      json_node_get_value_type (content) != G_TYPE_STRING ||
      !g_utf8_validate (json_node_get_string (content), -1, NULL))
    return;

  event = _pt_nostr_event_new (21059, 1700000000, json_node_get_string (content));
  CHECK (_pt_nostr_event_sign (event, fuzz_key, NULL));
  event_json = _pt_nostr_event_to_json (event);
  json = g_string_new ("[\"EVENT\",");
  _pt_nostr_json_append_string (json, json_node_get_string (json_array_get_element (array, 1)));
  g_string_append_printf (json, ",%s]", event_json);
  message = _pt_nostr_relay_message_parse (json->str, json->len, &error);
  /* Fails only for a subscription id the codec refuses, or an escaped NUL. */
  if (message != NULL)
    {
      CHECK (message->type == PT_NOSTR_RELAY_MESSAGE_EVENT);
      CHECK (memcmp (message->event->id, event->id, PT_NOSTR_ID_LEN) == 0);
    }
  else
    CHECK (error != NULL);
  g_string_free (json, TRUE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  fuzz_parse ((const char *) data, size);
  fuzz_resealed ((const char *) data, size);
  return 0;
}
