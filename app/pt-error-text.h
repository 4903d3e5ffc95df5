/* pt-error-text.h — the engine's errors in the app's words
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The engine's network, pairing and key errors carry pt's English; the app
 * shows its own, translated text for each domain and code instead. The
 * specifics some of them carry (which service was refused, which port) are
 * kept in parentheses. Errors the engine already words for the app (the
 * profile's and the service's) pass through unchanged.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *pt_describe_error (const GError *error);

G_END_DECLS
