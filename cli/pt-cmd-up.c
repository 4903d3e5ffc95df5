/* pt-cmd-up.c — pt up PROFILES-FILE [NAME…]: run saved tunnels
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The file is the one the desktop app saves (docs/profiles.md): every
 * "[profile ID]" group is a tunnel (a PtProfile), run here by a PtService
 * exactly as the app runs it. This file only chooses, starts and prints.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <string.h>

#include "pt-cli.h"

#define PROFILES_FILE_MAX_SIZE (1024 * 1024)
#define SECRETS_FILE_MAX_SIZE  (1024 * 1024)

typedef struct _Up Up;

typedef struct
{
  Up        *up;
  PtProfile *profile;
  PtService *service;
  PtTunnel  *announced;    /* the client tunnel whose "ready" lines were printed */
  gboolean   started;
  gboolean   failed;       /* an error was printed: no "stopped" after it */
  gboolean   input_ended;  /* manual: standard input ended */
} Run;

struct _Up
{
  GMainLoop *loop;
  GPtrArray *runs;         /* of Run */
  Run       *manual;       /* the one manual profile, which reads stdin */
  gboolean   stopping;
  int        status;
};

static const char up_description[] =
  "Runs the named tunnels of PROFILES-FILE in this process (all of them when no\n"
  "NAME is given), as the desktop app would; NAME is a tunnel's name or its id.\n"
  "The desktop app keeps its tunnels in ~/.config/peertunnel/profiles.ini; the\n"
  "format is in docs/profiles.md.\n"
  "\n"
  "Secrets: a tunnel's TURN servers, token and shared name can be written in its\n"
  "group (keep the file mode 0600); the app keeps them in the keyring instead,\n"
  "which pt does not read. Then pt looks in --secrets-file (by default the app's\n"
  "own ~/.config/peertunnel/secrets, used when there is no keyring) and says\n"
  "which tunnel lacks what. Nostr and VPN tunnels need this computer's key:\n"
  "--nsec-file FILE, PT_NSEC, or the secrets file.\n"
  "\n"
  "A manual tunnel prints its block on standard output and reads the other\n"
  "side's block on standard input, like pt client/server manual; one manual\n"
  "tunnel at a time.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 a tunnel stopped by itself with an\n"
  "error and none is left, 2 usage error (a name not in the file, a setting\n"
  "that cannot work, a missing secret).\n";

static const char *
mode_name (PtProfileMode mode)
{
  switch (mode)
    {
    case PT_PROFILE_MODE_MANUAL: return "manual";
    case PT_PROFILE_MODE_NOSTR:  return "nostr";
    case PT_PROFILE_MODE_NAME:   return "name";
    case PT_PROFILE_MODE_VPN:    return "vpn";
    }
  return "unknown";
}

static const char *
role_name (PtTunnelRole role)
{
  return role == PT_TUNNEL_ROLE_SERVER ? "serve" : "connect";
}

static void
run_free (Run *run)
{
  g_signal_handlers_disconnect_by_data (run->service, run);
  g_signal_handlers_disconnect_by_data (pt_service_get_sessions (run->service), run);
  g_object_set_data (G_OBJECT (run->service), "pt-up-run", NULL);
  g_clear_object (&run->service);
  g_clear_object (&run->profile);
  g_free (run);
}

/* Events about @run's profile carry its name. */
#define RUN_EVENT(run, ...) G_STMT_START {                                      \
    char *outer_ = pt_cli_set_event_tunnel (pt_profile_get_name ((run)->profile)); \
    __VA_ARGS__;                                                                \
    pt_cli_restore_event_tunnel (outer_);                                       \
  } G_STMT_END

static void
up_check_done (Up *up)
{
  for (guint i = 0; i < up->runs->len; i++)
    {
      Run *run = g_ptr_array_index (up->runs, i);

      if (pt_service_get_running (run->service))
        return;
    }
  pt_cli_stop_reading ();
  g_main_loop_quit (up->loop);
}

static void
on_running (PtService  *service,
            GParamSpec *pspec,
            Run        *run)
{
  const GError *error = pt_service_get_error (service);

  if (pt_service_get_running (service))
    return;
  if (error != NULL)
    {
      RUN_EVENT (run, pt_cli_error ("%s", error->message));
      run->up->status = PT_EXIT_FAILURE;
    }
  else if (!run->up->stopping && !run->failed)
    RUN_EVENT (run, pt_cli_event ("stopped", NULL, NULL));
  up_check_done (run->up);
}

/* A connecting profile: "ready ADDRESS" for each forward, once per tunnel. */
static void
on_client_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 PtService  *service)
{
  Run *run = g_object_get_data (G_OBJECT (service), "pt-up-run");
  g_autoptr(GPtrArray) addresses = NULL;
  const char * const *sources = pt_profile_get_sources (pt_service_get_profile (service));

  if (run == NULL || pt_tunnel_get_state (tunnel) != PT_TUNNEL_STATE_UP ||
      run->announced == tunnel)
    return;
  run->announced = tunnel;
  addresses = pt_tunnel_dup_listen_addresses (tunnel);
  for (guint i = 0; i < addresses->len; i++)
    {
      const char *addr = g_ptr_array_index (addresses, i);
      const char *source = i < g_strv_length ((char **) sources) ? sources[i] : "";

      RUN_EVENT (run, pt_cli_event ("ready", "listen", addr, "source", source, NULL));
    }
}

static void
on_tunnel (PtService  *service,
           GParamSpec *pspec,
           Run        *run)
{
  PtProfile *profile = run->profile;
  PtTunnel *tunnel = pt_service_get_tunnel (service);

  /* A server's sessions are followed through the sessions model; a
   * reconnecting client gets a new tunnel each time. */
  if (tunnel == NULL || g_object_get_data (G_OBJECT (tunnel), "pt-cli-label") != NULL)
    return;
  if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER)
    return;
  pt_cli_follow_tunnel_named (tunnel, pt_profile_get_name (profile), NULL);
  if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_CLIENT)
    g_signal_connect_object (tunnel, "notify::state", G_CALLBACK (on_client_state), service, 0);
}

/* VPN mode: the device and its addresses, as pt vpn prints them. */
static void
on_vpn_device (PtService  *service,
               GParamSpec *pspec,
               Run        *run)
{
  const char *ifname = pt_service_get_vpn_device (service);
  const char *address = pt_service_get_vpn_address (service);
  const char *address6 = pt_service_get_vpn_address6 (service);

  if (ifname == NULL)
    return;
  RUN_EVENT (run, pt_cli_event ("vpn", "ifname", ifname, "address", address ? address : "",
                                address6 ? "address6" : NULL, address6, NULL));
}

static void
on_relay_state (PtService  *service,
                const char *url,
                gboolean    connected,
                Run        *run)
{
  RUN_EVENT (run, pt_cli_print_relay_state (url, connected));
}

static void
on_attempt_failed (PtService *service,
                   GError    *error,
                   guint      retry_in,
                   Run       *run)
{
  RUN_EVENT (run, pt_cli_print_retry (error, retry_in));
}

static void
on_request_refused (PtService  *service,
                    const char *peer,
                    const char *session,
                    const char *reason,
                    Run        *run)
{
  RUN_EVENT (run, pt_cli_print_refused (peer, session, reason));
}

/* Manual mode: our block out on stdout, the other side's in from stdin. */
static void
on_local_text (PtService  *service,
               GParamSpec *pspec,
               Run        *run)
{
  const char *text = pt_service_get_local_text (service);

  if (text == NULL)
    return;
  if (!pt_cli_write_stdout (text))
    {
      run->failed = TRUE;
      run->up->status = PT_EXIT_FAILURE;
      pt_service_stop (service);
      return;
    }
  if (pt_profile_get_role (run->profile) == PT_TUNNEL_ROLE_CLIENT)
    RUN_EVENT (run, pt_cli_info ("give the offer above to the server, then paste its answer here"));
}

/* A manual server whose input has ended stops with its last session. */
static void
manual_sessions_changed (GListModel *sessions,
                         guint       position,
                         guint       removed,
                         guint       added,
                         Run        *run)
{
  if (run->input_ended && g_list_model_get_n_items (sessions) == 0)
    pt_service_stop (run->service);
}

static void
manual_block_cb (const char *block,
                 gpointer    user_data)
{
  Run *run = user_data;
  gboolean server = pt_profile_get_role (run->profile) == PT_TUNNEL_ROLE_SERVER;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = NULL;

  if (block == NULL)
    {
      run->input_ended = TRUE;
      if (!pt_service_get_paired (run->service))
        {
          RUN_EVENT (run, pt_cli_error ("standard input ended before the other side’s block arrived"));
          run->failed = TRUE;
          run->up->status = PT_EXIT_FAILURE;
          pt_service_stop (run->service);
        }
      else if (server)
        manual_sessions_changed (pt_service_get_sessions (run->service), 0, 0, 0, run);
      return;
    }
  payload = g_bytes_new (block, strlen (block));
  if (!pt_service_give_remote (run->service, payload, &error))
    {
      RUN_EVENT (run, pt_cli_error ("the block cannot be used: %s", error->message));
      return;
    }
  /* A server takes one client's offer after another. */
  if (!server)
    pt_cli_stop_reading ();
}

/* Secrets the app keeps outside the profiles file. */
static GKeyFile *
load_secrets_file (const char *path,
                   gboolean    given,
                   gboolean   *ok)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) data = NULL;
  g_autofree char *what = NULL;

  *ok = TRUE;
  if (!given && !g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  data = pt_secret_file_read (path, "secrets file", SECRETS_FILE_MAX_SIZE, &error);
  if (data == NULL)
    {
      pt_cli_usage_error ("%s", error->message);
      *ok = FALSE;
      return NULL;
    }
  what = g_strdup_printf ("the secrets file %s", path);
  {
    GKeyFile *key_file = pt_profile_parse_key_file (data, strlen (data), what, &error);

    if (key_file == NULL)
      {
        pt_cli_usage_error ("%s", error->message);
        *ok = FALSE;
      }
    return key_file;
  }
}

static gboolean
needs_key (PtProfile *profile)
{
  return pt_profile_get_mode (profile) == PT_PROFILE_MODE_NOSTR ||
         pt_profile_get_mode (profile) == PT_PROFILE_MODE_VPN;
}

static gboolean
profile_selected (PtProfile  *profile,
                  char      **names,
                  gboolean   *used)
{
  if (names == NULL || names[0] == NULL)
    return TRUE;
  for (guint i = 0; names[i]; i++)
    if (g_str_equal (names[i], pt_profile_get_name (profile)) ||
        g_str_equal (names[i], pt_profile_get_id (profile)))
      {
        used[i] = TRUE;
        return TRUE;
      }
  return FALSE;
}

static void
terminate (Up *up)
{
  up->stopping = TRUE;
  pt_cli_stop_reading ();
  for (guint i = 0; i < up->runs->len; i++)
    {
      Run *run = g_ptr_array_index (up->runs, i);

      pt_service_stop (run->service);
    }
  g_main_loop_quit (up->loop);
}

int
pt_cmd_up (int    argc,
           char **argv)
{
  g_autofree char *nsec_file = NULL;
  g_autofree char *secrets_file = NULL;
  gboolean json = FALSE;
  gboolean verbose = FALSE;
  const GOptionEntry entries[] = {
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &nsec_file,
      "This computer's secret key, for Nostr and VPN tunnels (or set PT_NSEC)", "FILE" },
    { "secrets-file", 0, 0, G_OPTION_ARG_FILENAME, &secrets_file,
      "Where the tunnels' secrets are (default: the app's ~/.config/peertunnel/secrets)", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print events on stderr as one JSON object per line", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose,
      "Print the engine's debug messages", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("PROFILES-FILE [NAME…] — run saved tunnels");
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) data = NULL;
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GKeyFile) secrets = NULL;
  g_autoptr(GPtrArray) profiles = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GPtrArray) runs = NULL;   /* after profiles: freed first */
  g_autofree gboolean *used = NULL;
  g_autofree char *what = NULL;
  g_autofree char *default_secrets = NULL;
  gboolean secrets_ok = TRUE;
  char **names;
  Up up = { 0 };

  g_set_prgname ("pt up");
  g_option_context_set_description (context, up_description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      pt_cli_usage_error ("%s (see “pt up --help”)", error->message);
      return PT_EXIT_USAGE;
    }
  pt_cli_setup_output (json, verbose);
  if (argc < 2)
    {
      pt_cli_usage_error ("which tunnels? give the profiles file, e.g. "
                          "“pt up ~/.config/peertunnel/profiles.ini” (see “pt up --help”)");
      return PT_EXIT_USAGE;
    }

  /* The file may hold secrets: the same checks as any secret file. */
  data = pt_secret_file_read (argv[1], "profiles file", PROFILES_FILE_MAX_SIZE, &error);
  if (data == NULL)
    {
      pt_cli_usage_error ("%s", error->message);
      return PT_EXIT_USAGE;
    }
  what = g_strdup_printf ("the profiles file %s", argv[1]);
  key_file = pt_profile_parse_key_file (data, strlen (data), what, &error);
  profiles = key_file ? pt_profile_list_from_key_file (key_file, &error) : NULL;
  if (profiles == NULL)
    {
      pt_cli_usage_error ("%s", error->message);
      return PT_EXIT_USAGE;
    }

  names = argv + 2;
  used = g_new0 (gboolean, argc);
  default_secrets = g_build_filename (g_get_user_config_dir (), "peertunnel", "secrets", NULL);
  secrets = load_secrets_file (secrets_file ? secrets_file : default_secrets,
                               secrets_file != NULL, &secrets_ok);
  if (!secrets_ok)
    return PT_EXIT_USAGE;

  runs = g_ptr_array_new_with_free_func ((GDestroyNotify) run_free);
  up.runs = runs;
  for (guint i = 0; i < profiles->len; i++)
    {
      PtProfile *profile = g_ptr_array_index (profiles, i);
      g_autofree char *group = g_strconcat ("profile ", pt_profile_get_id (profile), NULL);
      Run *run;

      if (!profile_selected (profile, names, used))
        continue;
      if (g_key_file_get_boolean (key_file, group, "secrets-in-keyring", NULL))
        {
          g_autofree char *entry = g_strdup_printf ("profile/%s/secrets", pt_profile_get_id (profile));
          g_autoptr(PtSecretString) held = secrets
            ? pt_profile_key_file_get_string (secrets, "secrets", entry) : NULL;
          g_autoptr(PtSecretString) own = pt_profile_dup_secrets (profile);

          if (held != NULL)
            pt_profile_apply_secrets (profile, held);
          else if (own == NULL)
            {
              pt_cli_usage_error ("tunnel “%s”: its secrets (TURN servers, token or shared "
                                  "name) are in the desktop keyring, which pt does not read; "
                                  "write them in its group [%s] of %s (turn-servers=, token=, "
                                  "shared-name=) or give --secrets-file FILE",
                                  pt_profile_get_name (profile), group, argv[1]);
              return PT_EXIT_USAGE;
            }
        }
      run = g_new0 (Run, 1);
      run->up = &up;
      run->profile = g_object_ref (profile);
      run->service = pt_service_new (profile);
      g_object_set_data (G_OBJECT (run->service), "pt-up-run", run);
      g_ptr_array_add (up.runs, run);
    }
  for (guint i = 0; names[i]; i++)
    if (!used[i])
      {
        g_autoptr(GString) known = g_string_new (NULL);

        for (guint k = 0; k < profiles->len; k++)
          g_string_append_printf (known, "%s“%s”", k ? ", " : "",
                                  pt_profile_get_name (g_ptr_array_index (profiles, k)));
        pt_cli_usage_error ("%s has no tunnel named “%s” (it has %s)", argv[1], names[i],
                            known->len ? known->str : "none");
        return PT_EXIT_USAGE;
      }
  if (up.runs->len == 0)
    {
      pt_cli_usage_error ("%s holds no tunnels: make one in the app, or see docs/profiles.md",
                          argv[1]);
      return PT_EXIT_USAGE;
    }

  /* Check everything before anything starts. */
  for (guint i = 0; i < up.runs->len; i++)
    {
      Run *run = g_ptr_array_index (up.runs, i);

      if (pt_profile_get_mode (run->profile) == PT_PROFILE_MODE_MANUAL)
        {
          if (up.manual != NULL)
            {
              pt_cli_usage_error ("tunnels “%s” and “%s” are both manual: each reads the other "
                                  "side's block on standard input, so run one at a time",
                                  pt_profile_get_name (up.manual->profile),
                                  pt_profile_get_name (run->profile));
              return PT_EXIT_USAGE;
            }
          up.manual = run;
        }
      if (needs_key (run->profile) && key == NULL)
        {
          g_autoptr(PtSecretString) nsec = secrets
            ? pt_profile_key_file_get_string (secrets, "secrets", "identity/nsec") : NULL;

          if (!pt_cli_load_secret_key (nsec_file, &key))
            return PT_EXIT_FAILURE;
          if (key == NULL && nsec != NULL && (key = pt_secret_key_parse (nsec, &error)) == NULL)
            {
              pt_cli_usage_error ("the key in the secrets file cannot be used: %s", error->message);
              return PT_EXIT_USAGE;
            }
          if (key == NULL)
            {
              pt_cli_usage_error ("tunnel “%s” needs this computer's key: give --nsec-file FILE "
                                  "(make one with “pt keygen --output FILE”) or set PT_NSEC",
                                  pt_profile_get_name (run->profile));
              return PT_EXIT_USAGE;
            }
        }
      if (!pt_profile_validate (run->profile, &error))
        {
          pt_cli_usage_error ("tunnel “%s”: %s", pt_profile_get_name (run->profile), error->message);
          return PT_EXIT_USAGE;
        }
    }
  pt_service_set_default_key (key);

  loop = g_main_loop_new (NULL, FALSE);
  up.loop = loop;
  up.status = PT_EXIT_OK;
  for (guint i = 0; i < up.runs->len; i++)
    {
      Run *run = g_ptr_array_index (up.runs, i);
      PtProfile *profile = run->profile;
      PtService *service = run->service;

      g_signal_connect (service, "notify::running", G_CALLBACK (on_running), run);
      g_signal_connect (service, "notify::tunnel", G_CALLBACK (on_tunnel), run);
      g_signal_connect (service, "notify::vpn-device", G_CALLBACK (on_vpn_device), run);
      g_signal_connect (service, "relay-state", G_CALLBACK (on_relay_state), run);
      g_signal_connect (service, "attempt-failed", G_CALLBACK (on_attempt_failed), run);
      g_signal_connect (service, "request-refused", G_CALLBACK (on_request_refused), run);
      pt_cli_follow_sessions (service, pt_profile_get_name (profile));
      if (run == up.manual)
        {
          g_signal_connect (service, "notify::local-text", G_CALLBACK (on_local_text), run);
          g_signal_connect (pt_service_get_sessions (service), "items-changed",
                            G_CALLBACK (manual_sessions_changed), run);
        }
      RUN_EVENT (run, pt_cli_event ("starting", "mode", mode_name (pt_profile_get_mode (profile)),
                                    "role", role_name (pt_profile_get_role (profile)), NULL));
      if (!pt_service_start (service, &error))
        {
          RUN_EVENT (run, pt_cli_error ("%s", error->message));
          g_clear_error (&error);
          up.status = PT_EXIT_FAILURE;
          continue;
        }
      run->started = TRUE;
      on_tunnel (service, NULL, run);
      if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER && needs_key (profile))
        {
          g_autofree char *npub = pt_public_key_to_npub (pt_secret_key_get_public (key));

          RUN_EVENT (run, pt_cli_event ("listening", "npub", npub, NULL));
        }
    }
  if (up.manual != NULL && up.manual->started)
    {
      /* The client's offer comes first (on_local_text); a server waits for one. */
      if (pt_profile_get_role (up.manual->profile) == PT_TUNNEL_ROLE_SERVER)
        RUN_EVENT (up.manual, pt_cli_info ("paste the client's offer here"));
      pt_cli_read_blocks (manual_block_cb, up.manual);
    }

  pt_cli_on_terminate (G_CALLBACK (terminate), &up);
  for (guint i = 0; i < up.runs->len; i++)
    if (pt_service_get_running (((Run *) g_ptr_array_index (up.runs, i))->service))
      {
        g_main_loop_run (loop);
        break;
      }
  pt_cli_on_terminate (NULL, NULL);
  pt_cli_stop_reading ();

  for (guint i = 0; i < up.runs->len; i++)
    pt_service_stop (((Run *) g_ptr_array_index (up.runs, i))->service);
  g_clear_pointer (&runs, g_ptr_array_unref);
  pt_service_set_default_key (NULL);
  pt_cli_drain ();
  return up.status;
}
