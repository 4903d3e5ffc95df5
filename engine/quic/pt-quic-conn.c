/* pt-quic-conn.c — one QUIC connection (ngtcp2 0.12 or 1.x + GnuTLS) over a datagram pipe
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O: packets come in through _pt_quic_conn_receive() and leave
 * through the send function.  ngtcp2 sees one fixed, fake path, so that the
 * ICE layer below may switch candidate pairs without ngtcp2 noticing.
 *
 * Re-entrancy: ngtcp2 forbids calling most of its API from inside its
 * callbacks.  The callbacks therefore only record events; the events are
 * turned into signals once ngtcp2 has returned, and every write is deferred
 * to the connection's timer source (ready time 0), which also coalesces the
 * writes for a batch of received packets.
 */
#define G_LOG_DOMAIN "pt-quic-conn"

#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <gio/gio.h>
#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "pt-ngtcp2-compat.h"
#include "pt-quic-conn-private.h"

#define PT_QUIC_CID_LEN            16
#define PT_QUIC_FINGERPRINT_LEN    32
#define PT_QUIC_TX_BUF_SIZE        NGTCP2_MAX_PMTUD_UDP_PAYLOAD_SIZE
#define PT_QUIC_MAX_BURST          64     /* packets per write round */
/* Both ends on this machine (loopback, or one of its own addresses): one
 * QUIC packet per ~64 KiB, under the largest IPv4 UDP payload (65,507) and
 * loopback's MTU; path-MTU discovery has nothing to find there. */
#define PT_QUIC_LOCAL_PACKET_SIZE  65000
#define PT_QUIC_LOCAL_MAX_BURST    16
#define PT_QUIC_MAX_VECS           16     /* chunks per STREAM frame attempt */
#define PT_QUIC_MAX_DATAGRAM_BYTES (4 * 1024 * 1024)  /* queued outgoing datagrams */
#define PT_QUIC_DATAGRAM_OVERHEAD  60     /* short header + AEAD tag + frame header, rounded up */
#define PT_QUIC_DATA_EVENT_MAX     (64 * 1024)
#define PT_QUIC_DATA_EVENT_LOOKBACK 64    /* events searched for a stream's last chunk */
#define PT_QUIC_MAX_CLOSE_RESENDS  64
#define PT_QUIC_MAX_REASON_LEN     256
#define PT_QUIC_STALL_TIMEOUT_MS   10000

#define PT_QUIC_INITIAL_RTT        (100 * NGTCP2_MILLISECONDS)
#define PT_QUIC_MAX_ACK_DELAY      (5 * NGTCP2_MILLISECONDS)
#define PT_QUIC_DEFAULT_CC         NGTCP2_CC_ALGO_CUBIC
#define PT_QUIC_ACK_EVERY          2      /* ngtcp2's ack_thresh: write at once after this many */
/* One packet with at most this much stream data looks like a request: its
 * ACK waits up to PT_QUIC_ACK_HOLD_US for the reply to carry it (well
 * under the 5 ms max_ack_delay the peer allows for). */
#define PT_QUIC_ACK_HOLD_BYTES     (16 * 1024)
#define PT_QUIC_ACK_HOLD_US        1000
#define PT_QUIC_CONSUMED_FLUSH     (64 * 1024)
#define PT_QUIC_INITIAL_MAX_DATA   (8 * 1024 * 1024)
#define PT_QUIC_INITIAL_MAX_STREAM_DATA (1024 * 1024)
#define PT_QUIC_MAX_STREAMS_BIDI   (PT_QUIC_MAX_CONNECTIONS + 1)  /* + the control stream */

/* TLS 1.3 only, with the AEADs ngtcp2_crypto_gnutls implements, and no
 * middlebox compatibility mode (QUIC forbids it). */
#define PT_QUIC_TLS_PRIORITY \
  "NORMAL:-VERS-ALL:+VERS-TLS1.3:" \
  "-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:" \
  "%DISABLE_TLS13_COMPAT_MODE"

typedef enum
{
  PT_QUIC_STATE_NEW,          /* client not started / server waiting for a first packet */
  PT_QUIC_STATE_HANDSHAKE,
  PT_QUIC_STATE_ESTABLISHED,
  PT_QUIC_STATE_CLOSED,
} PtQuicState;

typedef enum
{
  PT_QUIC_EVENT_HANDSHAKE_COMPLETED,
  PT_QUIC_EVENT_STREAM_OPENED,
  PT_QUIC_EVENT_STREAM_DATA,
  PT_QUIC_EVENT_STREAM_ACKED,
  PT_QUIC_EVENT_STREAM_RESET,
  PT_QUIC_EVENT_STREAM_CLOSED,
  PT_QUIC_EVENT_DATAGRAM,
  PT_QUIC_EVENT_CLOSED,
} PtQuicEventKind;

typedef struct
{
  PtQuicEventKind  kind;
  gint64           stream_id;
  GByteArray      *data;      /* STREAM_DATA, DATAGRAM */
  gboolean         fin;       /* STREAM_DATA */
  GError          *error;     /* CLOSED */
} PtQuicEvent;

typedef struct
{
  gint64   id;

  /* Outgoing data.  ngtcp2 does not copy it: every chunk stays here until
   * the peer has acknowledged all of its bytes. */
  GQueue   chunks;            /* GBytes, in stream order */
  guint64  head_offset;       /* stream offset of the first byte of chunks.head */
  guint64  acked_offset;      /* all bytes below are acknowledged */
  guint64  sent_offset;       /* all bytes below are handed to ngtcp2 */
  guint64  queued_offset;     /* end of the queued bytes */
  GList   *cursor;            /* chunk holding sent_offset, NULL if all sent */
  guint64  cursor_offset;     /* stream offset of the first byte of cursor */

  GList   *send_link;         /* in self->send_queue while output is pending */
  guint    stalled_round;     /* blocked during this write round */

  guint    remote : 1;        /* opened by the peer */
  guint    counted : 1;       /* stream_open was called: give the credit back on close */
  guint    shutdown_wr : 1;   /* FIN requested */
  guint    fin_sent : 1;
  guint    write_closed : 1;  /* reset, aborted or stopped by the peer */
  guint    aborted : 1;       /* _pt_quic_conn_stream_abort() */
  guint    closed : 1;        /* ngtcp2 forgot it; freed at "stream-closed" */
  guint    acked_pending : 1; /* a STREAM_ACKED event is queued */
  guint    reset_reported : 1;
} PtQuicStream;

struct _PtQuicConn
{
  GObject parent_instance;

  gboolean          is_client;
  PtQuicState       state;
  PtCertificate    *certificate;
  guint8            peer_fingerprint[PT_QUIC_FINGERPRINT_LEN];
  PtQuicSendFunc    send_func;
  gpointer          send_data;
  PtQuicSendBatchFunc send_batch_func;    /* optional: a burst in one call */
  PtQuicDatagramFunc  datagram_func;      /* optional: instead of "datagram" */
  gpointer            datagram_data;

  GMainContext     *context;
  GSource          *timer;
  gboolean          write_scheduled;
  guint             rx_since_write;       /* packets read since the last write */
  gsize             rx_stream_bytes;      /* stream bytes in them */
  guint64           rx_frames;            /* stream data, datagrams, opens, resets received */
  gint64            ack_hold_until;       /* µs; 0: not holding (see pt_quic_conn_read) */
  gsize             consumed_since_write; /* stream bytes consumed since then */
  gsize             held_bytes;           /* outgoing stream bytes not yet acknowledged */

  ngtcp2_conn            *conn;
  ngtcp2_crypto_conn_ref  conn_ref;
  gnutls_session_t        tls;
  struct sockaddr_in      local_addr;
  struct sockaddr_in      remote_addr;
  ngtcp2_path             path;
  gboolean                in_conn_new;

  GHashTable       *streams;        /* &stream->id → PtQuicStream */
  GQueue            send_queue;     /* PtQuicStream with output pending, round robin */
  guint             write_round;
  GQueue            datagrams;      /* GBytes waiting for room in a packet */
  gsize             datagram_bytes; /* their payload */
  guint64           datagrams_dropped;

  GQueue            events;         /* PtQuicEvent, dispatched outside ngtcp2 */
  gboolean          dispatching;
  gboolean          closed_queued;
  gboolean          busy;           /* inside a sequence of ngtcp2 calls */
  GQueue            pending_rx;     /* GBytes received while busy */

  gboolean          peer_certificate_rejected;
  gint64            stalled_since;  /* µs, 0 when not stalled: see pt_quic_conn_check_stall() */
  GBytes           *close_packet;   /* our CONNECTION_CLOSE, resent in the closing period */
  guint             received_after_close;

  guint64           bytes_sent;
  guint64           bytes_received;

  guint8            txbuf[PT_QUIC_TX_BUF_SIZE];
  /* One burst of packets, handed over together at its end. */
  gboolean          local_path;           /* big packets: see PT_QUIC_LOCAL_PACKET_SIZE */
  gsize             packet_size;          /* size of one burst slot */
  guint             max_burst;
  guint8           *burst;                /* max_burst × packet_size */
  GOutputVector     burst_packets[PT_QUIC_MAX_BURST];
  guint             burst_len;
};

G_DEFINE_FINAL_TYPE (PtQuicConn, pt_quic_conn, G_TYPE_OBJECT)

enum {
  SIGNAL_HANDSHAKE_COMPLETED,
  SIGNAL_STREAM_OPENED,
  SIGNAL_STREAM_DATA,
  SIGNAL_STREAM_ACKED,
  SIGNAL_STREAM_RESET,
  SIGNAL_STREAM_CLOSED,
  SIGNAL_DATAGRAM,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void pt_quic_conn_fail_liberr (PtQuicConn *self,
                                      int         liberr);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

static ngtcp2_tstamp
pt_quic_now (void)
{
  return (ngtcp2_tstamp) g_get_monotonic_time () * NGTCP2_MICROSECONDS;
}

static const char *
pt_quic_state_to_string (PtQuicState state)
{
  switch (state)
    {
    case PT_QUIC_STATE_NEW:         return "new";
    case PT_QUIC_STATE_HANDSHAKE:   return "handshake";
    case PT_QUIC_STATE_ESTABLISHED: return "established";
    case PT_QUIC_STATE_CLOSED:      return "closed";
    }
  return "invalid";
}

static void
pt_quic_conn_enter_state (PtQuicConn  *self,
                          PtQuicState  state)
{
  if (self->state == state)
    return;

  g_debug ("%s %p: %s -> %s",
           self->is_client ? "Client" : "Server", self,
           pt_quic_state_to_string (self->state),
           pt_quic_state_to_string (state));
  self->state = state;
}

static void
pt_quic_event_free (PtQuicEvent *event)
{
  if (event->data != NULL)
    g_byte_array_unref (event->data);
  g_clear_error (&event->error);
  g_free (event);
}

static void
pt_quic_stream_free (PtQuicStream *stream)
{
  g_queue_clear_full (&stream->chunks, (GDestroyNotify) g_bytes_unref);
  g_free (stream);
}

static PtQuicStream *
pt_quic_conn_lookup_stream (PtQuicConn *self,
                            gint64      stream_id)
{
  return g_hash_table_lookup (self->streams, &stream_id);
}

static PtQuicStream *
pt_quic_conn_add_stream (PtQuicConn *self,
                         gint64      stream_id,
                         gboolean    remote)
{
  PtQuicStream *stream = g_new0 (PtQuicStream, 1);

  stream->id = stream_id;
  stream->remote = !!remote;
  stream->stalled_round = G_MAXUINT;
  g_queue_init (&stream->chunks);
  g_hash_table_insert (self->streams, &stream->id, stream);

  return stream;
}

static gboolean
pt_quic_stream_has_output (PtQuicStream *stream)
{
  if (stream->write_closed || stream->closed)
    return FALSE;

  return stream->sent_offset < stream->queued_offset ||
         (stream->shutdown_wr && !stream->fin_sent);
}

static void
pt_quic_conn_unqueue_stream (PtQuicConn   *self,
                             PtQuicStream *stream)
{
  if (stream->send_link == NULL)
    return;

  g_queue_delete_link (&self->send_queue, stream->send_link);
  stream->send_link = NULL;
}

/* Puts @stream at the back of the round robin if it has anything to send. */
static void
pt_quic_conn_requeue_stream (PtQuicConn   *self,
                             PtQuicStream *stream)
{
  pt_quic_conn_unqueue_stream (self, stream);

  if (pt_quic_stream_has_output (stream))
    {
      g_queue_push_tail (&self->send_queue, stream);
      stream->send_link = self->send_queue.tail;
    }
}

/* Forgets the outgoing data of a stream that will never send it. */
static void
pt_quic_stream_drop_output (PtQuicConn   *self,
                            PtQuicStream *stream)
{
  self->held_bytes -= stream->queued_offset - stream->head_offset;
  g_queue_clear_full (&stream->chunks, (GDestroyNotify) g_bytes_unref);
  g_queue_init (&stream->chunks);
  stream->head_offset = stream->queued_offset;
  stream->acked_offset = stream->queued_offset;
  stream->sent_offset = stream->queued_offset;
  stream->cursor = NULL;
  stream->cursor_offset = stream->queued_offset;
  stream->write_closed = TRUE;
}

static void
pt_quic_stream_advance (PtQuicStream *stream,
                        gsize         len)
{
  stream->sent_offset += len;

  while (stream->cursor != NULL)
    {
      gsize size = g_bytes_get_size (stream->cursor->data);

      if (stream->cursor_offset + size > stream->sent_offset)
        break;

      stream->cursor_offset += size;
      stream->cursor = stream->cursor->next;
    }
}

static void
pt_quic_stream_ack (PtQuicConn   *self,
                    PtQuicStream *stream,
                    guint64       offset)
{
  if (offset > stream->acked_offset)
    stream->acked_offset = MIN (offset, stream->queued_offset);

  while (!g_queue_is_empty (&stream->chunks))
    {
      GBytes *head = g_queue_peek_head (&stream->chunks);
      gsize size = g_bytes_get_size (head);

      if (stream->head_offset + size > stream->acked_offset)
        break;

      /* Never the cursor: its end lies beyond sent_offset >= acked_offset. */
      g_assert (stream->cursor != stream->chunks.head);
      stream->head_offset += size;
      self->held_bytes -= size;
      g_bytes_unref (g_queue_pop_head (&stream->chunks));
    }
}

/* Text from the peer goes into messages a user reads: make it valid
 * UTF-8, without control characters, and short. */
static char *
pt_quic_sanitize_reason (const guint8 *reason,
                         gsize         len)
{
  g_autofree char *valid = NULL;
  GString *out;
  const char *p;

  if (reason == NULL || len == 0)
    return NULL;

  valid = g_utf8_make_valid ((const char *) reason, MIN (len, PT_QUIC_MAX_REASON_LEN));
  out = g_string_new (NULL);
  for (p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c))
        g_string_append_c (out, ' ');
      else
        g_string_append_unichar (out, c);
    }

  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Events: recorded inside ngtcp2 callbacks, emitted as signals afterwards  */

static PtQuicEvent *
pt_quic_conn_queue_event (PtQuicConn      *self,
                          PtQuicEventKind  kind,
                          gint64           stream_id)
{
  PtQuicEvent *event;

  if (self->closed_queued)
    return NULL;

  event = g_new0 (PtQuicEvent, 1);
  event->kind = kind;
  event->stream_id = stream_id;
  g_queue_push_tail (&self->events, event);

  return event;
}

/* ngtcp2 0.12 counts the PINGs it adds to ACK-only packets as bytes in
 * flight but arms no probe timeout for them.  If every ACK for such packets
 * is lost while the congestion window is full, nothing can ever be sent
 * again (the peer's keepalives keep the connection from idling out): a
 * silent hang.  Detect it, so that it becomes an error after a while.
 * ngtcp2 1.x arms the probe timeout for those PINGs (and no longer tells
 * whether the timer is armed): nothing to watch there.
 * Returns the deadline in µs, or -1. */
static gint64
pt_quic_conn_check_stall (PtQuicConn *self)
{
#if PT_NGTCP2_PING_WITHOUT_PTO
  PtNgtcp2ConnStat stat;
#endif

  if (self->state != PT_QUIC_STATE_ESTABLISHED || !PT_NGTCP2_PING_WITHOUT_PTO)
    {
      self->stalled_since = 0;
      return -1;
    }

#if PT_NGTCP2_PING_WITHOUT_PTO

  _pt_ngtcp2_conn_get_stat (self->conn, &stat);
  if (stat.bytes_in_flight < stat.cwnd || stat.loss_detection_timer != UINT64_MAX)
    {
      if (self->stalled_since != 0)
        g_debug ("%s %p: no longer stalled", self->is_client ? "Client" : "Server", self);
      self->stalled_since = 0;
      return -1;
    }

  if (self->stalled_since == 0)
    {
      g_debug ("%s %p: congestion window full and no probe timer (%" G_GUINT64_FORMAT
               " bytes in flight): watching for a stall",
               self->is_client ? "Client" : "Server", self, (guint64) stat.bytes_in_flight);
      self->stalled_since = g_get_monotonic_time ();
    }

  return self->stalled_since + (gint64) PT_QUIC_STALL_TIMEOUT_MS * 1000;
#endif
}

/* When the connection's source must run next (µs, g_get_monotonic_time);
 * 0 for now, -1 for never.  The source's prepare() and check() ask this on
 * every main-loop iteration, so nothing is ever re-armed: in GLib 2.74
 * g_source_set_ready_time() writes the context's wake-up eventfd on every
 * change, several times per packet. */
static gint64
pt_quic_conn_next_deadline (PtQuicConn *self)
{
  ngtcp2_tstamp expiry;
  gint64 deadline = -1;
  gint64 stall_deadline;

  if (!g_queue_is_empty (&self->events))
    return 0;
  if (self->state == PT_QUIC_STATE_CLOSED || self->conn == NULL)
    return -1;
  if (self->write_scheduled || !g_queue_is_empty (&self->pending_rx))
    return 0;

  /* Round up: the source must not run before the expiry, or
   * ngtcp2_conn_handle_expiry() has nothing to do and we spin. */
  expiry = ngtcp2_conn_get_expiry (self->conn);
  if (expiry != UINT64_MAX)
    deadline = (gint64) ((expiry + NGTCP2_MICROSECONDS - 1) / NGTCP2_MICROSECONDS);
  /* Holding an ACK for the reply: ngtcp2's timers (its ACK delay, on a LAN
   * a few µs) wait until the hold ends; nothing else is waiting then. */
  if (deadline >= 0 && deadline < self->ack_hold_until)
    deadline = self->ack_hold_until;
  stall_deadline = pt_quic_conn_check_stall (self);
  if (stall_deadline >= 0 && (deadline < 0 || stall_deadline < deadline))
    deadline = stall_deadline;

  return deadline;
}

static void
pt_quic_conn_schedule_write (PtQuicConn *self)
{
  if (self->state == PT_QUIC_STATE_CLOSED || self->conn == NULL)
    return;

  self->write_scheduled = TRUE;
}

static void
pt_quic_conn_emit_event (PtQuicConn  *self,
                         PtQuicEvent *event)
{
  switch (event->kind)
    {
    case PT_QUIC_EVENT_HANDSHAKE_COMPLETED:
      g_signal_emit (self, signals[SIGNAL_HANDSHAKE_COMPLETED], 0);
      break;

    case PT_QUIC_EVENT_STREAM_OPENED:
      g_signal_emit (self, signals[SIGNAL_STREAM_OPENED], 0, event->stream_id);
      break;

    case PT_QUIC_EVENT_STREAM_DATA:
      {
        g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&event->data));

        g_signal_emit (self, signals[SIGNAL_STREAM_DATA], 0,
                       event->stream_id, bytes, event->fin);
      }
      break;

    case PT_QUIC_EVENT_STREAM_ACKED:
      {
        PtQuicStream *stream = pt_quic_conn_lookup_stream (self, event->stream_id);

        if (stream == NULL)
          break;
        stream->acked_pending = FALSE;
        g_signal_emit (self, signals[SIGNAL_STREAM_ACKED], 0, event->stream_id);
      }
      break;

    case PT_QUIC_EVENT_STREAM_RESET:
      g_signal_emit (self, signals[SIGNAL_STREAM_RESET], 0, event->stream_id);
      break;

    case PT_QUIC_EVENT_STREAM_CLOSED:
      {
        PtQuicStream *stream = pt_quic_conn_lookup_stream (self, event->stream_id);

        if (stream != NULL)
          self->held_bytes -= stream->queued_offset - stream->head_offset;
      }
      g_hash_table_remove (self->streams, &event->stream_id);
      g_signal_emit (self, signals[SIGNAL_STREAM_CLOSED], 0, event->stream_id);
      break;

    case PT_QUIC_EVENT_DATAGRAM:
      if (self->datagram_func != NULL)
        {
          self->datagram_func (event->data->data, event->data->len, self->datagram_data);
        }
      else
        {
          g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (g_steal_pointer (&event->data));

          g_signal_emit (self, signals[SIGNAL_DATAGRAM], 0, bytes);
        }
      break;

    case PT_QUIC_EVENT_CLOSED:
      g_signal_emit (self, signals[SIGNAL_CLOSED], 0, event->error);
      break;
    }
}

/* Emits the queued events.  Handlers may call back
 * into the connection: whatever they trigger is queued behind and emitted by
 * this same loop, and nothing follows "closed". */
static void
pt_quic_conn_dispatch (PtQuicConn *self)
{
  PtQuicEvent *event;

  if (self->dispatching)
    return;

  g_object_ref (self);
  self->dispatching = TRUE;

  while ((event = g_queue_pop_head (&self->events)) != NULL)
    {
      gboolean was_closed = event->kind == PT_QUIC_EVENT_CLOSED;

      pt_quic_conn_emit_event (self, event);
      pt_quic_event_free (event);

      if (was_closed)
        {
          g_queue_clear_full (&self->events, (GDestroyNotify) pt_quic_event_free);
          g_queue_init (&self->events);
          break;
        }
    }

  self->dispatching = FALSE;
  g_object_unref (self);
}

/* Takes @error (NULL for a clean close). */
static void
pt_quic_conn_set_closed (PtQuicConn *self,
                         GError     *error)
{
  PtQuicEvent *event;

  if (self->state == PT_QUIC_STATE_CLOSED)
    {
      g_clear_error (&error);
      return;
    }

  if (error != NULL)
    g_debug ("%s %p closed: %s", self->is_client ? "Client" : "Server", self, error->message);
  else
    g_debug ("%s %p closed cleanly", self->is_client ? "Client" : "Server", self);

  pt_quic_conn_enter_state (self, PT_QUIC_STATE_CLOSED);
  self->write_scheduled = FALSE;
  g_queue_clear_full (&self->datagrams, (GDestroyNotify) g_bytes_unref);
  g_queue_init (&self->datagrams);
  self->datagram_bytes = 0;
  g_queue_clear_full (&self->pending_rx, (GDestroyNotify) g_bytes_unref);
  g_queue_init (&self->pending_rx);

  event = pt_quic_conn_queue_event (self, PT_QUIC_EVENT_CLOSED, -1);
  event->error = error;
  self->closed_queued = TRUE;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static void
pt_quic_conn_send_packet (PtQuicConn   *self,
                          const guint8 *packet,
                          gsize         len)
{
  self->bytes_sent += len;
  self->send_func (packet, len, self->send_data);
}

/* Where the next packet of a burst is written. */
static guint8 *
pt_quic_conn_burst_slot (PtQuicConn *self)
{
  if (self->send_batch_func == NULL)
    return self->txbuf;
  if (self->burst == NULL)
    self->burst = g_malloc (self->max_burst * self->packet_size);
  return self->burst + self->burst_len * self->packet_size;
}

static gsize
pt_quic_conn_slot_size (PtQuicConn *self)
{
  return self->send_batch_func == NULL ? sizeof self->txbuf : self->packet_size;
}

static void
pt_quic_conn_burst_add (PtQuicConn *self,
                        gsize       len)
{
  if (self->send_batch_func == NULL)
    {
      pt_quic_conn_send_packet (self, self->txbuf, len);
      return;
    }
  self->burst_packets[self->burst_len].buffer = self->burst + self->burst_len * self->packet_size;
  self->burst_packets[self->burst_len].size = len;
  self->burst_len++;
  self->bytes_sent += len;
}

static void
pt_quic_conn_burst_flush (PtQuicConn *self)
{
  guint n = self->burst_len;

  if (n == 0)
    return;
  self->burst_len = 0;
  self->send_batch_func (self->burst_packets, n, self->send_data);
}

static void
pt_quic_conn_send_close (PtQuicConn          *self,
                         const PtNgtcp2Ccerr *ccerr)
{
  ngtcp2_ssize n;

  if (self->conn == NULL)
    return;

  self->busy = TRUE;
  n = ngtcp2_conn_write_connection_close (self->conn, NULL, NULL,
                                          self->txbuf, sizeof self->txbuf,
                                          ccerr, pt_quic_now ());
  self->busy = FALSE;

  if (n <= 0)
    {
      g_debug ("No CONNECTION_CLOSE could be written: %s",
               n < 0 ? ngtcp2_strerror ((int) n) : "nothing to close");
      return;
    }

  g_debug ("Sending CONNECTION_CLOSE (%s error 0x%" G_GINT64_MODIFIER "x)",
           ccerr->type == PT_NGTCP2_CCERR_APPLICATION ? "application" : "transport",
           (guint64) ccerr->error_code);

  g_clear_pointer (&self->close_packet, g_bytes_unref);
  self->close_packet = g_bytes_new (self->txbuf, (gsize) n);
  pt_quic_conn_send_packet (self, self->txbuf, (gsize) n);
}

/* First stream in the round robin that was not blocked this round. */
static PtQuicStream *
pt_quic_conn_next_stream (PtQuicConn *self,
                          guint       round)
{
  for (GList *l = self->send_queue.head; l != NULL; l = l->next)
    {
      PtQuicStream *stream = l->data;

      if (stream->stalled_round != round)
        return stream;
    }

  return NULL;
}

static gsize
pt_quic_stream_fill_vecs (PtQuicStream *stream,
                          ngtcp2_vec   *vecs,
                          gboolean     *covers_all)
{
  gsize n = 0;
  GList *l;

  for (l = stream->cursor; l != NULL && n < PT_QUIC_MAX_VECS; l = l->next)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (l->data, &size);
      gsize skip = l == stream->cursor ? stream->sent_offset - stream->cursor_offset : 0;

      vecs[n].base = (uint8_t *) data + skip;
      vecs[n].len = size - skip;
      n++;
    }

  *covers_all = l == NULL;

  return n;
}

/* The peer stopped reading (ngtcp2 answered its STOP_SENDING with a
 * RESET_STREAM), or the stream is gone. */
static void
pt_quic_conn_stream_write_gone (PtQuicConn   *self,
                                PtQuicStream *stream,
                                int           liberr)
{
  g_debug ("Stream %" G_GINT64_FORMAT ": no more output (%s)",
           stream->id, ngtcp2_strerror (liberr));

  pt_quic_stream_drop_output (self, stream);
  pt_quic_conn_unqueue_stream (self, stream);

  if (liberr == NGTCP2_ERR_STREAM_SHUT_WR && !stream->aborted && !stream->reset_reported)
    {
      stream->reset_reported = TRUE;
      pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_RESET, stream->id);
    }
}

/* Writes what ngtcp2 allows now: queued datagrams first (they are small and
 * late ones are worthless), then stream data round robin, one packet per
 * turn, then whatever ngtcp2 has on its own (ACKs, retransmissions…).  One
 * burst is bounded by the send quantum; ngtcp2's expiry then includes the
 * pacing deadline of the next burst. */
static void
pt_quic_conn_write (PtQuicConn *self)
{
  ngtcp2_tstamp ts = pt_quic_now ();
  ngtcp2_pkt_info pi;
  guint round = ++self->write_round;
  gsize max_pkts;
  gsize npkts = 0;
  gboolean datagrams_blocked = FALSE;
  int error = 0;

  if (self->state == PT_QUIC_STATE_CLOSED || self->conn == NULL)
    return;

  self->rx_since_write = 0;
  self->rx_stream_bytes = 0;
  self->consumed_since_write = 0;
  self->ack_hold_until = 0;
  max_pkts = ngtcp2_conn_get_send_quantum (self->conn) /
             MAX (ngtcp2_conn_get_path_max_tx_udp_payload_size (self->conn), 1);
  max_pkts = CLAMP (max_pkts, 1, self->max_burst);

  self->busy = TRUE;

  while (npkts < max_pkts)
    {
      ngtcp2_ssize nwrite;

      if (!datagrams_blocked && !g_queue_is_empty (&self->datagrams))
        {
          GBytes *dgram = g_queue_peek_head (&self->datagrams);
          ngtcp2_vec vec;
          gsize size;
          int accepted = 0;

          vec.base = (uint8_t *) g_bytes_get_data (dgram, &size);
          vec.len = size;

          nwrite = ngtcp2_conn_writev_datagram (self->conn, NULL, &pi,
                                                pt_quic_conn_burst_slot (self),
                                                pt_quic_conn_slot_size (self),
                                                &accepted,
                                                NGTCP2_WRITE_DATAGRAM_FLAG_MORE,
                                                0, &vec, 1, ts);
          if (accepted)
            {
              self->datagram_bytes -= size;
              g_bytes_unref (g_queue_pop_head (&self->datagrams));
            }

          if (nwrite == NGTCP2_ERR_WRITE_MORE)
            continue;

          if (nwrite == NGTCP2_ERR_INVALID_ARGUMENT || nwrite == NGTCP2_ERR_INVALID_STATE)
            {
              /* Too large for the peer, or the peer takes no datagrams:
               * checked before queueing, so only after odd changes. */
              g_debug ("Dropping a datagram of %" G_GSIZE_FORMAT " bytes: %s",
                       size, ngtcp2_strerror ((int) nwrite));
              if (!accepted)
                {
                  self->datagram_bytes -= size;
                  g_bytes_unref (g_queue_pop_head (&self->datagrams));
                }
              continue;
            }

          if (nwrite < 0)
            {
              error = (int) nwrite;
              break;
            }

          if (nwrite == 0)
            {
              /* Congestion limited: the datagrams wait, ngtcp2 may still
               * have ACKs to send. */
              datagrams_blocked = TRUE;
              continue;
            }

          pt_quic_conn_burst_add (self, (gsize) nwrite);
          npkts++;
          continue;
        }

      {
        PtQuicStream *stream = pt_quic_conn_next_stream (self, round);
        ngtcp2_vec vecs[PT_QUIC_MAX_VECS];
        ngtcp2_ssize ndatalen = -1;
        gsize nvecs = 0;
        uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_NONE;
        gint64 stream_id = -1;

        if (stream != NULL)
          {
            gboolean covers_all;

            nvecs = pt_quic_stream_fill_vecs (stream, vecs, &covers_all);
            flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
            if (stream->shutdown_wr && covers_all)
              flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
            stream_id = stream->id;
          }

        nwrite = ngtcp2_conn_writev_stream (self->conn, NULL, &pi,
                                            pt_quic_conn_burst_slot (self),
                                            pt_quic_conn_slot_size (self),
                                            &ndatalen, flags, stream_id,
                                            vecs, nvecs, ts);

        if (stream != NULL && ndatalen >= 0)
          {
            pt_quic_stream_advance (stream, (gsize) ndatalen);
            if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) &&
                stream->sent_offset == stream->queued_offset)
              {
                stream->fin_sent = TRUE;
                g_debug ("Stream %" G_GINT64_FORMAT ": FIN sent after %" G_GUINT64_FORMAT " bytes",
                         stream->id, stream->queued_offset);
              }
            pt_quic_conn_requeue_stream (self, stream);
          }

        if (nwrite < 0)
          {
            switch ((int) nwrite)
              {
              case NGTCP2_ERR_WRITE_MORE:
                /* Room left in the packet.  Zero bytes taken means the
                 * connection window is closed: do not spin on it. */
                if (stream != NULL && ndatalen == 0 && !stream->fin_sent)
                  stream->stalled_round = round;
                continue;

              case NGTCP2_ERR_STREAM_DATA_BLOCKED:
                stream->stalled_round = round;
                continue;

              case NGTCP2_ERR_STREAM_SHUT_WR:
              case NGTCP2_ERR_STREAM_NOT_FOUND:
                pt_quic_conn_stream_write_gone (self, stream, (int) nwrite);
                continue;

              default:
                error = (int) nwrite;
                break;
              }
            break;
          }

        if (nwrite == 0)
          {
            /* Nothing fits: congestion limited, or this stream is blocked
             * by the connection window while others may still go. */
            if (stream == NULL)
              break;
            stream->stalled_round = round;
            continue;
          }

        pt_quic_conn_burst_add (self, (gsize) nwrite);
        npkts++;
      }
    }

  if (error == 0)
    ngtcp2_conn_update_pkt_tx_time (self->conn, ts);

  pt_quic_conn_burst_flush (self);
  self->busy = FALSE;

  if (error != 0)
    pt_quic_conn_fail_liberr (self, error);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */

static GError *
pt_quic_conn_peer_close_error (PtQuicConn *self)
{
  PtNgtcp2Ccerr ccerr;
  g_autofree char *reason = NULL;

  _pt_ngtcp2_conn_get_ccerr (self->conn, &ccerr);
  reason = pt_quic_sanitize_reason (ccerr.reason, ccerr.reasonlen);

  g_debug ("The peer closed the connection (type %d, error 0x%" G_GINT64_MODIFIER "x, reason '%s')",
           (int) ccerr.type, (guint64) ccerr.error_code, reason ? reason : "");

  switch (ccerr.type)
    {
    case PT_NGTCP2_CCERR_APPLICATION:
      if (ccerr.error_code == 0)
        return NULL;
      return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CLOSED,
                          "the peer closed the connection: %s (code %" G_GUINT64_FORMAT ")",
                          reason ? reason : "no reason given", (guint64) ccerr.error_code);

    case PT_NGTCP2_CCERR_TRANSPORT:
      if (ccerr.error_code == NGTCP2_NO_ERROR)
        return NULL;
      if ((ccerr.error_code & ~(uint64_t) 0xff) == NGTCP2_CRYPTO_ERROR)
        return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE,
                            "the peer refused this connection during the handshake (TLS alert: %s)",
                            gnutls_alert_get_name ((gnutls_alert_description_t) (ccerr.error_code & 0xff)) ?: "unknown");
      if (ccerr.error_code == NGTCP2_APPLICATION_ERROR)
        /* An application close before the handshake completed. */
        return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CLOSED,
                            "the peer closed the connection during the handshake%s%s",
                            reason ? ": " : "", reason ? reason : "");
      return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PROTOCOL,
                          "the peer closed the connection with QUIC error 0x%" G_GINT64_MODIFIER "x%s%s",
                          (guint64) ccerr.error_code, reason ? ": " : "", reason ? reason : "");

    case PT_NGTCP2_CCERR_VERSION_NEGOTIATION:
      return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PROTOCOL,
                          "the peer speaks no QUIC version this program knows");

    case PT_NGTCP2_CCERR_IDLE_CLOSE:
      return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_IDLE_TIMEOUT,
                          "no packets from the peer for %d s", PT_QUIC_IDLE_TIMEOUT_MS / 1000);

    PT_NGTCP2_CCERR_OTHER_CASES   /* 1.x: a dropped connection, a Retry */
      break;
    }

  return g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PROTOCOL, "the peer closed the connection");
}

/* An ngtcp2 call failed for good: tell the peer when that makes sense, and
 * close with an error the user can act on. */
static void
pt_quic_conn_fail_liberr (PtQuicConn *self,
                          int         liberr)
{
  PtNgtcp2Ccerr ccerr;
  GError *error = NULL;
  gboolean send_close = TRUE;
  uint8_t alert = 0;

  if (self->state == PT_QUIC_STATE_CLOSED)
    return;

  g_debug ("%s %p: ngtcp2 error %s", self->is_client ? "Client" : "Server", self,
           ngtcp2_strerror (liberr));

  _pt_ngtcp2_ccerr_default (&ccerr);

  switch (liberr)
    {
    case NGTCP2_ERR_DRAINING:
      /* The peer sent CONNECTION_CLOSE: the draining period forbids replies. */
      error = pt_quic_conn_peer_close_error (self);
      send_close = FALSE;
      break;

    case NGTCP2_ERR_IDLE_CLOSE:
      error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_IDLE_TIMEOUT,
                           "no packets from the peer for %d s", PT_QUIC_IDLE_TIMEOUT_MS / 1000);
      send_close = FALSE;
      break;

    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_CLOSING:
      error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PROTOCOL,
                           "the QUIC connection was dropped: %s", ngtcp2_strerror (liberr));
      send_close = FALSE;
      break;

    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE,
                           "no QUIC handshake with the peer within %d s: the path may drop "
                           "large UDP packets, or the peer is gone",
                           PT_QUIC_HANDSHAKE_TIMEOUT_MS / 1000);
      _pt_ngtcp2_ccerr_set_liberr (&ccerr, liberr, NULL, 0);
      break;

    case NGTCP2_ERR_CRYPTO:
      alert = ngtcp2_conn_get_tls_alert (self->conn);
      if (self->peer_certificate_rejected)
        error = g_error_new_literal (PT_QUIC_ERROR, PT_QUIC_ERROR_PEER_CERTIFICATE,
                                     "the peer presented a different certificate than its "
                                     "offer/answer promised: refusing it (tampered signaling "
                                     "or wrong peer)");
      else
        error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_HANDSHAKE,
                             "the TLS handshake with the peer failed (%s)",
                             alert != 0 ? gnutls_alert_get_name ((gnutls_alert_description_t) alert)
                                        : "no alert");
      if (alert != 0)
        _pt_ngtcp2_ccerr_set_tls_alert (&ccerr, alert, NULL, 0);
      else
        _pt_ngtcp2_ccerr_set_liberr (&ccerr, liberr, NULL, 0);
      break;

    default:
      error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_PROTOCOL,
                           "QUIC connection error: %s", ngtcp2_strerror (liberr));
      _pt_ngtcp2_ccerr_set_liberr (&ccerr, liberr, NULL, 0);
      break;
    }

  if (send_close)
    pt_quic_conn_send_close (self, &ccerr);

  pt_quic_conn_set_closed (self, error);
}

/* ------------------------------------------------------------------------ */
/* ngtcp2 callbacks: record, never re-enter                                 */

static void
pt_quic_rand (uint8_t               *dest,
              size_t                 destlen,
              const ngtcp2_rand_ctx *rand_ctx)
{
  PtQuicConn *self = rand_ctx->native_handle;

  if (gnutls_rnd (GNUTLS_RND_NONCE, dest, destlen) != 0)
    {
      for (gsize i = 0; i < destlen; i++)
        dest[i] = (uint8_t) g_random_int ();
    }

  /* ngtcp2 0.12 always advertises grease_quic_bit and, while creating the
   * connection, flips a coin from this callback to decide whether to clear
   * the fixed bit towards peers that allow it.  STUN and QUIC share the ICE
   * port and a cleared fixed bit can make a packet look like STUN: make the
   * coin always land on "keep the bit". */
  if (self != NULL && self->in_conn_new)
    {
      for (gsize i = 0; i < destlen; i++)
        dest[i] &= (uint8_t) ~1u;
    }
}

static int
on_get_new_connection_id (ngtcp2_conn *conn,
                          ngtcp2_cid  *cid,
                          uint8_t     *token,
                          size_t       cidlen,
                          void        *user_data)
{
  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
      gnutls_rnd (GNUTLS_RND_RANDOM, token, NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
    return NGTCP2_ERR_CALLBACK_FAILURE;

  cid->datalen = cidlen;

  return 0;
}

static void
pt_quic_conn_established (PtQuicConn *self)
{
  pt_quic_conn_enter_state (self, PT_QUIC_STATE_ESTABLISHED);
  pt_quic_conn_queue_event (self, PT_QUIC_EVENT_HANDSHAKE_COMPLETED, -1);
}

/* A server has verified the client's certificate when its TLS handshake
 * completes.  A TLS 1.3 client completes before the server has seen the
 * client's certificate: it waits for HANDSHAKE_DONE (confirmation), so that
 * "handshake-completed" always means both sides accepted each other. */
static int
on_handshake_completed (ngtcp2_conn *conn,
                        void        *user_data)
{
  PtQuicConn *self = user_data;

  if (self->is_client)
    g_debug ("Client %p: TLS handshake done, waiting for the server's confirmation", self);
  else
    pt_quic_conn_established (self);

  return 0;
}

static int
on_handshake_confirmed (ngtcp2_conn *conn,
                        void        *user_data)
{
  PtQuicConn *self = user_data;

  if (self->is_client)
    pt_quic_conn_established (self);

  return 0;
}

static int
on_stream_open (ngtcp2_conn *conn,
                int64_t      stream_id,
                void        *user_data)
{
  PtQuicConn *self = user_data;
  PtQuicStream *stream;

  self->rx_frames++;

  if (!ngtcp2_is_bidi_stream (stream_id) ||
      pt_quic_conn_lookup_stream (self, stream_id) != NULL)
    return 0;

  g_debug ("Stream %" G_GINT64_FORMAT ": opened by the peer", (gint64) stream_id);

  stream = pt_quic_conn_add_stream (self, stream_id, TRUE);
  stream->counted = TRUE;
  pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_OPENED, stream_id);

  return 0;
}

/* The newest queued event of @stream_id if it is unfinished stream data,
 * looking back over at most PT_QUIC_DATA_EVENT_LOOKBACK events. */
static PtQuicEvent *
pt_quic_conn_find_data_event (PtQuicConn *self,
                              gint64      stream_id)
{
  guint looked = 0;

  for (GList *l = self->events.tail; l != NULL && looked < PT_QUIC_DATA_EVENT_LOOKBACK;
       l = l->prev, looked++)
    {
      PtQuicEvent *event = l->data;

      if (event->stream_id != stream_id)
        continue;
      if (event->kind == PT_QUIC_EVENT_STREAM_DATA && !event->fin)
        return event;
      return NULL;
    }

  return NULL;
}

static int
on_recv_stream_data (ngtcp2_conn   *conn,
                     uint32_t       flags,
                     int64_t        stream_id,
                     uint64_t       offset,
                     const uint8_t *data,
                     size_t         datalen,
                     void          *user_data,
                     void          *stream_user_data)
{
  PtQuicConn *self = user_data;
  gboolean fin = (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0;
  PtQuicEvent *event;

  if (pt_quic_conn_lookup_stream (self, stream_id) == NULL)
    {
      if (ngtcp2_conn_is_local_stream (conn, stream_id))
        return 0;

      /* Opened implicitly: ngtcp2 gives the stream credit back itself. */
      g_debug ("Stream %" G_GINT64_FORMAT ": opened by the peer", (gint64) stream_id);
      pt_quic_conn_add_stream (self, stream_id, TRUE);
      pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_OPENED, stream_id);
    }

  if (datalen == 0 && !fin)
    return 0;

  self->rx_stream_bytes += datalen;
  self->rx_frames++;
  if (fin)
    g_debug ("Stream %" G_GINT64_FORMAT ": FIN received after %" G_GUINT64_FORMAT " bytes",
             (gint64) stream_id, (guint64) (offset + datalen));

  /* Append to the stream's last queued chunk when nothing else happened to
   * that stream since: one "stream-data" (one socket write) per stream per
   * receive batch, also when the peer interleaves many streams packet by
   * packet.  QUIC orders nothing across streams, so passing other streams'
   * events keeps every stream's own order. */
  event = pt_quic_conn_find_data_event (self, stream_id);
  if (event != NULL && event->data->len + datalen <= PT_QUIC_DATA_EVENT_MAX)
    {
      g_byte_array_append (event->data, data, (guint) datalen);
      event->fin = fin;
      return 0;
    }

  event = pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_DATA, stream_id);
  if (event == NULL)
    return 0;
  event->data = g_byte_array_sized_new ((guint) MAX (datalen, 1));
  g_byte_array_append (event->data, data, (guint) datalen);
  event->fin = fin;

  return 0;
}

static int
on_acked_stream_data_offset (ngtcp2_conn *conn,
                             int64_t      stream_id,
                             uint64_t     offset,
                             uint64_t     datalen,
                             void        *user_data,
                             void        *stream_user_data)
{
  PtQuicConn *self = user_data;
  PtQuicStream *stream = pt_quic_conn_lookup_stream (self, stream_id);

  if (stream == NULL || stream->write_closed)
    return 0;

  pt_quic_stream_ack (self, stream, offset + datalen);

  if (!stream->acked_pending && pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_ACKED, stream_id))
    stream->acked_pending = TRUE;

  return 0;
}

static int
on_stream_close (ngtcp2_conn *conn,
                 uint32_t     flags,
                 int64_t      stream_id,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  PtQuicConn *self = user_data;
  PtQuicStream *stream = pt_quic_conn_lookup_stream (self, stream_id);

  if (stream == NULL || stream->closed)
    return 0;

  g_debug ("Stream %" G_GINT64_FORMAT ": closed%s", (gint64) stream_id,
           (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) ? " with an error" : "");

  stream->closed = TRUE;
  pt_quic_conn_unqueue_stream (self, stream);

  /* ngtcp2 leaves it to us to let the peer open a new stream. */
  if (stream->remote && stream->counted)
    ngtcp2_conn_extend_max_streams_bidi (conn, 1);

  pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_CLOSED, stream_id);

  return 0;
}

static int
on_stream_reset (ngtcp2_conn *conn,
                 int64_t      stream_id,
                 uint64_t     final_size,
                 uint64_t     app_error_code,
                 void        *user_data,
                 void        *stream_user_data)
{
  PtQuicConn *self = user_data;
  PtQuicStream *stream = pt_quic_conn_lookup_stream (self, stream_id);

  self->rx_frames++;

  g_debug ("Stream %" G_GINT64_FORMAT ": reset by the peer (error %" G_GUINT64_FORMAT ")",
           (gint64) stream_id, (guint64) app_error_code);

  if (stream == NULL || stream->aborted || stream->reset_reported)
    return 0;

  stream->reset_reported = TRUE;
  pt_quic_conn_queue_event (self, PT_QUIC_EVENT_STREAM_RESET, stream_id);

  return 0;
}

static int
on_recv_datagram (ngtcp2_conn   *conn,
                  uint32_t       flags,
                  const uint8_t *data,
                  size_t         datalen,
                  void          *user_data)
{
  PtQuicConn *self = user_data;
  PtQuicEvent *event = pt_quic_conn_queue_event (self, PT_QUIC_EVENT_DATAGRAM, -1);

  self->rx_frames++;

  if (event != NULL)
    {
      event->data = g_byte_array_sized_new ((guint) MAX (datalen, 1));
      g_byte_array_append (event->data, data, (guint) datalen);
    }

  return 0;
}

static ngtcp2_conn *
pt_quic_conn_get_conn (ngtcp2_crypto_conn_ref *conn_ref)
{
  PtQuicConn *self = conn_ref->user_data;

  return self->conn;
}

static void pt_quic_conn_log_printf (void       *user_data,
                                     const char *format,
                                     ...) G_GNUC_PRINTF (2, 3);

static void
pt_quic_conn_log_printf (void       *user_data,
                         const char *format,
                         ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);

  g_debug ("ngtcp2 %p: %s", user_data, line);
}

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */

/* Both sides: the peer's certificate must be the one whose fingerprint came
 * in the authenticated offer/answer.  GnuTLS checks the CertificateVerify
 * signature itself, so a match also proves the peer holds the key. */
static int
pt_quic_conn_verify_peer (gnutls_session_t session)
{
  ngtcp2_crypto_conn_ref *conn_ref = gnutls_session_get_ptr (session);
  PtQuicConn *self = conn_ref->user_data;
  const gnutls_datum_t *certs;
  unsigned int n_certs = 0;

  if (gnutls_certificate_type_get2 (session, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
    {
      g_debug ("Refusing the peer: it sent no X.509 certificate");
      goto refuse;
    }

  certs = gnutls_certificate_get_peers (session, &n_certs);
  if (certs == NULL || n_certs == 0)
    {
      g_debug ("Refusing the peer: it sent no certificate");
      goto refuse;
    }

  if (!_pt_fingerprint_matches (self->peer_fingerprint, certs[0].data, certs[0].size))
    {
      g_debug ("Refusing the peer: its certificate does not match the pinned fingerprint");
      goto refuse;
    }

  g_debug ("%s %p: the peer's certificate matches the pinned fingerprint",
           self->is_client ? "Client" : "Server", self);
  return 0;

refuse:
  self->peer_certificate_rejected = TRUE;
  return -1;
}

static gboolean
pt_quic_conn_setup_tls (PtQuicConn  *self,
                        GError     **error)
{
  gnutls_datum_t alpn = { (unsigned char *) PT_QUIC_ALPN, strlen (PT_QUIC_ALPN) };
  const char *errpos = NULL;
  int ret;

  ret = gnutls_init (&self->tls,
                     (self->is_client ? GNUTLS_CLIENT : GNUTLS_SERVER) |
                     GNUTLS_NO_TICKETS | GNUTLS_NO_END_OF_EARLY_DATA);
  if (ret < 0)
    goto fail;

  if ((ret = gnutls_priority_set_direct (self->tls, PT_QUIC_TLS_PRIORITY, &errpos)) < 0 ||
      (ret = gnutls_credentials_set (self->tls, GNUTLS_CRD_CERTIFICATE,
                                     _pt_certificate_get_credentials (self->certificate))) < 0 ||
      (ret = gnutls_alpn_set_protocols (self->tls, &alpn, 1, GNUTLS_ALPN_MANDATORY)) < 0)
    goto fail;

  gnutls_session_set_verify_function (self->tls, pt_quic_conn_verify_peer);

  if (!self->is_client)
    gnutls_certificate_server_set_request (self->tls, GNUTLS_CERT_REQUIRE);

  if ((self->is_client ? ngtcp2_crypto_gnutls_configure_client_session (self->tls)
                       : ngtcp2_crypto_gnutls_configure_server_session (self->tls)) != 0)
    {
      g_set_error_literal (error, PT_QUIC_ERROR, PT_QUIC_ERROR_TLS,
                           "Could not prepare TLS for QUIC: ngtcp2's GnuTLS glue refused the session");
      return FALSE;
    }

  self->conn_ref.get_conn = pt_quic_conn_get_conn;
  self->conn_ref.user_data = self;
  gnutls_session_set_ptr (self->tls, &self->conn_ref);

  return TRUE;

fail:
  g_set_error (error, PT_QUIC_ERROR, PT_QUIC_ERROR_TLS,
               "Could not prepare TLS for QUIC: %s", gnutls_strerror (ret));
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Connection set-up                                                        */

static gboolean
pt_quic_conn_log_enabled (void)
{
  const char *domains = g_getenv ("G_MESSAGES_DEBUG");

  return domains != NULL && strstr (domains, "ngtcp2") != NULL;
}

static void
pt_quic_random_cid (ngtcp2_cid *cid)
{
  cid->datalen = PT_QUIC_CID_LEN;
  if (gnutls_rnd (GNUTLS_RND_RANDOM, cid->data, cid->datalen) != 0)
    {
      for (gsize i = 0; i < cid->datalen; i++)
        cid->data[i] = (uint8_t) g_random_int ();
    }
}

/* PT_QUIC_CC=cubic|bbr|reno picks the congestion controller (for the
 * bench); the default is the one bench/RESULTS.md found best. */
static ngtcp2_cc_algo
pt_quic_cc_algo (void)
{
  const char *name = g_getenv ("PT_QUIC_CC");

  if (name != NULL && g_ascii_strcasecmp (name, "bbr") == 0)
    return NGTCP2_CC_ALGO_BBR;
  if (name != NULL && g_ascii_strcasecmp (name, "reno") == 0)
    return NGTCP2_CC_ALGO_RENO;
  if (name != NULL && g_ascii_strcasecmp (name, "cubic") == 0)
    return NGTCP2_CC_ALGO_CUBIC;
  return PT_QUIC_DEFAULT_CC;
}

/* @hd: the client's first Initial packet (server), NULL for a client. */
static gboolean
pt_quic_conn_create (PtQuicConn          *self,
                     const ngtcp2_pkt_hd *hd,
                     GError             **error)
{
  ngtcp2_callbacks callbacks = { 0 };
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  ngtcp2_cid scid;
  int rv;

  callbacks.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  callbacks.encrypt = ngtcp2_crypto_encrypt_cb;
  callbacks.decrypt = ngtcp2_crypto_decrypt_cb;
  callbacks.hp_mask = ngtcp2_crypto_hp_mask_cb;
  callbacks.update_key = ngtcp2_crypto_update_key_cb;
  callbacks.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  callbacks.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  callbacks.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  callbacks.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  if (self->is_client)
    {
      callbacks.client_initial = ngtcp2_crypto_client_initial_cb;
      callbacks.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
  else
    {
      callbacks.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    }
  callbacks.rand = pt_quic_rand;
  callbacks.get_new_connection_id = on_get_new_connection_id;
  callbacks.handshake_completed = on_handshake_completed;
  callbacks.handshake_confirmed = on_handshake_confirmed;
  callbacks.stream_open = on_stream_open;
  callbacks.recv_stream_data = on_recv_stream_data;
  callbacks.acked_stream_data_offset = on_acked_stream_data_offset;
  callbacks.stream_close = on_stream_close;
  callbacks.stream_reset = on_stream_reset;
  callbacks.recv_datagram = on_recv_datagram;

  ngtcp2_settings_default (&settings);
  settings.initial_ts = pt_quic_now ();
  settings.initial_rtt = PT_QUIC_INITIAL_RTT;
  settings.max_window = PT_QUIC_MAX_WINDOW;
  settings.max_stream_window = PT_QUIC_MAX_STREAM_WINDOW;
  settings.cc_algo = pt_quic_cc_algo ();
  settings.handshake_timeout = (ngtcp2_duration) PT_QUIC_HANDSHAKE_TIMEOUT_MS * NGTCP2_MILLISECONDS;
  settings.rand_ctx.native_handle = self;
  if (self->local_path && self->send_batch_func != NULL)
    {
      settings.max_tx_udp_payload_size = PT_QUIC_LOCAL_PACKET_SIZE;
      settings.no_tx_udp_payload_size_shaping = 1;
      settings.no_pmtud = 1;
      self->packet_size = PT_QUIC_LOCAL_PACKET_SIZE;
      self->max_burst = PT_QUIC_LOCAL_MAX_BURST;
      g_debug ("%s %p: both ends on this machine: packets of up to %d bytes",
               self->is_client ? "Client" : "Server", self, PT_QUIC_LOCAL_PACKET_SIZE);
    }
  if (pt_quic_conn_log_enabled ())
    settings.log_printf = pt_quic_conn_log_printf;

  ngtcp2_transport_params_default (&params);
  params.initial_max_data = PT_QUIC_INITIAL_MAX_DATA;
  params.initial_max_stream_data_bidi_local = PT_QUIC_INITIAL_MAX_STREAM_DATA;
  params.initial_max_stream_data_bidi_remote = PT_QUIC_INITIAL_MAX_STREAM_DATA;
  params.initial_max_stream_data_uni = 0;
  params.initial_max_streams_bidi = PT_QUIC_MAX_STREAMS_BIDI;
  params.initial_max_streams_uni = 0;
  params.max_idle_timeout = (ngtcp2_duration) PT_QUIC_IDLE_TIMEOUT_MS * NGTCP2_MILLISECONDS;
  params.max_ack_delay = PT_QUIC_MAX_ACK_DELAY;
  params.max_datagram_frame_size = 65535;
  params.disable_active_migration = 1;
  params.grease_quic_bit = 0;   /* ngtcp2 0.12 overrides this: see pt_quic_rand() */

  pt_quic_random_cid (&scid);

  self->in_conn_new = TRUE;
  if (self->is_client)
    {
      ngtcp2_cid dcid;

      pt_quic_random_cid (&dcid);
      rv = ngtcp2_conn_client_new (&self->conn, &dcid, &scid, &self->path,
                                   NGTCP2_PROTO_VER_V1, &callbacks, &settings,
                                   &params, NULL, self);
    }
  else
    {
      _pt_ngtcp2_params_set_original_dcid (&params, &hd->dcid);
      rv = ngtcp2_conn_server_new (&self->conn, &hd->scid, &scid, &self->path,
                                   hd->version, &callbacks, &settings,
                                   &params, NULL, self);
    }
  self->in_conn_new = FALSE;

  if (rv != 0)
    {
      self->conn = NULL;
      g_set_error (error, PT_QUIC_ERROR, PT_QUIC_ERROR_INTERNAL,
                   "Could not create the QUIC connection: %s", ngtcp2_strerror (rv));
      return FALSE;
    }

  ngtcp2_conn_set_tls_native_handle (self->conn, self->tls);
  ngtcp2_conn_set_keep_alive_timeout (self->conn,
                                      (ngtcp2_duration) PT_QUIC_KEEPALIVE_MS * NGTCP2_MILLISECONDS);

  pt_quic_conn_enter_state (self, PT_QUIC_STATE_HANDSHAKE);

  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Input                                                                    */

static void
pt_quic_conn_read (PtQuicConn   *self,
                   const guint8 *packet,
                   gsize         len)
{
  guint64 frames_before;
  int rv;

  if (self->conn == NULL)
    {
      g_autoptr(GError) error = NULL;
      ngtcp2_pkt_hd hd;

      /* Only a server gets here: wait for a client Initial. */
      if (ngtcp2_accept (&hd, packet, len) != 0 || !ngtcp2_is_supported_version (hd.version))
        {
          g_debug ("Server %p: ignoring a %" G_GSIZE_FORMAT "-byte packet that starts no QUIC connection",
                   self, len);
          return;
        }

      if (!pt_quic_conn_create (self, &hd, &error))
        {
          pt_quic_conn_set_closed (self, g_steal_pointer (&error));
          return;
        }
    }

  frames_before = self->rx_frames;
  self->busy = TRUE;
  rv = ngtcp2_conn_read_pkt (self->conn, &self->path, NULL, packet, len, pt_quic_now ());
  self->busy = FALSE;

  if (rv != 0)
    {
      pt_quic_conn_fail_liberr (self, rv);
      return;
    }

  /* Write at once only when something is due: data waiting (an ACK may
   * have opened the window), the handshake, or packets enough that ngtcp2
   * wants an immediate ACK.  A lone request is answered by the reply, which
   * then carries its ACK (one packet instead of two); if the reply is slow,
   * ngtcp2's ACK timer sends it alone. */
  /* Only packets that brought something count: a lone ACK needs no ACK. */
  if (self->rx_frames != frames_before)
    self->rx_since_write++;
  if (self->state != PT_QUIC_STATE_ESTABLISHED ||
      self->rx_since_write >= PT_QUIC_ACK_EVERY ||
      self->rx_stream_bytes > PT_QUIC_ACK_HOLD_BYTES ||
      !g_queue_is_empty (&self->send_queue) ||
      !g_queue_is_empty (&self->datagrams))
    pt_quic_conn_schedule_write (self);
  else if (self->ack_hold_until == 0)
    self->ack_hold_until = g_get_monotonic_time () + PT_QUIC_ACK_HOLD_US;
}

static gboolean
pt_quic_conn_on_timer (gpointer user_data)
{
  PtQuicConn *self = g_object_ref (user_data);
  gboolean write = self->write_scheduled;
  int rv;

  self->write_scheduled = FALSE;

  /* Packets that arrived while ngtcp2 was busy (a send function that
   * delivered synchronously). */
  while (self->state != PT_QUIC_STATE_CLOSED && !g_queue_is_empty (&self->pending_rx))
    {
      g_autoptr(GBytes) packet = g_queue_pop_head (&self->pending_rx);
      gsize len;
      const guint8 *data = g_bytes_get_data (packet, &len);

      pt_quic_conn_read (self, data, len);
    }

  if (self->stalled_since != 0 &&
      self->state == PT_QUIC_STATE_ESTABLISHED &&
      g_get_monotonic_time () >= self->stalled_since + (gint64) PT_QUIC_STALL_TIMEOUT_MS * 1000 &&
      pt_quic_conn_check_stall (self) >= 0)
    {
      PtNgtcp2Ccerr ccerr;
      static const char reason[] = "stalled: no acknowledgements";

      _pt_ngtcp2_ccerr_default (&ccerr);
      _pt_ngtcp2_ccerr_set_transport_error (&ccerr, NGTCP2_INTERNAL_ERROR,
                                            (const uint8_t *) reason,
                                            strlen (reason));
      pt_quic_conn_send_close (self, &ccerr);
      pt_quic_conn_set_closed (self,
                               g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_IDLE_TIMEOUT,
                                            "the connection stalled: no acknowledgement from "
                                            "the peer for %d s (the path loses too many packets)",
                                            PT_QUIC_STALL_TIMEOUT_MS / 1000));
    }

  if (self->state != PT_QUIC_STATE_CLOSED && self->conn != NULL)
    {
      ngtcp2_tstamp now = pt_quic_now ();

      rv = 0;
      if (self->ack_hold_until != 0 && (gint64) (now / NGTCP2_MICROSECONDS) >= self->ack_hold_until)
        self->ack_hold_until = 0;
      if (self->ack_hold_until == 0 && ngtcp2_conn_get_expiry (self->conn) <= now)
        {
          self->busy = TRUE;
          rv = ngtcp2_conn_handle_expiry (self->conn, now);
          self->busy = FALSE;
          write = TRUE;
        }

      if (rv != 0)
        pt_quic_conn_fail_liberr (self, rv);
      else if (write || self->write_scheduled)
        pt_quic_conn_write (self);
    }

  /* Events of what was read (and written) in this round, in one go: the
   * stream data of a receive batch reaches its socket as one write. */
  pt_quic_conn_dispatch (self);
  g_object_unref (self);

  return G_SOURCE_CONTINUE;
}

void
_pt_quic_conn_flush (PtQuicConn *self)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));

  /* Not from inside ngtcp2 or our own event handlers: the source runs
   * then, as before. */
  if (self->busy || self->dispatching)
    return;
  if (pt_quic_conn_next_deadline (self) == 0)
    pt_quic_conn_on_timer (self);
}

typedef struct
{
  GSource     source;
  PtQuicConn *conn;              /* unowned: its dispose destroys the source */
} PtQuicSource;

static gboolean
pt_quic_source_prepare (GSource *source,
                        gint    *timeout)
{
  gint64 deadline = pt_quic_conn_next_deadline (((PtQuicSource *) source)->conn);
  gint64 now;

  if (deadline < 0)
    {
      *timeout = -1;
      return FALSE;
    }
  now = g_source_get_time (source);
  if (deadline <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint) MIN ((deadline - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
pt_quic_source_check (GSource *source)
{
  gint64 deadline = pt_quic_conn_next_deadline (((PtQuicSource *) source)->conn);

  return deadline >= 0 && deadline <= g_source_get_time (source);
}

static gboolean
pt_quic_source_dispatch (GSource     *source,
                         GSourceFunc  callback,
                         gpointer     user_data)
{
  return callback (user_data);
}

static GSourceFuncs pt_quic_timer_funcs = {
  pt_quic_source_prepare, pt_quic_source_check, pt_quic_source_dispatch, NULL, NULL, NULL,
};

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
pt_quic_conn_dispose (GObject *object)
{
  PtQuicConn *self = PT_QUIC_CONN (object);

  if (self->timer != NULL)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }

  G_OBJECT_CLASS (pt_quic_conn_parent_class)->dispose (object);
}

static void
pt_quic_conn_finalize (GObject *object)
{
  PtQuicConn *self = PT_QUIC_CONN (object);

  g_clear_pointer (&self->conn, ngtcp2_conn_del);
  g_clear_pointer (&self->tls, gnutls_deinit);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->context, g_main_context_unref);

  g_queue_clear (&self->send_queue);
  g_clear_pointer (&self->streams, g_hash_table_unref);
  g_queue_clear_full (&self->datagrams, (GDestroyNotify) g_bytes_unref);
  g_queue_clear_full (&self->events, (GDestroyNotify) pt_quic_event_free);
  g_queue_clear_full (&self->pending_rx, (GDestroyNotify) g_bytes_unref);
  g_clear_pointer (&self->close_packet, g_bytes_unref);
  g_free (self->burst);

  G_OBJECT_CLASS (pt_quic_conn_parent_class)->finalize (object);
}

static void
pt_quic_conn_class_init (PtQuicConnClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_quic_conn_dispose;
  object_class->finalize = pt_quic_conn_finalize;

  signals[SIGNAL_HANDSHAKE_COMPLETED] =
    g_signal_new ("handshake-completed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_STREAM_OPENED] =
    g_signal_new ("stream-opened", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAM_DATA] =
    g_signal_new ("stream-data", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  G_TYPE_INT64, G_TYPE_BYTES, G_TYPE_BOOLEAN);
  signals[SIGNAL_STREAM_ACKED] =
    g_signal_new ("stream-acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAM_RESET] =
    g_signal_new ("stream-reset", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_STREAM_CLOSED] =
    g_signal_new ("stream-closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_DATAGRAM] =
    g_signal_new ("datagram", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
pt_quic_conn_init (PtQuicConn *self)
{
  self->streams = g_hash_table_new_full (g_int64_hash, g_int64_equal,
                                         NULL, (GDestroyNotify) pt_quic_stream_free);
  g_queue_init (&self->send_queue);
  g_queue_init (&self->datagrams);
  g_queue_init (&self->events);
  g_queue_init (&self->pending_rx);
  self->packet_size = PT_QUIC_TX_BUF_SIZE;
  self->max_burst = PT_QUIC_MAX_BURST;
}

/* ------------------------------------------------------------------------ */
/* API                                                                      */

PtQuicConn *
_pt_quic_conn_new (gboolean         is_client,
                   PtCertificate   *certificate,
                   const guint8    *peer_fingerprint,
                   PtQuicSendFunc   send_func,
                   gpointer         send_data,
                   GError         **error)
{
  g_autoptr(PtQuicConn) self = NULL;

  g_return_val_if_fail (PT_IS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (peer_fingerprint != NULL, NULL);
  g_return_val_if_fail (send_func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (PT_TYPE_QUIC_CONN, NULL);
  self->is_client = !!is_client;
  self->certificate = g_object_ref (certificate);
  memcpy (self->peer_fingerprint, peer_fingerprint, sizeof self->peer_fingerprint);
  self->send_func = send_func;
  self->send_data = send_data;

  /* The fake path ngtcp2 sees for the whole connection: never used for
   * I/O, so it must not follow the ICE pair. */
  self->local_addr.sin_family = AF_INET;
  self->local_addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  self->local_addr.sin_port = htons (is_client ? 1 : 2);
  self->remote_addr = self->local_addr;
  self->remote_addr.sin_port = htons (is_client ? 2 : 1);
  ngtcp2_addr_init (&self->path.local, (ngtcp2_sockaddr *) &self->local_addr, sizeof self->local_addr);
  ngtcp2_addr_init (&self->path.remote, (ngtcp2_sockaddr *) &self->remote_addr, sizeof self->remote_addr);

  if (!pt_quic_conn_setup_tls (self, error))
    return NULL;

  self->context = g_main_context_ref_thread_default ();
  self->timer = g_source_new (&pt_quic_timer_funcs, sizeof (PtQuicSource));
  ((PtQuicSource *) self->timer)->conn = self;
  g_source_set_static_name (self->timer, "[peertunnel] QUIC timer");
  g_source_set_can_recurse (self->timer, TRUE);
  g_source_set_callback (self->timer, pt_quic_conn_on_timer, self, NULL);
  g_source_attach (self->timer, self->context);

  g_debug ("%s %p: created", is_client ? "Client" : "Server", self);

  return g_steal_pointer (&self);
}

void
_pt_quic_conn_start (PtQuicConn *self)
{
  g_autoptr(GError) error = NULL;

  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (!self->is_client || self->conn != NULL || self->state == PT_QUIC_STATE_CLOSED)
    return;

  g_object_ref (self);

  if (pt_quic_conn_create (self, NULL, &error))
    pt_quic_conn_write (self);
  else
    pt_quic_conn_set_closed (self, g_steal_pointer (&error));

  pt_quic_conn_dispatch (self);
  g_object_unref (self);
}

void
_pt_quic_conn_receive (PtQuicConn   *self,
                       const guint8 *packet,
                       gsize         len)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));
  g_return_if_fail (packet != NULL || len == 0);

  if (len == 0)
    return;

  if (self->state == PT_QUIC_STATE_CLOSED)
    {
      /* Closing period: the peer did not get our CONNECTION_CLOSE yet.
       * Repeat it, less and less often. */
      self->received_after_close++;
      if (self->close_packet != NULL &&
          self->received_after_close <= PT_QUIC_MAX_CLOSE_RESENDS &&
          (self->received_after_close & (self->received_after_close - 1)) == 0)
        {
          gsize size;
          const guint8 *data = g_bytes_get_data (self->close_packet, &size);

          pt_quic_conn_send_packet (self, data, size);
        }
      return;
    }

  if (self->is_client && self->conn == NULL)
    {
      g_debug ("Client %p: ignoring a packet before start", self);
      return;
    }

  self->bytes_received += len;

  if (self->busy)
    {
      /* Delivered from inside our own send function: ngtcp2 is not
       * re-entrant, read it from the timer. */
      g_queue_push_tail (&self->pending_rx, g_bytes_new (packet, len));
      return;
    }

  g_object_ref (self);
  pt_quic_conn_read (self, packet, len);
  /* The events of this packet wait for the timer, which fires once the
   * datagrams that arrived together are read: their stream data then goes
   * out as one "stream-data" (one socket write) instead of one per packet.
   * Closing is reported at once (the timer does not run after it). */
  if (self->state == PT_QUIC_STATE_CLOSED)
    pt_quic_conn_dispatch (self);
  g_object_unref (self);
}

void
_pt_quic_conn_set_send_batch_func (PtQuicConn          *self,
                                   PtQuicSendBatchFunc  func)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));
  g_return_if_fail (self->burst_len == 0);

  self->send_batch_func = func;
}

void
_pt_quic_conn_set_datagram_func (PtQuicConn         *self,
                                 PtQuicDatagramFunc  func,
                                 gpointer            user_data)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));

  /* Unsetting names whose function it was: another may have taken over. */
  if (func == NULL && user_data != NULL && user_data != self->datagram_data)
    return;
  self->datagram_func = func;
  self->datagram_data = func != NULL ? user_data : NULL;
}

void
_pt_quic_conn_set_local_path (PtQuicConn *self,
                              gboolean    local_path)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (self->conn == NULL && self->burst == NULL)
    self->local_path = !!local_path;
}

gboolean
_pt_quic_conn_is_established (PtQuicConn *self)
{
  g_return_val_if_fail (PT_IS_QUIC_CONN (self), FALSE);

  return self->state == PT_QUIC_STATE_ESTABLISHED;
}

gint64
_pt_quic_conn_open_stream (PtQuicConn  *self,
                           GError     **error)
{
  int64_t stream_id = -1;
  int rv;

  g_return_val_if_fail (PT_IS_QUIC_CONN (self), -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (self->state != PT_QUIC_STATE_ESTABLISHED)
    {
      g_set_error_literal (error, G_IO_ERROR,
                           self->state == PT_QUIC_STATE_CLOSED ? G_IO_ERROR_CLOSED : G_IO_ERROR_NOT_CONNECTED,
                           self->state == PT_QUIC_STATE_CLOSED
                             ? "The QUIC connection is closed"
                             : "The QUIC connection is not established yet");
      return -1;
    }

  rv = ngtcp2_conn_open_bidi_stream (self->conn, &stream_id, NULL);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                           "The peer allows no more concurrent streams; retry when one closes");
      return -1;
    }
  if (rv != 0)
    {
      g_set_error (error, PT_QUIC_ERROR, PT_QUIC_ERROR_INTERNAL,
                   "Could not open a QUIC stream: %s", ngtcp2_strerror (rv));
      return -1;
    }

  pt_quic_conn_add_stream (self, stream_id, FALSE);
  g_debug ("Stream %" G_GINT64_FORMAT ": opened", (gint64) stream_id);

  return stream_id;
}

void
_pt_quic_conn_stream_send (PtQuicConn *self,
                           gint64      stream_id,
                           GBytes     *data)
{
  PtQuicStream *stream;
  gsize size;

  g_return_if_fail (PT_IS_QUIC_CONN (self));
  g_return_if_fail (data != NULL);

  if (self->state == PT_QUIC_STATE_CLOSED)
    return;

  stream = pt_quic_conn_lookup_stream (self, stream_id);
  if (stream == NULL || stream->write_closed || stream->closed)
    {
      g_debug ("Stream %" G_GINT64_FORMAT ": dropping data, the stream cannot send any more",
               stream_id);
      return;
    }

  g_return_if_fail (!stream->shutdown_wr);

  size = g_bytes_get_size (data);
  if (size == 0)
    return;

  g_queue_push_tail (&stream->chunks, g_bytes_ref (data));
  if (stream->cursor == NULL)
    {
      stream->cursor = stream->chunks.tail;
      stream->cursor_offset = stream->queued_offset;
    }
  stream->queued_offset += size;
  self->held_bytes += size;

  if (stream->send_link == NULL)
    pt_quic_conn_requeue_stream (self, stream);

  pt_quic_conn_schedule_write (self);
}

void
_pt_quic_conn_stream_shutdown_write (PtQuicConn *self,
                                     gint64      stream_id)
{
  PtQuicStream *stream;

  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (self->state == PT_QUIC_STATE_CLOSED)
    return;

  stream = pt_quic_conn_lookup_stream (self, stream_id);
  if (stream == NULL || stream->shutdown_wr || stream->write_closed || stream->closed)
    return;

  g_debug ("Stream %" G_GINT64_FORMAT ": FIN queued after %" G_GUINT64_FORMAT " bytes",
           stream_id, stream->queued_offset);

  stream->shutdown_wr = TRUE;
  if (stream->send_link == NULL)
    pt_quic_conn_requeue_stream (self, stream);

  pt_quic_conn_schedule_write (self);
}

void
_pt_quic_conn_stream_abort (PtQuicConn *self,
                            gint64      stream_id,
                            guint64     app_error)
{
  PtQuicStream *stream;
  int rv;

  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (self->state == PT_QUIC_STATE_CLOSED || self->conn == NULL)
    return;

  stream = pt_quic_conn_lookup_stream (self, stream_id);
  if (stream == NULL || stream->aborted || stream->closed)
    return;

  g_debug ("Stream %" G_GINT64_FORMAT ": aborting (error %" G_GUINT64_FORMAT ")",
           stream_id, app_error);

  rv = _pt_ngtcp2_conn_shutdown_stream (self->conn, stream_id, app_error);
  if (rv != 0)
    g_debug ("Stream %" G_GINT64_FORMAT ": %s", stream_id, ngtcp2_strerror (rv));

  /* ngtcp2 discards the unacknowledged data with the RESET_STREAM. */
  stream->aborted = TRUE;
  pt_quic_stream_drop_output (self, stream);
  pt_quic_conn_unqueue_stream (self, stream);

  pt_quic_conn_schedule_write (self);
}

gsize
_pt_quic_conn_stream_get_queued (PtQuicConn *self,
                                 gint64      stream_id)
{
  PtQuicStream *stream;

  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  stream = pt_quic_conn_lookup_stream (self, stream_id);
  if (stream == NULL)
    return 0;

  return (gsize) (stream->queued_offset - stream->acked_offset);
}

gsize
_pt_quic_conn_get_held_bytes (PtQuicConn *self)
{
  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  return self->held_bytes;
}

guint64
_pt_quic_conn_stream_get_credit (PtQuicConn *self,
                                 gint64      stream_id)
{
  PtQuicStream *stream;

  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  stream = pt_quic_conn_lookup_stream (self, stream_id);
  if (stream == NULL || self->conn == NULL || self->state != PT_QUIC_STATE_ESTABLISHED)
    return 0;

  /* The peer's limit for the stream, less what it has acknowledged. */
  return stream->sent_offset + ngtcp2_conn_get_max_stream_data_left (self->conn, stream_id) -
         stream->acked_offset;
}

void
_pt_quic_conn_stream_consumed (PtQuicConn *self,
                               gint64      stream_id,
                               gsize       len)
{
  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (self->state == PT_QUIC_STATE_CLOSED || self->conn == NULL || len == 0)
    return;

  /* The stream may be gone already; the connection window must still
   * grow, or the peer stalls on MAX_DATA. */
  if (pt_quic_conn_lookup_stream (self, stream_id) != NULL)
    ngtcp2_conn_extend_max_stream_offset (self->conn, stream_id, len);
  ngtcp2_conn_extend_max_offset (self->conn, len);

  /* ngtcp2 sends a window update once half a window is consumed: small
   * amounts ride on the next packet (the reply, an ACK). */
  self->consumed_since_write += len;
  if (self->consumed_since_write >= PT_QUIC_CONSUMED_FLUSH)
    pt_quic_conn_schedule_write (self);
}

gsize
_pt_quic_conn_get_max_datagram (PtQuicConn *self)
{
  const ngtcp2_transport_params *params;
  gsize frame_max;

  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  if (self->state != PT_QUIC_STATE_ESTABLISHED)
    return 0;

  params = ngtcp2_conn_get_remote_transport_params (self->conn);
  if (params == NULL || params->max_datagram_frame_size <= 3)
    return 0;

  /* The peer's limit counts the frame type (1 byte) and length (2 bytes
   * below 16 KiB); the packet must fit what the path carries: 1200 bytes
   * until path-MTU discovery proves more (up to 1452, enough for a full
   * 1280-byte IPv6 minimum-MTU datagram and most VPN payloads). */
  frame_max = (gsize) MIN (params->max_datagram_frame_size - 3, G_MAXSIZE);

  return MIN (frame_max,
              ngtcp2_conn_get_path_max_tx_udp_payload_size (self->conn) - PT_QUIC_DATAGRAM_OVERHEAD);
}

gboolean
_pt_quic_conn_send_datagram (PtQuicConn   *self,
                             const guint8 *data,
                             gsize         len)
{
  g_return_val_if_fail (PT_IS_QUIC_CONN (self), FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (self->state != PT_QUIC_STATE_ESTABLISHED)
    return FALSE;

  if (len > _pt_quic_conn_get_max_datagram (self))
    return FALSE;

  /* Bounded in bytes: a burst waits for the congestion window (paced out
   * by it) instead of being cut at a fixed count; past the bound the
   * newest is dropped, as a router's queue would. */
  if (self->datagram_bytes + len > PT_QUIC_MAX_DATAGRAM_BYTES)
    {
      if ((self->datagrams_dropped++ & 1023) == 0)
        g_debug ("Dropping datagrams: %" G_GSIZE_FORMAT " bytes already wait for the "
                 "congestion window (%" G_GUINT64_FORMAT " dropped)",
                 self->datagram_bytes, self->datagrams_dropped);
      return FALSE;
    }

  g_queue_push_tail (&self->datagrams, g_bytes_new (data, len));
  self->datagram_bytes += len;
  pt_quic_conn_schedule_write (self);

  return TRUE;
}

void
_pt_quic_conn_close (PtQuicConn *self,
                     guint64     app_error,
                     const char *reason)
{
  GError *error = NULL;

  g_return_if_fail (PT_IS_QUIC_CONN (self));

  if (self->state == PT_QUIC_STATE_CLOSED)
    return;

  g_object_ref (self);

  g_debug ("%s %p: closing (error %" G_GUINT64_FORMAT "%s%s)",
           self->is_client ? "Client" : "Server", self, app_error,
           reason ? ", " : "", reason ? reason : "");

  if (self->conn != NULL && !self->busy)
    {
      PtNgtcp2Ccerr ccerr;

      _pt_ngtcp2_ccerr_default (&ccerr);
      _pt_ngtcp2_ccerr_set_application_error (&ccerr, app_error,
                                              (const uint8_t *) reason,
                                              reason ? strlen (reason) : 0);
      pt_quic_conn_send_close (self, &ccerr);
    }

  if (app_error != 0)
    error = g_error_new (PT_QUIC_ERROR, PT_QUIC_ERROR_INTERNAL,
                         "closed by this side: %s (code %" G_GUINT64_FORMAT ")",
                         reason ? reason : "no reason given", app_error);

  /* Nothing may follow "closed": drop what was still to be emitted. */
  g_queue_clear_full (&self->events, (GDestroyNotify) pt_quic_event_free);
  g_queue_init (&self->events);

  pt_quic_conn_set_closed (self, error);
  pt_quic_conn_dispatch (self);
  g_object_unref (self);
}

guint64
_pt_quic_conn_get_bytes_sent (PtQuicConn *self)
{
  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  return self->bytes_sent;
}

guint64
_pt_quic_conn_get_bytes_received (PtQuicConn *self)
{
  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  return self->bytes_received;
}

guint64
_pt_quic_conn_get_rtt_us (PtQuicConn *self)
{
  PtNgtcp2ConnStat stat;

  g_return_val_if_fail (PT_IS_QUIC_CONN (self), 0);

  if (self->conn == NULL)
    return 0;

  _pt_ngtcp2_conn_get_stat (self->conn, &stat);

  return stat.smoothed_rtt / NGTCP2_MICROSECONDS;
}
