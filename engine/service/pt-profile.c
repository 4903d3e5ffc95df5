/* pt-profile.c — one tunnel as the user configured it
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
#include "pt-profile-private.h"

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
  gboolean       relay_only;
  char          *turn_ca_file;
  GStrv          relays;
  GStrv          peers;
  char          *token;
  char          *shared_name;
  char          *expose;
  gboolean       any_peer;
  guint          max_sessions;
  gboolean       no_stun;
  char          *vpn_network;
  char          *vpn_network6;
  guint          vpn_mtu;
  GStrv          vpn_dns;
  GStrv          vpn_routes;
  gboolean       vpn_ipv6;
  gboolean       vpn_allow_overlap;
};

enum
{
  PROP_0,
  PROP_ID,
  PROP_NAME,
  PROP_ROLE,
  PROP_MODE,
  N_PROPS
};

enum
{
  CHANGED,
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
  { "relay-only",      SETTING_BOOLEAN, FIELD (relay_only) },
  { "turn-ca-file",    SETTING_STRING,  FIELD (turn_ca_file) },
  { "relays",          SETTING_STRV,    FIELD (relays) },
  { "peers",           SETTING_STRV,    FIELD (peers) },
  { "no-stun",         SETTING_BOOLEAN, FIELD (no_stun) },
  { "any-peer",        SETTING_BOOLEAN, FIELD (any_peer) },
  { "max-sessions",    SETTING_UINT,    FIELD (max_sessions), FALSE, PT_PROFILE_NO_SESSION_LIMIT },
  { "token",           SETTING_STRING,  FIELD (token), TRUE },
  { "shared-name",     SETTING_STRING,  FIELD (shared_name), TRUE },
  { "expose",          SETTING_STRING,  FIELD (expose) },
  { "vpn-network",     SETTING_STRING,  FIELD (vpn_network) },
  { "vpn-network6",    SETTING_STRING,  FIELD (vpn_network6) },
  { "vpn-mtu",         SETTING_UINT,    FIELD (vpn_mtu), FALSE, G_MAXUINT16 },
  { "vpn-dns",         SETTING_STRV,    FIELD (vpn_dns) },
  { "vpn-routes",      SETTING_STRV,    FIELD (vpn_routes) },
  { "vpn-ipv6",        SETTING_BOOLEAN, FIELD (vpn_ipv6) },
  { "vpn-allow-overlap", SETTING_BOOLEAN, FIELD (vpn_allow_overlap) },
};

#undef FIELD

enum
{
  S_SOURCES, S_TARGETS, S_ALLOWED_TCP, S_ALLOWED_UDP, S_STUN_SERVERS, S_TURN_SERVERS,
  S_LOCAL_ADDRESSES, S_RELAY_ONLY, S_TURN_CA_FILE, S_RELAYS, S_PEERS, S_NO_STUN, S_ANY_PEER,
  S_MAX_SESSIONS, S_TOKEN, S_SHARED_NAME,
  S_EXPOSE, S_VPN_NETWORK, S_VPN_NETWORK6, S_VPN_MTU, S_VPN_DNS, S_VPN_ROUTES, S_VPN_IPV6,
  S_VPN_ALLOW_OVERLAP,
  N_SETTINGS
};

G_STATIC_ASSERT (N_SETTINGS == G_N_ELEMENTS (settings));

static GParamSpec *setting_pspecs[N_SETTINGS];

#define SETTING_PTR(self, i) ((gpointer) (((guint8 *) (self)) + settings[i].offset))

G_DEFINE_QUARK (pt-profile-error-quark, pt_profile_error)

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
}

static void
pt_profile_init (PtProfile *self)
{
  self->id = g_uuid_string_random ();
  self->name = g_strdup ("");
  self->role = PT_TUNNEL_ROLE_CLIENT;
  self->mode = PT_PROFILE_MODE_MANUAL;
  for (guint i = 0; i < N_SETTINGS; i++)
    if (settings[i].kind == SETTING_STRV)
      *(GStrv *) SETTING_PTR (self, i) = g_new0 (char *, 1);
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

/* Turning settings into engine objects */

PtIceConfig *
_pt_profile_make_ice_config (PtProfile  *self,
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
  if (self->relay_only && self->turn_servers[0] == NULL)
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("Relaying every connection needs a TURN server"));
      return NULL;
    }
  pt_ice_config_set_relay_only (config, self->relay_only);
  pt_ice_config_set_turn_ca_file (config, self->turn_ca_file);

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

PtServerPolicy *
_pt_profile_make_policy (PtProfile *self)
{
  PtServerPolicy *policy = pt_server_policy_new ();
  g_autoptr(PtAllowList) tcp = make_allow_list (self->allowed_tcp, NULL);
  g_autoptr(PtAllowList) udp = make_allow_list (self->allowed_udp, NULL);

  pt_server_policy_set_allow_list (policy, PT_PROTO_TCP, tcp);
  pt_server_policy_set_allow_list (policy, PT_PROTO_UDP, udp);
  return policy;
}

/* "tcp://127.0.0.1:22" → the address (a literal: the server connects to it). */
GSocketAddress *
_pt_profile_expose_address (PtProfile  *self,
                            PtProto    *proto,
                            GError    **error)
{
  g_autoptr(PtForwardSpec) spec = pt_forward_spec_parse (self->expose, error);
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

  if (!(ice = _pt_profile_make_ice_config (self, error)))
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
          target = _pt_profile_expose_address (self, NULL, error);
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
      if (self->token != NULL)
        {
          /* Serving, it is a list (one per line); connecting, one token. */
          g_autoptr(GPtrArray) tokens = self->role == PT_TUNNEL_ROLE_SERVER
            ? pt_token_list_parse (self->token, _("the tunnel’s token"), error) : NULL;

          if (self->role == PT_TUNNEL_ROLE_SERVER ? tokens == NULL
                                                  : !pt_token_validate (self->token, error))
            return FALSE;
        }
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
