/* pt-identity.h — this computer's long-term key (Nostr), kept in the secret store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <pt.h>

#include "pt-secret-store.h"

G_BEGIN_DECLS

#define PT_TYPE_IDENTITY (pt_identity_get_type ())
G_DECLARE_FINAL_TYPE (PtIdentity, pt_identity, PT, IDENTITY, GObject)

PtIdentity        *pt_identity_new          (void);
/* Reads the key from @secrets (probed); "npub" changes when it arrives. */
void               pt_identity_load         (PtIdentity     *self,
                                             PtSecretStore  *secrets);
/* The key, or NULL when there is none (yet). */
const PtSecretKey *pt_identity_get_key      (PtIdentity     *self);
/* "npub1…", or NULL. */
const char        *pt_identity_get_npub     (PtIdentity     *self);
/* A new random key, saved to the secret store. */
gboolean           pt_identity_generate     (PtIdentity     *self,
                                             GError        **error);
/* An "nsec1…" (or 64 hex characters) the user pasted, saved to the secret store. */
gboolean           pt_identity_import       (PtIdentity     *self,
                                             const char     *nsec,
                                             GError        **error);

G_END_DECLS
