/* pt-profile-store.c — the user's tunnels, saved in a key file
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every change to a profile's settings is saved at once (the file is small).
 * With a secret store, a profile's secrets (TURN credentials, token) go there
 * as one entry, "profile/ID/secrets", and the key file only says so.
 * Saving failures are reported with g_warning, since there is no one to
 * return them to; the window shows load failures.
 */
#define G_LOG_DOMAIN "pt-profile-store"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>

#include "pt-profile-store.h"
#include "pt-sandbox.h"

struct _PtProfileStore
{
  GObject     parent_instance;

  char          *path;
  GListStore    *profiles;
  GListStore    *services;   /* of PtService: one per profile, in the same order */
  PtSecretStore *secrets;
  guint          pending;
  gboolean       loading;
  gboolean       expect_secrets;
};

#define SECRETS_FORMAT "profile/%s/secrets"

static void fetch_secrets (PtProfileStore *self,
                           PtProfile      *profile);

static void
secret_set_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(PtProfileStore) self = user_data;
  g_autoptr(GError) error = NULL;

  self->pending--;
  if (!pt_secret_store_set_finish (PT_SECRET_STORE (source), result, &error))
    g_warning ("cannot save a tunnel's TURN credentials: %s", error->message);
}

/* The profile's TURN URLs (they hold passwords) go to the secret store. */
static void
save_secrets (PtProfileStore *self,
              PtProfile      *profile,
              gboolean        removed)
{
  g_autofree char *key = g_strdup_printf (SECRETS_FORMAT, pt_profile_get_id (profile));
  g_autoptr(PtSecretString) joined = removed ? NULL : pt_profile_dup_secrets (profile);

  if (self->secrets == NULL)
    return;
  self->pending++;
  pt_secret_store_set_async (self->secrets, key, joined, NULL, secret_set_cb, g_object_ref (self));
}

G_DEFINE_FINAL_TYPE (PtProfileStore, pt_profile_store, G_TYPE_OBJECT)

static void
on_profile_changed (PtProfile      *profile,
                    PtProfileStore *self)
{
  g_autoptr(GError) error = NULL;

  if (self->loading)
    return;
  if (!pt_profile_store_save (self, &error))
    g_warning ("%s", error->message);
  save_secrets (self, profile, FALSE);
}

static void
pt_profile_store_dispose (GObject *object)
{
  PtProfileStore *self = PT_PROFILE_STORE (object);

  if (self->profiles != NULL)
    {
      for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->profiles)); i++)
        {
          g_autoptr(PtProfile) profile = g_list_model_get_item (G_LIST_MODEL (self->profiles), i);
          g_signal_handlers_disconnect_by_data (profile, self);
        }
    }
  g_clear_object (&self->profiles);
  g_clear_object (&self->services);
  g_clear_object (&self->secrets);
  G_OBJECT_CLASS (pt_profile_store_parent_class)->dispose (object);
}

static void
pt_profile_store_finalize (GObject *object)
{
  PtProfileStore *self = PT_PROFILE_STORE (object);

  g_free (self->path);
  G_OBJECT_CLASS (pt_profile_store_parent_class)->finalize (object);
}

static void
pt_profile_store_class_init (PtProfileStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_profile_store_dispose;
  object_class->finalize = pt_profile_store_finalize;
}

static void
pt_profile_store_init (PtProfileStore *self)
{
  self->profiles = g_list_store_new (PT_TYPE_PROFILE);
  self->services = g_list_store_new (PT_TYPE_SERVICE);
  /* Decides now, so that the engine refuses VPN profiles in a Flatpak
   * before any of this store's profiles can start. */
  (void) pt_sandbox_is_flatpak ();
}

char *
pt_profile_store_default_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "peertunnel", "profiles.ini", NULL);
}

PtProfileStore *
pt_profile_store_new (const char *path)
{
  PtProfileStore *self = g_object_new (PT_TYPE_PROFILE_STORE, NULL);

  self->path = path ? g_strdup (path) : pt_profile_store_default_path ();
  return self;
}

void
pt_profile_store_set_secret_store (PtProfileStore *self,
                                   PtSecretStore  *secrets)
{
  g_return_if_fail (PT_IS_PROFILE_STORE (self));
  g_return_if_fail (pt_secret_store_get_backend (secrets) != PT_SECRET_BACKEND_NONE);

  g_set_object (&self->secrets, secrets);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->profiles)); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (G_LIST_MODEL (self->profiles), i);

      if (g_object_get_data (G_OBJECT (profile), "pt-secrets-pending") != NULL)
        fetch_secrets (self, profile);
      else
        {
          g_autoptr(PtSecretString) held = pt_profile_dup_secrets (profile);

          if (held != NULL)
            save_secrets (self, profile, FALSE);   /* entered before the keyring answered */
        }
    }
}

void
pt_profile_store_expect_secrets (PtProfileStore *self)
{
  self->expect_secrets = TRUE;
}

guint
pt_profile_store_get_pending (PtProfileStore *self)
{
  return self->pending;
}

const char *
pt_profile_store_get_path (PtProfileStore *self)
{
  return self->path;
}

GListModel *
pt_profile_store_get_model (PtProfileStore *self)
{
  g_return_val_if_fail (PT_IS_PROFILE_STORE (self), NULL);
  return G_LIST_MODEL (self->profiles);
}

static void secret_get_cb (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data);

static void
fetch_secrets (PtProfileStore *self,
               PtProfile      *profile)
{
  g_autofree char *key = g_strdup_printf (SECRETS_FORMAT, pt_profile_get_id (profile));

  self->pending++;
  g_object_set_data_full (G_OBJECT (profile), "pt-store", g_object_ref (self), g_object_unref);
  pt_secret_store_get_async (self->secrets, key, NULL, secret_get_cb, g_object_ref (profile));
}

static void
secret_get_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(PtProfile) profile = user_data;
  g_autoptr(PtProfileStore) self = g_object_steal_data (G_OBJECT (profile), "pt-store");
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) text = pt_secret_store_get_finish (PT_SECRET_STORE (source), result, &error);

  self->pending--;
  g_object_set_data (G_OBJECT (profile), "pt-secrets-pending", NULL);
  if (error != NULL)
    {
      g_warning ("cannot read the passwords of “%s”: %s", pt_profile_get_name (profile),
                 error->message);
      return;
    }
  if (text == NULL)
    return;
  self->loading = TRUE;    /* restoring, not changing: nothing to save */
  pt_profile_apply_secrets (profile, text);
  self->loading = FALSE;
}

gboolean
pt_profile_store_load (PtProfileStore  *self,
                       GError         **error)
{
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) loaded = NULL;
  g_autofree char *data = NULL;
  g_autofree char *what = NULL;
  gsize len = 0;

  g_return_val_if_fail (PT_IS_PROFILE_STORE (self), FALSE);

  if (!g_file_get_contents (self->path, &data, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Cannot read the saved tunnels from %s: %s"), self->path, local_error->message);
      return FALSE;
    }
  what = g_strdup_printf (_("The saved tunnels file %s"), self->path);
  key_file = pt_profile_parse_key_file (data, len, what, error);
  explicit_bzero (data, len);
  if (key_file == NULL)
    return FALSE;
  loaded = pt_profile_list_from_key_file (key_file, error);
  if (loaded == NULL)
    return FALSE;

  self->loading = TRUE;
  for (guint i = 0; i < loaded->len; i++)
    {
      PtProfile *profile = g_ptr_array_index (loaded, i);
      g_autofree char *group = g_strconcat ("profile ", pt_profile_get_id (profile), NULL);

      pt_profile_store_add (self, profile);
      if (g_key_file_get_boolean (key_file, group, "secrets-in-keyring", NULL))
        {
          g_object_set_data (G_OBJECT (profile), "pt-secrets-pending", GINT_TO_POINTER (TRUE));
          if (self->secrets != NULL)
            fetch_secrets (self, profile);
        }
    }
  self->loading = FALSE;
  g_debug ("loaded %u tunnels from %s", loaded->len, self->path);
  return TRUE;
}

gboolean
pt_profile_store_save (PtProfileStore  *self,
                       GError         **error)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autofree char *dir = g_path_get_dirname (self->path);
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize len = 0;

  g_return_val_if_fail (PT_IS_PROFILE_STORE (self), FALSE);

  g_key_file_set_comment (key_file, NULL, NULL,
                          " PeerTunnel tunnels, written by the desktop app", NULL);
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->profiles)); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (G_LIST_MODEL (self->profiles), i);
      g_autofree char *group = g_strconcat ("profile ", pt_profile_get_id (profile), NULL);

      pt_profile_to_key_file (profile, key_file, group);
      if (self->secrets != NULL || self->expect_secrets)
        {
          g_autoptr(PtSecretString) held = pt_profile_dup_secrets (profile);

          for (guint k = 0; pt_profile_secret_keys[k] != NULL; k++)
            g_key_file_remove_key (key_file, group, pt_profile_secret_keys[k], NULL);
          if (held != NULL ||
              g_object_get_data (G_OBJECT (profile), "pt-secrets-pending") != NULL)
            g_key_file_set_boolean (key_file, group, "secrets-in-keyring", TRUE);
        }
    }
  data = g_key_file_to_data (key_file, &len, NULL);

  if (g_mkdir_with_parents (dir, 0700) != 0 ||
      !g_file_set_contents_full (self->path, data, len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                 0600, &local_error))
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Cannot save the tunnels to %s: %s"), self->path,
                   local_error ? local_error->message : g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

PtProfile *
pt_profile_store_find (PtProfileStore *self,
                       const char     *id)
{
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->profiles)); i++)
    {
      g_autoptr(PtProfile) profile = g_list_model_get_item (G_LIST_MODEL (self->profiles), i);

      if (g_str_equal (pt_profile_get_id (profile), id))
        return profile;
    }
  return NULL;
}

void
pt_profile_store_add (PtProfileStore *self,
                      PtProfile      *profile)
{
  g_return_if_fail (PT_IS_PROFILE_STORE (self));
  g_return_if_fail (PT_IS_PROFILE (profile));

  g_signal_connect (profile, "changed", G_CALLBACK (on_profile_changed), self);
  {
    g_autoptr(PtService) service = pt_service_new (profile);

    g_list_store_append (self->services, service);
  }
  g_list_store_append (self->profiles, profile);
  on_profile_changed (profile, self);
}

void
pt_profile_store_remove (PtProfileStore *self,
                         PtProfile      *profile)
{
  g_autoptr(GError) error = NULL;
  guint position;

  g_return_if_fail (PT_IS_PROFILE_STORE (self));

  if (!g_list_store_find (self->profiles, profile, &position))
    return;
  g_object_ref (profile);    /* the list may hold the last reference */
  g_signal_handlers_disconnect_by_data (profile, self);
  pt_service_stop (pt_profile_store_get_service (self, profile));
  g_list_store_remove (self->profiles, position);
  g_list_store_remove (self->services, position);
  if (!pt_profile_store_save (self, &error))
    g_warning ("%s", error->message);
  save_secrets (self, profile, TRUE);
  g_object_unref (profile);
}

PtService *
pt_profile_store_get_service (PtProfileStore *self,
                              PtProfile      *profile)
{
  guint position;
  g_autoptr(PtService) service = NULL;

  g_return_val_if_fail (PT_IS_PROFILE_STORE (self), NULL);
  g_return_val_if_fail (PT_IS_PROFILE (profile), NULL);

  if (!g_list_store_find (self->profiles, profile, &position))
    return NULL;
  service = g_list_model_get_item (G_LIST_MODEL (self->services), position);
  return service;   /* the store keeps it */
}

GListModel *
pt_profile_store_get_services (PtProfileStore *self)
{
  g_return_val_if_fail (PT_IS_PROFILE_STORE (self), NULL);
  return G_LIST_MODEL (self->services);
}
