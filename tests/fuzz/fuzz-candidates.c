/* fuzz-candidates.c — libFuzzer target: a peer's candidates into libnice's
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first byte chooses which address scopes this side "uses" (its low 4
 * bits, as _pt_ice_local_scopes() would report them). The rest is read two
 * ways: as raw candidate records laid out like the wire format but without
 * its checks (any type, transport, family, foundation bytes, port), and as a
 * whole signaling block (pt_signal_decode(), checksum resealed). Every
 * candidate goes through _pt_ice_candidate_from_peer(), the engine's only
 * path from a peer's candidate to a libnice one. Oracle: what comes out is
 * exactly the candidate that went in, in an allowed scope, never loopback or
 * link-local unless allowed, never unspecified or multicast.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "pt-ice-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

static void
check_one (const PtCandidate *c,
           guint              scopes)
{
  PtAddressScope scope;
  NiceCandidate *nc = _pt_ice_candidate_from_peer (c, 1, scopes, &scope);
  g_autofree char *where = _pt_candidate_address_to_string (c);
  struct sockaddr_storage ss = { 0 };

  CHECK (where != NULL);
  CHECK (_pt_address_scope_to_string (scope) != NULL);
  if (nc == NULL)
    return;

  CHECK (scope != PT_ADDRESS_SCOPE_UNUSABLE);
  CHECK (scopes & (1u << scope));
  CHECK (c->family == 4 || c->family == 6);
  CHECK (nice_address_get_port (&nc->addr) == c->port && c->port != 0);
  CHECK (nc->priority == c->priority);
  CHECK (strcmp (nc->foundation, c->foundation) == 0);
  CHECK (nc->component_id == 1 && nc->stream_id == 1);

  nice_address_copy_to_sockaddr (&nc->addr, (struct sockaddr *) &ss);
  if (c->family == 4)
    {
      CHECK (ss.ss_family == AF_INET);
      CHECK (memcmp (&((struct sockaddr_in *) &ss)->sin_addr, c->addr, 4) == 0);
    }
  else
    {
      CHECK (ss.ss_family == AF_INET6);
      CHECK (memcmp (&((struct sockaddr_in6 *) &ss)->sin6_addr, c->addr, 16) == 0);
    }
  CHECK (_pt_address_scope (c->family, c->addr) == scope);
  nice_candidate_free (nc);
}

/* One record: type<<4|transport (1), priority (4), foundation length (1) and
 * bytes, family (1), address (4 or 16; 16 for any family but 4), port (2). */
static gsize
read_record (const uint8_t *data,
             gsize          size,
             PtCandidate   *c)
{
  gsize at = 0, n, addr_len;

  memset (c, 0, sizeof *c);
  if (size < 6)
    return 0;
  c->type = (PtPathKind) (data[0] >> 4);
  c->transport = (PtTransport) (data[0] & 0x0f);
  c->priority = (guint32) data[1] << 24 | (guint32) data[2] << 16 | (guint32) data[3] << 8 | data[4];
  n = data[5];
  at = 6;
  if (size - at < n)
    return 0;
  /* Raw bytes, NUL and all; a full 33 bytes leaves no terminator. */
  memcpy (c->foundation, data + at, MIN (n, sizeof c->foundation));
  at += n;
  if (size - at < 1)
    return 0;
  c->family = data[at++];
  addr_len = c->family == 4 ? 4 : 16;
  if (size - at < addr_len + 2)
    return 0;
  memcpy (c->addr, data + at, addr_len);
  at += addr_len;
  c->port = (guint16) (data[at] << 8 | data[at + 1]);
  return at + 2;
}

static void
fuzz_records (const uint8_t *data,
              gsize          size,
              guint          scopes)
{
  for (guint i = 0; i < 64 && size > 0; i++)
    {
      PtCandidate c;
      gsize used = read_record (data, size, &c);

      if (used == 0)
        return;
      check_one (&c, scopes);
      data += used;
      size -= used;
    }
}

static void
fuzz_signal (const uint8_t *data,
             gsize          size,
             guint          scopes)
{
  g_autoptr(GChecksum) checksum = NULL;
  g_autofree guint8 *copy = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  for (int reseal = 0; reseal < 2; reseal++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtSignal) signal = NULL;

      if (reseal)
        {
          if (size < 4)
            return;
          copy = g_memdup2 (data, size);
          checksum = g_checksum_new (G_CHECKSUM_SHA256);
          g_checksum_update (checksum, copy, (gssize) (size - 4));
          g_checksum_get_digest (checksum, digest, &digest_len);
          memcpy (copy + size - 4, digest, 4);
          signal = pt_signal_decode (copy, size, &error);
        }
      else
        signal = pt_signal_decode (data, size, &error);
      if (signal == NULL)
        continue;
      for (guint i = 0; i < signal->candidates->len; i++)
        check_one (&g_array_index (signal->candidates, PtCandidate, i), scopes);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  guint scopes;

  if (size < 1)
    return 0;
  scopes = data[0] & 0x0f;
  fuzz_records (data + 1, size - 1, scopes);
  fuzz_signal (data + 1, size - 1, scopes);
  return 0;
}
