/* test-text.c — text from outside made safe to show on a terminal
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

static void
check (const char *in,
       const char *expected)
{
  g_autofree char *out = pt_text_escape (in, PT_TEXT_MAX_SHOWN);

  g_assert_cmpstr (out, ==, expected);
}

static void
test_plain_text_unchanged (void)
{
  check ("relay says: rate-limited", "relay says: rate-limited");
  check ("", "");
  check ("Grüße, 東京 — ok", "Grüße, 東京 — ok");
  check ("C:\\path", "C:\\path");
}

/* The hostile relay of issue 12: a forged "ready" line and a screen clear. */
static void
test_forged_line_and_escape_sequence (void)
{
  check ("bye\n ready 127.0.0.1:1\x1b[2J", "bye\\n ready 127.0.0.1:1\\x1b[2J");
  check ("a\rb\tc", "a\\rb\\tc");
  check ("\x07\x08\x7f", "\\x07\\x08\\x7f");
}

static void
test_c1_and_bidi (void)
{
  /* U+009B is CSI in 8-bit terminals; U+202E reverses what follows. */
  check ("x\xc2\x9b" "2Jy", "x\\u009b2Jy");
  check ("\xe2\x80\xae" "txt.exe", "\\u202etxt.exe");
  check ("a\xe2\x80\xa8" "b", "a\\u2028b");
}

static void
test_invalid_utf8 (void)
{
  check ("a\xff\xfe" "b", "a\\xff\\xfeb");
  check ("\xc3", "\\xc3");           /* cut sequence */
  check ("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
}

static void
test_length_bounded (void)
{
  g_autofree char *long_text = g_strnfill (10000, 'A');
  g_autofree char *escapes = g_strnfill (10000, '\x1b');
  g_autofree char *out = pt_text_escape (long_text, 100);
  g_autofree char *out2 = pt_text_escape (escapes, 100);

  g_assert_true (g_str_has_prefix (out, "AAAA"));
  g_assert_true (g_str_has_suffix (out, "…(9900 more bytes)"));
  g_assert_cmpuint (strlen (out), <, 140);
  g_assert_cmpuint (strlen (out2), <, 100 * 4 + 40);
  g_assert_null (strchr (out2, '\x1b'));
}

static void
test_append_null (void)
{
  g_autoptr(GString) out = g_string_new ("x");

  pt_text_append_escaped (out, NULL, 10);
  g_assert_cmpstr (out->str, ==, "x");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/text/plain", test_plain_text_unchanged);
  g_test_add_func ("/text/forged-line", test_forged_line_and_escape_sequence);
  g_test_add_func ("/text/c1-bidi", test_c1_and_bidi);
  g_test_add_func ("/text/invalid-utf8", test_invalid_utf8);
  g_test_add_func ("/text/bounded", test_length_bounded);
  g_test_add_func ("/text/append-null", test_append_null);

  return g_test_run ();
}
