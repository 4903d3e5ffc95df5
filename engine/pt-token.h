/* pt-token.h — access tokens: "i" + 16 characters + a Luhn mod 65 check character
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The format of tunnel-rs, so that users can bring their tokens: 18
 * characters, "i", 16 from the alphabet A–Z a–z 0–9 - _ . and a check
 * character that catches any single mistyped character and most swaps of
 * neighbours. Tokens are secrets: they never appear in error messages, are
 * wiped when freed and compared in constant time.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

#include "pt-keys.h"

G_BEGIN_DECLS

#define PT_TOKEN_LEN            18
#define PT_TOKEN_PREFIX         'i'
#define PT_TOKEN_BODY_LEN       16
#define PT_TOKEN_FILE_MAX_SIZE  (1024 * 1024)

/* A new random token (GnuTLS key-grade randomness). NULL and PT_KEY_ERROR_RANDOM
 * only if the system random generator fails. */
PtSecretString *pt_token_generate     (GError         **error);
/* Checks length, prefix, alphabet and check character, in that order. */
gboolean        pt_token_validate     (const char      *token,
                                       GError         **error);
/* Constant-time for tokens of the same length. */
gboolean        pt_token_equal        (const char      *a,
                                       const char      *b);
/* Compares @token with every entry (no early exit), in constant time. */
gboolean        pt_token_list_contains (GPtrArray      *tokens,
                                        const char     *token);

/* Parses token-file text: one token per line, surrounding white space ignored,
 * blank lines and lines starting with "#" skipped. Errors name @origin and
 * the line. Returns a GPtrArray of PtSecretString (wiped when freed); EMPTY
 * when there is no token at all. */
GPtrArray      *pt_token_list_parse   (const char      *text,
                                       const char      *origin,
                                       GError         **error);
/* Reads a token file (refused if its group or others may access it). */
GPtrArray      *pt_token_file_load    (const char      *path,
                                       GError         **error);

G_END_DECLS
