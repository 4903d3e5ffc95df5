/* test-nostr-message.c — NIP-01 client/relay messages and filters
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"
#include "pt-nostr-message-private.h"

#define SECRET_HEX "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
#define PEER_HEX   "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
#define ID_HEX     "4376c65d2f232afbe9b882a35baa4f6fe8667c4e684749af565f981833ed6a65"

static PtNostrEvent *
signed_event (guint       kind,
              const char *p_tag)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (SECRET_HEX, &error);
  PtNostrEvent *event = _pt_nostr_event_new (kind, 1700000000, "hello \"relay\"\n");

  g_assert_no_error (error);
  if (p_tag != NULL)
    _pt_nostr_event_add_tag (event, "p", p_tag, NULL);
  g_assert_true (_pt_nostr_event_sign (event, key, &error));
  g_assert_no_error (error);
  return event;
}

static PtPublicKey
public_key (const char *hex)
{
  g_autoptr(GError) error = NULL;
  PtPublicKey key;

  g_assert_true (pt_public_key_parse (hex, &key, &error));
  g_assert_no_error (error);
  return key;
}

static PtNostrRelayMessage *
parse_ok (const char *json)
{
  g_autoptr(GError) error = NULL;
  PtNostrRelayMessage *message = _pt_nostr_relay_message_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (message);
  return message;
}

static void
assert_parse_fails (const char *json,
                    gsize       len,
                    gint        code,
                    const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtNostrRelayMessage) message = _pt_nostr_relay_message_parse (json, len, &error);

  g_assert_null (message);
  g_assert_error (error, PT_NOSTR_ERROR, code);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("error “%s” does not mention “%s”", error->message, fragment);
}

/* For a string literal, NUL bytes inside included. */
#define FAILS(literal, code, fragment) \
  assert_parse_fails (literal, sizeof (literal) - 1, code, fragment)

/* ---------------------------------------------------------------------- */

static void
test_encode (void)
{
  g_autoptr(PtNostrEvent) event = signed_event (21059, PEER_HEX);
  g_autoptr(PtNostrFilter) filter = _pt_nostr_filter_new ();
  g_autoptr(PtNostrFilter) empty = _pt_nostr_filter_new ();
  PtPublicKey peer = public_key (PEER_HEX);
  const PtNostrFilter *filters[2];
  g_autofree char *event_json = _pt_nostr_event_to_json (event);
  g_autofree char *expected = g_strdup_printf ("[\"EVENT\",%s]", event_json);
  g_autofree char *encoded = _pt_nostr_message_encode_event (event);
  g_autofree char *req = NULL;
  g_autofree char *close = NULL;

  g_assert_cmpstr (encoded, ==, expected);

  _pt_nostr_filter_add_kind (filter, 21059);
  _pt_nostr_filter_add_kind (filter, 21060);
  _pt_nostr_filter_add_author (filter, &peer);
  _pt_nostr_filter_add_p_tag (filter, &peer);
  _pt_nostr_filter_set_since (filter, 1700000000);
  _pt_nostr_filter_set_limit (filter, 0);
  filters[0] = filter;
  filters[1] = empty;
  req = _pt_nostr_message_encode_req ("sub \"1\"", filters, 2);
  g_assert_cmpstr (req, ==,
                   "[\"REQ\",\"sub \\\"1\\\"\",{\"kinds\":[21059,21060],"
                   "\"authors\":[\"" PEER_HEX "\"],\"#p\":[\"" PEER_HEX "\"],"
                   "\"since\":1700000000,\"limit\":0},{}]");

  close = _pt_nostr_message_encode_close ("s1");
  g_assert_cmpstr (close, ==, "[\"CLOSE\",\"s1\"]");
}

static void
test_sub_id (void)
{
  g_autofree char *longest = g_strnfill (PT_NOSTR_SUB_ID_MAX_LEN, 'a');
  g_autofree char *too_long = g_strnfill (PT_NOSTR_SUB_ID_MAX_LEN + 1, 'a');

  g_assert_true (_pt_nostr_sub_id_is_valid ("x"));
  g_assert_true (_pt_nostr_sub_id_is_valid (longest));
  g_assert_true (_pt_nostr_sub_id_is_valid ("ünïcödé"));
  g_assert_false (_pt_nostr_sub_id_is_valid (""));
  g_assert_false (_pt_nostr_sub_id_is_valid (NULL));
  g_assert_false (_pt_nostr_sub_id_is_valid (too_long));
  g_assert_false (_pt_nostr_sub_id_is_valid ("\xff"));
}

static void
test_filter_matches (void)
{
  g_autoptr(PtNostrEvent) event = signed_event (21059, PEER_HEX);
  g_autoptr(PtNostrEvent) untagged = signed_event (21059, NULL);
  g_autoptr(PtNostrFilter) filter = _pt_nostr_filter_new ();
  g_autoptr(PtNostrFilter) copy = NULL;
  g_autoptr(PtSecretKey) other = NULL;
  PtPublicKey peer = public_key (PEER_HEX);

  g_assert_true (_pt_nostr_filter_matches (filter, event));

  _pt_nostr_filter_add_kind (filter, 21059);
  g_assert_true (_pt_nostr_filter_matches (filter, event));
  _pt_nostr_filter_add_p_tag (filter, &peer);
  g_assert_true (_pt_nostr_filter_matches (filter, event));
  g_assert_false (_pt_nostr_filter_matches (filter, untagged));

  copy = _pt_nostr_filter_copy (filter);
  _pt_nostr_filter_set_since (copy, 1700000001);
  g_assert_false (_pt_nostr_filter_matches (copy, event));
  _pt_nostr_filter_set_since (copy, 1700000000);
  g_assert_true (_pt_nostr_filter_matches (copy, event));

  other = pt_secret_key_parse ("0000000000000000000000000000000000000000000000000000000000000003", NULL);
  _pt_nostr_filter_add_author (copy, pt_secret_key_get_public (other));
  g_assert_false (_pt_nostr_filter_matches (copy, event));
  _pt_nostr_filter_add_author (copy, &event->pubkey);
  g_assert_true (_pt_nostr_filter_matches (copy, event));

  g_clear_pointer (&filter, _pt_nostr_filter_free);
  filter = _pt_nostr_filter_new ();
  _pt_nostr_filter_add_kind (filter, 1);
  g_assert_false (_pt_nostr_filter_matches (filter, event));
}

static void
test_parse_event (void)
{
  g_autoptr(PtNostrEvent) event = signed_event (21059, PEER_HEX);
  g_autofree char *event_json = _pt_nostr_event_to_json (event);
  g_autofree char *json = g_strdup_printf ("[\"EVENT\",\"s1\",%s]", event_json);
  g_autoptr(PtNostrRelayMessage) message = parse_ok (json);
  g_autofree char *spaced = g_strdup_printf (" [ \"EVENT\" , \"s1\" ,\n%s ] ", event_json);
  g_autoptr(PtNostrRelayMessage) again = parse_ok (spaced);

  g_assert_cmpint (message->type, ==, PT_NOSTR_RELAY_MESSAGE_EVENT);
  g_assert_cmpstr (message->sub_id, ==, "s1");
  g_assert_cmpmem (message->event->id, PT_NOSTR_ID_LEN, event->id, PT_NOSTR_ID_LEN);
  g_assert_cmpstr (message->event->content, ==, event->content);
  g_assert_cmpstr (_pt_nostr_relay_message_type_to_string (message->type), ==, "EVENT");
  g_assert_cmpint (again->type, ==, PT_NOSTR_RELAY_MESSAGE_EVENT);
}

static void
test_parse_bad_event (void)
{
  g_autoptr(PtNostrEvent) event = signed_event (21059, PEER_HEX);
  g_autofree char *event_json = _pt_nostr_event_to_json (event);
  g_autofree char *json = NULL;
  char *content;

  /* Altered content: the id no longer matches. */
  content = strstr (event_json, "hello");
  g_assert_nonnull (content);
  content[0] = 'j';
  json = g_strdup_printf ("[\"EVENT\",\"s1\",%s]", event_json);
  assert_parse_fails (json, strlen (json), PT_NOSTR_ERROR_BAD_ID, NULL);
  g_free (json);

  json = g_strdup ("[\"EVENT\",\"s1\",{\"id\":1}]");
  assert_parse_fails (json, strlen (json), PT_NOSTR_ERROR_MALFORMED, "not a valid event");
  g_free (json);
  json = g_strdup ("[\"EVENT\",\"s1\"]");
  assert_parse_fails (json, strlen (json), PT_NOSTR_ERROR_MALFORMED, "3 were expected");
  g_free (json);
  json = g_strdup ("[\"EVENT\",\"\",{}]");
  assert_parse_fails (json, strlen (json), PT_NOSTR_ERROR_MALFORMED, "subscription id");
  g_free (json);
  json = g_strdup ("[\"EVENT\",7,{}]");
  assert_parse_fails (json, strlen (json), PT_NOSTR_ERROR_MALFORMED, "not a string");
}

static void
test_parse_ok (void)
{
  g_autoptr(PtNostrRelayMessage) accepted = parse_ok ("[\"OK\",\"" ID_HEX "\",true,\"\"]");
  g_autoptr(PtNostrRelayMessage) rejected =
    parse_ok ("[\"OK\",\"" ID_HEX "\",false,\"invalid: signature is wrong\"]");
  guint8 id[PT_NOSTR_ID_LEN] = { 0x43, 0x76, 0xc6, 0x5d };

  g_assert_cmpint (accepted->type, ==, PT_NOSTR_RELAY_MESSAGE_OK);
  g_assert_true (accepted->accepted);
  g_assert_cmpstr (accepted->message, ==, "");
  g_assert_cmpmem (accepted->event_id, 4, id, 4);
  g_assert_false (rejected->accepted);
  g_assert_cmpstr (rejected->message, ==, "invalid: signature is wrong");

  FAILS ("[\"OK\",\"" ID_HEX "\",true]", PT_NOSTR_ERROR_MALFORMED, "4 were expected");
  FAILS ("[\"OK\",\"abc\",true,\"\"]", PT_NOSTR_ERROR_MALFORMED, "64 lowercase hex");
  FAILS ("[\"OK\",\"4376C65D2F232AFBE9B882A35BAA4F6FE8667C4E684749AF565F981833ED6A65\",true,\"\"]",
         PT_NOSTR_ERROR_MALFORMED, "lowercase hex");
  FAILS ("[\"OK\",\"" ID_HEX "\",1,\"\"]", PT_NOSTR_ERROR_MALFORMED, "true or false");
  FAILS ("[\"OK\",\"" ID_HEX "\",true,null]", PT_NOSTR_ERROR_MALFORMED, "not a string");
}

static void
test_parse_others (void)
{
  g_autoptr(PtNostrRelayMessage) eose = parse_ok ("[\"EOSE\",\"s1\"]");
  g_autoptr(PtNostrRelayMessage) closed = parse_ok ("[\"CLOSED\",\"s1\",\"error: shutting down\"]");
  g_autoptr(PtNostrRelayMessage) notice = parse_ok ("[\"NOTICE\",\"slow down\"]");
  g_autoptr(PtNostrRelayMessage) auth = parse_ok ("[\"AUTH\",\"challenge\"]");

  g_assert_cmpint (eose->type, ==, PT_NOSTR_RELAY_MESSAGE_EOSE);
  g_assert_cmpstr (eose->sub_id, ==, "s1");
  g_assert_cmpint (closed->type, ==, PT_NOSTR_RELAY_MESSAGE_CLOSED);
  g_assert_cmpstr (closed->sub_id, ==, "s1");
  g_assert_cmpstr (closed->message, ==, "error: shutting down");
  g_assert_cmpint (notice->type, ==, PT_NOSTR_RELAY_MESSAGE_NOTICE);
  g_assert_cmpstr (notice->message, ==, "slow down");
  g_assert_cmpint (auth->type, ==, PT_NOSTR_RELAY_MESSAGE_AUTH);

  FAILS ("[\"EOSE\"]", PT_NOSTR_ERROR_MALFORMED, "2 were expected");
  FAILS ("[\"EOSE\",\"s1\",1]", PT_NOSTR_ERROR_MALFORMED, "2 were expected");
  FAILS ("[\"CLOSED\",\"s1\"]", PT_NOSTR_ERROR_MALFORMED, "3 were expected");
  FAILS ("[\"NOTICE\",3]", PT_NOSTR_ERROR_MALFORMED, "not a string");
  FAILS ("[\"AUTH\"]", PT_NOSTR_ERROR_MALFORMED, "challenge");
  FAILS ("[\"COUNT\",\"s1\",{\"count\":3}]", PT_NOSTR_ERROR_MALFORMED, "unknown message type");
}

static void
test_parse_garbage (void)
{
  g_autofree char *deep = NULL;
  g_autofree char *huge = NULL;
  GString *nested = g_string_new (NULL);

  FAILS ("", PT_NOSTR_ERROR_MALFORMED, "empty");
  FAILS ("not json", PT_NOSTR_ERROR_MALFORMED, NULL);
  FAILS ("{\"a\":1}", PT_NOSTR_ERROR_MALFORMED, "not a JSON array");
  FAILS ("[]", PT_NOSTR_ERROR_MALFORMED, "empty array");
  FAILS ("[1]", PT_NOSTR_ERROR_MALFORMED, "message type");
  FAILS ("[\"EOSE\",\"s\0\"]", PT_NOSTR_ERROR_MALFORMED, "UTF-8");
  FAILS ("[\"EOSE\",\"\xc3\x28\"]", PT_NOSTR_ERROR_MALFORMED, "UTF-8");
  FAILS ("[\"EOSE\",\"s1\"] [", PT_NOSTR_ERROR_MALFORMED, NULL);

  for (guint i = 0; i < 100; i++)
    g_string_append_c (nested, '[');
  for (guint i = 0; i < 100; i++)
    g_string_append_c (nested, ']');
  deep = g_string_free (nested, FALSE);
  assert_parse_fails (deep, strlen (deep), PT_NOSTR_ERROR_MALFORMED, "nested");

  huge = g_strnfill (PT_NOSTR_EVENT_MAX_SIZE + 1, ' ');
  assert_parse_fails (huge, strlen (huge), PT_NOSTR_ERROR_TOO_LARGE, NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nostr-message/encode", test_encode);
  g_test_add_func ("/nostr-message/sub-id", test_sub_id);
  g_test_add_func ("/nostr-message/filter-matches", test_filter_matches);
  g_test_add_func ("/nostr-message/parse-event", test_parse_event);
  g_test_add_func ("/nostr-message/parse-bad-event", test_parse_bad_event);
  g_test_add_func ("/nostr-message/parse-ok", test_parse_ok);
  g_test_add_func ("/nostr-message/parse-others", test_parse_others);
  g_test_add_func ("/nostr-message/parse-garbage", test_parse_garbage);

  return g_test_run ();
}
