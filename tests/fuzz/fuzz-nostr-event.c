/* fuzz-nostr-event.c — libFuzzer target for NIP-01 event JSON
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input to _pt_nostr_event_parse(). Random input almost never has
 * a valid id and signature, which would keep the fuzzer out of the code
 * after them: LLVMFuzzerInitialize() makes a key, and each input is also
 * parsed with its id and signature replaced by valid ones when it has the
 * shape of an event ("resealed"). Whatever parses must serialize to JSON
 * that parses back to the same id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-nostr-event-private.h"

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

static void
check_event (const PtNostrEvent *event)
{
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) again = _pt_nostr_event_parse (json, strlen (json), &error);

  /* A content with an escaped NUL is cut by json-glib and cannot round-trip. */
  if (again == NULL)
    {
      CHECK (error != NULL);
      return;
    }
  CHECK (memcmp (again->id, event->id, PT_NOSTR_ID_LEN) == 0);
  CHECK (g_str_equal (again->content, event->content));
}

static void
fuzz_parse (const char *text,
            size_t      size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) event = _pt_nostr_event_parse (text, size, &error);

  CHECK ((event == NULL) == (error != NULL));
  if (event != NULL)
    check_event (event);
}

/* Parses @text as JSON; if it is an object with the event fields in the
 * right types, signs it with the fuzz key and runs it through the parser. */
static void
fuzz_resealed (const char *text,
               size_t      size)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(PtNostrEvent) event = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr(PtNostrEvent) parsed = NULL;
  JsonObject *object;
  JsonArray *tags;

  if (!_pt_nostr_json_check_limits (text, size, PT_NOSTR_EVENT_MAX_DEPTH, NULL) ||
      !g_utf8_validate (text, size, NULL) ||
      !json_parser_load_from_data (parser, text, size, NULL) ||
      json_parser_get_root (parser) == NULL ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  object = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (object, "content") || !json_object_has_member (object, "tags") ||
      !JSON_NODE_HOLDS_VALUE (json_object_get_member (object, "content")) ||
      json_node_get_value_type (json_object_get_member (object, "content")) != G_TYPE_STRING ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "tags")) ||
      !g_utf8_validate (json_object_get_string_member (object, "content"), -1, NULL))
    return;

  event = _pt_nostr_event_new (20000, 1700000000, json_object_get_string_member (object, "content"));
  tags = json_object_get_array_member (object, "tags");
  for (guint i = 0; i < json_array_get_length (tags); i++)
    {
      JsonNode *tag = json_array_get_element (tags, i);
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      if (!JSON_NODE_HOLDS_ARRAY (tag) || json_array_get_length (json_node_get_array (tag)) == 0)
        return;
      for (guint j = 0; j < json_array_get_length (json_node_get_array (tag)); j++)
        {
          JsonNode *s = json_array_get_element (json_node_get_array (tag), j);

          /* json-glib turns some bad escapes ("\\333") into raw bytes: an
           * event is UTF-8, so such text never reaches the signer. */
          if (!JSON_NODE_HOLDS_VALUE (s) || json_node_get_value_type (s) != G_TYPE_STRING ||
              !g_utf8_validate (json_node_get_string (s), -1, NULL))
            return;
          g_strv_builder_add (builder, json_node_get_string (s));
        }
      g_ptr_array_add (event->tags, g_strv_builder_end (builder));
    }
  CHECK (_pt_nostr_event_sign (event, fuzz_key, NULL));
  CHECK (_pt_nostr_event_verify (event, NULL));

  json = _pt_nostr_event_to_json (event);
  parsed = _pt_nostr_event_parse (json, strlen (json), &error);
  CHECK (parsed != NULL);
  CHECK (memcmp (parsed->id, event->id, PT_NOSTR_ID_LEN) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  fuzz_parse ((const char *) data, size);
  fuzz_resealed ((const char *) data, size);
  return 0;
}
