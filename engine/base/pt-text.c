/* pt-text.c — text from outside made safe to show on a terminal
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Relays and peers choose some of the text pt prints (a relay's CLOSED or
 * NOTICE reason, a peer's refusal): printed raw, an ESC sequence could clear
 * the screen or move the cursor, and a newline could forge a line that
 * scripts wait for ("ready ADDRESS"). Everything a terminal would act on is
 * shown as an escape instead; printable text, including non-ASCII letters,
 * is left alone.
 */
#define G_LOG_DOMAIN "pt-text"

#include "config.h"

#include <string.h>

#include "pt.h"

/* Code points a terminal acts on or that reorder what is shown. */
static gboolean
is_unsafe_code_point (gunichar c)
{
  return c < 0x20 || c == 0x7f ||
         (c >= 0x80 && c <= 0x9f) ||        /* C1 controls (CSI, OSC…) */
         c == 0x2028 || c == 0x2029 ||      /* line and paragraph separators */
         (c >= 0x202a && c <= 0x202e) ||    /* bidirectional embeddings, overrides */
         (c >= 0x2066 && c <= 0x2069) ||    /* bidirectional isolates */
         c == 0x200e || c == 0x200f ||      /* direction marks */
         c == 0xfeff;                       /* a byte order mark mid-text */
}

void
pt_text_append_escaped (GString    *out,
                        const char *text,
                        gsize       max_bytes)
{
  const char *p, *end;
  gsize len;

  g_return_if_fail (out != NULL);

  if (text == NULL)
    return;

  len = strlen (text);
  p = text;
  end = text + MIN (len, max_bytes);

  while (p < end)
    {
      const char *valid_end;
      gunichar c;

      /* The longest valid prefix is copied through, code point by code point. */
      g_utf8_validate_len (p, end - p, &valid_end);
      if (valid_end == p)
        {
          /* Not UTF-8 here (or a sequence cut by the limit). */
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }

      while (p < valid_end)
        {
          const char *next = g_utf8_next_char (p);

          c = g_utf8_get_char (p);
          if (!is_unsafe_code_point (c))
            g_string_append_len (out, p, next - p);
          else if (c == '\n')
            g_string_append (out, "\\n");
          else if (c == '\r')
            g_string_append (out, "\\r");
          else if (c == '\t')
            g_string_append (out, "\\t");
          else if (c < 0x80)
            g_string_append_printf (out, "\\x%02x", c);
          else
            g_string_append_printf (out, "\\u%04x", c);
          p = next;
        }
    }

  if (len > max_bytes)
    g_string_append_printf (out, "…(%" G_GSIZE_FORMAT " more bytes)", len - max_bytes);
}

char *
pt_text_escape (const char *text,
                gsize       max_bytes)
{
  GString *out = g_string_new (NULL);

  pt_text_append_escaped (out, text, max_bytes);
  return g_string_free (out, FALSE);
}
