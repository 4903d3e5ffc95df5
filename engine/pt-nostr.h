/* pt-nostr.h — tunnels whose peers find each other through Nostr relays
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A PtNostrServer listens on a set of relays for requests addressed to its
 * key, checks who asks (listed keys, or any key holding a token), and
 * starts a server PtTunnel for each accepted request. A PtNostrClient asks
 * one server for a tunnel, re-publishing its request until answered, and
 * re-establishes the tunnel by itself when it drops, keeping its local
 * listeners open. Both run on the thread-default main context of their
 * creator. Everything on the relays is end-to-end encrypted (NIP-44).
 *
 * Named rendezvous: both sides derive the server's key and a token from a
 * shared name (pt_named_rendezvous_derive()), so the name is the only secret.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-allow-list.h"
#include "pt-server-policy.h"
#include "pt-ice-config.h"
#include "pt-keys.h"
#include "pt-signal.h"
#include "pt-tunnel.h"
#include "pt-types.h"

G_BEGIN_DECLS

/* "10.77.0.1/24" for "10.77.0.0/24": the address a VPN server takes. */
char          *pt_vpn_server_address          (const char          *network,
                                               GError             **error);
/* Public relays used when none is given. */
const char * const *pt_nostr_default_relays (void);

/* ---------------------------------------------------------------------- */
/* Named rendezvous */

#define PT_NAMED_MIN_LEN 8     /* characters: a shorter name is too easy to guess */
/* Estimated bits of guessing a name must resist (docs/protocol.md, "Named
 * rendezvous"): 5 random words, or a token from pt token. */
#define PT_NAMED_MIN_BITS 60

/* Whether @name is good enough to be the only secret: UTF-8, at least
 * PT_NAMED_MIN_LEN characters and PT_NAMED_MIN_BITS by the estimate;
 * otherwise PT_NOSTR_ERROR_NAME saying what would do. Cheap: call it before
 * deriving, to tell a user at once. */
gboolean pt_named_name_check         (const char      *name,
                                      GError         **error);

/* Derives the rendezvous key and token from @name (checked first, as
 * pt_named_name_check() does) with Argon2id (64 MiB, 8 passes, a salt made
 * from the name: about 0.55 s on a loaded 2-core VM, and 64 MiB per guess),
 * so that guessing names is slow. Both peers get the same results. Blocks:
 * call it from a thread in a UI. */
gboolean pt_named_rendezvous_derive (const char      *name,
                                     PtSecretKey    **key,
                                     PtSecretString **token,
                                     GError         **error);

/* ---------------------------------------------------------------------- */
/* Server */

#define PT_TYPE_NOSTR_SERVER (pt_nostr_server_get_type ())
G_DECLARE_FINAL_TYPE (PtNostrServer, pt_nostr_server, PT, NOSTR_SERVER, GObject)

/* Failed attempts (bad token, key not allowed) are answered with a refusal
 * only up to a rate (pt-admission-private.h); every request is still
 * checked at once: a valid token is never delayed by failures, its own
 * key's or anyone else's. */

/* Connects to @relays (NULL: the default list). */
PtNostrServer *pt_nostr_server_new            (const PtSecretKey   *key,
                                               const char * const  *relays,
                                               PtIceConfig         *ice_config,
                                               GError             **error);
/* A key allowed to connect (repeatable). With tokens set as well, a listed
 * key must also present one of them. */
void           pt_nostr_server_add_peer       (PtNostrServer       *self,
                                               const PtPublicKey   *peer);
/* Any key may connect if it presents one of the tokens. */
void           pt_nostr_server_set_any_peer   (PtNostrServer       *self,
                                               gboolean             any_peer);
/* A GPtrArray of PtSecretString (pt_token_list_parse()); a reference is kept. */
void           pt_nostr_server_set_tokens     (PtNostrServer       *self,
                                               GPtrArray           *tokens);
/* What clients may reach; every session's tunnel shares it (a reference
 * is kept). Unset: nothing. */
void           pt_nostr_server_set_policy     (PtNostrServer       *self,
                                               PtServerPolicy      *policy);
/* VPN mode: clients may ask for an address in @network4 (and @network6, or
 * NULL); the server's TUN device @tun_fd (taken; from pt_tun_open_async(),
 * with the network's first address) carries their packets; @mtu is its MTU
 * and @dns (NULL-terminated, or NULL) the resolvers pushed to clients. A
 * client keeps its address across sessions (keyed by its key). */
gboolean       pt_nostr_server_set_vpn        (PtNostrServer       *self,
                                               const char          *network4,
                                               const char          *network6,
                                               int                  tun_fd,
                                               guint                mtu,
                                               const char * const  *dns,
                                               GError             **error);
/* Packets dropped because a client used a source address not its own. */
guint64        pt_nostr_server_get_vpn_spoofed (PtNostrServer      *self);
/* Sessions served at once; 0 for no limit. */
#define PT_NOSTR_DEFAULT_MAX_SESSIONS 64
void           pt_nostr_server_set_max_sessions (PtNostrServer     *self,
                                                 guint              max_sessions);
/* Starts answering requests. */
void           pt_nostr_server_start          (PtNostrServer       *self);
/* Stops answering and closes every session. */
void           pt_nostr_server_stop           (PtNostrServer       *self);
guint          pt_nostr_server_get_n_sessions (PtNostrServer       *self);
guint          pt_nostr_server_get_connected_relays (PtNostrServer *self);
const PtPublicKey *pt_nostr_server_get_public_key (PtNostrServer   *self);

/* Signals:
 *   "session-started" (PtTunnel *tunnel, const char *peer_npub, const char *session)
 *   "session-ended"   (PtTunnel *tunnel, const char *session)
 *   "request-refused" (const char *peer_npub, const char *session, const char *reason)
 *   "relay-state"     (const char *url, gboolean connected)
 */

/* ---------------------------------------------------------------------- */
/* Client */

#define PT_TYPE_NOSTR_CLIENT (pt_nostr_client_get_type ())
G_DECLARE_FINAL_TYPE (PtNostrClient, pt_nostr_client, PT, NOSTR_CLIENT, GObject)

#define PT_NOSTR_CLIENT_ANSWER_TIMEOUT_S  30   /* per attempt, after which it fails */
#define PT_NOSTR_CLIENT_RETRY_MAX_S       60   /* reconnect backoff ceiling */

/* @key NULL: a throwaway key for this process. @relays NULL: the default list. */
PtNostrClient *pt_nostr_client_new           (const PtSecretKey   *key,
                                              const PtPublicKey   *server,
                                              const char * const  *relays,
                                              PtIceConfig         *ice_config,
                                              GError             **error);
const PtPublicKey *pt_nostr_client_get_public_key (PtNostrClient  *self);
void           pt_nostr_client_set_token     (PtNostrClient       *self,
                                              const char          *token);
/* TRUE (the default): re-establish a tunnel that drops, with backoff. */
void           pt_nostr_client_set_reconnect (PtNostrClient       *self,
                                              gboolean             reconnect);
/* VPN mode instead of forwards: once the server assigned addresses the
 * client emits "vpn-config"; make the TUN device that
 * pt_nostr_client_dup_vpn_settings() describes and attach it. After a
 * reconnection that gets the same addresses, the same device is used again
 * by itself ("vpn-config" is not emitted again). */
void           pt_nostr_client_set_vpn       (PtNostrClient       *self,
                                              gboolean             want_ipv6);
PtVpnSettings *pt_nostr_client_dup_vpn_settings (PtNostrClient    *self);
/* Takes @tun_fd. */
gboolean       pt_nostr_client_attach_tun    (PtNostrClient       *self,
                                              int                  tun_fd,
                                              GError             **error);
/* Opens the listener now (a busy port fails early); it stays open across
 * reconnections. */
gboolean       pt_nostr_client_add_forward   (PtNostrClient       *self,
                                              const PtForwardSpec *spec,
                                              const char          *listen_address,
                                              GError             **error);
GPtrArray     *pt_nostr_client_dup_listen_addresses (PtNostrClient *self);
void           pt_nostr_client_start         (PtNostrClient       *self);
/* Closes the tunnel and the listeners; state becomes STOPPED. */
void           pt_nostr_client_stop          (PtNostrClient       *self);
PtNostrClientState pt_nostr_client_get_state (PtNostrClient       *self);
/* The current tunnel (a new one per attempt), or NULL before start(). */
PtTunnel      *pt_nostr_client_get_tunnel    (PtNostrClient       *self);
/* Why the client FAILED, or NULL. */
const GError  *pt_nostr_client_get_error     (PtNostrClient       *self);
guint          pt_nostr_client_get_connected_relays (PtNostrClient *self);

/* Signals:
 *   "attempt-failed" (GError *error, guint retry_in_seconds): an attempt or an
 *                    up tunnel failed and another follows after the delay.
 *   "vpn-config"     (): VPN mode: addresses assigned, attach a TUN device.
 *   "relay-state"    (const char *url, gboolean connected)
 * Properties: "state" (PtNostrClientState), "tunnel" (PtTunnel).
 */

G_END_DECLS
