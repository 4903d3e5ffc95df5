/* pt-vpn-limits.h — the VPN's MTU range, prefixes and private ranges, in one place
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

/* A VPN network's prefix length: IPv4 /8 to /30 (a /30 still holds two
 * hosts besides its network and broadcast addresses), IPv6 /64 to /126. */
#define PT_VPN_PREFIX_MIN_IPV4 8
#define PT_VPN_PREFIX_MAX_IPV4 30
#define PT_VPN_PREFIX_MIN_IPV6 64
#define PT_VPN_PREFIX_MAX_IPV6 126

/* Where a VPN may put its networks and routes: RFC 1918, the RFC 6598 shared
 * (CGNAT) space and RFC 4193 unique local addresses, as initializers of a
 * string array. pt-tun-request.c holds the same ranges as bytes for its
 * last-line check (tests/helper compares the two). */
#define PT_VPN_PRIVATE_RANGES_IPV4 "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"
#define PT_VPN_PRIVATE_RANGES_IPV6 "fc00::/7"
