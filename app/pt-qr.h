/* pt-qr.h — QR codes: encode a payload to a texture, decode one from an image
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PT_QR_ERROR (pt_qr_error_quark ())

typedef enum
{
  PT_QR_ERROR_TOO_LARGE,   /* the payload does not fit a QR code */
  PT_QR_ERROR_NOT_FOUND,   /* no QR code in the image */
  PT_QR_ERROR_IMAGE,       /* the file is not an image that can be read */
} PtQrError;

GQuark      pt_qr_error_quark          (void);

/* The number of modules on a side (quiet zone included) of @payload's code. */
int         pt_qr_get_modules          (GBytes     *payload,
                                        GError    **error);
/* A black-on-white texture of @payload (8-bit mode, medium error correction)
 * with @module_px pixels per module and a 4-module quiet zone: shown at its
 * own size it needs no scaling, so it stays crisp. */
GdkTexture *pt_qr_texture_new          (GBytes     *payload,
                                        int         module_px,
                                        GError    **error);
/* The payload of the first QR code found in @texture (binary-safe). */
GBytes     *pt_qr_decode_texture       (GdkTexture *texture,
                                        GError    **error);
GBytes     *pt_qr_decode_file          (GFile      *file,
                                        GError    **error);

G_END_DECLS

G_BEGIN_DECLS

/* A widget showing a QR code pixel-exact at the display's scale. */
#define PT_TYPE_QR_CODE (pt_qr_code_get_type ())
G_DECLARE_FINAL_TYPE (PtQrCode, pt_qr_code, PT, QR_CODE, GtkWidget)

GtkWidget  *pt_qr_code_new             (void);
/* NULL clears it; an error (too large) leaves it empty and returns FALSE. */
gboolean    pt_qr_code_set_payload     (PtQrCode   *self,
                                        GBytes     *payload,
                                        GError    **error);
/* The texture as drawn (device pixels), or NULL. */
GdkTexture *pt_qr_code_get_texture     (PtQrCode   *self);

G_END_DECLS
