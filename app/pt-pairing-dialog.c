/* pt-pairing-dialog.c — manual pairing: show our block, take the peer's
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Connect role: our offer (QR code + text) first, then the peer's answer.
 * Serve role: the peer's offer first, then our answer. The peer's block
 * comes pasted or dropped as text, or as a picture of its QR code (a file,
 * a dropped image, or the clipboard's image), decoded with zbar.
 */
#define G_LOG_DOMAIN "pt-pairing-dialog"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pt-gtk-compat.h"
#include "pt-pairing-dialog.h"
#include "pt-qr.h"

struct _PtPairingDialog
{
  AdwWindow       parent_instance;

  PtProfile      *profile;
  PtTunnel       *tunnel;

  GtkWidget      *local_stack;
  GtkWidget      *qr_code;
  GtkTextBuffer  *local_buffer;
  GtkWidget      *local_box;
  GtkWidget      *remote_box;
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
  const char *text = pt_profile_get_local_text (self->profile);
  GBytes *payload = pt_profile_get_local_payload (self->profile);
  gboolean server = pt_profile_get_role (self->profile) == PT_TUNNEL_ROLE_SERVER;
  gboolean paired = pt_profile_get_paired (self->profile);
  PtTunnel *tunnel = pt_profile_get_tunnel (self->profile);
  PtTunnelState state = tunnel ? pt_tunnel_get_state (tunnel) : PT_TUNNEL_STATE_CLOSED;
  g_autoptr(GError) error = NULL;
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
      status = pt_tunnel_get_error (tunnel) ? pt_tunnel_get_error (tunnel)->message : _("Failed");
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

static void
on_tunnel (PtPairingDialog *self)
{
  PtTunnel *tunnel = pt_profile_get_tunnel (self->profile);

  if (tunnel != self->tunnel)
    {
      if (self->tunnel != NULL)
        g_signal_handlers_disconnect_by_data (self->tunnel, self);
      g_set_object (&self->tunnel, tunnel);
      if (tunnel != NULL)
        g_signal_connect_swapped (tunnel, "notify::state", G_CALLBACK (update), self);
    }
  update (self);
}

gboolean
pt_pairing_dialog_submit (PtPairingDialog  *self,
                          GBytes           *payload,
                          GError          **error)
{
  g_autoptr(GError) local_error = NULL;

  if (!pt_profile_give_remote (self->profile, payload, &local_error))
    {
      show_error (self, local_error->message);
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
  const char *text = pt_profile_get_local_text (self->profile);

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
  if (self->tunnel != NULL)
    g_signal_handlers_disconnect_by_data (self->tunnel, self);
  g_clear_object (&self->tunnel);
  if (self->profile != NULL)
    g_signal_handlers_disconnect_by_data (self->profile, self);
  g_clear_object (&self->profile);
  G_OBJECT_CLASS (pt_pairing_dialog_parent_class)->dispose (object);
}

static void
pt_pairing_dialog_class_init (PtPairingDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_pairing_dialog_dispose;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static GtkWidget *
heading (const char *text)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "heading");
  return label;
}

static GtkWidget *
text_view (GtkTextBuffer **buffer,
           gboolean        editable,
           const char     *accessible_label)
{
  GtkWidget *scrolled = gtk_scrolled_window_new ();
  GtkWidget *view = gtk_text_view_new ();

  gtk_text_view_set_monospace (GTK_TEXT_VIEW (view), TRUE);
  gtk_text_view_set_editable (GTK_TEXT_VIEW (view), editable);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_CHAR);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (view), 6);
  gtk_text_view_set_bottom_margin (GTK_TEXT_VIEW (view), 6);
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (view), 6);
  gtk_text_view_set_right_margin (GTK_TEXT_VIEW (view), 6);
  gtk_accessible_update_property (GTK_ACCESSIBLE (view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  accessible_label, -1);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), view);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scrolled), 110);
  gtk_widget_add_css_class (scrolled, "card");
  *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
  return scrolled;
}

static void
pt_pairing_dialog_init (PtPairingDialog *self)
{
  gtk_window_set_default_size (GTK_WINDOW (self), 520, 760);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (self), TRUE);
}

static void
build (PtPairingDialog *self)
{
  gboolean server = pt_profile_get_role (self->profile) == PT_TUNNEL_ROLE_SERVER;
  GtkWidget *toolbar, *header, *scrolled, *clamp, *box, *buttons, *button, *spinner, *waiting;
  GtkWidget *ready, *local_text;
  GtkDropTarget *drop;
  GType drop_types[] = { GDK_TYPE_FILE_LIST, GDK_TYPE_TEXTURE, G_TYPE_STRING };

  toolbar = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  gtk_box_append (GTK_BOX (toolbar), header);

  scrolled = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scrolled, TRUE);
  gtk_box_append (GTK_BOX (toolbar), scrolled);
  clamp = adw_clamp_new ();
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), clamp);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 18);
  gtk_widget_set_margin_bottom (box, 18);
  adw_clamp_set_child (ADW_CLAMP (clamp), box);

  /* Ours: the offer (connect) or the answer (serve). */
  self->local_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_box_append (GTK_BOX (self->local_box),
                  heading (server ? _("2. Show this answer to the other computer")
                                  : _("1. Show this code to the other computer")));
  self->local_stack = gtk_stack_new ();
  waiting = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  gtk_widget_set_halign (waiting, GTK_ALIGN_CENTER);
  spinner = gtk_spinner_new ();
  gtk_spinner_set_spinning (GTK_SPINNER (spinner), TRUE);
  gtk_box_append (GTK_BOX (waiting), spinner);
  gtk_box_append (GTK_BOX (waiting), gtk_label_new (_("Finding this computer’s addresses…")));
  gtk_stack_add_named (GTK_STACK (self->local_stack), waiting, "waiting");

  ready = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  self->qr_code = pt_qr_code_new ();
  gtk_widget_set_halign (self->qr_code, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->qr_code), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  server ? _("QR code of the answer") : _("QR code of the offer"), -1);
  gtk_box_append (GTK_BOX (ready), self->qr_code);
  local_text = text_view (&self->local_buffer, FALSE,
                          server ? _("Answer text") : _("Offer text"));
  gtk_box_append (GTK_BOX (ready), local_text);
  button = gtk_button_new_with_mnemonic (_("_Copy Text"));
  gtk_widget_set_halign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "pill");
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (on_copy), self);
  gtk_box_append (GTK_BOX (ready), button);
  gtk_stack_add_named (GTK_STACK (self->local_stack), ready, "ready");
  gtk_box_append (GTK_BOX (self->local_box), self->local_stack);

  /* Theirs: the answer (connect) or the offer (serve). */
  self->remote_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_box_append (GTK_BOX (self->remote_box),
                  heading (server ? _("1. Paste the other computer’s offer, drop it here, or open a picture of its QR code")
                                  : _("2. Paste the other computer’s answer, drop it here, or open a picture of its QR code")));
  gtk_box_append (GTK_BOX (self->remote_box),
                  text_view (&self->remote_buffer, TRUE,
                             server ? _("The other computer’s offer") : _("The other computer’s answer")));
  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_box_append (GTK_BOX (self->remote_box), GTK_WIDGET (self->error_label));

  buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_halign (buttons, GTK_ALIGN_CENTER);
  button = gtk_button_new_with_mnemonic (_("_Paste"));
  gtk_widget_set_tooltip_text (button, _("Paste the text block or a screenshot of the QR code"));
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (pt_pairing_dialog_paste), self);
  gtk_box_append (GTK_BOX (buttons), button);
  button = gtk_button_new_with_mnemonic (_("_Open Picture…"));
  gtk_widget_set_tooltip_text (button, _("Read the QR code from a screenshot or photo"));
  g_signal_connect_swapped (button, "clicked", G_CALLBACK (on_open_image), self);
  gtk_box_append (GTK_BOX (buttons), button);
  self->connect_button = GTK_BUTTON (gtk_button_new_with_mnemonic (server ? _("_Accept") : _("C_onnect")));
  gtk_widget_add_css_class (GTK_WIDGET (self->connect_button), "suggested-action");
  g_signal_connect_swapped (self->connect_button, "clicked", G_CALLBACK (on_connect), self);
  gtk_box_append (GTK_BOX (buttons), GTK_WIDGET (self->connect_button));
  gtk_box_append (GTK_BOX (self->remote_box), buttons);

  drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, drop_types, G_N_ELEMENTS (drop_types));
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (self->remote_box, GTK_EVENT_CONTROLLER (drop));

  if (server)
    {
      gtk_box_append (GTK_BOX (box), self->remote_box);
      gtk_box_append (GTK_BOX (box), self->local_box);
    }
  else
    {
      gtk_box_append (GTK_BOX (box), self->local_box);
      gtk_box_append (GTK_BOX (box), self->remote_box);
    }

  self->status_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->status_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->status_label), "dim-label");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->status_label));

  adw_window_set_content (ADW_WINDOW (self), toolbar);
}

PtPairingDialog *
pt_pairing_dialog_new (GtkWindow *parent,
                       PtProfile *profile)
{
  /* Translators: window title; %s is the tunnel's name */
  g_autofree char *title = g_strdup_printf (_("Pair “%s”"), pt_profile_get_name (profile));
  PtPairingDialog *self = g_object_new (PT_TYPE_PAIRING_DIALOG,
                                        "transient-for", parent,
                                        "title", title,
                                        NULL);

  self->profile = g_object_ref (profile);
  build (self);
  g_signal_connect_swapped (profile, "notify::local-text", G_CALLBACK (update), self);
  g_signal_connect_swapped (profile, "notify::paired", G_CALLBACK (update), self);
  g_signal_connect_swapped (profile, "notify::tunnel", G_CALLBACK (on_tunnel), self);
  on_tunnel (self);
  return self;
}

PtProfile *
pt_pairing_dialog_get_profile (PtPairingDialog *self)
{
  return self->profile;
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
