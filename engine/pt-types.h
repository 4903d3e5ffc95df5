/* pt-types.h — enumerations and small value types shared by the engine's API
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Values are part of the signaling wire format: never renumber. */
typedef enum
{
  PT_PROTO_TCP = 1,
  PT_PROTO_UDP = 2,
} PtProto;

typedef enum
{
  PT_SIGNAL_KIND_OFFER = 1,
  PT_SIGNAL_KIND_ANSWER = 2,
} PtSignalKind;

/* Candidate and path kinds; values are part of the wire format. */
typedef enum
{
  PT_PATH_KIND_HOST = 0,
  PT_PATH_KIND_SRFLX = 1,
  PT_PATH_KIND_PRFLX = 2,
  PT_PATH_KIND_RELAY = 3,
  PT_PATH_KIND_NONE = 15,
} PtPathKind;

/* Candidate transports; values are part of the wire format. */
typedef enum
{
  PT_TRANSPORT_UDP = 0,
  PT_TRANSPORT_TCP_ACTIVE = 1,
  PT_TRANSPORT_TCP_PASSIVE = 2,
  PT_TRANSPORT_TCP_SO = 3,
} PtTransport;

typedef enum
{
  PT_TUNNEL_ROLE_CLIENT,
  PT_TUNNEL_ROLE_SERVER,
} PtTunnelRole;

typedef enum
{
  PT_TUNNEL_STATE_NEW,
  PT_TUNNEL_STATE_GATHERING,
  PT_TUNNEL_STATE_WAITING_FOR_ANSWER,
  PT_TUNNEL_STATE_CHECKING,
  PT_TUNNEL_STATE_HANDSHAKE,
  PT_TUNNEL_STATE_UP,
  PT_TUNNEL_STATE_CLOSED,
  PT_TUNNEL_STATE_FAILED,
} PtTunnelState;

typedef enum
{
  PT_NOSTR_CLIENT_STATE_IDLE,          /* not started */
  PT_NOSTR_CLIENT_STATE_CONNECTING,    /* asking the server, or its tunnel coming up */
  PT_NOSTR_CLIENT_STATE_UP,            /* the tunnel carries data */
  PT_NOSTR_CLIENT_STATE_RECONNECTING,  /* the tunnel dropped; waiting to try again */
  PT_NOSTR_CLIENT_STATE_FAILED,        /* gave up (see the error) */
  PT_NOSTR_CLIENT_STATE_STOPPED,       /* stopped by its owner */
} PtNostrClientState;

const char *pt_proto_to_string        (PtProto        proto);
const char *pt_path_kind_to_string    (PtPathKind     kind);
const char *pt_tunnel_state_to_string (PtTunnelState  state);
const char *pt_nostr_client_state_to_string (PtNostrClientState state);

G_END_DECLS
