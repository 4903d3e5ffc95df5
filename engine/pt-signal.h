/* pt-signal.h — offer/answer payloads: binary codec and text armor
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Sans-I/O: nothing here touches a socket or the clock (callers pass "now").
 * The wire format is specified in docs/protocol.md.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

#include "pt-types.h"

G_BEGIN_DECLS

#define PT_SIGNAL_VERSION           1
#define PT_SIGNAL_SESSION_ID_LEN    8
#define PT_SIGNAL_FINGERPRINT_LEN   32      /* SHA-256 of the sender's certificate (DER) */
#define PT_SIGNAL_MAX_CANDIDATES    16
#define PT_SIGNAL_MAX_FORWARDS      16
#define PT_SIGNAL_MAX_HOST_LEN      253
#define PT_SIGNAL_FRESH_SECONDS     (15 * 60) /* an offer older than this is stale */
#define PT_SIGNAL_SKEW_SECONDS      (2 * 60)  /* tolerated clock skew into the future */

typedef struct
{
  PtPathKind  type;            /* HOST, SRFLX, PRFLX or RELAY */
  PtTransport transport;
  guint32     priority;
  char        foundation[33];  /* NUL-terminated, 1..32 characters */
  guint8      family;          /* 4 or 6 */
  guint8      addr[16];        /* network byte order; first 4 bytes for IPv4 */
  guint16     port;            /* host byte order */
} PtCandidate;

typedef struct
{
  PtProto  proto;
  char    *host;               /* as the user wrote it: name or literal address */
  guint16  port;
} PtForwardSpec;

typedef struct
{
  PtSignalKind  kind;
  guint8        session_id[PT_SIGNAL_SESSION_ID_LEN];
  gint64        timestamp;     /* UNIX seconds when it was made */
  guint8        fingerprint[PT_SIGNAL_FINGERPRINT_LEN];
  char         *ufrag;         /* ICE credentials, 4..255 printable ASCII */
  char         *pwd;           /* 22..255 printable ASCII */
  GArray       *candidates;    /* of PtCandidate */
  GPtrArray    *forwards;      /* of PtForwardSpec*, offers only (empty in answers) */
} PtSignal;

PtForwardSpec *pt_forward_spec_new   (PtProto              proto,
                                      const char          *host,
                                      guint16              port);
PtForwardSpec *pt_forward_spec_copy  (const PtForwardSpec *spec);
void           pt_forward_spec_free  (PtForwardSpec       *spec);
/* Parses "tcp://HOST:PORT" / "udp://[V6]:PORT". */
PtForwardSpec *pt_forward_spec_parse (const char          *uri,
                                      GError             **error);
/* Returns "tcp://HOST:PORT" (IPv6 literals bracketed). */
char          *pt_forward_spec_to_string (const PtForwardSpec *spec);

PtSignal   *pt_signal_new          (PtSignalKind      kind);
void        pt_signal_free         (PtSignal         *signal);

/* Binary payload: what a QR code carries. */
GBytes     *pt_signal_encode       (const PtSignal   *signal,
                                    GError          **error);
/* Checks magic, version, checksum and structure; not freshness. */
PtSignal   *pt_signal_decode       (const guint8     *data,
                                    gsize             len,
                                    GError          **error);
/* "0123456789abcdef": a session id as events and logs name it. */
char       *pt_signal_session_to_hex (const guint8   *session_id);
/* STALE when older than PT_SIGNAL_FRESH_SECONDS, FUTURE when ahead by more than the skew. */
gboolean    pt_signal_check_fresh  (const PtSignal   *signal,
                                    gint64            now,
                                    GError          **error);

/* "-----BEGIN PEERTUNNEL OFFER-----\n<base64, 64 columns>\n-----END PEERTUNNEL OFFER-----\n" */
char       *pt_signal_armor        (const PtSignal   *signal,
                                    GError          **error);
/* Finds the block in pasted text (whitespace, re-wrapping, "> " mail quoting tolerated)
 * and decodes it; @expected is the kind the caller wants (WRONG_KIND otherwise). */
PtSignal   *pt_signal_dearmor      (const char       *text,
                                    PtSignalKind      expected,
                                    GError          **error);
/* TRUE if @line (possibly quoted or indented) is an END PEERTUNNEL line:
 * a reader stops there without waiting for end of file. */
gboolean    pt_signal_is_end_line  (const char       *line);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtSignal, pt_signal_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtForwardSpec, pt_forward_spec_free)

G_END_DECLS
