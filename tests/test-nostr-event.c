/* test-nostr-event.c — NIP-01 events: ids, signatures, strict parsing
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"
#include "pt-nostr-event-private.h"

#define SECRET_HEX "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"

static char *
data_path (const char *name)
{
  const char *srcdir = g_getenv ("PT_SOURCE_DIR");

  if (srcdir != NULL)
    return g_build_filename (srcdir, "tests", "data", name, NULL);
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

static PtSecretKey *
test_key (void)
{
  g_autoptr(GError) error = NULL;
  PtSecretKey *key = pt_secret_key_parse (SECRET_HEX, &error);

  g_assert_no_error (error);
  return key;
}

static PtNostrEvent *
signed_event (const char *content)
{
  g_autoptr(PtSecretKey) key = test_key ();
  g_autoptr(GError) error = NULL;
  PtNostrEvent *event = _pt_nostr_event_new (21059, 1700000000, content);

  _pt_nostr_event_add_tag (event, "p", "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e", NULL);
  g_assert_true (_pt_nostr_event_sign (event, key, &error));
  g_assert_no_error (error);
  return event;
}

/* Replaces the first occurrence of @from in @json by @to. */
static char *
replace_once (const char *json,
              const char *from,
              const char *to)
{
  const char *at = strstr (json, from);

  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - json), json, to, at + strlen (from));
}

static void
assert_parse_fails (const char *json,
                    gint        code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) event = _pt_nostr_event_parse (json, strlen (json), &error);

  g_assert_null (event);
  g_assert_error (error, PT_NOSTR_ERROR, code);
}

/* ---------------------------------------------------------------------- */

/* Events made by nostr-tools (tests/data/nostr-events.json): same id, valid signature. */
static void
test_nostr_tools_events (void)
{
  g_autofree char *path = data_path ("nostr-events.json");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *events;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  events = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                         "events");
  for (guint i = 0; i < json_array_get_length (events); i++)
    {
      JsonObject *o = json_array_get_object_element (events, i);
      JsonNode *node = json_object_get_member (o, "event");
      g_autoptr(PtNostrEvent) event = NULL;
      g_autoptr(PtNostrEvent) again = NULL;
      g_autofree char *json = NULL;
      guint8 computed[PT_NOSTR_ID_LEN];

      g_test_message ("event %u: %s", i, json_object_get_string_member (o, "note"));
      event = _pt_nostr_event_from_node (node, &error);
      g_assert_no_error (error);
      _pt_nostr_event_compute_id (event, computed);
      g_assert_cmpmem (computed, sizeof computed, event->id, sizeof event->id);

      /* What we serialize for publishing parses back to the same event. */
      json = _pt_nostr_event_to_json (event);
      again = _pt_nostr_event_parse (json, strlen (json), &error);
      g_assert_no_error (error);
      g_assert_cmpstr (again->content, ==, event->content);
      g_assert_cmpmem (again->id, PT_NOSTR_ID_LEN, event->id, PT_NOSTR_ID_LEN);
    }
}

/* The NIP-01 preimage, escapes included, byte for byte. */
static void
test_serialize_for_id (void)
{
  g_autoptr(PtNostrEvent) event = _pt_nostr_event_new (1, 1700000000,
                                                       "a\nb\"c\\d\re\tf\bg\fh\x01i\x1fj\x7fk é");
  g_autofree char *serialized = NULL;

  memset (event->pubkey.bytes, 0xab, sizeof event->pubkey.bytes);
  _pt_nostr_event_add_tag (event, "e", "x\"y", NULL);
  _pt_nostr_event_add_tag (event, "t", NULL);
  serialized = _pt_nostr_event_serialize_for_id (event);
  g_assert_cmpstr (serialized, ==,
                   "[0,\"abababababababababababababababababababababababababababababababab\","
                   "1700000000,1,[[\"e\",\"x\\\"y\"],[\"t\"]],"
                   "\"a\\nb\\\"c\\\\d\\re\\tf\\bg\\fh\\u0001i\\u001fj\x7fk é\"]");
}

static void
test_sign_verify (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("{\"type\":\"request\"}");
  g_autoptr(PtSecretKey) key = test_key ();
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_public_key_equal (&event->pubkey, pt_secret_key_get_public (key)));
  g_assert_true (_pt_nostr_event_verify (event, &error));
  g_assert_no_error (error);
}

/* BIP-340 with fresh aux randomness: two signatures of one event differ, both verify. */
static void
test_sign_randomized (void)
{
  g_autoptr(PtNostrEvent) a = signed_event ("same");
  g_autoptr(PtNostrEvent) b = signed_event ("same");

  g_assert_cmpmem (a->id, PT_NOSTR_ID_LEN, b->id, PT_NOSTR_ID_LEN);
  g_assert_false (memcmp (a->sig, b->sig, PT_NOSTR_SIG_LEN) == 0);
  g_assert_true (_pt_nostr_event_verify (b, NULL));
}

static void
test_verify_altered_content (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autoptr(GError) error = NULL;

  g_free (event->content);
  event->content = g_strdup ("hellO");
  g_assert_false (_pt_nostr_event_verify (event, &error));
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_ID);
}

static void
test_verify_altered_signature (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autoptr(GError) error = NULL;

  event->sig[10] ^= 1;
  g_assert_false (_pt_nostr_event_verify (event, &error));
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_SIGNATURE);
}

/* Someone else's pubkey with a matching id: the signature gives it away. */
static void
test_verify_other_pubkey (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_public_key_parse ("npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6",
                                      &event->pubkey, NULL));
  _pt_nostr_event_compute_id (event, event->id);
  g_assert_false (_pt_nostr_event_verify (event, &error));
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_BAD_SIGNATURE);
}

static void
test_parse_roundtrip (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("line1\nline2 \x01 ф");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) parsed = _pt_nostr_event_parse (json, strlen (json), &error);
  const char * const *p;

  g_assert_no_error (error);
  g_assert_cmpuint (parsed->kind, ==, 21059);
  g_assert_cmpint (parsed->created_at, ==, 1700000000);
  g_assert_cmpstr (parsed->content, ==, event->content);
  p = _pt_nostr_event_find_tag (parsed, "p");
  g_assert_nonnull (p);
  g_assert_cmpstr (p[1], ==, "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e");
  g_assert_null (_pt_nostr_event_find_tag (parsed, "e"));
}

static void
test_parse_extra_fields_ignored (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("x");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autofree char *extra = replace_once (json, "{", "{\"relay\":\"wss://x\",\"seen\":[1,2],");
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) parsed = _pt_nostr_event_parse (extra, strlen (extra), &error);

  g_assert_no_error (error);
}

static void
test_parse_altered (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autofree char *content = replace_once (json, "\"hello\"", "\"hellO\"");
  g_autofree char *kind = replace_once (json, "\"kind\":21059", "\"kind\":21058");
  g_autofree char *time = replace_once (json, "1700000000", "1700000001");

  assert_parse_fails (content, PT_NOSTR_ERROR_BAD_ID);
  assert_parse_fails (kind, PT_NOSTR_ERROR_BAD_ID);
  assert_parse_fails (time, PT_NOSTR_ERROR_BAD_ID);
}

static void
test_parse_bad_signature (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autofree char *json = NULL;
  g_autofree char *sig = NULL;
  g_autofree char *bad = NULL;

  json = _pt_nostr_event_to_json (event);
  sig = g_strndup (strstr (json, "\"sig\":\"") + 7, 128);
  bad = g_strdup (sig);
  bad[0] = bad[0] == '0' ? '1' : '0';
  {
    g_autofree char *altered = replace_once (json, sig, bad);

    assert_parse_fails (altered, PT_NOSTR_ERROR_BAD_SIGNATURE);
  }
}

static void
test_parse_malformed (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  const struct { const char *from, *to; } edits[] = {
    { "\"kind\":21059", "\"kind\":\"21059\"" },
    { "\"kind\":21059", "\"kind\":65536" },
    { "\"kind\":21059", "\"kind\":-1" },
    { "\"kind\":21059", "\"kind\":21059.0" },
    { "\"kind\":21059,", "" },
    { "\"created_at\":1700000000", "\"created_at\":-5" },
    { "\"created_at\":1700000000", "\"created_at\":1.7e9" },
    { "\"created_at\":1700000000", "\"created_at\":null" },
    { "\"content\":\"hello\"", "\"content\":5" },
    { "\"content\":\"hello\"", "\"content\":null" },
    { "\"tags\":[[", "\"tags\":[5,[" },
    { "\"tags\":[[", "\"tags\":[[],[" },
    { "\"tags\":[[\"p\"", "\"tags\":[[1" },
    { "\"tags\":[[", "\"tags\":{\"a\":[[" },
    { "\"sig\":\"", "\"sig\":\"00" },
    { "\"id\":\"", "\"id\":\"A" },
    { "\"pubkey\":\"", "\"pubkey\":5,\"x\":\"" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autofree char *bad = replace_once (json, edits[i].from, edits[i].to);

      g_test_message ("edit %u: %s", i, bad);
      assert_parse_fails (bad, PT_NOSTR_ERROR_MALFORMED);
    }
}

static void
test_parse_uppercase_hex (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("hello");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autofree char *id = g_strndup (strstr (json, "\"id\":\"") + 6, 64);
  g_autofree char *upper = g_ascii_strup (id, -1);
  g_autofree char *bad = NULL;

  if (g_str_equal (id, upper))
    return; /* an all-digit id, 1 in 2^40 */
  bad = replace_once (json, id, upper);
  assert_parse_fails (bad, PT_NOSTR_ERROR_MALFORMED);
}

static void
test_parse_not_events (void)
{
  const char *cases[] = {
    "",
    "null",
    "[]",
    "[\"EVENT\",\"sub\",{}]",
    "{}",
    "{\"id\":",
    "hello",
    "{\"id\":\"00\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_parse_fails (cases[i], PT_NOSTR_ERROR_MALFORMED);
}

static void
test_parse_bad_text (void)
{
  const char with_nul[] = "{\"id\":\0\"x\"}";
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) event = _pt_nostr_event_parse (with_nul, sizeof with_nul - 1, &error);

  g_assert_null (event);
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED);
  assert_parse_fails ("{\"content\":\"\xff\"}", PT_NOSTR_ERROR_MALFORMED);
}

/* "\u0000" inside a string: json-glib would cut the string there, so the id
 * cannot match and the event is refused rather than misread. */
static void
test_parse_escaped_nul (void)
{
  g_autoptr(PtNostrEvent) event = signed_event ("ab");
  g_autofree char *json = _pt_nostr_event_to_json (event);
  g_autofree char *bad = replace_once (json, "\"ab\"", "\"a\\u0000b\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrEvent) parsed = _pt_nostr_event_parse (bad, strlen (bad), &error);

  g_assert_null (parsed);
  g_assert_nonnull (error);
}

static void
test_parse_limits (void)
{
  g_autoptr(GString) deep = g_string_new (NULL);
  g_autofree char *big = g_strnfill (PT_NOSTR_EVENT_MAX_SIZE + 1, ' ');

  for (guint i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  assert_parse_fails (deep->str, PT_NOSTR_ERROR_MALFORMED);
  assert_parse_fails (big, PT_NOSTR_ERROR_TOO_LARGE);

  /* Brackets inside strings do not count. */
  g_assert_true (_pt_nostr_json_check_limits ("[\"[[[[[[[[[[\\\"[[[[\"]", 19, 2, NULL));
  g_assert_false (_pt_nostr_json_check_limits ("[[[]]]", 6, 2, NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nostr-event/nostr-tools", test_nostr_tools_events);
  g_test_add_func ("/nostr-event/serialize-for-id", test_serialize_for_id);
  g_test_add_func ("/nostr-event/sign-verify", test_sign_verify);
  g_test_add_func ("/nostr-event/sign-randomized", test_sign_randomized);
  g_test_add_func ("/nostr-event/verify/altered-content", test_verify_altered_content);
  g_test_add_func ("/nostr-event/verify/altered-signature", test_verify_altered_signature);
  g_test_add_func ("/nostr-event/verify/other-pubkey", test_verify_other_pubkey);
  g_test_add_func ("/nostr-event/parse/roundtrip", test_parse_roundtrip);
  g_test_add_func ("/nostr-event/parse/extra-fields", test_parse_extra_fields_ignored);
  g_test_add_func ("/nostr-event/parse/altered", test_parse_altered);
  g_test_add_func ("/nostr-event/parse/bad-signature", test_parse_bad_signature);
  g_test_add_func ("/nostr-event/parse/malformed", test_parse_malformed);
  g_test_add_func ("/nostr-event/parse/uppercase-hex", test_parse_uppercase_hex);
  g_test_add_func ("/nostr-event/parse/not-events", test_parse_not_events);
  g_test_add_func ("/nostr-event/parse/bad-text", test_parse_bad_text);
  g_test_add_func ("/nostr-event/parse/escaped-nul", test_parse_escaped_nul);
  g_test_add_func ("/nostr-event/parse/limits", test_parse_limits);

  return g_test_run ();
}
