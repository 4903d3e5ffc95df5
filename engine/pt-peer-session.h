/* pt-peer-session.h — one client's session on a serving profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A serving PtService lists the sessions it carries as a GListModel of
 * these (pt_service_get_sessions()): who the client is, since when, and
 * the tunnel (state, path, bytes) that a row binds to.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-tunnel.h"

G_BEGIN_DECLS

#define PT_TYPE_PEER_SESSION (pt_peer_session_get_type ())
G_DECLARE_FINAL_TYPE (PtPeerSession, pt_peer_session, PT, PEER_SESSION, GObject)

/* @peer: the client's npub, or NULL when the rendezvous has none (manual
 * mode); @id: the session's id as events print it. */
PtPeerSession *pt_peer_session_new        (PtTunnel      *tunnel,
                                           const char    *peer,
                                           const char    *id);
PtTunnel      *pt_peer_session_get_tunnel (PtPeerSession *self);
const char    *pt_peer_session_get_peer   (PtPeerSession *self);
const char    *pt_peer_session_get_id     (PtPeerSession *self);
/* When the session started (wall clock). */
GDateTime     *pt_peer_session_get_since  (PtPeerSession *self);

G_END_DECLS
