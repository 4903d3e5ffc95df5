/* pt-profile-private.h — a profile's settings as engine objects, for PtService
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

/* STUN, TURN and local addresses as an ICE configuration. */
PtIceConfig    *_pt_profile_make_ice_config (PtProfile  *self,
                                             GError    **error);
/* A serving profile's allowed services (validated first: no bad entry is left). */
PtServerPolicy *_pt_profile_make_policy     (PtProfile  *self);
/* A shared-name server's "expose" setting: the address (a literal) and its protocol. */
GSocketAddress *_pt_profile_expose_address  (PtProfile  *self,
                                             PtProto    *proto,
                                             GError    **error);

G_END_DECLS
