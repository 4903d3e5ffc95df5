/* pt-tun-request.h — the TUN helper's request and reply: parse, validate, format
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain C and libc only: the privileged helper (peertunnel-tun-helper) links this and
 * nothing else. The engine, the tests and the fuzz target use it too, so that both ends
 * of the socketpair agree on one codec. The wire format is in docs/protocol.md, section
 * "TUN helper".
 *
 * Every function is sans-I/O: bytes in, a struct (or an error naming the field) out.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pt-vpn-limits.h"

#define PT_TUN_PROTOCOL_VERSION 1

/* The largest request or reply, in bytes (one SOCK_SEQPACKET message). */
#define PT_TUN_MESSAGE_MAX 4096

/* IFNAMSIZ is 16: names are at most 15 characters. Ours are at most 8 (ptvpn999). */
#define PT_TUN_IFNAME_MAX 16

#define PT_TUN_MAX_ROUTES 32


#define PT_TUN_FIELD_MAX   32
#define PT_TUN_MESSAGE_LEN 256

typedef struct
{
  int           family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  unsigned int  prefix_len;
} PtTunPrefix;

typedef struct
{
  char         ifname[PT_TUN_IFNAME_MAX];
  unsigned int mtu;
  int          has_address4;
  PtTunPrefix  address4; /* the device's address; its network is the VPN network */
  int          has_address6;
  PtTunPrefix  address6;
  unsigned int n_routes;
  PtTunPrefix  routes[PT_TUN_MAX_ROUTES];
  int          allow_overlap; /* install even what overlaps the machine's own networks */
  int          offload;       /* IFF_VNET_HDR: each read and write starts with a virtio_net_hdr */
} PtTunRequest;

/* What was wrong: @field is a request key ("address", "mtu"…), "request" for the
 * message as a whole, or "system" for a failure of the machine rather than the
 * request. @message is one line of printable ASCII a user can act on. */
typedef struct
{
  char field[PT_TUN_FIELD_MAX];
  char message[PT_TUN_MESSAGE_LEN];
} PtTunError;

typedef enum
{
  PT_TUN_STATUS_OK,      /* the device exists, is configured and its fd is attached */
  PT_TUN_STATUS_INVALID, /* the request was refused: nothing was created */
  PT_TUN_STATUS_FAILED,  /* the request was valid but the system refused: nothing is left */
} PtTunStatus;

typedef struct
{
  PtTunStatus  status;
  char         ifname[PT_TUN_IFNAME_MAX]; /* PT_TUN_STATUS_OK only */
  unsigned int ifindex;                   /* PT_TUN_STATUS_OK only */
  PtTunError   error;                     /* the other statuses */
} PtTunReply;

/* Parses and validates @len bytes (no NUL terminator needed). Returns 0 and fills
 * @request, or -1 and fills @error (which field, what was wrong). */
int pt_tun_request_parse (const char   *data,
                          size_t        len,
                          PtTunRequest *request,
                          PtTunError   *error);

/* Checks the rules that involve more than one field (addresses, MTU, routes); parse
 * calls it. Returns 0, or -1 and fills @error. */
int pt_tun_request_validate (const PtTunRequest *request,
                             PtTunError         *error);

/* Writes @request in the wire format into @buf (NUL-terminated). Returns its length
 * without the NUL, or -1 when @buf is too small. Does not validate. */
int pt_tun_request_format (const PtTunRequest *request,
                           char               *buf,
                           size_t              size);

/* Parses a text prefix "10.77.0.1/24" or "fd77::1/64"; 0 or -1. No range check. */
int pt_tun_prefix_parse (const char  *text,
                         PtTunPrefix *prefix);

/* Writes "ADDRESS/LEN" into @buf (at least 64 bytes); returns @buf. */
const char *pt_tun_prefix_to_string (const PtTunPrefix *prefix,
                                     char              *buf,
                                     size_t             size);

int pt_tun_reply_parse (const char *data,
                        size_t      len,
                        PtTunReply *reply,
                        PtTunError *error);

/* Reply messages are cleaned (anything but printable ASCII becomes '?') so that a
 * reply always parses. Returns the length, or -1 when @buf is too small. */
int pt_tun_reply_format (const PtTunReply *reply,
                         char             *buf,
                         size_t            size);

const char *pt_tun_status_to_string (PtTunStatus status);

/* Something the machine already has, that a request must not overlap: an address
 * (ADDRESS/LEN on a device; its network counts) or a route's destination. */
typedef struct
{
  int          is_address;
  PtTunPrefix  prefix;
  char         ifname[PT_TUN_IFNAME_MAX]; /* the device, or "" when unknown */
} PtTunExisting;

/* Whether two networks share any address: the shorter prefix contains the other. */
int pt_tun_prefix_overlaps (const PtTunPrefix *a,
                            const PtTunPrefix *b);

/* Checks what @request would install (each address's network, each route) against
 * @existing, whatever request->allow_overlap says. Default routes (0.0.0.0/0, ::/0)
 * and anything on the device the request names are never in the way. Returns 0, or
 * -1 and fills @error: field "address" or "route", a message naming both networks
 * and the device. */
int pt_tun_request_check_overlap (const PtTunRequest  *request,
                                  const PtTunExisting *existing,
                                  PtTunError          *error);

/* pt-tun-system.c: reads the machine's routes (every table but "local"; unicast
 * ones) and addresses with an rtnetlink dump and checks each as above. Returns 0,
 * or -1 and fills @error (field "system" when the dump itself failed). Needs no
 * privilege; bounded by a 5 s socket timeout. */
/* A bound rtnetlink (NETLINK_ROUTE) socket whose reads give up after 5 s:
 * its descriptor, or -errno. */
int pt_tun_netlink_socket (void);

int pt_tun_check_system_overlap (const PtTunRequest *request,
                                 PtTunError         *error);

/* Fills @error (printf-style message; the text is cleaned as for replies). */
void pt_tun_error_set (PtTunError *error,
                       const char *field,
                       const char *format,
                       ...) __attribute__ ((format (printf, 3, 4)));
