/* pt-session.c — the tunnel protocol over one QUIC connection
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-session"
#define _GNU_SOURCE

#include "config.h"

#include <string.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "pt-budget-private.h"
#include "pt-control-private.h"
#include "pt-session-private.h"

/* One stream fills a 100 ms × 1 Gbit/s path, within the session's cap. */
G_STATIC_ASSERT ((guint64) PT_SESSION_MAX_QUEUED >=
                 (guint64) PT_QUIC_BDP_RATE_BYTES_PER_S * PT_QUIC_BDP_RTT_MS / 1000);
G_STATIC_ASSERT (PT_SESSION_MAX_QUEUED <= PT_SESSION_MAX_HELD);

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

enum { PROP_0, PROP_ACTIVE_CONNECTIONS, PROP_BYTES_SENT, PROP_BYTES_RECEIVED, N_PROPS };
enum { UP, REJECTED, FAILED, VPN_CONFIG, N_SIGNALS };

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (PtSession, pt_session, G_TYPE_OBJECT)

static gboolean tcp_conn_pump_in (TcpConn *tc);
static void tcp_conn_flush_out (TcpConn *tc);
static gboolean tcp_conn_maybe_finish (TcpConn *tc);
static void tcp_conn_io (TcpConn *tc, GIOCondition revents);

/* One source per TCP connection, polled for what the connection waits for.
 * The events are changed in the GPollFD itself: GLib reads it before every
 * poll, and unlike g_source_modify_unix_fd() or a new source per EAGAIN this
 * wakes no one (GLib 2.74 writes its wake-up eventfd for those).  A socket
 * we wait for nothing from is polled for errors only (a local application
 * that resets its connection while the tunnel holds its reads must free
 * the stream), and not at all once it has hung up normally, so that a
 * hung-up peer cannot make poll() return at once for ever. */
typedef struct
{
  GSource  source;
  GPollFD  pfd;
  gboolean polled;
  TcpConn *tc;
} TcpWatch;

static gboolean
tcp_watch_check (GSource *source)
{
  TcpWatch *watch = (TcpWatch *) source;

  return watch->polled && (watch->pfd.revents & watch->pfd.events) != 0;
}

static gboolean
tcp_watch_dispatch (GSource     *source,
                    GSourceFunc  callback,
                    gpointer     user_data)
{
  TcpWatch *watch = (TcpWatch *) source;
  GIOCondition revents = watch->pfd.revents & watch->pfd.events;

  watch->pfd.revents = 0;
  tcp_conn_io (watch->tc, revents);    /* may free the connection and this source */
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs tcp_watch_funcs = { NULL, tcp_watch_check, tcp_watch_dispatch, NULL, NULL, NULL };

static void
tcp_watch_update (TcpConn *tc)
{
  TcpWatch *watch;
  gushort events = (tc->want_in ? G_IO_IN : 0) | (tc->want_out ? G_IO_OUT : 0);
  gushort polled_events;

  if (events != 0)
    polled_events = events | G_IO_ERR | G_IO_HUP;
  else if (tc->socket != NULL && !tc->connecting && !tc->hup_seen)
    polled_events = G_IO_ERR | G_IO_HUP;
  else
    polled_events = 0;

  if (tc->watch == NULL)
    {
      if (polled_events == 0 || tc->socket == NULL)
        return;
      tc->watch = g_source_new (&tcp_watch_funcs, sizeof (TcpWatch));
      watch = (TcpWatch *) tc->watch;
      watch->tc = tc;
      watch->pfd.fd = g_socket_get_fd (tc->socket);
      g_source_set_static_name (tc->watch, "[pt] TCP connection");
      /* Not blocked while dispatched: GLib would take its fd out of the
       * poll set and put it back, waking the context, on every event. */
      g_source_set_can_recurse (tc->watch, TRUE);
      g_source_attach (tc->watch, g_main_context_get_thread_default ());
    }
  watch = (TcpWatch *) tc->watch;

  watch->pfd.events = polled_events;
  if (polled_events != 0 && !watch->polled)
    {
      g_source_add_poll (tc->watch, &watch->pfd);
      watch->polled = TRUE;
    }
  else if (polled_events == 0 && watch->polled)
    {
      g_source_remove_poll (tc->watch, &watch->pfd);
      watch->polled = FALSE;
      watch->pfd.revents = 0;
    }
}

static void
tcp_conn_want (TcpConn  *tc,
               gboolean  in,
               gboolean  out)
{
  if (tc->want_in == in && tc->want_out == out)
    return;
  tc->want_in = in;
  tc->want_out = out;
  /* Inside tcp_conn_io() the poll is updated once, at the end: adding and
   * removing it wake the context. */
  if (!tc->in_io)
    tcp_watch_update (tc);
}

static GSource *
watch_socket (GSocket       *socket,
              GIOCondition   condition,
              GSourceFunc    func,
              gpointer       data)
{
  GSource *source = g_socket_create_source (socket, condition, NULL);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_source_unref (*source);
      *source = NULL;
    }
}

static void
session_fail (PtSession  *self,
              GError     *error)
{
  if (self->stopped)
    return;
  g_debug ("session failed: %s", error->message);
  g_signal_emit (self, signals[FAILED], 0, error);
}

static gboolean
notify_counters_cb (gpointer user_data)
{
  PtSession *self = user_data;

  g_clear_pointer (&self->counters_notify, g_source_unref);
  g_object_freeze_notify (G_OBJECT (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_SENT]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BYTES_RECEIVED]);
  g_object_thaw_notify (G_OBJECT (self));
  return G_SOURCE_REMOVE;
}

/* Counters change with every chunk; a UI needs a few updates a second, so
 * notifications are batched. */
static void
add_bytes (PtSession *self,
           gboolean   sent,
           gsize      n)
{
  if (sent)
    self->bytes_sent += n;
  else
    self->bytes_received += n;

  if (self->counters_notify == NULL && !self->stopped)
    {
      self->counters_notify = g_timeout_source_new (PT_SESSION_COUNTERS_NOTIFY_MS);
      g_source_set_callback (self->counters_notify, notify_counters_cb, self, NULL);
      g_source_set_static_name (self->counters_notify, "[pt] session counters");
      g_source_attach (self->counters_notify, g_main_context_get_thread_default ());
    }
}

/* The tunnel already batches what it sends: Nagle would only add delay
 * to small request/response exchanges. */
static void
set_no_delay (GSocket *socket)
{
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
}

/* Forwards */

static void
forward_free (Forward *forward)
{
  clear_source (&forward->source);
  clear_source (&forward->accept_pause);
  /* A client's listener belongs to its tunnel, which may keep it open for
   * the next session (reconnection). */
  g_clear_object (&forward->socket);
  g_clear_object (&forward->target);
  g_free (forward->reason);
  pt_forward_spec_free (forward->spec);
  g_free (forward);
}

static Forward *
forward_new (PtSession           *self,
             const PtForwardSpec *spec)
{
  Forward *forward = g_new0 (Forward, 1);

  forward->session = self;
  forward->index = self->forwards->len;
  forward->spec = pt_forward_spec_copy (spec);
  g_ptr_array_add (self->forwards, forward);
  return forward;
}

/* Budgets */

/* A connection or flow is refused for want of a budget: count it, and say
 * so in the log at most once a second (a client can ask many times). */
static void
session_refuse (PtSession  *self,
                const char *what,
                const char *why)
{
  gint64 now = g_get_monotonic_time ();

  self->refused++;
  if (self->refused_logged_at != 0 && now - self->refused_logged_at < G_USEC_PER_SEC)
    return;

  g_message ("refused %s: %s (%" G_GUINT64_FORMAT " refused in this session)",
             what, why, self->refused);
  self->refused_logged = self->refused;
  self->refused_logged_at = now;
}

/* A socket for @what takes a unit of the process's descriptor budget, if
 * this session has not used up its share: one client cannot take the
 * descriptors every other client needs. */
static gboolean
session_take_fd (PtSession  *self,
                 const char *what)
{
  guint limit = _pt_budget_get_fd_limit ();
  guint share = MAX (PT_SESSION_MIN_FD_SHARE, limit / PT_SESSION_FD_SHARE_DIVISOR);
  g_autofree char *why = NULL;

  if (self->fds < share && _pt_budget_take_fd ())
    {
      self->fds++;
      return TRUE;
    }

  if (self->fds >= share)
    why = g_strdup_printf ("this tunnel already holds %u connections, its share of the "
                           "%u descriptors pt keeps for forwarded connections",
                           self->fds, limit);
  else
    why = g_strdup_printf ("all %u descriptors pt keeps for forwarded connections are in use",
                           limit);
  session_refuse (self, what, why);
  return FALSE;
}

static void
session_release_fd (PtSession *self)
{
  g_return_if_fail (self->fds > 0);

  self->fds--;
  _pt_budget_release_fd ();
}

/* TCP connections */

/* Bytes the peer sent that will never be written: they count as consumed,
 * or QUIC's connection window would shrink by them for good (ngtcp2 only
 * returns what it never handed over), and after enough reset connections
 * the whole tunnel would stall. */
static void
tcp_conn_drop_out_queue (TcpConn *tc)
{
  PtQuicConn *conn = tc->session->conn;
  gsize dropped = 0;

  for (GList *l = tc->out_queue.head; l != NULL; l = l->next)
    dropped += g_bytes_get_size (l->data);
  dropped -= MIN (dropped, tc->out_offset);
  g_queue_clear_full (&tc->out_queue, (GDestroyNotify) g_bytes_unref);
  tc->out_offset = 0;

  if (dropped > 0 && conn != NULL)
    _pt_quic_conn_stream_consumed (conn, tc->stream_id, dropped);
}

static void
tcp_conn_free (TcpConn *tc)
{
  tcp_conn_drop_out_queue (tc);
  clear_source (&tc->watch);
  if (tc->socket != NULL)
    g_socket_close (tc->socket, NULL);
  g_clear_object (&tc->socket);
  if (tc->holds_fd)
    session_release_fd (tc->session);
  if (tc->held_back)
    tc->session->n_held_back--;
  g_free (tc);
}

static void
tcp_conn_remove (TcpConn *tc)
{
  PtSession *self = tc->session;

  g_debug ("stream %" G_GINT64_FORMAT ": connection finished", tc->stream_id);
  /* Frees tc through the table's value destructor. */
  g_hash_table_remove (self->tcp_conns, (gpointer) (gintptr) tc->stream_id);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_CONNECTIONS]);
}

static void
tcp_conn_abort (TcpConn *tc)
{
  if (!tc->stream_closed)
    _pt_quic_conn_stream_abort (tc->session->conn, tc->stream_id, 1);
  tcp_conn_remove (tc);
}


static gboolean tcp_conn_pump_in_queue (TcpConn *tc);

/* Socket → stream, while the stream's unacked queue has room, then one
 * write for all of it.  FALSE when @tc is gone (freed) afterwards. */
static gboolean
tcp_conn_pump_in (TcpConn *tc)
{
  g_autoptr(PtSession) self = g_object_ref (tc->session);
  g_autoptr(PtQuicConn) conn = g_object_ref (self->conn);
  gint64 stream_id = tc->stream_id;

  if (!tcp_conn_pump_in_queue (tc))
    return FALSE;
  /* The events this emits may end this very connection (its stream
   * closed, or the whole session): look it up again. */
  _pt_quic_conn_flush (conn);
  return g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id) == tc;
}

static gboolean
tcp_conn_pump_in_queue (TcpConn *tc)
{
  PtSession *self = tc->session;

  while (!tc->local_eof && !tc->connecting)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *buf = NULL;
      gssize n;

      if (_pt_quic_conn_stream_get_queued (self->conn, tc->stream_id) >= PT_SESSION_MAX_QUEUED)
        {
          tcp_conn_want (tc, FALSE, tc->want_out);
          return TRUE; /* resumed from "stream-acked" */
        }
      /* Past the session's cap a connection keeps a little in flight, so
       * that connections that never read cannot starve the others. */
      if (_pt_quic_conn_get_held_bytes (self->conn) >= PT_SESSION_MAX_HELD &&
          _pt_quic_conn_stream_get_queued (self->conn, tc->stream_id) >= PT_SESSION_MIN_QUEUED)
        {
          if (!tc->held_back)
            {
              tc->held_back = TRUE;
              self->n_held_back++;
            }
          tcp_conn_want (tc, FALSE, tc->want_out);
          return TRUE; /* resumed by session_release_held_back() */
        }

      buf = g_malloc (PT_SESSION_READ_CHUNK);
      n = g_socket_receive (tc->socket, (char *) buf, PT_SESSION_READ_CHUNK, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          tcp_conn_want (tc, TRUE, tc->want_out);
          return TRUE;
        }
      if (n < 0)
        {
          g_debug ("stream %" G_GINT64_FORMAT ": socket read failed: %s",
                   tc->stream_id, error->message);
          tcp_conn_abort (tc);
          return FALSE;
        }
      if (n == 0)
        {
          g_debug ("stream %" G_GINT64_FORMAT ": local EOF, sending FIN", tc->stream_id);
          tc->local_eof = TRUE;
          _pt_quic_conn_stream_shutdown_write (self->conn, tc->stream_id);
          return !tcp_conn_maybe_finish (tc);
        }

      add_bytes (self, TRUE, n);
      {
        /* A short read keeps only what it read (QUIC holds a chunk until
         * the peer acknowledges it), and means the socket is drained: wait
         * for it instead of reading again for EAGAIN. */
        g_autoptr(GBytes) chunk = n == PT_SESSION_READ_CHUNK
                                  ? g_bytes_new_take (g_steal_pointer (&buf), n)
                                  : g_bytes_new (buf, n);

        _pt_quic_conn_stream_send (self->conn, tc->stream_id, chunk);
        if (n < PT_SESSION_READ_CHUNK)
          {
            tcp_conn_want (tc, TRUE, tc->want_out);
            return TRUE;
          }
      }
    }
  return TRUE;
}

/* The socket is ready for what @tc waited for. */
static void
tcp_conn_io (TcpConn      *tc,
             GIOCondition  revents)
{
  PtSession *self = tc->session;
  gint64 stream_id = tc->stream_id;
  gboolean in = (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0 && tc->want_in;
  gboolean out = (revents & (G_IO_OUT | G_IO_HUP | G_IO_ERR)) != 0 && tc->want_out;

  /* Waiting for nothing (reads held back for the stream's window): an
   * error or a hang-up before our own FIN means the application reset the
   * connection; after our FIN, it closed its side too (its last bytes are
   * read when reading resumes). */
  if (!tc->want_in && !tc->want_out && (revents & (G_IO_ERR | G_IO_HUP)) != 0)
    {
      int err = 0;
      socklen_t len = sizeof err;

      if (getsockopt (g_socket_get_fd (tc->socket), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
      if (err != 0 || !tc->write_shut)
        {
          g_debug ("stream %" G_GINT64_FORMAT ": the local connection is gone (%s)",
                   tc->stream_id, err != 0 ? g_strerror (err) : "hung up");
          tcp_conn_abort (tc);
          return;
        }
      tc->hup_seen = TRUE;
      tcp_watch_update (tc);
      return;
    }

  /* Wait for nothing until the handlers below say what they need. */
  tc->in_io = TRUE;
  tcp_conn_want (tc, in ? FALSE : tc->want_in, out ? FALSE : tc->want_out);

  if (out && tc->connecting)
    {
      g_autoptr(GError) error = NULL;

      if (!g_socket_check_connect_result (tc->socket, &error))
        {
          g_message ("connecting to %s failed: %s",
                     tc->forward->spec->host, error->message);
          tcp_conn_abort (tc);
          return;
        }
      g_debug ("stream %" G_GINT64_FORMAT ": connected", tc->stream_id);
      tc->connecting = FALSE;
      in = TRUE;
    }

  if (in && !tcp_conn_pump_in (tc))
    return;
  if (out)
    tcp_conn_flush_out (tc);

  /* Still there (ids are never reused): poll for what it now waits for. */
  if (g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id) == tc)
    {
      tc->in_io = FALSE;
      tcp_watch_update (tc);
    }
}

/* Stream → socket; flow-control credit goes back as bytes reach the socket. */
static void
tcp_conn_flush_out (TcpConn *tc)
{
  PtSession *self = tc->session;

  if (tc->connecting)
    return;

  while (!g_queue_is_empty (&tc->out_queue))
    {
      g_autoptr(GError) error = NULL;
      GBytes *head = g_queue_peek_head (&tc->out_queue);
      gsize len;
      const guint8 *data = g_bytes_get_data (head, &len);
      gssize n;

      n = g_socket_send (tc->socket, (const char *) data + tc->out_offset,
                         len - tc->out_offset, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          tcp_conn_want (tc, tc->want_in, TRUE);
          return;
        }
      if (n < 0)
        {
          g_debug ("stream %" G_GINT64_FORMAT ": socket write failed: %s",
                   tc->stream_id, error->message);
          tcp_conn_abort (tc);
          return;
        }

      add_bytes (self, FALSE, n);
      _pt_quic_conn_stream_consumed (self->conn, tc->stream_id, n);
      tc->out_offset += n;
      if (tc->out_offset == len)
        {
          g_bytes_unref (g_queue_pop_head (&tc->out_queue));
          tc->out_offset = 0;
        }
    }

  if (tc->remote_fin && !tc->write_shut)
    {
      g_debug ("stream %" G_GINT64_FORMAT ": FIN received, shutting down socket writes",
               tc->stream_id);
      tc->write_shut = TRUE;
      g_socket_shutdown (tc->socket, FALSE, TRUE, NULL);
    }

  tcp_conn_maybe_finish (tc);
}

/* TRUE when @tc was finished (and freed). */
static gboolean
tcp_conn_maybe_finish (TcpConn *tc)
{
  /* Both directions done and QUIC forgot the stream: nothing left to carry. */
  if (tc->local_eof && tc->write_shut && tc->stream_closed)
    {
      tcp_conn_remove (tc);
      return TRUE;
    }
  return FALSE;
}

static TcpConn *
tcp_conn_new (PtSession *self,
              Forward   *forward,
              gint64     stream_id,
              GSocket   *socket)
{
  TcpConn *tc = g_new0 (TcpConn, 1);

  tc->session = self;
  tc->forward = forward;
  tc->stream_id = stream_id;
  tc->socket = socket;
  g_queue_init (&tc->out_queue);
  g_hash_table_insert (self->tcp_conns, (gpointer) (gintptr) stream_id, tc);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_CONNECTIONS]);
  return tc;
}

static gboolean tcp_accept_cb (GSocket *socket, GIOCondition condition, gpointer user_data);

static gboolean
forward_resume_accepting_cb (gpointer user_data)
{
  Forward *forward = user_data;

  g_clear_pointer (&forward->accept_pause, g_source_unref);
  forward->source = watch_socket (forward->socket, G_IO_IN, (GSourceFunc) tcp_accept_cb, forward);
  return G_SOURCE_REMOVE;
}

/* From the listener's own callback. */
static void
forward_pause_accepting (Forward *forward)
{
  if (forward->accept_pause != NULL)
    return;

  clear_source (&forward->source);
  forward->accept_pause = g_timeout_source_new (PT_SESSION_ACCEPT_PAUSE_MS);
  g_source_set_callback (forward->accept_pause, forward_resume_accepting_cb, forward, NULL);
  g_source_attach (forward->accept_pause, g_main_context_get_thread_default ());
}

/* Client: a local application connected to a forward's listener. */
static gboolean
tcp_accept_cb (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  Forward *forward = user_data;
  PtSession *self = forward->session;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (socket, NULL, &error);
      guint8 header = forward->index;
      gint64 stream_id;
      TcpConn *tc;

      if (client == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          /* Out of descriptors (or another error that would repeat): the
           * connection stays in the backlog; stop polling for a while
           * rather than spin on a listener that stays readable. */
          session_refuse (self, "a local connection", error->message);
          forward_pause_accepting (forward);
          break;
        }

      if (!session_take_fd (self, "a local connection"))
        continue; /* dropping the socket closes it */

      stream_id = _pt_quic_conn_open_stream (self->conn, &error);
      if (stream_id < 0)
        {
          session_release_fd (self);
          session_refuse (self, "a local connection", error->message);
          continue;
        }

      g_socket_set_blocking (client, FALSE);
      set_no_delay (client);
      tc = tcp_conn_new (self, forward, stream_id, g_steal_pointer (&client));
      tc->holds_fd = TRUE;
      g_debug ("stream %" G_GINT64_FORMAT ": new connection for %s",
               stream_id, forward->spec->host);
      {
        g_autoptr(GBytes) bytes = g_bytes_new (&header, 1);

        _pt_quic_conn_stream_send (self->conn, stream_id, bytes);
      }
      tcp_conn_pump_in (tc);
    }

  return G_SOURCE_CONTINUE;
}

/* Server: a data stream named its forward; connect to the checked address. */
static void
tcp_conn_connect (TcpConn *tc,
                  guint8   index)
{
  PtSession *self = tc->session;
  g_autoptr(GError) error = NULL;
  Forward *forward;
  GSocket *socket;

  if (index >= self->forwards->len ||
      !(forward = g_ptr_array_index (self->forwards, index))->accepted ||
      forward->spec->proto != PT_PROTO_TCP)
    {
      g_message ("a stream asked for forward %u, which was not granted: refusing it", index);
      tcp_conn_abort (tc);
      return;
    }

  tc->forward = forward;
  if (!session_take_fd (self, "a connection"))
    {
      tcp_conn_abort (tc);
      return;
    }
  tc->holds_fd = TRUE;
  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (forward->target)),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  if (socket == NULL)
    {
      g_message ("cannot create a socket: %s", error->message);
      tcp_conn_abort (tc);
      return;
    }
  g_socket_set_blocking (socket, FALSE);
  set_no_delay (socket);
  tc->socket = socket;
  tc->connecting = TRUE;

  if (!g_socket_connect (socket, G_SOCKET_ADDRESS (forward->target), NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      g_message ("connecting to %s failed: %s", forward->spec->host, error->message);
      tcp_conn_abort (tc);
      return;
    }

  /* Even a connect that finished at once completes in tcp_conn_io(), so
   * that there is one path from "connecting" to "carrying data". */
  tcp_conn_want (tc, FALSE, TRUE);
}

/* UDP flows */

static void
udp_flow_free (UdpFlow *flow)
{
  clear_source (&flow->source);
  if (flow->socket != NULL)
    {
      g_socket_close (flow->socket, NULL);
      session_release_fd (flow->session);
    }
  g_clear_object (&flow->socket);
  g_clear_object (&flow->peer);
  g_free (flow);
}

static guint
peer_key_hash (gconstpointer key)
{
  const guint8 *bytes = key;
  guint hash = 5381;

  for (gsize i = 0; i < sizeof (PeerKey); i++)
    hash = hash * 33 + bytes[i];
  return hash;
}

static gboolean
peer_key_equal (gconstpointer a,
                gconstpointer b)
{
  return memcmp (a, b, sizeof (PeerKey)) == 0;
}

/* FALSE for an address that is no IP one. */
static gboolean
peer_key_init (PeerKey               *key,
               guint8                 index,
               const struct sockaddr *address)
{
  memset (key, 0, sizeof *key);
  key->index = index;
  key->family = (guint8) address->sa_family;
  if (address->sa_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) address;

      key->port = sin->sin_port;
      memcpy (key->addr, &sin->sin_addr, 4);
      return TRUE;
    }
  if (address->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) address;

      key->port = sin6->sin6_port;
      memcpy (key->addr, &sin6->sin6_addr, 16);
      return TRUE;
    }
  return FALSE;
}

static void
udp_flow_remove (UdpFlow *flow)
{
  PtSession *self = flow->session;

  if (flow->peer != NULL)
    g_hash_table_remove (self->udp_by_peer, &flow->peer_key);
  g_hash_table_remove (self->udp_flows, GUINT_TO_POINTER (flow->flow_id));
}

static void
udp_send_datagram (PtSession    *self,
                   UdpFlow      *flow,
                   const guint8 *payload,
                   gsize         len)
{
  guint8 buf[PT_DATAGRAM_HEADER_LEN + 65536];
  gsize header;

  if (len + PT_DATAGRAM_HEADER_LEN > _pt_quic_conn_get_max_datagram (self->conn))
    {
      g_debug ("dropping a %zu-byte UDP datagram: larger than the path carries", len);
      return;
    }
  header = _pt_datagram_header_write (buf, flow->forward->index, flow->flow_id);
  memcpy (buf + header, payload, len);
  if (_pt_quic_conn_send_datagram (self->conn, buf, header + len))
    add_bytes (self, TRUE, len);
  flow->last_active = g_get_monotonic_time ();
}

static gboolean
udp_sweep_cb (gpointer user_data)
{
  PtSession *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  UdpFlow *flow;
  GPtrArray *idle = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->udp_flows);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &flow))
    if (now - flow->last_active > PT_SESSION_UDP_IDLE_S * G_USEC_PER_SEC)
      g_ptr_array_add (idle, flow);

  for (guint i = 0; i < idle->len; i++)
    {
      flow = g_ptr_array_index (idle, i);
      g_debug ("UDP flow %u idle for %d s: forgetting it", flow->flow_id, PT_SESSION_UDP_IDLE_S);
      udp_flow_remove (flow);
    }
  g_ptr_array_unref (idle);

  if (g_hash_table_size (self->udp_flows) > 0)
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&self->udp_sweep, g_source_unref);
  return G_SOURCE_REMOVE;
}

static UdpFlow *
udp_flow_new (PtSession *self,
              Forward   *forward,
              guint32    flow_id)
{
  UdpFlow *flow = g_new0 (UdpFlow, 1);

  flow->session = self;
  flow->forward = forward;
  flow->flow_id = flow_id;
  flow->last_active = g_get_monotonic_time ();
  g_hash_table_insert (self->udp_flows, GUINT_TO_POINTER (flow_id), flow);

  if (self->udp_sweep == NULL)
    {
      self->udp_sweep = g_timeout_source_new_seconds (PT_SESSION_UDP_IDLE_S / 4);
      g_source_set_callback (self->udp_sweep, udp_sweep_cb, self, NULL);
      g_source_attach (self->udp_sweep, g_main_context_get_thread_default ());
    }
  return flow;
}

/* Receive buffers for forwarded UDP, one set per thread: a batch goes into
 * QUIC's queue (copied) before the next is read. */
typedef struct
{
  struct mmsghdr           msgs[PT_SESSION_UDP_BATCH];
  struct iovec             iov[PT_SESSION_UDP_BATCH];
  struct sockaddr_storage  names[PT_SESSION_UDP_BATCH];
  guint8                   data[PT_SESSION_UDP_BATCH][65536];
} UdpBuffers;

static GPrivate udp_buffers_key = G_PRIVATE_INIT (g_free);

/* Up to PT_SESSION_UDP_BATCH datagrams from @socket in one recvmmsg();
 * 0 when there is none (or on error). */
static int
udp_receive_batch (GSocket     *socket,
                   UdpBuffers **buffers)
{
  UdpBuffers *rx = g_private_get (&udp_buffers_key);
  int n;

  if (rx == NULL)
    {
      rx = g_malloc (sizeof *rx);
      g_private_set (&udp_buffers_key, rx);
    }
  for (guint i = 0; i < PT_SESSION_UDP_BATCH; i++)
    {
      rx->iov[i].iov_base = rx->data[i];
      rx->iov[i].iov_len = sizeof rx->data[i];
      memset (&rx->msgs[i].msg_hdr, 0, sizeof rx->msgs[i].msg_hdr);
      rx->msgs[i].msg_hdr.msg_name = &rx->names[i];
      rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->names[i];
      rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
      rx->msgs[i].msg_hdr.msg_iovlen = 1;
    }
  do
    n = recvmmsg (g_socket_get_fd (socket), rx->msgs, PT_SESSION_UDP_BATCH, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  *buffers = rx;
  return MAX (n, 0);
}

/* Forwarded UDP sockets: big buffers, so a burst waits in the kernel
 * instead of being dropped there. */
static void
udp_socket_tune (GSocket *socket,
                 int      size)
{
  int fd = g_socket_get_fd (socket);

  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/* Client: datagrams from local UDP peers of a forward, a batch at a time;
 * one QUIC write for each batch. */
static gboolean
udp_listener_cb (GSocket      *socket,
                 GIOCondition  condition,
                 gpointer      user_data)
{
  Forward *forward = user_data;
  PtSession *self = forward->session;
  g_autoptr(PtSession) hold = g_object_ref (self);

  for (guint round = 0; round < PT_SESSION_UDP_ROUNDS && !self->stopped; round++)
    {
      UdpBuffers *rx;
      int n = udp_receive_batch (socket, &rx);

      for (int i = 0; i < n && !self->stopped; i++)
        {
          struct sockaddr *from = (struct sockaddr *) &rx->names[i];
          PeerKey key;
          UdpFlow *flow;

          if (!peer_key_init (&key, forward->index, from))
            continue;
          flow = g_hash_table_lookup (self->udp_by_peer, &key);
          if (flow == NULL)
            {
              if (g_hash_table_size (self->udp_flows) >= PT_SESSION_MAX_UDP_FLOWS)
                {
                  session_refuse (self, "a datagram from a new local UDP peer",
                                  "the tunnel already carries its most UDP flows");
                  continue;
                }
              flow = udp_flow_new (self, forward, self->next_flow_id++);
              flow->peer_key = key;
              flow->peer = g_socket_address_new_from_native (from, rx->msgs[i].msg_hdr.msg_namelen);
              g_hash_table_insert (self->udp_by_peer, &flow->peer_key, flow);
              g_debug ("UDP flow %u: new local peer", flow->flow_id);
            }
          udp_send_datagram (self, flow, rx->data[i], rx->msgs[i].msg_len);
        }
      if (n < PT_SESSION_UDP_BATCH)
        break;
    }
  if (!self->stopped)
    _pt_quic_conn_flush (self->conn);

  return G_SOURCE_CONTINUE;
}

/* Server: replies from the target of a flow. */
static gboolean
udp_target_cb (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  UdpFlow *flow = user_data;
  PtSession *self = flow->session;
  g_autoptr(PtSession) hold = g_object_ref (self);
  guint32 flow_id = flow->flow_id;

  for (guint round = 0; round < PT_SESSION_UDP_ROUNDS; round++)
    {
      UdpBuffers *rx;
      int n = udp_receive_batch (socket, &rx);

      for (int i = 0; i < n; i++)
        udp_send_datagram (self, flow, rx->data[i], rx->msgs[i].msg_len);
      if (n < PT_SESSION_UDP_BATCH || self->stopped ||
          g_hash_table_lookup (self->udp_flows, GUINT_TO_POINTER (flow_id)) != flow)
        break;
    }
  if (!self->stopped)
    _pt_quic_conn_flush (self->conn);

  return G_SOURCE_CONTINUE;
}

static void
on_datagram (const guint8 *data,
             gsize         len,
             gpointer      user_data)
{
  PtSession *self = user_data;
  const guint8 *payload;
  gsize payload_len;
  guint8 index;
  guint32 flow_id;
  UdpFlow *flow;

  if (!self->up || !_pt_datagram_header_parse (data, len, &index, &flow_id, &payload, &payload_len))
    return;

  if (self->vpn)
    {
      if (index == PT_DATAGRAM_VPN_INDEX && flow_id == 0 && self->vpn_hooks != NULL)
        {
          add_bytes (self, FALSE, payload_len);
          self->vpn_hooks->ip (self, payload, payload_len, self->vpn_data);
        }
      return;
    }

  flow = g_hash_table_lookup (self->udp_flows, GUINT_TO_POINTER (flow_id));

  if (self->is_client)
    {
      if (flow == NULL || flow->forward->index != index)
        return;
      if (g_socket_send_to (flow->forward->socket, flow->peer, (const char *) payload,
                            payload_len, NULL, NULL) >= 0)
        add_bytes (self, FALSE, payload_len);
      flow->last_active = g_get_monotonic_time ();
      return;
    }

  if (flow == NULL)
    {
      g_autoptr(GError) error = NULL;
      Forward *forward;
      GSocket *socket;

      if (index >= self->forwards->len ||
          !(forward = g_ptr_array_index (self->forwards, index))->accepted ||
          forward->spec->proto != PT_PROTO_UDP)
        return;
      if (g_hash_table_size (self->udp_flows) >= PT_SESSION_MAX_UDP_FLOWS)
        {
          session_refuse (self, "a new UDP flow", "the tunnel already carries its most UDP flows");
          return;
        }
      if (!session_take_fd (self, "a new UDP flow"))
        return;

      socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (forward->target)),
                             G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      if (socket == NULL || !g_socket_connect (socket, G_SOCKET_ADDRESS (forward->target), NULL, &error))
        {
          g_message ("cannot reach %s over UDP: %s", forward->spec->host, error->message);
          g_clear_object (&socket);
          session_release_fd (self);
          return;
        }
      g_socket_set_blocking (socket, FALSE);
      udp_socket_tune (socket, PT_SESSION_UDP_FLOW_BUFFER);
      flow = udp_flow_new (self, forward, flow_id);
      flow->socket = socket;
      flow->source = watch_socket (socket, G_IO_IN, (GSourceFunc) udp_target_cb, flow);
      g_debug ("UDP flow %u: new, to %s", flow_id, forward->spec->host);
    }
  else if (flow->forward->index != index)
    return;

  if (g_socket_send (flow->socket, (const char *) payload, payload_len, NULL, NULL) >= 0)
    add_bytes (self, FALSE, payload_len);
  flow->last_active = g_get_monotonic_time ();
}

/* Control stream */

static void
send_control (PtSession              *self,
              const PtControlMessage *msg)
{
  g_autoptr(GBytes) frame = _pt_control_message_encode (msg);

  _pt_quic_conn_stream_send (self->conn, self->control_stream, frame);
}

static void
session_go_up (PtSession *self)
{
  self->up = TRUE;

  if (self->is_client)
    for (guint i = 0; i < self->forwards->len; i++)
      {
        Forward *forward = g_ptr_array_index (self->forwards, i);

        forward->source = watch_socket (forward->socket, G_IO_IN,
                                        forward->spec->proto == PT_PROTO_TCP
                                        ? (GSourceFunc) tcp_accept_cb
                                        : (GSourceFunc) udp_listener_cb,
                                        forward);
      }

  g_debug ("session up");
  g_signal_emit (self, signals[UP], 0);
}

static void
send_verdicts (PtSession *self)
{
  g_autoptr(PtControlMessage) msg = _pt_control_message_new (PT_CONTROL_VERDICT);

  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      _pt_control_message_add_verdict (msg, forward->accepted,
                                       forward->accepted ? "" : forward->reason);
    }

  send_control (self, msg);
  session_go_up (self);
}

static void
reject_forward (PtSession  *self,
                Forward    *forward,
                const char *reason)
{
  g_autofree char *uri = pt_forward_spec_to_string (forward->spec);

  forward->accepted = FALSE;
  g_free (forward->reason);
  forward->reason = g_strdup (reason);
  g_signal_emit (self, signals[REJECTED], 0, uri, reason);
}

typedef struct
{
  PtSession *self;
  Forward   *forward;
} ResolveData;

/* Whether the offer the server accepted showed @spec (same protocol, host and port). */
static gboolean
offer_shows (PtSession           *self,
             const PtForwardSpec *spec)
{
  for (guint i = 0; i < self->offered->len; i++)
    {
      const PtForwardSpec *offered = g_ptr_array_index (self->offered, i);

      if (offered->proto == spec->proto && offered->port == spec->port &&
          g_ascii_strcasecmp (offered->host, spec->host) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
forward_resolved_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autofree ResolveData *data = user_data;
  g_autoptr(GError) error = NULL;
  PtSession *self = data->self;
  Forward *forward = data->forward;
  PtAllowList *allowed;
  GList *addresses;
  g_autofree char *what = NULL;

  addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (self);
      return;
    }

  allowed = pt_server_policy_get_allow_list (self->policy, forward->spec->proto);
  what = pt_forward_spec_to_string (forward->spec);

  /* The client hears which forward (its verdict is in its place; the client
   * names the forward) and why, never the allow-list nor what this server's
   * resolver answered: those stay in the server's log. */
  if (addresses == NULL)
    {
      g_message ("forward %u (%s) refused: %s", forward->index + 1, what,
                 error ? error->message : "no address");
      reject_forward (self, forward, "the server cannot resolve that name");
    }
  else
    {
      /* Connect later to exactly the address checked here. */
      for (GList *l = addresses; l != NULL; l = l->next)
        if (allowed != NULL && pt_allow_list_contains_port (allowed, l->data, forward->spec->port))
          {
            forward->target = G_INET_SOCKET_ADDRESS (
              g_inet_socket_address_new (l->data, forward->spec->port));
            forward->accepted = TRUE;
            break;
          }

      if (!forward->accepted)
        {
          g_autofree char *addr = g_inet_address_to_string (addresses->data);
          g_autofree char *list = allowed ? pt_allow_list_to_string (allowed) : g_strdup ("nothing");
          g_message ("forward %u (%s) refused: %s port %u is not in the allowed %s list (%s)",
                     forward->index + 1, what, addr, forward->spec->port,
                     forward->spec->proto == PT_PROTO_TCP ? "TCP" : "UDP", list);
          reject_forward (self, forward, "not allowed by the server");
        }
      else
        g_debug ("forward %u allowed: %s", forward->index, forward->spec->host);
    }
  g_resolver_free_addresses (addresses);

  if (--self->resolves_pending == 0 && !self->stopped)
    send_verdicts (self);
  g_object_unref (self);
}

static void
handle_hello (PtSession        *self,
              PtControlMessage *msg)
{
  g_autoptr(GResolver) resolver = g_resolver_get_default ();

  if (self->forwards->len > 0 || msg->version != PT_CONTROL_VERSION)
    {
      g_autoptr(GError) error =
        g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                     msg->version != PT_CONTROL_VERSION
                     ? "the client speaks another tunnel protocol version: update both sides"
                     : "the client sent HELLO twice");
      session_fail (self, error);
      return;
    }

  self->resolves_pending = msg->forwards->len;
  for (guint i = 0; i < msg->forwards->len; i++)
    {
      Forward *forward = forward_new (self, g_ptr_array_index (msg->forwards, i));
      GInetSocketAddress *exposed = pt_server_policy_get_exposed (self->policy, forward->spec->proto);
      ResolveData *data;

      /* Grant only what the accepted offer showed: a modified client could
       * show one forward in the offer and ask for another in HELLO. */
      if (self->offered != NULL && !offer_shows (self, forward->spec))
        {
          g_autofree char *what = pt_forward_spec_to_string (forward->spec);
          g_autofree char *reason = g_strdup_printf ("forward %u was not in the offer",
                                                     forward->index + 1);

          g_message ("forward %u (%s) refused: the client asked for it, but its offer "
                     "did not show it", forward->index + 1, what);
          reject_forward (self, forward, reason);
          self->resolves_pending--;
          continue;
        }

      if (exposed != NULL)
        {
          /* Named mode: the one exposed service, whatever the client named. */
          forward->target = g_object_ref (exposed);
          forward->accepted = TRUE;
          self->resolves_pending--;
          continue;
        }

      data = g_new0 (ResolveData, 1);

      data->self = g_object_ref (self);
      data->forward = forward;
      g_resolver_lookup_by_name_async (resolver, forward->spec->host, self->cancellable,
                                       forward_resolved_cb, data);
    }
  if (self->resolves_pending == 0)
    send_verdicts (self);
}

static void
handle_vpn_hello (PtSession        *self,
                  PtControlMessage *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtControlMessage) config = _pt_control_message_new (PT_CONTROL_VPN_CONFIG);

  if (msg->version != PT_CONTROL_VERSION)
    error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                         "the client speaks another tunnel protocol version: update both sides");
  else if (self->vpn_hooks == NULL)
    error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                         "this server does not offer VPN mode (it forwards ports: use "
                         "--source/--target)");
  else if (self->vpn_hooks->hello (self, msg->vpn_flags, &config->vpn, &error, self->vpn_data))
    {
      self->vpn = TRUE;
      send_control (self, config);
      session_go_up (self);
      return;
    }

  /* Tell the client why before failing. */
  {
    g_autoptr(PtControlMessage) bye = _pt_control_message_new (PT_CONTROL_CLOSE);

    g_free (bye->reason);
    bye->reason = g_strdup (error->message);
    send_control (self, bye);
  }
  session_fail (self, error);
}

static void
handle_verdict (PtSession        *self,
                PtControlMessage *msg)
{
  g_autoptr(GString) refused = NULL;

  if (msg->verdicts->len != self->forwards->len)
    {
      g_autoptr(GError) error =
        g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                     "the server answered for %u forwards, %u were asked for",
                     msg->verdicts->len, self->forwards->len);
      session_fail (self, error);
      return;
    }

  for (guint i = 0; i < msg->verdicts->len; i++)
    {
      PtVerdict *verdict = g_ptr_array_index (msg->verdicts, i);
      Forward *forward = g_ptr_array_index (self->forwards, i);
      g_autofree char *uri = pt_forward_spec_to_string (forward->spec);

      forward->accepted = verdict->accepted;
      if (verdict->accepted)
        continue;

      if (refused == NULL)
        refused = g_string_new (NULL);
      else
        g_string_append (refused, "; ");
      g_string_append_printf (refused, "server refused %s: %s", uri, verdict->reason);
    }

  if (refused != NULL)
    {
      g_autoptr(GError) error = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                                             "%s", refused->str);
      session_fail (self, error);
      return;
    }

  session_go_up (self);
}

static void
handle_control_data (PtSession *self,
                     GBytes    *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  _pt_control_parser_feed (self->parser, data, len);
  _pt_quic_conn_stream_consumed (self->conn, self->control_stream, len);

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtControlMessage) msg = _pt_control_parser_next (self->parser, &error);

      if (msg == NULL)
        {
          if (error != NULL)
            session_fail (self, error);
          return;
        }

      switch (msg->type)
        {
        case PT_CONTROL_HELLO:
          if (self->is_client)
            goto unexpected;
          handle_hello (self, msg);
          break;

        case PT_CONTROL_VERDICT:
          if (!self->is_client || self->up)
            goto unexpected;
          handle_verdict (self, msg);
          break;

        case PT_CONTROL_VPN_HELLO:
          if (self->is_client || self->forwards->len > 0 || self->vpn)
            goto unexpected;
          handle_vpn_hello (self, msg);
          break;

        case PT_CONTROL_VPN_CONFIG:
          if (!self->is_client || !self->vpn || self->up)
            goto unexpected;
          self->vpn_config = msg->vpn;
          g_debug ("VPN configuration received (MTU %u)", msg->vpn.mtu);
          g_signal_emit (self, signals[VPN_CONFIG], 0);
          break;

        case PT_CONTROL_CLOSE:
          {
            g_autoptr(GError) closed =
              g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_CLOSED,
                           "the peer closed the tunnel: %s", msg->reason);
            session_fail (self, closed);
            return;
          }

        unexpected:
        default:
          {
            g_autoptr(GError) bad = g_error_new (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_PROTOCOL,
                                                 "unexpected control message %d", msg->type);
            session_fail (self, bad);
            return;
          }
        }
    }
}

/* QUIC stream events */

static void
on_stream_opened (PtQuicConn *conn,
                  gint64      stream_id,
                  PtSession  *self)
{
  TcpConn *tc;

  if (self->is_client)
    {
      _pt_quic_conn_stream_abort (conn, stream_id, 1); /* servers open no streams */
      return;
    }

  if (self->control_stream < 0)
    {
      self->control_stream = stream_id;
      g_debug ("stream %" G_GINT64_FORMAT ": control", stream_id);
      return;
    }

  tc = tcp_conn_new (self, NULL, stream_id, NULL);
  tc->header_pending = TRUE;
  tc->connecting = TRUE;
}

static void
on_stream_data (PtQuicConn *conn,
                gint64      stream_id,
                GBytes     *bytes,
                gboolean    fin,
                PtSession  *self)
{
  TcpConn *tc;

  if (stream_id == self->control_stream)
    {
      handle_control_data (self, bytes);
      return;
    }

  tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);
  if (tc == NULL)
    {
      /* A connection already gone: its bytes are dropped, and consumed. */
      _pt_quic_conn_stream_consumed (conn, stream_id, g_bytes_get_size (bytes));
      return;
    }

  if (tc->header_pending && g_bytes_get_size (bytes) > 0)
    {
      const guint8 *data = g_bytes_get_data (bytes, NULL);
      guint8 index = data[0];
      g_autoptr(GBytes) rest = g_bytes_new_from_bytes (bytes, 1, g_bytes_get_size (bytes) - 1);

      tc->header_pending = FALSE;
      _pt_quic_conn_stream_consumed (conn, stream_id, 1);
      if (g_bytes_get_size (rest) > 0)
        g_queue_push_tail (&tc->out_queue, g_bytes_ref (rest));
      tc->remote_fin = fin;
      tcp_conn_connect (tc, index);
      return;
    }
  else if (tc->header_pending)
    {
      if (fin)
        tcp_conn_abort (tc);
      return;
    }

  if (g_bytes_get_size (bytes) > 0)
    g_queue_push_tail (&tc->out_queue, g_bytes_ref (bytes));
  if (fin)
    tc->remote_fin = TRUE;
  tcp_conn_flush_out (tc);
}

/* The session's unacked bytes fell well below its cap: read again from
 * every connection held back for it. */
static void
session_release_held_back (PtSession *self)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  GHashTableIter iter;
  TcpConn *tc;

  g_hash_table_iter_init (&iter, self->tcp_conns);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &tc))
    if (tc->held_back)
      {
        tc->held_back = FALSE;
        g_array_append_val (ids, tc->stream_id);
      }
  self->n_held_back = 0;

  /* Pumping may end connections (and the session): look each one up. */
  for (guint i = 0; i < ids->len && !self->stopped; i++)
    {
      gint64 id = g_array_index (ids, gint64, i);

      tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) id);
      if (tc != NULL && !tc->want_in && !tc->connecting && !tc->local_eof)
        tcp_conn_pump_in (tc);
    }
}

static void
on_stream_acked (PtQuicConn *conn,
                 gint64      stream_id,
                 PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc != NULL && !tc->want_in && !tc->connecting && !tc->local_eof &&
      _pt_quic_conn_stream_get_queued (conn, stream_id) <
      (tc->held_back ? PT_SESSION_MIN_QUEUED : PT_SESSION_MAX_QUEUED / 2))
    {
      g_autoptr(PtSession) hold = g_object_ref (self);

      if (tc->held_back)
        {
          tc->held_back = FALSE;
          self->n_held_back--;
        }
      if (!tcp_conn_pump_in (tc) && self->stopped)
        return;
    }
  if (self->n_held_back > 0 && !self->stopped &&
      _pt_quic_conn_get_held_bytes (conn) < PT_SESSION_MAX_HELD / 2)
    session_release_held_back (self);
}

static void
on_stream_reset (PtQuicConn *conn,
                 gint64      stream_id,
                 PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc != NULL)
    {
      g_debug ("stream %" G_GINT64_FORMAT ": reset by the peer", stream_id);
      tcp_conn_abort (tc);
    }
}

static void
on_stream_closed (PtQuicConn *conn,
                  gint64      stream_id,
                  PtSession  *self)
{
  TcpConn *tc = g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id);

  if (tc == NULL)
    return;

  tc->stream_closed = TRUE;
  if (tc->local_eof && tc->write_shut)
    tcp_conn_remove (tc);
  else if (!tc->remote_fin || tc->header_pending)
    tcp_conn_remove (tc); /* closed without FIN: it was reset */
}

/* Object */

static void
pt_session_dispose (GObject *object)
{
  PtSession *self = PT_SESSION (object);

  _pt_session_stop (self);
  if (self->conn != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->conn, self);
      _pt_quic_conn_set_datagram_func (self->conn, NULL, self);
    }
  g_clear_object (&self->conn);
  G_OBJECT_CLASS (pt_session_parent_class)->dispose (object);
}

static void
pt_session_finalize (GObject *object)
{
  PtSession *self = PT_SESSION (object);

  g_clear_pointer (&self->tcp_conns, g_hash_table_unref);
  g_clear_pointer (&self->udp_by_peer, g_hash_table_unref);
  g_clear_pointer (&self->udp_flows, g_hash_table_unref);
  g_clear_pointer (&self->forwards, g_ptr_array_unref);
  g_clear_pointer (&self->policy, pt_server_policy_unref);
  g_clear_pointer (&self->offered, g_ptr_array_unref);
  g_clear_pointer (&self->parser, _pt_control_parser_free);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pt_session_parent_class)->finalize (object);
}

static void
pt_session_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PtSession *self = PT_SESSION (object);

  switch (prop_id)
    {
    case PROP_ACTIVE_CONNECTIONS:
      g_value_set_uint (value, _pt_session_get_active_connections (self));
      break;
    case PROP_BYTES_SENT:
      g_value_set_uint64 (value, self->bytes_sent);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, self->bytes_received);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_session_class_init (PtSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_session_dispose;
  object_class->finalize = pt_session_finalize;
  object_class->get_property = pt_session_get_property;

  properties[PROP_ACTIVE_CONNECTIONS] =
    g_param_spec_uint ("active-connections", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_SENT] =
    g_param_spec_uint64 ("bytes-sent", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BYTES_RECEIVED] =
    g_param_spec_uint64 ("bytes-received", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[UP] = g_signal_new ("up", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                              0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[REJECTED] = g_signal_new ("rejected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                    G_TYPE_STRING, G_TYPE_STRING);
  signals[FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[VPN_CONFIG] = g_signal_new ("vpn-config", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pt_session_init (PtSession *self)
{
  self->control_stream = -1;
  self->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) forward_free);
  self->tcp_conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) tcp_conn_free);
  self->udp_flows = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) udp_flow_free);
  self->udp_by_peer = g_hash_table_new (peer_key_hash, peer_key_equal);
  self->parser = _pt_control_parser_new ();
  self->cancellable = g_cancellable_new ();
}

static PtSession *
pt_session_new (PtQuicConn *conn,
                gboolean    is_client)
{
  PtSession *self = g_object_new (PT_TYPE_SESSION, NULL);

  self->conn = g_object_ref (conn);
  self->is_client = is_client;
  g_signal_connect (conn, "stream-opened", G_CALLBACK (on_stream_opened), self);
  g_signal_connect (conn, "stream-data", G_CALLBACK (on_stream_data), self);
  g_signal_connect (conn, "stream-acked", G_CALLBACK (on_stream_acked), self);
  g_signal_connect (conn, "stream-reset", G_CALLBACK (on_stream_reset), self);
  g_signal_connect (conn, "stream-closed", G_CALLBACK (on_stream_closed), self);
  _pt_quic_conn_set_datagram_func (conn, on_datagram, self);
  return self;
}

PtSession *
_pt_session_new_client (PtQuicConn *conn,
                        GPtrArray  *forwards,
                        GPtrArray  *sockets)
{
  PtSession *self = pt_session_new (conn, TRUE);

  g_return_val_if_fail (forwards->len == sockets->len, self);

  for (guint i = 0; i < forwards->len; i++)
    {
      Forward *forward = forward_new (self, g_ptr_array_index (forwards, i));

      forward->socket = g_object_ref (g_ptr_array_index (sockets, i));
    }
  return self;
}

PtSession *
_pt_session_new_server (PtQuicConn     *conn,
                        PtServerPolicy *policy)
{
  PtSession *self = pt_session_new (conn, FALSE);

  /* No policy: nothing is allowed. */
  self->policy = policy ? pt_server_policy_ref (policy) : pt_server_policy_new ();
  return self;
}

void
_pt_session_set_offered_forwards (PtSession *self,
                                  GPtrArray *forwards)
{
  g_clear_pointer (&self->offered, g_ptr_array_unref);
  if (forwards == NULL)
    return;
  self->offered = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_forward_spec_free);
  for (guint i = 0; i < forwards->len; i++)
    g_ptr_array_add (self->offered, pt_forward_spec_copy (g_ptr_array_index (forwards, i)));
}

void
_pt_session_start (PtSession *self)
{
  g_autoptr(PtControlMessage) hello = NULL;
  g_autoptr(GError) error = NULL;

  if (!self->is_client)
    return; /* the server waits for HELLO */

  self->control_stream = _pt_quic_conn_open_stream (self->conn, &error);
  if (self->control_stream < 0)
    {
      session_fail (self, error);
      return;
    }

  if (self->vpn)
    {
      hello = _pt_control_message_new (PT_CONTROL_VPN_HELLO);
      hello->vpn_flags = self->vpn_flags;
      send_control (self, hello);
      return;
    }

  hello = _pt_control_message_new (PT_CONTROL_HELLO);
  hello->version = PT_CONTROL_VERSION;
  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      g_ptr_array_add (hello->forwards, pt_forward_spec_copy (forward->spec));
    }
  send_control (self, hello);
}

PtSession *
_pt_session_new_vpn_client (PtQuicConn *conn,
                            guint8      flags)
{
  PtSession *self = pt_session_new (conn, TRUE);

  self->vpn = TRUE;
  self->vpn_flags = flags;
  return self;
}

void
_pt_session_set_vpn_hooks (PtSession               *self,
                           const PtSessionVpnHooks *hooks,
                           gpointer                 data)
{
  self->vpn_hooks = hooks;
  self->vpn_data = data;
}

const PtVpnConfig *
_pt_session_get_vpn_config (PtSession *self)
{
  return &self->vpn_config;
}

void
_pt_session_vpn_go_up (PtSession *self)
{
  if (!self->up && !self->stopped)
    session_go_up (self);
}

gsize
_pt_session_get_max_ip (PtSession *self)
{
  gsize max = _pt_quic_conn_get_max_datagram (self->conn);

  max = max > PT_DATAGRAM_HEADER_LEN ? max - PT_DATAGRAM_HEADER_LEN : 0;
  /* A VPN client keeps to the MTU the server gave it, even where the path
   * carries more (both ends on one machine). */
  if (self->is_client && self->vpn && self->vpn_config.mtu != 0)
    max = MIN (max, self->vpn_config.mtu);
  return max;
}

gboolean
_pt_session_send_ip (PtSession    *self,
                     const guint8 *packet,
                     gsize         len)
{
  guint8 buf[PT_DATAGRAM_HEADER_LEN + 9216];
  gsize header;

  if (!self->up || self->stopped || len > _pt_session_get_max_ip (self) || len > 9216)
    return FALSE;
  header = _pt_datagram_header_write (buf, PT_DATAGRAM_VPN_INDEX, 0);
  memcpy (buf + header, packet, len);
  /* A full send queue drops the packet, as a router would. */
  if (_pt_quic_conn_send_datagram (self->conn, buf, header + len))
    add_bytes (self, TRUE, len);
  return TRUE;
}

void
_pt_session_stop (PtSession *self)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  if (self->vpn_hooks != NULL && self->vpn_hooks->stopped != NULL)
    self->vpn_hooks->stopped (self, self->vpn_data);
  g_cancellable_cancel (self->cancellable);
  clear_source (&self->udp_sweep);
  clear_source (&self->counters_notify);
  g_hash_table_remove_all (self->tcp_conns);
  g_hash_table_remove_all (self->udp_by_peer);
  g_hash_table_remove_all (self->udp_flows);
  for (guint i = 0; i < self->forwards->len; i++)
    {
      Forward *forward = g_ptr_array_index (self->forwards, i);

      clear_source (&forward->source);
      clear_source (&forward->accept_pause);
    }
}

guint
_pt_session_get_active_connections (PtSession *self)
{
  return g_hash_table_size (self->tcp_conns) + g_hash_table_size (self->udp_flows);
}

guint64
_pt_session_get_bytes_sent (PtSession *self)
{
  return self->bytes_sent;
}

guint64
_pt_session_get_bytes_received (PtSession *self)
{
  return self->bytes_received;
}

guint64
_pt_session_get_refused (PtSession *self)
{
  return self->refused;
}

GSocket *
_pt_session_bind_forward (PtProto      proto,
                          const char  *listen_address,
                          GError     **error)
{
  g_autoptr(GSocketConnectable) connectable = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *spec = NULL;

  /* "2222" alone means 127.0.0.1:2222: nothing is exposed beyond this machine by default. */
  if (g_ascii_string_to_unsigned (listen_address, 10, 0, 65535, NULL, NULL))
    spec = g_strdup_printf ("127.0.0.1:%s", listen_address);
  else
    spec = g_strdup (listen_address);

  connectable = g_network_address_parse (spec, 0, NULL);
  if (connectable == NULL ||
      !g_hostname_is_ip_address (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable))))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_LISTEN,
                   "“%s” is not a local listen address: expected [ADDR:]PORT, "
                   "e.g. 2222, 127.0.0.1:2222 or [::1]:2222",
                   listen_address);
      return NULL;
    }

  {
    g_autoptr(GInetAddress) inet =
      g_inet_address_new_from_string (g_network_address_get_hostname (G_NETWORK_ADDRESS (connectable)));

    address = g_inet_socket_address_new (inet, g_network_address_get_port (G_NETWORK_ADDRESS (connectable)));
  }

  socket = g_socket_new (g_socket_address_get_family (address),
                         proto == PT_PROTO_TCP ? G_SOCKET_TYPE_STREAM : G_SOCKET_TYPE_DATAGRAM,
                         proto == PT_PROTO_TCP ? G_SOCKET_PROTOCOL_TCP : G_SOCKET_PROTOCOL_UDP,
                         &local_error);
  /* GLib's default backlog of 10 drops bursts of new connections. */
  if (socket != NULL)
    g_socket_set_listen_backlog (socket, SOMAXCONN);
  if (socket == NULL ||
      !g_socket_bind (socket, address, proto == PT_PROTO_TCP, &local_error) ||
      (proto == PT_PROTO_TCP && !g_socket_listen (socket, &local_error)))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_LISTEN,
                   "cannot listen on %s (%s): %s", spec, pt_proto_to_string (proto),
                   local_error->message);
      return NULL;
    }

  g_socket_set_blocking (socket, FALSE);
  if (proto == PT_PROTO_UDP)
    udp_socket_tune (socket, PT_SESSION_UDP_SOCKET_BUFFER);
  return g_steal_pointer (&socket);
}
