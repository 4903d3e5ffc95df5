/* pt-cmd-server.c — pt server manual
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The copy-paste transport of the engine's PtManualServer: offers from
 * standard input, answers to standard output, events to standard error.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

typedef struct
{
  GMainLoop      *loop;
  PtManualServer *server;
  gboolean        input_ended;
  gboolean        stopping;
  guint           served;      /* sessions that came up with something granted */
  guint64         refused;     /* offers refused: repeats and limits */
} Server;

/* What one session did, for the exit status. */
typedef struct
{
  guint    forwards;           /* asked for in the offer */
  guint    rejected;
  gboolean was_up;
} SessionRecord;

static const char server_description[] =
  "Reads offer blocks on standard input and prints an answer block on standard\n"
  "output for each; every status line goes to standard error. Each offer is a\n"
  "session of its own, so one server serves many clients, one after another or\n"
  "at once. It exits when standard input ends and no session is left, or on\n"
  "SIGINT/SIGTERM.\n"
  "\n"
  "Nothing is reachable by default: a client's requested source is resolved\n"
  "once on this machine, and allowed only if that address and the port are in\n"
  "an --allowed-tcp (or --allowed-udp) entry, ADDR[/PREFIX][:PORT[-PORT]]; the\n"
  "server then connects to exactly that address. Give the port: an entry\n"
  "without one allows every port of its network.\n"
  "\n"
  "  --allowed-tcp 127.0.0.1:22            this machine's SSH server only\n"
  "  --allowed-tcp 192.168.1.0/24:5432     PostgreSQL on the local network\n"
  "  --allowed-tcp 10.0.0.5:8000-8099      a range of ports of one host\n"
  "  --allowed-tcp '[::1]:22'              IPv6: the address in brackets\n"
  "\n"
  "Each offer is answered once: the same offer pasted again is refused. A\n"
  "client has --pending-timeout seconds (default 120) to connect after its\n"
  "answer; at most --max-pending answered sessions (default 8) wait for their\n"
  "client at once, and at most --max-sessions (default 64) run at once: an\n"
  "offer over a limit is refused with a line saying so. An offer's network\n"
  "candidates on loopback or link-local addresses are ignored unless this\n"
  "server uses such addresses itself (--local-address 127.0.0.1).\n"
  "\n"
  "Exit status: 0 clean stop, 1 failure (also when standard input ended and no\n"
  "session ever came up with a forward granted), 2 usage error.\n";

static void
server_maybe_quit (Server *server)
{
  if ((server->input_ended || server->stopping) &&
      pt_manual_server_get_n_sessions (server->server) == 0)
    g_main_loop_quit (server->loop);
}

static void
on_tunnel_state (PtTunnel      *tunnel,
                 GParamSpec    *pspec,
                 SessionRecord *record)
{
  if (pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_UP)
    record->was_up = TRUE;
}

static void
on_rejected (PtTunnel      *tunnel,
             const char    *forward,
             const char    *reason,
             SessionRecord *record)
{
  record->rejected++;
}

static void
on_session_started (PtManualServer *manual,
                    PtTunnel       *tunnel,
                    const char     *session,
                    const PtSignal *offer,
                    Server         *server)
{
  SessionRecord *record = g_new0 (SessionRecord, 1);

  for (guint i = 0; i < offer->forwards->len; i++)
    {
      g_autofree char *uri = pt_forward_spec_to_string (g_ptr_array_index (offer->forwards, i));

      pt_cli_event ("offer", "session", session, "forward", uri, NULL);
    }
  record->forwards = offer->forwards->len;
  g_object_set_data_full (G_OBJECT (tunnel), "pt-cli-record", record, g_free);
  pt_cli_follow_tunnel (tunnel, session);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (on_tunnel_state), record);
  g_signal_connect (tunnel, "forward-rejected", G_CALLBACK (on_rejected), record);
}

static void
on_answered (PtManualServer *manual,
             const char     *session,
             const PtSignal *answer,
             Server         *server)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *armored = pt_signal_armor (answer, &error);

  if (armored == NULL)
    {
      pt_cli_event ("error", "message", error->message, "session", session, NULL);
      return;
    }
  pt_cli_write_stdout (armored);
  pt_cli_event ("answered", "session", session,
                "#pending", (guint64) pt_manual_server_get_n_pending (manual),
                "#max_pending", (guint64) pt_manual_server_get_max_pending (manual),
                "#sessions", (guint64) pt_manual_server_get_n_sessions (manual),
                "#max_sessions", (guint64) pt_manual_server_get_max_sessions (manual),
                NULL);
}

static void
on_session_dropped (PtManualServer *manual,
                    const char     *session,
                    const char     *reason,
                    const char     *message,
                    Server         *server)
{
  pt_cli_event ("error", "message", message, "reason", reason, "session", session, NULL);
}

static void
on_session_ended (PtManualServer *manual,
                  PtTunnel       *tunnel,
                  const char     *session,
                  Server         *server)
{
  SessionRecord *record = g_object_get_data (G_OBJECT (tunnel), "pt-cli-record");

  /* A VPN offer has no forwards: coming up is being served. */
  if (record->was_up && (record->forwards == 0 || record->rejected < record->forwards))
    server->served++;

  if (pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED)
    pt_cli_event ("error", "message", pt_tunnel_get_error (tunnel)->message,
                  "session", session, NULL);
  pt_cli_event ("closed", "session", session,
                "#bytes_sent", pt_tunnel_get_bytes_sent (tunnel),
                "#bytes_received", pt_tunnel_get_bytes_received (tunnel),
                "#refused", pt_tunnel_get_refused_connections (tunnel),
                NULL);
  g_signal_handlers_disconnect_by_data (tunnel, record);
  server_maybe_quit (server);
}

static void
offer_block_cb (const char *block,
                gpointer    user_data)
{
  Server *server = user_data;
  PtManualServer *manual = server->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = NULL;
  g_autofree char *session = NULL;

  if (block == NULL)
    {
      g_debug ("standard input ended");
      server->input_ended = TRUE;
      server_maybe_quit (server);
      return;
    }

  offer = pt_signal_dearmor (block, PT_SIGNAL_KIND_OFFER, &error);
  if (offer == NULL)
    {
      pt_cli_error ("offer refused: %s", error->message);
      return; /* keep serving */
    }
  if (pt_manual_server_give_offer (manual, offer, &error))
    return;

  if (g_error_matches (error, PT_ADMISSION_ERROR, PT_ADMISSION_ERROR_STALE))
    {
      pt_cli_error ("offer refused: %s", error->message);
      return;
    }
  session = pt_signal_session_to_hex (offer->session_id);
  {
    g_autofree char *message = g_strdup_printf ("offer refused: %s", error->message);

    server->refused++;
    pt_cli_event ("error", "message", message,
                  "reason", pt_admission_error_to_reason (error), "session", session,
                  "#pending", (guint64) pt_manual_server_get_n_pending (manual),
                  "#max_pending", (guint64) pt_manual_server_get_max_pending (manual),
                  "#sessions", (guint64) pt_manual_server_get_n_sessions (manual),
                  "#max_sessions", (guint64) pt_manual_server_get_max_sessions (manual),
                  "#offers_refused", server->refused,
                  NULL);
  }
}

static void
terminate (Server *server)
{
  server->stopping = TRUE;
  pt_cli_stop_reading ();
  pt_manual_server_stop (server->server);
  server_maybe_quit (server);
}

int
pt_cli_run_manual_server (PtManualServer *manual)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Server server = { 0 };

  server.loop = loop;
  server.server = manual;
  g_signal_connect (manual, "session-started", G_CALLBACK (on_session_started), &server);
  g_signal_connect (manual, "answered", G_CALLBACK (on_answered), &server);
  g_signal_connect (manual, "session-dropped", G_CALLBACK (on_session_dropped), &server);
  g_signal_connect (manual, "session-ended", G_CALLBACK (on_session_ended), &server);

  pt_cli_on_terminate (G_CALLBACK (terminate), &server);
  pt_cli_read_blocks (offer_block_cb, &server);
  pt_cli_info ("paste a client's offer here; its answer will be printed");
  g_main_loop_run (loop);
  /* A late SIGTERM must not reach objects torn down below. */
  pt_cli_on_terminate (NULL, NULL);

  pt_cli_stop_reading ();
  g_signal_handlers_disconnect_by_data (manual, &server);
  pt_manual_server_stop (manual);
  pt_cli_drain ();

  /* A script that pipes one offer in learns whether it led anywhere; a
   * service manager restarts a server whose input failed (Restart=on-failure). */
  if (server.input_ended && !server.stopping && server.served == 0)
    {
      pt_cli_error ("standard input ended and no session came up with a forward granted");
      return PT_EXIT_FAILURE;
    }
  return PT_EXIT_OK;
}

int
pt_cmd_server (int    argc,
               char **argv)
{
  PtCliCommon common = { 0 };
  g_auto(GStrv) allowed_tcp = NULL;
  g_auto(GStrv) allowed_udp = NULL;
  struct { int max_sessions, max_pending, pending_timeout; } limits = {
    .max_sessions = PT_MANUAL_DEFAULT_MAX_SESSIONS,
    .max_pending = PT_MANUAL_DEFAULT_MAX_PENDING,
    .pending_timeout = PT_MANUAL_DEFAULT_PENDING_TIMEOUT,
  };
  const GOptionEntry entries[] = {
    { "allowed-tcp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_tcp,
      "TCP services clients may reach: an address or network and a port or range, e.g. 127.0.0.1:22 (repeatable; none by default)", "ADDR[/N][:PORT]" },
    { "allowed-udp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_udp,
      "UDP services clients may reach, e.g. 192.168.1.1:53 (repeatable; none by default)", "ADDR[/N][:PORT]" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &limits.max_sessions,
      "Serve at most N sessions at once (default: 64; 0: no limit)", "N" },
    { "max-pending", 0, 0, G_OPTION_ARG_INT, &limits.max_pending,
      "At most N answered sessions waiting for their client at once (default: 8; 0: no limit)", "N" },
    { "pending-timeout", 0, 0, G_OPTION_ARG_INT, &limits.pending_timeout,
      "Drop a session whose client has not connected S seconds after its answer (default: 120)", "S" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtIceConfig) ice_config = NULL;
  g_autoptr(PtServerPolicy) policy = NULL;
  g_autoptr(PtManualServer) manual = NULL;
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

  context = pt_cli_context_new ("server manual", "--allowed-tcp ADDR[/N][:PORT]…",
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

  if (limits.max_sessions < 0 || limits.max_pending < 0)
    {
      pt_cli_usage_error ("--%s %d: give a number of sessions, or 0 for no limit",
                          limits.max_sessions < 0 ? "max-sessions" : "max-pending",
                          limits.max_sessions < 0 ? limits.max_sessions : limits.max_pending);
      goto out;
    }
  if (limits.pending_timeout < 1 || limits.pending_timeout > PT_SIGNAL_FRESH_SECONDS)
    {
      pt_cli_usage_error ("--pending-timeout %d: give a number of seconds from 1 to %d "
                          "(how long an answer stays valid)",
                          limits.pending_timeout, PT_SIGNAL_FRESH_SECONDS);
      goto out;
    }

  policy = pt_cli_parse_policy (allowed_tcp, allowed_udp);
  if (policy == NULL)
    goto out;

  ice_config = pt_cli_make_ice_config (&common);
  if (ice_config == NULL)
    goto out;

  manual = pt_manual_server_new (ice_config);
  pt_manual_server_set_policy (manual, policy);
  pt_manual_server_set_limits (manual, (guint) limits.max_sessions, (guint) limits.max_pending,
                               (guint) limits.pending_timeout);
  status = pt_cli_run_manual_server (manual);

out:
  pt_cli_common_clear (&common);
  return status;
}
