#!/usr/bin/env python3
"""VPN mode across network namespaces: `pt vpn server` and two `pt vpn client`s.

Topology (namespace names start with "ptvpn<PID>-"):

    hub   bridge br0 10.99.0.1/24, the test Nostr relay (published on :7777)
    srv   10.99.0.2   pt vpn server --network 10.77.0.0/24 (gets 10.77.0.1)
    c1    10.99.0.3   pt vpn client --route 10.78.0.0/16
    c2    10.99.0.4   pt vpn client

Each pt runs in its own network namespace and its own mount namespace with a
private /run/lock (one VPN client per machine is enforced through a lock file
there). The TUN devices come from the real helper (run as root, no pkexec).

Checks: the server and both clients are up with addresses in the network;
pings both ways and client to client; an iperf3 run through the VPN whose
sender and receiver byte counts agree; a packet with a spoofed source is
dropped and counted; a second VPN client on one "machine" is refused, naming
the holder; a client killed and restarted gets its address back; its route
is present while up and gone (with the device) after it stops; the server
restarted, a client reconnects by itself with its device and address; manual
pairing (offer and answer blocks) works too.

Exit status 0 / 1; 77 with "SKIP: reason" without root, namespaces, node and
the relay's packages, iperf3 or ping.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import harness as H  # noqa: E402

PT = H.pt_binary()
BUILD = os.environ.get("PT_BUILD_DIR") or os.path.dirname(os.path.dirname(PT))
HELPER = os.path.join(BUILD, "helper", "peertunnel-tun-helper")
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
RELAY_DIR = os.path.join(SOURCE_DIR, "tests", "relay")
SKIP = 77
PREFIX = "ptvpn%d" % os.getpid()
HUB = "10.99.0.1"
ADDRS = {"srv": "10.99.0.2", "c1": "10.99.0.3", "c2": "10.99.0.4"}
T = 45


def run(argv, check=True, timeout=30, input=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(argv), p.returncode, p.stderr.strip()))
    return p


def ns(name):
    return "%s-%s" % (PREFIX, name)


def nsrun(name, *argv, **kw):
    return run(["ip", "netns", "exec", ns(name)] + list(argv), **kw)


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces and TUN devices)"
    for tool in ("ip", "node", "socat", "iperf3", "ping", "unshare"):
        if shutil.which(tool) is None:
            return "%s is not installed" % tool
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not os.path.isdir(os.path.join(RELAY_DIR, "node_modules", "@nostr-relay")):
        return "tests/relay/node_modules is missing (npm ci --prefix tests/relay)"
    if not os.access(HELPER, os.X_OK):
        return "the TUN helper was not built (%s)" % HELPER
    p = run(["ip", "netns", "add", ns("probe")], check=False)
    if p.returncode != 0:
        return "cannot create network namespaces: %s" % p.stderr.strip()
    run(["ip", "netns", "del", ns("probe")], check=False)
    return None


def build():
    run(["ip", "netns", "add", ns("hub")])
    nsrun("hub", "ip", "link", "add", "br0", "type", "bridge")
    nsrun("hub", "ip", "addr", "add", HUB + "/24", "dev", "br0")
    nsrun("hub", "ip", "link", "set", "br0", "up")
    nsrun("hub", "ip", "link", "set", "lo", "up")
    for name, addr in ADDRS.items():
        run(["ip", "netns", "add", ns(name)])
        run(["ip", "link", "add", "eth0", "netns", ns(name), "type", "veth",
             "peer", "name", "p-" + name, "netns", ns("hub")])
        nsrun(name, "ip", "addr", "add", addr + "/24", "dev", "eth0")
        nsrun(name, "ip", "link", "set", "eth0", "up")
        nsrun(name, "ip", "link", "set", "lo", "up")
        nsrun("hub", "ip", "link", "set", "p-" + name, "master", "br0", "up")
    # veths need a moment for carrier; wait for it rather than guess
    limit = time.monotonic() + 10
    for name in ADDRS:
        while "state UP" not in nsrun(name, "ip", "-o", "link", "show", "eth0").stdout:
            if time.monotonic() > limit:
                raise AssertionError("eth0 in %s did not come up" % name)
            time.sleep(0.05)


def teardown():
    for name in ("hub",) + tuple(ADDRS):
        run(["ip", "netns", "del", ns(name)], check=False)


def in_machine(name, argv):
    """argv inside namespace @name with a private /run/lock (another machine)."""
    script = "mount -t tmpfs tmpfs /run/lock && exec \"$@\""
    return ["ip", "netns", "exec", ns(name), "unshare", "--mount", "--propagation", "private",
            "sh", "-c", script, "sh"] + argv


def keygen(tmp, name):
    path = os.path.join(tmp, name + ".nsec")
    out = run([PT, "keygen", "--output", path])
    return path, out.stdout.strip()


def routes(name):
    return json.loads(nsrun(name, "ip", "-j", "route", "show").stdout or "[]")


def links(name):
    return [l["ifname"] for l in json.loads(nsrun(name, "ip", "-j", "link", "show").stdout)]


def ping(name, dst, src=None):
    argv = ["ping", "-c", "1", "-W", "2"] + (["-I", src] if src else []) + [dst]
    return nsrun(name, *argv, check=False).returncode == 0


def ping_until(name, dst, seconds=10):
    limit = time.monotonic() + seconds
    while time.monotonic() < limit:
        if ping(name, dst):
            return True
    return False


def main():
    reason = skip_reason()
    if reason:
        print("SKIP: %s" % reason)
        return SKIP

    tmp = tempfile.mkdtemp(prefix="pt-vpn-")
    procs = []
    failures = []

    def spawn(name, argv):
        p = H.PtProc(name, argv, env={"PT_TUN_HELPER": HELPER})
        procs.append(p)
        return p

    def check(cond, what):
        print("%s %s" % ("ok  " if cond else "FAIL", what))
        sys.stdout.flush()
        if not cond:
            failures.append(what)
        return cond

    def on_signal(signum, frame):
        H.kill_all()
        teardown()
        os._exit(128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    try:
        build()
        relay = spawn("relay", ["ip", "netns", "exec", ns("hub"), "node",
                                os.path.join(RELAY_DIR, "relay.mjs"), "0"])
        with relay.cond:
            assert relay.cond.wait_for(lambda: any(l.startswith("listening") for l in relay.out_lines),
                                       20), "relay did not start"
            port = next(l.split()[1] for l in relay.out_lines if l.startswith("listening"))
        spawn("socat", ["ip", "netns", "exec", ns("hub"), "socat",
                        "TCP-LISTEN:7777,bind=%s,fork,reuseaddr" % HUB, "TCP:127.0.0.1:%s" % port])
        relay_url = "ws://%s:7777" % HUB

        skey, snpub = keygen(tmp, "server")
        k1, n1 = keygen(tmp, "c1")
        k2, n2 = keygen(tmp, "c2")
        common = ["--json", "--no-stun", "--relay", relay_url]
        server_argv = [PT, "vpn", "server", *common, "--local-address", ADDRS["srv"],
                       "--network", "10.77.0.0/24", "--network6", "fd00:77::/64",
                       "--nsec-file", skey, "--peer-npub", n1, "--peer-npub", n2]
        srv = spawn("server", in_machine("srv", server_argv))
        ev = srv.wait_event("vpn", T)
        check(ev.get("address") == "10.77.0.1/24", "server took 10.77.0.1/24 on %s" % ev.get("ifname"))
        srv.wait_event("relay", T, state="connected")

        def client(name, key, *extra):
            return spawn(name, in_machine(name, [PT, "vpn", "client", *common,
                                                 "--local-address", ADDRS[name],
                                                 "--nsec-file", key, "--peer-npub", snpub,
                                                 *extra]))

        c1 = client("c1", k1, "--route", "10.78.0.0/16")
        c2 = client("c2", k2, "--ipv6")
        e1 = c1.wait_event("vpn", T)
        e2 = c2.wait_event("vpn", T)
        c1.wait_event("ready", T)
        c2.wait_event("ready", T)
        a1 = e1["address"].split("/")[0]
        a2 = e2["address"].split("/")[0]
        check(a1 != a2 and all(a.startswith("10.77.0.") and a not in ("10.77.0.0", "10.77.0.1",
                                                                      "10.77.0.255")
                               for a in (a1, a2)), "clients got %s and %s" % (a1, a2))

        check(ping_until("c1", "10.77.0.1"), "c1 pings the server through the VPN")
        check(ping_until("srv", a1), "the server pings c1")
        check(ping_until("c1", a2), "c1 pings c2 (through the server)")
        check(ping_until("c2", a1), "c2 pings c1")

        check((e2.get("address6") or "").startswith("fd00:77::") and
              e2["address6"].endswith("/64") and e2["address6"] != "fd00:77::1/64",
              "c2 (--ipv6) got an IPv6 address too: %s" % e2.get("address6"))
        check("address6" not in e1, "c1 (no --ipv6) got none")
        limit = time.monotonic() + 10
        ok6 = False
        while time.monotonic() < limit and not ok6:
            ok6 = nsrun("c2", "ping", "-6", "-c", "1", "-W", "2", "fd00:77::1",
                        check=False).returncode == 0
        check(ok6, "c2 pings the server over IPv6")

        r1 = routes("c1")
        check(any(r.get("dst") == "10.78.0.0/16" and r.get("dev") == e1["ifname"] for r in r1),
              "c1's --route 10.78.0.0/16 goes through %s" % e1["ifname"])

        # iperf3 through the VPN, sender and receiver counts checked
        iperf_srv = spawn("iperf3-server", ["ip", "netns", "exec", ns("srv"), "iperf3", "-s",
                                            "-B", "10.77.0.1", "-1", "-J"])
        result = None
        last_error = None
        limit = time.monotonic() + 20
        while time.monotonic() < limit:
            # Until the server listens, iperf3 reports "connection refused".
            p = nsrun("c1", "iperf3", "-c", "10.77.0.1", "-t", "3", "-J", check=False, timeout=40)
            try:
                parsed = json.loads(p.stdout)
            except ValueError:
                parsed = {}
            if "sum_sent" in parsed.get("end", {}) and "sum_received" in parsed["end"]:
                result = parsed
                break
            last_error = parsed.get("error") or p.stderr.strip()
            time.sleep(0.3)
        if check(result is not None, "iperf3 ran through the VPN (%s)" % (last_error or "ok")):
            sent = result["end"]["sum_sent"]["bytes"]
            recv = result["end"]["sum_received"]["bytes"]
            mbps = result["end"]["sum_received"]["bits_per_second"] / 1e6
            # The sender counts what it wrote, the receiver what arrived:
            # the difference is what was in flight when the clock stopped.
            check(recv > 0 and 0.9 * sent <= recv <= sent,
                  "iperf3: %d bytes sent, %d received (%.0f Mbit/s)" % (sent, recv, mbps))
            check(result["end"]["sum_sent"].get("retransmits", 0) >= 0 and "error" not in result,
                  "iperf3 reported no error")
        iperf_srv.kill()

        # a spoofed source: c1 sends from an address that is not its own
        nsrun("c1", "ip", "addr", "add", "10.77.0.99/32", "dev", "lo")
        check(not ping("c1", "10.77.0.1", src="10.77.0.99"),
              "a ping from a spoofed source gets no answer")
        check(ping("c1", "10.77.0.1"), "c1's own address still works")

        # one VPN client per machine: a second one on the same "machine" is
        # refused, naming the first (which waits on an unreachable relay)
        script = ("mount -t tmpfs tmpfs /run/lock || exit 3; "
                  "\"$0\" vpn client --peer-npub \"$1\" --relay ws://127.0.0.1:9 --no-stun "
                  "2>/dev/null & "
                  "while ! grep -q pid /run/lock/peertunnel-vpn-client.lock 2>/dev/null; do "
                  "  kill -0 $! 2>/dev/null || exit 4; sleep 0.05; done; "
                  "\"$0\" vpn client --peer-npub \"$1\" --relay ws://127.0.0.1:9 --no-stun; "
                  "echo second=$?; kill $!")
        p = run(["ip", "netns", "exec", ns("c2"), "unshare", "--mount", "--propagation",
                 "private", "sh", "-c", script, PT, snpub], check=False, timeout=40)
        check("second=1" in p.stdout and "another VPN client is running on this machine (pid"
              in p.stderr, "a second VPN client on one machine is refused, naming the first "
              "(%r)" % p.stderr.strip().splitlines()[-1:])

        # c1 killed and restarted: same address; route gone with the device
        c1.kill()
        limit = time.monotonic() + 10
        while e1["ifname"] in links("c1") and time.monotonic() < limit:
            time.sleep(0.1)
        check(e1["ifname"] not in links("c1"), "c1's device is gone once it died")
        check(not any(r.get("dst") == "10.78.0.0/16" for r in routes("c1")),
              "c1's route is gone with it")
        c1b = client("c1", k1, "--route", "10.78.0.0/16")
        e1b = c1b.wait_event("vpn", T)
        c1b.wait_event("ready", T)
        check(e1b["address"].split("/")[0] == a1, "restarted c1 got %s back" % a1)
        check(ping_until("c1", "10.77.0.1", 20), "restarted c1 reaches the server")

        # clean stops: SIGTERM; the server reports what it dropped
        c1b.signal(signal.SIGTERM)
        rc = c1b.wait_exit(15)
        check(rc == 0, "c1 stops cleanly on SIGTERM (exit %r)" % rc)
        srv.signal(signal.SIGTERM)
        check(srv.wait_exit(15) == 0, "the server stops cleanly on SIGTERM")
        stats = srv.events_named("vpn-stats")
        check(stats and int(stats[-1].get("spoofed_dropped", 0)) >= 1,
              "the server counted the spoofed packet(s): %s" % (stats[-1] if stats else None))

        # the server comes back: c2 reconnects by itself and keeps its device
        # and address
        srv = spawn("server-2", in_machine("srv", server_argv))
        srv.wait_event("vpn", T)
        retry = c2.wait_err(lambda l, e: e is not None and e.get("event") == "retry", 30, "retry")
        c2.wait_err(lambda l, e: e is not None and e.get("event") == "state"
                    and e.get("state") == "up", 60, "c2's tunnel up again", start=retry[0])
        check(e2["ifname"] in links("c2"), "c2 kept its device %s across the outage" % e2["ifname"])
        check(ping_until("c2", "10.77.0.1", 20), "c2 reaches the restarted server from %s" % a2)
        check(ping_until("srv", a2, 20), "the restarted server reaches c2 at the same address")
        c2.signal(signal.SIGTERM)
        check(c2.wait_exit(15) == 0, "c2 stops cleanly")
        srv.signal(signal.SIGTERM)
        srv.wait_exit(15)

        # manual pairing: the offer and answer blocks carried by the test
        msrv = spawn("manual-server", in_machine("srv", [PT, "vpn", "server", "--manual", "--json",
                                                        "--no-stun", "--local-address", ADDRS["srv"],
                                                        "--network", "10.88.0.0/24"]))
        msrv.wait_event("vpn", T)
        mcli = spawn("manual-client", in_machine("c1", [PT, "vpn", "client", "--manual", "--json",
                                                       "--no-stun", "--local-address", ADDRS["c1"]]))
        msrv.write(mcli.read_block("OFFER", 20))
        mcli.write(msrv.read_block("ANSWER", 20))
        ev = mcli.wait_event("vpn", T)
        mcli.wait_event("ready", T)
        check(ev["address"].startswith("10.88.0.") and ev["address"].endswith("/24"),
              "manual pairing: client got %s" % ev["address"])
        check(ping_until("c1", "10.88.0.1"), "manual pairing: the client pings the server")
        mcli.signal(signal.SIGTERM)
        check(mcli.wait_exit(15) == 0, "manual client stops cleanly")
        msrv.signal(signal.SIGTERM)
        check(msrv.wait_exit(15) == 0, "manual server stops cleanly")

        # not root, but holding CAP_NET_ADMIN (a service with
        # AmbientCapabilities=): the device comes without pkexec. This
        # machine's /dev/net/tun may be root-only: a 0666 node of our own is
        # bound over it in a private mount namespace, as on stock Debian.
        if shutil.which("setpriv") is None:
            print("SKIP: CAP_NET_ADMIN check: setpriv is not installed")
        else:
            share = tempfile.mkdtemp(prefix="pt-vpn-cap-")
            os.chmod(share, 0o755)
            for src, name in ((PT, "pt"), (HELPER, "helper")):
                shutil.copy(src, os.path.join(share, name))
                os.chmod(os.path.join(share, name), 0o755)
            script = ('d=$(mktemp -d) && mount -t tmpfs tmpfs "$d" && '
                      'mknod -m 666 "$d/tun" c 10 200 && mount --bind "$d/tun" /dev/net/tun && '
                      'exec ip netns exec "$0" setpriv --reuid=nobody --regid=nogroup '
                      '--clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin '
                      'env PT_TUN_HELPER="$1/helper" "$1/pt" vpn server --manual --json '
                      '--no-stun --network 10.66.0.0/24')
            p = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                     ns("srv"), share], check=False, timeout=30, input="")
            shutil.rmtree(share, ignore_errors=True)
            check('"event":"vpn"' in p.stderr and '"address":"10.66.0.1/24"' in p.stderr,
                  "without root, with CAP_NET_ADMIN: the device is made without pkexec (%r)"
                  % p.stderr.strip().splitlines()[:1])
    except (AssertionError, KeyError, ValueError, H.TestTimeout, H.ProcessExited) as e:
        failures.append(str(e))
        print("FAIL %s" % e)
        for p in procs:
            print(p.log_tail(30))
    finally:
        H.kill_all()
        teardown()
        shutil.rmtree(tmp, ignore_errors=True)

    print("\n%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
