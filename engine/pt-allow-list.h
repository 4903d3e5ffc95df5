/* pt-allow-list.h — CIDR and port allow-lists for the server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PtAllowList PtAllowList;

PtAllowList *pt_allow_list_new       (void);
PtAllowList *pt_allow_list_ref       (PtAllowList       *self);
void         pt_allow_list_unref     (PtAllowList       *self);
/* ADDRESS[/PREFIX][:PORT[-PORT]]: "127.0.0.1:22", "192.168.1.0/24:5432",
 * "10.0.0.0/8:8000-8099", "[::1]:22", "[fd00::]/8:5432"; an IPv6 address is in
 * brackets when a port follows. No port means every port ("10.0.0.0/8",
 * "::1/128"); no prefix means one host (/32, /128). Host bits must be zero;
 * ports go from 1 to 65535 and a range from low to high.
 * Errors are PT_CONFIG_ERROR_INVALID and name the bad text. */
gboolean     pt_allow_list_add       (PtAllowList       *self,
                                      const char        *cidr,
                                      GError           **error);
/* Whether @port of @address is allowed. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) match IPv4 entries. Port 0 is never allowed. */
gboolean     pt_allow_list_contains_port (const PtAllowList *self,
                                          GInetAddress      *address,
                                          guint16            port);
/* Whether some port of @address is allowed (an entry matches the address,
 * whatever its ports): not a grant by itself; forwards use _contains_port(). */
gboolean     pt_allow_list_contains  (const PtAllowList *self,
                                      GInetAddress      *address);
gboolean     pt_allow_list_is_empty  (const PtAllowList *self);
/* "10.0.0.0/8, 127.0.0.1/32:22, [::1]/128:8000-8099" or "nothing" */
char        *pt_allow_list_to_string (const PtAllowList *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtAllowList, pt_allow_list_unref)

G_END_DECLS
