#!/usr/bin/env python3
"""The TUN helper run as root over a socketpair, in a private network namespace.

    test_tun_helper.py HELPER [unittest arguments]

The whole test process moves into a fresh network namespace first (unshare(2),
CLONE_NEWNET), so the devices and routes it makes never touch the machine's own;
the helper and `ip` inherit it. Needs root and /dev/net/tun: otherwise it prints
"SKIP: reason" and exits 77.

What it checks: the reply and the fd (SCM_RIGHTS) that come back; the device, its
addresses, MTU and routes as `ip -j` shows them; IPv4 and IPv6 UDP packets sent to
the VPN network and to the extra routes come out of the returned fd as the expected
IP packets; the device goes away with the fd; and refusals and failures reply with
the field and leave no device behind. A request whose network or route overlaps a
route or address the namespace already has (a "LAN" on a veth, an address on lo) is
refused by the helper itself, naming both and the device, with nothing made, unless
it says allow-overlap=1.
"""
import ctypes
import fcntl
import ipaddress
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
import unittest

CLONE_NEWNET = 0x40000000
TUNGETIFF = 0x800454D2
HELPER = None
STEP_TIMEOUT = 20


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def enter_private_netns():
    if os.geteuid() != 0:
        skip("needs root (creates a TUN device in a private network namespace)")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun does not exist")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        skip(f"unshare(CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}")
    ip("link", "set", "lo", "up")


def ip(*args, check=True):
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=STEP_TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def ip_json(*args):
    out = ip("-j", *args).stdout
    return json.loads(out) if out.strip() else []


def link_exists(name):
    return ip("link", "show", "dev", name, check=False).returncode == 0


def parse_reply(data):
    lines = data.decode("ascii").split("\n")
    assert lines[-1] == "", f"reply does not end with a newline: {data!r}"
    reply = dict(line.split("=", 1) for line in lines[:-1])
    assert reply.pop("version") == "1", data
    return reply


def run_helper(request, args=(), send_fds=()):
    """Runs the helper with one end of a socketpair as stdin; sends @request
    (bytes, or None to send nothing and hang up), with @send_fds attached. Returns
    (exit code, reply dict or None, fd or None, stderr)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours:
        proc = subprocess.Popen([HELPER, *args], stdin=theirs, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, close_fds=True)
        theirs.close()
        try:
            if request is None:
                ours.shutdown(socket.SHUT_WR)
            elif send_fds:
                socket.send_fds(ours, [request], list(send_fds))
            else:
                ours.send(request)
            ours.settimeout(STEP_TIMEOUT)
            try:
                msg, fds, _flags, _addr = socket.recv_fds(ours, 8192, 4)
            except (ConnectionResetError, socket.timeout):
                msg, fds = b"", []
            _, err = proc.communicate(timeout=STEP_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert len(fds) <= 1, f"more than one fd came back: {fds}"
    reply = parse_reply(msg) if msg else None
    return proc.returncode, reply, (fds[0] if fds else None), err.decode(errors="replace")


def request_text(ifname, mtu, *lines):
    return ("version=1\n" f"ifname={ifname}\n" f"mtu={mtu}\n"
            + "".join(line + "\n" for line in lines)).encode()


def read_packet(fd, want, deadline_s=5.0):
    """Reads packets from the TUN fd until want(packet) is true; returns it.
    Other packets (IPv6 router solicitations, MLD reports) are skipped."""
    deadline = time.monotonic() + deadline_s
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching packet within {deadline_s} s; saw {seen!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        packet = os.read(fd, 65536)
        if want(packet):
            return packet
        seen.append(packet[:48].hex())


def udp4_matcher(src, dst, port, payload):
    def want(p):
        if len(p) < 28 or p[0] >> 4 != 4 or p[9] != 17:
            return False
        ihl = (p[0] & 0x0F) * 4
        total = struct.unpack("!H", p[2:4])[0]
        sport, dport, ulen = struct.unpack("!HHH", p[ihl:ihl + 6])
        return (total == len(p)
                and ipaddress.ip_address(p[12:16]) == ipaddress.ip_address(src)
                and ipaddress.ip_address(p[16:20]) == ipaddress.ip_address(dst)
                and dport == port and ulen == 8 + len(payload)
                and p[ihl + 8:] == payload)
    return want


def udp6_matcher(src, dst, port, payload):
    def want(p):
        if len(p) < 48 or p[0] >> 4 != 6 or p[6] != 17:
            return False
        plen = struct.unpack("!H", p[4:6])[0]
        sport, dport, ulen = struct.unpack("!HHH", p[40:46])
        return (plen + 40 == len(p)
                and ipaddress.ip_address(p[8:24]) == ipaddress.ip_address(src)
                and ipaddress.ip_address(p[24:40]) == ipaddress.ip_address(dst)
                and dport == port and ulen == 8 + len(payload)
                and p[48:] == payload)
    return want


def tun_name(fd):
    ifr = fcntl.ioctl(fd, TUNGETIFF, b"\0" * 40)
    name = ifr[:16].split(b"\0", 1)[0].decode()
    flags = struct.unpack("H", ifr[16:18])[0]
    return name, flags


class TunHelperTest(unittest.TestCase):
    def tearDown(self):
        for name in ("pt7", "pt8", "ptvpn9"):
            if link_exists(name):
                ip("link", "del", name, check=False)

    def test_device_addresses_routes_and_packets(self):
        rc, reply, fd, err = run_helper(request_text(
            "pt7", 1400,
            "address=10.77.0.2/24", "address=fd77::2/64",
            "route=10.78.0.0/16", "route=fd78::/48"))
        self.assertEqual(rc, 0, err)
        self.assertIsNotNone(fd, "no fd came back")
        try:
            self.assertEqual(reply["status"], "ok")
            self.assertEqual(reply["ifname"], "pt7")

            # The fd is the TUN device pt7: IFF_TUN (0x1) | IFF_NO_PI (0x1000).
            name, flags = tun_name(fd)
            self.assertEqual(name, "pt7")
            self.assertEqual(flags & 0x1003, 0x1001)

            [link] = ip_json("addr", "show", "dev", "pt7")
            self.assertEqual(link["ifindex"], int(reply["ifindex"]))
            self.assertEqual(link["mtu"], 1400)
            self.assertIn("UP", link["flags"])
            addrs = {(a["family"], a["local"], a["prefixlen"]) for a in link["addr_info"]}
            self.assertIn(("inet", "10.77.0.2", 24), addrs)
            self.assertIn(("inet6", "fd77::2", 64), addrs)
            for a in link["addr_info"]:
                self.assertNotIn("tentative", a, a)

            routes4 = {(r["dst"], r.get("protocol")) for r in ip_json("route", "show", "dev", "pt7")}
            self.assertIn(("10.77.0.0/24", "kernel"), routes4)
            self.assertIn(("10.78.0.0/16", "static"), routes4)
            routes6 = {r["dst"] for r in ip_json("-6", "route", "show", "dev", "pt7")}
            self.assertIn("fd77::/64", routes6)
            self.assertIn("fd78::/48", routes6)

            # Packets the kernel routes into pt7 come out of the fd, exactly.
            cases = [
                (socket.AF_INET, "10.77.0.9", udp4_matcher, "10.77.0.2"),
                (socket.AF_INET, "10.78.1.1", udp4_matcher, "10.77.0.2"),
                (socket.AF_INET6, "fd77::9", udp6_matcher, "fd77::2"),
                (socket.AF_INET6, "fd78::1", udp6_matcher, "fd77::2"),
            ]
            for family, dst, matcher, src in cases:
                payload = f"peertunnel to {dst}".encode()
                with socket.socket(family, socket.SOCK_DGRAM) as s:
                    s.sendto(payload, (dst, 4242))
                packet = read_packet(fd, matcher(src, dst, 4242, payload))
                self.assertTrue(packet)
        finally:
            os.close(fd)

        # Not persistent: the device, its addresses and routes go with the fd.
        deadline = time.monotonic() + 5
        while link_exists("pt7") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(link_exists("pt7"), "pt7 outlived its fd")
        self.assertEqual(ip_json("route", "show", "10.78.0.0/16"), [])

    def test_ipv4_only_ptvpn_name(self):
        rc, reply, fd, err = run_helper(request_text("ptvpn9", 576, "address=100.64.0.1/10"))
        self.assertEqual(rc, 0, err)
        try:
            self.assertEqual(reply["ifname"], "ptvpn9")
            [link] = ip_json("addr", "show", "dev", "ptvpn9")
            self.assertEqual(link["mtu"], 576)
            self.assertIn(("inet", "100.64.0.1", 10),
                          {(a["family"], a["local"], a["prefixlen"]) for a in link["addr_info"]})
        finally:
            os.close(fd)

    def assert_refused(self, request, field, status="invalid", code=1, in_message=None):
        rc, reply, fd, err = run_helper(request)
        if fd is not None:
            os.close(fd)
            self.fail("an fd came back with a refusal")
        self.assertEqual(rc, code, err)
        self.assertIsNotNone(reply, f"no reply; stderr: {err}")
        self.assertEqual(reply["status"], status, reply)
        self.assertEqual(reply["field"], field, reply)
        self.assertTrue(reply["message"], reply)
        if in_message:
            self.assertIn(in_message, reply["message"])
        self.assertIn(field, err)  # also said on stderr, for logs
        return reply

    def test_refusals_name_the_field(self):
        cases = [
            (request_text("pt8", 1400, "address=8.8.8.8/24"), "address"),
            (request_text("eth0", 1400, "address=10.0.0.1/24"), "ifname"),
            (request_text("pt8", 100, "address=10.0.0.1/24"), "mtu"),
            (request_text("pt8", 1400, "address=10.0.0.1/24", "route=0.0.0.0/0"), "route"),
            (b"version=2\n", "version"),
            (b"garbage", "request"),
            (b"x" * 5000, "request"),
        ]
        for request, field in cases:
            with self.subTest(field=field, request=request[:60]):
                self.assert_refused(request, field)
                self.assertFalse(link_exists("pt8"))

    def test_request_with_fds_is_refused(self):
        with open("/dev/null") as f:
            rc, reply, fd, err = run_helper(request_text("pt8", 1400, "address=10.0.0.1/24"),
                                            send_fds=[f.fileno()])
        self.assertIsNone(fd)
        self.assertEqual(rc, 1, err)
        self.assertEqual((reply["status"], reply["field"]), ("invalid", "request"))
        self.assertIn("file descriptors", reply["message"])
        self.assertFalse(link_exists("pt8"))

    def test_hang_up_without_request(self):
        self.assert_refused(None, "request", in_message="empty")

    def test_existing_device_is_not_taken_over(self):
        rc, _, fd, err = run_helper(request_text("pt7", 1400, "address=10.77.0.2/24"))
        self.assertEqual(rc, 0, err)
        try:
            self.assert_refused(request_text("pt7", 1400, "address=10.79.0.2/24"), "ifname",
                                status="failed", code=2, in_message="already exists")
            [link] = ip_json("addr", "show", "dev", "pt7")
            self.assertEqual([a["local"] for a in link["addr_info"] if a["family"] == "inet"],
                             ["10.77.0.2"])
        finally:
            os.close(fd)

    def test_failed_route_leaves_nothing(self):
        # A route the machine already has, overlap allowed: installing it fails (never
        # a silent skip), and the half-made device is gone with its address.
        ip("route", "add", "10.99.0.0/16", "dev", "lo")
        try:
            self.assert_refused(
                request_text("pt8", 1400, "address=10.98.0.2/24", "address=fd98::2/64",
                             "route=10.97.0.0/16", "route=10.99.0.0/16", "allow-overlap=1"),
                "route", status="failed", code=2, in_message="already exists")
            self.assertFalse(link_exists("pt8"), "pt8 was left behind")
            self.assertEqual(ip_json("route", "show", "10.97.0.0/16"), [])
            self.assertEqual(ip_json("addr", "show", "to", "10.98.0.2"), [])
        finally:
            ip("route", "del", "10.99.0.0/16", "dev", "lo", check=False)

    def assert_nothing_made(self):
        self.assertFalse(link_exists("pt8"), "pt8 was left behind")
        self.assertEqual(ip_json("addr", "show", "to", "192.168.1.130"), [])
        self.assertEqual(ip_json("route", "show", "192.168.1.128/25"), [])

    def test_overlap_with_the_lan_is_refused(self):
        # The machine's own LAN, 192.168.1.0/24 on a veth ("lan0"), and a route and
        # an address of its own elsewhere.
        ip("link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
        ip("addr", "add", "192.168.1.5/24", "dev", "lan0")
        ip("link", "set", "lan0", "up")
        ip("link", "set", "lan1", "up")
        ip("route", "add", "10.50.0.0/16", "dev", "lan0")
        ip("addr", "add", "10.61.0.9/32", "dev", "lo")
        ip("addr", "add", "fd61::9/128", "dev", "lo")
        try:
            cases = [
                # the case: a VPN network inside the LAN
                (["address=192.168.1.130/25"], "address",
                 "192.168.1.128/25 (address 192.168.1.130/25) overlaps the address "
                 "192.168.1.5/24 on lan0"),
                # a VPN network around the LAN
                (["address=192.168.0.1/16"], "address", "192.168.1.5/24 on lan0"),
                # a route inside an existing route
                (["address=10.77.0.2/24", "route=10.50.128.0/17"], "route",
                 "the route 10.50.128.0/17 overlaps the route 10.50.0.0/16 on lan0"),
                # a route over an address of the machine's own (on lo)
                (["address=10.77.0.2/24", "route=10.61.0.0/16"], "route",
                 "overlaps the address 10.61.0.9/32 on lo"),
                (["address=fd61::2/64"], "address", "overlaps the address fd61::9/128 on lo"),
            ]
            for lines, field, message in cases:
                with self.subTest(lines=lines):
                    reply = self.assert_refused(request_text("pt8", 1400, *lines), field,
                                                in_message=message)
                    self.assertIn("allow-overlap=1", reply["message"])
                    self.assert_nothing_made()

            # Neighbours that do not overlap are fine; the default route never counts.
            ip("route", "add", "default", "dev", "lan0")
            rc, reply, fd, err = run_helper(request_text(
                "pt8", 1400, "address=192.168.2.2/24", "route=10.51.0.0/16"))
            self.assertEqual(rc, 0, err)
            os.close(fd)

            # Asked for explicitly: installed, overlap and all.
            rc, reply, fd, err = run_helper(request_text(
                "pt8", 1400, "address=192.168.1.130/25", "allow-overlap=1"))
            self.assertEqual(rc, 0, err)
            try:
                self.assertEqual(reply["status"], "ok")
                self.assertIn("192.168.1.128/25",
                              {r["dst"] for r in ip_json("route", "show", "dev", "pt8")})
            finally:
                os.close(fd)
        finally:
            ip("link", "del", "lan0", check=False)
            ip("addr", "del", "10.61.0.9/32", "dev", "lo", check=False)
            ip("addr", "del", "fd61::9/128", "dev", "lo", check=False)

    def test_allow_overlap_value(self):
        self.assert_refused(request_text("pt8", 1400, "address=10.0.0.1/24", "allow-overlap=yes"),
                            "allow-overlap", in_message="only value is 1")
        self.assertFalse(link_exists("pt8"))

    def test_usage_errors(self):
        r = subprocess.run([HELPER, "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=STEP_TIMEOUT)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"no arguments", r.stderr)
        r = subprocess.run([HELPER], stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=STEP_TIMEOUT)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"SOCK_SEQPACKET", r.stderr)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with a, b:
            r = subprocess.run([HELPER], stdin=b, capture_output=True, timeout=STEP_TIMEOUT)
        self.assertEqual(r.returncode, 64)


def main():
    global HELPER
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    HELPER = os.path.abspath(sys.argv.pop(1))
    enter_private_netns()
    prog = unittest.main(exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
