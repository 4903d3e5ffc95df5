/* pt-ice-config.c — STUN/TURN servers and local addresses for ICE gathering
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-ice-config"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "pt.h"

struct _PtIceConfig
{
  GPtrArray *stun_servers;     /* "host:port", NULL-terminated */
  GPtrArray *turn_servers;     /* PtTurnServer* */
  GPtrArray *local_addresses;  /* NULL-terminated */
  gboolean   relay_only;
  char      *turn_ca_file;
};

const char * const pt_default_stun_servers[] = {
  "stun.l.google.com:19302",
  "stun.cloudflare.com:3478",
  NULL,
};

static void
pt_turn_server_free (PtTurnServer *server)
{
  g_free (server->host);
  g_free (server->username);
  if (server->password != NULL)
    explicit_bzero (server->password, strlen (server->password));
  g_free (server->password);
  g_free (server);
}

static GPtrArray *
new_strv_array (void)
{
  GPtrArray *array = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (array, NULL);
  return array;
}

static void
strv_array_append (GPtrArray  *array,
                   const char *str)
{
  g_ptr_array_insert (array, array->len - 1, g_strdup (str));
}

PtIceConfig *
pt_ice_config_new (void)
{
  PtIceConfig *self = g_atomic_rc_box_new0 (PtIceConfig);

  self->stun_servers = new_strv_array ();
  self->turn_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_turn_server_free);
  self->local_addresses = new_strv_array ();
  return self;
}

static void
pt_ice_config_clear (PtIceConfig *self)
{
  g_ptr_array_unref (self->stun_servers);
  g_ptr_array_unref (self->turn_servers);
  g_ptr_array_unref (self->local_addresses);
  g_free (self->turn_ca_file);
}

PtIceConfig *
pt_ice_config_ref (PtIceConfig *self)
{
  return g_atomic_rc_box_acquire (self);
}

void
pt_ice_config_unref (PtIceConfig *self)
{
  g_atomic_rc_box_release_full (self, (GDestroyNotify) pt_ice_config_clear);
}

/* Splits "host:port", "[v6]:port" or "host"; TRUE on success. */
static gboolean
split_host_port (const char  *spec,
                 guint16      default_port,
                 char       **host_out,
                 guint16     *port_out)
{
  g_autofree char *host = NULL;
  const char *port_str = NULL;
  guint64 port = default_port;

  if (spec == NULL || *spec == '\0')
    return FALSE;

  if (spec[0] == '[')
    {
      const char *close = strchr (spec, ']');

      if (close == NULL || close == spec + 1)
        return FALSE;
      host = g_strndup (spec + 1, close - spec - 1);
      if (close[1] == ':')
        port_str = close + 2;
      else if (close[1] != '\0')
        return FALSE;
    }
  else
    {
      const char *colon = strrchr (spec, ':');

      if (colon != NULL && strchr (spec, ':') != colon)
        colon = NULL; /* a bare IPv6 address */
      if (colon != NULL)
        {
          host = g_strndup (spec, colon - spec);
          port_str = colon + 1;
        }
      else
        host = g_strdup (spec);
    }

  if (*host == '\0')
    return FALSE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '.' && *p != '-' && *p != ':' && *p != '_' && *p != '%')
      return FALSE;

  if (port_str != NULL &&
      (!g_ascii_string_to_unsigned (port_str, 10, 1, 65535, &port, NULL)))
    return FALSE;

  *host_out = g_steal_pointer (&host);
  *port_out = port;
  return TRUE;
}

gboolean
pt_ice_config_add_stun_server (PtIceConfig *self,
                               const char  *spec,
                               GError     **error)
{
  g_autofree char *host = NULL;
  guint16 port;

  if (!split_host_port (spec, 3478, &host, &port))
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER,
                   "“%s” is not a STUN server: expected HOST:PORT, e.g. stun.example.org:3478",
                   spec);
      return FALSE;
    }

  strv_array_append (self->stun_servers, spec);
  return TRUE;
}

static gboolean
bad_turn_url (GError    **error,
              const char *why)
{
  /* The URL may hold a password: never echo it. */
  g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_SERVER,
               "a --turn URL is invalid (%s): expected turn://USER:PASS@HOST[:PORT][?transport=udp|tcp] "
               "or turns://USER:PASS@HOST[:PORT]",
               why);
  return FALSE;
}

/* Parses the part after the scheme in place; @buf is wiped by the caller. */
static PtTurnServer *
parse_turn_url (char     *buf,
                gboolean  tls,
                GError  **error)
{
  g_autoptr(GError) local_error = NULL;
  PtTurnServer *server;
  char *query, *at, *colon;

  query = strchr (buf, '?');
  if (query != NULL)
    *query++ = '\0';

  at = strrchr (buf, '@');
  if (at == NULL)
    return bad_turn_url (error, "no USER:PASS@ credentials"), NULL;
  *at = '\0';

  colon = strchr (buf, ':');
  if (colon == NULL || colon == buf || colon[1] == '\0')
    return bad_turn_url (error, "credentials must be USER:PASS"), NULL;
  *colon = '\0';

  server = g_new0 (PtTurnServer, 1);
  server->username = g_uri_unescape_string (buf, NULL);
  server->password = g_uri_unescape_string (colon + 1, NULL);
  server->transport = tls ? PT_TURN_TRANSPORT_TLS : PT_TURN_TRANSPORT_UDP;

  if (server->username == NULL || server->password == NULL)
    bad_turn_url (&local_error, "bad %-escaping in the credentials");
  else if (!split_host_port (at + 1, tls ? 5349 : 3478, &server->host, &server->port))
    bad_turn_url (&local_error, "bad host or port");
  else if (query == NULL || (g_str_equal (query, "transport=udp") && !tls))
    ;
  else if (g_str_equal (query, "transport=tcp"))
    server->transport = tls ? PT_TURN_TRANSPORT_TLS : PT_TURN_TRANSPORT_TCP;
  else if (g_str_equal (query, "transport=udp"))
    bad_turn_url (&local_error, "turns:// always runs over TLS on TCP");
  else
    bad_turn_url (&local_error, "the only query it takes is ?transport=udp or ?transport=tcp");

  if (local_error != NULL)
    {
      pt_turn_server_free (server);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }

  return server;
}

gboolean
pt_ice_config_add_turn_server (PtIceConfig *self,
                               const char  *url,
                               GError     **error)
{
  g_autofree char *buf = NULL;
  PtTurnServer *server;
  gsize buf_len;
  gboolean tls;

  if (g_str_has_prefix (url, "turn://"))
    tls = FALSE, buf = g_strdup (url + 7);
  else if (g_str_has_prefix (url, "turn:"))
    tls = FALSE, buf = g_strdup (url + 5);
  else if (g_str_has_prefix (url, "turns://"))
    tls = TRUE, buf = g_strdup (url + 8);
  else if (g_str_has_prefix (url, "turns:"))
    tls = TRUE, buf = g_strdup (url + 6);
  else
    return bad_turn_url (error, "it must start with turn:// or turns://");

  buf_len = strlen (buf);
  server = parse_turn_url (buf, tls, error);
  explicit_bzero (buf, buf_len);
  if (server == NULL)
    return FALSE;

  g_ptr_array_add (self->turn_servers, server);
  return TRUE;
}

gboolean
pt_ice_config_add_local_address (PtIceConfig *self,
                                 const char  *address,
                                 GError     **error)
{
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (address);

  if (inet == NULL)
    {
      g_set_error (error, PT_ICE_ERROR, PT_ICE_ERROR_BAD_ADDRESS,
                   "“%s” is not an IP address (--local-address takes an address of this machine, "
                   "e.g. 192.168.1.10 or 127.0.0.1)",
                   address);
      return FALSE;
    }

  strv_array_append (self->local_addresses, address);
  return TRUE;
}

void
pt_ice_config_set_relay_only (PtIceConfig *self,
                              gboolean     relay_only)
{
  self->relay_only = !!relay_only;
}

void
pt_ice_config_set_turn_ca_file (PtIceConfig *self,
                                const char  *path)
{
  g_free (self->turn_ca_file);
  self->turn_ca_file = g_strdup (path);
}

const char *
pt_ice_config_get_turn_ca_file (PtIceConfig *self)
{
  return self->turn_ca_file;
}

const char * const *
pt_ice_config_get_stun_servers (PtIceConfig *self)
{
  return (const char * const *) self->stun_servers->pdata;
}

GPtrArray *
pt_ice_config_get_turn_servers (PtIceConfig *self)
{
  return self->turn_servers;
}

const char * const *
pt_ice_config_get_local_addresses (PtIceConfig *self)
{
  return (const char * const *) self->local_addresses->pdata;
}

gboolean
pt_ice_config_get_relay_only (PtIceConfig *self)
{
  return self->relay_only;
}
