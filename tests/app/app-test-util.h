/* app-test-util.h — helpers shared by the app's widget tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

/* Runs the default main context until @cond holds or @timeout_ms passes;
 * returns whether it held. Clicks and transitions animate for ~250 ms. */

static inline gboolean
spin_for_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  return TRUE;
}

#define SPIN_UNTIL(cond, timeout_ms)                                      \
  G_STMT_START {                                                          \
    gint64 _end = g_get_monotonic_time () + (gint64) (timeout_ms) * 1000; \
    while (!(cond) && g_get_monotonic_time () < _end)                     \
      if (!g_main_context_iteration (NULL, FALSE))                        \
        g_usleep (1000);                                                  \
  } G_STMT_END

/* Widgets of @type under @root, depth first (the list is owned by the caller). */
static inline void
collect_widgets (GtkWidget *root,
                 GType      type,
                 GPtrArray *out)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    g_ptr_array_add (out, root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    collect_widgets (child, type, out);
}

/* Waits for the windows that were destroyed to be finalized by GTK. */
static inline void
drain_main_context (void)
{
  spin_for_ms (50);
}
