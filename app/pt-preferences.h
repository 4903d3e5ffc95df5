/* pt-preferences.h — the Preferences page: background, secrets, this computer's key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "pt-identity.h"
#include "pt-secret-store.h"

G_BEGIN_DECLS

#define PT_TYPE_PREFERENCES (pt_preferences_get_type ())
G_DECLARE_FINAL_TYPE (PtPreferences, pt_preferences, PT, PREFERENCES, AdwPreferencesPage)

/* Any of them may be NULL: no @settings leaves the switches insensitive, no
 * @identity hides the key. */
GtkWidget *pt_preferences_new        (GSettings     *settings,
                                      PtSecretStore *secrets,
                                      PtIdentity    *identity);
/* The page in a window or dialog (whichever this libadwaita has), to show
 * with pt_adw_present(). */
GtkWidget *pt_preferences_window_new (GSettings     *settings,
                                      PtSecretStore *secrets,
                                      PtIdentity    *identity);

G_END_DECLS
