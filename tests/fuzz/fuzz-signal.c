/* fuzz-signal.c — libFuzzer target for the offer/answer codec and armor
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds the input to every decoder of outside signaling text or bytes:
 * pt_signal_decode() as bytes, pt_signal_dearmor() for both kinds and
 * pt_forward_spec_parse() as text. Whatever decodes must encode again,
 * and the encoding must read back identically.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

/* @signal was decoded from something: its encoding must decode to itself. */
static GBytes *
check_reencodes (const PtSignal *signal)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = pt_signal_encode (signal, &error);
  g_autoptr(PtSignal) again = NULL;
  g_autoptr(GBytes) bytes_again = NULL;

  CHECK (bytes != NULL && error == NULL);
  again = pt_signal_decode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  CHECK (again != NULL && error == NULL);
  bytes_again = pt_signal_encode (again, &error);
  CHECK (bytes_again != NULL && g_bytes_equal (bytes, bytes_again));

  /* Freshness never fails without saying why, whatever the dates. */
  if (!pt_signal_check_fresh (signal, 1700000000, &error))
    CHECK (error != NULL);
  g_clear_error (&error);
  if (!pt_signal_check_fresh (signal, G_MININT64, &error))
    CHECK (error != NULL);

  return g_steal_pointer (&bytes);
}

static void
fuzz_binary (const uint8_t *data,
             size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) signal = pt_signal_decode (data, size, &error);
  g_autoptr(GBytes) bytes = NULL;

  CHECK ((signal == NULL) == (error != NULL));
  if (signal == NULL)
    return;

  /* A valid block has exactly one encoding. */
  bytes = check_reencodes (signal);
  CHECK (g_bytes_get_size (bytes) == size);
  CHECK (memcmp (g_bytes_get_data (bytes, NULL), data, size) == 0);
}

static void
fuzz_armor (const char   *text,
            PtSignalKind  kind)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) signal = pt_signal_dearmor (text, kind, &error);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *armored = NULL;
  g_autoptr(PtSignal) again = NULL;
  g_autoptr(GBytes) bytes_again = NULL;

  CHECK ((signal == NULL) == (error != NULL));
  if (signal == NULL)
    return;
  CHECK (signal->kind == kind);

  bytes = check_reencodes (signal);
  armored = pt_signal_armor (signal, &error);
  CHECK (armored != NULL);
  again = pt_signal_dearmor (armored, kind, &error);
  CHECK (again != NULL);
  bytes_again = pt_signal_encode (again, &error);
  CHECK (bytes_again != NULL && g_bytes_equal (bytes, bytes_again));
}

static void
fuzz_forward_spec (const char *text)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (text, &error);
  g_autoptr(PtForwardSpec) again = NULL;
  g_autofree char *canonical = NULL;

  CHECK ((spec == NULL) == (error != NULL));
  if (spec == NULL)
    return;

  canonical = pt_forward_spec_to_string (spec);
  again = pt_forward_spec_parse (canonical, &error);
  CHECK (again != NULL);
  CHECK (again->proto == spec->proto && again->port == spec->port);
  CHECK (strcmp (again->host, spec->host) == 0);
}

/* Random bytes almost never carry a right checksum, which would keep the
 * fuzzer out of the field checks: also try the input with its last 4 bytes
 * replaced by the checksum of the rest. */
static void
fuzz_binary_resealed (const uint8_t *data,
                      size_t         size)
{
  g_autoptr(GChecksum) checksum = NULL;
  g_autofree guint8 *copy = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  if (size < 4)
    return;

  copy = g_memdup2 (data, size);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, copy, (gssize) (size - 4));
  g_checksum_get_digest (checksum, digest, &digest_len);
  memcpy (copy + size - 4, digest, 4);
  fuzz_binary (copy, size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = NULL;

  fuzz_binary (data, size);
  fuzz_binary_resealed (data, size);

  /* The text decoders take C strings: an embedded NUL ends the text. */
  text = g_malloc (size + 1);
  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  fuzz_armor (text, PT_SIGNAL_KIND_OFFER);
  fuzz_armor (text, PT_SIGNAL_KIND_ANSWER);
  fuzz_forward_spec (text);
  (void) pt_signal_is_end_line (text);

  return 0;
}
