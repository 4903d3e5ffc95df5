/* pt-cli.c — what the pt subcommands share: options, output, stdin blocks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>

#include "pt-cli.h"

static gboolean json_output;
static char *event_tunnel;      /* pt up: the profile the next events are about */

/* Output */

/* Valid JSON whatever @str holds: a byte that is not UTF-8 becomes U+FFFD,
 * and C1 controls are escaped like C0 ones. */
static void
append_json_string (GString    *out,
                    const char *str)
{
  const char *p = str;

  g_string_append_c (out, '"');
  while (*p != '\0')
    {
      gunichar c = g_utf8_get_char_validated (p, -1);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");
          p++;
          continue;
        }
      switch (c)
        {
        case '"':  g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
            g_string_append_printf (out, "\\u%04x", c);
          else
            g_string_append_len (out, p, g_utf8_next_char (p) - p);
        }
      p = g_utf8_next_char (p);
    }
  g_string_append_c (out, '"');
}

/* Text mode: what a relay, a peer or the network chose is shown, never acted
 * on by the terminal (see pt_text_append_escaped()). Every string a line
 * holds goes through here, ours too: an error message often quotes the
 * peer's words. */
#define MESSAGE_MAX_SHOWN (4 * PT_TEXT_MAX_SHOWN)

static void
write_stderr_line (GString *line)
{
  g_string_append_c (line, '\n');
  fwrite (line->str, 1, line->len, stderr);
  fflush (stderr);
}

void
pt_cli_set_json (gboolean json)
{
  json_output = json;
}

gboolean
pt_cli_is_json (void)
{
  return json_output;
}

char *
pt_cli_set_event_tunnel (const char *name)
{
  char *previous = event_tunnel;

  event_tunnel = g_strdup (name);
  return previous;
}

void
pt_cli_restore_event_tunnel (char *previous)
{
  g_free (event_tunnel);
  event_tunnel = previous;
}

#define FIELD(name) ((const char *) g_hash_table_lookup (fields, name))

/* One readable line per event: "pt: up via a host path [session 1a2b…]". */
static void
format_human (GString    *line,
              const char *event,
              GHashTable *fields)
{
  g_string_append (line, "pt: ");
  if (event_tunnel != NULL)
    {
      pt_text_append_escaped (line, event_tunnel, PT_TEXT_MAX_SHOWN);
      g_string_append (line, ": ");
    }

  if (g_str_equal (event, "state"))
    {
      g_string_append (line, FIELD ("state"));
      if (FIELD ("path") != NULL)
        g_string_append_printf (line, " via a %s path", FIELD ("path"));
    }
  else if (g_str_equal (event, "offer"))
    g_string_append_printf (line, "offer asks for %s", FIELD ("forward"));
  else if (g_str_equal (event, "rejected"))
    g_string_append_printf (line, "refused %s: %s", FIELD ("forward"), FIELD ("reason"));
  else if (g_str_equal (event, "closed"))
    {
      g_string_append_printf (line, "closed after carrying %s bytes out and %s bytes in",
                              FIELD ("bytes_sent"), FIELD ("bytes_received"));
      if (FIELD ("refused") != NULL && !g_str_equal (FIELD ("refused"), "0"))
        g_string_append_printf (line, "; %s connections refused (limits reached)", FIELD ("refused"));
    }
  else if (g_str_equal (event, "error"))
    g_string_append_printf (line, "error: %s", FIELD ("message"));
  else if (g_str_equal (event, "ready"))
    g_string_append_printf (line, "ready %s", FIELD ("listen"));
  else if (g_str_equal (event, "path"))
    g_string_append_printf (line, "now via a %s path", FIELD ("path"));
  else if (g_str_equal (event, "relay"))
    g_string_append_printf (line, "relay %s %s", FIELD ("url"), FIELD ("state"));
  else if (g_str_equal (event, "listening"))
    g_string_append_printf (line, "waiting for clients of %s", FIELD ("npub"));
  else if (g_str_equal (event, "request"))
    g_string_append_printf (line, "request from %s", FIELD ("peer"));
  else if (g_str_equal (event, "refused"))
    g_string_append_printf (line, "%s %s", FIELD ("peer"), FIELD ("reason"));
  else if (g_str_equal (event, "starting"))
    g_string_append_printf (line, "starting (%s mode, %s)", FIELD ("mode"), FIELD ("role"));
  else if (g_str_equal (event, "stopped"))
    g_string_append (line, "stopped");
  else if (g_str_equal (event, "retry"))
    g_string_append_printf (line, "%s; trying again in %s s", FIELD ("message"), FIELD ("in_seconds"));
  else
    g_string_append_printf (line, "%s %s", event, FIELD ("message") ? FIELD ("message") : "");

  if (FIELD ("session") != NULL)
    g_string_append_printf (line, " [session %s]", FIELD ("session"));
}

#undef FIELD

static void
emit_vevent (const char *event,
             const char *first_key,
             va_list     args)
{
  g_autoptr(GString) line = g_string_new (NULL);

  if (json_output)
    {
      g_string_append (line, "{\"event\":");
      append_json_string (line, event);
      if (event_tunnel != NULL)
        {
          g_string_append (line, ",\"tunnel\":");
          append_json_string (line, event_tunnel);
        }
      for (const char *key = first_key; key != NULL; key = va_arg (args, const char *))
        {
          g_string_append_c (line, ',');
          if (key[0] == '#')
            {
              append_json_string (line, key + 1);
              g_string_append_printf (line, ":%" G_GUINT64_FORMAT, va_arg (args, guint64));
            }
          else
            {
              const char *value = va_arg (args, const char *);

              append_json_string (line, key);
              g_string_append_c (line, ':');
              append_json_string (line, value ? value : "");
            }
        }
      g_string_append_c (line, '}');
    }
  else
    {
      g_autoptr(GHashTable) fields = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);

      for (const char *key = first_key; key != NULL; key = va_arg (args, const char *))
        {
          if (key[0] == '#')
            g_hash_table_insert (fields, (gpointer) (key + 1),
                                 g_strdup_printf ("%" G_GUINT64_FORMAT, va_arg (args, guint64)));
          else
            {
              const char *value = va_arg (args, const char *);

              g_hash_table_insert (fields, (gpointer) key,
                                   value ? pt_text_escape (value, PT_TEXT_MAX_SHOWN) : NULL);
            }
        }
      format_human (line, event, fields);
    }
  write_stderr_line (line);
}

void
pt_cli_event (const char *event,
              const char *first_key,
              ...)
{
  va_list args;

  va_start (args, first_key);
  emit_vevent (event, first_key, args);
  va_end (args);
}

static void
message_line (const char *event,
              const char *prefix,
              const char *message)
{
  if (json_output)
    pt_cli_event (event, "message", message, NULL);
  else
    {
      g_autoptr(GString) line = g_string_new ("pt: ");

      /* "pt: Office: error: …" when pt up says which tunnel */
      if (event_tunnel != NULL)
        {
          pt_text_append_escaped (line, event_tunnel, PT_TEXT_MAX_SHOWN);
          g_string_append (line, ": ");
        }
      g_string_append (line, prefix);
      pt_text_append_escaped (line, message, MESSAGE_MAX_SHOWN);
      write_stderr_line (line);
    }
}

static void
message_linev (const char *event,
               const char *prefix,
               const char *format,
               va_list     args)
{
  g_autofree char *message = g_strdup_vprintf (format, args);

  message_line (event, prefix, message);
}

void
pt_cli_usage_error (const char *format,
                    ...)
{
  va_list args;

  va_start (args, format);
  message_linev ("error", "", format, args);
  va_end (args);
}

void
pt_cli_error (const char *format,
              ...)
{
  va_list args;

  va_start (args, format);
  message_linev ("error", "error: ", format, args);
  va_end (args);
}

void
pt_cli_info (const char *format,
             ...)
{
  va_list args;

  va_start (args, format);
  message_linev ("info", "", format, args);
  va_end (args);
}

/* Engine log messages become lines of the same output format. */
static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  const char *domain = NULL, *message = NULL;
  const char *level_name;
  g_autoptr(GString) line = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  if ((level & G_LOG_LEVEL_DEBUG) && !g_log_writer_default_would_drop (level, domain))
    level_name = "debug";
  else if (level & G_LOG_LEVEL_DEBUG)
    return G_LOG_WRITER_HANDLED;
  else if (level & G_LOG_LEVEL_INFO)
    {
      if (g_log_writer_default_would_drop (level, domain))
        return G_LOG_WRITER_HANDLED;
      level_name = "info";
    }
  else if (level & G_LOG_LEVEL_MESSAGE)
    level_name = "message";
  else if (level & G_LOG_LEVEL_WARNING)
    level_name = "warning";
  else
    return g_log_writer_standard_streams (level, fields, n_fields, user_data);

  line = g_string_new (NULL);
  if (json_output)
    {
      g_string_append (line, "{\"event\":\"log\",\"level\":");
      append_json_string (line, level_name);
      g_string_append (line, ",\"domain\":");
      append_json_string (line, domain ? domain : "");
      g_string_append (line, ",\"message\":");
      append_json_string (line, message ? message : "");
      g_string_append_c (line, '}');
    }
  else
    {
      g_string_append_printf (line, "pt: %s%s", level_name, domain ? " " : "");
      pt_text_append_escaped (line, domain, PT_TEXT_MAX_SHOWN);
      g_string_append (line, ": ");
      pt_text_append_escaped (line, message, MESSAGE_MAX_SHOWN);
    }
  write_stderr_line (line);
  return G_LOG_WRITER_HANDLED;
}

/* Options */

static const char ice_description[] =
  "Connectivity options:\n"
  "  STUN finds this machine's public address; TURN relays the traffic when no direct\n"
  "  path works. Without --stun-server or --no-stun, public STUN servers are used\n"
  "  (an unreachable one costs at most a few seconds).\n";

/* The options every tunnel command shares, pointing into @common. */
static GOptionEntry *
common_entries (PtCliCommon *common)
{
  const GOptionEntry entries[] = {
    { "stun-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &common->stun_servers,
      "STUN server to learn the public address from (repeatable; the first to answer is used)",
      "HOST:PORT" },
    { "no-stun", 0, 0, G_OPTION_ARG_NONE, &common->no_stun,
      "Use no STUN server (LAN, offline)", NULL },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &common->turn_servers,
      "TURN relay, turn://USER:PASS@HOST:PORT[?transport=tcp] or turns://… (repeatable; "
      "visible to other local users on the command line: prefer --config)", "URL" },
    { "turn-ca-file", 0, 0, G_OPTION_ARG_FILENAME, &common->turn_ca_file,
      "Trust the CA certificates in FILE (PEM) for turns:// servers instead of the system's",
      "FILE" },
    { "relay-only", 0, 0, G_OPTION_ARG_NONE, &common->relay_only,
      "Only use TURN-relayed paths (hides this machine's addresses from the peer)", NULL },
    { "local-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &common->local_addresses,
      "Offer host candidates only from this local address (repeatable)", "ADDR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &common->json,
      "Print events on stderr as one JSON object per line", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &common->verbose,
      "Print the engine's debug messages", NULL },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &common->config,
      "Read options from FILE (key file; the command line overrides it)", "FILE" },
    { NULL }
  };

  return g_memdup2 (entries, sizeof entries);
}

GOptionContext *
pt_cli_context_new (const char         *command,
                    const char         *parameter_string,
                    const char         *summary,
                    const char         *description,
                    const GOptionEntry *entries,
                    PtCliCommon        *common)
{
  g_autofree GOptionEntry *shared = common_entries (common);
  g_autofree char *full = g_strdup_printf ("%s%s%s", parameter_string ? parameter_string : "",
                                           parameter_string ? " — " : "", summary);
  g_autofree char *prgname = g_strdup_printf ("pt %s", command);
  g_autofree char *all_description = g_strconcat (description, "\n", ice_description, NULL);
  GOptionContext *context = g_option_context_new (full);

  g_set_prgname (prgname);
  g_option_context_set_description (context, all_description);
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_main_entries (context, shared, NULL);
  return context;
}

static gsize
count_entries (const GOptionEntry *entries)
{
  gsize n = 0;

  while (entries[n].long_name != NULL)
    n++;
  return n;
}

/* Copies what the file set into options the command line left alone. */
static void
merge_shadow (const GOptionEntry *real,
              const GOptionEntry *shadow)
{
  switch (real->arg)
    {
    case G_OPTION_ARG_NONE:
      *(gboolean *) real->arg_data |= *(gboolean *) shadow->arg_data;
      break;
    case G_OPTION_ARG_STRING:
    case G_OPTION_ARG_FILENAME:
      if (*(char **) real->arg_data == NULL && *(char **) shadow->arg_data != NULL)
        *(char **) real->arg_data = g_strdup (*(char **) shadow->arg_data);
      break;
    case G_OPTION_ARG_STRING_ARRAY:
    case G_OPTION_ARG_FILENAME_ARRAY:
      if (*(char ***) real->arg_data == NULL && *(char ***) shadow->arg_data != NULL)
        *(char ***) real->arg_data = g_strdupv (*(char ***) shadow->arg_data);
      break;
    case G_OPTION_ARG_INT:
      if (*(int *) real->arg_data == 0)
        *(int *) real->arg_data = *(int *) shadow->arg_data;
      break;
    case G_OPTION_ARG_CALLBACK:
    case G_OPTION_ARG_DOUBLE:
    case G_OPTION_ARG_INT64:
      break;
    }
}

static char *
find_config_arg (int    argc,
                 char **argv)
{
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--"))
        break;
      if (g_str_equal (argv[i], "--config") && i + 1 < argc)
        return argv[i + 1];
      if (g_str_has_prefix (argv[i], "--config="))
        return argv[i] + strlen ("--config=");
    }
  return NULL;
}

gboolean
pt_cli_parse (GOptionContext     *context,
              const char         *group,
              const GOptionEntry *entries,
              PtCliCommon        *common,
              int                *argc,
              char             ***argv)
{
  g_autoptr(GError) error = NULL;
  const char *config_path = find_config_arg (*argc, *argv);
  g_autoptr(GKeyFile) key_file = NULL;
  g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func (g_free);
  g_autofree GOptionEntry *all = NULL;
  g_autofree GOptionEntry *shadow = NULL;
  g_autofree guint64 *slots = NULL;
  gsize n_cmd = count_entries (entries);
  gsize n;

  /* Every option, command and common, in one table: the file may set any of
   * them but --config itself. */
  {
    g_autofree GOptionEntry *shared = common_entries (common);
    gsize n_shared = count_entries (shared);

    all = g_new0 (GOptionEntry, n_cmd + n_shared + 1);
    memcpy (all, entries, n_cmd * sizeof (GOptionEntry));
    n = n_cmd;
    for (gsize i = 0; i < n_shared; i++)
      if (!g_str_equal (shared[i].long_name, "config"))
        all[n++] = shared[i];
  }

  if (config_path != NULL)
    {
      key_file = pt_config_load (config_path, &error);
      if (key_file == NULL)
        {
          pt_cli_usage_error ("%s", error->message);
          return FALSE;
        }

      /* The file fills a shadow copy; the command line then wins per option. */
      shadow = g_memdup2 (all, (n + 1) * sizeof (GOptionEntry));
      slots = g_new0 (guint64, n);
      for (gsize i = 0; i < n; i++)
        shadow[i].arg_data = &slots[i];

      if (!pt_config_apply (key_file, config_path, group, shadow, owned, &error))
        {
          pt_cli_usage_error ("%s", error->message);
          return FALSE;
        }
    }

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      pt_cli_usage_error ("%s (see “%s --help”)", error->message, g_get_prgname ());
      return FALSE;
    }

  if (shadow != NULL)
    for (gsize i = 0; i < n; i++)
      merge_shadow (&all[i], &shadow[i]);

  pt_cli_setup_output (common->json, common->verbose);
  return TRUE;
}

void
pt_cli_setup_output (gboolean json,
                     gboolean verbose)
{
  pt_cli_set_json (json);
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);
}

void
pt_cli_common_clear (PtCliCommon *common)
{
  g_clear_pointer (&common->stun_servers, g_strfreev);
  g_clear_pointer (&common->turn_servers, g_strfreev);
  g_clear_pointer (&common->local_addresses, g_strfreev);
  g_clear_pointer (&common->turn_ca_file, g_free);
  g_clear_pointer (&common->config, g_free);
}

PtIceConfig *
pt_cli_make_ice_config (PtCliCommon *common)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();
  g_autoptr(GError) error = NULL;

  if (common->no_stun && common->stun_servers != NULL)
    {
      pt_cli_usage_error ("--no-stun and --stun-server contradict each other: use one");
      return NULL;
    }

  if (common->stun_servers != NULL)
    {
      for (guint i = 0; common->stun_servers[i] != NULL; i++)
        if (!pt_ice_config_add_stun_server (config, common->stun_servers[i], &error))
          goto usage;
    }
  else if (!common->no_stun)
    {
      for (guint i = 0; pt_default_stun_servers[i] != NULL; i++)
        pt_ice_config_add_stun_server (config, pt_default_stun_servers[i], NULL);
    }

  for (guint i = 0; common->turn_servers && common->turn_servers[i]; i++)
    if (!pt_ice_config_add_turn_server (config, common->turn_servers[i], &error))
      goto usage;

  for (guint i = 0; common->local_addresses && common->local_addresses[i]; i++)
    if (!pt_ice_config_add_local_address (config, common->local_addresses[i], &error))
      goto usage;

  if (common->relay_only && pt_ice_config_get_turn_servers (config)->len == 0)
    {
      pt_cli_usage_error ("--relay-only needs at least one --turn server");
      return NULL;
    }
  pt_ice_config_set_relay_only (config, common->relay_only);
  pt_ice_config_set_turn_ca_file (config, common->turn_ca_file);

  return g_steal_pointer (&config);

usage:
  pt_cli_usage_error ("%s", error->message);
  return NULL;
}

gboolean
pt_cli_profile_set_ice (PtProfile   *profile,
                        PtCliCommon *common)
{
  g_autoptr(PtIceConfig) checked = pt_cli_make_ice_config (common);

  if (checked == NULL)
    return FALSE;
  pt_profile_set_ice (profile, (const char * const *) common->stun_servers,
                      (const char * const *) common->turn_servers,
                      (const char * const *) common->local_addresses, common->no_stun);
  g_object_set (profile, "relay-only", common->relay_only, "turn-ca-file", common->turn_ca_file,
                NULL);
  return TRUE;
}

static PtAllowList *
parse_allow_list (char       **cidrs,
                  const char  *option)
{
  g_autoptr(PtAllowList) list = pt_allow_list_new ();

  for (guint i = 0; cidrs && cidrs[i]; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!pt_allow_list_add (list, cidrs[i], &error))
        {
          pt_cli_usage_error ("%s: %s", option, error->message);
          return NULL;
        }
    }
  return g_steal_pointer (&list);
}

PtServerPolicy *
pt_cli_parse_policy (char **allowed_tcp,
                     char **allowed_udp)
{
  g_autoptr(PtAllowList) tcp = parse_allow_list (allowed_tcp, "--allowed-tcp");
  g_autoptr(PtAllowList) udp = tcp ? parse_allow_list (allowed_udp, "--allowed-udp") : NULL;
  PtServerPolicy *policy;

  if (udp == NULL)
    return NULL;
  if (pt_allow_list_is_empty (tcp) && pt_allow_list_is_empty (udp))
    pt_cli_info ("nothing is allowed (no --allowed-tcp or --allowed-udp): every forward "
                 "will be refused");
  policy = pt_server_policy_new ();
  pt_server_policy_set_allow_list (policy, PT_PROTO_TCP, tcp);
  pt_server_policy_set_allow_list (policy, PT_PROTO_UDP, udp);
  return policy;
}

int
pt_cli_report_forward_error (const GError *error)
{
  if (g_error_matches (error, PT_TUNNEL_ERROR, PT_TUNNEL_ERROR_LISTEN) &&
      strstr (error->message, "not a local listen address") != NULL)
    {
      pt_cli_usage_error ("--target: %s", error->message);
      return PT_EXIT_USAGE;
    }
  pt_cli_error ("%s", error->message);
  return PT_EXIT_FAILURE;
}

static void
rendezvous_relay_state (PtService  *service,
                        const char *url,
                        gboolean    connected,
                        gpointer    unused)
{
  pt_cli_print_relay_state (url, connected);
}

static void
rendezvous_attempt_failed (PtService *service,
                           GError    *error,
                           guint      retry_in,
                           gpointer   unused)
{
  pt_cli_print_retry (error, retry_in);
}

static void
rendezvous_request_refused (PtService  *service,
                            const char *peer_npub,
                            const char *session,
                            const char *reason,
                            gpointer    unused)
{
  pt_cli_print_refused (peer_npub, session, reason);
}

void
pt_cli_follow_rendezvous (PtService *service)
{
  g_signal_connect (service, "relay-state", G_CALLBACK (rendezvous_relay_state), NULL);
  g_signal_connect (service, "attempt-failed", G_CALLBACK (rendezvous_attempt_failed), NULL);
  g_signal_connect (service, "request-refused", G_CALLBACK (rendezvous_request_refused), NULL);
}

void
pt_cli_print_service_error (const GError *error,
                            const char   *otherwise)
{
  if (error == NULL)
    pt_cli_error ("%s", otherwise);
  else if (g_error_matches (error, PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP))
    pt_cli_error ("%s If it should go through the VPN anyway, allow the overlap "
                  "(--allow-overlap)", error->message);
  else
    pt_cli_error ("%s", error->message);
}

void
pt_cli_print_ready (PtTunnel  *tunnel,
                    char     **sources)
{
  g_autoptr(GPtrArray) addresses = pt_tunnel_dup_listen_addresses (tunnel);

  for (guint i = 0; i < addresses->len; i++)
    {
      const char *addr = g_ptr_array_index (addresses, i);

      if (pt_cli_is_json ())
        pt_cli_event ("ready", "listen", addr, "source", sources[i], NULL);
      else
        {
          /* Scripts wait for exactly this line. */
          g_printerr ("forwarding %s → %s\n", addr, sources[i]);
          g_printerr ("ready %s\n", addr);
        }
    }
}

int
pt_cli_check_sources (char **sources)
{
  for (guint i = 0; sources[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (sources[i], &error);

      if (spec == NULL)
        {
          pt_cli_usage_error ("--source: %s", error->message);
          return PT_EXIT_USAGE;
        }
    }
  return PT_EXIT_OK;
}

/* Tunnel events */

/* What every event of one followed tunnel carries: the profile's name
 * (pt up) and the server session, each or both NULL. */
typedef struct
{
  char *tunnel;
  char *session;
} Label;

static void
label_free (Label *label)
{
  g_free (label->tunnel);
  g_free (label->session);
  g_free (label);
}

static void tunnel_data_path_cb (PtTunnel    *tunnel,
                                 GParamSpec  *pspec,
                                 const Label *label);

static void
tunnel_state_cb (PtTunnel    *tunnel,
                 GParamSpec  *pspec,
                 const Label *label)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);
  PtPathKind path = pt_tunnel_get_path_kind (tunnel);
  const char *path_str = path == PT_PATH_KIND_NONE ? NULL : pt_path_kind_to_string (path);
  const char *session = label->session;
  char *outer = pt_cli_set_event_tunnel (label->tunnel);

  if (session != NULL && path_str != NULL)
    pt_cli_event ("state", "state", pt_tunnel_state_to_string (state), "path", path_str,
                  "session", session, NULL);
  else if (session != NULL)
    pt_cli_event ("state", "state", pt_tunnel_state_to_string (state), "session", session, NULL);
  else if (path_str != NULL)
    pt_cli_event ("state", "state", pt_tunnel_state_to_string (state), "path", path_str, NULL);
  else
    pt_cli_event ("state", "state", pt_tunnel_state_to_string (state), NULL);
  pt_cli_restore_event_tunnel (outer);

  if (state == PT_TUNNEL_STATE_UP)
    tunnel_data_path_cb (tunnel, NULL, label);
}

static void
tunnel_rejected_cb (PtTunnel    *tunnel,
                    const char  *forward,
                    const char  *reason,
                    const Label *label)
{
  char *outer = pt_cli_set_event_tunnel (label->tunnel);

  pt_cli_event ("rejected", "forward", forward, "reason", reason,
                label->session ? "session" : NULL, label->session, NULL);
  pt_cli_restore_event_tunnel (outer);
}

/* A path that changes once the tunnel is up (relayed → direct). */
static void
tunnel_path_cb (PtTunnel    *tunnel,
                GParamSpec  *pspec,
                const Label *label)
{
  PtPathKind path = pt_tunnel_get_path_kind (tunnel);
  char *outer;

  if (pt_tunnel_get_state (tunnel) != PT_TUNNEL_STATE_UP || path == PT_PATH_KIND_NONE)
    return;
  outer = pt_cli_set_event_tunnel (label->tunnel);
  pt_cli_event ("path", "path", pt_path_kind_to_string (path),
                label->session ? "session" : NULL, label->session, NULL);
  pt_cli_restore_event_tunnel (outer);
}

/* JSON only (text mode has -v's debug line): what carries the packets,
 * once the tunnel is up and whenever it changes after that. */
static void
tunnel_data_path_cb (PtTunnel    *tunnel,
                     GParamSpec  *pspec,
                     const Label *label)
{
  const char *data_path = pt_tunnel_get_data_path (tunnel);
  const char *session = label->session;
  g_auto(GStrv) parts = NULL;
  char *outer;

  if (!pt_cli_is_json () || data_path == NULL ||
      pt_tunnel_get_state (tunnel) != PT_TUNNEL_STATE_UP)
    return;
  /* "fast (gso+gro)" → data_path "fast", mode "gso+gro" */
  parts = g_strsplit_set (data_path, " ()", -1);
  outer = pt_cli_set_event_tunnel (label->tunnel);
  if (g_strv_length (parts) >= 3 && *parts[2] != '\0')
    pt_cli_event ("data-path", "data_path", parts[0], "mode", parts[2],
                  session ? "session" : NULL, session, NULL);
  else
    pt_cli_event ("data-path", "data_path", parts[0], session ? "session" : NULL, session, NULL);
  pt_cli_restore_event_tunnel (outer);
}

void
pt_cli_follow_tunnel_named (PtTunnel   *tunnel,
                            const char *name,
                            const char *session)
{
  Label *label = g_new0 (Label, 1);

  label->tunnel = g_strdup (name);
  label->session = g_strdup (session);
  /* The tunnel owns its label: the handlers go with it. */
  g_object_set_data_full (G_OBJECT (tunnel), "pt-cli-label", label, (GDestroyNotify) label_free);
  g_object_set_data_full (G_OBJECT (tunnel), "pt-cli-session", g_strdup (session), g_free);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (tunnel_state_cb), label);
  g_signal_connect (tunnel, "notify::path-kind", G_CALLBACK (tunnel_path_cb), label);
  g_signal_connect (tunnel, "notify::data-path", G_CALLBACK (tunnel_data_path_cb), label);
  g_signal_connect (tunnel, "forward-rejected", G_CALLBACK (tunnel_rejected_cb), label);
}

/* A server's session ended: why, if it failed, and what it carried. */
void
pt_cli_print_session_closed (PtTunnel   *tunnel,
                             const char *session)
{
  if (pt_tunnel_get_state (tunnel) == PT_TUNNEL_STATE_FAILED)
    pt_cli_event ("error", "message", pt_tunnel_get_error (tunnel)->message,
                  "session", session, NULL);
  pt_cli_event ("closed", "session", session,
                "#bytes_sent", pt_tunnel_get_bytes_sent (tunnel),
                "#bytes_received", pt_tunnel_get_bytes_received (tunnel),
                "#refused", pt_tunnel_get_refused_connections (tunnel),
                NULL);
}

void
pt_cli_print_relay_state (const char *url,
                          gboolean    connected)
{
  pt_cli_event ("relay", "url", url, "state", connected ? "connected" : "disconnected", NULL);
}

void
pt_cli_print_retry (const GError *error,
                    guint         retry_in)
{
  g_autofree char *seconds = g_strdup_printf ("%u", retry_in);

  pt_cli_event ("retry", "message", error->message, "in_seconds", seconds, NULL);
}

void
pt_cli_print_refused (const char *peer,
                      const char *session,
                      const char *reason)
{
  pt_cli_event ("refused", "peer", peer, "reason", reason,
                *session ? "session" : NULL, session, NULL);
}

void
pt_cli_follow_tunnel (PtTunnel   *tunnel,
                      const char *session)
{
  pt_cli_follow_tunnel_named (tunnel, NULL, session);
}

/* Server sessions */

typedef struct
{
  GPtrArray *sessions;   /* mirror of the model: who left is gone from it */
  char      *name;
} SessionFollower;

static void
session_follower_free (SessionFollower *follower)
{
  g_ptr_array_unref (follower->sessions);
  g_free (follower->name);
  g_free (follower);
}

static void
on_sessions_changed (GListModel      *sessions,
                     guint            position,
                     guint            removed,
                     guint            added,
                     SessionFollower *follower)
{
  char *outer = pt_cli_set_event_tunnel (follower->name);

  for (guint i = 0; i < removed; i++)
    {
      PtPeerSession *session = g_ptr_array_index (follower->sessions, position + i);

      pt_cli_print_session_closed (pt_peer_session_get_tunnel (session),
                                   pt_peer_session_get_id (session));
    }
  g_ptr_array_remove_range (follower->sessions, position, removed);
  for (guint i = 0; i < added; i++)
    {
      PtPeerSession *session = g_list_model_get_item (sessions, position + i);
      const char *peer = pt_peer_session_get_peer (session);

      g_ptr_array_insert (follower->sessions, (int) (position + i), session);
      pt_cli_event ("request", "peer", peer ? peer : "", "session",
                    pt_peer_session_get_id (session), NULL);
      pt_cli_follow_tunnel_named (pt_peer_session_get_tunnel (session), follower->name,
                                  pt_peer_session_get_id (session));
    }
  pt_cli_restore_event_tunnel (outer);
}

void
pt_cli_follow_sessions (PtService  *service,
                        const char *name)
{
  SessionFollower *follower = g_new0 (SessionFollower, 1);

  follower->sessions = g_ptr_array_new_with_free_func (g_object_unref);
  follower->name = g_strdup (name);
  g_object_set_data_full (G_OBJECT (service), "pt-cli-sessions", follower,
                          (GDestroyNotify) session_follower_free);
  g_signal_connect (pt_service_get_sessions (service), "items-changed",
                    G_CALLBACK (on_sessions_changed), follower);
}

/* Standard input */

#define READ_CHUNK 16384

typedef struct
{
  GInputStream  *input;
  GCancellable  *cancellable;
  PtBlockReader *blocks;
  guint8         buffer[READ_CHUNK];
  PtBlockFunc    func;
  gpointer       user_data;
} BlockReader;

static BlockReader *reader;

static void read_next_chunk (BlockReader *r);

static void
reader_free (BlockReader *r)
{
  g_clear_object (&r->input);
  g_clear_object (&r->cancellable);
  g_clear_pointer (&r->blocks, pt_block_reader_free);
  g_free (r);
}

/* Hands what the bytes so far made to the callback; FALSE once the callback
 * stopped the reading (then @r is freed). */
static gboolean
dispatch (BlockReader *r)
{
  PtBlockReaderItem item;
  char *text;

  while (pt_block_reader_next (r->blocks, &item, &text))
    {
      g_autofree char *owned = text;

      switch (item)
        {
        case PT_BLOCK_READER_WARNING:
          pt_cli_info ("warning: %s", owned);
          continue;
        case PT_BLOCK_READER_ERROR:
          pt_cli_error ("%s", owned);
          continue;
        case PT_BLOCK_READER_BLOCK:
        case PT_BLOCK_READER_TRUNCATED:
          /* A truncated block is handed over too: the decoder says what is missing. */
          r->func (owned, r->user_data);
          if (reader != r)
            {
              /* Stopped from the callback: no read is pending to free it. */
              reader_free (r);
              return FALSE;
            }
          continue;
        }
    }
  return TRUE;
}

static void
chunk_read_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  BlockReader *r = user_data;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || reader != r)
    {
      reader_free (r);
      return;
    }

  if (n > 0)
    {
      pt_block_reader_feed (r->blocks, r->buffer, n);
      if (dispatch (r))
        read_next_chunk (r);
      return;
    }

  /* The end of the input, or an error that ends it. */
  if (error != NULL)
    pt_cli_error ("cannot read standard input: %s", error->message);
  pt_block_reader_end (r->blocks);
  if (dispatch (r))
    {
      PtBlockFunc func = r->func;
      gpointer data = r->user_data;

      reader = NULL;
      reader_free (r);
      func (NULL, data);
    }
}

static void
read_next_chunk (BlockReader *r)
{
  g_input_stream_read_async (r->input, r->buffer, sizeof r->buffer, G_PRIORITY_DEFAULT,
                             r->cancellable, chunk_read_cb, r);
}

void
pt_cli_read_blocks (PtBlockFunc func,
                    gpointer    user_data)
{
  g_return_if_fail (reader == NULL);

  reader = g_new0 (BlockReader, 1);
  reader->input = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  reader->cancellable = g_cancellable_new ();
  reader->blocks = pt_block_reader_new ();
  reader->func = func;
  reader->user_data = user_data;
  read_next_chunk (reader);
}

void
pt_cli_stop_reading (void)
{
  if (reader == NULL)
    return;
  g_cancellable_cancel (reader->cancellable);
  reader = NULL; /* freed by the cancelled read's callback, or by dispatch() */
}

gboolean
pt_cli_write_stdout (const char *text)
{
  gsize len = strlen (text);

  if (fwrite (text, 1, len, stdout) != len || fflush (stdout) != 0)
    {
      pt_cli_error ("cannot write to standard output: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* Secrets from the environment */

static const char * const secret_variables[] = { "PT_NSEC", "PT_ID", "PT_AUTH_TOKEN" };
static PtSecretString *secret_values[G_N_ELEMENTS (secret_variables)];

extern char **environ;

void
pt_cli_take_secret_environment (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (secret_variables); i++)
    {
      const char *name = secret_variables[i];
      gsize name_len = strlen (name);

      if (g_getenv (name) == NULL)
        continue;
      pt_secret_string_free (secret_values[i]);
      secret_values[i] = g_strdup (g_getenv (name));

      /* The bytes themselves too: the initial environment stays in memory
       * (and in /proc/PID/environ) after unsetenv() drops the pointer. */
      for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp (*e, name, name_len) == 0 && (*e)[name_len] == '=')
          explicit_bzero (*e + name_len + 1, strlen (*e + name_len + 1));
      g_unsetenv (name);
      g_debug ("took %s from the environment; child processes do not inherit it", name);
    }
}

const char *
pt_cli_get_secret_environment (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (secret_variables); i++)
    if (g_str_equal (name, secret_variables[i]))
      return secret_values[i];
  g_return_val_if_reached (NULL);
}

/* Process */

typedef struct
{
  GCallback func;
  gpointer  user_data;
} TerminateHandler;

static TerminateHandler terminate_handler;

static gboolean
terminate_cb (gpointer user_data)
{
  if (terminate_handler.func != NULL)
    ((void (*) (gpointer)) terminate_handler.func) (terminate_handler.user_data);
  return G_SOURCE_CONTINUE;
}

void
pt_cli_on_terminate (GCallback func,
                     gpointer  user_data)
{
  static gboolean installed;

  terminate_handler.func = func;
  terminate_handler.user_data = user_data;
  if (!installed)
    {
      installed = TRUE;
      g_unix_signal_add (SIGINT, terminate_cb, NULL);
      g_unix_signal_add (SIGTERM, terminate_cb, NULL);
      g_unix_signal_add (SIGHUP, terminate_cb, NULL);
    }
}

static gboolean
drain_deadline_cb (gpointer user_data)
{
  gboolean *expired = user_data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

void
pt_cli_drain (void)
{
  gboolean expired = FALSE;
  guint deadline = g_timeout_add (2000, drain_deadline_cb, &expired);

  while (pt_tunnel_is_anything_closing () && !expired)
    g_main_context_iteration (NULL, TRUE);

  if (!expired)
    g_source_remove (deadline);
  /* Let sources freed during the close run their destructors. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}
