/* test-ice-candidate.c — which of a peer's candidates this side checks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "pt-ice-private.h"

#define GLOBAL_ONLY  (1u << PT_ADDRESS_SCOPE_GLOBAL)
#define WITH_LOOPBACK (GLOBAL_ONLY | (1u << PT_ADDRESS_SCOPE_LOOPBACK))
#define WITH_LINK     (GLOBAL_ONLY | (1u << PT_ADDRESS_SCOPE_LINK_LOCAL))

static PtCandidate
make_candidate (const char *address,
                guint16     port)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);
  PtCandidate c = { 0 };

  g_assert_nonnull (inet);
  c.type = PT_PATH_KIND_HOST;
  c.transport = PT_TRANSPORT_UDP;
  c.priority = 2130706431;
  g_strlcpy (c.foundation, "1", sizeof c.foundation);
  c.family = g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
  memcpy (c.addr, g_inet_address_to_bytes (inet), g_inet_address_get_native_size (inet));
  c.port = port;
  return c;
}

static PtAddressScope
scope_of (const char *address)
{
  PtCandidate c = make_candidate (address, 1);

  return _pt_address_scope (c.family, c.addr);
}

static void
test_scopes (void)
{
  static const struct { const char *address; PtAddressScope scope; } cases[] = {
    { "192.0.2.1",        PT_ADDRESS_SCOPE_GLOBAL },
    { "192.168.1.5",      PT_ADDRESS_SCOPE_GLOBAL },      /* a LAN: a real peer may be there */
    { "10.0.0.1",         PT_ADDRESS_SCOPE_GLOBAL },
    { "100.64.0.1",       PT_ADDRESS_SCOPE_GLOBAL },
    { "127.0.0.1",        PT_ADDRESS_SCOPE_LOOPBACK },
    { "127.255.1.2",      PT_ADDRESS_SCOPE_LOOPBACK },
    { "169.254.10.20",    PT_ADDRESS_SCOPE_LINK_LOCAL },
    { "0.0.0.0",          PT_ADDRESS_SCOPE_UNUSABLE },
    { "0.1.2.3",          PT_ADDRESS_SCOPE_UNUSABLE },
    { "224.0.0.251",      PT_ADDRESS_SCOPE_UNUSABLE },    /* mDNS multicast */
    { "239.255.255.250",  PT_ADDRESS_SCOPE_UNUSABLE },    /* SSDP */
    { "240.0.0.1",        PT_ADDRESS_SCOPE_UNUSABLE },
    { "255.255.255.255",  PT_ADDRESS_SCOPE_UNUSABLE },
    { "2001:db8::1",      PT_ADDRESS_SCOPE_GLOBAL },
    { "fd00::2",          PT_ADDRESS_SCOPE_GLOBAL },
    { "::1",              PT_ADDRESS_SCOPE_LOOPBACK },
    { "::",               PT_ADDRESS_SCOPE_UNUSABLE },
    { "fe80::1",          PT_ADDRESS_SCOPE_LINK_LOCAL },
    { "febf::1",          PT_ADDRESS_SCOPE_LINK_LOCAL },
    { "fec0::1",          PT_ADDRESS_SCOPE_GLOBAL },
    { "ff02::1",          PT_ADDRESS_SCOPE_UNUSABLE },
    { "::ffff:127.0.0.1", PT_ADDRESS_SCOPE_LOOPBACK },    /* IPv4-mapped: judged as IPv4 */
    { "::ffff:169.254.1.1", PT_ADDRESS_SCOPE_LINK_LOCAL },
    { "::ffff:192.0.2.1", PT_ADDRESS_SCOPE_GLOBAL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].address);
      g_assert_cmpstr (_pt_address_scope_to_string (scope_of (cases[i].address)), ==,
                       _pt_address_scope_to_string (cases[i].scope));
    }
  g_assert_cmpint (_pt_address_scope (5, (const guint8 *) "\0\0\0\0"), ==,
                   PT_ADDRESS_SCOPE_UNUSABLE);
}

static void
assert_kept (const char *address,
             guint       scopes,
             gboolean    kept)
{
  PtCandidate c = make_candidate (address, 40000);
  PtAddressScope scope;
  NiceCandidate *nc = _pt_ice_candidate_from_peer (&c, 3, scopes, &scope);

  g_test_message ("%s with scopes 0x%x", address, scopes);
  if (!kept)
    {
      g_assert_null (nc);
      return;
    }
  g_assert_nonnull (nc);
  {
    char text[NICE_ADDRESS_STRING_LEN];
    g_autoptr(GInetAddress) want = g_inet_address_new_from_string (address);
    g_autoptr(GInetAddress) got = NULL;

    nice_address_to_string (&nc->addr, text);
    got = g_inet_address_new_from_string (text);
    g_assert_true (g_inet_address_equal (want, got));
  }
  g_assert_cmpuint (nice_address_get_port (&nc->addr), ==, 40000);
  g_assert_cmpuint (nc->stream_id, ==, 3);
  g_assert_cmpuint (nc->component_id, ==, 1);
  g_assert_cmpuint (nc->priority, ==, c.priority);
  g_assert_cmpstr (nc->foundation, ==, "1");
  g_assert_cmpint (nc->type, ==, NICE_CANDIDATE_TYPE_HOST);
  g_assert_cmpint (nc->transport, ==, NICE_CANDIDATE_TRANSPORT_UDP);
  nice_candidate_free (nc);
}

static void
test_from_peer (void)
{
  /* A server on its LAN or the internet: loopback and link-local are refused. */
  assert_kept ("192.0.2.7", GLOBAL_ONLY, TRUE);
  assert_kept ("2001:db8::7", GLOBAL_ONLY, TRUE);
  assert_kept ("127.0.0.1", GLOBAL_ONLY, FALSE);
  assert_kept ("::1", GLOBAL_ONLY, FALSE);
  assert_kept ("::ffff:127.0.0.1", GLOBAL_ONLY, FALSE);
  assert_kept ("169.254.1.1", GLOBAL_ONLY, FALSE);
  assert_kept ("fe80::1", GLOBAL_ONLY, FALSE);

  /* Told to use loopback (--local-address 127.0.0.1): loopback peers are fine. */
  assert_kept ("127.0.0.1", WITH_LOOPBACK, TRUE);
  assert_kept ("::1", WITH_LOOPBACK, TRUE);
  assert_kept ("169.254.1.1", WITH_LOOPBACK, FALSE);
  assert_kept ("169.254.1.1", WITH_LINK, TRUE);

  /* Never a peer, whatever this side uses. */
  assert_kept ("0.0.0.0", ~0u, FALSE);
  assert_kept ("::", ~0u, FALSE);
  assert_kept ("224.0.0.1", ~0u, FALSE);
  assert_kept ("255.255.255.255", ~0u, FALSE);
  assert_kept ("ff02::1", ~0u, FALSE);
}

static void
test_from_peer_malformed (void)
{
  PtCandidate c = make_candidate ("192.0.2.7", 40000);
  PtAddressScope scope;

  c.port = 0;
  g_assert_null (_pt_ice_candidate_from_peer (&c, 1, ~0u, &scope));
  c = make_candidate ("192.0.2.7", 40000);
  c.family = 5;
  g_assert_null (_pt_ice_candidate_from_peer (&c, 1, ~0u, &scope));
  g_assert_cmpint (scope, ==, PT_ADDRESS_SCOPE_UNUSABLE);
  c = make_candidate ("192.0.2.7", 40000);
  memset (c.foundation, 'a', sizeof c.foundation);   /* no terminator */
  g_assert_null (_pt_ice_candidate_from_peer (&c, 1, ~0u, NULL));
  c = make_candidate ("192.0.2.7", 40000);
  c.foundation[0] = '\0';
  g_assert_null (_pt_ice_candidate_from_peer (&c, 1, ~0u, NULL));
  c = make_candidate ("192.0.2.7", 40000);
  c.type = (PtPathKind) 77;
  g_assert_null (_pt_ice_candidate_from_peer (&c, 1, ~0u, NULL));
}

static NiceCandidate *
local_candidate (NiceCandidateType  type,
                 const char        *address,
                 const char        *base)
{
  NiceCandidate *nc = nice_candidate_new (type);

  g_assert_true (nice_address_set_from_string (&nc->addr, address));
  g_assert_true (nice_address_set_from_string (&nc->base_addr, base));
  return nc;
}

static void
test_local_scopes (void)
{
  GSList *list = NULL;

  g_assert_cmpuint (_pt_ice_local_scopes (NULL), ==, GLOBAL_ONLY);

  list = g_slist_prepend (list, local_candidate (NICE_CANDIDATE_TYPE_HOST, "192.0.2.2", "192.0.2.2"));
  list = g_slist_prepend (list, local_candidate (NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE,
                                                 "198.51.100.1", "192.0.2.2"));
  g_assert_cmpuint (_pt_ice_local_scopes (list), ==, GLOBAL_ONLY);

  /* --local-address 127.0.0.1, or a TURN server on this machine */
  list = g_slist_prepend (list, local_candidate (NICE_CANDIDATE_TYPE_RELAYED, "127.0.0.1", "192.0.2.2"));
  g_assert_cmpuint (_pt_ice_local_scopes (list), ==, WITH_LOOPBACK);

  list = g_slist_prepend (list, local_candidate (NICE_CANDIDATE_TYPE_HOST, "169.254.3.4", "169.254.3.4"));
  g_assert_cmpuint (_pt_ice_local_scopes (list), ==, WITH_LOOPBACK | WITH_LINK);
  g_slist_free_full (list, (GDestroyNotify) nice_candidate_free);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-candidate/scopes", test_scopes);
  g_test_add_func ("/ice-candidate/from-peer", test_from_peer);
  g_test_add_func ("/ice-candidate/from-peer-malformed", test_from_peer_malformed);
  g_test_add_func ("/ice-candidate/local-scopes", test_local_scopes);

  return g_test_run ();
}
