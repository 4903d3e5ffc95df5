/* test-ice-config.c — STUN/TURN server specs and local addresses
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "pt.h"

static void
test_stun_specs (void)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();
  const char *good[] = { "stun.example.org:3478", "stun.example.org", "192.0.2.1:19302",
                         "[2001:db8::1]:3478", "2001:db8::1" };
  const char *bad[] = { "", ":3478", "host:0", "host:65536", "host:port", "[::1", "a b:1",
                        "[]:3478" };
  const char * const *list;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (pt_ice_config_add_stun_server (config, good[i], &error));
      g_assert_no_error (error);
    }

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_false (pt_ice_config_add_stun_server (config, bad[i], &error));
      g_assert_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER);
      g_assert_nonnull (strstr (error->message, "HOST:PORT"));
    }

  list = pt_ice_config_get_stun_servers (config);
  g_assert_cmpuint (g_strv_length ((char **) list), ==, G_N_ELEMENTS (good));
  g_assert_cmpstr (list[0], ==, "stun.example.org:3478");
}

static void
test_turn_urls (void)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();
  GPtrArray *servers = pt_ice_config_get_turn_servers (config);
  const PtTurnServer *s;

  g_assert_true (pt_ice_config_add_turn_server (config, "turn://alice:s3cret@turn.example.org:3479", NULL));
  g_assert_true (pt_ice_config_add_turn_server (config, "turn://bob:p%40ss@192.0.2.7?transport=tcp", NULL));
  g_assert_true (pt_ice_config_add_turn_server (config, "turns://carol:pw@[2001:db8::2]", NULL));
  g_assert_true (pt_ice_config_add_turn_server (config, "turn:dave:pw@host:1", NULL));
  g_assert_cmpuint (servers->len, ==, 4);

  s = g_ptr_array_index (servers, 0);
  g_assert_cmpstr (s->host, ==, "turn.example.org");
  g_assert_cmpuint (s->port, ==, 3479);
  g_assert_cmpstr (s->username, ==, "alice");
  g_assert_cmpstr (s->password, ==, "s3cret");
  g_assert_cmpint (s->transport, ==, PT_TURN_TRANSPORT_UDP);

  s = g_ptr_array_index (servers, 1);
  g_assert_cmpstr (s->password, ==, "p@ss");
  g_assert_cmpuint (s->port, ==, 3478);
  g_assert_cmpint (s->transport, ==, PT_TURN_TRANSPORT_TCP);

  s = g_ptr_array_index (servers, 2);
  g_assert_cmpstr (s->host, ==, "2001:db8::2");
  g_assert_cmpuint (s->port, ==, 5349);
  g_assert_cmpint (s->transport, ==, PT_TURN_TRANSPORT_TLS);

  s = g_ptr_array_index (servers, 3);
  g_assert_cmpstr (s->username, ==, "dave");
}

static void
test_turn_errors_hide_secrets (void)
{
  const char *bad[] = {
    "http://u:hunter2@host",            /* scheme */
    "turn://hunter2@host",              /* no password */
    "turn://u:hunter2@",                /* no host */
    "turn://u:hunter2@host:99999",      /* port */
    "turn://u:hunter2@host?transport=sctp",
    "turns://u:hunter2@host?transport=udp",
    "turn://u:hunter2%zz@host",         /* bad escape */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(PtIceConfig) config = pt_ice_config_new ();
      g_autoptr(GError) error = NULL;

      g_assert_false (pt_ice_config_add_turn_server (config, bad[i], &error));
      g_assert_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER);
      /* The password must never be echoed back. */
      g_assert_null (strstr (error->message, "hunter2"));
      g_assert_nonnull (strstr (error->message, "turn://USER:PASS@HOST"));
      g_assert_cmpuint (pt_ice_config_get_turn_servers (config)->len, ==, 0);
    }
}

static void
test_local_addresses (void)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (pt_ice_config_add_local_address (config, "127.0.0.1", NULL));
  g_assert_true (pt_ice_config_add_local_address (config, "::1", NULL));
  g_assert_false (pt_ice_config_add_local_address (config, "localhost", &error));
  g_assert_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_ADDRESS);
  g_assert_nonnull (strstr (error->message, "localhost"));
  g_assert_cmpstr (pt_ice_config_get_local_addresses (config)[1], ==, "::1");
  g_assert_null (pt_ice_config_get_local_addresses (config)[2]);

  g_assert_false (pt_ice_config_get_relay_only (config));
  pt_ice_config_set_relay_only (config, TRUE);
  g_assert_true (pt_ice_config_get_relay_only (config));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-config/stun-specs", test_stun_specs);
  g_test_add_func ("/ice-config/turn-urls", test_turn_urls);
  g_test_add_func ("/ice-config/turn-errors-hide-secrets", test_turn_errors_hide_secrets);
  g_test_add_func ("/ice-config/local-addresses", test_local_addresses);

  return g_test_run ();
}
