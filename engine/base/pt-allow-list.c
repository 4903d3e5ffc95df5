/* pt-allow-list.c — CIDR and port allow-lists for the server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An allow-list is a set of address ranges (CIDR blocks), IPv4 and IPv6, each
 * with an optional port or port range (no port: every port). The server
 * checks the address a forward resolves to and the forward's port against
 * the list for the forward's protocol and connects to exactly that address.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) reach IPv4 hosts, so they are
 * judged as the IPv4 address they carry: they match IPv4 entries only. A
 * broad IPv6 entry such as ::/0 therefore never opens IPv4 space by accident.
 */
#define G_LOG_DOMAIN "pt-allow-list"

#include "config.h"

#include <string.h>

#include "pt.h"

#define EXAMPLES "such as 127.0.0.1:22, 192.168.1.0/24:5432, 10.0.0.0/8:8000-8099, " \
                 "[::1]:22 or fd00::/8 (every port)"
#define FORM     "ADDRESS[/PREFIX][:PORT[-PORT]], IPv6 in brackets with a port"

typedef struct
{
  GSocketFamily family;
  guint8        bytes[16];   /* network byte order; first 4 bytes for IPv4 */
  guint         prefix;      /* 0..32 or 0..128 */
  guint16       port_min;    /* 1..65535, or 0 with port_max 0: every port */
  guint16       port_max;
} PtAllowEntry;

struct _PtAllowList
{
  GArray *entries;           /* of PtAllowEntry */
};

static void
pt_allow_list_clear (PtAllowList *self)
{
  g_clear_pointer (&self->entries, g_array_unref);
}

PtAllowList *
pt_allow_list_new (void)
{
  PtAllowList *self = g_atomic_rc_box_new0 (PtAllowList);

  self->entries = g_array_new (FALSE, TRUE, sizeof (PtAllowEntry));

  return self;
}

PtAllowList *
pt_allow_list_ref (PtAllowList *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_atomic_rc_box_acquire (self);
}

void
pt_allow_list_unref (PtAllowList *self)
{
  g_return_if_fail (self != NULL);

  g_atomic_rc_box_release_full (self, (GDestroyNotify) pt_allow_list_clear);
}

static guint
family_bits (GSocketFamily family)
{
  return family == G_SOCKET_FAMILY_IPV4 ? 32 : 128;
}

/* Clears every bit of @bytes after the first @prefix bits. */
static void
mask_bytes (guint8 *bytes,
            guint   n_bytes,
            guint   prefix)
{
  for (guint i = 0; i < n_bytes; i++)
    {
      guint bit = i * 8;

      if (bit >= prefix)
        bytes[i] = 0;
      else if (prefix - bit < 8)
        bytes[i] &= (guint8) (0xff << (8 - (prefix - bit)));
    }
}

static gboolean
prefix_matches (const guint8 *a,
                const guint8 *b,
                guint         prefix)
{
  guint whole = prefix / 8;
  guint rest = prefix % 8;

  if (memcmp (a, b, whole) != 0)
    return FALSE;

  if (rest != 0)
    {
      guint8 mask = (guint8) (0xff << (8 - rest));

      if ((a[whole] & mask) != (b[whole] & mask))
        return FALSE;
    }

  return TRUE;
}

static gboolean
entry_all_ports (const PtAllowEntry *entry)
{
  return entry->port_min == 0;
}

/* "10.0.0.0/8", "127.0.0.1/32:22", "[fd00::]/8:8000-8099" */
static char *
entry_to_string (const PtAllowEntry *entry)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *text = NULL;
  g_autofree char *ports = NULL;
  gboolean v6 = entry->family == G_SOCKET_FAMILY_IPV6;

  address = g_inet_address_new_from_bytes (entry->bytes, entry->family);
  text = g_inet_address_to_string (address);

  if (entry_all_ports (entry))
    return g_strdup_printf ("%s/%u", text, entry->prefix);

  ports = entry->port_min == entry->port_max
          ? g_strdup_printf ("%u", entry->port_min)
          : g_strdup_printf ("%u-%u", entry->port_min, entry->port_max);

  return g_strdup_printf ("%s%s%s/%u:%s", v6 ? "[" : "", text, v6 ? "]" : "",
                          entry->prefix, ports);
}

/* One port: plain decimal digits only, 1..65535. */
static gboolean
parse_port (const char  *text,
            const char  *digits,
            guint16     *port,
            GError     **error)
{
  guint64 value = 0;

  if (digits[0] == '\0' || strspn (digits, "0123456789") != strlen (digits))
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” has an invalid port “%s”: expected a number from 1 to 65535 "
                   "or a range such as 8000-8099 after the “:”", text, digits);
      return FALSE;
    }

  /* Leading zeros are fine; a very long string of digits is simply too big. */
  if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &value, NULL) ||
      value > 65535)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” has port %s, above the largest port 65535", text, digits);
      return FALSE;
    }

  if (value == 0)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” has port 0, which no service listens on: ports go from 1 to 65535",
                   text);
      return FALSE;
    }

  *port = (guint16) value;
  return TRUE;
}

/* "22" or "8000-8099". */
static gboolean
parse_ports (const char          *text,
             const char          *ports,
             PtAllowEntry        *entry,
             GError             **error)
{
  const char *dash = strchr (ports, '-');
  g_autofree char *first = dash ? g_strndup (ports, dash - ports) : g_strdup (ports);

  if (!parse_port (text, first, &entry->port_min, error))
    return FALSE;

  if (dash == NULL)
    {
      entry->port_max = entry->port_min;
      return TRUE;
    }

  if (!parse_port (text, dash + 1, &entry->port_max, error))
    return FALSE;

  if (entry->port_max < entry->port_min)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” has the port range backwards: did you mean %u-%u?",
                   text, entry->port_max, entry->port_min);
      return FALSE;
    }

  return TRUE;
}

gboolean
pt_allow_list_add (PtAllowList  *self,
                   const char   *cidr,
                   GError      **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GInetAddress) address = NULL;
  PtAllowEntry entry = { 0 };
  g_autofree char *host = NULL;
  g_autofree char *prefix_text = NULL;
  const char *ports = NULL;
  const char *rest;
  gboolean bracketed = FALSE;
  guint max_bits;
  gsize n_bytes;
  guint8 masked[16];

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (cidr != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  text = g_strstrip (g_strdup (cidr));

  if (text[0] == '\0')
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "An empty address range was given: expected " FORM ", " EXAMPLES);
      return FALSE;
    }

  /* Split into the address, the prefix text (after "/") and the ports (after ":"). */
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL)
        {
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                       "“%s” has “[” without “]”: expected " FORM ", such as [::1]:22 "
                       "or [fd00::]/8:5432", text);
          return FALSE;
        }
      host = g_strndup (text + 1, close - text - 1);
      rest = close + 1;
      bracketed = TRUE;
    }
  else
    {
      const char *colon = strchr (text, ':');
      gsize len;

      /* Unbracketed, one colon starts the ports (IPv4); two or more are an
       * IPv6 address, every port. */
      if (colon != NULL && strchr (colon + 1, ':') == NULL)
        len = strcspn (text, "/:");
      else
        len = strcspn (text, "/");
      host = g_strndup (text, len);
      rest = text + len;
    }

  if (rest[0] == '/')
    {
      const char *colon = strchr (rest + 1, ':');

      prefix_text = colon ? g_strndup (rest + 1, colon - rest - 1) : g_strdup (rest + 1);
      rest = colon ? colon : rest + strlen (rest);
    }

  if (rest[0] == ':')
    ports = rest + 1;
  else if (rest[0] != '\0')
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” is not an address range: expected " FORM ", " EXAMPLES, text);
      return FALSE;
    }

  address = g_inet_address_new_from_string (host);

  if (address == NULL)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” is not an address range: expected " FORM ", " EXAMPLES, text);
      return FALSE;
    }

  entry.family = g_inet_address_get_family (address);
  max_bits = family_bits (entry.family);
  n_bytes = g_inet_address_get_native_size (address);
  g_assert (n_bytes == max_bits / 8);
  memcpy (entry.bytes, g_inet_address_to_bytes (address), n_bytes);

  if (ports != NULL && entry.family == G_SOCKET_FAMILY_IPV6 && !bracketed)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s”: put an IPv6 address in brackets when a port follows, "
                   "such as [::1]:22 or [fd00::]/8:5432", text);
      return FALSE;
    }

  if (prefix_text == NULL)
    {
      entry.prefix = max_bits;
    }
  else
    {
      guint64 prefix = 0;

      /* Plain decimal digits only: no sign, no spaces, no hex. */
      if (prefix_text[0] == '\0' ||
          strspn (prefix_text, "0123456789") != strlen (prefix_text) ||
          !g_ascii_string_to_unsigned (prefix_text, 10, 0, max_bits, &prefix, NULL))
        {
          g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                       "“%s” has an invalid prefix length: expected a number "
                       "from 0 to %u after the “/” for an %s address",
                       text, max_bits,
                       entry.family == G_SOCKET_FAMILY_IPV4 ? "IPv4" : "IPv6");
          return FALSE;
        }

      entry.prefix = (guint) prefix;
    }

  if (ports != NULL && !parse_ports (text, ports, &entry, error))
    return FALSE;

  memcpy (masked, entry.bytes, n_bytes);
  mask_bytes (masked, n_bytes, entry.prefix);

  if (memcmp (masked, entry.bytes, n_bytes) != 0)
    {
      g_autofree char *suggestion = NULL;

      memcpy (entry.bytes, masked, n_bytes);
      suggestion = entry_to_string (&entry);
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "%s has host bits set: did you mean %s?", text, suggestion);
      return FALSE;
    }

  g_array_append_val (self->entries, entry);

  g_debug ("allowing %s", text);

  return TRUE;
}

/* Returns whether @address matches some entry that allows @port (0: any
 * entry, whatever its ports). */
static gboolean
contains (const PtAllowList *self,
          GInetAddress      *address,
          guint              port)
{
  static const guint8 v4_mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
  };
  GSocketFamily family;
  const guint8 *bytes;

  family = g_inet_address_get_family (address);
  bytes = g_inet_address_to_bytes (address);

  if (family == G_SOCKET_FAMILY_IPV6 &&
      memcmp (bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0)
    {
      family = G_SOCKET_FAMILY_IPV4;
      bytes += sizeof v4_mapped_prefix;
    }

  for (guint i = 0; i < self->entries->len; i++)
    {
      const PtAllowEntry *entry = &g_array_index (self->entries, PtAllowEntry, i);

      if (entry->family != family || !prefix_matches (entry->bytes, bytes, entry->prefix))
        continue;
      if (port == 0 || entry_all_ports (entry) ||
          (port >= entry->port_min && port <= entry->port_max))
        return TRUE;
    }

  return FALSE;
}

gboolean
pt_allow_list_contains (const PtAllowList *self,
                        GInetAddress      *address)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  return contains (self, address, 0);
}

gboolean
pt_allow_list_contains_port (const PtAllowList *self,
                             GInetAddress      *address,
                             guint16            port)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

  /* Port 0 is never a service; never let it mean "any". */
  if (port == 0)
    return FALSE;

  return contains (self, address, port);
}

gboolean
pt_allow_list_is_empty (const PtAllowList *self)
{
  g_return_val_if_fail (self != NULL, TRUE);

  return self->entries->len == 0;
}

char *
pt_allow_list_to_string (const PtAllowList *self)
{
  GString *str;

  g_return_val_if_fail (self != NULL, NULL);

  if (self->entries->len == 0)
    return g_strdup ("nothing");

  str = g_string_new (NULL);

  for (guint i = 0; i < self->entries->len; i++)
    {
      g_autofree char *entry = NULL;

      entry = entry_to_string (&g_array_index (self->entries, PtAllowEntry, i));
      if (i > 0)
        g_string_append (str, ", ");
      g_string_append (str, entry);
    }

  return g_string_free (str, FALSE);
}
