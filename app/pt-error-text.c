/* pt-error-text.c — the engine's errors in the app's words
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "peertunnel"

#include "config.h"

#include <glib/gi18n.h>

#include "pt.h"
#include "pt-error-text.h"

/* The app's text for @error, or NULL when the engine's own is to be shown;
 * *@detail says whether the engine's message follows in parentheses. */
static const char *
app_text (const GError *error,
          gboolean     *detail)
{
  *detail = FALSE;
  if (error->domain == PT_ICE_ERROR)
    switch ((PtIceError) error->code)
      {
      case PT_ICE_ERROR_BAD_SERVER:
        *detail = TRUE;
        return _("A STUN or TURN server of this tunnel cannot be used: check the tunnel’s settings");
      case PT_ICE_ERROR_BAD_ADDRESS:
        *detail = TRUE;
        return _("A local address of this tunnel is not an IP address: check the tunnel’s settings");
      case PT_ICE_ERROR_GATHERING:
        return _("This computer has no network address to connect from");
      case PT_ICE_ERROR_FAILED:
        return _("No way through to the other computer was found; a TURN server in the tunnel’s "
                 "settings can help");
      case PT_ICE_ERROR_REMOTE:
        return _("The other computer’s network addresses cannot be used");
      }
  if (error->domain == PT_QUIC_ERROR)
    switch ((PtQuicError) error->code)
      {
      case PT_QUIC_ERROR_PEER_CERTIFICATE:
        return _("The other computer is not the one you paired with: its identity does not match");
      case PT_QUIC_ERROR_TLS:
      case PT_QUIC_ERROR_HANDSHAKE:
        return _("The secure connection with the other computer could not be made");
      case PT_QUIC_ERROR_IDLE_TIMEOUT:
        return _("The other computer stopped answering");
      case PT_QUIC_ERROR_PEER_CLOSED:
        return _("The other computer closed the connection");
      case PT_QUIC_ERROR_PROTOCOL:
      case PT_QUIC_ERROR_INTERNAL:
        return _("The connection broke down; the other computer may run an incompatible "
                 "version of PeerTunnel");
      }
  if (error->domain == PT_TUNNEL_ERROR)
    switch ((PtTunnelError) error->code)
      {
      case PT_TUNNEL_ERROR_REJECTED:
        *detail = TRUE;
        return _("The other computer does not allow what this tunnel asks for");
      case PT_TUNNEL_ERROR_PROTOCOL:
        return _("The other computer broke the tunnel’s rules; it may run an incompatible "
                 "version of PeerTunnel");
      case PT_TUNNEL_ERROR_LISTEN:
        *detail = TRUE;
        return _("A local port of this tunnel cannot be opened");
      case PT_TUNNEL_ERROR_CLOSED:
        return _("The other computer closed the tunnel");
      case PT_TUNNEL_ERROR_BUSY:
        return _("This computer runs as many connections as it can; stop another tunnel first");
      case PT_TUNNEL_ERROR_INVALID:
        return NULL;
      }
  if (error->domain == PT_NOSTR_ERROR)
    switch ((PtNostrError) error->code)
      {
      case PT_NOSTR_ERROR_REFUSED:
        *detail = TRUE;
        return _("The other computer refused this tunnel");
      case PT_NOSTR_ERROR_TIMEOUT:
        return _("The other computer did not answer through the Nostr relays; is it on?");
      case PT_NOSTR_ERROR_NO_RELAY:
        return _("None of the Nostr relays can be reached");
      case PT_NOSTR_ERROR_RELAY_URL:
        *detail = TRUE;
        return _("A Nostr relay’s address cannot be used: check the tunnel’s settings");
      case PT_NOSTR_ERROR_NAME:
        return _("The shared name is too easy to guess: choose a longer one");
      case PT_NOSTR_ERROR_KEY:
        return _("The other computer’s key cannot be used");
      case PT_NOSTR_ERROR_MALFORMED:
      case PT_NOSTR_ERROR_BAD_ID:
      case PT_NOSTR_ERROR_BAD_SIGNATURE:
      case PT_NOSTR_ERROR_TOO_LARGE:
      case PT_NOSTR_ERROR_VERSION:
      case PT_NOSTR_ERROR_DECRYPT:
      case PT_NOSTR_ERROR_STALE:
      case PT_NOSTR_ERROR_FUTURE:
        return _("A message from the Nostr relays could not be used");
      }
  if (error->domain == PT_SIGNAL_ERROR)
    switch ((PtSignalError) error->code)
      {
      case PT_SIGNAL_ERROR_NO_BLOCK:
        return _("No PeerTunnel block was found: paste the whole block the other computer shows");
      case PT_SIGNAL_ERROR_BAD_ARMOR:
      case PT_SIGNAL_ERROR_CORRUPT:
      case PT_SIGNAL_ERROR_TRUNCATED:
      case PT_SIGNAL_ERROR_MALFORMED:
        return _("This block is damaged or incomplete: copy it again, whole");
      case PT_SIGNAL_ERROR_WRONG_KIND:
        return _("This is not the block expected here: the offer goes to the serving computer, "
                 "its answer back to the connecting one");
      case PT_SIGNAL_ERROR_VERSION:
        return _("This block was made by an incompatible version of PeerTunnel");
      case PT_SIGNAL_ERROR_STALE:
        return _("This block is too old: ask the other computer for a new one");
      case PT_SIGNAL_ERROR_FUTURE:
        return _("This block is dated in the future: check that both computers’ clocks are right");
      case PT_SIGNAL_ERROR_TOO_LARGE:
        return _("This block is larger than PeerTunnel accepts");
      case PT_SIGNAL_ERROR_SESSION:
        return _("This answer belongs to another offer: give the other computer the offer shown "
                 "here");
      }
  if (error->domain == PT_KEY_ERROR)
    switch ((PtKeyError) error->code)
      {
      case PT_KEY_ERROR_INVALID:
        return _("This is not a key: paste an nsec1… secret key");
      case PT_KEY_ERROR_WRONG_KIND:
        return _("This is a public key (npub): paste the secret key (nsec1…) instead");
      case PT_KEY_ERROR_CHECKSUM:
        return _("This key is mistyped: its checksum does not match");
      case PT_KEY_ERROR_PERMISSIONS:
      case PT_KEY_ERROR_EXISTS:
      case PT_KEY_ERROR_IO:
        *detail = TRUE;
        return _("The key file cannot be used");
      case PT_KEY_ERROR_RANDOM:
        return _("This computer’s random number generator failed; try again");
      }
  if (error->domain == PT_ADMISSION_ERROR)
    switch ((PtAdmissionError) error->code)
      {
      case PT_ADMISSION_ERROR_REPLAYED:
      case PT_ADMISSION_ERROR_TOO_OLD:
        return _("This offer was answered already: ask the other computer for a new one");
      case PT_ADMISSION_ERROR_STALE:
        return _("This offer is too old, or dated in the future: ask the other computer for a "
                 "new one, and check that both clocks are right");
      case PT_ADMISSION_ERROR_BUSY:
        return _("This tunnel serves as many computers as it allows: try again once one has left");
      case PT_ADMISSION_ERROR_PENDING:
        return _("Too many computers were answered and have not connected yet: try again in a "
                 "minute");
      case PT_ADMISSION_ERROR_UNAUTHORIZED:
        return _("This computer’s key is not among the ones this tunnel allows");
      case PT_ADMISSION_ERROR_NO_TOKEN:
      case PT_ADMISSION_ERROR_BAD_TOKEN:
        return _("This tunnel needs a valid token");
      }
  /* PT_PROFILE_ERROR and PT_TUN_ERROR as the service gives them are the
   * app's words already; the rest is the system's. */
  return NULL;
}

char *
pt_describe_error (const GError *error)
{
  gboolean detail;
  const char *text;

  if (error == NULL)
    return g_strdup (_("unknown reason"));
  text = app_text (error, &detail);
  if (text == NULL)
    return g_strdup (error->message);
  if (detail)
    /* Translators: an explanation, then the engine's specifics, e.g. "… (tcp://10.0.0.5:22)" */
    return g_strdup_printf (_("%s (%s)"), text, error->message);
  return g_strdup (text);
}
