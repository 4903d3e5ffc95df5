/* pt-identity.c — this computer's long-term key (Nostr), kept in the secret store
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The key lives in the secret store as "identity/nsec" and in memory as a
 * PtSecretKey (wiped when freed). Only the npub is ever shown.
 */
#define G_LOG_DOMAIN "pt-identity"

#include "config.h"

#include <glib/gi18n.h>

#include "pt-identity.h"

#define IDENTITY_KEY "identity/nsec"

struct _PtIdentity
{
  GObject        parent_instance;

  PtSecretStore *secrets;
  PtSecretKey   *key;
  char          *npub;
};

enum
{
  PROP_0,
  PROP_NPUB,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

G_DEFINE_FINAL_TYPE (PtIdentity, pt_identity, G_TYPE_OBJECT)

static void
set_key (PtIdentity  *self,
         PtSecretKey *key)
{
  g_clear_pointer (&self->key, pt_secret_key_free);
  g_clear_pointer (&self->npub, g_free);
  self->key = key;
  if (key != NULL)
    self->npub = pt_public_key_to_npub (pt_secret_key_get_public (key));
  g_debug ("identity: %s", self->npub ? self->npub : "none");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NPUB]);
}

static void
loaded_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(PtIdentity) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) nsec = pt_secret_store_get_finish (PT_SECRET_STORE (source), result, &error);
  PtSecretKey *key;

  if (nsec == NULL)
    {
      if (error != NULL)
        g_warning ("cannot read this computer’s key: %s", error->message);
      return;
    }
  key = pt_secret_key_parse (nsec, &error);
  if (key == NULL)
    {
      g_warning ("the saved key is not usable: %s", error->message);
      return;
    }
  if (self->key == NULL)    /* unless the user made one meanwhile */
    set_key (self, key);
  else
    pt_secret_key_free (key);
}

static void
saved_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  PtIdentity *self = user_data;     /* held by the call */
  g_autoptr(GError) error = NULL;

  if (!pt_secret_store_set_finish (PT_SECRET_STORE (source), result, &error))
    g_warning ("cannot save this computer’s key: %s", error->message);
  g_object_unref (self);
}

static gboolean
save (PtIdentity   *self,
      PtSecretKey  *key,
      GError      **error)
{
  g_autoptr(PtSecretString) nsec = NULL;

  if (self->secrets == NULL || pt_secret_store_get_backend (self->secrets) == PT_SECRET_BACKEND_NONE)
    {
      pt_secret_key_free (key);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PENDING,
                           _("The keyring has not answered yet; try again in a moment"));
      return FALSE;
    }
  nsec = pt_secret_key_to_nsec (key);
  pt_secret_store_set_async (self->secrets, IDENTITY_KEY, nsec, NULL, saved_cb, g_object_ref (self));
  set_key (self, key);
  return TRUE;
}

static void
pt_identity_finalize (GObject *object)
{
  PtIdentity *self = PT_IDENTITY (object);

  g_clear_object (&self->secrets);
  g_clear_pointer (&self->key, pt_secret_key_free);
  g_free (self->npub);
  G_OBJECT_CLASS (pt_identity_parent_class)->finalize (object);
}

static void
pt_identity_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_NPUB:
      g_value_set_string (value, PT_IDENTITY (object)->npub);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_identity_class_init (PtIdentityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pt_identity_finalize;
  object_class->get_property = pt_identity_get_property;
  properties[PROP_NPUB] =
    g_param_spec_string ("npub", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
pt_identity_init (PtIdentity *self)
{
}

PtIdentity *
pt_identity_new (void)
{
  return g_object_new (PT_TYPE_IDENTITY, NULL);
}

void
pt_identity_load (PtIdentity    *self,
                  PtSecretStore *secrets)
{
  g_return_if_fail (PT_IS_IDENTITY (self));

  g_set_object (&self->secrets, secrets);
  pt_secret_store_get_async (secrets, IDENTITY_KEY, NULL, loaded_cb, g_object_ref (self));
}

const PtSecretKey *
pt_identity_get_key (PtIdentity *self)
{
  g_return_val_if_fail (PT_IS_IDENTITY (self), NULL);
  return self->key;
}

const char *
pt_identity_get_npub (PtIdentity *self)
{
  g_return_val_if_fail (PT_IS_IDENTITY (self), NULL);
  return self->npub;
}

gboolean
pt_identity_generate (PtIdentity  *self,
                      GError     **error)
{
  PtSecretKey *key = pt_secret_key_generate (error);

  return key != NULL && save (self, key, error);
}

gboolean
pt_identity_import (PtIdentity  *self,
                    const char  *nsec,
                    GError     **error)
{
  PtSecretKey *key = pt_secret_key_parse (nsec, error);

  return key != NULL && save (self, key, error);
}
