#!/usr/bin/env python3
"""Chaos in network namespaces: the client's link goes down and up, and the
client's address changes, under a live tunnel.

Uses tests/natlab/natlab.py's lab (two peers with public addresses on one
bridge, no NAT, no STUN/TURN): the server in peer A's namespace next to an
echo service, the client in peer B's. A checked byte stream runs through
the tunnel the whole time (tests/chaos/chaos.py Pump).

  * link down for a few seconds, then up: the tunnel recovers (QUIC
    retransmits across the gap), the stream ends complete and intact, and
    neither side reports an error;
  * address change (a new address added to the client's interface, the old
    one removed): either the tunnel recovers and carries the stream on, or
    both sides fail with an error event within the idle timeout + margin
    and the client exits 1; whatever arrived is an intact prefix of what was
    sent; the server survives and then serves a new client from the new
    address with SHA-256-checked bytes.

Needs root and iproute2; otherwise prints "SKIP: <reason>", exit 77.

Run by hand (root): PT_BUILD_DIR=$PWD/_build python3 tests/chaos/test_netns.py
"""

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos as C  # noqa: E402
import natlab  # noqa: E402  (tests/natlab, on the path via chaos)

H, TM = C.H, C.TM

ICE = ["--json", "--no-stun"]
T_NOTICE = 30 + 15
LINK_DOWN_SECONDS = 5         # the outage itself (what is being tested, not a wait)
NEW_ADDRESS = "198.51.100.32"


# Our own namespace prefix: natlab's cleanup_stale() treats a "ptnl<PID>-"
# namespace whose owner's command line lacks "natlab" as stale, so a NAT lab
# run next to this one would delete ours mid-test.
PREFIX = "ptch"


def cleanup_stale():
    """Deletes "ptch<PID>-" namespaces whose process is gone."""
    for ns in natlab.list_namespaces():
        m = re.match(r"^%s(\d+)-" % PREFIX, ns)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            natlab.delete_namespace(ns)
        except PermissionError:
            pass


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not shutil.which("ip"):
        return "ip is not installed (Debian package iproute2)"
    return None


class TestNetns(TM.Base):
    test_seconds = 150

    def setUp(self):
        reason = skip_reason()
        if reason:
            print("SKIP: %s" % reason)
            self.skipTest(reason)
        super().setUp()
        cleanup_stale()
        self.lab = natlab.Lab(workdir=self.tmp)
        self.lab.prefix = "%s%d" % (PREFIX, os.getpid())
        try:
            self.lab.start()
            self.lab.build_side("a", "none")
            self.lab.build_side("b", "none")
        except BaseException:
            self.lab.close()
            raise
        self.ns_a, self.ns_b = self.lab.ns("a"), self.lab.ns("b")

    def tearDown(self):
        super().tearDown()
        self.lab.close()

    def ns_pt(self, ns, name, *args):
        p = H.PtProc(name, ["ip", "netns", "exec", ns, C.PT] + list(args))
        self.procs.append(p)
        return p

    def connect_b(self, addr, deadline):
        return natlab.in_netns(self.ns_b, H.connect, addr, deadline)

    def start(self):
        self.echo = natlab.in_netns(self.ns_a, H.TcpService, H.echo_handler, "echo")
        self.services.append(self.echo)
        srv = self.ns_pt(self.ns_a, "server", "server", "manual", *ICE,
                         "--allowed-tcp", "127.0.0.1/32")
        cli, addr = self.new_client(srv, "client")
        return srv, cli, addr

    def new_client(self, srv, name):
        cli = self.ns_pt(self.ns_b, name, "client", "manual", *ICE,
                         "--source", self.echo.uri, "--target", "127.0.0.1:0")
        self.join(cli, srv)
        (addr,) = cli.wait_ready(self.deadline.bound(TM.T_READY))
        return cli, addr

    def echo_b(self, addr, size):
        data = os.urandom(size)

        def run():
            return H.exchange(addr, data, self.deadline)
        got = natlab.in_netns(self.ns_b, run, timeout=self.deadline.bound(60))
        self.assertEqual(H.sha(got), H.sha(data), "echo through the tunnel differs (SHA-256)")

    def test_link_down_up(self):
        srv, cli, addr = self.start()
        pump = C.Pump(addr, self.deadline, rate=256 * C.KiB, connect=self.connect_b,
                      name="stream")
        try:
            pump.wait_received(256 * C.KiB, self.deadline.bound(20))
            natlab.run(["ip", "-n", self.ns_b, "link", "set", "eth0", "down"])
            time.sleep(LINK_DOWN_SECONDS)
            before = pump.received
            natlab.run(["ip", "-n", self.ns_b, "link", "set", "eth0", "up"])
            self.lab._wait_carrier([(self.ns_b, "eth0")])
            t0 = time.monotonic()
            pump.wait_received(512 * C.KiB, self.deadline.bound(T_NOTICE))
            recovered = time.monotonic() - t0
            pump.finish(self.deadline.bound(30))
        finally:
            pump.close()
        pump.check_intact(self, complete=True)
        sys.stdout.write("link down %d s: %d bytes echoed before it came back up; the stream "
                         "moved again %.1f s after; %d bytes intact\n"
                         % (LINK_DOWN_SECONDS, before, recovered, pump.received))
        for p in (cli, srv):
            self.assertEqual(p.events_named("error"), [], "%s reported an error" % p.name)
            self.assertTrue(p.alive(), "%s exited" % p.name)
        self.echo_b(addr, 1 * C.MiB)

    def test_address_change(self):
        srv, cli, addr = self.start()
        old = self.lab.peer_address("b")
        pump = C.Pump(addr, self.deadline, rate=256 * C.KiB, connect=self.connect_b,
                      name="stream")
        mark_c, mark_s = len(cli.err_lines), len(srv.err_lines)
        outcome = None
        try:
            pump.wait_received(256 * C.KiB, self.deadline.bound(20))
            # Without promote_secondaries, removing the primary address would
            # remove the new (secondary) one with it.
            natlab.nsexec(self.ns_b, "sysctl", "-q", "-w",
                          "net.ipv4.conf.eth0.promote_secondaries=1")
            natlab.run(["ip", "-n", self.ns_b, "addr", "add", "%s/24" % NEW_ADDRESS,
                        "dev", "eth0"])
            natlab.run(["ip", "-n", self.ns_b, "addr", "del", "%s/24" % old, "dev", "eth0"])
            t0 = time.monotonic()
            # Either the stream moves again, or the client reports an error.
            with pump.cond:
                goal = pump.received + 512 * C.KiB
            limit = time.monotonic() + self.deadline.bound(T_NOTICE)
            while outcome is None:
                with pump.cond:
                    if pump.received >= goal:
                        outcome = "recovered"
                        break
                    if pump.ended is None:
                        pump.cond.wait(0.5)
                if cli.events_named("error") or not cli.alive():
                    outcome = "failed"
                elif time.monotonic() > limit:
                    self.fail("after the address change the tunnel neither carried bytes nor "
                              "reported an error within %d s (%d bytes echoed)"
                              % (T_NOTICE, pump.received))
            took = time.monotonic() - t0
            if outcome == "recovered":
                pump.finish(self.deadline.bound(30))
            else:
                rc = self.expect_exit(cli, 15)
                pump.wait_ended(self.deadline.bound(10))
        finally:
            pump.close()
        pump.check_intact(self, complete=(outcome == "recovered"))
        if outcome == "recovered":
            sys.stdout.write("address change %s -> %s: the tunnel recovered in %.1f s; %d bytes "
                             "intact\n" % (old, NEW_ADDRESS, took, pump.received))
            self.assertEqual(cli.events_named("error"), [])
        else:
            msgs = [e.get("message", "") for e in cli.events_named("error")]
            sys.stdout.write("address change %s -> %s: the client failed after %.1f s saying "
                             "%r, exit %d; %d bytes intact before\n"
                             % (old, NEW_ADDRESS, took, msgs, rc, pump.received))
            self.assertTrue(msgs and all(m.strip() for m in msgs),
                            "the client failed without an error message")
            self.assertEqual(rc, 1, "a manual client whose tunnel died must exit 1")
            srv.wait_event("error", self.deadline.bound(T_NOTICE), start=mark_s)
            srv.wait_event("closed", self.deadline.bound(10), start=mark_s)
        self.assertTrue(srv.alive(), "the server must survive a client's address change")
        # A new client from the new address is served.
        cli2, addr2 = self.new_client(srv, "client-2")
        self.echo_b(addr2, 1 * C.MiB)
        del mark_c


if __name__ == "__main__":
    sys.exit(C.main(sys.argv, sys.modules[__name__]))
