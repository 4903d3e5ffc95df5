#!/usr/bin/env python3
"""Integration tests for Nostr mode: `pt server nostr`, `pt client nostr`,
`pt tcp|udp|bind --id` (real processes, real relays).

The relays are tests/relay/relay.mjs (@nostr-relay/core from the npm registry,
in-memory store) on loopback, started per test. Without node or without
tests/relay/node_modules every test prints "SKIP: ..." and counts as skipped.

Run (from the source root, after building into _build):

    python3 tests/integration/test_nostr.py [TestNostr.test_tcp_and_udp]

Same conventions as test_manual.py: whole-test deadlines, event-driven waits
(lines on stderr or stdout, sockets), children killed on teardown.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_manual import Base, Result, T_EXIT, T_READY, T_USAGE, PT  # noqa: E402

SOURCE_DIR = os.environ.get("PT_SOURCE_DIR") or \
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELAY_DIR = os.path.join(SOURCE_DIR, "tests", "relay")
NODE = shutil.which("node")
ICE = ["--json", "--local-address", "127.0.0.1", "--no-stun"]
KIND = 25837     # PT_RENDEZVOUS_KIND

T_RELAY = 20     # a relay to start
T_NOSTR = 45     # a Nostr client to be ready (relay round trips included)


def udp_roundtrip(addr, data, deadline, tries=3):
    """Sends @data to @addr and returns the first reply equal to it (or the
    last reply seen, or None); up to @tries sends, 1 s apart."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    got = None
    try:
        for _ in range(tries):
            sock.sendto(data, addr)
            sock.settimeout(deadline.bound(1.0))
            try:
                got, _peer = sock.recvfrom(65535)
                if got == data:
                    return got
            except socket.timeout:
                continue
    finally:
        sock.close()
    return got


def cpu_seconds(pid):
    """User + system CPU time of process @pid so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def relay_skip_reason():
    if NODE is None:
        return "node is not installed (./scripts/setup test installs it)"
    if not os.path.isdir(os.path.join(RELAY_DIR, "node_modules", "@nostr-relay")):
        return "tests/relay/node_modules is missing (run: npm ci --prefix tests/relay)"
    return None


class NostrBase(Base):
    test_seconds = 150

    def setUp(self):
        reason = relay_skip_reason()
        if reason:
            print("SKIP: %s" % reason, file=sys.stderr)
            self.skipTest(reason)
        super().setUp()

    # -- relays and keys ------------------------------------------------------
    def relay(self, name="relay"):
        p = H.PtProc(name, [NODE, os.path.join(RELAY_DIR, "relay.mjs"), "0"], cwd=RELAY_DIR)
        self.procs.append(p)
        limit = self.deadline.bound(T_RELAY)
        with p.cond:
            ok = p.cond.wait_for(lambda: any(l.startswith("listening ") for l in p.out_lines)
                                 or p.out_eof, limit)
            lines = [l for l in p.out_lines if l.startswith("listening ")]
        self.assertTrue(ok and lines, "%s did not start:\n%s" % (name, p.log_tail()))
        return "ws://127.0.0.1:%s" % lines[0].split()[1]

    def keygen(self, name):
        path = os.path.join(self.tmp, name + ".nsec")
        out = subprocess.run([PT, "keygen", "--output", path], capture_output=True, text=True,
                             timeout=T_USAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return path, out.stdout.strip()

    def secret_file(self, name, text):
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def token(self):
        out = subprocess.run([PT, "token"], capture_output=True, text=True, timeout=T_USAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    # -- pt processes ---------------------------------------------------------
    def nostr_server(self, relays, *extra, name="server", env=None):
        args = [PT, "server", "nostr", *ICE, *extra]
        for r in relays:
            args += ["--relay", r]
        p = H.PtProc(name, args, env=env)
        self.procs.append(p)
        return p

    def nostr_client(self, relays, server_npub, sources, *extra, name="client", env=None):
        if isinstance(sources, str):
            sources = [sources]
        args = [PT, "client", "nostr", *ICE, "--peer-npub", server_npub, *extra]
        for s in sources:
            args += ["--source", s, "--target", "127.0.0.1:0"]
        for r in relays:
            args += ["--relay", r]
        p = H.PtProc(name, args, env=env)
        self.procs.append(p)
        return p

    def wait_listening(self, server):
        server.wait_event("listening", self.deadline.bound(T_RELAY))
        server.wait_event("relay", self.deadline.bound(T_RELAY), state="connected")

    def listed_server(self, relay, *extra):
        """pt server nostr listing one client key, serving TCP on 127.0.0.1, listening.
        Returns (server, server npub, client key file, client npub)."""
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--allowed-tcp", "127.0.0.1/32", *extra)
        self.wait_listening(srv)
        return srv, snpub, ckey, cnpub

    def assert_refused(self, client, words):
        status = self.expect_exit(client, T_NOSTR)
        self.assertEqual(status, 1, "a refused client must exit 1")
        text = client.stderr_text()
        for w in words:
            self.assertIn(w, text)


class TestNostr(NostrBase):

    def test_tcp_and_udp(self):
        """A listed client key: TCP and UDP through one tunnel, checksummed."""
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        uecho = self.udp_echo()
        srv, snpub, ckey, cnpub = self.listed_server(relay, "--allowed-udp", "127.0.0.1/32")
        cli = self.nostr_client([relay], snpub, [echo.uri, uecho.uri], "--nsec-file", ckey)
        tcp_addr, udp_addr = cli.wait_ready(self.deadline.bound(T_NOSTR), count=2)
        self.assert_echo(tcp_addr, 2 * 1024 * 1024)
        for size in (1, 512, 1200):
            data = os.urandom(size)
            self.assertEqual(udp_roundtrip(udp_addr, data, self.deadline), data,
                             "UDP datagram of %d bytes came back changed" % size)
        ev = srv.wait_event("request", self.deadline.bound(5))
        self.assertEqual(ev["peer"], cnpub, "the server should name the client's key")

    def test_two_clients_and_max_sessions(self):
        """Two clients share a server; a third is refused by --max-sessions 2."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        keys = [self.keygen("client%d" % i) for i in range(3)]
        echo = self.tcp_service(H.echo_handler, "echo")
        peers = []
        for _, npub in keys:
            peers += ["--peer-npub", npub]
        srv = self.nostr_server([relay], "--nsec-file", skey, *peers, "--max-sessions", "2",
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        c1 = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", keys[0][0], name="c1")
        c2 = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", keys[1][0], name="c2")
        (a1,) = c1.wait_ready(self.deadline.bound(T_NOSTR))
        (a2,) = c2.wait_ready(self.deadline.bound(T_NOSTR))
        t1 = H.Worker(self.assert_echo, a1, 1024 * 1024, name="c1-echo")
        t2 = H.Worker(self.assert_echo, a2, 1024 * 1024, name="c2-echo")
        t1.start()
        t2.start()
        t1.join_ok(self.deadline.bound(60))
        t2.join_ok(self.deadline.bound(60))

        c3 = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", keys[2][0], name="c3")
        self.assert_refused(c3, ["--max-sessions"])
        ev = srv.wait_event("refused", self.deadline.bound(5), peer=keys[2][1])
        self.assertIn("max-sessions", ev["reason"])

    def test_wrong_key_refused(self):
        relay = self.relay()
        skey, snpub = self.keygen("server")
        _, allowed = self.keygen("allowed")
        ckey, cnpub = self.keygen("stranger")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--peer-npub", allowed,
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        cli = self.nostr_client([relay], snpub, "tcp://127.0.0.1:9", "--nsec-file", ckey)
        self.assert_refused(cli, ["does not allow this client's key", cnpub])
        ev = srv.wait_event("refused", self.deadline.bound(5), peer=cnpub)
        self.assertIn("not allowed", ev["reason"])
        self.assertTrue(srv.alive(), "the server must survive a refused client")

    def test_tokens(self):
        """--any-peer: a throwaway key with the right token gets in; a wrong
        token and no token are refused; a mistyped token never leaves."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        good = self.token()
        bad = self.token()
        tokens = self.secret_file("tokens", "# server tokens\n%s\n" % good)
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--any-peer",
                                "--auth-token-file", tokens, "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)

        wrong = self.nostr_client([relay], snpub, echo.uri, name="wrong-token",
                                  env={"PT_AUTH_TOKEN": bad})
        self.assert_refused(wrong, ["valid token"])
        srv.wait_event("refused", self.deadline.bound(5), reason="refused: wrong token")

        none = self.nostr_client([relay], snpub, echo.uri, name="no-token")
        self.assert_refused(none, ["valid token"])

        typo = good[:5] + ("A" if good[5] != "A" else "B") + good[6:]
        mistyped = self.nostr_client([relay], snpub, echo.uri, name="mistyped",
                                     env={"PT_AUTH_TOKEN": typo})
        self.assertEqual(self.expect_exit(mistyped, T_USAGE), 1)
        self.assertIn("mistyped", mistyped.stderr_text().lower())

        ok = self.nostr_client([relay], snpub, echo.uri, "--auth-token-file",
                               self.secret_file("mine", good + "\n"), name="good-token")
        (addr,) = ok.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 256 * 1024)
        self.assertNotIn(good, srv.stderr_text() + ok.stderr_text(), "a token was printed")

    def test_token_guessing_rate_limited(self):
        """One key guessing tokens: refused 5 times, then unanswered (logged),
        while a client with the right token still gets in."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        gkey, gnpub = self.keygen("guesser")
        good = self.token()
        tokens = self.secret_file("tokens", good + "\n")
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--any-peer",
                                "--auth-token-file", tokens, "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        for i in range(5):
            guess = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", gkey,
                                      name="guess-%d" % i, env={"PT_AUTH_TOKEN": self.token()})
            self.assert_refused(guess, ["valid token"])
        limited = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", gkey,
                                    name="guess-limited", env={"PT_AUTH_TOKEN": self.token()})
        ev = srv.wait_event("refused", self.deadline.bound(20), peer=gnpub,
                            reason="too many failed attempts from this key: they are not "
                                   "answered for a while")
        self.assertIsNotNone(ev)
        limited.kill()          # it gets no answer at all; no need to wait 30 s
        wrong = [e for e in srv.events_named("refused") if e.get("reason") == "refused: wrong token"]
        self.assertEqual(len(wrong), 5, "exactly 5 wrong tokens should have been answered")

        ok = self.nostr_client([relay], snpub, echo.uri, name="rightful",
                               env={"PT_AUTH_TOKEN": good})
        (addr,) = ok.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 64 * 1024)

    # -- a relay that floods (issue 12, item 2) --------------------------------------
    def flood_relay(self, mode, *extra, name="flood"):
        p = H.PtProc(name, [NODE, os.path.join(RELAY_DIR, "flood.mjs"), "0", mode, *extra],
                     cwd=RELAY_DIR)
        self.procs.append(p)
        limit = self.deadline.bound(T_RELAY)
        with p.cond:
            ok = p.cond.wait_for(lambda: any(l.startswith("listening ") for l in p.out_lines)
                                 or p.out_eof, limit)
            lines = [l for l in p.out_lines if l.startswith("listening ")]
        self.assertTrue(ok and lines, "%s did not start:\n%s" % (name, p.log_tail()))
        return p, "ws://127.0.0.1:%s" % lines[0].split()[1]

    def _flooding_relay(self, mode):
        """The server uses a relay that floods it with @mode events (200,000
        of them, matching its subscription) and an honest one: a listed
        client on the honest relay gets its tunnel within seconds, and the
        server drops the flooding relay, saying so."""
        relay = self.relay()
        flood, flood_url = self.flood_relay(mode)
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([flood_url, relay], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        srv.wait_event("relay", self.deadline.bound(T_RELAY), state="connected", url=relay + "/")
        with flood.cond:
            self.assertTrue(flood.cond.wait_for(
                lambda: any(l.startswith("flooding ") for l in flood.out_lines),
                self.deadline.bound(T_RELAY)), "the flood did not start:\n" + flood.log_tail())
        start = time.monotonic()
        cli = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", ckey)
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 256 * 1024)
        took = time.monotonic() - start
        self.assertLess(took, 15, "the client took %.1f s to get through" % took)
        line = srv.wait_err(lambda l, e: "disconnected from it; trying again in" in l,
                            self.deadline.bound(20), "the line about the flooding relay")[1]
        self.assertIn(flood_url, line)
        with flood.cond:
            self.assertTrue(flood.cond.wait_for(
                lambda: any(l.startswith(("gone ", "done ")) for l in flood.out_lines),
                self.deadline.bound(60)), "the flood neither ended nor was cut off")
            gone = [int(l.split()[1]) for l in flood.out_lines if l.startswith("gone ")]
        self.assertTrue(gone, "the server took the whole flood without disconnecting")
        cpu = cpu_seconds(srv.pid)
        sys.stderr.write("%s flood: tunnel through in %.1f s; the relay was dropped after %d "
                         "messages; the server used %.2f CPU-s\n" % (mode, took, gone[0], cpu))
        # Before the fix, 200,000 copies cost about 15 CPU-s.
        self.assertLess(cpu, 5, "the flood cost the server %.1f CPU-s" % cpu)
        self.assertTrue(srv.alive())

    def test_flooding_relay_during_tunnel(self):
        """The flood starts while a tunnel is up: the tunnel keeps carrying
        data and never drops; the server cuts the relay off."""
        relay = self.relay()
        flood, flood_url = self.flood_relay("same", "200000", "--on-go")
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([flood_url, relay], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        cli = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", ckey)
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 64 * 1024)
        cpu_before = cpu_seconds(srv.pid)

        flood.write("go\n")
        with flood.cond:
            self.assertTrue(flood.cond.wait_for(
                lambda: any(l.startswith("flooding ") for l in flood.out_lines),
                self.deadline.bound(T_RELAY)), "the flood did not start:\n" + flood.log_tail())
        self.assert_echo(addr, 1024 * 1024)
        srv.wait_err(lambda l, e: "disconnected from it; trying again in" in l,
                     self.deadline.bound(20), "the line about the flooding relay")
        self.assert_echo(addr, 1024 * 1024)
        cpu = cpu_seconds(srv.pid) - cpu_before
        sys.stderr.write("flood during a tunnel: the server used %.2f CPU-s on it\n" % cpu)
        self.assertLess(cpu, 5, "the flood cost the server %.1f CPU-s" % cpu)
        self.assertEqual(cli.events_named("retry"), [], "the tunnel dropped during the flood")
        self.assertTrue(srv.alive() and cli.alive())

    def test_flooding_relay_same_event(self):
        self._flooding_relay("same")

    def test_flooding_relay_respaced_event(self):
        self._flooding_relay("respaced")

    def test_flooding_relay_forged_events(self):
        self._flooding_relay("forged")

    # -- a flood of wrong tokens from fresh keys (issue 12, item 3) ----------------
    def offer_base64(self):
        """The base64 text of a real, fresh offer block (from pt client manual)."""
        p = H.PtProc("offer-maker", [PT, "client", "manual", "--local-address", "127.0.0.1",
                                     "--no-stun", "--source", "tcp://127.0.0.1:9", "--target", "9"])
        self.procs.append(p)
        block = p.read_block("OFFER", self.deadline.bound(T_RELAY))
        p.kill()
        return "".join(l for l in block.splitlines() if l and not l.startswith("-----"))

    def start_request_flood(self, relay, server_npub, rate=10):
        flood = H.PtProc("request-flood", [NODE, os.path.join(RELAY_DIR, "request-flood.mjs"),
                                           relay, server_npub, str(rate), self.offer_base64(),
                                           self.token()], cwd=RELAY_DIR)
        self.procs.append(flood)
        with flood.cond:
            self.assertTrue(flood.cond.wait_for(lambda: "flooding" in flood.out_lines,
                                                self.deadline.bound(T_RELAY)),
                            "the flood did not start:\n" + flood.log_tail())
        return flood

    def assert_flood_held(self, srv, flood, connect):
        """With @flood running against @srv: the global limit engages, then
        connect() starts a rightful client, which must be ready within
        seconds; the flood got only a bounded number of answers."""
        srv.wait_event("refused", self.deadline.bound(30),
                       reason="too many failed attempts from all clients: they are not "
                              "answered for a while (valid requests still are)")
        start = time.monotonic()
        client = connect()
        (addr,) = client.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 64 * 1024)     # through the tunnel: it is up
        took = time.monotonic() - start
        self.assertLess(took, 15, "a valid client took %.1f s to get through the flood" % took)
        self.assertTrue(flood.alive(), "the flood stopped early:\n" + flood.log_tail())
        with flood.cond:
            sent = [int(l.split()[1]) for l in flood.out_lines if l.startswith("sent ")]
        answered = [e for e in srv.events_named("refused")
                    if e.get("reason", "").startswith("refused: ")]
        # 30 at once, then one per 2 s (PT_ADMISSION_FAILURES_GLOBAL).
        self.assertLess(len(answered), 30 + (time.monotonic() - start + 20) / 2 + 5,
                        "the server answered too many of the flood's requests")
        sys.stderr.write("a valid client through %.1f s into the flood; >= %d requests sent, %d answered\n"
                         % (took, sent[-1] if sent else 0, len(answered)))

    def test_token_flood_any_peer(self):
        """--any-peer with tokens: fresh keys send wrong tokens at 10/s; a
        client with the right token still gets in within seconds."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        good = self.token()
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--any-peer", "--auth-token-file",
                                self.secret_file("tokens", good + "\n"),
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        flood = self.start_request_flood(relay, snpub)
        self.assert_flood_held(srv, flood, lambda: self.nostr_client(
            [relay], snpub, echo.uri, name="rightful", env={"PT_AUTH_TOKEN": good}))

    def test_token_flood_listed_key(self):
        """--peer-npub with tokens: strangers' keys flood; the listed key with
        its token still gets in within seconds."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        good = self.token()
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([relay], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--auth-token-file", self.secret_file("tokens", good + "\n"),
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        flood = self.start_request_flood(relay, snpub)
        self.assert_flood_held(srv, flood, lambda: self.nostr_client(
            [relay], snpub, echo.uri, "--nsec-file", ckey, name="rightful",
            env={"PT_AUTH_TOKEN": good}))

    def test_token_flood_shared_name(self):
        """Shared-name mode: a flood at the name's server key; pt bind with
        the name still gets in within seconds."""
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        name = self.secret_file("name", self.token() + "\n")
        expose = H.PtProc("pt-tcp", [PT, "tcp", *ICE, "--port", str(echo.addr[1]),
                                     "--id-file", name, "--relay", relay])
        self.procs.append(expose)
        ev = expose.wait_event("listening", self.deadline.bound(T_RELAY))
        expose.wait_event("relay", self.deadline.bound(T_RELAY), state="connected")
        flood = self.start_request_flood(relay, ev["npub"])

        def bind():
            p = H.PtProc("pt-bind", [PT, "bind", *ICE, "--port", "0", "--id-file", name,
                                     "--relay", relay])
            self.procs.append(p)
            return p
        self.assert_flood_held(expose, flood, bind)

    def test_replayed_request_refused(self):
        """An eavesdropper copies the client's request from one relay and,
        once the session is over, replays it through another relay the
        server uses (a relay drops an event id it has seen)."""
        relay = self.relay()
        other = self.relay("relay-2")
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        spy = H.PtProc("eavesdropper", [NODE, os.path.join(RELAY_DIR, "replay.mjs"), relay,
                                        str(KIND), other], cwd=RELAY_DIR)
        self.procs.append(spy)
        with spy.cond:
            self.assertTrue(spy.cond.wait_for(lambda: "subscribed" in spy.out_lines,
                                              self.deadline.bound(T_RELAY)),
                            "the eavesdropper did not subscribe:\n" + spy.log_tail())
        srv = self.nostr_server([relay, other], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        srv.wait_event("relay", self.deadline.bound(T_RELAY), state="connected", url=other + "/")
        cli = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", ckey, "--no-reconnect")
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 64 * 1024)
        with spy.cond:
            self.assertTrue(spy.cond.wait_for(
                lambda: any(l.startswith("captured ") for l in spy.out_lines),
                self.deadline.bound(5)), "the eavesdropper saw no request")
        # The client leaves; its session ends on the server.
        cli.signal(signal.SIGTERM)
        self.assertEqual(self.expect_exit(cli), 0)
        srv.wait_event("closed", self.deadline.bound(20))
        n_requests = len(srv.events_named("request"))
        spy.write("replay\n")
        ev = srv.wait_event("refused", self.deadline.bound(20), peer=cnpub)
        self.assertIn("replayed", ev["reason"])
        self.assertEqual(len(srv.events_named("request")), n_requests,
                         "a replayed request started a session")
        self.assertTrue(srv.alive(), "the server must survive a replay")

    def test_two_relays_one_killed(self):
        """Signaling completes through the relay that is left."""
        relay_a = self.relay("relay-a")
        relay_b = self.relay("relay-b")
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.nostr_server([relay_a, relay_b], "--nsec-file", skey, "--peer-npub", cnpub,
                                "--allowed-tcp", "127.0.0.1/32")
        self.wait_listening(srv)
        srv.wait_event("relay", self.deadline.bound(T_RELAY), state="connected",
                       url=relay_b + "/")
        srv.wait_event("relay", self.deadline.bound(T_RELAY), state="connected",
                       url=relay_a + "/")
        self.procs[0].kill()    # relay-a
        srv.wait_event("relay", self.deadline.bound(T_RELAY), state="disconnected",
                       url=relay_a + "/")
        cli = self.nostr_client([relay_a, relay_b], snpub, echo.uri, "--nsec-file", ckey)
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 256 * 1024)

    def test_reconnect_after_server_restart(self):
        """The server dies; a new one starts; the client re-establishes the
        tunnel on the same local address by itself."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        args = ["--nsec-file", skey, "--peer-npub", cnpub, "--allowed-tcp", "127.0.0.1/32"]
        srv = self.nostr_server([relay], *args)
        self.wait_listening(srv)
        cli = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", ckey)
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 64 * 1024)

        srv.kill()      # SIGKILL: no goodbye; the client notices by silence
        srv2 = self.nostr_server([relay], *args, name="server-2")
        self.wait_listening(srv2)
        cli.wait_event("retry", self.deadline.bound(60))
        n_up = len([e for e in cli.events_named("state") if e.get("state") == "up"])
        cli.wait_err(lambda l, e: e is not None and e.get("event") == "state"
                     and e.get("state") == "up" and n_up > 0, self.deadline.bound(T_NOSTR),
                     "the tunnel up again", start=cli.wait_err(
                         lambda l, e: e is not None and e.get("event") == "retry",
                         self.deadline.bound(5), "retry")[0])
        self.assert_echo(addr, 256 * 1024)
        self.assertTrue(cli.alive())

    def test_no_reconnect_exits(self):
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        srv, snpub, ckey, cnpub = self.listed_server(relay)
        cli = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", ckey, "--no-reconnect")
        cli.wait_ready(self.deadline.bound(T_NOSTR))
        srv.signal(signal.SIGTERM)      # closes its tunnels cleanly
        self.assertEqual(self.expect_exit(srv), 0)
        self.assertEqual(self.expect_exit(cli), 1, "--no-reconnect: exit 1 when the tunnel drops")
        self.assertEqual(cli.events_named("retry"), [])

    def test_named_rendezvous(self):
        """pt tcp / pt bind with the same name; a UDP pair through PT_ID."""
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        name = self.secret_file("name", "correct horse battery staple tulip %s\n" % os.getpid())
        port = echo.addr[1]
        expose = H.PtProc("pt-tcp", [PT, "tcp", *ICE, "--port", str(port), "--id-file", name,
                                     "--relay", relay])
        self.procs.append(expose)
        self.wait_listening(expose)
        bind = H.PtProc("pt-bind", [PT, "bind", *ICE, "--port", "0", "--id-file", name,
                                    "--relay", relay])
        self.procs.append(bind)
        (addr,) = bind.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 512 * 1024)

        uecho = self.udp_echo()
        env = {"PT_ID": self.token()}      # what pt token prints is a good name
        uexpose = H.PtProc("pt-udp", [PT, "udp", *ICE, "--port", str(uecho.port),
                                      "--relay", relay], env=env)
        self.procs.append(uexpose)
        self.wait_listening(uexpose)
        ubind = H.PtProc("pt-bind-udp", [PT, "bind", "--udp", *ICE, "--port", "0",
                                         "--relay", relay], env=env)
        self.procs.append(ubind)
        (uaddr,) = ubind.wait_ready(self.deadline.bound(T_NOSTR))
        data = os.urandom(700)
        self.assertEqual(udp_roundtrip(uaddr, data, self.deadline), data)

    def test_no_relay_reachable(self):
        """Offline: a clear error within a bounded time, not a hang."""
        port = H.free_port()
        _, snpub = self.keygen("server")
        cli = self.nostr_client(["ws://127.0.0.1:%d" % port], snpub, "tcp://127.0.0.1:9",
                                "--no-reconnect")
        self.assertEqual(self.expect_exit(cli, 40), 1)
        self.assertIn("could not reach any relay", cli.stderr_text())

    def test_usage_errors(self):
        _, npub = self.keygen("k")
        cases = [
            (["server", "nostr", "--relay", "ws://127.0.0.1:1"], "who may connect"),
            (["server", "nostr", "--any-peer", "--relay", "ws://127.0.0.1:1"], "--auth-token-file"),
            (["server", "nostr", "--peer-npub", "npub1nope", "--nsec-file",
              self.keygen("s")[0], "--relay", "ws://127.0.0.1:1"], "--peer-npub"),
            (["client", "nostr", "--source", "tcp://127.0.0.1:1", "--target", "0"], "which server"),
            (["client", "nostr", "--peer-npub", npub, "--source", "tcp://127.0.0.1:1",
              "--target", "0", "--relay", "http://relay.example.org"], "wss://"),
            (["tcp", "--port", "22", "--id", "short"], "at least 8"),
            (["tcp", "--port", "22", "--id", "correct horse battery staple"],
             "5 or more random words"),
            (["bind", "--id-file", "/nonexistent"], "which port"),
            (["tcp", "--port", "22"], "which name"),
        ]
        for argv, words in cases:
            out = subprocess.run([PT, *argv], capture_output=True, text=True, timeout=T_USAGE,
                                 stdin=subprocess.DEVNULL, env=dict(os.environ, PT_ID=""))
            self.assertEqual(out.returncode, 2, "%r: exit %d, stderr %r" % (argv, out.returncode,
                                                                            out.stderr))
            self.assertIn(words, out.stderr, "%r: stderr %r" % (argv, out.stderr))

    def test_config_file(self):
        """--config covers the Nostr options (group [client nostr])."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        ckey, cnpub = self.keygen("client")
        echo = self.tcp_service(H.echo_handler, "echo")
        sconf = self.secret_file("server.conf",
                                 "[server nostr]\nnsec-file=%s\npeer-npub=%s\nallowed-tcp=127.0.0.1/32\n"
                                 "relay=%s\nmax-sessions=4\nno-stun=true\nlocal-address=127.0.0.1\n"
                                 "json=true\n" % (skey, cnpub, relay))
        cconf = self.secret_file("client.conf",
                                 "[client nostr]\nnsec-file=%s\npeer-npub=%s\nsource=%s\n"
                                 "target=127.0.0.1:0\nrelay=%s\nno-reconnect=true\nno-stun=true\n"
                                 "local-address=127.0.0.1\njson=true\n" % (ckey, snpub, echo.uri, relay))
        srv = H.PtProc("server", [PT, "server", "nostr", "--config", sconf])
        self.procs.append(srv)
        self.wait_listening(srv)
        cli = H.PtProc("client", [PT, "client", "nostr", "--config", cconf])
        self.procs.append(cli)
        (addr,) = cli.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 128 * 1024)


def _on_signal(signum, frame):
    H.kill_all()
    sys.stderr.write("interrupted by signal %d; children killed\n" % signum)
    os._exit(130)


def main(argv):
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    names = [a for a in argv[1:] if not a.startswith("-")]
    loader = unittest.TestLoader()
    module = sys.modules[__name__]
    suite = loader.loadTestsFromNames(names, module) if names else \
        loader.loadTestsFromTestCase(TestNostr)
    sys.stderr.write("pt binary: %s\n" % PT)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result, stream=sys.stderr)
    result = runner.run(suite)
    H.kill_all()
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed, %d skipped" % (result.testsRun - failed - len(result.skipped),
                                                failed, len(result.skipped)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
