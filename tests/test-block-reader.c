/* test-block-reader.c — armored blocks out of a stream of pasted text
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

#define BLOCK "-----BEGIN PEERTUNNEL OFFER-----\nQUJD\n-----END PEERTUNNEL OFFER-----\n"

typedef struct
{
  PtBlockReaderItem  item;
  char              *text;
} Item;

static void
item_clear (gpointer data)
{
  g_free (((Item *) data)->text);
}

/* Feeds @text in pieces of @chunk bytes, then ends it; every item out. */
static GArray *
run (const char *text,
     gsize       len,
     gsize       chunk)
{
  g_autoptr(PtBlockReader) reader = pt_block_reader_new ();
  GArray *items = g_array_new (FALSE, TRUE, sizeof (Item));
  Item item;

  g_array_set_clear_func (items, item_clear);
  for (gsize off = 0; off < len; off += chunk)
    {
      pt_block_reader_feed (reader, (const guint8 *) text + off, MIN (chunk, len - off));
      while (pt_block_reader_next (reader, &item.item, &item.text))
        g_array_append_val (items, item);
    }
  pt_block_reader_end (reader);
  while (pt_block_reader_next (reader, &item.item, &item.text))
    g_array_append_val (items, item);
  return items;
}

#define ITEM(i) (&g_array_index (items, Item, i))

static void
test_one_block_any_chunking (void)
{
  const char *inputs[] = {
    "hello\n" BLOCK "bye\n",
    "-----BEGIN PEERTUNNEL OFFER-----\r\nQUJD\r\n-----END PEERTUNNEL OFFER-----\r\n",
    "-----BEGIN PEERTUNNEL OFFER-----\rQUJD\r-----END PEERTUNNEL OFFER-----",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    for (gsize chunk = 1; chunk <= strlen (inputs[i]); chunk++)
      {
        g_autoptr(GArray) items = run (inputs[i], strlen (inputs[i]), chunk);

        g_assert_cmpuint (items->len, ==, 1);
        g_assert_cmpint (ITEM (0)->item, ==, PT_BLOCK_READER_BLOCK);
        g_assert_cmpstr (ITEM (0)->text, ==, BLOCK);
      }
}

/* One bad byte costs a warning, not the rest of the input (issue 12). */
static void
test_invalid_bytes_skipped (void)
{
  const char input[] = "\xff\xfe junk\n" "-----BEGIN PEERTUNNEL OFFER-----\nQU\x80JD\n"
                       "-----END PEERTUNNEL OFFER-----\n" BLOCK;
  g_autoptr(GArray) items = run (input, sizeof input - 1, 7);

  g_assert_cmpuint (items->len, ==, 4);
  g_assert_cmpint (ITEM (0)->item, ==, PT_BLOCK_READER_WARNING);
  g_assert_nonnull (strstr (ITEM (0)->text, "line 1"));
  g_assert_nonnull (strstr (ITEM (0)->text, "2 bytes"));
  g_assert_cmpint (ITEM (1)->item, ==, PT_BLOCK_READER_WARNING);
  g_assert_nonnull (strstr (ITEM (1)->text, "line 3"));
  g_assert_cmpint (ITEM (2)->item, ==, PT_BLOCK_READER_BLOCK);
  g_assert_cmpstr (ITEM (2)->text, ==, BLOCK);
  g_assert_cmpint (ITEM (3)->item, ==, PT_BLOCK_READER_BLOCK);
}

static void
test_nul_bytes_skipped (void)
{
  const char input[] = "a\0b\n" BLOCK;
  g_autoptr(GArray) items = run (input, sizeof input - 1, 3);

  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpint (ITEM (0)->item, ==, PT_BLOCK_READER_WARNING);
  g_assert_cmpint (ITEM (1)->item, ==, PT_BLOCK_READER_BLOCK);
}

/* A line without end is counted, not kept; the block after it still works. */
static void
test_long_line_bounded (void)
{
  gsize n = 4 * 1024 * 1024;
  g_autoptr(PtBlockReader) reader = pt_block_reader_new ();
  g_autofree guint8 *junk = g_malloc (64 * 1024);
  PtBlockReaderItem item;
  char *text = NULL;

  memset (junk, 'A', 64 * 1024);
  for (gsize off = 0; off < n; off += 64 * 1024)
    {
      pt_block_reader_feed (reader, junk, 64 * 1024);
      g_assert_false (pt_block_reader_next (reader, &item, &text));
    }
  pt_block_reader_feed (reader, (const guint8 *) "\n" BLOCK, strlen ("\n" BLOCK));
  g_assert_true (pt_block_reader_next (reader, &item, &text));
  g_assert_cmpint (item, ==, PT_BLOCK_READER_ERROR);
  g_assert_nonnull (strstr (text, "line 1"));
  g_assert_nonnull (strstr (text, "4194304 bytes"));
  g_clear_pointer (&text, g_free);
  g_assert_true (pt_block_reader_next (reader, &item, &text));
  g_assert_cmpint (item, ==, PT_BLOCK_READER_BLOCK);
  g_assert_cmpstr (text, ==, BLOCK);
  g_free (text);
}

static void
test_long_block_skipped (void)
{
  g_autoptr(GString) input = g_string_new ("-----BEGIN PEERTUNNEL OFFER-----\n");
  g_autoptr(GArray) items = NULL;

  while (input->len <= PT_BLOCK_READER_MAX_BLOCK)
    g_string_append (input, "QUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJDQUJD\n");
  g_string_append (input, "-----END PEERTUNNEL OFFER-----\n" BLOCK);
  items = run (input->str, input->len, 4096);
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpint (ITEM (0)->item, ==, PT_BLOCK_READER_ERROR);
  g_assert_nonnull (strstr (ITEM (0)->text, "began on line 1"));
  g_assert_cmpint (ITEM (1)->item, ==, PT_BLOCK_READER_BLOCK);
  g_assert_cmpstr (ITEM (1)->text, ==, BLOCK);
}

static void
test_truncated_at_end (void)
{
  const char input[] = "-----BEGIN PEERTUNNEL ANSWER-----\nQUJD";
  g_autoptr(GArray) items = run (input, sizeof input - 1, 5);

  g_assert_cmpuint (items->len, ==, 1);
  g_assert_cmpint (ITEM (0)->item, ==, PT_BLOCK_READER_TRUNCATED);
  g_assert_cmpstr (ITEM (0)->text, ==, "-----BEGIN PEERTUNNEL ANSWER-----\nQUJD\n");
}

static void
test_reports_capped (void)
{
  g_autoptr(GString) input = g_string_new (NULL);
  g_autoptr(GArray) items = NULL;

  for (guint i = 0; i < 1000; i++)
    g_string_append (input, "\xff\n");
  items = run (input->str, input->len, 100);
  g_assert_cmpuint (items->len, ==, PT_BLOCK_READER_MAX_REPORTS + 1);
  g_assert_nonnull (strstr (ITEM (PT_BLOCK_READER_MAX_REPORTS)->text, "no further"));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/block-reader/chunking", test_one_block_any_chunking);
  g_test_add_func ("/block-reader/invalid-bytes", test_invalid_bytes_skipped);
  g_test_add_func ("/block-reader/nul-bytes", test_nul_bytes_skipped);
  g_test_add_func ("/block-reader/long-line", test_long_line_bounded);
  g_test_add_func ("/block-reader/long-block", test_long_block_skipped);
  g_test_add_func ("/block-reader/truncated", test_truncated_at_end);
  g_test_add_func ("/block-reader/reports-capped", test_reports_capped);

  return g_test_run ();
}
