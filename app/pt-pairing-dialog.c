/* pt-pairing-dialog.c — manual pairing: show our block, take the peer's
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Connect role: our offer (QR code + text) first, then the peer's answer.
 * Serve role: the peer's offer first, then our answer. The peer's block
 * comes pasted or dropped as text, or as a picture of its QR code (a file,
 * a dropped image, or the clipboard's image), decoded with zbar.
 *
 * Layout in ui/pt-pairing-dialog.ui, drawn for the connect role; for the
 * serve role pt_pairing_dialog_new() puts the peer's half first and words
 * both halves for an answer.
 */
#define G_LOG_DOMAIN "pt-pairing-dialog"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pt-gtk-compat.h"
#include "pt-pairing-dialog.h"
#include "pt-qr.h"
#include "pt-error-text.h"

struct _PtPairingDialog
{
  AdwWindow       parent_instance;

  PtService      *service;
  GSignalGroup   *tunnel_signals;   /* on the service's current tunnel */

  GtkWidget      *content_box;
  GtkWidget      *local_box;
  GtkLabel       *local_heading;
  GtkWidget      *local_stack;
  GtkWidget      *qr_code;
  GtkWidget      *local_view;
  GtkTextBuffer  *local_buffer;
  GtkWidget      *remote_box;
  GtkLabel       *remote_heading;
  GtkWidget      *remote_view;
  GtkTextBuffer  *remote_buffer;
  GtkLabel       *error_label;
  GtkLabel       *status_label;
  GtkButton      *connect_button;
  GCancellable   *open_image;   /* while the file dialog is open */
};

G_DEFINE_FINAL_TYPE (PtPairingDialog, pt_pairing_dialog, ADW_TYPE_WINDOW)

static void
show_error (PtPairingDialog *self,
            const char      *message)
{
  gtk_label_set_text (self->error_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
update (PtPairingDialog *self)
{
  const char *text = pt_service_get_local_text (self->service);
  GBytes *payload = pt_service_get_local_payload (self->service);
  gboolean server = pt_profile_get_role (pt_service_get_profile (self->service)) == PT_TUNNEL_ROLE_SERVER;
  gboolean paired = pt_service_get_paired (self->service);
  PtTunnel *tunnel = pt_service_get_tunnel (self->service);
  PtTunnelState state = tunnel ? pt_tunnel_get_state (tunnel) : PT_TUNNEL_STATE_CLOSED;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  const char *status = NULL;

  gtk_text_buffer_set_text (self->local_buffer, text ? text : "", -1);
  if (!pt_qr_code_set_payload (PT_QR_CODE (self->qr_code), payload, &error))
    status = error->message;
  gtk_stack_set_visible_child_name (GTK_STACK (self->local_stack), text ? "ready" : "waiting");
  gtk_widget_set_visible (self->local_box, !server || paired);
  gtk_widget_set_sensitive (self->remote_box, !paired && (server || text != NULL));

  switch (state)
    {
    case PT_TUNNEL_STATE_UP:
      status = _("Connected");
      break;
    case PT_TUNNEL_STATE_FAILED:
      status = why = pt_describe_error (pt_tunnel_get_error (tunnel));
      break;
    case PT_TUNNEL_STATE_CLOSED:
      status = _("Stopped");
      break;
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      status = server ? _("Give the answer above to the other computer; connecting…")
                      : _("Connecting…");
      break;
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
      break;
    }
  gtk_label_set_text (self->status_label, status ? status : "");
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), status != NULL);

  if (state == PT_TUNNEL_STATE_UP)
    gtk_window_close (GTK_WINDOW (self));
}

gboolean
pt_pairing_dialog_submit (PtPairingDialog  *self,
                          GBytes           *payload,
                          GError          **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!pt_service_give_remote (self->service, payload, &local_error))
    {
      g_autofree char *why = pt_describe_error (local_error);

      show_error (self, why);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  show_error (self, NULL);
  update (self);
  return TRUE;
}

gboolean
pt_pairing_dialog_submit_image (PtPairingDialog  *self,
                                GFile            *file,
                                GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GBytes) payload = pt_qr_decode_file (file, &local_error);

  if (payload == NULL)
    {
      show_error (self, local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return pt_pairing_dialog_submit (self, payload, error);
}

static gboolean
submit_texture (PtPairingDialog *self,
                GdkTexture      *texture)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = pt_qr_decode_texture (texture, &error);

  if (payload == NULL)
    {
      show_error (self, error->message);
      return FALSE;
    }
  return pt_pairing_dialog_submit (self, payload, NULL);
}

static void
on_connect (PtPairingDialog *self)
{
  GtkTextIter start, end;
  g_autofree char *text = NULL;
  g_autoptr(GBytes) payload = NULL;

  gtk_text_buffer_get_bounds (self->remote_buffer, &start, &end);
  text = gtk_text_buffer_get_text (self->remote_buffer, &start, &end, FALSE);
  payload = g_bytes_new_take (text, strlen (text));
  text = NULL;
  pt_pairing_dialog_submit (self, payload, NULL);
}

static void
on_copy (PtPairingDialog *self)
{
  const char *text = pt_service_get_local_text (self->service);

  if (text == NULL)
    return;
  gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), text);
  gtk_label_set_text (self->status_label, _("Copied to the clipboard"));
  gtk_widget_set_visible (GTK_WIDGET (self->status_label), TRUE);
}

static void
paste_texture_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(PtPairingDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (source),
                                                                     result, &error);

  if (texture == NULL)
    show_error (self, _("The clipboard holds no image"));
  else
    submit_texture (self, texture);
}

static void
paste_text_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(PtPairingDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), result, &error);

  if (text == NULL)
    {
      show_error (self, _("The clipboard holds no text"));
      return;
    }
  gtk_text_buffer_set_text (self->remote_buffer, text, -1);
  on_connect (self);
}

void
pt_pairing_dialog_paste (PtPairingDialog *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));
  GdkContentFormats *formats = gdk_clipboard_get_formats (clipboard);

  /* A screenshot of the peer's QR code, or the peer's text block. */
  if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE))
    gdk_clipboard_read_texture_async (clipboard, NULL, paste_texture_cb, g_object_ref (self));
  else
    gdk_clipboard_read_text_async (clipboard, NULL, paste_text_cb, g_object_ref (self));
}

static void
open_image_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(PtPairingDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GFile) file = pt_gtk_open_file_finish (result, &error);

  g_clear_object (&self->open_image);
  if (file != NULL)
    pt_pairing_dialog_submit_image (self, file, NULL);
  else if (!pt_gtk_dialog_error_is_dismissed (error))
    g_warning ("Could not choose a picture: %s", error->message);
}

static void
on_open_image (PtPairingDialog *self)
{
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  if (self->open_image != NULL)
    return;
  gtk_file_filter_set_name (filter, _("Images"));
  gtk_file_filter_add_pixbuf_formats (filter);
  self->open_image = g_cancellable_new ();
  pt_gtk_open_file_async (GTK_WINDOW (self), _("Open a Picture of the QR Code"), _("_Open"),
                          filter, self->open_image, open_image_cb, g_object_ref (self));
}

static gboolean
on_drop (GtkDropTarget   *target,
         const GValue    *value,
         double           x,
         double           y,
         PtPairingDialog *self)
{
  if (G_VALUE_HOLDS (value, G_TYPE_STRING))
    {
      gtk_text_buffer_set_text (self->remote_buffer, g_value_get_string (value), -1);
      on_connect (self);
      return TRUE;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = gdk_file_list_get_files (g_value_get_boxed (value));
      gboolean ok = files && pt_pairing_dialog_submit_image (self, files->data, NULL);

      g_slist_free (files);
      return ok;
    }
  if (G_VALUE_HOLDS (value, GDK_TYPE_TEXTURE))
    return submit_texture (self, g_value_get_object (value));
  return FALSE;
}

static void
pt_pairing_dialog_dispose (GObject *object)
{
  PtPairingDialog *self = PT_PAIRING_DIALOG (object);

  if (self->open_image != NULL)
    g_cancellable_cancel (self->open_image);
  if (self->tunnel_signals != NULL)
    g_signal_group_set_target (self->tunnel_signals, NULL);
  g_clear_object (&self->tunnel_signals);
  if (self->service != NULL)
    g_signal_handlers_disconnect_by_data (self->service, self);
  g_clear_object (&self->service);
  gtk_widget_dispose_template (GTK_WIDGET (object), PT_TYPE_PAIRING_DIALOG);
  G_OBJECT_CLASS (pt_pairing_dialog_parent_class)->dispose (object);
}

static void
pt_pairing_dialog_class_init (PtPairingDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_pairing_dialog_dispose;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);

  g_type_ensure (PT_TYPE_QR_CODE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/peertunnel/PeerTunnel/pt-pairing-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, content_box);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, local_box);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, local_heading);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, local_stack);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, qr_code);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, local_view);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, remote_box);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, remote_heading);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, remote_view);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, error_label);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, status_label);
  gtk_widget_class_bind_template_child (widget_class, PtPairingDialog, connect_button);
  gtk_widget_class_bind_template_callback (widget_class, on_copy);
  gtk_widget_class_bind_template_callback (widget_class, on_connect);
  gtk_widget_class_bind_template_callback (widget_class, on_open_image);
  gtk_widget_class_bind_template_callback (widget_class, pt_pairing_dialog_paste);
}

static void
pt_pairing_dialog_init (PtPairingDialog *self)
{
  GType types[] = { GDK_TYPE_FILE_LIST, GDK_TYPE_TEXTURE, G_TYPE_STRING };
  GtkDropTarget *drop;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->tunnel_signals = g_signal_group_new (PT_TYPE_TUNNEL);
  g_signal_group_connect_swapped (self->tunnel_signals, "notify::state", G_CALLBACK (update), self);
  self->local_buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->local_view));
  self->remote_buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->remote_view));

  /* Files, pictures and text dropped on the other computer's half. */
  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, types, G_N_ELEMENTS (types));
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (self->remote_box, GTK_EVENT_CONTROLLER (drop));
}

/* The serve role: the other computer's offer first, then our answer. */
static void
word_for_serving (PtPairingDialog *self)
{
  gtk_box_reorder_child_after (GTK_BOX (self->content_box), self->remote_box, NULL);
  gtk_label_set_text (self->remote_heading,
                      _("1. Paste the other computer’s offer, drop it here, or open a picture of its QR code"));
  gtk_label_set_text (self->local_heading, _("2. Show this answer to the other computer"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->qr_code), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("QR code of the answer"), -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->local_view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Answer text"), -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->remote_view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("The other computer’s offer"), -1);
  gtk_button_set_label (self->connect_button, _("_Accept"));
}

PtPairingDialog *
pt_pairing_dialog_new (GtkWindow *parent,
                       PtService *service)
{
  PtProfile *profile = pt_service_get_profile (service);
  /* Translators: window title; %s is the tunnel's name */
  g_autofree char *title = g_strdup_printf (_("Pair “%s”"), pt_profile_get_name (profile));
  PtPairingDialog *self = g_object_new (PT_TYPE_PAIRING_DIALOG,
                                        "transient-for", parent,
                                        "title", title,
                                        NULL);

  self->service = g_object_ref (service);
  if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER)
    word_for_serving (self);
  g_signal_connect_swapped (service, "notify::local-text", G_CALLBACK (update), self);
  g_signal_connect_swapped (service, "notify::paired", G_CALLBACK (update), self);
  g_object_bind_property (service, "tunnel", self->tunnel_signals, "target", G_BINDING_SYNC_CREATE);
  g_signal_connect_swapped (service, "notify::tunnel", G_CALLBACK (update), self);
  update (self);
  return self;
}

PtService *
pt_pairing_dialog_get_service (PtPairingDialog *self)
{
  return self->service;
}

GtkWidget *
pt_pairing_dialog_get_qr_code (PtPairingDialog *self)
{
  return self->qr_code;
}

GtkTextBuffer *
pt_pairing_dialog_get_remote_buffer (PtPairingDialog *self)
{
  return self->remote_buffer;
}

GtkLabel *
pt_pairing_dialog_get_error_label (PtPairingDialog *self)
{
  return self->error_label;
}

GtkButton *
pt_pairing_dialog_get_connect_button (PtPairingDialog *self)
{
  return self->connect_button;
}
