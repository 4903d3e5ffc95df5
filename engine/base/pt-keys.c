/* pt-keys.c — long-term secp256k1 keys: nsec/npub (NIP-19), hex, key files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bech32 follows BIP-173 (NIP-19 uses bech32, not bech32m): a human-readable
 * part, "1", the data as 5-bit groups and a 6-character BCH checksum.
 *
 * Key files are written so that a crash or a full disk never leaves a
 * half-written key behind: the key goes to a temporary file created with
 * O_EXCL and mode 0600 in the target's folder, is fsync()ed, and then takes
 * the target's name in one step — link() when overwriting is not allowed (so
 * that a file appearing meanwhile is not clobbered either), rename() with
 * force. The folder is fsync()ed last so that the new name survives a crash.
 */
#define G_LOG_DOMAIN "pt-keys"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>

#include "pt-keys-private.h"

#define NSEC_HRP        "nsec"
#define NPUB_HRP        "npub"
#define BECH32_MAX_LEN  90
#define BECH32_CHECKSUM 6
#define GENERATE_TRIES  64  /* a random 256-bit string is a valid key with probability 1 - 2^-128 */

struct _PtSecretKey
{
  guint8      bytes[PT_KEY_LEN];
  PtPublicKey public_key;
};

/* ---------------------------------------------------------------------- */
/* Shared helpers */

void
pt_secret_string_free (PtSecretString *str)
{
  if (str == NULL)
    return;
  explicit_bzero (str, strlen (str));
  g_free (str);
}

gboolean
_pt_memequal_ct (const void *a,
                 const void *b,
                 gsize       len)
{
  const volatile guint8 *pa = a;
  const volatile guint8 *pb = b;
  guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= pa[i] ^ pb[i];
  return diff == 0;
}

const secp256k1_context *
_pt_secp256k1_context (void)
{
  static secp256k1_context *context;

  if (g_once_init_enter (&context))
    {
      secp256k1_context *ctx = secp256k1_context_create (SECP256K1_CONTEXT_NONE);
      guint8 seed[32];

      /* Randomizing protects signing against side channels; without a seed
       * the context still works, so a failing generator is not fatal here. */
      if (gnutls_rnd (GNUTLS_RND_RANDOM, seed, sizeof seed) == 0)
        {
          if (!secp256k1_context_randomize (ctx, seed))
            g_debug ("could not randomize the secp256k1 context");
        }
      explicit_bzero (seed, sizeof seed);
      g_once_init_leave (&context, ctx);
    }
  return context;
}

static char *
hex_encode (const guint8 *data,
            gsize         len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc (len * 2 + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0xf];
    }
  out[len * 2] = '\0';
  return out;
}

/* TRUE if @text is exactly 2 * @len hex digits (either case); fills @out. */
static gboolean
hex_decode (const char *text,
            guint8     *out,
            gsize       len)
{
  if (strlen (text) != len * 2)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]);
      int lo = g_ascii_xdigit_value (text[2 * i + 1]);

      if (hi < 0 || lo < 0)
        {
          explicit_bzero (out, len);
          return FALSE;
        }
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* bech32 (BIP-173) */

static const char bech32_charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static guint32
bech32_polymod_step (guint32 chk,
                     guint8  value)
{
  static const guint32 generator[5] = {
    0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3,
  };
  guint32 top = chk >> 25;

  chk = ((chk & 0x1ffffff) << 5) ^ value;
  for (guint i = 0; i < 5; i++)
    if ((top >> i) & 1)
      chk ^= generator[i];
  return chk;
}

static guint32
bech32_polymod (const char   *hrp,
                const guint8 *values,
                gsize         n_values)
{
  gsize hrp_len = strlen (hrp);
  guint32 chk = 1;

  for (gsize i = 0; i < hrp_len; i++)
    chk = bech32_polymod_step (chk, (guint8) hrp[i] >> 5);
  chk = bech32_polymod_step (chk, 0);
  for (gsize i = 0; i < hrp_len; i++)
    chk = bech32_polymod_step (chk, (guint8) hrp[i] & 31);
  for (gsize i = 0; i < n_values; i++)
    chk = bech32_polymod_step (chk, values[i]);
  return chk;
}

char *
_pt_bech32_encode (const char   *hrp,
                   const guint8 *data,
                   gsize         len)
{
  g_autoptr(GByteArray) values = g_byte_array_new ();
  GString *out;
  guint32 acc = 0, chk;
  guint bits = 0;

  /* 8-bit bytes to 5-bit groups, the last one padded with zeros. */
  for (gsize i = 0; i < len; i++)
    {
      acc = (acc << 8) | data[i];
      bits += 8;
      while (bits >= 5)
        {
          guint8 v = (acc >> (bits - 5)) & 31;

          g_byte_array_append (values, &v, 1);
          bits -= 5;
        }
    }
  if (bits > 0)
    {
      guint8 v = (acc << (5 - bits)) & 31;

      g_byte_array_append (values, &v, 1);
    }

  /* The checksum: the polymod of the values followed by six zeros. */
  {
    guint8 zeros[BECH32_CHECKSUM] = { 0 };
    guint n = values->len;

    g_byte_array_append (values, zeros, sizeof zeros);
    chk = bech32_polymod (hrp, values->data, values->len) ^ 1;
    g_byte_array_set_size (values, n);
    for (guint i = 0; i < BECH32_CHECKSUM; i++)
      {
        guint8 v = (chk >> (5 * (5 - i))) & 31;

        g_byte_array_append (values, &v, 1);
      }
  }

  out = g_string_new (hrp);
  g_string_append_c (out, '1');
  for (guint i = 0; i < values->len; i++)
    g_string_append_c (out, bech32_charset[values->data[i]]);
  explicit_bzero (values->data, values->len);
  explicit_bzero (&acc, sizeof acc);
  return g_string_free (out, FALSE);
}

static void
wipe_byte_array (GByteArray *array)
{
  if (array == NULL)
    return;
  if (array->len > 0)
    explicit_bzero (array->data, array->len);
  g_byte_array_unref (array);
}

gboolean
_pt_bech32_decode (const char  *text,
                   char       **hrp_out,
                   GByteArray **data_out,
                   GError     **error)
{
  gsize len = strlen (text);
  const char *sep;
  gsize hrp_len, n_values;
  gboolean has_lower = FALSE, has_upper = FALSE;
  g_autofree char *hrp = NULL;
  guint8 values[BECH32_MAX_LEN];
  g_autoptr(GByteArray) data = NULL;
  guint32 acc = 0;
  guint bits = 0;

  if (len > BECH32_MAX_LEN)
    {
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                   "too long for a bech32 string (%" G_GSIZE_FORMAT " characters, at most %d)",
                   len, BECH32_MAX_LEN);
      return FALSE;
    }
  for (gsize i = 0; i < len; i++)
    {
      guchar c = text[i];

      if (c < 33 || c > 126)
        {
          g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                       "character %" G_GSIZE_FORMAT " is a space, a control character or not ASCII",
                       i + 1);
          return FALSE;
        }
      has_lower |= g_ascii_islower (c);
      has_upper |= g_ascii_isupper (c);
    }
  if (has_lower && has_upper)
    {
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "mixes upper and lower case, which bech32 does not allow");
      return FALSE;
    }

  sep = strrchr (text, '1');
  if (sep == NULL || sep == text)
    {
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "not a bech32 string (no prefix such as “npub1” or “nsec1”)");
      return FALSE;
    }
  hrp_len = sep - text;
  n_values = len - hrp_len - 1;
  if (n_values < BECH32_CHECKSUM)
    {
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "too short for a bech32 string: cut off while copying?");
      return FALSE;
    }

  hrp = g_ascii_strdown (text, hrp_len);
  for (gsize i = 0; i < n_values; i++)
    {
      const char *p = strchr (bech32_charset, g_ascii_tolower (sep[1 + i]));

      if (p == NULL || *p == '\0')
        {
          explicit_bzero (values, n_values);
          g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                       "character %" G_GSIZE_FORMAT " is not a bech32 character "
                       "(bech32 has no “1”, “b”, “i” or “o” after the prefix)",
                       hrp_len + 2 + i);
          return FALSE;
        }
      values[i] = (guint8) (p - bech32_charset);
    }

  if (bech32_polymod (hrp, values, n_values) != 1)
    {
      explicit_bzero (values, n_values);
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_CHECKSUM,
                           "bad checksum: mistyped?");
      return FALSE;
    }

  /* 5-bit groups back to bytes; the padding must be fewer than 5 zero bits. */
  data = g_byte_array_new ();
  for (gsize i = 0; i < n_values - BECH32_CHECKSUM; i++)
    {
      acc = (acc << 5) | values[i];
      bits += 5;
      if (bits >= 8)
        {
          guint8 byte = (acc >> (bits - 8)) & 0xff;

          g_byte_array_append (data, &byte, 1);
          bits -= 8;
        }
    }
  explicit_bzero (values, n_values);
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0)
    {
      wipe_byte_array (g_steal_pointer (&data));
      explicit_bzero (&acc, sizeof acc);
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "not a valid bech32 string (bad padding)");
      return FALSE;
    }
  explicit_bzero (&acc, sizeof acc);

  *hrp_out = g_steal_pointer (&hrp);
  *data_out = g_steal_pointer (&data);
  return TRUE;
}

/* Decodes a NIP-19 key of kind @want_hrp into @out. */
static gboolean
decode_nip19_key (const char *text,
                  const char *want_hrp,
                  guint8     *out,
                  GError    **error)
{
  g_autofree char *hrp = NULL;
  GByteArray *data = NULL;
  gboolean want_secret = g_str_equal (want_hrp, NSEC_HRP);

  if (!_pt_bech32_decode (text, &hrp, &data, error))
    return FALSE;

  if (!g_str_equal (hrp, want_hrp))
    {
      if (want_secret && g_str_equal (hrp, NPUB_HRP))
        g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND,
                             "this is an npub (a public key), an nsec was expected");
      else if (!want_secret && g_str_equal (hrp, NSEC_HRP))
        g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND,
                             "this is an nsec (a secret key: keep it to yourself), "
                             "an npub was expected");
      else
        g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND,
                     "this is a bech32 “%s” string, an %s was expected",
                     g_utf8_validate (hrp, -1, NULL) ? hrp : "?", want_hrp);
      wipe_byte_array (data);
      return FALSE;
    }
  if (data->len != PT_KEY_LEN)
    {
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                   "this %s holds %u bytes, a key has %d", want_hrp, data->len, PT_KEY_LEN);
      wipe_byte_array (data);
      return FALSE;
    }
  memcpy (out, data->data, PT_KEY_LEN);
  wipe_byte_array (data);
  return TRUE;
}

/* Fills @out from "PREFIX1…" or 64 hex characters; @text already trimmed. */
static gboolean
decode_key_text (const char *text,
                 const char *hrp,
                 guint8     *out,
                 GError    **error)
{
  gsize len = strlen (text);

  if (len == 0)
    {
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                   "empty: an %s or 64 hex characters was expected", hrp);
      return FALSE;
    }
  if (len == PT_KEY_LEN * 2 && hex_decode (text, out, PT_KEY_LEN))
    return TRUE;
  /* Anything with the bech32 separator is treated as bech32, for its errors. */
  if (strchr (text, '1') != NULL)
    return decode_nip19_key (text, hrp, out, error);

  g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
               "not a key: an %s1… string or 64 hex characters was expected", hrp);
  return FALSE;
}

/* ---------------------------------------------------------------------- */
/* Secret keys */

/* Key material lives on pages of its own that a core dump leaves out
 * (MADV_DONTDUMP), on top of the process being undumpable (pt_disable_core_dumps()):
 * a dump made anyway (a debugger's gcore, PT_DUMPABLE=1) still lacks the key. */
static gsize
secure_size (gsize size)
{
  gsize page = (gsize) sysconf (_SC_PAGESIZE);

  return (size + page - 1) / page * page;
}

static gpointer
secure_alloc0 (gsize size)
{
  gsize full = secure_size (size);
  gpointer mem = NULL;

  if (posix_memalign (&mem, (gsize) sysconf (_SC_PAGESIZE), full) != 0)
    g_error ("out of memory for %" G_GSIZE_FORMAT " bytes of key material", full);
  memset (mem, 0, full);
#ifdef MADV_DONTDUMP
  if (madvise (mem, full, MADV_DONTDUMP) != 0)
    g_debug ("madvise(MADV_DONTDUMP) failed: %s", g_strerror (errno));
#endif
  return mem;
}

static void
secure_free (gpointer mem,
             gsize    size)
{
  gsize full = secure_size (size);

  if (mem == NULL)
    return;
  explicit_bzero (mem, full);
#ifdef MADV_DODUMP
  /* The allocator may hand these pages to anything next. */
  madvise (mem, full, MADV_DODUMP);
#endif
  free (mem);
}

static PtSecretKey *
secret_key_new (const guint8 *bytes,
                GError      **error)
{
  const secp256k1_context *ctx = _pt_secp256k1_context ();
  g_autoptr(PtSecretKey) key = NULL;
  secp256k1_keypair keypair;
  secp256k1_xonly_pubkey xonly;

  if (!secp256k1_ec_seckey_verify (ctx, bytes))
    {
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "not a valid secp256k1 secret key (zero, or not below the curve order)");
      return NULL;
    }

  key = secure_alloc0 (sizeof (PtSecretKey));
  memcpy (key->bytes, bytes, PT_KEY_LEN);
  if (!secp256k1_keypair_create (ctx, &keypair, key->bytes) ||
      !secp256k1_keypair_xonly_pub (ctx, &xonly, NULL, &keypair) ||
      !secp256k1_xonly_pubkey_serialize (ctx, key->public_key.bytes, &xonly))
    {
      explicit_bzero (&keypair, sizeof keypair);
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "not a valid secp256k1 secret key");
      return NULL;
    }
  explicit_bzero (&keypair, sizeof keypair);
  return g_steal_pointer (&key);
}

PtSecretKey *
pt_secret_key_generate (GError **error)
{
  guint8 bytes[PT_KEY_LEN];

  for (guint i = 0; i < GENERATE_TRIES; i++)
    {
      int ret = gnutls_rnd (GNUTLS_RND_KEY, bytes, sizeof bytes);

      if (ret < 0)
        {
          explicit_bzero (bytes, sizeof bytes);
          g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_RANDOM,
                       "the system random generator failed: %s", gnutls_strerror (ret));
          return NULL;
        }
      if (secp256k1_ec_seckey_verify (_pt_secp256k1_context (), bytes))
        {
          PtSecretKey *key = secret_key_new (bytes, error);

          explicit_bzero (bytes, sizeof bytes);
          g_debug ("generated a new secret key");
          return key;
        }
    }

  explicit_bzero (bytes, sizeof bytes);
  g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_RANDOM,
                       "the system random generator gave no usable key: is it broken?");
  return NULL;
}

PtSecretKey *
pt_secret_key_new_from_bytes (const guint8 *bytes,
                              GError      **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);

  return secret_key_new (bytes, error);
}

PtSecretKey *
pt_secret_key_parse (const char *text,
                     GError    **error)
{
  g_autofree char *trimmed = NULL;
  guint8 bytes[PT_KEY_LEN];
  PtSecretKey *key = NULL;

  g_return_val_if_fail (text != NULL, NULL);

  trimmed = g_strstrip (g_strdup (text));
  if (decode_key_text (trimmed, NSEC_HRP, bytes, error))
    key = secret_key_new (bytes, error);
  explicit_bzero (bytes, sizeof bytes);
  explicit_bzero (trimmed, strlen (trimmed));
  return key;
}

PtSecretKey *
pt_secret_key_copy (const PtSecretKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  {
    PtSecretKey *copy = secure_alloc0 (sizeof (PtSecretKey));

    memcpy (copy, key, sizeof *key);
    return copy;
  }
}

void
pt_secret_key_free (PtSecretKey *key)
{
  if (key == NULL)
    return;
  secure_free (key, sizeof *key);
}

const guint8 *
pt_secret_key_get_bytes (const PtSecretKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return key->bytes;
}

const PtPublicKey *
pt_secret_key_get_public (const PtSecretKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return &key->public_key;
}

PtSecretString *
pt_secret_key_to_nsec (const PtSecretKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return _pt_bech32_encode (NSEC_HRP, key->bytes, PT_KEY_LEN);
}

PtSecretString *
pt_secret_key_to_hex (const PtSecretKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return hex_encode (key->bytes, PT_KEY_LEN);
}

/* ---------------------------------------------------------------------- */
/* Public keys */

gboolean
pt_public_key_parse (const char  *text,
                     PtPublicKey *out,
                     GError     **error)
{
  g_autofree char *trimmed = NULL;
  secp256k1_xonly_pubkey xonly;
  PtPublicKey key;

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  trimmed = g_strstrip (g_strdup (text));
  if (!decode_key_text (trimmed, NPUB_HRP, key.bytes, error))
    {
      /* Someone may have pasted a secret key here: leave no copy behind. */
      explicit_bzero (trimmed, strlen (trimmed));
      return FALSE;
    }
  if (!secp256k1_xonly_pubkey_parse (_pt_secp256k1_context (), &xonly, key.bytes))
    {
      g_set_error_literal (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID,
                           "not a valid public key (not a point of the secp256k1 curve)");
      return FALSE;
    }
  *out = key;
  return TRUE;
}

char *
pt_public_key_to_npub (const PtPublicKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return _pt_bech32_encode (NPUB_HRP, key->bytes, PT_KEY_LEN);
}

char *
pt_public_key_to_hex (const PtPublicKey *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  return hex_encode (key->bytes, PT_KEY_LEN);
}

gboolean
pt_public_key_equal (const PtPublicKey *a,
                     const PtPublicKey *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return memcmp (a->bytes, b->bytes, PT_KEY_LEN) == 0;
}

/* ---------------------------------------------------------------------- */
/* Files */

static void
set_io_error (GError    **error,
              int         errsv,
              const char *format,
              ...) G_GNUC_PRINTF (3, 4);

static void
set_io_error (GError    **error,
              int         errsv,
              const char *format,
              ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO, "%s: %s", what, g_strerror (errsv));
}

/* "readable by its group and other users": who besides the owner has access. */
static char *
describe_access (mode_t mode)
{
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  g_autofree char *who = NULL;

  if (mode & (S_IRGRP | S_IROTH))
    g_ptr_array_add (parts, (mode & S_IRGRP) && (mode & S_IROTH)
                            ? "readable by its group and by other users"
                            : (mode & S_IRGRP) ? "readable by its group"
                                               : "readable by other users");
  if (mode & (S_IWGRP | S_IWOTH))
    g_ptr_array_add (parts, (mode & S_IWGRP) && (mode & S_IWOTH)
                            ? "writable by its group and by other users"
                            : (mode & S_IWGRP) ? "writable by its group"
                                               : "writable by other users");
  if (parts->len == 0)
    g_ptr_array_add (parts, "accessible to its group or other users");
  g_ptr_array_add (parts, NULL);
  who = g_strjoinv (" and ", (char **) parts->pdata);
  return g_steal_pointer (&who);
}

static const char *
describe_file_type (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a folder";
  if (S_ISFIFO (mode))
    return "a named pipe (FIFO)";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return "a device";
  return "a special file";
}

PtSecretString *
_pt_secret_file_read (const char *path,
                      const char *what,
                      gsize       max_size,
                      GError    **error)
{
  struct stat st;
  char *buf = NULL;
  gsize len = 0;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);

  /* O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer;
   * such a file is refused below, before anything is read. */
  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0)
    {
      set_io_error (error, errno, "cannot open the %s “%s”", what, path);
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      int errsv = errno;

      close (fd);
      set_io_error (error, errsv, "cannot examine “%s”", path);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO,
                   "the %s “%s” is %s, not a regular file: give the path of the file "
                   "that holds the secret", what, path, describe_file_type (st.st_mode));
      return NULL;
    }
  if ((st.st_mode & 0077) != 0)
    {
      g_autofree char *access = describe_access (st.st_mode);

      close (fd);
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_PERMISSIONS,
                   "the %s “%s” is %s (mode %04o); it holds a secret: "
                   "run “chmod 600 %s” (and pick a new secret if others may have read it)",
                   what, path, access, (guint) (st.st_mode & 07777), path);
      return NULL;
    }
  if ((guint64) st.st_size > max_size)
    {
      close (fd);
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO,
                   "the %s “%s” is too large (%" G_GUINT64_FORMAT " bytes, at most %"
                   G_GSIZE_FORMAT "): is it the right file?",
                   what, path, (guint64) st.st_size, max_size);
      return NULL;
    }

  /* One byte more than allowed tells a file that grew meanwhile. */
  buf = g_malloc0 (max_size + 2);
  while (len <= max_size)
    {
      gssize n = read (fd, buf + len, max_size + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;

          explicit_bzero (buf, max_size + 2);
          g_free (buf);
          close (fd);
          set_io_error (error, errsv, "cannot read the %s “%s”", what, path);
          return NULL;
        }
      if (n == 0)
        break;
      len += n;
    }
  close (fd);

  if (len > max_size || memchr (buf, '\0', len) != NULL)
    {
      explicit_bzero (buf, max_size + 2);
      g_free (buf);
      g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO,
                   len > max_size ? "the %s “%s” is too large: is it the right file?"
                                  : "the %s “%s” holds a NUL byte: it is not a text file",
                   what, path);
      return NULL;
    }
  buf[len] = '\0';
  return buf;
}

PtSecretKey *
pt_secret_key_load (const char *path,
                    GError    **error)
{
  g_autoptr(PtSecretString) contents = NULL;
  PtSecretKey *key;

  g_return_val_if_fail (path != NULL, NULL);

  contents = _pt_secret_file_read (path, "key file", PT_KEY_FILE_MAX_SIZE, error);
  if (contents == NULL)
    return NULL;

  key = pt_secret_key_parse (contents, error);
  if (key == NULL)
    g_prefix_error (error, "key file “%s”: ", path);
  else
    g_debug ("loaded a secret key from %s", path);
  return key;
}

static gboolean
write_all (int          fd,
           const char  *data,
           gsize        len)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      len -= n;
    }
  return TRUE;
}

/* Best effort: makes the new directory entry durable. */
static void
sync_directory (const char *dir)
{
  int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);

  if (fd < 0)
    return;
  if (fsync (fd) != 0)
    g_debug ("fsync of %s failed: %s", dir, g_strerror (errno));
  close (fd);
}

static void
set_exists_error (GError    **error,
                  const char *path)
{
  g_set_error (error, PT_KEY_ERROR, PT_KEY_ERROR_EXISTS,
               "“%s” already exists; refusing to overwrite a key", path);
}

gboolean
pt_secret_key_save (const PtSecretKey *key,
                    const char        *path,
                    gboolean           force,
                    GError           **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmp_path = NULL;
  g_autoptr(PtSecretString) nsec = NULL;
  g_autoptr(GString) line = NULL;
  struct stat st;
  gboolean tmp_exists = FALSE;
  gboolean ok = FALSE;
  int fd = -1;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (path != NULL && *path != '\0', FALSE);

  /* An early, friendlier refusal; link() below is what makes it race-free. */
  if (!force && lstat (path, &st) == 0)
    {
      set_exists_error (error, path);
      return FALSE;
    }

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  tmp_path = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);

  /* g_mkstemp_full() opens with O_CREAT | O_EXCL. */
  fd = g_mkstemp_full (tmp_path, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      set_io_error (error, errno, "cannot create a file in the folder “%s”", dir);
      return FALSE;
    }
  tmp_exists = TRUE;

  nsec = pt_secret_key_to_nsec (key);
  line = g_string_new (nsec);
  g_string_append_c (line, '\n');

  if (fchmod (fd, 0600) != 0)
    {
      set_io_error (error, errno, "cannot make “%s” private", tmp_path);
      goto out;
    }
  if (!write_all (fd, line->str, line->len))
    {
      set_io_error (error, errno ? errno : EIO, "cannot write “%s”", tmp_path);
      goto out;
    }
  if (fsync (fd) != 0)
    {
      set_io_error (error, errno, "cannot write “%s” to disk", tmp_path);
      goto out;
    }
  if (close (fd) != 0)
    {
      fd = -1;
      set_io_error (error, errno, "cannot write “%s”", tmp_path);
      goto out;
    }
  fd = -1;

  if (force)
    {
      if (rename (tmp_path, path) != 0)
        {
          set_io_error (error, errno, "cannot write “%s”", path);
          goto out;
        }
      tmp_exists = FALSE;
    }
  else if (link (tmp_path, path) != 0)
    {
      int errsv = errno;

      if (errsv == EEXIST)
        {
          set_exists_error (error, path);
          goto out;
        }
      /* Some file systems have no hard links: check, then rename. */
      if (errsv != EPERM && errsv != ENOTSUP && errsv != EOPNOTSUPP && errsv != EMLINK &&
          errsv != ENOSYS)
        {
          set_io_error (error, errsv, "cannot write “%s”", path);
          goto out;
        }
      if (lstat (path, &st) == 0)
        {
          set_exists_error (error, path);
          goto out;
        }
      if (rename (tmp_path, path) != 0)
        {
          set_io_error (error, errno, "cannot write “%s”", path);
          goto out;
        }
      tmp_exists = FALSE;
    }

  sync_directory (dir);
  g_debug ("wrote a secret key to %s", path);
  ok = TRUE;

out:
  if (fd >= 0)
    close (fd);
  if (tmp_exists && g_unlink (tmp_path) != 0)
    g_debug ("could not remove %s: %s", tmp_path, g_strerror (errno));
  if (line != NULL)
    explicit_bzero (line->str, line->len);
  return ok;
}

PtSecretString *
pt_secret_file_read (const char  *path,
                     const char  *what,
                     gsize        max_size,
                     GError     **error)
{
  g_return_val_if_fail (path != NULL && what != NULL, NULL);
  return _pt_secret_file_read (path, what, max_size, error);
}
