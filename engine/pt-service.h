/* pt-service.h — runs one profile, in any mode, for the app and for pt up
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A PtService is a PtProfile put to work: it makes the tunnel (manual), the
 * Nostr client or server (Nostr, shared name), the TUN device and the VPN
 * lock (VPN), reconnects as the rendezvous does, and says what happens
 * through properties a UI binds and signals pt prints. The profile holds
 * the settings; the service reads them at each start, so editing a running
 * profile takes effect at the next start. Errors are PT_PROFILE_ERROR: what
 * is wrong is a setting, or the moment (started twice, pairing text given
 * when nothing waits for it).
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-keys.h"
#include "pt-profile.h"
#include "pt-tunnel.h"

G_BEGIN_DECLS

#define PT_TYPE_SERVICE (pt_service_get_type ())
G_DECLARE_FINAL_TYPE (PtService, pt_service, PT, SERVICE, GObject)

PtService     *pt_service_new                (PtProfile         *profile);
PtProfile     *pt_service_get_profile        (PtService         *self);

/* This computer's key for Nostr profiles (a copy is kept; NULL forgets it). */
void           pt_service_set_default_key    (const PtSecretKey *key);
/* Why VPN profiles cannot start in this process (e.g. inside a Flatpak), in
 * the front end's words, or NULL (the default) when they can. */
void           pt_service_set_vpn_refusal    (const char        *why);

/* How a VPN client of this process names itself to a second one that finds
 * the per-user lock taken ("pt vpn client"); default "PeerTunnel app". */
void           pt_service_set_vpn_holder     (const char        *who);

/* This service's own key for Nostr profiles (pt: --nsec-file), instead of
 * the default key; NULL goes back to the default. */
void           pt_service_set_key            (PtService         *self,
                                              const PtSecretKey *key);
/* Connecting through a rendezvous: whether a tunnel that drops is asked for
 * again (the default) or the service stops with the reason. A client that
 * is refused, or never came up, stops either way. */
void           pt_service_set_reconnect      (PtService         *self,
                                              gboolean           reconnect);

/* Connect: start() makes the tunnel and its offer ("local-text" becomes
 * non-NULL), then give_remote() takes the answer. Serve: start() waits;
 * each give_remote() takes an offer, which the admission judges (a refusal
 * is a PT_ADMISSION_ERROR) and which becomes a session
 * of its own; "local-text" becomes its answer. stop() closes every tunnel;
 * "tunnel" stays set until the next start so the last state and error
 * remain visible. */
gboolean       pt_service_start              (PtService         *self,
                                              GError           **error);
void           pt_service_stop               (PtService         *self);
gboolean       pt_service_get_running        (PtService         *self);
PtTunnel      *pt_service_get_tunnel         (PtService         *self);
/* Serving: every client's session while it lasts, a GListModel of
 * PtPeerSession in arrival order ("tunnel" is the newest of them); a manual
 * server's clients too, from their offer on (peer NULL, as a pasted offer
 * names no key). Empty when connecting. */
GListModel    *pt_service_get_sessions       (PtService         *self);
/* While running through a rendezvous, "relay-state" (url, connected),
 * "attempt-failed" (GError, seconds until the next try: connecting) and
 * "request-refused" (peer npub, session, reason: serving) say what the
 * relays and peers did, as pt's events print it. */
/* The block to show the peer: binary payload (for QR codes) and armored text. */
GBytes        *pt_service_get_local_payload  (PtService         *self);
const char    *pt_service_get_local_text     (PtService         *self);
/* The peer's block as pasted text (armored) or a QR payload (binary or armored). */
gboolean       pt_service_give_remote        (PtService         *self,
                                              GBytes            *payload,
                                              GError           **error);
gboolean       pt_service_get_paired         (PtService         *self);
/* Why the service stopped by itself (e.g. authorization for the VPN device
 * was refused), or NULL; cleared by the next start ("error" is notified). */
const GError  *pt_service_get_error          (PtService         *self);
/* VPN mode while running: the device's name once it exists (NULL before),
 * and its addresses ("10.77.0.2/24", and "fd00:77::2/64" or NULL); the
 * server's own when serving. "vpn-device" is notified when they change. */
const char    *pt_service_get_vpn_device     (PtService         *self);
const char    *pt_service_get_vpn_address    (PtService         *self);
const char    *pt_service_get_vpn_address6   (PtService         *self);
/* Serving through a rendezvous: the npub clients find this service by,
 * once its server exists (a shared name's after the name is derived), or
 * NULL; "npub" is notified. */
const char    *pt_service_get_npub           (PtService         *self);
/* VPN client: what the server assigned (addresses, MTU, the resolvers it
 * pushes), once it has; NULL otherwise. */
PtVpnSettings *pt_service_dup_vpn_settings   (PtService         *self);
/* VPN server: packets dropped because a client used an address not its own. */
guint64        pt_service_get_vpn_spoofed    (PtService         *self);
/* TRUE while waiting for the helper (and the authorization prompt). */
gboolean       pt_service_get_vpn_authorizing (PtService        *self);
/* The first listen address once the tunnel is up (connect role), or NULL. */
char          *pt_service_dup_local_address  (PtService         *self);

G_END_DECLS
