/* pt-server-policy.h — what a serving side lets its clients reach
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One object from the front end down to every session: a server's tunnels
 * (and a Nostr server's, one per client) share the policy they were given,
 * so what a client may reach is decided in one place. Set it up before the
 * first client arrives.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <gio/gio.h>

#include "pt-allow-list.h"
#include "pt-types.h"

G_BEGIN_DECLS

typedef struct _PtServerPolicy PtServerPolicy;

/* Allows nothing until told. */
PtServerPolicy     *pt_server_policy_new             (void);
PtServerPolicy     *pt_server_policy_ref             (PtServerPolicy           *self);
void                pt_server_policy_unref           (PtServerPolicy           *self);
/* What forwards of @proto may reach. An empty or unset list allows nothing. */
void                pt_server_policy_set_allow_list  (PtServerPolicy           *self,
                                                      PtProto                   proto,
                                                      PtAllowList              *allow_list);
PtAllowList        *pt_server_policy_get_allow_list  (const PtServerPolicy     *self,
                                                      PtProto                   proto);
/* Named mode: every forward of @proto reaches @target, whatever address the
 * client names (NULL: the allow-list decides). */
void                pt_server_policy_set_exposed     (PtServerPolicy           *self,
                                                      PtProto                   proto,
                                                      GInetSocketAddress       *target);
GInetSocketAddress *pt_server_policy_get_exposed     (const PtServerPolicy     *self,
                                                      PtProto                   proto);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtServerPolicy, pt_server_policy_unref)

G_END_DECLS
