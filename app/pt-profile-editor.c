/* pt-profile-editor.c — create or edit a tunnel's settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The form fills a draft profile that pt_profile_validate() checks, so the
 * editor refuses exactly what the engine would refuse, and says why inline.
 * Inside a Flatpak the VPN choice is there but cannot be picked, and says
 * why (pt-sandbox.h).
 *
 * Layout in ui/pt-profile-editor.ui; only the forward rows, one per
 * forward, are built here.
 */
#define G_LOG_DOMAIN "pt-profile-editor"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pt-profile-editor-private.h"
#include "pt-sandbox.h"

G_DEFINE_FINAL_TYPE (PtProfileEditor, pt_profile_editor, ADW_TYPE_WINDOW)

static void
forward_widgets_free (PtForwardWidgets *fw)
{
  g_free (fw);
}

/* "a, b ,c" → {"a","b","c"}; empty items dropped. */
static GStrv
split_list (const char *text)
{
  g_auto(GStrv) parts = g_strsplit_set (text ? text : "", ",; \n\t", -1);
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    if (parts[i][0] != '\0')
      g_strv_builder_add (builder, parts[i]);
  return g_strv_builder_end (builder);
}

static char *
join_list (const char * const *items)
{
  return g_strjoinv (", ", (char **) items);
}

static void
update_role (PtProfileEditor *self)
{
  gboolean server = adw_combo_row_get_selected (self->role_row) == 1;
  gboolean nostr = adw_combo_row_get_selected (self->mode_row) == PT_PROFILE_MODE_NOSTR;
  gboolean named = adw_combo_row_get_selected (self->mode_row) == PT_PROFILE_MODE_NAME;
  gboolean vpn = adw_combo_row_get_selected (self->mode_row) == PT_PROFILE_MODE_VPN;

  /* A VPN carries whole networks: no forwards, no allowed services. */
  gtk_widget_set_visible (self->forwards_group, !server && !vpn);
  gtk_widget_set_visible (self->nostr_group, nostr || vpn);
  gtk_widget_set_visible (self->vpn_group, vpn);
  gtk_widget_set_visible (GTK_WIDGET (self->vpn_network_row), server);
  gtk_widget_set_visible (GTK_WIDGET (self->vpn_network6_row), server);
  gtk_widget_set_visible (GTK_WIDGET (self->vpn_mtu_row), server);
  gtk_widget_set_visible (GTK_WIDGET (self->vpn_dns_row), server);
  gtk_widget_set_visible (GTK_WIDGET (self->vpn_routes_row), !server);
  gtk_widget_set_visible (self->vpn_ipv6_row, !server);
  gtk_widget_set_visible (self->any_peer_row, server);
  gtk_widget_set_visible (self->named_group, named);
  gtk_widget_set_visible (GTK_WIDGET (self->expose_row), server);
  /* A shared name serves one exposed service; forwards are for connecting. */
  gtk_widget_set_visible (self->allowed_group, server && !named && !vpn);
  /* The roles speak of services; say what they mean for a VPN. */
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self->role_row),
                               !vpn ? ""
                               : server ? _("Route the VPN’s network to the computers that connect")
                                        : _("Join the other computer’s VPN"));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->peers_row),
                                 server ? _("Keys allowed to connect (npub, several: commas)")
                                        : _("The serving computer’s key (npub)"));
}

static void
show_error (PtProfileEditor *self,
            const char      *message)
{
  gtk_label_set_text (self->error_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
remove_forward (GtkButton       *button,
                PtProfileEditor *self)
{
  for (guint i = 0; i < self->forwards->len; i++)
    {
      PtForwardWidgets *fw = g_ptr_array_index (self->forwards, i);

      if (gtk_widget_is_ancestor (GTK_WIDGET (button), fw->row))
        {
          gtk_list_box_remove (self->forwards_list, fw->row);
          g_ptr_array_remove_index (self->forwards, i);
          return;
        }
    }
}

PtForwardWidgets *
pt_profile_editor_add_forward (PtProfileEditor *self,
                               const char      *source,
                               const char      *target)
{
  PtForwardWidgets *fw = g_new0 (PtForwardWidgets, 1);
  GtkWidget *box, *remove;
  const char * const protos[] = { "TCP", "UDP", NULL };

  box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 6);
  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 6);

  fw->proto = gtk_drop_down_new_from_strings (protos);
  gtk_accessible_update_property (GTK_ACCESSIBLE (fw->proto), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Protocol"), -1);
  gtk_widget_set_valign (fw->proto, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), fw->proto);

  fw->source = gtk_entry_new ();
  gtk_widget_set_hexpand (fw->source, TRUE);
  gtk_entry_set_placeholder_text (GTK_ENTRY (fw->source), _("Service there, e.g. 127.0.0.1:22"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (fw->source), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Service on the other computer (host:port)"), -1);
  gtk_box_append (GTK_BOX (box), fw->source);

  fw->target = gtk_entry_new ();
  gtk_editable_set_width_chars (GTK_EDITABLE (fw->target), 10);
  gtk_entry_set_placeholder_text (GTK_ENTRY (fw->target), _("Local port"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (fw->target), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Local port or address:port to listen on here"), -1);
  gtk_box_append (GTK_BOX (box), fw->target);

  remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
  gtk_widget_add_css_class (remove, "flat");
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (remove, _("Remove this forward"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Remove this forward"), -1);
  g_signal_connect (remove, "clicked", G_CALLBACK (remove_forward), self);
  gtk_box_append (GTK_BOX (box), remove);

  fw->row = gtk_list_box_row_new ();
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (fw->row), FALSE);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (fw->row), box);
  gtk_list_box_append (self->forwards_list, fw->row);

  if (source != NULL)
    {
      const char *rest = source;

      if (g_str_has_prefix (source, "udp://"))
        {
          gtk_drop_down_set_selected (GTK_DROP_DOWN (fw->proto), 1);
          rest = source + strlen ("udp://");
        }
      else if (g_str_has_prefix (source, "tcp://"))
        rest = source + strlen ("tcp://");
      gtk_editable_set_text (GTK_EDITABLE (fw->source), rest);
    }
  if (target != NULL)
    gtk_editable_set_text (GTK_EDITABLE (fw->target), target);

  g_ptr_array_add (self->forwards, fw);
  return fw;
}

static void
on_add_forward (PtProfileEditor *self)
{
  PtForwardWidgets *fw = pt_profile_editor_add_forward (self, NULL, NULL);

  gtk_widget_grab_focus (fw->source);
}

static void
fill_form (PtProfileEditor *self,
           PtProfile       *profile)
{
  g_autofree char *tcp = join_list (pt_profile_get_allowed_tcp (profile));
  g_autofree char *udp = join_list (pt_profile_get_allowed_udp (profile));
  g_autofree char *stun = join_list (pt_profile_get_stun_servers (profile));
  g_autofree char *turn = join_list (pt_profile_get_turn_servers (profile));
  g_autofree char *local = join_list (pt_profile_get_local_addresses (profile));
  const char * const *sources = pt_profile_get_sources (profile);
  const char * const *targets = pt_profile_get_targets (profile);

  gtk_editable_set_text (GTK_EDITABLE (self->name_row), pt_profile_get_name (profile));
  adw_combo_row_set_selected (self->role_row,
                              pt_profile_get_role (profile) == PT_TUNNEL_ROLE_SERVER ? 1 : 0);
  adw_combo_row_set_selected (self->mode_row, pt_profile_get_mode (profile));
  for (guint i = 0; sources[i] != NULL; i++)
    pt_profile_editor_add_forward (self, sources[i], targets[i]);
  gtk_editable_set_text (GTK_EDITABLE (self->allowed_tcp_row), tcp);
  gtk_editable_set_text (GTK_EDITABLE (self->allowed_udp_row), udp);
  gtk_editable_set_text (GTK_EDITABLE (self->stun_row), stun);
  gtk_switch_set_active (self->no_stun_switch, pt_profile_get_no_stun (profile));
  gtk_editable_set_text (GTK_EDITABLE (self->turn_row), turn);
  gtk_editable_set_text (GTK_EDITABLE (self->local_row), local);
  {
    g_autofree char *peers = join_list (pt_profile_get_peers (profile));
    g_autofree char *relays = join_list (pt_profile_get_relays (profile));

    gtk_editable_set_text (GTK_EDITABLE (self->peers_row), peers);
    gtk_editable_set_text (GTK_EDITABLE (self->relays_row), relays);
    gtk_editable_set_text (GTK_EDITABLE (self->token_row),
                           pt_profile_get_token (profile) ? pt_profile_get_token (profile) : "");
    gtk_switch_set_active (self->any_peer_switch, pt_profile_get_any_peer (profile));
    gtk_editable_set_text (GTK_EDITABLE (self->shared_name_row),
                           pt_profile_get_shared_name (profile) ? pt_profile_get_shared_name (profile) : "");
    gtk_editable_set_text (GTK_EDITABLE (self->expose_row),
                           pt_profile_get_expose (profile) ? pt_profile_get_expose (profile) : "");
    {
      g_autofree char *dns = join_list (pt_profile_get_vpn_dns (profile));
      g_autofree char *routes = join_list (pt_profile_get_vpn_routes (profile));
      g_autofree char *mtu = pt_profile_get_vpn_mtu (profile)
        ? g_strdup_printf ("%u", pt_profile_get_vpn_mtu (profile)) : g_strdup ("");
      const char *network = pt_profile_get_vpn_network (profile);
      const char *network6 = pt_profile_get_vpn_network6 (profile);

      gtk_editable_set_text (GTK_EDITABLE (self->vpn_network_row), network ? network : "");
      gtk_editable_set_text (GTK_EDITABLE (self->vpn_network6_row), network6 ? network6 : "");
      gtk_editable_set_text (GTK_EDITABLE (self->vpn_mtu_row), mtu);
      gtk_editable_set_text (GTK_EDITABLE (self->vpn_dns_row), dns);
      gtk_editable_set_text (GTK_EDITABLE (self->vpn_routes_row), routes);
      gtk_check_button_set_active (self->vpn_ipv6_check, pt_profile_get_vpn_ipv6 (profile));
    }
    if (pt_profile_get_mode (profile) == PT_PROFILE_MODE_NAME)
      {
        gtk_editable_set_text (GTK_EDITABLE (self->named_relays_row), relays);
        gtk_editable_set_text (GTK_EDITABLE (self->relays_row), "");
      }
  }
}

static PtProfile *
read_form (PtProfileEditor  *self,
           GError          **error)
{
  g_autoptr(PtProfile) draft = pt_profile_new ();
  g_autoptr(GStrvBuilder) sources = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) targets = g_strv_builder_new ();
  g_auto(GStrv) source_list = NULL;
  g_auto(GStrv) target_list = NULL;
  g_auto(GStrv) tcp = split_list (gtk_editable_get_text (GTK_EDITABLE (self->allowed_tcp_row)));
  g_auto(GStrv) udp = split_list (gtk_editable_get_text (GTK_EDITABLE (self->allowed_udp_row)));
  g_auto(GStrv) stun = split_list (gtk_editable_get_text (GTK_EDITABLE (self->stun_row)));
  g_auto(GStrv) turn = split_list (gtk_editable_get_text (GTK_EDITABLE (self->turn_row)));
  g_auto(GStrv) local = split_list (gtk_editable_get_text (GTK_EDITABLE (self->local_row)));
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  gboolean server = adw_combo_row_get_selected (self->role_row) == 1;
  gboolean vpn = adw_combo_row_get_selected (self->mode_row) == PT_PROFILE_MODE_VPN;

  if (name[0] == '\0')
    {
      g_set_error_literal (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                           _("Give the tunnel a name"));
      return NULL;
    }
  pt_profile_set_name (draft, name);
  pt_profile_set_role (draft, server ? PT_TUNNEL_ROLE_SERVER : PT_TUNNEL_ROLE_CLIENT);
  pt_profile_set_mode (draft, adw_combo_row_get_selected (self->mode_row));

  for (guint i = 0; !server && !vpn && i < self->forwards->len; i++)
    {
      PtForwardWidgets *fw = g_ptr_array_index (self->forwards, i);
      g_autofree char *source = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (fw->source))));
      g_autofree char *target = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (fw->target))));
      const char *scheme = gtk_drop_down_get_selected (GTK_DROP_DOWN (fw->proto)) == 1 ? "udp" : "tcp";

      if (source[0] == '\0' && target[0] == '\0')
        continue;
      if (source[0] == '\0' || target[0] == '\0')
        {
          g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                       _("Forward %u: give both the service on the other computer and the local port"),
                       i + 1);
          return NULL;
        }
      {
        g_autofree char *uri = g_strdup_printf ("%s://%s", scheme, source);

        g_strv_builder_add (sources, uri);
      }
      g_strv_builder_add (targets, target);
    }
  source_list = g_strv_builder_end (sources);
  target_list = g_strv_builder_end (targets);
  pt_profile_set_forwards (draft, (const char * const *) source_list,
                           (const char * const *) target_list);
  pt_profile_set_allowed (draft, (const char * const *) tcp, (const char * const *) udp);
  pt_profile_set_ice (draft, (const char * const *) stun, (const char * const *) turn,
                      (const char * const *) local, gtk_switch_get_active (self->no_stun_switch));

  {
    g_auto(GStrv) peers = split_list (gtk_editable_get_text (GTK_EDITABLE (self->peers_row)));
    g_auto(GStrv) relays = split_list (gtk_editable_get_text (GTK_EDITABLE (self->relays_row)));

    g_autofree char *token = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->token_row))));

    g_auto(GStrv) named_relays = split_list (gtk_editable_get_text (GTK_EDITABLE (self->named_relays_row)));
    g_autofree char *shared = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->shared_name_row)));
    g_autofree char *expose = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->expose_row))));
    gboolean named = adw_combo_row_get_selected (self->mode_row) == PT_PROFILE_MODE_NAME;

    pt_profile_set_nostr (draft, (const char * const *) (named ? named_relays : relays),
                          (const char * const *) peers);
    pt_profile_set_shared_name (draft, named ? shared : NULL);
    pt_profile_set_expose (draft, named && server ? expose : NULL);
    memset (shared, 0, strlen (shared));
    pt_profile_set_token (draft, token);
    pt_profile_set_any_peer (draft, gtk_switch_get_active (self->any_peer_switch));
    memset (token, 0, strlen (token));
  }

  if (vpn)
    {
      g_autofree char *network = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->vpn_network_row))));
      g_autofree char *network6 = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->vpn_network6_row))));
      g_autofree char *mtu_text = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->vpn_mtu_row))));
      g_auto(GStrv) dns = split_list (gtk_editable_get_text (GTK_EDITABLE (self->vpn_dns_row)));
      g_auto(GStrv) routes = split_list (gtk_editable_get_text (GTK_EDITABLE (self->vpn_routes_row)));
      guint64 mtu = 0;

      if (server && mtu_text[0] != '\0' &&
          !g_ascii_string_to_unsigned (mtu_text, 10, 0, 65535, &mtu, NULL))
        {
          g_set_error (error, PT_PROFILE_ERROR, PT_PROFILE_ERROR_INVALID,
                       _("MTU “%s”: give a number of bytes, %u to %u"), mtu_text,
                       PT_VPN_MTU_MIN_IPV4, PT_VPN_MTU_MAX);
          return NULL;
        }
      if (server)
        pt_profile_set_vpn (draft, network, network6, (guint) mtu, (const char * const *) dns,
                            NULL, FALSE);
      else
        pt_profile_set_vpn (draft, NULL, NULL, 0, NULL, (const char * const *) routes,
                            gtk_check_button_get_active (self->vpn_ipv6_check));
    }

  if (!pt_profile_validate (draft, error))
    return NULL;
  return g_steal_pointer (&draft);
}

PtProfile *
pt_profile_editor_save (PtProfileEditor  *self,
                        GError          **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(PtProfile) draft = read_form (self, &local_error);

  if (draft == NULL)
    {
      show_error (self, local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  show_error (self, NULL);

  if (self->profile != NULL)
    {
      pt_profile_assign (self->profile, draft);
      return self->profile;
    }
  self->profile = g_object_ref (draft);
  pt_profile_store_add (self->store, draft);
  return self->profile;
}

static void
on_save (PtProfileEditor *self)
{
  if (pt_profile_editor_save (self, NULL) != NULL)
    gtk_window_close (GTK_WINDOW (self));
}

static void
on_generate_token (PtProfileEditor *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PtSecretString) token = pt_token_generate (&error);

  if (token == NULL)
    {
      show_error (self, error->message);
      return;
    }
  gtk_editable_set_text (GTK_EDITABLE (self->token_row), token);
}

static void
pt_profile_editor_dispose (GObject *object)
{
  PtProfileEditor *self = PT_PROFILE_EDITOR (object);

  g_clear_pointer (&self->forwards, g_ptr_array_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->profile);
  gtk_widget_dispose_template (GTK_WIDGET (object), PT_TYPE_PROFILE_EDITOR);
  G_OBJECT_CLASS (pt_profile_editor_parent_class)->dispose (object);
}

static void
pt_profile_editor_class_init (PtProfileEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_profile_editor_dispose;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/peertunnel/PeerTunnel/pt-profile-editor.ui");
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, name_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, role_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, mode_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, forwards_group);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, forwards_list);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, allowed_group);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, allowed_tcp_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, allowed_udp_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, stun_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, no_stun_switch);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, turn_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, local_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, nostr_group);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, peers_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, relays_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, token_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, any_peer_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, any_peer_switch);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, named_group);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, shared_name_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, expose_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, named_relays_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_group);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_network_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_network6_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_mtu_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_dns_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_routes_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_ipv6_row);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, vpn_ipv6_check);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, error_label);
  gtk_widget_class_bind_template_child (widget_class, PtProfileEditor, save_button);
  gtk_widget_class_bind_template_callback (widget_class, update_role);
  gtk_widget_class_bind_template_callback (widget_class, on_add_forward);
  gtk_widget_class_bind_template_callback (widget_class, on_generate_token);
  gtk_widget_class_bind_template_callback (widget_class, on_save);
}

/* The mode list in a Flatpak: each choice a label (a check mark on the
 * chosen one), and the VPN one greyed out with the reason below it, and not
 * activatable (so not selectable). */
static void
mode_item_setup (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *label = gtk_label_new (NULL);
  GtkWidget *reason = gtk_label_new (NULL);
  GtkWidget *check = gtk_image_new_from_icon_name ("object-select-symbolic");

  gtk_widget_set_hexpand (box, TRUE);
  gtk_box_append (GTK_BOX (row), box);
  gtk_box_append (GTK_BOX (row), check);
  g_object_bind_property (item, "selected", check, "visible", G_BINDING_SYNC_CREATE);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_xalign (GTK_LABEL (reason), 0);
  gtk_label_set_wrap (GTK_LABEL (reason), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (reason), 40);
  gtk_widget_add_css_class (reason, "caption");
  gtk_widget_add_css_class (reason, "dim-label");
  gtk_box_append (GTK_BOX (box), label);
  gtk_box_append (GTK_BOX (box), reason);
  gtk_list_item_set_child (item, row);
}

static void
mode_item_bind (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  GtkWidget *box = gtk_widget_get_first_child (gtk_list_item_get_child (item));
  GtkWidget *label = gtk_widget_get_first_child (box);
  GtkWidget *reason = gtk_widget_get_next_sibling (label);
  GtkStringObject *text = gtk_list_item_get_item (item);
  gboolean vpn = gtk_list_item_get_position (item) == PT_PROFILE_MODE_VPN;

  gtk_label_set_text (GTK_LABEL (label), gtk_string_object_get_string (text));
  gtk_label_set_text (GTK_LABEL (reason), vpn ? pt_sandbox_vpn_explanation () : "");
  gtk_widget_set_visible (reason, vpn);
  gtk_widget_set_sensitive (label, !vpn);
  gtk_list_item_set_activatable (item, !vpn);
  gtk_list_item_set_selectable (item, !vpn);
}

static void
pt_profile_editor_init (PtProfileEditor *self)
{
  self->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) forward_widgets_free);
  gtk_widget_init_template (GTK_WIDGET (self));

  /* An existing VPN profile can still be edited in a Flatpak; the VPN
   * choice says why it cannot be picked, the group why it will not start. */
  if (pt_sandbox_is_flatpak ())
    {
      g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

      g_signal_connect (factory, "setup", G_CALLBACK (mode_item_setup), NULL);
      g_signal_connect (factory, "bind", G_CALLBACK (mode_item_bind), NULL);
      adw_combo_row_set_list_factory (self->mode_row, factory);
      adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (self->vpn_group),
                                             pt_sandbox_vpn_explanation ());
    }
  update_role (self);
}

PtProfileEditor *
pt_profile_editor_new (GtkWindow      *parent,
                       PtProfileStore *store,
                       PtProfile      *profile)
{
  PtProfileEditor *self = g_object_new (PT_TYPE_PROFILE_EDITOR,
                                        "transient-for", parent,
                                        "title", profile ? _("Edit Tunnel") : _("New Tunnel"),
                                        NULL);

  self->store = g_object_ref (store);
  if (profile != NULL)
    {
      self->profile = g_object_ref (profile);
      fill_form (self, profile);
    }
  else
    {
      pt_profile_editor_add_forward (self, NULL, NULL);
      gtk_editable_set_text (GTK_EDITABLE (self->allowed_tcp_row), "127.0.0.1/32");
    }
  return self;
}
