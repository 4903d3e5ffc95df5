#!/usr/bin/env python3
"""The NAT lab matrix in Nostr mode: `pt server nostr` and `pt client nostr`
behind every pair of NAT kinds, with and without TURN, pairing through a real
Nostr relay (tests/relay/relay.mjs) on the lab's "public internet".

The lab is tests/natlab/natlab.py's (see README.md). The relay runs in the
internet namespace on loopback, published on 198.51.100.1:7777 by socat, so
both peers reach it through their NAT like a public relay. Each cell starts a
server and a client with long-term keys, waits for the client's tunnel, moves
checksummed bytes and checks the path kind against the same expectations as
the manual-mode matrix (test_natlab.expected). Hopeless cells (symmetric vs
port-restricted or symmetric, no TURN) must fail within a bounded time with an
error that mentions TURN.

Exit status: 0 all cells as expected, 1 otherwise, 77 skipped (prints
"SKIP: reason": not root, no namespaces, no nftables, no coturn, no node or no
tests/relay/node_modules, no socat).

Run by hand (as root, after building):

    PT_BUILD_DIR=$PWD/_build python3 tests/natlab/test_natlab_nostr.py [--only cone:sym[:turn]]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import natlab  # noqa: E402
import test_natlab as T  # noqa: E402

H = natlab.harness()
PT = H.pt_binary()
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
RELAY_DIR = os.path.join(SOURCE_DIR, "tests", "relay")
RELAY_PORT = 7777
RELAY_URL = "ws://%s:%d" % (natlab.INET_ADDR, RELAY_PORT)

T_READY = 30          # client start -> ready (gathering + relay round trip + ICE)
T_FAIL = 60           # hopeless cell: client gone, with an error, by then
T_TTFB = 15           # client start -> first echoed byte
DATA = 256 * 1024


def skip_reason():
    reason = natlab.skip_reason()
    if reason:
        return reason
    if shutil.which("node") is None:
        return "node is not installed (./scripts/setup test installs it)"
    if not os.path.isdir(os.path.join(RELAY_DIR, "node_modules", "@nostr-relay")):
        return "tests/relay/node_modules is missing (npm ci --prefix tests/relay)"
    if shutil.which("socat") is None:
        return "socat is not installed"
    return None


class Cell:
    def __init__(self, server, client, turn):
        self.server, self.client, self.turn = server, client, turn
        self.expect = T.expected(server, client, turn)
        self.ok = False
        self.path = None
        self.ready = None      # client start -> ready
        self.ttfb = None       # client start -> first echoed byte
        self.elapsed = None    # hopeless cells: client start -> exit
        self.message = ""
        self.logs = ""

    @property
    def name(self):
        return "nostr srv=%s cli=%s %s" % (self.server, self.client,
                                          "turn" if self.turn else "noturn")

    def short(self):
        if self.expect is None:
            return "xfail %.0fs" % self.elapsed if self.ok else "FAIL*"
        if self.ok:
            return "%s %.1fs" % (self.path, self.ttfb)
        return "FAIL%s" % (" " + self.path if self.path else "")


def keygen(tmp, name):
    path = os.path.join(tmp, name + ".nsec")
    out = subprocess.run([PT, "keygen", "--output", path], capture_output=True, text=True,
                         timeout=10, check=True)
    return path, out.stdout.strip()


def run_cell(lab, cell, keys):
    deadline = H.Deadline(T_FAIL + 60)
    procs = []
    ns_a, ns_b = lab.ns("a"), lab.ns("b")
    (skey, snpub), (ckey, cnpub) = keys
    common = ["--json", "-v", "--stun-server", lab.stun, "--relay", RELAY_URL]
    if cell.turn:
        common += ["--turn", lab.turn]
    echo = None
    try:
        lab.build_side("a", cell.server)
        lab.build_side("b", cell.client)
        echo = natlab.in_netns(ns_a, H.TcpService, H.echo_handler, "echo")
        srv = T.spawn("server", ["ip", "netns", "exec", ns_a, PT, "server", "nostr"] + common +
                      ["--nsec-file", skey, "--peer-npub", cnpub,
                       "--allowed-tcp", "127.0.0.1/32"])
        procs.append(srv)
        srv.wait_event("relay", deadline.bound(20), state="connected")

        t0 = time.monotonic()
        cli = T.spawn("client", ["ip", "netns", "exec", ns_b, PT, "client", "nostr"] + common +
                      ["--nsec-file", ckey, "--peer-npub", snpub, "--no-reconnect",
                       "--source", echo.uri, "--target", "127.0.0.1:0"])
        procs.append(cli)

        if cell.expect is None:
            try:
                rc = cli.wait_exit(deadline.bound(T_FAIL))
            except H.TestTimeout:
                raise T.CellFailure("client still running %ds after it started (hang?)" % T_FAIL)
            cell.elapsed = time.monotonic() - t0
            msgs = T.error_messages(cli)
            cell.message = msgs[-1] if msgs else ""
            if cli.has_ready():
                raise T.CellFailure("expected no path, but the client got ready")
            if rc != 1:
                raise T.CellFailure("client exit status %r, expected 1" % rc)
            if "turn" not in cell.message.lower():
                raise T.CellFailure("error does not tell the user about TURN: %r" % cell.message)
            if not srv.alive():
                raise T.CellFailure("server exited (status %r)" % srv.poll())
            cell.ok = True
            return

        (addr,) = cli.wait_ready(deadline.bound(T_READY))
        cell.ready = time.monotonic() - t0
        ups = [ev for ev in cli.events_named("state") if ev.get("state") == "up"]
        cell.path = ups[-1].get("path") if ups else None
        first = T.check_echo(ns_b, addr, DATA, deadline)
        cell.ttfb = first - t0
        if cell.path not in cell.expect:
            raise T.CellFailure("path %r, expected %s" % (cell.path, "/".join(cell.expect)))
        if cell.ttfb > T_TTFB:
            raise T.CellFailure("time from client start to first byte %.1fs > %ds"
                                % (cell.ttfb, T_TTFB))
        for p in procs:
            if not p.alive():
                raise T.CellFailure("%s exited (status %r)" % (p.name, p.poll()))
        cell.ok = True
    except (T.CellFailure, H.TestTimeout, H.ProcessExited, natlab.LabError) as e:
        cell.message = str(e)
        cell.logs = "".join(p.log_tail(60) for p in procs) + T.lab_health(lab)
    finally:
        for p in procs:
            p.kill()
        if echo is not None:
            echo.close()


def print_table(cells, turn):
    kinds = natlab.KINDS
    w = 16
    print()
    print("Nostr mode, %s TURN. Rows: server NAT; columns: client NAT. "
          "Path kind and client start -> first byte." % ("with" if turn else "without"))
    print("%-8s" % "srv\\cli" + "".join("%-*s" % (w, k) for k in kinds))
    for s in kinds:
        row = "%-8s" % s
        for c in kinds:
            cell = next((x for x in cells if (x.server, x.client, x.turn) == (s, c, turn)), None)
            row += "%-*s" % (w, cell.short() if cell else "-")
        print(row)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", action="append", default=[],
                    help="SERVER:CLIENT[:turn|noturn] (repeatable)")
    args = ap.parse_args(argv[1:])

    reason = skip_reason()
    if reason:
        print("SKIP: %s" % reason)
        return natlab.SKIP_EXIT
    if not os.access(PT, os.X_OK):
        print("pt binary not found or not executable: %s" % PT)
        return 1

    natlab.cleanup_stale()
    tmp = tempfile.mkdtemp(prefix="natlab-nostr-")
    lab = natlab.Lab(workdir=tmp)

    def on_signal(signum, frame):
        H.kill_all()
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)
        sys.stderr.write("interrupted by signal %d; lab torn down\n" % signum)
        os._exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    cells = [Cell(s, c, turn) for s in natlab.KINDS for c in natlab.KINDS
             for turn in (False, True)]
    if args.only:
        wanted = []
        for spec in args.only:
            parts = spec.split(":")
            wanted.append((parts[0], parts[1], None if len(parts) < 3 else parts[2] == "turn"))
        cells = [x for x in cells
                 if any(x.server == s and x.client == c and (t is None or x.turn == t)
                        for s, c, t in wanted)]

    print("pt binary: %s" % PT)
    started = time.monotonic()
    try:
        keys = (keygen(tmp, "server"), keygen(tmp, "client"))
        lab.start()
        lab.start_coturn(T.spawn)
        inet = lab.ns("inet")
        relay = T.spawn("relay", ["ip", "netns", "exec", inet, "node",
                                  os.path.join(RELAY_DIR, "relay.mjs"), "0"])
        limit = time.monotonic() + 20
        with relay.cond:
            if not relay.cond.wait_for(
                    lambda: any(l.startswith("listening ") for l in relay.out_lines)
                    or relay.out_eof, max(0.1, limit - time.monotonic())):
                raise natlab.LabError("the relay did not start")
            port = next(l.split()[1] for l in relay.out_lines if l.startswith("listening "))
        T.spawn("relay-socat", ["ip", "netns", "exec", inet, "socat",
                                "TCP-LISTEN:%d,bind=%s,fork,reuseaddr" % (RELAY_PORT, natlab.INET_ADDR),
                                "TCP:127.0.0.1:%s" % port])
        for cell in cells:
            t = time.monotonic()
            run_cell(lab, cell, keys)
            print("%-36s %-6s %-40s %5.1fs  %s"
                  % (cell.name, "ok" if cell.ok else "FAILED",
                     ("path=%s ready=%.2fs ttfb=%.2fs" % (cell.path, cell.ready, cell.ttfb))
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
    failed = [c for c in cells if not c.ok]
    print("\n%d cells, %d as expected, %d failed; %.0fs"
          % (len(cells), len(cells) - len(failed), len(failed), time.monotonic() - started))
    for c in failed:
        print("  FAILED %s: %s" % (c.name, c.message))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
