/* pt-gtk-compat.h — GTK calls that differ between GTK 4.8 and newer GTK 4
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The baseline is GTK 4.8 (Debian 12). Where a newer GTK deprecates what 4.8
 * offers, the call lives here: the newer API when the headers have it, 4.8's
 * otherwise, so that no build calls a deprecated function. Callers see one
 * API. tests/packaging/check-debian13 compiles this against Debian 13's GTK.
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Asks the user for one file to open: GtkFileDialog (4.10) or
 * GtkFileChooserNative (deprecated in 4.10). @filter (nullable) is the only
 * filter offered. Cancelling @cancellable closes the dialog. */
void   pt_gtk_open_file_async  (GtkWindow           *parent,
                                const char          *title,
                                const char          *accept_label,
                                GtkFileFilter       *filter,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
/* The chosen file, or NULL with G_IO_ERROR_CANCELLED when the user closed
 * the dialog (or GTK_DIALOG_ERROR_DISMISSED on GTK 4.10 and newer). */
GFile *pt_gtk_open_file_finish (GAsyncResult        *result,
                                GError             **error);

/* TRUE when @error only says that the user closed the dialog. */
gboolean pt_gtk_dialog_error_is_dismissed (const GError *error);

G_END_DECLS
