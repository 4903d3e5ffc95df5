/* pt-nostr-interop.c — our Nostr code against nostr-tools (npm)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two modes:
 *
 *   pt-nostr-interop          the test (TAP): runs `node interop.mjs` with the
 *                             path of this program, bounded in time, and passes
 *                             its TAP through; skipped, saying why, without node
 *                             or nostr-tools in tests/relay/node_modules.
 *   pt-nostr-interop serve    what interop.mjs drives: one JSON request per
 *                             line on stdin, one JSON answer per line on stdout.
 *
 * Requests ({"op":…} plus the fields named; keys and ids are lowercase hex,
 * plaintexts base64 so that they carry any bytes):
 *
 *   pubkey            secret                        → pubkey, npub, nsec
 *   sign              secret kind created_at tags content → event (as we publish it)
 *   verify            event (JSON text, exactly as received) → event (as parsed)
 *   conversation-key  secret peer                   → key
 *   encrypt           secret peer plaintext         → payload
 *   decrypt           secret peer payload           → plaintext
 *
 * Every answer has "ok"; a refusal has ok false, the error's "domain", its
 * "code" (a PT_NOSTR_ERROR named in lowercase, or "other") and "message".
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <gio/gunixinputstream.h>

#include "pt.h"
#include "pt-nip44-private.h"
#include "pt-nostr-event-private.h"

/* The node side bounds each request and the whole run tighter than this. */
#define RUN_TIMEOUT_S 150

#define MAX_REQUEST_LEN (1024 * 1024)

/* ---------------------------------------------------------------------- */
/* Answers */

/* Names for the refusals that the node side expects. */
static const struct
{
  PtNostrError code;
  const char  *name;
} nostr_errors[] = {
  { PT_NOSTR_ERROR_MALFORMED, "malformed" },
  { PT_NOSTR_ERROR_BAD_ID, "bad-id" },
  { PT_NOSTR_ERROR_BAD_SIGNATURE, "bad-signature" },
  { PT_NOSTR_ERROR_TOO_LARGE, "too-large" },
  { PT_NOSTR_ERROR_VERSION, "version" },
  { PT_NOSTR_ERROR_DECRYPT, "decrypt" },
  { PT_NOSTR_ERROR_KEY, "key" },
};

static void
answer_error (GString      *out,
              const GError *error)
{
  const char *name = "other";

  for (guint i = 0; error->domain == PT_NOSTR_ERROR && i < G_N_ELEMENTS (nostr_errors); i++)
    if (error->code == (int) nostr_errors[i].code)
      name = nostr_errors[i].name;
  g_string_append (out, "{\"ok\":false,\"domain\":");
  _pt_nostr_json_append_string (out, g_quark_to_string (error->domain));
  g_string_append (out, ",\"code\":");
  _pt_nostr_json_append_string (out, name);
  g_string_append (out, ",\"message\":");
  _pt_nostr_json_append_string (out, error->message);
  g_string_append_c (out, '}');
}

static gboolean
bad_request (GError    **error,
             const char *what)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "bad request: %s", what);
  return FALSE;
}

static const char *
get_string (JsonObject *request,
            const char *name)
{
  JsonNode *node = json_object_get_member (request, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static PtSecretKey *
get_secret (JsonObject *request,
            GError    **error)
{
  const char *hex = get_string (request, "secret");

  if (hex == NULL)
    {
      bad_request (error, "no secret");
      return NULL;
    }
  return pt_secret_key_parse (hex, error);
}

static gboolean
get_conversation_key (JsonObject *request,
                      guint8     *key,
                      GError    **error)
{
  g_autoptr(PtSecretKey) secret = get_secret (request, error);
  const char *peer_text = get_string (request, "peer");
  PtPublicKey peer;

  if (secret == NULL)
    return FALSE;
  if (peer_text == NULL)
    return bad_request (error, "no peer");
  if (!pt_public_key_parse (peer_text, &peer, error))
    return FALSE;
  return _pt_nip44_conversation_key (secret, &peer, key, error);
}

/* ---------------------------------------------------------------------- */
/* Operations */

static gboolean
op_pubkey (JsonObject *request,
           GString    *out,
           GError    **error)
{
  g_autoptr(PtSecretKey) secret = get_secret (request, error);
  g_autofree char *npub = NULL;
  g_autoptr(PtSecretString) nsec = NULL;

  if (secret == NULL)
    return FALSE;
  npub = pt_public_key_to_npub (pt_secret_key_get_public (secret));
  nsec = pt_secret_key_to_nsec (secret);
  g_string_append (out, "{\"ok\":true,\"pubkey\":");
  _pt_nostr_json_append_hex (out, pt_secret_key_get_public (secret)->bytes, PT_KEY_LEN);
  g_string_append (out, ",\"npub\":");
  _pt_nostr_json_append_string (out, npub);
  g_string_append (out, ",\"nsec\":");
  _pt_nostr_json_append_string (out, nsec);
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
add_tags (PtNostrEvent *event,
          JsonNode     *tags,
          GError      **error)
{
  JsonArray *array;

  if (tags == NULL || !JSON_NODE_HOLDS_ARRAY (tags))
    return bad_request (error, "tags is not an array");
  array = json_node_get_array (tags);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *tag = json_array_get_element (array, i);
      JsonArray *items;
      g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

      if (!JSON_NODE_HOLDS_ARRAY (tag) || json_array_get_length (json_node_get_array (tag)) == 0)
        return bad_request (error, "a tag is not a non-empty array");
      items = json_node_get_array (tag);
      for (guint j = 0; j < json_array_get_length (items); j++)
        {
          JsonNode *item = json_array_get_element (items, j);

          if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
            return bad_request (error, "a tag item is not a string");
          g_strv_builder_add (builder, json_node_get_string (item));
        }
      g_ptr_array_add (event->tags, g_strv_builder_end (builder));
    }
  return TRUE;
}

static gboolean
op_sign (JsonObject *request,
         GString    *out,
         GError    **error)
{
  g_autoptr(PtSecretKey) secret = get_secret (request, error);
  g_autoptr(PtNostrEvent) event = NULL;
  g_autofree char *json = NULL;
  const char *content = get_string (request, "content");

  if (secret == NULL)
    return FALSE;
  if (content == NULL || !json_object_has_member (request, "kind") ||
      !json_object_has_member (request, "created_at"))
    return bad_request (error, "sign needs content, kind and created_at");
  event = _pt_nostr_event_new ((guint) json_object_get_int_member (request, "kind"),
                               json_object_get_int_member (request, "created_at"),
                               content);
  if (!add_tags (event, json_object_get_member (request, "tags"), error) ||
      !_pt_nostr_event_sign (event, secret, error))
    return FALSE;
  json = _pt_nostr_event_to_json (event);
  g_string_append (out, "{\"ok\":true,\"event\":");
  g_string_append (out, json);
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
op_verify (JsonObject *request,
           GString    *out,
           GError    **error)
{
  const char *text = get_string (request, "event");
  g_autoptr(PtNostrEvent) event = NULL;
  g_autofree char *json = NULL;

  if (text == NULL)
    return bad_request (error, "no event");
  event = _pt_nostr_event_parse (text, strlen (text), error);
  if (event == NULL)
    return FALSE;
  json = _pt_nostr_event_to_json (event);
  g_string_append (out, "{\"ok\":true,\"event\":");
  g_string_append (out, json);
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
op_conversation_key (JsonObject *request,
                     GString    *out,
                     GError    **error)
{
  guint8 key[PT_NIP44_KEY_LEN];

  if (!get_conversation_key (request, key, error))
    return FALSE;
  g_string_append (out, "{\"ok\":true,\"key\":");
  _pt_nostr_json_append_hex (out, key, sizeof key);
  g_string_append_c (out, '}');
  explicit_bzero (key, sizeof key);
  return TRUE;
}

static gboolean
op_encrypt (JsonObject *request,
            GString    *out,
            GError    **error)
{
  const char *b64 = get_string (request, "plaintext");
  g_autofree guint8 *plaintext = NULL;
  g_autofree char *payload = NULL;
  guint8 key[PT_NIP44_KEY_LEN];
  gsize len;

  if (b64 == NULL)
    return bad_request (error, "no plaintext");
  if (!get_conversation_key (request, key, error))
    return FALSE;
  plaintext = g_base64_decode (b64, &len);
  payload = _pt_nip44_encrypt (key, (const char *) plaintext, len, NULL, error);
  explicit_bzero (key, sizeof key);
  if (payload == NULL)
    return FALSE;
  g_string_append (out, "{\"ok\":true,\"payload\":");
  _pt_nostr_json_append_string (out, payload);
  g_string_append_c (out, '}');
  return TRUE;
}

static gboolean
op_decrypt (JsonObject *request,
            GString    *out,
            GError    **error)
{
  const char *payload = get_string (request, "payload");
  g_autofree char *plaintext = NULL;
  g_autofree char *b64 = NULL;
  guint8 key[PT_NIP44_KEY_LEN];
  gsize len;

  if (payload == NULL)
    return bad_request (error, "no payload");
  if (!get_conversation_key (request, key, error))
    return FALSE;
  plaintext = _pt_nip44_decrypt (key, payload, &len, error);
  explicit_bzero (key, sizeof key);
  if (plaintext == NULL)
    return FALSE;
  b64 = g_base64_encode ((const guchar *) plaintext, len);
  g_string_append (out, "{\"ok\":true,\"plaintext\":");
  _pt_nostr_json_append_string (out, b64);
  g_string_append_c (out, '}');
  return TRUE;
}

typedef gboolean (*OpFunc) (JsonObject *request,
                            GString    *out,
                            GError    **error);

static const struct
{
  const char *name;
  OpFunc      func;
} ops[] = {
  { "pubkey", op_pubkey },
  { "sign", op_sign },
  { "verify", op_verify },
  { "conversation-key", op_conversation_key },
  { "encrypt", op_encrypt },
  { "decrypt", op_decrypt },
};

static void
handle_request (const char *line,
                gsize       len,
                GString    *out)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *request;
  const char *op;

  if (!json_parser_load_from_data (parser, line, (gssize) len, &error))
    goto out;
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      bad_request (&error, "not an object");
      goto out;
    }
  request = json_node_get_object (json_parser_get_root (parser));
  op = get_string (request, "op");
  for (guint i = 0; op != NULL && i < G_N_ELEMENTS (ops); i++)
    if (g_str_equal (op, ops[i].name))
      {
        if (!ops[i].func (request, out, &error))
          g_string_truncate (out, 0);
        goto out;
      }
  bad_request (&error, "unknown op");

out:
  if (error != NULL)
    answer_error (out, error);
}

static int
serve (void)
{
  g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (in);
  g_autoptr(GString) out = g_string_new (NULL);

  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (lines), 256 * 1024);
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gsize len;
      g_autofree char *line = g_data_input_stream_read_line (lines, &len, NULL, &error);

      if (line == NULL)
        {
          if (error != NULL)
            {
              g_printerr ("pt-nostr-interop: reading stdin: %s\n", error->message);
              return 1;
            }
          return 0;  /* EOF: the driver is done */
        }
      if (len > MAX_REQUEST_LEN)
        {
          g_printerr ("pt-nostr-interop: a request of %" G_GSIZE_FORMAT " bytes\n", len);
          return 1;
        }
      g_string_truncate (out, 0);
      handle_request (line, len, out);
      g_string_append_c (out, '\n');
      if (fwrite (out->str, 1, out->len, stdout) != out->len || fflush (stdout) != 0)
        return 1;
    }
}

/* ---------------------------------------------------------------------- */
/* The test: node interop.mjs, bounded */

static char *
source_path (const char *first,
             ...) G_GNUC_NULL_TERMINATED;

static char *
source_path (const char *first,
             ...)
{
  const char *srcdir = g_getenv ("PT_SOURCE_DIR");
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  va_list args;

  g_ptr_array_add (parts, (gpointer) (srcdir != NULL ? srcdir : "."));
  va_start (args, first);
  for (const char *p = first; p != NULL; p = va_arg (args, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

static int
skip (const char *reason)
{
  g_printerr ("SKIP: %s\n", reason);
  g_print ("1..0 # SKIP %s\n", reason);
  return 0;
}

typedef struct
{
  gboolean exited;
  gboolean expired;
} RunState;

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  ((RunState *) data)->exited = TRUE;
}

static gboolean
deadline_cb (gpointer data)
{
  ((RunState *) data)->expired = TRUE;
  return G_SOURCE_REMOVE;
}

static int
run_test (void)
{
  g_autofree char *node = g_find_program_in_path ("node");
  g_autofree char *modules = source_path ("tests", "relay", "node_modules", NULL);
  g_autofree char *tools = g_build_filename (modules, "nostr-tools", "package.json", NULL);
  g_autofree char *script = source_path ("tests", "interop", "interop.mjs", NULL);
  g_autofree char *self = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  RunState state = { FALSE, FALSE };
  guint deadline;

  if (node == NULL)
    return skip ("node not found (install nodejs: `scripts/setup test`)");
  if (!g_file_test (tools, G_FILE_TEST_IS_REGULAR))
    return skip ("nostr-tools is not in tests/relay/node_modules (run `npm ci --prefix tests/relay`)");

  self = g_file_read_link ("/proc/self/exe", &error);
  g_assert_no_error (error);
  /* stdout and stderr are ours: node writes the TAP. */
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT, &error,
                           node, script, "--pt", self, "--modules", modules, NULL);
  if (proc == NULL)
    {
      g_print ("Bail out! could not start node: %s\n", error->message);
      return 1;
    }
  g_subprocess_wait_async (proc, NULL, wait_cb, &state);
  deadline = g_timeout_add_seconds (RUN_TIMEOUT_S, deadline_cb, &state);
  while (!state.exited && !state.expired)
    g_main_context_iteration (NULL, TRUE);
  if (!state.exited)
    {
      g_print ("Bail out! interop.mjs did not finish in %u s\n", RUN_TIMEOUT_S);
      g_subprocess_force_exit (proc);
      while (!state.exited)
        g_main_context_iteration (NULL, TRUE);
      return 1;
    }
  g_source_remove (deadline);
  if (!g_subprocess_get_if_exited (proc))
    {
      g_print ("Bail out! node died of signal %d\n", g_subprocess_get_term_sig (proc));
      return 1;
    }
  return g_subprocess_get_exit_status (proc);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 2 && g_str_equal (argv[1], "serve"))
    return serve ();
  if (argc == 1)
    return run_test ();
  g_printerr ("usage: %s [serve]\n", argv[0]);
  return 2;
}
