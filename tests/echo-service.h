/* echo-service.h — a TCP echo service on a free loopback port, for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs on the main context: each connection is spliced to itself, so what
 * it reads it writes back, and it closes after the peer's end of stream.
 */
#pragma once

#include <gio/gio.h>

static inline void
echo_service_spliced (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GSocketConnection *connection = user_data;    /* kept alive while it echoes */

  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
  g_object_unref (connection);
}

static inline gboolean
echo_service_incoming (GSocketService    *service,
                       GSocketConnection *connection,
                       GObject           *source,
                       gpointer           user_data)
{
  g_output_stream_splice_async (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, G_PRIORITY_DEFAULT, NULL,
                                echo_service_spliced, g_object_ref (connection));
  return TRUE;
}

/* Makes @service echo on 127.0.0.1 and returns its port. */
static inline guint16
echo_service_start (GSocketService *service)
{
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  g_socket_listener_add_address (G_SOCKET_LISTENER (service), any, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (echo_service_incoming), NULL);
  g_socket_service_start (service);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
