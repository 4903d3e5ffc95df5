/* pt-block-reader.h — armored blocks out of a stream of pasted text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* A line longer than this is skipped (and so is the block it is part of). */
#define PT_BLOCK_READER_MAX_LINE   (16 * 1024)
/* A block longer than this is skipped. */
#define PT_BLOCK_READER_MAX_BLOCK  (64 * 1024)
/* Problems reported before the reader falls silent about further ones. */
#define PT_BLOCK_READER_MAX_REPORTS 20

typedef enum
{
  PT_BLOCK_READER_BLOCK,       /* a whole block, its BEGIN line to its END line */
  PT_BLOCK_READER_TRUNCATED,   /* what arrived of a block before the input ended */
  PT_BLOCK_READER_WARNING,     /* bytes that were skipped; the rest was kept */
  PT_BLOCK_READER_ERROR,       /* a line or block that was skipped whole */
} PtBlockReaderItem;

typedef struct _PtBlockReader PtBlockReader;

/* A sans-I/O reader: bytes in (any chunking), blocks and diagnostics out.
 * Lines end with LF, CR LF or CR; bytes that are not UTF-8 text (and NULs)
 * are dropped from their line with a warning; memory stays bounded by the
 * limits above, whatever the input. */
PtBlockReader    *pt_block_reader_new  (void);
void              pt_block_reader_free (PtBlockReader  *reader);
void              pt_block_reader_feed (PtBlockReader  *reader,
                                        const guint8   *data,
                                        gsize           len);
/* The input ended: the last line (even without a newline) is read, and a
 * block left open is handed over as PT_BLOCK_READER_TRUNCATED. */
void              pt_block_reader_end  (PtBlockReader  *reader);
/* Takes the oldest item: FALSE when there is none. @text is a block for
 * BLOCK/TRUNCATED, a message ("standard input, line 3: …") otherwise. */
gboolean          pt_block_reader_next (PtBlockReader      *reader,
                                        PtBlockReaderItem  *item,
                                        char              **text);
/* Lines read so far. */
guint64           pt_block_reader_get_lines (PtBlockReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtBlockReader, pt_block_reader_free)

G_END_DECLS
