/* pt-adw-compat.h — libadwaita calls that differ between 1.2 and newer 1.x
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The baseline is libadwaita 1.2 (Debian 12). libadwaita 1.6 deprecates the
 * window-based dialogs that 1.2 offers (AdwMessageDialog, AdwPreferencesWindow,
 * AdwAboutWindow) for the AdwDialog-based ones of 1.5. The calls live here:
 * 1.5's API when the headers have it, 1.2's otherwise, so that no build calls a
 * deprecated function. tests/packaging/check-debian13 compiles this against
 * Debian 13's libadwaita.
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* A question with a "cancel" answer (also what closing gives) and one other
 * answer @response_id: AdwAlertDialog (1.5) or AdwMessageDialog (deprecated
 * in 1.6). Connect to its "response" signal (void (*) (GObject *dialog,
 * const char *response, gpointer user_data) in both), then present it with
 * pt_adw_alert_present(). The object returned is borrowed: once presented,
 * the dialog lives until it is answered. */
GObject *pt_adw_alert_new        (GtkWidget             *parent,
                                  const char            *heading,
                                  const char            *body,
                                  const char            *cancel_label,
                                  const char            *response_id,
                                  const char            *response_label,
                                  AdwResponseAppearance  appearance);
void     pt_adw_alert_present    (GObject               *alert,
                                  GtkWidget             *parent);
/* The alert that pt_adw_alert_present() shows over @parent, or NULL (tests). */
GObject *pt_adw_alert_get_shown  (GtkWidget             *parent);
/* Answers @alert with @response as a click would, and closes it (tests). */
void     pt_adw_alert_respond    (GObject               *alert,
                                  const char            *response);

/* Shows @dialog over @parent: an AdwDialog with adw_dialog_present(), a
 * GtkWindow (an AdwWindow-based dialog of 1.2) transient for @parent's window
 * and part of its application. */
void     pt_adw_present          (GtkWidget             *dialog,
                                  GtkWidget             *parent);

/* The dialog or window of @type (PT_ADW_TYPE_ABOUT …) that one of @app's
 * windows shows or is, or NULL. */
GtkWidget *pt_adw_get_shown      (GtkApplication        *app,
                                  GType                  type);
/* Closes what pt_adw_present() showed, at once. */
void       pt_adw_close          (GtkWidget             *dialog);

/* Preferences: AdwPreferencesDialog (1.5) or AdwPreferencesWindow
 * (deprecated in 1.6). Present them with pt_adw_present(). */
GtkWidget *pt_adw_preferences_new                (void);
void       pt_adw_preferences_add                (GtkWidget          *preferences,
                                                  AdwPreferencesPage *page);
void       pt_adw_preferences_set_search_enabled (GtkWidget          *preferences,
                                                  gboolean            enabled);
void       pt_adw_preferences_add_toast          (GtkWidget          *preferences,
                                                  AdwToast           *toast);
/* The preferences that @widget is inside, or NULL. */
GtkWidget *pt_adw_preferences_get_for_widget     (GtkWidget          *widget);
/* The preferences shown by one of @app's windows, or NULL. */
GtkWidget *pt_adw_preferences_get_shown          (GtkApplication     *app);

/* About: AdwAboutDialog (1.5) or AdwAboutWindow (deprecated in 1.6). Both
 * have the properties that describe the application (application-name,
 * version, developers …); present it with pt_adw_present(). */
#define PT_ADW_TYPE_ABOUT (pt_adw_about_get_type ())
GType      pt_adw_about_get_type                 (void);

G_END_DECLS
