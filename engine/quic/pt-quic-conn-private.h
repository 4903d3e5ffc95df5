/* pt-quic-conn-private.h — one QUIC connection (ngtcp2 0.12 or 1.x + GnuTLS) over a datagram pipe
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The connection never touches a socket: packets come in through
 * _pt_quic_conn_receive() and leave through the PtQuicSendFunc given at
 * construction (for the tunnel: nice_agent_send on the selected ICE pair).
 * Timers are one GSource on the thread-default GMainContext of the caller of
 * _new(), whose prepare() computes its deadline from ngtcp2_conn_get_expiry().
 *
 * Both sides present a fresh self-signed certificate and pin the peer's
 * SHA-256 fingerprint; any other certificate aborts the handshake with
 * PT_QUIC_ERROR_PEER_CERTIFICATE. ALPN is "peertunnel/1". DATAGRAM frames are
 * on; the QUIC bit is never greased; keepalive PINGs keep NAT mappings open.
 *
 * Signals (all emitted from the main context):
 *   "handshake-completed" ()
 *   "stream-opened"       (gint64 stream_id)           peer opened a bidi stream
 *   "stream-data"         (gint64 stream_id, GBytes *data, gboolean fin)
 *                         data may be empty when only fin is set; call
 *                         _pt_quic_conn_stream_consumed() once the bytes have
 *                         been delivered (this opens the flow-control window)
 *   "stream-acked"        (gint64 stream_id)           queued send data was acknowledged
 *   "stream-reset"        (gint64 stream_id)           peer reset it / stopped reading
 *   "stream-closed"       (gint64 stream_id)           both directions finished, forget the id
 *   "datagram"            (GBytes *data)
 *   "closed"              (GError *error)              NULL for a clean close by either side;
 *                                                      emitted once, no other signal after it
 */
#pragma once

#include "pt.h"
#include "pt-certificate-private.h"

G_BEGIN_DECLS

#define PT_QUIC_ALPN                "peertunnel/1"
#define PT_QUIC_IDLE_TIMEOUT_MS     30000
#define PT_QUIC_KEEPALIVE_MS        10000
#define PT_QUIC_HANDSHAKE_TIMEOUT_MS 15000

/* Flow-control windows: ngtcp2 starts small and doubles a window that the
 * application drains within two round trips, up to these.  A stream must
 * be able to fill a 1 Gbit/s path with a 100 ms round trip (12.5 MB in
 * flight); the connection window bounds what one session's peer can make
 * this side buffer. (tests/test-quic.c checks both.) */
#define PT_QUIC_BDP_RATE_BYTES_PER_S (1000 * 1000 * 1000 / 8)
#define PT_QUIC_BDP_RTT_MS          100
#define PT_QUIC_MAX_STREAM_WINDOW   (16 * 1024 * 1024)
#define PT_QUIC_MAX_WINDOW          (24 * 1024 * 1024)

/* TCP connections one tunnel carries at once (QUIC bidirectional streams
 * the peer may have open, besides the control stream). */
#define PT_QUIC_MAX_CONNECTIONS     1024

typedef void (*PtQuicSendFunc) (const guint8 *packet,
                                gsize         len,
                                gpointer      user_data);

/* A burst of packets (up to one send quantum) at once, e.g. for sendmmsg. */
typedef void (*PtQuicSendBatchFunc) (const GOutputVector *packets,
                                     guint                n_packets,
                                     gpointer             user_data);

/* One received DATAGRAM frame's payload, valid during the call. */
typedef void (*PtQuicDatagramFunc) (const guint8 *data,
                                    gsize         len,
                                    gpointer      user_data);

#define PT_TYPE_QUIC_CONN (pt_quic_conn_get_type ())
G_DECLARE_FINAL_TYPE (PtQuicConn, pt_quic_conn, PT, QUIC_CONN, GObject)

PtQuicConn *_pt_quic_conn_new                (gboolean        is_client,
                                              PtCertificate  *certificate,
                                              const guint8   *peer_fingerprint, /* 32 bytes */
                                              PtQuicSendFunc  send_func,
                                              gpointer        send_data,
                                              GError        **error);
/* From now on, bursts go to @func (with the send_data given to _new()). */
void        _pt_quic_conn_set_send_batch_func (PtQuicConn         *self,
                                              PtQuicSendBatchFunc  func);
/* Received datagrams go to @func instead of the "datagram" signal: a
 * direct call per packet (UDP forwards, VPN mode).  A NULL @func restores
 * the signal, if @user_data is NULL or the one given with the function. */
void        _pt_quic_conn_set_datagram_func  (PtQuicConn          *self,
                                              PtQuicDatagramFunc   func,
                                              gpointer             user_data);
/* Before the connection exists (client: before _start(); server: before
 * the first packet): both ends are this machine, so packets of ~64 KiB
 * instead of the path MTU.  Needs a batch send function.  Later calls do
 * nothing. */
void        _pt_quic_conn_set_local_path     (PtQuicConn     *self,
                                              gboolean        local_path);
/* Client: sends the first flight. Server: no-op (waits for the client). */
void        _pt_quic_conn_start              (PtQuicConn     *self);
/* Feed one received UDP payload. */
void        _pt_quic_conn_receive            (PtQuicConn     *self,
                                              const guint8   *packet,
                                              gsize           len);
gboolean    _pt_quic_conn_is_established     (PtQuicConn     *self);
/* A batch of received packets, or of queued stream data, is complete: write
 * what is due and emit the events now instead of on the next main-loop
 * iteration.  Does nothing from inside the connection's own handlers. */
void        _pt_quic_conn_flush              (PtQuicConn     *self);

/* Opens a local bidirectional stream; -1 with an error if the peer's stream
 * limit is reached or the connection is not established. */
gint64      _pt_quic_conn_open_stream        (PtQuicConn     *self,
                                              GError        **error);
/* Queues @data (referenced, not copied) after what is already queued. */
void        _pt_quic_conn_stream_send        (PtQuicConn     *self,
                                              gint64          stream_id,
                                              GBytes         *data);
/* Sends FIN after the queued data. */
void        _pt_quic_conn_stream_shutdown_write (PtQuicConn  *self,
                                              gint64          stream_id);
/* Aborts both directions (RESET_STREAM + STOP_SENDING). */
void        _pt_quic_conn_stream_abort       (PtQuicConn     *self,
                                              gint64          stream_id,
                                              guint64         app_error);
/* Bytes queued and not yet acknowledged: for backpressure. */
gsize       _pt_quic_conn_stream_get_queued  (PtQuicConn     *self,
                                              gint64          stream_id);
/* How far past its acknowledged bytes the peer lets this stream send: the
 * peer's flow-control window as this side sees it (for tests). */
guint64     _pt_quic_conn_stream_get_credit  (PtQuicConn     *self,
                                              gint64          stream_id);
/* Outgoing stream bytes of all streams held until the peer acknowledges them. */
gsize       _pt_quic_conn_get_held_bytes     (PtQuicConn     *self);
void        _pt_quic_conn_stream_consumed    (PtQuicConn     *self,
                                              gint64          stream_id,
                                              gsize           len);

/* Largest payload that fits one DATAGRAM frame now (0 before the handshake). */
gsize       _pt_quic_conn_get_max_datagram   (PtQuicConn     *self);
/* Best effort: FALSE when too large or not sent (congestion); never blocks. */
gboolean    _pt_quic_conn_send_datagram      (PtQuicConn     *self,
                                              const guint8   *data,
                                              gsize           len);

/* Sends CONNECTION_CLOSE (application error @app_error, @reason), then emits "closed". */
void        _pt_quic_conn_close              (PtQuicConn     *self,
                                              guint64         app_error,
                                              const char     *reason);

guint64     _pt_quic_conn_get_bytes_sent     (PtQuicConn     *self); /* UDP payload bytes out */
guint64     _pt_quic_conn_get_bytes_received (PtQuicConn     *self);
guint64     _pt_quic_conn_get_rtt_us         (PtQuicConn     *self); /* smoothed RTT */

G_END_DECLS
