/* pt-cmd-nostr.c — pt server nostr, pt client nostr, pt tcp|udp|bind --id NAME
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

#define NAME_FILE_MAX_SIZE 4096

/* ---------------------------------------------------------------------- */
/* Secrets from files or the environment */

/* --nsec-file, else $PT_NSEC, else NULL (no key given). */
gboolean
pt_cli_load_secret_key (const char   *nsec_file,
                        PtSecretKey **key)
{
  g_autoptr(GError) error = NULL;
  const char *env = pt_cli_get_secret_environment ("PT_NSEC");

  *key = NULL;
  if (nsec_file != NULL)
    *key = pt_secret_key_load (nsec_file, &error);
  else if (env != NULL && *env != '\0')
    {
      *key = pt_secret_key_parse (env, &error);
      if (*key == NULL)
        g_prefix_error (&error, "PT_NSEC: ");
    }
  else
    return TRUE;

  if (*key == NULL)
    {
      pt_cli_error ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* The rendezvous name: --id (warned about), --id-file, or $PT_ID. */
static PtSecretString *
load_name (const char *id,
           const char *id_file)
{
  g_autoptr(GError) error = NULL;
  const char *env = pt_cli_get_secret_environment ("PT_ID");
  PtSecretString *name = NULL;

  if (id != NULL && id_file != NULL)
    {
      pt_cli_usage_error ("give the name once: --id or --id-file");
      return NULL;
    }
  if (id != NULL)
    {
      pt_cli_info ("warning: --id puts the name on the command line, where other users of this "
                   "machine can read it; the name is the only secret: prefer --id-file or PT_ID");
      name = g_strdup (id);
    }
  else if (id_file != NULL)
    {
      name = pt_secret_file_read (id_file, "name file", NAME_FILE_MAX_SIZE, &error);
      if (name == NULL)
        {
          pt_cli_error ("%s", error->message);
          return NULL;
        }
      g_strstrip (name);
    }
  else if (env != NULL && *env != '\0')
    name = g_strdup (env);
  else
    {
      pt_cli_usage_error ("which name? give --id-file FILE (or set PT_ID, or --id NAME)");
      return NULL;
    }
  return name;
}

gboolean
pt_cli_check_relays (char **relays)
{
  for (guint i = 0; relays && relays[i]; i++)
    if (!g_str_has_prefix (relays[i], "ws://") && !g_str_has_prefix (relays[i], "wss://"))
      {
        pt_cli_usage_error ("--relay %s: a relay URL starts with wss:// (or ws://)", relays[i]);
        return FALSE;
      }
  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Server */

gboolean
pt_cli_check_nostr_server_options (const PtCliNostrServerOptions *o)
{
  if (o->peers == NULL && !o->any_peer)
    {
      pt_cli_usage_error ("who may connect? give --peer-npub NPUB (repeatable), or --any-peer "
                          "with --auth-token-file FILE");
      return FALSE;
    }
  if (o->any_peer && o->token_file == NULL)
    {
      pt_cli_usage_error ("--any-peer needs --auth-token-file FILE: without tokens anyone could "
                          "connect (make tokens with “pt token”)");
      return FALSE;
    }
  if (o->max_sessions < 0)
    {
      pt_cli_usage_error ("--max-sessions %d: give a number of sessions, or 0 for no limit",
                          o->max_sessions);
      return FALSE;
    }
  return pt_cli_check_relays (o->relays);
}

void
pt_cli_nostr_server_options_clear (PtCliNostrServerOptions *o)
{
  g_clear_pointer (&o->nsec_file, g_free);
  g_clear_pointer (&o->token_file, g_free);
  g_clear_pointer (&o->peers, g_strfreev);
  g_clear_pointer (&o->relays, g_strfreev);
}

/* --max-sessions N (checked ≥ 0; 0 is no limit) as the profile's setting. */
static void
set_max_sessions (PtProfile *profile,
                  int        max_sessions)
{
  guint value = max_sessions == 0 ? PT_PROFILE_NO_SESSION_LIMIT
                                  : (guint) MIN (max_sessions, PT_PROFILE_NO_SESSION_LIMIT - 1);

  g_object_set (profile, "max-sessions", value, NULL);
}

gboolean
pt_cli_server_profile_set_admission (PtProfile                     *profile,
                              const PtCliNostrServerOptions *o,
                              PtSecretKey                  **key,
                              int                           *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tokens = NULL;
  g_autoptr(PtSecretString) token_text = NULL;

  *status = PT_EXIT_FAILURE;
  if (!pt_cli_load_secret_key (o->nsec_file, key))
    return FALSE;
  if (*key == NULL)
    {
      pt_cli_usage_error ("a server needs its key: --nsec-file FILE (make one with “pt keygen "
                          "--output FILE”) or PT_NSEC");
      *status = PT_EXIT_USAGE;
      return FALSE;
    }
  if (o->token_file != NULL)
    {
      if ((tokens = pt_token_file_load (o->token_file, &error)) == NULL)
        {
          pt_cli_error ("%s", error->message);
          return FALSE;
        }
      g_ptr_array_add (tokens, NULL);
      token_text = g_strjoinv ("\n", (char **) tokens->pdata);
    }
  for (guint i = 0; o->peers && o->peers[i]; i++)
    {
      PtPublicKey peer;

      if (!pt_public_key_parse (o->peers[i], &peer, &error))
        {
          pt_cli_usage_error ("--peer-npub %s: %s", o->peers[i], error->message);
          *status = PT_EXIT_USAGE;
          return FALSE;
        }
    }
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
  pt_profile_set_nostr (profile, (const char * const *) o->relays, (const char * const *) o->peers);
  pt_profile_set_any_peer (profile, o->any_peer);
  pt_profile_set_token (profile, token_text);
  set_max_sessions (profile, o->max_sessions);
  *status = PT_EXIT_OK;
  return TRUE;
}

/* The server exists (a shared name's once derived): clients can ask. */
static void
service_npub (PtService  *service,
              GParamSpec *pspec,
              gpointer    unused)
{
  if (pt_service_get_npub (service) != NULL)
    pt_cli_event ("listening", "npub", pt_service_get_npub (service), NULL);
}

/* VPN mode: the device exists, with the server's addresses. */
static void
service_vpn_device (PtService  *service,
                    GParamSpec *pspec,
                    gpointer    unused)
{
  const char *address6 = pt_service_get_vpn_address6 (service);

  if (pt_service_get_vpn_device (service) == NULL)
    return;
  pt_cli_event ("vpn", "ifname", pt_service_get_vpn_device (service),
                "address", pt_service_get_vpn_address (service),
                address6 ? "address6" : NULL, address6, NULL);
}

/* It stopped by itself: a shared name that cannot be derived (out of
 * memory), a VPN device that cannot be made. Nothing will listen. */
static void
service_running (PtService  *service,
                 GParamSpec *pspec,
                 GMainLoop  *loop)
{
  const GError *error = pt_service_get_error (service);

  if (pt_service_get_running (service))
    return;
  pt_cli_print_service_error (error, "the server stopped");
  g_object_set_data (G_OBJECT (service), "pt-cli-failed", GINT_TO_POINTER (TRUE));
  g_main_loop_quit (loop);
}

static void
service_terminate (GMainLoop *loop)
{
  g_main_loop_quit (loop);
}

int
pt_cli_run_server_profile (PtProfile         *profile,
                           const PtSecretKey *key)
{
  g_autoptr(PtService) service = pt_service_new (profile);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  int status;

  pt_service_set_key (service, key);
  pt_cli_follow_rendezvous (service);
  g_signal_connect (service, "notify::npub", G_CALLBACK (service_npub), NULL);
  g_signal_connect (service, "notify::vpn-device", G_CALLBACK (service_vpn_device), NULL);
  pt_cli_follow_sessions (service, NULL);
  if (!pt_service_start (service, &error))
    {
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }
  g_signal_connect (service, "notify::running", G_CALLBACK (service_running), loop);
  pt_cli_on_terminate (G_CALLBACK (service_terminate), loop);
  g_main_loop_run (loop);
  pt_cli_on_terminate (NULL, NULL);

  g_signal_handlers_disconnect_by_data (service, loop);
  g_signal_handlers_disconnect_by_func (service, service_vpn_device, NULL);
  status = g_object_get_data (G_OBJECT (service), "pt-cli-failed") ? PT_EXIT_FAILURE : PT_EXIT_OK;
  if (pt_profile_get_mode (profile) == PT_PROFILE_MODE_VPN)
    pt_cli_event ("vpn-stats", "#spoofed_dropped", pt_service_get_vpn_spoofed (service), NULL);
  pt_service_stop (service);
  g_clear_object (&service);
  pt_cli_drain ();
  return status;
}

static const char server_description[] =
  "Waits for clients on Nostr relays and serves each accepted request as a tunnel\n"
  "of its own. Clients find this server by its public key (npub): print it with\n"
  "“pt show-npub --nsec-file FILE”. Everything on the relays is encrypted end to\n"
  "end; relays see only which keys talk to each other.\n"
  "\n"
  "Who may connect:\n"
  "  --peer-npub NPUB        only these client keys (repeatable); with\n"
  "                          --auth-token-file too, they must also present a token\n"
  "  --any-peer --auth-token-file FILE\n"
  "                          any client key that presents a token of FILE (one per\n"
  "                          line, # comments; make tokens with “pt token”)\n"
  "Failed attempts are rate-limited per client key and for everyone together.\n"
  "\n"
  "What they may reach: nothing unless --allowed-tcp/--allowed-udp allow it,\n"
  "as ADDR[/PREFIX][:PORT[-PORT]]: --allowed-tcp 127.0.0.1:22 for this\n"
  "machine's SSH server only, 192.168.1.0/24:5432, 10.0.0.5:8000-8099 or\n"
  "'[::1]:22'. An entry without a port allows every port.\n"
  "The key comes from --nsec-file (mode 0600) or the PT_NSEC environment variable.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n";

int
pt_cmd_server_nostr (int    argc,
                     char **argv)
{
  PtCliCommon common = { 0 };
  PtCliNostrServerOptions who = { .max_sessions = PT_NOSTR_DEFAULT_MAX_SESSIONS };
  g_auto(GStrv) allowed_tcp = NULL;
  g_auto(GStrv) allowed_udp = NULL;
  const GOptionEntry entries[] = {
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &who.nsec_file,
      "This server's secret key (or set PT_NSEC)", "FILE" },
    { "peer-npub", 0, 0, G_OPTION_ARG_STRING_ARRAY, &who.peers,
      "A client key allowed to connect (repeatable)", "NPUB" },
    { "any-peer", 0, 0, G_OPTION_ARG_NONE, &who.any_peer,
      "Accept any client key that presents a valid token", NULL },
    { "auth-token-file", 0, 0, G_OPTION_ARG_FILENAME, &who.token_file,
      "Tokens that clients must present, one per line", "FILE" },
    { "allowed-tcp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_tcp,
      "TCP services clients may reach: an address or network and a port or range, e.g. 127.0.0.1:22 (repeatable; none by default)", "ADDR[/N][:PORT]" },
    { "allowed-udp", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_udp,
      "UDP services clients may reach, e.g. 192.168.1.1:53 (repeatable; none by default)", "ADDR[/N][:PORT]" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &who.max_sessions,
      "Serve at most N sessions at once (default: 64; 0: no limit)", "N" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &who.relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtServerPolicy) policy = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretKey) key = NULL;
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new ("server nostr", "--nsec-file FILE (--peer-npub NPUB…|--any-peer)",
                                "serve clients that find this server through Nostr relays",
                                server_description, entries, &common);
  if (!pt_cli_parse (context, "server nostr", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt server nostr --help”)", argv[1]);
      goto out;
    }
  if (!pt_cli_check_nostr_server_options (&who))
    goto out;

  /* Checked here, in pt's words; the profile holds them as text. */
  policy = pt_cli_parse_policy (allowed_tcp, allowed_udp);
  if (policy == NULL)
    goto out;
  pt_profile_set_allowed (profile, (const char * const *) allowed_tcp,
                          (const char * const *) allowed_udp);
  if (!pt_cli_profile_set_ice (profile, &common) ||
      !pt_cli_server_profile_set_admission (profile, &who, &key, &status))
    goto out;

  status = pt_cli_run_server_profile (profile, key);

out:
  pt_cli_nostr_server_options_clear (&who);
  pt_cli_common_clear (&common);
  return status;
}

/* ---------------------------------------------------------------------- */
/* Client */

typedef struct
{
  GMainLoop *loop;
  PtService *service;
  char     **sources;
  gboolean   announced;
  gboolean   user_stopped;
  int        status;
} Client;

/* "ready ADDRESS" for each forward, once: the first tunnel up opens them
 * (later tunnels share the listeners). */
static void
client_tunnel_state (PtTunnel   *tunnel,
                     GParamSpec *pspec,
                     PtService  *service)
{
  Client *client = g_object_get_data (G_OBJECT (service), "pt-cli-client");

  if (client == NULL || client->announced || pt_tunnel_get_state (tunnel) != PT_TUNNEL_STATE_UP)
    return;
  client->announced = TRUE;
  pt_cli_print_ready (tunnel, client->sources);
}

/* Each attempt is a new tunnel: its events are printed as it goes. */
static void
client_tunnel (PtService  *service,
               GParamSpec *pspec,
               Client     *client)
{
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  if (tunnel == NULL || g_object_get_data (G_OBJECT (tunnel), "pt-cli-label") != NULL)
    return;
  pt_cli_follow_tunnel (tunnel, NULL);
  g_signal_connect_object (tunnel, "notify::state", G_CALLBACK (client_tunnel_state), service, 0);
  client_tunnel_state (tunnel, NULL, service);
}

/* Stopped: by a signal (status 0), or by itself with the reason. */
static void
client_running (PtService  *service,
                GParamSpec *pspec,
                Client     *client)
{
  const GError *error = pt_service_get_error (service);

  if (pt_service_get_running (service))
    return;
  if (!client->user_stopped)
    {
      pt_cli_error ("%s", error ? error->message : "the tunnel stopped");
      client->status = PT_EXIT_FAILURE;
    }
  g_main_loop_quit (client->loop);
}

static void
client_terminate (Client *client)
{
  client->user_stopped = TRUE;
  client->status = PT_EXIT_OK;
  if (pt_service_get_running (client->service))
    pt_service_stop (client->service);   /* → not running → quit */
  else
    g_main_loop_quit (client->loop);
}

/* @profile (ICE settings made) asks @server through Nostr, as @key (NULL: a
 * throwaway key) with @token, for each source; runs it until it fails or a
 * signal, then lets TURN allocations go. An exit status. */
static int
start_client (PtProfile         *profile,
              const PtSecretKey *key,
              const PtPublicKey *server,
              char             **relays,
              const char        *token,
              gboolean           reconnect,
              char             **sources,
              char             **targets)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretKey) throwaway = NULL;
  g_autoptr(PtService) service = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *server_npub = pt_public_key_to_npub (server);
  g_autofree char *npub = NULL;
  const char *peers[] = { server_npub, NULL };
  Client client = { 0 };

  if (pt_cli_check_sources (sources) != PT_EXIT_OK)
    return PT_EXIT_USAGE;
  if (key == NULL && (key = throwaway = pt_secret_key_generate (&error)) == NULL)
    {
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }
  pt_profile_set_mode (profile, PT_PROFILE_MODE_NOSTR);
  pt_profile_set_forwards (profile, (const char * const *) sources, (const char * const *) targets);
  pt_profile_set_nostr (profile, (const char * const *) relays, peers);
  pt_profile_set_token (profile, token);

  service = pt_service_new (profile);
  pt_service_set_key (service, key);
  pt_service_set_reconnect (service, reconnect);
  loop = g_main_loop_new (NULL, FALSE);
  client.loop = loop;
  client.service = service;
  client.sources = sources;
  client.status = PT_EXIT_FAILURE;
  g_object_set_data (G_OBJECT (service), "pt-cli-client", &client);
  npub = pt_public_key_to_npub (pt_secret_key_get_public (key));
  g_debug ("this client is %s", npub);

  pt_cli_follow_rendezvous (service);
  g_signal_connect (service, "notify::tunnel", G_CALLBACK (client_tunnel), &client);
  g_signal_connect (service, "notify::running", G_CALLBACK (client_running), &client);
  if (!pt_service_start (service, &error))
    {
      g_signal_handlers_disconnect_by_data (service, &client);
      return pt_cli_report_forward_error (error);
    }
  client_tunnel (service, NULL, &client);
  pt_cli_on_terminate (G_CALLBACK (client_terminate), &client);
  if (pt_service_get_running (service))
    g_main_loop_run (loop);
  pt_cli_on_terminate (NULL, NULL);

  g_signal_handlers_disconnect_by_data (service, &client);
  g_object_set_data (G_OBJECT (service), "pt-cli-client", NULL);
  pt_service_stop (service);
  g_clear_object (&service);
  pt_cli_drain ();
  return client.status;
}

/* --auth-token-file (first token), else $PT_AUTH_TOKEN, else none. */
gboolean
pt_cli_load_client_token (const char      *token_file,
                          PtSecretString **token)
{
  g_autoptr(GError) error = NULL;
  const char *env = pt_cli_get_secret_environment ("PT_AUTH_TOKEN");

  *token = NULL;
  if (token_file != NULL)
    {
      g_autoptr(GPtrArray) tokens = pt_token_file_load (token_file, &error);

      if (tokens == NULL)
        {
          pt_cli_error ("%s", error->message);
          return FALSE;
        }
      *token = g_strdup (g_ptr_array_index (tokens, 0));
      if (!pt_token_validate (*token, &error))
        {
          pt_cli_error ("the token in %s cannot be used: %s", token_file, error->message);
          return FALSE;
        }
    }
  else if (env != NULL && *env != '\0')
    {
      *token = g_strdup (env);
      g_strstrip (*token);
      if (!pt_token_validate (*token, &error))
        {
          pt_cli_error ("the token in PT_AUTH_TOKEN cannot be used: %s", error->message);
          return FALSE;
        }
    }
  return TRUE;
}

static const char client_description[] =
  "Asks the server whose public key is SERVER_NPUB for a tunnel, through Nostr\n"
  "relays, and prints “ready ADDRESS” once it is up: connections (TCP) or\n"
  "datagrams (UDP) made to ADDRESS reach SOURCE on the server's side.\n"
  "If the tunnel drops later (server restarted, network changed), the client\n"
  "asks again by itself, waiting longer after each failure (up to a minute),\n"
  "while ADDRESS stays open; --no-reconnect exits instead.\n"
  "\n"
  "The key comes from --nsec-file (mode 0600) or PT_NSEC; without either, a\n"
  "throwaway key is made for this run (the server must then accept any peer\n"
  "with a token). The token comes from --auth-token-file or PT_AUTH_TOKEN.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 the tunnel failed or was refused,\n"
  "2 usage error.\n";

int
pt_cmd_client_nostr (int    argc,
                     char **argv)
{
  PtCliCommon common = { 0 };
  g_autofree char *nsec_file = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *token_file = NULL;
  g_auto(GStrv) sources = NULL;
  g_auto(GStrv) targets = NULL;
  g_auto(GStrv) relays = NULL;
  gboolean no_reconnect = FALSE;
  const GOptionEntry entries[] = {
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &nsec_file,
      "This client's secret key (or PT_NSEC; default: a throwaway key)", "FILE" },
    { "peer-npub", 0, 0, G_OPTION_ARG_STRING, &peer,
      "The server's public key", "SERVER_NPUB" },
    { "source", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sources,
      "Service to reach, as the server sees it (repeatable)", "tcp://HOST:PORT" },
    { "target", 't', 0, G_OPTION_ARG_STRING_ARRAY, &targets,
      "Where to listen locally (repeatable, pairs with --source)", "[ADDR:]PORT" },
    { "auth-token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
      "A file whose first token is presented to the server (or PT_AUTH_TOKEN)", "FILE" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { "no-reconnect", 0, 0, G_OPTION_ARG_NONE, &no_reconnect,
      "Exit when the tunnel drops instead of re-establishing it", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretKey) key = NULL;
  g_autoptr(PtSecretString) token = NULL;
  g_autoptr(GError) error = NULL;
  PtPublicKey server;
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new ("client nostr", "--peer-npub SERVER_NPUB --source URI --target [ADDR:]PORT",
                                "connect to a server found through Nostr relays",
                                client_description, entries, &common);
  if (!pt_cli_parse (context, "client nostr", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt client nostr --help”)", argv[1]);
      goto out;
    }
  if (peer == NULL)
    {
      pt_cli_usage_error ("which server? give --peer-npub SERVER_NPUB (the server prints it; "
                          "or “pt show-npub --nsec-file FILE” on its machine)");
      goto out;
    }
  if (!pt_public_key_parse (peer, &server, &error))
    {
      pt_cli_usage_error ("--peer-npub %s: %s", peer, error->message);
      goto out;
    }
  if (sources == NULL || targets == NULL)
    {
      pt_cli_usage_error ("pt client nostr needs --source tcp://HOST:PORT (or udp://) and "
                          "--target [ADDR:]PORT (see “pt client nostr --help”)");
      goto out;
    }
  if (g_strv_length (sources) != g_strv_length (targets))
    {
      pt_cli_usage_error ("give --source and --target in pairs (%u sources, %u targets)",
                          g_strv_length (sources), g_strv_length (targets));
      goto out;
    }
  if (!pt_cli_check_relays (relays) || !pt_cli_profile_set_ice (profile, &common))
    goto out;

  status = PT_EXIT_FAILURE;
  if (!pt_cli_load_secret_key (nsec_file, &key) || !pt_cli_load_client_token (token_file, &token))
    goto out;

  status = start_client (profile, key, &server, relays, token, !no_reconnect, sources, targets);

out:
  pt_cli_common_clear (&common);
  return status;
}

/* ---------------------------------------------------------------------- */
/* Named rendezvous: pt tcp|udp --port P --id NAME, pt bind --port P --id NAME */

static const char named_description[] =
  "The NAME is the only secret: anyone who knows it can reach the exposed port,\n"
  "so choose a long, unguessable one: 5 or more random words, or a token that\n"
  "“pt token” prints (names worth less than about 60 bits are refused).\n"
  "Both sides derive a Nostr key and an access token from it with a slow hash\n"
  "(Argon2id), and find each other through public Nostr relays.\n"
  "Give the name with --id-file FILE (mode 0600) or the PT_ID environment\n"
  "variable; --id NAME works too, but other users of this machine can read the\n"
  "command line.\n";

static gboolean
derive_name (const char      *id,
             const char      *id_file,
             PtSecretKey    **key,
             PtSecretString **token,
             int             *status)
{
  g_autoptr(PtSecretString) name = load_name (id, id_file);
  g_autoptr(GError) error = NULL;

  if (name == NULL)
    {
      *status = id_file != NULL ? PT_EXIT_FAILURE : PT_EXIT_USAGE;
      return FALSE;
    }
  if (!pt_named_rendezvous_derive (name, key, token, &error))
    {
      pt_cli_usage_error ("%s", error->message);
      *status = PT_EXIT_USAGE;
      return FALSE;
    }
  return TRUE;
}

static int
named_expose (int         argc,
              char      **argv,
              PtProto     proto)
{
  PtCliCommon common = { 0 };
  const char *command = proto == PT_PROTO_TCP ? "tcp" : "udp";
  g_autofree char *id = NULL;
  g_autofree char *id_file = NULL;
  g_auto(GStrv) relays = NULL;
  int port = 0;
  int max_sessions = PT_NOSTR_DEFAULT_MAX_SESSIONS;
  const GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "The local port to expose", "PORT" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &id, "The shared name (visible to local users: prefer --id-file)", "NAME" },
    { "id-file", 0, 0, G_OPTION_ARG_FILENAME, &id_file, "Read the shared name from FILE", "FILE" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &max_sessions,
      "Serve at most N sessions at once (default: 64; 0: no limit)", "N" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { NULL }
  };
  g_autofree char *summary = g_strdup_printf ("expose local %s port PORT under a shared name",
                                              proto == PT_PROTO_TCP ? "TCP" : "UDP");
  g_autofree char *description = g_strdup_printf (
    "Serves this machine's %s port PORT (on 127.0.0.1) to whoever runs\n"
    "“pt bind%s --port LOCAL_PORT” with the same name.\n\n%s\n"
    "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n",
    proto == PT_PROTO_TCP ? "TCP" : "UDP", proto == PT_PROTO_TCP ? "" : " --udp", named_description);
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretString) name = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expose = NULL;
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new (command, "--port PORT --id-file FILE", summary, description,
                                entries, &common);
  if (!pt_cli_parse (context, command, entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt %s --help”)", argv[1], command);
      goto out;
    }
  if (port < 1 || port > 65535)
    {
      pt_cli_usage_error ("which port? give --port PORT (1–65535), the local %s port to expose",
                          proto == PT_PROTO_TCP ? "TCP" : "UDP");
      goto out;
    }
  if (max_sessions < 0)
    {
      pt_cli_usage_error ("--max-sessions %d: give a number of sessions, or 0 for no limit", max_sessions);
      goto out;
    }
  if (!pt_cli_check_relays (relays) || !pt_cli_profile_set_ice (profile, &common))
    goto out;
  if ((name = load_name (id, id_file)) == NULL)
    {
      status = id_file != NULL ? PT_EXIT_FAILURE : PT_EXIT_USAGE;
      goto out;
    }
  if (!pt_named_name_check (name, &error))
    {
      pt_cli_usage_error ("%s", error->message);
      goto out;
    }

  /* The service derives the key and token from the name (in a thread) and
   * serves 127.0.0.1:PORT to whoever has them. */
  expose = g_strdup_printf ("%s://127.0.0.1:%d", command, port);
  pt_profile_set_role (profile, PT_TUNNEL_ROLE_SERVER);
  pt_profile_set_mode (profile, PT_PROFILE_MODE_NAME);
  pt_profile_set_nostr (profile, (const char * const *) relays, NULL);
  pt_profile_set_shared_name (profile, name);
  pt_profile_set_expose (profile, expose);
  set_max_sessions (profile, max_sessions);
  status = pt_cli_run_server_profile (profile, NULL);

out:
  pt_cli_common_clear (&common);
  return status;
}

int
pt_cmd_tcp (int    argc,
            char **argv)
{
  return named_expose (argc, argv, PT_PROTO_TCP);
}

int
pt_cmd_udp (int    argc,
            char **argv)
{
  return named_expose (argc, argv, PT_PROTO_UDP);
}

int
pt_cmd_bind (int    argc,
             char **argv)
{
  PtCliCommon common = { 0 };
  g_autofree char *id = NULL;
  g_autofree char *id_file = NULL;
  g_autofree char *listen = NULL;
  g_auto(GStrv) relays = NULL;
  gboolean udp = FALSE;
  gboolean no_reconnect = FALSE;
  int port = -1;
  const GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Where to listen locally (0: any free port)", "PORT" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "The local address to listen on (default 127.0.0.1)", "ADDR" },
    { "udp", 0, 0, G_OPTION_ARG_NONE, &udp, "Forward UDP (to “pt udp”) instead of TCP", NULL },
    { "id", 0, 0, G_OPTION_ARG_STRING, &id, "The shared name (visible to local users: prefer --id-file)", "NAME" },
    { "id-file", 0, 0, G_OPTION_ARG_FILENAME, &id_file, "Read the shared name from FILE", "FILE" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { "no-reconnect", 0, 0, G_OPTION_ARG_NONE, &no_reconnect,
      "Exit when the tunnel drops instead of re-establishing it", NULL },
    { NULL }
  };
  g_autofree char *description = g_strdup_printf (
    "Listens on PORT and carries what arrives to the port that “pt tcp” (or, with\n"
    "--udp, “pt udp”) exposes under the same name. Prints “ready ADDRESS” once\n"
    "the tunnel is up, and re-establishes it by itself if it drops.\n\n%s\n"
    "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n", named_description);
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretKey) server_key = NULL;
  g_autoptr(PtSecretString) token = NULL;
  g_autofree char *source = NULL;
  g_autofree char *target = NULL;
  char *sources[2] = { NULL, NULL };
  char *targets[2] = { NULL, NULL };
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new ("bind", "--port PORT --id-file FILE",
                                "listen locally and forward to a port exposed under a shared name",
                                description, entries, &common);
  if (!pt_cli_parse (context, "bind", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt bind --help”)", argv[1]);
      goto out;
    }
  if (port < 0 || port > 65535)
    {
      pt_cli_usage_error ("which port? give --port PORT (0–65535) to listen on");
      goto out;
    }
  if (!pt_cli_check_relays (relays) || !pt_cli_profile_set_ice (profile, &common))
    goto out;
  if (!derive_name (id, id_file, &server_key, &token, &status))
    goto out;

  /* The server exposes one service per protocol and ignores the address
   * named here; name something meaningful in its logs. */
  source = g_strdup_printf ("%s://127.0.0.1:%d", udp ? "udp" : "tcp", port > 0 ? port : 1);
  target = listen ? (strchr (listen, ':') && listen[0] != '['
                     ? g_strdup_printf ("[%s]:%d", listen, port)
                     : g_strdup_printf ("%s:%d", listen, port))
                  : g_strdup_printf ("127.0.0.1:%d", port);
  sources[0] = source;
  targets[0] = target;

  /* A throwaway key: the token is what the server checks. */
  status = start_client (profile, NULL, pt_secret_key_get_public (server_key), relays, token,
                         !no_reconnect, sources, targets);

out:
  pt_cli_common_clear (&common);
  return status;
}
