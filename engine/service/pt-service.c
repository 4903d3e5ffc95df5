/* pt-service.c — runs one profile, in any mode, for the app and for pt up
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-service"

#include "config.h"

#include <glib/gi18n-lib.h>   /* the project's domain, whoever calls */
#include <unistd.h>

#include "pt.h"
#include "pt-profile-private.h"

struct _PtService
{
  GObject        parent_instance;

  PtProfile     *profile;
  PtSecretKey   *key;            /* instead of the default key, or NULL */
  gboolean       no_reconnect;

  PtNostrClient *nostr_client;
  PtNostrServer *nostr_server;
  PtManualServer *manual_server; /* serving by copy-paste */
  GCancellable  *deriving;       /* shared name: while the key is derived */

  PtTunnel      *tunnel;
  GListStore    *sessions;       /* of PtPeerSession: a server's clients */
  GCancellable  *cancellable;
  GBytes        *local_payload;
  char          *local_text;
  gboolean       running;
  gboolean       paired;
  GError        *error;          /* why it stopped by itself */
  GCancellable  *tun_cancellable; /* while the helper makes the VPN device */
  char          *vpn_device;
  char          *vpn_address;
  char          *vpn_address6;
  char          *npub;           /* serving through a rendezvous: where clients ask */
  int            vpn_lock;       /* VPN client: the per-computer lock, or -1 */
};

enum
{
  PROP_0,
  PROP_PROFILE,
  PROP_RUNNING,
  PROP_TUNNEL,
  PROP_LOCAL_TEXT,
  PROP_PAIRED,
  PROP_ERROR,
  PROP_VPN_DEVICE,
  PROP_NPUB,
  N_PROPS
};

enum
{
  RELAY_STATE,
  ATTEMPT_FAILED,
  REQUEST_REFUSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static PtSecretKey *default_key;
static char *vpn_refusal;
static char *vpn_holder;

static void stop_nostr (PtService *self);
static void stop_manual (PtService *self);
static void stop_vpn (PtService *self);
static void fail (PtService *self,
                  GError    *error);

G_DEFINE_FINAL_TYPE (PtService, pt_service, G_TYPE_OBJECT)

void
pt_service_set_default_key (const PtSecretKey *key)
{
  g_clear_pointer (&default_key, pt_secret_key_free);
  if (key != NULL)
    default_key = pt_secret_key_copy (key);
}

void
pt_service_set_vpn_refusal (const char *why)
{
  g_free (vpn_refusal);
  vpn_refusal = g_strdup (why);
}

void
pt_service_set_vpn_holder (const char *who)
{
  g_free (vpn_holder);
  vpn_holder = g_strdup (who);
}

static void
pt_service_clear_runtime (PtService *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->local_payload, g_bytes_unref);
  g_clear_pointer (&self->local_text, g_free);
}

static void
pt_service_dispose (GObject *object)
{
  PtService *self = PT_SERVICE (object);

  pt_service_clear_runtime (self);
  stop_nostr (self);
  stop_manual (self);
  stop_vpn (self);
  if (self->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->tunnel, self);
      pt_tunnel_close (self->tunnel);
      g_clear_object (&self->tunnel);
    }
  g_list_store_remove_all (self->sessions);
  G_OBJECT_CLASS (pt_service_parent_class)->dispose (object);
}

static void
pt_service_finalize (GObject *object)
{
  PtService *self = PT_SERVICE (object);

  g_clear_error (&self->error);
  g_clear_object (&self->sessions);
  g_clear_object (&self->profile);
  g_clear_pointer (&self->key, pt_secret_key_free);
  g_free (self->npub);
  G_OBJECT_CLASS (pt_service_parent_class)->finalize (object);
}

static void
pt_service_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PtService *self = PT_SERVICE (object);

  switch (prop_id)
    {
    case PROP_PROFILE:
      g_value_set_object (value, self->profile);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    case PROP_TUNNEL:
      g_value_set_object (value, self->tunnel);
      break;
    case PROP_LOCAL_TEXT:
      g_value_set_string (value, self->local_text);
      break;
    case PROP_PAIRED:
      g_value_set_boolean (value, self->paired);
      break;
    case PROP_ERROR:
      g_value_set_boxed (value, self->error);
      break;
    case PROP_VPN_DEVICE:
      g_value_set_string (value, self->vpn_device);
      break;
    case PROP_NPUB:
      g_value_set_string (value, self->npub);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_service_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PtService *self = PT_SERVICE (object);

  switch (prop_id)
    {
    case PROP_PROFILE:
      self->profile = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_service_class_init (PtServiceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags state = G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

  object_class->dispose = pt_service_dispose;
  object_class->finalize = pt_service_finalize;
  object_class->get_property = pt_service_get_property;
  object_class->set_property = pt_service_set_property;

  properties[PROP_PROFILE] =
    g_param_spec_object ("profile", NULL, NULL, PT_TYPE_PROFILE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RUNNING] = g_param_spec_boolean ("running", NULL, NULL, FALSE, state);
  properties[PROP_TUNNEL] = g_param_spec_object ("tunnel", NULL, NULL, PT_TYPE_TUNNEL, state);
  properties[PROP_LOCAL_TEXT] = g_param_spec_string ("local-text", NULL, NULL, NULL, state);
  properties[PROP_PAIRED] = g_param_spec_boolean ("paired", NULL, NULL, FALSE, state);
  properties[PROP_ERROR] = g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR, state);
  properties[PROP_VPN_DEVICE] = g_param_spec_string ("vpn-device", NULL, NULL, NULL, state);
  properties[PROP_NPUB] = g_param_spec_string ("npub", NULL, NULL, NULL, state);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /* What the rendezvous says while running (Nostr, shared name, VPN), as
   * PtNostrServer and PtNostrClient say it: a relay connected or not
   * (url, connected); a client's attempt failed (error, seconds to the
   * next); a server refused a request (peer npub, session, reason). */
  signals[RELAY_STATE] =
    g_signal_new ("relay-state", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BOOLEAN);
  signals[ATTEMPT_FAILED] =
    g_signal_new ("attempt-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_ERROR, G_TYPE_UINT);
  signals[REQUEST_REFUSED] =
    g_signal_new ("request-refused", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
pt_service_init (PtService *self)
{
  self->sessions = g_list_store_new (PT_TYPE_PEER_SESSION);
  self->vpn_lock = -1;
}

PtService *
pt_service_new (PtProfile *profile)
{
  g_return_val_if_fail (PT_IS_PROFILE (profile), NULL);

  return g_object_new (PT_TYPE_SERVICE, "profile", profile, NULL);
}

PtProfile *
pt_service_get_profile (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->profile;
}

void
pt_service_set_key (PtService         *self,
                    const PtSecretKey *key)
{
  g_return_if_fail (PT_IS_SERVICE (self));

  g_clear_pointer (&self->key, pt_secret_key_free);
  if (key != NULL)
    self->key = pt_secret_key_copy (key);
}

void
pt_service_set_reconnect (PtService *self,
                          gboolean   reconnect)
{
  g_return_if_fail (PT_IS_SERVICE (self));
  self->no_reconnect = !reconnect;
}

const GError *
pt_service_get_error (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->error;
}

const char *
pt_service_get_vpn_device (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->vpn_device;
}

const char *
pt_service_get_vpn_address (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->vpn_address;
}

const char *
pt_service_get_vpn_address6 (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->vpn_address6;
}

const char *
pt_service_get_npub (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->npub;
}

gboolean
pt_service_get_vpn_authorizing (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), FALSE);
  return self->tun_cancellable != NULL;
}

/* Connecting: the profile's forwards, each given to @add (a tunnel's or a
 * Nostr client's add_forward) with its listen address. */
typedef gboolean (*AddForward) (gpointer             target,
                                const PtForwardSpec *spec,
                                const char          *listen_address,
                                GError             **error);

static gboolean
add_forwards (PtService   *self,
              AddForward   add,
              gpointer     target,
              GError     **error)
{
  const char * const *sources = pt_profile_get_sources (self->profile);
  const char * const *targets = pt_profile_get_targets (self->profile);

  for (guint i = 0; sources[i] != NULL; i++)
    {
      g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (sources[i], error);

      if (spec == NULL || !add (target, spec, targets[i], error))
        return FALSE;
    }
  return TRUE;
}

/* The "max-sessions" setting as PtNostrServer counts: 0 there is no limit. */
static guint
server_max_sessions (PtProfile *profile)
{
  guint max = 0;

  g_object_get (profile, "max-sessions", &max, NULL);
  if (max == 0)
    return PT_NOSTR_DEFAULT_MAX_SESSIONS;
  return max == PT_PROFILE_NO_SESSION_LIMIT ? 0 : max;
}

static guint
vpn_mtu (PtService *self)
{
  guint mtu = pt_profile_get_vpn_mtu (self->profile);

  return mtu ? mtu : PT_PROFILE_VPN_DEFAULT_MTU;
}

static void
set_local_signal (PtService      *self,
                  const PtSignal *signal)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) payload = pt_signal_encode (signal, &error);
  g_autofree char *text = payload ? pt_signal_armor (signal, &error) : NULL;

  if (text == NULL)
    {
      g_warning ("cannot encode our own signal: %s", error->message);
      return;
    }
  g_clear_pointer (&self->local_payload, g_bytes_unref);
  self->local_payload = g_steal_pointer (&payload);
  g_free (self->local_text);
  self->local_text = g_steal_pointer (&text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
}

static void
set_running (PtService *self,
             gboolean   running)
{
  if (self->running == running)
    return;
  self->running = running;
  g_debug ("profile %s: %s", pt_profile_get_id (self->profile), running ? "running" : "stopped");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

static void
on_tunnel_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 PtService  *self)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);

  g_debug ("profile %s: tunnel %s", pt_profile_get_id (self->profile), pt_tunnel_state_to_string (state));
  switch (state)
    {
    case PT_TUNNEL_STATE_CLOSED:
    case PT_TUNNEL_STATE_FAILED:
      /* In Nostr mode the engine tries again; a server serves the next
       * session. */
      if (self->nostr_client != NULL || self->nostr_server != NULL || self->manual_server != NULL)
        break;
      g_list_store_remove_all (self->sessions);
      pt_service_clear_runtime (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
      set_running (self, FALSE);
      break;

    case PT_TUNNEL_STATE_UP:
    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
      break;
    }
}

/* Our offer is ready, or not: a failed tunnel says why through its
 * state, a cancelled one was stopped. */
static void
offer_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(PtService) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);

  if (offer == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("profile %s: no offer: %s", pt_profile_get_id (self->profile), error->message);
      return;
    }
  if (G_OBJECT (self->tunnel) == object)
    set_local_signal (self, offer);
}

/* "tunnel" becomes @tunnel; the previous one is closed, unless it is one
 * of a server's sessions (they end by themselves, or with stop()). */
static void
set_tunnel (PtService *self,
            PtTunnel  *tunnel)
{
  if (self->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->tunnel, self);
      if (self->nostr_server == NULL && self->manual_server == NULL)
        pt_tunnel_close (self->tunnel);
      g_clear_object (&self->tunnel);
    }
  self->tunnel = tunnel ? g_object_ref (tunnel) : NULL;
  if (tunnel != NULL)
    g_signal_connect (tunnel, "notify::state", G_CALLBACK (on_tunnel_state), self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TUNNEL]);
}

/* Nostr mode: the engine finds the peer and makes (and remakes) tunnels;
 * "tunnel" follows the newest one. */

static void
on_nostr_tunnel (PtNostrClient *client,
                 GParamSpec    *pspec,
                 PtService     *self)
{
  set_tunnel (self, pt_nostr_client_get_tunnel (client));
}

static void
on_session_started (PtNostrServer *server,
                    PtTunnel      *tunnel,
                    const char    *peer_npub,
                    const char    *session,
                    PtService     *self)
{
  g_autoptr(PtPeerSession) item = pt_peer_session_new (tunnel, peer_npub, session);

  g_debug ("profile %s: session %s from %s", pt_profile_get_id (self->profile), session, peer_npub);
  /* Every client stays up: "tunnel" shows the newest, "sessions" all. */
  g_list_store_append (self->sessions, item);
  set_tunnel (self, tunnel);
}

/* Serving by copy-paste: each pasted offer is a session, listed like a
 * rendezvous's (no npub: the offer was its only introduction). */
static void
on_manual_session_started (PtManualServer *server,
                           PtTunnel       *tunnel,
                           const char     *session,
                           const PtSignal *offer,
                           PtService      *self)
{
  g_autoptr(PtPeerSession) item = pt_peer_session_new (tunnel, NULL, session);

  g_list_store_append (self->sessions, item);
  set_tunnel (self, tunnel);
}

static void
on_manual_answered (PtManualServer *server,
                    const char     *session,
                    const PtSignal *answer,
                    PtService      *self)
{
  set_local_signal (self, answer);
}

static void
on_manual_session_dropped (PtManualServer *server,
                           const char     *session,
                           const char     *reason,
                           const char     *message,
                           PtService      *self)
{
  g_signal_emit (self, signals[REQUEST_REFUSED], 0, NULL, session, message);
}

static void
stop_manual (PtService *self)
{
  if (self->manual_server == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->manual_server, self);
  pt_manual_server_stop (self->manual_server);
  g_clear_object (&self->manual_server);
  g_list_store_remove_all (self->sessions);
}

static void
on_session_ended (GObject       *server,
                  PtTunnel      *tunnel,
                  const char    *session,
                  PtService     *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PtPeerSession) item = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);

      if (pt_peer_session_get_tunnel (item) != tunnel)
        continue;
      g_debug ("profile %s: session %s ended", pt_profile_get_id (self->profile), session);
      g_list_store_remove (self->sessions, i);
      n--;
      break;
    }
  /* The row follows a client that is still there; with none left, the
   * last one stays to show how it ended. */
  if (tunnel == self->tunnel && n > 0)
    {
      g_autoptr(PtPeerSession) newest = g_list_model_get_item (G_LIST_MODEL (self->sessions), n - 1);

      set_tunnel (self, pt_peer_session_get_tunnel (newest));
    }
}

static void
on_relay_state (GObject    *rendezvous,
                const char *url,
                gboolean    connected,
                PtService  *self)
{
  g_signal_emit (self, signals[RELAY_STATE], 0, url, connected);
}

static void
on_attempt_failed (PtNostrClient *client,
                   GError        *error,
                   guint          retry_in,
                   PtService     *self)
{
  g_signal_emit (self, signals[ATTEMPT_FAILED], 0, error, retry_in);
}

/* A client that gave up (refused, or no retry wanted) stops the service
 * with its reason; the last tunnel stays to show how it ended. */
static void
on_nostr_client_state (PtNostrClient *client,
                       GParamSpec    *pspec,
                       PtService     *self)
{
  g_autoptr(PtNostrClient) hold = NULL;

  if (pt_nostr_client_get_state (client) != PT_NOSTR_CLIENT_STATE_FAILED)
    return;
  hold = g_object_ref (client);
  fail (self, g_error_copy (pt_nostr_client_get_error (client)));
}

static void
watch_nostr_client (PtService     *self,
                    PtNostrClient *client)
{
  g_signal_connect (client, "notify::tunnel", G_CALLBACK (on_nostr_tunnel), self);
  g_signal_connect (client, "notify::state", G_CALLBACK (on_nostr_client_state), self);
  g_signal_connect (client, "relay-state", G_CALLBACK (on_relay_state), self);
  g_signal_connect (client, "attempt-failed", G_CALLBACK (on_attempt_failed), self);
  pt_nostr_client_set_reconnect (client, !self->no_reconnect);
}

static void
on_request_refused (PtNostrServer *server,
                    const char    *peer,
                    const char    *session,
                    const char    *reason,
                    PtService     *self)
{
  g_signal_emit (self, signals[REQUEST_REFUSED], 0, peer, session, reason);
}

/* VPN mode: the device comes from the helper, asynchronously (pkexec may
 * show an authorization prompt for as long as the user likes). */

static void
set_error (PtService *self,
           GError    *error)   /* taken */
{
  if (self->error == NULL && error == NULL)
    return;
  g_clear_error (&self->error);
  self->error = error;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

static void
set_vpn_device (PtService  *self,
                const char *device,
                const char *address,
                const char *address6)
{
  g_free (self->vpn_device);
  self->vpn_device = g_strdup (device);
  g_free (self->vpn_address);
  self->vpn_address = g_strdup (address);
  g_free (self->vpn_address6);
  self->vpn_address6 = g_strdup (address6);
  g_debug ("profile %s: VPN device %s", pt_profile_get_id (self->profile), device ? device : "(none)");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VPN_DEVICE]);
}

/* One VPN client per user, as pt vpn client: the same lock (the engine's
 * pt_vpn_client_lock_acquire(), $PT_VPN_CLIENT_LOCK for tests), naming its
 * holder. Another user's client may run beside it: the overlap check keeps
 * their routes apart. The fd, or -1 after saying who holds it; -2 when no
 * lock can be taken (no private directory for it): go without. */
static int
take_vpn_client_lock (PtService  *self,
                      GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *holder = NULL;
  int fd = pt_vpn_client_lock_acquire (vpn_holder ? vpn_holder : "PeerTunnel app", &holder,
                                       &local_error);

  if (fd >= 0)
    return fd;
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BUSY))
    {
      g_debug ("profile %s: %s", pt_profile_get_id (self->profile), local_error->message);
      return -2;
    }
  g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
               /* Translators: %s names the holder, e.g. "pid 1234, pt vpn client" */
               _("Another of your VPN connections is already on (%s). Turn it off first."),
               holder);
  return -1;
}

static void
stop_vpn (PtService *self)
{
  if (self->vpn_lock >= 0)
    {
      close (self->vpn_lock);
      self->vpn_lock = -1;
    }
  if (self->tun_cancellable != NULL)
    {
      g_cancellable_cancel (self->tun_cancellable);
      g_clear_object (&self->tun_cancellable);
    }
  if (self->vpn_device != NULL || self->vpn_address != NULL)
    set_vpn_device (self, NULL, NULL, NULL);
}

/* Says what the user can do about it; keeps the domain and code. */
static GError *
explain_tun_error (const GError *error)
{
  if (g_error_matches (error, PT_TUN_ERROR, PT_TUN_ERROR_HELPER))
    /* Translators: %s is the system's reason */
    return g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_HELPER,
                        _("Cannot create the VPN device (authorization refused, or the helper "
                          "missing): %s"), error->message);
  if (g_error_matches (error, PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP))
    /* Translators: %s says which of the VPN's networks overlaps which of this computer's */
    return g_error_new (PT_TUN_ERROR, PT_TUN_ERROR_OVERLAP,
                        _("The VPN would take over part of a network this computer already "
                          "uses, so it was not connected. Ask the server's owner for another "
                          "VPN network. (%s)"), error->message);
  return g_error_new (error->domain, error->code, _("Cannot create the VPN device: %s"),
                      error->message);
}

/* Stopped by itself, for @error. */
static void
fail (PtService *self,
      GError    *error)      /* taken */
{
  /* Shown in the tunnel's row; not a warning of the program's. */
  g_debug ("profile %s: %s", pt_profile_get_id (self->profile), error->message);
  stop_nostr (self);
  stop_vpn (self);
  set_error (self, error);
  set_running (self, FALSE);
}

typedef struct
{
  PtService    *profile;
  GCancellable *cancellable;
  char         *address;
  char         *address6;
} TunRequest;

static void
vpn_device_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  TunRequest *request = user_data;
  g_autoptr(PtService) self = request->profile;
  g_autoptr(GCancellable) cancellable = request->cancellable;
  g_autofree char *address = request->address;
  g_autofree char *address6 = request->address6;
  g_autofree char *ifname = NULL;
  g_autoptr(GError) error = NULL;
  int fd = pt_tun_open_finish (result, &ifname, &error);

  g_free (request);
  if (cancellable != self->tun_cancellable || g_cancellable_is_cancelled (cancellable))
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  g_clear_object (&self->tun_cancellable);
  if (fd < 0)
    {
      fail (self, explain_tun_error (error));
      return;
    }
  if (self->nostr_server != NULL)
    {
      const char * const *dns = pt_profile_get_vpn_dns (self->profile);

      if (!pt_nostr_server_set_vpn (self->nostr_server, pt_profile_get_vpn_network (self->profile),
                                    pt_profile_get_vpn_network6 (self->profile), fd, vpn_mtu (self),
                                    dns[0] ? dns : NULL, &error))
        {
          fail (self, g_steal_pointer (&error));
          return;
        }
      set_vpn_device (self, ifname, address, address6);
      pt_nostr_server_start (self->nostr_server);
    }
  else if (self->nostr_client != NULL)
    {
      if (!pt_nostr_client_attach_tun (self->nostr_client, fd, &error))
        {
          fail (self, g_steal_pointer (&error));
          return;
        }
      set_vpn_device (self, ifname, address, address6);
    }
  else
    close (fd);
}

static void
open_vpn_device (PtService          *self,
                 guint               mtu,
                 const char         *address,
                 const char         *address6,
                 const char * const *routes)
{
  TunRequest *request = g_new0 (TunRequest, 1);
  gboolean allow_overlap = FALSE;

  if (self->tun_cancellable != NULL)
    g_cancellable_cancel (self->tun_cancellable);
  g_clear_object (&self->tun_cancellable);
  self->tun_cancellable = g_cancellable_new ();
  request->profile = g_object_ref (self);
  request->cancellable = g_object_ref (self->tun_cancellable);
  request->address = g_strdup (address);
  request->address6 = g_strdup (address6);
  g_debug ("profile %s: asking the helper for a VPN device (%s)", pt_profile_get_id (self->profile), address);
  /* A VPN never routes over what the computer already has, unless its
   * profile says so (vpn-allow-overlap, pt vpn --allow-overlap). */
  g_object_get (self->profile, "vpn-allow-overlap", &allow_overlap, NULL);
  pt_tun_open_async (NULL, mtu, address, address6, routes && routes[0] ? routes : NULL,
                     allow_overlap ? PT_TUN_FLAGS_ALLOW_OVERLAP : PT_TUN_FLAGS_NONE,
                     self->tun_cancellable, vpn_device_cb, request);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VPN_DEVICE]);
}

/* Client: the server assigned addresses (again, if they changed). */
static void
on_vpn_config (PtNostrClient *client,
               PtService     *self)
{
  g_autoptr(PtVpnSettings) assigned = pt_nostr_client_dup_vpn_settings (client);

  if (assigned == NULL)
    return;
  open_vpn_device (self, assigned->mtu, assigned->address4, assigned->address6,
                   pt_profile_get_vpn_routes (self->profile));
}

/* The serving key (@server's, or none), notified when it changes. */
static void
set_npub (PtService     *self,
          PtNostrServer *server)
{
  g_autofree char *npub = server ? pt_public_key_to_npub (pt_nostr_server_get_public_key (server))
                                 : NULL;

  if (g_strcmp0 (npub, self->npub) == 0)
    return;
  g_free (self->npub);
  self->npub = g_steal_pointer (&npub);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NPUB]);
}

static void
stop_nostr (PtService *self)
{
  if (self->deriving != NULL)
    {
      g_cancellable_cancel (self->deriving);
      g_clear_object (&self->deriving);
    }
  if (self->nostr_client != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->nostr_client, self);
      pt_nostr_client_stop (self->nostr_client);
      g_clear_object (&self->nostr_client);
    }
  if (self->nostr_server != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->nostr_server, self);
      pt_nostr_server_stop (self->nostr_server);
      g_clear_object (&self->nostr_server);
      set_npub (self, NULL);
    }
  g_list_store_remove_all (self->sessions);
}

static gboolean
start_named_nostr (PtService          *self,
                   PtIceConfig        *ice,
                   const PtSecretKey  *key,
                   const char         *token,
                   const char * const *relays,
                   GError            **error)
{
  if (pt_profile_get_role (self->profile) == PT_TUNNEL_ROLE_SERVER)
    {
      PtProto proto = PT_PROTO_TCP;
      g_autoptr(GSocketAddress) target = _pt_profile_expose_address (self->profile, &proto, error);
      g_autoptr(PtNostrServer) server = NULL;
      g_autoptr(PtServerPolicy) policy = NULL;
      g_autoptr(GPtrArray) tokens = NULL;

      if (target == NULL)
        return FALSE;
      server = pt_nostr_server_new (key, relays, ice, error);
      if (server == NULL)
        return FALSE;
      tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) pt_secret_string_free);
      g_ptr_array_add (tokens, g_strdup (token));
      pt_nostr_server_set_any_peer (server, TRUE);
      pt_nostr_server_set_tokens (server, tokens);
      pt_nostr_server_set_max_sessions (server, server_max_sessions (self->profile));
      policy = pt_server_policy_new ();
      pt_server_policy_set_exposed (policy, proto, G_INET_SOCKET_ADDRESS (target));
      pt_nostr_server_set_policy (server, policy);
      g_signal_connect (server, "session-started", G_CALLBACK (on_session_started), self);
      g_signal_connect (server, "session-ended", G_CALLBACK (on_session_ended), self);
      g_signal_connect (server, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (server, "request-refused", G_CALLBACK (on_request_refused), self);
      self->nostr_server = g_steal_pointer (&server);
      set_npub (self, self->nostr_server);
      pt_nostr_server_start (self->nostr_server);
    }
  else
    {
      g_autoptr(PtNostrClient) client = pt_nostr_client_new (NULL, pt_secret_key_get_public (key),
                                                             relays, ice, error);

      if (client == NULL)
        return FALSE;
      pt_nostr_client_set_token (client, token);
      if (!add_forwards (self, (AddForward) pt_nostr_client_add_forward, client, error))
        {
          pt_nostr_client_stop (client);
          return FALSE;
        }
      watch_nostr_client (self, client);
      self->nostr_client = g_steal_pointer (&client);
      pt_nostr_client_start (self->nostr_client);
      set_tunnel (self, pt_nostr_client_get_tunnel (self->nostr_client));
    }
  return TRUE;
}

static gboolean
start_nostr (PtService          *self,
             PtIceConfig        *ice,
             const PtSecretKey  *named_key,
             const char         *named_token,
             GError            **error)
{
  PtProfile *profile = self->profile;
  const char * const *relays = pt_profile_get_relays (profile);
  const char * const *peers = pt_profile_get_peers (profile);
  const char *token = pt_profile_get_token (profile);
  gboolean vpn = pt_profile_get_mode (profile) == PT_PROFILE_MODE_VPN;
  const PtSecretKey *key = self->key ? self->key : default_key;

  if (relays[0] == NULL)
    relays = NULL;   /* the engine's default relays */
  if (named_key != NULL)
    return start_named_nostr (self, ice, named_key, named_token, relays, error);
  if (key == NULL)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("This computer has no key yet: make one in Preferences"));
      return FALSE;
    }

  if (pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER)
    {
      g_autoptr(PtNostrServer) server = NULL;
      g_autofree char *address = NULL;
      g_autofree char *address6 = NULL;

      const char *network6 = pt_profile_get_vpn_network6 (profile);

      if (vpn && ((address = pt_vpn_server_address (pt_profile_get_vpn_network (profile), error)) == NULL ||
                  (network6 != NULL && (address6 = pt_vpn_server_address (network6, error)) == NULL)))
        return FALSE;
      server = pt_nostr_server_new (key, relays, ice, error);
      if (server == NULL)
        return FALSE;
      for (guint i = 0; peers[i] != NULL; i++)
        {
          PtPublicKey peer;

          if (pt_public_key_parse (peers[i], &peer, NULL))
            pt_nostr_server_add_peer (server, &peer);
        }
      if (token != NULL)
        {
          g_autoptr(GPtrArray) tokens = pt_token_list_parse (token, _("the tunnel’s token"), error);

          if (tokens == NULL)
            return FALSE;
          pt_nostr_server_set_tokens (server, tokens);
        }
      pt_nostr_server_set_any_peer (server, pt_profile_get_any_peer (profile));
      pt_nostr_server_set_max_sessions (server, server_max_sessions (profile));
      if (!vpn)
        {
          g_autoptr(PtServerPolicy) policy = _pt_profile_make_policy (self->profile);

          pt_nostr_server_set_policy (server, policy);
        }
      g_signal_connect (server, "session-started", G_CALLBACK (on_session_started), self);
      g_signal_connect (server, "session-ended", G_CALLBACK (on_session_ended), self);
      g_signal_connect (server, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (server, "request-refused", G_CALLBACK (on_request_refused), self);
      self->nostr_server = g_steal_pointer (&server);
      set_npub (self, self->nostr_server);
      /* A VPN server answers once its device exists. */
      if (vpn)
        open_vpn_device (self, vpn_mtu (self), address, address6, NULL);
      else
        pt_nostr_server_start (self->nostr_server);
    }
  else
    {
      PtPublicKey server_key;
      g_autoptr(PtNostrClient) client = NULL;

      if (!pt_public_key_parse (peers[0], &server_key, error))
        return FALSE;
      client = pt_nostr_client_new (key, &server_key, relays, ice, error);
      if (client == NULL)
        return FALSE;
      if (vpn)
        {
          int lock = take_vpn_client_lock (self, error);

          if (lock == -1)
            {
              pt_nostr_client_stop (client);
              return FALSE;
            }
          if (self->vpn_lock >= 0)
            close (self->vpn_lock);
          self->vpn_lock = lock;
        }
      if (token != NULL)
        pt_nostr_client_set_token (client, token);
      if (vpn)
        {
          pt_nostr_client_set_vpn (client, pt_profile_get_vpn_ipv6 (profile));
          g_signal_connect (client, "vpn-config", G_CALLBACK (on_vpn_config), self);
        }
      if (!vpn && !add_forwards (self, (AddForward) pt_nostr_client_add_forward, client, error))
        {
          pt_nostr_client_stop (client);
          return FALSE;
        }
      watch_nostr_client (self, client);
      self->nostr_client = g_steal_pointer (&client);
      pt_nostr_client_start (self->nostr_client);
    }

  pt_service_clear_runtime (self);
  self->paired = TRUE;       /* nothing to pair by hand */
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  /* The client's first tunnel exists from the start (later ones are notified). */
  set_tunnel (self, self->nostr_client ? pt_nostr_client_get_tunnel (self->nostr_client) : NULL);
  set_running (self, TRUE);
  return TRUE;
}

/* Shared name: the rendezvous key and token come from the name through a
 * slow KDF (Argon2id, 64 MiB), in a thread; then it is Nostr mode with
 * them: the server lets any key in with the token and exposes one service,
 * the client uses a throwaway key. */

typedef struct
{
  char        *name;
  PtSecretKey *key;
  char        *token;
  PtIceConfig *ice;
} Derivation;

static void
derivation_free (Derivation *d)
{
  pt_secret_string_free (d->name);
  g_clear_pointer (&d->key, pt_secret_key_free);
  pt_secret_string_free (d->token);
  g_clear_pointer (&d->ice, pt_ice_config_unref);
  g_free (d);
}

static void
derive_thread (GTask        *task,
               gpointer      source,
               gpointer      data,
               GCancellable *cancellable)
{
  Derivation *d = data;
  GError *error = NULL;

  if (pt_named_rendezvous_derive (d->name, &d->key, &d->token, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
derived_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  PtService *self = PT_SERVICE (source);
  Derivation *d = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error) ||
      !start_nostr (self, d->ice, d->key, d->token, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        fail (self, g_steal_pointer (&error));
    }
}

static gboolean
start_named (PtService    *self,
             PtIceConfig  *ice,
             GError      **error)
{
  Derivation *d = g_new0 (Derivation, 1);
  g_autoptr(GTask) task = NULL;

  d->name = g_strdup (pt_profile_get_shared_name (self->profile));
  d->ice = pt_ice_config_ref (ice);
  g_clear_object (&self->deriving);
  self->deriving = g_cancellable_new ();
  task = g_task_new (self, self->deriving, derived_cb, NULL);
  g_task_set_task_data (task, d, (GDestroyNotify) derivation_free);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, derive_thread);

  pt_service_clear_runtime (self);
  self->paired = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  set_tunnel (self, NULL);
  set_running (self, TRUE);
  return TRUE;
}

gboolean
pt_service_start (PtService  *self,
                  GError    **error)
{
  g_autoptr(PtIceConfig) ice = NULL;
  g_autoptr(PtTunnel) tunnel = NULL;
  PtProfileMode mode;

  g_return_val_if_fail (PT_IS_SERVICE (self), FALSE);

  if (self->running)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
                           _("This tunnel is running already"));
      return FALSE;
    }
  /* E.g. no pkexec and no setuid in a Flatpak: the helper could never make
   * the device, so do not ask it. The caller's UI keeps saying why. */
  mode = pt_profile_get_mode (self->profile);
  if (mode == PT_PROFILE_MODE_VPN && vpn_refusal != NULL)
    {
      GError *why = g_error_new_literal (PT_PROFILE_ERROR, PT_PROFILE_ERROR_UNSUPPORTED,
                                         vpn_refusal);

      g_propagate_error (error, g_error_copy (why));
      set_error (self, why);
      return FALSE;
    }
  if (!pt_profile_validate (self->profile, error))
    return FALSE;
  set_error (self, NULL);

  ice = _pt_profile_make_ice_config (self->profile, error);
  if (mode == PT_PROFILE_MODE_NOSTR || mode == PT_PROFILE_MODE_VPN)
    return start_nostr (self, ice, NULL, NULL, error);
  if (mode == PT_PROFILE_MODE_NAME)
    return start_named (self, ice, error);
  if (pt_profile_get_role (self->profile) == PT_TUNNEL_ROLE_SERVER)
    {
      g_autoptr(PtServerPolicy) policy = _pt_profile_make_policy (self->profile);

      stop_manual (self);
      self->manual_server = pt_manual_server_new (ice);
      pt_manual_server_set_policy (self->manual_server, policy);
      pt_manual_server_set_limits (self->manual_server, server_max_sessions (self->profile),
                                   PT_MANUAL_DEFAULT_MAX_PENDING,
                                   PT_MANUAL_DEFAULT_PENDING_TIMEOUT);
      g_signal_connect (self->manual_server, "session-started",
                        G_CALLBACK (on_manual_session_started), self);
      g_signal_connect (self->manual_server, "session-ended", G_CALLBACK (on_session_ended), self);
      g_signal_connect (self->manual_server, "answered", G_CALLBACK (on_manual_answered), self);
      g_signal_connect (self->manual_server, "session-dropped",
                        G_CALLBACK (on_manual_session_dropped), self);
    }
  else
    {
      tunnel = pt_tunnel_new (PT_TUNNEL_ROLE_CLIENT, ice);
      if (!add_forwards (self, (AddForward) pt_tunnel_add_forward, tunnel, error))
        {
          pt_tunnel_close (tunnel);
          return FALSE;
        }
    }

  pt_service_clear_runtime (self);
  self->cancellable = g_cancellable_new ();
  self->paired = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
  set_tunnel (self, tunnel);
  set_running (self, TRUE);

  if (tunnel != NULL)
    pt_tunnel_create_offer_async (tunnel, self->cancellable, offer_ready_cb, g_object_ref (self));

  return TRUE;
}

void
pt_service_stop (PtService *self)
{
  g_return_if_fail (PT_IS_SERVICE (self));

  if (!self->running)
    return;
  pt_service_clear_runtime (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
  stop_nostr (self);
  stop_manual (self);
  stop_vpn (self);   /* the device went with the client or server */
  if (self->tunnel != NULL)
    pt_tunnel_close (self->tunnel);   /* → CLOSED → not running */
  set_running (self, FALSE);
}

gboolean
pt_service_get_running (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), FALSE);
  return self->running;
}

GListModel *
pt_service_get_sessions (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return G_LIST_MODEL (self->sessions);
}

PtTunnel *
pt_service_get_tunnel (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->tunnel;
}

GBytes *
pt_service_get_local_payload (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->local_payload;
}

const char *
pt_service_get_local_text (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  return self->local_text;
}

gboolean
pt_service_get_paired (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), FALSE);
  return self->paired;
}

static PtSignal *
decode_remote (GBytes        *payload,
               PtSignalKind   expected,
               GError       **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (payload, &len);
  g_autofree char *text = NULL;

  /* Text when it looks like an armored block, else a QR code's binary payload. */
  if (len > 0 && g_strstr_len ((const char *) data, MIN (len, 4096), "PEERTUNNEL") != NULL)
    {
      text = g_strndup ((const char *) data, len);
      return pt_signal_dearmor (text, expected, error);
    }
  if (len == 0)
    {
      g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_NO_BLOCK,
                           _("Nothing to read: paste the block the other computer shows"));
      return NULL;
    }

  {
    g_autoptr(PtSignal) signal = pt_signal_decode (data, len, error);

    if (signal == NULL)
      return NULL;
    if (signal->kind != expected)
      {
        g_set_error_literal (error, PT_SIGNAL_ERROR, PT_SIGNAL_ERROR_WRONG_KIND,
                             expected == PT_SIGNAL_KIND_ANSWER
                             ? _("This is an offer, not an answer: scan the code the serving computer shows")
                             : _("This is an answer, not an offer: scan the code the connecting computer shows"));
        return NULL;
      }
    return g_steal_pointer (&signal);
  }
}

gboolean
pt_service_give_remote (PtService  *self,
                        GBytes     *payload,
                        GError    **error)
{
  g_autoptr(PtSignal) signal = NULL;
  gboolean server;

  g_return_val_if_fail (PT_IS_SERVICE (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);

  server = pt_profile_get_role (self->profile) == PT_TUNNEL_ROLE_SERVER;
  /* A server takes one offer after another; a client one answer. */
  if (!self->running || (server ? self->manual_server == NULL
                                : self->paired || self->local_payload == NULL))
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
                           _("This tunnel is not waiting for the other computer’s block"));
      return FALSE;
    }

  signal = decode_remote (payload, server ? PT_SIGNAL_KIND_OFFER : PT_SIGNAL_KIND_ANSWER, error);
  if (signal == NULL)
    return FALSE;

  if (server)
    {
      if (!pt_manual_server_give_offer (self->manual_server, signal, error))
        return FALSE;
    }
  else if (!pt_tunnel_set_answer (self->tunnel, signal, error))
    return FALSE;

  self->paired = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  return TRUE;
}

char *
pt_service_dup_local_address (PtService *self)
{
  g_autoptr(GPtrArray) addresses = NULL;

  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);

  if (self->nostr_client != NULL)
    addresses = pt_nostr_client_dup_listen_addresses (self->nostr_client);
  else if (self->tunnel == NULL || pt_profile_get_role (self->profile) != PT_TUNNEL_ROLE_CLIENT)
    return NULL;
  else
    addresses = pt_tunnel_dup_listen_addresses (self->tunnel);
  if (addresses == NULL || addresses->len == 0)
    return NULL;
  return g_strdup (g_ptr_array_index (addresses, 0));
}

PtVpnSettings *
pt_service_dup_vpn_settings (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), NULL);
  if (self->nostr_client == NULL || pt_profile_get_mode (self->profile) != PT_PROFILE_MODE_VPN)
    return NULL;
  return pt_nostr_client_dup_vpn_settings (self->nostr_client);
}

guint64
pt_service_get_vpn_spoofed (PtService *self)
{
  g_return_val_if_fail (PT_IS_SERVICE (self), 0);
  return self->nostr_server ? pt_nostr_server_get_vpn_spoofed (self->nostr_server) : 0;
}
