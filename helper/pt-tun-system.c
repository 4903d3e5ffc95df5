/* pt-tun-system.c — what the machine already routes, read with rtnetlink
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain C and libc only, like pt-tun-request.c: the helper runs it as root just
 * before it creates a device, and the engine runs it (unprivileged: a dump needs
 * no capability) before it asks the helper at all, so that a VPN network or route
 * that would capture part of the user's own LAN is refused with one clear message
 * and nothing is changed.
 *
 * Two dumps, RTM_GETROUTE and RTM_GETADDR, both address families. Routes count
 * when they are unicast and not in the "local" table (that one holds the
 * machine's own addresses, checked as addresses); default routes never count.
 * Each entry is checked as it arrives: nothing is stored, so a full Internet
 * routing table costs time but no memory.
 */
#include "pt-tun-request.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#define NETLINK_TIMEOUT_S 5

typedef struct
{
  int      fd;
  uint32_t seq;
} Dump;

int
pt_tun_netlink_socket (void)
{
  struct sockaddr_nl local = { .nl_family = AF_NETLINK };
  struct timeval timeout = { .tv_sec = NETLINK_TIMEOUT_S };
  int fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

  if (fd < 0)
    return -errno;
  if (setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0
      || bind (fd, (struct sockaddr *) &local, sizeof local) < 0)
    {
      int saved = errno;

      close (fd);
      return -saved;
    }
  return fd;
}

static int
dump_open (Dump *dump)
{
  dump->seq = 0;
  dump->fd = pt_tun_netlink_socket ();
  return dump->fd < 0 ? dump->fd : 0;
}

static void
set_ifname (PtTunExisting *entry,
            unsigned int   ifindex)
{
  char name[IF_NAMESIZE];

  entry->ifname[0] = '\0';
  if (ifindex != 0 && if_indextoname (ifindex, name) != NULL)
    snprintf (entry->ifname, sizeof entry->ifname, "%s", name);
}

/* One RTM_NEWROUTE of the dump: 1 to check @entry, 0 to skip it. */
static int
route_entry (const struct nlmsghdr *h,
             PtTunExisting         *entry)
{
  const struct rtmsg *rt = NLMSG_DATA (h);
  const struct rtattr *attr;
  unsigned int table, oif = 0, have_dst = 0;
  int len;

  if (h->nlmsg_len < NLMSG_LENGTH (sizeof *rt))
    return 0;
  if (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6)
    return 0;
  if (rt->rtm_type != RTN_UNICAST || (rt->rtm_flags & RTM_F_CLONED) || rt->rtm_dst_len == 0)
    return 0;
  memset (entry, 0, sizeof *entry);
  entry->prefix.family = rt->rtm_family;
  entry->prefix.prefix_len = rt->rtm_dst_len;
  table = rt->rtm_table;

  len = (int) RTM_PAYLOAD (h);
  for (attr = RTM_RTA (rt); RTA_OK (attr, len); attr = RTA_NEXT (attr, len))
    {
      size_t size = RTA_PAYLOAD (attr);

      switch (attr->rta_type)
        {
        case RTA_DST:
          if (size != (rt->rtm_family == AF_INET ? 4u : 16u))
            return 0;
          memcpy (entry->prefix.addr, RTA_DATA (attr), size);
          have_dst = 1;
          break;
        case RTA_OIF:
          if (size == sizeof (uint32_t))
            memcpy (&oif, RTA_DATA (attr), sizeof oif);
          break;
        case RTA_TABLE:
          if (size == sizeof (uint32_t))
            memcpy (&table, RTA_DATA (attr), sizeof table);
          break;
        default:
          break;
        }
    }
  if (!have_dst || table == RT_TABLE_LOCAL)
    return 0;
  set_ifname (entry, oif);
  return 1;
}

/* One RTM_NEWADDR of the dump. */
static int
address_entry (const struct nlmsghdr *h,
               PtTunExisting         *entry)
{
  const struct ifaddrmsg *ifa = NLMSG_DATA (h);
  const struct rtattr *attr;
  int len, have_local = 0, have_address = 0;
  unsigned char local[16], address[16];
  size_t want;

  if (h->nlmsg_len < NLMSG_LENGTH (sizeof *ifa))
    return 0;
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
    return 0;
  want = ifa->ifa_family == AF_INET ? 4 : 16;
  len = (int) IFA_PAYLOAD (h);
  for (attr = IFA_RTA (ifa); RTA_OK (attr, len); attr = RTA_NEXT (attr, len))
    {
      if (RTA_PAYLOAD (attr) != want)
        continue;
      if (attr->rta_type == IFA_LOCAL)
        {
          memcpy (local, RTA_DATA (attr), want);
          have_local = 1;
        }
      else if (attr->rta_type == IFA_ADDRESS)
        {
          memcpy (address, RTA_DATA (attr), want);
          have_address = 1;
        }
    }
  if (!have_local && !have_address)
    return 0;
  memset (entry, 0, sizeof *entry);
  entry->is_address = 1;
  entry->prefix.family = ifa->ifa_family;
  entry->prefix.prefix_len = ifa->ifa_prefixlen;
  /* IFA_LOCAL is the machine's own address (IFA_ADDRESS is the peer's on a
   * point-to-point link). */
  memcpy (entry->prefix.addr, have_local ? local : address, want);
  set_ifname (entry, ifa->ifa_index);
  return 1;
}

/* Runs one dump of @type and checks every entry. Returns 0, 1 (an overlap, in
 * @error), or -errno (the dump failed). */
static int
dump_and_check (Dump               *dump,
                uint16_t            type,
                const PtTunRequest *request,
                PtTunError         *error)
{
  struct
  {
    struct nlmsghdr header;
    struct rtgenmsg body;
  } req;
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  union
  {
    struct nlmsghdr header;
    char            bytes[32768];
  } answer;
  int overlap = 0;

  memset (&req, 0, sizeof req);
  req.header.nlmsg_len = NLMSG_LENGTH (sizeof req.body);
  req.header.nlmsg_type = type;
  req.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.header.nlmsg_seq = ++dump->seq;
  req.body.rtgen_family = AF_UNSPEC;
  if (sendto (dump->fd, &req, req.header.nlmsg_len, 0, (struct sockaddr *) &kernel,
              sizeof kernel) < 0)
    return -errno;

  for (;;)
    {
      struct sockaddr_nl from;
      socklen_t from_len = sizeof from;
      ssize_t n = recvfrom (dump->fd, &answer, sizeof answer, 0, (struct sockaddr *) &from,
                            &from_len);
      size_t left;

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
        }
      if (n == 0)
        return -EPROTO;
      if (from_len != sizeof from || from.nl_pid != 0)
        continue;

      left = (size_t) n;
      for (struct nlmsghdr *h = &answer.header; NLMSG_OK (h, left); h = NLMSG_NEXT (h, left))
        {
          PtTunExisting entry;
          int use = 0;

          if (h->nlmsg_seq != dump->seq)
            continue;
          if (h->nlmsg_type == NLMSG_DONE)
            return overlap;
          if (h->nlmsg_type == NLMSG_ERROR)
            {
              const struct nlmsgerr *err = NLMSG_DATA (h);

              if (h->nlmsg_len < NLMSG_LENGTH (sizeof *err))
                return -EPROTO;
              return err->error < 0 ? err->error : -EPROTO;
            }
          if (overlap)
            continue; /* read the dump to its end; the first overlap is reported */
          if (h->nlmsg_type == RTM_NEWROUTE)
            use = route_entry (h, &entry);
          else if (h->nlmsg_type == RTM_NEWADDR)
            use = address_entry (h, &entry);
          if (use && pt_tun_request_check_overlap (request, &entry, error) < 0)
            overlap = 1;
        }
    }
}

int
pt_tun_check_system_overlap (const PtTunRequest *request,
                             PtTunError         *error)
{
  Dump dump;
  int r = dump_open (&dump);

  if (r < 0)
    {
      pt_tun_error_set (error, "system", "cannot open an rtnetlink socket to read the routes: %s",
                        strerror (-r));
      return -1;
    }
  /* Addresses first: "the address 192.168.1.5/24 on eth0" says more to a user
   * than the route the kernel made for it. */
  r = dump_and_check (&dump, RTM_GETADDR, request, error);
  if (r == 0)
    r = dump_and_check (&dump, RTM_GETROUTE, request, error);
  close (dump.fd);
  if (r < 0)
    {
      pt_tun_error_set (error, "system", "cannot read this machine's routes and addresses: %s",
                        strerror (-r));
      return -1;
    }
  return r > 0 ? -1 : 0;
}
