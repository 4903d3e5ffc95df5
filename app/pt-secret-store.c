/* pt-secret-store.c — secrets in the OS keyring, or a 0600 file without one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The keyring is used through libsecret's asynchronous calls only: a
 * locked keyring may show an unlock prompt, and the window must not freeze
 * meanwhile. A keyring that is missing (no Secret Service on the bus, or no
 * bus) or that refuses the probe (locked, no prompter) makes the store fall
 * back to a key file with mode 0600, written atomically; the UI says which
 * one is in use. Secret values never reach a log or an error message.
 */
#define G_LOG_DOMAIN "pt-secret-store"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <libsecret/secret.h>
#include <pt.h>
#include <string.h>

#include <pt.h>
#include "pt-secret-store.h"

#define PROBE_KEY "peertunnel-probe"

struct _PtSecretStore
{
  GObject          parent_instance;

  char            *path;
  PtSecretBackend  backend;
};

enum
{
  PROP_0,
  PROP_BACKEND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PtSecretStore, pt_secret_store, G_TYPE_OBJECT)

static const SecretSchema *
pt_secret_schema (void)
{
  static const SecretSchema schema = {
    "io.github.peertunnel.PeerTunnel", SECRET_SCHEMA_NONE,
    {
      { "key", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
    0, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  };

  return &schema;
}

static void
pt_secret_store_finalize (GObject *object)
{
  PtSecretStore *self = PT_SECRET_STORE (object);

  g_free (self->path);
  G_OBJECT_CLASS (pt_secret_store_parent_class)->finalize (object);
}

static void
pt_secret_store_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BACKEND:
      g_value_set_int (value, PT_SECRET_STORE (object)->backend);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_secret_store_class_init (PtSecretStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pt_secret_store_finalize;
  object_class->get_property = pt_secret_store_get_property;

  properties[PROP_BACKEND] =
    g_param_spec_int ("backend", NULL, NULL, PT_SECRET_BACKEND_NONE, PT_SECRET_BACKEND_FILE,
                      PT_SECRET_BACKEND_NONE,
                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pt_secret_store_init (PtSecretStore *self)
{
}

PtSecretStore *
pt_secret_store_new (const char *fallback_path)
{
  PtSecretStore *self = g_object_new (PT_TYPE_SECRET_STORE, NULL);

  self->path = fallback_path ? g_strdup (fallback_path)
                             : g_build_filename (g_get_user_config_dir (), "peertunnel", "secrets", NULL);
  return self;
}

PtSecretBackend
pt_secret_store_get_backend (PtSecretStore *self)
{
  g_return_val_if_fail (PT_IS_SECRET_STORE (self), PT_SECRET_BACKEND_NONE);
  return self->backend;
}

char *
pt_secret_store_describe (PtSecretStore *self)
{
  switch (self->backend)
    {
    case PT_SECRET_BACKEND_KEYRING:
      return g_strdup (_("Passwords and keys are kept in your keyring."));
    case PT_SECRET_BACKEND_FILE:
      /* Translators: %s is a file name */
      return g_strdup_printf (_("No keyring is available: passwords and keys are kept in %s, "
                                "readable only by you."), self->path);
    case PT_SECRET_BACKEND_NONE:
      return NULL;
    }
  return NULL;
}

static void
set_backend (PtSecretStore   *self,
             PtSecretBackend  backend)
{
  if (self->backend == backend)
    return;
  self->backend = backend;
  g_debug ("secrets: %s", backend == PT_SECRET_BACKEND_KEYRING ? "keyring" : "file");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BACKEND]);
}

/* The file */

static GKeyFile *
load_file (PtSecretStore  *self,
           GError        **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  g_autofree char *what = NULL;
  GKeyFile *key_file;
  gsize len = 0;

  if (!g_file_get_contents (self->path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_key_file_new ();
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Cannot read %s: %s"), self->path, local_error->message);
      return NULL;
    }
  /* Its errors never quote a line: every line here is a secret. */
  what = g_strdup_printf (_("The passwords file %s"), self->path);
  key_file = pt_profile_parse_key_file (data, len, what, &local_error);
  explicit_bzero (data, len);
  if (key_file == NULL)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, local_error->message);
  return key_file;
}

static gboolean
file_set (PtSecretStore  *self,
          const char     *key,
          const char     *secret,
          GError        **error)
{
  g_autoptr(GKeyFile) key_file = load_file (self, error);
  g_autofree char *dir = g_path_get_dirname (self->path);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;
  gboolean ok;

  if (key_file == NULL)
    return FALSE;
  if (secret != NULL)
    g_key_file_set_string (key_file, "secrets", key, secret);
  else
    g_key_file_remove_key (key_file, "secrets", key, NULL);
  data = g_key_file_to_data (key_file, &len, NULL);

  ok = g_mkdir_with_parents (dir, 0700) == 0 &&
       g_file_set_contents_full (self->path, data, len, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0600, &local_error);
  memset (data, 0, len);
  if (!ok)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("Cannot write %s: %s"), self->path,
                 local_error ? local_error->message : g_strerror (errno));
  return ok;
}

static char *
file_get (PtSecretStore  *self,
          const char     *key,
          GError        **error)
{
  g_autoptr(GKeyFile) key_file = load_file (self, error);

  if (key_file == NULL)
    return NULL;
  return pt_profile_key_file_get_string (key_file, "secrets", key);
}

/* Probing */

static void
probe_cleared_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PtSecretStore *self = g_task_get_source_object (task);

  secret_password_clear_finish (result, NULL);
  set_backend (self, PT_SECRET_BACKEND_KEYRING);
  g_task_return_int (task, self->backend);
}

static void
probe_stored_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  PtSecretStore *self = g_task_get_source_object (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    {
      g_debug ("no usable keyring (%s): using %s", error->message, self->path);
      set_backend (self, PT_SECRET_BACKEND_FILE);
      g_task_return_int (task, self->backend);
      return;
    }
  secret_password_clear (pt_secret_schema (), cancellable, probe_cleared_cb,
                         g_steal_pointer (&task), "key", PROBE_KEY, NULL);
}

void
pt_secret_store_probe_async (PtSecretStore       *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, pt_secret_store_probe_async);
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL && g_getenv ("XDG_RUNTIME_DIR") == NULL)
    {
      /* No session bus can be found: libsecret would only fail more slowly. */
      set_backend (self, PT_SECRET_BACKEND_FILE);
      g_task_return_int (task, self->backend);
      g_object_unref (task);
      return;
    }
  secret_password_store (pt_secret_schema (), SECRET_COLLECTION_DEFAULT, "PeerTunnel probe",
                         "probe", cancellable, probe_stored_cb, task, "key", PROBE_KEY, NULL);
}

PtSecretBackend
pt_secret_store_probe_finish (PtSecretStore  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  return (PtSecretBackend) g_task_propagate_int (G_TASK (result), error);
}

/* Setting and getting */

static void
keyring_set_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  gboolean ok = g_task_get_task_data (task) != NULL
    ? secret_password_store_finish (result, &error)
    : (secret_password_clear_finish (result, &error), error == NULL);

  if (!ok)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
pt_secret_store_set_async (PtSecretStore       *self,
                           const char          *key,
                           const char          *secret,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  g_autofree char *label = g_strdup_printf ("PeerTunnel: %s", key);
  GError *error = NULL;

  g_return_if_fail (self->backend != PT_SECRET_BACKEND_NONE);
  g_task_set_source_tag (task, pt_secret_store_set_async);

  if (self->backend == PT_SECRET_BACKEND_FILE)
    {
      if (file_set (self, key, secret, &error))
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  /* Task data only says whether this is a store (non-NULL) or a removal. */
  g_task_set_task_data (task, secret ? GINT_TO_POINTER (1) : NULL, NULL);
  if (secret != NULL)
    secret_password_store (pt_secret_schema (), SECRET_COLLECTION_DEFAULT, label, secret,
                           cancellable, keyring_set_cb, task, "key", key, NULL);
  else
    secret_password_clear (pt_secret_schema (), cancellable, keyring_set_cb, task, "key", key, NULL);
}

gboolean
pt_secret_store_set_finish (PtSecretStore  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
keyring_get_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  char *secret = secret_password_lookup_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    {
      /* Moved from libsecret's non-pageable memory into ours, which we wipe. */
      char *copy = g_strdup (secret);

      secret_password_free (secret);
      g_task_return_pointer (task, copy, (GDestroyNotify) pt_secret_string_free);
    }
}

void
pt_secret_store_get_async (PtSecretStore       *self,
                           const char          *key,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  GError *error = NULL;

  g_return_if_fail (self->backend != PT_SECRET_BACKEND_NONE);
  g_task_set_source_tag (task, pt_secret_store_get_async);

  if (self->backend == PT_SECRET_BACKEND_FILE)
    {
      char *secret = file_get (self, key, &error);

      if (error != NULL)
        g_task_return_error (task, error);
      else
        g_task_return_pointer (task, secret, (GDestroyNotify) pt_secret_string_free);
      g_object_unref (task);
      return;
    }
  secret_password_lookup (pt_secret_schema (), cancellable, keyring_get_cb, task, "key", key, NULL);
}

char *
pt_secret_store_get_finish (PtSecretStore  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
pt_secret_store_disconnect (void)
{
  secret_service_disconnect ();
}
