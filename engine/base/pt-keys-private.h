/* pt-keys-private.h — what other engine files share with pt-keys.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <secp256k1.h>

#include "pt.h"

G_BEGIN_DECLS

/* One process-wide context, created and randomized on first use. */
const secp256k1_context *_pt_secp256k1_context (void);

/* Reads a file that holds a secret: refuses (PT_KEY_ERROR_PERMISSIONS) one that
 * the group or others may read or change, or that is not a regular file or is
 * larger than @max_size. The contents are NUL-terminated; wipe them with
 * pt_secret_string_free(). @what names the file in errors ("key file"). */
PtSecretString *_pt_secret_file_read (const char *path,
                                      const char *what,
                                      gsize       max_size,
                                      GError    **error);

/* Constant-time equality of two buffers of the same length. */
gboolean        _pt_memequal_ct      (const void *a,
                                      const void *b,
                                      gsize       len);

/* bech32 (BIP-173, not bech32m) of 8-bit @data under @hrp. */
char           *_pt_bech32_encode    (const char   *hrp,
                                      const guint8 *data,
                                      gsize         len);
/* Decodes @text (one case only) into its hrp and 8-bit data; the errors say
 * whether it is malformed (INVALID) or mistyped (CHECKSUM). */
gboolean        _pt_bech32_decode    (const char  *text,
                                      char       **hrp,
                                      GByteArray **data,
                                      GError     **error);

/* A token whose body is drawn from @bytes (uniformly: bytes that would bias
 * it are skipped); NULL if @bytes run out first. 64 bytes are plenty. */
PtSecretString *_pt_token_new_from_bytes (const guint8 *bytes,
                                          gsize         len);

G_END_DECLS
