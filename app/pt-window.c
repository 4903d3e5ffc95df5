/* pt-window.c — the main window: the list of tunnels
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The list is the store's GListModel bound to a GtkListBox; each row follows
 * its profile and the store's PtService for it. Actions take a profile id as
 * their target, so rows, menus and the tray share them.
 */
#define G_LOG_DOMAIN "pt-window"

#include "config.h"

#include <glib/gi18n.h>

#include "pt-adw-compat.h"
#include "pt-pairing-dialog.h"
#include "pt-profile-editor.h"
#include "pt-tunnel-row.h"
#include "pt-window.h"
#include "pt-error-text.h"

struct _PtWindow
{
  AdwApplicationWindow  parent_instance;

  AdwToastOverlay      *toast_overlay;
  GtkStack             *stack;
  GtkListBox           *tunnel_list;
  GtkLabel             *store_label;

  PtProfileStore       *store;
  GtkWindow            *editor;      /* weak */
  GtkWindow            *pairing;     /* weak */
};

G_DEFINE_FINAL_TYPE (PtWindow, pt_window, ADW_TYPE_APPLICATION_WINDOW)

static GtkWidget *
create_row (gpointer item,
            gpointer user_data)
{
  PtWindow *self = user_data;

  return pt_tunnel_row_new (pt_profile_store_get_service (self->store, PT_PROFILE (item)));
}

static void
update_stack (PtWindow *self)
{
  GListModel *model = pt_profile_store_get_model (self->store);

  gtk_stack_set_visible_child_name (self->stack,
                                    g_list_model_get_n_items (model) ? "list" : "empty");
}

static PtProfile *
profile_from_param (PtWindow *self,
                    GVariant *param)
{
  PtProfile *profile = pt_profile_store_find (self->store, g_variant_get_string (param, NULL));

  if (profile == NULL)
    g_debug ("no tunnel with id %s", g_variant_get_string (param, NULL));
  return profile;
}

static PtService *
service_from_param (PtWindow *self,
                    GVariant *param)
{
  PtProfile *profile = profile_from_param (self, param);

  return profile ? pt_profile_store_get_service (self->store, profile) : NULL;
}

/* Forgets a dialog once destroyed (tests may still hold a reference). */
static void
forget_dialog (GtkWindow *dialog,
               PtWindow  *self)
{
  GtkWindow **slot = self->editor == dialog ? &self->editor : &self->pairing;

  if (*slot == dialog)
    {
      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) slot);
      *slot = NULL;
    }
}

static void
track_dialog (PtWindow   *self,
              GtkWindow **slot,
              GtkWindow  *dialog)
{
  *slot = dialog;
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) slot);
  g_signal_connect_object (dialog, "destroy", G_CALLBACK (forget_dialog), self, 0);
}

static void
open_editor (PtWindow  *self,
             PtProfile *profile)
{
  if (self->editor != NULL)
    gtk_window_destroy (self->editor);
  track_dialog (self, &self->editor,
                GTK_WINDOW (pt_profile_editor_new (GTK_WINDOW (self), self->store, profile)));
  gtk_window_present (self->editor);
}

static void
open_pairing (PtWindow  *self,
              PtService *service)
{
  if (self->pairing != NULL)
    {
      if (pt_pairing_dialog_get_service (PT_PAIRING_DIALOG (self->pairing)) == service)
        {
          gtk_window_present (self->pairing);
          return;
        }
      gtk_window_destroy (self->pairing);
    }
  track_dialog (self, &self->pairing, GTK_WINDOW (pt_pairing_dialog_new (GTK_WINDOW (self), service)));
  gtk_window_present (self->pairing);
}

static void
new_tunnel_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *param)
{
  open_editor (PT_WINDOW (widget), NULL);
}

static void
edit_tunnel_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  PtWindow *self = PT_WINDOW (widget);
  PtProfile *profile = profile_from_param (self, param);

  if (profile != NULL)
    open_editor (self, profile);
}

static void
duplicate_tunnel_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *param)
{
  PtWindow *self = PT_WINDOW (widget);
  PtProfile *profile = profile_from_param (self, param);
  g_autoptr(PtProfile) copy = NULL;
  g_autofree char *name = NULL;

  if (profile == NULL)
    return;
  copy = pt_profile_duplicate (profile);
  /* Translators: the name of a duplicated tunnel; %s is the original's name */
  name = g_strdup_printf (_("%s (copy)"), pt_profile_get_name (profile));
  pt_profile_set_name (copy, name);
  pt_profile_store_add (self->store, copy);
}

static void
delete_response (GObject    *dialog,
                 const char *response,
                 PtWindow   *self)
{
  PtProfile *profile = g_object_get_data (G_OBJECT (dialog), "pt-profile");

  if (g_str_equal (response, "delete"))
    pt_profile_store_remove (self->store, profile);
}

static void
delete_tunnel_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *param)
{
  PtWindow *self = PT_WINDOW (widget);
  PtProfile *profile = profile_from_param (self, param);
  g_autofree char *heading = NULL;
  GObject *dialog;

  if (profile == NULL)
    return;
  /* Translators: %s is the tunnel's name */
  heading = g_strdup_printf (_("Delete “%s”?"), pt_profile_get_name (profile));
  dialog = pt_adw_alert_new (widget, heading, _("The tunnel stops and its settings are removed."),
                             _("_Cancel"), "delete", _("_Delete"), ADW_RESPONSE_DESTRUCTIVE);
  g_object_set_data_full (dialog, "pt-profile", g_object_ref (profile), g_object_unref);
  g_signal_connect (dialog, "response", G_CALLBACK (delete_response), self);
  pt_adw_alert_present (dialog, widget);
}

static void
start_tunnel_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *param)
{
  PtWindow *self = PT_WINDOW (widget);
  PtService *service = service_from_param (self, param);
  g_autoptr(GError) error = NULL;

  if (service == NULL || pt_service_get_running (service))
    return;
  if (!pt_service_start (service, &error))
    {
      g_autofree char *why = pt_describe_error (error);

      pt_window_toast (self, why);
      return;
    }
  if (pt_profile_get_mode (pt_service_get_profile (service)) == PT_PROFILE_MODE_MANUAL)
    open_pairing (self, service);
}

static void
stop_tunnel_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  PtService *service = service_from_param (PT_WINDOW (widget), param);

  if (service != NULL)
    pt_service_stop (service);
}

static void
pair_tunnel_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *param)
{
  PtWindow *self = PT_WINDOW (widget);
  PtService *service = service_from_param (self, param);

  if (service != NULL && pt_service_get_running (service))
    open_pairing (self, service);
}

static void
on_row_activated (GtkListBox    *list,
                  GtkListBoxRow *row,
                  PtWindow      *self)
{
  if (PT_IS_TUNNEL_ROW (row))
    open_editor (self, pt_tunnel_row_get_profile (PT_TUNNEL_ROW (row)));
}

static void
pt_window_dispose (GObject *object)
{
  PtWindow *self = PT_WINDOW (object);

  if (self->editor != NULL)
    gtk_window_destroy (self->editor);
  if (self->pairing != NULL)
    gtk_window_destroy (self->pairing);
  if (self->store != NULL)
    g_signal_handlers_disconnect_by_data (pt_profile_store_get_model (self->store), self);
  gtk_widget_dispose_template (GTK_WIDGET (self), PT_TYPE_WINDOW);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pt_window_parent_class)->dispose (object);
}

static void
pt_window_class_init (PtWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_window_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/peertunnel/PeerTunnel/pt-window.ui");
  gtk_widget_class_bind_template_child (widget_class, PtWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, PtWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, PtWindow, tunnel_list);
  gtk_widget_class_bind_template_child (widget_class, PtWindow, store_label);

  gtk_widget_class_install_action (widget_class, "win.new-tunnel", NULL, new_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.edit-tunnel", "s", edit_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.duplicate-tunnel", "s", duplicate_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.delete-tunnel", "s", delete_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.start-tunnel", "s", start_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.stop-tunnel", "s", stop_tunnel_action);
  gtk_widget_class_install_action (widget_class, "win.pair-tunnel", "s", pair_tunnel_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_n, GDK_CONTROL_MASK, "win.new-tunnel", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
}

static void
pt_window_init (PtWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect (self->tunnel_list, "row-activated", G_CALLBACK (on_row_activated), self);
}

PtWindow *
pt_window_new (GtkApplication *application,
               PtProfileStore *store)
{
  PtWindow *self = g_object_new (PT_TYPE_WINDOW, "application", application, NULL);
  GListModel *model = pt_profile_store_get_model (store);

  self->store = g_object_ref (store);
  gtk_list_box_bind_model (self->tunnel_list, model, create_row, self, NULL);
  g_signal_connect_swapped (model, "items-changed", G_CALLBACK (update_stack), self);
  update_stack (self);
  return self;
}

PtProfileStore *
pt_window_get_store (PtWindow *self)
{
  return self->store;
}

void
pt_window_set_store_note (PtWindow   *self,
                          const char *note)
{
  gtk_label_set_text (self->store_label, note ? note : "");
  gtk_widget_set_visible (GTK_WIDGET (self->store_label), note != NULL);
}

void
pt_window_toast (PtWindow   *self,
                 const char *message)
{
  AdwToast *toast = adw_toast_new (message);

  adw_toast_set_timeout (toast, 5);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

GtkListBox *
pt_window_get_list (PtWindow *self)
{
  return self->tunnel_list;
}

GtkStack *
pt_window_get_stack (PtWindow *self)
{
  return self->stack;
}

GtkWindow *
pt_window_get_editor (PtWindow *self)
{
  return self->editor;
}

GtkWindow *
pt_window_get_pairing (PtWindow *self)
{
  return self->pairing;
}
