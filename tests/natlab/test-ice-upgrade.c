/* test-ice-upgrade.c — a relayed ICE session moving to a direct path, in one process
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The in-process half of the NAT lab's relay-to-direct cell: no namespaces,
 * no root, only coturn on loopback (skipped without turnserver).
 *
 * Two PtIce agents, A (controlling, host address 127.0.0.2) and B
 * (controlled, 127.0.0.3), both with TURN. Each is given only the other's
 * relayed candidates, so the TURN permissions (per IP address) leave them
 * exactly one path: relay to relay. A is also given one more candidate "of
 * B", a server-reflexive 127.0.0.1:P. P is a door the test holds: closed, it
 * swallows what arrives; open, it behaves like a port-restricted NAT in front
 * of B (what arrives from A's host address goes on to B's host socket from a
 * second socket Q, and B's answers to Q come back to A from P).
 *
 * Checked: while relayed, A knocks on the door (authenticated Binding
 * requests the peer's agent accepts), B, which knows no direct candidate of
 * A, gives up after one round; once the door opens both agents move to a
 * direct pair within one knock period, datagrams keep flowing throughout and
 * then go through the door, and the knocking stops. Closing an agent while it
 * knocks stops the knocks.
 */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stun/stunagent.h>
#include <stun/usages/ice.h>

#include "pt.h"
#include "pt-ice-private.h"
#include "pt-stun-private.h"

#define DEADLINE_S      20
#define HOST_A          "127.0.0.2"
#define HOST_B          "127.0.0.3"
#define PUMP_MS         20     /* one datagram each way this often */
#define KNOCK_PERIOD_S  5      /* PT_ICE_UPGRADE_FAST_MS */
#define MAX_GAP_US      (1000 * 1000)

static const char data_magic[4] = { 'P', 'T', 'U', 'P' };

static guint16 turn_port;

/* Main-loop helpers */

static gboolean
deadline_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef gboolean (*Predicate) (gpointer data);

/* Spins the default context until @done is true or @seconds pass; returns @done. */
static gboolean
spin_until (Predicate  done,
            gpointer   data,
            guint      seconds)
{
  gboolean hit = FALSE;
  guint id = g_timeout_add_seconds (seconds, deadline_cb, &hit);

  while (!(done != NULL && done (data)) && !hit)
    g_main_context_iteration (NULL, TRUE);
  if (!hit)
    g_source_remove (id);
  return done != NULL && done (data);
}

/* coturn on 127.0.0.1 */

static GSubprocess *turn_process;
static char *turn_dir;

static guint16
free_udp_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* Waits until the server answers a STUN Binding request: it is listening. */
static gboolean
turn_answers (guint16 port)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_from_string ("127.0.0.1");
  g_autoptr(GSocketAddress) server = g_inet_socket_address_new (lo, port);
  gint64 limit = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_socket_set_timeout (socket, 1);
  while (g_get_monotonic_time () < limit)
    {
      guint8 request[PT_STUN_HEADER_LEN], txid[PT_STUN_TXID_LEN], answer[1500];
      gssize n;

      memset (txid, 0x5a, sizeof txid);
      _pt_stun_write_binding_request (request, txid);
      g_socket_send_to (socket, server, (const char *) request, sizeof request, NULL, NULL);
      n = g_socket_receive (socket, (char *) answer, sizeof answer, NULL, NULL);
      if (n > 0 && _pt_stun_match_response (answer, n, txid, 1) == 0)
        return TRUE;
    }
  return FALSE;
}

/* A failed assertion aborts the test: coturn must not outlive it. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
turn_start (void)
{
  g_autofree char *program = g_find_program_in_path ("turnserver");
  g_autofree char *listen = NULL, *pidfile = NULL, *userdb = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;

  if (program == NULL)
    return FALSE;
  turn_dir = g_dir_make_tmp ("pt-ice-upgrade-XXXXXX", &error);
  g_assert_no_error (error);
  turn_port = free_udp_port ();
  listen = g_strdup_printf ("--listening-port=%u", turn_port);
  pidfile = g_strdup_printf ("--pidfile=%s/turnserver.pid", turn_dir);
  userdb = g_strdup_printf ("--userdb=%s/turndb", turn_dir);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  turn_process = g_subprocess_launcher_spawn (launcher, &error,
                                              program, "-n", "--listening-ip=127.0.0.1",
                                              "--relay-ip=127.0.0.1", listen, "--lt-cred-mech",
                                              "--user=u:p", "--realm=test", "--no-tcp",
                                              "--no-tls", "--no-dtls", "--no-cli",
                                              "--allow-loopback-peers", pidfile, userdb,
                                              "--log-file=stdout", NULL);
  g_assert_no_error (error);
  g_assert_true (turn_answers (turn_port));
  return TRUE;
}

static void
turn_stop (void)
{
  g_autofree char *pidfile = NULL, *userdb = NULL;

  if (turn_process == NULL)
    return;
  g_subprocess_force_exit (turn_process);
  g_subprocess_wait (turn_process, NULL, NULL);
  g_clear_object (&turn_process);
  pidfile = g_build_filename (turn_dir, "turnserver.pid", NULL);
  userdb = g_build_filename (turn_dir, "turndb", NULL);
  g_unlink (pidfile);
  g_unlink (userdb);
  g_rmdir (turn_dir);
  g_clear_pointer (&turn_dir, g_free);
}

/* The door: a port-restricted NAT in front of B that starts closed */

typedef struct
{
  GSocket            *outer;       /* 127.0.0.1:P, offered to A as B's srflx candidate */
  GSocket            *inner;       /* 127.0.0.1:Q, what B sees */
  GSource            *outer_watch;
  GSource            *inner_watch;
  GInetSocketAddress *b_host;      /* B's host candidate */
  GSocketAddress     *a_seen;      /* where A's packets came from */
  gboolean            open;
  const char         *username;    /* "<B ufrag>:<A ufrag>" */
  const char         *b_pwd;
  guint               knocks;      /* Binding requests of A's without USE-CANDIDATE */
  guint               bad_knocks;  /* ... that B's agent would not accept */
  guint               data_to_b;   /* test datagrams through the open door */
  guint               data_to_a;
} Door;

static GSocket *
bound_socket (const char *ip,
              guint16    *port)
{
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetAddress) inet = g_inet_address_new_from_string (ip);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (inet, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, any, FALSE, NULL));
  g_socket_set_blocking (socket, FALSE);
  bound = g_socket_get_local_address (socket, NULL);
  if (port != NULL)
    *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

static gboolean
from_ip (GSocketAddress *from,
         const char     *ip)
{
  g_autofree char *s = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return FALSE;
  s = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)));
  return g_str_equal (s, ip);
}

static bool
door_validater (StunAgent    *agent,
                StunMessage  *message,
                uint8_t      *username,
                uint16_t      username_len,
                uint8_t     **password,
                size_t       *password_len,
                void         *user_data)
{
  Door *door = user_data;

  if (username_len != strlen (door->username) ||
      memcmp (username, door->username, username_len) != 0)
    return FALSE;
  *password = (uint8_t *) door->b_pwd;
  *password_len = strlen (door->b_pwd);
  return TRUE;
}

/* A Binding request from A that is not one of libnice's own checks (A is
 * controlling with aggressive nomination: its checks all carry USE-CANDIDATE). */
static void
door_count_knock (Door         *door,
                  const guint8 *buf,
                  gsize         len)
{
  StunAgent agent;
  StunMessage message;
  static const uint16_t known[] = { STUN_ATTRIBUTE_USERNAME, STUN_ATTRIBUTE_MESSAGE_INTEGRITY,
                                    STUN_ATTRIBUTE_PRIORITY, STUN_ATTRIBUTE_USE_CANDIDATE,
                                    STUN_ATTRIBUTE_ICE_CONTROLLED, STUN_ATTRIBUTE_ICE_CONTROLLING,
                                    0 };

  if (len < 20 || buf[0] != 0x00 || buf[1] != 0x01)
    return;
  stun_agent_init (&agent, known, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_SHORT_TERM_CREDENTIALS | STUN_AGENT_USAGE_USE_FINGERPRINT);
  if (stun_agent_validate (&agent, &message, buf, len, door_validater, door) !=
      STUN_VALIDATION_SUCCESS)
    {
      door->bad_knocks++;
      return;
    }
  if (!stun_message_has_attribute (&message, STUN_ATTRIBUTE_USE_CANDIDATE))
    door->knocks++;
}

static gboolean
door_outer_cb (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  Door *door = user_data;
  guint8 buf[2048];

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);

      if (n < 0)
        return G_SOURCE_CONTINUE;
      /* Only A's host socket: A's relay also checks this candidate. */
      if (!from_ip (from, HOST_A))
        continue;
      door_count_knock (door, buf, n);
      if (!door->open)
        continue;
      g_clear_object (&door->a_seen);
      door->a_seen = g_steal_pointer (&from);
      if (n >= 4 && memcmp (buf, data_magic, 4) == 0)
        door->data_to_b++;
      g_socket_send_to (door->inner, G_SOCKET_ADDRESS (door->b_host), (const char *) buf, n,
                        NULL, NULL);
    }
}

static gboolean
door_inner_cb (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  Door *door = user_data;
  guint8 buf[2048];

  for (;;)
    {
      g_autoptr(GSocketAddress) from = NULL;
      gssize n = g_socket_receive_from (socket, &from, (char *) buf, sizeof buf, NULL, NULL);

      if (n < 0)
        return G_SOURCE_CONTINUE;
      if (!door->open || door->a_seen == NULL || !from_ip (from, HOST_B))
        continue;
      if (n >= 4 && memcmp (buf, data_magic, 4) == 0)
        door->data_to_a++;
      g_socket_send_to (door->outer, door->a_seen, (const char *) buf, n, NULL, NULL);
    }
}

static void
door_init (Door    *door,
           guint16 *outer_port)
{
  memset (door, 0, sizeof *door);
  door->outer = bound_socket ("127.0.0.1", outer_port);
  door->inner = bound_socket ("127.0.0.1", NULL);
  door->outer_watch = g_socket_create_source (door->outer, G_IO_IN, NULL);
  g_source_set_callback (door->outer_watch, (GSourceFunc) door_outer_cb, door, NULL);
  g_source_attach (door->outer_watch, NULL);
  door->inner_watch = g_socket_create_source (door->inner, G_IO_IN, NULL);
  g_source_set_callback (door->inner_watch, (GSourceFunc) door_inner_cb, door, NULL);
  g_source_attach (door->inner_watch, NULL);
}

static void
door_clear (Door *door)
{
  g_source_destroy (door->outer_watch);
  g_source_destroy (door->inner_watch);
  g_clear_pointer (&door->outer_watch, g_source_unref);
  g_clear_pointer (&door->inner_watch, g_source_unref);
  g_clear_object (&door->outer);
  g_clear_object (&door->inner);
  g_clear_object (&door->b_host);
  g_clear_object (&door->a_seen);
}

/* One side */

typedef struct
{
  PtIce      *ice;
  const char *name;
  gboolean    gathered;
  gboolean    connected;
  PtPathKind  path;
  gint64      direct_at;     /* when the path left the relay (monotonic µs), 0: not yet */
  guint       received;
  gint64      last_received;
  gint64      watch_from;    /* the longest gap is measured from here */
  gint64      longest_gap;
} Side;

static void
side_gathered_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Side *side = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (_pt_ice_gather_finish (PT_ICE (object), result, &error));
  g_assert_no_error (error);
  side->gathered = TRUE;
}

static void
side_connected_cb (PtIce *ice,
                   Side  *side)
{
  side->connected = TRUE;
}

static void
side_failed_cb (PtIce  *ice,
                GError *error,
                Side   *side)
{
  g_error ("%s: ICE failed: %s", side->name, error->message);
}

static void
side_path_cb (PtIce      *ice,
              GParamSpec *pspec,
              Side       *side)
{
  side->path = _pt_ice_get_path_kind (ice);
  g_test_message ("%s: path %s", side->name, pt_path_kind_to_string (side->path));
  if (side->path != PT_PATH_KIND_RELAY && side->path != PT_PATH_KIND_NONE && side->direct_at == 0)
    side->direct_at = g_get_monotonic_time ();
}

static void
side_receive (const guint8 *data,
              gsize         len,
              gpointer      user_data)
{
  Side *side = user_data;
  gint64 now = g_get_monotonic_time ();

  if (len < 4 || memcmp (data, data_magic, 4) != 0)
    return;
  if (side->watch_from != 0)
    side->longest_gap = MAX (side->longest_gap,
                             now - MAX (side->last_received, side->watch_from));
  side->received++;
  side->last_received = now;
}

static gboolean
gathered (gpointer data)
{
  Side *sides = data;

  return sides[0].gathered && sides[1].gathered;
}

static gboolean
connected (gpointer data)
{
  Side *sides = data;

  return sides[0].connected && sides[1].connected;
}

static PtIceConfig *
config_for (const char *host)
{
  PtIceConfig *config = pt_ice_config_new ();
  g_autofree char *turn = g_strdup_printf ("turn://u:p@127.0.0.1:%u", turn_port);

  g_assert_true (pt_ice_config_add_local_address (config, host, NULL));
  g_assert_true (pt_ice_config_add_turn_server (config, turn, NULL));
  return config;
}

/* @from's credentials and relayed candidates (and @extra, if given). */
static PtSignal *
relayed_only (const PtSignal    *from,
              const PtCandidate *extra)
{
  PtSignal *signal = pt_signal_new (PT_SIGNAL_KIND_OFFER);

  signal->ufrag = g_strdup (from->ufrag);
  signal->pwd = g_strdup (from->pwd);
  for (guint i = 0; i < from->candidates->len; i++)
    {
      const PtCandidate *c = &g_array_index (from->candidates, PtCandidate, i);

      if (c->type == PT_PATH_KIND_RELAY)
        g_array_append_vals (signal->candidates, c, 1);
    }
  g_assert_cmpuint (signal->candidates->len, >, 0);
  if (extra != NULL)
    g_array_append_vals (signal->candidates, extra, 1);
  return signal;
}

static GInetSocketAddress *
host_candidate (const PtSignal *signal)
{
  for (guint i = 0; i < signal->candidates->len; i++)
    {
      const PtCandidate *c = &g_array_index (signal->candidates, PtCandidate, i);

      if (c->type == PT_PATH_KIND_HOST && c->family == 4)
        {
          g_autoptr(GInetAddress) inet = g_inet_address_new_from_bytes (c->addr,
                                                                         G_SOCKET_FAMILY_IPV4);

          return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (inet, c->port));
        }
    }
  g_assert_not_reached ();
}

typedef struct
{
  Side       sides[2];      /* A, B */
  Door       door;
  PtSignal  *local[2];
  guint      pump;
} Fixture;

static gboolean
pump_cb (gpointer data)
{
  Fixture *f = data;
  static guint32 seq;
  guint8 datagram[64] = { 0 };

  memcpy (datagram, data_magic, 4);
  seq++;
  memcpy (datagram + 4, &seq, sizeof seq);
  _pt_ice_send (f->sides[0].ice, datagram, sizeof datagram);
  _pt_ice_send (f->sides[1].ice, datagram, sizeof datagram);
  return G_SOURCE_CONTINUE;
}

/* A and B up on their relayed pair, A knowing the (closed) door as a candidate of B's. */
static void
fixture_setup (Fixture *f)
{
  g_autoptr(PtIceConfig) config_a = config_for (HOST_A);
  g_autoptr(PtIceConfig) config_b = config_for (HOST_B);
  g_autoptr(PtSignal) to_a = NULL, to_b = NULL;
  g_autoptr(GError) error = NULL;
  PtCandidate door_candidate = { 0 };
  guint16 door_port;

  memset (f, 0, sizeof *f);
  door_init (&f->door, &door_port);

  f->sides[0].name = "A";
  f->sides[1].name = "B";
  f->sides[0].ice = _pt_ice_new (TRUE, config_a);
  f->sides[1].ice = _pt_ice_new (FALSE, config_b);
  for (guint i = 0; i < 2; i++)
    {
      Side *side = &f->sides[i];

      g_signal_connect (side->ice, "connected", G_CALLBACK (side_connected_cb), side);
      g_signal_connect (side->ice, "failed", G_CALLBACK (side_failed_cb), side);
      g_signal_connect (side->ice, "notify::path-kind", G_CALLBACK (side_path_cb), side);
      _pt_ice_set_receive_func (side->ice, side_receive, NULL, side);
      _pt_ice_gather_async (side->ice, NULL, side_gathered_cb, side);
    }
  g_assert_true (spin_until (gathered, f->sides, DEADLINE_S));

  for (guint i = 0; i < 2; i++)
    {
      f->local[i] = pt_signal_new (i == 0 ? PT_SIGNAL_KIND_OFFER : PT_SIGNAL_KIND_ANSWER);
      _pt_ice_fill_local (f->sides[i].ice, f->local[i]);
    }

  door_candidate.type = PT_PATH_KIND_SRFLX;
  door_candidate.transport = PT_TRANSPORT_UDP;
  door_candidate.priority = (100u << 24) | (65535u << 8) | 255u;
  g_strlcpy (door_candidate.foundation, "door", sizeof door_candidate.foundation);
  door_candidate.family = 4;
  door_candidate.addr[0] = 127;
  door_candidate.addr[3] = 1;
  door_candidate.port = door_port;

  f->door.b_host = host_candidate (f->local[1]);
  f->door.username = g_strdup_printf ("%s:%s", f->local[1]->ufrag, f->local[0]->ufrag);
  f->door.b_pwd = f->local[1]->pwd;

  to_a = relayed_only (f->local[1], &door_candidate);
  to_b = relayed_only (f->local[0], NULL);
  g_assert_true (_pt_ice_set_remote (f->sides[0].ice, to_a, &error));
  g_assert_no_error (error);
  g_assert_true (_pt_ice_set_remote (f->sides[1].ice, to_b, &error));
  g_assert_no_error (error);

  g_assert_true (spin_until (connected, f->sides, DEADLINE_S));
  g_assert_cmpint (f->sides[0].path, ==, PT_PATH_KIND_RELAY);
  g_assert_cmpint (f->sides[1].path, ==, PT_PATH_KIND_RELAY);
  f->pump = g_timeout_add (PUMP_MS, pump_cb, f);
}

static gboolean
no_pending_closes (gpointer data)
{
  return _pt_ice_get_pending_closes () == 0;
}

static void
fixture_teardown (Fixture *f)
{
  g_clear_handle_id (&f->pump, g_source_remove);
  for (guint i = 0; i < 2; i++)
    {
      if (f->sides[i].ice == NULL)
        continue;
      _pt_ice_close (f->sides[i].ice);
      g_assert_finalize_object (f->sides[i].ice);
      f->sides[i].ice = NULL;
    }
  /* TURN deallocations */
  g_assert_true (spin_until (no_pending_closes, NULL, DEADLINE_S));
  g_clear_pointer (&f->local[0], pt_signal_free);
  g_clear_pointer (&f->local[1], pt_signal_free);
  g_free ((char *) f->door.username);
  door_clear (&f->door);
}

typedef struct
{
  Fixture *f;
  guint    a_rounds;
  guint    door_knocks;
} KnockWait;

static gboolean
knocked (gpointer data)
{
  KnockWait *w = data;

  return _pt_ice_get_knock_rounds (w->f->sides[0].ice) >= w->a_rounds &&
         w->f->door.knocks >= w->door_knocks &&
         _pt_ice_get_knock_rounds (w->f->sides[1].ice) >= 1;
}

static gboolean
both_direct (gpointer data)
{
  Fixture *f = data;

  return f->sides[0].direct_at != 0 && f->sides[1].direct_at != 0;
}

static void
test_upgrade (void)
{
  Fixture f;
  KnockWait wait = { &f, 2, 2 };
  guint rounds, to_b, to_a, received[2];
  gint64 opened;

  if (turn_port == 0)
    {
      g_test_skip ("no turnserver (coturn) on this machine");
      return;
    }
  fixture_setup (&f);

  /* Two rounds in vain: A knocks, B, knowing no direct candidate of A's, gave
   * up after its first round (bounded cost), nobody left the relay. */
  g_assert_true (spin_until (knocked, &wait, 2 * KNOCK_PERIOD_S + DEADLINE_S));
  g_assert_cmpuint (f.door.bad_knocks, ==, 0);
  g_assert_cmpuint (_pt_ice_get_knock_rounds (f.sides[1].ice), ==, 1);
  g_assert_cmpint (f.sides[0].path, ==, PT_PATH_KIND_RELAY);
  g_assert_cmpint (f.sides[1].path, ==, PT_PATH_KIND_RELAY);
  g_assert_cmpuint (f.door.data_to_b, ==, 0);
  g_assert_cmpuint (f.sides[0].received, >, 0);
  g_assert_cmpuint (f.sides[1].received, >, 0);

  /* The direct path opens: both sides are on it within one knock period. */
  f.door.open = TRUE;
  opened = g_get_monotonic_time ();
  f.sides[0].watch_from = f.sides[1].watch_from = opened;
  g_assert_true (spin_until (both_direct, &f, KNOCK_PERIOD_S + 5));
  g_test_message ("door open -> direct: A %.2f s (%s), B %.2f s (%s)",
                  (f.sides[0].direct_at - opened) / 1e6, pt_path_kind_to_string (f.sides[0].path),
                  (f.sides[1].direct_at - opened) / 1e6, pt_path_kind_to_string (f.sides[1].path));
  /* Reflexive both: B learns A's side of the door from A's packets, and A
   * its own from B's answers (the door maps both ways). */
  g_assert_cmpint (f.sides[0].path, ==, PT_PATH_KIND_PRFLX);
  g_assert_cmpint (f.sides[1].path, ==, PT_PATH_KIND_PRFLX);

  /* Datagrams go on, now through the door, and the knocking has stopped:
   * one knock period and more without a round. */
  rounds = _pt_ice_get_knock_rounds (f.sides[0].ice);
  to_b = f.door.data_to_b;
  to_a = f.door.data_to_a;
  received[0] = f.sides[0].received;
  received[1] = f.sides[1].received;
  g_assert_false (spin_until (NULL, NULL, KNOCK_PERIOD_S + 1));
  g_assert_cmpuint (_pt_ice_get_knock_rounds (f.sides[0].ice), ==, rounds);
  /* ~300 datagrams each way in 6 s */
  g_assert_cmpuint (f.door.data_to_b - to_b, >, 200);
  g_assert_cmpuint (f.door.data_to_a - to_a, >, 200);
  g_assert_cmpuint (f.sides[0].received - received[0], >, 200);
  g_assert_cmpuint (f.sides[1].received - received[1], >, 200);
  g_test_message ("longest gap after the door opened: A %.3f s, B %.3f s",
                  f.sides[0].longest_gap / 1e6, f.sides[1].longest_gap / 1e6);
  g_assert_cmpint (f.sides[0].longest_gap, <, MAX_GAP_US);
  g_assert_cmpint (f.sides[1].longest_gap, <, MAX_GAP_US);

  fixture_teardown (&f);
}

static void
test_close_while_knocking (void)
{
  Fixture f;
  KnockWait wait = { &f, 1, 1 };
  guint knocks;

  if (turn_port == 0)
    {
      g_test_skip ("no turnserver (coturn) on this machine");
      return;
    }
  fixture_setup (&f);
  g_assert_true (spin_until (knocked, &wait, DEADLINE_S));

  /* Closed while relayed and knocking: no knock after that (and, under
   * ASan, no timer firing on a freed agent). */
  g_clear_handle_id (&f.pump, g_source_remove);
  for (guint i = 0; i < 2; i++)
    {
      _pt_ice_close (f.sides[i].ice);
      g_assert_finalize_object (f.sides[i].ice);
      f.sides[i].ice = NULL;
    }
  knocks = f.door.knocks;
  g_assert_false (spin_until (NULL, NULL, KNOCK_PERIOD_S + 1));
  g_assert_cmpuint (f.door.knocks, ==, knocks);

  fixture_teardown (&f);
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-upgrade/relay-to-direct", test_upgrade);
  g_test_add_func ("/ice-upgrade/close-while-knocking", test_close_while_knocking);

  if (!turn_start ())
    g_test_message ("turnserver not found");
  status = g_test_run ();
  turn_stop ();
  return status;
}
