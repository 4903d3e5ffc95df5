/* test-vpn-tunnel.c — VPN mode end to end in one process
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A server tunnel per client, one router, and two clients, over real ICE and
 * QUIC on loopback. The TUN devices are stood in for by SOCK_SEQPACKET
 * socketpairs (one read, one packet, like a TUN fd): the test holds the
 * "kernel" ends and checks what comes out where.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "pt.h"
#include "pt-tunnel-private.h"
#include "pt-vpn-private.h"

#define DEADLINE_S 20

static gboolean deadline_hit;

static gboolean
deadline_cb (gpointer data)
{
  deadline_hit = TRUE;
  return G_SOURCE_REMOVE;
}

static void
wait_for (gboolean *flag)
{
  guint id;

  deadline_hit = FALSE;
  id = g_timeout_add_seconds (DEADLINE_S, deadline_cb, NULL);
  while (!*flag && !deadline_hit)
    g_main_context_iteration (NULL, TRUE);
  if (!deadline_hit)
    g_source_remove (id);
  g_assert_false (deadline_hit);
}

typedef struct
{
  PtTunnel *client;
  PtTunnel *server;
  int       kernel;          /* the test's end of the client's TUN */
  gboolean  configured;
  gboolean  up;
  gboolean  failed;
  PtSignal *offer;
  PtSignal *answer;
  gboolean  offered;
  gboolean  answered;
} Peer;

static void
on_vpn_config (PtTunnel *tunnel,
               Peer     *peer)
{
  int pair[2];
  g_autoptr(GError) error = NULL;

  peer->configured = TRUE;
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), ==, 0);
  peer->kernel = pair[0];
  g_assert_true (_pt_tunnel_attach_tun (tunnel, pair[1], &error));
  g_assert_no_error (error);
}

static void
on_state (PtTunnel   *tunnel,
          GParamSpec *pspec,
          Peer       *peer)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);

  if (state == PT_TUNNEL_STATE_UP)
    peer->up = TRUE;
  if (state == PT_TUNNEL_STATE_FAILED || state == PT_TUNNEL_STATE_CLOSED)
    peer->failed = TRUE;
}

static void
offer_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      data)
{
  Peer *peer = data;
  g_autoptr(GError) error = NULL;

  peer->offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);
  g_assert_no_error (error);
  peer->offered = TRUE;
}

static void
answer_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      data)
{
  Peer *peer = data;
  g_autoptr(GError) error = NULL;

  peer->answer = pt_tunnel_accept_offer_finish (PT_TUNNEL (object), result, &error);
  g_assert_no_error (error);
  peer->answered = TRUE;
}

static PtIceConfig *
loopback_config (void)
{
  PtIceConfig *config = pt_ice_config_new ();

  g_assert_true (pt_ice_config_add_local_address (config, "127.0.0.1", NULL));
  return config;
}

static void
peer_connect (Peer        *peer,
              PtVpnRouter *router,
              const char  *client_id)
{
  g_autoptr(PtIceConfig) config = loopback_config ();
  g_autoptr(GError) error = NULL;

  peer->kernel = -1;
  peer->client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  peer->server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  _pt_tunnel_set_vpn_client (peer->client, 0);
  _pt_tunnel_set_vpn_router (peer->server, router, client_id);
  g_signal_connect (peer->client, "vpn-config", G_CALLBACK (on_vpn_config), peer);
  g_signal_connect (peer->client, "notify::state", G_CALLBACK (on_state), peer);

  pt_tunnel_create_offer_async (peer->client, NULL, offer_cb, peer);
  wait_for (&peer->offered);
  g_assert_cmpuint (peer->offer->forwards->len, ==, 0);
  pt_tunnel_accept_offer_async (peer->server, peer->offer, NULL, answer_cb, peer);
  wait_for (&peer->answered);
  g_assert_true (pt_tunnel_set_answer (peer->client, peer->answer, &error));
  g_assert_no_error (error);
  wait_for (&peer->up);
  g_assert_true (peer->configured);
}

static void
peer_clear (Peer *peer)
{
  if (peer->client != NULL)
    {
      g_signal_handlers_disconnect_by_data (peer->client, peer);
      pt_tunnel_close (peer->client);
    }
  if (peer->server != NULL)
    pt_tunnel_close (peer->server);
  g_clear_object (&peer->client);
  g_clear_object (&peer->server);
  g_clear_pointer (&peer->offer, pt_signal_free);
  g_clear_pointer (&peer->answer, pt_signal_free);
  if (peer->kernel >= 0)
    close (peer->kernel);
}

/* An IPv4 UDP packet of @size bytes with DF. */
static GBytes *
udp_packet (const guint8 *src,
            const guint8 *dst,
            gsize         size,
            guint8        fill)
{
  guint8 *p = g_malloc0 (size);

  p[0] = 0x45;
  p[2] = size >> 8;
  p[3] = size & 0xff;
  p[6] = 0x40;
  p[8] = 64;
  p[9] = 17;
  memcpy (p + 12, src, 4);
  memcpy (p + 16, dst, 4);
  memset (p + 20, fill, size - 20);
  return g_bytes_new_take (p, size);
}

typedef struct
{
  int         fd;
  GByteArray *got;
  gboolean    done;
} Reader;

static gboolean
read_cb (gint         fd,
         GIOCondition condition,
         gpointer     data)
{
  Reader *r = data;
  guint8 buf[65536];
  ssize_t n = recv (fd, buf, sizeof buf, MSG_DONTWAIT);

  if (n > 0)
    {
      g_byte_array_append (r->got, buf, n);
      r->done = TRUE;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* The next packet that @fd delivers, within the deadline. */
static GBytes *
next_packet (int fd)
{
  Reader r = { fd, g_byte_array_new (), FALSE };
  guint id = g_unix_fd_add (fd, G_IO_IN, read_cb, &r);

  wait_for (&r.done);
  (void) id;
  return g_byte_array_free_to_bytes (r.got);
}

static void
send_packet (int     fd,
             GBytes *packet)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (packet, &len);

  g_assert_cmpint (send (fd, data, len, 0), ==, (gssize) len);
}

static void
test_vpn (void)
{
  g_autoptr(GError) error = NULL;
  int server_tun[2];
  PtVpnRouter *router;
  Peer a = { 0, }, b = { 0, };
  const PtVpnConfig *ca, *cb;
  static const guint8 server_addr[4] = { 10, 77, 0, 1 };

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, server_tun), ==, 0);
  router = _pt_vpn_router_new ("10.77.0.0/24", NULL, server_tun[1], 1400, &error);
  g_assert_no_error (error);

  peer_connect (&a, router, "alice");
  peer_connect (&b, router, "bob");
  ca = _pt_tunnel_get_vpn_config (a.client);
  cb = _pt_tunnel_get_vpn_config (b.client);
  g_assert_cmpuint (ca->addr4[3], >=, 2);
  g_assert_cmpuint (ca->addr4[3], <=, 254);
  g_assert_cmpuint (cb->addr4[3], >=, 2);
  g_assert_cmpuint (ca->addr4[3], !=, cb->addr4[3]);
  g_assert_cmpuint (ca->prefix4, ==, 24);
  g_assert_cmpmem (ca->server4, 4, server_addr, 4);
  g_assert_cmpuint (ca->mtu, >=, 576);
  g_assert_cmpuint (ca->mtu, <=, 1400);
  g_test_message ("MTU %u", ca->mtu);

  /* Client A → server: out of the server's TUN, byte for byte. */
  {
    g_autoptr(GBytes) sent = udp_packet (ca->addr4, server_addr, 300, 0xa1);
    g_autoptr(GBytes) got = NULL;

    send_packet (a.kernel, sent);
    got = next_packet (server_tun[0]);
    g_assert_true (g_bytes_equal (sent, got));
  }
  /* Server → client B. */
  {
    g_autoptr(GBytes) sent = udp_packet (server_addr, cb->addr4, 500, 0xb2);
    g_autoptr(GBytes) got = NULL;

    send_packet (server_tun[0], sent);
    got = next_packet (b.kernel);
    g_assert_true (g_bytes_equal (sent, got));
  }
  /* Client A → client B, through the server without touching its TUN. */
  {
    g_autoptr(GBytes) sent = udp_packet (ca->addr4, cb->addr4, ca->mtu, 0xab);
    g_autoptr(GBytes) got = NULL;

    send_packet (a.kernel, sent);
    got = next_packet (b.kernel);
    g_assert_true (g_bytes_equal (sent, got));
  }
  /* A spoofed source is dropped and counted; the next good packet passes. */
  {
    static const guint8 spoofed[4] = { 10, 77, 0, 99 };
    g_autoptr(GBytes) bad = udp_packet (spoofed, server_addr, 100, 0x66);
    g_autoptr(GBytes) good = udp_packet (ca->addr4, server_addr, 100, 0x77);
    g_autoptr(GBytes) got = NULL;

    send_packet (a.kernel, bad);
    send_packet (a.kernel, good);
    got = next_packet (server_tun[0]);
    g_assert_true (g_bytes_equal (good, got));
    g_assert_cmpuint (_pt_vpn_router_get_spoofed (router), ==, 1);
  }
  /* Too big for the path: A's own side answers with ICMP "fragmentation
   * needed" naming the MTU that fits. */
  {
    g_autoptr(GBytes) big = udp_packet (ca->addr4, server_addr, 3000, 0xee);
    g_autoptr(GBytes) icmp = NULL;
    const guint8 *p;
    gsize len;

    send_packet (a.kernel, big);
    icmp = next_packet (a.kernel);
    p = g_bytes_get_data (icmp, &len);
    g_assert_cmpuint (len, >=, 28);
    g_assert_cmpuint (p[9], ==, 1);           /* ICMP */
    g_assert_cmpmem (p + 12, 4, server_addr, 4);
    g_assert_cmpmem (p + 16, 4, ca->addr4, 4);
    g_assert_cmpuint (p[20], ==, 3);
    g_assert_cmpuint (p[21], ==, 4);
    g_assert_cmpuint ((guint) (p[26] << 8 | p[27]), >=, ca->mtu);
  }

  /* Alice leaves and comes back: the same address. */
  {
    guint8 alice_before = ca->addr4[3];

  peer_clear (&a);
  memset (&a, 0, sizeof a);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  peer_connect (&a, router, "alice");
  ca = _pt_tunnel_get_vpn_config (a.client);
  g_assert_cmpuint (ca->addr4[3], ==, alice_before);
  }

  peer_clear (&a);
  peer_clear (&b);
  _pt_vpn_router_unref (router);
  close (server_tun[0]);
  {
    gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

    while (pt_tunnel_is_anything_closing () && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE);
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
}

/* A server without VPN mode refuses, saying so. */
static void
test_vpn_not_offered (void)
{
  g_autoptr(PtIceConfig) config = loopback_config ();
  g_autoptr(GError) error = NULL;
  Peer peer = { 0, };

  peer.kernel = -1;
  peer.client = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, config);
  peer.server = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, config);
  _pt_tunnel_set_vpn_client (peer.client, 0);
  g_signal_connect (peer.client, "notify::state", G_CALLBACK (on_state), &peer);
  pt_tunnel_create_offer_async (peer.client, NULL, offer_cb, &peer);
  wait_for (&peer.offered);
  pt_tunnel_accept_offer_async (peer.server, peer.offer, NULL, answer_cb, &peer);
  wait_for (&peer.answered);
  g_assert_true (pt_tunnel_set_answer (peer.client, peer.answer, &error));
  wait_for (&peer.failed);
  g_assert_nonnull (pt_tunnel_get_error (peer.client));
  g_test_message ("%s", pt_tunnel_get_error (peer.client)->message);
  g_assert_nonnull (strstr (pt_tunnel_get_error (peer.client)->message, "VPN"));
  peer_clear (&peer);
  {
    gint64 end = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;

    while (pt_tunnel_is_anything_closing () && g_get_monotonic_time () < end)
      g_main_context_iteration (NULL, FALSE);
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vpn-tunnel/two-clients", test_vpn);
  g_test_add_func ("/vpn-tunnel/not-offered", test_vpn_not_offered);
  return g_test_run ();
}
