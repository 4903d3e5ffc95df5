/* pt-tray.h — a StatusNotifierItem with a dbusmenu, over GDBus (no GTK 3)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PT_TYPE_TRAY (pt_tray_get_type ())
G_DECLARE_FINAL_TYPE (PtTray, pt_tray, PT, TRAY, GObject)

/* Actions the menu triggers, on @actions: "show-window", "quit",
 * "new-tunnel", "preferences", and "toggle-tunnel" with the profile id
 * ("s"); "Copy Address" is done here (the display's clipboard). @services:
 * GListModel of PtService (name, running, tunnel state and address shown). */
PtTray     *pt_tray_new                (GDBusConnection *connection,
                                        const char      *icon_name,
                                        GActionGroup    *actions,
                                        GListModel      *services);
/* TRUE once a StatusNotifierWatcher took the item and says a host shows it. */
gboolean    pt_tray_get_host_available (PtTray          *self);

G_END_DECLS
