/* test-quic.c — PtQuicConn: two connections in one process over a fake pipe
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each connection's send function queues the packet for the other one; an
 * idle source delivers the queue, so no call ever re-enters a connection
 * from inside its own send function.  The pipe can drop every n-th packet
 * of each direction, or hold every packet for a while (a path with a
 * round-trip time).
 * Every wait runs the main loop against a deadline.
 */
#define G_LOG_DOMAIN "test-quic"

#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <gnutls/crypto.h>

#include <ngtcp2/ngtcp2.h>

#include "pt-quic-conn-private.h"

#define DEADLINE_S       20
#define BIG_TRANSFER     (4 * 1024 * 1024)
#define CHUNK            (64 * 1024)

typedef struct _Fixture Fixture;

typedef enum
{
  MODE_COLLECT,          /* count and hash what arrives */
  MODE_ECHO,             /* send every byte back, FIN after FIN */
  MODE_REPLY_AFTER_FIN,  /* collect; once FIN arrived, answer and FIN */
} SideMode;

typedef struct
{
  GChecksum *rx_sum;
  gsize      rx_bytes;
  gboolean   rx_fin;
  gboolean   closed;
  gboolean   reset;
} StreamState;

typedef struct
{
  Fixture       *f;
  const char    *name;
  gboolean       is_client;
  PtCertificate *certificate;
  PtQuicConn    *conn;
  SideMode       mode;

  gboolean       handshake;
  guint          closed_count;
  GError        *error;
  GHashTable    *streams;       /* gint64 → StreamState */
  guint          n_opened;
  guint          n_stream_closed;
  guint          n_acked;
  GPtrArray     *datagrams;     /* GBytes */
} Side;

typedef struct
{
  Fixture   *f;
  GQueue     packets;           /* GBytes */
  GQueue     due;               /* gint64 µs per packet, with delay_ms */
  guint      idle_id;
  Side      *to;
  guint      n_packets;
} Direction;

struct _Fixture
{
  Side       client;
  Side       server;
  Direction  to_server;
  Direction  to_client;
  guint      drop_every;        /* 0: lossless */
  guint      delay_ms;          /* one way; 0: next idle */
  guint      n_packets;
  guint      n_dropped;
  guint      n_fixed_bit_cleared;
  guint      deadline_id;
  gboolean   timed_out;
};

static StreamState *
side_stream (Side   *side,
             gint64  stream_id)
{
  StreamState *state = g_hash_table_lookup (side->streams, &stream_id);

  if (state == NULL)
    {
      gint64 *key = g_new (gint64, 1);

      *key = stream_id;
      state = g_new0 (StreamState, 1);
      state->rx_sum = g_checksum_new (G_CHECKSUM_SHA256);
      g_hash_table_insert (side->streams, key, state);
    }

  return state;
}

static void
stream_state_free (StreamState *state)
{
  g_checksum_free (state->rx_sum);
  g_free (state);
}

/* --- the pipe ------------------------------------------------------------ */

static gboolean direction_deliver (gpointer user_data);

static void
direction_schedule (Direction *dir)
{
  gint64 due;

  if (dir->idle_id != 0 || g_queue_is_empty (&dir->packets))
    return;
  if (dir->f->delay_ms == 0)
    {
      dir->idle_id = g_idle_add (direction_deliver, dir);
      return;
    }
  due = GPOINTER_TO_SIZE (g_queue_peek_head (&dir->due));
  dir->idle_id = g_timeout_add (MAX (0, (due - g_get_monotonic_time () + 999) / 1000),
                                direction_deliver, dir);
}

static gboolean
direction_deliver (gpointer user_data)
{
  Direction *dir = user_data;
  gint64 now = g_get_monotonic_time ();
  GBytes *packet;

  dir->idle_id = 0;

  while (!g_queue_is_empty (&dir->packets))
    {
      if (dir->f->delay_ms != 0)
        {
          if ((gint64) GPOINTER_TO_SIZE (g_queue_peek_head (&dir->due)) > now)
            break;
          g_queue_pop_head (&dir->due);
        }
      packet = g_queue_pop_head (&dir->packets);
      {
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);

      if (dir->to->conn != NULL)
        _pt_quic_conn_receive (dir->to->conn, data, len);
      g_bytes_unref (packet);
      }
    }

  direction_schedule (dir);
  return G_SOURCE_REMOVE;
}

static void
pipe_send (const guint8 *packet,
           gsize         len,
           gpointer      user_data)
{
  Direction *dir = user_data;
  Fixture *f = dir->f;

  g_assert_cmpuint (len, >, 0);
  g_assert_cmpuint (len, <=, 1452);

  /* RFC 9287 greasing must stay off: STUN shares the port. */
  if ((packet[0] & 0x40) == 0)
    f->n_fixed_bit_cleared++;

  f->n_packets++;
  dir->n_packets++;
  if (f->drop_every != 0 && dir->n_packets % f->drop_every == 0)
    {
      f->n_dropped++;
      return;
    }

  g_queue_push_tail (&dir->packets, g_bytes_new (packet, len));
  if (f->delay_ms != 0)
    g_queue_push_tail (&dir->due,
                       GSIZE_TO_POINTER (g_get_monotonic_time () + (gint64) f->delay_ms * 1000));
  direction_schedule (dir);
}

/* --- signal handlers ----------------------------------------------------- */

static void
on_handshake_completed (PtQuicConn *conn,
                        Side       *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  g_assert_false (side->handshake);
  g_assert_true (_pt_quic_conn_is_established (conn));
  side->handshake = TRUE;
}

static void
on_stream_opened (PtQuicConn *conn,
                  gint64      stream_id,
                  Side       *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  side->n_opened++;
  side_stream (side, stream_id);
}

static void
on_stream_data (PtQuicConn *conn,
                gint64      stream_id,
                GBytes     *data,
                gboolean    fin,
                Side       *side)
{
  StreamState *state = side_stream (side, stream_id);
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);

  g_assert_cmpuint (side->closed_count, ==, 0);
  g_assert_false (state->rx_fin);

  if (len > 0)
    g_checksum_update (state->rx_sum, bytes, len);
  state->rx_bytes += len;
  state->rx_fin = fin;

  switch (side->mode)
    {
    case MODE_COLLECT:
      break;

    case MODE_ECHO:
      if (len > 0)
        _pt_quic_conn_stream_send (conn, stream_id, data);
      if (fin)
        _pt_quic_conn_stream_shutdown_write (conn, stream_id);
      break;

    case MODE_REPLY_AFTER_FIN:
      if (fin)
        {
          g_autoptr(GBytes) reply = g_bytes_new_static ("reply after your FIN", 20);

          _pt_quic_conn_stream_send (conn, stream_id, reply);
          _pt_quic_conn_stream_shutdown_write (conn, stream_id);
        }
      break;
    }

  /* Delivered: open the flow-control window again. */
  _pt_quic_conn_stream_consumed (conn, stream_id, len);
}

static void
on_stream_acked (PtQuicConn *conn,
                 gint64      stream_id,
                 Side       *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  side->n_acked++;
}

static void
on_stream_reset (PtQuicConn *conn,
                 gint64      stream_id,
                 Side       *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  side_stream (side, stream_id)->reset = TRUE;
}

static void
on_stream_closed (PtQuicConn *conn,
                  gint64      stream_id,
                  Side       *side)
{
  StreamState *state = side_stream (side, stream_id);

  g_assert_cmpuint (side->closed_count, ==, 0);
  g_assert_false (state->closed);
  state->closed = TRUE;
  side->n_stream_closed++;
  g_assert_cmpuint (_pt_quic_conn_stream_get_queued (conn, stream_id), ==, 0);
}

static void
on_datagram (PtQuicConn *conn,
             GBytes     *data,
             Side       *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  g_ptr_array_add (side->datagrams, g_bytes_ref (data));
}

static void
on_closed (PtQuicConn   *conn,
           const GError *error,
           Side         *side)
{
  g_assert_cmpuint (side->closed_count, ==, 0);
  side->closed_count++;
  if (error != NULL)
    {
      g_test_message ("%s closed: %s", side->name, error->message);
      side->error = g_error_copy (error);
    }
  else
    {
      g_test_message ("%s closed cleanly", side->name);
    }
  g_assert_false (_pt_quic_conn_is_established (conn));
}

/* --- fixture ------------------------------------------------------------- */

static void
side_init (Fixture    *f,
           Side       *side,
           const char *name,
           gboolean    is_client)
{
  g_autoptr(GError) error = NULL;

  side->f = f;
  side->name = name;
  side->is_client = is_client;
  side->certificate = _pt_certificate_new (&error);
  g_assert_no_error (error);
  g_assert_nonnull (side->certificate);
  side->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                         (GDestroyNotify) stream_state_free);
  side->datagrams = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
side_create (Side         *side,
             Direction    *out,
             const guint8 *pin)
{
  g_autoptr(GError) error = NULL;

  side->conn = _pt_quic_conn_new (side->is_client, side->certificate, pin,
                                  pipe_send, out, &error);
  g_assert_no_error (error);
  g_assert_nonnull (side->conn);

  g_signal_connect (side->conn, "handshake-completed", G_CALLBACK (on_handshake_completed), side);
  g_signal_connect (side->conn, "stream-opened", G_CALLBACK (on_stream_opened), side);
  g_signal_connect (side->conn, "stream-data", G_CALLBACK (on_stream_data), side);
  g_signal_connect (side->conn, "stream-acked", G_CALLBACK (on_stream_acked), side);
  g_signal_connect (side->conn, "stream-reset", G_CALLBACK (on_stream_reset), side);
  g_signal_connect (side->conn, "stream-closed", G_CALLBACK (on_stream_closed), side);
  g_signal_connect (side->conn, "datagram", G_CALLBACK (on_datagram), side);
  g_signal_connect (side->conn, "closed", G_CALLBACK (on_closed), side);
}

static void
side_clear (Side *side)
{
  if (side->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (side->conn, side);
      g_assert_finalize_object (g_steal_pointer (&side->conn));
    }
  g_assert_finalize_object (g_steal_pointer (&side->certificate));
  g_clear_pointer (&side->streams, g_hash_table_unref);
  g_clear_pointer (&side->datagrams, g_ptr_array_unref);
  g_clear_error (&side->error);
}

static void
direction_clear (Direction *dir)
{
  g_clear_handle_id (&dir->idle_id, g_source_remove);
  g_queue_clear_full (&dir->packets, (GDestroyNotify) g_bytes_unref);
  g_queue_clear (&dir->due);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  side_init (f, &f->client, "client", TRUE);
  side_init (f, &f->server, "server", FALSE);
  f->to_server.f = f;
  f->to_server.to = &f->server;
  f->to_client.f = f;
  f->to_client.to = &f->client;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_cmpuint (f->n_fixed_bit_cleared, ==, 0);

  direction_clear (&f->to_server);
  direction_clear (&f->to_client);
  side_clear (&f->client);
  side_clear (&f->server);
  g_clear_handle_id (&f->deadline_id, g_source_remove);

  /* Nothing may be left on the loop that points at the fixture. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Creates both ends; @client_pin / @server_pin override the right pins. */
static void
fixture_create (Fixture      *f,
                const guint8 *client_pin,
                const guint8 *server_pin)
{
  side_create (&f->client, &f->to_server,
               client_pin ? client_pin : _pt_certificate_get_fingerprint (f->server.certificate));
  side_create (&f->server, &f->to_client,
               server_pin ? server_pin : _pt_certificate_get_fingerprint (f->client.certificate));
}

static gboolean
on_deadline (gpointer user_data)
{
  Fixture *f = user_data;

  f->timed_out = TRUE;
  f->deadline_id = 0;

  return G_SOURCE_REMOVE;
}

typedef gboolean (*Condition) (Fixture *f);

static void
run_until (Fixture    *f,
           Condition   condition,
           const char *what)
{
  g_clear_handle_id (&f->deadline_id, g_source_remove);
  f->timed_out = FALSE;
  f->deadline_id = g_timeout_add_seconds (DEADLINE_S, on_deadline, f);

  while (!condition (f) && !f->timed_out)
    g_main_context_iteration (NULL, TRUE);

  g_clear_handle_id (&f->deadline_id, g_source_remove);

  if (f->timed_out)
    g_error ("Timed out after %d s waiting for %s", DEADLINE_S, what);
}

static gboolean
both_established (Fixture *f)
{
  return f->client.handshake && f->server.handshake;
}

static gboolean
client_closed (Fixture *f)
{
  return f->client.closed_count > 0;
}

static gboolean
both_closed (Fixture *f)
{
  return f->client.closed_count > 0 && f->server.closed_count > 0;
}

static void
fixture_connect (Fixture *f)
{
  fixture_create (f, NULL, NULL);
  _pt_quic_conn_start (f->client.conn);
  _pt_quic_conn_start (f->server.conn);   /* a no-op for a server */
  run_until (f, both_established, "the handshake");

  g_assert_true (_pt_quic_conn_is_established (f->client.conn));
  g_assert_true (_pt_quic_conn_is_established (f->server.conn));
}

/* Closes both ends cleanly, from the client. */
static void
fixture_close (Fixture *f)
{
  _pt_quic_conn_close (f->client.conn, 0, NULL);
  g_assert_cmpuint (f->client.closed_count, ==, 1);
  run_until (f, both_closed, "the close");
  g_assert_no_error (f->client.error);
  g_assert_no_error (f->server.error);
}

static GBytes *
random_bytes (gsize   len,
              guint32 seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i += 4)
    {
      guint32 v = g_rand_int (rand);

      memcpy (data + i, &v, MIN (4, len - i));
    }

  return g_bytes_new_take (data, len);
}

static char *
sha256_of (GBytes *bytes)
{
  return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* Queues @payload on @stream_id as slices of CHUNK bytes, then FIN. */
static void
send_in_chunks (PtQuicConn *conn,
                gint64      stream_id,
                GBytes     *payload)
{
  gsize len = g_bytes_get_size (payload);

  for (gsize off = 0; off < len; off += CHUNK)
    {
      g_autoptr(GBytes) slice = g_bytes_new_from_bytes (payload, off, MIN (CHUNK, len - off));

      _pt_quic_conn_stream_send (conn, stream_id, slice);
    }
  _pt_quic_conn_stream_shutdown_write (conn, stream_id);
}

/* --- tests --------------------------------------------------------------- */

static void
test_certificate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtCertificate) a = _pt_certificate_new (&error);
  g_autoptr(PtCertificate) b = NULL;
  guint8 wrong[32] = { 0 };

  g_assert_no_error (error);
  b = _pt_certificate_new (&error);
  g_assert_no_error (error);

  g_assert_nonnull (_pt_certificate_get_credentials (a));
  g_assert_cmpmem (_pt_certificate_get_fingerprint (a), 32, _pt_certificate_get_fingerprint (a), 32);
  g_assert_true (memcmp (_pt_certificate_get_fingerprint (a),
                         _pt_certificate_get_fingerprint (b), 32) != 0);

  g_assert_false (_pt_fingerprint_matches (wrong, (const guint8 *) "x", 1));
  g_assert_false (_pt_fingerprint_matches (wrong, (const guint8 *) "", 0));

  g_assert_finalize_object (g_steal_pointer (&a));
  g_assert_finalize_object (g_steal_pointer (&b));
}

static void
test_handshake (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture_create (f, NULL, NULL);

  g_assert_false (_pt_quic_conn_is_established (f->client.conn));
  g_assert_cmpint (_pt_quic_conn_open_stream (f->client.conn, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  g_assert_cmpuint (_pt_quic_conn_get_max_datagram (f->client.conn), ==, 0);

  _pt_quic_conn_start (f->client.conn);
  run_until (f, both_established, "the handshake");

  g_assert_cmpuint (_pt_quic_conn_get_bytes_sent (f->client.conn), >, 0);
  g_assert_cmpuint (_pt_quic_conn_get_bytes_received (f->client.conn), >, 0);
  /* Some of what the client sent may still be in the pipe (events are
   * reported from the timer, not from inside the read). */
  g_assert_cmpuint (_pt_quic_conn_get_bytes_received (f->server.conn), >, 0);
  g_assert_cmpuint (_pt_quic_conn_get_bytes_received (f->server.conn), <=,
                    _pt_quic_conn_get_bytes_sent (f->client.conn));
  g_assert_cmpuint (_pt_quic_conn_get_rtt_us (f->client.conn), >, 0);
  g_test_message ("handshake: %u packets, client RTT %" G_GUINT64_FORMAT " us",
                  f->n_packets, _pt_quic_conn_get_rtt_us (f->client.conn));

  fixture_close (f);
}

static gboolean
big_echo_done (Fixture *f)
{
  return f->client.n_stream_closed == 1 && f->server.n_stream_closed == 1;
}

static void
run_big_echo (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = random_bytes (BIG_TRANSFER, 42);
  g_autofree char *expected = sha256_of (payload);
  StreamState *client_state, *server_state;
  gint64 stream_id;
  gint64 start;
  double elapsed;

  f->server.mode = MODE_ECHO;
  fixture_connect (f);

  start = g_get_monotonic_time ();
  stream_id = _pt_quic_conn_open_stream (f->client.conn, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stream_id, >=, 0);

  send_in_chunks (f->client.conn, stream_id, payload);
  g_assert_cmpuint (_pt_quic_conn_stream_get_queued (f->client.conn, stream_id), ==, BIG_TRANSFER);

  run_until (f, big_echo_done, "the 4 MiB echo");
  elapsed = (g_get_monotonic_time () - start) / 1e6;

  server_state = side_stream (&f->server, stream_id);
  client_state = side_stream (&f->client, stream_id);
  g_assert_cmpuint (f->server.n_opened, ==, 1);
  g_assert_true (server_state->rx_fin);
  g_assert_true (client_state->rx_fin);
  g_assert_cmpuint (server_state->rx_bytes, ==, BIG_TRANSFER);
  g_assert_cmpuint (client_state->rx_bytes, ==, BIG_TRANSFER);
  g_assert_cmpstr (g_checksum_get_string (server_state->rx_sum), ==, expected);
  g_assert_cmpstr (g_checksum_get_string (client_state->rx_sum), ==, expected);
  g_assert_cmpuint (f->client.n_acked, >, 0);
  g_assert_cmpuint (f->server.n_acked, >, 0);
  g_assert_cmpuint (_pt_quic_conn_stream_get_queued (f->client.conn, stream_id), ==, 0);

  g_test_message ("4 MiB echoed (8 MiB moved) in %.3f s: %.1f MB/s each way; "
                  "%u packets, %u dropped, RTT %" G_GUINT64_FORMAT " us",
                  elapsed, BIG_TRANSFER / elapsed / 1e6, f->n_packets, f->n_dropped,
                  _pt_quic_conn_get_rtt_us (f->client.conn));

  fixture_close (f);
}

static void
test_big_echo (Fixture       *f,
               gconstpointer  data)
{
  run_big_echo (f);
}

static void
test_big_echo_lossy (Fixture       *f,
                     gconstpointer  data)
{
  f->drop_every = 7;
  run_big_echo (f);
  g_assert_cmpuint (f->n_dropped, >, 0);
}

/* Flow control must not be what limits a long, fast path: the windows
 * grow from their small start while the receiver keeps up, to at least the
 * bandwidth-delay product of 1 Gbit/s × 100 ms, and never past the cap. */
#define WINDOW_TRANSFER (32 * 1024 * 1024)
#define WINDOW_DELAY_MS 20

typedef struct
{
  Fixture *f;
  gint64   stream_id;
  guint64  peak;
} WindowProbe;

static gboolean
sample_window (gpointer user_data)
{
  WindowProbe *probe = user_data;
  guint64 credit = _pt_quic_conn_stream_get_credit (probe->f->client.conn, probe->stream_id);

  probe->peak = MAX (probe->peak, credit);
  return G_SOURCE_CONTINUE;
}

static gboolean
window_transfer_done (Fixture *f)
{
  GHashTableIter iter;
  StreamState *state;

  g_hash_table_iter_init (&iter, f->server.streams);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &state))
    if (state->rx_fin)
      return TRUE;
  return FALSE;
}

static void
test_flow_windows (Fixture       *f,
                   gconstpointer  data)
{
  guint64 bdp = (guint64) PT_QUIC_BDP_RATE_BYTES_PER_S * PT_QUIC_BDP_RTT_MS / 1000;
  g_autoptr(GBytes) payload = random_bytes (WINDOW_TRANSFER, 7);
  g_autofree char *expected = sha256_of (payload);
  g_autoptr(GError) error = NULL;
  WindowProbe probe = { f, -1, 0 };
  StreamState *state;
  guint sampler;

  /* The caps hold such a path. */
  g_assert_cmpuint (PT_QUIC_MAX_STREAM_WINDOW, >=, bdp);
  g_assert_cmpuint (PT_QUIC_MAX_WINDOW, >=, PT_QUIC_MAX_STREAM_WINDOW);

  f->server.mode = MODE_COLLECT;
  f->delay_ms = WINDOW_DELAY_MS;
  fixture_connect (f);

  probe.stream_id = _pt_quic_conn_open_stream (f->client.conn, &error);
  g_assert_no_error (error);
  probe.peak = _pt_quic_conn_stream_get_credit (f->client.conn, probe.stream_id);
  g_test_message ("initial stream credit %" G_GUINT64_FORMAT " bytes", probe.peak);
  g_assert_cmpuint (probe.peak, <, 2 * 1024 * 1024);

  send_in_chunks (f->client.conn, probe.stream_id, payload);
  sampler = g_timeout_add (2, sample_window, &probe);
  run_until (f, window_transfer_done, "32 MiB over a 40 ms round trip");
  g_source_remove (sampler);

  state = side_stream (&f->server, probe.stream_id);
  g_assert_cmpuint (state->rx_bytes, ==, WINDOW_TRANSFER);
  g_assert_cmpstr (g_checksum_get_string (state->rx_sum), ==, expected);

  g_test_message ("peak stream credit %" G_GUINT64_FORMAT " bytes (cap %d)",
                  probe.peak, PT_QUIC_MAX_STREAM_WINDOW);
  /* Grew well past the start (the receiver kept up), within the cap. */
  g_assert_cmpuint (probe.peak, >=, 4 * 1024 * 1024);
  g_assert_cmpuint (probe.peak, <=, PT_QUIC_MAX_STREAM_WINDOW + 2 * 1024 * 1024);

  fixture_close (f);
}

#define N_STREAMS    10
#define STREAM_SIZE  (256 * 1024)

static gboolean
all_streams_done (Fixture *f)
{
  return f->client.n_stream_closed == N_STREAMS && f->server.n_stream_closed == N_STREAMS;
}

static void
test_concurrent_streams (Fixture       *f,
                         gconstpointer  data)
{
  gint64 ids[N_STREAMS];
  char *expected[N_STREAMS];

  f->server.mode = MODE_ECHO;
  fixture_connect (f);

  for (guint i = 0; i < N_STREAMS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) payload = random_bytes (STREAM_SIZE + i, 100 + i);

      ids[i] = _pt_quic_conn_open_stream (f->client.conn, &error);
      g_assert_no_error (error);
      expected[i] = sha256_of (payload);
      send_in_chunks (f->client.conn, ids[i], payload);
    }

  run_until (f, all_streams_done, "10 concurrent echoes");

  g_assert_cmpuint (f->server.n_opened, ==, N_STREAMS);
  for (guint i = 0; i < N_STREAMS; i++)
    {
      StreamState *state = side_stream (&f->client, ids[i]);

      g_assert_true (state->rx_fin);
      g_assert_cmpuint (state->rx_bytes, ==, STREAM_SIZE + i);
      g_assert_cmpstr (g_checksum_get_string (state->rx_sum), ==, expected[i]);
      g_assert_cmpstr (g_checksum_get_string (side_stream (&f->server, ids[i])->rx_sum), ==, expected[i]);
      g_free (expected[i]);
    }

  fixture_close (f);
}

static gboolean
half_close_done (Fixture *f)
{
  return f->client.n_stream_closed == 1 && f->server.n_stream_closed == 1;
}

static void
test_half_close (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) hello = g_bytes_new_static ("hello", 5);
  StreamState *state;
  gint64 stream_id;

  f->server.mode = MODE_REPLY_AFTER_FIN;
  fixture_connect (f);

  stream_id = _pt_quic_conn_open_stream (f->client.conn, &error);
  g_assert_no_error (error);
  _pt_quic_conn_stream_send (f->client.conn, stream_id, hello);
  _pt_quic_conn_stream_shutdown_write (f->client.conn, stream_id);

  run_until (f, half_close_done, "the reply after FIN");

  state = side_stream (&f->server, stream_id);
  g_assert_true (state->rx_fin);
  g_assert_cmpuint (state->rx_bytes, ==, 5);

  state = side_stream (&f->client, stream_id);
  g_assert_true (state->rx_fin);
  g_assert_cmpuint (state->rx_bytes, ==, 20);
  g_assert_false (state->reset);

  fixture_close (f);
}

#define N_DATAGRAMS 20

static gboolean
datagrams_done (Fixture *f)
{
  return f->client.datagrams->len == N_DATAGRAMS && f->server.datagrams->len == N_DATAGRAMS;
}

static void
test_datagrams (Fixture       *f,
                gconstpointer  data)
{
  g_autofree guint8 *big = NULL;
  gsize max;

  fixture_connect (f);

  max = _pt_quic_conn_get_max_datagram (f->client.conn);
  /* 1200-byte packets at first; path-MTU discovery may prove up to 1452. */
  g_assert_cmpuint (max, >=, 1000);
  g_assert_cmpuint (max, <=, NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE);
  g_assert_cmpuint (_pt_quic_conn_get_max_datagram (f->server.conn), >=, 1000);
  g_assert_cmpuint (_pt_quic_conn_get_max_datagram (f->server.conn), <=, NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE);

  big = g_malloc0 (max + 1);
  g_assert_false (_pt_quic_conn_send_datagram (f->client.conn, big, max + 1));

  for (guint i = 0; i < N_DATAGRAMS; i++)
    {
      g_autofree char *to_server = g_strdup_printf ("client datagram %u", i);
      g_autofree char *to_client = g_strdup_printf ("server datagram %u", i);

      g_assert_true (_pt_quic_conn_send_datagram (f->client.conn, (const guint8 *) to_server,
                                                  strlen (to_server)));
      g_assert_true (_pt_quic_conn_send_datagram (f->server.conn, (const guint8 *) to_client,
                                                  strlen (to_client)));
    }
  run_until (f, datagrams_done, "datagrams both ways");

  for (guint i = 0; i < N_DATAGRAMS; i++)
    {
      g_autofree char *to_server = g_strdup_printf ("client datagram %u", i);
      g_autofree char *to_client = g_strdup_printf ("server datagram %u", i);
      GBytes *got;

      got = g_ptr_array_index (f->server.datagrams, i);
      g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), to_server, strlen (to_server));
      got = g_ptr_array_index (f->client.datagrams, i);
      g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), to_client, strlen (to_client));
    }

  fixture_close (f);
}

static gboolean
big_datagram_arrived (Fixture *f)
{
  return f->server.datagrams->len == 1;
}

static void
test_datagram_max_size (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree guint8 *big = NULL;
  GBytes *got;
  gsize max;

  fixture_connect (f);

  max = _pt_quic_conn_get_max_datagram (f->client.conn);
  big = g_malloc (max);
  memset (big, 0xa5, max);
  g_assert_true (_pt_quic_conn_send_datagram (f->client.conn, big, max));

  run_until (f, big_datagram_arrived, "the largest datagram");
  got = g_ptr_array_index (f->server.datagrams, 0);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), g_bytes_get_size (got), big, max);

  fixture_close (f);
}

static void
test_wrong_pin_on_client (Fixture       *f,
                          gconstpointer  data)
{
  guint8 wrong[32];

  gnutls_rnd (GNUTLS_RND_NONCE, wrong, sizeof wrong);
  fixture_create (f, wrong, NULL);
  _pt_quic_conn_start (f->client.conn);

  run_until (f, both_closed, "both sides to refuse");

  g_assert_false (f->client.handshake);
  g_assert_false (f->server.handshake);
  g_assert_error (f->client.error, PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CERTIFICATE);
  g_assert_error (f->server.error, PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE);
}

static void
test_wrong_pin_on_server (Fixture       *f,
                          gconstpointer  data)
{
  guint8 wrong[32];

  gnutls_rnd (GNUTLS_RND_NONCE, wrong, sizeof wrong);
  fixture_create (f, NULL, wrong);
  _pt_quic_conn_start (f->client.conn);

  run_until (f, both_closed, "both sides to refuse");

  /* The client's TLS finishes before the server has seen its certificate:
   * it must still not report a completed handshake. */
  g_assert_false (f->client.handshake);
  g_assert_false (f->server.handshake);
  g_assert_error (f->client.error, PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE);
  g_assert_error (f->server.error, PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CERTIFICATE);
}

static void
test_handshake_timeout (Fixture       *f,
                        gconstpointer  data)
{
  if (!g_test_slow ())
    {
      g_test_skip ("waits for the 15 s handshake timeout: run with -m slow");
      return;
    }

  /* A path that loses everything. */
  f->drop_every = 1;
  fixture_create (f, NULL, NULL);
  _pt_quic_conn_start (f->client.conn);

  run_until (f, client_closed, "the handshake timeout");

  g_assert_false (f->client.handshake);
  g_assert_error (f->client.error, PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE);
}

static void
test_clean_close_by_server (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) late = g_bytes_new_static ("late", 4);

  fixture_connect (f);

  _pt_quic_conn_close (f->server.conn, 0, NULL);
  g_assert_cmpuint (f->server.closed_count, ==, 1);
  g_assert_no_error (f->server.error);

  run_until (f, both_closed, "the client to see the close");
  g_assert_no_error (f->client.error);

  /* Everything is a harmless no-op now. */
  _pt_quic_conn_close (f->server.conn, 0, NULL);
  _pt_quic_conn_close (f->client.conn, 3, "again");
  g_assert_cmpint (_pt_quic_conn_open_stream (f->client.conn, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  _pt_quic_conn_stream_send (f->client.conn, 0, late);
  _pt_quic_conn_stream_shutdown_write (f->client.conn, 0);
  _pt_quic_conn_stream_abort (f->client.conn, 0, 1);
  _pt_quic_conn_stream_consumed (f->client.conn, 0, 10);
  g_assert_false (_pt_quic_conn_send_datagram (f->client.conn, (const guint8 *) "x", 1));
  _pt_quic_conn_receive (f->client.conn, (const guint8 *) "garbage", 7);
  g_assert_cmpuint (f->client.closed_count, ==, 1);
  g_assert_cmpuint (f->server.closed_count, ==, 1);
}

static void
test_close_with_error (Fixture       *f,
                       gconstpointer  data)
{
  fixture_connect (f);

  _pt_quic_conn_close (f->client.conn, 7, "shutting down for maintenance");
  g_assert_cmpuint (f->client.closed_count, ==, 1);
  g_assert_nonnull (f->client.error);

  run_until (f, both_closed, "the server to see the close");
  g_assert_error (f->server.error, PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CLOSED);
  g_assert_nonnull (strstr (f->server.error->message, "shutting down for maintenance"));
}

static gboolean
reset_seen (Fixture *f)
{
  StreamState *state;
  gint64 zero = 0;

  state = g_hash_table_lookup (f->server.streams, &zero);

  return state != NULL && state->reset && f->client.n_stream_closed == 1;
}

static gboolean
server_got_data (Fixture *f)
{
  StreamState *state;
  gint64 zero = 0;

  state = g_hash_table_lookup (f->server.streams, &zero);

  return state != NULL && state->rx_bytes > 0;
}

static void
test_stream_abort (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = random_bytes (512 * 1024, 7);
  gint64 stream_id;

  fixture_connect (f);

  stream_id = _pt_quic_conn_open_stream (f->client.conn, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stream_id, ==, 0);
  _pt_quic_conn_stream_send (f->client.conn, stream_id, payload);
  run_until (f, server_got_data, "the first bytes");
  _pt_quic_conn_stream_abort (f->client.conn, stream_id, 5);
  g_assert_cmpuint (_pt_quic_conn_stream_get_queued (f->client.conn, stream_id), ==, 0);

  run_until (f, reset_seen, "the reset to arrive");

  fixture_close (f);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/quic/certificate", test_certificate);

#define ADD(path, func) \
  g_test_add ("/quic/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("handshake", test_handshake);
  ADD ("echo-4mib", test_big_echo);
  ADD ("echo-4mib-lossy", test_big_echo_lossy);
  ADD ("concurrent-streams", test_concurrent_streams);
  ADD ("flow-windows", test_flow_windows);
  ADD ("half-close", test_half_close);
  ADD ("datagrams", test_datagrams);
  ADD ("datagram-max-size", test_datagram_max_size);
  ADD ("wrong-pin-on-client", test_wrong_pin_on_client);
  ADD ("wrong-pin-on-server", test_wrong_pin_on_server);
  ADD ("handshake-timeout", test_handshake_timeout);
  ADD ("clean-close-by-server", test_clean_close_by_server);
  ADD ("close-with-error", test_close_with_error);
  ADD ("stream-abort", test_stream_abort);

#undef ADD

  return g_test_run ();
}
