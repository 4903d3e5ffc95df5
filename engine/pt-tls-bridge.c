/* pt-tls-bridge.c — TURN over real TLS for libnice
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-tls-bridge"

#include "config.h"

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

static gboolean
on_incoming (GSocketService    *service,
             GSocketConnection *connection,
             GObject           *source_object,
             PtTlsBridge       *self)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  Pending *pending = g_new0 (Pending, 1);

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
