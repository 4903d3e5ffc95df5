/* test-tunnel.c — a client and a server tunnel in one process, over loopback
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The whole engine stack (signaling, libnice, QUIC, session, forwarders)
 * with real sockets on 127.0.0.1; every wait is bounded by a deadline.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "pt.h"
#include "pt-ice-private.h"
#include "pt-quic-conn-private.h"
#include "pt-tunnel-private.h"

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
loopback_config (const char * const *addresses)
{
  PtIceConfig *config = pt_ice_config_new ();

  for (guint i = 0; addresses[i] != NULL; i++)
    pt_ice_config_add_local_address (config, addresses[i], NULL);
  return config;
}

static const char * const loopback4[] = { "127.0.0.1", NULL };

/* The server's policy: @list for @proto, nothing else. */
static void
allow (PtTunnel    *server,
       PtProto      proto,
       PtAllowList *list)
{
  g_autoptr(PtServerPolicy) policy = pt_server_policy_new ();

  pt_server_policy_set_allow_list (policy, proto, list);
  pt_tunnel_set_policy (server, policy);
}

/* Client asks for @source; server allows @allowed; both gather on
 * @addresses. Stops after the answer. */
static void
pair_setup_on (Pair               *pair,
               const char         *source,
               const char         *allowed,
               const char * const *addresses)
{
  g_autoptr(PtIceConfig) config = loopback_config (addresses);
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (source, NULL);
  g_autoptr(GError) error = NULL;

  memset (pair, 0, sizeof *pair);
  pair->client_states = g_ptr_array_new ();
  pair->client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  pair->server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  g_assert_true (pt_allow_list_add (list, allowed, NULL));
  allow (pair->server, spec->proto, list);

  g_signal_connect (pair->client, "notify::state", G_CALLBACK (on_client_state), pair);
  g_signal_connect (pair->server, "forward-rejected", G_CALLBACK (on_rejected), pair);

  g_assert_true (pt_tunnel_add_forward (pair->client, spec,
                                        strchr (addresses[0], ':') != NULL ? "[::1]:0" : "127.0.0.1:0",
                                        &error));
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
pair_setup (Pair       *pair,
            const char *source,
            const char *allowed)
{
  pair_setup_on (pair, source, allowed, loopback4);
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
  gsize       midway_at;            /* call midway() once this much came back */
  void      (*midway) (gpointer data);
  gpointer    midway_data;
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
  if (t->midway != NULL && t->received_len >= t->midway_at)
    {
      t->midway (t->midway_data);
      t->midway = NULL;
    }
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

/* @size random bytes through the client's first listener to the echo
 * service and back; the SHA-256 of what came back must match.  @midway
 * runs once half of it is back. */
static void
echo_through (Pair     *pair,
              gsize     size,
              void    (*midway) (gpointer data),
              gpointer  midway_data)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  g_autoptr(GChecksum) sent = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *data = NULL;
  Transfer t = { 0 };

  addresses = pt_tunnel_dup_listen_addresses (pair->client);
  connection = g_socket_client_connect_to_host (socket_client, g_ptr_array_index (addresses, 0),
                                                0, NULL, &error);
  g_assert_no_error (error);

  data = g_malloc (size);
  for (gsize i = 0; i < size; i++)
    data[i] = g_random_int_range (0, 256);
  g_checksum_update (sent, data, size);
  t.received = g_checksum_new (G_CHECKSUM_SHA256);
  t.midway = midway;
  t.midway_data = midway_data;
  t.midway_at = size / 2;

  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                   data, size, G_PRIORITY_DEFAULT, NULL,
                                   transfer_written_cb, connection);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             t.buf, sizeof t.buf, G_PRIORITY_DEFAULT, NULL, transfer_read_cb, &t);
  wait_for (&t.done);

  g_assert_cmpuint (t.received_len, ==, size);
  g_assert_cmpstr (g_checksum_get_string (t.received), ==, g_checksum_get_string (sent));
  g_assert_null (t.midway);

  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_checksum_free (t.received);
}

static void
test_tcp_echo (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  const gsize size = 2 * 1024 * 1024;
  const PtTunnelState expected[] = {
    PT_TUNNEL_STATE_GATHERING, PT_TUNNEL_STATE_WAITING_FOR_ANSWER, PT_TUNNEL_STATE_CHECKING,
    PT_TUNNEL_STATE_HANDSHAKE, PT_TUNNEL_STATE_UP,
  };
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
  echo_through (&pair, size, NULL, NULL);
  g_assert_cmpuint (pt_tunnel_get_bytes_sent (pair.client), ==, size);
  g_assert_cmpuint (pt_tunnel_get_bytes_received (pair.client), ==, size);
  g_assert_cmpuint (pt_tunnel_get_bytes_received (pair.server), ==, size);

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
  g_assert_nonnull (strstr (pt_tunnel_get_error (pair.client)->message, "not allowed by the server"));
  /* The client is not told what the server allows. */
  g_assert_null (strstr (pt_tunnel_get_error (pair.client)->message, "127.0.0.1"));
  g_assert_cmpstr (pair.rejected_forward, ==, "tcp://127.0.0.2:9");
  g_assert_nonnull (pair.rejected_reason);

  pair_teardown (&pair);
}

/* An entry with a port grants that port of the address and no other. */
static void
test_rejected_port (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *allowed = NULL;
  g_autofree char *other = NULL;
  g_autofree char *source = NULL;
  guint16 port;
  Pair pair;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), NULL);
  allowed = g_strdup_printf ("127.0.0.1:%u", port);
  other = g_strdup_printf ("tcp://127.0.0.1:%u", port == 65535 ? port - 1 : port + 1);
  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);

  /* The same address, another port: refused, the allow-list not told. */
  pair_setup (&pair, other, allowed);
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  wait_for (&pair.client_finished);
  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_FAILED);
  g_assert_error ((GError *) pt_tunnel_get_error (pair.client), PT_TUNNEL_ERROR,
                  PT_TUNNEL_ERROR_REJECTED);
  g_test_message ("%s", pt_tunnel_get_error (pair.client)->message);
  g_assert_nonnull (strstr (pt_tunnel_get_error (pair.client)->message, other));
  g_assert_nonnull (strstr (pt_tunnel_get_error (pair.client)->message, "not allowed by the server"));
  g_assert_null (strstr (pt_tunnel_get_error (pair.client)->message, allowed));
  g_assert_null (strstr (pt_tunnel_get_error (pair.client)->message, "/32"));
  pair_teardown (&pair);

  /* The port the entry names: granted, bytes intact. */
  pair_setup (&pair, source, allowed);
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  g_assert_no_error (error);
  wait_for (&pair.client_finished);
  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_UP);
  echo_through (&pair, 64 * 1024, NULL, NULL);
  pair_teardown (&pair);
  g_socket_service_stop (service);
}

/* The server grants what the offer it accepted showed: a client whose
 * HELLO asks for more (a modified client) has the rest refused. */
static void
test_not_in_offer (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(PtIceConfig) config = loopback_config (loopback4);
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(PtForwardSpec) shown = NULL;
  g_autoptr(PtForwardSpec) hidden = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *source = NULL;
  const char *message;
  guint16 port;
  Pair pair;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), NULL);
  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  shown = pt_forward_spec_parse (source, NULL);
  hidden = pt_forward_spec_parse ("tcp://127.0.0.1:9", NULL);

  memset (&pair, 0, sizeof pair);
  pair.client_states = g_ptr_array_new ();
  pair.client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  pair.server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  g_assert_true (pt_allow_list_add (list, "127.0.0.0/8", NULL));  /* both would be allowed */
  allow (pair.server, PT_PROTO_TCP, list);
  g_signal_connect (pair.client, "notify::state", G_CALLBACK (on_client_state), &pair);
  g_signal_connect (pair.server, "forward-rejected", G_CALLBACK (on_rejected), &pair);

  g_assert_true (pt_tunnel_add_forward (pair.client, shown, "127.0.0.1:0", &error));
  g_assert_true (pt_tunnel_add_forward (pair.client, hidden, "127.0.0.1:0", &error));
  g_assert_no_error (error);
  pt_tunnel_create_offer_async (pair.client, NULL, offer_cb, &pair);
  wait_for (&pair.offered);
  g_assert_no_error (pair.error);

  /* The offer the server sees shows only the first forward; the client's
   * HELLO will still ask for both. */
  g_assert_cmpuint (pair.offer->forwards->len, ==, 2);
  g_ptr_array_remove_index (pair.offer->forwards, 1);

  pt_tunnel_accept_offer_async (pair.server, pair.offer, NULL, answer_cb, &pair);
  wait_for (&pair.answered);
  g_assert_no_error (pair.error);
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  g_assert_no_error (error);
  wait_for (&pair.client_finished);

  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_FAILED);
  g_assert_error ((GError *) pt_tunnel_get_error (pair.client), PT_TUNNEL_ERROR,
                  PT_TUNNEL_ERROR_REJECTED);
  message = pt_tunnel_get_error (pair.client)->message;
  g_test_message ("%s", message);
  g_assert_cmpstr (message, ==, "server refused tcp://127.0.0.1:9: forward 2 was not in the offer");
  g_assert_cmpstr (pair.rejected_forward, ==, "tcp://127.0.0.1:9");
  pair_teardown (&pair);

  /* The offer unchanged: both granted (the check refuses only the extra). */
  memset (&pair, 0, sizeof pair);
  pair.client_states = g_ptr_array_new ();
  pair.client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  pair.server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  allow (pair.server, PT_PROTO_TCP, list);
  g_signal_connect (pair.client, "notify::state", G_CALLBACK (on_client_state), &pair);
  g_assert_true (pt_tunnel_add_forward (pair.client, shown, "127.0.0.1:0", &error));
  g_assert_true (pt_tunnel_add_forward (pair.client, hidden, "127.0.0.1:0", &error));
  pt_tunnel_create_offer_async (pair.client, NULL, offer_cb, &pair);
  wait_for (&pair.offered);
  pt_tunnel_accept_offer_async (pair.server, pair.offer, NULL, answer_cb, &pair);
  wait_for (&pair.answered);
  g_assert_no_error (pair.error);
  g_assert_true (pt_tunnel_set_answer (pair.client, pair.answer, &error));
  wait_for (&pair.client_finished);
  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_UP);
  echo_through (&pair, 64 * 1024, NULL, NULL);
  pair_teardown (&pair);
  g_socket_service_stop (service);
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

/* --- the fast data path (pt-fast-path.c) -------------------------------- */

/* A TCP echo service on every address of this machine; returns its port. */
static guint16
start_echo (GSocketService *service)
{
  g_autoptr(GError) error = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);

  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), NULL);
  return port;
}

static void
connect_pair (Pair *pair)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_tunnel_set_answer (pair->client, pair->answer, &error));
  g_assert_no_error (error);
  wait_for (&pair->client_finished);
  g_assert_cmpint (pt_tunnel_get_state (pair->client), ==, PT_TUNNEL_STATE_UP);
  /* The server is up once its session answered the client's hello. */
  g_assert_cmpint (pt_tunnel_get_state (pair->server), ==, PT_TUNNEL_STATE_UP);
}

/* "fast", or "libnice" when the run turned the fast path off
 * (PT_FAST_PATH=off: CI runs the suite both ways). */
static const char *
fast_or_off (void)
{
  return _pt_fast_path_allowed () ? "fast" : "libnice";
}

static void
assert_data_path (PtTunnel   *tunnel,
                  const char *prefix)
{
  const char *data_path = pt_tunnel_get_data_path (tunnel);

  if (g_str_equal (prefix, "fast"))
    prefix = fast_or_off ();

  g_test_message ("%s: data path %s",
                  pt_tunnel_get_role (tunnel) == PT_TUNNEL_ROLE_CLIENT ? "client" : "server",
                  data_path);
  g_assert_true (g_str_has_prefix (data_path, prefix));
}

/* Whatever reached a side's QUIC came from the other side's QUIC. */
static void
assert_nothing_foreign (Pair *pair)
{
  PtQuicConn *client = _pt_tunnel_get_quic (pair->client);
  PtQuicConn *server = _pt_tunnel_get_quic (pair->server);

  g_assert_cmpuint (_pt_quic_conn_get_bytes_received (client), <=,
                    _pt_quic_conn_get_bytes_sent (server));
  g_assert_cmpuint (_pt_quic_conn_get_bytes_received (server), <=,
                    _pt_quic_conn_get_bytes_sent (client));
}

static const gsize echo_sizes[] = { 1, 1200, 65537, 4 * 1024 * 1024 + 3 };

static void
run_fast_path_echo (const char * const *addresses,
                    const char         *service_host,
                    const char         *expected_path)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autofree char *source = NULL;
  guint16 port = start_echo (service);
  Pair pair;

  source = strchr (service_host, ':') != NULL
             ? g_strdup_printf ("tcp://[%s]:%u", service_host, port)
             : g_strdup_printf ("tcp://%s:%u", service_host, port);
  pair_setup_on (&pair, source, strchr (service_host, ':') ? "::1/128" : "127.0.0.0/8", addresses);
  connect_pair (&pair);
  assert_data_path (pair.client, expected_path);
  assert_data_path (pair.server, expected_path);

  for (guint i = 0; i < G_N_ELEMENTS (echo_sizes); i++)
    echo_through (&pair, echo_sizes[i], NULL, NULL);
  assert_nothing_foreign (&pair);

  pair_teardown (&pair);
  g_socket_service_stop (service);
}

static void
test_fast_path_ipv4 (void)
{
  run_fast_path_echo (loopback4, "127.0.0.1", "fast");
}

static void
test_fast_path_ipv6 (void)
{
  static const char * const loopback6[] = { "::1", NULL };
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) any = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV6);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (any, 0);

  if (probe == NULL || !g_socket_bind (probe, address, FALSE, NULL))
    {
      g_test_skip ("no IPv6 loopback on this machine");
      return;
    }
  run_fast_path_echo (loopback6, "::1", "fast");
}

static void
test_fast_path_off (void)
{
  g_autofree char *before = g_strdup (g_getenv ("PT_FAST_PATH"));

  g_setenv ("PT_FAST_PATH", "off", TRUE);
  run_fast_path_echo (loopback4, "127.0.0.1", "libnice");
  if (before != NULL)
    g_setenv ("PT_FAST_PATH", before, TRUE);
  else
    g_unsetenv ("PT_FAST_PATH");
}

static void
send_datagrams (GSocket      *socket,
                guint16       port,
                guint8        first_byte,
                guint         count)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (loopback, port);
  guint8 datagram[1200];

  for (guint i = 0; i < count; i++)
    {
      for (gsize j = 0; j < sizeof datagram; j++)
        datagram[j] = g_random_int_range (0, 256);
      datagram[0] = first_byte;
      g_assert_cmpint (g_socket_send_to (socket, to, (const char *) datagram, sizeof datagram,
                                         NULL, NULL), ==, sizeof datagram);
    }
}

/* The peer's own address and port, forged: only root can. FALSE if not. */
static gboolean
send_spoofed (guint16 from_port,
              guint16 to_port,
              guint8  first_byte,
              guint   count)
{
  struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  guint8 packet[sizeof (struct iphdr) + sizeof (struct udphdr) + 400] = { 0 };
  struct iphdr *ip = (struct iphdr *) packet;
  struct udphdr *udp = (struct udphdr *) (packet + sizeof *ip);
  int fd = socket (AF_INET, SOCK_RAW, IPPROTO_RAW);

  if (fd < 0)
    return FALSE;

  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->protocol = IPPROTO_UDP;
  ip->saddr = htonl (INADDR_LOOPBACK);
  ip->daddr = htonl (INADDR_LOOPBACK);
  udp->source = htons (from_port);
  udp->dest = htons (to_port);
  udp->len = htons (sizeof packet - sizeof *ip);
  for (guint i = 0; i < count; i++)
    {
      for (gsize j = sizeof *ip + sizeof *udp; j < sizeof packet; j++)
        packet[j] = g_random_int_range (0, 256);
      packet[sizeof *ip + sizeof *udp] = first_byte;
      g_assert_cmpint (sendto (fd, packet, sizeof packet, 0, (struct sockaddr *) &to, sizeof to),
                       ==, sizeof packet);
    }
  close (fd);
  return TRUE;
}

static guint16
first_port (const PtSignal *signal)
{
  g_assert_cmpuint (signal->candidates->len, >=, 1);
  return g_array_index (signal->candidates, PtCandidate, 0).port;
}

/* Datagrams from elsewhere, or without the QUIC fixed bit, sent to the
 * port the fast path shares with libnice never reach QUIC. */
static void
test_fast_path_strangers (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(GSocket) stranger = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                              G_SOCKET_PROTOCOL_UDP, NULL);
  g_autofree char *source = NULL;
  guint16 port = start_echo (service);
  guint16 client_port, server_port;
  PtIce *ice;
  Pair pair;

  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  pair_setup (&pair, source, "127.0.0.0/8");
  connect_pair (&pair);
  assert_data_path (pair.client, "fast");
  client_port = first_port (pair.offer);
  server_port = first_port (pair.answer);
  ice = _pt_tunnel_get_ice (pair.client);

  /* Another socket on this machine: QUIC-looking and not. */
  send_datagrams (stranger, client_port, 0x40 | 0x03, 100);
  send_datagrams (stranger, client_port, 0x17, 100);
  echo_through (&pair, 256 * 1024, NULL, NULL);
  assert_nothing_foreign (&pair);

  /* The peer's own address and port, but no fixed bit. */
  if (send_spoofed (server_port, client_port, 0x20, 50))
    {
      echo_through (&pair, 256 * 1024, NULL, NULL);
      assert_nothing_foreign (&pair);
      g_test_message ("%" G_GUINT64_FORMAT " datagrams without the fixed bit dropped",
                      _pt_ice_get_dropped_not_quic (ice));
      g_assert_cmpuint (_pt_ice_get_dropped_not_quic (ice), >=, 50);
    }
  else
    g_test_message ("SKIP: forging the peer's address needs a raw socket (root)");

  assert_data_path (pair.client, "fast");
  pair_teardown (&pair);
  g_socket_service_stop (service);
}

static void
switch_pairs (gpointer data)
{
  Pair *pair = data;
  PtIce *client = _pt_tunnel_get_ice (pair->client);
  PtIce *server = _pt_tunnel_get_ice (pair->server);
  guint builds = _pt_ice_get_fast_path_builds (client);
  const char *to = "127.0.0.2";
  PtFastPathStats before;

  g_assert_true (_pt_ice_get_fast_path_stats (client, &before));
  if (!_pt_ice_force_pair (client, to, to))
    {
      to = "127.0.0.1";
      g_assert_true (_pt_ice_force_pair (client, to, to));
    }
  g_assert_true (_pt_ice_force_pair (server, to, to));
  g_test_message ("both sides switched to %s after %" G_GUINT64_FORMAT " packets",
                  to, before.packets_in);
  g_assert_cmpuint (_pt_ice_get_fast_path_builds (client), ==, builds + 1);
}

/* The selected pair changes in the middle of a stream: the fast path
 * follows it and nothing is lost. */
static void
test_fast_path_pair_change (void)
{
  static const char * const two[] = { "127.0.0.1", "127.0.0.2", NULL };
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autofree char *source = NULL;
  guint16 port = start_echo (service);
  PtFastPathStats after;
  Pair pair;

  if (!_pt_fast_path_allowed ())
    {
      g_test_skip ("the fast path is turned off (PT_FAST_PATH)");
      return;
    }

  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  pair_setup_on (&pair, source, "127.0.0.0/8", two);
  connect_pair (&pair);
  assert_data_path (pair.client, "fast");

  echo_through (&pair, 16 * 1024 * 1024, switch_pairs, &pair);

  /* The new pair's fast path carried the second half. */
  assert_data_path (pair.client, "fast");
  assert_data_path (pair.server, "fast");
  g_assert_true (_pt_ice_get_fast_path_stats (_pt_tunnel_get_ice (pair.client), &after));
  g_test_message ("after the switch: %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT " out",
                  after.packets_in, after.packets_out);
  g_assert_cmpuint (after.packets_in, >, 0);
  g_assert_cmpuint (after.packets_out, >, 0);
  echo_through (&pair, 1024 * 1024, NULL, NULL);
  assert_nothing_foreign (&pair);

  pair_teardown (&pair);
  g_socket_service_stop (service);
}

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Consent freshness (STUN on libnice's socket) keeps an idle tunnel whose
 * data goes through pt's own socket: 35 s without data, then data. */
static void
test_fast_path_idle (void)
{
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autofree char *source = NULL;
  guint16 port = start_echo (service);
  gboolean idle_over = FALSE;
  Pair pair;

  if (!g_test_slow ())
    {
      g_test_skip ("35 s idle: run with -m slow (meson test tunnel-idle)");
      return;
    }

  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  pair_setup (&pair, source, "127.0.0.0/8");
  connect_pair (&pair);
  assert_data_path (pair.client, "fast");
  echo_through (&pair, 64 * 1024, NULL, NULL);

  g_timeout_add_seconds (35, set_flag, &idle_over);
  while (!idle_over)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpint (pt_tunnel_get_state (pair.client), ==, PT_TUNNEL_STATE_UP);
  g_assert_cmpint (pt_tunnel_get_state (pair.server), ==, PT_TUNNEL_STATE_UP);
  assert_data_path (pair.client, "fast");
  echo_through (&pair, 1024 * 1024, NULL, NULL);

  pair_teardown (&pair);
  g_socket_service_stop (service);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tunnel/tcp-echo", test_tcp_echo);
  g_test_add_func ("/tunnel/rejected", test_rejected);
  g_test_add_func ("/tunnel/rejected-port", test_rejected_port);
  g_test_add_func ("/tunnel/not-in-offer", test_not_in_offer);
  g_test_add_func ("/tunnel/wrong-session", test_wrong_session);
  g_test_add_func ("/tunnel/other-certificate", test_other_certificate);
  g_test_add_func ("/tunnel/fast-path/ipv4", test_fast_path_ipv4);
  g_test_add_func ("/tunnel/fast-path/ipv6", test_fast_path_ipv6);
  g_test_add_func ("/tunnel/fast-path/off", test_fast_path_off);
  g_test_add_func ("/tunnel/fast-path/strangers", test_fast_path_strangers);
  g_test_add_func ("/tunnel/fast-path/pair-change", test_fast_path_pair_change);
  g_test_add_func ("/tunnel/fast-path/idle-consent", test_fast_path_idle);

  return g_test_run ();
}
