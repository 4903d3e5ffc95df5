/* pt-tun-request.c — the TUN helper's request and reply: parse, validate, format
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs as root inside peertunnel-tun-helper, on bytes from an unprivileged process:
 * every byte is checked, nothing is guessed, and every refusal names the field. The
 * format (docs/protocol.md, "TUN helper"):
 *
 *   version=1
 *   ifname=pt0
 *   mtu=1400
 *   address=10.77.0.2/24
 *   address=fd77::2/64
 *   route=10.78.0.0/16
 *   allow-overlap=1
 *   offload=1
 *
 * Lines end with "\n" (the last one too); bytes are printable ASCII without spaces;
 * keys are [a-z0-9-]{1,31}; values 1..63 bytes. "version" comes first; "ifname" and
 * "mtu" exactly once; "address" once or twice (at most one per family); "route" up to
 * PT_TUN_MAX_ROUTES times; "allow-overlap" and "offload" (value 1) at most once
 * each. Anything else is refused.
 */
#include "pt-tun-request.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef _WIN32
# include <winsock2.h>
# include <ws2tcpip.h>
#else
# include <arpa/inet.h>
# include <sys/socket.h>
#endif

#define KEY_MAX   31
#define VALUE_MAX 63

typedef struct
{
  int           family;
  unsigned char addr[16];
  unsigned int  prefix_len;
  const char   *text;
} PrivateRange;

/* The ranges a VPN may use: RFC 1918, the RFC 6598 shared (CGNAT) space, and the
 * RFC 4193 unique local IPv6 addresses. Nothing routable on the Internet. */
static const PrivateRange private_ranges[] = {
  { AF_INET, { 10 }, 8, "10.0.0.0/8" },
  { AF_INET, { 172, 16 }, 12, "172.16.0.0/12" },
  { AF_INET, { 192, 168 }, 16, "192.168.0.0/16" },
  { AF_INET, { 100, 64 }, 10, "100.64.0.0/10" },
  { AF_INET6, { 0xfc }, 7, "fc00::/7" },
};

static void
clean_text (char *text)
{
  for (char *p = text; *p != '\0'; p++)
    if (*p < 0x20 || *p > 0x7e)
      *p = '?';
}

void
pt_tun_error_set (PtTunError *error,
                  const char *field,
                  const char *format,
                  ...)
{
  va_list args;

  if (error == NULL)
    return;

  snprintf (error->field, sizeof error->field, "%s", field);
  clean_text (error->field);

  va_start (args, format);
  if (vsnprintf (error->message, sizeof error->message, format, args) < 0)
    snprintf (error->message, sizeof error->message, "(unprintable error)");
  va_end (args);
  clean_text (error->message);
}

const char *
pt_tun_status_to_string (PtTunStatus status)
{
  switch (status)
    {
    case PT_TUN_STATUS_OK:      return "ok";
    case PT_TUN_STATUS_INVALID: return "invalid";
    case PT_TUN_STATUS_FAILED:  return "failed";
    }
  return "invalid";
}

static unsigned int
family_bits (int family)
{
  return family == AF_INET ? 32 : 128;
}

static int
bit_at (const unsigned char *addr,
        unsigned int         bit)
{
  return (addr[bit / 8] >> (7 - bit % 8)) & 1;
}

/* Whether the first @prefix_len bits of @a and @b agree. */
static int
same_network (const unsigned char *a,
              const unsigned char *b,
              unsigned int         prefix_len)
{
  unsigned int bytes = prefix_len / 8;
  unsigned int rest = prefix_len % 8;

  if (memcmp (a, b, bytes) != 0)
    return 0;
  if (rest == 0)
    return 1;
  return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Whether the host part (the bits after prefix_len) is all @bit. */
static int
host_bits_all (const PtTunPrefix *prefix,
               int                bit)
{
  for (unsigned int i = prefix->prefix_len; i < family_bits (prefix->family); i++)
    if (bit_at (prefix->addr, i) != bit)
      return 0;
  return 1;
}

/* Whether @inner (a network) lies inside @outer (a network). */
static int
prefix_inside (const PtTunPrefix *inner,
               int                outer_family,
               const unsigned char *outer_addr,
               unsigned int       outer_len)
{
  return inner->family == outer_family
         && inner->prefix_len >= outer_len
         && same_network (inner->addr, outer_addr, outer_len);
}

static const PrivateRange *
find_private_range (const PtTunPrefix *prefix)
{
  for (size_t i = 0; i < sizeof private_ranges / sizeof private_ranges[0]; i++)
    if (prefix_inside (prefix, private_ranges[i].family, private_ranges[i].addr,
                       private_ranges[i].prefix_len))
      return &private_ranges[i];
  return NULL;
}

static const char *
ranges_text (int family)
{
  return family == AF_INET
         ? "10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10"
         : "fc00::/7";
}

/* Parses a decimal number of 1..@max_digits digits without leading zeros. */
static int
parse_decimal (const char   *text,
               size_t        len,
               size_t        max_digits,
               unsigned int *out)
{
  unsigned int value = 0;

  if (len == 0 || len > max_digits)
    return -1;
  if (len > 1 && text[0] == '0')
    return -1;
  for (size_t i = 0; i < len; i++)
    {
      if (text[i] < '0' || text[i] > '9')
        return -1;
      value = value * 10 + (unsigned int) (text[i] - '0');
    }
  *out = value;
  return 0;
}

int
pt_tun_prefix_parse (const char  *text,
                     PtTunPrefix *prefix)
{
  char address[48];
  const char *slash = strchr (text, '/');
  size_t address_len;

  memset (prefix, 0, sizeof *prefix);
  if (slash == NULL)
    return -1;
  address_len = (size_t) (slash - text);
  if (address_len == 0 || address_len >= sizeof address)
    return -1;
  memcpy (address, text, address_len);
  address[address_len] = '\0';

  prefix->family = memchr (address, ':', address_len) != NULL ? AF_INET6 : AF_INET;
  if (inet_pton (prefix->family, address, prefix->addr) != 1)
    return -1;
  if (parse_decimal (slash + 1, strlen (slash + 1), 3, &prefix->prefix_len) < 0)
    return -1;
  if (prefix->prefix_len > family_bits (prefix->family))
    return -1;
  return 0;
}

const char *
pt_tun_prefix_to_string (const PtTunPrefix *prefix,
                         char              *buf,
                         size_t             size)
{
  char address[INET6_ADDRSTRLEN];

  if (inet_ntop (prefix->family, prefix->addr, address, sizeof address) == NULL)
    snprintf (address, sizeof address, "?");
  snprintf (buf, size, "%s/%u", address, prefix->prefix_len);
  return buf;
}

/* The network of @prefix: host bits cleared. */
static PtTunPrefix
prefix_network (const PtTunPrefix *prefix)
{
  PtTunPrefix network = *prefix;

  for (unsigned int i = prefix->prefix_len; i < family_bits (prefix->family); i++)
    network.addr[i / 8] &= (unsigned char) ~(0x80 >> (i % 8));
  return network;
}

static int
ifname_valid (const char *name)
{
  size_t digits;

  if (strncmp (name, "ptvpn", 5) == 0)
    name += 5;
  else if (strncmp (name, "pt", 2) == 0)
    name += 2;
  else
    return 0;

  digits = strspn (name, "0123456789");
  return digits >= 1 && digits <= 3 && name[digits] == '\0';
}

static int
validate_address (const PtTunPrefix *address,
                  PtTunError        *error)
{
  char text[64];
  const char *family_name = address->family == AF_INET ? "IPv4" : "IPv6";

  pt_tun_prefix_to_string (address, text, sizeof text);
  if (address->prefix_len < 8)
    {
      pt_tun_error_set (error, "address", "%s: the prefix length must be at least 8", text);
      return -1;
    }
  if (find_private_range (address) == NULL)
    {
      pt_tun_error_set (error, "address",
                        "%s: an %s VPN network must lie inside %s", text, family_name,
                        ranges_text (address->family));
      return -1;
    }
  if (address->family == AF_INET && address->prefix_len <= 30)
    {
      if (host_bits_all (address, 0))
        {
          pt_tun_error_set (error, "address",
                            "%s: that is the network's own address, not a host address", text);
          return -1;
        }
      if (host_bits_all (address, 1))
        {
          pt_tun_error_set (error, "address",
                            "%s: that is the network's broadcast address, not a host address",
                            text);
          return -1;
        }
    }
  if (address->family == AF_INET6 && address->prefix_len <= 126 && host_bits_all (address, 0))
    {
      pt_tun_error_set (error, "address",
                        "%s: that is the network's subnet-router anycast address, "
                        "not a host address", text);
      return -1;
    }
  return 0;
}

static int
validate_route (const PtTunRequest *request,
                unsigned int        index,
                PtTunError         *error)
{
  const PtTunPrefix *route = &request->routes[index];
  const PtTunPrefix *address;
  PtTunPrefix network;
  char text[64], other[64];
  const char *family_name = route->family == AF_INET ? "IPv4" : "IPv6";

  pt_tun_prefix_to_string (route, text, sizeof text);
  if (route->family == AF_INET ? !request->has_address4 : !request->has_address6)
    {
      pt_tun_error_set (error, "route", "%s: an %s route needs an %s address on the device",
                        text, family_name, family_name);
      return -1;
    }
  address = route->family == AF_INET ? &request->address4 : &request->address6;

  if (!host_bits_all (route, 0))
    {
      network = prefix_network (route);
      pt_tun_error_set (error, "route", "%s: host bits are set (the network is %s)", text,
                        pt_tun_prefix_to_string (&network, other, sizeof other));
      return -1;
    }

  network = prefix_network (address);
  if (route->prefix_len == network.prefix_len
      && memcmp (route->addr, network.addr, sizeof route->addr) == 0)
    {
      pt_tun_error_set (error, "route",
                        "%s: that is the VPN network itself, which the address already routes",
                        text);
      return -1;
    }

  /* Inside the VPN network, or inside a range every VPN may use; never a public
   * network, and never the default route. */
  if (!prefix_inside (route, network.family, network.addr, network.prefix_len)
      && find_private_range (route) == NULL)
    {
      pt_tun_error_set (error, "route",
                        "%s: a route must lie inside the VPN network %s or inside %s", text,
                        pt_tun_prefix_to_string (&network, other, sizeof other),
                        ranges_text (route->family));
      return -1;
    }

  for (unsigned int i = 0; i < index; i++)
    if (request->routes[i].family == route->family
        && request->routes[i].prefix_len == route->prefix_len
        && memcmp (request->routes[i].addr, route->addr, sizeof route->addr) == 0)
      {
        pt_tun_error_set (error, "route", "%s: given twice", text);
        return -1;
      }
  return 0;
}

int
pt_tun_request_validate (const PtTunRequest *request,
                         PtTunError         *error)
{
  unsigned int mtu_min;

  if (memchr (request->ifname, '\0', sizeof request->ifname) == NULL
      || !ifname_valid (request->ifname))
    {
      pt_tun_error_set (error, "ifname",
                        "the interface name must be pt or ptvpn followed by 1 to 3 digits");
      return -1;
    }

  if (!request->has_address4 && !request->has_address6)
    {
      pt_tun_error_set (error, "address", "at least one address is needed");
      return -1;
    }
  if (request->has_address4
      && (request->address4.family != AF_INET || validate_address (&request->address4, error) < 0))
    {
      if (request->address4.family != AF_INET)
        pt_tun_error_set (error, "address", "the IPv4 address is not an IPv4 address");
      return -1;
    }
  if (request->has_address6
      && (request->address6.family != AF_INET6
          || validate_address (&request->address6, error) < 0))
    {
      if (request->address6.family != AF_INET6)
        pt_tun_error_set (error, "address", "the IPv6 address is not an IPv6 address");
      return -1;
    }

  mtu_min = request->has_address6 ? PT_VPN_MTU_MIN_IPV6 : PT_VPN_MTU_MIN_IPV4;
  if (request->mtu < mtu_min || request->mtu > PT_VPN_MTU_MAX)
    {
      pt_tun_error_set (error, "mtu", "%u: the MTU must be %u..%u%s", request->mtu, mtu_min,
                        PT_VPN_MTU_MAX,
                        request->has_address6 ? " (a device with an IPv6 address)" : "");
      return -1;
    }

  if (request->n_routes > PT_TUN_MAX_ROUTES)
    {
      pt_tun_error_set (error, "route", "at most %u routes", PT_TUN_MAX_ROUTES);
      return -1;
    }
  for (unsigned int i = 0; i < request->n_routes; i++)
    {
      if (request->routes[i].family != AF_INET && request->routes[i].family != AF_INET6)
        {
          pt_tun_error_set (error, "route", "route %u has no address family", i + 1);
          return -1;
        }
      if (validate_route (request, i, error) < 0)
        return -1;
    }
  return 0;
}

/* One "key=value\n" line of a message. */
typedef struct
{
  unsigned int number;
  char         key[KEY_MAX + 1];
  char         value[PT_TUN_MESSAGE_LEN];
} Line;

/* Reads the line at *@pos. Returns 1 with @line filled, 0 at the end, -1 on error.
 * @reply: a reply's values may hold spaces and be up to PT_TUN_MESSAGE_LEN - 1
 * bytes (messages); a request's may not. */
static int
next_line (const char *data,
           size_t      len,
           size_t     *pos,
           int         reply,
           Line       *line,
           PtTunError *error,
           const char *what)
{
  const char *start = data + *pos;
  const char *end, *eq;
  size_t line_len, key_len, value_len;
  size_t value_max = reply ? PT_TUN_MESSAGE_LEN - 1 : VALUE_MAX;

  if (*pos >= len)
    return 0;
  line->number++;

  end = memchr (start, '\n', len - *pos);
  if (end == NULL)
    {
      pt_tun_error_set (error, what, "line %u has no final newline (truncated %s?)",
                        line->number, what);
      return -1;
    }
  line_len = (size_t) (end - start);
  *pos += line_len + 1;

  for (size_t i = 0; i < line_len; i++)
    {
      unsigned char c = (unsigned char) start[i];

      if (c > 0x7e || c < 0x20 || (c == ' ' && !reply))
        {
          pt_tun_error_set (error, what,
                            "line %u: byte 0x%02x is not allowed (printable ASCII%s only)",
                            line->number, c, reply ? "" : " without spaces");
          return -1;
        }
    }
  if (line_len == 0)
    {
      pt_tun_error_set (error, what, "line %u is empty", line->number);
      return -1;
    }

  eq = memchr (start, '=', line_len);
  if (eq == NULL)
    {
      pt_tun_error_set (error, what, "line %u is not key=value", line->number);
      return -1;
    }
  key_len = (size_t) (eq - start);
  if (key_len == 0 || key_len > KEY_MAX || strspn (start, "abcdefghijklmnopqrstuvwxyz0123456789-") < key_len)
    {
      pt_tun_error_set (error, what, "line %u: the key must be 1 to %u of a-z, 0-9 and -",
                        line->number, KEY_MAX);
      return -1;
    }
  memcpy (line->key, start, key_len);
  line->key[key_len] = '\0';

  value_len = line_len - key_len - 1;
  if (value_len == 0 || value_len > value_max)
    {
      pt_tun_error_set (error, reply ? what : line->key,
                        "line %u: the value must be 1 to %u bytes", line->number,
                        (unsigned int) value_max);
      return -1;
    }
  memcpy (line->value, eq + 1, value_len);
  line->value[value_len] = '\0';
  return 1;
}

static int
check_size (size_t      len,
            PtTunError *error,
            const char *what)
{
  if (len == 0)
    {
      pt_tun_error_set (error, what, "the %s is empty", what);
      return -1;
    }
  if (len > PT_TUN_MESSAGE_MAX)
    {
      pt_tun_error_set (error, what, "the %s is longer than %u bytes", what, PT_TUN_MESSAGE_MAX);
      return -1;
    }
  return 0;
}

/* The first line: version=1. */
static int
check_version (const char *data,
               size_t      len,
               size_t     *pos,
               Line       *line,
               PtTunError *error,
               const char *what)
{
  unsigned int version;
  int r = next_line (data, len, pos, 0, line, error, what);

  if (r < 0)
    return -1;
  if (r == 0 || strcmp (line->key, "version") != 0)
    {
      pt_tun_error_set (error, "version", "the %s must start with version=%u", what,
                        PT_TUN_PROTOCOL_VERSION);
      return -1;
    }
  if (parse_decimal (line->value, strlen (line->value), 5, &version) < 0
      || version != PT_TUN_PROTOCOL_VERSION)
    {
      pt_tun_error_set (error, "version", "version %s is not supported (this is version %u)",
                        line->value, PT_TUN_PROTOCOL_VERSION);
      return -1;
    }
  return 0;
}

int
pt_tun_request_parse (const char   *data,
                      size_t        len,
                      PtTunRequest *request,
                      PtTunError   *error)
{
  Line line = { 0 };
  size_t pos = 0;
  int have_ifname = 0, have_mtu = 0, r;

  memset (request, 0, sizeof *request);
  if (check_size (len, error, "request") < 0)
    return -1;
  if (check_version (data, len, &pos, &line, error, "request") < 0)
    return -1;

  while ((r = next_line (data, len, &pos, 0, &line, error, "request")) > 0)
    {
      if (strcmp (line.key, "ifname") == 0)
        {
          if (have_ifname++)
            {
              pt_tun_error_set (error, "ifname", "line %u: ifname given twice", line.number);
              return -1;
            }
          if (strlen (line.value) >= sizeof request->ifname || !ifname_valid (line.value))
            {
              pt_tun_error_set (error, "ifname",
                                "%s: the interface name must be pt or ptvpn followed by 1 to 3 "
                                "digits", line.value);
              return -1;
            }
          snprintf (request->ifname, sizeof request->ifname, "%s", line.value);
        }
      else if (strcmp (line.key, "mtu") == 0)
        {
          if (have_mtu++)
            {
              pt_tun_error_set (error, "mtu", "line %u: mtu given twice", line.number);
              return -1;
            }
          if (parse_decimal (line.value, strlen (line.value), 5, &request->mtu) < 0)
            {
              pt_tun_error_set (error, "mtu", "%s: not a decimal number", line.value);
              return -1;
            }
        }
      else if (strcmp (line.key, "address") == 0)
        {
          PtTunPrefix prefix;

          if (pt_tun_prefix_parse (line.value, &prefix) < 0)
            {
              pt_tun_error_set (error, "address",
                                "%s: not ADDRESS/PREFIX-LENGTH (10.77.0.2/24, fd77::2/64)",
                                line.value);
              return -1;
            }
          if (prefix.family == AF_INET ? request->has_address4 : request->has_address6)
            {
              pt_tun_error_set (error, "address", "%s: a second %s address (one per family)",
                                line.value, prefix.family == AF_INET ? "IPv4" : "IPv6");
              return -1;
            }
          if (prefix.family == AF_INET)
            {
              request->has_address4 = 1;
              request->address4 = prefix;
            }
          else
            {
              request->has_address6 = 1;
              request->address6 = prefix;
            }
        }
      else if (strcmp (line.key, "route") == 0)
        {
          if (request->n_routes >= PT_TUN_MAX_ROUTES)
            {
              pt_tun_error_set (error, "route", "more than %u routes", PT_TUN_MAX_ROUTES);
              return -1;
            }
          if (pt_tun_prefix_parse (line.value, &request->routes[request->n_routes]) < 0)
            {
              pt_tun_error_set (error, "route",
                                "%s: not NETWORK/PREFIX-LENGTH (10.78.0.0/16, fd78::/48)",
                                line.value);
              return -1;
            }
          request->n_routes++;
        }
      else if (strcmp (line.key, "allow-overlap") == 0)
        {
          if (request->allow_overlap)
            {
              pt_tun_error_set (error, "allow-overlap", "line %u: allow-overlap given twice",
                                line.number);
              return -1;
            }
          if (strcmp (line.value, "1") != 0)
            {
              pt_tun_error_set (error, "allow-overlap", "%s: the only value is 1 (leave the "
                                "key out to refuse overlaps)", line.value);
              return -1;
            }
          request->allow_overlap = 1;
        }
      else if (strcmp (line.key, "offload") == 0)
        {
          if (request->offload)
            {
              pt_tun_error_set (error, "offload", "line %u: offload given twice", line.number);
              return -1;
            }
          if (strcmp (line.value, "1") != 0)
            {
              pt_tun_error_set (error, "offload", "%s: the only value is 1 (leave the key out "
                                "for plain packets)", line.value);
              return -1;
            }
          request->offload = 1;
        }
      else if (strcmp (line.key, "version") == 0)
        {
          pt_tun_error_set (error, "version", "line %u: version given twice", line.number);
          return -1;
        }
      else
        {
          pt_tun_error_set (error, "request", "line %u: unknown key \"%s\"", line.number,
                            line.key);
          return -1;
        }
    }
  if (r < 0)
    return -1;

  if (!have_ifname)
    {
      pt_tun_error_set (error, "ifname", "missing (ifname=pt0)");
      return -1;
    }
  if (!have_mtu)
    {
      pt_tun_error_set (error, "mtu", "missing (mtu=1400)");
      return -1;
    }
  return pt_tun_request_validate (request, error);
}

/* Appends printf output to @buf at *@pos; -1 when it does not fit. */
static int
append (char       *buf,
        size_t      size,
        size_t     *pos,
        const char *format,
        ...) __attribute__ ((format (printf, 4, 5)));

static int
append (char       *buf,
        size_t      size,
        size_t     *pos,
        const char *format,
        ...)
{
  va_list args;
  int n;

  if (*pos >= size)
    return -1;
  va_start (args, format);
  n = vsnprintf (buf + *pos, size - *pos, format, args);
  va_end (args);
  if (n < 0 || (size_t) n >= size - *pos)
    return -1;
  *pos += (size_t) n;
  return 0;
}

int
pt_tun_request_format (const PtTunRequest *request,
                       char               *buf,
                       size_t              size)
{
  char text[64];
  size_t pos = 0;

  if (memchr (request->ifname, '\0', sizeof request->ifname) == NULL)
    return -1;
  if (append (buf, size, &pos, "version=%u\nifname=%s\nmtu=%u\n", PT_TUN_PROTOCOL_VERSION,
              request->ifname, request->mtu) < 0)
    return -1;
  if (request->has_address4
      && append (buf, size, &pos, "address=%s\n",
                 pt_tun_prefix_to_string (&request->address4, text, sizeof text)) < 0)
    return -1;
  if (request->has_address6
      && append (buf, size, &pos, "address=%s\n",
                 pt_tun_prefix_to_string (&request->address6, text, sizeof text)) < 0)
    return -1;
  for (unsigned int i = 0; i < request->n_routes && i < PT_TUN_MAX_ROUTES; i++)
    if (append (buf, size, &pos, "route=%s\n",
                pt_tun_prefix_to_string (&request->routes[i], text, sizeof text)) < 0)
      return -1;
  if (request->allow_overlap && append (buf, size, &pos, "allow-overlap=1\n") < 0)
    return -1;
  if (request->offload && append (buf, size, &pos, "offload=1\n") < 0)
    return -1;
  return (int) pos;
}

/* Overlaps --------------------------------------------------------------------------- */

int
pt_tun_prefix_overlaps (const PtTunPrefix *a,
                        const PtTunPrefix *b)
{
  unsigned int len;

  if (a->family != b->family)
    return 0;
  len = a->prefix_len < b->prefix_len ? a->prefix_len : b->prefix_len;
  if (len > family_bits (a->family))
    len = family_bits (a->family);
  return same_network (a->addr, b->addr, len);
}

int
pt_tun_request_check_overlap (const PtTunRequest  *request,
                              const PtTunExisting *existing,
                              PtTunError          *error)
{
  PtTunPrefix theirs;
  char ours_text[64], theirs_text[64], address_text[64];

  if (existing->prefix.family != AF_INET && existing->prefix.family != AF_INET6)
    return 0;
  if (existing->prefix.prefix_len == 0 && !existing->is_address)
    return 0; /* the default route: every VPN route is more specific */
  if (existing->ifname[0] != '\0'
      && strncmp (existing->ifname, request->ifname, sizeof request->ifname) == 0)
    return 0;
  if (existing->prefix.prefix_len > family_bits (existing->prefix.family))
    return 0;
  theirs = existing->prefix; /* an address as it is: its host bits say which one */
  pt_tun_prefix_to_string (&theirs, theirs_text, sizeof theirs_text);

  for (int family = 0; family < 2; family++)
    {
      const PtTunPrefix *address = family == 0 ? &request->address4 : &request->address6;
      PtTunPrefix network;

      if (!(family == 0 ? request->has_address4 : request->has_address6))
        continue;
      network = prefix_network (address);
      if (!pt_tun_prefix_overlaps (&network, &theirs))
        continue;
      pt_tun_error_set (error, "address",
                        "the VPN network %s (address %s) overlaps the %s %s on %s, which "
                        "this machine already has", pt_tun_prefix_to_string (&network, ours_text,
                                                                           sizeof ours_text),
                        pt_tun_prefix_to_string (address, address_text, sizeof address_text),
                        existing->is_address ? "address" : "route", theirs_text,
                        existing->ifname[0] ? existing->ifname : "another device");
      return -1;
    }

  for (unsigned int i = 0; i < request->n_routes && i < PT_TUN_MAX_ROUTES; i++)
    {
      if (!pt_tun_prefix_overlaps (&request->routes[i], &theirs))
        continue;
      pt_tun_error_set (error, "route",
                        "the route %s overlaps the %s %s on %s, which this machine already "
                        "has", pt_tun_prefix_to_string (&request->routes[i], ours_text,
                                                         sizeof ours_text),
                        existing->is_address ? "address" : "route", theirs_text,
                        existing->ifname[0] ? existing->ifname : "another device");
      return -1;
    }
  return 0;
}

int
pt_tun_reply_format (const PtTunReply *reply,
                     char             *buf,
                     size_t            size)
{
  PtTunError clean;
  size_t pos = 0;

  if (append (buf, size, &pos, "version=%u\nstatus=%s\n", PT_TUN_PROTOCOL_VERSION,
              pt_tun_status_to_string (reply->status)) < 0)
    return -1;

  switch (reply->status)
    {
    case PT_TUN_STATUS_OK:
      if (memchr (reply->ifname, '\0', sizeof reply->ifname) == NULL)
        return -1;
      if (append (buf, size, &pos, "ifname=%s\nifindex=%u\n", reply->ifname, reply->ifindex) < 0)
        return -1;
      break;

    case PT_TUN_STATUS_INVALID:
    case PT_TUN_STATUS_FAILED:
      /* Keep both values parseable: 1..63 bytes for the field, no newline anywhere. */
      pt_tun_error_set (&clean, reply->error.field[0] ? reply->error.field : "request", "%.*s",
                        (int) strnlen (reply->error.message, sizeof reply->error.message),
                        reply->error.message[0] ? reply->error.message : "unknown error");
      for (char *p = clean.field; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
          *p = '-';
      if (append (buf, size, &pos, "field=%s\nmessage=%s\n", clean.field, clean.message) < 0)
        return -1;
      break;
    }
  return (int) pos;
}

int
pt_tun_reply_parse (const char *data,
                    size_t      len,
                    PtTunReply *reply,
                    PtTunError *error)
{
  Line line = { 0 };
  size_t pos = 0;
  int have_status = 0, have_ifname = 0, have_ifindex = 0, have_field = 0, have_message = 0;
  int r;

  memset (reply, 0, sizeof *reply);
  if (check_size (len, error, "reply") < 0)
    return -1;
  if (check_version (data, len, &pos, &line, error, "reply") < 0)
    return -1;

  while ((r = next_line (data, len, &pos, 1, &line, error, "reply")) > 0)
    {
      int *seen;

      if (strcmp (line.key, "status") == 0)
        seen = &have_status;
      else if (strcmp (line.key, "ifname") == 0)
        seen = &have_ifname;
      else if (strcmp (line.key, "ifindex") == 0)
        seen = &have_ifindex;
      else if (strcmp (line.key, "field") == 0)
        seen = &have_field;
      else if (strcmp (line.key, "message") == 0)
        seen = &have_message;
      else
        {
          pt_tun_error_set (error, "reply", "line %u: unknown key \"%s\"", line.number, line.key);
          return -1;
        }
      if ((*seen)++)
        {
          pt_tun_error_set (error, "reply", "line %u: %s given twice", line.number, line.key);
          return -1;
        }

      if (seen == &have_status)
        {
          if (strcmp (line.value, "ok") == 0)
            reply->status = PT_TUN_STATUS_OK;
          else if (strcmp (line.value, "invalid") == 0)
            reply->status = PT_TUN_STATUS_INVALID;
          else if (strcmp (line.value, "failed") == 0)
            reply->status = PT_TUN_STATUS_FAILED;
          else
            {
              pt_tun_error_set (error, "reply", "unknown status \"%s\"", line.value);
              return -1;
            }
        }
      else if (seen == &have_ifname)
        {
          if (strlen (line.value) >= sizeof reply->ifname || !ifname_valid (line.value))
            {
              pt_tun_error_set (error, "reply", "ifname \"%s\" is not a PeerTunnel device name",
                                line.value);
              return -1;
            }
          snprintf (reply->ifname, sizeof reply->ifname, "%s", line.value);
        }
      else if (seen == &have_ifindex)
        {
          if (parse_decimal (line.value, strlen (line.value), 10, &reply->ifindex) < 0
              || reply->ifindex == 0 || reply->ifindex > 0x7fffffffu)
            {
              pt_tun_error_set (error, "reply", "ifindex \"%s\" is not an interface index",
                                line.value);
              return -1;
            }
        }
      else if (seen == &have_field)
        {
          size_t field_len = strlen (line.value);

          if (field_len >= sizeof reply->error.field
              || strspn (line.value, "abcdefghijklmnopqrstuvwxyz0123456789-") != field_len)
            {
              pt_tun_error_set (error, "reply", "field \"%s\" is not a field name", line.value);
              return -1;
            }
          memcpy (reply->error.field, line.value, field_len + 1);
        }
      else
        snprintf (reply->error.message, sizeof reply->error.message, "%s", line.value);
    }
  if (r < 0)
    return -1;

  if (!have_status)
    {
      pt_tun_error_set (error, "reply", "no status");
      return -1;
    }
  if (reply->status == PT_TUN_STATUS_OK ? !(have_ifname && have_ifindex) || have_field
                                          || have_message
                                        : !(have_field && have_message) || have_ifname
                                          || have_ifindex)
    {
      pt_tun_error_set (error, "reply", "the keys do not match status=%s",
                        pt_tun_status_to_string (reply->status));
      return -1;
    }
  return 0;
}
