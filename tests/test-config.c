/* test-config.c — option files mapped onto GOptionEntry tables
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pt.h"

typedef struct
{
  gboolean   verbose;
  gboolean   stun;          /* --no-stun: REVERSE */
  char      *source;
  char      *nsec_file;
  int        port;
  char     **relays;
  char     **files;
  double     ratio;
  gint64     big;
  GPtrArray *owned;
} Options;

static gboolean
ignore_callback (const char  *name,
                 const char  *value,
                 gpointer     data,
                 GError     **error)
{
  return TRUE;
}

static void
options_init (Options       *o,
              GOptionEntry   entries[10])
{
  const GOptionEntry table[] = {
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &o->verbose, "Verbose", NULL },
    { "no-stun", 0, G_OPTION_FLAG_REVERSE, G_OPTION_ARG_NONE, &o->stun, "No STUN", NULL },
    { "source", 0, 0, G_OPTION_ARG_STRING, &o->source, "Source", "URI" },
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &o->nsec_file, "Key file", "FILE" },
    { "port", 0, 0, G_OPTION_ARG_INT, &o->port, "Port", "PORT" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o->relays, "Relay", "URL" },
    { "file", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o->files, "File", "FILE" },
    { "ratio", 0, 0, G_OPTION_ARG_DOUBLE, &o->ratio, "Ratio", "R" },
    { "big", 0, 0, G_OPTION_ARG_INT64, &o->big, "Big", "N" },
    { NULL }
  };

  memset (o, 0, sizeof *o);
  o->stun = TRUE;
  o->port = 7;
  o->owned = g_ptr_array_new_with_free_func (g_free);
  memcpy (entries, table, sizeof table);
}

static void
options_clear (Options *o)
{
  g_ptr_array_unref (o->owned);
}

static GKeyFile *
key_file_from (const char *text)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (g_key_file_load_from_data (key_file, text, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);

  return g_steal_pointer (&key_file);
}

static void
test_apply_types (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;
  const char *relays[] = { "wss://a.example", "wss://b.example", NULL };
  const char *files[] = { "/tmp/x y", "~/z", NULL };

  options_init (&o, entries);
  key_file = key_file_from ("[client manual]\n"
                            "verbose = true\n"
                            "no-stun = true\n"
                            "source = tcp://127.0.0.1:22\n"
                            "nsec-file = /home/me/.config/pt/key\n"
                            "port = -42\n"
                            "relay = wss://a.example;wss://b.example\n"
                            "file = /tmp/x\\sy;~/z;\n"
                            "[server manual]\n"
                            "port = 99\n");

  g_assert_true (pt_config_apply (key_file, "test.conf", "client manual", entries, o.owned, &error));
  g_assert_no_error (error);

  g_assert_true (o.verbose);
  g_assert_false (o.stun);
  g_assert_cmpstr (o.source, ==, "tcp://127.0.0.1:22");
  g_assert_cmpstr (o.nsec_file, ==, "/home/me/.config/pt/key");
  g_assert_cmpint (o.port, ==, -42);
  g_assert_cmpstrv (o.relays, relays);
  g_assert_cmpstrv (o.files, files);

  options_clear (&o);
}

static void
test_apply_booleans (void)
{
  const struct { const char *text; gboolean verbose; gboolean stun; } cases[] = {
    { "verbose = false\nno-stun = false\n", FALSE, TRUE },
    { "verbose = 1\nno-stun = 1\n", TRUE, FALSE },
    { "verbose = 0\nno-stun = 0\n", FALSE, TRUE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Options o;
      GOptionEntry entries[10];
      g_autoptr(GKeyFile) key_file = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *text = g_strconcat ("[g]\n", cases[i].text, NULL);

      options_init (&o, entries);
      o.verbose = !cases[i].verbose;
      o.stun = !cases[i].stun;
      key_file = key_file_from (text);
      g_assert_true (pt_config_apply (key_file, "f", "g", entries, o.owned, &error));
      g_assert_no_error (error);
      g_assert_cmpint (o.verbose, ==, cases[i].verbose);
      g_assert_cmpint (o.stun, ==, cases[i].stun);
      options_clear (&o);
    }
}

static void
test_apply_int_limits (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[g]\nport = 2147483647\n");
  g_assert_true (pt_config_apply (key_file, "f", "g", entries, o.owned, &error));
  g_assert_no_error (error);
  g_assert_cmpint (o.port, ==, G_MAXINT);
  options_clear (&o);
}

static void
test_apply_empty_values (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[g]\nsource =\nrelay =\n");
  g_assert_true (pt_config_apply (key_file, "f", "g", entries, o.owned, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (o.source, ==, "");
  g_assert_nonnull (o.relays);
  g_assert_cmpuint (g_strv_length (o.relays), ==, 0);
  options_clear (&o);
}

static void
test_apply_unknown_key (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[client manual]\nsource = tcp://x:1\nfoo = bar\n");
  g_assert_false (pt_config_apply (key_file, "my.conf", "client manual", entries, o.owned, &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_cmpstr (error->message, ==,
                   "my.conf [client manual]: unknown option “foo” (see “pt client manual --help”)");
  /* Nothing was applied. */
  g_assert_null (o.source);
  g_assert_cmpuint (o.owned->len, ==, 0);
  options_clear (&o);
}

static void
check_invalid (const char *text,
               const char *must_mention)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from (text);
  g_assert_false (pt_config_apply (key_file, "bad.conf", "g", entries, o.owned, &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "bad.conf [g]: "));
  g_assert_nonnull (strstr (error->message, must_mention));
  /* Never the value: it may be a secret under the wrong key. */
  g_assert_null (strstr (error->message, "twelve"));
  g_assert_null (strstr (error->message, "yes"));
  g_assert_null (strstr (error->message, "2147483648”"));
  g_assert_cmpint (o.port, ==, 7);
  g_assert_null (o.source);
  g_assert_cmpuint (o.owned->len, ==, 0);
  options_clear (&o);
}

static void
test_apply_bad_int (void)
{
  check_invalid ("[g]\nsource = s\nport = twelve\n", "“port” must be a whole number");
  check_invalid ("[g]\nport = twelve\n", "the value is not shown");
  check_invalid ("[g]\nport = 2147483648\n", "“port” must be a whole number");
  check_invalid ("[g]\nport = -2147483649\n", "“port”");
  check_invalid ("[g]\nport = 12abc\n", "“port”");
  check_invalid ("[g]\nport = 0x10\n", "“port”");
  check_invalid ("[g]\nport =\n", "“port”");
}

static void
test_apply_bad_bool (void)
{
  check_invalid ("[g]\nverbose = yes\n", "“verbose” must be true or false (the value is not shown");
  check_invalid ("[g]\nno-stun = 2\n", "“no-stun” must be true or false");
}

static void
test_apply_bad_utf8 (void)
{
  check_invalid ("[g]\nsource = \\q\n", "“source”");
  check_invalid ("[g]\nrelay = a;b\\q\n", "“relay”");
}

static void
test_apply_unsupported_type (void)
{
  check_invalid ("[g]\nratio = 0.5\n", "“ratio” cannot be set from a file");
  check_invalid ("[g]\nbig = 5\n", "“big” cannot be set from a file");
}

static void
test_apply_callback (void)
{
  const GOptionEntry entries[] = {
    { "hook", 0, 0, G_OPTION_ARG_CALLBACK, ignore_callback, "Hook", NULL },
    { NULL }
  };
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GKeyFile) key_file = key_file_from ("[g]\nhook = x\n");
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_config_apply (key_file, "f", "g", entries, owned, &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "cannot be set from a file"));
}

static void
test_apply_missing_group (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[server manual]\nport = 5\n");
  g_assert_true (pt_config_apply (key_file, "f", "client manual", entries, o.owned, &error));
  g_assert_no_error (error);
  g_assert_cmpint (o.port, ==, 7);
  g_assert_cmpuint (o.owned->len, ==, 0);
  options_clear (&o);
}

static void
test_apply_empty_group (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[g]\n# nothing here\n");
  g_assert_true (pt_config_apply (key_file, "f", "g", entries, o.owned, &error));
  g_assert_no_error (error);
  g_assert_cmpint (o.port, ==, 7);
  options_clear (&o);
}

static void
test_command_line_overrides (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GOptionContext) context = NULL;
  const char *cli_relays[] = { "wss://cli.example", NULL };
  const char *file_files[] = { "/etc/a", "/etc/b", NULL };
  char *argv_data[] = {
    "pt", "--relay", "wss://cli.example", "--source", "udp://[::1]:53", NULL
  };
  char **argv = argv_data;
  int argc = G_N_ELEMENTS (argv_data) - 1;

  options_init (&o, entries);
  key_file = key_file_from ("[client manual]\n"
                            "source = tcp://127.0.0.1:22\n"
                            "relay = wss://a.example;wss://b.example\n"
                            "file = /etc/a;/etc/b\n"
                            "port = 2022\n"
                            "verbose = true\n");
  g_assert_true (pt_config_apply (key_file, "f", "client manual", entries, o.owned, &error));
  g_assert_no_error (error);

  context = g_option_context_new (NULL);
  g_option_context_add_main_entries (context, entries, NULL);
  g_assert_true (g_option_context_parse (context, &argc, &argv, &error));
  g_assert_no_error (error);

  /* The command line wins… */
  g_assert_cmpstr (o.source, ==, "udp://[::1]:53");
  g_assert_cmpstrv (o.relays, cli_relays);
  /* …and what it did not mention keeps the file's values. */
  g_assert_cmpstrv (o.files, file_files);
  g_assert_cmpint (o.port, ==, 2022);
  g_assert_true (o.verbose);

  /* GOptionContext owns what it parsed; the file's values stay in o.owned. */
  g_clear_pointer (&context, g_option_context_free);
  g_free (o.source);
  g_strfreev (o.relays);
  options_clear (&o);
}

static void
test_secret_never_echoed (void)
{
  const char *secret = "s3cr3t-Value-42";
  const char *keys[] = {
    "auth-token-file", "password", "my-nsec", "client-secret", "Auth-TOKEN",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const GOptionEntry types[] = {
        { keys[i], 0, 0, G_OPTION_ARG_INT, NULL, "", NULL },
        { keys[i], 0, 0, G_OPTION_ARG_NONE, NULL, "", NULL },
        { keys[i], 0, 0, G_OPTION_ARG_FILENAME, NULL, "", NULL },
        { keys[i], 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, "", NULL },
        { keys[i], 0, 0, G_OPTION_ARG_DOUBLE, NULL, "", NULL },
      };
      g_autofree char *text = NULL;
      g_autoptr(GKeyFile) key_file = NULL;

      /* "\q" makes the value invalid for the string types too. */
      text = g_strdup_printf ("[g]\n%s = %s\\q\n", keys[i], secret);
      key_file = key_file_from (text);

      for (gsize t = 0; t < G_N_ELEMENTS (types); t++)
        {
          union { int i; gboolean b; char *s; char **v; double d; } storage = { 0 };
          GOptionEntry entries[2] = { types[t], { NULL } };
          g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
          g_autoptr(GError) error = NULL;

          entries[0].arg_data = &storage;
          g_assert_false (pt_config_apply (key_file, "f", "g", entries, owned, &error));
          g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
          g_test_message ("%s", error->message);
          g_assert_nonnull (strstr (error->message, keys[i]));
          g_assert_null (strstr (error->message, "s3cr3t"));
        }
    }
}

static char *
write_temp (const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd;

  fd = g_file_open_tmp ("test-config-XXXXXX.conf", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);

  return path;
}

static void
test_load_good (void)
{
  g_autofree char *path = write_temp ("# PeerTunnel\n[client manual]\nsource = tcp://h:1\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);
  g_autofree char *source = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (key_file);
  source = g_key_file_get_string (key_file, "client manual", "source", NULL);
  g_assert_cmpstr (source, ==, "tcp://h:1");
  g_unlink (path);
}

static void
test_load_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load ("/nonexistent/pt.conf", &error);

  g_assert_null (key_file);
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
  g_assert_true (g_str_has_prefix (error->message, "/nonexistent/pt.conf: "));
}

static void
test_load_bad_line (void)
{
  g_autofree char *path = write_temp ("[client manual]\n"
                                      "source = tcp://h:1\n"
                                      "\n"
                                      "[broken\n"
                                      "port = 1\n");
  g_autofree char *prefix = g_strdup_printf ("%s:4: ", path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);

  g_assert_null (key_file);
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_unlink (path);
}

static void
test_load_secret_line (void)
{
  g_autofree char *path = write_temp ("[server nostr]\n"
                                      "nsec1qqqqs3cr3tqqqq\n");
  g_autofree char *prefix = g_strdup_printf ("%s:2: ", path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);

  g_assert_null (key_file);
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_null (strstr (error->message, "s3cr3t"));
  g_unlink (path);
}

static void
test_load_no_group (void)
{
  g_autofree char *path = write_temp ("source = tcp://h:1\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);

  g_assert_null (key_file);
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_unlink (path);
}

/* Issue 12: a line that lost its key is a pasted secret; the error says
 * where and what, never the line. */
static void
test_load_line_without_key (void)
{
  const char *files[] = {
    "[client manual]\n=turn://alice:hunter2@turn.example.org:3478\n",
    "[client manual]\n  = turn://alice:hunter2@turn.example.org\n",
    "[client manual]\nturn://alice:hunter2@turn.example.org\n",
    "[client manual\nturn=turn://alice:hunter2@h\n",
    "[client manual]\nsource = x\nturn[x = turn://alice:hunter2@h\n",
    "turn = turn://alice:hunter2@h\n",
  };
  const char *what[] = {
    "no key before “=”", "no key before “=”", "not “key = value”", "[group] line",
    "not a valid key name", "before the first [group]",
  };
  const guint lines[] = { 2, 2, 2, 1, 3, 1 };

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = write_temp (files[i]);
      g_autofree char *prefix = g_strdup_printf ("%s:%u: ", path, lines[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);

      g_assert_null (key_file);
      g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      g_assert_nonnull (strstr (error->message, what[i]));
      g_assert_null (strstr (error->message, "hunter2"));
      g_assert_null (strstr (error->message, "alice"));
      g_unlink (path);
    }
}

/* A value error from a loaded file names the key's line. */
static void
test_load_then_apply_names_line (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autofree char *path = write_temp ("# options\n[g]\nsource = s\n\n  port = turn://a:hunter2@h\n");
  g_autofree char *prefix = g_strdup_printf ("%s:5 [g]: option “port”", path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = pt_config_load (path, &error);

  g_assert_no_error (error);
  options_init (&o, entries);
  g_assert_false (pt_config_apply (key_file, path, "g", entries, o.owned, &error));
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_null (strstr (error->message, "hunter2"));
  options_clear (&o);
  g_unlink (path);
}

/* An unknown key that does not look like an option name is not quoted. */
static void
test_apply_unknown_key_not_quoted (void)
{
  Options o;
  GOptionEntry entries[10];
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GError) error = NULL;

  options_init (&o, entries);
  key_file = key_file_from ("[g]\nturn://alice:hunter2@h = x\n");
  g_assert_false (pt_config_apply (key_file, "my.conf", "g", entries, o.owned, &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_UNKNOWN_KEY);
  g_test_message ("%s", error->message);
  g_assert_null (strstr (error->message, "hunter2"));
  g_assert_nonnull (strstr (error->message, "not an option name"));
  options_clear (&o);
}

/* A FIFO given as --config fails at once instead of waiting for a writer. */
static void
test_load_fifo (void)
{
  g_autofree char *dir = g_dir_make_tmp ("pt-config-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "fifo.conf", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GKeyFile) key_file = NULL;

  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  key_file = pt_config_load (path, &error);
  g_assert_null (key_file);
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "not a regular file"));
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/apply/types", test_apply_types);
  g_test_add_func ("/config/apply/booleans", test_apply_booleans);
  g_test_add_func ("/config/apply/int-limits", test_apply_int_limits);
  g_test_add_func ("/config/apply/empty-values", test_apply_empty_values);
  g_test_add_func ("/config/apply/unknown-key", test_apply_unknown_key);
  g_test_add_func ("/config/apply/bad-int", test_apply_bad_int);
  g_test_add_func ("/config/apply/bad-bool", test_apply_bad_bool);
  g_test_add_func ("/config/apply/bad-utf8", test_apply_bad_utf8);
  g_test_add_func ("/config/apply/unsupported-type", test_apply_unsupported_type);
  g_test_add_func ("/config/apply/callback", test_apply_callback);
  g_test_add_func ("/config/apply/missing-group", test_apply_missing_group);
  g_test_add_func ("/config/apply/empty-group", test_apply_empty_group);
  g_test_add_func ("/config/apply/command-line-overrides", test_command_line_overrides);
  g_test_add_func ("/config/apply/secret-never-echoed", test_secret_never_echoed);
  g_test_add_func ("/config/load/good", test_load_good);
  g_test_add_func ("/config/load/missing", test_load_missing);
  g_test_add_func ("/config/load/bad-line", test_load_bad_line);
  g_test_add_func ("/config/load/secret-line", test_load_secret_line);
  g_test_add_func ("/config/load/no-group", test_load_no_group);
  g_test_add_func ("/config/load/line-without-key", test_load_line_without_key);
  g_test_add_func ("/config/load/apply-names-line", test_load_then_apply_names_line);
  g_test_add_func ("/config/load/fifo", test_load_fifo);
  g_test_add_func ("/config/apply/unknown-key-not-quoted", test_apply_unknown_key_not_quoted);

  return g_test_run ();
}
