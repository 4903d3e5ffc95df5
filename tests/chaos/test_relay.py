#!/usr/bin/env python3
"""Chaos: the Nostr relay is killed (SIGKILL) and restarted under a live tunnel.

  * while the relay is gone, the established tunnel keeps carrying a
    checked byte stream (signaling is only needed to pair);
  * the server says the relay is disconnected, and connected again once a
    relay listens on the same port (the pool retries with backoff);
  * a new client then pairs through the restarted relay and carries
    SHA-256-checked bytes; the first stream ends with every byte intact.

Needs node and tests/relay/node_modules (npm ci --prefix tests/relay);
without them it prints "SKIP: <reason>" and exits 77.

Run by hand: PT_BUILD_DIR=$PWD/_build python3 tests/chaos/test_relay.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos as C  # noqa: E402

H = C.H
import test_nostr as TN  # noqa: E402  (tests/integration, on the path via chaos)


class TestRelayRestart(TN.NostrBase):
    test_seconds = 200

    def relay_on(self, port, name):
        """Starts tests/relay/relay.mjs on @port (0: any); returns its URL."""
        p = H.PtProc(name, [TN.NODE, os.path.join(TN.RELAY_DIR, "relay.mjs"), str(port)],
                     cwd=TN.RELAY_DIR)
        self.procs.append(p)
        with p.cond:
            ok = p.cond.wait_for(lambda: any(l.startswith("listening ") for l in p.out_lines)
                                 or p.out_eof, self.deadline.bound(TN.T_RELAY))
            lines = [l for l in p.out_lines if l.startswith("listening ")]
        self.assertTrue(ok and lines, "%s did not start:\n%s" % (name, p.log_tail()))
        return p, int(lines[0].split()[1])

    def test_relay_killed_and_restarted(self):
        relay, port = self.relay_on(0, "relay")
        url = "ws://127.0.0.1:%d" % port
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        c2key, c2npub = self.keygen("client-2")
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([url], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--peer-npub", c2npub, "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        cli = self.nostr_client([url], snpub, echo.uri, "--nsec-file", ckey)
        (addr,) = cli.wait_ready(self.deadline.bound(TN.T_NOSTR))

        pump = C.Pump(addr, self.deadline, rate=256 * C.KiB, name="stream")
        try:
            pump.wait_received(256 * C.KiB, self.deadline.bound(20))
            mark = len(srv.err_lines)
            relay.kill()
            t0 = time.monotonic()
            srv.wait_event("relay", self.deadline.bound(20), start=mark, state="disconnected")
            # The tunnel does not need the relay: bytes keep coming through.
            pump.wait_received(512 * C.KiB, self.deadline.bound(20))
            down = time.monotonic() - t0
            self.assertEqual(cli.events_named("retry"), [],
                             "the client's tunnel restarted while only the relay was gone")

            mark = len(srv.err_lines)
            relay2, port2 = self.relay_on(port, "relay-restarted")
            self.assertEqual(port2, port)
            t1 = time.monotonic()
            srv.wait_event("relay", self.deadline.bound(70), start=mark, state="connected")
            back = time.monotonic() - t1
            pump.wait_received(256 * C.KiB, self.deadline.bound(20))
            pump.finish(self.deadline.bound(30))
        finally:
            pump.close()
        pump.check_intact(self, complete=True)
        sys.stdout.write("relay down %.1f s with the tunnel carrying bytes; the server was "
                         "connected again %.1f s after the restart; %d bytes intact\n"
                         % (down, back, pump.received))
        self.assertTrue(cli.alive() and srv.alive())

        cli2 = self.nostr_client([url], snpub, echo.uri, "--nsec-file", c2key, name="client-2")
        (addr2,) = cli2.wait_ready(self.deadline.bound(TN.T_NOSTR))
        self.assert_echo(addr2, 1 * C.MiB)
        # And the first tunnel still works.
        self.assert_echo(addr, 256 * C.KiB)


if __name__ == "__main__":
    sys.exit(C.main(sys.argv, sys.modules[__name__]))
