/* pt-gtk-compat.c — GTK calls that differ between GTK 4.8 and newer GTK 4
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-gtk-compat"

#include "config.h"

#include "pt-gtk-compat.h"

#if GTK_CHECK_VERSION (4, 10, 0)
/* The newer API is taken whenever the headers have it, also when the build
 * pins GDK_VERSION_MAX_ALLOWED below it (meson pins 4.8, so that an unguarded
 * newer call fails on Debian 12): its "not available before 4.10" warnings
 * are silenced here, for this guarded code only, and only under that pin. */
# if GDK_VERSION_MAX_ALLOWED < GDK_VERSION_4_10
#  define PT_GTK_NEWER_BEGIN G_GNUC_BEGIN_IGNORE_DEPRECATIONS
#  define PT_GTK_NEWER_END   G_GNUC_END_IGNORE_DEPRECATIONS
# else
#  define PT_GTK_NEWER_BEGIN
#  define PT_GTK_NEWER_END
# endif
#endif

#if GTK_CHECK_VERSION (4, 10, 0)

PT_GTK_NEWER_BEGIN

static void
open_file_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  GFile *file = gtk_file_dialog_open_finish (GTK_FILE_DIALOG (source), result, &error);

  if (file != NULL)
    g_task_return_pointer (task, file, g_object_unref);
  else
    g_task_return_error (task, error);
}

void
pt_gtk_open_file_async (GtkWindow           *parent,
                        const char          *title,
                        const char          *accept_label,
                        GtkFileFilter       *filter,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GtkFileDialog) dialog = gtk_file_dialog_new ();
  GTask *task = g_task_new (parent, cancellable, callback, user_data);

  g_task_set_source_tag (task, pt_gtk_open_file_async);
  gtk_file_dialog_set_title (dialog, title);
  gtk_file_dialog_set_accept_label (dialog, accept_label);
  gtk_file_dialog_set_modal (dialog, TRUE);
  if (filter != NULL)
    {
      g_autoptr(GListStore) filters = g_list_store_new (GTK_TYPE_FILE_FILTER);

      g_list_store_append (filters, filter);
      gtk_file_dialog_set_filters (dialog, G_LIST_MODEL (filters));
      gtk_file_dialog_set_default_filter (dialog, filter);
    }
  gtk_file_dialog_open (dialog, parent, cancellable, open_file_cb, task);
}

gboolean
pt_gtk_dialog_error_is_dismissed (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
         || g_error_matches (error, GTK_DIALOG_ERROR, GTK_DIALOG_ERROR_DISMISSED)
         || g_error_matches (error, GTK_DIALOG_ERROR, GTK_DIALOG_ERROR_CANCELLED);
}

PT_GTK_NEWER_END

#else /* GTK 4.8 */

typedef struct
{
  GtkFileChooserNative *chooser;
  gulong                cancelled_id;
} OpenFileData;

static void
open_file_data_free (gpointer data)
{
  OpenFileData *d = data;

  gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (d->chooser));
  g_clear_object (&d->chooser);
  g_free (d);
}

static void
open_file_response (GtkNativeDialog *chooser,
                    int              response,
                    GTask           *task)
{
  OpenFileData *d = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);

  g_cancellable_disconnect (cancellable, d->cancelled_id);
  d->cancelled_id = 0;
  if (response == GTK_RESPONSE_ACCEPT)
    g_task_return_pointer (task, gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser)),
                           g_object_unref);
  else
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Dismissed by the user");
  g_object_unref (task);
}

static void
open_file_cancelled (GCancellable *cancellable,
                     GTask        *task)
{
  OpenFileData *d = g_task_get_task_data (task);

  /* Hiding a native dialog emits no response: the task answers here. */
  g_signal_handlers_disconnect_by_func (d->chooser, open_file_response, task);
  gtk_native_dialog_hide (GTK_NATIVE_DIALOG (d->chooser));
  g_task_return_error_if_cancelled (task);
  g_object_unref (task);
}

void
pt_gtk_open_file_async (GtkWindow           *parent,
                        const char          *title,
                        const char          *accept_label,
                        GtkFileFilter       *filter,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task = g_task_new (parent, cancellable, callback, user_data);
  OpenFileData *d;

  g_task_set_source_tag (task, pt_gtk_open_file_async);
  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  d = g_new0 (OpenFileData, 1);
  g_task_set_task_data (task, d, open_file_data_free);
  d->chooser = gtk_file_chooser_native_new (title, parent, GTK_FILE_CHOOSER_ACTION_OPEN,
                                            accept_label, NULL);
  if (filter != NULL)
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (d->chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (d->chooser), TRUE);
  /* The task holds one reference until the response or the cancellation. */
  g_signal_connect (d->chooser, "response", G_CALLBACK (open_file_response), task);
  if (cancellable != NULL)
    d->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (open_file_cancelled),
                                             task, NULL);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (d->chooser));
}

gboolean
pt_gtk_dialog_error_is_dismissed (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

#endif

GFile *
pt_gtk_open_file_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pt_gtk_open_file_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
