/* pt-profile-editor-private.h — the editor's widgets, for tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "pt-profile-editor.h"

G_BEGIN_DECLS

typedef struct
{
  GtkWidget *row;
  GtkWidget *proto;      /* GtkDropDown: TCP, UDP */
  GtkWidget *source;     /* GtkEntry: HOST:PORT on the other computer */
  GtkWidget *target;     /* GtkEntry: [ADDR:]PORT here */
} PtForwardWidgets;

struct _PtProfileEditor
{
  AdwWindow        parent_instance;

  PtProfileStore  *store;
  PtProfile       *profile;        /* NULL when new */

  AdwEntryRow     *name_row;
  AdwComboRow     *role_row;
  AdwComboRow     *mode_row;
  GtkWidget       *forwards_group;
  GtkListBox      *forwards_list;
  GPtrArray       *forwards;       /* of PtForwardWidgets* */
  GtkWidget       *allowed_group;
  AdwEntryRow     *allowed_tcp_row;
  AdwEntryRow     *allowed_udp_row;
  AdwEntryRow     *stun_row;
  GtkSwitch       *no_stun_switch;
  AdwEntryRow     *turn_row;       /* AdwPasswordEntryRow: URLs hold credentials */
  AdwEntryRow     *local_row;
  GtkWidget       *nostr_group;
  AdwEntryRow     *peers_row;
  AdwEntryRow     *relays_row;
  AdwEntryRow     *token_row;      /* AdwPasswordEntryRow */
  GtkWidget       *any_peer_row;
  GtkSwitch       *any_peer_switch;
  GtkWidget       *named_group;
  AdwEntryRow     *shared_name_row; /* AdwPasswordEntryRow */
  AdwEntryRow     *expose_row;
  AdwEntryRow     *named_relays_row;
  GtkWidget       *vpn_group;
  AdwEntryRow     *vpn_network_row;
  AdwEntryRow     *vpn_network6_row;
  AdwEntryRow     *vpn_mtu_row;
  AdwEntryRow     *vpn_dns_row;
  AdwEntryRow     *vpn_routes_row;
  GtkWidget       *vpn_ipv6_row;
  GtkCheckButton  *vpn_ipv6_check;
  GtkLabel        *error_label;
  GtkWidget       *save_button;
};

/* Adds an empty forward row (or one filled from @source/@target) and returns it. */
PtForwardWidgets *pt_profile_editor_add_forward (PtProfileEditor *self,
                                                 const char      *source,
                                                 const char      *target);

G_END_DECLS
