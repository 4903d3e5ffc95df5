#!/usr/bin/env python3
"""Chaos: the TURN server (coturn) is killed (SIGKILL) under a live tunnel.

  * relay-only tunnel (--relay-only): both sides report the failure in an
    error event within the idle timeout + margin; the client exits 1, the
    server closes that session and stays up; the application's stream ends
    with an intact prefix of what was sent (never corrupted);
  * direct path available (--turn given, but host candidates win on
    loopback): the tunnel does not care, a checked stream keeps flowing and
    ends complete, and nobody reports an error.

Needs coturn (`turnserver`); without it prints "SKIP: <reason>", exit 77.

Run by hand: PT_BUILD_DIR=$PWD/_build python3 tests/chaos/test_turn.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos as C  # noqa: E402

H, TM = C.H, C.TM

T_NOTICE = 30 + 15
WORDS = ("no packets from the peer", "turn", "relay", "timed out", "timeout")


clear_error = C.error_saying(*WORDS)


class TestTurnKilled(TM.Base):
    test_seconds = 150

    def setUp(self):
        if not H.have_coturn():
            reason = "coturn (turnserver) is not installed (Debian package coturn)"
            print("SKIP: %s" % reason)
            self.skipTest(reason)
        super().setUp()
        self.turn, port = H.start_coturn(self.tmp, self.deadline)
        self.procs.append(self.turn)
        self.url = "turn://u:p@127.0.0.1:%d" % port

    def tunnel(self, relay_only):
        ice = TM.ICE_LOCAL + ["--turn", self.url] + (["--relay-only"] if relay_only else [])
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", ice=ice)
        cli, (addr,) = self.pair(srv, echo.uri, ice=ice)
        up = cli.wait_event("state", self.deadline.bound(10), state="up")
        return srv, cli, addr, up.get("path")

    def test_relay_only_fails_clearly(self):
        srv, cli, addr, path = self.tunnel(relay_only=True)
        self.assertEqual(path, "relay")
        pump = C.Pump(addr, self.deadline, rate=256 * C.KiB, name="stream")
        try:
            pump.wait_received(512 * C.KiB, self.deadline.bound(20))
            mark_c, mark_s = len(cli.err_lines), len(srv.err_lines)
            self.turn.kill()
            t0 = time.monotonic()
            _, _, ev = cli.wait_err(clear_error, self.deadline.bound(T_NOTICE),
                                    "an error about the lost relay", start=mark_c)
            noticed = time.monotonic() - t0
            rc = self.expect_exit(cli, 10)
            reason = pump.wait_ended(self.deadline.bound(10))
            _, _, sev = srv.wait_err(clear_error, self.deadline.bound(T_NOTICE),
                                     "the server's error about the lost relay", start=mark_s)
            srv.wait_event("closed", self.deadline.bound(10), start=mark_s)
        finally:
            pump.close()
        pump.check_intact(self)
        sys.stdout.write("TURN killed under a relay-only tunnel: client said %r after %.1f s "
                         "(exit %d), server said %r; the stream ended (%s) after %d intact "
                         "bytes\n" % (ev["message"], noticed, rc, sev["message"], reason,
                                      pump.received))
        self.assertEqual(rc, 1, "a manual client whose tunnel died must exit 1")
        self.assertTrue(srv.alive(), "the server must survive its TURN server")

    def test_direct_path_unaffected(self):
        srv, cli, addr, path = self.tunnel(relay_only=False)
        self.assertEqual(path, "host", "on loopback the direct pair should win")
        pump = C.Pump(addr, self.deadline, rate=512 * C.KiB, name="stream")
        try:
            pump.wait_received(512 * C.KiB, self.deadline.bound(20))
            self.turn.kill()
            self.turn.wait_exit(5)
            # Long enough for libnice to try refreshing its allocation and fail.
            pump.wait_received(4 * C.MiB, self.deadline.bound(30))
            pump.finish(self.deadline.bound(30))
        finally:
            pump.close()
        pump.check_intact(self, complete=True)
        for p in (cli, srv):
            self.assertEqual(p.events_named("error"), [], "%s reported an error" % p.name)
            self.assertTrue(p.alive(), "%s exited" % p.name)
        self.assert_echo(addr, 1 * C.MiB)


if __name__ == "__main__":
    sys.exit(C.main(sys.argv, sys.modules[__name__]))
