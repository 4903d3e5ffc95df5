/* test-app-widgets.c — the tunnel list, the profile editor and the profile store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * In-process GTK tests: run through gtk-test-runner (Xvfb + dbus-run-session).
 */
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "app-test-util.h"
#include "pt-adw-compat.h"
#include "pt-error-text.h"
#include "pt-gtk-compat.h"
#include "pt-identity.h"
#include "pt-preferences.h"
#include "pt-profile-editor-private.h"
#include "pt-profile-store.h"
#include "pt-qr.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"

static char *
temp_profiles_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pt-app-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, "sub", "profiles.ini", NULL);
}

static void
remove_profiles_file (const char *path)
{
  g_autofree char *sub = g_path_get_dirname (path);
  g_autofree char *dir = g_path_get_dirname (sub);

  g_unlink (path);
  g_rmdir (sub);
  g_rmdir (dir);
}

static PtProfile *
make_client_profile (const char *name)
{
  PtProfile *profile = pt_profile_new ();
  const char *sources[] = { "tcp://127.0.0.1:22", "udp://[::1]:53", NULL };
  const char *targets[] = { "127.0.0.1:0", "0", NULL };
  const char *locals[] = { "127.0.0.1", NULL };

  pt_profile_set_name (profile, name);
  pt_profile_set_forwards (profile, sources, targets);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  return profile;
}

static void
test_store_roundtrip (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  g_autoptr(PtProfileStore) again = NULL;
  g_autoptr(PtProfile) client = make_client_profile ("SSH at home");
  g_autoptr(PtProfile) server = pt_profile_new ();
  g_autoptr(PtProfile) loaded = NULL;
  g_autoptr(GError) error = NULL;
  const char *tcp[] = { "127.0.0.1/32", "192.168.1.0/24", NULL };
  const char *turn[] = { "turn://u:p@turn.example:3478", NULL };
  GStatBuf st;

  g_assert_true (pt_profile_store_load (store, &error));   /* a missing file is empty */
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (store)), ==, 0);

  pt_profile_set_name (server, "Serve; with = odd [chars]");
  pt_profile_set_role (server, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_allowed (server, tcp, NULL);
  pt_profile_set_ice (server, NULL, turn, NULL, FALSE);
  pt_profile_store_add (store, client);
  pt_profile_store_add (store, server);   /* saved on every change */

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  again = pt_profile_store_new (path);
  g_assert_true (pt_profile_store_load (again, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (again)), ==, 2);

  loaded = g_list_model_get_item (pt_profile_store_get_model (again), 1);
  g_assert_cmpstr (pt_profile_get_id (loaded), ==, pt_profile_get_id (server));
  g_assert_cmpstr (pt_profile_get_name (loaded), ==, "Serve; with = odd [chars]");
  g_assert_cmpint (pt_profile_get_role (loaded), ==, PT_TUNNEL_ROLE_SERVER);
  g_assert_cmpstrv (pt_profile_get_allowed_tcp (loaded), tcp);
  g_assert_cmpstrv (pt_profile_get_turn_servers (loaded), turn);
  g_clear_object (&loaded);

  loaded = g_list_model_get_item (pt_profile_store_get_model (again), 0);
  g_assert_cmpstrv (pt_profile_get_sources (loaded), pt_profile_get_sources (client));
  g_assert_cmpstrv (pt_profile_get_targets (loaded), pt_profile_get_targets (client));
  g_assert_true (pt_profile_get_no_stun (loaded));
  g_clear_object (&loaded);

  /* Edits and removal are saved too. */
  pt_profile_set_name (client, "Renamed");
  pt_profile_store_remove (store, server);
  g_clear_object (&again);
  again = pt_profile_store_new (path);
  g_assert_true (pt_profile_store_load (again, &error));
  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (again)), ==, 1);
  loaded = g_list_model_get_item (pt_profile_store_get_model (again), 0);
  g_assert_cmpstr (pt_profile_get_name (loaded), ==, "Renamed");
  g_clear_object (&loaded);

  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&client));
  g_assert_finalize_object (g_steal_pointer (&server));
  remove_profiles_file (path);
}

static void
test_store_bad_file (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  g_autoptr(GError) error = NULL;

  g_mkdir_with_parents (dir, 0700);
  g_file_set_contents (path, "[profile x]\nrole=sideways\n", -1, NULL);
  g_assert_false (pt_profile_store_load (store, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "sideways"));
  g_clear_error (&error);

  g_file_set_contents (path, "not a key file", -1, NULL);
  g_assert_false (pt_profile_store_load (store, &error));
  g_assert_nonnull (strstr (error->message, path));
  g_assert_finalize_object (g_steal_pointer (&store));
  remove_profiles_file (path);
}

static void
test_window_empty_then_list (void)
{
  g_autofree char *path = temp_profiles_path ();
  PtProfileStore *store = pt_profile_store_new (path);
  PtWindow *window = pt_window_new (NULL, store);
  g_autoptr(PtProfile) profile = make_client_profile ("Printer");
  GtkListBoxRow *row;

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (pt_window_get_stack (window)), ==, "empty");

  pt_profile_store_add (store, profile);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (pt_window_get_stack (window)), ==, "list");
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  g_assert_true (PT_IS_TUNNEL_ROW (row));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "Printer");
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, "Off");
  g_assert_false (gtk_switch_get_active (pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row))));

  /* Renaming shows at once. */
  pt_profile_set_name (profile, "Printer upstairs");
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "Printer upstairs");

  /* Duplicate through the action the row's menu uses. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.duplicate-tunnel", "s",
                              pt_profile_get_id (profile));
  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (store)), ==, 2);
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 1);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), ==, "Printer upstairs (copy)");

  /* Delete asks first; Cancel keeps it, Delete removes it. */
  {
    PtProfile *copy = pt_tunnel_row_get_profile (PT_TUNNEL_ROW (row));
    GObject *dialog = NULL;
    g_autofree char *id = g_strdup (pt_profile_get_id (copy));

    for (int attempt = 0; attempt < 2; attempt++)
      {
        gtk_widget_activate_action (GTK_WIDGET (window), "win.delete-tunnel", "s", id);
        dialog = pt_adw_alert_get_shown (GTK_WIDGET (window));
        g_assert_nonnull (dialog);
        pt_adw_alert_respond (dialog, attempt == 0 ? "cancel" : "delete");
        spin_for_ms (50);
        g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (store)), ==,
                          attempt == 0 ? 2 : 1);
      }
  }
  pt_profile_store_remove (store, profile);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (pt_window_get_stack (window)), ==, "empty");

  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  g_assert_finalize_object (g_steal_pointer (&profile));
  remove_profiles_file (path);
}

static void
test_editor (void)
{
  g_autofree char *path = temp_profiles_path ();
  PtProfileStore *store = pt_profile_store_new (path);
  PtWindow *window = pt_window_new (NULL, store);
  PtProfileEditor *editor;
  PtForwardWidgets *fw;
  PtProfile *saved;
  g_autoptr(GError) error = NULL;
  const char *expected_sources[] = { "tcp://127.0.0.1:22", NULL };
  const char *expected_targets[] = { "2222", NULL };

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));

  /* Ctrl+N's action opens the editor for a new tunnel. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.new-tunnel", NULL);
  editor = PT_PROFILE_EDITOR (pt_window_get_editor (window));
  g_assert_nonnull (editor);
  g_object_ref (editor);

  /* No name: refused, inline. */
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (editor->error_label)));
  g_clear_error (&error);

  gtk_editable_set_text (GTK_EDITABLE (editor->name_row), "  SSH  ");
  /* A new tunnel comes with one empty forward: still nothing to forward. */
  g_assert_cmpuint (editor->forwards->len, ==, 1);
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);

  fw = g_ptr_array_index (editor->forwards, 0);
  gtk_editable_set_text (GTK_EDITABLE (fw->source), "127.0.0.1:99999");
  gtk_editable_set_text (GTK_EDITABLE (fw->target), "2222");
  g_assert_null (pt_profile_editor_save (editor, &error));   /* the engine's parser says no */
  g_assert_nonnull (error);
  g_assert_cmpstr (gtk_label_get_text (editor->error_label), ==, error->message);
  g_clear_error (&error);

  gtk_editable_set_text (GTK_EDITABLE (fw->source), "127.0.0.1:22");
  gtk_editable_set_text (GTK_EDITABLE (editor->stun_row), "stun.example:notaport");
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER);
  g_clear_error (&error);
  gtk_editable_set_text (GTK_EDITABLE (editor->stun_row), "");

  /* A shared name must be long enough; Nostr shows its own fields and
   * needs the server's key. */
  adw_combo_row_set_selected (editor->mode_row, PT_PROFILE_MODE_NAME);
  g_assert_true (gtk_widget_get_visible (editor->named_group));
  gtk_editable_set_text (GTK_EDITABLE (editor->shared_name_row), "short");
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_null (strstr (error->message, "short"));     /* the name is a secret */
  g_clear_error (&error);
  /* Long enough but guessable: the engine's entropy rule, in the app's words. */
  gtk_editable_set_text (GTK_EDITABLE (editor->shared_name_row), "password1234");
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "five or more random words"));
  g_assert_null (strstr (error->message, "password1234"));
  g_assert_null (strstr (error->message, "bits"));      /* the app's words, not the CLI's */
  g_clear_error (&error);
  gtk_editable_set_text (GTK_EDITABLE (editor->shared_name_row), "");
  g_assert_false (gtk_widget_get_visible (editor->nostr_group));
  adw_combo_row_set_selected (editor->mode_row, PT_PROFILE_MODE_NOSTR);
  g_assert_true (gtk_widget_get_visible (editor->nostr_group));
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_clear_error (&error);
  gtk_editable_set_text (GTK_EDITABLE (editor->peers_row), "npub1invalid");
  g_assert_null (pt_profile_editor_save (editor, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
  g_clear_error (&error);
  gtk_editable_set_text (GTK_EDITABLE (editor->peers_row), "");
  adw_combo_row_set_selected (editor->mode_row, PT_PROFILE_MODE_MANUAL);

  saved = pt_profile_editor_save (editor, &error);
  g_assert_no_error (error);
  g_assert_nonnull (saved);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (editor->error_label)));
  g_assert_cmpstr (pt_profile_get_name (saved), ==, "SSH");
  g_assert_cmpstrv (pt_profile_get_sources (saved), expected_sources);
  g_assert_cmpstrv (pt_profile_get_targets (saved), expected_targets);
  g_assert_cmpuint (g_list_model_get_n_items (pt_profile_store_get_model (store)), ==, 1);
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  /* Editing: the form starts from the profile; the server role shows allowed networks. */
  gtk_widget_activate_action (GTK_WIDGET (window), "win.edit-tunnel", "s", pt_profile_get_id (saved));
  editor = PT_PROFILE_EDITOR (g_object_ref (pt_window_get_editor (window)));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (editor->name_row)), ==, "SSH");
  g_assert_cmpuint (editor->forwards->len, ==, 1);
  adw_combo_row_set_selected (editor->role_row, 1);
  g_assert_true (gtk_widget_get_visible (editor->allowed_group));
  g_assert_false (gtk_widget_get_visible (editor->forwards_group));
  gtk_editable_set_text (GTK_EDITABLE (editor->allowed_tcp_row), "10.0.0.1/8");
  g_assert_null (pt_profile_editor_save (editor, &error));     /* host bits set */
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_clear_error (&error);
  gtk_editable_set_text (GTK_EDITABLE (editor->allowed_tcp_row), "10.0.0.0/8, 127.0.0.1/32");
  g_assert_true (pt_profile_editor_save (editor, &error) == saved);
  g_assert_no_error (error);
  g_assert_cmpint (pt_profile_get_role (saved), ==, PT_TUNNEL_ROLE_SERVER);
  g_assert_cmpuint (g_strv_length ((char **) pt_profile_get_allowed_tcp (saved)), ==, 2);
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);

  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  remove_profiles_file (path);
}

static void
test_row_follows_tunnel (void)
{
  g_autofree char *path = temp_profiles_path ();
  PtProfileStore *store = pt_profile_store_new (path);
  PtWindow *window = pt_window_new (NULL, store);
  g_autoptr(PtProfile) profile = pt_profile_new ();
  const char *tcp[] = { "127.0.0.1/32", NULL };
  const char *locals[] = { "127.0.0.1", NULL };
  PtService *service;
  GtkListBoxRow *row;
  GtkSwitch *toggle;

  pt_profile_set_name (profile, "Serve SSH");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_allowed (profile, tcp, NULL);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  toggle = pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row));
  g_assert_true (pt_tunnel_row_get_service (PT_TUNNEL_ROW (row)) == service);

  /* The switch starts the tunnel through the window, which opens the pairing dialog. */
  gtk_switch_set_active (toggle, TRUE);
  g_assert_true (pt_service_get_running (service));
  g_assert_true (gtk_switch_get_active (toggle));
  g_assert_nonnull (pt_window_get_pairing (window));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==,
                   "Waiting for the other computer’s offer");

  gtk_switch_set_active (toggle, FALSE);
  g_assert_false (pt_service_get_running (service));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, "Off");

  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
  g_assert_finalize_object (store);
  g_assert_finalize_object (g_steal_pointer (&profile));
  remove_profiles_file (path);
}

static void
open_file_done (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GError **error = user_data;
  g_autoptr(GFile) file = pt_gtk_open_file_finish (result, error);

  g_assert_null (file);
  g_assert_nonnull (*error);
}

/* The file dialog of pt-gtk-compat closes when its cancellable is cancelled,
 * before it is shown and while it is open, and says "dismissed". */
static void
test_open_file_cancelled (void)
{
  GtkWidget *window = gtk_window_new ();
  int rounds = 2;

#ifdef __SANITIZE_ADDRESS__
  /* GTK 4.8's file chooser, once shown, leaves GFileInfos of its GIO worker
   * jobs behind at exit, in frames LeakSanitizer cannot name narrowly. */
  g_test_message ("SKIP: the dialog while shown is not tried under AddressSanitizer "
                  "(GTK 4.8's file chooser leaks its worker jobs' file infos)");
  rounds = 1;
#endif

  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  for (int shown = 0; shown < rounds; shown++)
    {
      g_autoptr(GCancellable) cancellable = g_cancellable_new ();
      g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
      g_autoptr(GError) error = NULL;

      gtk_file_filter_add_pixbuf_formats (filter);
      if (!shown)
        g_cancellable_cancel (cancellable);
      pt_gtk_open_file_async (GTK_WINDOW (window), "Open", "_Open", filter, cancellable,
                              open_file_done, &error);
      if (shown)
        {
          spin_for_ms (100);
          g_assert_null (error);
          g_cancellable_cancel (cancellable);
        }
      SPIN_UNTIL (error != NULL, 2000);
      g_assert_nonnull (error);
      g_assert_true (pt_gtk_dialog_error_is_dismissed (error));
    }
  gtk_window_destroy (GTK_WINDOW (window));
  drain_main_context ();
  g_assert_finalize_object (window);
}

static void
probed_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  gboolean *done = user_data;

  pt_secret_store_probe_finish (PT_SECRET_STORE (source), result, NULL);
  *done = TRUE;
}

static GtkWidget *
row_titled (GtkWidget  *root,
            const char *title)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  collect_widgets (root, ADW_TYPE_PREFERENCES_ROW, rows);
  for (guint i = 0; i < rows->len; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (rows->pdata[i]), title) == 0)
      return rows->pdata[i];
  return NULL;
}

/* The Preferences: each switch writes its setting; without settings they
 * cannot be used; the key group shows no key, then the npub a new key has. */
static void
test_preferences (void)
{
  static const struct { const char *title; const char *key; } switches[] = {
    { "Keep Tunnels Running When Closed", "run-in-background" },
    { "Start Hidden at Login", "start-hidden" },
    { "Notifications", "notify" },
  };
  g_autoptr(GSettings) settings = g_settings_new ("io.github.peertunnel.PeerTunnel");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pt-app-prefs-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "secrets", NULL);
  g_autoptr(PtSecretStore) secrets = pt_secret_store_new (path);
  g_autoptr(PtIdentity) identity = pt_identity_new ();
  GtkWidget *page = g_object_ref_sink (pt_preferences_new (settings, secrets, identity));
  GtkWidget *bare = g_object_ref_sink (pt_preferences_new (NULL, NULL, NULL));
  g_autoptr(GPtrArray) qr = g_ptr_array_new ();
  gboolean probed = FALSE;
  GtkWidget *row;

  for (guint i = 0; i < G_N_ELEMENTS (switches); i++)
    {
      GtkWidget *toggle;
      gboolean was = g_settings_get_boolean (settings, switches[i].key);

      row = row_titled (page, switches[i].title);
      g_assert_nonnull (row);
      toggle = adw_action_row_get_activatable_widget (ADW_ACTION_ROW (row));
      g_assert_true (GTK_IS_SWITCH (toggle));
      g_assert_true (gtk_switch_get_active (GTK_SWITCH (toggle)) == was);
      gtk_switch_set_active (GTK_SWITCH (toggle), !was);
      g_assert_true (g_settings_get_boolean (settings, switches[i].key) == !was);
      g_settings_reset (settings, switches[i].key);

      row = row_titled (bare, switches[i].title);
      g_assert_nonnull (row);
      g_assert_false (gtk_widget_get_sensitive (row));
    }

  /* No identity: no key group at all. */
  g_assert_false (gtk_widget_get_visible (gtk_widget_get_ancestor (row_titled (bare, "Public key (npub)"),
                                                                   ADW_TYPE_PREFERENCES_GROUP)));

  row = row_titled (page, "Public key (npub)");
  g_assert_nonnull (row);
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, "No key yet");
  collect_widgets (page, PT_TYPE_QR_CODE, qr);
  g_assert_cmpuint (qr->len, ==, 1);
  g_assert_false (gtk_widget_get_visible (qr->pdata[0]));

  /* The 0600 file, not a keyring: the test bus has none, and a test key
   * must not reach a real one. With no bus to find, the store says so. */
  {
    g_autofree char *bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
    g_autofree char *runtime = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));

    g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
    g_unsetenv ("XDG_RUNTIME_DIR");
    pt_secret_store_probe_async (secrets, NULL, probed_cb, &probed);
    if (bus != NULL)
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", bus, TRUE);
    if (runtime != NULL)
      g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  }
  SPIN_UNTIL (probed, 5000);
  g_assert_true (probed);
  g_assert_cmpint (pt_secret_store_get_backend (secrets), ==, PT_SECRET_BACKEND_FILE);
  pt_identity_load (identity, secrets);
  g_assert_true (pt_identity_generate (identity, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pt_identity_get_npub (identity), "npub1"));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, pt_identity_get_npub (identity));
  g_assert_true (gtk_widget_get_visible (qr->pdata[0]));

  SPIN_UNTIL (g_file_test (path, G_FILE_TEST_EXISTS), 5000);   /* the key saved */
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_object_unref (bare);
  g_object_unref (page);
  drain_main_context ();
  g_unlink (path);
  g_rmdir (dir);
}

/* The engine's errors reach the user in the app's words: network failures
 * by code, the specifics in parentheses where they matter, the service's
 * own (already the app's) unchanged. */
static void
test_error_text (void)
{
  g_autoptr(GError) ice = g_error_new_literal (PT_ICE_ERROR, PT_ICE_ERROR_FAILED,
                                               "connectivity checks failed: no path to the peer");
  g_autoptr(GError) rejected = g_error_new_literal (PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                                                    "server refused tcp://10.0.0.5:22");
  g_autoptr(GError) stale = g_error_new_literal (PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_STALE,
                                                 "the offer is 20 minutes old");
  g_autoptr(GError) profile = g_error_new_literal (PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
                                                   "This tunnel is running already");
  g_autofree char *ice_text = pt_describe_error (ice);
  g_autofree char *rejected_text = pt_describe_error (rejected);
  g_autofree char *stale_text = pt_describe_error (stale);
  g_autofree char *profile_text = pt_describe_error (profile);
  g_autofree char *none = pt_describe_error (NULL);
  g_autoptr(GError) replayed = g_error_new_literal (PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_REPLAYED,
                                                    "this offer was already answered");
  g_autofree char *replayed_text = pt_describe_error (replayed);

  g_assert_nonnull (strstr (ice_text, "No way through to the other computer"));
  g_assert_null (strstr (ice_text, "connectivity checks"));
  g_assert_cmpstr (rejected_text, ==, "The other computer does not allow what this tunnel asks "
                                      "for (server refused tcp://10.0.0.5:22)");
  g_assert_cmpstr (stale_text, ==, "This block is too old: ask the other computer for a new one");
  g_assert_cmpstr (profile_text, ==, "This tunnel is running already");
  g_assert_cmpstr (none, ==, "unknown reason");
  g_assert_cmpstr (replayed_text, ==, "This offer was answered already: ask the other computer "
                                      "for a new one");
}

int
main (int    argc,
      char **argv)
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/store/roundtrip", test_store_roundtrip);
  g_test_add_func ("/app/store/bad-file", test_store_bad_file);
  g_test_add_func ("/app/window/empty-then-list", test_window_empty_then_list);
  g_test_add_func ("/app/editor", test_editor);
  g_test_add_func ("/app/row/follows-tunnel", test_row_follows_tunnel);
  g_test_add_func ("/app/compat/open-file-cancelled", test_open_file_cancelled);
  g_test_add_func ("/app/preferences", test_preferences);
  g_test_add_func ("/app/error-text", test_error_text);
  return g_test_run ();
}
