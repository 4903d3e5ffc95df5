/* test-profile.c — PtProfile: every setting a property, one file format
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The profiles file is the contract between the app and `pt up`
 * (docs/profiles.md): each setting is a property named as its key, a value
 * set through the property is saved under that key and read back the same,
 * and the secrets entry covers exactly the secret keys.
 */
#include <string.h>

#include "pt.h"

/* The keys of docs/profiles.md beyond name, role and mode. */
static const char * const setting_keys[] = {
  "sources", "targets", "allowed-tcp", "allowed-udp", "stun-servers", "turn-servers",
  "local-addresses", "relay-only", "turn-ca-file", "relays", "peers", "no-stun", "any-peer", "max-sessions", "token", "shared-name",
  "expose", "vpn-network", "vpn-network6", "vpn-mtu", "vpn-dns", "vpn-routes", "vpn-ipv6",
  "vpn-allow-overlap",
  NULL
};

typedef struct
{
  guint notified;
  guint changed;
} Counts;

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           Counts     *counts)
{
  counts->notified++;
}

static void
on_changed (PtProfile *profile,
            Counts    *counts)
{
  counts->changed++;
}

/* A value of @pspec's type that differs from the default. */
static void
sample_value (GParamSpec *pspec,
              GValue     *value)
{
  static const char * const list[] = { "one", "two;with a semicolon", NULL };

  g_value_init (value, pspec->value_type);
  if (pspec->value_type == G_TYPE_STRING)
    g_value_set_string (value, "a value\nwith a newline");
  else if (pspec->value_type == G_TYPE_STRV)
    g_value_set_boxed (value, list);
  else if (pspec->value_type == G_TYPE_BOOLEAN)
    g_value_set_boolean (value, TRUE);
  else if (pspec->value_type == G_TYPE_UINT)
    g_value_set_uint (value, 1400);
  else
    g_assert_not_reached ();
}

static void
test_settings_are_properties (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  Counts counts = { 0 };

  g_signal_connect (profile, "notify", G_CALLBACK (on_notify), &counts);
  g_signal_connect (profile, "changed", G_CALLBACK (on_changed), &counts);
  for (guint i = 0; setting_keys[i]; i++)
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (profile), setting_keys[i]);
      g_auto(GValue) value = G_VALUE_INIT;

      g_assert_nonnull (pspec);
      g_assert_true (pspec->flags & G_PARAM_EXPLICIT_NOTIFY);
      g_assert_true (pspec->flags & G_PARAM_WRITABLE);
      sample_value (pspec, &value);

      counts = (Counts) { 0 };
      g_object_set_property (G_OBJECT (profile), setting_keys[i], &value);
      g_assert_cmpuint (counts.notified, ==, 1);
      g_assert_cmpuint (counts.changed, ==, 1);

      /* The same value again: nothing to save, nothing to redraw. */
      counts = (Counts) { 0 };
      g_object_set_property (G_OBJECT (profile), setting_keys[i], &value);
      g_assert_cmpuint (counts.notified, ==, 0);
      g_assert_cmpuint (counts.changed, ==, 0);
    }
}

static void
test_key_file_round_trip (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtProfile) loaded = NULL;
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GKeyFile) again = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *group = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;

  pt_profile_set_name (profile, "Office");
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
  for (guint i = 0; setting_keys[i]; i++)
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (profile), setting_keys[i]);
      g_auto(GValue) value = G_VALUE_INIT;

      sample_value (pspec, &value);
      g_object_set_property (G_OBJECT (profile), setting_keys[i], &value);
    }
  group = g_strconcat ("profile ", pt_profile_get_id (profile), NULL);
  pt_profile_to_key_file (profile, key_file, group);
  for (guint i = 0; setting_keys[i]; i++)
    g_assert_true (g_key_file_has_key (key_file, group, setting_keys[i], NULL));

  loaded = pt_profile_new_from_key_file (key_file, group, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pt_profile_get_id (loaded), ==, pt_profile_get_id (profile));
  g_assert_cmpstr (pt_profile_get_name (loaded), ==, "Office");
  g_assert_cmpint (pt_profile_get_mode (loaded), ==, PT_PROFILE_MODE_VPN);
  for (guint i = 0; setting_keys[i]; i++)
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (profile), setting_keys[i]);
      g_auto(GValue) a = G_VALUE_INIT;
      g_auto(GValue) b = G_VALUE_INIT;

      g_value_init (&a, pspec->value_type);
      g_value_init (&b, pspec->value_type);
      g_object_get_property (G_OBJECT (profile), setting_keys[i], &a);
      g_object_get_property (G_OBJECT (loaded), setting_keys[i], &b);
      if (g_param_values_cmp (pspec, &a, &b) != 0 &&
          !(pspec->value_type == G_TYPE_STRV &&
            g_strv_equal (g_value_get_boxed (&a), g_value_get_boxed (&b))))
        g_error ("%s did not come back the same", setting_keys[i]);
    }
  pt_profile_to_key_file (loaded, again, group);
  first = g_key_file_to_data (key_file, NULL, NULL);
  second = g_key_file_to_data (again, NULL, NULL);
  g_assert_cmpstr (first, ==, second);
}

/* A default profile writes only name, role and mode. */
static void
test_defaults_left_out (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_auto(GStrv) keys = NULL;

  pt_profile_to_key_file (profile, key_file, "profile x");
  keys = g_key_file_get_keys (key_file, "profile x", NULL, NULL);
  g_assert_cmpuint (g_strv_length (keys), ==, 3);
  g_assert_null (pt_profile_dup_secrets (profile));
}

/* The secrets entry holds exactly pt_profile_secret_keys, and applying it
 * gives them back. */
static void
test_secrets_entry (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtProfile) other = pt_profile_new ();
  g_autoptr(GKeyFile) entry = g_key_file_new ();
  g_autofree char *text = NULL;
  g_auto(GStrv) keys = NULL;
  const char *turn[] = { "turn://user:pass@127.0.0.1:3478", NULL };

  pt_profile_set_ice (profile, NULL, turn, NULL, FALSE);
  pt_profile_set_token (profile, "tok-1");
  pt_profile_set_shared_name (profile, "sleet ravioli drape cobalt");
  pt_profile_set_expose (profile, "tcp://127.0.0.1:22");
  text = pt_profile_dup_secrets (profile);
  g_assert_nonnull (text);
  g_assert_true (g_key_file_load_from_data (entry, text, -1, G_KEY_FILE_NONE, NULL));
  keys = g_key_file_get_keys (entry, "secrets", NULL, NULL);
  g_assert_cmpuint (g_strv_length (keys), ==, g_strv_length ((char **) pt_profile_secret_keys));
  for (guint i = 0; pt_profile_secret_keys[i]; i++)
    g_assert_true (g_strv_contains ((const char * const *) keys, pt_profile_secret_keys[i]));

  pt_profile_apply_secrets (other, text);
  g_assert_cmpstr (pt_profile_get_token (other), ==, "tok-1");
  g_assert_cmpstr (pt_profile_get_shared_name (other), ==, "sleet ravioli drape cobalt");
  g_assert_cmpstrv (pt_profile_get_turn_servers (other), turn);
  g_assert_null (pt_profile_get_expose (other));      /* not a secret */
}

/* relay-only and turn-ca-file reach the ICE configuration; relaying
 * without a TURN server is refused by name. */
static void
test_relay_only (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(GError) error = NULL;
  const char *sources[] = { "tcp://127.0.0.1:22", NULL };
  const char *targets[] = { "127.0.0.1:0", NULL };
  const char *turn[] = { "turn://user:pass@127.0.0.1:3478", NULL };

  pt_profile_set_forwards (profile, sources, targets);
  g_object_set (profile, "relay-only", TRUE, NULL);
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "TURN server"));
  g_clear_error (&error);

  pt_profile_set_ice (profile, NULL, turn, NULL, TRUE);
  g_object_set (profile, "turn-ca-file", "/etc/ssl/certs/ca-certificates.crt", NULL);
  g_assert_true (pt_profile_validate (profile, &error));
  g_assert_no_error (error);
}

/* A serving profile holds several tokens, one per line; a connecting one, one. */
static void
test_token_list (void)
{
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretString) first = pt_token_generate (NULL);
  g_autoptr(PtSecretString) second = pt_token_generate (NULL);
  g_autofree char *both = g_strdup_printf ("%s\n%s\n", first, second);
  g_autoptr(PtSecretKey) server = pt_secret_key_generate (NULL);
  g_autofree char *server_npub = pt_public_key_to_npub (pt_secret_key_get_public (server));
  g_autoptr(GError) error = NULL;
  const char *peers[] = { NULL };
  const char *server_peer[] = { server_npub, NULL };

  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
  pt_profile_set_nostr (profile, NULL, peers);
  pt_profile_set_any_peer (profile, TRUE);
  pt_profile_set_token (profile, both);
  g_assert_true (pt_profile_validate (profile, &error));
  g_assert_no_error (error);

  pt_profile_set_role (profile, PT_TUNNEL_ROLE_CLIENT);
  pt_profile_set_nostr (profile, NULL, server_peer);
  g_assert_false (pt_profile_validate (profile, &error));
  g_assert_error (error, PT_TOKEN_ERROR, PT_TOKEN_ERROR_LENGTH);
  g_clear_error (&error);
  pt_profile_set_token (profile, first);
  pt_profile_set_forwards (profile, (const char *[]) { "tcp://127.0.0.1:22", NULL },
                           (const char *[]) { "127.0.0.1:0", NULL });
  g_assert_true (pt_profile_validate (profile, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/profile/settings-are-properties", test_settings_are_properties);
  g_test_add_func ("/profile/key-file-round-trip", test_key_file_round_trip);
  g_test_add_func ("/profile/defaults-left-out", test_defaults_left_out);
  g_test_add_func ("/profile/secrets-entry", test_secrets_entry);
  g_test_add_func ("/profile/relay-only", test_relay_only);
  g_test_add_func ("/profile/token-list", test_token_list);
  return g_test_run ();
}
