/* pt-cli.h — what the pt subcommands share: options, output, stdin blocks
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "pt.h"

G_BEGIN_DECLS

#define PT_EXIT_OK      0
#define PT_EXIT_FAILURE 1
#define PT_EXIT_USAGE   2

typedef int (*PtCommandFunc) (int argc, char **argv);

typedef struct
{
  const char    *name;
  PtCommandFunc  func;
  const char    *summary;
} PtCommand;

/* Options every tunnel command takes. */
typedef struct
{
  char     **stun_servers;
  gboolean   no_stun;
  char     **turn_servers;
  gboolean   relay_only;
  char      *turn_ca_file;
  char     **local_addresses;
  gboolean   json;
  gboolean   verbose;
  char      *config;
} PtCliCommon;

/* Builds an option context for "pt @command" with the common ICE and output
 * options added as a group; @entries are the command's own. */
GOptionContext *pt_cli_context_new       (const char         *command,
                                          const char         *parameter_string,
                                          const char         *summary,
                                          const char         *description,
                                          const GOptionEntry *entries,
                                          PtCliCommon        *common);
/* Loads --config (if given) into the entries, then parses argv over it.
 * Prints a usage error itself; returns FALSE then (exit with PT_EXIT_USAGE). */
gboolean        pt_cli_parse             (GOptionContext     *context,
                                          const char         *group,
                                          const GOptionEntry *entries,
                                          PtCliCommon        *common,
                                          int                *argc,
                                          char             ***argv);
void            pt_cli_common_clear      (PtCliCommon        *common);
/* --json and -v for a command that parses its options itself (pt up);
 * pt_cli_parse() does this. Engine messages go through pt's output then. */
void            pt_cli_setup_output      (gboolean            json,
                                          gboolean            verbose);
/* NULL after printing a usage error. */
PtIceConfig    *pt_cli_make_ice_config   (PtCliCommon        *common);
/* The same options as @profile's settings; FALSE after a usage error. */
gboolean        pt_cli_profile_set_ice   (PtProfile          *profile,
                                          PtCliCommon        *common);
/* Checks that each --source parses; an exit status (PT_EXIT_OK, or
 * PT_EXIT_USAGE after printing why). */
int             pt_cli_check_sources     (char              **sources);
/* --allowed-tcp and --allowed-udp as a server's policy; says so when they
 * allow nothing. NULL after printing a usage error. */
PtServerPolicy *pt_cli_parse_policy      (char              **allowed_tcp,
                                          char              **allowed_udp);

/* Output: human lines or one JSON object per line, on stderr. */
void            pt_cli_set_json          (gboolean            json);
gboolean        pt_cli_is_json           (void);
void            pt_cli_usage_error       (const char         *format,
                                          ...) G_GNUC_PRINTF (1, 2);
void            pt_cli_error             (const char         *format,
                                          ...) G_GNUC_PRINTF (1, 2);
void            pt_cli_info              (const char         *format,
                                          ...) G_GNUC_PRINTF (1, 2);
/* An event: NULL-terminated key, value pairs; values are strings except keys
 * listed with a leading '#' which take a guint64 (e.g. "#bytes_sent", n). */
void            pt_cli_event             (const char         *event,
                                          const char         *first_key,
                                          ...) G_GNUC_NULL_TERMINATED;
/* A server session's end: "error" if it failed, then "closed" with its counters. */
void            pt_cli_print_session_closed (PtTunnel        *tunnel,
                                          const char         *session);
/* The events the rendezvous objects' signals become, the same for every command. */
void            pt_cli_print_relay_state (const char         *url,
                                          gboolean            connected);
void            pt_cli_print_retry       (const GError       *error,
                                          guint               retry_in);
/* @session "" when the request carried none. */
void            pt_cli_print_refused     (const char         *peer,
                                          const char         *session,
                                          const char         *reason);
void            pt_cli_follow_tunnel     (PtTunnel           *tunnel,
                                          const char         *session);
/* The same, each event saying "tunnel": @name as well (pt up). */
void            pt_cli_follow_tunnel_named (PtTunnel         *tunnel,
                                          const char         *name,
                                          const char         *session);
/* A connecting tunnel is up: "ready ADDRESS" (after "forwarding ADDRESS →
 * SOURCE" in text) for each of @tunnel's listeners, @sources in order. */
void            pt_cli_print_ready       (PtTunnel           *tunnel,
                                          char              **sources);
/* Adding a forward failed: a --target that is no local address is a usage
 * error, anything else a failure. Prints it; the exit status. */
int             pt_cli_report_forward_error (const GError    *error);
/* A serving PtService's sessions: "request" and the session's events as
 * each arrives, "closed" as it goes; @name as pt_cli_follow_tunnel_named()
 * takes it. Until the service is finalized. */
void            pt_cli_follow_sessions   (PtService          *service,
                                          const char         *name);
/* pt up runs several tunnels: events and messages until the restore say
 * which one (JSON "tunnel", text "pt: NAME: …"). Returns the previous name,
 * which pt_cli_restore_event_tunnel() takes back. */
char           *pt_cli_set_event_tunnel  (const char         *name);
void            pt_cli_restore_event_tunnel (char            *previous);

/* Reads armored blocks from standard input, one at a time. */
typedef void (*PtBlockFunc) (const char *block,   /* NULL at end of input */
                             gpointer    user_data);
void            pt_cli_read_blocks       (PtBlockFunc         func,
                                          gpointer            user_data);
void            pt_cli_stop_reading      (void);
/* Writes @text to stdout and flushes it. */
gboolean        pt_cli_write_stdout      (const char         *text);

/* Moves PT_NSEC, PT_ID and PT_AUTH_TOKEN out of the environment (wiping
 * them there), so that no child process inherits them; call first thing. */
void            pt_cli_take_secret_environment (void);
/* The value one of them had, or NULL. */
const char     *pt_cli_get_secret_environment  (const char   *name);

/* Calls @func on SIGINT, SIGTERM and SIGHUP; NULL ignores them from then on. */
void            pt_cli_on_terminate      (GCallback           func,
                                          gpointer            user_data);
/* Lets TURN allocations be released before the process exits. */
void            pt_cli_drain             (void);

/* Shared by the Nostr and VPN commands (pt-cmd-nostr.c). */
/* --nsec-file, else $PT_NSEC; *key NULL when neither is given. FALSE after
 * printing why a key cannot be used. */
gboolean        pt_cli_load_secret_key   (const char         *nsec_file,
                                          PtSecretKey       **key);
/* --auth-token-file (its first token), else $PT_AUTH_TOKEN, else none. */
gboolean        pt_cli_load_client_token (const char         *token_file,
                                          PtSecretString    **token);
gboolean        pt_cli_check_relays      (char              **relays);
/* pt server manual's loop (offers on stdin, answers on stdout) until stdin
 * ends and no session is left, or a signal. */
int             pt_cli_run_manual_server (PtManualServer     *manual);
/* Who may connect to a Nostr server (pt server nostr, pt vpn server):
 * option targets, cleared by pt_cli_nostr_server_options_clear(). */
typedef struct
{
  char      *nsec_file;
  char     **peers;
  gboolean   any_peer;
  char      *token_file;
  int        max_sessions;
  char     **relays;
} PtCliNostrServerOptions;

/* FALSE after printing a usage error (nobody allowed, --any-peer without
 * tokens, a negative --max-sessions, a bad relay URL). */
gboolean        pt_cli_check_nostr_server_options (const PtCliNostrServerOptions *options);
void            pt_cli_nostr_server_options_clear (PtCliNostrServerOptions *options);
/* The admission options of pt server nostr as a serving profile's
 * settings (role serve, mode nostr), and the server's key; FALSE after
 * saying what is wrong (*@status: the exit status). */
gboolean        pt_cli_server_profile_set_admission (PtProfile                     *profile,
                                                     const PtCliNostrServerOptions *options,
                                                     PtSecretKey                  **key,
                                                     int                           *status);
/* Serves @profile (as @key, or the key a shared name gives) until a signal
 * or until it stops by itself; then lets TURN allocations go. */
int             pt_cli_run_server_profile (PtProfile         *profile,
                                           const PtSecretKey *key);
/* Prints what the relays and peers of @service's rendezvous do: relays
 * connecting, attempts failing (connecting), requests refused (serving). */
void            pt_cli_follow_rendezvous (PtService          *service);
/* Why a service stopped by itself (or @otherwise), with what pt can do
 * about it: --allow-overlap for an overlapping VPN network. */
void            pt_cli_print_service_error (const GError    *error,
                                            const char      *otherwise);

int pt_cmd_client (int argc, char **argv);
int pt_cmd_server (int argc, char **argv);
int pt_cmd_demo   (int argc, char **argv);
int pt_cmd_keygen    (int argc, char **argv);
int pt_cmd_show_npub (int argc, char **argv);
int pt_cmd_token     (int argc, char **argv);
int pt_cmd_client_nostr (int argc, char **argv);
int pt_cmd_server_nostr (int argc, char **argv);
int pt_cmd_tcp       (int argc, char **argv);
int pt_cmd_udp       (int argc, char **argv);
int pt_cmd_bind      (int argc, char **argv);
int pt_cmd_vpn       (int argc, char **argv);
int pt_cmd_vpn_server (int argc, char **argv);
int pt_cmd_vpn_client (int argc, char **argv);
int pt_cmd_up        (int argc, char **argv);

G_END_DECLS
