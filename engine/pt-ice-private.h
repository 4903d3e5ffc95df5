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
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

#define PT_ICE_GATHER_TIMEOUT_MS   5000
#define PT_ICE_RESOLVE_TIMEOUT_MS  2500
#define PT_ICE_MAX_OFFERED         8     /* candidates put into a signal (QR size) */

typedef void (*PtIceReceiveFunc) (const guint8 *data,
                                  gsize         len,
                                  gpointer      user_data);

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
                                       gpointer             user_data);
void        _pt_ice_send              (PtIce               *self,
                                       const guint8        *data,
                                       gsize                len);
/* Several datagrams at once: one sendmmsg on a plain UDP pair. */
void        _pt_ice_send_batch        (PtIce               *self,
                                       const GOutputVector *packets,
                                       guint                n_packets);
PtPathKind  _pt_ice_get_path_kind     (PtIce               *self);
/* Rounds of attempts at the direct path made while relayed (for tests). */
guint       _pt_ice_get_knock_rounds  (PtIce               *self);
/* Releases TURN allocations; the agent lives on until that finished. */
void        _pt_ice_close             (PtIce               *self);
/* How many agents are still closing: a process waits for 0 before exit. */
guint       _pt_ice_get_pending_closes (void);

G_END_DECLS
