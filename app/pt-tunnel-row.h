/* pt-tunnel-row.h — one tunnel in the main list: live state, counters, a switch
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include <pt.h>

G_BEGIN_DECLS

#define PT_TYPE_TUNNEL_ROW (pt_tunnel_row_get_type ())
G_DECLARE_FINAL_TYPE (PtTunnelRow, pt_tunnel_row, PT, TUNNEL_ROW, AdwActionRow)

GtkWidget  *pt_tunnel_row_new          (PtService   *service);
PtService  *pt_tunnel_row_get_service  (PtTunnelRow *self);
PtProfile  *pt_tunnel_row_get_profile  (PtTunnelRow *self);
GtkSwitch  *pt_tunnel_row_get_switch   (PtTunnelRow *self);
/* Serving: the button saying how many computers are connected (hidden with
 * none), and its list of them (a PtSessionRow each). */
GtkMenuButton *pt_tunnel_row_get_sessions_button (PtTunnelRow *self);
GtkListBox *pt_tunnel_row_get_sessions_list (PtTunnelRow *self);

/* "direct, through NAT", or NULL for no path yet. */
const char *pt_describe_path_kind      (PtPathKind   kind);
/* What the list and the tray say about a tunnel: "Off", "Up, direct (host) · …". */
char       *pt_describe_service_state  (PtService   *service);

G_END_DECLS
