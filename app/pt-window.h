/* pt-window.h — the main window: the list of tunnels
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "pt-profile-store.h"

G_BEGIN_DECLS

#define PT_TYPE_WINDOW (pt_window_get_type ())
G_DECLARE_FINAL_TYPE (PtWindow, pt_window, PT, WINDOW, AdwApplicationWindow)

PtWindow       *pt_window_new              (GtkApplication *application,
                                            PtProfileStore *store);
PtProfileStore *pt_window_get_store        (PtWindow       *self);
/* Says where secrets live ("Secrets are kept in …"); NULL hides it. */
void            pt_window_set_store_note   (PtWindow       *self,
                                            const char     *note);
void            pt_window_toast            (PtWindow       *self,
                                            const char     *message);

/* For tests. */
GtkListBox     *pt_window_get_list         (PtWindow       *self);
GtkStack       *pt_window_get_stack        (PtWindow       *self);
/* The open editor or pairing dialog, or NULL (borrowed). */
GtkWindow      *pt_window_get_editor       (PtWindow       *self);
GtkWindow      *pt_window_get_pairing      (PtWindow       *self);

G_END_DECLS
