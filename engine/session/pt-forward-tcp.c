/* pt-forward-tcp.c — TCP forwards: one QUIC stream per connection
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Client: a local application connects to a forward's listener and gets a
 * stream; server: a stream names its forward and the server connects to the
 * checked address. Bytes flow both ways with flow control, half-closes and
 * resets carried over.
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
#include "pt-session-internal.h"

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

/* The tunnel already batches what it sends: Nagle would only add delay
 * to small request/response exchanges. */
static void
set_no_delay (GSocket *socket)
{
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
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

void
_pt_tcp_conn_free (TcpConn *tc)
{
  tcp_conn_drop_out_queue (tc);
  _pt_session_clear_source (&tc->watch);
  if (tc->socket != NULL)
    g_socket_close (tc->socket, NULL);
  g_clear_object (&tc->socket);
  if (tc->holds_fd)
    _pt_session_release_fd (tc->session);
  if (tc->held_back)
    tc->session->n_held_back--;
  g_free (tc);
}

void
_pt_tcp_conn_remove (TcpConn *tc)
{
  PtSession *self = tc->session;

  g_debug ("stream %" G_GINT64_FORMAT ": connection finished", tc->stream_id);
  /* Frees tc through the table's value destructor. */
  g_hash_table_remove (self->tcp_conns, (gpointer) (gintptr) tc->stream_id);
  _pt_session_notify_active_connections (self);
}

void
_pt_tcp_conn_abort (TcpConn *tc)
{
  if (!tc->stream_closed)
    _pt_quic_conn_stream_abort (tc->session->conn, tc->stream_id, 1);
  _pt_tcp_conn_remove (tc);
}


static gboolean tcp_conn_pump_in_queue (TcpConn *tc);

/* Socket → stream, while the stream's unacked queue has room, then one
 * write for all of it.  FALSE when @tc is gone (freed) afterwards. */
gboolean
_pt_tcp_conn_pump_in (TcpConn *tc)
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
          return TRUE; /* resumed by _pt_session_release_held_back() */
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
          _pt_tcp_conn_abort (tc);
          return FALSE;
        }
      if (n == 0)
        {
          g_debug ("stream %" G_GINT64_FORMAT ": local EOF, sending FIN", tc->stream_id);
          tc->local_eof = TRUE;
          _pt_quic_conn_stream_shutdown_write (self->conn, tc->stream_id);
          return !tcp_conn_maybe_finish (tc);
        }

      _pt_session_add_bytes (self, TRUE, n);
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
          _pt_tcp_conn_abort (tc);
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
          _pt_tcp_conn_abort (tc);
          return;
        }
      g_debug ("stream %" G_GINT64_FORMAT ": connected", tc->stream_id);
      tc->connecting = FALSE;
      in = TRUE;
    }

  if (in && !_pt_tcp_conn_pump_in (tc))
    return;
  if (out)
    _pt_tcp_conn_flush_out (tc);

  /* Still there (ids are never reused): poll for what it now waits for. */
  if (g_hash_table_lookup (self->tcp_conns, (gpointer) (gintptr) stream_id) == tc)
    {
      tc->in_io = FALSE;
      tcp_watch_update (tc);
    }
}

/* Stream → socket; flow-control credit goes back as bytes reach the socket. */
void
_pt_tcp_conn_flush_out (TcpConn *tc)
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
          _pt_tcp_conn_abort (tc);
          return;
        }

      _pt_session_add_bytes (self, FALSE, n);
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
      _pt_tcp_conn_remove (tc);
      return TRUE;
    }
  return FALSE;
}

TcpConn *
_pt_tcp_conn_new (PtSession *self,
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
  _pt_session_notify_active_connections (self);
  return tc;
}


static gboolean
forward_resume_accepting_cb (gpointer user_data)
{
  Forward *forward = user_data;

  g_clear_pointer (&forward->accept_pause, g_source_unref);
  forward->source = _pt_session_watch_socket (forward->socket, G_IO_IN, (GSourceFunc) _pt_tcp_accept_cb, forward);
  return G_SOURCE_REMOVE;
}

/* From the listener's own callback. */
static void
forward_pause_accepting (Forward *forward)
{
  if (forward->accept_pause != NULL)
    return;

  _pt_session_clear_source (&forward->source);
  forward->accept_pause = g_timeout_source_new (PT_SESSION_ACCEPT_PAUSE_MS);
  g_source_set_callback (forward->accept_pause, forward_resume_accepting_cb, forward, NULL);
  g_source_attach (forward->accept_pause, g_main_context_get_thread_default ());
}

/* Client: a local application connected to a forward's listener. */
gboolean
_pt_tcp_accept_cb (GSocket      *socket,
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
          _pt_session_refuse (self, "a local connection", error->message);
          forward_pause_accepting (forward);
          break;
        }

      if (!_pt_session_take_fd (self, "a local connection"))
        continue; /* dropping the socket closes it */

      stream_id = _pt_quic_conn_open_stream (self->conn, &error);
      if (stream_id < 0)
        {
          _pt_session_release_fd (self);
          _pt_session_refuse (self, "a local connection", error->message);
          continue;
        }

      g_socket_set_blocking (client, FALSE);
      set_no_delay (client);
      tc = _pt_tcp_conn_new (self, forward, stream_id, g_steal_pointer (&client));
      tc->holds_fd = TRUE;
      g_debug ("stream %" G_GINT64_FORMAT ": new connection for %s",
               stream_id, forward->spec->host);
      {
        g_autoptr(GBytes) bytes = g_bytes_new (&header, 1);

        _pt_quic_conn_stream_send (self->conn, stream_id, bytes);
      }
      _pt_tcp_conn_pump_in (tc);
    }

  return G_SOURCE_CONTINUE;
}

/* Server: a data stream named its forward; connect to the checked address. */
void
_pt_tcp_conn_connect (TcpConn *tc,
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
      _pt_tcp_conn_abort (tc);
      return;
    }

  tc->forward = forward;
  if (!_pt_session_take_fd (self, "a connection"))
    {
      _pt_tcp_conn_abort (tc);
      return;
    }
  tc->holds_fd = TRUE;
  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (forward->target)),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  if (socket == NULL)
    {
      g_message ("cannot create a socket: %s", error->message);
      _pt_tcp_conn_abort (tc);
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
      _pt_tcp_conn_abort (tc);
      return;
    }

  /* Even a connect that finished at once completes in tcp_conn_io(), so
   * that there is one path from "connecting" to "carrying data". */
  tcp_conn_want (tc, FALSE, TRUE);
}

