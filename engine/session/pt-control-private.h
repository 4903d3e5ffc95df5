/* pt-control-private.h — the tunnel protocol's control messages and stream/datagram headers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O codec. Wire format: docs/protocol.md ("Tunnel protocol").
 *
 * Control stream: the first client-initiated bidirectional QUIC stream (id 0).
 * Each message is a frame: u8 type, u16 length (big endian), then length bytes.
 * A frame longer than PT_CONTROL_MAX_FRAME is a protocol error.
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

#define PT_CONTROL_VERSION      1
#define PT_CONTROL_MAX_FRAME    4096
#define PT_CONTROL_MAX_REASON   512

typedef enum
{
  PT_CONTROL_HELLO   = 1,   /* client → server: version, requested forwards */
  PT_CONTROL_VERDICT = 2,   /* server → client: per forward accepted / rejected + reason */
  PT_CONTROL_CLOSE   = 3,   /* either way: orderly goodbye with a reason */
  PT_CONTROL_VPN_HELLO  = 4, /* client → server, instead of HELLO: version, flags */
  PT_CONTROL_VPN_CONFIG = 5, /* server → client: addresses, MTU, resolvers */
} PtControlType;

#define PT_VPN_HELLO_WANTS_IPV6  0x01
#define PT_VPN_MAX_DNS           4

/* What a VPN server assigns to a client. */
typedef struct
{
  guint16  mtu;              /* of the TUN device, 576..9000 */
  guint8   addr4[4];         /* the client's address */
  guint8   prefix4;          /* 8..30 */
  guint8   server4[4];       /* the server's address in the VPN */
  gboolean has_v6;
  guint8   addr6[16];
  guint8   prefix6;          /* 64..126 */
  guint8   server6[16];
  guint8   n_dns;            /* resolvers pushed to the client, 0..PT_VPN_MAX_DNS */
  guint8   dns_family[PT_VPN_MAX_DNS];  /* 4 or 6 */
  guint8   dns[PT_VPN_MAX_DNS][16];
} PtVpnConfig;

typedef struct
{
  gboolean  accepted;
  char     *reason;         /* UTF-8, empty when accepted */
} PtVerdict;

typedef struct
{
  PtControlType  type;
  guint8         version;   /* HELLO */
  GPtrArray     *forwards;  /* HELLO: of PtForwardSpec* */
  GPtrArray     *verdicts;  /* VERDICT: of PtVerdict*, one per forward, same order */
  char          *reason;    /* CLOSE */
  guint8         vpn_flags; /* VPN_HELLO: PT_VPN_HELLO_* */
  PtVpnConfig    vpn;       /* VPN_CONFIG */
} PtControlMessage;

PtControlMessage *_pt_control_message_new    (PtControlType           type);
void              _pt_control_message_free   (PtControlMessage       *msg);
void              _pt_control_message_add_verdict (PtControlMessage  *msg,
                                                   gboolean           accepted,
                                                   const char        *reason);
/* One complete frame (header included). */
GBytes           *_pt_control_message_encode (const PtControlMessage *msg);

/* Incremental decoder for the control stream. */
typedef struct _PtControlParser PtControlParser;

PtControlParser  *_pt_control_parser_new     (void);
void              _pt_control_parser_free    (PtControlParser        *parser);
void              _pt_control_parser_feed    (PtControlParser        *parser,
                                              const guint8           *data,
                                              gsize                   len);
/* Returns the next complete message, or NULL with no error if more bytes are
 * needed, or NULL with PT_TUNNEL_ERROR_PROTOCOL (what was wrong) on bad input;
 * after an error the parser stays failed. */
PtControlMessage *_pt_control_parser_next    (PtControlParser        *parser,
                                              GError                **error);

/* TCP stream header: the first byte of every client-opened data stream is the
 * index of the forward (in HELLO order) it belongs to. */
#define PT_STREAM_HEADER_LEN 1

/* UDP datagram header: u8 forward index, u32 flow id (big endian), payload. */
#define PT_DATAGRAM_HEADER_LEN 5
/* VPN mode: an IP packet travels with this forward index and flow 0. */
#define PT_DATAGRAM_VPN_INDEX  255

gsize             _pt_datagram_header_write  (guint8                 *out,
                                              guint8                  forward,
                                              guint32                 flow);
/* FALSE if @len is too short for a header. */
gboolean          _pt_datagram_header_parse  (const guint8           *data,
                                              gsize                   len,
                                              guint8                 *forward,
                                              guint32                *flow,
                                              const guint8          **payload,
                                              gsize                  *payload_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtControlMessage, _pt_control_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtControlParser, _pt_control_parser_free)

G_END_DECLS
