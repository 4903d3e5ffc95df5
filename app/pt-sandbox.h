/* pt-sandbox.h — whether the app runs inside a Flatpak sandbox, and what
 * that takes away
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE inside a Flatpak (/.flatpak-info exists). Decided on the first call.
 * $PT_SANDBOX overrides it, for tests: "flatpak" or "none". */
gboolean     pt_sandbox_is_flatpak        (void);
/* Why a VPN tunnel cannot start in the sandbox, in the app's words. */
const char  *pt_sandbox_vpn_explanation   (void);

G_END_DECLS
