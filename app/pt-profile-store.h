/* pt-profile-store.h — the user's tunnels, saved in a key file
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include <pt.h>
#include "pt-secret-store.h"

G_BEGIN_DECLS

#define PT_TYPE_PROFILE_STORE (pt_profile_store_get_type ())
G_DECLARE_FINAL_TYPE (PtProfileStore, pt_profile_store, PT, PROFILE_STORE, GObject)

/* @path: the key file ($XDG_CONFIG_HOME/peertunnel/profiles.ini by default). */
PtProfileStore *pt_profile_store_new          (const char     *path);
/* Reads the file; a missing file is an empty list. */
gboolean        pt_profile_store_load         (PtProfileStore *self,
                                               GError        **error);
/* Writes atomically (temporary file + rename) with mode 0600. */
gboolean        pt_profile_store_save         (PtProfileStore *self,
                                               GError        **error);
/* A GListModel of PtProfile, in the user's order. */
GListModel     *pt_profile_store_get_model    (PtProfileStore *self);
PtProfile      *pt_profile_store_find         (PtProfileStore *self,
                                               const char     *id);
void            pt_profile_store_add          (PtProfileStore *self,
                                               PtProfile      *profile);
/* Stops the profile's service first. */
void            pt_profile_store_remove       (PtProfileStore *self,
                                               PtProfile      *profile);
/* What runs @profile (one per profile of the store, for as long as it is
 * in the store), or NULL for a profile of no store. */
PtService      *pt_profile_store_get_service  (PtProfileStore *self,
                                               PtProfile      *profile);
/* A GListModel of PtService, in the same order as the profiles. */
GListModel     *pt_profile_store_get_services (PtProfileStore *self);
const char     *pt_profile_store_get_path     (PtProfileStore *self);
/* Keeps TURN credentials in @secrets (probed already) instead of the key file;
 * set it before loading. */
void            pt_profile_store_set_secret_store (PtProfileStore *self,
                                                   PtSecretStore  *secrets);
/* A secret store will be set: until then TURN credentials are written nowhere. */
void            pt_profile_store_expect_secrets (PtProfileStore *self);
/* Secrets still being read or written (tests wait for 0). */
guint           pt_profile_store_get_pending  (PtProfileStore *self);

char           *pt_profile_store_default_path (void);

G_END_DECLS
