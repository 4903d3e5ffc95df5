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
#define PT_KEY_ERROR    (pt_key_error_quark ())
#define PT_TOKEN_ERROR  (pt_token_error_quark ())
#define PT_NOSTR_ERROR  (pt_nostr_error_quark ())
#define PT_TUN_ERROR    (pt_tun_error_quark ())
#define PT_ADMISSION_ERROR (pt_admission_error_quark ())

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
  PT_TUNNEL_ERROR_BUSY,         /* too many tunnels for the process's descriptor budget */
} PtTunnelError;

typedef enum
{
  PT_CONFIG_ERROR_PARSE,        /* the file is not a valid key file */
  PT_CONFIG_ERROR_UNKNOWN_KEY,  /* a key that no option has */
  PT_CONFIG_ERROR_INVALID,      /* a value that the option cannot take */
} PtConfigError;

typedef enum
{
  PT_KEY_ERROR_INVALID,         /* not an nsec/npub nor 64 hex characters, or not a valid key */
  PT_KEY_ERROR_WRONG_KIND,      /* an npub where an nsec was expected, or the reverse */
  PT_KEY_ERROR_CHECKSUM,        /* bech32 checksum mismatch: mistyped */
  PT_KEY_ERROR_PERMISSIONS,     /* a secret file that other users may read or change */
  PT_KEY_ERROR_EXISTS,          /* refusing to overwrite an existing key file */
  PT_KEY_ERROR_IO,              /* the file could not be read or written */
  PT_KEY_ERROR_RANDOM,          /* the system random generator failed */
} PtKeyError;

typedef enum
{
  PT_TOKEN_ERROR_LENGTH,        /* not 18 characters long */
  PT_TOKEN_ERROR_PREFIX,        /* does not start with "i" */
  PT_TOKEN_ERROR_CHARACTER,     /* a character outside the token alphabet */
  PT_TOKEN_ERROR_CHECKSUM,      /* check character wrong: mistyped */
  PT_TOKEN_ERROR_EMPTY,         /* a token file that holds no token */
} PtTokenError;

typedef enum
{
  PT_NOSTR_ERROR_MALFORMED,     /* not JSON, or a field missing or of the wrong type */
  PT_NOSTR_ERROR_BAD_ID,        /* the event id is not the hash of its contents */
  PT_NOSTR_ERROR_BAD_SIGNATURE, /* the signature does not verify */
  PT_NOSTR_ERROR_TOO_LARGE,     /* more data than this implementation accepts */
  PT_NOSTR_ERROR_VERSION,       /* an encrypted payload of an unknown version */
  PT_NOSTR_ERROR_DECRYPT,       /* an encrypted payload that fails its MAC, padding or encoding */
  PT_NOSTR_ERROR_KEY,           /* a key that cannot be used (invalid point, zero secret) */
  PT_NOSTR_ERROR_RELAY_URL,     /* a relay URL that is not ws:// or wss:// with a host */
  PT_NOSTR_ERROR_STALE,         /* an event made too long ago (or a replay of one) */
  PT_NOSTR_ERROR_FUTURE,        /* an event dated further ahead than clock skew explains */
  PT_NOSTR_ERROR_REFUSED,       /* the server refused the request (key, token, busy) */
  PT_NOSTR_ERROR_TIMEOUT,       /* no answer from the server in time */
  PT_NOSTR_ERROR_NO_RELAY,      /* none of the relays could be reached */
  PT_NOSTR_ERROR_NAME,          /* a rendezvous name that cannot be used (too short) */
} PtNostrError;

typedef enum
{
  PT_TUN_ERROR_INVALID,         /* the request was refused (the message names the field) */
  PT_TUN_ERROR_FAILED,          /* the system refused (name taken, route exists, no /dev/net/tun) */
  PT_TUN_ERROR_HELPER,          /* the helper could not run, or authorization was refused */
  PT_TUN_ERROR_OVERLAP,         /* a network overlaps a route or address the machine has */
} PtTunDeviceError;             /* not PtTunError: helper/pt-tun-request.h has that name */

/* Why a server refused an offer (every way of pairing; see pt-admission). */
typedef enum
{
  PT_ADMISSION_ERROR_UNAUTHORIZED,  /* a key that is not listed */
  PT_ADMISSION_ERROR_NO_TOKEN,      /* tokens are required and none was given */
  PT_ADMISSION_ERROR_BAD_TOKEN,     /* a token that is not one of ours */
  PT_ADMISSION_ERROR_BUSY,          /* max sessions running */
  PT_ADMISSION_ERROR_PENDING,       /* max answered sessions waiting for their client */
  PT_ADMISSION_ERROR_STALE,         /* the offer is too old, or dated in the future */
  PT_ADMISSION_ERROR_REPLAYED,      /* the offer was answered before */
  PT_ADMISSION_ERROR_TOO_OLD,       /* older than the record of answered offers covers */
} PtAdmissionError;

/* The refusal's word for events and logs ("max-sessions", "replayed"…),
 * or NULL for an error of another domain. */
const char *pt_admission_error_to_reason (const GError *error);

GQuark pt_signal_error_quark (void);
GQuark pt_ice_error_quark    (void);
GQuark pt_quic_error_quark   (void);
GQuark pt_tunnel_error_quark (void);
GQuark pt_config_error_quark (void);
GQuark pt_key_error_quark    (void);
GQuark pt_token_error_quark  (void);
GQuark pt_nostr_error_quark  (void);
GQuark pt_tun_error_quark    (void);
GQuark pt_admission_error_quark (void);

G_END_DECLS
