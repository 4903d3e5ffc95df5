/* test-keys.c — secp256k1 keys, NIP-19 bech32, hex, key files
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "pt.h"
#include "pt-keys-private.h"

/* NIP-19's own examples (https://github.com/nostr-protocol/nips/blob/master/19.md). */
#define NIP19_NPUB     "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
#define NIP19_NPUB_HEX "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e"
#define NIP19_NSEC     "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5"
#define NIP19_NSEC_HEX "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa"
#define NIP19_NPUB2    "npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6"
#define NIP19_NPUB2_HEX "3bf0c63fcb93463407af97a5e5ee64fa883d107ef9e558472c4eb9aaaefa459d"

/* BIP-340 test vector 1 (bip-0340/test-vectors.csv of bitcoin/bips): secret → x-only public. */
#define BIP340_SECRET  "b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef"
#define BIP340_PUBLIC  "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659"

static char *
data_path (const char *name)
{
  const char *srcdir = g_getenv ("PT_SOURCE_DIR");

  if (srcdir != NULL)
    return g_build_filename (srcdir, "tests", "data", name, NULL);
  return g_test_build_filename (G_TEST_DIST, "data", name, NULL);
}

static char *
make_temp_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pt-test-keys-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_dir (path);
      else
        g_unlink (path);
    }
  g_rmdir (dir);
}

static guint
count_entries (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
write_file (const char *path,
            const char *contents,
            int         mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

/* ---------------------------------------------------------------------- */

static void
test_nip19_npub_vectors (void)
{
  const char *vectors[][2] = {
    { NIP19_NPUB, NIP19_NPUB_HEX },
    { NIP19_NPUB2, NIP19_NPUB2_HEX },
  };

  for (guint i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *hex = NULL;
      g_autofree char *npub = NULL;
      PtPublicKey key;

      g_assert_true (pt_public_key_parse (vectors[i][0], &key, &error));
      g_assert_no_error (error);
      hex = pt_public_key_to_hex (&key);
      g_assert_cmpstr (hex, ==, vectors[i][1]);
      npub = pt_public_key_to_npub (&key);
      g_assert_cmpstr (npub, ==, vectors[i][0]);
    }
}

static void
test_nip19_nsec_vector (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (NIP19_NSEC, &error);
  g_autoptr(PtSecretString) hex = NULL;
  g_autoptr(PtSecretString) nsec = NULL;

  g_assert_no_error (error);
  hex = pt_secret_key_to_hex (key);
  g_assert_cmpstr (hex, ==, NIP19_NSEC_HEX);
  nsec = pt_secret_key_to_nsec (key);
  g_assert_cmpstr (nsec, ==, NIP19_NSEC);
}

static void
test_bip340_public_key (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (BIP340_SECRET, &error);
  g_autofree char *hex = NULL;

  g_assert_no_error (error);
  hex = pt_public_key_to_hex (pt_secret_key_get_public (key));
  g_assert_cmpstr (hex, ==, BIP340_PUBLIC);
}

/* Every key of tests/data/nostr-events.json (made by nostr-tools) round-trips. */
static void
test_nostr_tools_keys (void)
{
  g_autofree char *path = data_path ("nostr-events.json");
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonArray *events;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  events = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                         "events");
  g_assert_cmpuint (json_array_get_length (events), >, 0);
  for (guint i = 0; i < json_array_get_length (events); i++)
    {
      JsonObject *o = json_array_get_object_element (events, i);
      g_autoptr(PtSecretKey) from_hex = pt_secret_key_parse (json_object_get_string_member (o, "secret_key"), &error);
      g_autoptr(PtSecretKey) from_nsec = NULL;
      g_autoptr(PtSecretString) nsec = NULL;
      g_autofree char *npub = NULL;
      PtPublicKey pub;

      g_assert_no_error (error);
      from_nsec = pt_secret_key_parse (json_object_get_string_member (o, "nsec"), &error);
      g_assert_no_error (error);
      g_assert_cmpmem (pt_secret_key_get_bytes (from_hex), PT_KEY_LEN,
                       pt_secret_key_get_bytes (from_nsec), PT_KEY_LEN);
      nsec = pt_secret_key_to_nsec (from_hex);
      g_assert_cmpstr (nsec, ==, json_object_get_string_member (o, "nsec"));
      npub = pt_public_key_to_npub (pt_secret_key_get_public (from_hex));
      g_assert_cmpstr (npub, ==, json_object_get_string_member (o, "npub"));
      g_assert_true (pt_public_key_parse (npub, &pub, &error));
      g_assert_true (pt_public_key_equal (&pub, pt_secret_key_get_public (from_hex)));
    }
}

static void
test_generate (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) a = pt_secret_key_generate (&error);
  g_autoptr(PtSecretKey) b = NULL;
  g_autoptr(PtSecretString) nsec = NULL;
  g_autoptr(PtSecretKey) again = NULL;

  g_assert_no_error (error);
  b = pt_secret_key_generate (&error);
  g_assert_no_error (error);
  g_assert_false (memcmp (pt_secret_key_get_bytes (a), pt_secret_key_get_bytes (b), PT_KEY_LEN) == 0);
  g_assert_false (pt_public_key_equal (pt_secret_key_get_public (a), pt_secret_key_get_public (b)));

  nsec = pt_secret_key_to_nsec (a);
  g_assert_true (g_str_has_prefix (nsec, "nsec1"));
  g_assert_cmpuint (strlen (nsec), ==, 63);
  again = pt_secret_key_parse (nsec, &error);
  g_assert_no_error (error);
  g_assert_true (pt_public_key_equal (pt_secret_key_get_public (a), pt_secret_key_get_public (again)));
}

static void
test_hex_and_whitespace (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) upper = NULL;
  g_autoptr(PtSecretKey) spaced = NULL;
  g_autofree char *text = g_ascii_strup (NIP19_NSEC_HEX, -1);
  PtPublicKey pub;

  upper = pt_secret_key_parse (text, &error);
  g_assert_no_error (error);
  spaced = pt_secret_key_parse ("  \n" NIP19_NSEC "\r\n", &error);
  g_assert_no_error (error);
  g_assert_cmpmem (pt_secret_key_get_bytes (upper), PT_KEY_LEN,
                   pt_secret_key_get_bytes (spaced), PT_KEY_LEN);

  g_assert_true (pt_public_key_parse (" " NIP19_NPUB_HEX "\n", &pub, &error));
  g_assert_no_error (error);
  /* bech32 may be all upper case (QR codes), never mixed. */
  {
    g_autofree char *up = g_ascii_strup (NIP19_NPUB, -1);

    g_assert_true (pt_public_key_parse (up, &pub, &error));
    g_assert_no_error (error);
  }
}

static void
test_npub_where_nsec_expected (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (NIP19_NPUB, &error);

  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND);
  g_assert_nonnull (strstr (error->message, "is an npub (a public key), an nsec was expected"));
}

static void
test_nsec_where_npub_expected (void)
{
  g_autoptr(GError) error = NULL;
  PtPublicKey pub;

  g_assert_false (pt_public_key_parse (NIP19_NSEC, &pub, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND);
  /* The secret never appears in the message. */
  g_assert_null (strstr (error->message, NIP19_NSEC + 5));
}

static void
test_bad_checksum (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *typo = g_strdup (NIP19_NSEC);
  g_autoptr(PtSecretKey) key = NULL;
  PtPublicKey pub;

  typo[20] = typo[20] == 'q' ? 'p' : 'q';
  key = pt_secret_key_parse (typo, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_CHECKSUM);
  g_assert_cmpstr (error->message, ==, "bad checksum: mistyped?");
  g_assert_null (strstr (error->message, typo + 5));
  g_clear_error (&error);

  g_clear_pointer (&typo, g_free);
  typo = g_strdup (NIP19_NPUB);
  typo[30] = typo[30] == 'q' ? 'p' : 'q';
  g_assert_false (pt_public_key_parse (typo, &pub, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_CHECKSUM);
}

static void
test_malformed_texts (void)
{
  const char *cases[] = {
    "",
    "   ",
    "nsec",
    "nsec1",
    "nsec1qqqqq",                                  /* shorter than a checksum */
    "nsec1bqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", /* 'b' is not bech32 */
    "Nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5", /* mixed case */
    NIP19_NSEC_HEX "00",                           /* 66 hex */
    "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffz", /* not hex, no '1'? */
    "hello world",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) key = pt_secret_key_parse (cases[i], &error);

      g_test_message ("case %u: %s", i, cases[i]);
      g_assert_null (key);
      g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
    }
}

/* A valid bech32 "nsec" whose payload is not 32 bytes. */
static void
test_wrong_payload_length (void)
{
  g_autoptr(GError) error = NULL;
  guint8 data[20] = { 1, 2, 3 };
  g_autofree char *text = _pt_bech32_encode ("nsec", data, sizeof data);
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (text, &error);

  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
}

static void
test_other_hrp (void)
{
  g_autoptr(GError) error = NULL;
  guint8 data[32] = { 1 };
  g_autofree char *note = _pt_bech32_encode ("note", data, sizeof data);
  g_autoptr(PtSecretKey) key = pt_secret_key_parse (note, &error);

  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND);
  g_assert_nonnull (strstr (error->message, "note"));
}

static void
test_out_of_range_secret (void)
{
  const char *cases[] = {
    "0000000000000000000000000000000000000000000000000000000000000000",
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", /* the curve order */
    "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) key = pt_secret_key_parse (cases[i], &error);

      g_assert_null (key);
      g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
    }
}

/* BIP-340 vector 5: "public key not on the curve". */
static void
test_public_key_not_on_curve (void)
{
  g_autoptr(GError) error = NULL;
  PtPublicKey pub;

  g_assert_false (pt_public_key_parse ("eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34",
                                       &pub, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
}

static void
test_bech32_roundtrip (void)
{
  for (gsize len = 0; len < 40; len++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree guint8 *data = g_malloc (len + 1);
      g_autofree char *text = NULL;
      g_autofree char *hrp = NULL;
      g_autoptr(GByteArray) decoded = NULL;

      for (gsize i = 0; i < len; i++)
        data[i] = (guint8) (i * 37 + len);
      text = _pt_bech32_encode ("test", data, len);
      g_assert_true (_pt_bech32_decode (text, &hrp, &decoded, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (hrp, ==, "test");
      g_assert_cmpmem (decoded->data, decoded->len, data, len);
    }
}

/* BIP-173's valid and invalid bech32 strings (checksums only). */
static void
test_bip173_vectors (void)
{
  const char *valid[] = {
    "A12UEL5L",
    "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
  };
  const char *invalid[] = {
    "pzry9x0s0muk",   /* no separator */
    "1pzry9x0s0muk",  /* empty hrp */
    "x1b4n0q5v",      /* invalid data character */
    "li1dgmt3",       /* too short checksum */
    "A1G7SGD8",       /* checksum calculated with uppercase hrp */
    "10a06t8",        /* empty hrp */
    "1qzzfhee",       /* empty hrp */
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *hrp = NULL;
      GByteArray *data = NULL;

      /* Data that is not whole bytes is refused (padding), the checksum is what counts here. */
      if (!_pt_bech32_decode (valid[i], &hrp, &data, &error))
        g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
      else
        g_byte_array_unref (data);
    }
  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *hrp = NULL;
      GByteArray *data = NULL;

      g_test_message ("invalid %u: %s", i, invalid[i]);
      g_assert_false (_pt_bech32_decode (invalid[i], &hrp, &data, &error));
      g_assert_nonnull (error);
    }
}

static void
test_constant_time_equal (void)
{
  g_assert_true (_pt_memequal_ct ("abc", "abc", 3));
  g_assert_false (_pt_memequal_ct ("abc", "abd", 3));
  g_assert_true (_pt_memequal_ct ("", "", 0));
}

/* ---------------------------------------------------------------------- */
/* Files */

static void
test_save_load (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
  g_autoptr(PtSecretKey) loaded = NULL;
  g_autoptr(PtSecretString) nsec = pt_secret_key_to_nsec (key);
  g_autofree char *contents = NULL;
  g_autofree char *expected = g_strconcat (nsec, "\n", NULL);
  struct stat st;

  g_assert_true (pt_secret_key_save (key, path, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
  g_assert_cmpuint (count_entries (dir), ==, 1); /* no temporary file left */

  loaded = pt_secret_key_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (pt_secret_key_get_bytes (loaded), PT_KEY_LEN,
                   pt_secret_key_get_bytes (key), PT_KEY_LEN);
  remove_dir (dir);
}

static void
test_save_mode_ignores_umask (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
  mode_t old = umask (0);
  struct stat st;

  g_assert_true (pt_secret_key_save (key, path, FALSE, &error));
  umask (old);
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  remove_dir (dir);
}

static void
test_save_refuses_overwrite (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
  g_autofree char *contents = NULL;

  write_file (path, "precious\n", 0600);
  g_assert_false (pt_secret_key_save (key, path, FALSE, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_EXISTS);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious\n");
  g_assert_cmpuint (count_entries (dir), ==, 1);
  remove_dir (dir);
}

/* A dangling symlink is an existing name too: not followed, not replaced. */
static void
test_save_refuses_symlink (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autofree char *target = g_build_filename (dir, "elsewhere", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);

  g_assert_cmpint (symlink (target, path), ==, 0);
  g_assert_false (pt_secret_key_save (key, path, FALSE, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_EXISTS);
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
  remove_dir (dir);
}

static void
test_save_force_replaces (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
  g_autoptr(PtSecretKey) loaded = NULL;
  struct stat st;

  write_file (path, "old\n", 0644);
  g_assert_true (pt_secret_key_save (key, path, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  loaded = pt_secret_key_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count_entries (dir), ==, 1);
  remove_dir (dir);
}

/* rename() fails when the target is a non-empty folder: the temporary file goes. */
static void
test_save_failure_leaves_no_temp_file (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autofree char *inside = g_build_filename (path, "x", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  write_file (inside, "x", 0600);
  g_assert_false (pt_secret_key_save (key, path, TRUE, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  g_assert_cmpuint (count_entries (dir), ==, 1); /* only the folder */
  remove_dir (dir);
}

static void
test_save_missing_folder (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "no", "such", "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);

  g_assert_false (pt_secret_key_save (key, path, FALSE, &error));
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  remove_dir (dir);
}

static void
test_load_refuses_readable (void)
{
  const struct { int mode; const char *says; } cases[] = {
    { 0640, "readable by its group (mode 0640)" },
    { 0604, "readable by other users (mode 0604)" },
    { 0644, "readable by its group and by other users (mode 0644)" },
    { 0620, "writable by its group (mode 0620)" },
    { 0602, "writable by other users (mode 0602)" },
  };
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSecretKey) key = NULL;

      write_file (path, NIP19_NSEC "\n", cases[i].mode);
      key = pt_secret_key_load (path, &error);
      g_assert_null (key);
      g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_PERMISSIONS);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].says));
      g_assert_nonnull (strstr (error->message, "chmod 600"));
      g_assert_null (strstr (error->message, NIP19_NSEC + 5));
      g_unlink (path);
    }
  remove_dir (dir);
}

static void
test_load_hex_file (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autofree char *npub = NULL;

  write_file (path, "\n  " NIP19_NSEC_HEX "  \n\n", 0600);
  key = pt_secret_key_load (path, &error);
  g_assert_no_error (error);
  npub = pt_public_key_to_npub (pt_secret_key_get_public (key));
  g_assert_true (g_str_has_prefix (npub, "npub1"));
  remove_dir (dir);
}

static void
test_load_bad_contents (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;

  write_file (path, NIP19_NPUB "\n", 0600);
  key = pt_secret_key_load (path, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_WRONG_KIND);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  write_file (path, "", 0600);
  key = pt_secret_key_load (path, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "nsec1\0zzz", 9, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  key = pt_secret_key_load (path, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  remove_dir (dir);
}

static void
test_load_too_large (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key", NULL);
  g_autofree char *big = g_strnfill (PT_KEY_FILE_MAX_SIZE + 1, 'a');
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;

  write_file (path, big, 0600);
  key = pt_secret_key_load (path, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  remove_dir (dir);
}

static void
test_load_missing_and_folder (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "missing", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_load (path, &error);

  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  key = pt_secret_key_load (dir, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  remove_dir (dir);
}

/* Issue 12: a FIFO (or anything but a regular file) fails at once with a
 * clear error instead of waiting for a writer that never comes. */
static void
test_load_fifo_fails_at_once (void)
{
  g_autofree char *dir = make_temp_dir ();
  g_autofree char *path = g_build_filename (dir, "key.nsec", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autoptr(PtSecretString) text = NULL;

  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  key = pt_secret_key_load (path, &error);
  g_assert_null (key);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "named pipe"));
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_clear_error (&error);

  text = pt_secret_file_read (path, "token file", 1024, &error);
  g_assert_null (text);
  g_assert_error (error, PT_KEY_ERROR, PT_KEY_ERROR_IO);
  g_unlink (path);
  remove_dir (dir);
}

/* Whether the mapping that holds @addr is left out of core dumps ("dd"). */
static gboolean
mapping_is_dontdump (gconstpointer addr)
{
  g_autofree char *smaps = NULL;
  g_auto(GStrv) lines = NULL;
  gboolean inside = FALSE;

  if (!g_file_get_contents ("/proc/self/smaps", &smaps, NULL, NULL))
    return FALSE;
  lines = g_strsplit (smaps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      guint64 start, end;
      char *dash;

      if (g_ascii_isxdigit (lines[i][0]) && (dash = strchr (lines[i], '-')) != NULL)
        {
          start = g_ascii_strtoull (lines[i], NULL, 16);
          end = g_ascii_strtoull (dash + 1, NULL, 16);
          inside = (guint64) (guintptr) addr >= start && (guint64) (guintptr) addr < end;
        }
      else if (inside && g_str_has_prefix (lines[i], "VmFlags:"))
        return strstr (lines[i], " dd") != NULL;
    }
  return FALSE;
}

/* Issue 12: key bytes sit on pages a core dump leaves out. */
static void
test_key_memory_not_dumped (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) key = pt_secret_key_generate (&error);
  g_autoptr(PtSecretKey) copy = NULL;

  if (!g_file_test ("/proc/self/smaps", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no /proc/self/smaps");
      return;
    }
  g_assert_no_error (error);
  copy = pt_secret_key_copy (key);
  g_assert_true (mapping_is_dontdump (pt_secret_key_get_bytes (key)));
  g_assert_true (mapping_is_dontdump (pt_secret_key_get_bytes (copy)));
  g_assert_cmpmem (pt_secret_key_get_bytes (key), PT_KEY_LEN,
                   pt_secret_key_get_bytes (copy), PT_KEY_LEN);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/keys/nip19/npub-vectors", test_nip19_npub_vectors);
  g_test_add_func ("/keys/nip19/nsec-vector", test_nip19_nsec_vector);
  g_test_add_func ("/keys/bip340/public-key", test_bip340_public_key);
  g_test_add_func ("/keys/nostr-tools", test_nostr_tools_keys);
  g_test_add_func ("/keys/generate", test_generate);
  g_test_add_func ("/keys/parse/hex-and-whitespace", test_hex_and_whitespace);
  g_test_add_func ("/keys/parse/npub-where-nsec-expected", test_npub_where_nsec_expected);
  g_test_add_func ("/keys/parse/nsec-where-npub-expected", test_nsec_where_npub_expected);
  g_test_add_func ("/keys/parse/bad-checksum", test_bad_checksum);
  g_test_add_func ("/keys/parse/malformed", test_malformed_texts);
  g_test_add_func ("/keys/parse/wrong-payload-length", test_wrong_payload_length);
  g_test_add_func ("/keys/parse/other-hrp", test_other_hrp);
  g_test_add_func ("/keys/parse/out-of-range-secret", test_out_of_range_secret);
  g_test_add_func ("/keys/parse/public-not-on-curve", test_public_key_not_on_curve);
  g_test_add_func ("/keys/bech32/roundtrip", test_bech32_roundtrip);
  g_test_add_func ("/keys/bech32/bip173", test_bip173_vectors);
  g_test_add_func ("/keys/constant-time-equal", test_constant_time_equal);
  g_test_add_func ("/keys/file/save-load", test_save_load);
  g_test_add_func ("/keys/file/mode-ignores-umask", test_save_mode_ignores_umask);
  g_test_add_func ("/keys/file/refuses-overwrite", test_save_refuses_overwrite);
  g_test_add_func ("/keys/file/refuses-symlink", test_save_refuses_symlink);
  g_test_add_func ("/keys/file/force-replaces", test_save_force_replaces);
  g_test_add_func ("/keys/file/failure-leaves-no-temp-file", test_save_failure_leaves_no_temp_file);
  g_test_add_func ("/keys/file/missing-folder", test_save_missing_folder);
  g_test_add_func ("/keys/file/refuses-readable", test_load_refuses_readable);
  g_test_add_func ("/keys/file/hex", test_load_hex_file);
  g_test_add_func ("/keys/file/bad-contents", test_load_bad_contents);
  g_test_add_func ("/keys/file/too-large", test_load_too_large);
  g_test_add_func ("/keys/file/missing-and-folder", test_load_missing_and_folder);
  g_test_add_func ("/keys/file/fifo", test_load_fifo_fails_at_once);
  g_test_add_func ("/keys/memory-not-dumped", test_key_memory_not_dumped);

  return g_test_run ();
}
