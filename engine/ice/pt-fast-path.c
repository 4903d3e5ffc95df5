/* pt-fast-path.c — pt's own UDP socket on the selected ICE pair
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * See pt-fast-path-private.h for what it does and why.
 */
#define G_LOG_DOMAIN "pt-fast-path"
#define _GNU_SOURCE

#include "config.h"

#include <errno.h>
#include <ifaddrs.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "pt-fast-path-private.h"

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103                   /* Linux 4.18 */
#endif
#ifndef UDP_GRO
#define UDP_GRO 104                       /* Linux 5.0 */
#endif
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51       /* Linux 4.5 */
#endif

#define PT_FAST_PATH_RX_BATCH      16     /* datagrams (GRO buffers) per recvmmsg */
#define PT_FAST_PATH_RX_BUF        65536  /* one GRO buffer: up to 64 KiB of segments */
#define PT_FAST_PATH_RX_ROUNDS     4      /* recvmmsg calls per wake-up, then other sources run */
#define PT_FAST_PATH_TX_BATCH      64     /* packets per sendmmsg */
#define PT_FAST_PATH_GSO_SEGMENTS  64     /* the kernel's UDP_MAX_SEGMENTS */
#define PT_FAST_PATH_GSO_BYTES     65000  /* under the 64 KiB of one IP datagram */
#define PT_FAST_PATH_SOCKET_BUFFER (8 * 1024 * 1024)

struct _PtFastPath
{
  int                      fd;
  int                      nice_fd;
  int                      family;
  struct sockaddr_storage  remote;
  socklen_t                remote_len;
  GSource                 *source;

  PtFastPathReceiveFunc    func;
  PtFastPathBatchFunc      batch_func;
  gpointer                 user_data;

  gboolean                 gso;
  gboolean                 gro;
  gboolean                 receiving;   /* inside the receive function */
  gboolean                 freed;       /* _free() was called while receiving */
  PtFastPathStats          stats;
};

/* Receive buffers, one set per thread: a receive batch is handed to QUIC
 * before the next one is read, so every fast path of a thread can share it. */
typedef struct
{
  struct mmsghdr           msgs[PT_FAST_PATH_RX_BATCH];
  struct iovec             iov[PT_FAST_PATH_RX_BATCH];
  struct sockaddr_storage  names[PT_FAST_PATH_RX_BATCH];
  union
  {
    char                   buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr         align;
  }                        control[PT_FAST_PATH_RX_BATCH];
  guint8                   data[PT_FAST_PATH_RX_BATCH][PT_FAST_PATH_RX_BUF];
} RxBuffers;

static GPrivate rx_buffers_key = G_PRIVATE_INIT (g_free);

static RxBuffers *
get_rx_buffers (void)
{
  RxBuffers *rx = g_private_get (&rx_buffers_key);

  if (rx == NULL)
    {
      rx = g_malloc (sizeof *rx);
      g_private_set (&rx_buffers_key, rx);
    }
  return rx;
}

gboolean
_pt_fast_path_allowed (void)
{
  const char *value = g_getenv ("PT_FAST_PATH");

  if (value == NULL)
    return TRUE;
  return !(g_ascii_strcasecmp (value, "off") == 0 ||
           g_ascii_strcasecmp (value, "0") == 0 ||
           g_ascii_strcasecmp (value, "no") == 0 ||
           g_ascii_strcasecmp (value, "false") == 0);
}

static gboolean
same_address (const struct sockaddr *a,
              const struct sockaddr *b)
{
  if (a->sa_family != b->sa_family)
    return FALSE;

  if (a->sa_family == AF_INET)
    {
      const struct sockaddr_in *a4 = (const struct sockaddr_in *) a;
      const struct sockaddr_in *b4 = (const struct sockaddr_in *) b;

      return a4->sin_port == b4->sin_port && a4->sin_addr.s_addr == b4->sin_addr.s_addr;
    }
  if (a->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *) a;
      const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *) b;

      return a6->sin6_port == b6->sin6_port &&
             memcmp (&a6->sin6_addr, &b6->sin6_addr, sizeof a6->sin6_addr) == 0;
    }
  return FALSE;
}

static gboolean
same_host (const struct sockaddr *a,
           const struct sockaddr *b)
{
  if (a == NULL || b == NULL || a->sa_family != b->sa_family)
    return FALSE;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *) a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *) b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp (&((const struct sockaddr_in6 *) a)->sin6_addr,
                   &((const struct sockaddr_in6 *) b)->sin6_addr, sizeof (struct in6_addr)) == 0;
  return FALSE;
}

gboolean
_pt_fast_path_is_local_address (const struct sockaddr *address)
{
  struct ifaddrs *list = NULL;
  gboolean found = FALSE;

  if (address->sa_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) address;

      if ((ntohl (sin->sin_addr.s_addr) >> 24) == 127)
        return TRUE;
    }
  else if (address->sa_family == AF_INET6)
    {
      if (IN6_IS_ADDR_LOOPBACK (&((const struct sockaddr_in6 *) address)->sin6_addr))
        return TRUE;
    }
  else
    return FALSE;

  if (getifaddrs (&list) != 0)
    return FALSE;
  for (struct ifaddrs *ifa = list; ifa != NULL && !found; ifa = ifa->ifa_next)
    found = same_host (ifa->ifa_addr, address);
  freeifaddrs (list);

  return found;
}

/* The reuseport group's program: socket 0 (libnice's, which joined the group
 * first) gets everything except datagrams from the selected remote address and
 * port whose first payload byte has the QUIC fixed bit; those go to socket 1
 * (ours).  A program that returned an index the group does not have would let
 * the kernel pick by hash, so every path ends in an explicit "ret". */
static gboolean
attach_filter (int                    fd,
               const struct sockaddr *remote,
               GError               **error)
{
  struct sock_filter code[24];
  struct sock_fprog prog;
  guint n = 0;
  guint ret0, ret1;
  guint jumps[12];
  guint n_jumps = 0;

#define LOAD(size, offset) \
  (code[n++] = (struct sock_filter) BPF_STMT (BPF_LD | size | BPF_ABS, (guint32) (offset)))
#define EXPECT(value) \
  (jumps[n_jumps++] = n, \
   code[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, (guint32) (value), 0, 0))

  if (remote->sa_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) remote;

      LOAD (BPF_B, SKF_NET_OFF + 0);              /* version 4, 20-byte header */
      EXPECT (0x45);
      LOAD (BPF_W, SKF_NET_OFF + 12);             /* source address */
      EXPECT (ntohl (sin->sin_addr.s_addr));
      LOAD (BPF_H, SKF_NET_OFF + 20);             /* UDP source port */
      EXPECT (ntohs (sin->sin_port));
    }
  else
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) remote;
      const guint8 *a = sin6->sin6_addr.s6_addr;

      LOAD (BPF_B, SKF_NET_OFF + 6);              /* next header: UDP, no extensions */
      EXPECT (IPPROTO_UDP);
      for (guint i = 0; i < 4; i++)
        {
          LOAD (BPF_W, SKF_NET_OFF + 8 + 4 * i);  /* source address */
          EXPECT (((guint32) a[4 * i] << 24) | ((guint32) a[4 * i + 1] << 16) |
                  ((guint32) a[4 * i + 2] << 8) | a[4 * i + 3]);
        }
      LOAD (BPF_H, SKF_NET_OFF + 40);             /* UDP source port */
      EXPECT (ntohs (sin6->sin6_port));
    }

  LOAD (BPF_B, 0);                                /* first payload byte */
  jumps[n_jumps++] = n;
  code[n++] = (struct sock_filter) BPF_JUMP (BPF_JMP | BPF_JSET | BPF_K, 0x40, 0, 0);
  ret1 = n;
  code[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, 1);
  ret0 = n;
  code[n++] = (struct sock_filter) BPF_STMT (BPF_RET | BPF_K, 0);

#undef LOAD
#undef EXPECT

  g_assert (n <= G_N_ELEMENTS (code) && n_jumps <= G_N_ELEMENTS (jumps));

  /* Every test falls through on success and jumps to "ret 0" otherwise;
   * the last one (the fixed bit) goes on to "ret 1". */
  for (guint i = 0; i < n_jumps; i++)
    {
      guint at = jumps[i];

      code[at].jt = (guint8) ((i == n_jumps - 1 ? ret1 : at + 1) - (at + 1));
      code[at].jf = (guint8) (ret0 - (at + 1));
    }

  prog.len = (unsigned short) n;
  prog.filter = code;
  if (setsockopt (fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "the kernel refused the reuseport filter: %s", g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static void
set_buffer (int fd,
            int force_option,
            int option)
{
  int size = PT_FAST_PATH_SOCKET_BUFFER;

  /* FORCE passes net.core.[rw]mem_max with CAP_NET_ADMIN. */
  if (setsockopt (fd, SOL_SOCKET, force_option, &size, sizeof size) != 0 &&
      setsockopt (fd, SOL_SOCKET, option, &size, sizeof size) != 0)
    g_debug ("socket buffer of %d bytes refused: %s", size, g_strerror (errno));
}

static void
pt_fast_path_destroy (PtFastPath *self)
{
  if (self->fd >= 0)
    close (self->fd);
  g_free (self);
}

static void
handle_datagram (PtFastPath    *self,
                 struct msghdr *msg,
                 gsize          len)
{
  const guint8 *data = msg->msg_iov[0].iov_base;
  gsize segment = len;

  if ((msg->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
      msg->msg_namelen == 0 ||
      !same_address ((const struct sockaddr *) msg->msg_name, (const struct sockaddr *) &self->remote))
    {
      self->stats.dropped_in++;
      return;
    }

  for (struct cmsghdr *c = CMSG_FIRSTHDR (msg); c != NULL; c = CMSG_NXTHDR (msg, c))
    {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
        {
          int size;

          memcpy (&size, CMSG_DATA (c), sizeof size);
          if (size > 0)
            segment = (gsize) size;
        }
    }

  for (gsize offset = 0; offset < len && !self->freed; offset += segment)
    {
      gsize seg_len = MIN (segment, len - offset);

      /* The filter checked the first segment; GRO only joins datagrams of
       * one flow, but every one of them must be QUIC all the same. */
      if ((data[offset] & 0x40) == 0)
        {
          self->stats.dropped_in++;
          continue;
        }
      self->stats.packets_in++;
      self->func (data + offset, seg_len, self->user_data);
    }
}

static gboolean
receive_cb (gint         fd,
            GIOCondition condition,
            gpointer     user_data)
{
  PtFastPath *self = user_data;
  RxBuffers *rx = get_rx_buffers ();
  guint64 packets_before = self->stats.packets_in;

  self->receiving = TRUE;

  for (guint round = 0; round < PT_FAST_PATH_RX_ROUNDS && !self->freed; round++)
    {
      int n;

      for (guint i = 0; i < PT_FAST_PATH_RX_BATCH; i++)
        {
          struct msghdr *msg = &rx->msgs[i].msg_hdr;

          rx->iov[i].iov_base = rx->data[i];
          rx->iov[i].iov_len = PT_FAST_PATH_RX_BUF;
          msg->msg_name = &rx->names[i];
          msg->msg_namelen = sizeof rx->names[i];
          msg->msg_iov = &rx->iov[i];
          msg->msg_iovlen = 1;
          msg->msg_control = rx->control[i].buf;
          msg->msg_controllen = sizeof rx->control[i].buf;
          msg->msg_flags = 0;
        }

      n = recvmmsg (self->fd, rx->msgs, PT_FAST_PATH_RX_BATCH, MSG_DONTWAIT, NULL);
      if (n < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            g_debug ("recvmmsg: %s", g_strerror (errno));
          break;
        }
      self->stats.receive_calls++;

      for (int i = 0; i < n && !self->freed; i++)
        handle_datagram (self, &rx->msgs[i].msg_hdr, rx->msgs[i].msg_len);

      if (n < PT_FAST_PATH_RX_BATCH)
        break;
    }

  if (!self->freed && self->batch_func != NULL && self->stats.packets_in != packets_before)
    self->batch_func (self->user_data);

  self->receiving = FALSE;
  if (self->freed)
    {
      pt_fast_path_destroy (self);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

PtFastPath *
_pt_fast_path_new (GSocket                *nice_socket,
                   const struct sockaddr  *remote,
                   socklen_t               remote_len,
                   PtFastPathReceiveFunc   func,
                   PtFastPathBatchFunc     batch_func,
                   gpointer                user_data,
                   GError                **error)
{
  g_autoptr(GSocketAddress) local = NULL;
  struct sockaddr_storage local_native;
  PtFastPath *self;
  int nice_fd;
  int one = 1;
  int probe = 0;
  socklen_t probe_len = sizeof probe;

  g_return_val_if_fail (G_IS_SOCKET (nice_socket), NULL);
  g_return_val_if_fail (remote != NULL && remote_len <= sizeof (struct sockaddr_storage), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (remote->sa_family != AF_INET && remote->sa_family != AF_INET6)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "not an IP address");
      return NULL;
    }

  local = g_socket_get_local_address (nice_socket, error);
  if (local == NULL)
    return NULL;
  if (!g_socket_address_to_native (local, &local_native, sizeof local_native, error))
    return NULL;
  if (local_native.ss_family != remote->sa_family)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "local and remote address families differ");
      return NULL;
    }

  nice_fd = g_socket_get_fd (nice_socket);
  if (setsockopt (nice_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "SO_REUSEPORT refused on the ICE socket: %s", g_strerror (saved));
      return NULL;
    }

  self = g_new0 (PtFastPath, 1);
  self->nice_fd = nice_fd;
  self->family = remote->sa_family;
  memcpy (&self->remote, remote, remote_len);
  self->remote_len = remote_len;
  self->func = func;
  self->batch_func = batch_func;
  self->user_data = user_data;

  self->fd = socket (self->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (self->fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot create a UDP socket: %s", g_strerror (saved));
      pt_fast_path_destroy (self);
      return NULL;
    }

  if (self->family == AF_INET6)
    (void) setsockopt (self->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);

  if (setsockopt (self->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      bind (self->fd, (struct sockaddr *) &local_native,
            self->family == AF_INET ? sizeof (struct sockaddr_in) : sizeof (struct sockaddr_in6)) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "cannot share the ICE socket's port: %s", g_strerror (saved));
      pt_fast_path_destroy (self);
      return NULL;
    }

  if (!attach_filter (self->fd, remote, error))
    {
      pt_fast_path_destroy (self);
      return NULL;
    }

  set_buffer (self->fd, SO_RCVBUFFORCE, SO_RCVBUF);
  set_buffer (self->fd, SO_SNDBUFFORCE, SO_SNDBUF);

  /* Don't fragment; ngtcp2's path-MTU discovery decides the size. */
  if (self->family == AF_INET)
    {
      int value = IP_PMTUDISC_PROBE;

      (void) setsockopt (self->fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof value);
    }
  else
    {
      int value = IPV6_PMTUDISC_PROBE;

      (void) setsockopt (self->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof value);
    }

  self->gro = setsockopt (self->fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
  self->gso = getsockopt (self->fd, SOL_UDP, UDP_SEGMENT, &probe, &probe_len) == 0;

  self->source = g_unix_fd_source_new (self->fd, G_IO_IN);
  g_source_set_callback (self->source, (GSourceFunc) (void (*) (void)) receive_cb, self, NULL);
  g_source_set_static_name (self->source, "[pt] fast path receive");
  /* Not blocked while dispatched: GLib 2.74 takes a blocked source's fd
   * out of the poll set and puts it back, which writes the context's
   * wake-up eventfd, once per receive batch. */
  g_source_set_can_recurse (self->source, TRUE);
  g_source_attach (self->source, g_main_context_get_thread_default ());

  g_debug ("fast path on fd %d (%s)", self->fd, _pt_fast_path_get_mode (self));

  return self;
}

void
_pt_fast_path_free (PtFastPath *self)
{
  if (self == NULL)
    return;

  g_debug ("fast path on fd %d closed: %" G_GUINT64_FORMAT " packets in, %" G_GUINT64_FORMAT
           " out, %" G_GUINT64_FORMAT " dropped in, %" G_GUINT64_FORMAT " dropped out",
           self->fd, self->stats.packets_in, self->stats.packets_out,
           self->stats.dropped_in, self->stats.dropped_out);

  if (self->source != NULL)
    {
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
    }

  if (self->receiving)
    {
      /* Freed from the receive function: receive_cb() finishes it. */
      self->freed = TRUE;
      return;
    }
  pt_fast_path_destroy (self);
}

gboolean
_pt_fast_path_matches (PtFastPath            *self,
                       GSocket               *nice_socket,
                       const struct sockaddr *remote)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return !self->freed && self->nice_fd == g_socket_get_fd (nice_socket) &&
         same_address (remote, (const struct sockaddr *) &self->remote);
}

const char *
_pt_fast_path_get_mode (PtFastPath *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (self->gso && self->gro)
    return "gso+gro";
  if (self->gro)
    return "gro";
  if (self->gso)
    return "gso";
  return "batched";
}

void
_pt_fast_path_get_stats (PtFastPath      *self,
                         PtFastPathStats *stats)
{
  g_return_if_fail (self != NULL && stats != NULL);

  *stats = self->stats;
}

typedef union
{
  char            buf[CMSG_SPACE (sizeof (guint16))];
  struct cmsghdr  align;
} SegmentControl;

void
_pt_fast_path_send (PtFastPath          *self,
                    const GOutputVector *packets,
                    guint                n_packets)
{
  struct mmsghdr msgs[PT_FAST_PATH_TX_BATCH];
  struct iovec iov[PT_FAST_PATH_TX_BATCH];
  SegmentControl control[PT_FAST_PATH_TX_BATCH];
  guint first[PT_FAST_PATH_TX_BATCH + 1];
  guint done = 0;

  g_return_if_fail (self != NULL);

  if (self->freed)
    return;

  while (done < n_packets)
    {
      guint n = MIN (n_packets - done, PT_FAST_PATH_TX_BATCH);
      guint n_msgs = 0;
      guint sent = 0;

      for (guint i = 0; i < n; i++)
        {
          iov[i].iov_base = (void *) packets[done + i].buffer;
          iov[i].iov_len = packets[done + i].size;
        }

      /* Runs of equal-size packets (the last of a run may be shorter), one
       * message each; with GSO off, one message per packet. */
      for (guint i = 0; i < n;)
        {
          struct msghdr *msg = &msgs[n_msgs].msg_hdr;
          gsize size = iov[i].iov_len;
          gsize total = size;
          guint j = i + 1;

          if (self->gso)
            {
              while (j < n && j - i < PT_FAST_PATH_GSO_SEGMENTS &&
                     iov[j].iov_len <= size && total + iov[j].iov_len <= PT_FAST_PATH_GSO_BYTES)
                {
                  total += iov[j].iov_len;
                  j++;
                  if (iov[j - 1].iov_len < size)
                    break;
                }
            }

          memset (msg, 0, sizeof *msg);
          msg->msg_name = &self->remote;
          msg->msg_namelen = self->remote_len;
          msg->msg_iov = &iov[i];
          msg->msg_iovlen = j - i;
          if (j - i > 1)
            {
              struct cmsghdr *c;
              guint16 segment = (guint16) size;

              msg->msg_control = control[n_msgs].buf;
              msg->msg_controllen = sizeof control[n_msgs].buf;
              c = CMSG_FIRSTHDR (msg);
              c->cmsg_level = SOL_UDP;
              c->cmsg_type = UDP_SEGMENT;
              c->cmsg_len = CMSG_LEN (sizeof segment);
              memcpy (CMSG_DATA (c), &segment, sizeof segment);
            }
          first[n_msgs++] = i;
          i = j;
        }
      first[n_msgs] = n;

      while (sent < n_msgs)
        {
          int r = sendmmsg (self->fd, msgs + sent, n_msgs - sent, 0);

          if (r < 0)
            {
              int saved = errno;

              if (saved == EINTR)
                continue;
              if (saved == EIO && self->gso)
                {
                  /* The device cannot segment (no checksum offload): plain
                   * datagrams from now on, starting with these. */
                  g_debug ("UDP GSO refused (%s): sending datagrams one by one",
                           g_strerror (saved));
                  self->gso = FALSE;
                  _pt_fast_path_send (self, packets + done + first[sent],
                                      n_packets - done - first[sent]);
                  return;
                }
              if (saved == EAGAIN || saved == EWOULDBLOCK || saved == ENOBUFS)
                {
                  /* Full: the rest is lost, QUIC retransmits. */
                  self->stats.dropped_out += n_packets - done - first[sent];
                  return;
                }
              /* One message the kernel will not take (EMSGSIZE for a probe
               * larger than the path, an unreachable network…): skip it. */
              g_debug ("sendmmsg: %s", g_strerror (saved));
              self->stats.dropped_out += first[sent + 1] - first[sent];
              sent++;
              continue;
            }

          self->stats.send_calls++;
          self->stats.packets_out += first[sent + r] - first[sent];
          sent += r;
        }

      done += n;
    }
}
