#!/usr/bin/env python3
"""A NAT lab in Linux network namespaces (stdlib only, needs root).

Topology (one run; every namespace name starts with "ptnl<PID>-"):

    peer A (server)        router A                "internet"                 router B        peer B (client)
    ns ..-a                ns ..-ra                ns ..-inet                 ns ..-rb        ns ..-b
    eth0 10.0.1.2 ---- lan 10.0.1.1            br0 198.51.100.1/24      wan 198.51.100.12
                           wan 198.51.100.11 --- (bridge) ------------------ lan 10.0.2.1 ---- eth0 10.0.2.2
                                                coturn STUN/TURN :3478
                                                default route -> sink (silent)

    NAT kind "none": no router; the peer sits on the bridge itself with a
    public address (A: 198.51.100.21, B: 198.51.100.22).

NAT kinds (nftables rules loaded in the router namespace; see RULES below):

    none  public address, no NAT, no filtering
    cone  endpoint-independent mapping AND endpoint-independent filtering
          ("full cone"): masquerade (port preserving) + once the inside host
          has sent from port P, anything arriving on WAN:P is let in.
    prc   endpoint-independent mapping, address-and-port-dependent filtering
          ("port-restricted cone"): plain masquerade; only replies to the
          exact IP:port contacted get in (conntrack ESTABLISHED).
    sym   address-and-port-dependent mapping ("symmetric"): masquerade
          random,fully-random (new port per destination) + the same filtering
          as prc.

Every router silently drops unsolicited inbound traffic (no ICMP), like a home
router, and its conntrack UDP timeouts are set to 30 s.

As a script:

    natlab.py check                   print "ok" or "SKIP: reason" (exit 77)
    natlab.py up SERVER_NAT CLIENT_NAT
                                      build the lab, print how to use it, wait for
                                      Ctrl-C, then tear everything down
    natlab.py cleanup                 delete namespaces left by dead runs

As a module: Lab(), lab.start(), lab.build_side("a", "cone"), lab.ns("a"),
in_netns(name, fn, ...), lab.close().
"""

import atexit
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

PREFIX = "ptnl"
SKIP_EXIT = 77

KINDS = ("none", "cone", "prc", "sym")
KIND_NAMES = {
    "none": "none (public address)",
    "cone": "cone (endpoint-independent mapping + filtering)",
    "prc": "port-restricted cone (EIM + address-and-port-dependent filtering)",
    "sym": "symmetric (address-and-port-dependent mapping)",
}

INET_ADDR = "198.51.100.1"
INET_PREFIX = 24
TURN_PORT = 3478
TURN_USER, TURN_PASS = "natlab", "natlab-pass"
CONNTRACK_UDP_TIMEOUT = 30

SIDES = {
    # side: (router WAN, LAN prefix, public address when kind is "none")
    "a": ("198.51.100.11", "10.0.1", "198.51.100.21"),
    "b": ("198.51.100.12", "10.0.2", "198.51.100.22"),
}

CLONE_NEWNET = 0x40000000


class LabError(RuntimeError):
    pass


def harness():
    """The integration tests' helper module (tests/integration/harness.py)."""
    here = os.path.dirname(os.path.realpath(__file__))
    integration = os.path.join(os.path.dirname(here), "integration")
    if not os.path.isdir(integration) and os.environ.get("PT_SOURCE_DIR"):
        integration = os.path.join(os.environ["PT_SOURCE_DIR"], "tests", "integration")
    if integration not in sys.path:
        sys.path.insert(0, integration)
    import harness as H
    return H


def run(argv, input=None, check=True, timeout=30):
    """Runs a command; raises LabError with its stderr on failure."""
    try:
        p = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise LabError("%s: %s" % (" ".join(argv), e))
    if check and p.returncode != 0:
        raise LabError("%s: exit %d: %s" % (" ".join(argv), p.returncode,
                                             (p.stderr or p.stdout).strip()))
    return p


def nsexec(ns, *argv, **kw):
    return run(["ip", "netns", "exec", ns] + list(argv), **kw)


# --------------------------------------------------------------------------
# Running Python code inside a namespace (setns on a throw-away thread: a
# socket keeps the namespace it was created in, whatever thread uses it later)

_libc = None


def in_netns(ns, fn, *args, timeout=60):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    box = {}

    def body():
        try:
            fd = os.open("/run/netns/" + ns, os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, "setns(%s): %s" % (ns, os.strerror(err)))
            finally:
                os.close(fd)
            box["value"] = fn(*args)
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=body, daemon=True, name="in-" + ns)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise LabError("in_netns(%s): %r still running after %ss" % (ns, fn, timeout))
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --------------------------------------------------------------------------
# Privilege / tool checks

def skip_reason(need_coturn=True):
    """None when the lab can run here, else why not (for a SKIP line)."""
    if os.geteuid() != 0:
        return "the NAT lab needs root (network namespaces, nftables)"
    for tool, pkg in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return "%s is not installed (Debian package %s)" % (tool, pkg)
    if need_coturn and shutil.which("turnserver") is None:
        return "turnserver is not installed (Debian package coturn)"
    probe = "%s%d-probe" % (PREFIX, os.getpid())
    p = run(["ip", "netns", "add", probe], check=False)
    if p.returncode != 0:
        return "ip netns add failed: %s" % p.stderr.strip()
    try:
        p = nsexec(probe, "nft", "-f", "-", check=False, input=(
            "table ip probe {\n"
            " chain post {\n"
            "  type nat hook postrouting priority srcnat; policy accept;\n"
            "  oifname \"x\" masquerade random,fully-random\n"
            " }\n"
            "}\n"))
        if p.returncode != 0:
            return "nftables NAT does not work in a namespace: %s" % p.stderr.strip()
    finally:
        run(["ip", "netns", "del", probe], check=False)
    return None


# --------------------------------------------------------------------------
# Stale namespaces

def _owner_alive(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except OSError:
        return False
    return b"natlab" in cmd


def list_namespaces():
    p = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in p.stdout.splitlines() if line.strip()]


def delete_namespace(ns):
    """Kills what still runs in @ns (by pid: only lab processes live there),
    then deletes it."""
    p = run(["ip", "netns", "pids", ns], check=False)
    for tok in p.stdout.split():
        try:
            os.kill(int(tok), signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
    run(["ip", "netns", "del", ns], check=False)


def cleanup_stale():
    """Deletes lab namespaces whose owning run is gone; returns their names."""
    gone = []
    for ns in list_namespaces():
        m = re.match(r"^%s(\d+)-" % PREFIX, ns)
        if m and int(m.group(1)) != os.getpid() and not _owner_alive(int(m.group(1))):
            delete_namespace(ns)
            gone.append(ns)
    return gone


# --------------------------------------------------------------------------
# Router rules

def router_rules(kind, lan_host):
    """nftables ruleset of a router of @kind whose inside host is @lan_host."""
    masq = "masquerade random,fully-random" if kind == "sym" else "masquerade"
    cone = kind == "cone"
    lines = ["table ip natlab {",
             # UDP packets forwarded each way (read by udp_counters()).
             "  counter udp_out {",
             "  }",
             "  counter udp_in {",
             "  }"]
    if cone:
        # Ports the inside host has sent from recently (port-preserving
        # masquerade: inside port == outside port). Refreshed by outbound
        # packets, forgotten after the conntrack UDP timeout.
        lines += ["  set mapped {",
                  "    type inet_service",
                  "    flags timeout",
                  "    timeout %ds" % CONNTRACK_UDP_TIMEOUT,
                  "  }"]
    lines += ["  chain nat_post {",
              "    type nat hook postrouting priority srcnat; policy accept;",
              "    oifname \"wan\" %s" % masq,
              "  }"]
    if cone:
        # Endpoint-independent filtering: anything to a mapped port goes in.
        lines += ["  chain nat_pre {",
                  "    type nat hook prerouting priority dstnat; policy accept;",
                  "    iifname \"wan\" udp dport @mapped dnat to %s" % lan_host,
                  "  }"]
    lines += ["  chain filter_forward {",
              "    type filter hook forward priority filter; policy drop;",
              "    iifname \"lan\" oifname \"wan\" meta l4proto udp counter name \"udp_out\"",
              "    iifname \"wan\" oifname \"lan\" meta l4proto udp counter name \"udp_in\""]
    if cone:
        lines += ["    iifname \"lan\" oifname \"wan\" meta l4proto udp "
                  "update @mapped { udp sport timeout %ds }" % CONNTRACK_UDP_TIMEOUT]
    lines += ["    ct state established,related accept"]
    if cone:
        lines += ["    iifname \"wan\" ct status dnat accept"]
    lines += ["    iifname \"lan\" oifname \"wan\" accept",
              "  }",
              # The router itself: unsolicited inbound is dropped silently (an
              # ICMP port unreachable, or a conntrack entry for it, would spoil
              # hole punching).
              "  chain filter_input {",
              "    type filter hook input priority filter; policy accept;",
              "    iifname \"wan\" ct state established,related accept",
              "    iifname \"wan\" drop",
              "  }",
              "}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# The lab

class Lab:
    def __init__(self, workdir=None):
        self.prefix = "%s%d" % (PREFIX, os.getpid())
        self.workdir = workdir
        self.coturn = None
        self.coturn_log = None
        self.sides = {}          # side -> kind
        self.closed = False
        self._lock = threading.Lock()
        self.notes = []

    def ns(self, role):
        """"inet", "a", "b", "ra", "rb"."""
        return "%s-%s" % (self.prefix, role)

    @property
    def stun(self):
        return "%s:%d" % (INET_ADDR, TURN_PORT)

    @property
    def turn(self):
        return "turn://%s:%s@%s:%d" % (TURN_USER, TURN_PASS, INET_ADDR, TURN_PORT)

    def peer_address(self, side):
        wan, lan, public = SIDES[side]
        return public if self.sides.get(side) == "none" else lan + ".2"

    def public_address(self, side):
        wan, lan, public = SIDES[side]
        return public if self.sides.get(side) == "none" else wan

    # -- namespaces --------------------------------------------------------
    def _add_ns(self, role):
        ns = self.ns(role)
        run(["ip", "netns", "add", ns])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        nsexec(ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
               "net.ipv6.conf.default.disable_ipv6=1", check=False)
        return ns

    def start(self):
        inet = self._add_ns("inet")
        nsexec(inet, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0")
        run(["ip", "-n", inet, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", inet, "addr", "add", "%s/%d" % (INET_ADDR, INET_PREFIX), "dev", "br0"])
        run(["ip", "-n", inet, "link", "set", "br0", "up"])
        # A default route, so that coturn's sends to addresses it cannot reach
        # (the peers' private host candidates) vanish silently instead of
        # failing with ENETUNREACH (which tears TURN allocations down). The
        # next hop is the far end of a veth whose neighbour entry is static:
        # frames arrive there for a foreign MAC and are dropped.
        run(["ip", "-n", inet, "link", "add", "sink0", "type", "veth", "peer", "name", "sink1"])
        run(["ip", "-n", inet, "link", "set", "sink0", "up"])
        run(["ip", "-n", inet, "link", "set", "sink1", "up"])
        run(["ip", "-n", inet, "addr", "add", "192.0.2.1/30", "dev", "sink0"])
        run(["ip", "-n", inet, "neigh", "replace", "192.0.2.2", "lladdr", "02:00:00:00:00:02",
             "dev", "sink0", "nud", "permanent"])
        run(["ip", "-n", inet, "route", "add", "default", "via", "192.0.2.2", "dev", "sink0"])

    def start_coturn(self, spawn, timeout=20):
        """Starts coturn in the internet namespace with @spawn(name, argv)
        (which must return an object with alive()/poll()); waits until it
        answers a STUN Binding request."""
        H = harness()
        workdir = self.workdir or "/tmp"
        argv = ["ip", "netns", "exec", self.ns("inet"), "turnserver", "-n",
                "--listening-ip=%s" % INET_ADDR, "--relay-ip=%s" % INET_ADDR,
                "--listening-port=%d" % TURN_PORT, "--lt-cred-mech",
                "--user=%s:%s" % (TURN_USER, TURN_PASS), "--realm=natlab",
                "--no-tls", "--no-dtls", "--no-cli",
                "--pidfile=%s" % os.path.join(workdir, "turnserver.pid"),
                "--userdb=%s" % os.path.join(workdir, "turndb"),
                "--log-file=stdout", "--simple-log"]
        self.coturn = spawn("turnserver", argv)
        limit = time.monotonic() + timeout
        while True:
            if not self.coturn.alive():
                raise LabError("turnserver exited with status %r" % self.coturn.poll())
            if in_netns(self.ns("inet"), H.stun_binding, (INET_ADDR, TURN_PORT), 0.3):
                return
            if time.monotonic() > limit:
                raise LabError("turnserver did not answer STUN within %ds" % timeout)

    def build_side(self, side, kind):
        """Peer namespace "a"/"b" behind a router of @kind (or on the bridge
        for "none")."""
        if kind not in KINDS:
            raise LabError("unknown NAT kind %r (one of %s)" % (kind, ", ".join(KINDS)))
        self.remove_side(side)
        wan, lan, public = SIDES[side]
        inet = self.ns("inet")
        peer = self._add_ns(side)
        port = "port-" + side
        self.sides[side] = kind
        if kind == "none":
            run(["ip", "link", "add", "eth0", "netns", peer, "type", "veth",
                 "peer", "name", port, "netns", inet])
            run(["ip", "-n", peer, "addr", "add", "%s/%d" % (public, INET_PREFIX), "dev", "eth0"])
            run(["ip", "-n", peer, "link", "set", "eth0", "up"])
            run(["ip", "-n", inet, "link", "set", port, "master", "br0", "up"])
            run(["ip", "-n", peer, "route", "add", "default", "via", INET_ADDR])
            self._wait_carrier([(peer, "eth0"), (inet, port)])
            return
        router = self._add_ns("r" + side)
        run(["ip", "link", "add", "eth0", "netns", peer, "type", "veth",
             "peer", "name", "lan", "netns", router])
        run(["ip", "link", "add", "wan", "netns", router, "type", "veth",
             "peer", "name", port, "netns", inet])
        run(["ip", "-n", inet, "link", "set", port, "master", "br0", "up"])
        run(["ip", "-n", router, "addr", "add", "%s.1/24" % lan, "dev", "lan"])
        run(["ip", "-n", router, "addr", "add", "%s/%d" % (wan, INET_PREFIX), "dev", "wan"])
        run(["ip", "-n", router, "link", "set", "lan", "up"])
        run(["ip", "-n", router, "link", "set", "wan", "up"])
        run(["ip", "-n", router, "route", "add", "default", "via", INET_ADDR])
        nsexec(router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        run(["ip", "-n", peer, "addr", "add", "%s.2/24" % lan, "dev", "eth0"])
        run(["ip", "-n", peer, "link", "set", "eth0", "up"])
        run(["ip", "-n", peer, "route", "add", "default", "via", "%s.1" % lan])
        nsexec(router, "nft", "-f", "-", input=router_rules(kind, "%s.2" % lan))
        self._wait_carrier([(peer, "eth0"), (router, "lan"), (router, "wan"), (inet, port)])
        # After the ruleset (which loads conntrack): short UDP timeouts like a
        # cheap home router; "stream" is the one for flows seen both ways.
        for key in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
            p = nsexec(router, "sysctl", "-q", "-w",
                       "net.netfilter.%s=%d" % (key, CONNTRACK_UDP_TIMEOUT), check=False)
            if p.returncode != 0:
                note = "could not set %s in the routers: %s" % (key, p.stderr.strip())
                if note not in self.notes:
                    self.notes.append(note)

    def _wait_carrier(self, links, timeout=10):
        """A fresh veth has no carrier for a moment, and libnice gathers no
        candidate on such an interface: wait until every link is up."""
        limit = time.monotonic() + timeout
        for ns, dev in links:
            while True:
                p = run(["ip", "-n", ns, "-o", "link", "show", "dev", dev], check=False)
                if "NO-CARRIER" not in p.stdout and "state UP" in p.stdout:
                    break
                if time.monotonic() > limit:
                    raise LabError("%s in %s did not come up: %s" % (dev, ns, p.stdout.strip()))
                time.sleep(0.02)

    def udp_counters(self, side):
        """(UDP packets router @side forwarded out, in) so far."""
        p = nsexec(self.ns("r" + side), "nft", "-j", "list", "counters", "table", "ip", "natlab")
        out = {}
        for obj in json.loads(p.stdout).get("nftables", []):
            c = obj.get("counter")
            if c:
                out[c["name"]] = c["packets"]
        return out.get("udp_out", 0), out.get("udp_in", 0)

    # -- blocking the direct path ------------------------------------------
    def block_direct(self, side, other):
        """Router @side drops everything it would forward to or from the
        other side's public address (the TURN server stays reachable): the
        peers can only meet through the relay. Counted as direct_out/in."""
        self._load_direct_table(side, other, "drop")

    def unblock_direct(self, side, other):
        """Lets the direct traffic through again; the counters start over and
        from now on count what is forwarded between the two public addresses."""
        self._load_direct_table(side, other, "accept")

    def _load_direct_table(self, side, other, verdict):
        router = self.ns("r" + side)
        peer = self.public_address(other)
        p = nsexec(router, "nft", "list", "table", "ip", "natlab_direct", check=False)
        ruleset = "delete table ip natlab_direct\n" if p.returncode == 0 else ""
        # Before the NAT kind's own forward chain (priority filter = 0).
        ruleset += ("table ip natlab_direct {\n"
                    "  counter direct_out {\n  }\n"
                    "  counter direct_in {\n  }\n"
                    "  chain forward {\n"
                    "    type filter hook forward priority -10; policy accept;\n"
                    "    ip daddr %s counter name \"direct_out\" %s\n"
                    "    ip saddr %s counter name \"direct_in\" %s\n"
                    "  }\n"
                    "}\n" % (peer, verdict, peer, verdict))
        # One transaction: no moment without the table.
        nsexec(router, "nft", "-f", "-", input=ruleset)

    def direct_counters(self, side):
        """(packets router @side forwarded to, from the other peer's public
        address) since the last block_direct/unblock_direct."""
        p = nsexec(self.ns("r" + side), "nft", "-j", "list", "counters", "table", "ip",
                   "natlab_direct")
        out = {}
        for obj in json.loads(p.stdout).get("nftables", []):
            c = obj.get("counter")
            if c:
                out[c["name"]] = c["packets"]
        return out.get("direct_out", 0), out.get("direct_in", 0)

    def conntrack_udp_timeouts(self, side):
        out = {}
        for key in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
            p = nsexec(self.ns("r" + side), "sysctl", "-n", "net.netfilter." + key, check=False)
            out[key] = p.stdout.strip() if p.returncode == 0 else None
        return out

    def remove_side(self, side):
        # Delete the bridge port first: that removes both veth ends at once,
        # whereas a deleted namespace's devices go away asynchronously (and the
        # next build_side would find "port-X" still there).
        inet = self.ns("inet")
        if os.path.exists("/run/netns/" + inet):
            run(["ip", "-n", inet, "link", "del", "port-" + side], check=False)
        for role in (side, "r" + side):
            ns = self.ns(role)
            if os.path.exists("/run/netns/" + ns):
                delete_namespace(ns)
        self.sides.pop(side, None)

    def close(self):
        with self._lock:
            if self.closed:
                return
            self.closed = True
        if self.coturn is not None:
            try:
                self.coturn.kill()
            except Exception:
                pass
        for ns in list_namespaces():
            if ns.startswith(self.prefix + "-"):
                delete_namespace(ns)


# --------------------------------------------------------------------------
# Command line

class _Proc:
    def __init__(self, name, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def poll(self):
        return self.p.poll()

    def kill(self):
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait(5)


def main(argv):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(argv) < 2 or argv[1] not in ("check", "up", "cleanup"):
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[1]
    if cmd == "cleanup":
        if os.geteuid() != 0:
            print("SKIP: the NAT lab needs root")
            return SKIP_EXIT
        for ns in cleanup_stale():
            print("deleted", ns)
        return 0
    reason = skip_reason(need_coturn=(cmd == "up"))
    if reason:
        print("SKIP: %s" % reason)
        return SKIP_EXIT
    if cmd == "check":
        print("ok")
        return 0
    if len(argv) != 4 or argv[2] not in KINDS or argv[3] not in KINDS:
        sys.stderr.write("usage: natlab.py up SERVER_NAT CLIENT_NAT (each one of %s)\n"
                         % " ".join(KINDS))
        return 2
    import tempfile
    cleanup_stale()
    lab = Lab(workdir=tempfile.mkdtemp(prefix="natlab-"))
    atexit.register(lab.close)

    def on_signal(signum, frame):
        lab.close()
        os._exit(0 if signum == signal.SIGINT else 128 + signum)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        lab.start()
        lab.start_coturn(_Proc)
        lab.build_side("a", argv[2])
        lab.build_side("b", argv[3])
    except BaseException:
        lab.close()
        raise
    pt = "PT"
    print("NAT lab up: server side %s, client side %s" % (argv[2], argv[3]))
    print("  STUN/TURN (coturn)  %s   turn URL %s" % (lab.stun, lab.turn))
    for side in "ab":
        print("  peer %s  ns %-16s address %-14s public %s  (%s)"
              % (side.upper(), lab.ns(side), lab.peer_address(side),
                 lab.public_address(side), KIND_NAMES[lab.sides[side]]))
    print("for example (the FIFO trick of README.md):")
    print("  ip netns exec %s %s server manual --allowed-tcp 127.0.0.0/8 --stun-server %s --json"
          % (lab.ns("a"), pt, lab.stun))
    print("  ip netns exec %s %s client manual --source tcp://127.0.0.1:22 --target 2222 "
          "--stun-server %s --json" % (lab.ns("b"), pt, lab.stun))
    for n in lab.notes:
        print("NOTE:", n)
    print("Ctrl-C tears the lab down.")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
