/* pt-tun.c — TUN devices for VPN mode, made by the privileged helper
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One exchange per device over a SOCK_SEQPACKET socketpair whose other end
 * is the helper's stdin (docs/protocol.md, "TUN helper"): the request is
 * checked here first with the helper's own codec, so that a mistake is
 * reported before anyone is asked for a password — and so is a network that
 * overlaps what the machine already routes (helper/pt-tun-system.c, which the
 * helper runs again as root).
 *
 * The VPN client lock lives here too: pt vpn client and the app take the
 * same one, from pt_vpn_client_lock_acquire().
 */
#define G_LOG_DOMAIN "pt-tun"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib-unix.h>
#include <netinet/in.h>

#include "pt.h"
#include "pt-tun-request.h"

#define AUTO_NAMES      10       /* ptvpn0 … ptvpn9 */
/* pkexec may wait for a person to type a password. */
#define REPLY_TIMEOUT_S 120

typedef struct
{
  PtTunRequest  request;
  gboolean      auto_name;
  guint         next_name;
  GSubprocess  *process;
  int           sock;            /* our end */
  GSource      *watch;
  GSource      *timeout;
  int           fd;              /* the device, once received */
  char         *ifname;
} OpenData;

static void
open_data_free (OpenData *data)
{
  if (data->watch != NULL)
    {
      g_source_destroy (data->watch);
      g_source_unref (data->watch);
    }
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_source_unref (data->timeout);
    }
  if (data->process != NULL)
    g_subprocess_force_exit (data->process);
  g_clear_object (&data->process);
  if (data->sock >= 0)
    close (data->sock);
  if (data->fd >= 0)
    close (data->fd);
  g_free (data->ifname);
  g_free (data);
}

const char *
pt_tun_helper_path (void)
{
  const char *env = g_getenv ("PT_TUN_HELPER");

  return env != NULL && *env != '\0' ? env : PT_TUN_HELPER_PATH;
}

static void start_helper (GTask *task);

/* Whether this process may configure network devices itself (CAP_NET_ADMIN
 * in its effective set, as a service given AmbientCapabilities= has). */
static gboolean
has_net_admin (void)
{
  g_autofree char *status = NULL;
  const char *line;
  guint64 caps;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return FALSE;
  line = strstr (status, "\nCapEff:");
  if (line == NULL)
    return FALSE;
  caps = g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16);
  return (caps >> CAP_NET_ADMIN) & 1;
}

/* In the child, before exec: keep CAP_NET_ADMIN across exec (ambient), so
 * that the helper has it without root and without pkexec. Only system
 * calls: this runs between fork and exec. */
static void
keep_net_admin (gpointer unused)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];

  if (syscall (SYS_capget, &header, data) != 0)
    return;
  data[CAP_TO_INDEX (CAP_NET_ADMIN)].inheritable |= CAP_TO_MASK (CAP_NET_ADMIN);
  if (syscall (SYS_capset, &header, data) != 0)
    return;
  prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN, 0, 0);
}

static void
clear_exchange (OpenData *data)
{
  if (data->watch != NULL)
    {
      g_source_destroy (data->watch);
      g_clear_pointer (&data->watch, g_source_unref);
    }
  if (data->timeout != NULL)
    {
      g_source_destroy (data->timeout);
      g_clear_pointer (&data->timeout, g_source_unref);
    }
  if (data->sock >= 0)
    {
      close (data->sock);
      data->sock = -1;
    }
}

/* The helper closed its end without a reply: say why as well as we can. */
static void
helper_gone (GTask *task)
{
  OpenData *data = g_task_get_task_data (task);
  int status = -1;

  if (data->process != NULL && g_subprocess_get_if_exited (data->process))
    status = g_subprocess_get_exit_status (data->process);
  clear_exchange (data);

  /* pkexec: 126 = the user dismissed the dialog or was refused, 127 = not
   * authorized (no agent, or polkit said no). */
  if (status == 126 || status == 127)
    g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                             "creating the VPN device was not authorized (pkexec exit %d): run "
                             "this as an administrator, or allow the polkit action "
                             "io.github.peertunnel.PeerTunnel.create-tun", status);
  else
    g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                             "the TUN helper %s ended without an answer (exit status %d): is it "
                             "installed, and may this user run it?", pt_tun_helper_path (), status);
}

static void
process_exited_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  helper_gone (task);
}

static gboolean
reply_cb (gint          sock,
          GIOCondition  condition,
          gpointer      user_data)
{
  GTask *task = user_data;
  OpenData *data = g_task_get_task_data (task);
  char buf[PT_TUN_MESSAGE_MAX + 1];
  union { struct cmsghdr align; char space[CMSG_SPACE (sizeof (int))]; } control;
  struct iovec iov = { buf, PT_TUN_MESSAGE_MAX };
  struct msghdr msg = { 0, };
  struct cmsghdr *cmsg;
  PtTunReply reply;
  PtTunError problem;
  int fd = -1;
  ssize_t n;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.space;
  msg.msg_controllen = sizeof control.space;
  n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&data->watch, g_source_unref);
  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg != NULL; cmsg = CMSG_NXTHDR (&msg, cmsg))
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
        cmsg->cmsg_len == CMSG_LEN (sizeof (int)))
      memcpy (&fd, CMSG_DATA (cmsg), sizeof fd);

  if (n <= 0)
    {
      if (fd >= 0)
        close (fd);
      if (data->timeout != NULL)
        {
          g_source_destroy (data->timeout);
          g_clear_pointer (&data->timeout, g_source_unref);
        }
      /* Let the helper finish so its exit status can be read; the task's
       * reference goes along. */
      g_subprocess_wait_async (data->process, NULL, process_exited_cb, task);
      return G_SOURCE_REMOVE;
    }

  clear_exchange (data);
  if (pt_tun_reply_parse (buf, (size_t) n, &reply, &problem) != 0)
    {
      if (fd >= 0)
        close (fd);
      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                               "the TUN helper's answer cannot be used (%s: %s)",
                               problem.field, problem.message);
      g_object_unref (task);
      return G_SOURCE_REMOVE;
    }

  switch (reply.status)
    {
    case PT_TUN_STATUS_OK:
      if (fd < 0)
        {
          g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                                   "the TUN helper said yes but sent no device");
          break;
        }
      data->fd = fd;
      data->ifname = g_strdup (reply.ifname);
      g_debug ("TUN device %s (index %u)", reply.ifname, reply.ifindex);
      g_task_return_boolean (task, TRUE);
      break;

    case PT_TUN_STATUS_FAILED:
      if (fd >= 0)
        close (fd);
      /* A name in use: try the next automatic one. */
      if (data->auto_name && g_str_equal (reply.error.field, "ifname") &&
          data->next_name < AUTO_NAMES)
        {
          g_clear_object (&data->process);
          start_helper (task);
          return G_SOURCE_REMOVE;
        }
      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_FAILED,
                               "the VPN device could not be made (%s): %s",
                               reply.error.field, reply.error.message);
      break;

    case PT_TUN_STATUS_INVALID:
      if (fd >= 0)
        close (fd);
      /* A helper older than offload=1: ask again for plain packets. */
      if (data->request.offload && g_str_equal (reply.error.field, "request") &&
          strstr (reply.error.message, "\"offload\"") != NULL)
        {
          g_debug ("the TUN helper does not know offload=1: plain packets");
          data->request.offload = 0;
          g_clear_object (&data->process);
          start_helper (task);
          return G_SOURCE_REMOVE;
        }
      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_INVALID,
                               "the VPN device was refused (%s): %s",
                               reply.error.field, reply.error.message);
      break;
    }
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static gboolean
timeout_cb (gpointer user_data)
{
  GTask *task = user_data;
  OpenData *data = g_task_get_task_data (task);

  g_clear_pointer (&data->timeout, g_source_unref);
  clear_exchange (data);
  g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                           "no answer from the TUN helper within %d s (was the authorization "
                           "dialog left open?)", REPLY_TIMEOUT_S);
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
start_helper (GTask *task)
{
  OpenData *data = g_task_get_task_data (task);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  char text[PT_TUN_MESSAGE_MAX];
  const char *argv[3] = { NULL, };
  int pair[2];
  int len;

  if (data->auto_name)
    g_snprintf (data->request.ifname, sizeof data->request.ifname, "ptvpn%u", data->next_name++);

  len = pt_tun_request_format (&data->request, text, sizeof text);
  if (len < 0)
    {
      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_INVALID,
                               "the VPN device request is too large");
      g_object_unref (task);
      return;
    }

  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    {
      int saved = errno;

      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                               "cannot talk to the TUN helper: %s", g_strerror (saved));
      g_object_unref (task);
      return;
    }

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                        G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  /* Root runs the helper directly; so does a process that holds
   * CAP_NET_ADMIN (passed on to it); anyone else asks polkit. */
  if (geteuid () == 0)
    argv[0] = pt_tun_helper_path ();
  else if (has_net_admin ())
    {
      argv[0] = pt_tun_helper_path ();
      g_subprocess_launcher_set_child_setup (launcher, keep_net_admin, NULL, NULL);
    }
  else
    argv[0] = "pkexec", argv[1] = pt_tun_helper_path ();
  g_subprocess_launcher_take_stdin_fd (launcher, pair[1]);
  data->process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  if (data->process == NULL)
    {
      close (pair[0]);
      g_task_return_new_error (task, PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                               "cannot start the TUN helper (%s): %s", argv[0], error->message);
      g_object_unref (task);
      return;
    }

  data->sock = pair[0];
  if (send (data->sock, text, (size_t) len, MSG_NOSIGNAL) != len)
    {
      /* It died at once; the reply watch below reports it. */
      g_debug ("sending the TUN request failed: %s", g_strerror (errno));
    }

  data->watch = g_unix_fd_source_new (data->sock, G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (data->watch, (GSourceFunc) (void (*) (void)) reply_cb, task, NULL);
  g_source_set_static_name (data->watch, "[pt] TUN helper reply");
  g_source_attach (data->watch, g_main_context_get_thread_default ());
  if (data->timeout == NULL)
    {
      data->timeout = g_timeout_source_new_seconds (REPLY_TIMEOUT_S);
      g_source_set_callback (data->timeout, timeout_cb, task, NULL);
      g_source_attach (data->timeout, g_main_context_get_thread_default ());
    }
}

static gboolean
add_prefix (const char    *text,
            int            family,
            PtTunPrefix   *prefix,
            GError       **error)
{
  if (pt_tun_prefix_parse (text, prefix) != 0 || prefix->family != family)
    {
      g_set_error (error, PT_TUN_ERROR, PT_TUN_ERROR_INVALID,
                   "“%s” is not an %s ADDRESS/LEN", text, family == AF_INET ? "IPv4" : "IPv6");
      return FALSE;
    }
  return TRUE;
}

void
pt_tun_open_async (const char          *ifname,
                   guint                mtu,
                   const char          *address4,
                   const char          *address6,
                   const char * const  *routes,
                   PtTunFlags           flags,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  OpenData *data = g_new0 (OpenData, 1);
  PtTunError problem;

  data->sock = -1;
  data->fd = -1;
  g_task_set_source_tag (task, pt_tun_open_async);
  g_task_set_task_data (task, data, (GDestroyNotify) open_data_free);

  data->request.mtu = mtu;
  data->request.allow_overlap = (flags & PT_TUN_FLAGS_ALLOW_OVERLAP) != 0;
  /* TCP in 64 KB super-packets (IFF_VNET_HDR, pt-vpn-gso.c) unless
   * PT_TUN_OFFLOAD=0 says plain packets. */
  data->request.offload = g_strcmp0 (g_getenv ("PT_TUN_OFFLOAD"), "0") != 0;
  if (ifname != NULL)
    g_strlcpy (data->request.ifname, ifname, sizeof data->request.ifname);
  else
    {
      data->auto_name = TRUE;
      g_strlcpy (data->request.ifname, "ptvpn0", sizeof data->request.ifname);
    }
  if (address4 != NULL)
    {
      if (!add_prefix (address4, AF_INET, &data->request.address4, &error))
        goto fail;
      data->request.has_address4 = 1;
    }
  if (address6 != NULL)
    {
      if (!add_prefix (address6, AF_INET6, &data->request.address6, &error))
        goto fail;
      data->request.has_address6 = 1;
    }
  for (guint i = 0; routes != NULL && routes[i] != NULL; i++)
    {
      PtTunPrefix route;

      if (data->request.n_routes >= PT_TUN_MAX_ROUTES)
        {
          error = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_INVALID, "at most %d routes",
                               PT_TUN_MAX_ROUTES);
          goto fail;
        }
      if (pt_tun_prefix_parse (routes[i], &route) != 0)
        {
          error = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_INVALID,
                               "route “%s” is not NETWORK/LEN", routes[i]);
          goto fail;
        }
      data->request.routes[data->request.n_routes++] = route;
    }

  /* The helper's own rules, before anyone is asked for a password. */
  if (pt_tun_request_validate (&data->request, &problem) != 0)
    {
      error = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_INVALID, "%s: %s", problem.field,
                           problem.message);
      goto fail;
    }

  /* Nothing that would capture part of the machine's own networks. An
   * automatic name is not chosen yet: then no device's routes are ignored. */
  if (!data->request.allow_overlap)
    {
      PtTunRequest check = data->request;

      if (data->auto_name)
        check.ifname[0] = '\0';
      if (pt_tun_check_system_overlap (&check, &problem) != 0)
        {
          if (g_str_equal (problem.field, "system"))
            error = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_FAILED, "%s", problem.message);
          else
            /* Each front end says how to allow it (pt vpn --allow-overlap). */
            error = g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP,
                                 "%s: nothing was changed", problem.message);
          goto fail;
        }
    }

  start_helper (g_steal_pointer (&task));
  return;

fail:
  g_task_return_error (task, g_steal_pointer (&error));
}

int
pt_tun_open_finish (GAsyncResult  *result,
                    char         **ifname,
                    GError       **error)
{
  OpenData *data;
  int fd;

  g_return_val_if_fail (g_task_is_valid (result, NULL), -1);

  if (!g_task_propagate_boolean (G_TASK (result), error))
    return -1;
  data = g_task_get_task_data (G_TASK (result));
  fd = data->fd;
  data->fd = -1;
  if (ifname != NULL)
    *ifname = g_strdup (data->ifname);
  return fd;
}

/* ---------------------------------------------------------------------- */
/* The VPN client lock */

#define LOCK_DIR_NAME  "peertunnel"
#define LOCK_FILE_NAME "vpn-client.lock"
#define HOLDER_MAX     128

/* Whether @dir is a real directory (not a symlink) of this user that no one
 * else may write to. */
static gboolean
own_private_dir (const char *dir)
{
  struct stat st;

  return dir != NULL && g_path_is_absolute (dir) && lstat (dir, &st) == 0 &&
         S_ISDIR (st.st_mode) && st.st_uid == geteuid () && (st.st_mode & 022) == 0;
}

/* @parent/peertunnel, made 0700 when missing; NULL when it cannot be this
 * user's own. */
static char *
lock_dir_in (const char *parent)
{
  g_autofree char *dir = NULL;
  struct stat st;

  if (!own_private_dir (parent))
    return NULL;
  dir = g_build_filename (parent, LOCK_DIR_NAME, NULL);
  if (mkdir (dir, 0700) != 0 && errno != EEXIST)
    {
      g_debug ("cannot make %s: %s", dir, g_strerror (errno));
      return NULL;
    }
  if (lstat (dir, &st) != 0 || !S_ISDIR (st.st_mode) || st.st_uid != geteuid ())
    return NULL;
  if ((st.st_mode & 077) != 0 && chmod (dir, 0700) != 0)
    return NULL;
  return g_steal_pointer (&dir);
}

char *
pt_vpn_client_lock_path (GError **error)
{
  const char *env = g_getenv ("PT_VPN_CLIENT_LOCK");
  g_autofree char *run_user = g_strdup_printf ("/run/user/%u", (guint) geteuid ());
  const char *cache = g_get_user_cache_dir ();
  const char *candidates[3] = { g_getenv ("XDG_RUNTIME_DIR"), run_user, cache };

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  /* The cache directory may not exist yet; the others are made at login. */
  if (cache != NULL && g_path_is_absolute (cache))
    g_mkdir_with_parents (cache, 0700);
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      g_autofree char *dir = lock_dir_in (candidates[i]);

      if (dir != NULL)
        return g_build_filename (dir, LOCK_FILE_NAME, NULL);
    }
  g_set_error (error, PT_TUN_ERROR, PT_TUN_ERROR_FAILED,
               "no private directory for the VPN client lock: $XDG_RUNTIME_DIR, %s and %s are "
               "missing, not this user's or writable by others", run_user,
               cache != NULL ? cache : "the cache directory");
  return NULL;
}

/* Opens @path as this user's own regular 0600 file; -1 with errno. */
static int
open_own_lock (const char *path,
               int         extra_flags)
{
  int fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | extra_flags, 0600);
  struct stat st;

  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ())
    {
      close (fd);
      errno = EPERM;
      return -1;
    }
  if ((st.st_mode & 07777) != 0600 && fchmod (fd, 0600) != 0)
    g_debug ("cannot make %s 0600: %s", path, g_strerror (errno));
  return fd;
}

int
pt_vpn_client_lock_acquire (const char  *holder,
                            char       **holder_out,
                            GError     **error)
{
  const char *env = g_getenv ("PT_VPN_CLIENT_LOCK");
  gboolean chosen = env != NULL && env[0] != '\0';
  g_autofree char *path = pt_vpn_client_lock_path (error);
  g_autofree char *me = NULL;
  int fd;

  if (path == NULL)
    return -1;
  fd = open_own_lock (path, 0);
  /* In our own private directory, anything else in the lock's place (a
   * symlink, a file of another owner) was not made by a client of ours:
   * replace it rather than obey it. A path given in $PT_VPN_CLIENT_LOCK is
   * left alone. */
  if (fd < 0 && !chosen && (errno == EPERM || errno == ELOOP || errno == EACCES))
    {
      if (unlink (path) == 0 || errno == ENOENT)
        fd = open_own_lock (path, O_EXCL);
    }
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, PT_TUN_ERROR, PT_TUN_ERROR_FAILED,
                   "cannot use the VPN client lock %s: %s", path,
                   saved == EPERM ? "it is not this user's own file" : g_strerror (saved));
      return -1;
    }

  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      char text[HOLDER_MAX] = "";
      ssize_t n = pread (fd, text, sizeof text - 1, 0);

      text[n > 0 ? n : 0] = '\0';
      /* Printable text only: the file is ours, but say nothing odd. */
      for (char *p = text; *p != '\0'; p++)
        if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
          *p = ' ';
      g_strstrip (text);
      if (holder_out != NULL)
        *holder_out = g_strdup (text[0] != '\0' ? text : path);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "another VPN client of this user is running (%s): stop it first",
                   text[0] != '\0' ? text : path);
      close (fd);
      return -1;
    }
  me = g_strdup_printf ("pid %d, %s\n", (int) getpid (), holder != NULL ? holder : "pt");
  if (ftruncate (fd, 0) != 0 || pwrite (fd, me, strlen (me), 0) < 0)
    g_debug ("cannot write the lock's holder: %s", g_strerror (errno));
  g_debug ("VPN client lock %s taken", path);
  return fd;
}
