/* pt-peer-session.c — one client's session on a serving profile
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-peer-session"

#include "config.h"

#include "pt.h"

struct _PtPeerSession
{
  GObject    parent_instance;

  PtTunnel  *tunnel;
  char      *peer;
  char      *id;
  GDateTime *since;
};

enum
{
  PROP_0,
  PROP_TUNNEL,
  PROP_PEER,
  PROP_ID,
  PROP_SINCE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PtPeerSession, pt_peer_session, G_TYPE_OBJECT)

static void
pt_peer_session_finalize (GObject *object)
{
  PtPeerSession *self = PT_PEER_SESSION (object);

  g_clear_object (&self->tunnel);
  g_clear_pointer (&self->peer, g_free);
  g_clear_pointer (&self->id, g_free);
  g_clear_pointer (&self->since, g_date_time_unref);
  G_OBJECT_CLASS (pt_peer_session_parent_class)->finalize (object);
}

static void
pt_peer_session_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  PtPeerSession *self = PT_PEER_SESSION (object);

  switch (prop_id)
    {
    case PROP_TUNNEL:
      g_value_set_object (value, self->tunnel);
      break;
    case PROP_PEER:
      g_value_set_string (value, self->peer);
      break;
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_SINCE:
      g_value_set_boxed (value, self->since);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_peer_session_class_init (PtPeerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pt_peer_session_finalize;
  object_class->get_property = pt_peer_session_get_property;

  properties[PROP_TUNNEL] =
    g_param_spec_object ("tunnel", NULL, NULL, PT_TYPE_TUNNEL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PEER] =
    g_param_spec_string ("peer", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_SINCE] =
    g_param_spec_boxed ("since", NULL, NULL, G_TYPE_DATE_TIME,
                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pt_peer_session_init (PtPeerSession *self)
{
}

PtPeerSession *
pt_peer_session_new (PtTunnel   *tunnel,
                     const char *peer,
                     const char *id)
{
  PtPeerSession *self;

  g_return_val_if_fail (PT_IS_TUNNEL (tunnel), NULL);

  self = g_object_new (PT_TYPE_PEER_SESSION, NULL);
  self->tunnel = g_object_ref (tunnel);
  self->peer = g_strdup (peer);
  self->id = g_strdup (id);
  self->since = g_date_time_new_now_local ();
  return self;
}

PtTunnel *
pt_peer_session_get_tunnel (PtPeerSession *self)
{
  g_return_val_if_fail (PT_IS_PEER_SESSION (self), NULL);
  return self->tunnel;
}

const char *
pt_peer_session_get_peer (PtPeerSession *self)
{
  g_return_val_if_fail (PT_IS_PEER_SESSION (self), NULL);
  return self->peer;
}

const char *
pt_peer_session_get_id (PtPeerSession *self)
{
  g_return_val_if_fail (PT_IS_PEER_SESSION (self), NULL);
  return self->id;
}

GDateTime *
pt_peer_session_get_since (PtPeerSession *self)
{
  g_return_val_if_fail (PT_IS_PEER_SESSION (self), NULL);
  return self->since;
}
