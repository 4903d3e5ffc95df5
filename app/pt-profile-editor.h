/* pt-profile-editor.h — create or edit a tunnel's settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "pt-profile-store.h"

G_BEGIN_DECLS

#define PT_TYPE_PROFILE_EDITOR (pt_profile_editor_get_type ())
G_DECLARE_FINAL_TYPE (PtProfileEditor, pt_profile_editor, PT, PROFILE_EDITOR, AdwWindow)

/* @profile NULL: a new tunnel, added to @store when saved. */
PtProfileEditor *pt_profile_editor_new  (GtkWindow       *parent,
                                         PtProfileStore  *store,
                                         PtProfile       *profile);
/* Checks the form; on success applies it (or adds the new tunnel) and returns
 * the saved profile (borrowed). On failure the error shows inline too. */
PtProfile       *pt_profile_editor_save (PtProfileEditor *self,
                                         GError         **error);

G_END_DECLS
