/* pt-vpn-limits.h — the VPN's MTU range, in one place
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Plain C with no includes: the TUN helper checks a request against these
 * as its last line, the engine checks VPN_CONFIG frames and its own
 * devices, and the CLI and the app check what the user typed, all with the
 * same numbers. The engine's public header (pt-tun.h) includes this one.
 */
#pragma once

/* Every IPv4 host must accept a 576-byte datagram (RFC 791). */
#define PT_VPN_MTU_MIN_IPV4 576
/* IPv6's minimum link MTU (RFC 8200): a device with an IPv6 address. */
#define PT_VPN_MTU_MIN_IPV6 1280
/* Jumbo frames; larger buys nothing over one QUIC path. */
#define PT_VPN_MTU_MAX      9000
