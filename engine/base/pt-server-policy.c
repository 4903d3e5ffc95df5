/* pt-server-policy.c — what a serving side lets its clients reach
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-server-policy"

#include "config.h"

#include "pt.h"

struct _PtServerPolicy
{
  gatomicrefcount     ref_count;
  PtAllowList        *allowed[2];   /* by PtProto */
  GInetSocketAddress *exposed[2];
};

static guint
slot (PtProto proto)
{
  return proto == PT_PROTO_TCP ? 0 : 1;
}

PtServerPolicy *
pt_server_policy_new (void)
{
  PtServerPolicy *self = g_new0 (PtServerPolicy, 1);

  g_atomic_ref_count_init (&self->ref_count);
  return self;
}

PtServerPolicy *
pt_server_policy_ref (PtServerPolicy *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_ref_count_inc (&self->ref_count);
  return self;
}

void
pt_server_policy_unref (PtServerPolicy *self)
{
  g_return_if_fail (self != NULL);

  if (!g_atomic_ref_count_dec (&self->ref_count))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->allowed); i++)
    {
      g_clear_pointer (&self->allowed[i], pt_allow_list_unref);
      g_clear_object (&self->exposed[i]);
    }
  g_free (self);
}

void
pt_server_policy_set_allow_list (PtServerPolicy *self,
                                 PtProto         proto,
                                 PtAllowList    *allow_list)
{
  PtAllowList **list;

  g_return_if_fail (self != NULL);

  list = &self->allowed[slot (proto)];
  g_clear_pointer (list, pt_allow_list_unref);
  if (allow_list != NULL)
    *list = pt_allow_list_ref (allow_list);
}

PtAllowList *
pt_server_policy_get_allow_list (const PtServerPolicy *self,
                                 PtProto               proto)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->allowed[slot (proto)];
}

void
pt_server_policy_set_exposed (PtServerPolicy     *self,
                              PtProto             proto,
                              GInetSocketAddress *target)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (target == NULL || G_IS_INET_SOCKET_ADDRESS (target));

  g_set_object (&self->exposed[slot (proto)], target);
}

GInetSocketAddress *
pt_server_policy_get_exposed (const PtServerPolicy *self,
                              PtProto               proto)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->exposed[slot (proto)];
}
