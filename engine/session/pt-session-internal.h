/* pt-session-internal.h — what the tunnel protocol and its forwarders share
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Only pt-session.c, pt-forward-tcp.c and pt-forward-udp.c include this: the
 * session's state, and the calls each of them makes into the others.
 */
#pragma once

#include "pt-session-private.h"

G_BEGIN_DECLS

typedef struct _TcpConn TcpConn;

typedef struct
{
  PtSession      *session;        /* unowned */
  guint           index;
  PtForwardSpec  *spec;
  gboolean        accepted;
  char           *reason;         /* server: why it was refused */
  GInetSocketAddress *target;     /* server: the checked address */
  GSocket        *socket;         /* client: listener (TCP) or bound socket (UDP) */
  GSource        *source;
  GSource        *accept_pause;   /* client: listener not polled until this fires */
} Forward;

struct _TcpConn
{
  PtSession  *session;            /* unowned */
  Forward    *forward;
  gint64      stream_id;
  GSocket    *socket;
  GSource    *watch;              /* TcpWatch: one per connection, for its life */
  gboolean    want_in;            /* waiting for the socket to be readable */
  gboolean    want_out;           /* … writable (or connected) */
  gboolean    in_io;              /* inside tcp_conn_io() */
  GQueue      out_queue;          /* GBytes from the tunnel waiting for the socket */
  gsize       out_offset;         /* into the head of out_queue */
  gboolean    connecting;         /* server: non-blocking connect in progress */
  gboolean    header_pending;     /* server: forward index not read yet */
  gboolean    local_eof;          /* socket reached EOF: FIN queued on the stream */
  gboolean    remote_fin;         /* stream FIN received */
  gboolean    write_shut;         /* socket write side shut down */
  gboolean    hup_seen;           /* both directions closed: poll no more for errors */
  gboolean    stream_closed;
  gboolean    holds_fd;           /* its socket took a unit of the descriptor budget */
  gboolean    held_back;          /* not read: the session holds too many unacked bytes */
};

/* Client: which local peer of which forward a flow belongs to. */
typedef struct
{
  guint8  index;
  guint8  family;
  guint16 port;
  guint8  addr[16];
} PeerKey;

typedef struct
{
  PtSession      *session;        /* unowned */
  Forward        *forward;
  guint32         flow_id;
  PeerKey         peer_key;       /* client: the key in udp_by_peer */
  GSocketAddress *peer;           /* client: the local UDP peer */
  GSocket        *socket;         /* server: a connected UDP socket (one budget unit) */
  GSource        *source;
  gint64          last_active;
} UdpFlow;

struct _PtSession
{
  GObject          parent_instance;

  PtQuicConn      *conn;
  gboolean         is_client;
  gboolean         up;
  gboolean         stopped;

  GPtrArray       *forwards;       /* Forward* */
  PtServerPolicy  *policy;        /* server: what forwards may reach */
  GPtrArray       *offered;        /* server: PtForwardSpec* of the accepted offer; NULL: no offer */

  gint64           control_stream;
  PtControlParser *parser;
  guint            resolves_pending;
  GCancellable    *cancellable;

  GHashTable      *tcp_conns;      /* stream id → TcpConn* */
  GHashTable      *udp_flows;      /* flow id → UdpFlow* */
  GHashTable      *udp_by_peer;    /* client: &flow->peer_key → UdpFlow* (unowned) */
  guint32          next_flow_id;
  GSource         *udp_sweep;

  guint64          bytes_sent;
  guint64          bytes_received;
  GSource         *counters_notify;

  /* Budgets: connections and flows refused, logged at most once a second */
  guint64          refused;
  guint64          refused_logged;
  gint64           refused_logged_at;
  guint            n_held_back;    /* TcpConns with held_back set */
  guint            fds;            /* descriptor budget units taken */

  /* VPN mode */
  gboolean         vpn;
  guint8           vpn_flags;      /* client: what it asks for */
  PtVpnConfig      vpn_config;     /* client: what it got */
  const PtSessionVpnHooks *vpn_hooks;
  gpointer         vpn_data;
};

/* pt-session.c: sources, counters and budgets */
GSource *
_pt_session_watch_socket (GSocket       *socket,
                          GIOCondition   condition,
                          GSourceFunc    func,
                          gpointer       data);
void
_pt_session_clear_source (GSource **source);
void
_pt_session_add_bytes (PtSession *self,
                       gboolean   sent,
                       gsize      n);
void
_pt_session_refuse (PtSession  *self,
                    const char *what,
                    const char *why);
gboolean
_pt_session_take_fd (PtSession  *self,
                     const char *what);
void
_pt_session_release_fd (PtSession *self);
void
_pt_session_release_held_back (PtSession *self);
void
_pt_session_notify_active_connections (PtSession *self);

/* pt-forward-tcp.c */
void
_pt_tcp_conn_free (TcpConn *tc);
void
_pt_tcp_conn_remove (TcpConn *tc);
void
_pt_tcp_conn_abort (TcpConn *tc);
gboolean
_pt_tcp_conn_pump_in (TcpConn *tc);
void
_pt_tcp_conn_flush_out (TcpConn *tc);
TcpConn *
_pt_tcp_conn_new (PtSession *self,
                  Forward   *forward,
                  gint64     stream_id,
                  GSocket   *socket);
gboolean
_pt_tcp_accept_cb (GSocket      *socket,
                   GIOCondition  condition,
                   gpointer      user_data);
void
_pt_tcp_conn_connect (TcpConn *tc,
                      guint8   index);

/* pt-forward-udp.c */
void
_pt_udp_flow_free (UdpFlow *flow);
guint
_pt_udp_peer_key_hash (gconstpointer key);
gboolean
_pt_udp_peer_key_equal (gconstpointer a,
                        gconstpointer b);
void
_pt_udp_socket_tune (GSocket *socket,
                     int      size);
gboolean
_pt_udp_listener_cb (GSocket      *socket,
                     GIOCondition  condition,
                     gpointer      user_data);
void
_pt_udp_on_datagram (const guint8 *data,
                     gsize         len,
                     gpointer      user_data);

G_END_DECLS
