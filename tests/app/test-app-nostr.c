/* test-app-nostr.c — Nostr and shared-name profiles against `pt server nostr` / `pt tcp`
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A real relay (tests/relay/relay.mjs) on loopback, `pt server nostr` with
 * its own key allowing the app's key, and the app's connect profile in this
 * process: the tunnel comes up by itself and carries bytes to an echo
 * service. A serving profile in a real window holds three `pt client nostr`
 * at once and its row lists them. Skipped, saying why, without node or the
 * relay's npm packages. Runs under gtk-test-runner (Xvfb, a private bus).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include <adwaita.h>
#include <pt.h>

#include "../echo-service.h"
#include "app-test-util.h"
#include "pt-profile-store.h"
#include "pt-session-row.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"

typedef struct
{
  char     *address;
  gboolean  ok;
  gboolean  done;
} Echo;

static gpointer
echo_thread (gpointer user_data)
{
  Echo *echo = user_data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = client ? g_socket_client_connect_to_host (client, echo->address, 0, NULL, NULL) : NULL;
  char buffer[32] = { 0 };
  gsize got = 0;

  if (connection != NULL &&
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                 "hello over nostr", 16, NULL, NULL, NULL) &&
      g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                               buffer, 16, &got, NULL, NULL))
    echo->ok = got == 16 && memcmp (buffer, "hello over nostr", 16) == 0;
  g_atomic_int_set (&echo->done, TRUE);
  return NULL;
}

static gboolean
is_up (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  return tunnel && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP;
}

static void
test_connect_with_pt_server_nostr (void)
{
  g_auto(RelayTools) tools = { 0 };
  g_autofree char *dir = NULL;
  g_autofree char *nsec_file = NULL;
  g_autofree char *token_file = NULL;
  g_autoptr(PtSecretString) token = NULL;
  g_autofree char *relay_url = NULL;
  g_autofree char *server_npub = NULL;
  g_autofree char *source = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GSocketService) echo_service = g_socket_service_new ();
  guint echo_port;
  g_autoptr(PtSecretKey) app_key = NULL;
  g_autoptr(PtSecretKey) server_key = NULL;
  g_autofree char *app_npub = NULL;
  g_autoptr(PtProfile) profile = NULL;
  PtService *service = NULL;
  g_autoptr(GError) error = NULL;
  Lines lines = { g_string_new (NULL), FALSE };
  Echo echo = { 0 };
  GThread *thread;

  if (!relay_tools_find (&tools))
    {
      g_string_free (lines.text, TRUE);
      return;
    }

  /* The relay. */
  relay_url = start_relay (&tools, &lines, &relay, &relay_out);

  /* The echo service. */
  echo_port = echo_service_start (echo_service);
  source = g_strdup_printf ("tcp://127.0.0.1:%u",
                            echo_port);

  /* Two keys: the app's, and the server's in a 0600 file for pt. */
  app_key = pt_secret_key_generate (&error);
  server_key = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  app_npub = pt_public_key_to_npub (pt_secret_key_get_public (app_key));
  server_npub = pt_public_key_to_npub (pt_secret_key_get_public (server_key));
  dir = g_dir_make_tmp ("pt-app-nostr-XXXXXX", &error);
  nsec_file = g_build_filename (dir, "server.nsec", NULL);
  g_assert_true (pt_secret_key_save (server_key, nsec_file, FALSE, &error));
  /* The listed key must also present the token. */
  token = pt_token_generate (&error);
  token_file = g_build_filename (dir, "tokens", NULL);
  g_assert_true (g_file_set_contents_full (token_file, token, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error));

  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, &error, tools.pt, "server", "nostr",
                             "--nsec-file", nsec_file, "--peer-npub", app_npub,
                             "--auth-token-file", token_file,
                             "--relay", relay_url, "--allowed-tcp", "127.0.0.1/32",
                             "--local-address", "127.0.0.1", "--no-stun", NULL);
  g_assert_no_error (error);

  /* The app's side: a Nostr profile, started like the row's switch does. */
  {
    const char *sources[] = { source, NULL };
    const char *targets[] = { "127.0.0.1:0", NULL };
    const char *locals[] = { "127.0.0.1", NULL };
    const char *relays[] = { relay_url, NULL };
    const char *peers[] = { server_npub, NULL };

    profile = pt_profile_new ();
    pt_profile_set_name (profile, "Echo by key");
    pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
    pt_profile_set_forwards (profile, sources, targets);
    pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
    pt_profile_set_nostr (profile, relays, peers);
    pt_profile_set_token (profile, token);
  }
  service = pt_service_new (profile);
  g_assert_true (pt_profile_validate (profile, &error));

  /* Without this computer's key there is nothing to start with. */
  pt_service_set_default_key (NULL);
  g_assert_false (pt_service_start (service, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);

  pt_service_set_default_key (app_key);
  g_assert_true (pt_service_start (service, &error));
  g_assert_no_error (error);
  g_assert_true (pt_service_get_running (service));
  g_assert_true (pt_service_get_paired (service));        /* nothing to pair by hand */
  SPIN_UNTIL (is_up (service), 45000);
  g_assert_true (is_up (service));

  address = pt_service_dup_local_address (service);
  g_assert_nonnull (address);
  echo.address = address;
  thread = g_thread_new ("echo", echo_thread, &echo);
  SPIN_UNTIL (g_atomic_int_get (&echo.done), 20000);
  g_thread_join (thread);
  g_assert_true (echo.ok);

  pt_service_stop (service);
  g_assert_false (pt_service_get_running (service));
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);

  /* Another computer's key is refused: the service stops and says why,
   * rather than showing a retry that never comes. */
  {
    g_autoptr(PtSecretKey) stranger = pt_secret_key_generate (NULL);
    g_autoptr(PtService) other = pt_service_new (profile);
    const GError *why;

    pt_service_set_key (other, stranger);
    g_assert_true (pt_service_start (other, &error));
    g_assert_no_error (error);
    SPIN_UNTIL (!pt_service_get_running (other), 30000);
    g_assert_false (pt_service_get_running (other));
    why = pt_service_get_error (other);
    g_assert_error ((GError *) why, PT_NOSTR_ERROR, PT_NOSTR_ERROR_REFUSED);
    g_assert_nonnull (strstr (why->message, "does not allow this client's key"));
  }
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);

  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);   /* the relay exits */
  g_subprocess_send_signal (relay, SIGTERM);
  g_subprocess_wait (relay, NULL, NULL);
  /* The pending read points at this frame's `lines`: let it see the end. */
  SPIN_UNTIL (lines.eof, 5000);
  g_assert_true (lines.eof);
  g_socket_service_stop (echo_service);
  pt_service_set_default_key (NULL);
  g_assert_finalize_object (service);
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_string_free (lines.text, TRUE);
  g_unlink (nsec_file);
  g_unlink (token_file);
  g_rmdir (dir);
}

static void
test_validation (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretString) token = pt_token_generate (NULL);
  g_autoptr(GError) error = NULL;
  const char *relays[] = { "https://relay.example", NULL };
  const char *good_relays[] = { "wss://relay.example", NULL };

  pt_profile_set_name (profile, "Serve by key");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);

  /* Nobody allowed in. */
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);

  /* Anyone, but with what? */
  pt_profile_set_any_peer (profile, TRUE);
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);

  pt_profile_set_token (profile, "not-a-token");
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_true (error->domain == PT_TOKEN_ERROR);
  g_assert_null (strstr (error->message, "not-a-token"));
  g_clear_error (&error);

  pt_profile_set_token (profile, token);
  g_assert_true (pt_profile_validate (profile, &error));
  g_assert_no_error (error);

  pt_profile_set_nostr (profile, relays, NULL);
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);
  pt_profile_set_nostr (profile, good_relays, NULL);
  g_assert_true (pt_profile_validate (profile, &error));

  /* Allowed services take the CLI's syntax, ports included. */
  {
    const char *ports[] = { "127.0.0.1:22", "192.168.1.0/24:5432", "[::1]:8000-8099", NULL };
    const char *bad_port[] = { "127.0.0.1:22", "127.0.0.1:0", NULL };

    pt_profile_set_allowed (profile, ports, NULL);
    g_assert_true (pt_profile_validate (profile, &error));
    g_assert_no_error (error);
    pt_profile_set_allowed (profile, bad_port, NULL);
    g_assert_false (pt_profile_validate (profile, &error));
    g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "127.0.0.1:0"));
    g_assert_nonnull (strstr (error->message, "port 0"));
  }
}

/* pt tcp exposes the echo service under a shared name; the app's
 * shared-name profile binds a local port to it. */
static void
test_named_with_pt_tcp (void)
{
  g_auto(RelayTools) tools = { 0 };
  g_autofree char *dir = NULL;
  g_autofree char *id_file = NULL;
  g_autofree char *relay_url = NULL;
  g_autofree char *port_arg = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GSocketService) echo_service = g_socket_service_new ();
  guint echo_port;
  g_autoptr(PtProfile) profile = NULL;
  PtService *service = NULL;
  g_autoptr(GError) error = NULL;
  const char *name = "correct horse battery staple for the app test";
  Lines lines = { g_string_new (NULL), FALSE };
  Echo echo = { 0 };
  GThread *thread;

  if (!relay_tools_find (&tools))
    {
      g_string_free (lines.text, TRUE);
      return;
    }

  relay_url = start_relay (&tools, &lines, &relay, &relay_out);

  echo_port = echo_service_start (echo_service);
  port_arg = g_strdup_printf ("%u", echo_port);

  dir = g_dir_make_tmp ("pt-app-named-XXXXXX", &error);
  id_file = g_build_filename (dir, "id", NULL);
  g_assert_true (g_file_set_contents_full (id_file, name, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error));
  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, &error, tools.pt, "tcp", "--port", port_arg,
                             "--id-file", id_file, "--relay", relay_url,
                             "--local-address", "127.0.0.1", "--no-stun", NULL);
  g_assert_no_error (error);

  {
    const char *sources[] = { "tcp://127.0.0.1:1", NULL };    /* the server decides */
    const char *targets[] = { "127.0.0.1:0", NULL };
    const char *locals[] = { "127.0.0.1", NULL };
    const char *relays[] = { relay_url, NULL };

    profile = pt_profile_new ();
    pt_profile_set_name (profile, "Echo by name");
    pt_profile_set_mode (profile, PT_PROFILE_MODE_NAME);
    pt_profile_set_forwards (profile, sources, targets);
    pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
    pt_profile_set_nostr (profile, relays, NULL);
    pt_profile_set_shared_name (profile, name);
  }
  service = pt_service_new (profile);
  g_assert_true (pt_profile_validate (profile, &error));
  g_assert_no_error (error);
  g_assert_true (pt_service_start (service, &error));   /* derives in a thread: no key needed */
  g_assert_no_error (error);
  g_assert_true (pt_service_get_running (service));
  SPIN_UNTIL (is_up (service), 60000);
  g_assert_true (is_up (service));

  address = pt_service_dup_local_address (service);
  g_assert_nonnull (address);
  echo.address = address;
  thread = g_thread_new ("echo", echo_thread, &echo);
  SPIN_UNTIL (g_atomic_int_get (&echo.done), 20000);
  g_thread_join (thread);
  g_assert_true (echo.ok);

  pt_service_stop (service);
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  g_subprocess_send_signal (server, SIGTERM);
  g_subprocess_wait (server, NULL, NULL);
  g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);
  g_subprocess_send_signal (relay, SIGTERM);
  g_subprocess_wait (relay, NULL, NULL);
  /* The pending read points at this frame's `lines`: let it see the end. */
  SPIN_UNTIL (lines.eof, 5000);
  g_assert_true (lines.eof);
  g_socket_service_stop (echo_service);
  g_assert_finalize_object (service);
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_string_free (lines.text, TRUE);
  g_unlink (id_file);
  g_rmdir (dir);
}

/* The other way round: the app serves (Nostr, allowed key) and
 * `pt client nostr` connects and reports "ready ADDRESS" on stderr. */
static void
test_serve_for_pt_client (void)
{
  g_auto(RelayTools) tools = { 0 };
  g_autofree char *dir = NULL;
  g_autofree char *nsec_file = NULL;
  g_autofree char *relay_url = NULL;
  g_autofree char *source = NULL;
  g_autofree char *app_npub = NULL;
  g_autofree char *client_npub = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GSubprocess) client = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GDataInputStream) client_err = NULL;
  g_autoptr(GSocketService) echo_service = g_socket_service_new ();
  guint echo_port;
  g_autoptr(PtSecretKey) app_key = NULL;
  g_autoptr(PtSecretKey) client_key = NULL;
  g_autoptr(PtProfile) profile = NULL;
  PtService *service = NULL;
  g_autoptr(GError) error = NULL;
  Lines lines = { g_string_new (NULL), FALSE };
  Lines err_lines = { g_string_new (NULL), FALSE };
  Echo echo = { 0 };
  GThread *thread;
  const char *ready;

  if (!relay_tools_find (&tools))
    {
      g_string_free (lines.text, TRUE);
      g_string_free (err_lines.text, TRUE);
      return;
    }

  relay_url = start_relay (&tools, &lines, &relay, &relay_out);

  echo_port = echo_service_start (echo_service);
  source = g_strdup_printf ("tcp://127.0.0.1:%u",
                            echo_port);

  app_key = pt_secret_key_generate (&error);
  client_key = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  app_npub = pt_public_key_to_npub (pt_secret_key_get_public (app_key));
  client_npub = pt_public_key_to_npub (pt_secret_key_get_public (client_key));
  dir = g_dir_make_tmp ("pt-app-serve-XXXXXX", &error);
  nsec_file = g_build_filename (dir, "client.nsec", NULL);
  g_assert_true (pt_secret_key_save (client_key, nsec_file, FALSE, &error));

  {
    const char *tcp[] = { "127.0.0.1/32", NULL };
    const char *locals[] = { "127.0.0.1", NULL };
    const char *relays[] = { relay_url, NULL };
    const char *peers[] = { client_npub, NULL };

    profile = pt_profile_new ();
    pt_profile_set_name (profile, "Serve by key");
    pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
    pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
    pt_profile_set_allowed (profile, tcp, NULL);
    pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
    pt_profile_set_nostr (profile, relays, peers);
  }
  service = pt_service_new (profile);
  pt_service_set_default_key (app_key);
  g_assert_true (pt_service_start (service, &error));
  g_assert_no_error (error);

  client = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                             tools.pt, "client", "nostr", "--nsec-file", nsec_file, "--peer-npub", app_npub,
                             "--source", source, "--target", "127.0.0.1:0", "--relay", relay_url,
                             "--local-address", "127.0.0.1", "--no-stun", NULL);
  g_assert_no_error (error);
  client_err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (client));
  g_data_input_stream_read_line_async (client_err, G_PRIORITY_DEFAULT, NULL, line_cb, &err_lines);
  SPIN_UNTIL ((ready = strstr (err_lines.text->str, "ready ")) != NULL || err_lines.eof, 45000);
  if (ready == NULL)
    g_printerr ("%s", err_lines.text->str);
  g_assert_nonnull (ready);
  SPIN_UNTIL (is_up (service), 20000);
  g_assert_true (is_up (service));     /* the row follows the session's tunnel */

  echo.address = g_strndup (ready + strlen ("ready "), strcspn (ready + strlen ("ready "), "\n"));
  thread = g_thread_new ("echo", echo_thread, &echo);
  SPIN_UNTIL (g_atomic_int_get (&echo.done), 20000);
  g_thread_join (thread);
  g_assert_true (echo.ok);
  g_free (echo.address);

  g_subprocess_send_signal (client, SIGTERM);
  g_subprocess_wait (client, NULL, NULL);
  SPIN_UNTIL (err_lines.eof, 5000);
  pt_service_stop (service);
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);
  g_subprocess_send_signal (relay, SIGTERM);
  g_subprocess_wait (relay, NULL, NULL);
  SPIN_UNTIL (lines.eof, 5000);
  g_assert_true (lines.eof && err_lines.eof);
  g_socket_service_stop (echo_service);
  pt_service_set_default_key (NULL);
  g_assert_finalize_object (service);
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_string_free (lines.text, TRUE);
  g_string_free (err_lines.text, TRUE);
  g_unlink (nsec_file);
  g_rmdir (dir);
}

/* 256 KiB of random bytes through @address and back, compared. */
typedef struct
{
  char     *address;
  gboolean  ok;
  gboolean  done;
} BulkEcho;

static gpointer
writer_thread (gpointer user_data)
{
  gpointer *args = user_data;

  g_output_stream_write_all (args[0], args[1], GPOINTER_TO_SIZE (args[2]), NULL, NULL, NULL);
  g_output_stream_close (args[0], NULL, NULL);
  return NULL;
}

static gpointer
bulk_echo_thread (gpointer user_data)
{
  BulkEcho *echo = user_data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  gsize size = 256 * 1024;
  g_autofree guint8 *data = g_malloc (size);
  g_autofree guint8 *back = g_malloc0 (size);
  gsize got = 0;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) g_random_int ();
  g_socket_client_set_timeout (client, 30);
  connection = g_socket_client_connect_to_host (client, echo->address, 0, NULL, NULL);
  if (connection != NULL)
    {
      /* Write and read at once: the echo comes back while we still send. */
      gpointer args[3] = { g_io_stream_get_output_stream (G_IO_STREAM (connection)), data,
                           GSIZE_TO_POINTER (size) };
      GThread *writer = g_thread_new ("writer", writer_thread, args);

      g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                               back, size, &got, NULL, NULL);
      g_thread_join (writer);
      echo->ok = got == size && memcmp (back, data, size) == 0;
    }
  g_atomic_int_set (&echo->done, TRUE);
  return NULL;
}

static void
run_bulk_echoes (char **addresses, guint n)
{
  BulkEcho *echoes = g_new0 (BulkEcho, n);
  GThread **threads = g_new0 (GThread *, n);

  for (guint i = 0; i < n; i++)
    {
      echoes[i].address = addresses[i];
      threads[i] = g_thread_new ("bulk-echo", bulk_echo_thread, &echoes[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      SPIN_UNTIL (g_atomic_int_get (&echoes[i].done), 60000);
      g_thread_join (threads[i]);
      g_assert_true (echoes[i].ok);      /* every byte back, in order */
    }
  g_free (threads);
  g_free (echoes);
}

#define N_CLIENTS 3

/* Issue 13: a serving profile kept one client (a new session closed the
 * last one). Three clients at once, each carrying checked data; the first is
 * never dropped; the row lists all three. */
static void
test_serve_three_clients (void)
{
  g_auto(RelayTools) tools = { 0 };
  g_autofree char *dir = NULL;
  g_autofree char *relay_url = NULL;
  g_autofree char *source = NULL;
  g_autofree char *app_npub = NULL;
  g_autofree char *profiles_path = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GSocketService) echo_service = g_socket_service_new ();
  guint echo_port;
  g_autoptr(PtSecretKey) app_key = NULL;
  g_autoptr(PtProfile) profile = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *clients[N_CLIENTS] = { NULL };
  GDataInputStream *client_err[N_CLIENTS] = { NULL };
  Lines err_lines[N_CLIENTS];
  char *nsec_files[N_CLIENTS] = { NULL };
  char *npubs[N_CLIENTS + 1] = { NULL };
  char *addresses[N_CLIENTS] = { NULL };
  Lines lines = { g_string_new (NULL), FALSE };
  PtProfileStore *store;
  PtService *service;
  PtWindow *window;
  GtkListBoxRow *row;
  GListModel *sessions;
  GtkListBox *list;

  if (!relay_tools_find (&tools))
    {
      g_string_free (lines.text, TRUE);
      return;
    }

  relay_url = start_relay (&tools, &lines, &relay, &relay_out);

  echo_port = echo_service_start (echo_service);
  source = g_strdup_printf ("tcp://127.0.0.1:%u",
                            echo_port);

  dir = g_dir_make_tmp ("pt-app-sessions-XXXXXX", &error);
  g_assert_no_error (error);
  app_key = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  app_npub = pt_public_key_to_npub (pt_secret_key_get_public (app_key));
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
      g_autofree char *name = g_strdup_printf ("client%u.nsec", i);

      g_assert_no_error (error);
      nsec_files[i] = g_build_filename (dir, name, NULL);
      g_assert_true (pt_secret_key_save (key, nsec_files[i], FALSE, &error));
      npubs[i] = pt_public_key_to_npub (pt_secret_key_get_public (key));
      err_lines[i] = (Lines) { g_string_new (NULL), FALSE };
    }

  {
    const char *tcp[] = { "127.0.0.1/32", NULL };
    const char *locals[] = { "127.0.0.1", NULL };
    const char *relays[] = { relay_url, NULL };

    profile = pt_profile_new ();
    pt_profile_set_name (profile, "Office");
    pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
    pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
    pt_profile_set_allowed (profile, tcp, NULL);
    pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
    pt_profile_set_nostr (profile, relays, (const char * const *) npubs);
  }
  profiles_path = g_build_filename (dir, "profiles.ini", NULL);
  store = pt_profile_store_new (profiles_path);
  window = pt_window_new (NULL, store);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);
  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  g_assert_true (PT_IS_TUNNEL_ROW (row));
  list = pt_tunnel_row_get_sessions_list (PT_TUNNEL_ROW (row));
  sessions = pt_service_get_sessions (service);

  pt_service_set_default_key (app_key);
  g_assert_true (pt_service_start (service, &error));
  g_assert_no_error (error);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (pt_tunnel_row_get_sessions_button (PT_TUNNEL_ROW (row)))));

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      const char *ready;

      clients[i] = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                     &error, tools.pt, "client", "nostr", "--nsec-file", nsec_files[i],
                                     "--peer-npub", app_npub, "--source", source,
                                     "--target", "127.0.0.1:0", "--relay", relay_url,
                                     "--local-address", "127.0.0.1", "--no-stun", NULL);
      g_assert_no_error (error);
      client_err[i] = g_data_input_stream_new (g_subprocess_get_stderr_pipe (clients[i]));
      g_data_input_stream_read_line_async (client_err[i], G_PRIORITY_DEFAULT, NULL, line_cb,
                                           &err_lines[i]);
      SPIN_UNTIL ((ready = strstr (err_lines[i].text->str, "ready ")) != NULL || err_lines[i].eof,
                  45000);
      if (ready == NULL)
        g_printerr ("%s", err_lines[i].text->str);
      g_assert_nonnull (ready);
      addresses[i] = g_strndup (ready + strlen ("ready "), strcspn (ready + strlen ("ready "), "\n"));
      SPIN_UNTIL (g_list_model_get_n_items (sessions) == i + 1, 20000);
      g_assert_cmpuint (g_list_model_get_n_items (sessions), ==, i + 1);
    }

  /* All three at once; then the first again, after the others arrived. */
  run_bulk_echoes (addresses, N_CLIENTS);
  run_bulk_echoes (addresses, 1);
  g_assert_cmpuint (g_list_model_get_n_items (sessions), ==, N_CLIENTS);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      /* A dropped client would have said so, and connected again. */
      g_assert_null (strstr (err_lines[i].text->str, "closed"));
      g_assert_null (strstr (err_lines[i].text->str, "trying again"));
    }

  /* The row says how many, and lists who, how and what they carried. */
  {
    GtkMenuButton *button = pt_tunnel_row_get_sessions_button (PT_TUNNEL_ROW (row));
    gboolean seen[N_CLIENTS] = { FALSE };

    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (button)));
    g_assert_cmpstr (gtk_menu_button_get_label (button), ==, "3 computers");
    for (guint i = 0; i < N_CLIENTS; i++)
      {
        GtkListBoxRow *session_row = gtk_list_box_get_row_at_index (list, (int) i);
        PtPeerSession *session;
        const char *subtitle;

        g_assert_true (PT_IS_SESSION_ROW (session_row));
        session = pt_session_row_get_session (PT_SESSION_ROW (session_row));
        for (guint k = 0; k < N_CLIENTS; k++)
          if (g_strcmp0 (pt_peer_session_get_peer (session), npubs[k]) == 0)
            seen[k] = TRUE;
        g_assert_true (g_str_has_prefix (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (session_row)),
                                         "npub1"));
        SPIN_UNTIL (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (session_row)), "Up,") &&
                    strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (session_row)), "0 bytes") == NULL,
                    3000);
        subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (session_row));
        g_assert_true (g_str_has_prefix (subtitle, "Up, direct"));
        g_assert_null (strstr (subtitle, "0 bytes"));     /* traffic shown */
      }
    for (guint k = 0; k < N_CLIENTS; k++)
      g_assert_true (seen[k]);
  }

  /* One client leaves: its row goes, the others stay. */
  g_subprocess_send_signal (clients[1], SIGTERM);
  g_subprocess_wait (clients[1], NULL, NULL);
  SPIN_UNTIL (g_list_model_get_n_items (sessions) == N_CLIENTS - 1, 20000);
  g_assert_cmpuint (g_list_model_get_n_items (sessions), ==, N_CLIENTS - 1);
  g_assert_cmpstr (gtk_menu_button_get_label (pt_tunnel_row_get_sessions_button (PT_TUNNEL_ROW (row))),
                   ==, "2 computers");
  run_bulk_echoes (addresses, 1);

  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_subprocess_send_signal (clients[i], SIGTERM);
      g_subprocess_wait (clients[i], NULL, NULL);
      SPIN_UNTIL (err_lines[i].eof, 5000);
      g_clear_object (&client_err[i]);
      g_clear_object (&clients[i]);
      g_string_free (err_lines[i].text, TRUE);
      g_unlink (nsec_files[i]);
      g_free (nsec_files[i]);
      g_free (npubs[i]);
      g_free (addresses[i]);
    }
  pt_service_stop (service);
  g_assert_cmpuint (g_list_model_get_n_items (sessions), ==, 0);
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  gtk_window_destroy (GTK_WINDOW (window));
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);
  g_subprocess_send_signal (relay, SIGTERM);
  g_subprocess_wait (relay, NULL, NULL);
  SPIN_UNTIL (lines.eof, 5000);
  g_socket_service_stop (echo_service);
  pt_service_set_default_key (NULL);
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_string_free (lines.text, TRUE);
  g_unlink (profiles_path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/app/nostr/validation", test_validation);
  g_test_add_func ("/app/nostr/connect-with-pt-server", test_connect_with_pt_server_nostr);
  g_test_add_func ("/app/nostr/serve-for-pt-client", test_serve_for_pt_client);
  g_test_add_func ("/app/nostr/serve-three-clients", test_serve_three_clients);
  g_test_add_func ("/app/named/connect-with-pt-tcp", test_named_with_pt_tcp);
  return g_test_run ();
}
