/* pt-error.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-error"

#include "config.h"

#include "pt.h"

G_DEFINE_QUARK (pt-signal-error-quark, pt_signal_error)
G_DEFINE_QUARK (pt-ice-error-quark, pt_ice_error)
G_DEFINE_QUARK (pt-quic-error-quark, pt_quic_error)
G_DEFINE_QUARK (pt-tunnel-error-quark, pt_tunnel_error)
G_DEFINE_QUARK (pt-config-error-quark, pt_config_error)
G_DEFINE_QUARK (pt-key-error-quark, pt_key_error)
G_DEFINE_QUARK (pt-token-error-quark, pt_token_error)
G_DEFINE_QUARK (pt-nostr-error-quark, pt_nostr_error)
G_DEFINE_QUARK (pt-tun-error-quark, pt_tun_error)
G_DEFINE_QUARK (pt-admission-error-quark, pt_admission_error)

const char *
pt_admission_error_to_reason (const GError *error)
{
  static const char * const reasons[] = {
    [PT_ADMISSION_ERROR_UNAUTHORIZED] = "unauthorized",
    [PT_ADMISSION_ERROR_NO_TOKEN] = "no-token",
    [PT_ADMISSION_ERROR_BAD_TOKEN] = "bad-token",
    [PT_ADMISSION_ERROR_BUSY] = "max-sessions",
    [PT_ADMISSION_ERROR_PENDING] = "max-pending",
    [PT_ADMISSION_ERROR_STALE] = "stale",
    [PT_ADMISSION_ERROR_REPLAYED] = "replayed",
    [PT_ADMISSION_ERROR_TOO_OLD] = "too-old",
  };

  if (error == NULL || error->domain != PT_ADMISSION_ERROR)
    return NULL;
  if (error->code < 0 || (gsize) error->code >= G_N_ELEMENTS (reasons))
    return "refused";
  return reasons[error->code];
}

const char *
pt_proto_to_string (PtProto proto)
{
  switch (proto)
    {
    case PT_PROTO_TCP: return "tcp";
    case PT_PROTO_UDP: return "udp";
    }
  return "invalid";
}

const char *
pt_path_kind_to_string (PtPathKind kind)
{
  switch (kind)
    {
    case PT_PATH_KIND_HOST:  return "host";
    case PT_PATH_KIND_SRFLX: return "srflx";
    case PT_PATH_KIND_PRFLX: return "prflx";
    case PT_PATH_KIND_RELAY: return "relay";
    case PT_PATH_KIND_NONE:  return "none";
    }
  return "invalid";
}

const char *
pt_tunnel_state_to_string (PtTunnelState state)
{
  switch (state)
    {
    case PT_TUNNEL_STATE_NEW:                return "new";
    case PT_TUNNEL_STATE_GATHERING:          return "gathering";
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER: return "waiting-for-answer";
    case PT_TUNNEL_STATE_CHECKING:           return "checking";
    case PT_TUNNEL_STATE_HANDSHAKE:          return "handshake";
    case PT_TUNNEL_STATE_UP:                 return "up";
    case PT_TUNNEL_STATE_CLOSED:             return "closed";
    case PT_TUNNEL_STATE_FAILED:             return "failed";
    }
  return "invalid";
}

const char *
pt_nostr_client_state_to_string (PtNostrClientState state)
{
  switch (state)
    {
    case PT_NOSTR_CLIENT_STATE_IDLE:         return "idle";
    case PT_NOSTR_CLIENT_STATE_CONNECTING:   return "connecting";
    case PT_NOSTR_CLIENT_STATE_UP:           return "up";
    case PT_NOSTR_CLIENT_STATE_RECONNECTING: return "reconnecting";
    case PT_NOSTR_CLIENT_STATE_FAILED:       return "failed";
    case PT_NOSTR_CLIENT_STATE_STOPPED:      return "stopped";
    }
  return "invalid";
}
