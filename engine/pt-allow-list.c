/* pt-allow-list.c — CIDR allow-lists for the server
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An allow-list is a set of address ranges (CIDR blocks), IPv4 and IPv6. The
 * server checks the address a forward resolves to against the list for the
 * forward's protocol and connects to exactly that address.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) reach IPv4 hosts, so they are
 * judged as the IPv4 address they carry: they match IPv4 entries only. A
 * broad IPv6 entry such as ::/0 therefore never opens IPv4 space by accident.
 */
#define G_LOG_DOMAIN "pt-allow-list"

#include "config.h"

#include <string.h>

#include "pt.h"

#define EXAMPLES "such as 10.0.0.0/8, 192.168.1.7 or fd00::/8"

typedef struct
{
  GSocketFamily family;
  guint8        bytes[16];   /* network byte order; first 4 bytes for IPv4 */
  guint         prefix;      /* 0..32 or 0..128 */
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

static char *
entry_to_string (const PtAllowEntry *entry)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *text = NULL;

  address = g_inet_address_new_from_bytes (entry->bytes, entry->family);
  text = g_inet_address_to_string (address);

  return g_strdup_printf ("%s/%u", text, entry->prefix);
}

gboolean
pt_allow_list_add (PtAllowList  *self,
                   const char   *cidr,
                   GError      **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GInetAddress) address = NULL;
  PtAllowEntry entry = { 0 };
  const char *slash;
  g_autofree char *host = NULL;
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
                   "An empty address range was given: expected an IPv4 or IPv6 "
                   "address with an optional /PREFIX, " EXAMPLES);
      return FALSE;
    }

  slash = strchr (text, '/');
  host = slash != NULL ? g_strndup (text, slash - text) : g_strdup (text);
  address = g_inet_address_new_from_string (host);

  if (address == NULL)
    {
      g_set_error (error, PT_CONFIG_ERROR, PT_CONFIG_ERROR_INVALID,
                   "“%s” is not an address range: expected an IPv4 or IPv6 "
                   "address with an optional /PREFIX, " EXAMPLES, text);
      return FALSE;
    }

  entry.family = g_inet_address_get_family (address);
  max_bits = family_bits (entry.family);
  n_bytes = g_inet_address_get_native_size (address);
  g_assert (n_bytes == max_bits / 8);
  memcpy (entry.bytes, g_inet_address_to_bytes (address), n_bytes);

  if (slash == NULL)
    {
      entry.prefix = max_bits;
    }
  else
    {
      const char *digits = slash + 1;
      guint64 prefix = 0;

      /* Plain decimal digits only: no sign, no spaces, no hex. */
      if (digits[0] == '\0' ||
          strspn (digits, "0123456789") != strlen (digits) ||
          !g_ascii_string_to_unsigned (digits, 10, 0, max_bits, &prefix, NULL))
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

gboolean
pt_allow_list_contains (const PtAllowList *self,
                        GInetAddress      *address)
{
  static const guint8 v4_mapped_prefix[12] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
  };
  GSocketFamily family;
  const guint8 *bytes;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (G_IS_INET_ADDRESS (address), FALSE);

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

      if (entry->family == family &&
          prefix_matches (entry->bytes, bytes, entry->prefix))
        return TRUE;
    }

  return FALSE;
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
