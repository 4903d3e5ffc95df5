/* pt-tls-bridge-private.h — TURN over real TLS for libnice
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * libnice's TURN_TLS relay type speaks plain TCP in RFC 5245 mode (its TLS is
 * a Google/MSOC pseudo-handshake), so a turns:// server would never answer.
 * A bridge listens on 127.0.0.1, where libnice connects as to a TURN-over-TCP
 * server, and carries each connection to the real server inside a verified
 * TLS session (server name checked against the system's CAs, or the given
 * CA file).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define PT_TYPE_TLS_BRIDGE (pt_tls_bridge_get_type ())
G_DECLARE_FINAL_TYPE (PtTlsBridge, pt_tls_bridge, PT, TLS_BRIDGE, GObject)

/* @ca_file: PEM CA certificates to trust instead of the system's, or NULL. */
PtTlsBridge *_pt_tls_bridge_new         (const char   *host,
                                         guint16       port,
                                         const char   *ca_file,
                                         GError      **error);
/* The loopback port libnice should use as a TURN-over-TCP server. */
guint16      _pt_tls_bridge_get_port    (PtTlsBridge  *self);
/* Why the last TLS connection to the server failed, or NULL. */
const char  *_pt_tls_bridge_get_failure (PtTlsBridge  *self);
/* Connections closed because they came from another process. */
guint        _pt_tls_bridge_get_refused (PtTlsBridge  *self);

G_END_DECLS
