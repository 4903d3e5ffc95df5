/* test-allow-list.c — CIDR and port allow-lists
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

static gboolean
contains (PtAllowList *list,
          const char  *text)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);

  g_assert_nonnull (address);

  return pt_allow_list_contains (list, address);
}

static gboolean
allows (PtAllowList *list,
        const char  *text,
        guint16      port)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);

  g_assert_nonnull (address);

  return pt_allow_list_contains_port (list, address, port);
}

static PtAllowList *
list_of (const char *first, ...)
{
  PtAllowList *list = pt_allow_list_new ();
  va_list args;

  va_start (args, first);
  for (const char *cidr = first; cidr != NULL; cidr = va_arg (args, const char *))
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (pt_allow_list_add (list, cidr, &error));
      g_assert_no_error (error);
    }
  va_end (args);

  return list;
}

static void
test_parse_good (void)
{
  const char *good[] = {
    "10.0.0.0/8", "192.168.1.7", "192.168.1.7/32", "0.0.0.0/0", "10.0.0.0/31",
    "::1/128", "::1", "fd00::/8", "::/0", "2001:db8::/32", " 172.16.0.0/12 ",
    "::ffff:10.0.0.0/104",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(PtAllowList) list = pt_allow_list_new ();
      g_autoptr(GError) error = NULL;

      g_test_message ("%s", good[i]);
      g_assert_true (pt_allow_list_add (list, good[i], &error));
      g_assert_no_error (error);
      g_assert_false (pt_allow_list_is_empty (list));
    }
}

static void
test_parse_bad (void)
{
  const char *bad[] = {
    "", "   ", "nonsense", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8",
    "10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/0x8", "10.0.0/8", "256.0.0.0/8",
    "::/129", "fd00::/abc", "/8", "example.com", "10.0.0.0/99999999999999999999",
    "10.0.0.1/8", "fd00::1/8", "10.0.0.1/31",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(PtAllowList) list = pt_allow_list_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *stripped = NULL;

      g_assert_false (pt_allow_list_add (list, bad[i], &error));
      g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
      g_test_message ("%s → %s", bad[i], error->message);
      g_assert_true (pt_allow_list_is_empty (list));

      /* The message names what was given (unless it was blank). */
      stripped = g_strstrip (g_strdup (bad[i]));
      if (stripped[0] != '\0')
        g_assert_nonnull (strstr (error->message, stripped));
    }
}

static void
test_parse_host_bits (void)
{
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_allow_list_add (list, "10.0.0.1/8", &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==,
                   "10.0.0.1/8 has host bits set: did you mean 10.0.0.0/8?");
  g_clear_error (&error);

  g_assert_false (pt_allow_list_add (list, "fd00::1/8", &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==,
                   "fd00::1/8 has host bits set: did you mean fd00::/8?");
  g_clear_error (&error);

  g_assert_false (pt_allow_list_add (list, "192.168.1.3/31", &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "did you mean 192.168.1.2/31?"));
}

static void
test_parse_empty (void)
{
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (pt_allow_list_add (list, "", &error));
  g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "empty"));
}

static void
test_contains_v4 (void)
{
  g_autoptr(PtAllowList) list = list_of ("10.0.0.0/8", "192.168.1.7", NULL);

  g_assert_true (contains (list, "10.0.0.0"));
  g_assert_true (contains (list, "10.255.255.255"));
  g_assert_true (contains (list, "10.1.2.3"));
  g_assert_false (contains (list, "11.0.0.0"));
  g_assert_false (contains (list, "9.255.255.255"));
  g_assert_true (contains (list, "192.168.1.7"));
  g_assert_false (contains (list, "192.168.1.6"));
  g_assert_false (contains (list, "192.168.1.8"));
  /* An IPv4 entry never matches a native IPv6 address. */
  g_assert_false (contains (list, "::a00:1"));
  g_assert_false (contains (list, "::1"));
}

static void
test_contains_v6 (void)
{
  g_autoptr(PtAllowList) list = list_of ("fd00::/8", "::1/128", "2001:db8:1::/48", NULL);

  g_assert_true (contains (list, "fd12:3456::1"));
  g_assert_true (contains (list, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  g_assert_false (contains (list, "fc00::1"));
  g_assert_false (contains (list, "fe00::1"));
  g_assert_true (contains (list, "::1"));
  g_assert_false (contains (list, "::2"));
  g_assert_false (contains (list, "::"));
  g_assert_true (contains (list, "2001:db8:1:ffff::1"));
  g_assert_false (contains (list, "2001:db8:2::1"));
  g_assert_false (contains (list, "127.0.0.1"));
}

static void
test_contains_mapped (void)
{
  g_autoptr(PtAllowList) v4 = list_of ("127.0.0.0/8", NULL);
  g_autoptr(PtAllowList) v6_all = list_of ("::/0", NULL);
  g_autoptr(PtAllowList) v4_all = list_of ("0.0.0.0/0", NULL);

  g_assert_true (contains (v4, "::ffff:127.0.0.1"));
  g_assert_false (contains (v4, "::ffff:128.0.0.1"));
  /* Not mapped: the IPv4-compatible form and a near miss. */
  g_assert_false (contains (v4, "::127.0.0.1"));
  g_assert_false (contains (v4, "::fffe:127.0.0.1"));

  /* A mapped address reaches an IPv4 host: IPv6 entries do not open it... */
  g_assert_false (contains (v6_all, "::ffff:10.0.0.1"));
  /* ...IPv4 ones do. */
  g_assert_true (contains (v4_all, "::ffff:10.0.0.1"));
}

static void
test_contains_edges (void)
{
  g_autoptr(PtAllowList) v4_all = list_of ("0.0.0.0/0", NULL);
  g_autoptr(PtAllowList) v6_all = list_of ("::/0", NULL);
  g_autoptr(PtAllowList) host32 = list_of ("203.0.113.9/32", NULL);
  g_autoptr(PtAllowList) host128 = list_of ("2001:db8::9/128", NULL);
  g_autoptr(PtAllowList) pair31 = list_of ("203.0.113.8/31", NULL);
  g_autoptr(PtAllowList) odd = list_of ("10.128.0.0/9", "2001:db8:8000::/33", NULL);
  g_autoptr(PtAllowList) empty = pt_allow_list_new ();

  g_assert_true (contains (v4_all, "0.0.0.0"));
  g_assert_true (contains (v4_all, "255.255.255.255"));
  g_assert_true (contains (v4_all, "10.1.2.3"));
  g_assert_false (contains (v4_all, "::1"));
  g_assert_false (contains (v4_all, "2001:db8::1"));

  g_assert_true (contains (v6_all, "::"));
  g_assert_true (contains (v6_all, "::1"));
  g_assert_true (contains (v6_all, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  g_assert_false (contains (v6_all, "10.1.2.3"));

  g_assert_true (contains (host32, "203.0.113.9"));
  g_assert_false (contains (host32, "203.0.113.8"));
  g_assert_false (contains (host32, "203.0.113.10"));

  g_assert_true (contains (host128, "2001:db8::9"));
  g_assert_false (contains (host128, "2001:db8::8"));
  g_assert_false (contains (host128, "2001:db8::1:9"));

  g_assert_true (contains (pair31, "203.0.113.8"));
  g_assert_true (contains (pair31, "203.0.113.9"));
  g_assert_false (contains (pair31, "203.0.113.7"));
  g_assert_false (contains (pair31, "203.0.113.10"));

  g_assert_true (contains (odd, "10.128.0.0"));
  g_assert_true (contains (odd, "10.255.0.1"));
  g_assert_false (contains (odd, "10.127.255.255"));
  g_assert_true (contains (odd, "2001:db8:8000::1"));
  g_assert_true (contains (odd, "2001:db8:ffff::1"));
  g_assert_false (contains (odd, "2001:db8:7fff::1"));

  g_assert_false (contains (empty, "127.0.0.1"));
  g_assert_false (contains (empty, "::1"));
}

static void
test_to_string (void)
{
  g_autoptr(PtAllowList) empty = pt_allow_list_new ();
  g_autoptr(PtAllowList) list = list_of ("10.0.0.0/8", "::1", "192.168.1.7",
                                         "FD00:0000::/8", "0.0.0.0/0", NULL);
  g_autofree char *empty_text = pt_allow_list_to_string (empty);
  g_autofree char *text = pt_allow_list_to_string (list);

  g_assert_true (pt_allow_list_is_empty (empty));
  g_assert_cmpstr (empty_text, ==, "nothing");
  g_assert_cmpstr (text, ==, "10.0.0.0/8, ::1/128, 192.168.1.7/32, fd00::/8, 0.0.0.0/0");
}

static void
test_ports_parse_good (void)
{
  const struct { const char *text; const char *shown; } good[] = {
    { "127.0.0.1:22", "127.0.0.1/32:22" },
    { "192.168.1.0/24:5432", "192.168.1.0/24:5432" },
    { "10.0.0.0/8:8000-8099", "10.0.0.0/8:8000-8099" },
    { "10.0.0.0/8:1-65535", "10.0.0.0/8:1-65535" },
    { "10.0.0.0/8:80-80", "10.0.0.0/8:80" },
    { "10.0.0.1:022", "10.0.0.1/32:22" },
    { "[::1]:22", "[::1]/128:22" },
    { "[::1]", "::1/128" },
    { "[::1]/128", "::1/128" },
    { "[fd00::]/8:5432", "[fd00::]/8:5432" },
    { "[FD00::]/8:5000-5001", "[fd00::]/8:5000-5001" },
    { "[10.0.0.1]:22", "10.0.0.1/32:22" },
    { "::1/128", "::1/128" },
    { " 127.0.0.1:22 ", "127.0.0.1/32:22" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(PtAllowList) list = pt_allow_list_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *shown = NULL;

      g_test_message ("%s", good[i].text);
      g_assert_true (pt_allow_list_add (list, good[i].text, &error));
      g_assert_no_error (error);
      shown = pt_allow_list_to_string (list);
      g_assert_cmpstr (shown, ==, good[i].shown);

      /* What it shows parses back to the same thing. */
      {
        g_autoptr(PtAllowList) again = pt_allow_list_new ();
        g_autofree char *shown_again = NULL;

        g_assert_true (pt_allow_list_add (again, shown, &error));
        g_assert_no_error (error);
        shown_again = pt_allow_list_to_string (again);
        g_assert_cmpstr (shown_again, ==, shown);
      }
    }
}

static void
test_ports_parse_bad (void)
{
  const struct { const char *text; const char *why; } bad[] = {
    { "127.0.0.1:0", "port 0" },
    { "127.0.0.1:65536", "above the largest port 65535" },
    { "127.0.0.1:99999999999999999999999", "above the largest port 65535" },
    { "10.0.0.0/8:8099-8000", "backwards: did you mean 8000-8099?" },
    { "10.0.0.0/8:0-80", "port 0" },
    { "10.0.0.0/8:80-70000", "above the largest port" },
    { "127.0.0.1:", "invalid port" },
    { "127.0.0.1:ssh", "invalid port “ssh”" },
    { "127.0.0.1:-22", "invalid port" },
    { "127.0.0.1:+22", "invalid port" },
    { "127.0.0.1:22-", "invalid port" },
    { "127.0.0.1:22-23-24", "invalid port" },
    { "127.0.0.1: 22", "invalid port" },
    { "127.0.0.1:0x16", "invalid port" },
    { "10.0.0.0/8:", "invalid port" },
    { "::1/128:22", "brackets" },
    { "[::1:22", "without “]”" },
    { "[::1]22", "not an address range" },
    { "[::1]:", "invalid port" },
    { "[fd00::/8]:22", "not an address range" },
    { "[]:22", "not an address range" },
    { "localhost:22", "not an address range" },
    { "10.0.0.1/8:22", "did you mean 10.0.0.0/8:22?" },
    { "[fd00::1]/8:22", "did you mean [fd00::]/8:22?" },
    { "10.0.0.0/33:22", "prefix" },
    { ":22", "not an address range" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(PtAllowList) list = pt_allow_list_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *stripped = g_strstrip (g_strdup (bad[i].text));

      g_assert_false (pt_allow_list_add (list, bad[i].text, &error));
      g_assert_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID);
      g_test_message ("%s → %s", bad[i].text, error->message);
      g_assert_true (pt_allow_list_is_empty (list));
      g_assert_nonnull (strstr (error->message, stripped));
      if (bad[i].why != NULL)
        g_assert_nonnull (strstr (error->message, bad[i].why));
    }
}

static void
test_ports_contains (void)
{
  g_autoptr(PtAllowList) list = list_of ("127.0.0.1:22", "192.168.1.0/24:5432",
                                         "10.0.0.0/8:8000-8099", "[::1]:22",
                                         "[fd00::]/8:5432", "172.16.0.9", NULL);
  g_autoptr(PtAllowList) all_v6 = list_of ("::1/128", NULL);

  /* A single port. */
  g_assert_true (allows (list, "127.0.0.1", 22));
  g_assert_false (allows (list, "127.0.0.1", 23));
  g_assert_false (allows (list, "127.0.0.1", 21));
  g_assert_false (allows (list, "127.0.0.2", 22));
  g_assert_true (allows (list, "192.168.1.200", 5432));
  g_assert_false (allows (list, "192.168.1.200", 5433));
  g_assert_false (allows (list, "192.168.2.1", 5432));

  /* A range, both ends included. */
  g_assert_true (allows (list, "10.1.2.3", 8000));
  g_assert_true (allows (list, "10.1.2.3", 8099));
  g_assert_false (allows (list, "10.1.2.3", 7999));
  g_assert_false (allows (list, "10.1.2.3", 8100));

  /* IPv6, and IPv4-mapped IPv6 judged as IPv4 with its port. */
  g_assert_true (allows (list, "::1", 22));
  g_assert_false (allows (list, "::1", 80));
  g_assert_true (allows (list, "fd12::5", 5432));
  g_assert_false (allows (list, "fd12::5", 5431));
  g_assert_true (allows (list, "::ffff:127.0.0.1", 22));
  g_assert_false (allows (list, "::ffff:127.0.0.1", 80));

  /* No port: every port (what lists written before ports meant). */
  g_assert_true (allows (list, "172.16.0.9", 1));
  g_assert_true (allows (list, "172.16.0.9", 65535));
  g_assert_true (allows (all_v6, "::1", 80));
  g_assert_false (allows (all_v6, "::2", 80));

  /* Port 0 is never a grant. */
  g_assert_false (allows (list, "172.16.0.9", 0));
  g_assert_false (allows (list, "127.0.0.1", 0));

  /* contains() ignores ports: some port of the address is allowed. */
  g_assert_true (contains (list, "127.0.0.1"));
  g_assert_false (contains (list, "127.0.0.2"));
}

static void
test_ports_to_string (void)
{
  g_autoptr(PtAllowList) list = list_of ("127.0.0.1:22", "10.0.0.0/8", "[::1]:8000-8099",
                                         "fd00::/8", NULL);
  g_autofree char *text = pt_allow_list_to_string (list);

  g_assert_cmpstr (text, ==, "127.0.0.1/32:22, 10.0.0.0/8, [::1]/128:8000-8099, fd00::/8");
}

static void
test_refcount (void)
{
  PtAllowList *list = list_of ("10.0.0.0/8", NULL);
  PtAllowList *other = pt_allow_list_ref (list);

  g_assert_true (other == list);
  pt_allow_list_unref (list);
  g_assert_true (contains (other, "10.0.0.1"));
  pt_allow_list_unref (other);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/allow-list/parse/good", test_parse_good);
  g_test_add_func ("/allow-list/parse/bad", test_parse_bad);
  g_test_add_func ("/allow-list/parse/host-bits", test_parse_host_bits);
  g_test_add_func ("/allow-list/parse/empty", test_parse_empty);
  g_test_add_func ("/allow-list/contains/v4", test_contains_v4);
  g_test_add_func ("/allow-list/ports/parse-good", test_ports_parse_good);
  g_test_add_func ("/allow-list/ports/parse-bad", test_ports_parse_bad);
  g_test_add_func ("/allow-list/ports/contains", test_ports_contains);
  g_test_add_func ("/allow-list/ports/to-string", test_ports_to_string);
  g_test_add_func ("/allow-list/contains/v6", test_contains_v6);
  g_test_add_func ("/allow-list/contains/mapped", test_contains_mapped);
  g_test_add_func ("/allow-list/contains/edges", test_contains_edges);
  g_test_add_func ("/allow-list/to-string", test_to_string);
  g_test_add_func ("/allow-list/refcount", test_refcount);

  return g_test_run ();
}
