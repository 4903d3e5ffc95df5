/* pt-keys.h — long-term secp256k1 keys: nsec/npub (NIP-19), hex, key files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A secret key is an opaque PtSecretKey, wiped when freed. A public key is
 * the 32-byte x-only form of BIP-340 (what Nostr events carry). Both are
 * accepted as bech32 (nsec1…/npub1…) or as 64 hex characters.
 *
 * Secrets never appear in error messages. Strings that hold a secret are
 * PtSecretString: free them with pt_secret_string_free(), which wipes them.
 */
#pragma once

#if !defined(PT_INSIDE) && !defined(PT_COMPILATION)
# error "Only <pt.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

#define PT_KEY_LEN              32
#define PT_KEY_FILE_MAX_SIZE    4096  /* a key file is one line; anything longer is not one */

typedef struct _PtSecretKey PtSecretKey;

typedef struct
{
  guint8 bytes[PT_KEY_LEN];    /* x-only (BIP-340) */
} PtPublicKey;

/* A NUL-terminated string holding a secret; wiped by pt_secret_string_free(). */
typedef char PtSecretString;

void          pt_secret_string_free        (PtSecretString     *str);

/* A fresh key from the system's random generator (GNUTLS_RND_KEY). */
PtSecretKey  *pt_secret_key_generate       (GError            **error);
/* INVALID when @bytes is 0 or not below the curve order. */
PtSecretKey  *pt_secret_key_new_from_bytes (const guint8       *bytes,
                                            GError            **error);
/* "nsec1…" or 64 hex characters, surrounding white space ignored. */
PtSecretKey  *pt_secret_key_parse          (const char         *text,
                                            GError            **error);
PtSecretKey  *pt_secret_key_copy           (const PtSecretKey  *key);
void          pt_secret_key_free           (PtSecretKey        *key);
/* The 32 raw bytes; valid as long as @key is. */
const guint8 *pt_secret_key_get_bytes      (const PtSecretKey  *key);
const PtPublicKey *pt_secret_key_get_public (const PtSecretKey *key);
PtSecretString *pt_secret_key_to_nsec      (const PtSecretKey  *key);
PtSecretString *pt_secret_key_to_hex       (const PtSecretKey  *key);

/* "npub1…" or 64 hex characters; checks that it is a point of the curve. */
gboolean      pt_public_key_parse          (const char         *text,
                                            PtPublicKey        *out,
                                            GError            **error);
char         *pt_public_key_to_npub        (const PtPublicKey  *key);
char         *pt_public_key_to_hex         (const PtPublicKey  *key);
gboolean      pt_public_key_equal          (const PtPublicKey  *a,
                                            const PtPublicKey  *b);

/* Writes the key as "nsec1…\n" to @path, atomically and with mode 0600: a
 * temporary file in the same folder, fsync, then link (or rename with
 * @force) over @path. EXISTS when @path exists and @force is FALSE. On any
 * failure the temporary file is removed and @path is left as it was. */
gboolean      pt_secret_key_save           (const PtSecretKey  *key,
                                            const char         *path,
                                            gboolean            force,
                                            GError            **error);
/* Reads a key file (nsec or hex, white space ignored). PERMISSIONS when the
 * file's group or others may read or change it. */
PtSecretKey  *pt_secret_key_load           (const char         *path,
                                            GError            **error);

/* Reads a small file that holds a secret (a key, tokens, a rendezvous name):
 * refuses (PT_KEY_ERROR_PERMISSIONS) one that the group or others may read or
 * change, and one that is not a regular file of at most @max_size bytes.
 * @what names the file in errors ("name file"). Wipe the result. */
PtSecretString *pt_secret_file_read       (const char         *path,
                                           const char         *what,
                                           gsize               max_size,
                                           GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtSecretString, pt_secret_string_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PtSecretKey, pt_secret_key_free)

G_END_DECLS
