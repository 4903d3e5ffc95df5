/* pt-allow-list.h — CIDR allow-lists for the server
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
/* "10.0.0.0/8", "192.168.1.7" (= /32), "::1/128", "fd00::/8"; host bits must be zero.
 * Errors are PT_CONFIG_ERROR_INVALID and name the bad text. */
gboolean     pt_allow_list_add       (PtAllowList       *self,
                                      const char        *cidr,
                                      GError           **error);
/* IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 entries. */
gboolean     pt_allow_list_contains  (const PtAllowList *self,
                                      GInetAddress      *address);
gboolean     pt_allow_list_is_empty  (const PtAllowList *self);
/* "10.0.0.0/8, ::1/128" or "nothing" */
char        *pt_allow_list_to_string (const PtAllowList *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtAllowList, pt_allow_list_unref)

G_END_DECLS
