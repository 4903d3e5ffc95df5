/* pt.c — the pt command: a small dispatcher over a table of subcommands
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt"

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "pt-cli.h"

static int pt_cmd_help (int argc, char **argv);
static int pt_cmd_version (int argc, char **argv);

static const PtCommand commands[] = {
  { "client",  pt_cmd_client,  "Ask a server for a service and listen for it locally" },
  { "server",  pt_cmd_server,  "Serve the networks you allow to clients that pair with you" },
  { "tcp",     pt_cmd_tcp,     "Expose a local TCP port under a shared name (--id)" },
  { "udp",     pt_cmd_udp,     "Expose a local UDP port under a shared name (--id)" },
  { "bind",    pt_cmd_bind,    "Listen locally and forward to a port exposed under a shared name" },
  { "up",      pt_cmd_up,      "Run saved tunnels: the desktop app's, or a profiles file of your own" },
  { "vpn",     pt_cmd_vpn,     "Join networks through the tunnel (pt vpn server|client)" },
  { "demo",    pt_cmd_demo,    "Run a server, a client and a test service on this machine" },
  { "keygen",  pt_cmd_keygen,  "Make a long-term key (nsec) and print its public key (npub)" },
  { "show-npub", pt_cmd_show_npub, "Print the public key (npub) of a key file" },
  { "token",   pt_cmd_token,   "Make random access tokens for a server's token file" },
  { "help",    pt_cmd_help,    "Show this help" },
  { "version", pt_cmd_version, "Show the version" },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: pt COMMAND [OPTIONS…]\n"
           "\n"
           "PeerTunnel forwards TCP and UDP ports between two machines behind NAT,\n"
           "over an end-to-end encrypted, mutually authenticated QUIC connection.\n"
           "\n"
           "Commands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Pairing by copy-paste (manual mode):\n"
           "  server$ pt server manual --allowed-tcp 127.0.0.1/32\n"
           "  client$ pt client manual --source tcp://127.0.0.1:22 --target 2222\n"
           "  Paste the client's offer into the server, and the server's answer into\n"
           "  the client; then connect to 127.0.0.1:2222 on the client machine.\n"
           "\n"
           "Run “pt COMMAND --help” for a command's options.\n");
}

static int
pt_cmd_help (int    argc,
             char **argv)
{
  print_usage (stdout);
  return PT_EXIT_OK;
}

static int
pt_cmd_version (int    argc,
                char **argv)
{
  printf ("pt %s\n", PACKAGE_VERSION);
  return PT_EXIT_OK;
}

int
main (int    argc,
      char **argv)
{
  /* Before any secret is loaded: a crash must not write the key to a core
   * file. Every tunnelled connection holds a descriptor: take all we may. */
  pt_disable_core_dumps ();
  pt_cli_take_secret_environment ();
  pt_raise_fd_limit ();
  pt_tune_allocator ();
  setlocale (LC_ALL, "");

  if (argc < 2)
    {
      print_usage (stderr);
      return PT_EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"))
    return pt_cmd_help (argc - 1, argv + 1);
  if (g_str_equal (argv[1], "--version"))
    return pt_cmd_version (argc - 1, argv + 1);

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].func (argc - 1, argv + 1);

  fprintf (stderr, "pt: unknown command “%s” (see “pt --help”)\n", argv[1]);
  return PT_EXIT_USAGE;
}
