/* pt-profile.c — one tunnel as the user configured it, and its running engine tunnel
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "pt-profile"

#include "config.h"

#include <glib/gi18n-lib.h>   /* the project's domain, whoever calls */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "pt.h"

struct _PtProfile
{
  GObject        parent_instance;

  char          *id;
  char          *name;
  PtTunnelRole   role;
  PtProfileMode  mode;
  GStrv          sources;
  GStrv          targets;
  GStrv          allowed_tcp;
  GStrv          allowed_udp;
  GStrv          stun_servers;
  GStrv          turn_servers;
  GStrv          local_addresses;
  GStrv          relays;
  GStrv          peers;
  char          *token;
  char          *shared_name;
  char          *expose;
  gboolean       any_peer;
  GCancellable  *deriving;
  gboolean       no_stun;
  char          *vpn_network;
  char          *vpn_network6;
  guint          vpn_mtu;
  GStrv          vpn_dns;
  GStrv          vpn_routes;
  gboolean       vpn_ipv6;

  PtNostrClient *nostr_client;
  PtNostrServer *nostr_server;

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
  int            vpn_lock;       /* VPN client: the per-computer lock, or -1 */
};

enum
{
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_ROLE,
  PROP_MODE,
  PROP_RUNNING,
  PROP_TUNNEL,
  PROP_LOCAL_TEXT,
  PROP_PAIRED,
  PROP_ERROR,
  PROP_VPN_DEVICE,
  N_PROPS
};

enum
{
  CHANGED,
  RELAY_STATE,
  ATTEMPT_FAILED,
  REQUEST_REFUSED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* The settings beyond name, role and mode: each is a key of the profiles
 * file (docs/profiles.md) and a property of the same name, and this table is
 * the only list of them — loading, saving, copying, freeing and the secrets
 * entry all walk it. */
typedef enum
{
  SETTING_STRING,       /* char *, NULL when empty */
  SETTING_STRV,         /* GStrv, never NULL */
  SETTING_BOOLEAN,      /* gboolean */
  SETTING_UINT,         /* guint, 0 … max */
} SettingKind;

typedef struct
{
  const char  *key;
  SettingKind  kind;
  gsize        offset;
  gboolean     secret;  /* kept in the keyring by the app, wiped when freed */
  guint        max;
} Setting;

#define FIELD(member) G_STRUCT_OFFSET (PtProfile, member)

static const Setting settings[] = {
  { "sources",         SETTING_STRV,    FIELD (sources) },
  { "targets",         SETTING_STRV,    FIELD (targets) },
  { "allowed-tcp",     SETTING_STRV,    FIELD (allowed_tcp) },
  { "allowed-udp",     SETTING_STRV,    FIELD (allowed_udp) },
  { "stun-servers",    SETTING_STRV,    FIELD (stun_servers) },
  { "turn-servers",    SETTING_STRV,    FIELD (turn_servers), TRUE },
  { "local-addresses", SETTING_STRV,    FIELD (local_addresses) },
  { "relays",          SETTING_STRV,    FIELD (relays) },
  { "peers",           SETTING_STRV,    FIELD (peers) },
  { "no-stun",         SETTING_BOOLEAN, FIELD (no_stun) },
  { "any-peer",        SETTING_BOOLEAN, FIELD (any_peer) },
  { "token",           SETTING_STRING,  FIELD (token), TRUE },
  { "shared-name",     SETTING_STRING,  FIELD (shared_name), TRUE },
  { "expose",          SETTING_STRING,  FIELD (expose) },
  { "vpn-network",     SETTING_STRING,  FIELD (vpn_network) },
  { "vpn-network6",    SETTING_STRING,  FIELD (vpn_network6) },
  { "vpn-mtu",         SETTING_UINT,    FIELD (vpn_mtu), FALSE, G_MAXUINT16 },
  { "vpn-dns",         SETTING_STRV,    FIELD (vpn_dns) },
  { "vpn-routes",      SETTING_STRV,    FIELD (vpn_routes) },
  { "vpn-ipv6",        SETTING_BOOLEAN, FIELD (vpn_ipv6) },
};

#undef FIELD

enum
{
  S_SOURCES, S_TARGETS, S_ALLOWED_TCP, S_ALLOWED_UDP, S_STUN_SERVERS, S_TURN_SERVERS,
  S_LOCAL_ADDRESSES, S_RELAYS, S_PEERS, S_NO_STUN, S_ANY_PEER, S_TOKEN, S_SHARED_NAME,
  S_EXPOSE, S_VPN_NETWORK, S_VPN_NETWORK6, S_VPN_MTU, S_VPN_DNS, S_VPN_ROUTES, S_VPN_IPV6,
  N_SETTINGS
};

G_STATIC_ASSERT (N_SETTINGS == G_N_ELEMENTS (settings));

static GParamSpec *setting_pspecs[N_SETTINGS];

#define SETTING_PTR(self, i) ((gpointer) (((guint8 *) (self)) + settings[i].offset))

G_DEFINE_QUARK (pt-profile-error-quark, pt_profile_error)

static PtSecretKey *default_key;
static char *vpn_refusal;

static void stop_nostr (PtProfile *self);
static void stop_vpn (PtProfile *self);

void
pt_profile_set_default_key (const PtSecretKey *key)
{
  g_clear_pointer (&default_key, pt_secret_key_free);
  if (key != NULL)
    default_key = pt_secret_key_copy (key);
}

void
pt_profile_set_vpn_refusal (const char *why)
{
  g_free (vpn_refusal);
  vpn_refusal = g_strdup (why);
}

G_DEFINE_FINAL_TYPE (PtProfile, pt_profile, G_TYPE_OBJECT)

static const char * const empty_strv[] = { NULL };

static void
replace_strv (GStrv              *field,
              const char * const *value)
{
  GStrv old = *field;

  *field = g_strdupv ((char **) (value ? value : empty_strv));
  g_strfreev (old);
}

static void
pt_profile_changed (PtProfile *self)
{
  g_signal_emit (self, signals[CHANGED], 0);
}

static void
wipe_string (char *text)
{
  if (text != NULL)
    explicit_bzero (text, strlen (text));
}

static void
wipe_strv (GStrv strv)
{
  for (guint i = 0; strv && strv[i]; i++)
    wipe_string (strv[i]);
}

static gboolean
strv_equal0 (const char * const *a,
             const char * const *b)
{
  a = a ? a : empty_strv;
  b = b ? b : empty_strv;
  return g_strv_equal (a, b);
}

/* Each setter of a setting: stores a copy, notifies the property; TRUE if
 * the value changed ("changed" is the caller's, once for several). */
static gboolean
set_string_setting (PtProfile  *self,
                    guint       i,
                    const char *value)
{
  char **field = SETTING_PTR (self, i);

  g_assert (settings[i].kind == SETTING_STRING);
  if (value != NULL && value[0] == '\0')
    value = NULL;
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  if (settings[i].secret)
    wipe_string (*field);
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), setting_pspecs[i]);
  return TRUE;
}

static gboolean
set_strv_setting (PtProfile          *self,
                  guint               i,
                  const char * const *value)
{
  GStrv *field = SETTING_PTR (self, i);

  g_assert (settings[i].kind == SETTING_STRV);
  if (strv_equal0 ((const char * const *) *field, value))
    return FALSE;
  if (settings[i].secret)
    wipe_strv (*field);
  replace_strv (field, value);
  g_object_notify_by_pspec (G_OBJECT (self), setting_pspecs[i]);
  return TRUE;
}

static gboolean
set_boolean_setting (PtProfile *self,
                     guint      i,
                     gboolean   value)
{
  gboolean *field = SETTING_PTR (self, i);

  g_assert (settings[i].kind == SETTING_BOOLEAN);
  if (*field == !!value)
    return FALSE;
  *field = !!value;
  g_object_notify_by_pspec (G_OBJECT (self), setting_pspecs[i]);
  return TRUE;
}

static gboolean
set_uint_setting (PtProfile *self,
                  guint      i,
                  guint      value)
{
  guint *field = SETTING_PTR (self, i);

  g_assert (settings[i].kind == SETTING_UINT);
  value = MIN (value, settings[i].max);
  if (*field == value)
    return FALSE;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), setting_pspecs[i]);
  return TRUE;
}

/* Setting @i of @self becomes that of @from. */
static gboolean
copy_setting (PtProfile *self,
              guint      i,
              PtProfile *from)
{
  gconstpointer value = SETTING_PTR (from, i);

  switch (settings[i].kind)
    {
    case SETTING_STRING:
      return set_string_setting (self, i, *(char * const *) value);
    case SETTING_STRV:
      return set_strv_setting (self, i, *(const char * const * const *) value);
    case SETTING_BOOLEAN:
      return set_boolean_setting (self, i, *(const gboolean *) value);
    case SETTING_UINT:
      return set_uint_setting (self, i, *(const guint *) value);
    }
  g_assert_not_reached ();
}

static void
pt_profile_clear_runtime (PtProfile *self)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->local_payload, g_bytes_unref);
  g_clear_pointer (&self->local_text, g_free);
}

static void
pt_profile_dispose (GObject *object)
{
  PtProfile *self = PT_PROFILE (object);

  pt_profile_clear_runtime (self);
  stop_nostr (self);
  stop_vpn (self);
  if (self->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->tunnel, self);
      pt_tunnel_close (self->tunnel);
      g_clear_object (&self->tunnel);
    }
  g_list_store_remove_all (self->sessions);
  G_OBJECT_CLASS (pt_profile_parent_class)->dispose (object);
}

static void
pt_profile_finalize (GObject *object)
{
  PtProfile *self = PT_PROFILE (object);

  g_free (self->id);
  g_free (self->name);
  for (guint i = 0; i < N_SETTINGS; i++)
    switch (settings[i].kind)
      {
      case SETTING_STRING:
        if (settings[i].secret)
          wipe_string (*(char **) SETTING_PTR (self, i));
        g_free (*(char **) SETTING_PTR (self, i));
        break;
      case SETTING_STRV:
        if (settings[i].secret)
          wipe_strv (*(GStrv *) SETTING_PTR (self, i));
        g_strfreev (*(GStrv *) SETTING_PTR (self, i));
        break;
      case SETTING_BOOLEAN:
      case SETTING_UINT:
        break;
      }
  g_clear_error (&self->error);
  g_clear_object (&self->sessions);
  G_OBJECT_CLASS (pt_profile_parent_class)->finalize (object);
}

static void
pt_profile_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  PtProfile *self = PT_PROFILE (object);

  switch (prop_id)
    {
    case PROP_ID:
      g_value_set_string (value, self->id);
      break;
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;
    case PROP_MODE:
      g_value_set_int (value, self->mode);
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
    default:
      if (prop_id >= N_PROPS && prop_id < N_PROPS + N_SETTINGS)
        {
          guint i = prop_id - N_PROPS;
          gconstpointer field = SETTING_PTR (self, i);

          switch (settings[i].kind)
            {
            case SETTING_STRING:
              g_value_set_string (value, *(char * const *) field);
              break;
            case SETTING_STRV:
              g_value_set_boxed (value, *(const GStrv *) field);
              break;
            case SETTING_BOOLEAN:
              g_value_set_boolean (value, *(const gboolean *) field);
              break;
            case SETTING_UINT:
              g_value_set_uint (value, *(const guint *) field);
              break;
            }
          break;
        }
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_profile_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  PtProfile *self = PT_PROFILE (object);

  switch (prop_id)
    {
    case PROP_NAME:
      pt_profile_set_name (self, g_value_get_string (value));
      break;
    case PROP_ROLE:
      pt_profile_set_role (self, g_value_get_enum (value));
      break;
    case PROP_MODE:
      pt_profile_set_mode (self, g_value_get_int (value));
      break;
    default:
      if (prop_id >= N_PROPS && prop_id < N_PROPS + N_SETTINGS)
        {
          guint i = prop_id - N_PROPS;
          gboolean changed = FALSE;

          switch (settings[i].kind)
            {
            case SETTING_STRING:
              changed = set_string_setting (self, i, g_value_get_string (value));
              break;
            case SETTING_STRV:
              changed = set_strv_setting (self, i, g_value_get_boxed (value));
              break;
            case SETTING_BOOLEAN:
              changed = set_boolean_setting (self, i, g_value_get_boolean (value));
              break;
            case SETTING_UINT:
              changed = set_uint_setting (self, i, g_value_get_uint (value));
              break;
            }
          if (changed)
            pt_profile_changed (self);
          break;
        }
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pt_profile_class_init (PtProfileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = pt_profile_dispose;
  object_class->finalize = pt_profile_finalize;
  object_class->get_property = pt_profile_get_property;
  object_class->set_property = pt_profile_set_property;

  properties[PROP_ID] =
    g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL, PT_TYPE_TUNNEL_ROLE, PT_TUNNEL_ROLE_CLIENT,
                       G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_MODE] =
    g_param_spec_int ("mode", NULL, NULL, PT_PROFILE_MODE_MANUAL, PT_PROFILE_MODE_VPN,
                      PT_PROFILE_MODE_MANUAL,
                      G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_TUNNEL] =
    g_param_spec_object ("tunnel", NULL, NULL, PT_TYPE_TUNNEL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_LOCAL_TEXT] =
    g_param_spec_string ("local-text", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PAIRED] =
    g_param_spec_boolean ("paired", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_ERROR] =
    g_param_spec_boxed ("error", NULL, NULL, G_TYPE_ERROR,
                        G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_VPN_DEVICE] =
    g_param_spec_string ("vpn-device", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  for (guint i = 0; i < N_SETTINGS; i++)
    {
      const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

      switch (settings[i].kind)
        {
        case SETTING_STRING:
          setting_pspecs[i] = g_param_spec_string (settings[i].key, NULL, NULL, NULL, flags);
          break;
        case SETTING_STRV:
          setting_pspecs[i] = g_param_spec_boxed (settings[i].key, NULL, NULL, G_TYPE_STRV, flags);
          break;
        case SETTING_BOOLEAN:
          setting_pspecs[i] = g_param_spec_boolean (settings[i].key, NULL, NULL, FALSE, flags);
          break;
        case SETTING_UINT:
          setting_pspecs[i] = g_param_spec_uint (settings[i].key, NULL, NULL, 0, settings[i].max, 0,
                                                 flags);
          break;
        }
      g_object_class_install_property (object_class, N_PROPS + i, setting_pspecs[i]);
    }

  /* Settings changed (not running state): time to save. */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
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
pt_profile_init (PtProfile *self)
{
  self->sessions = g_list_store_new (PT_TYPE_PEER_SESSION);
  self->id = g_uuid_string_random ();
  self->name = g_strdup ("");
  self->role = PT_TUNNEL_ROLE_CLIENT;
  self->mode = PT_PROFILE_MODE_MANUAL;
  for (guint i = 0; i < N_SETTINGS; i++)
    if (settings[i].kind == SETTING_STRV)
      *(GStrv *) SETTING_PTR (self, i) = g_new0 (char *, 1);
  self->vpn_lock = -1;
}

PtProfile *
pt_profile_new (void)
{
  return g_object_new (PT_TYPE_PROFILE, NULL);
}

void
pt_profile_assign (PtProfile *self,
                   PtProfile *from)
{
  g_return_if_fail (PT_IS_PROFILE (self));
  g_return_if_fail (PT_IS_PROFILE (from));

  g_object_freeze_notify (G_OBJECT (self));
  g_signal_handlers_block_matched (self, G_SIGNAL_MATCH_ID, signals[CHANGED], 0, NULL, NULL, NULL);
  pt_profile_set_name (self, from->name);
  pt_profile_set_role (self, from->role);
  pt_profile_set_mode (self, from->mode);
  for (guint i = 0; i < N_SETTINGS; i++)
    copy_setting (self, i, from);
  g_signal_handlers_unblock_matched (self, G_SIGNAL_MATCH_ID, signals[CHANGED], 0, NULL, NULL, NULL);
  g_object_thaw_notify (G_OBJECT (self));
  pt_profile_changed (self);
}

PtProfile *
pt_profile_duplicate (PtProfile *self)
{
  PtProfile *copy = pt_profile_new ();

  pt_profile_assign (copy, self);
  return copy;
}

/* Persistence */

/* GLib 2.74 sets its GError twice (a warning, fatal in tests) for a value
 * with a bad escape that also ends in a lone backslash: such a value is
 * broken anyway, so it reads as missing without asking GLib. */
static gboolean
value_ends_in_escape (GKeyFile   *key_file,
                      const char *group,
                      const char *key)
{
  g_autofree char *raw = g_key_file_get_value (key_file, group, key, NULL);

  if (raw == NULL)
    return FALSE;
  for (const char *p = raw; *p != '\0'; p++)
    if (*p == '\\' && *++p == '\0')
      return TRUE;
  return FALSE;
}

char *
pt_profile_key_file_get_string (GKeyFile   *key_file,
                                const char *group,
                                const char *key)
{
  if (value_ends_in_escape (key_file, group, key))
    return NULL;
  return g_key_file_get_string (key_file, group, key, NULL);
}

static GStrv
key_file_strv (GKeyFile   *key_file,
               const char *group,
               const char *key)
{
  GStrv value = value_ends_in_escape (key_file, group, key)
                ? NULL : g_key_file_get_string_list (key_file, group, key, NULL, NULL);

  return value ? value : g_new0 (char *, 1);
}

/* Setting @i from @group of @key_file; a missing or unreadable value is the
 * default (empty, FALSE, 0). TRUE if that changed it. */
static gboolean
read_setting (PtProfile  *self,
              guint       i,
              GKeyFile   *key_file,
              const char *group)
{
  const char *key = settings[i].key;
  gboolean changed = FALSE;

  switch (settings[i].kind)
    {
    case SETTING_STRING:
      {
        g_autofree char *value = pt_profile_key_file_get_string (key_file, group, key);

        changed = set_string_setting (self, i, value);
        if (settings[i].secret)
          wipe_string (value);
      }
      break;
    case SETTING_STRV:
      {
        g_auto(GStrv) value = key_file_strv (key_file, group, key);

        changed = set_strv_setting (self, i, (const char * const *) value);
        if (settings[i].secret)
          wipe_strv (value);
      }
      break;
    case SETTING_BOOLEAN:
      changed = set_boolean_setting (self, i, g_key_file_get_boolean (key_file, group, key, NULL));
      break;
    case SETTING_UINT:
      changed = set_uint_setting (self, i, (guint) MAX (0, g_key_file_get_integer (key_file, group,
                                                                                   key, NULL)));
      break;
    }
  return changed;
}

PtProfile *
pt_profile_new_from_key_file (GKeyFile    *key_file,
                              const char  *group,
                              GError     **error)
{
  g_autoptr(PtProfile) self = NULL;
  g_autofree char *name = NULL;
  g_autofree char *role = NULL;
  g_autofree char *mode = NULL;

  g_return_val_if_fail (g_str_has_prefix (group, "profile "), NULL);

  name = pt_profile_key_file_get_string (key_file, group, "name");
  role = pt_profile_key_file_get_string (key_file, group, "role");
  mode = pt_profile_key_file_get_string (key_file, group, "mode");

  self = pt_profile_new ();
  g_free (self->id);
  self->id = g_strdup (group + strlen ("profile "));
  g_free (self->name);
  self->name = g_strdup (name ? name : "");
  if (g_strcmp0 (role, "serve") == 0)
    self->role = PT_TUNNEL_ROLE_SERVER;
  else if (role == NULL || g_str_equal (role, "connect"))
    self->role = PT_TUNNEL_ROLE_CLIENT;
  else
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Tunnel “%s”: unknown role “%s”"), self->name, role);
      return NULL;
    }
  if (mode == NULL || g_str_equal (mode, "manual"))
    self->mode = PT_PROFILE_MODE_MANUAL;
  else if (g_str_equal (mode, "nostr"))
    self->mode = PT_PROFILE_MODE_NOSTR;
  else if (g_str_equal (mode, "name"))
    self->mode = PT_PROFILE_MODE_NAME;
  else if (g_str_equal (mode, "vpn"))
    self->mode = PT_PROFILE_MODE_VPN;
  else
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Tunnel “%s”: unknown mode “%s”"), self->name, mode);
      return NULL;
    }

  for (guint i = 0; i < N_SETTINGS; i++)
    read_setting (self, i, key_file, group);

  if (g_strv_length (self->sources) != g_strv_length (self->targets))
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Tunnel “%s”: sources and targets do not pair up"), self->name);
      return NULL;
    }

  return g_steal_pointer (&self);
}

GKeyFile *
pt_profile_parse_key_file (const char  *data,
                           gsize        len,
                           const char  *what,
                           GError     **error)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;

  if (g_key_file_load_from_data (key_file, data, len, G_KEY_FILE_NONE, &local_error))
    return g_steal_pointer (&key_file);

  /* GKeyFile quotes the line it could not read, and a line may hold a
   * password or a token: say what is wrong, never what the line says. */
  if (g_error_matches (local_error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_UNKNOWN_ENCODING))
    g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                 _("%s names a character encoding other than UTF-8"), what);
  else if (!g_utf8_validate_len (data, len, NULL))
    g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                 _("%s is not valid UTF-8 text"), what);
  else
    g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                 _("%s is damaged: one of its lines cannot be read. Remove the file "
                   "to start again, or mend the line in a text editor"), what);
  return NULL;
}

GPtrArray *
pt_profile_list_from_key_file (GKeyFile  *key_file,
                               GError   **error)
{
  g_autoptr(GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_auto(GStrv) groups = g_key_file_get_groups (key_file, NULL);

  for (guint i = 0; groups[i] != NULL; i++)
    {
      PtProfile *profile;

      if (!g_str_has_prefix (groups[i], "profile "))
        continue;
      profile = pt_profile_new_from_key_file (key_file, groups[i], error);
      if (profile == NULL)
        return NULL;
      g_ptr_array_add (loaded, profile);
    }
  return g_steal_pointer (&loaded);
}

/* Setting @i into @group; defaults (empty, FALSE, 0) are left out. */
static void
write_setting (PtProfile  *self,
               guint       i,
               GKeyFile   *key_file,
               const char *group)
{
  gconstpointer field = SETTING_PTR (self, i);
  const char *key = settings[i].key;

  switch (settings[i].kind)
    {
    case SETTING_STRING:
      if (*(char * const *) field != NULL)
        g_key_file_set_string (key_file, group, key, *(char * const *) field);
      break;
    case SETTING_STRV:
      {
        const char * const *value = *(const char * const * const *) field;

        if (value[0] != NULL)
          g_key_file_set_string_list (key_file, group, key, value, g_strv_length ((char **) value));
      }
      break;
    case SETTING_BOOLEAN:
      if (*(const gboolean *) field)
        g_key_file_set_boolean (key_file, group, key, TRUE);
      break;
    case SETTING_UINT:
      if (*(const guint *) field != 0)
        g_key_file_set_integer (key_file, group, key, (int) *(const guint *) field);
      break;
    }
}

static gboolean
setting_is_default (PtProfile *self,
                    guint      i)
{
  gconstpointer field = SETTING_PTR (self, i);

  switch (settings[i].kind)
    {
    case SETTING_STRING:
      return *(char * const *) field == NULL;
    case SETTING_STRV:
      return (*(char * const * const *) field)[0] == NULL;
    case SETTING_BOOLEAN:
      return !*(const gboolean *) field;
    case SETTING_UINT:
      return *(const guint *) field == 0;
    }
  g_assert_not_reached ();
}

void
pt_profile_to_key_file (PtProfile  *self,
                        GKeyFile   *key_file,
                        const char *group)
{
  static const char * const modes[] = { "manual", "nostr", "name", "vpn" };

  g_key_file_set_string (key_file, group, "name", self->name);
  g_key_file_set_string (key_file, group, "role",
                         self->role == PT_TUNNEL_ROLE_SERVER ? "serve" : "connect");
  g_key_file_set_string (key_file, group, "mode", modes[self->mode]);
  for (guint i = 0; i < N_SETTINGS; i++)
    write_setting (self, i, key_file, group);
}

const char * const pt_profile_secret_keys[] = { "turn-servers", "token", "shared-name", NULL };

char *
pt_profile_dup_secrets (PtProfile *self)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  gboolean any = FALSE;

  for (guint i = 0; i < N_SETTINGS; i++)
    if (settings[i].secret && !setting_is_default (self, i))
      {
        write_setting (self, i, key_file, "secrets");
        any = TRUE;
      }
  /* GKeyFile keeps copies; it cannot wipe them, but they die with it here. */
  return any ? g_key_file_to_data (key_file, NULL, NULL) : NULL;
}

void
pt_profile_apply_secrets (PtProfile  *self,
                          const char *text)
{
  g_autoptr(GKeyFile) key_file = g_key_file_new ();
  gboolean changed = FALSE;

  if (!g_key_file_load_from_data (key_file, text, -1, G_KEY_FILE_NONE, NULL))
    return;
  for (guint i = 0; i < N_SETTINGS; i++)
    if (settings[i].secret)
      changed |= read_setting (self, i, key_file, "secrets");
  if (changed)
    pt_profile_changed (self);
}

/* Accessors */

const char *
pt_profile_get_id (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->id;
}

const char *
pt_profile_get_name (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->name;
}

void
pt_profile_set_name (PtProfile  *self,
                     const char *name)
{
  g_return_if_fail (PT_IS_PROFILE (self));

  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name ? name : "");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
  pt_profile_changed (self);
}

PtTunnelRole
pt_profile_get_role (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), PT_TUNNEL_ROLE_CLIENT);
  return self->role;
}

void
pt_profile_set_role (PtProfile    *self,
                     PtTunnelRole  role)
{
  g_return_if_fail (PT_IS_PROFILE (self));

  if (self->role == role)
    return;
  self->role = role;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROLE]);
  pt_profile_changed (self);
}

PtProfileMode
pt_profile_get_mode (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), PT_PROFILE_MODE_MANUAL);
  return self->mode;
}

void
pt_profile_set_mode (PtProfile     *self,
                     PtProfileMode  mode)
{
  g_return_if_fail (PT_IS_PROFILE (self));

  if (self->mode == mode)
    return;
  self->mode = mode;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODE]);
  pt_profile_changed (self);
}

const char * const *
pt_profile_get_sources (PtProfile *self)
{
  return (const char * const *) self->sources;
}

const char * const *
pt_profile_get_targets (PtProfile *self)
{
  return (const char * const *) self->targets;
}

void
pt_profile_set_forwards (PtProfile          *self,
                         const char * const *sources,
                         const char * const *targets)
{
  g_return_if_fail (PT_IS_PROFILE (self));
  g_return_if_fail (g_strv_length ((char **) (sources ? sources : empty_strv)) ==
                    g_strv_length ((char **) (targets ? targets : empty_strv)));

  if (set_strv_setting (self, S_SOURCES, sources) | set_strv_setting (self, S_TARGETS, targets))
    pt_profile_changed (self);
}

const char * const *
pt_profile_get_allowed_tcp (PtProfile *self)
{
  return (const char * const *) self->allowed_tcp;
}

const char * const *
pt_profile_get_allowed_udp (PtProfile *self)
{
  return (const char * const *) self->allowed_udp;
}

void
pt_profile_set_allowed (PtProfile          *self,
                        const char * const *tcp,
                        const char * const *udp)
{
  if (set_strv_setting (self, S_ALLOWED_TCP, tcp) | set_strv_setting (self, S_ALLOWED_UDP, udp))
    pt_profile_changed (self);
}

const char * const *
pt_profile_get_stun_servers (PtProfile *self)
{
  return (const char * const *) self->stun_servers;
}

const char * const *
pt_profile_get_turn_servers (PtProfile *self)
{
  return (const char * const *) self->turn_servers;
}

const char * const *
pt_profile_get_local_addresses (PtProfile *self)
{
  return (const char * const *) self->local_addresses;
}

gboolean
pt_profile_get_no_stun (PtProfile *self)
{
  return self->no_stun;
}

void
pt_profile_set_ice (PtProfile          *self,
                    const char * const *stun_servers,
                    const char * const *turn_servers,
                    const char * const *local_addresses,
                    gboolean            no_stun)
{
  if (set_strv_setting (self, S_STUN_SERVERS, stun_servers) |
      set_strv_setting (self, S_TURN_SERVERS, turn_servers) |
      set_strv_setting (self, S_LOCAL_ADDRESSES, local_addresses) |
      set_boolean_setting (self, S_NO_STUN, no_stun))
    pt_profile_changed (self);
}

const char * const *
pt_profile_get_relays (PtProfile *self)
{
  return (const char * const *) self->relays;
}

const char * const *
pt_profile_get_peers (PtProfile *self)
{
  return (const char * const *) self->peers;
}

void
pt_profile_set_nostr (PtProfile          *self,
                      const char * const *relays,
                      const char * const *peers)
{
  if (set_strv_setting (self, S_RELAYS, relays) | set_strv_setting (self, S_PEERS, peers))
    pt_profile_changed (self);
}

const char *
pt_profile_get_token (PtProfile *self)
{
  return self->token;
}

void
pt_profile_set_token (PtProfile  *self,
                      const char *token)
{
  if (set_string_setting (self, S_TOKEN, token))
    pt_profile_changed (self);
}

const char *
pt_profile_get_shared_name (PtProfile *self)
{
  return self->shared_name;
}

void
pt_profile_set_shared_name (PtProfile  *self,
                            const char *name)
{
  if (set_string_setting (self, S_SHARED_NAME, name))
    pt_profile_changed (self);
}

const char *
pt_profile_get_expose (PtProfile *self)
{
  return self->expose;
}

void
pt_profile_set_expose (PtProfile  *self,
                       const char *expose)
{
  if (set_string_setting (self, S_EXPOSE, expose))
    pt_profile_changed (self);
}

gboolean
pt_profile_get_any_peer (PtProfile *self)
{
  return self->any_peer;
}

void
pt_profile_set_any_peer (PtProfile *self,
                         gboolean   any_peer)
{
  if (set_boolean_setting (self, S_ANY_PEER, any_peer))
    pt_profile_changed (self);
}

const char *
pt_profile_get_vpn_network (PtProfile *self)
{
  return self->vpn_network;
}

const char *
pt_profile_get_vpn_network6 (PtProfile *self)
{
  return self->vpn_network6;
}

guint
pt_profile_get_vpn_mtu (PtProfile *self)
{
  return self->vpn_mtu;
}

const char * const *
pt_profile_get_vpn_dns (PtProfile *self)
{
  return (const char * const *) self->vpn_dns;
}

const char * const *
pt_profile_get_vpn_routes (PtProfile *self)
{
  return (const char * const *) self->vpn_routes;
}

gboolean
pt_profile_get_vpn_ipv6 (PtProfile *self)
{
  return self->vpn_ipv6;
}

void
pt_profile_set_vpn (PtProfile          *self,
                    const char         *network,
                    const char         *network6,
                    guint               mtu,
                    const char * const *dns,
                    const char * const *routes,
                    gboolean            ipv6)
{
  g_return_if_fail (PT_IS_PROFILE (self));

  if (set_string_setting (self, S_VPN_NETWORK, network) |
      set_string_setting (self, S_VPN_NETWORK6, network6) |
      set_uint_setting (self, S_VPN_MTU, mtu) |
      set_strv_setting (self, S_VPN_DNS, dns) |
      set_strv_setting (self, S_VPN_ROUTES, routes) |
      set_boolean_setting (self, S_VPN_IPV6, ipv6))
    pt_profile_changed (self);
}

const GError *
pt_profile_get_error (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->error;
}

const char *
pt_profile_get_vpn_device (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->vpn_device;
}

const char *
pt_profile_get_vpn_address (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->vpn_address;
}

const char *
pt_profile_get_vpn_address6 (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->vpn_address6;
}

gboolean
pt_profile_get_vpn_authorizing (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);
  return self->tun_cancellable != NULL;
}

/* Turning settings into engine objects */

static PtIceConfig *
make_ice_config (PtProfile  *self,
                 GError    **error)
{
  g_autoptr(PtIceConfig) config = pt_ice_config_new ();

  if (self->stun_servers[0] != NULL)
    {
      for (guint i = 0; self->stun_servers[i] != NULL; i++)
        if (!pt_ice_config_add_stun_server (config, self->stun_servers[i], error))
          return NULL;
    }
  else if (!self->no_stun)
    {
      for (guint i = 0; pt_default_stun_servers[i] != NULL; i++)
        pt_ice_config_add_stun_server (config, pt_default_stun_servers[i], NULL);
    }
  for (guint i = 0; self->turn_servers[i] != NULL; i++)
    if (!pt_ice_config_add_turn_server (config, self->turn_servers[i], error))
      return NULL;
  for (guint i = 0; self->local_addresses[i] != NULL; i++)
    if (!pt_ice_config_add_local_address (config, self->local_addresses[i], error))
      return NULL;

  return g_steal_pointer (&config);
}

static PtAllowList *
make_allow_list (GStrv        cidrs,
                 GError     **error)
{
  g_autoptr(PtAllowList) list = pt_allow_list_new ();

  for (guint i = 0; cidrs[i] != NULL; i++)
    if (!pt_allow_list_add (list, cidrs[i], error))
      return NULL;
  return g_steal_pointer (&list);
}

/* A serving profile's allowed services (validated before: bad entries
 * cannot remain). */
static PtServerPolicy *
make_policy (PtProfile *self)
{
  PtServerPolicy *policy = pt_server_policy_new ();
  g_autoptr(PtAllowList) tcp = make_allow_list (self->allowed_tcp, NULL);
  g_autoptr(PtAllowList) udp = make_allow_list (self->allowed_udp, NULL);

  pt_server_policy_set_allow_list (policy, PT_PROTO_TCP, tcp);
  pt_server_policy_set_allow_list (policy, PT_PROTO_UDP, udp);
  return policy;
}

/* "tcp://127.0.0.1:22" → the address (a literal: the server connects to it). */
static GSocketAddress *
expose_address (const char  *expose,
                PtProto     *proto,
                GError     **error)
{
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (expose, error);
  g_autoptr(GInetAddress) address = NULL;

  if (spec == NULL)
    return NULL;
  address = g_inet_address_new_from_string (spec->host);
  if (address == NULL)
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("Expose an address, not a name: “%s” (e.g. 127.0.0.1)"), spec->host);
      return NULL;
    }
  if (proto != NULL)
    *proto = spec->proto;
  return g_inet_socket_address_new (address, spec->port);
}

/* The ranges the TUN helper lets a VPN use (helper/pt-vpn-limits.h). */
static const char * const private_ranges4[] = { PT_VPN_PRIVATE_RANGES_IPV4, NULL };
static const char * const private_ranges6[] = { PT_VPN_PRIVATE_RANGES_IPV6, NULL };

/* @text as a network (no host bits) of @family, inside the private ranges;
 * @what names the field in the message. */
static gboolean
check_private_network (const char      *text,
                       GSocketFamily    family,
                       guint            max_length,
                       const char      *what,
                       GError         **error)
{
  g_autoptr(GInetAddressMask) mask = NULL;
  const char * const *ranges = family == G_SOCKET_FAMILY_IPV6 ? private_ranges6 : private_ranges4;

  if (strchr (text, '/') != NULL)
    mask = g_inet_address_mask_new_from_string (text, NULL);
  if (mask == NULL || g_inet_address_mask_get_family (mask) != family)
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   family == G_SOCKET_FAMILY_IPV6
                   /* Translators: %s names the field, %s the value */
                   ? _("%s: “%s” is not an IPv6 network such as fd00:77::/64")
                   : _("%s: “%s” is not an IPv4 network such as 10.77.0.0/24"), what, text);
      return FALSE;
    }
  if (g_inet_address_mask_get_length (mask) > max_length)
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   _("%s: “%s” is too small: give a prefix length of at most %u"),
                   what, text, max_length);
      return FALSE;
    }
  for (guint i = 0; ranges[i] != NULL; i++)
    {
      g_autoptr(GInetAddressMask) range = g_inet_address_mask_new_from_string (ranges[i], NULL);

      if (g_inet_address_mask_get_length (mask) >= g_inet_address_mask_get_length (range) &&
          g_inet_address_mask_matches (range, g_inet_address_mask_get_address (mask)))
        return TRUE;
    }
  {
    g_autofree char *list = g_strjoinv (", ", (char **) ranges);

    g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                 /* Translators: the last %s lists networks such as 10.0.0.0/8, 192.168.0.0/16 */
                 _("%s: “%s” is a public network; a VPN uses private addresses only (%s)"),
                 what, text, list);
  }
  return FALSE;
}

static gboolean
validate_vpn (PtProfile  *self,
              GError    **error)
{
  guint mtu = self->vpn_mtu ? self->vpn_mtu : PT_PROFILE_VPN_DEFAULT_MTU;

  if (self->role == PT_TUNNEL_ROLE_CLIENT)
    {
      for (guint i = 0; self->vpn_routes[i] != NULL; i++)
        {
          const char *route = self->vpn_routes[i];
          GSocketFamily family = strchr (route, ':') ? G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4;

          if (family == G_SOCKET_FAMILY_IPV6 && !self->vpn_ipv6)
            {
              g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("Route “%s” is IPv6: ask for an IPv6 address as well"), route);
              return FALSE;
            }
          if (!check_private_network (route, family, family == G_SOCKET_FAMILY_IPV6 ? 128 : 32,
                                      _("Route"), error))
            return FALSE;
        }
      return TRUE;
    }

  if (self->vpn_network == NULL)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("Give the VPN’s network, e.g. 10.77.0.0/24"));
      return FALSE;
    }
  if (!check_private_network (self->vpn_network, G_SOCKET_FAMILY_IPV4, PT_VPN_PREFIX_MAX_IPV4,
                              _("Network"), error))
    return FALSE;
  if (self->vpn_network6 != NULL &&
      !check_private_network (self->vpn_network6, G_SOCKET_FAMILY_IPV6, PT_VPN_PREFIX_MAX_IPV6,
                              _("IPv6 network"), error))
    return FALSE;
  if (mtu < PT_VPN_MTU_MIN_IPV4 || mtu > PT_VPN_MTU_MAX ||
      (self->vpn_network6 != NULL && mtu < PT_VPN_MTU_MIN_IPV6))
    {
      g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                   /* Translators: an MTU is a number of bytes */
                   _("MTU %u: give %u to %u bytes (at least %u with an IPv6 network)"), mtu,
                   PT_VPN_MTU_MIN_IPV4, PT_VPN_MTU_MAX, PT_VPN_MTU_MIN_IPV6);
      return FALSE;
    }
  for (guint i = 0; self->vpn_dns[i] != NULL; i++)
    if (!g_hostname_is_ip_address (self->vpn_dns[i]))
      {
        g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                     _("DNS server “%s” is not an IP address"), self->vpn_dns[i]);
        return FALSE;
      }
  return TRUE;
}

gboolean
pt_profile_validate (PtProfile  *self,
                     GError    **error)
{
  g_autoptr(PtIceConfig) ice = NULL;
  g_autoptr(PtAllowList) tcp = NULL;
  g_autoptr(PtAllowList) udp = NULL;

  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);

  if (!(ice = make_ice_config (self, error)))
    return FALSE;
  if (self->mode == PT_PROFILE_MODE_NAME)
    {
      if (self->shared_name == NULL || g_utf8_strlen (self->shared_name, -1) < PT_NAMED_MIN_LEN)
        {
          g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                       _("Give a shared name of at least %d characters: anyone who guesses it "
                         "reaches the service"), PT_NAMED_MIN_LEN);
          return FALSE;
        }
      /* The engine's own rule, in the app's words. */
      if (!pt_named_name_check (self->shared_name, NULL))
        {
          g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                               _("This shared name is too easy to guess: anyone who guesses it "
                                 "reaches the service. Use five or more random words"));
          return FALSE;
        }
      for (guint i = 0; self->relays[i] != NULL; i++)
        if (!g_str_has_prefix (self->relays[i], "ws://") && !g_str_has_prefix (self->relays[i], "wss://"))
          {
            g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                         _("“%s” is not a relay address: it starts with wss:// (or ws://)"),
                         self->relays[i]);
            return FALSE;
          }
      if (self->role == PT_TUNNEL_ROLE_SERVER)
        {
          g_autoptr(GSocketAddress) target = NULL;

          if (self->expose == NULL)
            {
              g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                                   _("Say which service of this computer to expose, e.g. tcp://127.0.0.1:22"));
              return FALSE;
            }
          target = expose_address (self->expose, NULL, error);
          return target != NULL;
        }
    }
  if (self->mode == PT_PROFILE_MODE_NOSTR || self->mode == PT_PROFILE_MODE_VPN)
    {
      for (guint i = 0; self->relays[i] != NULL; i++)
        if (!g_str_has_prefix (self->relays[i], "ws://") && !g_str_has_prefix (self->relays[i], "wss://"))
          {
            g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                         _("“%s” is not a relay address: it starts with wss:// (or ws://)"),
                         self->relays[i]);
            return FALSE;
          }
      if (self->token != NULL && !pt_token_validate (self->token, error))
        return FALSE;
      if (self->role == PT_TUNNEL_ROLE_SERVER && self->any_peer && self->token == NULL)
        {
          g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                               _("Letting any computer in needs an access token"));
          return FALSE;
        }
      if (self->peers[0] == NULL && !(self->role == PT_TUNNEL_ROLE_SERVER && self->any_peer))
        {
          g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                               self->role == PT_TUNNEL_ROLE_SERVER
                               ? _("Add the npub of each computer allowed to connect")
                               : _("Give the serving computer’s npub"));
          return FALSE;
        }
      for (guint i = 0; self->peers[i] != NULL; i++)
        {
          PtPublicKey key;

          if (!pt_public_key_parse (self->peers[i], &key, error))
            return FALSE;
        }
    }
  if (self->mode == PT_PROFILE_MODE_VPN)
    return validate_vpn (self, error);

  if (self->role == PT_TUNNEL_ROLE_SERVER)
    return (tcp = make_allow_list (self->allowed_tcp, error)) != NULL &&
           (udp = make_allow_list (self->allowed_udp, error)) != NULL;

  if (self->sources[0] == NULL)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("Add at least one forward: the service to reach on the other computer"));
      return FALSE;
    }
  for (guint i = 0; self->sources[i] != NULL; i++)
    {
      g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (self->sources[i], error);

      if (spec == NULL)
        return FALSE;
    }
  return TRUE;
}

/* Running */

static void
set_local_signal (PtProfile *self,
                  PtSignal  *signal)
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
set_running (PtProfile *self,
             gboolean   running)
{
  if (self->running == running)
    return;
  self->running = running;
  g_debug ("profile %s: %s", self->id, running ? "running" : "stopped");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

static void
on_tunnel_state (PtTunnel   *tunnel,
                 GParamSpec *pspec,
                 PtProfile  *self)
{
  PtTunnelState state = pt_tunnel_get_state (tunnel);

  g_debug ("profile %s: tunnel %s", self->id, pt_tunnel_state_to_string (state));
  switch (state)
    {
    case PT_TUNNEL_STATE_CLOSED:
    case PT_TUNNEL_STATE_FAILED:
      /* In Nostr mode the engine tries again (or serves the next session). */
      if (self->nostr_client != NULL || self->nostr_server != NULL)
        break;
      pt_profile_clear_runtime (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
      set_running (self, FALSE);
      break;

    case PT_TUNNEL_STATE_NEW:
    case PT_TUNNEL_STATE_GATHERING:
    case PT_TUNNEL_STATE_WAITING_FOR_ANSWER:
    case PT_TUNNEL_STATE_CHECKING:
    case PT_TUNNEL_STATE_HANDSHAKE:
    case PT_TUNNEL_STATE_UP:
      break;
    }
}

static void
offer_ready_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(PtProfile) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) offer = pt_tunnel_create_offer_finish (PT_TUNNEL (object), result, &error);

  if (offer == NULL)
    {
      /* A failed tunnel reports why through its state; a cancelled one was stopped. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("profile %s: no offer: %s", self->id, error->message);
      return;
    }
  if (self->tunnel == PT_TUNNEL (object))
    set_local_signal (self, offer);
}

static void
answer_ready_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(PtProfile) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSignal) answer = pt_tunnel_accept_offer_finish (PT_TUNNEL (object), result, &error);

  if (answer == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("profile %s: no answer: %s", self->id, error->message);
      return;
    }
  if (self->tunnel == PT_TUNNEL (object))
    set_local_signal (self, answer);
}

/* "tunnel" becomes @tunnel; the previous one is closed, unless it is one
 * of a server's sessions (they end by themselves, or with stop()). */
static void
set_tunnel (PtProfile *self,
            PtTunnel  *tunnel)
{
  if (self->tunnel != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->tunnel, self);
      if (self->nostr_server == NULL)
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
                 PtProfile     *self)
{
  set_tunnel (self, pt_nostr_client_get_tunnel (client));
}

static void
on_session_started (PtNostrServer *server,
                    PtTunnel      *tunnel,
                    const char    *peer_npub,
                    const char    *session,
                    PtProfile     *self)
{
  g_autoptr(PtPeerSession) item = pt_peer_session_new (tunnel, peer_npub, session);

  g_debug ("profile %s: session %s from %s", self->id, session, peer_npub);
  /* Every client stays up: "tunnel" shows the newest, "sessions" all. */
  g_list_store_append (self->sessions, item);
  set_tunnel (self, tunnel);
}

static void
on_session_ended (PtNostrServer *server,
                  PtTunnel      *tunnel,
                  const char    *session,
                  PtProfile     *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sessions));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PtPeerSession) item = g_list_model_get_item (G_LIST_MODEL (self->sessions), i);

      if (pt_peer_session_get_tunnel (item) != tunnel)
        continue;
      g_debug ("profile %s: session %s ended", self->id, session);
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
                PtProfile  *self)
{
  g_signal_emit (self, signals[RELAY_STATE], 0, url, connected);
}

static void
on_attempt_failed (PtNostrClient *client,
                   GError        *error,
                   guint          retry_in,
                   PtProfile     *self)
{
  g_signal_emit (self, signals[ATTEMPT_FAILED], 0, error, retry_in);
}

static void
on_request_refused (PtNostrServer *server,
                    const char    *peer,
                    const char    *session,
                    const char    *reason,
                    PtProfile     *self)
{
  g_signal_emit (self, signals[REQUEST_REFUSED], 0, peer, session, reason);
}

/* VPN mode: the device comes from the helper, asynchronously (pkexec may
 * show an authorization prompt for as long as the user likes). */

static void
set_error (PtProfile *self,
           GError    *error)   /* taken */
{
  if (self->error == NULL && error == NULL)
    return;
  g_clear_error (&self->error);
  self->error = error;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
}

static void
set_vpn_device (PtProfile  *self,
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
  g_debug ("profile %s: VPN device %s", self->id, device ? device : "(none)");
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VPN_DEVICE]);
}

/* One VPN client per user, as pt vpn client: the same lock (the engine's
 * pt_vpn_client_lock_acquire(), $PT_VPN_CLIENT_LOCK for tests), naming its
 * holder. Another user's client may run beside it: the overlap check keeps
 * their routes apart. The fd, or -1 after saying who holds it; -2 when no
 * lock can be taken (no private directory for it): go without. */
static int
take_vpn_client_lock (PtProfile  *self,
                      GError    **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *holder = NULL;
  int fd = pt_vpn_client_lock_acquire ("PeerTunnel app", &holder, &local_error);

  if (fd >= 0)
    return fd;
  if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_BUSY))
    {
      g_debug ("profile %s: %s", self->id, local_error->message);
      return -2;
    }
  g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
               /* Translators: %s names the holder, e.g. "pid 1234, pt vpn client" */
               _("Another of your VPN connections is already on (%s). Turn it off first."),
               holder);
  return -1;
}

static void
stop_vpn (PtProfile *self)
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

static void
fail_vpn (PtProfile *self,
          GError    *error)      /* taken */
{
  /* Shown in the tunnel's row; not a warning of the program's. */
  g_debug ("profile %s: %s", self->id, error->message);
  stop_nostr (self);
  stop_vpn (self);
  set_error (self, error);
  set_running (self, FALSE);
}

typedef struct
{
  PtProfile    *profile;
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
  g_autoptr(PtProfile) self = request->profile;
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
      fail_vpn (self, explain_tun_error (error));
      return;
    }
  if (self->nostr_server != NULL)
    {
      const char * const *dns = (const char * const *) self->vpn_dns;

      if (!pt_nostr_server_set_vpn (self->nostr_server, self->vpn_network, self->vpn_network6, fd,
                                    self->vpn_mtu ? self->vpn_mtu : PT_PROFILE_VPN_DEFAULT_MTU,
                                    dns[0] ? dns : NULL, &error))
        {
          fail_vpn (self, g_steal_pointer (&error));
          return;
        }
      set_vpn_device (self, ifname, address, address6);
      pt_nostr_server_start (self->nostr_server);
    }
  else if (self->nostr_client != NULL)
    {
      if (!pt_nostr_client_attach_tun (self->nostr_client, fd, &error))
        {
          fail_vpn (self, g_steal_pointer (&error));
          return;
        }
      set_vpn_device (self, ifname, address, address6);
    }
  else
    close (fd);
}

static void
open_vpn_device (PtProfile          *self,
                 guint               mtu,
                 const char         *address,
                 const char         *address6,
                 const char * const *routes)
{
  TunRequest *request = g_new0 (TunRequest, 1);

  if (self->tun_cancellable != NULL)
    g_cancellable_cancel (self->tun_cancellable);
  g_clear_object (&self->tun_cancellable);
  self->tun_cancellable = g_cancellable_new ();
  request->profile = g_object_ref (self);
  request->cancellable = g_object_ref (self->tun_cancellable);
  request->address = g_strdup (address);
  request->address6 = g_strdup (address6);
  g_debug ("profile %s: asking the helper for a VPN device (%s)", self->id, address);
  /* No opt-in for overlapping networks here: a profile's VPN never routes
   * over what the computer already has (pt vpn --allow-overlap can). */
  pt_tun_open_async (NULL, mtu, address, address6, routes && routes[0] ? routes : NULL,
                     PT_TUN_FLAGS_NONE, self->tun_cancellable, vpn_device_cb, request);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_VPN_DEVICE]);
}

/* Client: the server assigned addresses (again, if they changed). */
static void
on_vpn_config (PtNostrClient *client,
               PtProfile     *self)
{
  g_autoptr(PtVpnSettings) assigned = pt_nostr_client_dup_vpn_settings (client);

  if (assigned == NULL)
    return;
  open_vpn_device (self, assigned->mtu, assigned->address4, assigned->address6,
                   (const char * const *) self->vpn_routes);
}

static void
stop_nostr (PtProfile *self)
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
    }
  g_list_store_remove_all (self->sessions);
}

static gboolean
start_named_nostr (PtProfile          *self,
                   PtIceConfig        *ice,
                   const PtSecretKey  *key,
                   const char         *token,
                   const char * const *relays,
                   GError            **error)
{
  if (self->role == PT_TUNNEL_ROLE_SERVER)
    {
      PtProto proto = PT_PROTO_TCP;
      g_autoptr(GSocketAddress) target = expose_address (self->expose, &proto, error);
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
      policy = pt_server_policy_new ();
      pt_server_policy_set_exposed (policy, proto, G_INET_SOCKET_ADDRESS (target));
      pt_nostr_server_set_policy (server, policy);
      g_signal_connect (server, "session-started", G_CALLBACK (on_session_started), self);
      g_signal_connect (server, "session-ended", G_CALLBACK (on_session_ended), self);
      g_signal_connect (server, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (server, "request-refused", G_CALLBACK (on_request_refused), self);
      self->nostr_server = g_steal_pointer (&server);
      pt_nostr_server_start (self->nostr_server);
    }
  else
    {
      g_autoptr(PtNostrClient) client = pt_nostr_client_new (NULL, pt_secret_key_get_public (key),
                                                             relays, ice, error);

      if (client == NULL)
        return FALSE;
      pt_nostr_client_set_token (client, token);
      for (guint i = 0; self->sources[i] != NULL; i++)
        {
          g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (self->sources[i], error);

          if (spec == NULL || !pt_nostr_client_add_forward (client, spec, self->targets[i], error))
            {
              pt_nostr_client_stop (client);
              return FALSE;
            }
        }
      g_signal_connect (client, "notify::tunnel", G_CALLBACK (on_nostr_tunnel), self);
      g_signal_connect (client, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (client, "attempt-failed", G_CALLBACK (on_attempt_failed), self);
      self->nostr_client = g_steal_pointer (&client);
      pt_nostr_client_start (self->nostr_client);
      set_tunnel (self, pt_nostr_client_get_tunnel (self->nostr_client));
    }
  return TRUE;
}

static gboolean
start_nostr (PtProfile          *self,
             PtIceConfig        *ice,
             const PtSecretKey  *named_key,
             const char         *named_token,
             GError            **error)
{
  const char * const *relays = self->relays[0] ? (const char * const *) self->relays : NULL;
  gboolean vpn = self->mode == PT_PROFILE_MODE_VPN;

  if (named_key != NULL)
    return start_named_nostr (self, ice, named_key, named_token, relays, error);
  if (default_key == NULL)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("This computer has no key yet: make one in Preferences"));
      return FALSE;
    }

  if (self->role == PT_TUNNEL_ROLE_SERVER)
    {
      g_autoptr(PtNostrServer) server = NULL;
      g_autofree char *address = NULL;
      g_autofree char *address6 = NULL;

      if (vpn && ((address = pt_vpn_server_address (self->vpn_network, error)) == NULL ||
                  (self->vpn_network6 != NULL &&
                   (address6 = pt_vpn_server_address (self->vpn_network6, error)) == NULL)))
        return FALSE;
      server = pt_nostr_server_new (default_key, relays, ice, error);
      if (server == NULL)
        return FALSE;
      for (guint i = 0; self->peers[i] != NULL; i++)
        {
          PtPublicKey peer;

          if (pt_public_key_parse (self->peers[i], &peer, NULL))
            pt_nostr_server_add_peer (server, &peer);
        }
      if (self->token != NULL)
        {
          g_autoptr(GPtrArray) tokens = pt_token_list_parse (self->token, _("the tunnel’s token"), error);

          if (tokens == NULL)
            return FALSE;
          pt_nostr_server_set_tokens (server, tokens);
        }
      pt_nostr_server_set_any_peer (server, self->any_peer);
      if (!vpn)
        {
          g_autoptr(PtServerPolicy) policy = make_policy (self);

          pt_nostr_server_set_policy (server, policy);
        }
      g_signal_connect (server, "session-started", G_CALLBACK (on_session_started), self);
      g_signal_connect (server, "session-ended", G_CALLBACK (on_session_ended), self);
      g_signal_connect (server, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (server, "request-refused", G_CALLBACK (on_request_refused), self);
      self->nostr_server = g_steal_pointer (&server);
      /* A VPN server answers once its device exists. */
      if (vpn)
        open_vpn_device (self, self->vpn_mtu ? self->vpn_mtu : PT_PROFILE_VPN_DEFAULT_MTU,
                         address, address6, NULL);
      else
        pt_nostr_server_start (self->nostr_server);
    }
  else
    {
      PtPublicKey server_key;
      g_autoptr(PtNostrClient) client = NULL;

      if (!pt_public_key_parse (self->peers[0], &server_key, error))
        return FALSE;
      client = pt_nostr_client_new (default_key, &server_key, relays, ice, error);
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
      if (self->token != NULL)
        pt_nostr_client_set_token (client, self->token);
      if (vpn)
        {
          pt_nostr_client_set_vpn (client, self->vpn_ipv6);
          g_signal_connect (client, "vpn-config", G_CALLBACK (on_vpn_config), self);
        }
      for (guint i = 0; !vpn && self->sources[i] != NULL; i++)
        {
          g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (self->sources[i], error);

          if (spec == NULL || !pt_nostr_client_add_forward (client, spec, self->targets[i], error))
            {
              pt_nostr_client_stop (client);
              return FALSE;
            }
        }
      g_signal_connect (client, "notify::tunnel", G_CALLBACK (on_nostr_tunnel), self);
      g_signal_connect (client, "relay-state", G_CALLBACK (on_relay_state), self);
      g_signal_connect (client, "attempt-failed", G_CALLBACK (on_attempt_failed), self);
      self->nostr_client = g_steal_pointer (&client);
      pt_nostr_client_start (self->nostr_client);
    }

  pt_profile_clear_runtime (self);
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
  PtProfile *self = PT_PROFILE (source);
  Derivation *d = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error) ||
      !start_nostr (self, d->ice, d->key, d->token, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_warning ("“%s”: %s", self->name, error->message);
          set_running (self, FALSE);
        }
    }
}

static gboolean
start_named (PtProfile    *self,
             PtIceConfig  *ice,
             GError      **error)
{
  Derivation *d = g_new0 (Derivation, 1);
  g_autoptr(GTask) task = NULL;

  d->name = g_strdup (self->shared_name);
  d->ice = pt_ice_config_ref (ice);
  g_clear_object (&self->deriving);
  self->deriving = g_cancellable_new ();
  task = g_task_new (self, self->deriving, derived_cb, NULL);
  g_task_set_task_data (task, d, (GDestroyNotify) derivation_free);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, derive_thread);

  pt_profile_clear_runtime (self);
  self->paired = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  set_tunnel (self, NULL);
  set_running (self, TRUE);
  return TRUE;
}

gboolean
pt_profile_start (PtProfile  *self,
                  GError    **error)
{
  g_autoptr(PtIceConfig) ice = NULL;
  g_autoptr(PtTunnel) tunnel = NULL;

  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);

  if (self->running)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_STATE,
                           _("This tunnel is running already"));
      return FALSE;
    }
  /* E.g. no pkexec and no setuid in a Flatpak: the helper could never make
   * the device, so do not ask it. The caller's UI keeps saying why. */
  if (self->mode == PT_PROFILE_MODE_VPN && vpn_refusal != NULL)
    {
      GError *why = g_error_new_literal (PT_PROFILE_ERROR, PT_PROFILE_ERROR_UNSUPPORTED,
                                         vpn_refusal);

      g_propagate_error (error, g_error_copy (why));
      set_error (self, why);
      return FALSE;
    }
  if (!pt_profile_validate (self, error))
    return FALSE;
  set_error (self, NULL);

  ice = make_ice_config (self, error);
  if (self->mode == PT_PROFILE_MODE_NOSTR || self->mode == PT_PROFILE_MODE_VPN)
    return start_nostr (self, ice, NULL, NULL, error);
  if (self->mode == PT_PROFILE_MODE_NAME)
    return start_named (self, ice, error);
  tunnel = pt_tunnel_new (self->role, ice);

  if (self->role == PT_TUNNEL_ROLE_SERVER)
    {
      g_autoptr(PtServerPolicy) policy = make_policy (self);

      pt_tunnel_set_policy (tunnel, policy);
    }
  else
    {
      for (guint i = 0; self->sources[i] != NULL; i++)
        {
          g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (self->sources[i], error);

          if (spec == NULL || !pt_tunnel_add_forward (tunnel, spec, self->targets[i], error))
            {
              pt_tunnel_close (tunnel);
              return FALSE;
            }
        }
    }

  pt_profile_clear_runtime (self);
  self->cancellable = g_cancellable_new ();
  self->paired = FALSE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
  set_tunnel (self, tunnel);
  set_running (self, TRUE);

  if (self->role == PT_TUNNEL_ROLE_CLIENT)
    pt_tunnel_create_offer_async (tunnel, self->cancellable, offer_ready_cb, g_object_ref (self));

  return TRUE;
}

void
pt_profile_stop (PtProfile *self)
{
  g_return_if_fail (PT_IS_PROFILE (self));

  if (!self->running)
    return;
  pt_profile_clear_runtime (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOCAL_TEXT]);
  stop_nostr (self);
  stop_vpn (self);   /* the device went with the client or server */
  if (self->tunnel != NULL)
    pt_tunnel_close (self->tunnel);   /* → CLOSED → not running */
  set_running (self, FALSE);
}

gboolean
pt_profile_get_running (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);
  return self->running;
}

GListModel *
pt_profile_get_sessions (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return G_LIST_MODEL (self->sessions);
}

PtTunnel *
pt_profile_get_tunnel (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->tunnel;
}

GBytes *
pt_profile_get_local_payload (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->local_payload;
}

const char *
pt_profile_get_local_text (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);
  return self->local_text;
}

gboolean
pt_profile_get_paired (PtProfile *self)
{
  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);
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
pt_profile_give_remote (PtProfile  *self,
                        GBytes     *payload,
                        GError    **error)
{
  g_autoptr(PtSignal) signal = NULL;
  gboolean server;

  g_return_val_if_fail (PT_IS_PROFILE (self), FALSE);
  g_return_val_if_fail (payload != NULL, FALSE);

  server = self->role == PT_TUNNEL_ROLE_SERVER;
  if (!self->running || self->paired || (!server && self->local_payload == NULL))
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
      if (!pt_signal_check_fresh (signal, g_get_real_time () / G_USEC_PER_SEC, error))
        return FALSE;
      pt_tunnel_accept_offer_async (self->tunnel, signal, self->cancellable,
                                    answer_ready_cb, g_object_ref (self));
    }
  else if (!pt_tunnel_set_answer (self->tunnel, signal, error))
    return FALSE;

  self->paired = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAIRED]);
  return TRUE;
}

char *
pt_profile_dup_local_address (PtProfile *self)
{
  g_autoptr(GPtrArray) addresses = NULL;

  g_return_val_if_fail (PT_IS_PROFILE (self), NULL);

  if (self->nostr_client != NULL)
    addresses = pt_nostr_client_dup_listen_addresses (self->nostr_client);
  else if (self->tunnel == NULL || self->role != PT_TUNNEL_ROLE_CLIENT)
    return NULL;
  else
    addresses = pt_tunnel_dup_listen_addresses (self->tunnel);
  if (addresses == NULL || addresses->len == 0)
    return NULL;
  return g_strdup (g_ptr_array_index (addresses, 0));
}
