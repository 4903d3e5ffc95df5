#!/usr/bin/env python3
"""The manual server against hostile input (issue 12, item 8), real `pt` processes.

  * the same offer pasted three times gets one answer and two refusals
    ("already answered"); a fresh offer is then served (bytes checked);
  * offers over --max-pending are refused, saying so; pending sessions are
    dropped after --pending-timeout; a refused offer can be pasted again
    once a slot is free; a good client is then served; --max-sessions
    counts sessions that are up too, and one that ends frees its slot;
  * an offer whose candidates name 127.0.0.1, ::1 or a link-local address
    makes a server that was not told to use loopback send nothing there
    (a UDP listener on the named port hears no datagram), while the same
    offer to a loopback server does reach the listener (the probe works).

Run: PT_BUILD_DIR=$PWD/_build python3 tests/integration/test_manual_hardening.py
"""

import ipaddress
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_manual  # noqa: E402
from test_manual import Base, ICE_LOCAL, T_BLOCK, T_READY  # noqa: E402

# How long a forged candidate's port is watched: the server's checks start
# as soon as it has the offer and libnice retransmits for seconds.
T_WATCH = 6


# --------------------------------------------------------------------------
# Offer payloads (docs/protocol.md, "Binary format, version 1")

def split_offer(payload):
    """(head up to and including the ICE password, [candidate bytes…], tail
    from the source count up to the checksum, excluded)."""
    at = 52
    at += 1 + payload[at]            # ufrag
    at += 1 + payload[at]            # password
    head = payload[:at]
    count = payload[at]
    at += 1
    cands = []
    for _ in range(count):
        start = at
        at += 1 + 4
        at += 1 + payload[at]        # foundation
        family = payload[at]
        at += 1 + (4 if family == 4 else 16) + 2
        cands.append(payload[start:at])
    return head, cands, payload[at:-4]


def candidate(address, port, foundation=b"9", priority=2130706431):
    addr = ipaddress.ip_address(address)
    return (bytes([0x00]) + struct.pack("!I", priority) + bytes([len(foundation)]) + foundation +
            bytes([addr.version]) + addr.packed + struct.pack("!H", port))


def forge_offer(block, cands):
    kind, payload = H.block_payload(block)
    assert kind == "OFFER", kind
    head, _, tail = split_offer(payload)
    body = head + bytes([len(cands)]) + b"".join(cands) + tail
    return H.armor("OFFER", H.with_checksum(body))


def global_address():
    """An IPv4 address of this machine outside loopback and link-local, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for m in re.finditer(r"\binet (\d+\.\d+\.\d+\.\d+)/", out):
        a = ipaddress.ip_address(m.group(1))
        if not (a.is_loopback or a.is_link_local):
            return str(a)
    return None


class UdpWatch:
    """A UDP socket that counts every datagram it receives."""

    def __init__(self, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]

    def datagrams(self, seconds):
        """Datagrams received within @seconds (it stops at the first)."""
        got = []
        limit = time.monotonic() + seconds
        while not got:
            left = limit - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                got.append(self.sock.recvfrom(65535))
            except socket.timeout:
                break
        return got

    def close(self):
        self.sock.close()


def is_stun(data):
    return len(data) >= 20 and struct.unpack("!I", data[4:8])[0] == 0x2112A442


class TestManualHardening(Base):

    def refusals(self, proc, reason):
        return [e for e in proc.events_named("error") if e.get("reason") == reason]

    def answers_printed(self, proc):
        return proc.stdout_text().count("-----BEGIN PEERTUNNEL ANSWER-----")

    # 1 -------------------------------------------------------------------
    def test_offer_pasted_three_times(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli = self.client(echo.uri)
        offer = cli.read_block("OFFER", self.deadline.bound(T_BLOCK))
        for _ in range(3):
            srv.write(offer)
        answer = srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        for n in (1, 2):
            srv.wait_err(lambda line, ev: ev is not None and ev.get("reason") == "replayed"
                         and len(self.refusals(srv, "replayed")) >= n,
                         self.deadline.bound(T_BLOCK), "refusal %d of the repeated offer" % n)
        ev = self.refusals(srv, "replayed")[0]
        self.assertIn("already answered", ev.get("message", ""))
        self.assertIn("new one", ev.get("message", ""))

        cli.write(answer)
        (addr,) = cli.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 256 * 1024)

        # A well-behaved client with a fresh offer is served as ever.
        cli2, (addr2,) = self.pair(srv, echo.uri, name="client-fresh")
        self.assert_echo(addr2, 256 * 1024)
        self.assertEqual(self.answers_printed(srv), 2,
                         "the server printed %d answers for two distinct offers (one pasted "
                         "three times)" % self.answers_printed(srv))
        self.assertEqual(len(self.refusals(srv, "replayed")), 2)

    def test_offer_replayed_in_text_mode(self):
        """The refusal is a plain line a person reads, too."""
        srv = self.server("--allowed-tcp", "127.0.0.1/32",
                          ice=["--local-address", "127.0.0.1", "--no-stun"])
        cli = self.client("tcp://127.0.0.1:9")
        offer = cli.read_block("OFFER", self.deadline.bound(T_BLOCK))
        srv.write(offer)
        srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        srv.write(offer)
        _, line, _ = srv.wait_err(lambda line, ev: "already answered" in line,
                                  self.deadline.bound(T_BLOCK), "the refusal line")
        self.assertRegex(line, r"^pt: error: offer refused: this offer was already answered; "
                               r"ask the client for a new one")

    # 2 -------------------------------------------------------------------
    def test_pending_cap(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", "--max-pending", "2",
                          "--pending-timeout", "4")
        idle = [self.client(echo.uri, name="idle-%d" % i) for i in range(3)]
        offers = [c.read_block("OFFER", self.deadline.bound(T_BLOCK)) for c in idle]
        for o in offers:
            srv.write(o)
        # Two answers; the third offer refused at once, saying why.
        ev = srv.wait_event("error", self.deadline.bound(T_BLOCK), reason="max-pending")
        self.assertIn("--max-pending", ev.get("message", ""))
        self.assertEqual(ev.get("pending"), 2)
        self.assertEqual(ev.get("max_pending"), 2)
        for _ in range(2):
            srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        # The "answered" event (stderr) may trail its block (stdout).
        start = 0
        for _ in range(2):
            idx, _, ev = srv.wait_err(lambda line, ev: ev is not None
                                      and ev.get("event") == "answered",
                                      self.deadline.bound(T_BLOCK), "an answered event",
                                      start=start)
            start = idx + 1
        self.assertEqual(ev.get("max_pending"), 2, "answered event without the counts: %r" % ev)
        self.assertEqual(ev.get("pending"), 2)

        # Nobody carries those answers across: both sessions are dropped soon.
        start = 0
        for _ in range(2):
            idx, _, ev = srv.wait_err(lambda line, ev: ev is not None
                                      and ev.get("reason") == "pending-timeout",
                                      self.deadline.bound(20), "a pending session dropped",
                                      start=start)
            start = idx + 1
            self.assertIn("did not connect within 4 s", ev.get("message", ""))
        self.assertTrue(srv.alive())

        # The refused offer was not used up: pasted again, it is served.
        srv.write(offers[2])
        answer = srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        idle[2].write(answer)
        (addr,) = idle[2].wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 128 * 1024)

        # And a fresh, well-behaved client too.
        cli, (addr2,) = self.pair(srv, echo.uri, name="client-good")
        self.assert_echo(addr2, 256 * 1024)

    def test_session_cap(self):
        """--max-sessions counts sessions that are up, too; one that ends frees its slot."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", "--max-sessions", "1")
        first, (addr,) = self.pair(srv, echo.uri, name="client-first")
        self.assert_echo(addr, 64 * 1024)
        second = self.client(echo.uri, name="client-second")
        offer = second.read_block("OFFER", self.deadline.bound(T_BLOCK))
        srv.write(offer)
        ev = srv.wait_event("error", self.deadline.bound(T_BLOCK), reason="max-sessions")
        self.assertIn("--max-sessions 1", ev.get("message", ""))
        self.assertEqual(ev.get("sessions"), 1)

        first.signal(signal.SIGTERM)
        self.expect_exit(first, 15)
        srv.wait_event("closed", self.deadline.bound(30))
        srv.write(offer)
        second.write(srv.read_block("ANSWER", self.deadline.bound(T_BLOCK)))
        (addr2,) = second.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr2, 64 * 1024)

    def test_limit_options_checked(self):
        for args, pattern in ((["--max-pending", "-1"], r"--max-pending -1"),
                              (["--pending-timeout", "0"], r"--pending-timeout 0"),
                              (["--max-sessions", "-2"], r"--max-sessions -2")):
            p = self.server(*args)
            rc = self.expect_exit(p, 10)
            self.assertEqual(rc, 2, "%s: exit status %r" % (args, rc))
            self.assertRegex(p.stderr_text(), pattern)

    # 3 -------------------------------------------------------------------
    def _forged_offer(self, watches, extra=()):
        """A real client's offer whose candidates are replaced by the
        watched ports (and @extra candidates)."""
        cli = self.client("tcp://127.0.0.1:9", name="forger")
        offer = cli.read_block("OFFER", self.deadline.bound(T_BLOCK))
        cands = [candidate(host, w.port) for host, w in watches] + list(extra)
        return forge_offer(offer, cands)

    def test_forged_loopback_candidates(self):
        """The server uses only a global address: an offer naming its own
        loopback ports and a link-local neighbour gets no STUN check there."""
        addr = global_address()
        if addr is None:
            self.skipTest("SKIP: this machine has no global IPv4 address to run the server on")
        echo = self.tcp_service(H.echo_handler, "echo")
        watches = [("127.0.0.1", UdpWatch())]
        try:
            watches.append(("::1", UdpWatch(socket.AF_INET6, "::1")))
        except OSError:
            pass
        ice = ["--json", "--local-address", addr, "--no-stun", "-v"]
        srv = self.server("--allowed-tcp", "127.0.0.1/32", ice=ice)
        try:
            forged = self._forged_offer(watches, extra=[
                candidate("169.254.77.1", 40001),      # link-local: never checked
                candidate("224.0.0.251", 5353),        # multicast: never checked
                candidate(addr, 9),                    # global: kept, so an answer comes
            ])
            srv.write(forged)
            srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
            for host, w in watches:
                got = w.datagrams(T_WATCH if host == "127.0.0.1" else 1)
                self.assertEqual(got, [], "the server sent %d datagram(s) to %s:%d named in a "
                                 "forged candidate" % (len(got), host, w.port))
        finally:
            for _, w in watches:
                w.close()
        err = srv.stderr_text()
        self.assertIn("ignoring the peer's candidate 127.0.0.1:", err)
        self.assertIn("ignoring the peer's candidate 169.254.77.1:40001", err)
        self.assertIn("ignoring the peer's candidate 224.0.0.251:5353", err)

        # A well-behaved client on the same address is still served.
        cli, (a,) = self.pair(srv, echo.uri, name="client-good", ice=ice)
        self.assert_echo(a, 256 * 1024)

    def test_loopback_candidates_when_told(self):
        """The control: a server told to use loopback does check a loopback
        candidate (so the probe above would see a check if one were sent)."""
        watch = UdpWatch()
        try:
            srv = self.server("--allowed-tcp", "127.0.0.1/32")
            srv.write(self._forged_offer([("127.0.0.1", watch)]))
            srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
            got = watch.datagrams(T_WATCH)
        finally:
            watch.close()
        self.assertTrue(got, "a loopback server sent no check to a loopback candidate")
        self.assertTrue(is_stun(got[0][0]), "what arrived is no STUN message")
        self.assertNotIn("ignoring the peer's candidate", srv.stderr_text())


def main(argv):
    return test_manual.main(argv, sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
