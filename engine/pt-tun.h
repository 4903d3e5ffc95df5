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

#include "pt-vpn-limits.h"

G_BEGIN_DECLS

/* Where the helper is installed; $PT_TUN_HELPER overrides it (tests, and
 * running from a build directory). */
const char *pt_tun_helper_path (void);

typedef enum
{
  PT_TUN_FLAGS_NONE          = 0,
  /* Install the addresses and routes even where their networks overlap a
   * route or address this machine already has (its LAN, another VPN). */
  PT_TUN_FLAGS_ALLOW_OVERLAP = 1 << 0,
} PtTunFlags;

/* Creates a TUN device named @ifname (NULL: the first free of ptvpn0 …
 * ptvpn9) with MTU @mtu, the addresses @address4 and/or @address6
 * ("10.77.0.2/24", "fd00:77::2/64"; their networks route to the device)
 * and @routes (NULL-terminated "NETWORK/LEN", or NULL).
 *
 * Unless @flags has PT_TUN_FLAGS_ALLOW_OVERLAP, a network (an address's or a
 * route's) that overlaps a route or address the machine already has is
 * refused before the helper is asked (INVALID, naming both and the device),
 * and the helper refuses it again by itself. Default routes never count.
 *
 * Errors are PT_TUN_ERROR: INVALID (which field and why), FAILED (the system
 * refused), HELPER (the helper could not run, or authorization was refused). */
void  pt_tun_open_async  (const char          *ifname,
                          guint                mtu,
                          const char          *address4,
                          const char          *address6,
                          const char * const  *routes,
                          PtTunFlags           flags,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data);
/* The device's fd (the caller owns it), or -1. @ifname gets its name. */
int   pt_tun_open_finish (GAsyncResult        *result,
                          char               **ifname,
                          GError             **error);

/* The VPN client lock: one VPN client per user (pt vpn client and the app
 * take the same one). Its path: $PT_VPN_CLIENT_LOCK when set (tests), else
 * vpn-client.lock in a 0700 "peertunnel" directory of the user's own in
 * $XDG_RUNTIME_DIR, /run/user/UID or the user's cache directory — never a
 * directory another user can write to. NULL with PT_TUN_ERROR_FAILED when
 * none can be used. */
char *pt_vpn_client_lock_path    (GError             **error);
/* Takes the lock and writes @holder ("pt vpn client") and the pid into it.
 * The fd (close it to release), or -1: G_IO_ERROR_BUSY when another client
 * of this user holds it (@holder_out, when not NULL, gets what it wrote),
 * PT_TUN_ERROR_FAILED when the lock cannot be opened. A file there that is
 * not this user's own regular file is replaced, never obeyed. */
int   pt_vpn_client_lock_acquire (const char          *holder,
                                  char               **holder_out,
                                  GError             **error);

G_END_DECLS
