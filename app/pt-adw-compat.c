/* pt-adw-compat.c — libadwaita calls that differ between 1.2 and newer 1.x
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-adw-compat"

#include "config.h"

#include "pt-adw-compat.h"

/* A window-based dialog, transient for @parent's window, in its application
 * (or the default one when there is no @parent). */
static void
present_window (GtkWindow *window,
                GtkWidget *parent)
{
  GtkRoot *root = parent != NULL ? gtk_widget_get_root (parent) : NULL;
  GApplication *app = g_application_get_default ();

  if (GTK_IS_WINDOW (root))
    {
      gtk_window_set_transient_for (window, GTK_WINDOW (root));
      if (gtk_window_get_application (GTK_WINDOW (root)) != NULL)
        app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (root)));
    }
  if (GTK_IS_APPLICATION (app) && gtk_window_get_application (window) == NULL)
    gtk_window_set_application (window, GTK_APPLICATION (app));
  gtk_window_present (window);
}

#if ADW_CHECK_VERSION (1, 5, 0)
/* The newer API is taken whenever the headers have it, also when the build
 * pins ADW_VERSION_MAX_ALLOWED below it (meson pins 1.2, so that an unguarded
 * newer call fails on Debian 12): its "not available before 1.5" warnings are
 * silenced here, for this guarded code only, and only under that pin. */
# if ADW_VERSION_MAX_ALLOWED < ADW_VERSION_1_5
#  define PT_ADW_NEWER_BEGIN G_GNUC_BEGIN_IGNORE_DEPRECATIONS
#  define PT_ADW_NEWER_END   G_GNUC_END_IGNORE_DEPRECATIONS
# else
#  define PT_ADW_NEWER_BEGIN
#  define PT_ADW_NEWER_END
# endif

PT_ADW_NEWER_BEGIN

GObject *
pt_adw_alert_new (GtkWidget             *parent,
                  const char            *heading,
                  const char            *body,
                  const char            *cancel_label,
                  const char            *response_id,
                  const char            *response_label,
                  AdwResponseAppearance  appearance)
{
  AdwAlertDialog *alert = ADW_ALERT_DIALOG (adw_alert_dialog_new (heading, body));

  adw_alert_dialog_add_responses (alert, "cancel", cancel_label,
                                  response_id, response_label, NULL);
  adw_alert_dialog_set_response_appearance (alert, response_id, appearance);
  adw_alert_dialog_set_close_response (alert, "cancel");
  adw_alert_dialog_set_default_response (alert, "cancel");
  return G_OBJECT (alert);
}

void
pt_adw_present (GtkWidget *dialog,
                GtkWidget *parent)
{
  if (ADW_IS_DIALOG (dialog))
    adw_dialog_present (ADW_DIALOG (dialog), parent);
  else
    present_window (GTK_WINDOW (dialog), parent);
}

/* The dialog shown by @window, if it is one of libadwaita's windows. */
static AdwDialog *
visible_dialog (GtkWidget *window)
{
  if (ADW_IS_APPLICATION_WINDOW (window))
    return adw_application_window_get_visible_dialog (ADW_APPLICATION_WINDOW (window));
  if (ADW_IS_WINDOW (window))
    return adw_window_get_visible_dialog (ADW_WINDOW (window));
  return NULL;
}

GtkWidget *
pt_adw_preferences_new (void)
{
  return GTK_WIDGET (adw_preferences_dialog_new ());
}

void
pt_adw_preferences_add (GtkWidget          *preferences,
                        AdwPreferencesPage *page)
{
  adw_preferences_dialog_add (ADW_PREFERENCES_DIALOG (preferences), page);
}

void
pt_adw_preferences_set_search_enabled (GtkWidget *preferences,
                                       gboolean   enabled)
{
  adw_preferences_dialog_set_search_enabled (ADW_PREFERENCES_DIALOG (preferences), enabled);
}

void
pt_adw_preferences_add_toast (GtkWidget *preferences,
                              AdwToast  *toast)
{
  adw_preferences_dialog_add_toast (ADW_PREFERENCES_DIALOG (preferences), toast);
}

GtkWidget *
pt_adw_preferences_get_for_widget (GtkWidget *widget)
{
  return gtk_widget_get_ancestor (widget, ADW_TYPE_PREFERENCES_DIALOG);
}

GtkWidget *
pt_adw_preferences_get_shown (GtkApplication *app)
{
  return pt_adw_get_shown (app, ADW_TYPE_PREFERENCES_DIALOG);
}

GtkWidget *
pt_adw_get_shown (GtkApplication *app,
                  GType           type)
{
  for (GList *l = gtk_application_get_windows (app); l != NULL; l = l->next)
    {
      AdwDialog *dialog = visible_dialog (l->data);

      if (dialog != NULL && G_TYPE_CHECK_INSTANCE_TYPE (dialog, type))
        return GTK_WIDGET (dialog);
      if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type))
        return l->data;
    }
  return NULL;
}

void
pt_adw_close (GtkWidget *dialog)
{
  if (ADW_IS_DIALOG (dialog))
    adw_dialog_force_close (ADW_DIALOG (dialog));
  else
    gtk_window_destroy (GTK_WINDOW (dialog));
}

GType
pt_adw_about_get_type (void)
{
  return ADW_TYPE_ABOUT_DIALOG;
}

GObject *
pt_adw_alert_get_shown (GtkWidget *parent)
{
  AdwDialog *dialog = visible_dialog (parent);

  return ADW_IS_ALERT_DIALOG (dialog) ? G_OBJECT (dialog) : NULL;
}

void
pt_adw_alert_respond (GObject    *alert,
                      const char *response)
{
  g_signal_emit_by_name (alert, "response", response);
  adw_dialog_force_close (ADW_DIALOG (alert));
}

PT_ADW_NEWER_END

#else /* libadwaita 1.2 */

GObject *
pt_adw_alert_new (GtkWidget             *parent,
                  const char            *heading,
                  const char            *body,
                  const char            *cancel_label,
                  const char            *response_id,
                  const char            *response_label,
                  AdwResponseAppearance  appearance)
{
  GtkRoot *root = parent != NULL ? gtk_widget_get_root (parent) : NULL;
  AdwMessageDialog *alert;

  alert = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                      heading, body));
  adw_message_dialog_add_responses (alert, "cancel", cancel_label,
                                    response_id, response_label, NULL);
  adw_message_dialog_set_response_appearance (alert, response_id, appearance);
  adw_message_dialog_set_close_response (alert, "cancel");
  adw_message_dialog_set_default_response (alert, "cancel");
  return G_OBJECT (alert);
}

void
pt_adw_present (GtkWidget *dialog,
                GtkWidget *parent)
{
  present_window (GTK_WINDOW (dialog), parent);
}

GtkWidget *
pt_adw_preferences_new (void)
{
  return adw_preferences_window_new ();
}

void
pt_adw_preferences_add (GtkWidget          *preferences,
                        AdwPreferencesPage *page)
{
  adw_preferences_window_add (ADW_PREFERENCES_WINDOW (preferences), page);
}

void
pt_adw_preferences_set_search_enabled (GtkWidget *preferences,
                                       gboolean   enabled)
{
  adw_preferences_window_set_search_enabled (ADW_PREFERENCES_WINDOW (preferences), enabled);
}

void
pt_adw_preferences_add_toast (GtkWidget *preferences,
                              AdwToast  *toast)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (preferences), toast);
}

GtkWidget *
pt_adw_preferences_get_for_widget (GtkWidget *widget)
{
  return gtk_widget_get_ancestor (widget, ADW_TYPE_PREFERENCES_WINDOW);
}

GtkWidget *
pt_adw_preferences_get_shown (GtkApplication *app)
{
  return pt_adw_get_shown (app, ADW_TYPE_PREFERENCES_WINDOW);
}

GtkWidget *
pt_adw_get_shown (GtkApplication *app,
                  GType           type)
{
  for (GList *l = gtk_application_get_windows (app); l != NULL; l = l->next)
    if (G_TYPE_CHECK_INSTANCE_TYPE (l->data, type))
      return l->data;
  return NULL;
}

void
pt_adw_close (GtkWidget *dialog)
{
  gtk_window_destroy (GTK_WINDOW (dialog));
}

GType
pt_adw_about_get_type (void)
{
  return ADW_TYPE_ABOUT_WINDOW;
}

GObject *
pt_adw_alert_get_shown (GtkWidget *parent)
{
  GListModel *toplevels = gtk_window_get_toplevels ();   /* borrowed */
  GtkRoot *root = gtk_widget_get_root (parent);

  /* The newest first. */
  for (guint i = g_list_model_get_n_items (toplevels); i > 0; i--)
    {
      g_autoptr(GObject) w = g_list_model_get_item (toplevels, i - 1);

      if (ADW_IS_MESSAGE_DIALOG (w) && gtk_widget_get_visible (GTK_WIDGET (w))
          && (GtkRoot *) gtk_window_get_transient_for (GTK_WINDOW (w)) == root)
        return w;   /* the list keeps it alive */
    }
  return NULL;
}

void
pt_adw_alert_respond (GObject    *alert,
                      const char *response)
{
  g_autoptr(GObject) keep = g_object_ref (alert);

  adw_message_dialog_response (ADW_MESSAGE_DIALOG (alert), response);
  if (gtk_widget_get_visible (GTK_WIDGET (alert)))
    gtk_window_close (GTK_WINDOW (alert));
}

#endif

void
pt_adw_alert_present (GObject   *alert,
                      GtkWidget *parent)
{
  pt_adw_present (GTK_WIDGET (alert), parent);
}
