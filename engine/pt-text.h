/* pt-text.h — text from outside made safe to show on a terminal
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* How many bytes of one string a line shows by default. */
#define PT_TEXT_MAX_SHOWN 1024

/* Appends @text to @out so that a terminal shows it as one line of plain
 * characters and interprets none of it: C0 controls (ESC, CR, LF, TAB…), DEL,
 * C1 controls, line and paragraph separators and bidirectional overrides
 * become visible escapes ("\x1b", "\n", "\u009b", "\u202e"), and each byte
 * that is not part of valid UTF-8 becomes "\xNN". At most @max_bytes bytes of
 * @text are shown; the rest is summarised as "…(N more bytes)". @text may be
 * NULL (appends nothing). */
void  pt_text_append_escaped (GString    *out,
                              const char *text,
                              gsize       max_bytes);
/* The same, as a new string. */
char *pt_text_escape         (const char *text,
                              gsize       max_bytes);

G_END_DECLS
