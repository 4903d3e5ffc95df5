/* pt-ice-private.h — one ICE session (libnice) carrying datagrams
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Lives on the thread-default GMainContext of its creator. Gathering resolves
 * STUN/TURN host names with a deadline, so an offline machine or an
 * unreachable STUN server costs seconds, never a hang, and host candidates
 * are always offered.
 *
 * Signals:
 *   "connected" ()        a pair works: _pt_ice_send() reaches the peer
 *   "failed"    (GError)  no pair works
 * Property "path-kind" (PtPathKind) follows the selected pair. While it is
 * RELAY, both sides keep trying the direct candidates (every 5 s for the
 * first two minutes, then every 20 s) and the selected pair moves to the
 * first direct one that works: "path-kind" is notified again, packets keep
 * flowing throughout (see "From relayed to direct" in pt-ice.c).
 * Property "data-path" (string): "libnice", or "fast (MODE)" while pt's own
 * socket carries the selected pair's QUIC packets (pt-fast-path-private.h).
 */
#pragma once

#include <agent.h>

#include "pt.h"
#include "pt-fast-path-private.h"

G_BEGIN_DECLS

#define PT_ICE_GATHER_TIMEOUT_MS   5000
#define PT_ICE_RESOLVE_TIMEOUT_MS  2500
#define PT_ICE_MAX_OFFERED         8     /* candidates put into a signal (QR size) */

typedef void (*PtIceReceiveFunc) (const guint8 *data,
                                  gsize         len,
                                  gpointer      user_data);

/* A batch of received datagrams is complete (fast path only; may be NULL). */
typedef void (*PtIceBatchFunc) (gpointer user_data);

#define PT_TYPE_ICE (pt_ice_get_type ())
G_DECLARE_FINAL_TYPE (PtIce, pt_ice, PT, ICE, GObject)

PtIce      *_pt_ice_new               (gboolean             controlling,
                                       PtIceConfig         *config);
void        _pt_ice_gather_async      (PtIce               *self,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data);
gboolean    _pt_ice_gather_finish     (PtIce               *self,
                                       GAsyncResult        *result,
                                       GError             **error);
/* Fills ufrag, pwd and candidates of @signal with the local side. */
void        _pt_ice_fill_local        (PtIce               *self,
                                       PtSignal            *signal);
gboolean    _pt_ice_set_remote        (PtIce               *self,
                                       const PtSignal      *remote,
                                       GError             **error);
/* Starts the connectivity checks over, same credentials and candidates: the
 * peer may simply not have started yet (a block still being pasted). */
void        _pt_ice_retry_checks      (PtIce               *self);
void        _pt_ice_set_receive_func  (PtIce               *self,
                                       PtIceReceiveFunc     func,
                                       PtIceBatchFunc       batch_func,
                                       gpointer             user_data);
void        _pt_ice_send              (PtIce               *self,
                                       const guint8        *data,
                                       gsize                len);
/* Several datagrams at once: one sendmmsg on a plain UDP pair. */
void        _pt_ice_send_batch        (PtIce               *self,
                                       const GOutputVector *packets,
                                       guint                n_packets);
PtPathKind  _pt_ice_get_path_kind     (PtIce               *self);
const char *_pt_ice_get_data_path     (PtIce               *self);
/* Both ends of the selected pair are addresses of this machine. */
gboolean    _pt_ice_is_local_pair     (PtIce               *self);
/* FALSE when no fast path is engaged. */
gboolean    _pt_ice_get_fast_path_stats (PtIce             *self,
                                       PtFastPathStats     *stats);
/* Datagrams libnice delivered that were no QUIC packet (dropped). */
guint64     _pt_ice_get_dropped_not_quic (PtIce            *self);
/* How many times a fast path was set up (it follows the selected pair). */
guint       _pt_ice_get_fast_path_builds (PtIce            *self);
/* Tests: makes the host pair (@local_ip, @remote_ip) the selected one;
 * FALSE if it already was, or there is no such pair. */
gboolean    _pt_ice_force_pair        (PtIce               *self,
                                       const char          *local_ip,
                                       const char          *remote_ip);
/* Rounds of attempts at the direct path made while relayed (for tests). */
guint       _pt_ice_get_knock_rounds  (PtIce               *self);
/* Releases TURN allocations; the agent lives on until that finished. */
void        _pt_ice_close             (PtIce               *self);
/* How many agents are still closing: a process waits for 0 before exit. */
guint       _pt_ice_get_pending_closes (void);
/* The peer's candidates left out because of their address (see pt-ice-candidate.c). */
guint       _pt_ice_get_dropped_candidates (PtIce          *self);

/* pt-ice-candidate.c: turning a peer's candidates into libnice's */
typedef enum
{
  PT_ADDRESS_SCOPE_GLOBAL,       /* anything else, private ranges included */
  PT_ADDRESS_SCOPE_LOOPBACK,     /* 127.0.0.0/8, ::1 */
  PT_ADDRESS_SCOPE_LINK_LOCAL,   /* 169.254.0.0/16, fe80::/10 */
  PT_ADDRESS_SCOPE_UNUSABLE,     /* unspecified, multicast, broadcast, reserved */
} PtAddressScope;

/* @family 4 (4 bytes at @addr) or 6 (16 bytes); IPv4-mapped IPv6 counts as IPv4. */
PtAddressScope  _pt_address_scope            (guint8              family,
                                              const guint8       *addr);
const char     *_pt_address_scope_to_string  (PtAddressScope      scope);
/* The scopes (bit 1 << PtAddressScope) our own candidates cover; always GLOBAL. */
guint           _pt_ice_local_scopes         (const GSList       *local_candidates);
/* A libnice candidate for the peer's @c, or NULL when @c must not be checked
 * from here: its scope is not in @allowed_scopes, or it is malformed.
 * @scope_out (may be NULL) gets @c's scope either way. */
NiceCandidate  *_pt_ice_candidate_from_peer  (const PtCandidate  *c,
                                              guint               stream_id,
                                              guint               allowed_scopes,
                                              PtAddressScope     *scope_out);
/* "ADDR:PORT" / "[ADDR]:PORT" for logs. */
char           *_pt_candidate_address_to_string (const PtCandidate *c);

G_END_DECLS
