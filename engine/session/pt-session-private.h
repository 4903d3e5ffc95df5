/* pt-session-private.h — the tunnel protocol over one QUIC connection
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Client: sends HELLO with its forwards on the control stream, waits for the
 * VERDICT, then turns every connection accepted on a forward's TCP listener
 * into a QUIC stream and every UDP peer of a forward's socket into a flow of
 * DATAGRAM frames.
 * Server: answers HELLO after resolving each forward's source once and
 * checking the address against the allow-list of its protocol; later streams
 * and flows connect to exactly that checked address.
 *
 * Signals:
 *   "up"        ()                           verdicts exchanged; forwards work
 *   "rejected"  (gchar *forward, gchar *why) server: a forward was refused
 *   "failed"    (GError *error)              the session cannot go on
 * Properties: "active-connections", "bytes-sent", "bytes-received" (payload bytes;
 * notified at most every PT_SESSION_COUNTERS_NOTIFY_MS).
 */
#pragma once

#include "pt.h"
#include "pt-quic-conn-private.h"
#include "pt-control-private.h"

G_BEGIN_DECLS

/* Budgets (README "Security"): what one peer can make a session hold.
 * TCP connections at once are bounded by QUIC (PT_QUIC_MAX_CONNECTIONS);
 * every socket also takes a unit of the process's descriptor budget
 * (pt-budget-private.h).  Unacked bytes are bounded per stream and for the
 * whole session, so that connections whose far end never reads cannot
 * grow the process without bound. */
/* A stream's unacked bytes must cover the path's bandwidth-delay product,
 * or the stream runs at PT_SESSION_MAX_QUEUED per round trip whatever the
 * windows allow: as much as QUIC may let one stream have in flight. */
#define PT_SESSION_MAX_QUEUED      PT_QUIC_MAX_STREAM_WINDOW  /* per TCP stream, unacked bytes */
#define PT_SESSION_MAX_HELD        (32 * 1024 * 1024)  /* per session, all streams */
#define PT_SESSION_MIN_QUEUED      (64 * 1024)    /* per stream, even past MAX_HELD */
#define PT_SESSION_READ_CHUNK      (64 * 1024)
#define PT_SESSION_UDP_IDLE_S      60
#define PT_SESSION_MAX_UDP_FLOWS   256
#define PT_SESSION_ACCEPT_PAUSE_MS 250    /* listener rest after accept() failed */
/* One session's share of the descriptor budget: a quarter (at least 16). */
#define PT_SESSION_FD_SHARE_DIVISOR 4
#define PT_SESSION_MIN_FD_SHARE    16
#define PT_SESSION_UDP_BATCH       16     /* datagrams per recvmmsg */
#define PT_SESSION_UDP_ROUNDS      4      /* recvmmsg calls per wake-up */
#define PT_SESSION_UDP_SOCKET_BUFFER (4 * 1024 * 1024)  /* a client's forward socket */
#define PT_SESSION_UDP_FLOW_BUFFER   (1024 * 1024)      /* each flow socket of a server */
#define PT_SESSION_COUNTERS_NOTIFY_MS 250  /* "bytes-sent"/"bytes-received" batching */

#define PT_TYPE_SESSION (pt_session_get_type ())
G_DECLARE_FINAL_TYPE (PtSession, pt_session, PT, SESSION, GObject)

/* VPN mode. A server's session hands VPN_HELLO, IP packets and its end to
 * the router (pt-vpn.c); a client's session gets its configuration
 * ("vpn-config" signal), then its owner attaches a TUN device and calls
 * _pt_session_vpn_go_up(). */
typedef struct
{
  /* Server: a client asked for VPN mode; fill @config or fail. */
  gboolean (*hello)   (PtSession    *session,
                       guint8        flags,
                       PtVpnConfig  *config,
                       GError      **error,
                       gpointer      data);
  /* An IP packet arrived from the peer (not yet checked). */
  void     (*ip)      (PtSession    *session,
                       const guint8 *packet,
                       gsize         len,
                       gpointer      data);
  /* The session stopped: forget it. */
  void     (*stopped) (PtSession    *session,
                       gpointer      data);
} PtSessionVpnHooks;

/* @forwards: PtForwardSpec*; @sockets: bound GSocket* (TCP listening / UDP), same order. */
PtSession *_pt_session_new_client (PtQuicConn  *conn,
                                   GPtrArray   *forwards,
                                   GPtrArray   *sockets);
/* @policy: what forwards may reach (a reference is kept; NULL: nothing). */
PtSession *_pt_session_new_server (PtQuicConn     *conn,
                                   PtServerPolicy *policy);
/* Server: grant only the forwards (PtForwardSpec*, copied) that the accepted
 * offer showed; any other forward in HELLO is refused. NULL: no such check. */
void       _pt_session_set_offered_forwards (PtSession *self,
                                             GPtrArray *forwards);
/* Client, VPN mode (asks with VPN_HELLO instead of forwards). */
PtSession *_pt_session_new_vpn_client (PtQuicConn *conn,
                                       guint8      flags);
/* Server: offer VPN mode; client: where IP packets from the peer go. */
void       _pt_session_set_vpn_hooks  (PtSession               *self,
                                       const PtSessionVpnHooks *hooks,
                                       gpointer                 data);
const PtVpnConfig *_pt_session_get_vpn_config (PtSession *self);
void       _pt_session_vpn_go_up      (PtSession   *self);
/* The largest IP packet the path carries now (0 before the handshake). */
gsize      _pt_session_get_max_ip     (PtSession   *self);
/* FALSE when @len is above _pt_session_get_max_ip() (the caller answers
 * with ICMP) or the session is not up; a packet the send queue cannot take
 * is dropped and still counts as sent. */
gboolean   _pt_session_send_ip        (PtSession    *self,
                                       const guint8 *packet,
                                       gsize         len);
/* Call once the QUIC handshake completed. */
void       _pt_session_start      (PtSession   *self);
/* Closes every forwarded connection. */
void       _pt_session_stop       (PtSession   *self);

guint      _pt_session_get_active_connections (PtSession *self);
guint64    _pt_session_get_bytes_sent         (PtSession *self);
guint64    _pt_session_get_bytes_received     (PtSession *self);
/* Connections and UDP flows refused for a budget (see above). */
guint64    _pt_session_get_refused            (PtSession *self);

/* Binds the local end of a client forward: a listening TCP socket or a UDP
 * socket on @listen_address ("127.0.0.1:2222", "[::1]:0", "2222"). */
GSocket   *_pt_session_bind_forward (PtProto      proto,
                                     const char  *listen_address,
                                     GError     **error);

G_END_DECLS
