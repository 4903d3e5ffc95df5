/* peertunnel-tun-helper.c — create and configure one TUN device, hand its fd back
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Runs as root, started by pkexec (polkit action io.github.peertunnel.PeerTunnel.create-tun)
 * or directly by root. Its stdin is one end of an AF_UNIX SOCK_SEQPACKET socketpair whose
 * other end the caller keeps. It:
 *
 *   1. receives ONE request message (docs/protocol.md, "TUN helper"; at most 4096 bytes,
 *      within 10 s) and validates every field (helper/pt-tun-request.c); unless the
 *      request says allow-overlap=1, refuses an address or route whose network overlaps
 *      a route or address the machine already has (helper/pt-tun-system.c), so that a
 *      VPN never captures part of the user's own LAN;
 *   2. creates the TUN device (/dev/net/tun, IFF_TUN | IFF_NO_PI, IFF_TUN_EXCL so that an
 *      existing device is never taken over) — not persistent: it lives as long as its fd;
 *      with offload=1 also IFF_VNET_HDR and the TCP offloads (TUNSETOFFLOAD), each
 *      dropped with one log line when the kernel refuses it;
 *   3. sets the MTU, the addresses, the link up and the routes with rtnetlink;
 *   4. sends one reply message, with the device's fd attached (SCM_RIGHTS) on success;
 *   5. exits: 0 ok, 1 request refused, 2 the system failed, 64 usage (bad stdin or argv).
 *
 * On any failure it replies with the field and the reason and closes the device's fd,
 * which deletes the device with its addresses and routes: nothing stays half-configured.
 * The whole run is bounded by alarm (30). It links nothing but libc.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pt-tun-request.h"

/* <net/if.h> clashes with <linux/if.h>; this is all we need from it. */
extern unsigned int if_nametoindex (const char *ifname);

#define EXIT_REFUSED 1
#define EXIT_FAILED  2
#define EXIT_USAGE   64

#define REQUEST_TIMEOUT_MS 10000
#define RUN_TIMEOUT_S      30

static void
log_line (const char *format,
          ...) __attribute__ ((format (printf, 1, 2)));

static void
log_line (const char *format,
          ...)
{
  va_list args;

  fputs ("peertunnel-tun-helper: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

/* rtnetlink ------------------------------------------------------------------------ */

typedef struct
{
  int      fd;
  uint32_t seq;
} Netlink;

typedef struct
{
  struct nlmsghdr header;
  union
  {
    struct ifinfomsg link;
    struct ifaddrmsg addr;
    struct rtmsg     route;
  } body;
  char attrs[256];
} NetlinkRequest;

static int
netlink_open (Netlink *nl)
{
  nl->seq = 1;
  nl->fd = pt_tun_netlink_socket ();
  return nl->fd < 0 ? nl->fd : 0;
}

static void
netlink_request_init (NetlinkRequest *req,
                      uint16_t        type,
                      uint16_t        flags,
                      size_t          body_len)
{
  memset (req, 0, sizeof *req);
  req->header.nlmsg_len = (uint32_t) NLMSG_LENGTH (body_len);
  req->header.nlmsg_type = type;
  req->header.nlmsg_flags = (uint16_t) (NLM_F_REQUEST | NLM_F_ACK | flags);
}

/* Appends one attribute; aborts on overflow, which would be a bug here (the
 * messages are fixed in shape and far smaller than the buffer). */
static void
netlink_add_attr (NetlinkRequest *req,
                  uint16_t        type,
                  const void     *data,
                  size_t          len)
{
  size_t offset = NLMSG_ALIGN (req->header.nlmsg_len);
  struct rtattr *attr = (struct rtattr *) ((char *) req + offset);

  if (offset + RTA_SPACE (len) > sizeof *req)
    abort ();
  attr->rta_type = type;
  attr->rta_len = (unsigned short) RTA_LENGTH (len);
  memcpy (RTA_DATA (attr), data, len);
  req->header.nlmsg_len = (uint32_t) (offset + RTA_SPACE (len));
}

/* Sends @req and waits for the kernel's acknowledgement. Returns 0, or -errno (the
 * kernel's answer, or the socket's failure; -ETIMEDOUT when it said nothing). */
static int
netlink_talk (Netlink        *nl,
              NetlinkRequest *req)
{
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  union
  {
    struct nlmsghdr header;
    char            bytes[8192];
  } answer;

  req->header.nlmsg_seq = ++nl->seq;
  if (sendto (nl->fd, req, req->header.nlmsg_len, 0, (struct sockaddr *) &kernel,
              sizeof kernel) < 0)
    return -errno;

  for (;;)
    {
      struct sockaddr_nl from;
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom (nl->fd, &answer, sizeof answer, 0, (struct sockaddr *) &from,
                            &from_len);
      size_t left;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        }
      /* Only the kernel (port 0) speaks for the kernel. */
      if (from_len != sizeof from || from.nl_pid != 0)
        continue;

      left = (size_t) n;
      for (struct nlmsghdr *h = &answer.header; NLMSG_OK (h, left); h = NLMSG_NEXT (h, left))
        {
          const struct nlmsgerr *err;

          if (h->nlmsg_seq != nl->seq || h->nlmsg_type != NLMSG_ERROR)
            continue;
          if (h->nlmsg_len < NLMSG_LENGTH (sizeof *err))
            return -EPROTO;
          err = NLMSG_DATA (h);
          return err->error; /* 0 = ack, else -errno */
        }
    }
}

static int
netlink_set_link (Netlink     *nl,
                  unsigned int ifindex,
                  unsigned int mtu,
                  int          up)
{
  NetlinkRequest req;

  netlink_request_init (&req, RTM_NEWLINK, 0, sizeof req.body.link);
  req.body.link.ifi_family = AF_UNSPEC;
  req.body.link.ifi_index = (int) ifindex;
  if (up)
    {
      req.body.link.ifi_flags = IFF_UP;
      req.body.link.ifi_change = IFF_UP;
    }
  if (mtu != 0)
    {
      uint32_t value = mtu;
      netlink_add_attr (&req, IFLA_MTU, &value, sizeof value);
    }
  return netlink_talk (nl, &req);
}

static int
netlink_add_address (Netlink           *nl,
                     unsigned int       ifindex,
                     const PtTunPrefix *address)
{
  NetlinkRequest req;
  size_t len = address->family == AF_INET ? 4 : 16;

  netlink_request_init (&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof req.body.addr);
  req.body.addr.ifa_family = (unsigned char) address->family;
  req.body.addr.ifa_prefixlen = (unsigned char) address->prefix_len;
  req.body.addr.ifa_scope = RT_SCOPE_UNIVERSE;
  req.body.addr.ifa_index = ifindex;
  netlink_add_attr (&req, IFA_LOCAL, address->addr, len);
  netlink_add_attr (&req, IFA_ADDRESS, address->addr, len);
  if (address->family == AF_INET6)
    {
      /* A TUN device has no neighbours to ask: no duplicate address detection, so
       * the address is usable (not "tentative") at once. */
      uint32_t flags = IFA_F_NODAD;
      req.body.addr.ifa_flags = IFA_F_NODAD;
      netlink_add_attr (&req, IFA_FLAGS, &flags, sizeof flags);
    }
  return netlink_talk (nl, &req);
}

static int
netlink_add_route (Netlink           *nl,
                   unsigned int       ifindex,
                   const PtTunPrefix *route)
{
  NetlinkRequest req;
  uint32_t oif = ifindex;

  netlink_request_init (&req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof req.body.route);
  req.body.route.rtm_family = (unsigned char) route->family;
  req.body.route.rtm_dst_len = (unsigned char) route->prefix_len;
  req.body.route.rtm_table = RT_TABLE_MAIN;
  req.body.route.rtm_protocol = RTPROT_STATIC;
  req.body.route.rtm_scope = RT_SCOPE_LINK;
  req.body.route.rtm_type = RTN_UNICAST;
  netlink_add_attr (&req, RTA_DST, route->addr, route->family == AF_INET ? 4 : 16);
  netlink_add_attr (&req, RTA_OIF, &oif, sizeof oif);
  return netlink_talk (nl, &req);
}

/* The device ------------------------------------------------------------------------ */

static int
tun_create (const char *ifname,
            int         offload,
            PtTunError *error)
{
  struct ifreq ifr;
  int fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  int r;

  if (fd < 0)
    {
      pt_tun_error_set (error, "system", "cannot open /dev/net/tun: %s", strerror (errno));
      return -1;
    }

  memset (&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | (offload ? IFF_VNET_HDR : 0);
  snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
  r = ioctl (fd, TUNSETIFF, &ifr);
  if (r < 0 && offload && errno == EINVAL)
    {
      /* A kernel without virtio-net headers on TUN: plain packets (the
       * engine asks the device which it got). */
      log_line ("%s: no virtio-net headers: %s", ifname, strerror (errno));
      offload = 0;
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL;
      snprintf (ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
      r = ioctl (fd, TUNSETIFF, &ifr);
    }
  if (r < 0)
    {
      int saved = errno;

      if (saved == EBUSY || saved == EEXIST)
        pt_tun_error_set (error, "ifname", "%s: a network device of that name already exists",
                          ifname);
      else
        pt_tun_error_set (error, "system", "cannot create %s: %s", ifname, strerror (saved));
      close (fd);
      return -1;
    }
  if (strncmp (ifr.ifr_name, ifname, sizeof ifr.ifr_name) != 0)
    {
      pt_tun_error_set (error, "system", "asked for %s, the kernel made %.16s", ifname,
                        ifr.ifr_name);
      close (fd);
      return -1;
    }
  /* With a virtio_net_hdr on every packet the device may also hand over TCP
   * packets of up to 64 KB with the checksum left to do; a kernel that refuses
   * that still gives plain packets, each after its (empty) header. */
  if (offload && ioctl (fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
    log_line ("%s: no TCP offloads on the device: %s", ifname, strerror (errno));
  return fd;
}

static int
tun_configure (const PtTunRequest *request,
               unsigned int        ifindex,
               PtTunError         *error)
{
  Netlink nl;
  char text[64];
  int r;

  r = netlink_open (&nl);
  if (r < 0)
    {
      pt_tun_error_set (error, "system", "cannot open an rtnetlink socket: %s", strerror (-r));
      return -1;
    }

  /* The MTU first: an IPv6 address needs it to be at least 1280 already. */
  r = netlink_set_link (&nl, ifindex, request->mtu, 0);
  if (r < 0)
    {
      pt_tun_error_set (error, "mtu", "cannot set the MTU of %s to %u: %s", request->ifname,
                        request->mtu, strerror (-r));
      goto fail;
    }

  for (int family = 0; family < 2; family++)
    {
      const PtTunPrefix *address = family == 0 ? &request->address4 : &request->address6;

      if (!(family == 0 ? request->has_address4 : request->has_address6))
        continue;
      r = netlink_add_address (&nl, ifindex, address);
      if (r < 0)
        {
          pt_tun_error_set (error, "address", "cannot add %s to %s: %s",
                            pt_tun_prefix_to_string (address, text, sizeof text),
                            request->ifname, strerror (-r));
          goto fail;
        }
    }

  /* Up before the routes: the kernel refuses a route through a device that is down. */
  r = netlink_set_link (&nl, ifindex, 0, 1);
  if (r < 0)
    {
      pt_tun_error_set (error, "system", "cannot bring %s up: %s", request->ifname,
                        strerror (-r));
      goto fail;
    }

  for (unsigned int i = 0; i < request->n_routes; i++)
    {
      r = netlink_add_route (&nl, ifindex, &request->routes[i]);
      if (r < 0)
        {
          pt_tun_error_set (error, "route", "cannot add the route %s via %s: %s",
                            pt_tun_prefix_to_string (&request->routes[i], text, sizeof text),
                            request->ifname,
                            r == -EEXIST ? "a route to that network already exists"
                                         : strerror (-r));
          goto fail;
        }
    }

  close (nl.fd);
  return 0;

fail:
  close (nl.fd);
  return -1;
}

/* The conversation ------------------------------------------------------------------ */

/* Sends @reply on the socket, with @tun_fd attached when it is not -1. */
static int
send_reply (int               sock,
            const PtTunReply *reply,
            int               tun_fd)
{
  char text[PT_TUN_MESSAGE_MAX];
  union
  {
    struct cmsghdr header;
    char           space[CMSG_SPACE (sizeof (int))];
  } control;
  struct iovec iov;
  struct msghdr msg;
  int len = pt_tun_reply_format (reply, text, sizeof text);

  if (len < 0)
    return -1;

  memset (&msg, 0, sizeof msg);
  iov.iov_base = text;
  iov.iov_len = (size_t) len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (tun_fd >= 0)
    {
      struct cmsghdr *cmsg;

      memset (&control, 0, sizeof control);
      msg.msg_control = control.space;
      msg.msg_controllen = sizeof control.space;
      cmsg = CMSG_FIRSTHDR (&msg);
      cmsg->cmsg_level = SOL_SOCKET;
      cmsg->cmsg_type = SCM_RIGHTS;
      cmsg->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cmsg), &tun_fd, sizeof (int));
    }

  while (sendmsg (sock, &msg, MSG_NOSIGNAL) < 0)
    if (errno != EINTR)
      {
        log_line ("cannot send the reply: %s", strerror (errno));
        return -1;
      }
  return 0;
}

static int
refuse (int               sock,
        PtTunStatus       status,
        const PtTunError *error)
{
  PtTunReply reply = { .status = status, .error = *error };

  log_line ("%s: %s: %s", pt_tun_status_to_string (status), error->field, error->message);
  send_reply (sock, &reply, -1);
  return status == PT_TUN_STATUS_INVALID ? EXIT_REFUSED : EXIT_FAILED;
}

/* Receives one request into @buf; closes any fd that came along. Returns its length,
 * or -1 with @error set. */
static ssize_t
receive_request (int         sock,
                 char       *buf,
                 size_t      size,
                 PtTunError *error)
{
  union
  {
    struct cmsghdr header;
    char           space[CMSG_SPACE (sizeof (int) * 8)];
  } control;
  struct pollfd pfd = { .fd = sock, .events = POLLIN };
  struct iovec iov = { .iov_base = buf, .iov_len = size };
  struct msghdr msg;
  ssize_t n;
  int r, got_fds = 0;

  do
    r = poll (&pfd, 1, REQUEST_TIMEOUT_MS);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    {
      pt_tun_error_set (error, "request", "no request within %d s", REQUEST_TIMEOUT_MS / 1000);
      return -1;
    }
  if (r < 0)
    {
      pt_tun_error_set (error, "system", "waiting for the request: %s", strerror (errno));
      return -1;
    }

  memset (&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.space;
  msg.msg_controllen = sizeof control.space;
  do
    n = recvmsg (sock, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0)
    {
      pt_tun_error_set (error, "system", "receiving the request: %s", strerror (errno));
      return -1;
    }

  /* Nobody should send us descriptors; do not keep them open as root. */
  for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c != NULL; c = CMSG_NXTHDR (&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
      for (size_t i = 0; i + sizeof (int) <= c->cmsg_len - CMSG_LEN (0); i += sizeof (int))
        {
          int fd;
          memcpy (&fd, CMSG_DATA (c) + i, sizeof fd);
          close (fd);
          got_fds = 1;
        }

  if (n == 0)
    {
      pt_tun_error_set (error, "request", "the request is empty (or the caller hung up)");
      return -1;
    }
  if ((size_t) n > size || (msg.msg_flags & MSG_TRUNC))
    {
      pt_tun_error_set (error, "request", "the request is longer than %zu bytes", size);
      return -1;
    }
  if (got_fds || (msg.msg_flags & MSG_CTRUNC))
    {
      pt_tun_error_set (error, "request", "the request carried file descriptors");
      return -1;
    }
  return n;
}

/* Checks that fd 0 is what the protocol says: an AF_UNIX SOCK_SEQPACKET socket. */
static int
check_stdin (void)
{
  int type = 0, domain = 0;
  socklen_t len = sizeof type;

  if (getsockopt (STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
    {
      log_line ("stdin must be an AF_UNIX SOCK_SEQPACKET socket (%s)", strerror (errno));
      return -1;
    }
  len = sizeof domain;
  if (getsockopt (STDIN_FILENO, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0
      || domain != AF_UNIX || type != SOCK_SEQPACKET)
    {
      log_line ("stdin must be an AF_UNIX SOCK_SEQPACKET socket");
      return -1;
    }
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  char buf[PT_TUN_MESSAGE_MAX];
  PtTunRequest request;
  PtTunError error;
  PtTunReply reply;
  unsigned int ifindex;
  ssize_t len;
  int tun_fd;

  (void) argv;
  alarm (RUN_TIMEOUT_S);
  signal (SIGPIPE, SIG_IGN);

  if (argc != 1)
    {
      log_line ("takes no arguments: it reads one request from stdin (see docs/protocol.md)");
      return EXIT_USAGE;
    }
  if (check_stdin () < 0)
    return EXIT_USAGE;

  memset (&error, 0, sizeof error);
  len = receive_request (STDIN_FILENO, buf, sizeof buf, &error);
  if (len < 0)
    return refuse (STDIN_FILENO,
                   strcmp (error.field, "system") == 0 ? PT_TUN_STATUS_FAILED
                                                       : PT_TUN_STATUS_INVALID,
                   &error);
  if (pt_tun_request_parse (buf, (size_t) len, &request, &error) < 0)
    return refuse (STDIN_FILENO, PT_TUN_STATUS_INVALID, &error);
  if (!request.allow_overlap && pt_tun_check_system_overlap (&request, &error) < 0)
    {
      if (strcmp (error.field, "system") == 0)
        return refuse (STDIN_FILENO, PT_TUN_STATUS_FAILED, &error);
      /* Refused before anything was made. */
      strncat (error.message, "; nothing was changed (allow-overlap=1 installs it anyway)",
               sizeof error.message - strlen (error.message) - 1);
      return refuse (STDIN_FILENO, PT_TUN_STATUS_INVALID, &error);
    }

  tun_fd = tun_create (request.ifname, request.offload, &error);
  if (tun_fd < 0)
    return refuse (STDIN_FILENO, PT_TUN_STATUS_FAILED, &error);

  ifindex = if_nametoindex (request.ifname);
  if (ifindex == 0)
    {
      pt_tun_error_set (&error, "system", "%s vanished after it was created", request.ifname);
      close (tun_fd);
      return refuse (STDIN_FILENO, PT_TUN_STATUS_FAILED, &error);
    }

  if (tun_configure (&request, ifindex, &error) < 0)
    {
      close (tun_fd); /* not persistent: this deletes the device, addresses and routes */
      return refuse (STDIN_FILENO, PT_TUN_STATUS_FAILED, &error);
    }

  memset (&reply, 0, sizeof reply);
  reply.status = PT_TUN_STATUS_OK;
  reply.ifindex = ifindex;
  snprintf (reply.ifname, sizeof reply.ifname, "%s", request.ifname);
  if (send_reply (STDIN_FILENO, &reply, tun_fd) < 0)
    {
      close (tun_fd);
      return EXIT_FAILED;
    }
  close (tun_fd);
  return 0;
}
