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
 */
#define G_LOG_DOMAIN "pt-vpn"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

static void
tun_write (int           fd,
           const guint8 *packet,
           gsize         len)
{
  /* A full queue or a device going away loses the packet, as on a wire. */
  if (write (fd, packet, len) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    g_debug ("TUN write failed: %s", g_strerror (errno));
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
 * from @router_addr to @reply_fd (or, with reply_fd < 0, sends it back
 * through @reply_session). */
static void
send_or_too_big (PtSession    *session,
                 const guint8 *packet,
                 gsize         len,
                 const guint8 *router_addr,
                 int           reply_fd,
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
  if (reply_fd >= 0)
    tun_write (reply_fd, g_bytes_get_data (icmp, NULL), g_bytes_get_size (icmp));
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
  int           fd;
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

static gboolean
router_hello (PtSession    *session,
              guint8        flags,
              PtVpnConfig  *config,
              GError      **error,
              gpointer      data)
{
  RouterClient *client = data;
  PtVpnRouter *router = client->router;
  g_autoptr(GInetAddress) addr4 = NULL;
  gsize max_ip = _pt_session_get_max_ip (session);
  guint mtu = MIN (router->mtu, max_ip);

  if (mtu < PT_VPN_MIN_MTU_V4)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_REJECTED,
                   "the path carries packets of at most %zu bytes, too few for a VPN (%d)",
                   max_ip, PT_VPN_MIN_MTU_V4);
      return FALSE;
    }

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
  if ((flags & PT_VPN_HELLO_WANTS_IPV6) && router->pool6 != NULL && mtu >= PT_VPN_MIN_MTU_V6)
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

static void
router_from_client (PtSession    *session,
                    const guint8 *packet,
                    gsize         len,
                    gpointer      data)
{
  RouterClient *client = data;
  PtVpnRouter *router = client->router;
  g_autofree char *dst = NULL;
  RouterClient *other;
  PtIpHeader ip;

  if (!_pt_ip_header_parse (packet, len, &ip))
    return;
  /* A client speaks only for itself. */
  if (ip.version == 4 ? !client->has_v4 || memcmp (ip.src, client->addr4, 4) != 0
                      : !client->has_v6 || memcmp (ip.src, client->addr6, 16) != 0)
    {
      router->spoofed++;
      g_debug ("dropped a packet from client %s with another source address (%" G_GUINT64_FORMAT
               " so far)", client->client_id, router->spoofed);
      return;
    }

  dst = address_key (ip.version, ip.dst);
  other = g_hash_table_lookup (router->by_address, dst);
  if (other != NULL && other != client)
    send_or_too_big (other->session, packet, ip.total_len,
                     ip.version == 4 ? router->server4 : router->server6, -1, session);
  else
    tun_write (router->fd, packet, ip.total_len);
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

static gboolean
router_tun_cb (gint          fd,
               GIOCondition  condition,
               gpointer      user_data)
{
  PtVpnRouter *router = user_data;
  guint8 packet[PACKET_MAX];

  for (guint i = 0; i < READ_BATCH; i++)
    {
      ssize_t n = read (router->fd, packet, sizeof packet);
      g_autofree char *dst = NULL;
      RouterClient *client;
      PtIpHeader ip;

      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_warning ("reading the VPN's TUN device failed: %s", g_strerror (errno));
          break;
        }
      if (!_pt_ip_header_parse (packet, (gsize) n, &ip))
        continue;
      dst = address_key (ip.version, ip.dst);
      client = g_hash_table_lookup (router->by_address, dst);
      if (client == NULL)
        {
          router->unroutable++;
          continue;
        }
      send_or_too_big (client->session, packet, ip.total_len,
                       ip.version == 4 ? router->server4 : router->server6, router->fd, NULL);
    }
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
  router->fd = tun_fd;          /* taken, even when this fails */
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
  if (router->fd >= 0)
    close (router->fd);
  g_free (router);
}

void
_pt_vpn_router_attach (PtVpnRouter *router,
                       PtSession   *session,
                       const char  *client_id)
{
  RouterClient *client = g_new0 (RouterClient, 1);

  client->router = router;
  client->session = session;
  client->client_id = g_strdup (client_id);
  g_hash_table_replace (router->clients, session, client);
  _pt_session_set_vpn_hooks (session, &router_hooks, client);
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
  int        fd;
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
    tun_write (link->fd, packet, ip.total_len);
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

static gboolean
link_tun_cb (gint          fd,
             GIOCondition  condition,
             gpointer      user_data)
{
  PtVpnLink *link = user_data;
  guint8 packet[PACKET_MAX];

  for (guint i = 0; i < READ_BATCH; i++)
    {
      ssize_t n = read (link->fd, packet, sizeof packet);
      PtIpHeader ip;

      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_warning ("reading the VPN's TUN device failed: %s", g_strerror (errno));
          break;
        }
      if (!_pt_ip_header_parse (packet, (gsize) n, &ip))
        continue;
      send_or_too_big (link->session, packet, ip.total_len,
                       ip.version == 4 ? link->server4 : link->server6, link->fd, NULL);
    }
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
  link->fd = tun_fd;
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
  close (link->fd);
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
