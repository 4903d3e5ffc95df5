/* test-app-secrets.c — secrets in the keyring, or in a 0600 file without one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Run twice: through keyring-test-runner (an unlocked GNOME Keyring on a
 * private bus; PT_TEST_EXPECT_BACKEND=keyring) and with a session bus
 * address that leads nowhere (PT_TEST_EXPECT_BACKEND=file).
 */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pt-identity.h"
#include "pt-profile-store.h"
#include "pt-secret-store.h"

#define SPIN_UNTIL(cond, timeout_ms)                                      \
  G_STMT_START {                                                          \
    gint64 _end = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    while (!(cond) && g_get_monotonic_time () < _end)                     \
      if (!g_main_context_iteration (NULL, FALSE))                        \
        g_usleep (1000);                                                  \
  } G_STMT_END

typedef struct
{
  gboolean  done;
  gboolean  ok;
  char     *secret;
  GError   *error;
} Wait;

static void
probed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  pt_secret_store_probe_finish (PT_SECRET_STORE (source), result, &wait->error);
  wait->done = TRUE;
}

static void
set_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->ok = pt_secret_store_set_finish (PT_SECRET_STORE (source), result, &wait->error);
  wait->done = TRUE;
}

static void
get_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->secret = pt_secret_store_get_finish (PT_SECRET_STORE (source), result, &wait->error);
  wait->done = TRUE;
}

static PtSecretBackend
expected_backend (void)
{
  return g_strcmp0 (g_getenv ("PT_TEST_EXPECT_BACKEND"), "keyring") == 0
         ? PT_SECRET_BACKEND_KEYRING : PT_SECRET_BACKEND_FILE;
}

static PtSecretStore *
probed_store (const char *path)
{
  PtSecretStore *store = pt_secret_store_new (path);
  Wait wait = { 0 };

  pt_secret_store_probe_async (store, NULL, probed_cb, &wait);
  SPIN_UNTIL (wait.done, 20000);
  g_assert_true (wait.done);
  g_assert_no_error (wait.error);
  g_assert_cmpint (pt_secret_store_get_backend (store), ==, expected_backend ());
  return store;
}

static char *
get_secret (PtSecretStore *store,
            const char    *key)
{
  Wait wait = { 0 };

  pt_secret_store_get_async (store, key, NULL, get_cb, &wait);
  SPIN_UNTIL (wait.done, 10000);
  g_assert_true (wait.done);
  g_assert_no_error (wait.error);
  return wait.secret;
}

static void
set_secret (PtSecretStore *store,
            const char    *key,
            const char    *secret)
{
  Wait wait = { 0 };

  pt_secret_store_set_async (store, key, secret, NULL, set_cb, &wait);
  SPIN_UNTIL (wait.done, 10000);
  g_assert_true (wait.done);
  g_assert_no_error (wait.error);
  g_assert_true (wait.ok);
}

static char *
temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pt-app-secrets-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
test_store_and_read (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *path = g_build_filename (dir, "sub", "secrets", NULL);
  g_autoptr(PtSecretStore) store = probed_store (path);
  g_autofree char *describe = pt_secret_store_describe (store);
  g_autofree char *missing = NULL;
  g_autofree char *got = NULL;
  GStatBuf st;

  g_test_message ("%s", describe);
  if (expected_backend () == PT_SECRET_BACKEND_FILE)
    g_assert_nonnull (strstr (describe, path));
  else
    g_assert_nonnull (strstr (describe, "keyring"));

  missing = get_secret (store, "nothing/here");
  g_assert_null (missing);

  set_secret (store, "test/one", "s3cret value; with = signs");
  got = get_secret (store, "test/one");
  g_assert_cmpstr (got, ==, "s3cret value; with = signs");

  if (expected_backend () == PT_SECRET_BACKEND_FILE)
    {
      g_assert_cmpint (g_stat (path, &st), ==, 0);
      g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    }
  else
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));   /* nothing fell back */

  set_secret (store, "test/one", NULL);
  g_clear_pointer (&got, g_free);
  got = get_secret (store, "test/one");
  g_assert_null (got);

  g_assert_finalize_object (g_steal_pointer (&store));
  g_unlink (path);
  g_autofree char *sub = g_path_get_dirname (path);
  g_rmdir (sub);
  g_rmdir (dir);
}

static void
test_secrets_leave_the_profile_file (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *secrets_path = g_build_filename (dir, "secrets", NULL);
  g_autofree char *profiles_path = g_build_filename (dir, "profiles.ini", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(PtSecretStore) secrets = probed_store (secrets_path);
  g_autoptr(PtProfileStore) store = pt_profile_store_new (profiles_path);
  g_autoptr(PtProfileStore) again = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtProfile) loaded = NULL;
  g_autoptr(GError) error = NULL;
  const char *turn[] = { "turn://alice:pa55word@turn.example:3478", "turns://bob:x@relay.example", NULL };
  g_autoptr(PtSecretString) token = pt_token_generate (NULL);

  pt_profile_store_set_secret_store (store, secrets);
  pt_profile_set_name (profile, "Through TURN");
  pt_profile_set_ice (profile, NULL, turn, NULL, FALSE);
  pt_profile_set_token (profile, token);
  pt_profile_store_add (store, profile);
  SPIN_UNTIL (pt_profile_store_get_pending (store) == 0, 10000);
  g_assert_cmpuint (pt_profile_store_get_pending (store), ==, 0);

  g_assert_true (g_file_get_contents (profiles_path, &contents, NULL, NULL));
  g_assert_null (strstr (contents, "pa55word"));
  g_assert_null (strstr (contents, "turn.example"));
  g_assert_null (strstr (contents, token));

  again = pt_profile_store_new (profiles_path);
  pt_profile_store_set_secret_store (again, secrets);
  g_assert_true (pt_profile_store_load (again, &error));
  g_assert_no_error (error);
  SPIN_UNTIL (pt_profile_store_get_pending (again) == 0, 10000);
  loaded = g_list_model_get_item (pt_profile_store_get_model (again), 0);
  g_assert_cmpstrv (pt_profile_get_turn_servers (loaded), turn);
  g_assert_cmpstr (pt_profile_get_token (loaded), ==, token);

  /* Deleting the tunnel deletes its secret. */
  pt_profile_store_remove (again, loaded);
  SPIN_UNTIL (pt_profile_store_get_pending (again) == 0, 10000);
  {
    g_autofree char *key = g_strdup_printf ("profile/%s/secrets", pt_profile_get_id (profile));
    g_autofree char *gone = get_secret (secrets, key);

    g_assert_null (gone);
  }

  g_clear_object (&loaded);
  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&profile));
  g_assert_finalize_object (g_steal_pointer (&secrets));
  g_unlink (secrets_path);
  g_unlink (profiles_path);
  g_rmdir (dir);
}

/* A damaged file is reported by name, never by quoting the line: a line of
 * the tunnels file may hold a token, every line of the passwords file a secret. */
static void
test_damaged_files_quote_nothing (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *profiles_path = g_build_filename (dir, "tunnels.ini", NULL);
  g_autoptr(PtProfileStore) store = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (profiles_path,
                                      "[profile a]\nname=A\ntoken=tok-hunter2\n"
                                      "pasted turn://alice:hunter2@turn.example.org\n", -1, NULL));
  store = pt_profile_store_new (profiles_path);
  g_assert_false (pt_profile_store_load (store, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, profiles_path));
  g_assert_null (strstr (error->message, "hunter2"));
  g_clear_error (&error);

  if (g_strcmp0 (g_getenv ("PT_TEST_EXPECT_BACKEND"), "file") == 0)
    {
      g_autofree char *path = g_build_filename (dir, "secrets", NULL);
      g_autoptr(PtSecretStore) secrets = probed_store (path);
      Wait wait = { 0 };

      g_assert_true (g_file_set_contents (path, "[secrets]\nidentity/nsec=nsec1hunter2\n"
                                                "nsec1hunter2 pasted alone\n", -1, NULL));
      pt_secret_store_get_async (secrets, "identity/nsec", NULL, get_cb, &wait);
      SPIN_UNTIL (wait.done, 5000);
      g_assert_true (wait.done);
      g_assert_null (wait.secret);
      g_assert_nonnull (wait.error);
      g_assert_nonnull (strstr (wait.error->message, path));
      g_assert_null (strstr (wait.error->message, "hunter2"));
      g_clear_error (&wait.error);
      g_assert_finalize_object (g_steal_pointer (&secrets));
      g_unlink (path);
    }

  g_assert_finalize_object (g_steal_pointer (&store));
  g_unlink (profiles_path);
  g_rmdir (dir);
}

static void
test_identity (void)
{
  g_autofree char *dir = temp_dir ();
  g_autofree char *path = g_build_filename (dir, "secrets", NULL);
  g_autoptr(PtSecretStore) secrets = probed_store (path);
  g_autoptr(PtIdentity) identity = pt_identity_new ();
  g_autoptr(PtIdentity) again = pt_identity_new ();
  g_autoptr(PtSecretKey) known = NULL;
  g_autoptr(PtSecretString) known_nsec = NULL;
  g_autofree char *known_npub = NULL;
  g_autofree char *first_npub = NULL;
  g_autofree char *stored = NULL;
  g_autoptr(GError) error = NULL;

  /* Nothing saved yet. */
  pt_identity_load (identity, secrets);
  SPIN_UNTIL (FALSE, 200);
  g_assert_null (pt_identity_get_npub (identity));
  g_assert_null (pt_identity_get_key (identity));

  g_assert_true (pt_identity_generate (identity, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pt_identity_get_npub (identity), "npub1"));
  first_npub = g_strdup (pt_identity_get_npub (identity));

  /* Saved: another instance (the next start) reads the same key. */
  SPIN_UNTIL (FALSE, 300);
  stored = get_secret (secrets, "identity/nsec");
  g_assert_true (g_str_has_prefix (stored, "nsec1"));
  pt_identity_load (again, secrets);
  SPIN_UNTIL (pt_identity_get_npub (again) != NULL, 5000);
  g_assert_cmpstr (pt_identity_get_npub (again), ==, first_npub);

  /* Importing: a bad nsec is refused without changing anything. */
  g_assert_false (pt_identity_import (identity, "nsec1notavalidkey", &error));
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, "nsec1notavalidkey"));   /* secrets stay out of messages */
  g_clear_error (&error);
  g_assert_cmpstr (pt_identity_get_npub (identity), ==, first_npub);

  known = pt_secret_key_generate (&error);
  known_nsec = pt_secret_key_to_nsec (known);
  known_npub = pt_public_key_to_npub (pt_secret_key_get_public (known));
  g_assert_true (pt_identity_import (identity, known_nsec, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pt_identity_get_npub (identity), ==, known_npub);

  SPIN_UNTIL (FALSE, 300);
  set_secret (secrets, "identity/nsec", NULL);
  g_assert_finalize_object (g_steal_pointer (&identity));
  g_assert_finalize_object (g_steal_pointer (&again));
  g_assert_finalize_object (g_steal_pointer (&secrets));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/app/secrets/store-and-read", test_store_and_read);
  g_test_add_func ("/app/secrets/profile-secrets", test_secrets_leave_the_profile_file);
  g_test_add_func ("/app/secrets/identity", test_identity);
  g_test_add_func ("/app/secrets/damaged-files-quote-nothing", test_damaged_files_quote_nothing);
  ret = g_test_run ();

  /* libsecret keeps its service proxy; let the bus settle, then drop it. */
  pt_secret_store_disconnect ();
  SPIN_UNTIL (FALSE, 100);
  return ret;
}
