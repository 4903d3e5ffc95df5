/* pt-ice-config.h — how a tunnel gathers ICE candidates
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  PT_TURN_TRANSPORT_UDP,
  PT_TURN_TRANSPORT_TCP,
  PT_TURN_TRANSPORT_TLS,
} PtTurnTransport;

typedef struct
{
  char            *host;
  guint16          port;
  char            *username;
  char            *password;   /* wiped on free */
  PtTurnTransport  transport;
} PtTurnServer;

typedef struct _PtIceConfig PtIceConfig;

/* Public STUN servers used when the user names none and does not say --no-stun. */
extern const char * const pt_default_stun_servers[];

PtIceConfig *pt_ice_config_new              (void);
PtIceConfig *pt_ice_config_ref              (PtIceConfig *self);
void         pt_ice_config_unref            (PtIceConfig *self);

/* "host:port", "host" (port 3478) or "[v6]:port". */
gboolean     pt_ice_config_add_stun_server  (PtIceConfig *self,
                                             const char  *spec,
                                             GError     **error);
/* "turn://user:pass@host[:port][?transport=udp|tcp]", "turns://…" (TLS, port 5349). */
gboolean     pt_ice_config_add_turn_server  (PtIceConfig *self,
                                             const char  *url,
                                             GError     **error);
/* Restricts host candidates to these addresses (e.g. 127.0.0.1 for loopback runs). */
gboolean     pt_ice_config_add_local_address (PtIceConfig *self,
                                             const char  *address,
                                             GError     **error);
void         pt_ice_config_set_relay_only   (PtIceConfig *self,
                                             gboolean     relay_only);
/* PEM CA certificates that turns:// servers must chain to, instead of the system's. */
void         pt_ice_config_set_turn_ca_file (PtIceConfig *self,
                                             const char  *path);

const char * const *pt_ice_config_get_stun_servers   (PtIceConfig *self); /* NULL-terminated */
GPtrArray          *pt_ice_config_get_turn_servers   (PtIceConfig *self); /* of PtTurnServer* */
const char * const *pt_ice_config_get_local_addresses (PtIceConfig *self);
gboolean            pt_ice_config_get_relay_only     (PtIceConfig *self);
const char         *pt_ice_config_get_turn_ca_file   (PtIceConfig *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtIceConfig, pt_ice_config_unref)

G_END_DECLS
