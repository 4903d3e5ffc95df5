/* pt-ngtcp2-compat.h — the few ngtcp2 calls whose names or arguments differ
 * between ngtcp2 0.12 (Debian 12) and ngtcp2 1.x
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine is written against 0.12's API where 0.12 and 1.x agree; what
 * differs goes through the _pt_ngtcp2_ names below, chosen by
 * NGTCP2_VERSION_NUM at build time.  Only the 1.0 API is used on 1.x (nothing
 * added later), so any 1.x release works.  The releases between 0.12 and 1.0
 * changed the API in other ways and are refused by meson.build.
 *
 * What differs:
 *   - the connection close error: ngtcp2_connection_close_error and its
 *     _set_* functions in 0.12, ngtcp2_ccerr in 1.x (same fields; the peer's
 *     close is copied out by _pt_ngtcp2_conn_get_ccerr() on both);
 *   - ngtcp2_conn_shutdown_stream() takes a flags argument in 1.x;
 *   - connection statistics: ngtcp2_conn_stat in 0.12, ngtcp2_conn_info in
 *     1.x, which has no loss_detection_timer;
 *   - a server must set original_dcid_present in 1.x.
 */
#pragma once

#include <ngtcp2/ngtcp2.h>

#if NGTCP2_VERSION_NUM >= 0x010000
# define PT_NGTCP2_1 1
#else
# define PT_NGTCP2_1 0
#endif

#if PT_NGTCP2_1

typedef ngtcp2_ccerr PtNgtcp2Ccerr;

# define PT_NGTCP2_CCERR_TRANSPORT           NGTCP2_CCERR_TYPE_TRANSPORT
# define PT_NGTCP2_CCERR_APPLICATION         NGTCP2_CCERR_TYPE_APPLICATION
# define PT_NGTCP2_CCERR_VERSION_NEGOTIATION NGTCP2_CCERR_TYPE_VERSION_NEGOTIATION
# define PT_NGTCP2_CCERR_IDLE_CLOSE          NGTCP2_CCERR_TYPE_IDLE_CLOSE
/* The case labels of the types 0.12 does not have (for -Wswitch-enum). */
# define PT_NGTCP2_CCERR_OTHER_CASES \
    case NGTCP2_CCERR_TYPE_DROP_CONN: \
    case NGTCP2_CCERR_TYPE_RETRY:

# define _pt_ngtcp2_ccerr_default               ngtcp2_ccerr_default
# define _pt_ngtcp2_ccerr_set_transport_error   ngtcp2_ccerr_set_transport_error
# define _pt_ngtcp2_ccerr_set_liberr            ngtcp2_ccerr_set_liberr
# define _pt_ngtcp2_ccerr_set_tls_alert         ngtcp2_ccerr_set_tls_alert
# define _pt_ngtcp2_ccerr_set_application_error ngtcp2_ccerr_set_application_error

static inline void
_pt_ngtcp2_conn_get_ccerr (ngtcp2_conn   *conn,
                           PtNgtcp2Ccerr *ccerr)
{
  *ccerr = *ngtcp2_conn_get_ccerr (conn);
}

static inline int
_pt_ngtcp2_conn_shutdown_stream (ngtcp2_conn *conn,
                                 int64_t      stream_id,
                                 uint64_t     app_error_code)
{
  return ngtcp2_conn_shutdown_stream (conn, 0, stream_id, app_error_code);
}

typedef ngtcp2_conn_info PtNgtcp2ConnStat;
# define _pt_ngtcp2_conn_get_stat ngtcp2_conn_get_conn_info

/* 0.12 counts the PING it adds to an ACK-only packet as in flight without
 * arming a probe timeout for it (a possible silent stall the engine watches
 * for); 1.x arms the timeout for such packets. */
# define PT_NGTCP2_PING_WITHOUT_PTO 0

static inline void
_pt_ngtcp2_params_set_original_dcid (ngtcp2_transport_params *params,
                                     const ngtcp2_cid        *dcid)
{
  params->original_dcid = *dcid;
  params->original_dcid_present = 1;
}

#else /* ngtcp2 0.12 */

typedef ngtcp2_connection_close_error PtNgtcp2Ccerr;

# define PT_NGTCP2_CCERR_TRANSPORT           NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT
# define PT_NGTCP2_CCERR_APPLICATION         NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION
# define PT_NGTCP2_CCERR_VERSION_NEGOTIATION NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT_VERSION_NEGOTIATION
# define PT_NGTCP2_CCERR_IDLE_CLOSE          NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT_IDLE_CLOSE
# define PT_NGTCP2_CCERR_OTHER_CASES

# define _pt_ngtcp2_ccerr_default               ngtcp2_connection_close_error_default
# define _pt_ngtcp2_ccerr_set_transport_error   ngtcp2_connection_close_error_set_transport_error
# define _pt_ngtcp2_ccerr_set_liberr            ngtcp2_connection_close_error_set_transport_error_liberr
# define _pt_ngtcp2_ccerr_set_tls_alert         ngtcp2_connection_close_error_set_transport_error_tls_alert
# define _pt_ngtcp2_ccerr_set_application_error ngtcp2_connection_close_error_set_application_error

# define _pt_ngtcp2_conn_get_ccerr       ngtcp2_conn_get_connection_close_error
# define _pt_ngtcp2_conn_shutdown_stream ngtcp2_conn_shutdown_stream

typedef ngtcp2_conn_stat PtNgtcp2ConnStat;
# define _pt_ngtcp2_conn_get_stat ngtcp2_conn_get_conn_stat

# define PT_NGTCP2_PING_WITHOUT_PTO 1

static inline void
_pt_ngtcp2_params_set_original_dcid (ngtcp2_transport_params *params,
                                     const ngtcp2_cid        *dcid)
{
  params->original_dcid = *dcid;
}

#endif
