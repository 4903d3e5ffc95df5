/* pt-qr.c — QR codes: encode a payload to a texture, decode one from an image
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-qr"

#include "config.h"

#include <glib/gi18n.h>
#include <qrencode.h>
#include <string.h>
#include <zbar.h>

#include "pt-qr.h"

#define QUIET_ZONE 4

G_DEFINE_QUARK (pt-qr-error-quark, pt_qr_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QRcode, QRcode_free)

static QRcode *
encode (GBytes  *payload,
        GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (payload, &len);
  QRcode *code = QRcode_encodeData ((int) len, data, 0, QR_ECLEVEL_M);

  if (code == NULL)
    g_set_error (error, PT_QR_ERROR, PT_QR_ERROR_TOO_LARGE,
                 _("The pairing block (%zu bytes) does not fit a QR code; use the text instead"),
                 len);
  return code;
}

int
pt_qr_get_modules (GBytes  *payload,
                   GError **error)
{
  g_autoptr(QRcode) code = encode (payload, error);

  return code ? code->width + 2 * QUIET_ZONE : -1;
}

GdkTexture *
pt_qr_texture_new (GBytes  *payload,
                   int      module_px,
                   GError **error)
{
  g_autoptr(QRcode) code = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint8 *pixels;
  int side, stride;

  g_return_val_if_fail (payload != NULL, NULL);
  g_return_val_if_fail (module_px > 0, NULL);

  code = encode (payload, error);
  if (code == NULL)
    return NULL;

  side = (code->width + 2 * QUIET_ZONE) * module_px;
  stride = side * 3;          /* GDK_MEMORY_R8G8B8 (GTK 4.8 has no gray format) */
  pixels = g_malloc (stride * side);
  memset (pixels, 0xff, stride * side);

  for (int y = 0; y < code->width; y++)
    for (int x = 0; x < code->width; x++)
      {
        /* Bit 0 of each libqrencode module byte: 1 is dark. */
        if ((code->data[y * code->width + x] & 1) == 0)
          continue;
        for (int dy = 0; dy < module_px; dy++)
          memset (pixels + ((y + QUIET_ZONE) * module_px + dy) * stride + (x + QUIET_ZONE) * module_px * 3,
                  0x00, module_px * 3);
      }

  bytes = g_bytes_new_take (pixels, stride * side);
  return gdk_memory_texture_new (side, side, GDK_MEMORY_R8G8B8, bytes, stride);
}

GBytes *
pt_qr_decode_texture (GdkTexture  *texture,
                      GError     **error)
{
  int width, height;
  guint8 *rgba, *gray;
  zbar_image_scanner_t *scanner;
  zbar_image_t *image;
  GBytes *result = NULL;

  g_return_val_if_fail (GDK_IS_TEXTURE (texture), NULL);

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  rgba = g_malloc ((gsize) width * height * 4);
  gdk_texture_download (texture, rgba, (gsize) width * 4);   /* Cairo ARGB32, premultiplied */

  /* zbar wants 8-bit luminance ("Y800"); it takes ownership of the buffer. */
  gray = g_malloc ((gsize) width * height);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      guint32 px;
      guint a, r, g, b;

      memcpy (&px, rgba + i * 4, 4);
      a = px >> 24;
      r = (px >> 16) & 0xff;
      g = (px >> 8) & 0xff;
      b = px & 0xff;
      /* Premultiplied, so composing over white is adding 255 - a. */
      r += 255 - a;
      g += 255 - a;
      b += 255 - a;
      gray[i] = (guint8) ((r * 77 + g * 150 + b * 29) >> 8);
    }
  g_free (rgba);

  scanner = zbar_image_scanner_create ();
  zbar_image_scanner_set_config (scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config (scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  zbar_image_scanner_set_config (scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);

  image = zbar_image_create ();
  zbar_image_set_format (image, zbar_fourcc ('Y', '8', '0', '0'));
  zbar_image_set_size (image, width, height);
  zbar_image_set_data (image, gray, (unsigned long) width * height, zbar_image_free_data);

  if (zbar_scan_image (scanner, image) > 0)
    {
      for (const zbar_symbol_t *symbol = zbar_image_first_symbol (image);
           symbol != NULL; symbol = zbar_symbol_next (symbol))
        {
          if (zbar_symbol_get_type (symbol) != ZBAR_QRCODE)
            continue;
          result = g_bytes_new (zbar_symbol_get_data (symbol), zbar_symbol_get_data_length (symbol));
          break;
        }
    }

  zbar_image_destroy (image);
  zbar_image_scanner_destroy (scanner);

  if (result == NULL)
    g_set_error_literal (error, PT_QR_ERROR, PT_QR_ERROR_NOT_FOUND,
                         _("No QR code found in the image; try a sharper or larger picture"));
  return result;
}

GBytes *
pt_qr_decode_file (GFile   *file,
                   GError **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GdkTexture) texture = gdk_texture_new_from_file (file, &local_error);

  if (texture == NULL)
    {
      g_autofree char *name = g_file_get_basename (file);

      g_set_error (error, PT_QR_ERROR, PT_QR_ERROR_IMAGE,
                   _("Cannot read “%s” as an image: %s"), name, local_error->message);
      return NULL;
    }
  return pt_qr_decode_texture (texture, error);
}

/* PtQrCode */

#define MODULE_PX 4   /* logical pixels per module */

struct _PtQrCode
{
  GtkWidget   parent_instance;

  GBytes     *payload;
  GdkTexture *texture;
  int         scale;
};

G_DEFINE_FINAL_TYPE (PtQrCode, pt_qr_code, GTK_TYPE_WIDGET)

static void
pt_qr_code_render (PtQrCode *self)
{
  g_clear_object (&self->texture);
  self->scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  if (self->payload != NULL)
    self->texture = pt_qr_texture_new (self->payload, MODULE_PX * self->scale, NULL);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

static void
pt_qr_code_measure (GtkWidget      *widget,
                    GtkOrientation  orientation,
                    int             for_size,
                    int            *minimum,
                    int            *natural,
                    int            *minimum_baseline,
                    int            *natural_baseline)
{
  PtQrCode *self = PT_QR_CODE (widget);

  *minimum = *natural = self->texture ? gdk_texture_get_width (self->texture) / self->scale : 0;
}

static void
pt_qr_code_snapshot (GtkWidget   *widget,
                     GtkSnapshot *snapshot)
{
  PtQrCode *self = PT_QR_CODE (widget);
  int side, x, y;

  if (self->texture == NULL)
    return;
  side = gdk_texture_get_width (self->texture) / self->scale;
  /* Centred on whole pixels: each module covers exactly scale × MODULE_PX device pixels. */
  x = (gtk_widget_get_width (widget) - side) / 2;
  y = (gtk_widget_get_height (widget) - side) / 2;
  gtk_snapshot_append_texture (snapshot, self->texture, &GRAPHENE_RECT_INIT (x, y, side, side));
}

static void
on_scale_factor (PtQrCode *self)
{
  if (self->scale != gtk_widget_get_scale_factor (GTK_WIDGET (self)))
    pt_qr_code_render (self);
}

static void
pt_qr_code_finalize (GObject *object)
{
  PtQrCode *self = PT_QR_CODE (object);

  g_clear_pointer (&self->payload, g_bytes_unref);
  g_clear_object (&self->texture);
  G_OBJECT_CLASS (pt_qr_code_parent_class)->finalize (object);
}

static void
pt_qr_code_class_init (PtQrCodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->finalize = pt_qr_code_finalize;
  widget_class->measure = pt_qr_code_measure;
  widget_class->snapshot = pt_qr_code_snapshot;
  gtk_widget_class_set_css_name (widget_class, "qrcode");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
pt_qr_code_init (PtQrCode *self)
{
  self->scale = 1;
  g_signal_connect (self, "notify::scale-factor", G_CALLBACK (on_scale_factor), NULL);
}

GtkWidget *
pt_qr_code_new (void)
{
  return g_object_new (PT_TYPE_QR_CODE, NULL);
}

gboolean
pt_qr_code_set_payload (PtQrCode  *self,
                        GBytes    *payload,
                        GError   **error)
{
  g_return_val_if_fail (PT_IS_QR_CODE (self), FALSE);

  g_clear_pointer (&self->payload, g_bytes_unref);
  if (payload != NULL && pt_qr_get_modules (payload, error) < 0)
    {
      pt_qr_code_render (self);
      return FALSE;
    }
  self->payload = payload ? g_bytes_ref (payload) : NULL;
  pt_qr_code_render (self);
  return TRUE;
}

GdkTexture *
pt_qr_code_get_texture (PtQrCode *self)
{
  g_return_val_if_fail (PT_IS_QR_CODE (self), NULL);
  return self->texture;
}
