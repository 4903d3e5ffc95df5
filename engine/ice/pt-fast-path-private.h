/* pt-fast-path-private.h — pt's own UDP socket on the selected ICE pair
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libnice owns the UDP socket of every candidate and moves one datagram per
 * system call, with no control messages.  For a pair whose local side is a
 * plain UDP socket of this machine (host, server-reflexive or peer-reflexive
 * candidate), the fast path binds a second socket to the same address and
 * port (SO_REUSEPORT on both) and attaches a classic BPF program to the
 * reuseport group that hands it only the datagrams that come from the
 * selected remote address and port and carry the QUIC fixed bit (0x40).
 * Everything else — STUN checks, consent freshness, keepalives, TURN,
 * strangers — still reaches libnice's socket, so ICE works as before; the
 * peer, the NATs and ICE see the same 5-tuple because our sends leave from
 * the same address and port.
 *
 * Receives use recvmmsg() with UDP_GRO (the kernel hands over runs of
 * datagrams in one buffer, split here by the segment size it reports);
 * sends use sendmmsg() with one UDP_SEGMENT control message per run of
 * equal-size packets.  Each kernel feature is probed and dropped one step at
 * a time: no SO_REUSEPORT or BPF → no fast path at all (the caller keeps
 * libnice); GSO refused (EIO) → plain sendmmsg; no GRO → recvmmsg alone.
 *
 * Set PT_FAST_PATH=off in the environment to keep every pair on libnice.
 */
#pragma once

#include <gio/gio.h>
#include <sys/socket.h>

G_BEGIN_DECLS

typedef struct _PtFastPath PtFastPath;

/* One received QUIC packet (one GRO segment). */
typedef void (*PtFastPathReceiveFunc) (const guint8 *packet,
                                       gsize         len,
                                       gpointer      user_data);

/* The packets of one wake-up were all handed over. */
typedef void (*PtFastPathBatchFunc) (gpointer user_data);

typedef struct
{
  guint64 packets_in;       /* segments handed to the receive function */
  guint64 packets_out;      /* datagrams the kernel took */
  guint64 dropped_in;       /* wrong source, no fixed bit, truncated */
  guint64 dropped_out;      /* socket buffer full or send error */
  guint64 receive_calls;    /* recvmmsg() calls that returned data */
  guint64 send_calls;       /* sendmmsg() calls */
} PtFastPathStats;

/* FALSE when PT_FAST_PATH=off (or 0/no/false). */
gboolean     _pt_fast_path_allowed      (void);

/* @nice_socket: the selected pair's local socket (libnice's).  @remote: the
 * selected remote candidate's address.  NULL with @error (G_IO_ERROR_*) when
 * the kernel lacks a feature the fast path cannot do without. */
PtFastPath  *_pt_fast_path_new          (GSocket                *nice_socket,
                                         const struct sockaddr  *remote,
                                         socklen_t               remote_len,
                                         PtFastPathReceiveFunc   func,
                                         PtFastPathBatchFunc     batch_func,
                                         gpointer                user_data,
                                         GError                **error);
void         _pt_fast_path_free         (PtFastPath             *self);
/* TRUE if @self already serves this socket and remote. */
gboolean     _pt_fast_path_matches      (PtFastPath             *self,
                                         GSocket                *nice_socket,
                                         const struct sockaddr  *remote);

/* Sends @n_packets datagrams to the remote.  Losing some to a full socket
 * buffer is fine (QUIC retransmits). */
void         _pt_fast_path_send         (PtFastPath             *self,
                                         const GOutputVector    *packets,
                                         guint                   n_packets);

/* "gso+gro", "gro", "gso" or "batched": what the kernel agreed to. */
const char  *_pt_fast_path_get_mode     (PtFastPath             *self);
void         _pt_fast_path_get_stats    (PtFastPath             *self,
                                         PtFastPathStats        *stats);

/* TRUE if @address (IPv4 or IPv6) is one of this machine's own addresses
 * (loopback included). */
gboolean     _pt_fast_path_is_local_address (const struct sockaddr *address);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtFastPath, _pt_fast_path_free)

G_END_DECLS
