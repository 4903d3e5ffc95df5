#!/usr/bin/env python3
"""The NAT matrix: `pt` server and client behind every pair of NAT kinds.

For each (server NAT, client NAT) in none/cone/prc/sym x none/cone/prc/sym,
once without and once with a TURN server (STUN is always the lab's coturn),
in manual mode:

  * the server runs in peer A's namespace, the client in peer B's, their
    offer/answer blocks joined through pipes (tests/integration/harness.py);
  * 256 KiB go through the tunnel to an echo service next to the server and
    back, checked with SHA-256;
  * the client's --json state event {"event":"state","state":"up","path":...}
    must report the path kind expected for that cell (see EXPECTED below);
  * time to first byte (answer handed to the client -> first echoed byte)
    must stay under a bound;
  * cells where no path can exist (no TURN, hole punching impossible) must
    fail within a bounded time with an error that names TURN / --turn.

Then one keepalive cell: cone<->cone, tunnel idle for 70 s (router conntrack
UDP timeouts are 30 s), and it must still carry data.

Then one relay-to-direct ("upgrade") cell: prc<->prc with TURN, router A
dropping everything between the two public addresses, so the tunnel comes up
relayed; a TCP stream through it is kept busy (256 KiB/s, SHA-256 on both
ends); after both sides tried the direct path twice in vain, the block is
lifted. Both sides must announce a direct path within T_UPGRADE s, router A
must then forward the stream's packets directly, and the stream opened
before must end with every byte intact.

At the end the matrix is printed as tables (rows: server NAT, columns: client
NAT). Exit status: 0 all cells as expected, 1 otherwise, 77 skipped (prints
"SKIP: reason": not root, no network namespaces, no nftables, no coturn).

Run by hand (as root, after building):

    PT_BUILD_DIR=$PWD/_build python3 tests/natlab/test_natlab.py
    ... --only cone:sym          one pair (both TURN settings)
    ... --only cone:sym:turn     one cell (turn | noturn)
    ... --no-keepalive           skip the 70 s idle cell
    ... --idle 40                idle time of the keepalive cell
    ... --upgrade-only           only the relay-to-direct cell (--no-upgrade: skip it)
    ... --upgrade cone:prc       NAT kinds of that cell (cone/prc; default prc:prc)
    NATLAB_LOGS=1 ...            print every cell's pt output (-v), not only on failure
"""

import argparse
import hashlib
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import natlab  # noqa: E402

H = natlab.harness()
PT = H.pt_binary()

KiB = 1024
DATA_SIZE = 256 * KiB

# Time bounds (seconds). The engine's own connect deadline is 30 s.
T_BLOCK = 15          # an offer / answer block to appear (includes STUN/TURN gathering)
T_UP = 25             # client "up" after it got the answer
T_TTFB_DIRECT = 5     # answer -> first echoed byte, direct path (measured: < 0.5 s)
T_TTFB_RELAY = 8      # same through coturn (measured: < 0.5 s)
T_FAIL = 40           # a hopeless cell: client must have exited with an error by then
T_CELL = 90           # whole cell (except the keepalive one)
IDLE = 70             # keepalive cell: idle time (> conntrack UDP timeout of 30 s)
T_UPGRADE = 20        # upgrade cell: direct path unblocked -> both sides on it
UPGRADE_RATE = 256 * KiB   # upgrade cell: bytes per second pushed through the held stream

DIRECT = ("host", "srflx", "prflx")

# --------------------------------------------------------------------------
# Expectations: (server NAT, client NAT) -> path kinds accepted.
#
# Measured on Debian 12 / libnice 0.1.21 (see README.md for the matrix).
# The path kind is what the client reports: the "highest" of the selected
# pair's local and remote candidate types (host < srflx < prflx < relay).
#
#   none<->none: both public, host<->host.
#   none<->NAT:  the NATed side's srflx (or the prflx its checks reveal) with the
#                public side's host address: direct.
#   cone<->X:    a full cone lets anything in once the inside host has sent from
#                that port: direct with every kind, symmetric included (the
#                symmetric side's packets arrive from a new port -> prflx).
#   prc<->prc, prc<->cone: both map endpoint-independently; each side's
#                outgoing check opens its filter for the other's srflx: direct.
#   prc<->sym, sym<->sym: the symmetric side uses a new port for the peer, which
#                the other side's (port-restricted or symmetric) filter never
#                saw, and the symmetric side's filter only admits the STUN
#                server on its srflx port: no direct path. Relay with TURN,
#                a clean failure without.
NO_DIRECT = {("prc", "sym"), ("sym", "prc"), ("sym", "sym")}

# Exact kinds measured for the pairs that connect directly (the same with and
# without TURN: a working direct pair always wins over the relay). srflx vs
# prflx is not a race here: a port-preserving NAT's checks come from the
# advertised srflx address, a symmetric NAT's from a port nobody advertised,
# which the other side learns as a peer-reflexive candidate.
EXPECTED_DIRECT = {
    ("none", "none"): ("host",),
}
for _a in ("none", "cone", "prc"):
    for _b in ("cone", "prc"):
        EXPECTED_DIRECT[(_a, _b)] = EXPECTED_DIRECT[(_b, _a)] = ("srflx",)
for _a in ("none", "cone"):
    EXPECTED_DIRECT[(_a, "sym")] = EXPECTED_DIRECT[("sym", _a)] = ("prflx",)


def expected(server, client, turn):
    """Tuple of accepted path kinds, or None when the cell must fail."""
    if (server, client) in NO_DIRECT:
        return ("relay",) if turn else None
    return EXPECTED_DIRECT.get((server, client), DIRECT)


# --------------------------------------------------------------------------

class CellFailure(AssertionError):
    pass


class Cell:
    def __init__(self, server, client, turn, idle=0, upgrade=False):
        self.server, self.client, self.turn, self.idle = server, client, turn, idle
        self.upgrade = upgrade
        self.expect = expected(server, client, turn)
        self.ok = False
        self.path = None
        self.setup = None       # answer -> "up"
        self.ttfb = None        # answer -> first echoed byte
        self.elapsed = None     # failure cells: answer -> client exit
        self.gather = None      # client start -> offer printed
        self.server_path = None
        self.message = ""
        self.logs = ""

    @property
    def name(self):
        return "srv=%s cli=%s %s%s%s" % (self.server, self.client,
                                         "turn" if self.turn else "noturn",
                                         " idle %ds" % self.idle if self.idle else "",
                                         " upgrade" if self.upgrade else "")

    def short(self):
        if self.expect is None:
            if self.ok:
                return "xfail %.0fs" % self.elapsed
            return "FAIL*"
        if self.ok:
            return "%s %.1fs" % (self.path, self.ttfb)
        return "FAIL%s" % (" " + self.path if self.path else "")


def spawn(name, argv):
    return H.PtProc(name, argv)


def echo_exchange(ns, addr, data, deadline):
    """Connects from inside @ns, sends @data while reading, half-closes, reads
    to EOF. Returns (received bytes, monotonic time of the first byte)."""
    s = natlab.in_netns(ns, H.connect, addr, deadline)
    try:
        def sender():
            H.send_all(s, data, deadline)
            s.shutdown(socket.SHUT_WR)
        w = H.Worker(sender, name="sender")
        w.start()
        chunks, first = [], None
        while True:
            s.settimeout(max(0.05, deadline.bound(20)))
            try:
                d = s.recv(256 * KiB)
            except socket.timeout:
                raise CellFailure("no echoed data for 20 s after %d bytes"
                                  % sum(map(len, chunks)))
            if not d:
                break
            if first is None:
                first = time.monotonic()
            chunks.append(d)
        w.join_ok(max(1, deadline.bound(10)))
        return b"".join(chunks), first
    finally:
        s.close()


def check_echo(ns, addr, size, deadline):
    data = os.urandom(size)
    got, first = echo_exchange(ns, addr, data, deadline)
    if len(got) != len(data) or H.sha(got) != H.sha(data):
        raise CellFailure("echo of %d bytes came back as %d bytes, SHA-256 %s (expected %s)"
                          % (len(data), len(got), H.sha(got)[:12], H.sha(data)[:12]))
    return first


def error_messages(proc):
    msgs = [ev.get("message", "") for ev in proc.events_named("error")]
    if not msgs:
        msgs = [l for l in proc.stderr_text().splitlines()
                if "error" in l.lower() and not l.startswith("{")]
    return msgs


def lab_health(lab):
    """A line about coturn, for failure reports."""
    c = lab.coturn
    if c is None:
        return ""
    if not c.alive():
        return "--- coturn EXITED (status %r); last log lines:\n%s\n" % (
            c.poll(), "\n".join(c.out_lines[-20:]))
    try:
        ok = natlab.in_netns(lab.ns("inet"), H.stun_binding,
                             (natlab.INET_ADDR, natlab.TURN_PORT), 1.0)
    except Exception as e:  # only a diagnostic
        ok = "probe failed: %r" % e
    return "--- coturn alive, answers STUN: %s; last log lines:\n%s\n" % (
        ok, "\n".join(c.out_lines[-8:]))


def run_cell(lab, cell):
    deadline = H.Deadline(T_CELL + cell.idle)
    procs = []
    echo = None
    ns_a, ns_b = lab.ns("a"), lab.ns("b")
    ice = ["--json", "-v", "--stun-server", lab.stun]
    if cell.turn:
        ice += ["--turn", lab.turn]
    try:
        lab.build_side("a", cell.server)
        lab.build_side("b", cell.client)
        echo = natlab.in_netns(ns_a, H.TcpService, H.echo_handler, "echo")
        srv = spawn("server", ["ip", "netns", "exec", ns_a, PT, "server", "manual"] + ice +
                    ["--allowed-tcp", "127.0.0.1/32"])
        procs.append(srv)
        cli = spawn("client", ["ip", "netns", "exec", ns_b, PT, "client", "manual"] + ice +
                    ["--source", echo.uri, "--target", "127.0.0.1:0"])
        procs.append(cli)
        t_start = time.monotonic()
        offer = cli.read_block("OFFER", deadline.bound(T_BLOCK))
        cell.gather = time.monotonic() - t_start
        srv.write(offer)
        answer = srv.read_block("ANSWER", deadline.bound(T_BLOCK))
        t0 = time.monotonic()
        cli.write(answer)

        if cell.expect is None:
            # Hopeless: the client must give up by itself, in bounded time,
            # and say what to do about it.
            try:
                rc = cli.wait_exit(deadline.bound(T_FAIL))
            except H.TestTimeout:
                raise CellFailure("client still running %ds after the answer (hang?)" % T_FAIL)
            cell.elapsed = time.monotonic() - t0
            ups = [ev for ev in cli.events_named("state") if ev.get("state") == "up"]
            msgs = error_messages(cli)
            cell.message = msgs[-1] if msgs else ""
            if ups:
                cell.path = ups[0].get("path")
                raise CellFailure("expected no path, but the tunnel came up via %r" % cell.path)
            if rc != 1:
                raise CellFailure("client exit status %r, expected 1" % rc)
            if not msgs:
                raise CellFailure("client failed without an error event")
            if "turn" not in cell.message.lower():
                raise CellFailure("error does not tell the user about TURN/--turn: %r"
                                  % cell.message)
            # The server keeps checking by design (its answer stays valid for
            # PT_SIGNAL_FRESH_SECONDS while the user carries it across), so it
            # is not expected to fail yet; it must simply still be running.
            if not srv.alive():
                raise CellFailure("server exited (status %r) while a client failed to connect"
                                  % srv.poll())
            cell.ok = True
            return

        up = cli.wait_event("state", deadline.bound(T_UP), state="up")
        cell.setup = time.monotonic() - t0
        cell.path = up.get("path")
        (addr,) = cli.wait_ready(deadline.bound(10))
        first = check_echo(ns_b, addr, DATA_SIZE, deadline)
        cell.ttfb = first - t0
        sups = [ev for ev in srv.events_named("state") if ev.get("state") == "up"]
        if sups:
            cell.server_path = sups[0].get("path")
        if cell.path not in cell.expect:
            raise CellFailure("path %r, expected %s" % (cell.path, "/".join(cell.expect)))
        bound = T_TTFB_RELAY if cell.path == "relay" else T_TTFB_DIRECT
        if cell.ttfb > bound:
            raise CellFailure("time to first byte %.1fs > %ds" % (cell.ttfb, bound))

        if cell.idle:
            # Hold one connection open across the idle period, too.
            held = natlab.in_netns(ns_b, H.connect, addr, deadline)
            try:
                H.send_all(held, b"before", deadline)
                held.settimeout(deadline.bound(10))
                if held.recv(6) != b"before":
                    raise CellFailure("held connection: no echo before idling")
                timeouts = lab.conntrack_udp_timeouts("a")
                cell.message = "router conntrack %s" % ", ".join(
                    "%s=%s" % (k.replace("nf_conntrack_", ""), v) for k, v in timeouts.items())
                # Sample the routers' UDP counters every second: the longest
                # silence in each direction must stay below the conntrack
                # timeout, or the mapping could have expired (for a cone NAT
                # a re-created mapping keeps its port, so data flowing again
                # alone would not prove that keepalives did their job).
                start = time.monotonic()
                end = start + cell.idle
                last = {k: (lab.udp_counters(k[0])[k[1]], start)
                        for k in (("a", 0), ("a", 1), ("b", 0), ("b", 1))}
                first_counts = {k: v[0] for k, v in last.items()}
                gaps = {k: 0.0 for k in last}
                while True:
                    now = time.monotonic()
                    counts = {"a": lab.udp_counters("a"), "b": lab.udp_counters("b")}
                    for k in last:
                        n = counts[k[0]][k[1]]
                        if n != last[k][0]:
                            last[k] = (n, now)
                        gaps[k] = max(gaps[k], now - last[k][1])
                    for p in procs:
                        if not p.alive():
                            raise CellFailure("%s exited (status %r) while idle"
                                              % (p.name, p.poll()))
                    if now >= end:
                        break
                    time.sleep(min(1.0, max(0.0, end - now)))
                names = {("a", 0): "A out", ("a", 1): "A in", ("b", 0): "B out",
                         ("b", 1): "B in"}
                cell.message += "; while idle, UDP packets/longest silence: " + ", ".join(
                    "%s %d/%.0fs" % (names[k], last[k][0] - first_counts[k], gaps[k])
                    for k in sorted(last))
                worst = max(gaps.values())
                if worst >= natlab.CONNTRACK_UDP_TIMEOUT - 2:
                    raise CellFailure("no UDP packet for %.0fs through a router while idle "
                                      "(conntrack timeout %ds): keepalives missing (%s)"
                                      % (worst, natlab.CONNTRACK_UDP_TIMEOUT, cell.message))
                states = [ev.get("state") for ev in cli.events_named("state")]
                if states[-1] != "up":
                    raise CellFailure("client left the up state while idle: %r" % states)
                t1 = time.monotonic()
                H.send_all(held, b"after", deadline)
                held.settimeout(deadline.bound(15))
                got = b""
                while len(got) < 5:
                    d = held.recv(5 - len(got))
                    if not d:
                        break
                    got += d
                if got != b"after":
                    raise CellFailure("held connection: %r after %ds idle" % (got, cell.idle))
                first = check_echo(ns_b, addr, DATA_SIZE, deadline)
                cell.ttfb = first - t1
            finally:
                held.close()
        cell.ok = True
    except (CellFailure, H.TestTimeout, H.ProcessExited, OSError, natlab.LabError) as e:
        cell.ok = False
        if not cell.message or cell.expect is not None:
            cell.message = str(e)
        else:
            cell.message = "%s (last error: %s)" % (e, cell.message)
        cell.logs = "".join(p.log_tail(60) for p in procs) + lab_health(lab)
    finally:
        if os.environ.get("NATLAB_LOGS") and not cell.logs:
            cell.logs = "".join(p.log_tail(400) for p in procs)
        crashed = [(p.name, p.poll()) for p in procs
                   if p.poll() is not None and p.poll() < 0]
        for p in procs:
            p.kill()
        if echo is not None:
            echo.close()
        if crashed and cell.ok:
            cell.ok = False
            cell.message = "pt died by a signal: %r" % crashed
            cell.logs = "".join(p.log_tail(60) for p in procs)


# --------------------------------------------------------------------------
# Upgrade cell: a relayed start, then the direct path opens mid-tunnel

_KNOCK_ROUND = re.compile(r"^relayed path: knocked .* round (\d+)\)$")
parse_event = H.parse_event


def path_event(line, ev):
    """The path kind a stderr line announces, or None: a state event carrying
    one, or a "path" event (pt prints one when the path changes while up)."""
    if ev is None:
        return None
    if ev.get("event") in ("state", "path") and ev.get("path"):
        return ev.get("path")
    return None


def data_paths(proc):
    """The data paths (libnice, fast) @proc announced so far, in order."""
    return [e.get("data_path") for e in (parse_event(l) for l in list(proc.err_lines))
            if e and e.get("event") == "data-path"]


def wait_path(proc, kinds, timeout, start=0):
    """(stderr index, kind) of the first path announcement in @kinds."""
    idx, line, ev = proc.wait_err(lambda l, e: path_event(l, e) in kinds, timeout,
                                  "a %s path" % "/".join(kinds), start)
    return idx, path_event(line, ev)


class Stream:
    """One TCP connection through the tunnel to the echo service, fed at a
    steady rate by one thread and drained by another, both hashing; records
    when bytes came back, to find the longest stall."""

    CHUNK = 8 * KiB

    def __init__(self, sock, rate, deadline):
        self.sock, self.rate, self.deadline = sock, rate, deadline
        self.sent = self.received = 0
        self.sent_hash, self.received_hash = hashlib.sha256(), hashlib.sha256()
        self.arrivals = []          # (monotonic time, total received)
        self.stop = threading.Event()
        self.error = None
        self.sender = H.Worker(self._send, name="upgrade-sender")
        self.receiver = H.Worker(self._receive, name="upgrade-receiver")

    def start(self):
        self.sender.start()
        self.receiver.start()

    def _send(self):
        interval = self.CHUNK / float(self.rate)
        next_at = time.monotonic()
        while not self.stop.is_set():
            chunk = os.urandom(self.CHUNK)
            self.sent_hash.update(chunk)
            H.send_all(self.sock, chunk, self.deadline)
            self.sent += len(chunk)
            next_at += interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        self.sock.shutdown(socket.SHUT_WR)

    def _receive(self):
        while True:
            self.sock.settimeout(max(0.05, self.deadline.bound(30)))
            d = self.sock.recv(256 * KiB)
            if not d:
                return
            self.received_hash.update(d)
            self.received += len(d)
            self.arrivals.append((time.monotonic(), self.received))

    def wait_received(self, count, timeout):
        limit = time.monotonic() + timeout
        while self.received < count:
            if not self.receiver.is_alive():
                raise CellFailure("held stream closed after %d bytes" % self.received)
            if time.monotonic() > limit:
                raise CellFailure("held stream: %d bytes echoed, expected %d within %.0fs"
                                  % (self.received, count, timeout))
            time.sleep(0.05)

    def finish(self, timeout):
        self.stop.set()
        self.sender.join_ok(timeout)
        self.receiver.join_ok(timeout)

    def longest_stall(self, since):
        """Longest time without echoed bytes after @since."""
        times = [since] + [t for t, _ in self.arrivals if t >= since]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def run_upgrade_cell(lab, cell):
    """Both sides behind port-restricted NATs with TURN; router A drops all
    traffic between the two public addresses, so the tunnel comes up relayed.
    A TCP stream is opened and kept busy; then the direct path is let
    through. Both sides must move to a direct path within T_UPGRADE seconds,
    the data must then cross router A directly, and the stream opened before
    must carry on to the end with every byte intact."""
    deadline = H.Deadline(T_CELL)
    procs = []
    echo = None
    stream = None
    ns_a, ns_b = lab.ns("a"), lab.ns("b")
    ice = ["--json", "-v", "--stun-server", lab.stun, "--turn", lab.turn]
    try:
        lab.build_side("a", cell.server)
        lab.build_side("b", cell.client)
        lab.block_direct("a", "b")
        echo = natlab.in_netns(ns_a, H.TcpService, H.echo_handler, "echo")
        srv = spawn("server", ["ip", "netns", "exec", ns_a, PT, "server", "manual"] + ice +
                    ["--allowed-tcp", "127.0.0.1/32"])
        procs.append(srv)
        cli = spawn("client", ["ip", "netns", "exec", ns_b, PT, "client", "manual"] + ice +
                    ["--source", echo.uri, "--target", "127.0.0.1:0"])
        procs.append(cli)
        t_start = time.monotonic()
        offer = cli.read_block("OFFER", deadline.bound(T_BLOCK))
        cell.gather = time.monotonic() - t_start
        srv.write(offer)
        answer = srv.read_block("ANSWER", deadline.bound(T_BLOCK))
        t0 = time.monotonic()
        cli.write(answer)
        up = cli.wait_event("state", deadline.bound(T_UP), state="up")
        cell.setup = time.monotonic() - t0
        cell.path = up.get("path")
        if cell.path != "relay":
            raise CellFailure("with the direct path blocked the tunnel came up via %r, "
                              "expected relay" % cell.path)
        (addr,) = cli.wait_ready(deadline.bound(10))

        sock = natlab.in_netns(ns_b, H.connect, addr, deadline)
        stream = Stream(sock, UPGRADE_RATE, deadline)
        stream.start()
        stream.wait_received(UPGRADE_RATE, deadline.bound(10))   # ~1 s of data, relayed
        # Let both sides try the direct path in vain first: two rounds each
        # (pt -v logs every round), and the path must still be the relay.
        for p in (cli, srv):
            p.wait_err(lambda l, e: bool(e and e.get("event") == "log" and
                                         _KNOCK_ROUND.match(e.get("message", "")) and
                                         int(_KNOCK_ROUND.match(e["message"]).group(1)) >= 2),
                       deadline.bound(15), "a second round of knocks")
            changes = [k for k in (path_event(l, parse_event(l)) for l in list(p.err_lines))
                       if k is not None]
            if changes[-1] != "relay":
                raise CellFailure("%s left the relay while the direct path was blocked: %r"
                                  % (p.name, changes))
        blocked = lab.direct_counters("a")
        # A side whose own candidate is the relay's keeps libnice; the
        # other may already send straight to that relay from its own socket.
        relayed_paths = "client %s, server %s" % (
            (data_paths(cli) or ["?"])[-1], (data_paths(srv) or ["?"])[-1])
        if "libnice" not in relayed_paths:
            raise CellFailure("relayed, but neither side is on libnice: %s" % relayed_paths)

        cli_mark, srv_mark = len(cli.err_lines), len(srv.err_lines)
        t_unblock = time.monotonic()
        lab.unblock_direct("a", "b")

        # Each side's "path" event, waited for at once (a thread for the
        # server) so that each time is that side's own.
        def switched(proc, mark):
            _, kind = wait_path(proc, DIRECT, T_UPGRADE, mark)
            return kind, time.monotonic() - t_unblock
        srv_wait = H.Worker(switched, srv, srv_mark, name="server-path")
        srv_wait.start()
        cell.path, t_cli = switched(cli, cli_mark)
        cell.server_path, t_srv = srv_wait.join_ok(deadline.bound(T_UPGRADE + 5))
        # On the direct pair, pt's own socket takes over the packets.
        # (A side that sent straight to the other's relay was on it already.)
        for p, mark in ((cli, cli_mark), (srv, srv_mark)):
            if (data_paths(p) or [None])[-1] != "fast":
                p.wait_err(lambda l, e: bool(e and e.get("event") == "data-path" and
                                             e.get("data_path") == "fast"),
                           deadline.bound(5), "the fast data path on the direct pair", mark)

        # Keep the stream busy on the new path for a while, then check that
        # what it carried went directly (router A's counters of traffic
        # between the public addresses, started at the unblock).
        after_switch = stream.received
        stream.wait_received(after_switch + 2 * UPGRADE_RATE, deadline.bound(15))
        direct_out, direct_in = lab.direct_counters("a")
        stream.finish(deadline.bound(20))
        stall = stream.longest_stall(t_unblock)
        if stream.sent != stream.received or \
                stream.sent_hash.hexdigest() != stream.received_hash.hexdigest():
            raise CellFailure("held stream: sent %d bytes, %d came back, SHA-256 %s (expected %s)"
                              % (stream.sent, stream.received,
                                 stream.received_hash.hexdigest()[:12],
                                 stream.sent_hash.hexdigest()[:12]))
        # 2 s of stream at UPGRADE_RATE is ~50 full QUIC packets each way.
        if direct_out < 40 or direct_in < 40:
            raise CellFailure("after the switch router A forwarded only %d/%d packets directly "
                              "to/from the client's public address" % (direct_out, direct_in))
        t1 = time.monotonic()
        first = check_echo(ns_b, addr, DATA_SIZE, deadline)
        cell.ttfb = first - t1
        cell.message = ("blocked: router A dropped %d/%d packets to/from B; unblock -> direct: client %.1fs (%s), "
                        "server %.1fs (%s); held stream %d KiB, SHA-256 ok, longest stall "
                        "after the unblock %.2fs; direct packets out/in %d/%d; data path relayed: %s, "
                        "direct: fast on both"
                        % (blocked[0], blocked[1], t_cli, cell.path, t_srv, cell.server_path,
                           stream.sent // KiB, stall, direct_out, direct_in, relayed_paths))
        cell.ok = True
    except (CellFailure, H.TestTimeout, H.ProcessExited, OSError, natlab.LabError) as e:
        cell.ok = False
        cell.message = str(e)
        cell.logs = "".join(p.log_tail(80) for p in procs) + lab_health(lab)
    finally:
        if os.environ.get("NATLAB_LOGS") and not cell.logs:
            cell.logs = "".join(p.log_tail(400) for p in procs)
        crashed = [(p.name, p.poll()) for p in procs
                   if p.poll() is not None and p.poll() < 0]
        for p in procs:
            p.kill()
        if stream is not None:
            stream.stop.set()
            stream.sock.close()
        if echo is not None:
            echo.close()
        if crashed and cell.ok:
            cell.ok = False
            cell.message = "pt died by a signal: %r" % crashed
            cell.logs = "".join(p.log_tail(60) for p in procs)


# --------------------------------------------------------------------------
# Report

def print_table(cells, turn):
    kinds = natlab.KINDS
    grid = {(c.server, c.client): c for c in cells
            if c.turn == turn and not c.idle and not c.upgrade}
    if not grid:
        return
    w = 14
    print()
    print("%s TURN (STUN: lab coturn). Rows: server NAT; columns: client NAT. "
          "Cell: path kind + time to first byte" % ("WITH" if turn else "WITHOUT"))
    print("%-8s" % "srv\\cli" + "".join("%-*s" % (w, k) for k in kinds))
    for s in kinds:
        row = "%-8s" % s
        for c in kinds:
            cell = grid.get((s, c))
            row += "%-*s" % (w, cell.short() if cell else "-")
        print(row)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[],
                    help="SERVER:CLIENT[:turn|noturn] (repeatable)")
    ap.add_argument("--no-keepalive", action="store_true", help="skip the idle cell")
    ap.add_argument("--keepalive-only", action="store_true", help="only the idle cell")
    ap.add_argument("--idle", type=int, default=IDLE)
    ap.add_argument("--no-upgrade", action="store_true", help="skip the relay-to-direct cell")
    ap.add_argument("--upgrade-only", action="store_true", help="only the relay-to-direct cell")
    ap.add_argument("--upgrade", default="prc:prc", metavar="SERVER:CLIENT",
                    help="NAT kinds of the relay-to-direct cell (default prc:prc)")
    args = ap.parse_args(argv[1:])

    reason = natlab.skip_reason()
    if reason:
        print("SKIP: %s" % reason)
        return natlab.SKIP_EXIT
    if not os.access(PT, os.X_OK):
        print("pt binary not found or not executable: %s" % PT)
        return 1

    stale = natlab.cleanup_stale()
    if stale:
        print("removed stale lab namespaces: %s" % " ".join(stale))
    tmp = tempfile.mkdtemp(prefix="natlab-")
    lab = natlab.Lab(workdir=tmp)

    def on_signal(signum, frame):
        H.kill_all()
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
        sys.stderr.write("interrupted by signal %d; lab torn down\n" % signum)
        os._exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    cells = []
    for s in natlab.KINDS:
        for c in natlab.KINDS:
            for turn in (False, True):
                cells.append(Cell(s, c, turn))
    if args.only:
        wanted = []
        for spec in args.only:
            parts = spec.split(":")
            wanted.append((parts[0], parts[1], None if len(parts) < 3 else parts[2] == "turn"))
        cells = [x for x in cells
                 if any(x.server == s and x.client == c and (t is None or x.turn == t)
                        for s, c, t in wanted)]
    if args.keepalive_only or args.upgrade_only:
        cells = []
    if not args.no_keepalive and not args.upgrade_only:
        cells.append(Cell("cone", "cone", False, idle=args.idle))
    if not args.no_upgrade and not args.keepalive_only:
        up_server, up_client = args.upgrade.split(":")
        if "none" in (up_server, up_client) or "sym" in (up_server, up_client):
            ap.error("--upgrade needs routers with endpoint-independent mapping (cone, prc)")
        cells.append(Cell(up_server, up_client, True, upgrade=True))

    print("pt binary: %s" % PT)
    started = time.monotonic()
    try:
        lab.start()
        lab.start_coturn(spawn)
        for cell in cells:
            t = time.monotonic()
            if cell.upgrade:
                run_upgrade_cell(lab, cell)
            else:
                run_cell(lab, cell)
            status = "ok" if cell.ok else "FAILED"
            print("%-30s %-6s %-58s %5.1fs  %s"
                  % (cell.name, status,
                     ("path=%s (server %s) offer=%.2fs up=%.2fs ttfb=%.2fs"
                      % (cell.path, cell.server_path, cell.gather or 0, cell.setup or 0,
                         cell.ttfb or 0))
                     if cell.ttfb is not None else ("failed after %.1fs" % cell.elapsed
                                                    if cell.elapsed is not None else ""),
                     time.monotonic() - t, cell.message))
            if cell.logs:
                print("==== process logs for %s ====\n%s" % (cell.name, cell.logs))
            sys.stdout.flush()
    finally:
        H.kill_all()
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(cells, False)
    print_table(cells, True)
    for cell in cells:
        if cell.idle:
            print("\nkeepalive: cone<->cone idle %ds: %s%s" % (
                cell.idle, "ok, then first byte after %.2fs" % cell.ttfb if cell.ok else "FAILED",
                " (%s)" % cell.message if cell.message else ""))
    for cell in cells:
        if cell.upgrade:
            print("\nrelay -> direct: %s<->%s with TURN, direct path blocked then let through: %s"
                  % (cell.server, cell.client,
                     ("ok (%s)" % cell.message) if cell.ok else "FAILED"))
    for n in lab.notes:
        print("NOTE: %s" % n)
    failed = [c for c in cells if not c.ok]
    print("\n%d cells, %d as expected, %d failed; %.0fs"
          % (len(cells), len(cells) - len(failed), len(failed), time.monotonic() - started))
    for c in failed:
        print("  FAILED %s: %s" % (c.name, c.message))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
