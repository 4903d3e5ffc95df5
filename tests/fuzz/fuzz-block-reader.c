/* fuzz-block-reader.c — pt's standard-input block reader and terminal escaping
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: a first byte that picks the chunk size (1 to 256 bytes), then the
 * bytes of standard input. They are fed to a PtBlockReader in chunks of that
 * size, as pt's manual mode does with what read() returns. Every block must
 * begin with a BEGIN line and (unless truncated) end with an END line, be
 * UTF-8 and within the limits; every message, escaped as pt shows it, must be
 * one line with no control character.
 */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#include "config.h"

#include <string.h>

#include "pt.h"

static void
check_escaped (const char *text)
{
  g_autofree char *shown = pt_text_escape (text, 256);

  for (const unsigned char *p = (const unsigned char *) shown; *p != '\0'; p++)
    g_assert (*p >= 0x20 && *p != 0x7f);
  g_assert (g_utf8_validate (shown, -1, NULL));
  g_assert (strlen (shown) <= 256 * 4 + 64);
}

static void
drain (PtBlockReader *reader)
{
  PtBlockReaderItem item;
  char *text;

  while (pt_block_reader_next (reader, &item, &text))
    {
      g_assert (text != NULL);
      g_assert (g_utf8_validate (text, -1, NULL));
      switch (item)
        {
        case PT_BLOCK_READER_BLOCK:
          g_assert (pt_signal_is_end_line (text));
          G_GNUC_FALLTHROUGH;
        case PT_BLOCK_READER_TRUNCATED:
          g_assert (strstr (text, "-----BEGIN PEERTUNNEL") != NULL);
          g_assert (strlen (text) <= PT_BLOCK_READER_MAX_BLOCK);
          g_assert (strchr (text, '\r') == NULL);
          {
            g_autoptr(GError) error = NULL;
            g_autoptr(PtSignal) signal = pt_signal_dearmor (text, PT_SIGNAL_KIND_OFFER, &error);

            g_assert ((signal == NULL) == (error != NULL));
          }
          break;
        case PT_BLOCK_READER_WARNING:
        case PT_BLOCK_READER_ERROR:
          g_assert (g_str_has_prefix (text, "standard input"));
          break;
        }
      check_escaped (text);
      g_free (text);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(PtBlockReader) reader = NULL;
  gsize chunk;

  if (size == 0)
    return 0;

  {
    g_autofree char *text = g_strndup ((const char *) data, size);

    check_escaped (text);
  }

  chunk = (gsize) data[0] + 1;
  data++, size--;

  reader = pt_block_reader_new ();
  for (gsize off = 0; off < size; off += chunk)
    {
      pt_block_reader_feed (reader, data + off, MIN (chunk, size - off));
      drain (reader);
    }
  pt_block_reader_end (reader);
  drain (reader);
  return 0;
}
