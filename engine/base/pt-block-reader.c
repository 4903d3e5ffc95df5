/* pt-block-reader.c — armored blocks out of a stream of pasted text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * pt's manual mode reads offer and answer blocks from standard input, which
 * may be a terminal, a pipe from a script, or a socket that anyone feeds. The
 * reader keeps at most one line (PT_BLOCK_READER_MAX_LINE) and one block
 * (PT_BLOCK_READER_MAX_BLOCK) in memory: a longer line is counted but not
 * kept, then reported and skipped. Invalid UTF-8 never ends the input: the
 * bytes are dropped from their line, which is still read. Items queue up
 * only for the bytes of one feed, so the caller that drains them after every
 * feed keeps the queue bounded too.
 */
#define G_LOG_DOMAIN "pt-block-reader"

#include "config.h"

#include <string.h>

#include "pt.h"

#define BEGIN_MARKER "-----BEGIN PEERTUNNEL"

typedef struct
{
  PtBlockReaderItem  item;
  char              *text;
} Queued;

struct _PtBlockReader
{
  GString  *line;
  gsize     line_len;        /* the line's whole length, kept or not */
  gboolean  after_cr;        /* the last byte ended a line with CR */
  guint64   lines;           /* lines completed */

  GString  *block;
  gboolean  in_block;
  guint64   block_start;     /* line number of the block's BEGIN line */

  guint     reports;
  gboolean  ended;
  GQueue    queue;           /* Queued* */
};

PtBlockReader *
pt_block_reader_new (void)
{
  PtBlockReader *reader = g_new0 (PtBlockReader, 1);

  reader->line = g_string_sized_new (128);
  reader->block = g_string_sized_new (1024);
  g_queue_init (&reader->queue);
  return reader;
}

static void
queued_free (gpointer data)
{
  Queued *queued = data;

  g_free (queued->text);
  g_free (queued);
}

void
pt_block_reader_free (PtBlockReader *reader)
{
  if (reader == NULL)
    return;
  g_string_free (reader->line, TRUE);
  g_string_free (reader->block, TRUE);
  g_queue_clear_full (&reader->queue, queued_free);
  g_free (reader);
}

static void
push (PtBlockReader     *reader,
      PtBlockReaderItem  item,
      char              *text)
{
  Queued *queued = g_new0 (Queued, 1);

  queued->item = item;
  queued->text = text;
  g_queue_push_tail (&reader->queue, queued);
}

static void report (PtBlockReader     *reader,
                    PtBlockReaderItem  item,
                    const char        *format,
                    ...) G_GNUC_PRINTF (3, 4);

/* A problem, until PT_BLOCK_READER_MAX_REPORTS of them have been said. */
static void
report (PtBlockReader     *reader,
        PtBlockReaderItem  item,
        const char        *format,
        ...)
{
  va_list args;

  if (reader->reports > PT_BLOCK_READER_MAX_REPORTS)
    return;
  if (reader->reports++ == PT_BLOCK_READER_MAX_REPORTS)
    {
      push (reader, PT_BLOCK_READER_WARNING,
            g_strdup ("standard input: too many problems; no further ones are reported"));
      return;
    }

  va_start (args, format);
  push (reader, item, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
abandon_block (PtBlockReader *reader)
{
  g_string_truncate (reader->block, 0);
  reader->in_block = FALSE;
}

/* Drops what is not UTF-8 (and NULs) from the line; how many bytes went. */
static gsize
drop_invalid_bytes (GString *line)
{
  gsize kept = 0, dropped = 0, i = 0;

  while (i < line->len)
    {
      const char *valid_end;

      g_utf8_validate_len (line->str + i, line->len - i, &valid_end);
      if (valid_end == line->str + i)
        {
          dropped++;
          i++;
          continue;
        }
      memmove (line->str + kept, line->str + i, valid_end - (line->str + i));
      kept += valid_end - (line->str + i);
      i = valid_end - line->str;
    }
  g_string_truncate (line, kept);
  return dropped;
}

static void
line_done (PtBlockReader *reader)
{
  guint64 number = ++reader->lines;
  GString *line = reader->line;
  gsize dropped;

  if (reader->line_len > PT_BLOCK_READER_MAX_LINE)
    {
      if (reader->in_block)
        report (reader, PT_BLOCK_READER_ERROR,
                "standard input, line %" G_GUINT64_FORMAT ": a line of %" G_GSIZE_FORMAT
                " bytes (at most %d fit): skipping it and the block that began on line %"
                G_GUINT64_FORMAT,
                number, reader->line_len, PT_BLOCK_READER_MAX_LINE, reader->block_start);
      else
        report (reader, PT_BLOCK_READER_ERROR,
                "standard input, line %" G_GUINT64_FORMAT ": a line of %" G_GSIZE_FORMAT
                " bytes (at most %d fit): skipping it",
                number, reader->line_len, PT_BLOCK_READER_MAX_LINE);
      abandon_block (reader);
      goto out;
    }

  dropped = drop_invalid_bytes (line);
  if (dropped > 0)
    report (reader, PT_BLOCK_READER_WARNING,
            "standard input, line %" G_GUINT64_FORMAT ": skipped %" G_GSIZE_FORMAT
            " byte%s that %s not UTF-8 text",
            number, dropped, dropped == 1 ? "" : "s", dropped == 1 ? "is" : "are");

  if (!reader->in_block && strstr (line->str, BEGIN_MARKER) != NULL)
    {
      reader->in_block = TRUE;
      reader->block_start = number;
    }
  if (!reader->in_block)
    goto out;

  g_string_append_len (reader->block, line->str, line->len);
  g_string_append_c (reader->block, '\n');
  if (reader->block->len > PT_BLOCK_READER_MAX_BLOCK)
    {
      report (reader, PT_BLOCK_READER_ERROR,
              "standard input, line %" G_GUINT64_FORMAT ": the block that began on line %"
              G_GUINT64_FORMAT " is longer than %d KiB: skipping it",
              number, reader->block_start, PT_BLOCK_READER_MAX_BLOCK / 1024);
      abandon_block (reader);
    }
  else if (pt_signal_is_end_line (line->str))
    {
      push (reader, PT_BLOCK_READER_BLOCK, g_strdup (reader->block->str));
      abandon_block (reader);
    }

out:
  g_string_truncate (line, 0);
  reader->line_len = 0;
}

static void
append_to_line (PtBlockReader *reader,
                const guint8  *data,
                gsize          len)
{
  gsize room = reader->line_len < PT_BLOCK_READER_MAX_LINE + 1
               ? PT_BLOCK_READER_MAX_LINE + 1 - reader->line_len : 0;

  /* One byte past the limit is kept so that the line is known to be too long;
   * beyond that only the count grows. */
  if (room > 0)
    g_string_append_len (reader->line, (const char *) data, MIN (len, room));
  reader->line_len = len > G_MAXSIZE - reader->line_len ? G_MAXSIZE : reader->line_len + len;
}

void
pt_block_reader_feed (PtBlockReader *reader,
                      const guint8  *data,
                      gsize          len)
{
  const guint8 *p = data, *end = data + len;

  g_return_if_fail (reader != NULL);
  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (!reader->ended);

  while (p < end)
    {
      const guint8 *nl;

      if (reader->after_cr)
        {
          reader->after_cr = FALSE;
          if (*p == '\n')
            {
              p++;
              continue;
            }
        }

      /* The next line end, LF or CR. */
      for (nl = p; nl < end && *nl != '\n' && *nl != '\r'; nl++)
        ;
      append_to_line (reader, p, nl - p);
      if (nl == end)
        break;
      reader->after_cr = *nl == '\r';
      line_done (reader);
      p = nl + 1;
    }
}

void
pt_block_reader_end (PtBlockReader *reader)
{
  g_return_if_fail (reader != NULL);

  if (reader->ended)
    return;
  reader->ended = TRUE;

  if (reader->line_len > 0)
    line_done (reader);
  if (reader->in_block)
    {
      /* The decoder then says what is missing. */
      push (reader, PT_BLOCK_READER_TRUNCATED, g_strdup (reader->block->str));
      abandon_block (reader);
    }
}

gboolean
pt_block_reader_next (PtBlockReader      *reader,
                      PtBlockReaderItem  *item,
                      char              **text)
{
  Queued *queued;

  g_return_val_if_fail (reader != NULL, FALSE);
  g_return_val_if_fail (item != NULL && text != NULL, FALSE);

  queued = g_queue_pop_head (&reader->queue);
  if (queued == NULL)
    return FALSE;
  *item = queued->item;
  *text = g_steal_pointer (&queued->text);
  g_free (queued);
  return TRUE;
}

guint64
pt_block_reader_get_lines (PtBlockReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->lines;
}
