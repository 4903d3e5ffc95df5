/* test-tls-bridge.c — the turns:// bridge serves only its own process
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <gio/gio.h>

#include "pt.h"
#include "pt-tls-bridge-private.h"

typedef struct
{
  GSocketListener *upstream;     /* stands in for the TURN server */
  guint16          upstream_port;
  guint            upstream_accepted;
  PtTlsBridge     *bridge;
  gboolean         child_done;
  int              child_status;
} Fixture;

static void
upstream_accepted_cb (GObject      *object,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GSocketConnection) conn = NULL;

  conn = g_socket_listener_accept_finish (G_SOCKET_LISTENER (object), result, NULL, NULL);
  if (conn == NULL)
    return;
  f->upstream_accepted++;
  g_socket_listener_accept_async (f->upstream, NULL, upstream_accepted_cb, f);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->upstream = g_socket_listener_new ();
  f->upstream_port = g_socket_listener_add_any_inet_port (f->upstream, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_accept_async (f->upstream, NULL, upstream_accepted_cb, f);
  f->bridge = _pt_tls_bridge_new ("127.0.0.1", f->upstream_port, NULL, &error);
  if (f->bridge == NULL)
    g_test_message ("no bridge: %s", error->message);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->bridge);
  g_socket_listener_close (f->upstream);
  g_clear_object (&f->upstream);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gboolean
timeout_cb (gpointer user_data)
{
  g_error ("timed out");
  return G_SOURCE_REMOVE;
}

static void
child_exited_cb (GPid     pid,
                 int      status,
                 gpointer user_data)
{
  Fixture *f = user_data;

  f->child_status = status;
  f->child_done = TRUE;
}

/* Another process connects: it is closed on at once, no byte goes anywhere. */
static void
test_other_process_refused (Fixture       *f,
                            gconstpointer  data)
{
  guint16 port;
  guint timeout;
  pid_t pid;

  if (f->bridge == NULL)
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return;
    }
  port = _pt_tls_bridge_get_port (f->bridge);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      /* Raw system calls only: this is a fork of a threaded process. */
      struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
      char byte;
      int fd = socket (AF_INET, SOCK_STREAM, 0);

      alarm (10);
      sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      if (fd < 0 || connect (fd, (struct sockaddr *) &sin, sizeof sin) != 0)
        _exit (2);
      if (write (fd, "\x00\x01", 2) < 0)
        _exit (3);
      /* EOF (or a reset): the bridge hung up on us. */
      _exit (read (fd, &byte, 1) <= 0 ? 0 : 4);
    }

  g_child_watch_add (pid, child_exited_cb, f);
  timeout = g_timeout_add_seconds (20, timeout_cb, NULL);
  while (!f->child_done)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);

  g_assert_true (WIFEXITED (f->child_status));
  g_assert_cmpint (WEXITSTATUS (f->child_status), ==, 0);
  g_assert_cmpuint (_pt_tls_bridge_get_refused (f->bridge), ==, 1);
  g_assert_cmpuint (f->upstream_accepted, ==, 0);
}

/* This process connects (as libnice does): carried to the server. */
static void
test_own_process_served (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GError) error = NULL;
  guint timeout;

  if (f->bridge == NULL)
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return;
    }
  conn = g_socket_client_connect_to_host (client, "127.0.0.1", _pt_tls_bridge_get_port (f->bridge),
                                          NULL, &error);
  g_assert_no_error (error);

  timeout = g_timeout_add_seconds (20, timeout_cb, NULL);
  while (f->upstream_accepted == 0)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (timeout);
  g_assert_cmpuint (_pt_tls_bridge_get_refused (f->bridge), ==, 0);
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/tls-bridge/other-process-refused", Fixture, NULL,
              fixture_setup, test_other_process_refused, fixture_teardown);
  g_test_add ("/tls-bridge/own-process-served", Fixture, NULL,
              fixture_setup, test_own_process_served, fixture_teardown);

  return g_test_run ();
}
