/* pt-vpn-pool.c — the addresses a VPN server hands to its clients
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Addresses are offsets from the network address: 1 is the server's; a
 * client's is derived from its identity (SHA-256, modulo the number of
 * client addresses), or the next free one after it when taken, so that a
 * client usually gets the same address even from a restarted server. IPv4
 * stops before the broadcast address; IPv6 pools use at most 65534 host
 * offsets. Each identity keeps its offset after it leaves; only when no
 * address is free does a new client take one that a departed client had
 * (the oldest departure first).
 */
#define G_LOG_DOMAIN "pt-vpn"

#include "config.h"

#include <string.h>

#include "pt-vpn-private.h"

#define MAX_V6_HOSTS 65534

typedef struct
{
  char    *client_id;
  guint32  offset;
  gboolean in_use;
  guint64  released;        /* order of departure, for reuse */
} Lease;

struct _PtVpnPool
{
  GSocketFamily  family;
  guint8         network[16];
  guint          prefix;
  guint32        n_hosts;       /* usable client offsets: 2 .. n_hosts + 1 */
  GHashTable    *by_id;         /* client id → Lease* (owned) */
  GHashTable    *by_offset;     /* offset → Lease* */
  guint64        departures;
};

static void
lease_free (Lease *lease)
{
  g_free (lease->client_id);
  g_free (lease);
}

static gboolean
is_private (const guint8 *a,
            GSocketFamily family,
            guint         prefix)
{
  if (family == G_SOCKET_FAMILY_IPV4)
    return (a[0] == 10 && prefix >= 8) ||
           (a[0] == 172 && (a[1] & 0xf0) == 16 && prefix >= 12) ||
           (a[0] == 192 && a[1] == 168 && prefix >= 16) ||
           (a[0] == 100 && (a[1] & 0xc0) == 64 && prefix >= 10);
  return (a[0] & 0xfe) == 0xfc && prefix >= 7;
}

PtVpnPool *
_pt_vpn_pool_new (const char  *cidr,
                  GError     **error)
{
  g_autoptr(GInetAddressMask) mask = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PtVpnPool) pool = NULL;
  GInetAddress *address;
  const guint8 *bytes;
  gsize len;

  mask = g_inet_address_mask_new_from_string (cidr, &local_error);
  if (mask == NULL || strchr (cidr, '/') == NULL)
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "“%s” is not a network: write it as ADDRESS/PREFIX (10.77.0.0/24, fd00:77::/64)",
                   cidr);
      return NULL;
    }

  pool = g_new0 (PtVpnPool, 1);
  pool->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) lease_free);
  pool->by_offset = g_hash_table_new (g_direct_hash, g_direct_equal);
  address = g_inet_address_mask_get_address (mask);
  pool->family = g_inet_address_get_family (address);
  pool->prefix = g_inet_address_mask_get_length (mask);
  bytes = g_inet_address_to_bytes (address);
  len = g_inet_address_get_native_size (address);
  memcpy (pool->network, bytes, len);

  if (pool->family == G_SOCKET_FAMILY_IPV4 &&
      (pool->prefix < PT_VPN_PREFIX_MIN_IPV4 || pool->prefix > PT_VPN_PREFIX_MAX_IPV4))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "%s: an IPv4 VPN network needs a prefix from /%u to /%u", cidr,
                   PT_VPN_PREFIX_MIN_IPV4, PT_VPN_PREFIX_MAX_IPV4);
      return NULL;
    }
  if (pool->family == G_SOCKET_FAMILY_IPV6 &&
      (pool->prefix < PT_VPN_PREFIX_MIN_IPV6 || pool->prefix > PT_VPN_PREFIX_MAX_IPV6))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "%s: an IPv6 VPN network needs a prefix from /%u to /%u", cidr,
                   PT_VPN_PREFIX_MIN_IPV6, PT_VPN_PREFIX_MAX_IPV6);
      return NULL;
    }
  if (!is_private (pool->network, pool->family, pool->prefix))
    {
      g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                   "%s is not a private network: use one inside 10.0.0.0/8, 172.16.0.0/12, "
                   "192.168.0.0/16, 100.64.0.0/10 or fc00::/7", cidr);
      return NULL;
    }

  {
    guint host_bits = (pool->family == G_SOCKET_FAMILY_IPV4 ? 32 : 128) - pool->prefix;
    guint64 size = host_bits >= 32 ? G_MAXUINT32 : (G_GUINT64_CONSTANT (1) << host_bits);

    /* Network, server and (IPv4) broadcast are not for clients. */
    if (pool->family == G_SOCKET_FAMILY_IPV4)
      pool->n_hosts = (guint32) (size - 3);
    else
      pool->n_hosts = (guint32) MIN (size - 2, (guint64) MAX_V6_HOSTS);
  }
  return g_steal_pointer (&pool);
}

void
_pt_vpn_pool_free (PtVpnPool *pool)
{
  if (pool == NULL)
    return;
  g_hash_table_unref (pool->by_offset);
  g_hash_table_unref (pool->by_id);
  g_free (pool);
}

guint
_pt_vpn_pool_get_prefix (PtVpnPool *pool)
{
  return pool->prefix;
}

static GInetAddress *
address_at (PtVpnPool *pool,
            guint32    offset)
{
  guint8 bytes[16];
  gsize len = pool->family == G_SOCKET_FAMILY_IPV4 ? 4 : 16;
  guint32 carry = offset;

  memcpy (bytes, pool->network, len);
  for (gsize i = len; i > 0 && carry != 0; i--)
    {
      guint32 sum = bytes[i - 1] + (carry & 0xff);

      bytes[i - 1] = sum & 0xff;
      carry = (carry >> 8) + (sum >> 8);
    }
  return g_inet_address_new_from_bytes (bytes, pool->family);
}

GInetAddress *
_pt_vpn_pool_get_server (PtVpnPool *pool)
{
  return address_at (pool, 1);
}

static guint32
preferred_offset (PtVpnPool  *pool,
                  const char *client_id)
{
  guint8 digest[32];
  gsize len = sizeof digest;
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint32 value;

  g_checksum_update (checksum, (const guchar *) client_id, -1);
  g_checksum_get_digest (checksum, digest, &len);
  value = (guint32) digest[0] << 24 | (guint32) digest[1] << 16 | (guint32) digest[2] << 8 | digest[3];
  return 2 + value % pool->n_hosts;
}

GInetAddress *
_pt_vpn_pool_acquire (PtVpnPool   *pool,
                      const char  *client_id,
                      GError     **error)
{
  Lease *lease = g_hash_table_lookup (pool->by_id, client_id);

  if (lease == NULL)
    {
      guint32 offset = preferred_offset (pool, client_id);

      /* The identity's own address, or the next one nobody holds or keeps. */
      for (guint32 i = 0; i < pool->n_hosts; i++)
        {
          guint32 candidate = 2 + (offset - 2 + i) % pool->n_hosts;

          if (!g_hash_table_contains (pool->by_offset, GUINT_TO_POINTER (candidate)))
            {
              lease = g_new0 (Lease, 1);
              lease->offset = candidate;
              break;
            }
        }
      if (lease == NULL)
        {
          /* Take the address of the client that left first. */
          GHashTableIter iter;
          gpointer value;
          Lease *oldest = NULL;

          g_hash_table_iter_init (&iter, pool->by_id);
          while (g_hash_table_iter_next (&iter, NULL, &value))
            {
              Lease *l = value;

              if (!l->in_use && (oldest == NULL || l->released < oldest->released))
                oldest = l;
            }
          if (oldest == NULL)
            {
              g_set_error (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_INVALID,
                           "every address of the VPN network is in use (%u clients): use a "
                           "larger network", pool->n_hosts);
              return NULL;
            }
          lease = g_new0 (Lease, 1);
          lease->offset = oldest->offset;
          g_hash_table_remove (pool->by_offset, GUINT_TO_POINTER (oldest->offset));
          g_hash_table_remove (pool->by_id, oldest->client_id);
        }
      lease->client_id = g_strdup (client_id);
      g_hash_table_insert (pool->by_id, lease->client_id, lease);
      g_hash_table_insert (pool->by_offset, GUINT_TO_POINTER (lease->offset), lease);
    }

  lease->in_use = TRUE;
  return address_at (pool, lease->offset);
}

void
_pt_vpn_pool_release (PtVpnPool  *pool,
                      const char *client_id)
{
  Lease *lease = g_hash_table_lookup (pool->by_id, client_id);

  if (lease != NULL && lease->in_use)
    {
      lease->in_use = FALSE;
      lease->released = ++pool->departures;
    }
}

gboolean
_pt_vpn_pool_contains (PtVpnPool    *pool,
                       GInetAddress *address)
{
  const guint8 *bytes;
  guint full, rest;

  if (g_inet_address_get_family (address) != pool->family)
    return FALSE;
  bytes = g_inet_address_to_bytes (address);
  full = pool->prefix / 8;
  rest = pool->prefix % 8;
  if (memcmp (bytes, pool->network, full) != 0)
    return FALSE;
  return rest == 0 || ((bytes[full] ^ pool->network[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}
