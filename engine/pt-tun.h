/* pt-tun.h — TUN devices for VPN mode, made by the privileged helper
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Nothing in the engine runs as root: pt_tun_open_async() starts
 * peertunnel-tun-helper (directly when this process is root or holds
 * CAP_NET_ADMIN, which the helper then inherits; otherwise through pkexec,
 * which asks the user for authorization once) and receives
 * the configured device's file descriptor from it. The device, its
 * addresses and its routes live as long as that descriptor.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

G_BEGIN_DECLS

/* Where the helper is installed; $PT_TUN_HELPER overrides it (tests, and
 * running from a build directory). */
const char *pt_tun_helper_path (void);

/* Creates a TUN device named @ifname (NULL: the first free of ptvpn0 …
 * ptvpn9) with MTU @mtu, the addresses @address4 and/or @address6
 * ("10.77.0.2/24", "fd00:77::2/64"; their networks route to the device)
 * and @routes (NULL-terminated "NETWORK/LEN", or NULL). Errors are
 * PT_TUN_ERROR: INVALID (which field and why), FAILED (the system refused),
 * HELPER (the helper could not run, or authorization was refused). */
void  pt_tun_open_async  (const char          *ifname,
                          guint                mtu,
                          const char          *address4,
                          const char          *address6,
                          const char * const  *routes,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data);
/* The device's fd (the caller owns it), or -1. @ifname gets its name. */
int   pt_tun_open_finish (GAsyncResult        *result,
                          char               **ifname,
                          GError             **error);

G_END_DECLS
