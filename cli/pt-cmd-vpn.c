/* pt-cmd-vpn.c — pt vpn server, pt vpn client
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Whole networks through a Nostr-paired tunnel. Both sides get their TUN
 * device from peertunnel-tun-helper (directly when run as root, otherwise
 * through pkexec): pt itself never needs privileges.
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pt-cli.h"

#define DEFAULT_MTU      1400

/* ---------------------------------------------------------------------- */
/* Opening a TUN device synchronously (from a command, before or inside the loop) */

typedef struct
{
  gboolean  done;
  int       fd;
  char     *ifname;
  GError   *error;
} TunResult;

static void
tun_opened_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  TunResult *r = user_data;

  r->fd = pt_tun_open_finish (result, &r->ifname, &r->error);
  r->done = TRUE;
}

static int
open_tun (guint                mtu,
          const char          *address4,
          const char          *address6,
          const char * const  *routes,
          PtTunFlags           flags,
          char               **ifname,
          GError             **error)
{
  TunResult r = { FALSE, -1, NULL, NULL };

  pt_tun_open_async (NULL, mtu, address4, address6, routes, flags, NULL, tun_opened_cb, &r);
  while (!r.done)
    g_main_context_iteration (NULL, TRUE);
  if (r.fd < 0)
    {
      /* The engine names the overlap; the option to allow it is ours. */
      if (g_error_matches (r.error, PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP))
        {
          GError *hinted = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP,
                                        "%s. If it should go through the VPN anyway, "
                                        "allow the overlap (--allow-overlap)", r.error->message);

          g_clear_error (&r.error);
          r.error = hinted;
        }
      g_propagate_error (error, r.error);
      return -1;
    }
  *ifname = r.ifname;
  return r.fd;
}

/* ---------------------------------------------------------------------- */
/* Server */

static const char server_description[] =
  "Routes the network NETWORK (the server takes its first address) between this\n"
  "machine and the clients that connect through Nostr relays; each client gets\n"
  "the next free address, and the same one again when it comes back. Clients\n"
  "reach each other through the server. Packets whose source is not the\n"
  "client's address are dropped. Who may connect: as for “pt server nostr”\n"
  "(--peer-npub, or --any-peer with --auth-token-file).\n"
  "\n"
  "The TUN device comes from peertunnel-tun-helper: run as root, or pkexec asks\n"
  "for authorization once. A network that overlaps a route or address this\n"
  "machine already has is refused unless --allow-overlap is given.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n";

static int
run_manual_server (PtIceConfig  *ice_config,
                   const char   *network,
                   const char   *network6,
                   const char   *address4,
                   const char   *address6,
                   guint         mtu,
                   char        **dns,
                   PtTunFlags    flags)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtVpnRouter) router = NULL;
  g_autoptr(PtManualServer) manual = NULL;
  g_autofree char *ifname = NULL;
  int status;
  int fd;

  fd = open_tun (mtu, address4, address6, NULL, flags, &ifname, &error);
  if (fd < 0)
    {
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }
  router = pt_vpn_router_new (network, network6, fd, mtu, (const char * const *) dns, &error);
  if (router == NULL)
    {
      pt_cli_usage_error ("%s", error->message);
      return PT_EXIT_USAGE;
    }
  pt_cli_event ("vpn", "ifname", ifname, "address", address4,
                address6 ? "address6" : NULL, address6, NULL);
  manual = pt_manual_server_new (ice_config);
  pt_manual_server_set_vpn_router (manual, router);
  status = pt_cli_run_manual_server (manual);
  pt_cli_event ("vpn-stats", "#spoofed_dropped", pt_vpn_router_get_spoofed (router), NULL);
  return status;
}

int
pt_cmd_vpn_server (int    argc,
                   char **argv)
{
  PtCliCommon common = { 0 };
  PtCliNostrServerOptions who = { .max_sessions = PT_NOSTR_DEFAULT_MAX_SESSIONS };
  g_autofree char *network = NULL;
  g_autofree char *network6 = NULL;
  g_auto(GStrv) dns = NULL;
  gboolean manual = FALSE;
  gboolean allow_overlap = FALSE;
  int mtu = DEFAULT_MTU;
  const GOptionEntry entries[] = {
    { "manual", 0, 0, G_OPTION_ARG_NONE, &manual,
      "Pair by copy-paste (offers on standard input, answers on standard output) "
      "instead of through Nostr", NULL },
    { "network", 0, 0, G_OPTION_ARG_STRING, &network,
      "The VPN's IPv4 network (private), e.g. 10.77.0.0/24", "CIDR" },
    { "network6", 0, 0, G_OPTION_ARG_STRING, &network6,
      "An IPv6 network (inside fc00::/7) as well, e.g. fd00:77::/64", "CIDR" },
    { "mtu", 0, 0, G_OPTION_ARG_INT, &mtu, "MTU of the VPN device (default 1400)", "BYTES" },
    { "dns", 0, 0, G_OPTION_ARG_STRING_ARRAY, &dns,
      "A resolver for the clients to use (repeatable)", "ADDRESS" },
    { "allow-overlap", 0, 0, G_OPTION_ARG_NONE, &allow_overlap,
      "Make the device even if its network overlaps a route or address this machine "
      "already has", NULL },
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &who.nsec_file,
      "This server's secret key (or set PT_NSEC)", "FILE" },
    { "peer-npub", 0, 0, G_OPTION_ARG_STRING_ARRAY, &who.peers,
      "A client key allowed to connect (repeatable)", "NPUB" },
    { "any-peer", 0, 0, G_OPTION_ARG_NONE, &who.any_peer,
      "Accept any client key that presents a valid token", NULL },
    { "auth-token-file", 0, 0, G_OPTION_ARG_FILENAME, &who.token_file,
      "Tokens that clients must present, one per line", "FILE" },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &who.max_sessions,
      "Serve at most N clients at once (default: 64; 0: no limit)", "N" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &who.relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtIceConfig) ice_config = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(PtSecretKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *address4 = NULL;
  g_autofree char *address6 = NULL;
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new ("vpn server", "--network CIDR --nsec-file FILE (--peer-npub NPUB…|--any-peer)",
                                "route a network between this machine and VPN clients",
                                server_description, entries, &common);
  if (!pt_cli_parse (context, "vpn server", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt vpn server --help”)", argv[1]);
      goto out;
    }
  if (network == NULL)
    {
      pt_cli_usage_error ("which network? give --network CIDR, e.g. --network 10.77.0.0/24");
      goto out;
    }
  address4 = pt_vpn_server_address (network, &error);
  if (address4 == NULL || strchr (address4, ':') != NULL)
    {
      pt_cli_usage_error ("--network %s: %s", network,
                          error ? error->message : "an IPv4 network is needed here (IPv6: --network6)");
      goto out;
    }
  if (network6 != NULL)
    {
      address6 = pt_vpn_server_address (network6, &error);
      if (address6 == NULL || strchr (address6, ':') == NULL)
        {
          pt_cli_usage_error ("--network6 %s: %s", network6,
                              error ? error->message : "an IPv6 network is needed here");
          goto out;
        }
    }
  if (mtu < PT_VPN_MTU_MIN_IPV4 || mtu > PT_VPN_MTU_MAX ||
      (network6 != NULL && mtu < PT_VPN_MTU_MIN_IPV6))
    {
      pt_cli_usage_error ("--mtu %d: give %d to %d (%d at least with --network6)", mtu,
                          PT_VPN_MTU_MIN_IPV4, PT_VPN_MTU_MAX, PT_VPN_MTU_MIN_IPV6);
      goto out;
    }
  if (manual && (who.peers != NULL || who.any_peer || who.nsec_file != NULL || who.relays != NULL))
    {
      pt_cli_usage_error ("--manual pairs by copy-paste: leave out the Nostr options "
                          "(--peer-npub, --any-peer, --nsec-file, --relay)");
      goto out;
    }
  if (manual)
    {
      ice_config = pt_cli_make_ice_config (&common);
      if (ice_config == NULL)
        goto out;
      status = run_manual_server (ice_config, network, network6, address4, address6,
                                  (guint) mtu, dns,
                                  allow_overlap ? PT_TUN_FLAGS_ALLOW_OVERLAP : PT_TUN_FLAGS_NONE);
      goto out;
    }
  if (!pt_cli_check_nostr_server_options (&who) || !pt_cli_profile_set_ice (profile, &common) ||
      !pt_cli_server_profile_set_admission (profile, &who, &key, &status))
    goto out;
  pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
  pt_profile_set_vpn (profile, network, network6, (guint) mtu, (const char * const *) dns, NULL,
                      FALSE);
  g_object_set (profile, "vpn-allow-overlap", allow_overlap, NULL);
  if (!pt_profile_validate (profile, &error))
    {
      pt_cli_usage_error ("%s", error->message);
      status = PT_EXIT_USAGE;
      goto out;
    }
  status = pt_cli_run_server_profile (profile, key);

out:
  pt_cli_nostr_server_options_clear (&who);
  pt_cli_common_clear (&common);
  return status;
}

/* ---------------------------------------------------------------------- */
/* Client */

/* What the user said about the device and the pushed resolvers. */
typedef struct
{
  char       **routes;
  PtTunFlags   flags;
  gboolean     accept_dns;
  char       **dns_domains;   /* routing domains for the pushed resolvers, or NULL */
} DeviceOptions;

typedef struct
{
  GMainLoop     *loop;
  PtService     *service;
  DeviceOptions *device;
  char          *shown;        /* the device and address last announced */
  gboolean       announced;    /* "ready" printed */
  gboolean       user_stopped;
  int            status;
} Client;

static gboolean
run_resolvectl (const char  *resolvectl,
                const char  *verb,
                const char  *ifname,
                char       **values,
                const char  *single,
                GError     **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) resolvectl);
  g_ptr_array_add (argv, (gpointer) verb);
  g_ptr_array_add (argv, (gpointer) ifname);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    g_ptr_array_add (argv, values[i]);
  if (single != NULL)
    g_ptr_array_add (argv, (gpointer) single);
  g_ptr_array_add (argv, NULL);
  return g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                       NULL, NULL, &wait_status, error) &&
         g_spawn_check_wait_status (wait_status, error);
}

/* The pushed resolvers go to systemd-resolved only when the user asked
 * (--accept-dns, --dns-domain), and always with a routing domain: without
 * one, resolved would ask the VPN's resolvers and the LAN's alike for every
 * name and take the first answer. With --dns-domain, only names in those
 * domains go to the VPN; with --accept-dns alone, every name does ("~.", the
 * way a full-tunnel VPN's resolvers are meant to be used). */
static void
apply_dns (const char          *ifname,
           char               **dns,
           const DeviceOptions *options)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *resolvectl = NULL;
  g_autofree char *list = NULL;
  g_auto(GStrv) domains = NULL;

  if (dns == NULL || dns[0] == NULL)
    return;
  list = g_strjoinv (" ", dns);
  if (!options->accept_dns)
    {
      pt_cli_info ("the server pushed resolvers (%s); not used: give --accept-dns (every name) "
                   "or --dns-domain DOMAIN (names in DOMAIN) to use them", list);
      return;
    }
  resolvectl = g_find_program_in_path ("resolvectl");
  if (resolvectl == NULL || !g_file_test ("/run/systemd/resolve", G_FILE_TEST_IS_DIR))
    {
      pt_cli_info ("the server pushed resolvers (%s), but systemd-resolved is not running: "
                   "set them yourself if you want them", list);
      return;
    }
  if (options->dns_domains != NULL)
    {
      guint n = g_strv_length (options->dns_domains);

      domains = g_new0 (char *, n + 1);
      for (guint i = 0; i < n; i++)
        domains[i] = g_strconcat ("~", options->dns_domains[i], NULL);
    }
  if (!run_resolvectl (resolvectl, "dns", ifname, dns, NULL, &error) ||
      !run_resolvectl (resolvectl, "domain", ifname, domains, domains ? NULL : "~.", &error) ||
      !run_resolvectl (resolvectl, "default-route", ifname, NULL, domains ? "no" : "yes", &error))
    {
      pt_cli_info ("could not give the pushed resolvers to systemd-resolved: %s", error->message);
      return;
    }
  {
    g_autofree char *scope = domains ? g_strjoinv (" ", options->dns_domains) : g_strdup ("every name");

    pt_cli_event ("vpn-dns", "ifname", ifname, "dns", list, "domains", scope, NULL);
  }
}

/* Makes the device @settings describe, with the user's routes, and
 * announces it; the fd, or -1 after saying why. */
static int
open_client_device (const PtVpnSettings  *settings,
                    const DeviceOptions  *options,
                    char                **ifname)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *route_list = NULL;
  int fd;

  fd = open_tun (settings->mtu, settings->address4, settings->address6,
                 (const char * const *) options->routes, options->flags, ifname, &error);
  if (fd < 0)
    {
      if (g_error_matches (error, PT_TUN_ERROR, PT_TUN_ERROR_INVALID) ||
          g_error_matches (error, PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP))
        pt_cli_error ("the VPN's settings (from the server, and --route) cannot be used here: %s",
                      error->message);
      else
        pt_cli_error ("%s", error->message);
      return -1;
    }
  route_list = options->routes ? g_strjoinv (",", options->routes) : g_strdup ("");
  pt_cli_event ("vpn", "ifname", *ifname, "address", settings->address4,
                "server", settings->server4, "routes", route_list,
                settings->address6 ? "address6" : NULL, settings->address6, NULL);
  apply_dns (*ifname, settings->dns, options);
  return fd;
}

/* "ready" once the tunnel is up and the device exists. */
static void
client_maybe_ready (Client *client)
{
  PtTunnel *tunnel = pt_service_get_tunnel (client->service);
  const char *ifname = pt_service_get_vpn_device (client->service);
  g_autoptr(PtVpnSettings) settings = NULL;

  if (client->announced || ifname == NULL || tunnel == NULL ||
      pt_tunnel_get_state (tunnel) != PT_TUNNEL_STATE_UP)
    return;
  settings = pt_service_dup_vpn_settings (client->service);
  if (settings == NULL)
    return;
  client->announced = TRUE;
  if (pt_cli_is_json ())
    pt_cli_event ("ready", "listen", settings->address4, "ifname", ifname, NULL);
  else
    g_printerr ("ready %s on %s\n", settings->address4, ifname);
}

static void
client_tunnel_state (PtTunnel   *tunnel,
                     GParamSpec *pspec,
                     PtService  *service)
{
  Client *client = g_object_get_data (G_OBJECT (service), "pt-cli-vpn-client");

  if (client != NULL)
    client_maybe_ready (client);
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
}

/* The device exists (again, after the server changed our addresses). */
static void
client_vpn_device (PtService  *service,
                   GParamSpec *pspec,
                   Client     *client)
{
  const char *ifname = pt_service_get_vpn_device (service);
  g_autoptr(PtVpnSettings) settings = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *route_list = NULL;

  if (ifname == NULL || (settings = pt_service_dup_vpn_settings (service)) == NULL)
    return;
  shown = g_strdup_printf ("%s %s %s", ifname, settings->address4,
                           settings->address6 ? settings->address6 : "");
  if (g_strcmp0 (shown, client->shown) == 0)
    return;
  g_free (client->shown);
  client->shown = g_steal_pointer (&shown);
  route_list = client->device->routes ? g_strjoinv (",", client->device->routes) : g_strdup ("");
  pt_cli_event ("vpn", "ifname", ifname, "address", settings->address4,
                "server", settings->server4, "routes", route_list,
                settings->address6 ? "address6" : NULL, settings->address6, NULL);
  apply_dns (ifname, settings->dns, client->device);
  client_maybe_ready (client);
}

/* Stopped: by a signal (status 0), or by itself with the reason. */
static void
client_running (PtService  *service,
                GParamSpec *pspec,
                Client     *client)
{
  if (pt_service_get_running (service))
    return;
  if (!client->user_stopped)
    {
      pt_cli_print_service_error (pt_service_get_error (service), "the tunnel stopped");
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

/* Runs the VPN client @profile as @key until it fails or a signal; the
 * device, its addresses and routes go with it. An exit status. */
static int
run_client (PtProfile         *profile,
            const PtSecretKey *key,
            gboolean           reconnect,
            DeviceOptions     *device)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtService) service = pt_service_new (profile);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Client client = { 0 };

  pt_service_set_key (service, key);
  pt_service_set_reconnect (service, reconnect);
  client.loop = loop;
  client.service = service;
  client.device = device;
  client.status = PT_EXIT_FAILURE;
  g_object_set_data (G_OBJECT (service), "pt-cli-vpn-client", &client);
  pt_cli_follow_rendezvous (service);
  g_signal_connect (service, "notify::tunnel", G_CALLBACK (client_tunnel), &client);
  g_signal_connect (service, "notify::vpn-device", G_CALLBACK (client_vpn_device), &client);
  g_signal_connect (service, "notify::running", G_CALLBACK (client_running), &client);
  if (!pt_service_start (service, &error))
    {
      g_signal_handlers_disconnect_by_data (service, &client);
      g_object_set_data (G_OBJECT (service), "pt-cli-vpn-client", NULL);
      pt_cli_error ("%s", error->message);
      return PT_EXIT_FAILURE;
    }
  client_tunnel (service, NULL, &client);
  pt_cli_on_terminate (G_CALLBACK (client_terminate), &client);
  if (pt_service_get_running (service))
    g_main_loop_run (loop);
  pt_cli_on_terminate (NULL, NULL);

  g_signal_handlers_disconnect_by_data (service, &client);
  g_object_set_data (G_OBJECT (service), "pt-cli-vpn-client", NULL);
  pt_service_stop (service);
  g_clear_object (&service);
  pt_cli_drain ();
  g_free (client.shown);
  return client.status;
}

/* One VPN client per user (the app takes the same lock): the lock names its
 * holder. Another user's client may run beside it; the overlap check keeps
 * the two from routing the same networks. Returns the locked fd, or -1
 * after saying why. */
static int
take_client_lock (void)
{
  g_autoptr(GError) error = NULL;
  int fd = pt_vpn_client_lock_acquire ("pt vpn client", NULL, &error);

  if (fd < 0)
    pt_cli_error ("%s", error->message);
  return fd;
}

/* Manual pairing: offer on stdout, answer on stdin. */

typedef struct
{
  GMainLoop *loop;
  PtTunnel  *tunnel;
  DeviceOptions *device;
  char      *ifname;
  gboolean   answered;
  gboolean   failed;
  gboolean   user_stopped;
} ManualClient;

static void
manual_quit (ManualClient *client,
             gboolean      failed)
{
  client->failed |= failed;
  pt_cli_stop_reading ();
  g_main_loop_quit (client->loop);
}

static void
manual_vpn_config (PtTunnel     *tunnel,
                   ManualClient *client)
{
  g_autoptr(PtVpnSettings) settings = pt_tunnel_dup_vpn_settings (tunnel);
  g_autoptr(GError) error = NULL;
  int fd = open_client_device (settings, client->device, &client->ifname);

  if (fd < 0 || !pt_tunnel_attach_tun (tunnel, fd, &error))
    {
      if (error != NULL)
        pt_cli_error ("%s", error->message);
      pt_tunnel_close (tunnel);
      manual_quit (client, TRUE);
    }
}

static void
manual_state (PtTunnel     *tunnel,
              GParamSpec   *pspec,
              ManualClient *client)
{
  switch (pt_tunnel_get_state (tunnel))
    {
    case PT_TUNNEL_STATE_UP:
      {
        g_autoptr(PtVpnSettings) settings = pt_tunnel_dup_vpn_settings (tunnel);

        if (pt_cli_is_json ())
          pt_cli_event ("ready", "listen", settings->address4, "ifname", client->ifname, NULL);
        else
          g_printerr ("ready %s on %s\n", settings->address4, client->ifname);
      }
      break;
    case PT_TUNNEL_STATE_FAILED:
      pt_cli_error ("%s", pt_tunnel_get_error (tunnel)->message);
      manual_quit (client, TRUE);
      break;
    case PT_TUNNEL_STATE_CLOSED:
      if (!client->user_stopped)
        pt_cli_error ("the server closed the tunnel");
      manual_quit (client, !client->user_stopped);
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
manual_answer_cb (const char *block,
                  gpointer    user_data)
{
  ManualClient *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = NULL;

  if (client->answered)
    return;
  if (block == NULL)
    {
      pt_cli_error ("standard input ended before the server's answer arrived");
      manual_quit (client, TRUE);
      return;
    }
  answer = pt_signal_dearmor (block, PT_SIGNAL_KIND_ANSWER, &error);
  if (answer == NULL || !pt_tunnel_set_answer (client->tunnel, answer, &error))
    {
      pt_cli_error ("the answer cannot be used: %s", error->message);
      manual_quit (client, TRUE);
      return;
    }
  client->answered = TRUE;
  pt_cli_stop_reading ();
}

static void
manual_offer_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ManualClient *client = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);
  g_autofree char *armored = offer ? pt_signal_armor (offer, &error) : NULL;

  if (armored == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          pt_cli_error ("cannot make an offer: %s", error->message);
          manual_quit (client, TRUE);
        }
      return;
    }
  if (!pt_cli_write_stdout (armored))
    {
      manual_quit (client, TRUE);
      return;
    }
  pt_cli_info ("give the offer above to the VPN server (pt vpn server --manual), then paste "
               "its answer here");
  pt_cli_read_blocks (manual_answer_cb, client);
}

static void
manual_terminate (ManualClient *client)
{
  client->user_stopped = TRUE;
  if (pt_tunnel_get_state (client->tunnel) == PT_TUNNEL_STATE_CLOSED ||
      pt_tunnel_get_state (client->tunnel) == PT_TUNNEL_STATE_FAILED)
    manual_quit (client, FALSE);
  else
    pt_tunnel_close (client->tunnel);
}

static int
run_manual_client (PtIceConfig   *ice_config,
                   gboolean       ipv6,
                   DeviceOptions *device)
{
  g_autoptr(PtTunnel) tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, ice_config);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  ManualClient client = { loop, tunnel, device, NULL, FALSE, FALSE, FALSE };

  pt_tunnel_set_vpn_client (tunnel, ipv6);
  pt_cli_follow_tunnel (tunnel, NULL);
  g_signal_connect (tunnel, "vpn-config", G_CALLBACK (manual_vpn_config), &client);
  g_signal_connect (tunnel, "notify::state", G_CALLBACK (manual_state), &client);
  pt_cli_on_terminate (G_CALLBACK (manual_terminate), &client);
  pt_tunnel_create_offer_async (tunnel, NULL, manual_offer_cb, &client);
  g_main_loop_run (loop);
  pt_cli_on_terminate (NULL, NULL);

  g_signal_handlers_disconnect_by_data (tunnel, &client);
  pt_tunnel_close (tunnel);   /* the device, its addresses and routes go with it */
  g_clear_object (&tunnel);
  pt_cli_drain ();
  g_free (client.ifname);
  return client.failed ? PT_EXIT_FAILURE : PT_EXIT_OK;
}

static const char client_description[] =
  "Joins the VPN of the server whose public key is SERVER_NPUB (through Nostr\n"
  "relays): this machine gets an address in the server's network on a new TUN\n"
  "device, and reaches the server and the other clients through it. --route\n"
  "sends more networks through the VPN (split tunnelling; private ranges only);\n"
  "a route that cannot be installed is an error. A network (the VPN's, or a\n"
  "--route) that overlaps a route or address this machine already has, such as\n"
  "its LAN or another VPN, is refused and nothing is changed, unless\n"
  "--allow-overlap is given. Resolvers the server pushes are used only when\n"
  "asked: --accept-dns sends every name to them, --dns-domain DOMAIN only the\n"
  "names in DOMAIN (systemd-resolved, routing domains \"~.\" or \"~DOMAIN\").\n"
  "If the tunnel drops, the client reconnects by itself and keeps the device\n"
  "and its address. Each user runs one VPN client at a time.\n"
  "\n"
  "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n";

int
pt_cmd_vpn_client (int    argc,
                   char **argv)
{
  PtCliCommon common = { 0 };
  g_autofree char *nsec_file = NULL;
  g_autofree char *peer = NULL;
  g_autofree char *token_file = NULL;
  g_auto(GStrv) routes = NULL;
  g_auto(GStrv) relays = NULL;
  gboolean ipv6 = FALSE;
  gboolean no_reconnect = FALSE;
  gboolean manual = FALSE;
  gboolean allow_overlap = FALSE;
  DeviceOptions device = { NULL, PT_TUN_FLAGS_NONE, FALSE, NULL };
  const GOptionEntry entries[] = {
    { "manual", 0, 0, G_OPTION_ARG_NONE, &manual,
      "Pair by copy-paste (offer on standard output, answer on standard input) "
      "instead of through Nostr", NULL },
    { "peer-npub", 0, 0, G_OPTION_ARG_STRING, &peer, "The server's public key", "SERVER_NPUB" },
    { "route", 0, 0, G_OPTION_ARG_STRING_ARRAY, &routes,
      "Send this network through the VPN too (repeatable)", "CIDR" },
    { "ipv6", 0, 0, G_OPTION_ARG_NONE, &ipv6, "Ask for an IPv6 address as well", NULL },
    { "allow-overlap", 0, 0, G_OPTION_ARG_NONE, &allow_overlap,
      "Install the VPN's network and routes even where they overlap a route or address "
      "this machine already has (its LAN, another VPN)", NULL },
    { "accept-dns", 0, 0, G_OPTION_ARG_NONE, &device.accept_dns,
      "Resolve every name with the resolvers the server pushes (systemd-resolved)", NULL },
    { "dns-domain", 0, 0, G_OPTION_ARG_STRING_ARRAY, &device.dns_domains,
      "Resolve only names in DOMAIN with the pushed resolvers (repeatable)", "DOMAIN" },
    { "nsec-file", 0, 0, G_OPTION_ARG_FILENAME, &nsec_file,
      "This client's secret key (or PT_NSEC; default: a throwaway key)", "FILE" },
    { "auth-token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
      "A file whose first token is presented to the server (or PT_AUTH_TOKEN)", "FILE" },
    { "relay", 0, 0, G_OPTION_ARG_STRING_ARRAY, &relays,
      "Nostr relay to use (repeatable; default: a list of public relays)", "URL" },
    { "no-reconnect", 0, 0, G_OPTION_ARG_NONE, &no_reconnect,
      "Exit when the tunnel drops instead of re-establishing it", NULL },
    { NULL }
  };
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(PtIceConfig) ice_config = NULL;
  g_autoptr(PtSecretKey) key = NULL;
  g_autoptr(PtSecretString) token = NULL;
  g_autoptr(PtProfile) profile = pt_profile_new ();
  g_autoptr(GError) error = NULL;
  PtPublicKey server;
  int lock = -1;
  int status = PT_EXIT_USAGE;

  context = pt_cli_context_new ("vpn client", "--peer-npub SERVER_NPUB [--route CIDR…]",
                                "join a VPN server's network", client_description, entries,
                                &common);
  if (!pt_cli_parse (context, "vpn client", entries, &common, &argc, &argv))
    goto out;
  if (argc > 1)
    {
      pt_cli_usage_error ("unexpected argument “%s” (see “pt vpn client --help”)", argv[1]);
      goto out;
    }
  for (guint i = 0; device.dns_domains != NULL && device.dns_domains[i] != NULL; i++)
    {
      const char *domain = device.dns_domains[i];

      if (strlen (domain) > 253 || domain[0] == '\0' || domain[0] == '.' || domain[0] == '~' ||
          strspn (domain, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
          != strlen (domain) || strstr (domain, "..") != NULL)
        {
          pt_cli_usage_error ("--dns-domain %s: give a domain name such as corp.example", domain);
          goto out;
        }
    }
  device.accept_dns |= device.dns_domains != NULL;
  device.routes = routes;
  device.flags = allow_overlap ? PT_TUN_FLAGS_ALLOW_OVERLAP : PT_TUN_FLAGS_NONE;
  if (manual)
    {
      if (peer != NULL || nsec_file != NULL || relays != NULL || token_file != NULL)
        {
          pt_cli_usage_error ("--manual pairs by copy-paste: leave out the Nostr options "
                              "(--peer-npub, --nsec-file, --relay, --auth-token-file)");
          goto out;
        }
      ice_config = pt_cli_make_ice_config (&common);
      if (ice_config == NULL)
        goto out;
      status = PT_EXIT_FAILURE;
      lock = take_client_lock ();
      if (lock < 0)
        goto out;
      status = run_manual_client (ice_config, ipv6, &device);
      goto out;
    }
  if (peer == NULL)
    {
      pt_cli_usage_error ("which server? give --peer-npub SERVER_NPUB (or pair with --manual)");
      goto out;
    }
  if (!pt_public_key_parse (peer, &server, &error))
    {
      pt_cli_usage_error ("--peer-npub %s: %s", peer, error->message);
      goto out;
    }
  if (!pt_cli_check_relays (relays) || !pt_cli_profile_set_ice (profile, &common))
    goto out;

  status = PT_EXIT_FAILURE;
  if (!pt_cli_load_secret_key (nsec_file, &key) || !pt_cli_load_client_token (token_file, &token))
    goto out;
  /* Without a key of its own, a throwaway one (the server must then take
   * any key with a token). */
  if (key == NULL && (key = pt_secret_key_generate (&error)) == NULL)
    {
      pt_cli_error ("%s", error->message);
      goto out;
    }
  {
    const char *peers[] = { peer, NULL };

    pt_profile_set_role (profile, PT_TUNNEL_ROLE_CLIENT);
    pt_profile_set_mode (profile, PT_PROFILE_MODE_VPN);
    pt_profile_set_nostr (profile, (const char * const *) relays, peers);
    pt_profile_set_token (profile, token);
    pt_profile_set_vpn (profile, NULL, NULL, 0, NULL, (const char * const *) routes, ipv6);
    g_object_set (profile, "vpn-allow-overlap", allow_overlap, NULL);
  }
  if (!pt_profile_validate (profile, &error))
    {
      pt_cli_usage_error ("%s", error->message);
      status = PT_EXIT_USAGE;
      goto out;
    }
  /* The per-user lock (the app takes the same) names us to a second client. */
  pt_service_set_vpn_holder ("pt vpn client");
  status = run_client (profile, key, !no_reconnect, &device);

out:
  if (lock >= 0)
    close (lock);
  g_strfreev (device.dns_domains);
  pt_cli_common_clear (&common);
  return status;
}

int
pt_cmd_vpn (int    argc,
            char **argv)
{
  if (argc >= 2 && g_str_equal (argv[1], "server"))
    return pt_cmd_vpn_server (argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal (argv[1], "client"))
    return pt_cmd_vpn_client (argc - 1, argv + 1);
  if (argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")))
    {
      g_print ("Usage: pt vpn server|client [OPTIONS…]\n\n"
               "  server    route a network between this machine and VPN clients\n"
               "  client    join a VPN server's network\n");
      return PT_EXIT_OK;
    }
  pt_cli_usage_error ("pt vpn: server or client? (see “pt vpn --help”)");
  return PT_EXIT_USAGE;
}
