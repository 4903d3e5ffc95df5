/* pt.h — the PeerTunnel engine: the only header app/ and cli/ include
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#define PT_INSIDE
# include "pt-types.h"
# include "pt-enum-types.h"
# include "pt-error.h"
# include "pt-signal.h"
# include "pt-offer-record.h"
# include "pt-allow-list.h"
# include "pt-server-policy.h"
# include "pt-config.h"
# include "pt-ice-config.h"
# include "pt-tunnel.h"
# include "pt-manual-server.h"
# include "pt-keys.h"
# include "pt-token.h"
# include "pt-nostr.h"
# include "pt-tun.h"
# include "pt-text.h"
# include "pt-block-reader.h"
# include "pt-process.h"
# include "pt-peer-session.h"
# include "pt-profile.h"
# include "pt-service.h"
#undef PT_INSIDE
