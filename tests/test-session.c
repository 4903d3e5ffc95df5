/* test-session.c — PtSession over two QUIC connections joined in memory
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * No ICE and no tunnel: a client and a server PtQuicConn whose send
 * functions queue packets for each other (delivered from an idle source, so
 * no call re-enters a connection), and the tunnel protocol's two sessions
 * on top. A TCP forward carries 1 MiB to an echo service and back,
 * checksummed; a UDP forward carries datagrams to a UDP echo service and
 * back, each checked; a forward the server does not allow fails the session
 * with an error that names it. Every wait has a deadline.
 */
#define G_LOG_DOMAIN "test-session"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "echo-service.h"
#include "pt-certificate-private.h"
#include "pt-quic-conn-private.h"
#include "pt-session-private.h"

#define DEADLINE_US  (20 * G_USEC_PER_SEC)
#define ECHO_BYTES   (1024 * 1024)

/* One direction of the in-memory path. */
typedef struct
{
  GQueue      packets;   /* GBytes */
  guint       idle_id;
  PtQuicConn *to;
} Pipe;

typedef struct
{
  PtCertificate *certificate;
  PtQuicConn    *conn;
  PtSession     *session;
  Pipe           out;
  gboolean       up;
  GError        *failed;
  GPtrArray     *rejected;   /* "FORWARD: REASON" */
} End;

static gboolean
pipe_deliver (gpointer user_data)
{
  Pipe *pipe = user_data;
  GBytes *packet;

  pipe->idle_id = 0;
  while ((packet = g_queue_pop_head (&pipe->packets)) != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);

      _pt_quic_conn_receive (pipe->to, data, len);
      g_bytes_unref (packet);
    }
  return G_SOURCE_REMOVE;
}

static void
pipe_send (const guint8 *packet,
           gsize         len,
           gpointer      user_data)
{
  Pipe *pipe = user_data;

  g_queue_push_tail (&pipe->packets, g_bytes_new (packet, len));
  if (pipe->idle_id == 0)
    pipe->idle_id = g_idle_add (pipe_deliver, pipe);
}

static void
on_up (PtSession *session,
       End       *end)
{
  end->up = TRUE;
}

static void
on_failed (PtSession *session,
           GError    *error,
           End       *end)
{
  g_clear_error (&end->failed);
  end->failed = g_error_copy (error);
}

static void
on_rejected (PtSession  *session,
             const char *forward,
             const char *reason,
             End        *end)
{
  g_ptr_array_add (end->rejected, g_strdup_printf ("%s: %s", forward, reason));
}

static void
on_handshake (PtQuicConn *conn,
              End        *end)
{
  _pt_session_start (end->session);
}

static void
end_init (End *end)
{
  g_autoptr(GError) error = NULL;

  end->certificate = _pt_certificate_new (&error);
  g_assert_no_error (error);
  end->rejected = g_ptr_array_new_with_free_func (g_free);
}

static void
end_connect (End      *end,
             gboolean  is_client,
             End      *peer)
{
  g_autoptr(GError) error = NULL;

  end->conn = _pt_quic_conn_new (is_client, end->certificate,
                                 _pt_certificate_get_fingerprint (peer->certificate),
                                 pipe_send, &end->out, &error);
  g_assert_no_error (error);
  g_signal_connect (end->conn, "handshake-completed", G_CALLBACK (on_handshake), end);
}

static void
end_watch (End *end)
{
  g_signal_connect (end->session, "up", G_CALLBACK (on_up), end);
  g_signal_connect (end->session, "failed", G_CALLBACK (on_failed), end);
  g_signal_connect (end->session, "rejected", G_CALLBACK (on_rejected), end);
}

static void
end_clear (End *end)
{
  if (end->session != NULL)
    {
      _pt_session_stop (end->session);
      g_signal_handlers_disconnect_by_data (end->session, end);
      g_clear_object (&end->session);
    }
  if (end->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (end->conn, end);
      g_clear_object (&end->conn);
    }
  g_clear_handle_id (&end->out.idle_id, g_source_remove);
  g_queue_clear_full (&end->out.packets, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&end->certificate);
  g_clear_pointer (&end->rejected, g_ptr_array_unref);
  g_clear_error (&end->failed);
}

#define RUN_UNTIL(cond, what)                                              \
  G_STMT_START {                                                           \
    gint64 _end = g_get_monotonic_time () + DEADLINE_US;                   \
    while (!(cond) && g_get_monotonic_time () < _end)                      \
      g_main_context_iteration (NULL, TRUE);                               \
    if (!(cond))                                                           \
      g_error ("timed out waiting for %s", what);                          \
  } G_STMT_END

/* What a user of the forward does: connects to its local port, writes
 * ECHO_BYTES, half-closes, and reads everything back (in a thread: the
 * main loop runs the sessions). */
typedef struct
{
  guint16   port;
  char     *sent;
  char     *received;
  gsize     n_received;
  gboolean  done;
} User;

static gpointer
user_thread (gpointer data)
{
  User *user = data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GChecksum) in = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GChecksum) out = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buffer = g_malloc (ECHO_BYTES);
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  gsize got = 0;

  for (gsize i = 0; i < ECHO_BYTES; i++)
    buffer[i] = (guint8) g_rand_int (rand);
  g_checksum_update (out, buffer, ECHO_BYTES);
  user->sent = g_strdup (g_checksum_get_string (out));
  connection = g_socket_client_connect_to_host (client, "127.0.0.1", user->port, NULL, NULL);
  if (connection != NULL &&
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                 buffer, ECHO_BYTES, NULL, NULL, NULL) &&
      g_socket_shutdown (g_socket_connection_get_socket (connection), FALSE, TRUE, NULL))
    {
      gssize n;

      while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                       buffer, ECHO_BYTES, NULL, NULL)) > 0)
        {
          g_checksum_update (in, buffer, (gsize) n);
          got += (gsize) n;
        }
    }
  user->n_received = got;
  user->received = g_strdup (g_checksum_get_string (in));
  g_atomic_int_set (&user->done, TRUE);
  return NULL;
}

static guint16
socket_port (GSocket *socket)
{
  g_autoptr(GSocketAddress) address = g_socket_get_local_address (socket, NULL);

  g_assert_nonnull (address);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
}

/* @sources: the client's forwards; the server allows 127.0.0.1:@echo_port
 * only, for the protocol of the first source. */
static void
run_sessions (const char * const *sources,
              guint16             echo_port,
              End                *client,
              End                *server,
              GPtrArray         **out_sockets)
{
  g_autoptr(PtAllowList) allowed = pt_allow_list_new ();
  g_autoptr(PtServerPolicy) policy = pt_server_policy_new ();
  g_autofree char *entry = g_strdup_printf ("127.0.0.1/32:%u", echo_port);
  g_autoptr(GPtrArray) forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);
  GPtrArray *sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_allow_list_add (allowed, entry, &error));
  g_assert_no_error (error);
  pt_server_policy_set_allow_list (policy, g_str_has_prefix (sources[0], "udp:") ? PT_PROTO_UDP
                                                                                 : PT_PROTO_TCP,
                                   allowed);
  for (guint i = 0; sources[i] != NULL; i++)
    {
      PtForwardSpec *spec = pt_forward_spec_parse (sources[i], &error);
      GSocket *socket;

      g_assert_no_error (error);
      g_ptr_array_add (forwards, spec);
      socket = _pt_session_bind_forward (spec->proto, "127.0.0.1:0", &error);
      g_assert_no_error (error);
      g_ptr_array_add (sockets, socket);
    }

  end_init (client);
  end_init (server);
  end_connect (client, TRUE, server);
  end_connect (server, FALSE, client);
  client->out.to = server->conn;
  server->out.to = client->conn;
  client->session = _pt_session_new_client (client->conn, forwards, sockets);
  server->session = _pt_session_new_server (server->conn, policy);
  end_watch (client);
  end_watch (server);

  _pt_quic_conn_start (client->conn);
  _pt_quic_conn_start (server->conn);
  RUN_UNTIL (client->up || client->failed != NULL, "the client session to come up or fail");
  *out_sockets = sockets;
}

static void
check_echo (GSocket *socket,
            End     *client)
{
  User user = { .port = socket_port (socket) };
  GThread *thread = g_thread_new ("user", user_thread, &user);

  RUN_UNTIL (g_atomic_int_get (&user.done), "the echo through the forward");
  g_thread_join (thread);
  g_assert_cmpuint (user.n_received, ==, ECHO_BYTES);
  g_assert_cmpstr (user.received, ==, user.sent);
  g_assert_cmpuint (_pt_session_get_bytes_sent (client->session), >=, ECHO_BYTES);
  g_assert_cmpuint (_pt_session_get_bytes_received (client->session), >=, ECHO_BYTES);
  g_free (user.sent);
  g_free (user.received);
}

static void
test_tcp_echo (void)
{
  g_autoptr(GSocketService) echo = g_socket_service_new ();
  guint16 port = echo_service_start (echo);
  g_autofree char *source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  const char *sources[] = { source, NULL };
  g_autoptr(GPtrArray) sockets = NULL;
  End client = { 0 }, server = { 0 };

  run_sessions (sources, port, &client, &server, &sockets);
  g_assert_no_error (client.failed);
  g_assert_true (client.up);
  g_assert_true (server.up);
  g_assert_cmpuint (client.rejected->len, ==, 0);
  check_echo (sockets->pdata[0], &client);
  g_assert_no_error (server.failed);

  g_socket_service_stop (echo);
  end_clear (&client);
  end_clear (&server);
}

/* A UDP echo service: each datagram goes back to its sender. */
static gboolean
udp_echo_cb (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  guint8 buffer[2048];
  GSocketAddress *from = NULL;
  gssize n = g_socket_receive_from (socket, &from, (char *) buffer, sizeof buffer, NULL, NULL);

  if (n > 0)
    g_socket_send_to (socket, from, (const char *) buffer, (gsize) n, NULL, NULL);
  g_clear_object (&from);
  return G_SOURCE_CONTINUE;
}

#define UDP_DATAGRAMS 64
#define UDP_SIZE      1000

/* What a user of a UDP forward does: sends a datagram, waits for its echo
 * (up to 5 s), checks it, and goes on with the next. */
typedef struct
{
  guint16  port;
  guint    echoed;    /* datagrams back intact */
  gboolean done;
} UdpUser;

static gpointer
udp_user_thread (gpointer data)
{
  UdpUser *user = data;
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) to = g_inet_socket_address_new (loopback, user->port);
  g_autoptr(GRand) rand = g_rand_new_with_seed (17);
  guint8 sent[UDP_SIZE], got[UDP_SIZE + 1];

  g_socket_set_timeout (socket, 5);
  for (guint i = 0; socket != NULL && i < UDP_DATAGRAMS; i++)
    {
      gssize n;

      for (gsize j = 0; j < sizeof sent; j++)
        sent[j] = (guint8) g_rand_int (rand);
      memcpy (sent, &i, sizeof i);
      if (g_socket_send_to (socket, to, (const char *) sent, sizeof sent, NULL, NULL) < 0)
        break;
      n = g_socket_receive (socket, (char *) got, sizeof got, NULL, NULL);
      if (n != (gssize) sizeof sent || memcmp (got, sent, sizeof sent) != 0)
        break;
      user->echoed++;
    }
  g_atomic_int_set (&user->done, TRUE);
  return NULL;
}

static void
test_udp_echo (void)
{
  g_autoptr(GSocket) echo = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                          G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSource) echo_source = NULL;
  g_autoptr(GPtrArray) sockets = NULL;
  g_autofree char *source = NULL;
  End client = { 0 }, server = { 0 };
  UdpUser user = { 0 };
  GThread *thread;
  guint16 port;

  g_assert_true (g_socket_bind (echo, any, TRUE, NULL));
  port = socket_port (echo);
  g_socket_set_blocking (echo, FALSE);
  echo_source = g_socket_create_source (echo, G_IO_IN, NULL);
  g_source_set_callback (echo_source, (GSourceFunc) udp_echo_cb, NULL, NULL);
  g_source_attach (echo_source, NULL);
  source = g_strdup_printf ("udp://127.0.0.1:%u", port);

  {
    const char *sources[] = { source, NULL };

    run_sessions (sources, port, &client, &server, &sockets);
  }
  g_assert_no_error (client.failed);
  g_assert_true (client.up);
  RUN_UNTIL (server.up, "the server session to come up");

  user.port = socket_port (sockets->pdata[0]);
  thread = g_thread_new ("udp-user", udp_user_thread, &user);
  RUN_UNTIL (g_atomic_int_get (&user.done), "the UDP echoes through the forward");
  g_thread_join (thread);
  g_assert_cmpuint (user.echoed, ==, UDP_DATAGRAMS);
  g_assert_cmpuint (_pt_session_get_bytes_sent (client.session), >=, UDP_DATAGRAMS * UDP_SIZE);
  g_assert_no_error (server.failed);

  g_source_destroy (echo_source);
  end_clear (&client);
  end_clear (&server);
}

/* A forward outside the server's allow-list: the server refuses the
 * session, and the client's error names that forward and why; the data of
 * the allowed forward beside it never flows. */
static void
test_refused_forward (void)
{
  g_autoptr(GSocketService) echo = g_socket_service_new ();
  guint16 port = echo_service_start (echo);
  g_autofree char *source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  g_autofree char *other = g_strdup_printf ("tcp://127.0.0.1:%u", port == 65535 ? 1 : port + 1);
  const char *sources[] = { source, other, NULL };
  g_autoptr(GPtrArray) sockets = NULL;
  End client = { 0 }, server = { 0 };

  run_sessions (sources, port, &client, &server, &sockets);
  g_assert_false (client.up);
  g_assert_nonnull (client.failed);
  g_test_message ("client: %s", client.failed->message);
  g_assert_nonnull (strstr (client.failed->message, other));
  g_assert_nonnull (strstr (client.failed->message, "not allowed"));
  g_assert_cmpuint (_pt_session_get_bytes_received (client.session), ==, 0);

  g_socket_service_stop (echo);
  end_clear (&client);
  end_clear (&server);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/session/tcp-echo", test_tcp_echo);
  g_test_add_func ("/session/udp-echo", test_udp_echo);
  g_test_add_func ("/session/refused-forward", test_refused_forward);
  return g_test_run ();
}
