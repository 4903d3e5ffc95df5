/* test-app-vpn.c — VPN profiles: the editor's fields, the inline errors, and a
 * VPN profile joining `pt vpn server` for real
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * In-process GTK tests run through gtk-test-runner (Xvfb + dbus-run-session).
 * As root, main() first moves this process into a network namespace of its
 * own, so that nothing here touches the host's devices or routes. The end to
 * end test then starts `pt vpn server` in a second namespace (unshare --net)
 * joined to ours by a veth pair, a relay (tests/relay, node) on our loopback
 * with an in-process forwarder for the server's side, and connects a VPN
 * profile: the row shows the assigned address, device and routes, and ping
 * reaches the server's VPN address through the tunnel. Without root,
 * /dev/net/tun, node or the relay's packages it prints SKIP and why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "app-test-util.h"
#include "pt-profile-editor-private.h"
#include "pt-profile-store.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"

static char *netns_problem;   /* why this process has no namespace of its own, or NULL */

static char *
temp_profiles_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pt-app-vpn-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, "profiles.ini", NULL);
}

static void
remove_profiles_file (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  g_unlink (path);
  g_rmdir (dir);
}

static char *
new_npub (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);

  g_assert_no_error (error);
  return pt_public_key_to_npub (pt_secret_key_get_public (key));
}

/* Saving fails with an inline message naming the problem. */
static void
assert_refused (PtProfileEditor *editor,
                const char      *fragment)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (editor->error_label)));
  g_assert_cmpstr (gtk_label_get_text (editor->error_label), ==, error->message);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not mention “%s”", error->message, fragment);
}

static void
set_text (AdwEntryRow *row,
          const char  *text)
{
  gtk_editable_set_text (GTK_EDITABLE (row), text);
}

static void
test_editor_serve (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  g_autoptr(PtProfileStore) again = NULL;
  g_autofree char *npub = new_npub ();
  g_autoptr(GError) error = NULL;
  const char *dns[] = { "10.77.0.1", NULL };
  PtProfileEditor *editor;
  PtProfile *saved;
  PtProfile *loaded;

  editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, NULL));
  set_text (editor->name_row, "Home VPN");
  adw_combo_row_set_selected (editor->role_row, 1);
  adw_combo_row_set_selected (editor->mode_row, PT_PROFILE_MODE_VPN);
  /* Networks instead of forwards and allowed services; the Nostr fields stay. */
  g_assert_true (gtk_widget_get_visible (editor->vpn_group));
  g_assert_true (gtk_widget_get_visible (editor->nostr_group));
  g_assert_false (gtk_widget_get_visible (editor->forwards_group));
  g_assert_false (gtk_widget_get_visible (editor->allowed_group));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (editor->vpn_network_row)));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (editor->vpn_mtu_row)));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (editor->vpn_routes_row)));
  g_assert_false (gtk_widget_get_visible (editor->vpn_ipv6_row));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (editor->role_row)), ==,
                   "Route the VPN’s network to the computers that connect");

  set_text (editor->peers_row, npub);
  assert_refused (editor, "10.77.0.0/24");                  /* no network yet */
  set_text (editor->vpn_network_row, "10.77.0.0");
  assert_refused (editor, "10.77.0.0");                     /* no prefix length */
  set_text (editor->vpn_network_row, "10.77.0.1/24");
  assert_refused (editor, "10.77.0.1/24");                  /* host bits set */
  set_text (editor->vpn_network_row, "fd00:77::/64");
  assert_refused (editor, "IPv4");                          /* the IPv6 one has its own field */
  set_text (editor->vpn_network_row, "8.8.8.0/24");
  assert_refused (editor, "public");
  set_text (editor->vpn_network_row, "10.77.0.0/31");
  assert_refused (editor, "at most 30");                    /* no room for a client */
  set_text (editor->vpn_network_row, "10.77.0.0/24");
  set_text (editor->vpn_network6_row, "2001:db8:77::/64");
  assert_refused (editor, "public");
  set_text (editor->vpn_network6_row, "fd00:77::/64");
  set_text (editor->vpn_mtu_row, "lots");
  assert_refused (editor, "lots");
  set_text (editor->vpn_mtu_row, "100");
  assert_refused (editor, "MTU");
  set_text (editor->vpn_mtu_row, "9001");
  assert_refused (editor, "MTU");
  set_text (editor->vpn_mtu_row, "1000");                   /* fine for IPv4, not with IPv6 */
  assert_refused (editor, "1280");
  set_text (editor->vpn_mtu_row, "1380");
  set_text (editor->vpn_dns_row, "dns.example");
  assert_refused (editor, "dns.example");
  set_text (editor->vpn_dns_row, "10.77.0.1");

  saved = pt_profile_editor_save (editor, &error);
  g_assert_no_error (error);
  g_assert_nonnull (saved);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (editor->error_label)));
  g_assert_cmpint (pt_profile_get_mode (saved), ==, PT_PROFILE_MODE_VPN);
  g_assert_cmpint (pt_profile_get_role (saved), ==, PT_TUNNEL_ROLE_SERVER);
  g_assert_cmpstr (pt_profile_get_vpn_network (saved), ==, "10.77.0.0/24");
  g_assert_cmpstr (pt_profile_get_vpn_network6 (saved), ==, "fd00:77::/64");
  g_assert_cmpuint (pt_profile_get_vpn_mtu (saved), ==, 1380);
  g_assert_cmpstrv (pt_profile_get_vpn_dns (saved), dns);
  g_assert_null (pt_profile_get_sources (saved)[0]);          /* no forwards in a VPN */
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  /* Editing starts from the saved fields. */
  editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, saved));
  g_assert_cmpuint (adw_combo_row_get_selected (editor->mode_row), ==, PT_PROFILE_MODE_VPN);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->vpn_network_row)), ==, "10.77.0.0/24");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->vpn_network6_row)), ==, "fd00:77::/64");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->vpn_mtu_row)), ==, "1380");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->vpn_dns_row)), ==, "10.77.0.1");
  g_assert_true (gtk_widget_get_visible (editor->vpn_group));
  g_assert_true (pt_profile_editor_save (editor, &error) == saved);
  g_assert_no_error (error);
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  /* And through profiles.ini. */
  g_assert_true (pt_profile_store_save (store, &error));
  g_assert_no_error (error);
  again = pt_profile_store_new (path);
  g_assert_true (pt_profile_store_load (again, &error));
  g_assert_no_error (error);
  loaded = pt_profile_store_find (again, pt_profile_get_id (saved));
  g_assert_nonnull (loaded);
  g_assert_cmpint (pt_profile_get_mode (loaded), ==, PT_PROFILE_MODE_VPN);
  g_assert_cmpstr (pt_profile_get_vpn_network (loaded), ==, "10.77.0.0/24");
  g_assert_cmpstr (pt_profile_get_vpn_network6 (loaded), ==, "fd00:77::/64");
  g_assert_cmpuint (pt_profile_get_vpn_mtu (loaded), ==, 1380);
  g_assert_cmpstrv (pt_profile_get_vpn_dns (loaded), dns);
  g_assert_true (pt_profile_validate (loaded, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&store));
  remove_profiles_file (path);
}

static void
test_editor_connect (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  g_autoptr(PtProfileStore) again = NULL;
  g_autofree char *npub = new_npub ();
  g_autoptr(GError) error = NULL;
  const char *routes[] = { "10.78.0.0/16", "fd00:78::/48", NULL };
  const char *peers[] = { npub, NULL };
  PtProfileEditor *editor;
  PtProfile *saved;
  PtProfile *loaded;

  editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, NULL));
  set_text (editor->name_row, "Office VPN");
  adw_combo_row_set_selected (editor->mode_row, PT_PROFILE_MODE_VPN);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (editor->vpn_network_row)));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (editor->vpn_routes_row)));
  g_assert_true (gtk_widget_get_visible (editor->vpn_ipv6_row));
  g_assert_false (gtk_widget_get_visible (editor->forwards_group));

  assert_refused (editor, NULL);                            /* which server? */
  set_text (editor->peers_row, npub);
  set_text (editor->vpn_routes_row, "8.8.8.0/24");
  assert_refused (editor, "public");
  set_text (editor->vpn_routes_row, "0.0.0.0/0");           /* never the default route */
  assert_refused (editor, "public");
  set_text (editor->vpn_routes_row, "10.78.0.1/16");
  assert_refused (editor, "10.78.0.1/16");
  set_text (editor->vpn_routes_row, "10.78.0.0/16, fd00:78::/48");
  assert_refused (editor, "IPv6");                          /* not asked for */
  gtk_check_button_set_active (editor->vpn_ipv6_check, TRUE);

  saved = pt_profile_editor_save (editor, &error);
  g_assert_no_error (error);
  g_assert_nonnull (saved);
  g_assert_cmpint (pt_profile_get_role (saved), ==, PT_TUNNEL_ROLE_CLIENT);
  g_assert_cmpstrv (pt_profile_get_vpn_routes (saved), routes);
  g_assert_cmpstrv (pt_profile_get_peers (saved), peers);
  g_assert_true (pt_profile_get_vpn_ipv6 (saved));
  g_assert_null (pt_profile_get_vpn_network (saved));
  g_assert_null (pt_profile_get_sources (saved)[0]);
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, saved));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->vpn_routes_row)), ==,
                   "10.78.0.0/16, fd00:78::/48");
  g_assert_true (gtk_check_button_get_active (editor->vpn_ipv6_check));
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  g_assert_true (pt_profile_store_save (store, &error));
  g_assert_no_error (error);
  again = pt_profile_store_new (path);
  g_assert_true (pt_profile_store_load (again, &error));
  g_assert_no_error (error);
  loaded = pt_profile_store_find (again, pt_profile_get_id (saved));
  g_assert_nonnull (loaded);
  g_assert_cmpint (pt_profile_get_mode (loaded), ==, PT_PROFILE_MODE_VPN);
  g_assert_cmpstrv (pt_profile_get_vpn_routes (loaded), routes);
  g_assert_true (pt_profile_get_vpn_ipv6 (loaded));
  g_assert_true (pt_profile_validate (loaded, &error));
  g_assert_no_error (error);

  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&store));
  remove_profiles_file (path);
}

/* The helper refused (as pkexec does when the user dismisses the prompt) or
 * missing: the row says so inline, in red, and the switch goes back off. */
static void
test_row_authorization_refused (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *refuser = g_build_filename (dir, "refusing-helper", NULL);
  PtProfileStore *store = pt_profile_store_new (path);
  PtWindow *window = pt_window_new (NULL, store);
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (NULL);
  g_autofree char *old_helper = g_strdup (g_getenv ("PT_TUN_HELPER"));
  const char *relays[] = { "ws://127.0.0.1:9", NULL };
  const char *locals[] = { "127.0.0.1", NULL };
  const char *helpers[] = { NULL, "/nonexistent/peertunnel-tun-helper" };
  PtService *service;
  GtkListBoxRow *row;
  GtkSwitch *toggle;
  g_autoptr(GError) error = NULL;

  /* pkexec's exit status when the user dismisses the dialog. */
  g_assert_true (g_file_set_contents_full (refuser, "#!/bin/sh\nexit 126\n", -1,
                                           G_FILE_SET_CONTENTS_NONE, 0700, &error));
  helpers[0] = refuser;

  pt_profile_set_name (profile, "Serve the VPN");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
  pt_profile_set_any_peer (profile, TRUE);
  {
    g_autoptr(PtSecretString) token = pt_token_generate (NULL);

    pt_profile_set_token (profile, token);
  }
  pt_profile_set_nostr (profile, relays, NULL);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  pt_profile_set_vpn (profile, "10.99.0.0/24", NULL, 0, NULL, NULL, FALSE);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);
  pt_service_set_default_key (key);

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  toggle = pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row));

  for (guint i = 0; i < G_N_ELEMENTS (helpers); i++)
    {
      const GError *why;

      g_setenv ("PT_TUN_HELPER", helpers[i], TRUE);
      gtk_switch_set_active (toggle, TRUE);
      g_assert_true (pt_service_get_running (service));
      SPIN_UNTIL (!pt_service_get_running (service), 20000);
      g_assert_false (pt_service_get_running (service));
      why = pt_service_get_error (service);
      g_assert_error ((GError *) why, PT_TUN_ERROR, PT_TUN_ERROR_HELPER);
      g_test_message ("%s", why->message);
      g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), "Failed: "));
      g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), why->message));
      g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
      g_assert_false (gtk_switch_get_active (toggle));
      g_assert_null (pt_service_get_vpn_device (service));
    }

  /* Off by hand clears nothing; the next start clears the old error. */
  if (old_helper != NULL)
    g_setenv ("PT_TUN_HELPER", old_helper, TRUE);
  else
    g_unsetenv ("PT_TUN_HELPER");
  pt_service_set_default_key (NULL);
  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_unlink (refuser);
  remove_profiles_file (path);
}

static PtProfile *
make_connect_profile (const char *name)
{
  PtProfile *profile = pt_profile_new ();
  g_autofree char *npub = new_npub ();
  const char *relays[] = { "ws://127.0.0.1:9", NULL };
  const char *peers[] = { npub, NULL };
  const char *locals[] = { "127.0.0.1", NULL };

  pt_profile_set_name (profile, name);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
  pt_profile_set_nostr (profile, relays, peers);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  return profile;
}

/* One VPN client per computer, whether pt vpn client or a profile holds
 * the lock; the message names the holder. */
static void
test_one_client (void)
{
  g_autoptr(PtProfile) first_profile = make_connect_profile ("First VPN");
  g_autoptr(PtProfile) second_profile = make_connect_profile ("Second VPN");
  PtService *first = pt_service_new (first_profile);
  PtService *second = pt_service_new (second_profile);
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (NULL);
  g_autoptr(GError) error = NULL;
  const char *path = g_getenv ("PT_VPN_CLIENT_LOCK");
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
  g_assert_cmpint (ftruncate (fd, 0), ==, 0);
  g_assert_cmpint (pwrite (fd, "pid 1, pt vpn client\n", 21, 0), ==, 21);
  pt_service_set_default_key (key);

  g_assert_false (pt_service_start (first, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE);
  g_assert_nonnull (strstr (error->message, "pid 1, pt vpn client"));
  g_assert_false (pt_service_get_running (first));
  g_clear_error (&error);
  close (fd);

  g_assert_true (pt_service_start (first, &error));
  g_assert_no_error (error);
  g_assert_false (pt_service_start (second, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE);
  g_assert_nonnull (strstr (error->message, "PeerTunnel app"));
  g_clear_error (&error);

  pt_service_stop (first);
  g_assert_true (pt_service_start (second, &error));
  g_assert_no_error (error);
  pt_service_stop (second);
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  pt_service_set_default_key (NULL);
  g_assert_finalize_object (first);
  g_assert_finalize_object (second);
  g_assert_finalize_object (g_steal_pointer (&first_profile));
  g_assert_finalize_object (g_steal_pointer (&second_profile));
}

/* ---------------------------------------------------------------------- */
/* End to end */

/* The relay listens on our loopback only; the server's namespace reaches it
 * through this forwarder on the veth address. */
typedef struct
{
  GSocketClient *client;
  char          *target;
} Forwarder;

static void
forward_spliced (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_splice_finish (result, NULL);
}

static void
forward_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GSocketConnection) incoming = user_data;
  g_autoptr(GSocketConnection) outgoing =
    g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), result, NULL);

  if (outgoing == NULL)
    return;
  g_io_stream_splice_async (G_IO_STREAM (incoming), G_IO_STREAM (outgoing),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, NULL, forward_spliced, NULL);
}

static gboolean
forward_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
                  gpointer user_data)
{
  Forwarder *forwarder = user_data;

  g_socket_client_connect_to_host_async (forwarder->client, forwarder->target, 0, NULL,
                                         forward_connected, g_object_ref (connection));
  return TRUE;
}

static gboolean
run_quietly (const char  *command,
             GError     **error)
{
  g_auto(GStrv) argv = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_shell_parse_argv (command, NULL, &argv, error) ||
      !g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                     NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s: %s", command, err ? err : "");
      return FALSE;
    }
  return TRUE;
}

static gboolean
vpn_is_up (PtService *service)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  return pt_service_get_vpn_device (service) != NULL && tunnel != NULL &&
         pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP;
}

typedef struct
{
  gboolean done;
  gboolean ok;
  GError  *error;
} Wait;

static void
waited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->ok = g_subprocess_wait_check_finish (G_SUBPROCESS (source), result, &wait->error);
  wait->done = TRUE;
}

/* Whether process @pid lives in another network namespace than this one. */
static gboolean
netns_differs (const char *pid)
{
  g_autofree char *theirs_path = g_strdup_printf ("/proc/%s/ns/net", pid);
  g_autofree char *theirs = g_file_read_link (theirs_path, NULL);
  g_autofree char *ours = g_file_read_link ("/proc/self/ns/net", NULL);

  return theirs != NULL && ours != NULL && g_strcmp0 (theirs, ours) != 0;
}

/* Runs in the server's namespace: waits for the port of the forwarder on
 * standard input and for its end of the veth pair, then becomes pt. */
static const char server_script[] =
  "read port\n"
  "for i in $(seq 200); do ip link show ptvb0 >/dev/null 2>&1 && break; sleep 0.05; done\n"
  "ip link set lo up && ip addr add 192.168.77.2/24 dev ptvb0 && ip link set ptvb0 up || exit 3\n"
  "exec \"$@\" --relay \"ws://192.168.77.1:$port\"\n";

static void
test_end_to_end (void)
{
  const char *build_dir = g_getenv ("PT_BUILD_DIR");
  g_autofree char *ip = g_find_program_in_path ("ip");
  g_autofree char *ping = g_find_program_in_path ("ping");
  g_autofree char *unshare_bin = g_find_program_in_path ("unshare");
  g_auto(RelayTools) tools = { 0 };
  g_autofree char *helper = build_dir ? g_build_filename (build_dir, "helper", "peertunnel-tun-helper", NULL) : NULL;
  g_autofree char *old_helper = g_strdup (g_getenv ("PT_TUN_HELPER"));
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *nsec_file = NULL;
  g_autofree char *relay_url = NULL;
  g_autofree char *server_npub = NULL;
  g_autofree char *app_npub = NULL;
  g_autofree char *command = NULL;
  g_autofree char *subtitle = NULL;
  g_autoptr(PtSecretKey) app_key = NULL;
  g_autoptr(PtSecretKey) server_key = NULL;
  g_autoptr(GSubprocess) relay = NULL;
  g_autoptr(GSubprocess) server = NULL;
  g_autoptr(GSubprocess) pinger = NULL;
  g_autoptr(GDataInputStream) relay_out = NULL;
  g_autoptr(GSocketService) forward_service = NULL;
  g_autoptr(GSocketAddress) forward_address = NULL;
  g_autoptr(GSocketAddress) forward_bound = NULL;
  g_autoptr(GInetAddress) veth_address = NULL;
  g_autoptr(GError) error = NULL;
  Forwarder forwarder = { 0 };
  Lines lines = { NULL, FALSE };
  Wait wait = { 0 };
  PtProfileStore *store;
  PtWindow *window;
  PtProfile *profile;
  PtService *service;
  GtkListBoxRow *row;

  if (netns_problem != NULL)
    {
      g_test_skip_printf ("SKIP: %s", netns_problem);
      return;
    }
  if (!g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("SKIP: no /dev/net/tun");
      return;
    }
  if (!relay_tools_find (&tools))
    return;
  if (helper == NULL || !g_file_test (helper, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("SKIP: no peertunnel-tun-helper in PT_BUILD_DIR");
      return;
    }
  if (ip == NULL || ping == NULL || unshare_bin == NULL)
    {
      g_test_skip ("SKIP: needs ip (iproute2), ping (iputils-ping) and unshare (util-linux)");
      return;
    }
  g_setenv ("PT_TUN_HELPER", helper, TRUE);

  /* The relay, on our loopback. */
  lines.text = g_string_new (NULL);
  relay_url = start_relay (&tools, &lines, &relay, &relay_out);
  forwarder.target = g_strdup (relay_url + strlen ("ws://"));
  forwarder.client = g_socket_client_new ();

  /* Keys: the server's in a 0600 file for pt. */
  app_key = pt_secret_key_generate (&error);
  server_key = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  app_npub = pt_public_key_to_npub (pt_secret_key_get_public (app_key));
  server_npub = pt_public_key_to_npub (pt_secret_key_get_public (server_key));
  dir = g_dir_make_tmp ("pt-app-vpn-e2e-XXXXXX", &error);
  g_assert_no_error (error);
  nsec_file = g_build_filename (dir, "server.nsec", NULL);
  g_assert_true (pt_secret_key_save (server_key, nsec_file, FALSE, &error));

  /* The server's namespace, joined to ours by a veth pair. */
  {
    g_autoptr(GSubprocessLauncher) server_launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
    g_autofree char *pid = NULL;

    forward_service = g_socket_service_new ();
    veth_address = g_inet_address_new_from_string ("192.168.77.1");
    forward_address = g_inet_socket_address_new (veth_address, 0);
    server = g_subprocess_launcher_spawn (server_launcher, &error, unshare_bin, "--net", "--",
                                          "sh", "-c", server_script, "sh", tools.pt, "vpn", "server", "--network", "10.77.0.0/24",
                                          "--network6", "fd00:77::/64",
                                          "--nsec-file", nsec_file, "--peer-npub", app_npub,
                                          "--local-address", "192.168.77.2", "--no-stun", NULL);
    g_assert_no_error (error);
    pid = g_strdup (g_subprocess_get_identifier (server));
    g_assert_nonnull (pid);
    SPIN_UNTIL (netns_differs (pid), 5000);
    g_assert_true (netns_differs (pid));
    command = g_strdup_printf ("ip link add ptva0 type veth peer name ptvb0 netns %s", pid);
    if (!run_quietly (command, &error))
      {
        /* A kernel without veth, or a container that forbids it. */
        g_test_skip_printf ("SKIP: cannot join two network namespaces: %s", error->message);
        g_subprocess_force_exit (server);
        g_subprocess_wait (server, NULL, NULL);
        g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);
        g_subprocess_send_signal (relay, SIGTERM);
        g_subprocess_wait (relay, NULL, NULL);
        SPIN_UNTIL (lines.eof, 5000);
        g_unsetenv ("PT_TUN_HELPER");
        if (old_helper != NULL)
          g_setenv ("PT_TUN_HELPER", old_helper, TRUE);
        g_clear_object (&forwarder.client);
        g_free (forwarder.target);
        g_string_free (lines.text, TRUE);
        g_unlink (nsec_file);
        g_rmdir (dir);
        return;
      }
    g_assert_true (run_quietly ("ip addr add 192.168.77.1/24 dev ptva0", &error));
    g_assert_true (run_quietly ("ip link set ptva0 up", &error));
    g_assert_no_error (error);

    g_socket_listener_add_address (G_SOCKET_LISTENER (forward_service), forward_address,
                                   G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                   &forward_bound, &error);
    g_assert_no_error (error);
    g_signal_connect (forward_service, "incoming", G_CALLBACK (forward_incoming), &forwarder);
    {
      g_autofree char *line = g_strdup_printf ("%u\n", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (forward_bound)));

      g_assert_true (g_output_stream_write_all (g_subprocess_get_stdin_pipe (server), line,
                                                strlen (line), NULL, NULL, &error));
      g_assert_no_error (error);
    }
  }

  /* The app's side: a VPN connect profile in a window, started by its switch. */
  path = temp_profiles_path ();
  store = pt_profile_store_new (path);
  window = pt_window_new (NULL, store);
  profile = pt_profile_new ();
  {
    const char *relays[] = { relay_url, NULL };
    const char *peers[] = { server_npub, NULL };
    const char *locals[] = { "192.168.77.1", NULL };
    const char *routes[] = { "10.78.0.0/16", NULL };

    pt_profile_set_name (profile, "VPN end to end");
    pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
    pt_profile_set_nostr (profile, relays, peers);
    pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
    pt_profile_set_vpn (profile, NULL, NULL, 0, NULL, routes, TRUE);
  }
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);
  g_object_unref (profile);           /* the store keeps it */
  pt_service_set_default_key (app_key);

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  gtk_switch_set_active (pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row)), TRUE);
  g_assert_no_error ((GError *) pt_service_get_error (service));
  g_assert_true (pt_service_get_running (service));
  SPIN_UNTIL (vpn_is_up (service) || !pt_service_get_running (service), 60000);
  if (pt_service_get_error (service) != NULL)
    g_error ("%s", pt_service_get_error (service)->message);
  g_assert_true (vpn_is_up (service));
  /* The server picks a free address from the client's key. */
  g_assert_true (g_str_has_prefix (pt_service_get_vpn_address (service), "10.77.0."));
  g_assert_true (g_str_has_suffix (pt_service_get_vpn_address (service), "/24"));
  g_assert_cmpstr (pt_service_get_vpn_address (service), !=, "10.77.0.1/24");
  g_assert_true (g_str_has_prefix (pt_service_get_vpn_address6 (service), "fd00:77::"));

  /* The row: address, device and routes. */
  subtitle = g_strdup (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
  g_test_message ("row: %s", subtitle);
  {
    g_autofree char *expected = g_strdup_printf ("Up, VPN %s, %s on %s · routes 10.78.0.0/16 · ",
                                                 pt_service_get_vpn_address (service),
                                                 pt_service_get_vpn_address6 (service),
                                                 pt_service_get_vpn_device (service));

    g_assert_true (g_str_has_prefix (subtitle, expected));
  }
  g_assert_nonnull (strstr (subtitle, "routes 10.78.0.0/16"));

  /* Through the tunnel to the server's namespace and back, without blocking the loop. */
  pinger = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, ping, "-c", "3", "-W", "5",
                             "10.77.0.1", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (pinger, NULL, waited, &wait);
  SPIN_UNTIL (wait.done, 30000);
  g_assert_true (wait.done);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
  g_clear_object (&pinger);
  wait.done = FALSE;
  pinger = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, ping, "-6", "-c", "3", "-W", "5",
                             "fd00:77::1", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_check_async (pinger, NULL, waited, &wait);
  SPIN_UNTIL (wait.done, 30000);
  g_assert_true (wait.done);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);

  /* The server goes away: the profile keeps its device and says it reconnects. */
  {
    g_autofree char *device = g_strdup (pt_service_get_vpn_device (service));

    g_subprocess_send_signal (server, SIGTERM);
    g_subprocess_wait (server, NULL, NULL);
    SPIN_UNTIL (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                  "Reconnecting (keeps "), 45000);
    g_test_message ("row: %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (row)));
    g_assert_true (g_str_has_prefix (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)),
                                     "Reconnecting (keeps "));
    g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), device));
    g_assert_true (pt_service_get_running (service));
    g_assert_cmpstr (pt_service_get_vpn_device (service), ==, device);
  }

  /* Off: the device and its routes go. */
  gtk_switch_set_active (pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row)), FALSE);
  g_assert_false (pt_service_get_running (service));
  g_assert_null (pt_service_get_vpn_device (service));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, "Off");
  SPIN_UNTIL (!pt_tunnel_is_anything_closing (), 3000);
  g_assert_false (run_quietly ("ip route get 10.78.0.1", NULL) &&
                  run_quietly ("sh -c 'ip route show 10.78.0.0/16 | grep -q .'", NULL));

  g_output_stream_close (g_subprocess_get_stdin_pipe (relay), NULL, NULL);
  g_subprocess_send_signal (relay, SIGTERM);
  g_subprocess_wait (relay, NULL, NULL);
  SPIN_UNTIL (lines.eof, 5000);
  g_socket_service_stop (forward_service);
  g_socket_listener_close (G_SOCKET_LISTENER (forward_service));
  run_quietly ("ip link del ptva0", NULL);   /* gone with the server's namespace already */

  pt_service_set_default_key (NULL);
  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  if (old_helper != NULL)
    g_setenv ("PT_TUN_HELPER", old_helper, TRUE);
  else
    g_unsetenv ("PT_TUN_HELPER");
  g_clear_object (&forwarder.client);
  g_free (forwarder.target);
  g_string_free (lines.text, TRUE);
  g_unlink (nsec_file);
  g_rmdir (dir);
  remove_profiles_file (path);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *lock = g_strdup_printf ("%s/pt-app-vpn-%d.lock", g_get_tmp_dir (), (int) getpid ());
  int status;

  /* Not the computer's lock: pt vpn client may be under test beside us. */
  g_setenv ("PT_VPN_CLIENT_LOCK", lock, TRUE);
  /* Before any thread exists: a network namespace of our own (as root). */
  if (geteuid () != 0)
    netns_problem = g_strdup ("not root: the end-to-end VPN test needs its own network namespace");
  else if (unshare (CLONE_NEWNET) != 0)
    netns_problem = g_strdup_printf ("cannot make a network namespace: %s", g_strerror (errno));

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  if (netns_problem == NULL && !run_quietly ("ip link set lo up", NULL))
    netns_problem = g_strdup ("cannot bring up the namespace's loopback (ip link set lo up)");

  g_test_add_func ("/app/vpn/editor/serve", test_editor_serve);
  g_test_add_func ("/app/vpn/editor/connect", test_editor_connect);
  g_test_add_func ("/app/vpn/row/authorization-refused", test_row_authorization_refused);
  g_test_add_func ("/app/vpn/one-client", test_one_client);
  g_test_add_func ("/app/vpn/end-to-end", test_end_to_end);
  status = g_test_run ();
  g_unlink (lock);
  return status;
}
