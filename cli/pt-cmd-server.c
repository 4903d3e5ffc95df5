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
  PtServerPolicy *policy;      /* what clients may reach */
  PtVpnRouter *router;         /* VPN mode (pt vpn server --manual), or NULL */
  GPtrArray   *tunnels;        /* PtTunnel*, live sessions */
  gboolean     input_ended;
  gboolean     stopping;
  guint        served;         /* sessions that came up with something granted */
  PtCliManualLimits limits;
  PtOfferRecord *answered;     /* offers answered, so that none is answered twice */
  guint64      refused;        /* offers refused: repeats and limits */
} Server;

/* What one session did, for the exit status. */
typedef struct
{
  guint    forwards;           /* asked for in the offer */
  guint    rejected;
  gboolean was_up;             /* FALSE: pending (answered, client not connected) */
  GSource *pending_timeout;
  int      timeout_s;
} SessionRecord;

static void
session_record_free (SessionRecord *record)
{
  if (record->pending_timeout != NULL)
    g_source_destroy (record->pending_timeout);
  g_free (record);
}

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

static guint
count_pending (Server *server)
{
  guint n = 0;

  for (guint i = 0; i < server->tunnels->len; i++)
    {
      SessionRecord *record = g_object_get_data (g_ptr_array_index (server->tunnels, i),
                                                 "pt-cli-record");

      if (!record->was_up)
        n++;
    }
  return n;
}

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

  SessionRecord *record = g_object_get_data (G_OBJECT (tunnel), "pt-cli-record");

  if (state == PT_TUNNEL_STATE_UP && !record->was_up)
    {
      record->was_up = TRUE;
      g_clear_pointer (&record->pending_timeout, g_source_destroy);
    }
  if (state != PT_TUNNEL_STATE_CLOSED && state != PT_TUNNEL_STATE_FAILED)
    return;

  /* A VPN offer has no forwards: coming up is being served. */
  if (record->was_up && (record->forwards == 0 || record->rejected < record->forwards))
    server->served++;

  if (state == PT_TUNNEL_STATE_FAILED)
    pt_cli_event ("error", "message", pt_tunnel_get_error (tunnel)->message,
                  "session", session, NULL);
  pt_cli_event ("closed", "session", session,
                "#bytes_sent", pt_tunnel_get_bytes_sent (tunnel),
                "#bytes_received", pt_tunnel_get_bytes_received (tunnel),
                "#refused", pt_tunnel_get_refused_connections (tunnel),
                NULL);

  g_signal_handlers_disconnect_by_data (tunnel, server);
  /* Dropped from an idle: we are inside one of the tunnel's own signals. */
  if (g_ptr_array_find (server->tunnels, tunnel, &index))
    g_idle_add (unref_later_cb, g_ptr_array_steal_index (server->tunnels, index));
  server_maybe_quit (server);
}

static void
on_rejected (PtTunnel   *tunnel,
             const char *forward,
             const char *reason,
             Server     *server)
{
  SessionRecord *record = g_object_get_data (G_OBJECT (tunnel), "pt-cli-record");

  record->rejected++;
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
  if (pt_cli_is_json ())
    {
      Server *server = user_data;
      const char *session = g_object_get_data (G_OBJECT (tunnel), "pt-cli-session");

      pt_cli_event ("answered", "session", session,
                    "#pending", (guint64) count_pending (server),
                    "#max_pending", (guint64) server->limits.max_pending,
                    "#sessions", (guint64) server->tunnels->len,
                    "#max_sessions", (guint64) server->limits.max_sessions,
                    NULL);
    }
}

static gboolean
pending_timeout_cb (gpointer data)
{
  PtTunnel *tunnel = data;
  SessionRecord *record = g_object_get_data (G_OBJECT (tunnel), "pt-cli-record");
  const char *session = g_object_get_data (G_OBJECT (tunnel), "pt-cli-session");
  g_autofree char *message = NULL;

  record->pending_timeout = NULL;
  message = g_strdup_printf ("the client did not connect within %d s of its answer: session "
                             "dropped (--pending-timeout); the client can make a new offer",
                             record->timeout_s);
  pt_cli_event ("error", "message", message, "reason", "pending-timeout", "session", session, NULL);
  pt_tunnel_close (tunnel);
  return G_SOURCE_REMOVE;
}

/* Refuses (saying why, and going on serving) an offer over a limit or one
 * answered before; otherwise remembers it as answered. */
static gboolean
admit_offer (Server         *server,
             const PtSignal *offer,
             const char     *session)
{
  const PtCliManualLimits *limits = &server->limits;
  guint pending = count_pending (server);
  g_autofree char *message = NULL;
  const char *reason = NULL;

  if (limits->max_sessions > 0 && server->tunnels->len >= (guint) limits->max_sessions)
    {
      reason = "max-sessions";
      message = g_strdup_printf ("offer refused: %u sessions already (--max-sessions %d); "
                                 "ask the client to try again once one has ended",
                                 server->tunnels->len, limits->max_sessions);
    }
  else if (limits->max_pending > 0 && pending >= (guint) limits->max_pending)
    {
      reason = "max-pending";
      message = g_strdup_printf ("offer refused: %u answered sessions are still waiting for "
                                 "their client to connect (--max-pending %d); ask the client "
                                 "to try again in a minute",
                                 pending, limits->max_pending);
    }
  else
    switch (pt_offer_record_check (server->answered, offer))
      {
      case PT_OFFER_RECORD_NEW:
        return TRUE;
      case PT_OFFER_RECORD_REPEATED:
        reason = "replayed";
        message = g_strdup ("offer refused: this offer was already answered; ask the client "
                            "for a new one");
        break;
      case PT_OFFER_RECORD_TOO_OLD:
        reason = "too-old";
        message = g_strdup ("offer refused: this server has answered too many offers since "
                            "this one was made to tell whether it answered it already; ask "
                            "the client for a new one");
        break;
      }

  server->refused++;
  pt_cli_event ("error", "message", message, "reason", reason, "session", session,
                "#pending", (guint64) pending,
                "#max_pending", (guint64) limits->max_pending,
                "#sessions", (guint64) server->tunnels->len,
                "#max_sessions", (guint64) limits->max_sessions,
                "#offers_refused", server->refused,
                NULL);
  return FALSE;
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
  SessionRecord *record;

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
  if (!admit_offer (server, offer, session))
    return; /* keep serving */
  for (guint i = 0; i < offer->forwards->len; i++)
    {
      g_autofree char *uri = pt_forward_spec_to_string (g_ptr_array_index (offer->forwards, i));

      pt_cli_event ("offer", "session", session, "forward", uri, NULL);
    }

  tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_SERVER, server->ice_config);
  pt_tunnel_set_policy (tunnel, server->policy);
  if (server->router != NULL)
    {
      /* Manual pairing has no lasting identity: one address per session. */
      g_autofree char *client_id = g_strdup_printf ("session %s", session);

      pt_tunnel_set_vpn_router (tunnel, server->router, client_id);
    }
  record = g_new0 (SessionRecord, 1);
  record->forwards = offer->forwards->len;
  if (server->limits.pending_timeout > 0)
    {
      /* Sooner than the answer's own 15 minutes: a pending session holds
       * sockets and sends checks to whatever the offer named. */
      record->timeout_s = server->limits.pending_timeout;
      record->pending_timeout = g_timeout_source_new_seconds ((guint) record->timeout_s);
      g_source_set_callback (record->pending_timeout, pending_timeout_cb, tunnel, NULL);
      g_source_set_static_name (record->pending_timeout, "[pt] manual server pending deadline");
      g_source_attach (record->pending_timeout, NULL);
      g_source_unref (record->pending_timeout);
    }
  g_object_set_data_full (G_OBJECT (tunnel), "pt-cli-record", record,
                          (GDestroyNotify) session_record_free);
  pt_cli_follow_tunnel (tunnel, session);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (on_state), server);
  g_signal_connect (tunnel, "forward-rejected", G_CALLBACK (on_rejected), server);
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
pt_cli_run_manual_server (PtIceConfig             *ice_config,
                          PtServerPolicy          *policy,
                          PtVpnRouter             *router,
                          const PtCliManualLimits *limits)
{
  static const PtCliManualLimits defaults = {
    .max_sessions = PT_CLI_MANUAL_DEFAULT_MAX_SESSIONS,
    .max_pending = PT_CLI_MANUAL_DEFAULT_MAX_PENDING,
    .pending_timeout = PT_CLI_MANUAL_DEFAULT_PENDING_TIMEOUT,
  };
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) tunnels = NULL;
  g_autoptr(PtOfferRecord) answered = NULL;
  Server server = { 0 };

  loop = g_main_loop_new (NULL, FALSE);
  tunnels = g_ptr_array_new_with_free_func (g_object_unref);
  server.loop = loop;
  server.ice_config = ice_config;
  server.policy = policy;
  server.router = router;
  server.tunnels = tunnels;
  server.limits = limits != NULL ? *limits : defaults;
  answered = pt_offer_record_new (PT_OFFER_RECORD_DEFAULT_CAPACITY);
  server.answered = answered;

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
  PtCliManualLimits limits = {
    .max_sessions = PT_CLI_MANUAL_DEFAULT_MAX_SESSIONS,
    .max_pending = PT_CLI_MANUAL_DEFAULT_MAX_PENDING,
    .pending_timeout = PT_CLI_MANUAL_DEFAULT_PENDING_TIMEOUT,
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

  status = pt_cli_run_manual_server (ice_config, policy, NULL, &limits);

out:
  pt_cli_common_clear (&common);
  return status;
}
