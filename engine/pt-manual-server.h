/* pt-manual-server.h — serves clients paired by copy-paste
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The copy-paste rendezvous: each offer given is judged by the shared
 * admission (max sessions, max answered sessions waiting for their client,
 * age, replays) and, once admitted, is a session of its own with its own
 * server tunnel; its answer comes in "answered". A session whose client has
 * not connected within the pending timeout is dropped. What is left to the
 * caller is the transport: reading offers, showing answers.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-server-policy.h"
#include "pt-tunnel.h"

G_BEGIN_DECLS

#define PT_MANUAL_DEFAULT_MAX_SESSIONS      64
#define PT_MANUAL_DEFAULT_MAX_PENDING       8
#define PT_MANUAL_DEFAULT_PENDING_TIMEOUT   120   /* seconds */

#define PT_TYPE_MANUAL_SERVER (pt_manual_server_get_type ())
G_DECLARE_FINAL_TYPE (PtManualServer, pt_manual_server, PT, MANUAL_SERVER, GObject)

PtManualServer *pt_manual_server_new             (PtIceConfig       *ice_config);
/* What clients may reach (a reference is kept); unset: nothing. */
void            pt_manual_server_set_policy      (PtManualServer    *self,
                                                  PtServerPolicy    *policy);
/* VPN mode: clients may ask for an address; one per session, as copy-paste
 * has no lasting identity. */
void            pt_manual_server_set_vpn_router  (PtManualServer    *self,
                                                  PtVpnRouter       *router);
/* 0 is no limit for the counts; @pending_timeout_s from 1 to
 * PT_SIGNAL_FRESH_SECONDS. */
void            pt_manual_server_set_limits      (PtManualServer    *self,
                                                  guint              max_sessions,
                                                  guint              max_pending,
                                                  guint              pending_timeout_s);
guint           pt_manual_server_get_max_sessions (PtManualServer   *self);
guint           pt_manual_server_get_max_pending (PtManualServer    *self);
guint           pt_manual_server_get_pending_timeout (PtManualServer *self);

/* Judges @offer and, admitted, starts its session ("session-started", then
 * "answered" with the answer to show). A refusal is a PT_ADMISSION_ERROR
 * saying why and what to do (nothing else changes: keep serving). */
gboolean        pt_manual_server_give_offer      (PtManualServer    *self,
                                                  const PtSignal    *offer,
                                                  GError           **error);
/* Closes every session; offers are refused afterwards. */
void            pt_manual_server_stop            (PtManualServer    *self);
/* Sessions running, and those of them answered but not yet connected. */
guint           pt_manual_server_get_n_sessions  (PtManualServer    *self);
guint           pt_manual_server_get_n_pending   (PtManualServer    *self);

/* Signals: "session-started" (PtTunnel, session id hex, const PtSignal *offer),
 * "answered" (session, const PtSignal *answer), "session-dropped" (session,
 * reason word, message: the pending timeout) and "session-ended" (PtTunnel,
 * session), once its tunnel is closed or failed. */

G_END_DECLS
