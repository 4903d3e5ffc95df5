/* quic-floor.c — what QUIC itself costs per packet, without a kernel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A client and a server PtQuicConn in one process, joined by an in-memory
 * pipe (each packet copied into a queue and delivered from an idle source,
 * as in tests/test-quic.c). The client sends one stream of --mib MiB, the
 * server consumes it as it arrives. Both ends run on this one thread, so
 * the process's CPU time per packet is the user-space floor of pt's data
 * path at that packet size: ngtcp2 framing, GnuTLS AEAD and header
 * protection, ACK handling, flow control and the GLib main loop, for both
 * the sender and the receiver. No socket, no system call per packet.
 *
 * Prints one line of JSON. Part of bench/ (./bench/run --only floor), never
 * of the test suite.
 */
#define G_LOG_DOMAIN "quic-floor"

#include "config.h"

#include <string.h>
#include <sys/resource.h>

#include <gio/gio.h>

#include "pt-certificate-private.h"
#include "pt-quic-conn-private.h"

#define CHUNK (64 * 1024)

typedef struct _Pipe Pipe;

typedef struct
{
  Pipe       *pipe;
  GQueue      packets;         /* GBytes */
  guint       idle_id;
  PtQuicConn *to;
  guint64     n_packets;
  guint64     n_bytes;
} Direction;

struct _Pipe
{
  Direction   to_server;
  Direction   to_client;
  PtQuicConn *client;
  PtQuicConn *server;
  gboolean    established;
  guint64     received;
  gboolean    fin;
  GError     *error;
};

static gboolean
direction_deliver (gpointer user_data)
{
  Direction *dir = user_data;
  GBytes *packet;

  dir->idle_id = 0;
  while ((packet = g_queue_pop_head (&dir->packets)) != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);

      if (dir->to != NULL)
        _pt_quic_conn_receive (dir->to, data, len);
      g_bytes_unref (packet);
    }
  if (dir->to != NULL)
    _pt_quic_conn_flush (dir->to);
  return G_SOURCE_REMOVE;
}

static void
pipe_send (const guint8 *packet,
           gsize         len,
           gpointer      user_data)
{
  Direction *dir = user_data;

  dir->n_packets++;
  dir->n_bytes += len;
  g_queue_push_tail (&dir->packets, g_bytes_new (packet, len));
  if (dir->idle_id == 0)
    dir->idle_id = g_idle_add (direction_deliver, dir);
}

/* Bursts arrive as in pt's fast path (which also enables ~64 KB packets on
 * a path between this machine's own addresses). */
static void
pipe_send_batch (const GOutputVector *packets,
                 guint                n_packets,
                 gpointer             user_data)
{
  for (guint i = 0; i < n_packets; i++)
    pipe_send (packets[i].buffer, packets[i].size, user_data);
}

static void
on_handshake (PtQuicConn *conn,
              Pipe       *pipe)
{
  if (conn == pipe->client)
    pipe->established = TRUE;
}

static void
on_stream_data (PtQuicConn *conn,
                gint64      stream_id,
                GBytes     *data,
                gboolean    fin,
                Pipe       *pipe)
{
  gsize len = g_bytes_get_size (data);

  pipe->received += len;
  pipe->fin = pipe->fin || fin;
  _pt_quic_conn_stream_consumed (conn, stream_id, len);
}

static void
on_closed (PtQuicConn   *conn,
           const GError *error,
           Pipe         *pipe)
{
  if (error != NULL && pipe->error == NULL)
    pipe->error = g_error_copy (error);
}

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static PtQuicConn *
make_conn (gboolean        is_client,
           PtCertificate  *own,
           PtCertificate  *peer,
           Direction      *out,
           Pipe           *pipe,
           gboolean        local_path,
           GError        **error)
{
  PtQuicConn *conn = _pt_quic_conn_new (is_client, own, _pt_certificate_get_fingerprint (peer),
                                        pipe_send, out, error);

  if (conn == NULL)
    return NULL;
  _pt_quic_conn_set_send_batch_func (conn, pipe_send_batch);
  _pt_quic_conn_set_local_path (conn, local_path);
  g_signal_connect (conn, "handshake-completed", G_CALLBACK (on_handshake), pipe);
  g_signal_connect (conn, "stream-data", G_CALLBACK (on_stream_data), pipe);
  g_signal_connect (conn, "closed", G_CALLBACK (on_closed), pipe);
  return conn;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtCertificate) client_cert = NULL;
  g_autoptr(PtCertificate) server_cert = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GBytes) chunk = NULL;
  int mib = 256;
  gboolean local_path = FALSE;
  GOptionEntry entries[] = {
    { "mib", 0, 0, G_OPTION_ARG_INT, &mib, "MiB to send (default 256)", "N" },
    { "local-path", 0, 0, G_OPTION_ARG_NONE, &local_path,
      "use the packet size of a path between this machine's own addresses (~64 KB)", NULL },
    { NULL }
  };
  Pipe pipe = { 0 };
  guint64 total;
  gint64 stream_id;
  gint64 wall0, wall1;
  double cpu0, cpu1;
  guint8 *data;

  context = g_option_context_new ("— QUIC's own cost per packet, in memory");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("quic-floor: %s\n", error->message);
      return 2;
    }
  if (mib < 1 || mib > 16384)
    {
      g_printerr ("quic-floor: --mib must be 1 to 16384\n");
      return 2;
    }
  total = (guint64) mib * 1024 * 1024;

  client_cert = _pt_certificate_new (&error);
  if (client_cert != NULL)
    server_cert = _pt_certificate_new (&error);
  if (server_cert == NULL)
    {
      g_printerr ("quic-floor: %s\n", error->message);
      return 1;
    }

  pipe.to_server.pipe = pipe.to_client.pipe = &pipe;
  pipe.client = make_conn (TRUE, client_cert, server_cert, &pipe.to_server, &pipe, local_path, &error);
  if (pipe.client != NULL)
    pipe.server = make_conn (FALSE, server_cert, client_cert, &pipe.to_client, &pipe, local_path,
                             &error);
  if (pipe.server == NULL)
    {
      g_printerr ("quic-floor: %s\n", error->message);
      return 1;
    }
  pipe.to_server.to = pipe.server;
  pipe.to_client.to = pipe.client;

  _pt_quic_conn_start (pipe.client);
  while (!pipe.established && pipe.error == NULL)
    g_main_context_iteration (NULL, TRUE);

  stream_id = _pt_quic_conn_open_stream (pipe.client, &error);
  if (stream_id < 0)
    {
      g_printerr ("quic-floor: %s\n", error->message);
      return 1;
    }

  data = g_malloc (CHUNK);
  for (gsize i = 0; i < CHUNK; i++)
    data[i] = (guint8) (i * 131 + 7);
  chunk = g_bytes_new_take (data, CHUNK);

  pipe.to_server.n_packets = pipe.to_client.n_packets = 0;
  pipe.to_server.n_bytes = pipe.to_client.n_bytes = 0;
  wall0 = g_get_monotonic_time ();
  cpu0 = cpu_seconds ();
  {
    guint64 queued = 0;

    /* Keep a few MiB queued, as a TCP forward reading its socket does. */
    while (pipe.received < total && pipe.error == NULL)
      {
        while (queued < total &&
               _pt_quic_conn_stream_get_queued (pipe.client, stream_id) < 4 * 1024 * 1024)
          {
            _pt_quic_conn_stream_send (pipe.client, stream_id, chunk);
            queued += CHUNK;
          }
        g_main_context_iteration (NULL, TRUE);
      }
  }
  cpu1 = cpu_seconds ();
  wall1 = g_get_monotonic_time ();

  if (pipe.error != NULL)
    {
      g_printerr ("quic-floor: the connection closed: %s\n", pipe.error->message);
      return 1;
    }

  {
    double cpu = cpu1 - cpu0;
    double gib = (double) pipe.received / (1024.0 * 1024 * 1024);
    guint64 data_packets = pipe.to_server.n_packets;

    g_print ("{\"mib\": %d, \"local_path\": %s, \"data_packets\": %" G_GUINT64_FORMAT
             ", \"ack_packets\": %" G_GUINT64_FORMAT ", \"mean_packet_bytes\": %.0f"
             ", \"cpu_s\": %.3f, \"wall_s\": %.3f, \"cpu_s_per_gib\": %.3f"
             ", \"us_per_data_packet\": %.3f, \"mb_per_s_one_core\": %.1f}\n",
             mib, local_path ? "true" : "false", data_packets, pipe.to_client.n_packets,
             data_packets ? (double) pipe.to_server.n_bytes / data_packets : 0.0,
             cpu, (wall1 - wall0) / 1e6, cpu / gib,
             data_packets ? cpu * 1e6 / data_packets : 0.0,
             cpu > 0 ? pipe.received / cpu / 1e6 : 0.0);
  }

  _pt_quic_conn_close (pipe.client, 0, NULL);
  for (guint i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_signal_handlers_disconnect_by_data (pipe.client, &pipe);
  g_signal_handlers_disconnect_by_data (pipe.server, &pipe);
  g_clear_handle_id (&pipe.to_server.idle_id, g_source_remove);
  g_clear_handle_id (&pipe.to_client.idle_id, g_source_remove);
  g_queue_clear_full (&pipe.to_server.packets, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&pipe.to_client.packets, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&pipe.client);
  g_clear_object (&pipe.server);
  return 0;
}
