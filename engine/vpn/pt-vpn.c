/* pt-vpn.c — VPN mode's packet paths: the server's router and a client's link
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Server: one TUN device for every client. A client's VPN_HELLO gets it an
 * address from the pool (the same one again when it comes back); packets
 * from a client must come from its addresses (others are dropped and
 * counted), and go to another client directly or else into the TUN device;
 * packets the TUN device gives go to the client that owns the destination.
 *
 * Client: its TUN device and its session, joined both ways.
 *
 * Either way a packet larger than the path carries is answered with the
 * ICMP error that makes TCP use smaller segments, written where the packet
 * came from, and dropped.
 *
 * A device with virtio-net headers (the helper's offload=1; TUNGETIFF says)
 * reads TCP in super-packets, cut here into packets of the path's size, and
 * takes the TCP segments that arrive in one batch joined into one write
 * (pt-vpn-gso.c): the receiving stack then runs once per ~45 packets, in our
 * process. The batch ends when the main loop comes round again (a GSource
 * that is ready while something is held).
 */
#define G_LOG_DOMAIN "pt-vpn"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>

#include <glib-unix.h>

#include "pt-session-private.h"
#include "pt-vpn-private.h"

#define READ_BATCH     64      /* packets read from a TUN device per wake-up */
#define PACKET_MAX     65535

/* ---------------------------------------------------------------------- */
/* Helpers */

static char *
address_key (guint8        version,
             const guint8 *addr)
{
  GString *key = g_string_new (version == 4 ? "4:" : "6:");

  for (guint i = 0; i < (version == 4 ? 4u : 16u); i++)
    g_string_append_printf (key, "%02x", addr[i]);
  return g_string_free (key, FALSE);
}

/* A TUN device's fd; with a virtio-net header on every packet (IFF_VNET_HDR)
 * TCP comes and goes in super-packets (pt-vpn-gso.c). */
typedef struct
{
  int        fd;
  gboolean   vnet;
  PtVpnGro  *gro;        /* vnet only: segments to join before writing */
  GSource   *flush;      /* writes what @gro holds once a batch is in */
  guint8    *buf;        /* what one read gives */
  guint8    *segment;    /* vnet only: one packet cut from a super-packet */
} Tun;

static void
tun_write_raw (const guint8 *buf,
               gsize         len,
               gpointer      data)
{
  Tun *tun = data;

  /* A full queue or a device going away loses the packet, as on a wire. */
  if (write (tun->fd, buf, len) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    g_debug ("TUN write failed: %s", g_strerror (errno));
}

/* Writes one IP packet as it is. */
static void
tun_write (Tun          *tun,
           const guint8 *packet,
           gsize         len)
{
  static const guint8 plain[PT_VNET_HDR_LEN];
  struct iovec iov[2] = {
    { (void *) plain, sizeof plain },
    { (void *) packet, len },
  };

  if (!tun->vnet)
    {
      tun_write_raw (packet, len, tun);
      return;
    }
  if (tun->gro != NULL)
    _pt_vpn_gro_flush (tun->gro);   /* keep the order */
  if (writev (tun->fd, iov, 2) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    g_debug ("TUN write failed: %s", g_strerror (errno));
}

/* Writes a packet from the peer: TCP may wait to be joined to the next. */
static void
tun_write_joined (Tun          *tun,
                  const guint8 *packet,
                  gsize         len)
{
  if (tun->gro == NULL)
    {
      tun_write (tun, packet, len);
      return;
    }
  _pt_vpn_gro_add (tun->gro, packet, len);
}

static gboolean
flush_prepare (GSource *source,
               gint    *timeout)
{
  Tun *tun = *(Tun **) (source + 1);

  *timeout = -1;
  return tun->gro->n > 0;
}

static gboolean
flush_check (GSource *source)
{
  Tun *tun = *(Tun **) (source + 1);

  return tun->gro->n > 0;
}

static gboolean
flush_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     data)
{
  Tun *tun = *(Tun **) (source + 1);

  _pt_vpn_gro_flush (tun->gro);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = {
  flush_prepare, flush_check, flush_dispatch, NULL, NULL, NULL,
};

/* Takes @fd; finds out whether it carries virtio-net headers. */
static void
tun_init (Tun *tun,
          int  fd)
{
  struct ifreq ifr;
  int size = PT_VNET_HDR_LEN;

  memset (tun, 0, sizeof *tun);
  tun->fd = fd;
  tun->buf = g_malloc (PT_VNET_HDR_LEN + PACKET_MAX);
  memset (&ifr, 0, sizeof ifr);
  if (ioctl (fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_VNET_HDR))
    {
      g_debug ("TUN device without virtio-net headers: one packet per read and write");
      return;
    }
  /* The kernel's default is this size already; the headers are there
   * whatever this says, so a refusal changes nothing. */
  if (ioctl (fd, TUNSETVNETHDRSZ, &size) < 0)
    g_debug ("TUNSETVNETHDRSZ: %s", g_strerror (errno));
  tun->vnet = TRUE;
  tun->segment = g_malloc (PACKET_MAX);
  if (g_strcmp0 (g_getenv ("PT_TUN_GRO"), "0") != 0)
    {
      tun->gro = g_new (PtVpnGro, 1);
      _pt_vpn_gro_init (tun->gro, tun_write_raw, tun);
      tun->flush = g_source_new (&flush_funcs, sizeof (GSource) + sizeof (Tun *));
      *(Tun **) (tun->flush + 1) = tun;
      g_source_set_static_name (tun->flush, "[pt] TUN flush");
      g_source_attach (tun->flush, g_main_context_get_thread_default ());
    }
  g_debug ("TUN device with virtio-net headers: TCP in super-packets%s",
           tun->gro != NULL ? ", joined on the way in" : "");
}

static void
tun_clear (Tun *tun)
{
  if (tun->flush != NULL)
    {
      _pt_vpn_gro_flush (tun->gro);
      g_source_destroy (tun->flush);
      g_clear_pointer (&tun->flush, g_source_unref);
    }
  g_clear_pointer (&tun->gro, g_free);
  g_clear_pointer (&tun->buf, g_free);
  g_clear_pointer (&tun->segment, g_free);
  if (tun->fd >= 0)
    close (tun->fd);
  tun->fd = -1;
}

static GSource *
watch_fd (int                fd,
          GUnixFDSourceFunc  func,
          gpointer           data)
{
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) func, data, NULL);
  g_source_set_static_name (source, "[pt] TUN");
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

/* Sends @packet through @session; when it is too big, writes the ICMP error
 * from @router_addr to @reply_tun (or, without one, sends it back
 * through @reply_session). */
static void
send_or_too_big (PtSession    *session,
                 const guint8 *packet,
                 gsize         len,
                 const guint8 *router_addr,
                 Tun          *reply_tun,
                 PtSession    *reply_session)
{
  g_autoptr(GBytes) icmp = NULL;
  gsize max = _pt_session_get_max_ip (session);

  if (_pt_session_send_ip (session, packet, len) || len <= max)
    return;
  icmp = _pt_ip_make_too_big (packet, len, router_addr, (guint) max);
  if (icmp == NULL)
    return;
  g_debug ("a %zu-byte packet is too big for the path (%zu): ICMP sent", len, max);
  if (reply_tun != NULL)
    tun_write (reply_tun, g_bytes_get_data (icmp, NULL), g_bytes_get_size (icmp));
  else if (reply_session != NULL)
    _pt_session_send_ip (reply_session, g_bytes_get_data (icmp, NULL), g_bytes_get_size (icmp));
}

/* ---------------------------------------------------------------------- */
/* Server: the router */

typedef struct
{
  PtVpnRouter *router;       /* unowned */
  PtSession   *session;      /* unowned; the session tells us when it stops */
  char        *client_id;
  gboolean     has_v4;
  guint8       addr4[4];
  gboolean     has_v6;
  guint8       addr6[16];
} RouterClient;

struct _PtVpnRouter
{
  gint          ref_count;
  Tun           tun;
  GSource      *source;
  guint         mtu;
  PtVpnPool    *pool4;
  PtVpnPool    *pool6;        /* NULL without --network6 */
  guint8        server4[4];
  guint8        server6[16];
  GHashTable   *by_address;   /* address_key → RouterClient* (unowned) */
  GHashTable   *clients;      /* PtSession* → RouterClient* (owned) */
  guint64       spoofed;
  guint64       unroutable;
  guint8        n_dns;
  guint8        dns_family[PT_VPN_MAX_DNS];
  guint8        dns[PT_VPN_MAX_DNS][16];
};

static void
router_client_free (RouterClient *client)
{
  g_free (client->client_id);
  g_free (client);
}

/* Gives @client its addresses and fills @config; @mtu is the path's. */
static gboolean
router_assign (RouterClient  *client,
               guint8         flags,
               guint          mtu,
               PtVpnConfig   *config,
               GError       **error)
{
  PtVpnRouter *router = client->router;
  g_autoptr(GInetAddress) addr4 = NULL;

  addr4 = _pt_vpn_pool_acquire (router->pool4, client->client_id, error);
  if (addr4 == NULL)
    return FALSE;
  memcpy (client->addr4, g_inet_address_to_bytes (addr4), 4);
  client->has_v4 = TRUE;

  memset (config, 0, sizeof *config);
  config->mtu = (guint16) mtu;
  memcpy (config->addr4, client->addr4, 4);
  config->prefix4 = (guint8) _pt_vpn_pool_get_prefix (router->pool4);
  memcpy (config->server4, router->server4, 4);
  config->n_dns = router->n_dns;
  memcpy (config->dns_family, router->dns_family, sizeof config->dns_family);
  memcpy (config->dns, router->dns, sizeof config->dns);

  /* IPv6 needs links of at least 1280 bytes. */
  if ((flags & PT_VPN_HELLO_WANTS_IPV6) && router->pool6 != NULL && mtu >= PT_VPN_MTU_MIN_IPV6)
    {
      g_autoptr(GInetAddress) addr6 = _pt_vpn_pool_acquire (router->pool6, client->client_id, NULL);

      if (addr6 != NULL)
        {
          memcpy (client->addr6, g_inet_address_to_bytes (addr6), 16);
          client->has_v6 = TRUE;
          config->has_v6 = TRUE;
          memcpy (config->addr6, client->addr6, 16);
          config->prefix6 = (guint8) _pt_vpn_pool_get_prefix (router->pool6);
          memcpy (config->server6, router->server6, 16);
        }
    }

  g_hash_table_insert (router->by_address, address_key (4, client->addr4), client);
  if (client->has_v6)
    g_hash_table_insert (router->by_address, address_key (6, client->addr6), client);
  {
    g_autofree char *text = g_inet_address_to_string (addr4);

    g_debug ("VPN client %s is %s", client->client_id, text);
  }
  return TRUE;
}

static gboolean
router_hello (PtSession    *session,
              guint8        flags,
              PtVpnConfig  *config,
              GError      **error,
              gpointer      data)
{
  RouterClient *client = data;
  gsize max_ip = _pt_session_get_max_ip (session);
  guint mtu = MIN (client->router->mtu, max_ip);

  if (mtu < PT_VPN_MTU_MIN_IPV4)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                   "the path carries packets of at most %zu bytes, too few for a VPN (%d)",
                   max_ip, PT_VPN_MTU_MIN_IPV4);
      return FALSE;
    }
  return router_assign (client, flags, mtu, config, error);
}

const char *
_pt_vpn_route_to_string (PtVpnRoute route)
{
  switch (route)
    {
    case PT_VPN_ROUTE_DROP:       return "drop";
    case PT_VPN_ROUTE_SPOOFED:    return "spoofed";
    case PT_VPN_ROUTE_UNROUTABLE: return "unroutable";
    case PT_VPN_ROUTE_TUN:        return "tun";
    case PT_VPN_ROUTE_CLIENT:     return "client";
    }
  return "invalid";
}

PtVpnRoute
_pt_vpn_router_route (PtVpnRouter   *router,
                      PtSession     *from,
                      const guint8  *packet,
                      gsize          len,
                      PtSession    **to,
                      gsize         *out_len)
{
  g_autofree char *dst = NULL;
  RouterClient *client = NULL, *other;
  PtIpHeader ip;

  *to = NULL;
  *out_len = 0;
  if (from != NULL && (client = g_hash_table_lookup (router->clients, from)) == NULL)
    return PT_VPN_ROUTE_DROP;
  if (!_pt_ip_header_parse (packet, len, &ip))
    return PT_VPN_ROUTE_DROP;

  /* A client speaks only for itself. */
  if (client != NULL &&
      (ip.version == 4 ? !client->has_v4 || memcmp (ip.src, client->addr4, 4) != 0
                       : !client->has_v6 || memcmp (ip.src, client->addr6, 16) != 0))
    {
      router->spoofed++;
      g_debug ("dropped a packet from client %s with another source address (%" G_GUINT64_FORMAT
               " so far)", client->client_id, router->spoofed);
      return PT_VPN_ROUTE_SPOOFED;
    }

  *out_len = ip.total_len;
  dst = address_key (ip.version, ip.dst);
  other = g_hash_table_lookup (router->by_address, dst);
  if (client != NULL)
    {
      /* To another client directly; anything else is the server's to route. */
      if (other == NULL || other == client)
        return PT_VPN_ROUTE_TUN;
      *to = other->session;
      return PT_VPN_ROUTE_CLIENT;
    }
  if (other == NULL)
    {
      router->unroutable++;
      *out_len = 0;
      return PT_VPN_ROUTE_UNROUTABLE;
    }
  *to = other->session;
  return PT_VPN_ROUTE_CLIENT;
}

static void
router_from_client (PtSession    *session,
                    const guint8 *packet,
                    gsize         len,
                    gpointer      data)
{
  RouterClient *client = data;
  PtVpnRouter *router = client->router;
  PtSession *to;
  gsize out_len;

  switch (_pt_vpn_router_route (router, session, packet, len, &to, &out_len))
    {
    case PT_VPN_ROUTE_CLIENT:
      send_or_too_big (to, packet, out_len,
                       (packet[0] >> 4) == 4 ? router->server4 : router->server6, NULL, session);
      break;
    case PT_VPN_ROUTE_TUN:
      tun_write_joined (&router->tun, packet, out_len);
      break;
    case PT_VPN_ROUTE_DROP:
    case PT_VPN_ROUTE_SPOOFED:
    case PT_VPN_ROUTE_UNROUTABLE:
      break;
    }
}

static void
router_client_stopped (PtSession *session,
                       gpointer   data)
{
  RouterClient *client = data;
  PtVpnRouter *router = client->router;

  /* A client that reconnected before its old session timed out holds the
   * same addresses in a new session: leave those alone. */
  if (client->has_v4)
    {
      g_autofree char *key = address_key (4, client->addr4);

      if (g_hash_table_lookup (router->by_address, key) == client)
        {
          g_hash_table_remove (router->by_address, key);
          _pt_vpn_pool_release (router->pool4, client->client_id);
        }
    }
  if (client->has_v6)
    {
      g_autofree char *key = address_key (6, client->addr6);

      if (g_hash_table_lookup (router->by_address, key) == client)
        {
          g_hash_table_remove (router->by_address, key);
          _pt_vpn_pool_release (router->pool6, client->client_id);
        }
    }
  _pt_session_set_vpn_hooks (session, NULL, NULL);
  g_hash_table_remove (router->clients, session);   /* frees @client */
}

static const PtSessionVpnHooks router_hooks = {
  router_hello,
  router_from_client,
  router_client_stopped,
};

static void
router_from_tun (const guint8 *packet,
                 gsize         len,
                 gpointer      data)
{
  PtVpnRouter *router = data;
  PtSession *to;
  gsize out_len;

  if (_pt_vpn_router_route (router, NULL, packet, len, &to, &out_len) == PT_VPN_ROUTE_CLIENT)
    send_or_too_big (to, packet, out_len,
                     (packet[0] >> 4) == 4 ? router->server4 : router->server6, &router->tun,
                     NULL);
}

/* Reads up to READ_BATCH times from @tun, giving each IP packet to @func. */
static void
tun_read_batch (Tun             *tun,
                PtVpnPacketFunc  func,
                gpointer         data)
{
  for (guint i = 0; i < READ_BATCH; i++)
    {
      ssize_t n = read (tun->fd, tun->buf, tun->vnet ? PT_VNET_HDR_LEN + PACKET_MAX : PACKET_MAX);

      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_warning ("reading the VPN's TUN device failed: %s", g_strerror (errno));
          break;
        }
      if (!tun->vnet)
        func (tun->buf, (gsize) n, data);
      else if (_pt_vpn_gso_split (tun->buf, (gsize) n, tun->segment, PACKET_MAX, func, data) < 0)
        g_debug ("dropped a %zd-byte packet from the TUN device that does not add up", n);
    }
}

static gboolean
router_tun_cb (gint          fd,
               GIOCondition  condition,
               gpointer      user_data)
{
  PtVpnRouter *router = user_data;

  tun_read_batch (&router->tun, router_from_tun, router);
  return G_SOURCE_CONTINUE;
}

PtVpnRouter *
_pt_vpn_router_new (const char  *network4,
                    const char  *network6,
                    int          tun_fd,
                    guint        mtu,
                    GError     **error)
{
  PtVpnRouter *router = g_new0 (PtVpnRouter, 1);
  g_autoptr(GInetAddress) server4 = NULL;

  router->ref_count = 1;
  router->tun.fd = tun_fd;      /* taken, even when this fails */
  router->mtu = mtu;
  router->by_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  router->clients = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                           (GDestroyNotify) router_client_free);

  router->pool4 = _pt_vpn_pool_new (network4, error);
  if (router->pool4 == NULL || g_inet_address_get_family (server4 = _pt_vpn_pool_get_server (router->pool4))
                               != G_SOCKET_FAMILY_IPV4)
    {
      if (router->pool4 != NULL)
        g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                     "%s is not an IPv4 network (give IPv6 networks as the second one)", network4);
      _pt_vpn_router_unref (router);
      return NULL;
    }
  memcpy (router->server4, g_inet_address_to_bytes (server4), 4);

  if (network6 != NULL)
    {
      g_autoptr(GInetAddress) server6 = NULL;

      router->pool6 = _pt_vpn_pool_new (network6, error);
      if (router->pool6 == NULL ||
          g_inet_address_get_family (server6 = _pt_vpn_pool_get_server (router->pool6))
          != G_SOCKET_FAMILY_IPV6)
        {
          if (router->pool6 != NULL)
            g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                         "%s is not an IPv6 network", network6);
          _pt_vpn_router_unref (router);
          return NULL;
        }
      memcpy (router->server6, g_inet_address_to_bytes (server6), 16);
    }

  if (!g_unix_set_fd_nonblocking (tun_fd, TRUE, error))
    {
      _pt_vpn_router_unref (router);
      return NULL;
    }
  tun_init (&router->tun, tun_fd);
  router->source = watch_fd (tun_fd, router_tun_cb, router);
  return router;
}

PtVpnRouter *
_pt_vpn_router_ref (PtVpnRouter *router)
{
  g_atomic_int_inc (&router->ref_count);
  return router;
}

void
_pt_vpn_router_unref (PtVpnRouter *router)
{
  if (router == NULL || !g_atomic_int_dec_and_test (&router->ref_count))
    return;
  if (router->source != NULL)
    {
      g_source_destroy (router->source);
      g_source_unref (router->source);
    }
  {
    /* Sessions outliving us must not call back. */
    GHashTableIter iter;
    gpointer session;

    g_hash_table_iter_init (&iter, router->clients);
    while (g_hash_table_iter_next (&iter, &session, NULL))
      _pt_session_set_vpn_hooks (session, NULL, NULL);
  }
  g_hash_table_unref (router->clients);
  g_hash_table_unref (router->by_address);
  _pt_vpn_pool_free (router->pool4);
  _pt_vpn_pool_free (router->pool6);
  tun_clear (&router->tun);
  g_free (router);
}

static RouterClient *
router_add_client (PtVpnRouter *router,
                   PtSession   *session,
                   const char  *client_id)
{
  RouterClient *client = g_new0 (RouterClient, 1);

  client->router = router;
  client->session = session;
  client->client_id = g_strdup (client_id);
  g_hash_table_replace (router->clients, session, client);
  return client;
}

void
_pt_vpn_router_attach (PtVpnRouter *router,
                       PtSession   *session,
                       const char  *client_id)
{
  RouterClient *client = router_add_client (router, session, client_id);

  _pt_session_set_vpn_hooks (session, &router_hooks, client);
}

gboolean
_pt_vpn_router_add_test_client (PtVpnRouter   *router,
                                gpointer       key,
                                const char    *client_id,
                                guint8         flags,
                                guint          mtu,
                                PtVpnConfig   *config,
                                GError       **error)
{
  RouterClient *client = router_add_client (router, key, client_id);

  return router_assign (client, flags, MIN (router->mtu, mtu), config, error);
}

void
_pt_vpn_router_remove_test_client (PtVpnRouter *router,
                                   gpointer     key)
{
  RouterClient *client = g_hash_table_lookup (router->clients, key);

  if (client == NULL)
    return;
  if (client->has_v4)
    {
      g_autofree char *k = address_key (4, client->addr4);

      if (g_hash_table_lookup (router->by_address, k) == client)
        g_hash_table_remove (router->by_address, k);
    }
  if (client->has_v6)
    {
      g_autofree char *k = address_key (6, client->addr6);

      if (g_hash_table_lookup (router->by_address, k) == client)
        g_hash_table_remove (router->by_address, k);
    }
  g_hash_table_remove (router->clients, key);
}

gboolean
_pt_vpn_router_set_dns (PtVpnRouter         *router,
                        const char * const  *dns,
                        GError             **error)
{
  router->n_dns = 0;
  for (guint i = 0; dns != NULL && dns[i] != NULL; i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (dns[i]);

      if (address == NULL)
        {
          g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                       "--dns %s: not an IP address", dns[i]);
          return FALSE;
        }
      if (router->n_dns >= PT_VPN_MAX_DNS)
        {
          g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                       "at most %d resolvers (--dns)", PT_VPN_MAX_DNS);
          return FALSE;
        }
      router->dns_family[router->n_dns] =
        g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4 ? 4 : 6;
      memcpy (router->dns[router->n_dns], g_inet_address_to_bytes (address),
              g_inet_address_get_native_size (address));
      router->n_dns++;
    }
  return TRUE;
}

guint64
_pt_vpn_router_get_spoofed (PtVpnRouter *router)
{
  return router->spoofed;
}

/* ---------------------------------------------------------------------- */
/* Client: the link */

struct _PtVpnLink
{
  PtSession *session;
  Tun        tun;
  GSource   *source;
  guint8     server4[4];
  guint8     server6[16];
};

static void
link_from_peer (PtSession    *session,
                const guint8 *packet,
                gsize         len,
                gpointer      data)
{
  PtVpnLink *link = data;
  PtIpHeader ip;

  if (_pt_ip_header_parse (packet, len, &ip))
    tun_write_joined (&link->tun, packet, ip.total_len);
}

static void
link_stopped (PtSession *session,
              gpointer   data)
{
  PtVpnLink *link = data;

  if (link->source != NULL)
    {
      g_source_destroy (link->source);
      g_clear_pointer (&link->source, g_source_unref);
    }
}

static const PtSessionVpnHooks link_hooks = {
  NULL,
  link_from_peer,
  link_stopped,
};

static void
link_from_tun (const guint8 *packet,
               gsize         len,
               gpointer      data)
{
  PtVpnLink *link = data;
  PtIpHeader ip;

  if (!_pt_ip_header_parse (packet, len, &ip))
    return;
  send_or_too_big (link->session, packet, ip.total_len,
                   ip.version == 4 ? link->server4 : link->server6, &link->tun, NULL);
}

static gboolean
link_tun_cb (gint          fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  PtVpnLink *link = user_data;

  tun_read_batch (&link->tun, link_from_tun, link);
  return G_SOURCE_CONTINUE;
}

PtVpnLink *
_pt_vpn_link_new (PtSession  *session,
                  int         tun_fd,
                  GError    **error)
{
  PtVpnLink *link;
  const PtVpnConfig *config = _pt_session_get_vpn_config (session);

  if (!g_unix_set_fd_nonblocking (tun_fd, TRUE, error))
    return NULL;
  link = g_new0 (PtVpnLink, 1);
  link->session = g_object_ref (session);
  tun_init (&link->tun, tun_fd);
  memcpy (link->server4, config->server4, 4);
  memcpy (link->server6, config->server6, 16);
  _pt_session_set_vpn_hooks (session, &link_hooks, link);
  link->source = watch_fd (tun_fd, link_tun_cb, link);
  _pt_session_vpn_go_up (session);
  return link;
}

void
_pt_vpn_link_free (PtVpnLink *link)
{
  if (link == NULL)
    return;
  link_stopped (link->session, link);
  _pt_session_set_vpn_hooks (link->session, NULL, NULL);
  g_object_unref (link->session);
  tun_clear (&link->tun);
  g_free (link);
}

/* ---------------------------------------------------------------------- */
/* Public helpers */

void
pt_vpn_settings_free (PtVpnSettings *settings)
{
  if (settings == NULL)
    return;
  g_free (settings->address4);
  g_free (settings->address6);
  g_free (settings->server4);
  g_free (settings->server6);
  g_strfreev (settings->dns);
  g_free (settings);
}

static char *
bytes_to_string (const guint8  *bytes,
                 GSocketFamily  family)
{
  g_autoptr(GInetAddress) address = g_inet_address_new_from_bytes (bytes, family);

  return g_inet_address_to_string (address);
}

PtVpnSettings *
_pt_vpn_settings_new (const PtVpnConfig *config)
{
  PtVpnSettings *settings = g_new0 (PtVpnSettings, 1);
  g_autofree char *a4 = bytes_to_string (config->addr4, G_SOCKET_FAMILY_IPV4);
  GPtrArray *dns = g_ptr_array_new ();

  settings->address4 = g_strdup_printf ("%s/%u", a4, config->prefix4);
  settings->server4 = bytes_to_string (config->server4, G_SOCKET_FAMILY_IPV4);
  if (config->has_v6)
    {
      g_autofree char *a6 = bytes_to_string (config->addr6, G_SOCKET_FAMILY_IPV6);

      settings->address6 = g_strdup_printf ("%s/%u", a6, config->prefix6);
      settings->server6 = bytes_to_string (config->server6, G_SOCKET_FAMILY_IPV6);
    }
  settings->mtu = config->mtu;
  for (guint i = 0; i < config->n_dns; i++)
    g_ptr_array_add (dns, bytes_to_string (config->dns[i], config->dns_family[i] == 4
                                                           ? G_SOCKET_FAMILY_IPV4
                                                           : G_SOCKET_FAMILY_IPV6));
  g_ptr_array_add (dns, NULL);
  settings->dns = (char **) g_ptr_array_free (dns, FALSE);
  return settings;
}

char *
pt_vpn_server_address (const char  *network,
                       GError     **error)
{
  g_autoptr(PtVpnPool) pool = _pt_vpn_pool_new (network, error);
  g_autoptr(GInetAddress) server = NULL;
  g_autofree char *text = NULL;

  if (pool == NULL)
    return NULL;
  server = _pt_vpn_pool_get_server (pool);
  text = g_inet_address_to_string (server);
  return g_strdup_printf ("%s/%u", text, _pt_vpn_pool_get_prefix (pool));
}
