/* pt-cmd-server.c — pt server manual
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

typedef struct
{
  GMainLoop   *loop;
  PtIceConfig *ice_config;
  PtAllowList *allowed_tcp;
  PtAllowList *allowed_udp;
  PtVpnRouter *router;         /* VPN mode (pt vpn server --manual), or NULL */
  GPtrArray   *tunnels;        /* PtTunnel*, live sessions */
  gboolean     input_ended;
  gboolean     stopping;
} Server;

static const char server_description[] =
  "Reads offer blocks on standard input and prints an answer block on standard\n"
  "output for each; every status line goes to standard error. Each offer is a\n"
  "session of its own, so one server serves many clients, one after another or\n"
  "at once. It exits when standard input ends and no session is left, or on\n"
  "SIGINT/SIGTERM.\n"
  "\n"
  "Nothing is reachable by default: a client's requested source is resolved\n"
  "once on this machine, and allowed only if that address is inside an\n"
  "--allowed-tcp (or --allowed-udp) network; the server then connects to\n"
  "exactly that address.\n"
  "\n"
  "  --allowed-tcp 127.0.0.1/32    only this machine's local TCP services\n"
  "  --allowed-tcp 192.168.1.0/24  TCP services of the local network\n"
  "\n"
  "Exit status: 0 clean stop, 1 failure, 2 usage error.\n";

static void
server_maybe_quit (Server *server)
{
  if ((server->input_ended || server->stopping) && server->tunnels->len == 0)
    g_main_loop_quit (server->loop);
}

static gboolean
unref_later_cb (gpointer data)
{
  g_object_unref (data);
  return G_SOURCE_REMOVE;
}

static void
on_state (PtTunnel   *tunnel,
          GParamSpec *pspec,
          Server     *server)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);
  const char *session = g_object_get_data (G_OBJECT (tunnel), "pt-cli-session");
  guint index;

  if (state != PT_TUNNEL_STATE_CLOSED && state != PT_TUNNEL_STATE_FAILED)
    return;

  if (state == PT_TUNNEL_STATE_FAILED)
    pt_cli_event ("error", "message", pt_tunnel_get_error (tunnel)->message,
                  "session", session, NULL);
  pt_cli_event ("closed", "session", session,
                "#bytes_sent", pt_tunnel_get_bytes_sent (tunnel),
                "#bytes_received", pt_tunnel_get_bytes_received (tunnel),
                NULL);

  g_signal_handlers_disconnect_by_data (tunnel, server);
  /* Dropped from an idle: we are inside one of the tunnel's own signals. */
  if (g_ptr_array_find (server->tunnels, tunnel, &index))
    g_idle_add (unref_later_cb, g_ptr_array_steal_index (server->tunnels, index));
  server_maybe_quit (server);
}

static void
answer_ready_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  PtTunnel *tunnel = PT_TUNNEL (object);
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = NULL;
  g_autofree char *armored = NULL;

  answer = pt_tunnel_accept_offer_finish (tunnel, result, &error);
  if (answer != NULL)
    armored = pt_signal_armor (answer, &error);
  if (armored == NULL)
    {
      const char *session = g_object_get_data (G_OBJECT (tunnel), "pt-cli-session");

      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        pt_cli_event ("error", "message", error->message, "session", session, NULL);
      pt_tunnel_close (tunnel);
      return;
    }

  pt_cli_write_stdout (armored);
}

static void
offer_block_cb (const char *block,
                gpointer    user_data)
{
  Server *server = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = NULL;
  g_autoptr(PtTunnel) tunnel = NULL;
  g_autofree char *session = NULL;

  if (block == NULL)
    {
      g_debug ("standard input ended");
      server->input_ended = TRUE;
      server_maybe_quit (server);
      return;
    }

  offer = pt_signal_dearmor (block, PT_SIGNAL_KIND_OFFER, &error);
  if (offer == NULL ||
      !pt_signal_check_fresh (offer, g_get_real_time () / G_USEC_PER_SEC, &error))
    {
      pt_cli_error ("offer refused: %s", error->message);
      return; /* keep serving */
    }

  session = g_strdup_printf ("%02x%02x%02x%02x%02x%02x%02x%02x",
                             offer->session_id[0], offer->session_id[1], offer->session_id[2],
                             offer->session_id[3], offer->session_id[4], offer->session_id[5],
                             offer->session_id[6], offer->session_id[7]);
  for (guint i = 0; i < offer->forwards->len; i++)
    {
      g_autofree char *uri = pt_forward_spec_to_string (g_ptr_array_index (offer->forwards, i));

      pt_cli_event ("offer", "session", session, "forward", uri, NULL);
    }

  tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, server->ice_config);
  pt_tunnel_set_allow_list (tunnel, PT_PROTO_TCP, server->allowed_tcp);
  pt_tunnel_set_allow_list (tunnel, PT_PROTO_UDP, server->allowed_udp);
  if (server->router != NULL)
    {
      /* Manual pairing has no lasting identity: one address per session. */
      g_autofree char *client_id = g_strdup_printf ("session %s", session);

      pt_tunnel_set_vpn_router (tunnel, server->router, client_id);
    }
  pt_cli_follow_tunnel (tunnel, session);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (on_state), server);
  g_ptr_array_add (server->tunnels, g_object_ref (tunnel));

  pt_tunnel_accept_offer_async (tunnel, offer, NULL, answer_ready_cb, server);
}

static void
terminate (Server *server)
{
  g_autoptr(GPtrArray) tunnels = NULL;

  server->stopping = TRUE;
  pt_cli_stop_reading ();

  tunnels = g_ptr_array_copy (server->tunnels, (GCopyFunc) g_object_ref, NULL);
  g_ptr_array_set_free_func (tunnels, g_object_unref);
  for (guint i = 0; i < tunnels->len; i++)
    pt_tunnel_close (g_ptr_array_index (tunnels, i));
  server_maybe_quit (server);
}

int
pt_cli_run_manual_server (PtIceConfig *ice_config,
                          PtAllowList *tcp,
                          PtAllowList *udp,
                          PtVpnRouter *router)
{
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) tunnels = NULL;
  Server server = { 0 };

  loop = g_main_loop_new (NULL, FALSE);
  tunnels = g_ptr_array_new_with_free_func (g_object_unref);
  server.loop = loop;
  server.ice_config = ice_config;
  server.allowed_tcp = tcp;
  server.allowed_udp = udp;
  server.router = router;
  server.tunnels = tunnels;

  pt_cli_on_terminate (G_CALLBACK (terminate), &server);
  pt_cli_read_blocks (offer_block_cb, &server);
  pt_cli_info ("paste a client's offer here; its answer will be printed");
  g_main_loop_run (loop);
  /* A late SIGTERM must not reach objects torn down below. */
  pt_cli_on_terminate (NULL, NULL);

  pt_cli_stop_reading ();
  for (guint i = 0; i < tunnels->len; i++)
    {
      g_signal_handlers_disconnect_by_data (g_ptr_array_index (tunnels, i), &server);
      pt_tunnel_close (g_ptr_array_index (tunnels, i));
    }
  g_ptr_array_set_size (tunnels, 0);
  pt_cli_drain ();
  return PT_EXIT_OK;
}

int
pt_cmd_server (int    argc,
               char **argv)
{
  PtCliCommon common = { 0 };
  g_auto(GStrv) allowed_tcp = NULL;
  g_auto(GStrv) allowed_udp = NULL;
  const GOptionEntry entries[] = {
    { "allowed-tcp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_tcp,
      "Network whose TCP services clients may reach (repeatable; none by default)", "CIDR" },
    { "allowed-udp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_udp,
      "Network whose UDP services clients may reach (repeatable; none by default)", "CIDR" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtIceConfig) ice_config = NULL;
  g_autoptr(PtAllowList) tcp = NULL;
  g_autoptr(PtAllowList) udp = NULL;
  gboolean ok = TRUE;
  int status = PT_EXIT_USAGE;

  if (argc < 2 || argv[1][0] == '-')
    {
      if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
        {
          g_print ("Usage: pt server MODE [OPTIONS…]\n\nModes:\n"
                   "  manual    pair with clients by copy-paste (or pipes)\n"
                   "  nostr     serve clients that find this server through Nostr relays\n");
          return PT_EXIT_OK;
        }
      pt_cli_usage_error ("pt server: which mode? “pt server manual” (see “pt server manual --help”)");
      return PT_EXIT_USAGE;
    }
  if (g_str_equal (argv[1], "nostr"))
    return pt_cmd_server_nostr (argc - 1, argv + 1);
  if (!g_str_equal (argv[1], "manual"))
    {
      pt_cli_usage_error ("pt server: unknown mode “%s”: this version has “manual” and “nostr”", argv[1]);
      return PT_EXIT_USAGE;
    }

  context = pt_cli_context_new ("server manual", "--allowed-tcp CIDR…",
                                "serve clients paired by copy-paste",
                                server_description, entries, &common);
  argc--, argv++;
  if (!pt_cli_parse (context, "server manual", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt server manual --help”)", argv[1]);
      goto out;
    }

  tcp = pt_cli_parse_allow_list (allowed_tcp, "--allowed-tcp", &ok);
  udp = ok ? pt_cli_parse_allow_list (allowed_udp, "--allowed-udp", &ok) : NULL;
  if (!ok)
    goto out;
  if (pt_allow_list_is_empty (tcp) && pt_allow_list_is_empty (udp))
    pt_cli_info ("nothing is allowed (no --allowed-tcp or --allowed-udp): every forward "
                 "will be refused");

  ice_config = pt_cli_make_ice_config (&common);
  if (ice_config == NULL)
    goto out;

  status = pt_cli_run_manual_server (ice_config, tcp, udp, NULL);

out:
  pt_cli_common_clear (&common);
  return status;
}
