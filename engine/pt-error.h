/* pt-error.h — one error domain per subsystem
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

#define PT_SIGNAL_ERROR (pt_signal_error_quark ())
#define PT_ICE_ERROR    (pt_ice_error_quark ())
#define PT_QUIC_ERROR   (pt_quic_error_quark ())
#define PT_TUNNEL_ERROR (pt_tunnel_error_quark ())
#define PT_CONFIG_ERROR (pt_config_error_quark ())

typedef enum
{
  PT_SIGNAL_ERROR_NO_BLOCK,     /* no BEGIN/END PEERTUNNEL block in the text */
  PT_SIGNAL_ERROR_BAD_ARMOR,    /* block found, but its body is not valid base64 / lines mismatch */
  PT_SIGNAL_ERROR_WRONG_KIND,   /* an answer where an offer was expected, or the reverse */
  PT_SIGNAL_ERROR_VERSION,      /* made by an incompatible PeerTunnel version */
  PT_SIGNAL_ERROR_CORRUPT,      /* checksum mismatch: altered or mistyped */
  PT_SIGNAL_ERROR_TRUNCATED,    /* ends before its last field */
  PT_SIGNAL_ERROR_MALFORMED,    /* a field holds an impossible value */
  PT_SIGNAL_ERROR_STALE,        /* older than the freshness window */
  PT_SIGNAL_ERROR_FUTURE,       /* dated in the future beyond the allowed clock skew */
  PT_SIGNAL_ERROR_TOO_LARGE,    /* more candidates/forwards or longer strings than fit */
  PT_SIGNAL_ERROR_SESSION,      /* answer for another session */
} PtSignalError;

typedef enum
{
  PT_ICE_ERROR_BAD_SERVER,      /* a STUN/TURN server spec or URL cannot be used */
  PT_ICE_ERROR_BAD_ADDRESS,     /* a local address is not an IP address */
  PT_ICE_ERROR_GATHERING,       /* no local candidate could be gathered */
  PT_ICE_ERROR_FAILED,          /* connectivity checks failed: no path to the peer */
  PT_ICE_ERROR_REMOTE,          /* the peer's candidates were rejected */
} PtIceError;

typedef enum
{
  PT_QUIC_ERROR_TLS,            /* TLS set-up failed locally */
  PT_QUIC_ERROR_PEER_CERTIFICATE, /* the peer presented a certificate other than the pinned one */
  PT_QUIC_ERROR_HANDSHAKE,      /* handshake failed or timed out */
  PT_QUIC_ERROR_IDLE_TIMEOUT,   /* nothing heard from the peer for the idle timeout */
  PT_QUIC_ERROR_PEER_CLOSED,    /* the peer closed the connection with an error */
  PT_QUIC_ERROR_PROTOCOL,       /* the peer broke the QUIC protocol */
  PT_QUIC_ERROR_INTERNAL,
} PtQuicError;

typedef enum
{
  PT_TUNNEL_ERROR_REJECTED,     /* the server refused a requested forward */
  PT_TUNNEL_ERROR_PROTOCOL,     /* the peer broke the tunnel protocol */
  PT_TUNNEL_ERROR_LISTEN,       /* a local listener could not be opened */
  PT_TUNNEL_ERROR_CLOSED,       /* the peer closed the tunnel */
  PT_TUNNEL_ERROR_INVALID,      /* the tunnel was used in the wrong state or role */
} PtTunnelError;

typedef enum
{
  PT_CONFIG_ERROR_PARSE,        /* the file is not a valid key file */
  PT_CONFIG_ERROR_UNKNOWN_KEY,  /* a key that no option has */
  PT_CONFIG_ERROR_INVALID,      /* a value that the option cannot take */
} PtConfigError;

GQuark pt_signal_error_quark (void);
GQuark pt_ice_error_quark    (void);
GQuark pt_quic_error_quark   (void);
GQuark pt_tunnel_error_quark (void);
GQuark pt_config_error_quark (void);

G_END_DECLS
