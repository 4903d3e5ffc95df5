/* test-rendezvous.c — the Nostr signaling exchange: messages, events, named keys
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"
#include "pt-nip44-private.h"
#include "pt-rendezvous-private.h"

#define NOW G_GINT64_CONSTANT (1700000000)
/* From the argon2 command-line tool (Debian "argon2"), Python's hashlib for
 * the salt and a few lines of Python for the token, not from this code:
 *   name="sleet ravioli drape cobalt yonder gusty"
 *   salt=$(printf 'peertunnel named rendezvous v2\n%s' "$name" | sha256sum | cut -c1-64)
 *   printf %s "$name" | argon2 "$salt" -id -t 8 -k 65536 -p 1 -l 96 -r
 * (salt 66efb18d…1e59; for the second name, 947553f9…0fcb). */
#define PINNED_NAME      "sleet ravioli drape cobalt yonder gusty"
#define PINNED_KEY_HEX   "5d2fdeaac70da00312fe2d08adaf630601baeb013a28a98035a6b3bdc1d53955"
#define PINNED_TOKEN     "iTGjDuuYSLu2q_fXc-"
#define PINNED_NAME_2    "\xc5\xbc\xc3\xb3\xc5\x82w je\xc5\xbc kot pies s\xc5\x82o\xc5\x84 " \
                         "wr\xc3\xb3" "bel mysz"   /* "żółw jeż kot pies słoń wróbel mysz" */
#define PINNED_KEY_HEX_2 "771f7371d18b311102b34c4cbfb5a43cc51d2e07fbac0ffd5cebd628399cb594"
#define PINNED_TOKEN_2   "iXhKqUYIEx9LOvdqQ4"

static PtSignal *
make_signal (PtSignalKind kind)
{
  PtSignal *signal = pt_signal_new (kind);
  PtCandidate c = { 0, };

  for (guint i = 0; i < PT_SIGNAL_SESSION_ID_LEN; i++)
    signal->session_id[i] = 0x10 + i;
  for (guint i = 0; i < PT_SIGNAL_FINGERPRINT_LEN; i++)
    signal->fingerprint[i] = i;
  signal->timestamp = NOW;
  signal->ufrag = g_strdup ("uFr4");
  signal->pwd = g_strdup ("0123456789abcdefghijkl");
  c.type = PT_PATH_KIND_HOST;
  c.transport = PT_TRANSPORT_UDP;
  c.priority = 2130706431u;
  g_strlcpy (c.foundation, "1", sizeof c.foundation);
  c.family = 4;
  c.addr[0] = 192, c.addr[1] = 168, c.addr[2] = 1, c.addr[3] = 2;
  c.port = 40000;
  g_array_append_val (signal->candidates, c);
  if (kind == PT_SIGNAL_KIND_OFFER)
    g_ptr_array_add (signal->forwards, pt_forward_spec_new (PT_PROTO_TCP, "127.0.0.1", 22));
  return signal;
}

static PtRendezvousMessage *
roundtrip (const PtRendezvousMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) json = _pt_rendezvous_message_encode (msg, &error);
  PtRendezvousMessage *back;

  g_assert_no_error (error);
  back = _pt_rendezvous_message_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_cmpint (back->type, ==, msg->type);
  g_assert_cmpmem (back->session_id, sizeof back->session_id, msg->session_id, sizeof msg->session_id);
  return back;
}

static void
test_messages_roundtrip (void)
{
  g_autoptr(PtRendezvousMessage) request = _pt_rendezvous_message_new (PT_RENDEZVOUS_REQUEST);
  g_autoptr(PtRendezvousMessage) answer = _pt_rendezvous_message_new (PT_RENDEZVOUS_ANSWER);
  g_autoptr(PtRendezvousMessage) refused = _pt_rendezvous_message_new (PT_RENDEZVOUS_REFUSED);
  g_autoptr(PtRendezvousMessage) back = NULL;
  g_autoptr(PtForwardSpec) spec = NULL;

  request->signal = make_signal (PT_SIGNAL_KIND_OFFER);
  memcpy (request->session_id, request->signal->session_id, sizeof request->session_id);
  request->token = g_strdup ("iABCDEF1234567890k");
  back = roundtrip (request);
  g_assert_cmpstr (back->token, ==, "iABCDEF1234567890k");
  g_assert_cmpuint (back->signal->forwards->len, ==, 1);
  spec = pt_forward_spec_copy (g_ptr_array_index (back->signal->forwards, 0));
  g_assert_cmpstr (spec->host, ==, "127.0.0.1");
  g_assert_cmpuint (spec->port, ==, 22);
  g_assert_cmpint (back->signal->timestamp, ==, NOW);
  g_assert_cmpmem (back->signal->fingerprint, PT_SIGNAL_FINGERPRINT_LEN,
                   request->signal->fingerprint, PT_SIGNAL_FINGERPRINT_LEN);
  g_clear_pointer (&back, _pt_rendezvous_message_free);

  /* No token: none comes back. */
  g_clear_pointer (&request->token, pt_secret_string_free);
  back = roundtrip (request);
  g_assert_null (back->token);
  g_clear_pointer (&back, _pt_rendezvous_message_free);

  answer->signal = make_signal (PT_SIGNAL_KIND_ANSWER);
  memcpy (answer->session_id, answer->signal->session_id, sizeof answer->session_id);
  back = roundtrip (answer);
  g_assert_cmpint (back->signal->kind, ==, PT_SIGNAL_KIND_ANSWER);
  g_clear_pointer (&back, _pt_rendezvous_message_free);

  memset (refused->session_id, 0xab, sizeof refused->session_id);
  refused->reason = g_strdup (PT_RENDEZVOUS_REFUSED_BUSY);
  back = roundtrip (refused);
  g_assert_cmpstr (back->reason, ==, "busy");
}

static void
test_messages_refused (void)
{
  static const struct { const char *json; int code; const char *words; } cases[] = {
    { "", PT_NOSTR_ERROR_MALFORMED, NULL },
    { "{\"v\":1,", PT_NOSTR_ERROR_MALFORMED, "not JSON" },
    { "[]", PT_NOSTR_ERROR_MALFORMED, "object" },
    { "{\"type\":\"request\"}", PT_NOSTR_ERROR_MALFORMED, "version" },
    { "{\"v\":2,\"type\":\"request\"}", PT_NOSTR_ERROR_VERSION, "version 2" },
    { "{\"v\":1}", PT_NOSTR_ERROR_MALFORMED, "type" },
    { "{\"v\":1,\"type\":\"hello\"}", PT_NOSTR_ERROR_MALFORMED, "unknown type" },
    { "{\"v\":1,\"type\":\"request\"}", PT_NOSTR_ERROR_MALFORMED, "signal" },
    { "{\"v\":1,\"type\":\"request\",\"signal\":\"***\"}", PT_NOSTR_ERROR_MALFORMED, "base64" },
    { "{\"v\":1,\"type\":\"request\",\"signal\":\"QUJD\"}", PT_SIGNAL_ERROR_MALFORMED, NULL },
    { "{\"v\":1,\"type\":\"request\",\"signal\":7}", PT_NOSTR_ERROR_MALFORMED, "not a string" },
    { "{\"v\":1,\"type\":\"refused\",\"session\":\"00\",\"reason\":\"busy\"}",
      PT_NOSTR_ERROR_MALFORMED, "hex" },
    { "{\"v\":1,\"type\":\"refused\",\"session\":\"0011223344556677\",\"reason\":\"a b\"}",
      PT_NOSTR_ERROR_MALFORMED, "word" },
    { "{\"v\":1,\"type\":\"refused\",\"session\":\"00112233445566\\u00e9\",\"reason\":\"x\"}",
      PT_NOSTR_ERROR_MALFORMED, "hex" },
    { "{\"v\":1,\"type\":\"refused\",\"session\":\"0011223344556677\",\"reason\":\"\\333\"}",
      PT_NOSTR_ERROR_MALFORMED, NULL },
    { "{\"v\":1,\"type\":[[[[[[\"deep\"]]]]]]}", -1, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtRendezvousMessage) msg =
        _pt_rendezvous_message_parse (cases[i].json, strlen (cases[i].json), &error);

      g_test_message ("case %u: %s", i, cases[i].json);
      g_assert_null (msg);
      g_assert_nonnull (error);
      if (cases[i].code >= 0 && cases[i].code != PT_SIGNAL_ERROR_MALFORMED)
        g_assert_error (error, PT_NOSTR_ERROR, cases[i].code);
      if (cases[i].words != NULL)
        g_assert_nonnull (strstr (error->message, cases[i].words));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }

  /* An answer block in a request (and the reverse) is refused. */
  {
    g_autoptr(PtRendezvousMessage) wrong = _pt_rendezvous_message_new (PT_RENDEZVOUS_ANSWER);
    g_autoptr(GError) error = NULL;
    g_autoptr(PtSecretString) json = NULL;
    g_autoptr(PtRendezvousMessage) back = NULL;
    g_autofree char *swapped = NULL;
    g_auto(GStrv) parts = NULL;

    wrong->signal = make_signal (PT_SIGNAL_KIND_ANSWER);
    json = _pt_rendezvous_message_encode (wrong, &error);
    g_assert_no_error (error);
    parts = g_strsplit (json, "\"answer\"", -1);
    swapped = g_strjoinv ("\"request\"", parts);
    back = _pt_rendezvous_message_parse (swapped, strlen (swapped), &error);
    g_assert_null (back);
    g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED);
  }
}

typedef struct
{
  PtSecretKey *client;
  PtSecretKey *server;
  guint8       ck[PT_NIP44_KEY_LEN];
} Keys;

static void
keys_init (Keys *keys)
{
  g_autoptr(GError) error = NULL;
  guint8 other[PT_NIP44_KEY_LEN];

  keys->client = pt_secret_key_generate (&error);
  keys->server = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  g_assert_true (_pt_nip44_conversation_key (keys->client, pt_secret_key_get_public (keys->server),
                                             keys->ck, &error));
  g_assert_true (_pt_nip44_conversation_key (keys->server, pt_secret_key_get_public (keys->client),
                                             other, &error));
  g_assert_cmpmem (keys->ck, sizeof keys->ck, other, sizeof other);
}

static void
keys_clear (Keys *keys)
{
  pt_secret_key_free (keys->client);
  pt_secret_key_free (keys->server);
}

static void
test_seal_open (void)
{
  Keys keys;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtRendezvousMessage) request = _pt_rendezvous_message_new (PT_RENDEZVOUS_REQUEST);
  g_autoptr(PtNostrEvent) event = NULL;
  g_autoptr(PtNostrEvent) parsed = NULL;
  g_autoptr(PtRendezvousMessage) opened = NULL;
  g_autofree char *json = NULL;
  g_autofree char *server_hex = NULL;
  const char * const *p_tag;

  keys_init (&keys);
  request->signal = make_signal (PT_SIGNAL_KIND_OFFER);
  memcpy (request->session_id, request->signal->session_id, sizeof request->session_id);
  request->token = g_strdup ("iABCDEF1234567890k");

  event = _pt_rendezvous_seal (keys.client, pt_secret_key_get_public (keys.server), keys.ck,
                               request, NOW, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (event->kind, ==, PT_RENDEZVOUS_KIND);
  g_assert_cmpint (event->created_at, ==, NOW);
  g_assert_true (_pt_nostr_event_verify (event, NULL));
  p_tag = _pt_nostr_event_find_tag (event, "p");
  server_hex = pt_public_key_to_hex (pt_secret_key_get_public (keys.server));
  g_assert_cmpstr (p_tag[1], ==, server_hex);
  /* Relays see no token, address or service. */
  g_assert_null (strstr (event->content, "iABCDEF"));
  g_assert_null (strstr (event->content, "request"));
  json = _pt_nostr_event_to_json (event);
  g_assert_null (strstr (json, "127.0.0.1"));

  /* Through JSON, as a relay delivers it. */
  parsed = _pt_nostr_event_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  opened = _pt_rendezvous_open (pt_secret_key_get_public (keys.server), keys.ck, parsed, NOW + 5, &error);
  g_assert_no_error (error);
  g_assert_cmpint (opened->type, ==, PT_RENDEZVOUS_REQUEST);
  g_assert_cmpstr (opened->token, ==, "iABCDEF1234567890k");
  g_clear_pointer (&opened, _pt_rendezvous_message_free);

  /* Stale, future, not for us, wrong key. */
  opened = _pt_rendezvous_open (pt_secret_key_get_public (keys.server), keys.ck, parsed,
                                NOW + PT_RENDEZVOUS_MAX_AGE_S + 1, &error);
  g_assert_null (opened);
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_STALE);
  g_assert_nonnull (strstr (error->message, "s ago"));
  g_clear_error (&error);

  opened = _pt_rendezvous_open (pt_secret_key_get_public (keys.server), keys.ck, parsed,
                                NOW - PT_SIGNAL_SKEW_SECONDS - 1, &error);
  g_assert_null (opened);
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_FUTURE);
  g_clear_error (&error);

  opened = _pt_rendezvous_open (pt_secret_key_get_public (keys.client), keys.ck, parsed, NOW, &error);
  g_assert_null (opened);
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "someone else"));
  g_clear_error (&error);

  {
    guint8 wrong[PT_NIP44_KEY_LEN];

    memcpy (wrong, keys.ck, sizeof wrong);
    wrong[0] ^= 1;
    opened = _pt_rendezvous_open (pt_secret_key_get_public (keys.server), wrong, parsed, NOW, &error);
    g_assert_null (opened);
    g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_DECRYPT);
    g_clear_error (&error);
  }

  keys_clear (&keys);
}

static void
test_named_derive (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key1 = NULL;
  g_autoptr(PtSecretKey) key2 = NULL;
  g_autoptr(PtSecretKey) key3 = NULL;
  g_autoptr(PtSecretString) token1 = NULL;
  g_autoptr(PtSecretString) token2 = NULL;
  g_autoptr(PtSecretString) token3 = NULL;
  const char *name = "correct horse battery staple tulip";
  gint64 start;

  /* Both sides get the same key and token; another name, others. */
  start = g_get_monotonic_time ();
  g_assert_true (pt_named_rendezvous_derive (name, &key1, &token1, &error));
  g_test_message ("Argon2id took %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_assert_no_error (error);
  g_assert_true (pt_named_rendezvous_derive (name, &key2, &token2, &error));
  g_assert_true (pt_named_rendezvous_derive ("correct horse battery staple tulit", &key3, &token3,
                                             &error));
  g_assert_true (pt_public_key_equal (pt_secret_key_get_public (key1), pt_secret_key_get_public (key2)));
  g_assert_false (pt_public_key_equal (pt_secret_key_get_public (key1), pt_secret_key_get_public (key3)));
  g_assert_cmpstr (token1, ==, token2);
  g_assert_cmpstr (token1, !=, token3);
  g_assert_true (pt_token_validate (token1, NULL));
  g_assert_true (pt_token_validate (token3, NULL));

  /* Too short a name is refused, saying why. */
  g_assert_false (pt_named_rendezvous_derive ("short", NULL, NULL, &error));
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME);
  g_assert_nonnull (strstr (error->message, "at least 8"));
  g_clear_error (&error);

  /* So is one that is long but easy to guess, saying what would do. */
  g_assert_false (pt_named_rendezvous_derive ("correct horse battery staple", NULL, NULL, &error));
  g_assert_error (error, PT_NOSTR_ERROR, PT_NOSTR_ERROR_NAME);
  g_assert_nonnull (strstr (error->message, "too easy to guess"));
  g_assert_nonnull (strstr (error->message, "5 or more random words"));
  g_assert_nonnull (strstr (error->message, "pt token"));
  g_assert_null (strstr (error->message, "horse"));      /* the name is a secret */
}

/* The strength estimate of docs/protocol.md, "Named rendezvous". */
static void
test_named_strength (void)
{
  static const struct { const char *name; double bits; } cases[] = {
    { "password", 13.0 },
    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 13.0 },
    { "horse horse horse horse horse horse", 13.0 },     /* a repeated word counts once */
    { "Horse HORSE horse", 13.0 },                       /* in any case */
    { "correct horse battery staple", 52.0 },
    { "correct horse battery staple tulip", 65.0 },
    { "correct-horse_battery.staple,tulip", 65.0 },
    { "CorrectHorseBatteryStapleTulip", 65.0 },           /* camelCase splits */
    { "Tr0ub4dor&3", 4.7 * 2 + 3.32 + 4.7 * 2 + 3.32 + 13.0 + 3.32 },
    { "12345678", 8 * 3.32 },
    { "20242025 20242025", 8 * 3.32 },
    { "!!!!!!!!!!!!!!!!", 0.0 },
    { "iABCDEF1234567890k", 96.0 },                       /* a token */
    { "iAAAAAAAAAAAAAAAAA", 6.02 },                       /* shaped like one */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      double bits = _pt_named_name_bits (cases[i].name);

      g_test_message ("%s: %.2f bits", cases[i].name, bits);
      g_assert_cmpfloat_with_epsilon (bits, cases[i].bits, 0.01);
    }
  g_assert_cmpfloat (_pt_named_name_bits ("\xff\xfe not UTF-8 at all, not at all"), ==, 0.0);

  /* What the error advises is enough: 5 random words, or a token. */
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretString) token = pt_token_generate (&error);

      g_assert_no_error (error);
      g_assert_true (pt_named_name_check (token, &error));
      g_assert_no_error (error);
    }
  g_assert_true (pt_named_name_check (PINNED_NAME, NULL));
  g_assert_true (pt_named_name_check (PINNED_NAME_2, NULL));
  g_assert_true (pt_named_name_check ("cleft cam synod lacy yr", NULL));
  g_assert_false (pt_named_name_check ("cleft cam synod lacy", NULL));
}

/* The derivation is part of the protocol: pin it, so that an accidental
 * change (parameters, salt, byte use) fails here and not between peers. */
static void
test_named_derive_pinned (void)
{
  static const struct { const char *name, *key_hex, *token; } cases[] = {
    { PINNED_NAME, PINNED_KEY_HEX, PINNED_TOKEN },
    { PINNED_NAME_2, PINNED_KEY_HEX_2, PINNED_TOKEN_2 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) key = NULL;
      g_autoptr(PtSecretString) token = NULL;
      g_autoptr(PtSecretString) hex = NULL;

      g_assert_true (pt_named_rendezvous_derive (cases[i].name, &key, &token, &error));
      g_assert_no_error (error);
      hex = pt_secret_key_to_hex (key);
      g_assert_cmpstr (hex, ==, cases[i].key_hex);
      g_assert_cmpstr (token, ==, cases[i].token);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/rendezvous/messages/roundtrip", test_messages_roundtrip);
  g_test_add_func ("/rendezvous/messages/refused", test_messages_refused);
  g_test_add_func ("/rendezvous/seal-open", test_seal_open);
  g_test_add_func ("/rendezvous/named/derive", test_named_derive);
  g_test_add_func ("/rendezvous/named/strength", test_named_strength);
  g_test_add_func ("/rendezvous/named/pinned", test_named_derive_pinned);
  return g_test_run ();
}
