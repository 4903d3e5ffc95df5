/* test-app-sandbox.c — VPN profiles inside a Flatpak: explained, not started
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * In-process GTK tests run through gtk-test-runner (Xvfb + dbus-run-session),
 * with PT_SANDBOX=flatpak set before anything asks (pt-sandbox.h), so the
 * app takes its Flatpak path on this machine. In the editor the VPN choice
 * is greyed out with the reason under it, while the other choices are not;
 * an existing VPN profile still opens and its VPN group says why it will
 * not start; starting it fails with that sentence, in the row too, and
 * never runs the TUN helper (a helper that leaves a mark when run stands in
 * for it).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "app-test-util.h"
#include "pt-profile-editor-private.h"
#include "pt-profile-store.h"
#include "pt-sandbox.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"

#define VPN_CHOICE "VPN: whole networks (Nostr relays)"
#define EXPLANATION "VPN tunnels need PeerTunnel installed on this computer, not as a Flatpak"

static char *
temp_profiles_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pt-app-sandbox-XXXXXX", &error);

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

/* The label showing @text under @root, or NULL. */
static GtkLabel *
find_label (GtkWidget  *root,
            const char *text)
{
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();

  collect_widgets (root, GTK_TYPE_LABEL, labels);
  for (guint i = 0; i < labels->len; i++)
    if (g_strcmp0 (gtk_label_get_text (g_ptr_array_index (labels, i)), text) == 0)
      return g_ptr_array_index (labels, i);
  return NULL;
}

static void
test_detected (void)
{
  g_assert_true (pt_sandbox_is_flatpak ());
  g_assert_true (g_str_has_prefix (pt_sandbox_vpn_explanation (), EXPLANATION));
}

/* The mode list pops up: VPN is there, insensitive, with the reason. */
static void
test_editor_choice (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  PtProfileEditor *editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, NULL));
  GtkLabel *vpn = NULL;
  GtkLabel *manual;
  GtkWidget *reason;

  gtk_window_present (GTK_WINDOW (editor));
  spin_for_ms (100);
  adw_action_row_activate (ADW_ACTION_ROW (editor->mode_row));
  SPIN_UNTIL ((vpn = find_label (GTK_WIDGET (editor->mode_row), VPN_CHOICE)) != NULL &&
              gtk_widget_get_mapped (GTK_WIDGET (vpn)), 3000);
  g_assert_nonnull (vpn);
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (vpn)));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (vpn)));
  reason = gtk_widget_get_next_sibling (GTK_WIDGET (vpn));
  g_assert_true (GTK_IS_LABEL (reason));
  g_assert_true (gtk_widget_get_visible (reason));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (reason)), ==, pt_sandbox_vpn_explanation ());

  /* The others can be picked as before. */
  manual = find_label (GTK_WIDGET (editor->mode_row), "Manual pairing (QR code or text)");
  g_assert_nonnull (manual);
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (manual)));
  g_assert_false (gtk_widget_get_visible (gtk_widget_get_next_sibling (GTK_WIDGET (manual))));
  g_assert_cmpuint (adw_combo_row_get_selected (editor->mode_row), ==, PT_PROFILE_MODE_MANUAL);

  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);
  g_assert_finalize_object (g_steal_pointer (&store));
  remove_profiles_file (path);
}

static PtProfile *
vpn_profile (void)
{
  PtProfile *profile = pt_profile_new ();
  const char *relays[] = { "ws://127.0.0.1:9", NULL };
  const char *locals[] = { "127.0.0.1", NULL };
  g_autoptr(PtSecretString) token = pt_token_generate (NULL);

  pt_profile_set_name (profile, "Serve the VPN");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
  pt_profile_set_any_peer (profile, TRUE);
  pt_profile_set_token (profile, token);
  pt_profile_set_nostr (profile, relays, NULL);
  pt_profile_set_ice (profile, NULL, NULL, locals, TRUE);
  pt_profile_set_vpn (profile, "10.99.0.0/24", NULL, 0, NULL, NULL, FALSE);
  return profile;
}

/* A VPN profile made before (or imported) opens; its group says why. */
static void
test_editor_existing (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autoptr(PtProfileStore) store = pt_profile_store_new (path);
  g_autoptr(PtProfile) profile = vpn_profile ();
  PtProfileEditor *editor;

  pt_profile_store_add (store, profile);
  editor = g_object_ref_sink (pt_profile_editor_new (NULL, store, profile));
  g_assert_cmpuint (adw_combo_row_get_selected (editor->mode_row), ==, PT_PROFILE_MODE_VPN);
  g_assert_true (gtk_widget_get_visible (editor->vpn_group));
  g_assert_cmpstr (adw_preferences_group_get_description (ADW_PREFERENCES_GROUP (editor->vpn_group)),
                   ==, pt_sandbox_vpn_explanation ());
  gtk_window_destroy (GTK_WINDOW (editor));
  drain_main_context ();
  g_assert_finalize_object (editor);
  g_assert_finalize_object (g_steal_pointer (&store));
  remove_profiles_file (path);
}

/* Switched on, it fails at once with the sentence, and no helper runs. */
static void
test_start_refused (void)
{
  g_autofree char *path = temp_profiles_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *helper = g_build_filename (dir, "marking-helper", NULL);
  g_autofree char *mark = g_build_filename (dir, "helper-ran", NULL);
  g_autofree char *script = g_strdup_printf ("#!/bin/sh\ntouch '%s'\nexit 126\n", mark);
  g_autofree char *old_helper = g_strdup (g_getenv ("PT_TUN_HELPER"));
  g_autofree char *expected = g_strdup_printf ("Failed: %s", pt_sandbox_vpn_explanation ());
  PtProfileStore *store = pt_profile_store_new (path);
  PtWindow *window = pt_window_new (NULL, store);
  g_autoptr(PtProfile) profile = vpn_profile ();
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (NULL);
  g_autoptr(GError) error = NULL;
  const GError *why;
  PtService *service;
  GtkListBoxRow *row;
  GtkSwitch *toggle;

  g_assert_true (g_file_set_contents_full (helper, script, -1, G_FILE_SET_CONTENTS_NONE, 0700, &error));
  g_assert_no_error (error);
  g_setenv ("PT_TUN_HELPER", helper, TRUE);
  pt_profile_store_add (store, profile);
  service = pt_profile_store_get_service (store, profile);
  pt_service_set_default_key (key);

  /* Directly: the caller gets the sentence. */
  g_assert_false (pt_service_start (service, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_UNSUPPORTED);
  g_assert_cmpstr (error->message, ==, pt_sandbox_vpn_explanation ());
  g_assert_false (pt_service_get_running (service));
  g_clear_error (&error);

  /* From the row's switch: it stays off and the row says why. */
  g_object_ref (window);
  gtk_window_present (GTK_WINDOW (window));
  row = gtk_list_box_get_row_at_index (pt_window_get_list (window), 0);
  toggle = pt_tunnel_row_get_switch (PT_TUNNEL_ROW (row));
  gtk_switch_set_active (toggle, TRUE);
  spin_for_ms (500);
  g_assert_false (pt_service_get_running (service));
  g_assert_false (gtk_switch_get_active (toggle));
  why = pt_service_get_error (service);
  g_assert_error ((GError *) why, PT_PROFILE_ERROR, PT_PROFILE_ERROR_UNSUPPORTED);
  g_assert_cmpstr (why->message, ==, pt_sandbox_vpn_explanation ());
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, expected);
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
  g_assert_null (pt_service_get_vpn_device (service));
  g_assert_false (pt_service_get_vpn_authorizing (service));
  g_assert_false (g_file_test (mark, G_FILE_TEST_EXISTS));

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
  g_unlink (helper);
  g_unlink (mark);
  remove_profiles_file (path);
}

int
main (int    argc,
      char **argv)
{
  /* Before the first pt_sandbox_is_flatpak(): it decides once. */
  g_setenv ("PT_SANDBOX", "flatpak", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/app/sandbox/detected", test_detected);
  g_test_add_func ("/app/sandbox/editor/vpn-choice", test_editor_choice);
  g_test_add_func ("/app/sandbox/editor/existing-vpn", test_editor_existing);
  g_test_add_func ("/app/sandbox/vpn/start-refused", test_start_refused);
  return g_test_run ();
}
