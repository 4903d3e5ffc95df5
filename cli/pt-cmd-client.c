/* pt-cmd-client.c — pt client manual
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Options → a connecting manual PtProfile → PtService; what is left here is
 * the copy-paste on standard input and output, and the printing.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

typedef struct
{
  GMainLoop *loop;
  PtService *service;
  int        status;
  gboolean   user_stopped;
  gboolean   offered;
  gboolean   announced;
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
tunnel_state (PtTunnel   *tunnel,
              GParamSpec *pspec,
              Client     *client)
{
  if (!client->announced && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP)
    {
      client->announced = TRUE;
      pt_cli_print_ready (tunnel, client->sources);
    }
}

/* The one tunnel of this run: its events are printed as it goes. */
static void
service_tunnel (PtService  *service,
                GParamSpec *pspec,
                Client     *client)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  if (tunnel == NULL || g_object_get_data (G_OBJECT (tunnel), "pt-cli-label") != NULL)
    return;
  pt_cli_follow_tunnel (tunnel, NULL);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (tunnel_state), client);
}

/* Stopped: by a signal (status 0), or because the tunnel ended. */
static void
service_running (PtService  *service,
                 GParamSpec *pspec,
                 Client     *client)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  if (pt_service_get_running (service))
    return;
  if (client->user_stopped)
    {
      client_quit (client, PT_EXIT_OK);
      return;
    }
  if (tunnel != NULL && pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED)
    pt_cli_error ("%s", pt_tunnel_get_error (tunnel)->message);
  else
    pt_cli_error ("the server closed the tunnel");
  client_quit (client, PT_EXIT_FAILURE);
}

static void
answer_block_cb (const char *block,
                 gpointer    user_data)
{
  Client *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;

  if (pt_service_get_paired (client->service))
    return;

  if (block == NULL)
    {
      pt_cli_error ("standard input ended before the server's answer arrived");
      client_quit (client, PT_EXIT_FAILURE);
      return;
    }

  payload = g_bytes_new (block, strlen (block));
  if (!pt_service_give_remote (client->service, payload, &error))
    {
      pt_cli_error ("the answer cannot be used: %s", error->message);
      client_quit (client, PT_EXIT_FAILURE);
      return;
    }
  pt_cli_stop_reading ();
}

/* Our offer is ready: print it, then read the answer. */
static void
service_local_text (PtService  *service,
                    GParamSpec *pspec,
                    Client     *client)
{
  const char *armored = pt_service_get_local_text (service);

  if (armored == NULL || client->offered)
    return;
  client->offered = TRUE;
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
  if (pt_service_get_running (client->service))
    pt_service_stop (client->service);   /* → not running → quit */
  else
    client_quit (client, PT_EXIT_OK);
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
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtService) service = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
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

  status = pt_cli_check_sources (sources);
  if (status != PT_EXIT_OK)
    goto out;
  status = PT_EXIT_USAGE;
  if (!pt_cli_profile_set_ice (profile, &common))
    goto out;
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_CLIENT);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_MANUAL);
  pt_profile_set_forwards (profile, (const char * const *) sources, (const char * const *) targets);

  service = pt_service_new (profile);
  loop = g_main_loop_new (NULL, FALSE);
  client.loop = loop;
  client.service = service;
  client.sources = sources;
  client.status = PT_EXIT_FAILURE;

  g_signal_connect (service, "notify::tunnel", G_CALLBACK (service_tunnel), &client);
  g_signal_connect (service, "notify::local-text", G_CALLBACK (service_local_text), &client);
  g_signal_connect (service, "notify::running", G_CALLBACK (service_running), &client);
  if (!pt_service_start (service, &error))
    {
      g_signal_handlers_disconnect_by_data (service, &client);
      status = pt_cli_report_forward_error (error);
      goto out;
    }
  pt_cli_on_terminate (G_CALLBACK (terminate), &client);
  if (pt_service_get_running (service))
    g_main_loop_run (loop);
  /* A late SIGTERM must not reach objects torn down below. */
  pt_cli_on_terminate (NULL, NULL);
  pt_cli_stop_reading ();

  g_signal_handlers_disconnect_by_data (service, &client);
  if (pt_service_get_tunnel (service) != NULL)
    g_signal_handlers_disconnect_by_data (pt_service_get_tunnel (service), &client);
  pt_service_stop (service);
  g_clear_object (&service);
  pt_cli_drain ();
  status = client.status;

out:
  pt_cli_common_clear (&common);
  return status;
}
