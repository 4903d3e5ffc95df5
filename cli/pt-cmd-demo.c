/* pt-cmd-demo.c — pt demo: a whole tunnel on this machine, checked end to end
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A throwaway echo service and two tunnels in one process, a serving and a
 * connecting profile run by PtService as the app runs them, paired through
 * the same armored blocks a user would copy and paste; then data goes
 * through the tunnel and comes back, checked by SHA-256.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "pt-cli.h"

#define DEMO_TIMEOUT_S 30

typedef struct
{
  GMainLoop        *loop;
  int               status;
  gsize             size;
  PtService        *server;
  PtService        *client;
  GSocketService   *service;
  GSocketConnection *connection;
  GBytes           *payload;
  gsize             received;
  GChecksum        *received_sum;
  guint8            buffer[64 * 1024];
  gint64            start_us;
  gint64            answer_us;
  gint64            first_byte_us;
  gint64            done_us;
} Demo;

static void demo_fail (Demo       *demo,
                       const char *format,
                       ...) G_GNUC_PRINTF (2, 3);

static void
demo_fail (Demo       *demo,
           const char *format,
           ...)
{
  g_autofree char *message = NULL;
  va_list args;

  if (demo->status != -1)
    return;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  pt_cli_error ("demo failed: %s", message);
  demo->status = PT_EXIT_FAILURE;
  g_main_loop_quit (demo->loop);
}

/* The echo service: whatever arrives goes back, then EOF. */
static void
echo_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GSocketConnection) connection = user_data;

  g_output_stream_splice_finish (G_OUTPUT_STREAM (object), result, NULL);
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source,
             gpointer           user_data)
{
  GIOStream *stream = G_IO_STREAM (connection);

  g_output_stream_splice_async (g_io_stream_get_output_stream (stream),
                                g_io_stream_get_input_stream (stream),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, NULL, echo_done_cb,
                                g_object_ref (connection));
  return TRUE;
}

/* The local application: sends the payload, reads the echo. */
static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (n < 0)
    {
      demo_fail (demo, "reading through the tunnel: %s", error->message);
      return;
    }

  if (n > 0)
    {
      if (demo->first_byte_us == 0)
        demo->first_byte_us = g_get_monotonic_time ();
      g_checksum_update (demo->received_sum, demo->buffer, n);
      demo->received += n;
      g_input_stream_read_async (G_INPUT_STREAM (object), demo->buffer, sizeof demo->buffer,
                                 G_PRIORITY_DEFAULT, NULL, read_cb, demo);
      return;
    }

  /* EOF: the echo is complete. */
  demo->done_us = g_get_monotonic_time ();
  {
    gsize total = demo->received;
    g_autoptr(GChecksum) sent_sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autofree char *sent_hex = NULL;
    const char *received_hex;

    g_checksum_update (sent_sum, g_bytes_get_data (demo->payload, NULL), g_bytes_get_size (demo->payload));
    sent_hex = g_strdup (g_checksum_get_string (sent_sum));
    received_hex = g_checksum_get_string (demo->received_sum);

    if (total != demo->size || !g_str_equal (sent_hex, received_hex))
      {
        demo_fail (demo, "the data came back altered (%zu of %zu bytes, SHA-256 %s, expected %s)",
                   total, demo->size, received_hex, sent_hex);
        return;
      }

    demo->status = PT_EXIT_OK;
    g_main_loop_quit (demo->loop);
  }
}

static void
write_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error))
    {
      demo_fail (demo, "writing into the tunnel: %s", error->message);
      return;
    }
  /* Half-close: the echo service sees EOF and closes in turn. */
  g_socket_shutdown (g_socket_connection_get_socket (demo->connection), FALSE, TRUE, NULL);
}

static void
connected_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Demo *demo = user_data;
  g_autoptr(GError) error = NULL;
  GIOStream *stream;

  demo->connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (demo->connection == NULL)
    {
      demo_fail (demo, "connecting to the tunnel's local end: %s", error->message);
      return;
    }

  stream = G_IO_STREAM (demo->connection);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
                                   g_bytes_get_data (demo->payload, NULL),
                                   g_bytes_get_size (demo->payload),
                                   G_PRIORITY_DEFAULT, NULL, write_cb, demo);
  g_input_stream_read_async (g_io_stream_get_input_stream (stream), demo->buffer,
                             sizeof demo->buffer, G_PRIORITY_DEFAULT, NULL, read_cb, demo);
}

/* Pairing, exactly as two users would do it, minus the copy-paste. */
static void
client_state_cb (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 Demo       *demo)
{
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      {
        g_autoptr(GPtrArray) addresses = pt_tunnel_dup_listen_addresses (tunnel);
        g_autoptr(GSocketClient) client = g_socket_client_new ();

        pt_cli_info ("tunnel up over a %s path; sending %zu KiB through %s",
                     pt_path_kind_to_string (pt_tunnel_get_path_kind (tunnel)),
                     demo->size / 1024, (char *) g_ptr_array_index (addresses, 0));
        g_socket_client_connect_to_host_async (client, g_ptr_array_index (addresses, 0), 0,
                                               NULL, connected_cb, demo);
      }
      break;

    case PT_TUNNEL_STATE_FAILED:
    case PT_TUNNEL_STATE_CLOSED:
      demo_fail (demo, "the client tunnel stopped: %s",
                 pt_tunnel_get_error (tunnel) ? pt_tunnel_get_error (tunnel)->message : "closed");
      break;

    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
}

/* A block shown by one side, pasted into the other. */
static gboolean
paste (Demo       *demo,
       PtService  *into,
       const char *text,
       const char *what)
{
  g_autoptr(GBytes) pasted = g_bytes_new (text, strlen (text));
  g_autoptr(GError) error = NULL;

  if (!pt_service_give_remote (into, pasted, &error))
    {
      demo_fail (demo, "%s: %s", what, error->message);
      return FALSE;
    }
  return TRUE;
}

static void
client_offer_cb (PtService  *client,
                 GParamSpec *pspec,
                 Demo       *demo)
{
  const char *armored = pt_service_get_local_text (client);
  GBytes *raw = pt_service_get_local_payload (client);

  if (armored == NULL || pt_service_get_paired (client))
    return;
  g_printerr ("The client's offer (%zu bytes: a QR code could carry it) — in real use you\n"
              "would paste this into “pt server manual” on the other machine:\n\n%s\n",
              g_bytes_get_size (raw), armored);
  paste (demo, demo->server, armored, "giving the offer to the server");
}

static void
server_answer_cb (PtService  *server,
                  GParamSpec *pspec,
                  Demo       *demo)
{
  const char *armored = pt_service_get_local_text (server);

  if (armored == NULL)
    return;
  demo->answer_us = g_get_monotonic_time ();
  paste (demo, demo->client, armored, "giving the answer to the client");
}

static gboolean
timeout_cb (gpointer user_data)
{
  Demo *demo = user_data;

  demo_fail (demo, "nothing happened for %d s", DEMO_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

static void
terminate (Demo *demo)
{
  demo_fail (demo, "interrupted");
}

static void
print_rate (const char *what,
            gsize       bytes,
            gint64      us)
{
  double seconds = MAX (us, 1) / 1e6;

  g_printerr ("  %-22s %.1f ms (%.1f MB/s)\n", what, us / 1000.0, bytes / seconds / 1e6);
}

int
pt_cmd_demo (int    argc,
             char **argv)
{
  PtCliCommon common = { 0 };
  int size_kib = 0;
  const GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_INT, &size_kib,
      "How much data to send through the tunnel, in KiB (default 4096)", "KIB" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtProfile) serving = pt_profile_new ();
  g_autoptr(PtProfile) connecting = pt_profile_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree guint8 *payload = NULL;
  g_autofree char *source = NULL;
  Demo demo = { 0 };
  guint16 port;
  guint timeout;

  context = pt_cli_context_new ("demo", NULL,
                                "a whole tunnel on this machine, checked end to end",
                                "Starts a throwaway echo service, a server and a client in manual mode on\n"
                                "127.0.0.1, pairs them with the same blocks a user would paste, sends data\n"
                                "through the tunnel and checks that it comes back intact. Needs no network.\n",
                                entries, &common);
  if (!pt_cli_parse (context, "demo", entries, &common, &argc, &argv))
    {
      pt_cli_common_clear (&common);
      return PT_EXIT_USAGE;
    }
  if (size_kib < 0 || size_kib > 1024 * 1024)
    {
      pt_cli_usage_error ("--size takes 1 to 1048576 KiB");
      pt_cli_common_clear (&common);
      return PT_EXIT_USAGE;
    }
  demo.size = (size_kib ? size_kib : 4096) * (gsize) 1024;

  loop = g_main_loop_new (NULL, FALSE);
  demo.loop = loop;
  demo.status = -1;
  pt_cli_on_terminate (G_CALLBACK (terminate), &demo);

  /* The service the tunnel leads to. */
  demo.service = g_socket_service_new ();
  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (demo.service), NULL, &error);
  if (port == 0)
    {
      pt_cli_error ("cannot start the demo's echo service: %s", error->message);
      g_object_unref (demo.service);
      pt_cli_common_clear (&common);
      return PT_EXIT_FAILURE;
    }
  g_signal_connect (demo.service, "incoming", G_CALLBACK (on_incoming), NULL);

  payload = g_malloc (demo.size);
  for (gsize i = 0; i < demo.size; i += 4)
    {
      guint32 r = g_random_int ();

      memcpy (payload + i, &r, MIN (4, demo.size - i));
    }
  demo.payload = g_bytes_new_take (g_steal_pointer (&payload), demo.size);
  demo.received_sum = g_checksum_new (G_CHECKSUM_SHA256);

  /* Loopback only, no STUN: the demo needs no network at all. */
  {
    const char *locals[] = { "127.0.0.1", NULL };
    const char *tcp[] = { "127.0.0.1/32", NULL };
    const char *sources[] = { NULL, NULL };
    const char *targets[] = { "127.0.0.1:0", NULL };

    source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
    sources[0] = source;
    pt_profile_set_name (serving, "Demo server");
    pt_profile_set_role (serving, PT_TUNNEL_ROLE_SERVER);
    pt_profile_set_allowed (serving, tcp, NULL);
    pt_profile_set_ice (serving, NULL, NULL, locals, TRUE);
    pt_profile_set_name (connecting, "Demo client");
    pt_profile_set_role (connecting, PT_TUNNEL_ROLE_CLIENT);
    pt_profile_set_forwards (connecting, sources, targets);
    pt_profile_set_ice (connecting, NULL, NULL, locals, TRUE);
  }
  demo.server = pt_service_new (serving);
  demo.client = pt_service_new (connecting);

  g_printerr ("PeerTunnel demo: an echo service on 127.0.0.1:%u, a server allowed to reach it,\n"
              "and a client asking for %s — all on this machine.\n\n", port, source);

  g_signal_connect (demo.client, "notify::local-text", G_CALLBACK (client_offer_cb), &demo);
  g_signal_connect (demo.server, "notify::local-text", G_CALLBACK (server_answer_cb), &demo);
  timeout = g_timeout_add_seconds (DEMO_TIMEOUT_S, timeout_cb, &demo);
  demo.start_us = g_get_monotonic_time ();
  if (!pt_service_start (demo.server, &error) || !pt_service_start (demo.client, &error))
    {
      pt_cli_error ("%s", error->message);
      demo.status = PT_EXIT_FAILURE;
      g_source_remove (timeout);
      pt_cli_on_terminate (NULL, NULL);
      goto out;
    }
  pt_cli_follow_tunnel (pt_service_get_tunnel (demo.client), NULL);
  g_signal_connect (pt_service_get_tunnel (demo.client), "notify::state",
                    G_CALLBACK (client_state_cb), &demo);
  g_main_loop_run (loop);
  /* A late SIGTERM must not reach objects torn down below. */
  pt_cli_on_terminate (NULL, NULL);
  g_source_remove (timeout);

  if (demo.status == PT_EXIT_OK)
    {
      g_printerr ("\nThe tunnel works:\n"
                  "  path                   %s (ICE candidate pair kind)\n"
                  "  bytes                  %zu sent, %zu echoed back, SHA-256 identical\n",
                  pt_path_kind_to_string (pt_tunnel_get_path_kind (pt_service_get_tunnel (demo.client))),
                  demo.size, demo.size);
      g_printerr ("  answer to first byte   %.1f ms\n",
                  (demo.first_byte_us - demo.answer_us) / 1000.0);
      print_rate ("round trip of all data", demo.size * 2, demo.done_us - demo.first_byte_us);
      g_printerr ("  total                  %.1f ms\n", (demo.done_us - demo.start_us) / 1000.0);
    }

out:
  g_signal_handlers_disconnect_by_data (demo.client, &demo);
  g_signal_handlers_disconnect_by_data (demo.server, &demo);
  if (pt_service_get_tunnel (demo.client) != NULL)
    g_signal_handlers_disconnect_by_data (pt_service_get_tunnel (demo.client), &demo);
  pt_service_stop (demo.client);
  pt_service_stop (demo.server);
  g_clear_object (&demo.connection);
  g_socket_service_stop (demo.service);
  g_socket_listener_close (G_SOCKET_LISTENER (demo.service));
  g_clear_object (&demo.service);
  g_clear_object (&demo.client);
  g_clear_object (&demo.server);
  pt_cli_drain ();
  g_bytes_unref (demo.payload);
  g_checksum_free (demo.received_sum);
  pt_cli_common_clear (&common);
  return demo.status;
}
