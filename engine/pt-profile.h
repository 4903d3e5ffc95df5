/* pt-profile.h — one tunnel as the user configured it
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-keys.h"
#include "pt-types.h"

G_BEGIN_DECLS

#define PT_PROFILE_ERROR (pt_profile_error_quark ())

typedef enum
{
  PT_PROFILE_ERROR_INVALID,     /* a setting the engine cannot use; the message names it */
  PT_PROFILE_ERROR_STATE,       /* started twice, or pairing text given at the wrong time */
  PT_PROFILE_ERROR_UNSUPPORTED, /* a mode this version of the engine does not have */
} PtProfileError;

typedef enum
{
  PT_PROFILE_MODE_MANUAL,
  PT_PROFILE_MODE_NOSTR,
  PT_PROFILE_MODE_NAME,
  PT_PROFILE_MODE_VPN,          /* whole networks through a TUN device, paired through Nostr */
} PtProfileMode;

#define PT_PROFILE_VPN_DEFAULT_MTU 1400
/* "max-sessions": absent (0) is the server's default, this value no limit. */
#define PT_PROFILE_NO_SESSION_LIMIT 65535

#define PT_TYPE_PROFILE (pt_profile_get_type ())
G_DECLARE_FINAL_TYPE (PtProfile, pt_profile, PT, PROFILE, GObject)

GQuark         pt_profile_error_quark        (void);

PtProfile     *pt_profile_new                (void);
/* A copy of the settings (not the running tunnel) with a new id. */
PtProfile     *pt_profile_duplicate          (PtProfile    *self);
/* Copies the settings of @from into @self, keeping @self's id. */
void           pt_profile_assign             (PtProfile    *self,
                                              PtProfile    *from);

PtProfile     *pt_profile_new_from_key_file  (GKeyFile     *key_file,
                                              const char   *group,
                                              GError      **error);
void           pt_profile_to_key_file        (PtProfile    *self,
                                              GKeyFile     *key_file,
                                              const char   *group);
/* A key file of saved tunnels or secrets, from memory; @what names it in
 * the error ("/home/…/tunnels.ini"), which never quotes the text. */
GKeyFile      *pt_profile_parse_key_file     (const char   *data,
                                              gsize         len,
                                              const char   *what,
                                              GError      **error);
/* g_key_file_get_string() without an error, safe on any value (see pt-profile.c). */
char          *pt_profile_key_file_get_string (GKeyFile    *key_file,
                                               const char  *group,
                                               const char  *key);
/* Every "[profile ID]" group of @key_file, in file order. */
GPtrArray     *pt_profile_list_from_key_file (GKeyFile     *key_file,
                                              GError      **error);

const char    *pt_profile_get_id             (PtProfile    *self);
const char    *pt_profile_get_name           (PtProfile    *self);
void           pt_profile_set_name           (PtProfile    *self,
                                              const char   *name);
PtTunnelRole   pt_profile_get_role           (PtProfile    *self);
void           pt_profile_set_role           (PtProfile    *self,
                                              PtTunnelRole  role);
PtProfileMode  pt_profile_get_mode           (PtProfile    *self);
void           pt_profile_set_mode           (PtProfile    *self,
                                              PtProfileMode mode);

/* Connect role: parallel lists, "tcp://HOST:PORT" and "[ADDR:]PORT". */
const char * const *pt_profile_get_sources   (PtProfile    *self);
const char * const *pt_profile_get_targets   (PtProfile    *self);
void           pt_profile_set_forwards       (PtProfile    *self,
                                              const char * const *sources,
                                              const char * const *targets);
/* Serve role: CIDR lists. */
const char * const *pt_profile_get_allowed_tcp (PtProfile  *self);
const char * const *pt_profile_get_allowed_udp (PtProfile  *self);
void           pt_profile_set_allowed        (PtProfile    *self,
                                              const char * const *tcp,
                                              const char * const *udp);
/* Empty STUN list: the engine's public defaults, unless no-stun. */
const char * const *pt_profile_get_stun_servers (PtProfile *self);
const char * const *pt_profile_get_turn_servers (PtProfile *self);
const char * const *pt_profile_get_local_addresses (PtProfile *self);
gboolean       pt_profile_get_no_stun        (PtProfile    *self);
void           pt_profile_set_ice            (PtProfile    *self,
                                              const char * const *stun_servers,
                                              const char * const *turn_servers,
                                              const char * const *local_addresses,
                                              gboolean      no_stun);

/* Nostr mode: relay URLs (empty: the engine's defaults) and peer keys
 * (connect: the server's npub first; serve: the npubs allowed to connect). */
const char * const *pt_profile_get_relays    (PtProfile    *self);
const char * const *pt_profile_get_peers     (PtProfile    *self);
void           pt_profile_set_nostr          (PtProfile    *self,
                                              const char * const *relays,
                                              const char * const *peers);
/* Nostr mode: an access token (a secret: wiped when replaced) that the
 * client presents, or that the server requires; "any-peer" lets any key in
 * with the token (serve). */
const char    *pt_profile_get_token          (PtProfile    *self);
void           pt_profile_set_token          (PtProfile    *self,
                                              const char   *token);
gboolean       pt_profile_get_any_peer       (PtProfile    *self);
void           pt_profile_set_any_peer       (PtProfile    *self,
                                              gboolean      any_peer);
/* Shared-name mode: the name both sides know (a secret, at least
 * PT_NAMED_MIN_LEN characters) and, serving, the local service it exposes
 * ("tcp://127.0.0.1:22"). */
const char    *pt_profile_get_shared_name    (PtProfile    *self);
void           pt_profile_set_shared_name    (PtProfile    *self,
                                              const char   *name);
const char    *pt_profile_get_expose         (PtProfile    *self);
void           pt_profile_set_expose         (PtProfile    *self,
                                              const char   *expose);
/* VPN mode (peers, token, any-peer and relays as in Nostr mode). Serve: the
 * IPv4 network ("10.77.0.0/24", private), an optional IPv6 network (inside
 * fc00::/7), the device's MTU (0: PT_PROFILE_VPN_DEFAULT_MTU) and resolvers
 * pushed to clients. Connect: more networks to route through the VPN (split
 * tunnelling, private ranges) and whether to ask for an IPv6 address. */
const char    *pt_profile_get_vpn_network    (PtProfile    *self);
const char    *pt_profile_get_vpn_network6   (PtProfile    *self);
guint          pt_profile_get_vpn_mtu        (PtProfile    *self);
const char * const *pt_profile_get_vpn_dns   (PtProfile    *self);
const char * const *pt_profile_get_vpn_routes (PtProfile   *self);
gboolean       pt_profile_get_vpn_ipv6       (PtProfile    *self);
void           pt_profile_set_vpn            (PtProfile    *self,
                                              const char   *network,
                                              const char   *network6,
                                              guint         mtu,
                                              const char * const *dns,
                                              const char * const *routes,
                                              gboolean      ipv6);
/* The profile's secrets (TURN credentials, token, shared name) as one key-file text for a
 * secret store, or NULL when it has none; and back. */
char          *pt_profile_dup_secrets        (PtProfile    *self);
void           pt_profile_apply_secrets      (PtProfile    *self,
                                              const char   *text);
/* The key-file keys that pt_profile_dup_secrets() covers. */
extern const char * const pt_profile_secret_keys[];

/* Checks every setting as the engine would; the message says which one is wrong. */
gboolean       pt_profile_validate           (PtProfile    *self,
                                              GError      **error);

G_END_DECLS
