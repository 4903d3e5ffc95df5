/* test-tun-request.c — the TUN helper's request and reply codec
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every refusal must name the field that was wrong: each bad case says which.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "pt-tun-request.h"

#define HEAD "version=1\nifname=pt0\nmtu=1400\n"

typedef struct
{
  const char *name;
  const char *text;
} GoodCase;

static const GoodCase good_cases[] = {
  { "ipv4-only", HEAD "address=10.77.0.2/24\n" },
  { "dual-stack", HEAD "address=10.77.0.2/24\naddress=fd77::2/64\n" },
  { "ipv6-first", HEAD "address=fd77::2/64\naddress=10.77.0.2/24\n" },
  { "ipv6-only", "version=1\nifname=pt1\nmtu=1280\naddress=fd77::2/64\n" },
  { "ptvpn-name", "version=1\nifname=ptvpn3\nmtu=1400\naddress=10.1.2.3/16\n" },
  { "three-digits", "version=1\nifname=pt999\nmtu=1400\naddress=10.1.2.3/16\n" },
  { "keys-any-order", "version=1\naddress=10.1.2.3/16\nmtu=1400\nifname=pt5\n" },
  { "rfc1918-172", HEAD "address=172.31.255.254/12\n" },
  { "rfc1918-192", HEAD "address=192.168.1.1/24\n" },
  { "cgnat", HEAD "address=100.127.0.1/16\n" },
  { "slash-8", HEAD "address=10.0.0.1/8\n" },
  { "slash-31", HEAD "address=10.0.0.0/31\n" },
  { "slash-32", HEAD "address=10.0.0.0/32\nroute=10.0.0.0/24\n" },
  { "ipv6-128", HEAD "address=fd00::/128\n" },
  { "ipv6-fc", HEAD "address=fc12::1/48\n" },
  { "mtu-576-ipv4-only", "version=1\nifname=pt0\nmtu=576\naddress=10.0.0.1/24\n" },
  { "mtu-9000", "version=1\nifname=pt0\nmtu=9000\naddress=fd00::1/64\n" },
  { "route-other-private", HEAD "address=10.77.0.2/24\nroute=192.168.0.0/16\nroute=172.20.0.0/16\n" },
  { "route-inside-vpn", HEAD "address=10.77.0.2/24\nroute=10.77.0.128/25\n" },
  { "route-ipv6", HEAD "address=fd77::2/64\nroute=fd78::/48\nroute=fc00::/7\n" },
  { "route-host", HEAD "address=10.77.0.2/24\nroute=10.78.1.1/32\n" },
  { "route-covers-vpn", HEAD "address=10.77.0.2/24\nroute=10.0.0.0/8\n" },
  { "allow-overlap", HEAD "address=10.77.0.2/24\nallow-overlap=1\n" },
  { "offload", HEAD "address=10.77.0.2/24\noffload=1\n" },
  { "allow-overlap-offload", HEAD "address=10.77.0.2/24\nallow-overlap=1\noffload=1\n" },
};

typedef struct
{
  const char *name;
  const char *text;
  gsize       len; /* 0: strlen (text) */
  const char *field;
  const char *in_message; /* a part of the message, or NULL */
} BadCase;

static const BadCase bad_cases[] = {
  /* the message as a whole */
  { "empty", "", 0, "request", "empty" },
  { "no-final-newline", "version=1\nifname=pt0", 0, "request", "newline" },
  { "crlf", "version=1\r\nifname=pt0\r\n", 0, "request", "0x0d" },
  { "nul-byte", "version=1\nifn\0me=pt0\n", 21, "request", "0x00" },
  { "space", HEAD "address= 10.0.0.1/24\n", 0, "request", "0x20" },
  { "tab", HEAD "address=\t10.0.0.1/24\n", 0, "request", "0x09" },
  { "high-byte", HEAD "address=10.0.0.1/24\xc3\xa9\n", 0, "request", "0xc3" },
  { "empty-line", HEAD "\naddress=10.0.0.1/24\n", 0, "request", "empty" },
  { "no-equals", HEAD "address\n", 0, "request", "key=value" },
  { "empty-key", HEAD "=10.0.0.1/24\n", 0, "request", "key" },
  { "upper-key", HEAD "Address=10.0.0.1/24\n", 0, "request", "key" },
  { "unknown-key", HEAD "address=10.0.0.1/24\ndns=10.0.0.53\n", 0, "request", "\"dns\"" },
  { "empty-value", HEAD "address=\n", 0, "address", "value" },
  { "long-value", HEAD "address=10.0.0.1/24000000000000000000000000000000000000000000000000000000000000\n", 0, "address", "value" },
  { "allow-overlap-twice", HEAD "address=10.0.0.1/24\nallow-overlap=1\nallow-overlap=1\n", 0, "allow-overlap", "twice" },
  { "allow-overlap-0", HEAD "address=10.0.0.1/24\nallow-overlap=0\n", 0, "allow-overlap", "only value is 1" },
  { "allow-overlap-yes", HEAD "address=10.0.0.1/24\nallow-overlap=yes\n", 0, "allow-overlap", NULL },
  { "offload-twice", HEAD "address=10.0.0.1/24\noffload=1\noffload=1\n", 0, "offload", "twice" },
  { "offload-0", HEAD "address=10.0.0.1/24\noffload=0\n", 0, "offload", "only value is 1" },
  /* version */
  { "no-version", "ifname=pt0\nmtu=1400\naddress=10.0.0.1/24\n", 0, "version", "start with" },
  { "version-2", "version=2\nifname=pt0\nmtu=1400\naddress=10.0.0.1/24\n", 0, "version", "not supported" },
  { "version-01", "version=01\nifname=pt0\nmtu=1400\naddress=10.0.0.1/24\n", 0, "version", "not supported" },
  { "version-twice", HEAD "version=1\naddress=10.0.0.1/24\n", 0, "version", "twice" },
  /* ifname */
  { "ifname-missing", "version=1\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", "missing" },
  { "ifname-twice", HEAD "ifname=pt1\naddress=10.0.0.1/24\n", 0, "ifname", "twice" },
  { "ifname-eth0", "version=1\nifname=eth0\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", "pt or ptvpn" },
  { "ifname-pt", "version=1\nifname=pt\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  { "ifname-4-digits", "version=1\nifname=pt1000\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  { "ifname-pattern", "version=1\nifname=pt%d\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  { "ifname-suffix", "version=1\nifname=pt0x\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  { "ifname-slash", "version=1\nifname=pt0/..\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  { "ifname-long", "version=1\nifname=ptvpn12345678901\nmtu=1400\naddress=10.0.0.1/24\n", 0, "ifname", NULL },
  /* mtu */
  { "mtu-missing", "version=1\nifname=pt0\naddress=10.0.0.1/24\n", 0, "mtu", "missing" },
  { "mtu-twice", HEAD "mtu=1400\naddress=10.0.0.1/24\n", 0, "mtu", "twice" },
  { "mtu-text", "version=1\nifname=pt0\nmtu=big\naddress=10.0.0.1/24\n", 0, "mtu", "decimal" },
  { "mtu-negative", "version=1\nifname=pt0\nmtu=-1\naddress=10.0.0.1/24\n", 0, "mtu", "decimal" },
  { "mtu-leading-zero", "version=1\nifname=pt0\nmtu=01400\naddress=10.0.0.1/24\n", 0, "mtu", "decimal" },
  { "mtu-huge", "version=1\nifname=pt0\nmtu=4294967297\naddress=10.0.0.1/24\n", 0, "mtu", "decimal" },
  { "mtu-575", "version=1\nifname=pt0\nmtu=575\naddress=10.0.0.1/24\n", 0, "mtu", "576..9000" },
  { "mtu-9001", "version=1\nifname=pt0\nmtu=9001\naddress=10.0.0.1/24\n", 0, "mtu", "576..9000" },
  { "mtu-1279-ipv6", "version=1\nifname=pt0\nmtu=1279\naddress=fd00::1/64\n", 0, "mtu", "1280..9000" },
  { "mtu-1000-dual", "version=1\nifname=pt0\nmtu=1000\naddress=10.0.0.1/24\naddress=fd00::1/64\n", 0, "mtu", "IPv6" },
  /* address */
  { "address-missing", HEAD, 0, "address", "at least one" },
  { "address-two-ipv4", HEAD "address=10.0.0.1/24\naddress=10.0.1.1/24\n", 0, "address", "second IPv4" },
  { "address-two-ipv6", HEAD "address=fd00::1/64\naddress=fd01::1/64\n", 0, "address", "second IPv6" },
  { "address-no-prefix", HEAD "address=10.0.0.1\n", 0, "address", "ADDRESS/PREFIX-LENGTH" },
  { "address-empty-prefix", HEAD "address=10.0.0.1/\n", 0, "address", "ADDRESS/PREFIX-LENGTH" },
  { "address-prefix-33", HEAD "address=10.0.0.1/33\n", 0, "address", NULL },
  { "address-prefix-129", HEAD "address=fd00::1/129\n", 0, "address", NULL },
  { "address-prefix-leading-zero", HEAD "address=10.0.0.1/024\n", 0, "address", NULL },
  { "address-prefix-sign", HEAD "address=10.0.0.1/+24\n", 0, "address", NULL },
  { "address-octal", HEAD "address=010.0.0.1/24\n", 0, "address", NULL },
  { "address-short", HEAD "address=10.1/24\n", 0, "address", NULL },
  { "address-hex", HEAD "address=0xa.0.0.1/24\n", 0, "address", NULL },
  { "address-octet-256", HEAD "address=10.0.0.256/24\n", 0, "address", NULL },
  { "address-hostname", HEAD "address=localhost/24\n", 0, "address", NULL },
  { "address-public", HEAD "address=8.8.8.8/24\n", 0, "address", "must lie inside" },
  { "address-loopback", HEAD "address=127.0.0.2/8\n", 0, "address", "must lie inside" },
  { "address-172-32", HEAD "address=172.32.0.1/16\n", 0, "address", "must lie inside" },
  { "address-too-wide", HEAD "address=10.0.0.1/7\n", 0, "address", "at least 8" },
  { "address-wider-than-range", HEAD "address=172.16.0.1/11\n", 0, "address", "must lie inside" },
  { "address-cgnat-too-wide", HEAD "address=100.64.0.1/9\n", 0, "address", "must lie inside" },
  { "address-network", HEAD "address=10.77.0.0/24\n", 0, "address", "network's own" },
  { "address-broadcast", HEAD "address=10.77.0.255/24\n", 0, "address", "broadcast" },
  { "address-ipv6-global", HEAD "address=2001:db8::1/64\n", 0, "address", "fc00::/7" },
  { "address-ipv6-link-local", HEAD "address=fe80::1/64\n", 0, "address", "fc00::/7" },
  { "address-ipv6-mapped", HEAD "address=::ffff:10.0.0.1/120\n", 0, "address", "fc00::/7" },
  { "address-ipv6-anycast", HEAD "address=fd77::/64\n", 0, "address", "anycast" },
  { "address-ipv6-garbage", HEAD "address=fd77:::1/64\n", 0, "address", NULL },
  /* route */
  { "route-default", HEAD "address=10.0.0.1/24\nroute=0.0.0.0/0\n", 0, "route", "must lie inside" },
  { "route-ipv6-default", HEAD "address=fd00::1/64\nroute=::/0\n", 0, "route", "must lie inside" },
  { "route-public", HEAD "address=10.0.0.1/24\nroute=1.1.1.0/24\n", 0, "route", "must lie inside" },
  { "route-half-internet", HEAD "address=10.0.0.1/24\nroute=0.0.0.0/1\n", 0, "route", "must lie inside" },
  { "route-wider-than-private", HEAD "address=10.0.0.1/24\nroute=10.0.0.0/7\n", 0, "route", "must lie inside" },
  { "route-8-public", HEAD "address=10.0.0.1/24\nroute=11.0.0.0/8\n", 0, "route", "must lie inside" },
  { "route-ipv6-global", HEAD "address=fd00::1/64\nroute=2000::/3\n", 0, "route", "must lie inside" },
  { "route-host-bits", HEAD "address=10.0.0.1/24\nroute=10.1.0.1/16\n", 0, "route", "10.1.0.0/16" },
  { "route-ipv6-host-bits", HEAD "address=fd00::1/64\nroute=fd01::1/64\n", 0, "route", "host bits" },
  { "route-is-vpn-network", HEAD "address=10.0.0.1/24\nroute=10.0.0.0/24\n", 0, "route", "VPN network itself" },
  { "route-is-vpn-network-ipv6", HEAD "address=fd00::1/64\nroute=fd00::/64\n", 0, "route", "VPN network itself" },
  { "route-no-ipv6-address", HEAD "address=10.0.0.1/24\nroute=fd00::/64\n", 0, "route", "IPv6 address" },
  { "route-no-ipv4-address", HEAD "address=fd00::1/64\nroute=10.0.0.0/24\n", 0, "route", "IPv4 address" },
  { "route-twice", HEAD "address=10.0.0.1/24\nroute=10.1.0.0/16\nroute=10.1.0.0/16\n", 0, "route", "twice" },
  { "route-no-prefix", HEAD "address=10.0.0.1/24\nroute=10.1.0.0\n", 0, "route", "NETWORK/PREFIX-LENGTH" },
  { "route-garbage", HEAD "address=10.0.0.1/24\nroute=default\n", 0, "route", NULL },
};

static void
test_good (gconstpointer data)
{
  const GoodCase *c = data;
  PtTunRequest request, again;
  PtTunError error = { { 0 } };
  char text[PT_TUN_MESSAGE_MAX];
  int len;

  if (pt_tun_request_parse (c->text, strlen (c->text), &request, &error) != 0)
    g_error ("%s: refused: %s: %s", c->name, error.field, error.message);

  /* It formats to bytes that parse to the same request. */
  len = pt_tun_request_format (&request, text, sizeof text);
  g_assert_cmpint (len, >, 0);
  g_assert_cmpint (pt_tun_request_parse (text, (gsize) len, &again, &error), ==, 0);
  g_assert_cmpmem (&request, sizeof request, &again, sizeof again);
}

static void
test_bad (gconstpointer data)
{
  const BadCase *c = data;
  PtTunRequest request;
  PtTunError error = { { 0 } };
  gsize len = c->len != 0 ? c->len : strlen (c->text);

  g_assert_cmpint (pt_tun_request_parse (c->text, len, &request, &error), ==, -1);
  g_test_message ("%s: %s: %s", c->name, error.field, error.message);
  g_assert_cmpstr (error.field, ==, c->field);
  g_assert_cmpuint (strlen (error.message), >, 0);
  if (c->in_message != NULL && strstr (error.message, c->in_message) == NULL)
    g_error ("%s: \"%s\" not in \"%s\"", c->name, c->in_message, error.message);
  for (const char *p = error.message; *p != '\0'; p++)
    g_assert_true (g_ascii_isprint (*p));
}

static void
test_parsed_values (void)
{
  const char *text = "version=1\nifname=ptvpn12\nmtu=1420\naddress=fd77::2/64\n"
                     "address=10.77.0.2/24\nroute=10.78.0.0/16\nroute=fd78::/48\n";
  PtTunRequest request;
  PtTunError error;
  char buf[64];

  g_assert_cmpint (pt_tun_request_parse (text, strlen (text), &request, &error), ==, 0);
  g_assert_cmpstr (request.ifname, ==, "ptvpn12");
  g_assert_cmpuint (request.mtu, ==, 1420);
  g_assert_true (request.has_address4);
  g_assert_true (request.has_address6);
  g_assert_cmpstr (pt_tun_prefix_to_string (&request.address4, buf, sizeof buf), ==, "10.77.0.2/24");
  g_assert_cmpstr (pt_tun_prefix_to_string (&request.address6, buf, sizeof buf), ==, "fd77::2/64");
  g_assert_cmpuint (request.n_routes, ==, 2);
  g_assert_cmpint (request.routes[0].family, ==, AF_INET);
  g_assert_cmpstr (pt_tun_prefix_to_string (&request.routes[0], buf, sizeof buf), ==, "10.78.0.0/16");
  g_assert_cmpint (request.routes[1].family, ==, AF_INET6);
  g_assert_cmpstr (pt_tun_prefix_to_string (&request.routes[1], buf, sizeof buf), ==, "fd78::/48");
}

/* The route count is bounded: 32 pass, 33 are refused; and the size is bounded. */
static void
test_limits (void)
{
  g_autoptr(GString) text = g_string_new (HEAD "address=10.0.0.1/16\n");
  PtTunRequest request;
  PtTunError error;

  for (guint i = 0; i < PT_TUN_MAX_ROUTES; i++)
    g_string_append_printf (text, "route=10.%u.0.0/16\n", 100 + i);
  g_assert_cmpint (pt_tun_request_parse (text->str, text->len, &request, &error), ==, 0);
  g_assert_cmpuint (request.n_routes, ==, PT_TUN_MAX_ROUTES);

  g_string_append (text, "route=10.200.0.0/16\n");
  g_assert_cmpint (pt_tun_request_parse (text->str, text->len, &request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "route");
  g_assert_nonnull (strstr (error.message, "more than 32"));

  g_string_assign (text, HEAD "address=10.0.0.1/16\n");
  while (text->len <= PT_TUN_MESSAGE_MAX)
    g_string_append (text, "x");
  g_assert_cmpint (pt_tun_request_parse (text->str, text->len, &request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "request");
  g_assert_nonnull (strstr (error.message, "longer than 4096"));
}

/* The ranges the engine and the app check (pt-vpn-limits.h, as text) are
 * the helper's own: each is accepted whole as a route, and no wider prefix
 * of it is. */
static void
test_private_ranges_agree (void)
{
  static const char * const ranges[] = { PT_VPN_PRIVATE_RANGES_IPV4, PT_VPN_PRIVATE_RANGES_IPV6 };

  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      gboolean v6 = strchr (ranges[i], ':') != NULL;
      const char *address = v6 ? "fd00::1/64" : "10.0.0.1/24";
      g_autofree char *network = g_strndup (ranges[i], strcspn (ranges[i], "/"));
      guint prefix = (guint) atoi (strchr (ranges[i], '/') + 1);
      g_autofree char *inside = g_strdup_printf (HEAD "address=%s\nroute=%s\n", address, ranges[i]);
      g_autofree char *wider = g_strdup_printf (HEAD "address=%s\nroute=%s/%u\n", address,
                                                network, prefix - 1);
      PtTunRequest request;
      PtTunError error = { { 0 } };

      if (pt_tun_request_parse (inside, strlen (inside), &request, &error) != 0)
        g_error ("%s: refused: %s", ranges[i], error.message);
      g_assert_cmpint (pt_tun_request_parse (wider, strlen (wider), &request, &error), ==, -1);
      g_assert_cmpstr (error.field, ==, "route");
    }
}

/* A struct built by code (the engine's side) is checked by validate, and formatted. */
static void
test_validate_struct (void)
{
  PtTunRequest request = { .mtu = 1400 };
  PtTunError error;
  char text[PT_TUN_MESSAGE_MAX];

  g_assert_cmpint (pt_tun_request_validate (&request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "ifname");

  memcpy (request.ifname, "pt0xxxxxxxxxxxxx", sizeof request.ifname); /* no NUL */
  g_assert_cmpint (pt_tun_request_validate (&request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "ifname");
  g_assert_cmpint (pt_tun_request_format (&request, text, sizeof text), ==, -1);

  strcpy (request.ifname, "pt4");
  g_assert_cmpint (pt_tun_request_validate (&request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "address");

  g_assert_cmpint (pt_tun_prefix_parse ("10.9.0.1/24", &request.address4), ==, 0);
  request.has_address4 = 1;
  g_assert_cmpint (pt_tun_request_validate (&request, &error), ==, 0);
  g_assert_cmpint (pt_tun_request_format (&request, text, sizeof text), >, 0);
  g_assert_cmpstr (text, ==, "version=1\nifname=pt4\nmtu=1400\naddress=10.9.0.1/24\n");
  g_assert_cmpint (pt_tun_request_format (&request, text, 10), ==, -1);

  request.n_routes = PT_TUN_MAX_ROUTES + 1;
  g_assert_cmpint (pt_tun_request_validate (&request, &error), ==, -1);
  g_assert_cmpstr (error.field, ==, "route");
}

static void
test_reply_round_trip (void)
{
  PtTunReply reply = { .status = PT_TUN_STATUS_OK, .ifname = "pt3", .ifindex = 42 };
  PtTunReply parsed;
  PtTunError error;
  char text[PT_TUN_MESSAGE_MAX];
  int len;

  len = pt_tun_reply_format (&reply, text, sizeof text);
  g_assert_cmpstr (text, ==, "version=1\nstatus=ok\nifname=pt3\nifindex=42\n");
  g_assert_cmpint (pt_tun_reply_parse (text, (gsize) len, &parsed, &error), ==, 0);
  g_assert_cmpint (parsed.status, ==, PT_TUN_STATUS_OK);
  g_assert_cmpstr (parsed.ifname, ==, "pt3");
  g_assert_cmpuint (parsed.ifindex, ==, 42);

  /* A message with newlines and other bytes is cleaned so that it still parses. */
  memset (&reply, 0, sizeof reply);
  reply.status = PT_TUN_STATUS_FAILED;
  strcpy (reply.error.field, "route");
  strcpy (reply.error.message, "cannot add\nthe route: \x01 exists");
  len = pt_tun_reply_format (&reply, text, sizeof text);
  g_assert_cmpint (len, >, 0);
  g_assert_cmpint (pt_tun_reply_parse (text, (gsize) len, &parsed, &error), ==, 0);
  g_assert_cmpint (parsed.status, ==, PT_TUN_STATUS_FAILED);
  g_assert_cmpstr (parsed.error.field, ==, "route");
  g_assert_cmpstr (parsed.error.message, ==, "cannot add?the route: ? exists");

  reply.status = PT_TUN_STATUS_INVALID;
  len = pt_tun_reply_format (&reply, text, sizeof text);
  g_assert_cmpint (pt_tun_reply_parse (text, (gsize) len, &parsed, &error), ==, 0);
  g_assert_cmpint (parsed.status, ==, PT_TUN_STATUS_INVALID);
}

static void
test_reply_bad (void)
{
  static const char *bad[] = {
    "",
    "status=ok\nifname=pt0\nifindex=1\n",
    "version=1\nstatus=ok\nifname=pt0\n",
    "version=1\nstatus=ok\nifname=eth0\nifindex=1\n",
    "version=1\nstatus=ok\nifname=pt0\nifindex=0\n",
    "version=1\nstatus=ok\nifname=pt0\nifindex=4294967296\n",
    "version=1\nstatus=ok\nifname=pt0\nifindex=1\nfield=x\n",
    "version=1\nstatus=maybe\n",
    "version=1\nstatus=failed\nfield=route\n",
    "version=1\nstatus=failed\nfield=route\nmessage=x\nifindex=1\n",
    "version=1\nstatus=ok\nstatus=ok\nifname=pt0\nifindex=1\n",
    "version=1\nstatus=ok\nifname=pt0\nifindex=1\nextra=1\n",
    "version=1\nstatus=ok\nifname=pt0\nifindex=1",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      PtTunReply reply;
      PtTunError error = { { 0 } };

      if (pt_tun_reply_parse (bad[i], strlen (bad[i]), &reply, &error) != -1)
        g_error ("reply %u parsed: %s", i, bad[i]);
      g_assert_cmpuint (strlen (error.field), >, 0);
      g_assert_cmpuint (strlen (error.message), >, 0);
    }
}

/* What a request would install, against what the machine has (sans-I/O). */
typedef struct
{
  const char *existing;     /* "ADDRESS/LEN" */
  int         is_address;
  const char *ifname;
  const char *field;        /* NULL: no overlap */
  const char *in_message;
} OverlapCase;

static void
test_overlap (void)
{
  static const OverlapCase cases[] = {
    /* the case: 192.168.1.128/25 pushed, the LAN is 192.168.1.0/24 */
    { "192.168.1.0/24", 0, "eth0", "address",
      "the VPN network 192.168.1.128/25 (address 192.168.1.130/25) overlaps the route "
      "192.168.1.0/24 on eth0" },
    { "192.168.1.5/24", 1, "eth0", "address", "overlaps the address 192.168.1.5/24 on eth0" },
    { "192.168.0.0/16", 0, "wlan0", "address", "192.168.0.0/16 on wlan0" },
    { "192.168.1.200/32", 1, "lo", "address", "192.168.1.200/32 on lo" },
    { "10.78.4.0/24", 0, "eth1", "route", "the route 10.78.0.0/16 overlaps the route 10.78.4.0/24" },
    { "10.0.0.0/8", 0, "", "route", "on another device" },
    { "fd78:0:0:1::/64", 0, "eth0", "route", "fd78::/48" },
    { "fd77::/56", 0, "eth0", "address", "fd77::/64" },
    /* no overlap */
    { "192.168.2.0/24", 0, "eth0", NULL, NULL },
    { "192.168.1.127/32", 1, "eth0", NULL, NULL },
    { "10.79.0.0/16", 0, "eth0", NULL, NULL },
    { "fd79::/48", 0, "eth0", NULL, NULL },
    /* the default route, and the device being made, never count */
    { "0.0.0.0/0", 0, "eth0", NULL, NULL },
    { "::/0", 0, "eth0", NULL, NULL },
    { "192.168.1.0/24", 0, "pt5", NULL, NULL },
    { "192.168.1.5/24", 1, "pt5", NULL, NULL },
  };
  const char *text = "version=1\nifname=pt5\nmtu=1400\naddress=192.168.1.130/25\n"
                     "address=fd77::2/64\nroute=10.78.0.0/16\nroute=fd78::/48\n";
  PtTunRequest request;
  PtTunError error;

  g_assert_cmpint (pt_tun_request_parse (text, strlen (text), &request, &error), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PtTunExisting existing = { .is_address = cases[i].is_address };
      int r;

      g_assert_cmpint (pt_tun_prefix_parse (cases[i].existing, &existing.prefix), ==, 0);
      g_strlcpy (existing.ifname, cases[i].ifname, sizeof existing.ifname);
      memset (&error, 0, sizeof error);
      r = pt_tun_request_check_overlap (&request, &existing, &error);
      g_test_message ("%s: %d %s: %s", cases[i].existing, r, error.field, error.message);
      if (cases[i].field == NULL)
        {
          g_assert_cmpint (r, ==, 0);
          continue;
        }
      g_assert_cmpint (r, ==, -1);
      g_assert_cmpstr (error.field, ==, cases[i].field);
      if (strstr (error.message, cases[i].in_message) == NULL)
        g_error ("%s: \"%s\" not in \"%s\"", cases[i].existing, cases[i].in_message,
                 error.message);
    }
}

/* The prefixes overlap exactly when the shorter one holds the other. */
static void
test_prefix_overlaps (void)
{
  static const struct { const char *a, *b; int overlap; } cases[] = {
    { "10.0.0.0/8", "10.1.2.0/24", 1 },
    { "10.1.2.0/24", "10.0.0.0/8", 1 },
    { "10.1.2.0/24", "10.1.3.0/24", 0 },
    { "10.1.2.0/23", "10.1.3.0/24", 1 },
    { "10.1.2.7/32", "10.1.2.7/32", 1 },
    { "10.1.2.7/32", "10.1.2.8/32", 0 },
    { "192.168.1.128/25", "192.168.1.0/25", 0 },
    { "fd00::/8", "fd12:3456::/32", 1 },
    { "fd00::/64", "fd00:0:0:1::/64", 0 },
    { "10.0.0.0/8", "fd00::/8", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PtTunPrefix a, b;

      g_assert_cmpint (pt_tun_prefix_parse (cases[i].a, &a), ==, 0);
      g_assert_cmpint (pt_tun_prefix_parse (cases[i].b, &b), ==, 0);
      if (pt_tun_prefix_overlaps (&a, &b) != cases[i].overlap)
        g_error ("%s and %s: overlap should be %d", cases[i].a, cases[i].b, cases[i].overlap);
    }
}

/* The machine's own table, read for real: its routes never overlap a network
 * made up to be far from them, and the dump itself works unprivileged. */
static void
test_system_dump (void)
{
  const char *text = "version=1\nifname=pt5\nmtu=1400\naddress=100.127.254.2/30\n";
  PtTunRequest request;
  PtTunError error = { { 0 } };
  int r;

  g_assert_cmpint (pt_tun_request_parse (text, strlen (text), &request, &error), ==, 0);
  r = pt_tun_check_system_overlap (&request, &error);
  g_test_message ("%d %s: %s", r, error.field, error.message);
  if (r != 0 && strcmp (error.field, "system") == 0)
    {
      g_test_skip ("no rtnetlink here");
      return;
    }
  if (r != 0)
    {
      g_test_skip ("this machine routes 100.127.254.0/30 itself");
      return;
    }
  g_assert_cmpint (r, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/tun-request/good/%s", good_cases[i].name);
      g_test_add_data_func (path, &good_cases[i], test_good);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/tun-request/bad/%s", bad_cases[i].name);
      g_test_add_data_func (path, &bad_cases[i], test_bad);
    }
  g_test_add_func ("/tun-request/parsed-values", test_parsed_values);
  g_test_add_func ("/tun-request/limits", test_limits);
  g_test_add_func ("/tun-request/private-ranges-agree", test_private_ranges_agree);
  g_test_add_func ("/tun-request/validate-struct", test_validate_struct);
  g_test_add_func ("/tun-reply/round-trip", test_reply_round_trip);
  g_test_add_func ("/tun-reply/bad", test_reply_bad);
  g_test_add_func ("/tun-request/overlap", test_overlap);
  g_test_add_func ("/tun-request/prefix-overlaps", test_prefix_overlaps);
  g_test_add_func ("/tun-request/system-dump", test_system_dump);

  return g_test_run ();
}
