/* test-vpn.c — VPN mode's IP header parsing, ICMP "too big", address pool and
 * the VPN client lock
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pt.h"
#include "pt-vpn-private.h"

/* An IPv4 UDP packet 10.77.0.2 → 10.77.0.1 of @total bytes, DF as asked. */
static guint8 *
make_v4 (gsize    total,
         gboolean df,
         guint8   protocol)
{
  guint8 *p = g_malloc0 (total);

  p[0] = 0x45;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  p[6] = df ? 0x40 : 0;
  p[8] = 64;
  p[9] = protocol;
  p[12] = 10, p[13] = 77, p[14] = 0, p[15] = 2;
  p[16] = 10, p[17] = 77, p[18] = 0, p[19] = 1;
  for (gsize i = 20; i < total; i++)
    p[i] = (guint8) i;
  return p;
}

static guint8 *
make_v6 (gsize  total,
         guint8 next)
{
  guint8 *p = g_malloc0 (total);
  gsize payload = total - 40;

  p[0] = 0x60;
  p[4] = payload >> 8;
  p[5] = payload & 0xff;
  p[6] = next;
  p[7] = 64;
  p[8] = 0xfd, p[9] = 0x00, p[10] = 0x00, p[11] = 0x77, p[23] = 2;
  p[24] = 0xfd, p[25] = 0x00, p[26] = 0x00, p[27] = 0x77, p[39] = 1;
  for (gsize i = 40; i < total; i++)
    p[i] = (guint8) i;
  return p;
}

static void
test_parse (void)
{
  g_autofree guint8 *v4 = make_v4 (100, TRUE, 17);
  g_autofree guint8 *v6 = make_v6 (100, 17);
  PtIpHeader ip;

  g_assert_true (_pt_ip_header_parse (v4, 100, &ip));
  g_assert_cmpuint (ip.version, ==, 4);
  g_assert_cmpuint (ip.total_len, ==, 100);
  g_assert_cmpuint (ip.protocol, ==, 17);
  g_assert_cmpuint (ip.src[3], ==, 2);
  g_assert_cmpuint (ip.dst[3], ==, 1);
  /* Trailing bytes beyond the declared length are allowed (padding). */
  g_assert_true (_pt_ip_header_parse (v4, 100, &ip));

  g_assert_true (_pt_ip_header_parse (v6, 100, &ip));
  g_assert_cmpuint (ip.version, ==, 6);
  g_assert_cmpuint (ip.total_len, ==, 100);
  g_assert_cmpuint (ip.dst[15], ==, 1);

  /* Truncated, lying lengths, other versions. */
  g_assert_false (_pt_ip_header_parse (v4, 0, &ip));
  g_assert_false (_pt_ip_header_parse (v4, 19, &ip));
  g_assert_false (_pt_ip_header_parse (v4, 99, &ip));       /* says 100 */
  v4[0] = 0x44;                                             /* IHL 16 bytes */
  g_assert_false (_pt_ip_header_parse (v4, 100, &ip));
  v4[0] = 0x4f;                                             /* IHL 60 > total 100? fine */
  g_assert_true (_pt_ip_header_parse (v4, 100, &ip));
  v4[2] = 0, v4[3] = 30;                                    /* total < IHL */
  g_assert_false (_pt_ip_header_parse (v4, 100, &ip));
  g_assert_false (_pt_ip_header_parse (v6, 39, &ip));
  g_assert_false (_pt_ip_header_parse (v6, 99, &ip));
  v6[0] = 0x50;
  g_assert_false (_pt_ip_header_parse (v6, 100, &ip));
}

static gboolean
checksum_ok_v6 (const guint8 *p,
                gsize         len)
{
  guint8 pseudo[8] = { 0, };
  gsize icmp_len = len - 40;
  guint32 sum = _pt_ip_checksum_add (0, p + 8, 32);

  pseudo[2] = icmp_len >> 8;
  pseudo[3] = icmp_len & 0xff;
  pseudo[7] = 58;
  sum = _pt_ip_checksum_add (sum, pseudo, 8);
  sum = _pt_ip_checksum_add (sum, p + 40, icmp_len);
  return _pt_ip_checksum_fold (sum) == 0;
}

static void
test_too_big_v4 (void)
{
  static const guint8 router[4] = { 10, 77, 0, 1 };
  g_autofree guint8 *big = make_v4 (1400, TRUE, 6);
  g_autoptr(GBytes) icmp = _pt_ip_make_too_big (big, 1400, router, 1180);
  const guint8 *p;
  gsize len;
  PtIpHeader ip;

  g_assert_nonnull (icmp);
  p = g_bytes_get_data (icmp, &len);
  g_assert_cmpuint (len, ==, 576);                          /* the RFC 1812 limit */
  g_assert_true (_pt_ip_header_parse (p, len, &ip));
  g_assert_cmpuint (ip.protocol, ==, 1);
  g_assert_cmpmem (ip.src, 4, router, 4);
  g_assert_cmpmem (ip.dst, 4, big + 12, 4);                 /* back to the sender */
  g_assert_cmpuint (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p, 20)), ==, 0);
  g_assert_cmpuint (_pt_ip_checksum_fold (_pt_ip_checksum_add (0, p + 20, len - 20)), ==, 0);
  g_assert_cmpuint (p[20], ==, 3);
  g_assert_cmpuint (p[21], ==, 4);
  g_assert_cmpuint ((guint) (p[26] << 8 | p[27]), ==, 1180);
  g_assert_cmpmem (p + 28, 28, big, 28);                    /* quotes the header and more */

  /* No error without DF, for non-first fragments, about ICMP errors, or to
   * an unspecified or multicast source; echo requests do get one. */
  {
    g_autofree guint8 *no_df = make_v4 (1400, FALSE, 6);
    g_autofree guint8 *frag = make_v4 (1400, TRUE, 6);
    g_autofree guint8 *icmp_error = make_v4 (1400, TRUE, 1);
    g_autofree guint8 *ping = make_v4 (1400, TRUE, 1);
    g_autofree guint8 *from_zero = make_v4 (1400, TRUE, 17);
    g_autoptr(GBytes) answer = NULL;

    frag[7] = 0x10;
    icmp_error[20] = 3;
    ping[20] = 8;
    memset (from_zero + 12, 0, 4);
    g_assert_null (_pt_ip_make_too_big (no_df, 1400, router, 1180));
    g_assert_null (_pt_ip_make_too_big (frag, 1400, router, 1180));
    g_assert_null (_pt_ip_make_too_big (icmp_error, 1400, router, 1180));
    g_assert_null (_pt_ip_make_too_big (from_zero, 1400, router, 1180));
    g_assert_null (_pt_ip_make_too_big (ping, 19, router, 1180));
    answer = _pt_ip_make_too_big (ping, 1400, router, 1180);
    g_assert_nonnull (answer);
  }

  /* A short packet is quoted whole. */
  {
    g_autofree guint8 *small = make_v4 (100, TRUE, 17);
    g_autoptr(GBytes) answer = _pt_ip_make_too_big (small, 100, router, 60);

    g_assert_cmpuint (g_bytes_get_size (answer), ==, 20 + 8 + 100);
  }
}

static void
test_too_big_v6 (void)
{
  static const guint8 router[16] = { 0xfd, 0, 0, 0x77, [15] = 1 };
  g_autofree guint8 *big = make_v6 (1500, 6);
  g_autoptr(GBytes) icmp = _pt_ip_make_too_big (big, 1500, router, 1280);
  const guint8 *p;
  gsize len;
  PtIpHeader ip;

  g_assert_nonnull (icmp);
  p = g_bytes_get_data (icmp, &len);
  g_assert_cmpuint (len, ==, 1280);                         /* the IPv6 minimum MTU */
  g_assert_true (_pt_ip_header_parse (p, len, &ip));
  g_assert_cmpuint (ip.protocol, ==, 58);
  g_assert_cmpmem (ip.src, 16, router, 16);
  g_assert_cmpmem (ip.dst, 16, big + 8, 16);
  g_assert_cmpuint (p[40], ==, 2);
  g_assert_cmpuint ((guint) (p[46] << 8 | p[47]), ==, 1280);
  g_assert_true (checksum_ok_v6 (p, len));

  {
    g_autofree guint8 *icmp_error = make_v6 (1500, 58);
    g_autofree guint8 *multicast = make_v6 (1500, 17);

    icmp_error[40] = 1;                                     /* destination unreachable */
    multicast[8] = 0xff;
    g_assert_null (_pt_ip_make_too_big (icmp_error, 1500, router, 1280));
    g_assert_null (_pt_ip_make_too_big (multicast, 1500, router, 1280));
  }
}

static char *
acquire (PtVpnPool  *pool,
         const char *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) address = _pt_vpn_pool_acquire (pool, id, &error);

  if (address == NULL)
    return NULL;
  return g_inet_address_to_string (address);
}

static gboolean
pool_contains (PtVpnPool  *pool,
               const char *text)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_string (text);

  return _pt_vpn_pool_contains (pool, address);
}

static void
test_pool (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtVpnPool) pool = _pt_vpn_pool_new ("10.77.0.0/29", &error);
  g_autoptr(PtVpnPool) restarted = NULL;
  g_autoptr(GInetAddress) server = NULL;
  g_autofree char *server_str = NULL;
  g_autofree char *a = NULL, *b = NULL, *a2 = NULL, *c = NULL, *d = NULL, *e = NULL;
  g_autofree char *f = NULL, *g = NULL, *b2 = NULL, *a3 = NULL;
  const char *names[] = { "alice", "bob", "carol", "dave", "erin" };
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_no_error (error);
  server = _pt_vpn_pool_get_server (pool);
  server_str = g_inet_address_to_string (server);
  g_assert_cmpstr (server_str, ==, "10.77.0.1");
  g_assert_cmpuint (_pt_vpn_pool_get_prefix (pool), ==, 29);

  a = acquire (pool, "alice");
  b = acquire (pool, "bob");
  g_assert_cmpstr (a, !=, b);
  /* Alice comes back: same address. */
  _pt_vpn_pool_release (pool, "alice");
  a2 = acquire (pool, "alice");
  g_assert_cmpstr (a2, ==, a);

  /* A restarted server (a new pool) gives Alice the same address, even when
   * Bob comes first: it derives from her identity. */
  restarted = _pt_vpn_pool_new ("10.77.0.0/29", &error);
  b2 = acquire (restarted, "bob");
  a3 = acquire (restarted, "alice");
  g_assert_cmpstr (b2, ==, b);
  g_assert_cmpstr (a3, ==, a);

  /* /29: five client addresses, .2 … .6 (.7 is the broadcast address). */
  c = acquire (pool, "carol");
  d = acquire (pool, "dave");
  e = acquire (pool, "erin");
  {
    const char *got[] = { a2, b, c, d, e };

    for (guint i = 0; i < G_N_ELEMENTS (got); i++)
      {
        g_test_message ("%s: %s", names[i], got[i]);
        g_assert_nonnull (got[i]);
        g_assert_true (pool_contains (pool, got[i]));
        g_assert_cmpstr (got[i], !=, "10.77.0.1");
        g_assert_cmpstr (got[i], !=, "10.77.0.7");
        g_assert_false (g_hash_table_contains (seen, got[i]));
        g_hash_table_add (seen, (gpointer) got[i]);
      }
  }
  g_assert_null (acquire (pool, "frank"));
  /* Bob leaves: a newcomer may take his address once nothing else is free… */
  _pt_vpn_pool_release (pool, "bob");
  f = acquire (pool, "frank");
  g_assert_cmpstr (f, ==, b);
  /* …and Bob, back, gets none (the network is full), while Frank keeps his. */
  g_assert_null (acquire (pool, "bob"));
  _pt_vpn_pool_release (pool, "frank");
  g = acquire (pool, "frank");
  g_assert_cmpstr (g, ==, b);

  {
    g_autoptr(GInetAddress) inside = g_inet_address_new_from_string ("10.77.0.6");
    g_autoptr(GInetAddress) outside = g_inet_address_new_from_string ("10.77.0.8");
    g_autoptr(GInetAddress) v6 = g_inet_address_new_from_string ("fd00::1");

    g_assert_true (_pt_vpn_pool_contains (pool, inside));
    g_assert_false (_pt_vpn_pool_contains (pool, outside));
    g_assert_false (_pt_vpn_pool_contains (pool, v6));
  }

  /* IPv6 */
  {
    g_autoptr(PtVpnPool) pool6 = _pt_vpn_pool_new ("fd00:77::/64", &error);
    g_autofree char *h = NULL;

    g_assert_no_error (error);
    h = acquire (pool6, "alice");
    g_assert_true (pool_contains (pool6, h));
    g_assert_cmpstr (h, !=, "fd00:77::1");
  }
}

static void
test_pool_refused (void)
{
  static const struct { const char *cidr; const char *words; } cases[] = {
    { "10.77.0.0", "ADDRESS/PREFIX" },
    { "banana/24", "ADDRESS/PREFIX" },
    { "10.77.0.5/24", "ADDRESS/PREFIX" },          /* host bits set */
    { "8.8.8.0/24", "not a private network" },
    { "10.0.0.0/7", "/8 to /30" },
    { "10.77.0.0/31", "/8 to /30" },
    { "fd00::/48", "/64 to /126" },
    { "2001:db8::/64", "not a private network" },
    { "172.32.0.0/16", "not a private network" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtVpnPool) pool = _pt_vpn_pool_new (cases[i].cidr, &error);

      g_test_message ("%s", cases[i].cidr);
      g_assert_null (pool);
      g_assert_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, cases[i].words));
    }
}

/* ---------------------------------------------------------------------- */
/* The router's decisions, past the IP header */

static void
set_addresses (guint8       *packet,
               const guint8 *src,
               const guint8 *dst)
{
  memcpy (packet + 12, src, 4);
  memcpy (packet + 16, dst, 4);
}

static void
test_router_route (void)
{
  static const guint8 server[4] = { 10, 77, 0, 1 };
  static const guint8 nobody[4] = { 10, 77, 0, 250 };
  gpointer a = GSIZE_TO_POINTER (0x100), b = GSIZE_TO_POINTER (0x200);
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *packet = make_v4 (100, TRUE, 17);
  PtVpnConfig ca, cb;
  PtVpnRouter *router;
  PtSession *to;
  gsize out_len;
  int pair[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), ==, 0);
  close (pair[1]);
  router = _pt_vpn_router_new ("10.77.0.0/24", NULL, pair[0], 1400, &error);
  g_assert_no_error (error);
  g_assert_true (_pt_vpn_router_add_test_client (router, a, "a", 0, 1400, &ca, &error));
  g_assert_true (_pt_vpn_router_add_test_client (router, b, "b", 0, 1400, &cb, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (ca.addr4, cb.addr4, 4) != 0);

  /* a → the server's network: into the TUN device, as long as the header says */
  set_addresses (packet, ca.addr4, server);
  g_assert_cmpint (_pt_vpn_router_route (router, a, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_TUN);
  g_assert_cmpuint (out_len, ==, 100);
  g_assert_cmpint (_pt_vpn_router_route (router, a, packet, 120, &to, &out_len), ==,
                   PT_VPN_ROUTE_TUN);
  g_assert_cmpuint (out_len, ==, 100);   /* trailing bytes are not the packet's */
  g_assert_cmpint (_pt_vpn_router_route (router, a, packet, 99, &to, &out_len), ==,
                   PT_VPN_ROUTE_DROP);   /* shorter than it says */

  /* a → b directly */
  set_addresses (packet, ca.addr4, cb.addr4);
  g_assert_cmpint (_pt_vpn_router_route (router, a, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_CLIENT);
  g_assert_true ((gpointer) to == b);

  /* b speaking for a: spoofed, counted */
  g_assert_cmpint (_pt_vpn_router_route (router, b, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_SPOOFED);
  g_assert_null (to);
  g_assert_cmpuint (_pt_vpn_router_get_spoofed (router), ==, 1);
  /* IPv6 from a client without an IPv6 address: spoofed too */
  {
    g_autofree guint8 *v6 = make_v6 (80, 17);

    g_assert_cmpint (_pt_vpn_router_route (router, a, v6, 80, &to, &out_len), ==,
                     PT_VPN_ROUTE_SPOOFED);
  }

  /* the TUN device → b; → no one */
  set_addresses (packet, server, cb.addr4);
  g_assert_cmpint (_pt_vpn_router_route (router, NULL, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_CLIENT);
  g_assert_true ((gpointer) to == b);
  set_addresses (packet, server, nobody);
  g_assert_cmpint (_pt_vpn_router_route (router, NULL, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_UNROUTABLE);
  g_assert_cmpuint (out_len, ==, 0);

  /* a session the router does not know */
  g_assert_cmpint (_pt_vpn_router_route (router, GSIZE_TO_POINTER (0x300), packet, 100, &to,
                                         &out_len), ==, PT_VPN_ROUTE_DROP);

  /* b gone: its address routes nowhere */
  _pt_vpn_router_remove_test_client (router, b);
  set_addresses (packet, server, cb.addr4);
  g_assert_cmpint (_pt_vpn_router_route (router, NULL, packet, 100, &to, &out_len), ==,
                   PT_VPN_ROUTE_UNROUTABLE);
  _pt_vpn_router_remove_test_client (router, a);
  _pt_vpn_router_unref (router);
}

/* ---------------------------------------------------------------------- */
/* The VPN client lock: per user, 0600, in a 0700 directory of the user's own */

static char *
make_private_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("pt-vpn-lock-XXXXXX", &error);

  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  return dir;
}

static void
remove_tree (const char *dir)
{
  g_autofree char *sub = g_build_filename (dir, "peertunnel", NULL);
  g_autofree char *lock = g_build_filename (sub, "vpn-client.lock", NULL);

  g_unlink (lock);
  g_rmdir (sub);
  g_rmdir (dir);
}

static void
test_lock_path (void)
{
  g_autofree char *runtime = make_private_dir ();
  g_autofree char *open_dir = make_private_dir ();
  g_autofree char *path = NULL;
  g_autofree char *want = g_build_filename (runtime, "peertunnel", "vpn-client.lock", NULL);
  g_autoptr(GError) error = NULL;
  struct stat st;

  g_unsetenv ("PT_VPN_CLIENT_LOCK");
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);
  path = pt_vpn_client_lock_path (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, want);
  {
    g_autofree char *dir = g_path_get_dirname (path);

    g_assert_cmpint (lstat (dir, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0700);
    g_assert_cmpint (st.st_uid, ==, geteuid ());
  }
  g_clear_pointer (&path, g_free);

  /* A runtime directory others may write to is not used. */
  g_assert_cmpint (g_chmod (open_dir, 0777), ==, 0);
  g_setenv ("XDG_RUNTIME_DIR", open_dir, TRUE);
  path = pt_vpn_client_lock_path (&error);
  g_assert_no_error (error);
  g_assert_false (g_str_has_prefix (path, open_dir));
  g_clear_pointer (&path, g_free);

  /* Tests name their own. */
  g_setenv ("PT_VPN_CLIENT_LOCK", "/somewhere/else.lock", TRUE);
  path = pt_vpn_client_lock_path (&error);
  g_assert_cmpstr (path, ==, "/somewhere/else.lock");
  g_unsetenv ("PT_VPN_CLIENT_LOCK");

  g_unsetenv ("XDG_RUNTIME_DIR");
  remove_tree (runtime);
  remove_tree (open_dir);
}

static void
test_lock_acquire (void)
{
  g_autofree char *runtime = make_private_dir ();
  g_autofree char *lock = g_build_filename (runtime, "peertunnel", "vpn-client.lock", NULL);
  g_autofree char *holder = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;
  int fd, second;

  g_unsetenv ("PT_VPN_CLIENT_LOCK");
  g_setenv ("XDG_RUNTIME_DIR", runtime, TRUE);

  fd = pt_vpn_client_lock_acquire ("test one", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (lstat (lock, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_true (g_file_get_contents (lock, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "test one"));
  g_assert_true (fcntl (fd, F_GETFD) & FD_CLOEXEC);

  /* The same user again: refused, naming the holder. */
  second = pt_vpn_client_lock_acquire ("test two", &holder, &error);
  g_assert_cmpint (second, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_nonnull (strstr (holder, "test one"));
  g_assert_nonnull (strstr (error->message, "test one"));
  g_clear_error (&error);
  close (fd);

  /* Released: the next one gets it. */
  fd = pt_vpn_client_lock_acquire ("test three", NULL, &error);
  g_assert_no_error (error);
  close (fd);

  /* Something else in the lock's place — a symlink, a 0666 file — is
   * replaced by a 0600 file of the user's own, never followed. */
  g_assert_cmpint (g_unlink (lock), ==, 0);
  g_assert_cmpint (symlink ("/dev/null", lock), ==, 0);
  fd = pt_vpn_client_lock_acquire ("test four", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lstat (lock, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  close (fd);
  g_assert_cmpint (g_chmod (lock, 0666), ==, 0);
  fd = pt_vpn_client_lock_acquire ("test five", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lstat (lock, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  close (fd);

  /* A file of another user's (only root can put one there) is not obeyed. */
  if (geteuid () == 0)
    {
      int held = open (lock, O_RDWR | O_CLOEXEC);

      g_assert_cmpint (fchown (held, 65534, 65534), ==, 0);
      g_assert_cmpint (flock (held, LOCK_EX | LOCK_NB), ==, 0);
      fd = pt_vpn_client_lock_acquire ("test six", NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (lstat (lock, &st), ==, 0);
      g_assert_cmpint (st.st_uid, ==, 0);
      close (fd);
      close (held);
    }

  g_unsetenv ("XDG_RUNTIME_DIR");
  remove_tree (runtime);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vpn/ip/parse", test_parse);
  g_test_add_func ("/vpn/ip/too-big-v4", test_too_big_v4);
  g_test_add_func ("/vpn/ip/too-big-v6", test_too_big_v6);
  g_test_add_func ("/vpn/pool", test_pool);
  g_test_add_func ("/vpn/pool/refused", test_pool_refused);
  g_test_add_func ("/vpn/router/route", test_router_route);
  g_test_add_func ("/vpn/lock/path", test_lock_path);
  g_test_add_func ("/vpn/lock/acquire", test_lock_acquire);
  return g_test_run ();
}
