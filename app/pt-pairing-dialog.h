/* pt-pairing-dialog.h — manual pairing: show our block, take the peer's
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include <pt.h>

G_BEGIN_DECLS

#define PT_TYPE_PAIRING_DIALOG (pt_pairing_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PtPairingDialog, pt_pairing_dialog, PT, PAIRING_DIALOG, AdwWindow)

PtPairingDialog *pt_pairing_dialog_new           (GtkWindow       *parent,
                                                  PtService       *service);
PtService       *pt_pairing_dialog_get_service   (PtPairingDialog *self);
/* Takes the peer's block as text or a QR payload; errors show inline too. */
gboolean         pt_pairing_dialog_submit        (PtPairingDialog *self,
                                                  GBytes          *payload,
                                                  GError         **error);
/* Decodes the QR code in an image file and submits it. */
gboolean         pt_pairing_dialog_submit_image  (PtPairingDialog *self,
                                                  GFile           *file,
                                                  GError         **error);

/* What the Paste button does: the clipboard's image (a screenshot of the
 * peer's QR code) or text. */
void             pt_pairing_dialog_paste         (PtPairingDialog *self);

/* For tests: the QR widget, the text buffer the user pastes into, the inline error. */
GtkWidget       *pt_pairing_dialog_get_qr_code   (PtPairingDialog *self);
GtkTextBuffer   *pt_pairing_dialog_get_remote_buffer (PtPairingDialog *self);
GtkLabel        *pt_pairing_dialog_get_error_label (PtPairingDialog *self);
GtkButton       *pt_pairing_dialog_get_connect_button (PtPairingDialog *self);

G_END_DECLS
