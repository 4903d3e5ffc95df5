#!/usr/bin/env python3
"""Chaos: one side of a manual-mode tunnel is killed with SIGKILL mid-transfer.

  * client killed: the server notices by silence within the QUIC idle
    timeout (30 s, + margin), says so in an error event naming the peer's
    silence, closes the session (a "closed" event, its connection to the
    service closed), stays up, holds as many descriptors as before the
    session, and then serves a new client with SHA-256-checked bytes;
  * server killed: the client notices within the same bound, says so,
    closes the application's connection (which received an intact prefix of
    what was sent) and exits 1 (manual mode has no reconnect); a new server
    and client then carry checked bytes.

Run by hand: PT_BUILD_DIR=$PWD/_build python3 tests/chaos/test_kill.py [TestKill.test_client_killed]
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos as C  # noqa: E402

H, TM = C.H, C.TM

T_NOTICE = 30 + 15      # QUIC idle timeout + margin: the survivor must say so by then
SILENCE = ("no packets from the peer", "timed out", "timeout", "not responding")


silence_error = C.error_saying(*SILENCE)


class TestKill(TM.Base):
    test_seconds = 180

    def start_pair(self, echo, name="client"):
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        srv.wait_event("info", self.deadline.bound(10))
        baseline = C.wait_until(lambda: C.fd_count(srv.pid), 5, "server fd count")
        cli, (addr,) = self.pair(srv, echo.uri, name=name)
        return srv, cli, addr, baseline

    def test_client_killed(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv, cli, addr, baseline = self.start_pair(echo)
        pump = C.Pump(addr, self.deadline, name="stream")
        try:
            pump.wait_received(1 * C.MiB, self.deadline.bound(20))
            during = C.fd_count(srv.pid)
            mark = len(srv.err_lines)
            cli.kill()                                  # SIGKILL: no goodbye
            t0 = time.monotonic()
            _, line, ev = srv.wait_err(silence_error, self.deadline.bound(T_NOTICE),
                                       "an error about the silent peer", start=mark)
            noticed = time.monotonic() - t0
            srv.wait_event("closed", self.deadline.bound(5), start=mark)
        finally:
            pump.close()
        pump.check_intact(self)
        sys.stdout.write("client killed: the server said %r after %.1f s\n"
                         % (ev["message"], noticed))
        self.assertTrue(srv.alive(), "the server must survive a client that vanished")
        # Its connection to the service is closed too (the echo handler ends).
        with echo.cond:
            ok = echo.cond.wait_for(lambda: len(echo.results) + len(echo.errors) >= 1,
                                    self.deadline.bound(10))
        self.assertTrue(ok, "the server kept its connection to the service open")
        after = C.wait_until(lambda: C.fd_count(srv.pid) == baseline and baseline or None,
                             self.deadline.bound(10),
                             "server back to %d descriptors (now %r)"
                             % (baseline, C.fd_count(srv.pid)), interval=0.2)
        sys.stdout.write("server descriptors: %d before the session, %d during, %d after\n"
                         % (baseline, during, after))

        # The same server serves the next client, bytes checked.
        cli2, (addr2,) = self.pair(srv, echo.uri, name="client-2")
        self.assert_echo(addr2, 2 * C.MiB)
        cli2.signal(15)
        self.assertEqual(self.expect_exit(cli2), 0, "a client ended by SIGTERM exits 0")
        C.wait_until(lambda: len(srv.events_named("closed")) >= 2, self.deadline.bound(10),
                     "the server's closed event for the second client")
        C.wait_until(lambda: C.fd_count(srv.pid) == baseline, self.deadline.bound(10),
                     "server back to %d descriptors after the second client (now %r)"
                     % (baseline, C.fd_count(srv.pid)), interval=0.2)

    def test_server_killed(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv, cli, addr, _ = self.start_pair(echo)
        pump = C.Pump(addr, self.deadline, name="stream")
        try:
            pump.wait_received(1 * C.MiB, self.deadline.bound(20))
            mark = len(cli.err_lines)
            srv.kill()                                  # SIGKILL: no goodbye
            t0 = time.monotonic()
            _, line, ev = cli.wait_err(silence_error, self.deadline.bound(T_NOTICE),
                                       "an error about the silent peer", start=mark)
            noticed = time.monotonic() - t0
            rc = self.expect_exit(cli, 10)
            exited = time.monotonic() - t0
            # The application's connection is closed, not left hanging.
            reason = pump.wait_ended(self.deadline.bound(10))
        finally:
            pump.close()
        pump.check_intact(self)
        sys.stdout.write("server killed: the client said %r after %.1f s, exit %d after "
                         "%.1f s; the application's connection ended (%s) after %d intact "
                         "bytes\n" % (ev["message"], noticed, rc, exited, reason,
                                      pump.received))
        self.assertEqual(rc, 1, "a manual client whose tunnel died must exit 1")

        # A new server and client carry checked bytes.
        srv2, cli2, addr2, _ = self.start_pair(echo, name="client-2")
        self.assert_echo(addr2, 2 * C.MiB)


if __name__ == "__main__":
    sys.exit(C.main(sys.argv, sys.modules[__name__]))
