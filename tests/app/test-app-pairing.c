/* test-app-pairing.c — manual pairing through the QR code, end to end
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The app's offer QR code is rendered as it is on screen, captured to a PNG,
 * decoded (zbar, and zbarimg when installed), handed to a real
 * `pt server manual`, and its answer pasted back; the tunnel then carries
 * bytes to an echo service. The serve role is paired the other way round
 * from a picture of an in-process client's QR code. Run through
 * gtk-test-runner (Xvfb + dbus-run-session).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "../echo-service.h"
#include "app-test-util.h"
#include "pt-pairing-dialog.h"
#include "pt-profile-store.h"
#include "pt-qr.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"

#define ECHO_BYTES (64 * 1024)

/* A client in a thread: blocking I/O must not stop the main context, which
 * runs the tunnel and the echo service. */

typedef struct
{
  char     *address;
  GBytes   *sent;
  GBytes   *received;
  gboolean  done;
} EchoClient;

static gpointer
echo_client_thread (gpointer user_data)
{
  EchoClient *client = user_data;
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0, got = 0;
  const guint8 *data = g_bytes_get_data (client->sent, &len);
  guint8 *buffer = g_malloc (len);

  connection = g_socket_client_connect_to_host (socket_client, client->address, 0, NULL, &error);
  if (connection != NULL &&
      g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)),
                                 data, len, NULL, NULL, &error))
    g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (connection)),
                             buffer, len, &got, NULL, &error);
  if (error != NULL)
    g_printerr ("# echo client: %s\n", error->message);
  client->received = g_bytes_new_take (buffer, got);
  if (connection != NULL)
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  g_atomic_int_set (&client->done, TRUE);
  return NULL;
}

static void
assert_echo_through (const char *address)
{
  EchoClient client = { 0 };
  guint8 *data = g_malloc (ECHO_BYTES);
  GThread *thread;

  for (gsize i = 0; i < ECHO_BYTES; i++)
    data[i] = (guint8) g_random_int ();
  client.address = g_strdup (address);
  client.sent = g_bytes_new_take (data, ECHO_BYTES);
  thread = g_thread_new ("echo-client", echo_client_thread, &client);
  SPIN_UNTIL (g_atomic_int_get (&client.done), 30000);
  g_assert_true (g_atomic_int_get (&client.done));
  g_thread_join (thread);
  g_assert_true (g_bytes_equal (client.sent, client.received));
  g_bytes_unref (client.sent);
  g_bytes_unref (client.received);
  g_free (client.address);
}

/* Capturing the QR code as the screen shows it */

static GdkTexture *
capture_widget (GtkWidget *widget)
{
  g_autoptr(GdkPaintable) paintable = gtk_widget_paintable_new (widget);
  g_autoptr(GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr(GskRenderNode) node = NULL;
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  GskRenderer *renderer = gtk_native_get_renderer (gtk_widget_get_native (widget));

  g_assert_cmpint (w, >, 0);
  /* White below, like a screen behind the code. */
  gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 1, 1, 1, 1 }, &GRAPHENE_RECT_INIT (0, 0, w, h));
  gdk_paintable_snapshot (paintable, GDK_SNAPSHOT (snapshot), w, h);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  g_assert_nonnull (node);
  return gsk_renderer_render_texture (renderer, node, &GRAPHENE_RECT_INIT (0, 0, w, h));
}

static char *
temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pt-app-pairing-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* zbarimg, an independent decoder, agrees with what the app read. */
static void
check_with_zbarimg (const char *png,
                    GBytes     *expected)
{
  g_autofree char *zbarimg = g_find_program_in_path ("zbarimg");
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const guint8 *data;

  if (zbarimg == NULL)
    {
      g_test_message ("SKIP: zbarimg is not installed (Debian package zbar-tools): "
                      "only the app's own decoder was checked");
      return;
    }
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                              &error, zbarimg, "--quiet", "--raw", "-Sbinary", png, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate (process, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  data = g_bytes_get_data (out, &len);
  /* zbarimg ends its output with a newline. */
  if (len > 0 && data[len - 1] == '\n' && len == g_bytes_get_size (expected) + 1)
    len--;
  g_assert_cmpmem (data, len, g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
}

static void
test_qr_codec (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *png = g_build_filename (dir, "code.png", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (png);
  g_autoptr(GByteArray) data = g_byte_array_new ();
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GBytes) decoded = NULL;
  g_autoptr(GBytes) huge = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  /* Binary, with NULs and bytes that are not UTF-8. */
  for (guint i = 0; i < 300; i++)
    {
      guint8 b = (guint8) (i * 37 + 11);
      g_byte_array_append (data, &b, 1);
    }
  payload = g_byte_array_free_to_bytes (g_steal_pointer (&data));

  texture = pt_qr_texture_new (payload, 3, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_texture_get_width (texture) % 3, ==, 0);
  decoded = pt_qr_decode_texture (texture, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (payload, decoded));
  g_clear_pointer (&decoded, g_bytes_unref);

  g_assert_true (gdk_texture_save_to_png (texture, png));
  decoded = pt_qr_decode_file (file, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (payload, decoded));
  check_with_zbarimg (png, payload);
  g_unlink (png);

  /* Too large for any QR code: a clear error, no texture. */
  huge = g_bytes_new_take (g_malloc0 (4000), 4000);
  g_assert_null (pt_qr_texture_new (huge, 1, &error));
  g_assert_error (error, PT_QR_ERROR, PT_QR_ERROR_TOO_LARGE);
  g_clear_error (&error);

  /* Not an image; an image without a code. */
  g_file_set_contents (png, "not a picture", -1, NULL);
  g_assert_null (pt_qr_decode_file (file, &error));
  g_assert_error (error, PT_QR_ERROR, PT_QR_ERROR_IMAGE);
  g_clear_error (&error);
  {
    g_autoptr(GBytes) white = g_bytes_new_take (memset (g_malloc (30 * 30 * 3), 0xff, 30 * 30 * 3), 30 * 30 * 3);
    g_autoptr(GdkTexture) blank = gdk_memory_texture_new (30, 30, GDK_MEMORY_R8G8B8, white, 30 * 3);

    g_assert_null (pt_qr_decode_texture (blank, &error));
    g_assert_error (error, PT_QR_ERROR, PT_QR_ERROR_NOT_FOUND);
  }
  g_unlink (png);
  g_rmdir (dir);
}

/* Connect role against a real `pt server manual` */

static char *
pt_path (void)
{
  const char *build = g_getenv ("PT_BUILD_DIR");

  return build ? g_build_filename (build, "cli", "pt", NULL) : NULL;
}

typedef struct
{
  GString  *out;
  gboolean  eof;
} LineReader;

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  LineReader *reader = user_data;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (source),
                                                                     result, NULL, NULL);

  if (line == NULL)
    {
      reader->eof = TRUE;
      return;
    }
  g_string_append_printf (reader->out, "%s\n", line);
  if (strstr (line, "-----END PEERTUNNEL") != NULL)
    {
      reader->eof = TRUE;
      return;
    }
  g_data_input_stream_read_line_async (G_DATA_INPUT_STREAM (source), G_PRIORITY_DEFAULT, NULL,
                                       read_line_cb, reader);
}

static gboolean
is_up (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  return tunnel && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP;
}

static gboolean
has_ended (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  return tunnel && (pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED ||
                    pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_CLOSED);
}

static void
server_exited_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static void
test_connect_with_pt_server (void)
{
  g_autofree char *pt = pt_path ();
  g_autofree char *dir = temp_dir ();
  g_autofree char *profiles = g_build_filename (dir, "profiles.ini", NULL);
  g_autofree char *png = g_build_filename (dir, "offer.png", NULL);
  g_autofree char *source = NULL;
  g_autofree char *row_text = NULL;
  g_autofree char *address = NULL;
  g_autofree char *armored = NULL;
  g_autoptr(GFile) png_file = g_file_new_for_path (png);
  g_autoptr(GSocketService) echo = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GDataInputStream) server_out = NULL;
  g_autoptr(GBytes) payload = NULL;
  g_autoptr(GdkTexture) captured = NULL;
  g_autoptr(PtSignal) offer = NULL;
  g_autoptr(GError) error = NULL;
  LineReader reader = { g_string_new (NULL), FALSE };
  PtProfileStore *store;
  PtWindow *window;
  PtProfile *profile;
  PtService *service;
  PtPairingDialog *dialog;
  GtkListBoxRow *row;
  guint16 port;
  const char *locals[] = { "127.0.0.1", NULL };
  const char *targets[] = { "127.0.0.1:0", NULL };
  const char *sources[] = { NULL, NULL };

  if (pt == NULL || !g_file_test (pt, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("SKIP: no pt executable (PT_BUILD_DIR unset or cli not built)");
      return;
    }

  echo = g_socket_service_new ();
  port = echo_service_start (echo);
  source = g_strdup_printf ("tcp://127.0.0.1:%u", port);
  sources[0] = source;

  store = pt_profile_store_new (profiles);
  profile = pt_profile_new ();
  pt_profile_set_name (profile, "Echo over there");
  pt_profile_set_forwards (profile, sources, targets);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);

  window = pt_window_new (NULL, store);
  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));

  /* The row's switch: start, and the pairing dialog opens. */
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  gtk_switch_set_active (pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row)), TRUE);
  dialog = PT_PAIRING_DIALOG (pt_window_get_pairing (window));
  g_assert_nonnull (dialog);
  g_object_ref (dialog);

  /* The offer appears as a QR code once gathering is done, drawn on screen. */
  SPIN_UNTIL (pt_qr_code_get_texture (PT_QR_CODE (pt_pairing_dialog_get_qr_code (dialog))) != NULL &&
              gtk_widget_get_mapped (pt_pairing_dialog_get_qr_code (dialog)) &&
              gtk_widget_get_width (pt_pairing_dialog_get_qr_code (dialog)) > 0, 15000);
  spin_for_ms (100);
  g_assert_nonnull (pt_service_get_local_text (service));

  /* Captured the way a second machine's camera or a screenshot would see it. */
  captured = capture_widget (pt_pairing_dialog_get_qr_code (dialog));
  g_assert_true (gdk_texture_save_to_png (captured, png));
  payload = pt_qr_decode_file (png_file, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (payload, pt_service_get_local_payload (service)));
  check_with_zbarimg (png, payload);

  /* pt server manual reads the offer as text on stdin and prints its answer. */
  offer = pt_signal_decode (g_bytes_get_data (payload, NULL), g_bytes_get_size (payload), &error);
  g_assert_no_error (error);
  armored = pt_signal_armor (offer, &error);
  g_assert_no_error (error);
  server = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                             pt, "server", "manual", "--no-stun", "--local-address", "127.0.0.1",
                             "--allowed-tcp", "127.0.0.1/32", NULL);
  g_assert_no_error (error);
  g_output_stream_write_all (g_subprocess_get_stdin_pipe (server), armored, strlen (armored),
                             NULL, NULL, &error);
  g_assert_no_error (error);
  server_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server));
  g_data_input_stream_read_line_async (server_out, G_PRIORITY_DEFAULT, NULL, read_line_cb, &reader);
  SPIN_UNTIL (reader.eof, 15000);
  g_assert_nonnull (strstr (reader.out->str, "-----END PEERTUNNEL ANSWER-----"));

  /* A wrong block first: the inline error says so and nothing changes. */
  gtk_text_buffer_set_text (pt_pairing_dialog_get_remote_buffer (dialog), armored, -1);
  g_signal_emit_by_name (pt_pairing_dialog_get_connect_button (dialog), "clicked");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (pt_pairing_dialog_get_error_label (dialog))));
  g_assert_false (pt_service_get_paired (service));

  /* The answer, pasted as the user would. */
  gtk_text_buffer_set_text (pt_pairing_dialog_get_remote_buffer (dialog), reader.out->str, -1);
  g_signal_emit_by_name (pt_pairing_dialog_get_connect_button (dialog), "clicked");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (pt_pairing_dialog_get_error_label (dialog))));
  SPIN_UNTIL (is_up (service) || has_ended (service), 20000);
  g_assert_true (is_up (service));

  /* The dialog closes itself; the row says where to connect. */
  SPIN_UNTIL (!gtk_widget_get_visible (GTK_WIDGET (dialog)), 2000);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  g_assert_finalize_object (g_steal_pointer (&dialog));
  g_assert_null (pt_window_get_pairing (window));
  address = pt_service_dup_local_address (service);
  g_assert_nonnull (address);
  row_text = g_strdup (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
  g_assert_true (g_str_has_prefix (row_text, "Up, "));
  g_assert_nonnull (strstr (row_text, address));

  assert_echo_through (address);
  /* Counters refresh a few times a second. */
  SPIN_UNTIL (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "↑ 0 bytes") == NULL, 3000);
  g_clear_pointer (&row_text, g_free);
  row_text = g_strdup (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
  g_test_message ("row: %s", row_text);
  g_assert_null (strstr (row_text, "↑ 0 bytes"));

  /* Off again: the tunnel closes, the server sees it and exits. */
  gtk_switch_set_active (pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row)), FALSE);
  g_assert_false (pt_service_get_running (service));
  {
    gboolean exited = FALSE;

    g_subprocess_wait_async (server, NULL, server_exited_cb, &exited);
    SPIN_UNTIL (exited, 5000);
    if (!exited)
      {
        g_subprocess_send_signal (server, SIGTERM);
        SPIN_UNTIL (exited, 5000);
      }
    g_assert_true (exited);
  }

  gtk_window_destroy (GTK_WINDOW (window));
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  drain_main_context ();
  g_assert_finalize_object (window);
  g_object_unref (profile);
  g_assert_finalize_object (store);
  g_socket_service_stop (echo);
  g_string_free (reader.out, TRUE);
  g_unlink (png);
  g_unlink (profiles);
  g_rmdir (dir);
}

/* Serve role: the client's offer comes as a picture of its QR code */

static void
offer_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  PtSignal **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = pt_tunnel_create_offer_finish (PT_TUNNEL (source), result, &error);
  g_assert_no_error (error);
}

static void
test_serve_from_picture (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *profiles = g_build_filename (dir, "profiles.ini", NULL);
  g_autofree char *png = g_build_filename (dir, "their-offer.png", NULL);
  g_autofree char *target = NULL;
  g_autoptr(GFile) png_file = g_file_new_for_path (png);
  g_autoptr(GSocketService) echo = NULL;
  g_autoptr(PtIceConfig) ice = pt_ice_config_new ();
  g_autoptr(PtTunnel) client = NULL;
  g_autoptr(PtForwardSpec) spec = NULL;
  g_autoptr(GBytes) offer_bytes = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(PtSignal) answer = NULL;
  g_autoptr(GPtrArray) listen = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) garbage = g_bytes_new_static ("hello", 5);
  PtSignal *offer = NULL;
  PtProfileStore *store;
  PtWindow *window;
  PtProfile *profile;
  PtService *service;
  PtPairingDialog *dialog;
  guint16 port;
  const char *locals[] = { "127.0.0.1", NULL };
  const char *tcp[] = { "127.0.0.1/32", NULL };

  echo = g_socket_service_new ();
  port = echo_service_start (echo);

  store = pt_profile_store_new (profiles);
  profile = pt_profile_new ();
  pt_profile_set_name (profile, "Serve echo");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_allowed (profile, tcp, NULL);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);
  window = pt_window_new (NULL, store);
  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));

  gtk_widget_activate_action (GTK_WIDGET (window), "win.start-tunnel", "s", pt_profile_get_id (profile));
  dialog = PT_PAIRING_DIALOG (g_object_ref (pt_window_get_pairing (window)));

  /* The other computer: an engine client with its offer as a QR code picture. */
  pt_ice_config_add_local_address (ice, "127.0.0.1", NULL);
  client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, ice);
  target = g_strdup_printf ("127.0.0.1:%u", port);
  spec = pt_forward_spec_new (PT_PROTO_TCP, "127.0.0.1", port);
  g_assert_true (pt_tunnel_add_forward (client, spec, "127.0.0.1:0", &error));
  pt_tunnel_create_offer_async (client, NULL, offer_cb, &offer);
  SPIN_UNTIL (offer != NULL, 15000);
  g_assert_nonnull (offer);
  offer_bytes = pt_signal_encode (offer, &error);
  g_assert_no_error (error);
  texture = pt_qr_texture_new (offer_bytes, 5, &error);
  g_assert_no_error (error);
  g_assert_true (gdk_texture_save_to_png (texture, png));

  /* Garbage first: an inline error, still waiting. */
  g_assert_false (pt_pairing_dialog_submit (dialog, garbage, &error));
  g_assert_error (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_MALFORMED);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (pt_pairing_dialog_get_error_label (dialog))));
  g_clear_error (&error);

  /* A picture without a code: said inline. */
  {
    g_autoptr(GBytes) white = g_bytes_new_take (memset (g_malloc (60 * 60 * 3), 0xff, 60 * 60 * 3), 60 * 60 * 3);
    g_autoptr(GdkTexture) blank = gdk_memory_texture_new (60, 60, GDK_MEMORY_R8G8B8, white, 60 * 3);
    g_autofree char *blank_png = g_build_filename (dir, "blank.png", NULL);
    g_autoptr(GFile) blank_file = g_file_new_for_path (blank_png);

    g_assert_true (gdk_texture_save_to_png (blank, blank_png));
    g_assert_false (pt_pairing_dialog_submit_image (dialog, blank_file, &error));
    g_assert_error (error, PT_QR_ERROR, PT_QR_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_unlink (blank_png);
  }

  /* The offer's QR code as a screenshot on the clipboard, then Paste. */
  {
    g_autoptr(GdkTexture) from_png = gdk_texture_new_from_file (png_file, &error);

    g_assert_no_error (error);
    gdk_clipboard_set_texture (gtk_widget_get_clipboard (GTK_WIDGET (dialog)), from_png);
    pt_pairing_dialog_paste (dialog);
    SPIN_UNTIL (pt_service_get_paired (service), 5000);
    g_assert_true (pt_service_get_paired (service));
  }
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (pt_pairing_dialog_get_error_label (dialog))));

  /* Our answer appears; the client takes it as text. */
  SPIN_UNTIL (pt_service_get_local_text (service) != NULL, 15000);
  g_assert_nonnull (pt_service_get_local_text (service));
  answer = pt_signal_dearmor (pt_service_get_local_text (service), PT_SIGNAL_KIND_ANSWER, &error);
  g_assert_no_error (error);
  g_assert_true (pt_tunnel_set_answer (client, answer, &error));
  g_assert_no_error (error);
  SPIN_UNTIL ((is_up (service) && pt_tunnel_get_state (client) == PT_TUNNEL_STATE_UP) ||
              has_ended (service), 20000);
  g_assert_true (is_up (service));
  SPIN_UNTIL (!gtk_widget_get_visible (GTK_WIDGET (dialog)), 2000);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (dialog)));
  g_assert_finalize_object (g_steal_pointer (&dialog));

  listen = pt_tunnel_dup_listen_addresses (client);
  assert_echo_through (g_ptr_array_index (listen, 0));

  /* The row lists its one client, as a Nostr server's row lists each. */
  {
    GtkListBoxRow *row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
    GtkMenuButton *button = pt_tunnel_row_get_sessions_button (PT_TUNNEL_ROW (row));
    GListModel *sessions = pt_service_get_sessions (service);
    g_autoptr(PtPeerSession) session = NULL;

    g_assert_cmpuint (g_list_model_get_n_items (sessions), ==, 1);
    session = g_list_model_get_item (sessions, 0);
    g_assert_null (pt_peer_session_get_peer (session));   /* a pasted offer names no key */
    g_assert_true (pt_peer_session_get_tunnel (session) == pt_service_get_tunnel (service));
    g_assert_true (gtk_widget_get_visible (GTK_WIDGET (button)));
    g_assert_cmpstr (gtk_menu_button_get_label (button), ==, "1 computer");
    g_assert_nonnull (gtk_list_box_get_row_at_index (pt_tunnel_row_get_sessions_list (PT_TUNNEL_ROW (row)), 0));
  }

  pt_tunnel_close (client);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.stop-tunnel", "s", pt_profile_get_id (profile));
  g_assert_cmpuint (g_list_model_get_n_items (pt_service_get_sessions (service)), ==, 0);
  gtk_window_destroy (GTK_WINDOW (window));
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  drain_main_context ();
  g_assert_finalize_object (window);
  g_object_unref (profile);
  g_assert_finalize_object (store);
  g_socket_service_stop (echo);
  pt_signal_free (offer);
  g_unlink (png);
  g_unlink (profiles);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/qr/codec", test_qr_codec);
  g_test_add_func ("/app/pairing/connect-with-pt-server", test_connect_with_pt_server);
  g_test_add_func ("/app/pairing/serve-from-picture", test_serve_from_picture);
  return g_test_run ();
}
