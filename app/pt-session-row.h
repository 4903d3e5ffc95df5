/* pt-session-row.h — one client of a serving tunnel, in its row's session list
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include <pt.h>

G_BEGIN_DECLS

#define PT_TYPE_SESSION_ROW (pt_session_row_get_type ())
G_DECLARE_FINAL_TYPE (PtSessionRow, pt_session_row, PT, SESSION_ROW, AdwActionRow)

GtkWidget     *pt_session_row_new         (PtPeerSession *session);
PtPeerSession *pt_session_row_get_session (PtSessionRow  *self);

G_END_DECLS
