/* pt-cmd-client.c — pt client manual
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

typedef struct
{
  GMainLoop *loop;
  PtTunnel  *tunnel;
  int        status;
  gboolean   user_stopped;
  gboolean   answered;
  char     **sources;
} Client;

static const char client_description[] =
  "Prints an offer block on standard output and reads the server's answer block\n"
  "on standard input; every status line goes to standard error. Once the server\n"
  "accepts, it prints “ready ADDRESS” and carries each connection (TCP) or\n"
  "datagram (UDP) made to ADDRESS to the SOURCE on the server's side.\n"
  "\n"
  "  --source tcp://HOST:PORT | udp://HOST:PORT\n"
  "      the service as the server sees it (its allow-list decides)\n"
  "  --target [ADDR:]PORT\n"
  "      where to listen on this machine (ADDR defaults to 127.0.0.1; PORT 0\n"
  "      picks a free port). Give --source and --target in pairs to forward\n"
  "      several services through one tunnel.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 the tunnel failed or was refused,\n"
  "2 usage error.\n";

static void
client_quit (Client *client,
             int     status)
{
  client->status = status;
  pt_cli_stop_reading ();
  g_main_loop_quit (client->loop);
}

static void
on_state (PtTunnel   *tunnel,
          GParamSpec *pspec,
          Client     *client)
{
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      pt_cli_print_ready (tunnel, client->sources);
      break;

    case PT_TUNNEL_STATE_FAILED:
      pt_cli_error ("%s", pt_tunnel_get_error (tunnel)->message);
      client_quit (client, PT_EXIT_FAILURE);
      break;

    case PT_TUNNEL_STATE_CLOSED:
      pt_cli_event ("closed",
                    "#bytes_sent", pt_tunnel_get_bytes_sent (tunnel),
                    "#bytes_received", pt_tunnel_get_bytes_received (tunnel),
                    "#refused", pt_tunnel_get_refused_connections (tunnel),
                    NULL);
      if (!client->user_stopped)
        pt_cli_error ("the server closed the tunnel");
      client_quit (client, client->user_stopped ? PT_EXIT_OK : PT_EXIT_FAILURE);
      break;

    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
}

static void
answer_block_cb (const char *block,
                 gpointer    user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = NULL;

  if (client->answered)
    return;

  if (block == NULL)
    {
      pt_cli_error ("standard input ended before the server's answer arrived");
      client_quit (client, PT_EXIT_FAILURE);
      return;
    }

  answer = pt_signal_dearmor (block, PT_SIGNAL_KIND_ANSWER, &error);
  if (answer == NULL || !pt_tunnel_set_answer (client->tunnel, answer, &error))
    {
      pt_cli_error ("the answer cannot be used: %s", error->message);
      client_quit (client, PT_EXIT_FAILURE);
      return;
    }

  client->answered = TRUE;
  pt_cli_stop_reading ();
}

static void
offer_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = NULL;
  g_autofree char *armored = NULL;

  offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);
  if (offer != NULL)
    armored = pt_signal_armor (offer, &error);
  if (armored == NULL)
    {
      /* A failed tunnel has said why already (see on_state). */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
          pt_tunnel_get_state (client->tunnel) != PT_TUNNEL_STATE_FAILED)
        {
          pt_cli_error ("cannot make an offer: %s", error->message);
          client_quit (client, PT_EXIT_FAILURE);
        }
      return;
    }

  if (!pt_cli_write_stdout (armored))
    {
      client_quit (client, PT_EXIT_FAILURE);
      return;
    }
  pt_cli_info ("give the offer above to the server, then paste its answer here");
  pt_cli_read_blocks (answer_block_cb, client);
}

static void
terminate (Client *client)
{
  client->user_stopped = TRUE;
  if (pt_tunnel_get_state (client->tunnel) == PT_TUNNEL_STATE_CLOSED ||
      pt_tunnel_get_state (client->tunnel) == PT_TUNNEL_STATE_FAILED)
    client_quit (client, PT_EXIT_OK);
  else
    pt_tunnel_close (client->tunnel); /* → CLOSED → quit */
}

int
pt_cmd_client (int    argc,
               char **argv)
{
  PtCliCommon common = { 0 };
  g_auto(GStrv) sources = NULL;
  g_auto(GStrv) targets = NULL;
  const GOptionEntry entries[] = {
    { "source", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sources,
      "Service to reach, as the server sees it (repeatable)", "tcp://HOST:PORT" },
    { "target", 't', 0, G_OPTION_ARG_STRING_ARRAY, &targets,
      "Where to listen locally (repeatable, pairs with --source)", "[ADDR:]PORT" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtIceConfig) ice_config = NULL;
  g_autoptr(PtTunnel) tunnel = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Client client = { 0 };
  int status = PT_EXIT_USAGE;

  if (argc < 2 || argv[1][0] == '-')
    {
      if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
        {
          g_print ("Usage: pt client MODE [OPTIONS…]\n\nModes:\n"
                   "  manual    pair with a server by copy-paste (or pipes)\n"
                   "  nostr     find the server through Nostr relays by its public key\n");
          return PT_EXIT_OK;
        }
      pt_cli_usage_error ("pt client: which mode? “pt client manual” (see “pt client manual --help”)");
      return PT_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "nostr"))
    return pt_cmd_client_nostr (argc - 1, argv + 1);
  if (!g_str_equal (argv[1], "manual"))
    {
      pt_cli_usage_error ("pt client: unknown mode “%s”: this version has “manual” and “nostr”", argv[1]);
      return PT_EXIT_USAGE;
    }

  context = pt_cli_context_new ("client manual", "--source URI --target [ADDR:]PORT",
                                "connect to a server paired by copy-paste",
                                client_description, entries, &common);
  argc--, argv++;
  if (!pt_cli_parse (context, "client manual", entries, &common, &argc, &argv))
    goto out;

  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt client manual --help”)", argv[1]);
      goto out;
    }
  if (sources == NULL || targets == NULL)
    {
      pt_cli_usage_error ("pt client manual needs --source tcp://HOST:PORT (or udp://) and "
                          "--target [ADDR:]PORT (see “pt client manual --help”)");
      goto out;
    }
  if (g_strv_length (sources) != g_strv_length (targets))
    {
      pt_cli_usage_error ("give --source and --target in pairs (%u sources, %u targets)",
                          g_strv_length (sources), g_strv_length (targets));
      goto out;
    }

  ice_config = pt_cli_make_ice_config (&common);
  if (ice_config == NULL)
    goto out;

  tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, ice_config);
  status = pt_cli_add_forwards (tunnel, sources, targets);
  if (status != PT_EXIT_OK)
    goto out;

  loop = g_main_loop_new (NULL, FALSE);
  client.loop = loop;
  client.tunnel = tunnel;
  client.sources = sources;
  client.status = PT_EXIT_FAILURE;

  pt_cli_follow_tunnel (tunnel, NULL);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (on_state), &client);
  pt_cli_on_terminate (G_CALLBACK (terminate), &client);

  pt_tunnel_create_offer_async (tunnel, NULL, offer_ready_cb, &client);
  g_main_loop_run (loop);
  /* A late SIGTERM must not reach objects torn down below. */
  pt_cli_on_terminate (NULL, NULL);

  g_signal_handlers_disconnect_by_data (tunnel, &client);
  pt_tunnel_close (tunnel);
  g_clear_object (&tunnel);
  pt_cli_drain ();
  status = client.status;

out:
  pt_cli_common_clear (&common);
  return status;
}
