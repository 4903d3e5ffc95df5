/* pt-tls-bridge.c — TURN over real TLS for libnice
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Who may use the bridge. Its port is on 127.0.0.1, where every local user
 * can connect, and whoever does rides on our TURN credentials. libnice's
 * TURN-over-TCP relay takes an IP address and a port, so a socket only this
 * process can reach (a socketpair, an abstract Unix socket checked with
 * SO_PEERCRED) is not an option, and SO_PEERCRED does not exist for TCP.
 * What the kernel does say: /proc/net/tcp lists the connecting socket (its
 * local address is the peer address accept() gave us, its remote address the
 * bridge's) with its inode, and /proc/self/fd lists "socket:[INODE]" for
 * every socket this process holds. A connection is accepted only when its
 * other end is one of our own descriptors; anything else (another process,
 * or an end already gone) is closed before a byte is read or any TLS
 * connection is made. Both files belong to this process's own network
 * namespace and descriptor table, so another user cannot make a row or a
 * link appear there. Elsewhere than Linux the check is not made.
 */
#define G_LOG_DOMAIN "pt-tls-bridge"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pt.h"
#include "pt-tls-bridge-private.h"

struct _PtTlsBridge
{
  GObject          parent_instance;

  char            *host;
  guint16          port;
  GTlsDatabase    *database;   /* NULL: the system's */
  GSocketService  *service;
  guint16          local_port;
  char            *failure;
  GCancellable    *cancellable;
  guint            refused;      /* connections from other processes */
};

G_DEFINE_FINAL_TYPE (PtTlsBridge, pt_tls_bridge, G_TYPE_OBJECT)

typedef struct
{
  PtTlsBridge       *self;     /* owned */
  GSocketConnection *local;    /* owned */
} Pending;

static void
pending_free (Pending *pending)
{
  g_clear_object (&pending->self);
  g_clear_object (&pending->local);
  g_free (pending);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pending, pending_free)

static void
splice_done_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error))
    g_debug ("TURN-over-TLS connection ended: %s", error->message);
  else
    g_debug ("TURN-over-TLS connection ended");
}

static void
on_client_event (GSocketClient      *client,
                 GSocketClientEvent  event,
                 GSocketConnectable *connectable,
                 GIOStream          *connection,
                 PtTlsBridge        *self)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && self->database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), self->database);
}

static void
connected_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(Pending) pending = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) remote = NULL;
  PtTlsBridge *self = pending->self;

  remote = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (remote == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_free (self->failure);
          self->failure = g_strdup_printf ("TLS to the TURN server %s:%u failed: %s",
                                           self->host, self->port, error->message);
          g_message ("%s", self->failure);
        }
      g_io_stream_close (G_IO_STREAM (pending->local), NULL, NULL);
      return;
    }

  g_debug ("TLS session to %s:%u up, relaying libnice's TURN traffic", self->host, self->port);
  g_io_stream_splice_async (G_IO_STREAM (pending->local), G_IO_STREAM (remote),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 |
                            G_IO_STREAM_SPLICE_CLOSE_STREAM2 |
                            G_IO_STREAM_SPLICE_WAIT_FOR_BOTH,
                            G_PRIORITY_DEFAULT, self->cancellable, splice_done_cb, NULL);
}

#ifdef __linux__
/* "0100007F:1F90": how /proc/net/tcp prints an IPv4 socket address (the
 * address as the native-endian value of its network-order bytes). */
static char *
proc_net_address (GInetSocketAddress *address)
{
  GInetAddress *ip = g_inet_socket_address_get_address (address);
  guint32 value;

  if (g_inet_address_get_family (ip) != G_SOCKET_FAMILY_IPV4)
    return NULL;
  memcpy (&value, g_inet_address_to_bytes (ip), sizeof value);
  return g_strdup_printf ("%08X:%04X", value, g_inet_socket_address_get_port (address));
}

/* The inode of the socket whose local end is @local and remote end @remote,
 * or 0. */
static guint64
find_socket_inode (const char *local,
                   const char *remote)
{
  g_autofree char *table = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/net/tcp", &table, NULL, NULL))
    return 0;
  lines = g_strsplit (table, "\n", -1);
  for (guint i = 1; lines[i] != NULL; i++)
    {
      char local_field[64], remote_field[64];
      guint64 inode = 0;

      /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
      if (sscanf (lines[i], " %*s %63s %63s %*s %*s %*s %*s %*s %*s %" G_GUINT64_FORMAT,
                  local_field, remote_field, &inode) != 3)
        continue;
      if (g_ascii_strcasecmp (local_field, local) == 0 &&
          g_ascii_strcasecmp (remote_field, remote) == 0)
        return inode;
    }
  return 0;
}

/* Whether one of this process's descriptors is the socket @inode. */
static gboolean
holds_socket (guint64 inode)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_autofree char *wanted = g_strdup_printf ("socket:[%" G_GUINT64_FORMAT "]", inode);
  const char *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      char target[64];
      gssize n = readlink (path, target, sizeof target - 1);

      if (n <= 0)
        continue;
      target[n] = '\0';
      if (g_str_equal (target, wanted))
        return TRUE;
    }
  return FALSE;
}
#endif

/* See the top of this file. */
static gboolean
connection_is_ours (GSocketConnection *connection)
{
#ifdef __linux__
  g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (connection, NULL);
  g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address (connection, NULL);
  g_autofree char *bridge_end = NULL;
  g_autofree char *peer_end = NULL;
  guint64 inode;

  if (!G_IS_INET_SOCKET_ADDRESS (local) || !G_IS_INET_SOCKET_ADDRESS (remote))
    return FALSE;
  bridge_end = proc_net_address (G_INET_SOCKET_ADDRESS (local));
  peer_end = proc_net_address (G_INET_SOCKET_ADDRESS (remote));
  if (bridge_end == NULL || peer_end == NULL)
    return FALSE;

  /* The peer's socket: local end = its address, remote end = ours. */
  inode = find_socket_inode (peer_end, bridge_end);
  return inode != 0 && holds_socket (inode);
#else
  return TRUE;
#endif
}

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             PtTlsBridge       *self)
{
  g_autoptr(GSocketClient) client = NULL;
  Pending *pending;

  if (!connection_is_ours (connection))
    {
      /* Said once: every further attempt would only fill the log. */
      if (self->refused++ == 0)
        g_message ("refused a connection to the local end of the TLS link to the TURN "
                   "server %s from another process", self->host);
      else
        g_debug ("refused another connection from another process (%u so far)", self->refused);
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  client = g_socket_client_new ();
  pending = g_new0 (Pending, 1);

  pending->self = g_object_ref (self);
  pending->local = g_object_ref (connection);

  g_socket_client_set_tls (client, TRUE);
  g_socket_client_set_timeout (client, 10);
  g_signal_connect (client, "event", G_CALLBACK (on_client_event), self);
  g_socket_client_connect_to_host_async (client, self->host, self->port, self->cancellable,
                                         connected_cb, pending);
  return TRUE;
}

static void
pt_tls_bridge_dispose (GObject *object)
{
  PtTlsBridge *self = PT_TLS_BRIDGE (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
      g_signal_handlers_disconnect_by_data (self->service, self);
    }
  g_clear_object (&self->service);
  G_OBJECT_CLASS (pt_tls_bridge_parent_class)->dispose (object);
}

static void
pt_tls_bridge_finalize (GObject *object)
{
  PtTlsBridge *self = PT_TLS_BRIDGE (object);

  g_clear_object (&self->database);
  g_clear_object (&self->cancellable);
  g_free (self->host);
  g_free (self->failure);
  G_OBJECT_CLASS (pt_tls_bridge_parent_class)->finalize (object);
}

static void
pt_tls_bridge_class_init (PtTlsBridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_tls_bridge_dispose;
  object_class->finalize = pt_tls_bridge_finalize;
}

static void
pt_tls_bridge_init (PtTlsBridge *self)
{
  self->cancellable = g_cancellable_new ();
}

PtTlsBridge *
_pt_tls_bridge_new (const char  *host,
                    guint16      port,
                    const char  *ca_file,
                    GError     **error)
{
  g_autoptr(PtTlsBridge) self = g_object_new (PT_TYPE_TLS_BRIDGE, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) local_error = NULL;

  if (g_tls_backend_get_default () == NULL || !g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER,
                   "turns:// needs TLS support in GIO: install glib-networking");
      return NULL;
    }

  if (ca_file != NULL)
    {
      self->database = g_tls_file_database_new (ca_file, &local_error);
      if (self->database == NULL)
        {
          g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER,
                       "cannot use %s as the TURN servers' CA: %s", ca_file, local_error->message);
          return NULL;
        }
    }

  self->host = g_strdup (host);
  self->port = port;
  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, &local_error))
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER,
                   "cannot open the local end of the TLS link to %s: %s", host, local_error->message);
      return NULL;
    }
  self->local_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);

  g_debug ("TURN server %s:%u reached over TLS through 127.0.0.1:%u", host, port, self->local_port);
  return g_steal_pointer (&self);
}

guint16
_pt_tls_bridge_get_port (PtTlsBridge *self)
{
  return self->local_port;
}

const char *
_pt_tls_bridge_get_failure (PtTlsBridge *self)
{
  return self->failure;
}

guint
_pt_tls_bridge_get_refused (PtTlsBridge *self)
{
  return self->refused;
}
