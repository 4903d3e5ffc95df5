/* pt-ice-candidate.c — which of a peer's candidates this side may check
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A peer's offer or answer names the addresses our agent will send STUN
 * checks (and knocks) to. A hostile peer can name this machine's loopback
 * services, a link-local neighbour, or a multicast group; none of those is
 * where a remote peer lives, unless this side was itself told to use such
 * addresses (tests and same-machine runs use --local-address 127.0.0.1).
 * The rule: a candidate in the loopback or link-local scope is used only if
 * one of our own candidates is in that scope too; unspecified, multicast,
 * broadcast and reserved addresses are never used.
 */
#define G_LOG_DOMAIN "pt-ice"

#include "config.h"

#include <string.h>

#include <gio/gio.h>

#include "pt-ice-private.h"

PtAddressScope
_pt_address_scope (guint8        family,
                   const guint8 *addr)
{
  static const guint8 v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  static const guint8 zero[16] = { 0 };

  if (family == 6 && memcmp (addr, v4_mapped, sizeof v4_mapped) == 0)
    return _pt_address_scope (4, addr + 12);

  if (family == 4)
    {
      if (addr[0] == 0)                       /* 0.0.0.0/8: "this network" */
        return PT_ADDRESS_SCOPE_UNUSABLE;
      if (addr[0] == 127)
        return PT_ADDRESS_SCOPE_LOOPBACK;
      if (addr[0] == 169 && addr[1] == 254)
        return PT_ADDRESS_SCOPE_LINK_LOCAL;
      if (addr[0] >= 224)                     /* multicast, reserved, broadcast */
        return PT_ADDRESS_SCOPE_UNUSABLE;
      return PT_ADDRESS_SCOPE_GLOBAL;
    }

  if (family == 6)
    {
      if (memcmp (addr, zero, 16) == 0)
        return PT_ADDRESS_SCOPE_UNUSABLE;
      if (memcmp (addr, zero, 15) == 0 && addr[15] == 1)
        return PT_ADDRESS_SCOPE_LOOPBACK;
      if (addr[0] == 0xff)
        return PT_ADDRESS_SCOPE_UNUSABLE;
      if (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80)
        return PT_ADDRESS_SCOPE_LINK_LOCAL;
      return PT_ADDRESS_SCOPE_GLOBAL;
    }

  return PT_ADDRESS_SCOPE_UNUSABLE;
}

const char *
_pt_address_scope_to_string (PtAddressScope scope)
{
  switch (scope)
    {
    case PT_ADDRESS_SCOPE_GLOBAL:     return "global";
    case PT_ADDRESS_SCOPE_LOOPBACK:   return "loopback";
    case PT_ADDRESS_SCOPE_LINK_LOCAL: return "link-local";
    case PT_ADDRESS_SCOPE_UNUSABLE:   return "unusable";
    }
  return "invalid";
}

static PtAddressScope
nice_address_scope (const NiceAddress *address)
{
  struct sockaddr_storage ss = { 0 };

  nice_address_copy_to_sockaddr (address, (struct sockaddr *) &ss);
  if (ss.ss_family == AF_INET)
    return _pt_address_scope (4, (const guint8 *) &((struct sockaddr_in *) &ss)->sin_addr);
  if (ss.ss_family == AF_INET6)
    return _pt_address_scope (6, (const guint8 *) &((struct sockaddr_in6 *) &ss)->sin6_addr);
  return PT_ADDRESS_SCOPE_UNUSABLE;
}

guint
_pt_ice_local_scopes (const GSList *local_candidates)
{
  guint scopes = 1u << PT_ADDRESS_SCOPE_GLOBAL;

  for (const GSList *l = local_candidates; l != NULL; l = l->next)
    {
      const NiceCandidate *nc = l->data;
      PtAddressScope a = nice_address_scope (&nc->addr);
      PtAddressScope b = nice_address_scope (&nc->base_addr);

      if (a != PT_ADDRESS_SCOPE_UNUSABLE)
        scopes |= 1u << a;
      if (b != PT_ADDRESS_SCOPE_UNUSABLE)
        scopes |= 1u << b;
    }
  return scopes;
}

static NiceCandidateType
type_to_nice (PtPathKind kind)
{
  switch (kind)
    {
    case PT_PATH_KIND_HOST:  return NICE_CANDIDATE_TYPE_HOST;
    case PT_PATH_KIND_SRFLX: return NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE;
    case PT_PATH_KIND_PRFLX: return NICE_CANDIDATE_TYPE_PEER_REFLEXIVE;
    case PT_PATH_KIND_RELAY: return NICE_CANDIDATE_TYPE_RELAYED;
    case PT_PATH_KIND_NONE:  break;
    }
  return NICE_CANDIDATE_TYPE_HOST;
}

static NiceCandidateTransport
transport_to_nice (PtTransport transport)
{
  switch (transport)
    {
    case PT_TRANSPORT_UDP:         return NICE_CANDIDATE_TRANSPORT_UDP;
    case PT_TRANSPORT_TCP_ACTIVE:  return NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE;
    case PT_TRANSPORT_TCP_PASSIVE: return NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE;
    case PT_TRANSPORT_TCP_SO:      return NICE_CANDIDATE_TRANSPORT_TCP_SO;
    }
  return NICE_CANDIDATE_TRANSPORT_UDP;
}

NiceCandidate *
_pt_ice_candidate_from_peer (const PtCandidate  *c,
                             guint               stream_id,
                             guint               allowed_scopes,
                             PtAddressScope     *scope_out)
{
  struct sockaddr_storage ss = { 0 };
  PtAddressScope scope;
  NiceCandidate *nc;

  scope = (c->family == 4 || c->family == 6) ? _pt_address_scope (c->family, c->addr)
                                             : PT_ADDRESS_SCOPE_UNUSABLE;
  if (scope_out != NULL)
    *scope_out = scope;
  if (scope == PT_ADDRESS_SCOPE_UNUSABLE || !(allowed_scopes & (1u << scope)) ||
      c->port == 0 || (guint) c->type > PT_PATH_KIND_RELAY || c->type == PT_PATH_KIND_NONE ||
      (guint) c->transport > PT_TRANSPORT_TCP_SO ||
      strnlen (c->foundation, sizeof c->foundation) == 0 ||
      strnlen (c->foundation, sizeof c->foundation) == sizeof c->foundation)
    return NULL;

  if (c->family == 4)
    {
      struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

      sin->sin_family = AF_INET;
      memcpy (&sin->sin_addr, c->addr, 4);
    }
  else
    {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

      sin6->sin6_family = AF_INET6;
      memcpy (&sin6->sin6_addr, c->addr, 16);
    }

  nc = nice_candidate_new (type_to_nice (c->type));
  nice_address_set_from_sockaddr (&nc->addr, (struct sockaddr *) &ss);
  nice_address_set_port (&nc->addr, c->port);
  nc->transport = transport_to_nice (c->transport);
  nc->priority = c->priority;
  nc->stream_id = stream_id;
  nc->component_id = 1;
  g_strlcpy (nc->foundation, c->foundation, sizeof nc->foundation);
  return nc;
}

char *
_pt_candidate_address_to_string (const PtCandidate *c)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autofree char *text = NULL;

  if (c->family != 4 && c->family != 6)
    return g_strdup ("?");
  inet = g_inet_address_new_from_bytes (c->addr, c->family == 4 ? G_SOCKET_FAMILY_IPV4
                                                                : G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (inet);
  return c->family == 4 ? g_strdup_printf ("%s:%u", text, c->port)
                        : g_strdup_printf ("[%s]:%u", text, c->port);
}
