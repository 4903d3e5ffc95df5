/* fuzz-rendezvous.c — libFuzzer target for decrypted Nostr rendezvous messages
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The input is what NIP-44 decryption hands to _pt_rendezvous_message_parse()
 * (a peer controls it fully once it has our public key). Whatever parses
 * must encode again, and that encoding must parse to the same message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"
#include "pt-rendezvous-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Not g_assert(): G_DISABLE_ASSERT must not turn the oracle off. */
#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtRendezvousMessage) msg = NULL;
  g_autoptr(PtRendezvousMessage) again = NULL;
  g_autoptr(PtSecretString) json = NULL;
  g_autoptr(PtSecretString) json_again = NULL;

  msg = _pt_rendezvous_message_parse ((const char *) data, size, &error);
  if (msg == NULL)
    {
      /* Refusals say why, in text a log can carry. */
      CHECK (error != NULL && g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  CHECK (error == NULL);
  CHECK ((msg->signal != NULL) == (msg->type != PT_RENDEZVOUS_REFUSED));

  json = _pt_rendezvous_message_encode (msg, &error);
  CHECK (json != NULL && error == NULL);
  again = _pt_rendezvous_message_parse (json, strlen (json), &error);
  CHECK (again != NULL && error == NULL);
  CHECK (again->type == msg->type);
  CHECK (memcmp (again->session_id, msg->session_id, sizeof msg->session_id) == 0);
  CHECK (g_strcmp0 (again->token, msg->token) == 0);
  CHECK (g_strcmp0 (again->reason, msg->reason) == 0);
  json_again = _pt_rendezvous_message_encode (again, &error);
  CHECK (json_again != NULL && g_str_equal (json, json_again));
  return 0;
}
