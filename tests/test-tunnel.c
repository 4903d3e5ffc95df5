/* test-tunnel.c — a client and a server tunnel in one process, over loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The whole engine stack (signaling, libnice, QUIC, session, forwarders)
 * with real sockets on 127.0.0.1; every wait is bounded by a deadline.
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "pt.h"

#define DEADLINE_S 20

static gboolean deadline_hit;

static gboolean
deadline_cb (gpointer data)
{
  deadline_hit = TRUE;
  return G_SOURCE_REMOVE;
}

/* Spins the default context until *flag is set or the deadline passes. */
static void
wait_for (gboolean *flag)
{
  guint id;

  deadline_hit = FALSE;
  id = g_timeout_add_seconds (DEADLINE_S, deadline_cb, NULL);
  while (!*flag && !deadline_hit)
    g_main_context_iteration (NULL, TRUE);
  if (!deadline_hit)
    g_source_remove (id);
  g_assert_false (deadline_hit);
}

static void
drain (void)
{
  gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

  while (pt_tunnel_is_anything_closing () && g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, FALSE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

typedef struct
{
  PtTunnel  *client;
  PtTunnel  *server;
  GPtrArray *client_states;    /* of PtTunnelState, as GUINT_TO_POINTER */
  gboolean   client_finished;  /* up, failed or closed */
  gboolean   offered;
  gboolean   answered;
  PtSignal  *offer;
  PtSignal  *answer;
  char      *rejected_forward;
  char      *rejected_reason;
  GError    *error;
} Pair;

static void
on_client_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 Pair       *pair)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);

  g_ptr_array_add (pair->client_states, GUINT_TO_POINTER (state));
  if (state == PT_TUNNEL_STATE_UP || state == PT_TUNNEL_STATE_FAILED ||
      state == PT_TUNNEL_STATE_CLOSED)
    pair->client_finished = TRUE;
}

static void
on_rejected (PtTunnel   *tunnel,
             const char *forward,
             const char *reason,
             Pair       *pair)
{
  pair->rejected_forward = g_strdup (forward);
  pair->rejected_reason = g_strdup (reason);
}

static void
offer_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      data)
{
  Pair *pair = data;

  pair->offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &pair->error);
  pair->offered = TRUE;
}

static void
answer_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      data)
{
  Pair *pair = data;

  pair->answer = pt_tunnel_accept_offer_finish (PT_TUNNEL (object), result, &pair->error);
  pair->answered = TRUE;
}

static PtIceConfig *
loopback_config (void)
{
  PtIceConfig *config = pt_ice_config_new ();

  pt_ice_config_add_local_address (config, "127.0.0.1", NULL);
  return config;
}

/* Client asks for @source; server allows @allowed. Stops after the answer. */
static void
pair_setup (Pair       *pair,
            const char *source,
            const char *allowed)
{
  g_autoptr(PtIceConfig) config = loopback_config ();
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (source, NULL);
  g_autoptr(GError) error = NULL;

  memset (pair, 0, sizeof *pair);
  pair->client_states = g_ptr_array_new ();
  pair->client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  pair->server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  g_assert_true (pt_allow_list_add (list, allowed, NULL));
  pt_tunnel_set_allow_list (pair->server, spec->proto, list);

  g_signal_connect (pair->client, "notify::state", G_CALLBACK (on_client_state), pair);
  g_signal_connect (pair->server, "forward-rejected", G_CALLBACK (on_rejected), pair);

  g_assert_true (pt_tunnel_add_forward (pair->client, spec, "127.0.0.1:0", &error));
  g_assert_no_error (error);

  pt_tunnel_create_offer_async (pair->client, NULL, offer_cb, pair);
  wait_for (&pair->offered);
  g_assert_no_error (pair->error);
  g_assert_cmpint (pt_tunnel_get_state (pair->client), ==, PT_TUNNEL_STATE_WAITING_FOR_ANSWER);
  g_assert_cmpuint (pair->offer->candidates->len, >=, 1);

  pt_tunnel_accept_offer_async (pair->server, pair->offer, NULL, answer_cb, pair);
  wait_for (&pair->answered);
  g_assert_no_error (pair->error);
  g_assert_cmpmem (pair->answer->session_id, 8, pair->offer->session_id, 8);
}

static void
pair_teardown (Pair *pair)
{
  pt_tunnel_close (pair->client);
  pt_tunnel_close (pair->server);
  g_assert_cmpint (pt_tunnel_get_state (pair->client), !=, PT_TUNNEL_STATE_UP);
  g_signal_handlers_disconnect_by_data (pair->client, pair);
  g_signal_handlers_disconnect_by_data (pair->server, pair);
  drain ();
  g_assert_finalize_object (pair->client);
  g_assert_finalize_object (pair->server);
  g_ptr_array_unref (pair->client_states);
  g_clear_pointer (&pair->offer, pt_signal_free);
  g_clear_pointer (&pair->answer, pt_signal_free);
  g_clear_error (&pair->error);
  g_free (pair->rejected_forward);
  g_free (pair->rejected_reason);
}

/* A TCP echo service on 127.0.0.1 */

static void
echo_done (GObject      *object,
           GAsyncResult *result,
           gpointer      data)
{
  g_output_stream_splice_finish (G_OUTPUT_STREAM (object), result, NULL);
  g_object_unref (data);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           data)
{
  GIOStream *stream = G_IO_STREAM (connection);

  g_output_stream_splice_async (g_io_stream_get_output_stream (stream),
                                g_io_stream_get_input_stream (stream),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, G_PRIORITY_DEFAULT,
                                NULL, echo_done, g_object_ref (connection));
  return TRUE;
}

typedef struct
{
  GBytes     *payload;
  GChecksum  *received;
  gsize       received_len;
  gboolean    done;
  guint8      buf[32768];
} Transfer;

static void
transfer_read_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      data)
{
  Transfer *t = data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);

  g_assert_no_error (error);
  if (n == 0)
    {
      t->done = TRUE;
      return;
    }
  g_checksum_update (t->received, t->buf, n);
  t->received_len += n;
  g_input_stream_read_async (G_INPUT_STREAM (object), t->buf, sizeof t->buf,
                             G_PRIORITY_DEFAULT, NULL, transfer_read_cb, t);
}

static void
transfer_written_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      data)
{
  GSocketConnection *connection = data;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error);
  g_assert_no_error (error);
  g_socket_shutdown (g_socket_connection_get_socket (connection), FALSE, TRUE, NULL);
}

static void
test_tcp_echo (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GChecksum) sent = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  g_autofree guint8 *data = NULL;
  const gsize size = 2 * 1024 * 1024;
  const PtTunnelState expected[] = {
    PT_TUNNEL_STATE_GATHERING, PT_TUNNEL_STATE_WAITING_FOR_ANSWER, PT_TUNNEL_STATE_CHECKING,
    PT_TUNNEL_STATE_HANDSHAKE, PT_TUNNEL_STATE_UP,
  };
  Transfer t = { 0 };
  guint16 port;
  Pair pair;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), NULL);
  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);

  pair_setup (&pair, source, "127.0.0.0/8");
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  g_assert_no_error (error);
  wait_for (&pair.client_finished);

  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_UP);
  g_assert_cmpuint (pair.client_states->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (GPOINTER_TO_UINT (g_ptr_array_index (pair.client_states, i)), ==, expected[i]);
  g_assert_cmpint (pt_tunnel_get_path_kind (pair.client), ==, PT_PATH_KIND_HOST);

  /* Data there and back, checked. */
  addresses = pt_tunnel_dup_listen_addresses (pair.client);
  connection = g_socket_client_connect_to_host (socket_client, g_ptr_array_index (addresses, 0),
                                                0, NULL, &error);
  g_assert_no_error (error);

  data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = g_random_int_range (0, 256);
  g_checksum_update (sent, data, size);
  t.received = g_checksum_new (G_CHECKSUM_SHA256);

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                   data, size, G_PRIORITY_DEFAULT, NULL,
                                   transfer_written_cb, connection);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             t.buf, sizeof t.buf, G_PRIORITY_DEFAULT, NULL, transfer_read_cb, &t);
  wait_for (&t.done);

  g_assert_cmpuint (t.received_len, ==, size);
  g_assert_cmpstr (g_checksum_get_string (t.received), ==, g_checksum_get_string (sent));
  g_assert_cmpuint (pt_tunnel_get_bytes_sent (pair.client), ==, size);
  g_assert_cmpuint (pt_tunnel_get_bytes_received (pair.client), ==, size);
  g_assert_cmpuint (pt_tunnel_get_bytes_received (pair.server), ==, size);

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_checksum_free (t.received);
  pt_tunnel_close (pair.client);
  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_CLOSED);
  pair_teardown (&pair);
  g_socket_service_stop (service);
}

static void
test_rejected (void)
{
  g_autoptr(GError) error = NULL;
  Pair pair;

  pair_setup (&pair, "tcp://127.0.0.2:9", "127.0.0.1/32");
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  wait_for (&pair.client_finished);

  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_FAILED);
  g_assert_error ((GError *) pt_tunnel_get_error (pair.client), PT_TUNNEL_ERROR,
                  PT_TUNNEL_ERROR_REJECTED);
  g_assert_nonnull (strstr (pt_tunnel_get_error (pair.client)->message, "tcp://127.0.0.2:9"));
  g_assert_nonnull (strstr (pt_tunnel_get_error (pair.client)->message, "not in the server's allowed"));
  g_assert_cmpstr (pair.rejected_forward, ==, "tcp://127.0.0.2:9");
  g_assert_nonnull (pair.rejected_reason);

  pair_teardown (&pair);
}

static void
test_wrong_session (void)
{
  g_autoptr(GError) error = NULL;
  Pair pair;

  pair_setup (&pair, "tcp://127.0.0.1:9", "127.0.0.1/32");
  pair.answer->session_id[0] ^= 0x01;
  g_assert_false (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_SESSION);
  /* A wrong paste is not fatal: the right answer still works. */
  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_WAITING_FOR_ANSWER);

  g_clear_error (&error);
  pair.answer->session_id[0] ^= 0x01;
  pair.answer->timestamp -= PT_SIGNAL_FRESH_SECONDS + 60;
  g_assert_false (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE);

  pair_teardown (&pair);
}

static void
test_other_certificate (void)
{
  g_autoptr(GError) error = NULL;
  Pair pair;

  pair_setup (&pair, "tcp://127.0.0.1:9", "127.0.0.1/32");
  /* As if someone replaced the server's fingerprint in the answer. */
  pair.answer->fingerprint[5] ^= 0x40;
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  wait_for (&pair.client_finished);

  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_FAILED);
  g_assert_error ((GError *) pt_tunnel_get_error (pair.client), PT_QUIC_ERROR,
                  PT_QUIC_ERROR_PEER_CERTIFICATE);

  pair_teardown (&pair);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tunnel/tcp-echo", test_tcp_echo);
  g_test_add_func ("/tunnel/rejected", test_rejected);
  g_test_add_func ("/tunnel/wrong-session", test_wrong_session);
  g_test_add_func ("/tunnel/other-certificate", test_other_certificate);

  return g_test_run ();
}
