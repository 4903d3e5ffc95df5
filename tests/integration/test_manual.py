#!/usr/bin/env python3
"""Integration tests for `pt client manual` / `pt server manual` (real processes).

Each test starts real `pt` processes on loopback, joins their stdio (the
client's offer block goes to the server's stdin, the server's answer block to
the client's stdin) and pushes real traffic through the tunnel to small Python
services.  Stdlib only.

Run everything (from the source root, after building into _build):

    python3 tests/integration/test_manual.py

Run one test:

    python3 tests/integration/test_manual.py TestManual.test_tcp_bulk

Which `pt` is used: $PT_BIN if set, else $PT_BUILD_DIR/cli/pt (meson sets
PT_BUILD_DIR), else <source>/_build/cli/pt.  For example:

    PT_BUILD_DIR=/work/main/_build-it python3 tests/integration/test_manual.py -v

Every test has a whole-test deadline; every wait has its own timeout and waits
on an event (a line on stderr, a block on stdout, a socket), never a sleep.
All child processes run in their own process group and are killed on
teardown, on exit and on SIGINT/SIGTERM.  On a failure the last lines of every
process's stderr/stdout are printed.  The last line of output is
"N passed, N failed, N skipped"; the exit status is non-zero on any failure.
Tests needing coturn print "SKIP: ..." and count as skipped when
`turnserver` is missing.
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402

PT = H.pt_binary()
ICE_LOCAL = ["--json", "--local-address", "127.0.0.1", "--no-stun"]
MiB = 1024 * 1024

# Timeouts (seconds)
T_TEST = 120        # whole test, default
T_BLOCK = 10        # an offer/answer block to appear
T_READY = 30        # the client to say "ready" after receiving the answer
T_EXIT = 30         # a process that should exit on its own
T_USAGE = 10        # a usage error to be reported


class Base(unittest.TestCase):
    test_seconds = T_TEST

    def setUp(self):
        self.procs = []
        self.services = []
        self.tmp = H.make_tmpdir("pt-it-")
        self.deadline = H.Deadline(self.test_seconds)
        # Watchdog: when the whole-test deadline passes, kill this test's
        # processes and close its services so that every blocked wait ends.
        self._watchdog = threading.Timer(self.test_seconds, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()
        self.expired = False

    def _expire(self):
        self.expired = True
        for p in self.procs:
            p.kill()
        for s in self.services:
            s.close()

    def tearDown(self):
        self._watchdog.cancel()
        for p in self.procs:
            p.kill()
        for s in self.services:
            s.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def logs(self):
        return "".join(p.log_tail() for p in self.procs)

    # -- processes ---------------------------------------------------------
    def pt(self, name, *args, stdin=subprocess.PIPE):
        p = H.PtProc(name, [PT] + list(args), stdin=stdin)
        self.procs.append(p)
        return p

    def server(self, *extra, name="server", ice=None):
        return self.pt(name, "server", "manual", *(ICE_LOCAL if ice is None else ice), *extra)

    def client(self, sources, *extra, name="client", ice=None, target="127.0.0.1:0"):
        if isinstance(sources, str):
            sources = [sources]
        args = []
        for s in sources:
            args += ["--source", s, "--target", target]
        return self.pt(name, "client", "manual", *(ICE_LOCAL if ice is None else ice),
                       *args, *extra)

    def join(self, client, server, answer_filter=None):
        """Offer client→server, answer server→client. Returns the answer
        block as given to the client."""
        offer = client.read_block("OFFER", self.deadline.bound(T_BLOCK))
        server.write(offer)
        answer = server.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        if answer_filter is not None:
            answer = answer_filter(answer)
        client.write(answer)
        return answer

    def pair(self, server, sources, *extra, name="client", ice=None, count=None):
        """Start a client for @sources, join it to @server, wait until ready.
        Returns (client, [listen (host, port) …])."""
        c = self.client(sources, *extra, name=name, ice=ice)
        self.join(c, server)
        n = count if count is not None else (1 if isinstance(sources, str) else len(sources))
        addrs = c.wait_ready(self.deadline.bound(T_READY), count=n)
        return c, addrs

    def tcp_service(self, handler, name="service"):
        s = H.TcpService(handler, name=name)
        self.services.append(s)
        return s

    def udp_echo(self):
        s = H.UdpEcho()
        self.services.append(s)
        return s

    def expect_exit(self, proc, timeout=T_EXIT):
        return proc.wait_exit(self.deadline.bound(timeout))

    def assert_echo(self, addr, size):
        data = os.urandom(size)
        got = H.exchange(addr, data, self.deadline)
        self.assertEqual(len(got), len(data), "echoed length differs")
        self.assertEqual(H.sha(got), H.sha(data), "echoed data differs (SHA-256)")


class TestManual(Base):

    # 1 -------------------------------------------------------------------
    def test_tcp_bulk(self):
        """8 MiB echoed both ways; then 4 MiB server→client only."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        self.assertEqual(addr[0], "127.0.0.1", "client should listen on loopback")
        # A host pair: pt's own socket carries the packets (unless turned off).
        for p in (cli, srv):
            dp = p.wait_event("data-path", self.deadline.bound(10))
            want = "libnice" if os.environ.get("PT_FAST_PATH") == "off" else "fast"
            self.assertEqual(dp.get("data_path"), want, "%s: data path %r" % (p.name, dp))
        self.assert_echo(addr, 8 * MiB)

        payload = os.urandom(4 * MiB)
        src = self.tcp_service(H.source_handler(payload), "source")
        cli2, (addr2,) = self.pair(srv, src.uri, name="client-source")
        s = H.connect(addr2, self.deadline)
        try:
            got = H.recv_all(s, self.deadline, limit=len(payload))
        finally:
            s.close()
        self.assertEqual(len(got), len(payload))
        self.assertEqual(H.sha(got), H.sha(payload), "server→client data differs (SHA-256)")
        src.wait_results(1, self.deadline.bound(30))

    # 1b ------------------------------------------------------------------
    def test_slow_paste(self):
        """A person takes a while to carry the answer across: by then the
        server's first round of ICE checks has given up. The server keeps
        checking, so the tunnel still comes up when the answer arrives."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", "-v")
        cli = self.client(echo.uri)
        srv.write(cli.read_block("OFFER", self.deadline.bound(T_BLOCK)))
        answer = srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        # The event that matters, not a sleep: the server ran out of checks once.
        srv.wait_err(lambda line, ev: ev is not None and ev.get("event") == "log"
                     and "checking again" in ev.get("message", ""),
                     self.deadline.bound(30), "the server retrying its ICE checks")
        cli.write(answer)
        (addr,) = cli.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 256 * 1024)

    # 2 -------------------------------------------------------------------
    def test_half_close(self):
        """Client half-closes first and still gets the full reply; then the
        service half-closes first and still receives everything."""
        reply = os.urandom(1 * MiB)
        svc = self.tcp_service(
            H.reply_after_eof_handler(lambda data: H.sha(data).encode() + reply), "reply-after-eof")
        greeting = os.urandom(256 * 1024)
        svc2 = self.tcp_service(H.half_close_first_handler(greeting), "half-close-first")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (a1, a2) = self.pair(srv, [svc.uri, svc2.uri])

        # (a) client sends, shuts down its write side, then reads the reply
        request = os.urandom(1 * MiB)
        s = H.connect(a1, self.deadline)
        try:
            H.send_all(s, request, self.deadline)
            s.shutdown(socket.SHUT_WR)
            got = H.recv_all(s, self.deadline)
        finally:
            s.close()
        self.assertEqual(got[:64], H.sha(request).encode(),
                         "service did not receive the client's data intact before its EOF")
        self.assertEqual(H.sha(got[64:]), H.sha(reply),
                         "reply sent after the client's half-close was not received in full")
        svc.wait_results(1, self.deadline.bound(30))

        # (b) service sends a greeting and shuts down first; client keeps sending
        s = H.connect(a2, self.deadline)
        try:
            got = H.recv_all(s, self.deadline)
            self.assertEqual(H.sha(got), H.sha(greeting), "greeting differs")
            late = os.urandom(1 * MiB)
            H.send_all(s, late, self.deadline)
            s.shutdown(socket.SHUT_WR)
            (n, digest), = svc2.wait_results(1, self.deadline.bound(60))
        finally:
            s.close()
        self.assertEqual(n, len(late), "service received a different amount after its half-close")
        self.assertEqual(digest, H.sha(late), "data sent after the service's half-close differs")

    # 3 -------------------------------------------------------------------
    def test_concurrent_20(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        datas = [os.urandom(256 * 1024) for _ in range(20)]
        workers = [H.Worker(H.exchange, addr, d, self.deadline, name="conn-%d" % i)
                   for i, d in enumerate(datas)]
        for w in workers:
            w.start()
        bad = []
        for i, (w, d) in enumerate(zip(workers, datas)):
            try:
                got = w.join_ok(self.deadline.bound(120))
            except Exception as e:
                bad.append("connection %d: %r" % (i, e))
                continue
            if got != d:
                bad.append("connection %d: got %d bytes, sha %s, expected %d bytes, sha %s"
                           % (i, len(got), H.sha(got)[:12], len(d), H.sha(d)[:12]))
        self.assertEqual(bad, [], "some of the 20 concurrent connections failed")
        self.assertEqual(echo.accepted, 20, "service saw %d connections, expected 20"
                         % echo.accepted)

    # 4 -------------------------------------------------------------------
    def test_udp_three_clients(self):
        echo = self.udp_echo()
        srv = self.server("--allowed-udp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        n_clients, n_dgrams = 3, 50
        sizes = [1 + round(i * 1199 / (n_dgrams - 1)) for i in range(n_dgrams)]
        sent = []
        for k in range(n_clients):
            # first byte tags (client, seq) uniquely: 2 bits client, 6 bits seq
            sent.append({bytes([k << 6 | i]) + os.urandom(sizes[i] - 1): i
                         for i in range(n_dgrams)})

        def run(k):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            try:
                pending = list(sent[k].keys())
                got, foreign, corrupt = set(), [], []
                window = 8
                outstanding = 0
                limit = time.monotonic() + self.deadline.bound(60)
                idle_limit = None
                while (pending or outstanding) and time.monotonic() < limit:
                    while pending and outstanding < window:
                        sock.sendto(pending.pop(0), addr)
                        outstanding += 1
                    sock.settimeout(2.0)
                    try:
                        data, peer = sock.recvfrom(65535)
                    except socket.timeout:
                        # a loss: release the window, give up after 3 silent rounds
                        outstanding = 0
                        idle_limit = (idle_limit or 0) + 1
                        if idle_limit >= 3 and not pending:
                            break
                        continue
                    if peer != addr:
                        foreign.append(("from", peer))
                        continue
                    tag = data[0] >> 6
                    if tag != k:
                        foreign.append(("client", tag, data[0] & 63))
                    elif data not in sent[k]:
                        corrupt.append(data[0] & 63)
                    else:
                        got.add(data)
                    outstanding = max(0, outstanding - 1)
                missing = sorted(sent[k][d] for d in sent[k] if d not in got)
                return len(got), foreign, corrupt, missing
            finally:
                sock.close()

        workers = [H.Worker(run, k, name="udp-%d" % k) for k in range(n_clients)]
        for w in workers:
            w.start()
        results = [w.join_ok(self.deadline.bound(90)) for w in workers]
        for k, (n, foreign, corrupt, missing) in enumerate(results):
            self.assertEqual(foreign, [], "client %d received datagrams not meant for it" % k)
            self.assertEqual(corrupt, [], "client %d received corrupted payloads (seq)" % k)
            self.assertGreaterEqual(n, int(0.9 * n_dgrams),
                                    "client %d: only %d of %d replies" % (k, n, n_dgrams))
            if n != n_dgrams:
                sys.stderr.write("NOTE: udp client %d got %d of %d replies on loopback"
                                 " (missing seq %s)\n" % (k, n, n_dgrams, missing))

    def test_udp_datagram_sizes(self):
        """Every datagram size up to 1200 bytes is carried (one at a time,
        up to 3 tries each, so congestion cannot explain a loss)."""
        echo = self.udp_echo()
        srv = self.server("--allowed-udp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        lost = []
        try:
            for size in (1, 100, 512, 1000, 1100, 1135, 1136, 1150, 1180, 1200):
                data = os.urandom(size)
                for attempt in range(3):
                    sock.sendto(data, addr)
                    sock.settimeout(self.deadline.bound(1.0))
                    try:
                        while True:
                            got, peer = sock.recvfrom(65535)
                            if got == data:
                                break
                    except socket.timeout:
                        continue
                    break
                else:
                    lost.append(size)
        finally:
            sock.close()
        self.assertEqual(lost, [], "datagrams of these sizes (bytes) never came back")

    # 5 -------------------------------------------------------------------
    def _assert_refused(self, cli, srv, source):
        rc = self.expect_exit(cli, 30)
        err = cli.stderr_text()
        self.assertEqual(rc, 1, "refused forward: client exit status %r, expected 1" % rc)
        self.assertIn(source, err, "client's error does not name the refused source")
        self.assertRegex(err, re.compile(r"not allowed|refused|not in the allowed|denied",
                                         re.I), "client's error does not say it is not allowed")
        self.assertFalse(cli.has_ready(), "client said ready for a refused forward")
        ev = srv.wait_event("rejected", self.deadline.bound(15))
        self.assertEqual(ev.get("forward"), source, "rejected event names %r" % ev.get("forward"))
        self.assertTrue(ev.get("reason"), "rejected event has no reason")
        self.assertTrue(srv.alive(), "server exited after refusing a forward")

    def test_refused_forward(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        bad = "tcp://10.255.255.1:80"
        cli = self.client(bad, name="client-refused")
        self.join(cli, srv)
        self._assert_refused(cli, srv, bad)
        cli2, (addr,) = self.pair(srv, echo.uri, name="client-allowed")
        self.assert_echo(addr, 256 * 1024)

    # 6 -------------------------------------------------------------------
    def test_nothing_allowed_by_default(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server()
        cli = self.client(echo.uri)
        self.join(cli, srv)
        self._assert_refused(cli, srv, echo.uri)
        self.assertEqual(echo.accepted, 0, "server connected to a forward it should refuse")
        # also for UDP
        uecho = self.udp_echo()
        cli2 = self.client(uecho.uri, name="client-udp")
        self.join(cli2, srv)
        rc = self.expect_exit(cli2, 30)
        self.assertEqual(rc, 1, "refused UDP forward: client exit status %r" % rc)
        self.assertIn(uecho.uri, cli2.stderr_text())

    # 7 -------------------------------------------------------------------
    def test_tampered_answer(self):
        """A fingerprint changed and the checksum recomputed: the block is
        well-formed, so only the TLS pin can catch it."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli = self.client(echo.uri)
        info = {}

        def tamper(block):
            kind, payload = H.block_payload(block)
            self.assertEqual(kind, "ANSWER")
            self.assertTrue(H.checksum_ok(payload), "server's answer has a bad checksum already")
            self.assertEqual(payload[:2], b"PT", "answer payload does not start with magic PT")
            body = bytearray(payload[:-4])
            i = H.FINGERPRINT_OFFSET + 7
            body[i] ^= 0x5A
            info["orig"] = payload
            return H.armor(kind, H.with_checksum(bytes(body)))

        self.join(cli, srv, answer_filter=tamper)
        rc = self.expect_exit(cli, 45)
        err = cli.stderr_text()
        self.assertEqual(rc, 1, "tampered fingerprint: client exit status %r, expected 1" % rc)
        self.assertRegex(err, re.compile(r"certificate|fingerprint", re.I),
                         "error does not mention the certificate/fingerprint")
        self.assertFalse(cli.has_ready(), "client said ready with a wrong server fingerprint")
        self.assertEqual(echo.accepted, 0, "a connection reached the service")
        self.assertTrue(srv.alive(), "server exited after a failed handshake")

    def test_damaged_answer(self):
        """A flipped byte without fixing the checksum: rejected at once."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli = self.client(echo.uri)

        def damage(block):
            kind, payload = H.block_payload(block)
            body = bytearray(payload)
            body[H.FINGERPRINT_OFFSET + 3] ^= 0x01
            return H.armor(kind, bytes(body))

        self.join(cli, srv, answer_filter=damage)
        rc = self.expect_exit(cli, 10)
        err = cli.stderr_text()
        self.assertNotEqual(rc, 0, "damaged answer accepted (exit 0)")
        self.assertIn(rc, (1, 2), "damaged answer: exit status %r, expected 1 or 2" % rc)
        self.assertRegex(err, re.compile(r"damaged|altered|corrupt|checksum|integrity", re.I),
                         "error does not say the block is damaged/altered")
        self.assertFalse(cli.has_ready())

    # 8 -------------------------------------------------------------------
    def _relay(self, suffix):
        if not H.have_coturn():
            print("SKIP: coturn (turnserver) is not installed")
            self.skipTest("coturn (turnserver) is not installed")
        turn, port = H.start_coturn(self.tmp, self.deadline)
        self.procs.append(turn)
        url = "turn://u:p@127.0.0.1:%d%s" % (port, suffix)
        ice = ["--json", "--local-address", "127.0.0.1", "--no-stun",
               "--relay-only", "--turn", url]
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", ice=ice)
        cli, (addr,) = self.pair(srv, echo.uri, ice=ice)
        up = cli.wait_event("state", self.deadline.bound(10), state="up")
        self.assertEqual(up.get("path"), "relay", "client's tunnel path is %r" % up.get("path"))
        sup = srv.wait_event("state", self.deadline.bound(10), state="up")
        if "path" in sup:
            self.assertEqual(sup["path"], "relay", "server's tunnel path is %r" % sup["path"])
        # Relayed on its own side: packets go through libnice's TURN client.
        for p in (cli, srv):
            dp = p.wait_event("data-path", self.deadline.bound(10))
            self.assertEqual(dp.get("data_path"), "libnice",
                             "%s: relayed tunnel on data path %r" % (p.name, dp))
        self.assert_echo(addr, 1 * MiB)
        if "transport=tcp" in suffix:
            n = H.tcp_connections_to(port, [cli.pid, srv.pid])
            if n is not None:
                self.assertGreaterEqual(n, 2, "with ?transport=tcp, client and server should "
                                        "each hold a TCP connection to coturn; found %d" % n)

    def test_relay_only_coturn(self):
        self._relay("")

    def test_relay_only_coturn_tcp(self):
        self._relay("?transport=tcp")

    def _coturn_tls(self):
        if not H.have_coturn():
            print("SKIP: coturn (turnserver) is not installed")
            self.skipTest("coturn (turnserver) is not installed")
        cert, key = H.make_tls_cert(self.tmp)
        turn, port, tls_port = H.start_coturn(self.tmp, self.deadline, tls=(cert, key))
        self.procs.append(turn)
        return cert, "turns://u:p@localhost:%d" % tls_port

    def test_relay_only_coturn_tls(self):
        """turns:// really speaks TLS (libnice alone would send plain TCP)
        and checks the server's certificate against --turn-ca-file."""
        cert, url = self._coturn_tls()
        ice = ["--json", "--local-address", "127.0.0.1", "--no-stun",
               "--relay-only", "--turn", url, "--turn-ca-file", cert]
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", ice=ice)
        cli, (addr,) = self.pair(srv, echo.uri, ice=ice)
        up = cli.wait_event("state", self.deadline.bound(10), state="up")
        self.assertEqual(up.get("path"), "relay", "client's tunnel path is %r" % up.get("path"))
        self.assert_echo(addr, 1 * MiB)

    def test_turns_untrusted_certificate(self):
        """A turns:// server whose certificate the system does not trust is
        refused, and the error says so instead of hanging."""
        cert, url = self._coturn_tls()
        ice = ["--json", "--local-address", "127.0.0.1", "--no-stun", "--relay-only",
               "--turn", url]
        cli = self.client("tcp://127.0.0.1:9", ice=ice)
        rc = self.expect_exit(cli, 20)
        self.assertEqual(rc, 1)
        self.assertRegex(cli.stderr_text(), re.compile(r"TLS.*certificate", re.I))
        self.assertNotIn("BEGIN PEERTUNNEL", cli.stdout_text())

    # 9 -------------------------------------------------------------------
    def _stun_defaults(self, extra):
        ice = ["--json", "--local-address", "127.0.0.1"] + extra
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32", ice=ice)
        cli = self.client(echo.uri, ice=ice)
        t0 = time.monotonic()
        offer = cli.read_block("OFFER", self.deadline.bound(10))
        self.assertLess(time.monotonic() - t0, 10.5, "offer took too long")
        srv.write(offer)
        t1 = time.monotonic()
        answer = srv.read_block("ANSWER", self.deadline.bound(10))
        self.assertLess(time.monotonic() - t1, 10.5, "answer took too long")
        cli.write(answer)
        (addr,) = cli.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 256 * 1024)

    def test_default_stun_unreachable(self):
        self._stun_defaults([])

    def test_stun_server_unroutable(self):
        self._stun_defaults(["--stun-server", "192.0.2.1:3478"])

    # 10 ------------------------------------------------------------------
    def _usage(self, args, expect_rc, pattern):
        p = self.pt("usage", *args, stdin=subprocess.DEVNULL)
        rc = p.wait_exit(self.deadline.bound(T_USAGE))
        text = p.stderr_text() + "\n" + p.stdout_text()
        self.assertEqual(rc, expect_rc, "pt %s: exit status %r, expected %r\n%s"
                         % (" ".join(args), rc, expect_rc, text))
        if pattern:
            self.assertRegex(text, re.compile(pattern, re.I),
                             "pt %s: message does not match %r" % (" ".join(args), pattern))
        return p

    def test_usage_errors(self):
        self._usage(["client", "manual", "--target", "0"], 2, r"source")
        p = self._usage(["client", "manual", "--source", "ftp://x:1", "--target", "0"], 2,
                        re.escape("ftp://x:1"))
        self.assertEqual(p.stdout_text().strip(), "", "usage error printed an offer anyway")
        self._usage(["server", "manual", "--allowed-tcp", "10.0.0.1/8"], 2, r"host.?bits?")
        self._usage(["client", "manual", "--source", "tcp://127.0.0.1:1", "--target", "0",
                     "--no-such-option"], 2, r"no-such-option")
        self._usage(["server", "manual", "--no-such-option"], 2, r"no-such-option")
        p = self._usage(["--help"], 0, None)
        self.assertRegex(p.stdout_text(), r"server|client", "pt --help says nothing useful")
        p = self._usage(["client", "manual", "--help"], 0, None)
        self.assertIn("--source", p.stdout_text())

    # 11 ------------------------------------------------------------------
    def test_garbage_offer(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        garbage = [
            # not base64 at all
            "-----BEGIN PEERTUNNEL OFFER-----\n!!not*base64@@\n-----END PEERTUNNEL OFFER-----\n",
            # valid base64 of random bytes
            H.armor("OFFER", os.urandom(120)),
            # right magic, bad checksum
            H.armor("OFFER", b"PT\x01\x01" + os.urandom(100)),
            # an answer where an offer is expected
            H.armor("ANSWER", H.with_checksum(b"PT\x01\x02" + os.urandom(60))),
        ]
        start = 0
        for i, g in enumerate(garbage):
            srv.write(g)

            def is_error(line, ev):
                if ev is not None:
                    return ev.get("event") == "error" and bool(ev.get("message"))
                return re.search(r"error|invalid|damaged|corrupt|malformed", line, re.I)
            idx, line, ev = srv.wait_err(is_error, self.deadline.bound(10),
                                         "an error for garbage offer #%d" % i, start)
            start = idx + 1
            self.assertTrue(srv.alive(), "server exited on garbage offer #%d" % i)
        self.assertNotIn("BEGIN PEERTUNNEL ANSWER", srv.stdout_text(),
                         "server answered a garbage offer")
        cli, (addr,) = self.pair(srv, echo.uri)
        self.assert_echo(addr, 256 * 1024)

    # 12 ------------------------------------------------------------------
    def test_sigterm_clean(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        # an open connection while the signal arrives
        s = H.connect(addr, self.deadline)
        try:
            H.send_all(s, b"ping", self.deadline)
            s.settimeout(self.deadline.bound(10))
            self.assertEqual(s.recv(4), b"ping")
            cli.signal(signal.SIGTERM)
            rc = cli.wait_exit(self.deadline.bound(5))
            self.assertEqual(rc, 0, "client exit status %r after SIGTERM" % rc)
        finally:
            s.close()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(self.deadline.bound(5))
        self.assertEqual(rc, 0, "server exit status %r after SIGTERM" % rc)

    def test_sigterm_server_with_session(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        self.assert_echo(addr, 1024)
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(self.deadline.bound(5))
        self.assertEqual(rc, 0, "server exit status %r after SIGTERM with a live session" % rc)
        cli.signal(signal.SIGTERM)
        rc = cli.wait_exit(self.deadline.bound(5))
        self.assertIn(rc, (0, 1), "client exit status %r" % rc)

    def test_server_exits_on_stdin_eof(self):
        """stdin EOF with no session ever: exit 1 (nothing was served); with a
        live session the server keeps serving until that session ends, then
        exits 0."""
        srv = self.server("--allowed-tcp", "127.0.0.1/32", name="server-idle")
        srv.close_stdin()
        rc = srv.wait_exit(self.deadline.bound(5))
        self.assertEqual(rc, 1, "idle server: exit status %r after stdin EOF" % rc)

        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        cli, (addr,) = self.pair(srv, echo.uri)
        srv.close_stdin()
        # the live session must still carry data after the server's stdin ended
        self.assert_echo(addr, 64 * 1024)
        self.assertTrue(srv.alive(), "server exited on stdin EOF with a live session")
        cli.signal(signal.SIGTERM)
        self.assertEqual(cli.wait_exit(self.deadline.bound(5)), 0)
        rc = srv.wait_exit(self.deadline.bound(30))
        self.assertEqual(rc, 0, "server exit status %r after its last session ended" % rc)

    def test_text_mode_ready(self):
        """Without --json the client prints `ready 127.0.0.1:PORT`."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        ice = ["--local-address", "127.0.0.1", "--no-stun"]
        cli = self.client(echo.uri, ice=ice)
        self.join(cli, srv)
        idx, line, ev = cli.wait_err(
            lambda l, e: re.match(r"^ready 127\.0\.0\.1:\d+$", l.strip()) is not None,
            self.deadline.bound(T_READY), "a `ready 127.0.0.1:PORT` line")
        self.assertIsNone(ev)
        self.assertEqual(cli.events, [], "JSON on stderr without --json")
        self.assert_echo(H.split_hostport(line.strip().split()[1]), 64 * 1024)

    # stdin (issue 12, item 7) --------------------------------------------
    def write_bytes(self, proc, data):
        try:
            proc.popen.stdin.write(data)
            proc.popen.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise H.ProcessExited("%s: cannot write to stdin (%s)" % (proc.name, e))

    def test_stdin_invalid_bytes_skipped(self):
        """A byte that is not UTF-8 costs a warning, not the rest of stdin."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        self.write_bytes(srv, b"pasted \xff\xfe junk \x00\n")
        srv.wait_err(lambda l, e: e is not None and "not UTF-8" in e.get("message", ""),
                     self.deadline.bound(10), "a warning about the bytes that are not UTF-8")
        cli, (addr,) = self.pair(srv, echo.uri)
        self.assert_echo(addr, 64 * 1024)
        # the client's reader too: junk before the answer
        cli.signal(signal.SIGTERM)
        self.expect_exit(cli, 10)
        c2 = self.client(echo.uri, name="client-2")
        offer = c2.read_block("OFFER", self.deadline.bound(T_BLOCK))
        srv.write(offer)
        answer = srv.read_block("ANSWER", self.deadline.bound(T_BLOCK))
        self.write_bytes(c2, b"\x80\xc3(\n" + answer.encode())
        (addr2,) = c2.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr2, 64 * 1024)

    def test_stdin_long_line_bounded(self):
        """64 MiB without a newline: memory stays flat, a clear error, and
        the offer after it is still answered."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        chunk = b"A" * MiB
        for _ in range(64):
            self.write_bytes(srv, chunk)
        self.write_bytes(srv, b"\n")
        idx, line, ev = srv.wait_err(
            lambda l, e: e is not None and e.get("event") == "error" and
            "line 1" in e.get("message", ""),
            self.deadline.bound(30), "an error about the long line")
        self.assertIn("67108864 bytes", ev["message"])
        with open("/proc/%d/status" % srv.pid) as f:
            hwm = [l for l in f if l.startswith("VmHWM:")][0]
        kib = int(hwm.split()[1])
        self.assertLess(kib, 48 * 1024, "server peak RSS %d KiB after a 64 MiB line" % kib)
        cli, (addr,) = self.pair(srv, echo.uri)
        self.assert_echo(addr, 64 * 1024)

    def test_stdin_refused_only_offer_exit_status(self):
        """A server whose only offer was refused, then stdin ended: exit 1."""
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        bad = "tcp://10.255.255.1:80"
        cli = self.client(bad, name="client-refused")
        self.join(cli, srv)
        self._assert_refused(cli, srv, bad)
        srv.close_stdin()
        rc = srv.wait_exit(self.deadline.bound(T_EXIT))
        self.assertEqual(rc, 1, "server exit status %r after its only offer was refused" % rc)
        self.assertIn("no session came up", srv.stderr_text())

    def test_stdin_garbage_only_exit_status(self):
        """stdin that held only a damaged offer: the server exits 1."""
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        srv.write("-----BEGIN PEERTUNNEL OFFER-----\n!!\n-----END PEERTUNNEL OFFER-----\n")
        srv.close_stdin()
        rc = srv.wait_exit(self.deadline.bound(T_EXIT))
        self.assertEqual(rc, 1, "server exit status %r after a garbage-only stdin" % rc)

    # process (issue 12, items 13 and 1) ----------------------------------
    def test_process_limits_and_not_dumpable(self):
        """pt raises its soft descriptor limit to the hard one and is not
        dumpable (no core file with the key; /proc/PID is then root's)."""
        uid = os.getuid()
        run_as = 65534 if uid == 0 else uid     # as root: run pt as nobody
        # a soft limit of 256 under a hard one of 4096, then exec pt
        wrapper = [sys.executable, "-c",
                   "import os, resource, sys\n"
                   "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))\n"
                   "if os.getuid() == 0:\n"
                   "    os.setgroups([]); os.setgid(65534); os.setuid(65534)\n"
                   "os.execv(sys.argv[1], sys.argv[1:])\n"]

        p = H.PtProc("server", wrapper + [PT, "server", "manual", *ICE_LOCAL, "--allowed-tcp",
                                          "127.0.0.1/32"], cwd="/")
        self.procs.append(p)
        p.wait_err(lambda l, e: e is not None and "paste" in e.get("message", ""),
                   self.deadline.bound(10), "the server's prompt")
        with open("/proc/%d/limits" % p.pid) as f:
            line = [l for l in f if l.startswith("Max open files")][0]
        self.assertEqual(line.split()[3:5], ["4096", "4096"],
                         "soft descriptor limit not raised: %r" % line)
        owner = os.stat("/proc/%d/fd" % p.pid).st_uid
        self.assertEqual(owner, 0, "pt (uid %d) is dumpable: /proc/PID/fd belongs to uid %d"
                         % (run_as, owner))
        # PT_DUMPABLE=1 keeps it dumpable, for debugging
        q = H.PtProc("server-dumpable", wrapper + [PT, "server", "manual", *ICE_LOCAL], cwd="/",
                     env={"PT_DUMPABLE": "1"})
        self.procs.append(q)
        q.wait_err(lambda l, e: e is not None and "paste" in e.get("message", ""),
                   self.deadline.bound(10), "the server's prompt")
        self.assertEqual(os.stat("/proc/%d/fd" % q.pid).st_uid, run_as)

    # 13 ------------------------------------------------------------------
    def test_config_file(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        file_port = H.free_port()
        path = os.path.join(self.tmp, "client.conf")
        with open(path, "w") as f:
            f.write("[client manual]\n"
                    "source=%s\n"
                    "target=127.0.0.1:%d\n"
                    "no-stun=true\n"
                    "local-address=127.0.0.1\n"
                    "json=true\n" % (echo.uri, file_port))
        # (a) everything from the file
        c1 = self.pt("client-config", "client", "manual", "--config", path)
        self.join(c1, srv)
        (addr,) = c1.wait_ready(self.deadline.bound(T_READY))
        self.assertEqual(addr, ("127.0.0.1", file_port), "target from the file not used")
        self.assertTrue(c1.events_named("ready"), "json=true from the file not honoured")
        self.assert_echo(addr, 64 * 1024)
        # (b) the command line overrides the file's target (c1 still holds the
        # file's port, so using it would fail visibly)
        cli_port = H.free_port()
        c2 = self.pt("client-override", "client", "manual", "--config", path,
                     "--target", "127.0.0.1:%d" % cli_port)
        self.join(c2, srv)
        (addr2,) = c2.wait_ready(self.deadline.bound(T_READY))
        self.assertEqual(addr2, ("127.0.0.1", cli_port),
                         "--target on the command line did not override the file")
        self.assert_echo(addr2, 64 * 1024)

    # ---------------------------------------------------------------------
    def test_demo(self):
        """pt demo (the quick start without a display) pairs a serving and a
        connecting tunnel in one process with real blocks and checks the
        echoed data; a bad --size is a usage error."""
        out = subprocess.run([PT, "demo", "--size", "512"], capture_output=True, text=True,
                             timeout=T_EXIT, stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 0, "pt demo failed:\n" + out.stderr)
        self.assertIn("-----BEGIN PEERTUNNEL OFFER-----", out.stderr, "the offer is not shown")
        self.assertIn("524288 sent, 524288 echoed back, SHA-256 identical", out.stderr)
        bad = subprocess.run([PT, "demo", "--size", "-1"], capture_output=True, text=True,
                             timeout=T_USAGE, stdin=subprocess.DEVNULL)
        self.assertEqual(bad.returncode, 2, "a bad --size must be a usage error")
        self.assertIn("--size", bad.stderr)



# --------------------------------------------------------------------------
# Runner

class Result(unittest.TextTestResult):
    def _dump(self, test):
        logs = test.logs() if hasattr(test, "logs") else ""
        if logs:
            self.stream.write("\n==== process logs for %s ====\n%s" % (test.id(), logs))
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump(test)

    def addError(self, test, err):
        super().addError(test, err)
        self._dump(test)


def _on_signal(signum, frame):
    H.kill_all()
    sys.stderr.write("interrupted by signal %d; children killed\n" % signum)
    os._exit(130)


def main(argv, module=None):
    """Runs the tests of @module (this one by default; the other integration
    files pass theirs) named in @argv, or all of them."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    names = [a for a in argv[1:] if not a.startswith("-")]
    loader = unittest.TestLoader()
    module = module or sys.modules[__name__]
    suite = loader.loadTestsFromNames(names, module) if names else \
        loader.loadTestsFromModule(module)
    sys.stderr.write("pt binary: %s\n" % PT)
    if not os.access(PT, os.X_OK):
        sys.stderr.write("pt binary not found or not executable: %s\n" % PT)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result,
                                    descriptions=False)
    try:
        result = runner.run(suite)
    finally:
        H.kill_all()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
