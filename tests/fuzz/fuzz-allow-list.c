/* fuzz-allow-list.c — libFuzzer target for allow-list entries
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Feeds each line of the input to pt_allow_list_add() (what --allowed-tcp,
 * --allowed-udp and a profile's allowed networks go through). An entry is
 * either refused with an error or accepted; an accepted list, shown with
 * pt_allow_list_to_string() and parsed again, must show the same text and
 * answer the same for a few probe addresses and ports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define CHECK(expr) do { if (!(expr)) abort (); } while (0)

static const char * const probes[] = {
  "127.0.0.1", "10.1.2.3", "192.168.1.9", "0.0.0.0", "255.255.255.255",
  "::1", "fd00::5", "::ffff:127.0.0.1", "::", "2001:db8::1",
};
static const guint16 ports[] = { 0, 1, 22, 80, 5432, 8000, 8099, 65535 };

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = g_malloc (size + 1);
  g_auto(GStrv) lines = NULL;
  g_autoptr(PtAllowList) list = pt_allow_list_new ();
  g_autoptr(PtAllowList) again = pt_allow_list_new ();
  g_autofree char *shown = NULL;
  g_autofree char *shown_again = NULL;
  g_auto(GStrv) parts = NULL;

  if (size > 0)
    memcpy (text, data, size);
  text[size] = '\0';

  lines = g_strsplit (text, "\n", 64);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!pt_allow_list_add (list, lines[i], &error))
        CHECK (error != NULL && error->message[0] != '\0');
      else
        CHECK (error == NULL);
    }

  shown = pt_allow_list_to_string (list);
  CHECK (shown != NULL);
  if (pt_allow_list_is_empty (list))
    {
      CHECK (strcmp (shown, "nothing") == 0);
      return 0;
    }

  parts = g_strsplit (shown, ", ", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    CHECK (pt_allow_list_add (again, parts[i], NULL));
  shown_again = pt_allow_list_to_string (again);
  CHECK (strcmp (shown, shown_again) == 0);

  for (gsize i = 0; i < G_N_ELEMENTS (probes); i++)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (probes[i]);

      CHECK (address != NULL);
      CHECK (pt_allow_list_contains (list, address) == pt_allow_list_contains (again, address));
      for (gsize j = 0; j < G_N_ELEMENTS (ports); j++)
        {
          gboolean allowed = pt_allow_list_contains_port (list, address, ports[j]);

          CHECK (allowed == pt_allow_list_contains_port (again, address, ports[j]));
          CHECK (!allowed || pt_allow_list_contains (list, address));
          CHECK (!allowed || ports[j] != 0);
        }
    }
  return 0;
}
