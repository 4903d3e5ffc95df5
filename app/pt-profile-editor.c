/* pt-profile-editor.c — create or edit a tunnel's settings
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The form fills a draft profile that pt_profile_validate() checks, so the
 * editor refuses exactly what the engine would refuse, and says why inline.
 * Inside a Flatpak the VPN choice is there but cannot be picked, and says
 * why (pt-sandbox.h).
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
  G_OBJECT_CLASS (pt_profile_editor_parent_class)->dispose (object);
}

static void
pt_profile_editor_class_init (PtProfileEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = pt_profile_editor_dispose;
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static AdwPreferencesGroup *
add_group (GtkWidget  *page,
           const char *title,
           const char *description)
{
  GtkWidget *group = adw_preferences_group_new ();

  adw_preferences_group_set_title (ADW_PREFERENCES_GROUP (group), title);
  if (description)
    adw_preferences_group_set_description (ADW_PREFERENCES_GROUP (group), description);
  adw_preferences_page_add (ADW_PREFERENCES_PAGE (page), ADW_PREFERENCES_GROUP (group));
  return ADW_PREFERENCES_GROUP (group);
}

static AdwEntryRow *
add_entry (AdwPreferencesGroup *group,
           const char          *title,
           gboolean             password)
{
  GtkWidget *row = password ? adw_password_entry_row_new () : adw_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  adw_preferences_group_add (group, row);
  return ADW_ENTRY_ROW (row);
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
  GtkWidget *toolbar, *header, *cancel, *page, *row, *add;
  AdwPreferencesGroup *group;
  const char * const roles[] = { N_("Connect to a service on the other computer"),
                                 N_("Serve services of this computer"), NULL };
  const char * const modes[] = { N_("Manual pairing (QR code or text)"),
                                 N_("Nostr relays (by key, automatic)"),
                                 N_("Shared name (like pt tcp / pt bind)"),
                                 N_("VPN: whole networks (Nostr relays)"), NULL };
  g_autoptr(GtkStringList) role_list = gtk_string_list_new (NULL);
  g_autoptr(GtkStringList) mode_list = gtk_string_list_new (NULL);

  self->forwards = g_ptr_array_new_with_free_func ((GDestroyNotify) forward_widgets_free);

  gtk_window_set_default_size (GTK_WINDOW (self), 560, 640);
  gtk_window_set_modal (GTK_WINDOW (self), TRUE);
  gtk_window_set_destroy_with_parent (GTK_WINDOW (self), TRUE);

  toolbar = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  header = adw_header_bar_new ();
  adw_header_bar_set_show_end_title_buttons (ADW_HEADER_BAR (header), FALSE);
  adw_header_bar_set_show_start_title_buttons (ADW_HEADER_BAR (header), FALSE);
  cancel = gtk_button_new_with_mnemonic (_("_Cancel"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "window.close");
  adw_header_bar_pack_start (ADW_HEADER_BAR (header), cancel);
  self->save_button = gtk_button_new_with_mnemonic (_("_Save"));
  gtk_widget_add_css_class (self->save_button, "suggested-action");
  g_signal_connect_swapped (self->save_button, "clicked", G_CALLBACK (on_save), self);
  adw_header_bar_pack_end (ADW_HEADER_BAR (header), self->save_button);
  gtk_box_append (GTK_BOX (toolbar), header);

  page = adw_preferences_page_new ();
  gtk_widget_set_vexpand (page, TRUE);
  gtk_box_append (GTK_BOX (toolbar), page);

  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), FALSE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->error_label),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Problem"), -1);
  group = add_group (page, NULL, NULL);
  adw_preferences_group_add (group, GTK_WIDGET (self->error_label));

  group = add_group (page, _("Tunnel"), NULL);
  self->name_row = add_entry (group, _("Name"), FALSE);

  for (guint i = 0; roles[i]; i++)
    gtk_string_list_append (role_list, _(roles[i]));
  row = adw_combo_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Role"));
  adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (role_list));
  adw_preferences_group_add (group, row);
  self->role_row = ADW_COMBO_ROW (row);
  g_signal_connect_swapped (row, "notify::selected", G_CALLBACK (update_role), self);

  for (guint i = 0; modes[i]; i++)
    gtk_string_list_append (mode_list, _(modes[i]));
  row = adw_combo_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Pairing"));
  adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (mode_list));
  adw_preferences_group_add (group, row);
  self->mode_row = ADW_COMBO_ROW (row);
  g_signal_connect_swapped (row, "notify::selected", G_CALLBACK (update_role), self);
  if (pt_sandbox_is_flatpak ())
    {
      g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

      g_signal_connect (factory, "setup", G_CALLBACK (mode_item_setup), NULL);
      g_signal_connect (factory, "bind", G_CALLBACK (mode_item_bind), NULL);
      adw_combo_row_set_list_factory (ADW_COMBO_ROW (row), factory);
    }

  group = add_group (page, _("Nostr"),
                     _("The two computers find each other through public Nostr relays, "
                       "end to end encrypted, by their keys (Preferences shows this "
                       "computer’s). No pairing by hand, and the tunnel comes back by itself."));
  self->nostr_group = GTK_WIDGET (group);
  self->peers_row = add_entry (group, _("The serving computer’s key (npub)"), FALSE);
  self->relays_row = add_entry (group, _("Relays (empty: public defaults)"), FALSE);
  self->token_row = add_entry (group, _("Access token (optional)"), TRUE);
  {
    GtkWidget *generate = gtk_button_new_from_icon_name ("view-refresh-symbolic");

    gtk_widget_set_valign (generate, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class (generate, "flat");
    gtk_widget_set_tooltip_text (generate, _("Make a new token"));
    gtk_accessible_update_property (GTK_ACCESSIBLE (generate), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                    _("Make a new token"), -1);
    g_signal_connect_swapped (generate, "clicked", G_CALLBACK (on_generate_token), self);
    adw_entry_row_add_suffix (self->token_row, generate);
  }
  row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("Any Computer With the Token"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Let in any key that presents the token"));
  self->any_peer_switch = GTK_SWITCH (gtk_switch_new ());
  gtk_widget_set_valign (GTK_WIDGET (self->any_peer_switch), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->any_peer_switch),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Any computer with the token"), -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), GTK_WIDGET (self->any_peer_switch));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), GTK_WIDGET (self->any_peer_switch));
  adw_preferences_group_add (group, row);
  self->any_peer_row = row;

  group = add_group (page, _("Shared Name"),
                     _("Both computers know one name; keys and token are derived from it, "
                       "so anyone who knows or guesses the name gets in. Use a long one."));
  self->named_group = GTK_WIDGET (group);
  self->shared_name_row = add_entry (group, _("Shared name"), TRUE);
  self->expose_row = add_entry (group, _("Service to expose (tcp://127.0.0.1:22)"), FALSE);
  self->named_relays_row = add_entry (group, _("Relays (empty: public defaults)"), FALSE);

  /* An existing VPN profile can still be edited in a Flatpak; it says why
   * it will not start. */
  group = add_group (page, _("VPN"),
                     pt_sandbox_is_flatpak ()
                     ? pt_sandbox_vpn_explanation ()
                     : _("Routes whole networks between the computers through a network device. "
                         "Creating the device needs an administrator’s authorization once each "
                         "time the tunnel starts. Separate several items with commas."));
  self->vpn_group = GTK_WIDGET (group);
  self->vpn_network_row = add_entry (group, _("Network (private, e.g. 10.77.0.0/24)"), FALSE);
  self->vpn_network6_row = add_entry (group, _("IPv6 network (optional, e.g. fd00:77::/64)"), FALSE);
  self->vpn_mtu_row = add_entry (group, _("MTU in bytes (empty: 1400)"), FALSE);
  gtk_editable_set_width_chars (GTK_EDITABLE (self->vpn_mtu_row), 6);
  self->vpn_dns_row = add_entry (group, _("DNS servers for the clients (optional)"), FALSE);
  self->vpn_routes_row = add_entry (group, _("More networks through the VPN (optional, e.g. 10.78.0.0/16)"),
                                    FALSE);
  row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("IPv6"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Ask the server for an IPv6 address as well"));
  self->vpn_ipv6_check = GTK_CHECK_BUTTON (gtk_check_button_new ());
  gtk_widget_set_valign (GTK_WIDGET (self->vpn_ipv6_check), GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->vpn_ipv6_check),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Ask for an IPv6 address as well"), -1);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), GTK_WIDGET (self->vpn_ipv6_check));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), GTK_WIDGET (self->vpn_ipv6_check));
  adw_preferences_group_add (group, row);
  self->vpn_ipv6_row = row;

  group = add_group (page, _("Forwards"),
                     _("Each forward listens on a port of this computer and carries what "
                       "arrives to a service as the other computer sees it."));
  self->forwards_group = GTK_WIDGET (group);
  add = gtk_button_new_from_icon_name ("list-add-symbolic");
  gtk_widget_add_css_class (add, "flat");
  gtk_widget_set_tooltip_text (add, _("Add a forward"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (add), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Add a forward"), -1);
  g_signal_connect_swapped (add, "clicked", G_CALLBACK (on_add_forward), self);
  adw_preferences_group_set_header_suffix (group, add);
  self->forwards_list = GTK_LIST_BOX (gtk_list_box_new ());
  gtk_list_box_set_selection_mode (self->forwards_list, GTK_SELECTION_NONE);
  gtk_widget_add_css_class (GTK_WIDGET (self->forwards_list), "boxed-list");
  adw_preferences_group_add (group, GTK_WIDGET (self->forwards_list));

  group = add_group (page, _("Allowed Services"),
                     _("The other computer may reach only these addresses and ports, "
                       "e.g. 127.0.0.1:22 for this computer’s SSH server alone, "
                       "192.168.1.0/24:5432 or 10.0.0.5:8000-8099 (IPv6: [::1]:22). "
                       "Without a port every port is open. Empty allows nothing."));
  self->allowed_group = GTK_WIDGET (group);
  self->allowed_tcp_row = add_entry (group, _("TCP services"), FALSE);
  self->allowed_udp_row = add_entry (group, _("UDP services"), FALSE);

  group = add_group (page, _("Connectivity"),
                     _("STUN finds this computer’s public address; a TURN server relays "
                       "when no direct path exists. Separate several with commas."));
  self->stun_row = add_entry (group, _("STUN servers (empty: public defaults)"), FALSE);
  row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No STUN"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Use no STUN server at all (same network only)"));
  self->no_stun_switch = GTK_SWITCH (gtk_switch_new ());
  gtk_widget_set_valign (GTK_WIDGET (self->no_stun_switch), GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), GTK_WIDGET (self->no_stun_switch));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), GTK_WIDGET (self->no_stun_switch));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->no_stun_switch),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("No STUN"), -1);
  adw_preferences_group_add (group, row);
  self->turn_row = add_entry (group, _("TURN servers (turn://user:password@host)"), TRUE);
  self->local_row = add_entry (group, _("Use only these local addresses (optional)"), FALSE);

  adw_window_set_content (ADW_WINDOW (self), toolbar);
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
