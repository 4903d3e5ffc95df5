/* pt-application.h — the PeerTunnel application: tunnels, window, background
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "pt-profile-store.h"
#include "pt-identity.h"
#include "pt-secret-store.h"

G_BEGIN_DECLS

#define PT_TYPE_APPLICATION (pt_application_get_type ())
G_DECLARE_FINAL_TYPE (PtApplication, pt_application, PT, APPLICATION, AdwApplication)

PtApplication  *pt_application_new            (const char    *application_id);
PtProfileStore *pt_application_get_store      (PtApplication *self);
/* The schema's settings, or NULL when the schema is not installed. */
GSettings      *pt_application_get_settings   (PtApplication *self);
/* Creates the window if needed and shows it. */
GtkWindow      *pt_application_show_window    (PtApplication *self);

PtIdentity     *pt_application_get_identity   (PtApplication *self);

G_END_DECLS
