#!/usr/bin/env python3
"""Soak: connections open and close all the time through one tunnel.

One manual-mode tunnel carries, for PT_SOAK_SECONDS (default 600):

  * PT_SOAK_WORKERS (default 3) threads, each opening TCP connection after
    TCP connection (up to PT_SOAK_RATE a second each, default 40; 0 = as
    fast as they go) to an echo service: 1 B .. 64 KiB of random bytes, a
    half-close, the echo read to EOF and compared by SHA-256 — every one;
  * one UDP thread sending numbered datagrams (16 .. 1200 bytes) to a UDP
    echo, from a new source port (a new flow) every 15 s; every reply must
    equal a datagram sent, and at least 90 % must come back.

Every PT_SOAK_SAMPLE_SECONDS (default 10) the RSS (/proc/PID/status VmRSS)
and descriptor count (/proc/PID/fd; PT_DUMPABLE=1 makes it readable) of
both pt processes are sampled; the curve is printed as a table. After a
warm-up (20 % of the run, at most 60 s) RSS may grow by less than 8 MiB or
20 %, whichever is more; descriptors stay within a band set by the
connections in flight, and return to their baseline (+ the UDP flows not
yet expired) once the load stops. Neither side may report an error.

Run by hand: PT_SOAK_SECONDS=120 PT_BUILD_DIR=$PWD/_build python3 tests/chaos/test_soak.py
"""

import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos as C  # noqa: E402

H, TM = C.H, C.TM

SECONDS = int(os.environ.get("PT_SOAK_SECONDS", "600"))
WORKERS = int(os.environ.get("PT_SOAK_WORKERS", "3"))
RATE = float(os.environ.get("PT_SOAK_RATE", "40"))     # connections/s per worker; 0: no limit
SAMPLE = float(os.environ.get("PT_SOAK_SAMPLE_SECONDS", "10"))
WARMUP = min(60.0, 0.2 * SECONDS)
UDP_FLOW_SECONDS = 15
UDP_INTERVAL = 0.02
RSS_SLACK_KIB = 8 * 1024
RSS_SLACK_RATIO = 0.20
FD_SLACK = 4


class TestSoak(TM.Base):
    test_seconds = SECONDS + 150

    def test_soak(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        uecho = self.udp_echo()
        srv = self.server("--allowed-tcp", "127.0.0.1/32", "--allowed-udp", "127.0.0.1/32")
        srv.wait_event("info", self.deadline.bound(10))
        cli, (taddr, uaddr) = self.pair(srv, [echo.uri, uecho.uri])
        procs = (("server", srv), ("client", cli))
        # One connection first, so that what exists once per tunnel exists.
        self.assert_echo(taddr, 1024)
        base_fd = {n: C.fd_count(p.pid) for n, p in procs}

        stop = threading.Event()
        lock = threading.Lock()
        stats = {"tcp": 0, "tcp_bytes": 0, "tcp_fail": [], "udp_sent": 0, "udp_back": 0,
                 "udp_bad": 0, "udp_flows": 0}

        def tcp_worker(k):
            rng = random.Random(k)
            started = time.monotonic()
            n = 0
            while not stop.is_set():
                if RATE > 0:
                    due = started + n / RATE
                    if due > time.monotonic():
                        stop.wait(due - time.monotonic())        # pacing only
                        continue
                n += 1
                data = os.urandom(rng.choice((1, 100, 1500, 4096, 16384, 65536,
                                              rng.randint(1, 65536))))
                try:
                    got = H.exchange(taddr, data, H.Deadline(30))
                    ok = got == data and H.sha(got) == H.sha(data)
                    err = None if ok else "%d bytes sent, %d back, SHA-256 %s" % (
                        len(data), len(got), "differs" if got != data else "equal")
                except Exception as e:        # every failure counts, none hides
                    err = "%s: %s" % (type(e).__name__, e)
                with lock:
                    if err is None:
                        stats["tcp"] += 1
                        stats["tcp_bytes"] += len(data)
                    else:
                        stats["tcp_fail"].append(err)
                if err is not None and len(stats["tcp_fail"]) > 20:
                    return

        def udp_worker():
            seq = 0
            rng = random.Random(99)
            while not stop.is_set():
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(0.5)
                with lock:
                    stats["udp_flows"] += 1
                sent = {}
                flow_end = time.monotonic() + UDP_FLOW_SECONDS
                try:
                    while not stop.is_set() and time.monotonic() < flow_end:
                        seq += 1
                        body = struct.pack("!Q", seq) + os.urandom(rng.randint(8, 1192))
                        sent[seq] = body
                        sock.sendto(body, uaddr)
                        with lock:
                            stats["udp_sent"] += 1
                        try:
                            d, peer = sock.recvfrom(2048)
                        except socket.timeout:
                            continue
                        good = len(d) >= 8 and sent.get(struct.unpack("!Q", d[:8])[0]) == d
                        with lock:
                            stats["udp_back" if good else "udp_bad"] += 1
                        stop.wait(UDP_INTERVAL)         # pacing only
                finally:
                    sock.close()

        samples = []        # (t, server rss, server fds, client rss, client fds, tcp count)

        def sample(t):
            with lock:
                n = stats["tcp"]
            samples.append((t, C.rss_kib(srv.pid), C.fd_count(srv.pid),
                            C.rss_kib(cli.pid), C.fd_count(cli.pid), n))

        workers = [H.Worker(tcp_worker, k, name="tcp-%d" % k) for k in range(WORKERS)]
        workers.append(H.Worker(udp_worker, name="udp"))
        t0 = time.monotonic()
        sample(0.0)
        for w in workers:
            w.start()
        try:
            next_at = t0 + SAMPLE
            while True:
                now = time.monotonic()
                if now - t0 >= SECONDS:
                    break
                self.assertTrue(srv.alive() and cli.alive(), "a pt process died during the soak")
                with lock:
                    if len(stats["tcp_fail"]) > 20:
                        break
                stop.wait(max(0.0, min(next_at, t0 + SECONDS) - now))   # the sampling clock
                if time.monotonic() >= next_at:
                    sample(time.monotonic() - t0)
                    next_at += SAMPLE
        finally:
            stop.set()
            for w in workers:
                w.join_ok(self.deadline.bound(60))
        elapsed = time.monotonic() - t0
        sample(elapsed)

        # Load gone: descriptors back to the baseline (UDP flows expire after 60 s
        # of silence; those of the last minute may still be there).
        udp_left = 60 // UDP_FLOW_SECONDS + 1
        settle = {}
        for n, p in procs:
            bound = base_fd[n] + FD_SLACK + (udp_left if n == "server" else 0)
            settle[n] = C.wait_until(
                lambda: (lambda c: c if c is not None and c <= bound else None)(C.fd_count(p.pid)),
                self.deadline.bound(15), "%s back to <= %d descriptors (baseline %d, now %r)"
                % (n, bound, base_fd[n], C.fd_count(p.pid)), interval=0.2)
        sample(time.monotonic() - t0)

        # The curve.
        print("\nsoak: %d s, %d TCP workers, %d connections (%.1f/s, %.1f MiB), "
              "%d UDP flows, %d/%d datagrams back, %d bad"
              % (elapsed, WORKERS, stats["tcp"], stats["tcp"] / elapsed,
                 stats["tcp_bytes"] / C.MiB, stats["udp_flows"], stats["udp_back"],
                 stats["udp_sent"], stats["udp_bad"]))
        print("%7s  %12s %8s  %12s %8s  %8s" % ("t (s)", "server RSS", "fds",
                                                 "client RSS", "fds", "conns"))
        for t, srss, sfd, crss, cfd, n in samples:
            print("%7.0f  %8.1f MiB %8s  %8.1f MiB %8s  %8d"
                  % (t, (srss or 0) / 1024, sfd, (crss or 0) / 1024, cfd, n))
        print("descriptors: baseline server %d, client %d; after the load %d, %d"
              % (base_fd["server"], base_fd["client"], settle["server"], settle["client"]))
        sys.stdout.flush()

        # Verdicts.
        self.assertEqual(stats["tcp_fail"], [], "TCP connections failed or came back changed")
        self.assertGreater(stats["tcp"], SECONDS, "fewer than one connection per second")
        self.assertEqual(stats["udp_bad"], 0, "UDP replies that match no datagram sent")
        self.assertGreaterEqual(stats["udp_back"], int(0.9 * stats["udp_sent"]),
                                "fewer than 90 %% of the UDP datagrams came back")
        for p in (srv, cli):
            self.assertEqual(p.events_named("error"), [], "%s reported errors" % p.name)
        late = [s for s in samples if s[0] >= WARMUP]
        self.assertGreaterEqual(len(late), 2, "too few samples after the warm-up")
        for name, col_rss, col_fd in (("server", 1, 2), ("client", 3, 4)):
            ref = late[0][col_rss]
            peak = max(s[col_rss] for s in late)
            allowed = max(RSS_SLACK_KIB, RSS_SLACK_RATIO * ref)
            self.assertLess(peak - ref, allowed,
                            "%s RSS grew by %d KiB after the warm-up (from %d KiB; allowed %d)"
                            % (name, peak - ref, ref, allowed))
            fds = [s[col_fd] for s in late]
            band = 2 * WORKERS + FD_SLACK + (udp_left if name == "server" else 0)
            self.assertLessEqual(max(fds) - base_fd[name], band,
                                 "%s descriptors rose to %d (baseline %d, band %d)"
                                 % (name, max(fds), base_fd[name], band))


if __name__ == "__main__":
    sys.exit(C.main(sys.argv, sys.modules[__name__]))
