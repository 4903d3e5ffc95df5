#!/usr/bin/env python3
"""VPN mode across network namespaces: `pt vpn server` and two `pt vpn client`s.

Topology (namespace names start with "ptvpn<PID>-"):

    hub   bridge br0 10.99.0.1/24, the test Nostr relay (published on :7777)
    srv   10.99.0.2   pt vpn server --network 10.77.0.0/24 (gets 10.77.0.1)
    c1    10.99.0.3   pt vpn client --route 10.78.0.0/16
    c2    10.99.0.4   pt vpn client

Each pt runs in its own network namespace and its own mount namespace, with
its own $XDG_RUNTIME_DIR (one VPN client per user: the lock lives there), a
private /run/systemd/resolve and a fake `resolvectl` on PATH that logs what it
is asked. The TUN devices come from the real helper (run as root, no pkexec).

Checks: the server and both clients are up with addresses in the network;
pings both ways and client to client; an iperf3 run through the VPN whose
sender and receiver byte counts agree; a packet with a spoofed source is
dropped and counted; a second VPN client of one user is refused, naming
the holder; a client killed and restarted gets its address back; its route
is present while up and gone (with the device) after it stops; the server
restarted, a client reconnects by itself with its device and address; manual
pairing (offer and answer blocks) works too, and so do the app's VPN
profiles (serving and connecting) run by `pt up`. Pushed resolvers go to
resolvectl only with --accept-dns (routing domain "~.") or --dns-domain
("~DOMAIN"), never otherwise. A server pushing 192.168.1.128/25 to a client
whose LAN is 192.168.1.0/24 is refused, naming both and the device, and nothing
is left (no device, no route); with --allow-overlap it works. The lock: a
second client of one user is refused, naming the first; another user's client
is not; a lock file another user made (at the old shared path, or in the
user's own directory) does not keep anyone out.

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


MACHINES = None   # the directory holding each "machine"'s runtime dir and fake tools

FAKE_RESOLVECTL = """#!/bin/sh
echo "$*" >> "$PT_TEST_RESOLVECTL_LOG"
"""


def machine_dir(name):
    path = os.path.join(MACHINES, name)
    if not os.path.isdir(path):
        os.makedirs(os.path.join(path, "run"), mode=0o700)
        os.chmod(os.path.join(path, "run"), 0o700)
        os.makedirs(os.path.join(path, "bin"))
        tool = os.path.join(path, "bin", "resolvectl")
        with open(tool, "w") as f:
            f.write(FAKE_RESOLVECTL)
        os.chmod(tool, 0o755)
    return path


def resolvectl_log(name):
    try:
        with open(os.path.join(machine_dir(name), "resolvectl.log")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def in_machine(name, argv):
    """argv inside namespace @name with its own runtime directory, /run/lock and
    /run/systemd (another machine), and the fake resolvectl first on PATH."""
    d = machine_dir(name)
    script = ("mount -t tmpfs tmpfs /run/lock && mount -t tmpfs tmpfs /run/systemd && "
              "mkdir /run/systemd/resolve && exec \"$@\"")
    return ["ip", "netns", "exec", ns(name), "unshare", "--mount", "--propagation", "private",
            "env", "XDG_RUNTIME_DIR=" + os.path.join(d, "run"),
            "PATH=%s:%s" % (os.path.join(d, "bin"), os.environ.get("PATH", "/usr/bin:/bin")),
            "PT_TEST_RESOLVECTL_LOG=" + os.path.join(d, "resolvectl.log"),
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


def lock_checks(check, snpub):
    """The VPN client lock is per user and cannot be taken from outside: a
    lock file another user made, at the old shared path or in the user's own
    lock directory, keeps no one out; another user's running client neither."""
    if shutil.which("setpriv") is None:
        print("SKIP: lock checks: setpriv is not installed")
        return
    share = tempfile.mkdtemp(prefix="pt-vpn-lock-")
    os.chmod(share, 0o755)
    shutil.copy(PT, os.path.join(share, "pt"))
    os.chmod(os.path.join(share, "pt"), 0o755)
    home = os.path.join(share, "home")
    os.mkdir(home, 0o700)
    os.chown(home, 65534, 65534)
    nobody_lock = os.path.join(home, ".cache", "peertunnel", "vpn-client.lock")
    # what another user might have left: the old world-writable path, held
    old = "/run/lock/peertunnel-vpn-client.lock"
    script = ('mount -t tmpfs tmpfs /run/lock && mount -t tmpfs tmpfs /run/user && '
              ': > %s && chmod 644 %s && exec flock %s sh -c \'echo held; exec sleep 60\''
              % (old, old, old))
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                               script], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        if holder.stdout.readline().strip() != "held":
            raise AssertionError("could not hold the old shared lock")
        ns_pid = holder.pid

        def as_nobody(argv_tail, timeout=20):
            # in the holder's mount namespace: its /run/lock, no /run/user/65534
            argv = ["nsenter", "-t", str(ns_pid), "-m", "setpriv", "--reuid=nobody",
                    "--regid=nogroup", "--clear-groups", "env", "-u", "XDG_RUNTIME_DIR",
                    "HOME=" + home, "XDG_CACHE_HOME=" + os.path.join(home, ".cache"),
                    "sh", "-c", argv_tail, os.path.join(share, "pt"), snpub]
            return run(argv, check=False, timeout=timeout)

        first = ('"$0" vpn client --peer-npub "$1" --relay ws://127.0.0.1:9 --no-stun '
                 '2>/dev/null & '
                 'while ! grep -q pid "$HOME/.cache/peertunnel/vpn-client.lock" 2>/dev/null; '
                 'do kill -0 $! 2>/dev/null || { echo first=gone; exit 4; }; sleep 0.05; done; '
                 'echo first=locked; kill $!')
        p = as_nobody(first)
        check("first=locked" in p.stdout,
              "a lock held at the old shared path by another user does not keep nobody's VPN "
              "client out (%r)" % (p.stdout.strip() + p.stderr.strip()))
        st = os.lstat(nobody_lock)
        check(st.st_uid == 65534 and st.st_mode & 0o777 == 0o600 and
              os.stat(os.path.dirname(nobody_lock)).st_mode & 0o777 == 0o700,
              "nobody's lock is its own 0600 file in a 0700 directory")

        # root puts its own file in nobody's lock place and holds it: replaced,
        # not obeyed
        os.unlink(nobody_lock)
        with open(nobody_lock, "w") as f:
            os.chmod(nobody_lock, 0o644)
            import fcntl
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            p = as_nobody(first)
        check("first=locked" in p.stdout and os.lstat(nobody_lock).st_uid == 65534,
              "a file another user made in the lock's place does not keep nobody out (%r)"
              % (p.stdout.strip() + p.stderr.strip()))
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
        shutil.rmtree(share, ignore_errors=True)


def main():
    reason = skip_reason()
    if reason:
        print("SKIP: %s" % reason)
        return SKIP

    global MACHINES
    tmp = tempfile.mkdtemp(prefix="pt-vpn-")
    MACHINES = os.path.join(tmp, "machines")
    procs = []
    failures = []

    def spawn(name, argv, env=None):
        p = H.PtProc(name, argv, env=dict({"PT_TUN_HELPER": HELPER}, **(env or {})))
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
        # socat listens before the server's first attempt (a refused one
        # would cost the server a backoff).
        end = time.monotonic() + 10
        while not subprocess.run(["ip", "netns", "exec", ns("hub"), "ss", "-Hltn",
                                  "sport = :7777"], capture_output=True, text=True).stdout.strip():
            assert time.monotonic() < end, "socat did not listen on 7777 within 10 s"
            time.sleep(0.05)

        skey, snpub = keygen(tmp, "server")
        k1, n1 = keygen(tmp, "c1")
        k2, n2 = keygen(tmp, "c2")
        common = ["--json", "--no-stun", "--relay", relay_url]
        server_argv = [PT, "vpn", "server", *common, "--local-address", ADDRS["srv"],
                       "--network", "10.77.0.0/24", "--network6", "fd00:77::/64",
                       "--dns", "10.77.0.1",
                       "--nsec-file", skey, "--peer-npub", n1, "--peer-npub", n2]
        # The relay pool's own lines, to tell why if it does not connect.
        srv = spawn("server", in_machine("srv", server_argv),
                    env={"G_MESSAGES_DEBUG": "pt-relay-pool"})
        ev = srv.wait_event("vpn", T)
        check(ev.get("address") == "10.77.0.1/24", "server took 10.77.0.1/24 on %s" % ev.get("ifname"))
        # Up to 10 s per attempt and 1, 2, 4 … s between them.
        srv.wait_event("relay", 2 * T, state="connected")

        def client(name, key, *extra):
            return spawn(name, in_machine(name, [PT, "vpn", "client", *common,
                                                 "--local-address", ADDRS[name],
                                                 "--nsec-file", key, "--peer-npub", snpub,
                                                 *extra]))

        c1 = client("c1", k1, "--route", "10.78.0.0/16")
        c2 = client("c2", k2, "--ipv6", "--accept-dns")
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

        # pushed resolvers: c1 did not ask, c2 did (--accept-dns: every name)
        check(resolvectl_log("c1") == [] and
              any("--accept-dns" in l and "10.77.0.1" in l for l in c1.err_lines),
              "c1 (no --accept-dns) left DNS alone and said how to use the pushed resolver")
        log2 = resolvectl_log("c2")
        check(log2 == ["dns %s 10.77.0.1" % e2["ifname"], "domain %s ~." % e2["ifname"],
                       "default-route %s yes" % e2["ifname"]],
              "c2 (--accept-dns) gave the resolver to resolved with routing domain ~.: %r" % log2)

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
        # (an address of c1's inside the VPN network would now keep it from
        # joining again: the overlap check)
        nsrun("c1", "ip", "addr", "del", "10.77.0.99/32", "dev", "lo")

        # one VPN client per user: a second one of the same user is refused,
        # naming the first (which waits on an unreachable relay)
        runtime = tempfile.mkdtemp(prefix="pt-vpn-run-")
        script = ("\"$0\" vpn client --peer-npub \"$1\" --relay ws://127.0.0.1:9 --no-stun "
                  "2>/dev/null & "
                  "while ! grep -q pid \"$XDG_RUNTIME_DIR/peertunnel/vpn-client.lock\" "
                  "2>/dev/null; do kill -0 $! 2>/dev/null || exit 4; sleep 0.05; done; "
                  "\"$0\" vpn client --peer-npub \"$1\" --relay ws://127.0.0.1:9 --no-stun; "
                  "echo second=$?; kill $!")
        p = run(["env", "XDG_RUNTIME_DIR=" + runtime, "sh", "-c", script, PT, snpub],
                check=False, timeout=40)
        check("second=1" in p.stdout and "VPN connections is already on (pid" in p.stderr and
              "pt vpn client)" in p.stderr, "a second VPN client of one user is refused, naming the first "
              "(%r)" % p.stderr.strip().splitlines()[-1:])
        mode = os.stat(os.path.join(runtime, "peertunnel", "vpn-client.lock")).st_mode & 0o777
        check(mode == 0o600, "the lock file is 0600 (%o)" % mode)
        shutil.rmtree(runtime, ignore_errors=True)

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

        # the app's VPN profiles, run by pt up: a serving one and a
        # connecting one, each in its own machine, keys from PT_NSEC
        def up_profile(name, text):
            path = os.path.join(tmp, name + ".ini")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text + "relays=%s;\nlocal-addresses=%s;\nno-stun=true\n"
                        % (relay_url, ADDRS[name]))
            return path

        def nsec(path):
            with open(path) as f:
                return f.read().strip()

        usrv = spawn("up-server", in_machine("srv", [PT, "up", "--json", up_profile(
            "srv", "[profile 71]\nname=Office VPN\nrole=serve\nmode=vpn\n"
            "vpn-network=10.66.0.0/24\npeers=%s;\n" % n1)]), env={"PT_NSEC": nsec(skey)})
        ev = usrv.wait_event("vpn", T)
        check(ev.get("address") == "10.66.0.1/24" and ev.get("tunnel") == "Office VPN",
              "pt up: the serving VPN profile took 10.66.0.1/24 (%s)" % ev)
        usrv.wait_event("relay", 2 * T, state="connected")
        ucli = spawn("up-client", in_machine("c1", [PT, "up", "--json", up_profile(
            "c1", "[profile 72]\nname=To the office\nrole=connect\nmode=vpn\n"
            "peers=%s;\n" % snpub)]), env={"PT_NSEC": nsec(k1)})
        ev = ucli.wait_event("vpn", T)
        check(ev.get("address", "").startswith("10.66.0.") and ev.get("tunnel") == "To the office",
              "pt up: the connecting VPN profile got %s" % ev.get("address"))
        check(ping_until("c1", "10.66.0.1"), "pt up: the client profile pings the serving one")
        check(nsec(k1) not in "".join(ucli.err_lines), "pt up: the key was not printed")
        ucli.signal(signal.SIGTERM)
        check(ucli.wait_exit(15) == 0, "pt up: the VPN client profile stops cleanly")
        check(ev["ifname"] not in links("c1"), "pt up: its device is gone")
        usrv.signal(signal.SIGTERM)
        check(usrv.wait_exit(15) == 0, "pt up: the serving VPN profile stops cleanly")

        # manual pairing: the offer and answer blocks carried by the test
        msrv = spawn("manual-server", in_machine("srv", [PT, "vpn", "server", "--manual", "--json",
                                                        "--no-stun", "--local-address", ADDRS["srv"],
                                                        "--network", "10.88.0.0/24",
                                                        "--dns", "10.88.0.1"]))
        msrv.wait_event("vpn", T)
        mcli = spawn("manual-client", in_machine("c1", [PT, "vpn", "client", "--manual", "--json",
                                                       "--no-stun", "--local-address", ADDRS["c1"],
                                                       "--dns-domain", "corp.example"]))
        msrv.write(mcli.read_block("OFFER", 20))
        mcli.write(msrv.read_block("ANSWER", 20))
        ev = mcli.wait_event("vpn", T)
        mcli.wait_event("ready", T)
        check(ev["address"].startswith("10.88.0.") and ev["address"].endswith("/24"),
              "manual pairing: client got %s" % ev["address"])
        check(ping_until("c1", "10.88.0.1"), "manual pairing: the client pings the server")
        log1 = resolvectl_log("c1")
        check(log1 == ["dns %s 10.88.0.1" % ev["ifname"], "domain %s ~corp.example" % ev["ifname"],
                       "default-route %s no" % ev["ifname"]],
              "--dns-domain corp.example: only names in it go to the pushed resolver: %r" % log1)
        mcli.signal(signal.SIGTERM)
        check(mcli.wait_exit(15) == 0, "manual client stops cleanly")
        msrv.signal(signal.SIGTERM)
        check(msrv.wait_exit(15) == 0, "manual server stops cleanly")

        # the server pushes part of the client's LAN: refused, nothing changed;
        # with --allow-overlap it works
        nsrun("c1", "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
        nsrun("c1", "ip", "addr", "add", "192.168.1.5/24", "dev", "lan0")
        nsrun("c1", "ip", "link", "set", "lan0", "up")
        nsrun("c1", "ip", "link", "set", "lan1", "up")
        limit = time.monotonic() + 10
        while not any(r.get("dst") == "192.168.1.0/24" for r in routes("c1")):
            if time.monotonic() > limit:
                raise AssertionError("c1's LAN route did not appear")
            time.sleep(0.05)
        before_links, before_routes = links("c1"), routes("c1")

        def overlap_attempt(label, *extra):
            srv_o = spawn("overlap-server-" + label,
                          in_machine("srv", [PT, "vpn", "server", "--manual", "--json",
                                             "--no-stun", "--local-address", ADDRS["srv"],
                                             "--network", "192.168.1.128/25"]))
            srv_o.wait_event("vpn", T)
            cli_o = spawn("overlap-client-" + label,
                          in_machine("c1", [PT, "vpn", "client", "--manual", "--json",
                                            "--no-stun", "--local-address", ADDRS["c1"],
                                            *extra]))
            srv_o.write(cli_o.read_block("OFFER", 20))
            cli_o.write(srv_o.read_block("ANSWER", 20))
            return srv_o, cli_o

        srv_o, cli_o = overlap_attempt("refused")
        rc = cli_o.wait_exit(T)
        err = cli_o.stderr_text()
        check(rc == 1 and "192.168.1.128/25" in err and
              "overlaps the address 192.168.1.5/24 on lan0" in err and "--allow-overlap" in err,
              "a pushed 192.168.1.128/25 over c1's LAN 192.168.1.0/24 is refused, naming "
              "both, the device and the opt-in (exit %r): %r"
              % (rc, [l for l in cli_o.err_lines if "overlap" in l][:1]))
        check(not cli_o.events_named("vpn") and links("c1") == before_links and
              routes("c1") == before_routes,
              "nothing was changed: no device, no route (%r)" % links("c1"))
        srv_o.kill()

        srv_o, cli_o = overlap_attempt("allowed", "--allow-overlap")
        ev = cli_o.wait_event("vpn", T)
        cli_o.wait_event("ready", T)
        check(ev["address"].startswith("192.168.1.") and ev["address"].endswith("/25"),
              "with --allow-overlap the client takes %s" % ev["address"])
        check(any(r.get("dst") == "192.168.1.128/25" and r.get("dev") == ev["ifname"]
                  for r in routes("c1")), "… and 192.168.1.128/25 goes through %s" % ev["ifname"])
        check(ping_until("c1", "192.168.1.129"), "… and reaches the server at 192.168.1.129")
        cli_o.signal(signal.SIGTERM)
        check(cli_o.wait_exit(15) == 0, "the overlapping client stops cleanly")
        srv_o.signal(signal.SIGTERM)
        srv_o.wait_exit(15)
        nsrun("c1", "ip", "link", "del", "lan0")

        lock_checks(check, snpub)

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
