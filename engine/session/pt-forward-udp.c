/* pt-forward-udp.c — UDP forwards: flows of QUIC datagrams
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Client: each local peer of a forward is a flow; server: each flow has a
 * connected socket to the checked target. Datagrams are read in batches and
 * idle flows are swept.
 */
#define G_LOG_DOMAIN "pt-session"
#define _GNU_SOURCE

#include "config.h"

#include <string.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "pt-budget-private.h"
#include "pt-control-private.h"
#include "pt-session-internal.h"

/* UDP flows */

void
_pt_udp_flow_free (UdpFlow *flow)
{
  _pt_session_clear_source (&flow->source);
  if (flow->socket != NULL)
    {
      g_socket_close (flow->socket, NULL);
      _pt_session_release_fd (flow->session);
    }
  g_clear_object (&flow->socket);
  g_clear_object (&flow->peer);
  g_free (flow);
}

guint
_pt_udp_peer_key_hash (gconstpointer key)
{
  const guint8 *bytes = key;
  guint hash = 5381;

  for (gsize i = 0; i < sizeof (PeerKey); i++)
    hash = hash * 33 + bytes[i];
  return hash;
}

gboolean
_pt_udp_peer_key_equal (gconstpointer a,
                        gconstpointer b)
{
  return memcmp (a, b, sizeof (PeerKey)) == 0;
}

/* FALSE for an address that is no IP one. */
static gboolean
peer_key_init (PeerKey               *key,
               guint8                 index,
               const struct sockaddr *address)
{
  memset (key, 0, sizeof *key);
  key->index = index;
  key->family = (guint8) address->sa_family;
  if (address->sa_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) address;

      key->port = sin->sin_port;
      memcpy (key->addr, &sin->sin_addr, 4);
      return TRUE;
    }
  if (address->sa_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) address;

      key->port = sin6->sin6_port;
      memcpy (key->addr, &sin6->sin6_addr, 16);
      return TRUE;
    }
  return FALSE;
}

static void
udp_flow_remove (UdpFlow *flow)
{
  PtSession *self = flow->session;

  if (flow->peer != NULL)
    g_hash_table_remove (self->udp_by_peer, &flow->peer_key);
  g_hash_table_remove (self->udp_flows, GUINT_TO_POINTER (flow->flow_id));
}

static void
udp_send_datagram (PtSession    *self,
                   UdpFlow      *flow,
                   const guint8 *payload,
                   gsize         len)
{
  guint8 buf[PT_DATAGRAM_HEADER_LEN + 65536];
  gsize header;

  if (len + PT_DATAGRAM_HEADER_LEN > _pt_quic_conn_get_max_datagram (self->conn))
    {
      g_debug ("dropping a %zu-byte UDP datagram: larger than the path carries", len);
      return;
    }
  header = _pt_datagram_header_write (buf, flow->forward->index, flow->flow_id);
  memcpy (buf + header, payload, len);
  if (_pt_quic_conn_send_datagram (self->conn, buf, header + len))
    _pt_session_add_bytes (self, TRUE, len);
  flow->last_active = g_get_monotonic_time ();
}

static gboolean
udp_sweep_cb (gpointer user_data)
{
  PtSession *self = user_data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter iter;
  UdpFlow *flow;
  GPtrArray *idle = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->udp_flows);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &flow))
    if (now - flow->last_active > PT_SESSION_UDP_IDLE_S * G_USEC_PER_SEC)
      g_ptr_array_add (idle, flow);

  for (guint i = 0; i < idle->len; i++)
    {
      flow = g_ptr_array_index (idle, i);
      g_debug ("UDP flow %u idle for %d s: forgetting it", flow->flow_id, PT_SESSION_UDP_IDLE_S);
      udp_flow_remove (flow);
    }
  g_ptr_array_unref (idle);

  if (g_hash_table_size (self->udp_flows) > 0)
    return G_SOURCE_CONTINUE;

  g_clear_pointer (&self->udp_sweep, g_source_unref);
  return G_SOURCE_REMOVE;
}

static UdpFlow *
udp_flow_new (PtSession *self,
              Forward   *forward,
              guint32    flow_id)
{
  UdpFlow *flow = g_new0 (UdpFlow, 1);

  flow->session = self;
  flow->forward = forward;
  flow->flow_id = flow_id;
  flow->last_active = g_get_monotonic_time ();
  g_hash_table_insert (self->udp_flows, GUINT_TO_POINTER (flow_id), flow);

  if (self->udp_sweep == NULL)
    {
      self->udp_sweep = g_timeout_source_new_seconds (PT_SESSION_UDP_IDLE_S / 4);
      g_source_set_callback (self->udp_sweep, udp_sweep_cb, self, NULL);
      g_source_attach (self->udp_sweep, g_main_context_get_thread_default ());
    }
  return flow;
}

/* Receive buffers for forwarded UDP, one set per thread: a batch goes into
 * QUIC's queue (copied) before the next is read. */
typedef struct
{
  struct mmsghdr           msgs[PT_SESSION_UDP_BATCH];
  struct iovec             iov[PT_SESSION_UDP_BATCH];
  struct sockaddr_storage  names[PT_SESSION_UDP_BATCH];
  guint8                   data[PT_SESSION_UDP_BATCH][65536];
} UdpBuffers;

static GPrivate udp_buffers_key = G_PRIVATE_INIT (g_free);

/* Up to PT_SESSION_UDP_BATCH datagrams from @socket in one recvmmsg();
 * 0 when there is none (or on error). */
static int
udp_receive_batch (GSocket     *socket,
                   UdpBuffers **buffers)
{
  UdpBuffers *rx = g_private_get (&udp_buffers_key);
  int n;

  if (rx == NULL)
    {
      rx = g_malloc (sizeof *rx);
      g_private_set (&udp_buffers_key, rx);
    }
  for (guint i = 0; i < PT_SESSION_UDP_BATCH; i++)
    {
      rx->iov[i].iov_base = rx->data[i];
      rx->iov[i].iov_len = sizeof rx->data[i];
      memset (&rx->msgs[i].msg_hdr, 0, sizeof rx->msgs[i].msg_hdr);
      rx->msgs[i].msg_hdr.msg_name = &rx->names[i];
      rx->msgs[i].msg_hdr.msg_namelen = sizeof rx->names[i];
      rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
      rx->msgs[i].msg_hdr.msg_iovlen = 1;
    }
  do
    n = recvmmsg (g_socket_get_fd (socket), rx->msgs, PT_SESSION_UDP_BATCH, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  *buffers = rx;
  return MAX (n, 0);
}

/* Forwarded UDP sockets: big buffers, so a burst waits in the kernel
 * instead of being dropped there. */
void
_pt_udp_socket_tune (GSocket *socket,
                     int      size)
{
  int fd = g_socket_get_fd (socket);

  if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    (void) setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/* Client: datagrams from local UDP peers of a forward, a batch at a time;
 * one QUIC write for each batch. */
gboolean
_pt_udp_listener_cb (GSocket      *socket,
                     GIOCondition  condition,
                     gpointer      user_data)
{
  Forward *forward = user_data;
  PtSession *self = forward->session;
  g_autoptr(PtSession) hold = g_object_ref (self);

  for (guint round = 0; round < PT_SESSION_UDP_ROUNDS && !self->stopped; round++)
    {
      UdpBuffers *rx;
      int n = udp_receive_batch (socket, &rx);

      for (int i = 0; i < n && !self->stopped; i++)
        {
          struct sockaddr *from = (struct sockaddr *) &rx->names[i];
          PeerKey key;
          UdpFlow *flow;

          if (!peer_key_init (&key, forward->index, from))
            continue;
          flow = g_hash_table_lookup (self->udp_by_peer, &key);
          if (flow == NULL)
            {
              if (g_hash_table_size (self->udp_flows) >= PT_SESSION_MAX_UDP_FLOWS)
                {
                  _pt_session_refuse (self, "a datagram from a new local UDP peer",
                                  "the tunnel already carries its most UDP flows");
                  continue;
                }
              flow = udp_flow_new (self, forward, self->next_flow_id++);
              flow->peer_key = key;
              flow->peer = g_socket_address_new_from_native (from, rx->msgs[i].msg_hdr.msg_namelen);
              g_hash_table_insert (self->udp_by_peer, &flow->peer_key, flow);
              g_debug ("UDP flow %u: new local peer", flow->flow_id);
            }
          udp_send_datagram (self, flow, rx->data[i], rx->msgs[i].msg_len);
        }
      if (n < PT_SESSION_UDP_BATCH)
        break;
    }
  if (!self->stopped)
    _pt_quic_conn_flush (self->conn);

  return G_SOURCE_CONTINUE;
}

/* Server: replies from the target of a flow. */
static gboolean
udp_target_cb (GSocket      *socket,
               GIOCondition  condition,
               gpointer      user_data)
{
  UdpFlow *flow = user_data;
  PtSession *self = flow->session;
  g_autoptr(PtSession) hold = g_object_ref (self);
  guint32 flow_id = flow->flow_id;

  for (guint round = 0; round < PT_SESSION_UDP_ROUNDS; round++)
    {
      UdpBuffers *rx;
      int n = udp_receive_batch (socket, &rx);

      for (int i = 0; i < n; i++)
        udp_send_datagram (self, flow, rx->data[i], rx->msgs[i].msg_len);
      if (n < PT_SESSION_UDP_BATCH || self->stopped ||
          g_hash_table_lookup (self->udp_flows, GUINT_TO_POINTER (flow_id)) != flow)
        break;
    }
  if (!self->stopped)
    _pt_quic_conn_flush (self->conn);

  return G_SOURCE_CONTINUE;
}

void
_pt_udp_on_datagram (const guint8 *data,
                     gsize         len,
                     gpointer      user_data)
{
  PtSession *self = user_data;
  const guint8 *payload;
  gsize payload_len;
  guint8 index;
  guint32 flow_id;
  UdpFlow *flow;

  if (!self->up || !_pt_datagram_header_parse (data, len, &index, &flow_id, &payload, &payload_len))
    return;

  if (self->vpn)
    {
      if (index == PT_DATAGRAM_VPN_INDEX && flow_id == 0 && self->vpn_hooks != NULL)
        {
          _pt_session_add_bytes (self, FALSE, payload_len);
          self->vpn_hooks->ip (self, payload, payload_len, self->vpn_data);
        }
      return;
    }

  flow = g_hash_table_lookup (self->udp_flows, GUINT_TO_POINTER (flow_id));

  if (self->is_client)
    {
      if (flow == NULL || flow->forward->index != index)
        return;
      if (g_socket_send_to (flow->forward->socket, flow->peer, (const char *) payload,
                            payload_len, NULL, NULL) >= 0)
        _pt_session_add_bytes (self, FALSE, payload_len);
      flow->last_active = g_get_monotonic_time ();
      return;
    }

  if (flow == NULL)
    {
      g_autoptr(GError) error = NULL;
      Forward *forward;
      GSocket *socket;

      if (index >= self->forwards->len ||
          !(forward = g_ptr_array_index (self->forwards, index))->accepted ||
          forward->spec->proto != PT_PROTO_UDP)
        return;
      if (g_hash_table_size (self->udp_flows) >= PT_SESSION_MAX_UDP_FLOWS)
        {
          _pt_session_refuse (self, "a new UDP flow", "the tunnel already carries its most UDP flows");
          return;
        }
      if (!_pt_session_take_fd (self, "a new UDP flow"))
        return;

      socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (forward->target)),
                             G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
      if (socket == NULL || !g_socket_connect (socket, G_SOCKET_ADDRESS (forward->target), NULL, &error))
        {
          g_message ("cannot reach %s over UDP: %s", forward->spec->host, error->message);
          g_clear_object (&socket);
          _pt_session_release_fd (self);
          return;
        }
      g_socket_set_blocking (socket, FALSE);
      _pt_udp_socket_tune (socket, PT_SESSION_UDP_FLOW_BUFFER);
      flow = udp_flow_new (self, forward, flow_id);
      flow->socket = socket;
      flow->source = _pt_session_watch_socket (socket, G_IO_IN, (GSourceFunc) udp_target_cb, flow);
      g_debug ("UDP flow %u: new, to %s", flow_id, forward->spec->host);
    }
  else if (flow->forward->index != index)
    return;

  if (g_socket_send (flow->socket, (const char *) payload, payload_len, NULL, NULL) >= 0)
    _pt_session_add_bytes (self, FALSE, payload_len);
  flow->last_active = g_get_monotonic_time ();
}

