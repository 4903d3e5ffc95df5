/* pt-secret-store.h — secrets in the OS keyring, or a 0600 file without one
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum
{
  PT_SECRET_BACKEND_NONE,      /* not probed yet */
  PT_SECRET_BACKEND_KEYRING,   /* the Secret Service (GNOME Keyring, KWallet…) via libsecret */
  PT_SECRET_BACKEND_FILE,      /* no usable keyring: a file only the user may read */
} PtSecretBackend;

#define PT_TYPE_SECRET_STORE (pt_secret_store_get_type ())
G_DECLARE_FINAL_TYPE (PtSecretStore, pt_secret_store, PT, SECRET_STORE, GObject)

/* @fallback_path: the file used without a keyring
 * ($XDG_CONFIG_HOME/peertunnel/secrets by default). */
PtSecretStore   *pt_secret_store_new          (const char          *fallback_path);

/* Finds out whether the keyring works (stores and removes a probe item);
 * never fails: without one, the file is used. "backend" changes when done. */
void             pt_secret_store_probe_async  (PtSecretStore       *self,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
PtSecretBackend  pt_secret_store_probe_finish (PtSecretStore       *self,
                                               GAsyncResult        *result,
                                               GError             **error);
PtSecretBackend  pt_secret_store_get_backend  (PtSecretStore       *self);
/* One sentence for the UI saying where secrets are kept. */
char            *pt_secret_store_describe     (PtSecretStore       *self);

/* @secret NULL removes the entry. Keys are short ASCII names ("profile/ID/turn"). */
void             pt_secret_store_set_async    (PtSecretStore       *self,
                                               const char          *key,
                                               const char          *secret,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
gboolean         pt_secret_store_set_finish   (PtSecretStore       *self,
                                               GAsyncResult        *result,
                                               GError             **error);
/* NULL and no error when there is no such secret. Free with pt_secret_string_free(). */
void             pt_secret_store_get_async    (PtSecretStore       *self,
                                               const char          *key,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
char            *pt_secret_store_get_finish   (PtSecretStore       *self,
                                               GAsyncResult        *result,
                                               GError             **error);

/* Drops libsecret's cached connection to the Secret Service (at exit). */
void             pt_secret_store_disconnect   (void);

G_END_DECLS
