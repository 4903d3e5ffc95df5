/* pt-preferences.c — the Preferences page: background, secrets, this computer's key
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Layout in ui/pt-preferences.ui. The switches are bound to the app's
 * settings; the key group follows PtIdentity (npub, its QR code, generate
 * or import). Problems show as toasts of the window or dialog around it.
 */
#define G_LOG_DOMAIN "pt-preferences"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pt-adw-compat.h"
#include "pt-preferences.h"
#include "pt-qr.h"
#include "pt-error-text.h"

struct _PtPreferences
{
  AdwPreferencesPage  parent_instance;

  GtkWidget          *run_in_background_row;
  GtkWidget          *run_in_background_switch;
  GtkWidget          *start_hidden_row;
  GtkWidget          *start_hidden_switch;
  GtkWidget          *notify_row;
  GtkWidget          *notify_switch;
  AdwPreferencesGroup *secrets_group;
  GtkWidget          *key_group;
  AdwActionRow       *key_row;
  PtQrCode           *key_qr;
  GtkWidget          *generate_button;
  GtkEditable        *import_row;

  PtIdentity         *identity;
};

G_DEFINE_FINAL_TYPE (PtPreferences, pt_preferences, ADW_TYPE_PREFERENCES_PAGE)

static void
toast (PtPreferences *self,
       const char    *message)
{
  GtkWidget *preferences = pt_adw_preferences_get_for_widget (GTK_WIDGET (self));

  if (preferences != NULL)
    pt_adw_preferences_add_toast (preferences, adw_toast_new (message));
}

static void
update_key (PtPreferences *self)
{
  const char *npub = pt_identity_get_npub (self->identity);
  g_autoptr(GBytes) payload = npub ? g_bytes_new (npub, strlen (npub)) : NULL;

  adw_action_row_set_subtitle (self->key_row, npub ? npub : _("No key yet"));
  pt_qr_code_set_payload (self->key_qr, payload, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->key_qr), npub != NULL);
  gtk_widget_set_visible (self->generate_button, npub == NULL);
}

static void
on_copy_npub (PtPreferences *self)
{
  const char *npub = self->identity ? pt_identity_get_npub (self->identity) : NULL;

  if (npub != NULL)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), npub);
}

static void
on_generate_key (PtPreferences *self)
{
  g_autoptr(GError) error = NULL;

  if (self->identity != NULL && !pt_identity_generate (self->identity, &error))
    toast (self, error->message);
}

static void
on_import_key (PtPreferences *self)
{
  g_autoptr(GError) error = NULL;

  if (self->identity == NULL)
    return;
  if (!pt_identity_import (self->identity, gtk_editable_get_text (self->import_row), &error))
    {
      g_autofree char *why = pt_describe_error (error);

      toast (self, why);
      return;
    }
  gtk_editable_set_text (self->import_row, "");
  toast (self, _("Key imported"));
}

static void
bind_switch (GSettings  *settings,
             const char *key,
             GtkWidget  *row,
             GtkWidget  *toggle)
{
  if (settings != NULL)
    g_settings_bind (settings, key, toggle, "active", G_SETTINGS_BIND_DEFAULT);
  else
    gtk_widget_set_sensitive (row, FALSE);
}

static void
pt_preferences_dispose (GObject *object)
{
  PtPreferences *self = PT_PREFERENCES (object);

  g_clear_object (&self->identity);
  gtk_widget_dispose_template (GTK_WIDGET (object), PT_TYPE_PREFERENCES);
  G_OBJECT_CLASS (pt_preferences_parent_class)->dispose (object);
}

static void
pt_preferences_class_init (PtPreferencesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_preferences_dispose;
  g_type_ensure (PT_TYPE_QR_CODE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/peertunnel/PeerTunnel/pt-preferences.ui");
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, run_in_background_row);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, run_in_background_switch);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, start_hidden_row);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, start_hidden_switch);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, notify_row);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, notify_switch);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, secrets_group);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, key_group);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, key_row);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, key_qr);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, generate_button);
  gtk_widget_class_bind_template_child (widget_class, PtPreferences, import_row);
  gtk_widget_class_bind_template_callback (widget_class, on_copy_npub);
  gtk_widget_class_bind_template_callback (widget_class, on_generate_key);
  gtk_widget_class_bind_template_callback (widget_class, on_import_key);
}

static void
pt_preferences_init (PtPreferences *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
pt_preferences_new (GSettings     *settings,
                    PtSecretStore *secrets,
                    PtIdentity    *identity)
{
  PtPreferences *self = g_object_new (PT_TYPE_PREFERENCES, NULL);

  bind_switch (settings, "run-in-background", self->run_in_background_row, self->run_in_background_switch);
  bind_switch (settings, "start-hidden", self->start_hidden_row, self->start_hidden_switch);
  bind_switch (settings, "notify", self->notify_row, self->notify_switch);
  if (secrets != NULL)
    {
      g_autofree char *where = pt_secret_store_describe (secrets);

      if (where != NULL)
        adw_preferences_group_set_description (self->secrets_group, where);
    }
  if (identity != NULL)
    {
      self->identity = g_object_ref (identity);
      g_signal_connect_object (identity, "notify::npub", G_CALLBACK (update_key), self,
                               G_CONNECT_SWAPPED);
      update_key (self);
      gtk_widget_set_visible (self->key_group, TRUE);
    }
  return GTK_WIDGET (self);
}

GtkWidget *
pt_preferences_window_new (GSettings     *settings,
                           PtSecretStore *secrets,
                           PtIdentity    *identity)
{
  GtkWidget *window = pt_adw_preferences_new ();

  pt_adw_preferences_set_search_enabled (window, FALSE);
  pt_adw_preferences_add (window, ADW_PREFERENCES_PAGE (pt_preferences_new (settings, secrets, identity)));
  return window;
}
