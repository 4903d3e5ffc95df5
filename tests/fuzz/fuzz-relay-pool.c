/* fuzz-relay-pool.c — libFuzzer target for the relay pool's message handling
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * What a relay sends reaches the pool's handler (deduplication before any
 * signature check, parsing, subscription and filter matching, verification,
 * delivery) through _pt_relay_pool_feed_message(), with no socket. Input:
 *
 *   line 1      the filter of the one subscription, "fuzz": space-separated
 *               k=KIND, a=AUTHOR_HEX, p=P_TAG_HEX, s=SINCE (any number each)
 *   each line   a relay message, from the pool's two relays in turn
 *
 * Each message that parses (unverified) as an EVENT is also "resealed": the
 * same kind, time, tags and content signed with a fixed key, so that
 * delivery is reached, then sent again from the other relay and again with
 * other white space, which must be dropped as repeats. Checked on every
 * input: every event delivered verifies, matches the filter and is
 * delivered once; _pt_nostr_filter_matches() agrees with a plain
 * re-implementation of NIP-01 matching written here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-relay-pool-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

#define SUB_ID "fuzz"

static PtSecretKey *fuzz_key;

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_key = pt_secret_key_parse ("0000000000000000000000000000000000000000000000000000000000000003", NULL);
  CHECK (fuzz_key != NULL);
  return 0;
}

/* The filter as the input gave it, for the reference matcher. */
typedef struct
{
  GArray      *kinds;      /* of guint */
  GPtrArray   *authors;    /* of lowercase hex */
  GPtrArray   *p_tags;     /* of lowercase hex */
  gint64       since;
} Spec;

typedef struct
{
  Spec          spec;
  PtNostrFilter *filter;
  GHashTable   *delivered;  /* "sub\nid hex" */
  guint         n_delivered;
} Fuzz;

static gboolean
parse_hex_key (const char  *text,
               PtPublicKey *key)
{
  return strlen (text) == 64 && pt_public_key_parse (text, key, NULL);
}

static void
spec_parse (Fuzz       *fuzz,
            const char *line)
{
  g_auto(GStrv) words = g_strsplit (line, " ", 16);

  fuzz->spec.kinds = g_array_new (FALSE, FALSE, sizeof (guint));
  fuzz->spec.authors = g_ptr_array_new_with_free_func (g_free);
  fuzz->spec.p_tags = g_ptr_array_new_with_free_func (g_free);
  fuzz->spec.since = -1;
  fuzz->filter = _pt_nostr_filter_new ();

  for (gsize i = 0; words[i] != NULL; i++)
    {
      const char *value = words[i] + 2;
      guint64 number;
      PtPublicKey key;

      if (strlen (words[i]) < 2 || words[i][1] != '=')
        continue;
      switch (words[i][0])
        {
        case 'k':
          if (g_ascii_string_to_unsigned (value, 10, 0, PT_NOSTR_MAX_KIND, &number, NULL))
            {
              guint kind = (guint) number;

              g_array_append_val (fuzz->spec.kinds, kind);
              _pt_nostr_filter_add_kind (fuzz->filter, kind);
            }
          break;
        case 'a':
        case 'p':
          if (parse_hex_key (value, &key))
            {
              g_ptr_array_add (words[i][0] == 'a' ? fuzz->spec.authors : fuzz->spec.p_tags,
                               pt_public_key_to_hex (&key));
              if (words[i][0] == 'a')
                _pt_nostr_filter_add_author (fuzz->filter, &key);
              else
                _pt_nostr_filter_add_p_tag (fuzz->filter, &key);
            }
          break;
        case 's':
          if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXINT64, &number, NULL))
            {
              fuzz->spec.since = (gint64) number;
              _pt_nostr_filter_set_since (fuzz->filter, (gint64) number);
            }
          break;
        default:
          break;
        }
    }
}

/* NIP-01 matching, spelled out: every condition given must hold. */
static gboolean
reference_matches (const Spec         *spec,
                   const PtNostrEvent *event)
{
  g_autofree char *author = pt_public_key_to_hex (&event->pubkey);
  gboolean found;

  if (spec->kinds->len > 0)
    {
      found = FALSE;
      for (guint i = 0; i < spec->kinds->len; i++)
        found |= g_array_index (spec->kinds, guint, i) == event->kind;
      if (!found)
        return FALSE;
    }
  if (spec->authors->len > 0)
    {
      found = FALSE;
      for (guint i = 0; i < spec->authors->len; i++)
        found |= g_str_equal (g_ptr_array_index (spec->authors, i), author);
      if (!found)
        return FALSE;
    }
  if (spec->p_tags->len > 0)
    {
      found = FALSE;
      for (guint t = 0; t < event->tags->len; t++)
        {
          char **tag = g_ptr_array_index (event->tags, t);

          if (!g_str_equal (tag[0], "p") || tag[1] == NULL)
            continue;
          /* Hex digits in either case name the same key. */
          for (guint i = 0; i < spec->p_tags->len; i++)
            found |= g_ascii_strcasecmp (g_ptr_array_index (spec->p_tags, i), tag[1]) == 0;
        }
      if (!found)
        return FALSE;
    }
  return spec->since < 0 || event->created_at >= spec->since;
}

static void
on_event (PtRelayPool *pool,
          const char  *sub_id,
          gpointer     data,
          Fuzz        *fuzz)
{
  const PtNostrEvent *event = data;
  g_autofree char *id = g_malloc (2 * PT_NOSTR_ID_LEN + 1);

  CHECK (g_str_equal (sub_id, SUB_ID));
  CHECK (_pt_nostr_event_verify (event, NULL));
  CHECK (_pt_nostr_filter_matches (fuzz->filter, event));
  CHECK (reference_matches (&fuzz->spec, event));
  for (gsize i = 0; i < PT_NOSTR_ID_LEN; i++)
    g_snprintf (id + 2 * i, 3, "%02x", event->id[i]);
  /* Once per input: at most a few thousand events, far inside SEEN_MAX. */
  CHECK (g_hash_table_add (fuzz->delivered, g_steal_pointer (&id)));
  fuzz->n_delivered++;
}

static void
on_event_repeated (PtRelayPool *pool,
                   const char  *sub_id,
                   gpointer     data,
                   Fuzz        *fuzz)
{
  const PtNostrEvent *event = data;
  g_autofree char *id = g_malloc (2 * PT_NOSTR_ID_LEN + 1);

  for (gsize i = 0; i < PT_NOSTR_ID_LEN; i++)
    g_snprintf (id + 2 * i, 3, "%02x", event->id[i]);
  /* Only what was delivered can repeat. */
  CHECK (g_hash_table_contains (fuzz->delivered, id));
}

/* Checks the filter against the reference; then, for an EVENT, sends its
 * contents signed by us three times: new, from the other relay, re-spaced. */
static void
fuzz_resealed (PtRelayPool *pool,
               Fuzz        *fuzz,
               const char  *text,
               gsize        len,
               guint        relay)
{
  g_autoptr(PtNostrRelayMessage) message = _pt_nostr_relay_message_parse_full (text, len, FALSE, NULL);
  g_autoptr(PtNostrEvent) event = NULL;
  g_autofree char *event_json = NULL;
  g_autoptr(GString) json = NULL;
  g_autofree char *respaced = NULL;
  guint before;

  if (message == NULL || message->type != PT_NOSTR_RELAY_MESSAGE_EVENT)
    return;
  CHECK (_pt_nostr_filter_matches (fuzz->filter, message->event) ==
         reference_matches (&fuzz->spec, message->event));

  /* json-glib turns some bad escapes into raw bytes: what is signed is UTF-8. */
  if (!g_utf8_validate (message->event->content, -1, NULL))
    return;
  for (guint i = 0; i < message->event->tags->len; i++)
    for (char **tag = g_ptr_array_index (message->event->tags, i); *tag != NULL; tag++)
      if (!g_utf8_validate (*tag, -1, NULL))
        return;
  event = _pt_nostr_event_new (message->event->kind, message->event->created_at,
                               message->event->content);
  for (guint i = 0; i < message->event->tags->len; i++)
    {
      char **tag = g_ptr_array_index (message->event->tags, i);

      g_ptr_array_add (event->tags, g_strdupv (tag));
    }
  CHECK (_pt_nostr_event_sign (event, fuzz_key, NULL));
  event_json = _pt_nostr_event_to_json (event);
  json = g_string_new ("[\"EVENT\",");
  _pt_nostr_json_append_string (json, message->sub_id);
  g_string_append_printf (json, ",%s]", event_json);

  before = fuzz->n_delivered;
  CHECK (_pt_relay_pool_feed_message (pool, relay, json->str, json->len));
  /* Delivered if and only if it is for our subscription and matches. (An
   * escaped NUL in a tag cuts it in json-glib: then it may not match.) */
  if (fuzz->n_delivered == before + 1)
    CHECK (g_str_equal (message->sub_id, SUB_ID) && reference_matches (&fuzz->spec, event));

  before = fuzz->n_delivered;
  CHECK (_pt_relay_pool_feed_message (pool, 1 - relay, json->str, json->len));
  respaced = g_strdup_printf ("[ %s", json->str + 1);
  CHECK (_pt_relay_pool_feed_message (pool, relay, respaced, strlen (respaced)));
  CHECK (fuzz->n_delivered == before);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *text = (const char *) data;
  const char *end = text + size;
  const char *newline = memchr (text, '\n', size);
  const char * const urls[] = { "ws://relay-one.invalid/", "ws://relay-two.invalid/", NULL };
  g_autoptr(PtRelayPool) pool = NULL;
  g_autofree char *spec_line = NULL;
  Fuzz fuzz = { 0, };
  guint relay = 0;

  spec_line = g_strndup (text, newline != NULL ? (gsize) (newline - text) : size);
  spec_parse (&fuzz, spec_line);
  fuzz.delivered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  pool = _pt_relay_pool_new (urls, NULL);
  CHECK (pool != NULL);
  g_signal_connect (pool, "event", G_CALLBACK (on_event), &fuzz);
  g_signal_connect (pool, "event-repeated", G_CALLBACK (on_event_repeated), &fuzz);
  _pt_relay_pool_subscribe (pool, SUB_ID, fuzz.filter);

  for (const char *line = newline != NULL ? newline + 1 : end; line < end; relay = 1 - relay)
    {
      const char *next = memchr (line, '\n', end - line);
      gsize len = (next != NULL ? next : end) - line;

      /* FALSE (drop the relay) is an answer too; only a crash is wrong. */
      _pt_relay_pool_feed_message (pool, relay, line, len);
      fuzz_resealed (pool, &fuzz, line, len, relay);
      line = next != NULL ? next + 1 : end;
    }

  g_clear_object (&pool);
  g_hash_table_unref (fuzz.delivered);
  g_array_unref (fuzz.spec.kinds);
  g_ptr_array_unref (fuzz.spec.authors);
  g_ptr_array_unref (fuzz.spec.p_tags);
  _pt_nostr_filter_free (fuzz.filter);
  return 0;
}
