#!/usr/bin/python3
"""PeerTunnel benchmark driver (stdlib only).  Run it through ./bench/run.

Compares, in one run on loopback, a `pt` tunnel (manual mode) with `ssh -L`
(aes128-gcm and chacha20-poly1305, against a throwaway sshd), a `socat` TCP
relay and direct TCP; and Nostr mode (`pt server nostr` / `pt client nostr`
through the test relay, tests/relay/relay.mjs): setup time, and 100 client
sessions on one server; pt with its fast data path on and off (PT_FAST_PATH=off),
through a forced TURN relay and over IPv6; and, as root, in two network
namespaces joined by a veth: the same TCP forwards across it, a relayed tunnel
that upgrades to direct, and VPN mode (`pt vpn`) beside OpenVPN and
wireguard-go.  See bench/README.md for what each figure means.

Every child runs in its own process group; all of them are killed (SIGTERM,
then SIGKILL) on normal exit, on an exception, on Ctrl-C and on SIGTERM/SIGHUP.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
GiB = 1024 ** 3
SSH_CIPHERS = {"ssh-aes": "aes128-gcm@openssh.com", "ssh-chacha": "chacha20-poly1305@openssh.com"}
PATH_LABELS = {
    "direct": "direct TCP",
    "socat": "socat relay",
    "ssh-aes": "ssh -L aes128-gcm",
    "ssh-chacha": "ssh -L chacha20-poly1305",
    "pt": "pt (fast path)",
    "pt-libnice": "pt (libnice path, PT_FAST_PATH=off)",
    "pt-turn": "pt (forced TURN: coturn on loopback)",
    "direct-v6": "direct TCP (IPv6, ::1)",
    "pt-v6": "pt (fast path, IPv6 ::1)",
}
# the loopback paths, in the order of every table and of the interleaved runs
LOOPBACK_ORDER = ["direct", "socat", "ssh-aes", "ssh-chacha", "pt", "pt-libnice", "pt-turn",
                  "direct-v6", "pt-v6"]
PT_ICE = ["--json", "--no-stun", "--local-address", "127.0.0.1"]
# PT_FAST_PATH=off turns the engine's own batched UDP socket off (libnice
# then carries every datagram); unset, the fast path is on where it applies
PT_LIBNICE_ENV = {"PT_FAST_PATH": "off"}
PT_BBR_ENV = {"PT_QUIC_CC": "bbr"}       # the congestion controller is CUBIC by default
RELAY_DIR = os.path.join(SOURCE_DIR, "tests", "relay")
SECTIONS = ["throughput", "latency", "setup", "nostr-setup", "udp", "scale", "nostr-scale",
            "veth", "upgrade", "vpn", "floor"]
VETH_ADDR = {"srv": "10.98.0.1", "cli": "10.98.0.2"}   # the veth between two namespaces
VPN_ADDR = VETH_ADDR
VPN_OVPN_CIPHER = "AES-128-GCM"   # what pt's QUIC negotiates too (engine/quic/pt-quic-conn.c)
VPN_LABELS = {"direct": "direct (veth, no tunnel)", "pt": "pt vpn (manual pairing)",
              "openvpn": "OpenVPN (UDP, TLS, %s)" % VPN_OVPN_CIPHER,
              "wireguard-go": "wireguard-go (Debian's, user space)"}
VPN_ORDER = ["direct", "pt", "openvpn", "wireguard-go"]
VETH_ORDER = ["direct", "socat", "ssh-aes", "pt", "pt-bbr", "pt-libnice"]
VETH_LABELS = {"direct": "direct TCP (across the veth)", "socat": "socat relay (near side)",
               "ssh-aes": "ssh -L aes128-gcm", "pt": "pt (fast path)",
               "pt-bbr": "pt (fast path, BBR: PT_QUIC_CC=bbr)",
               "pt-libnice": "pt (libnice path, PT_FAST_PATH=off)"}


def log(msg):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# --------------------------------------------------------------------------
# Child processes

class Child:
    """A child process in its own process group, with stderr (and optionally
    stdout) read line by line by daemon threads."""

    def __init__(self, name, argv, logdir, stdin=subprocess.DEVNULL, pipe_out=False,
                 env=None):
        self.name = name
        self.argv = argv
        self.out_lines, self.err_lines = [], []
        self.cond = threading.Condition()
        self.eof = {"out": not pipe_out, "err": False}
        self.logpath = os.path.join(logdir, "%s.log" % name)
        self.logf = open(self.logpath, "a", buffering=1)
        self.logf.write("$ %s\n" % " ".join(argv))
        full_env = dict(os.environ)
        full_env.setdefault("LC_ALL", "C.UTF-8")
        full_env.update(env or {})
        self.popen = subprocess.Popen(
            argv, stdin=stdin, stdout=subprocess.PIPE if pipe_out else self.logf,
            stderr=subprocess.PIPE, env=full_env, start_new_session=True)
        REGISTRY.append(self)
        if pipe_out:
            self._reader(self.popen.stdout, self.out_lines, "out")
        self._reader(self.popen.stderr, self.err_lines, "err")

    def _reader(self, stream, sink, which):
        def run():
            try:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    with self.cond:
                        sink.append((time.monotonic(), line))
                        self.cond.notify_all()
                    try:
                        self.logf.write("%s: %s\n" % (which, line))
                    except ValueError:
                        pass
            except (OSError, ValueError):
                pass
            finally:
                with self.cond:
                    self.eof[which] = True
                    self.cond.notify_all()
        threading.Thread(target=run, daemon=True, name="%s-%s" % (self.name, which)).start()

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def write(self, text):
        self.popen.stdin.write(text.encode())
        self.popen.stdin.flush()

    def wait_line(self, which, pred, timeout, start=0):
        """(index, time, line) of the first line >= start matching pred."""
        sink = self.out_lines if which == "out" else self.err_lines
        limit = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(sink):
                    t, line = sink[i]
                    if pred(line):
                        return i, t, line
                    i += 1
                if self.eof[which]:
                    raise RuntimeError("%s exited (status %r) while waiting; log: %s"
                                       % (self.name, self.popen.poll(), self.logpath))
                left = limit - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%s: timeout after %.0fs; log: %s"
                                       % (self.name, timeout, self.logpath))
                self.cond.wait(min(left, 0.5))

    def read_block(self, kind, timeout):
        begin = "-----BEGIN PEERTUNNEL %s-----" % kind
        end = "-----END PEERTUNNEL %s-----" % kind
        i0, _, _ = self.wait_line("out", lambda l: l.strip() == begin, timeout)
        i1, t1, _ = self.wait_line("out", lambda l: l.strip() == end, timeout, i0)
        with self.cond:
            lines = [l.strip() for _, l in self.out_lines[i0:i1 + 1]]
        return "\n".join(lines) + "\n", t1

    def kill(self, grace=1.0):
        if self.popen.poll() is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.popen.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self.popen.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # the leader is gone; its group may not be
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for f in (self.popen.stdin,):
            try:
                if f:
                    f.close()
            except OSError:
                pass


REGISTRY = []


def kill_all():
    while REGISTRY:
        c = REGISTRY.pop()
        try:
            c.kill(grace=0.5)
        except Exception:  # keep cleaning up
            pass


def _on_signal(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# --------------------------------------------------------------------------
# /proc helpers

def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS"):
                    out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def cpu_seconds(pid, children=False):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return 0.0
    fields = data[data.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime=14, stime=15, cutime=16, cstime=17
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / CLK_TCK


def descendants(root):
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        ppid = int(data[data.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def listen_overflows():
    """TcpExt ListenOverflows (system-wide): SYNs/ACKs a full accept queue dropped."""
    try:
        with open("/proc/net/netstat") as f:
            rows = [l.split() for l in f if l.startswith("TcpExt:")]
        return int(rows[1][rows[0].index("ListenOverflows")])
    except (OSError, ValueError, IndexError):
        return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout, proc=None, connect=None, host="127.0.0.1"):
    """Waits until @host:@port accepts a TCP connection (made by @connect(port)
    when given: e.g. from inside a network namespace)."""
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if proc is not None and not proc.alive():
            raise RuntimeError("%s exited (status %r); log: %s"
                               % (proc.name, proc.popen.poll(), proc.logpath))
        try:
            if connect is not None:
                connect(port).close()
            else:
                socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %s:%d did not open within %.0fs" % (host, port, timeout))


# --------------------------------------------------------------------------
# Network namespaces: two "machines" joined by one veth

# One way to run code inside a namespace: the NAT lab's (a LabError is a
# RuntimeError, as the callers here expect).
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "natlab"))
from natlab import in_netns  # noqa: E402


NETNS_REGISTRY = []


class NetnsPair:
    """Network namespaces PREFIX-srv and PREFIX-cli joined by one veth
    (eth0 in each, MTU 1500) with the addresses @addrs (/24) and loopback up:
    two machines on one LAN.  Used by the veth, upgrade and vpn sections;
    teardown() kills the children started in them and deletes both (also
    done for every pair still up when the run ends or is interrupted)."""

    def __init__(self, prefix, logdir, addrs=VETH_ADDR, extra_addrs=None):
        self.prefix, self.logdir, self.addrs = prefix, logdir, dict(addrs)
        self.extra_addrs = extra_addrs or {}    # side -> [further addresses on eth0]
        self.namespaces, self.children = [], []

    def ns(self, side):
        return "%s-%s" % (self.prefix, side)

    def ip(self, *argv):
        p = subprocess.run(["ip"] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        if p.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(argv), p.stdout.decode().strip()))
        return p.stdout.decode()

    def run(self, side, argv, check=True, timeout=20):
        """Runs @argv in @side's namespace; returns its output."""
        p = subprocess.run(["ip", "netns", "exec", self.ns(side)] + list(argv),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError("%s (in %s): %s" % (" ".join(argv), self.ns(side),
                                                   p.stdout.decode().strip()))
        return p.stdout.decode()

    @staticmethod
    def skip_reason(probe_name):
        """None when namespaces can be made here, else why not."""
        if os.geteuid() != 0:
            return "needs root (network namespaces)"
        if shutil.which("ip") is None:
            return "ip not installed (apt-get install iproute2)"
        p = subprocess.run(["ip", "netns", "add", probe_name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            return "cannot create network namespaces: %s" % p.stdout.decode().strip()
        subprocess.run(["ip", "netns", "del", probe_name])
        return None

    def build(self):
        NETNS_REGISTRY.append(self)
        for side in self.addrs:
            self.ip("netns", "add", self.ns(side))
            self.namespaces.append(self.ns(side))
        self.ip("link", "add", "eth0", "netns", self.ns("srv"), "mtu", "1500", "type", "veth",
                "peer", "name", "eth0", "netns", self.ns("cli"), "mtu", "1500")
        for side, addr in self.addrs.items():
            for a in [addr] + self.extra_addrs.get(side, []):
                self.ip("-n", self.ns(side), "addr", "add", a + "/24", "dev", "eth0")
            self.ip("-n", self.ns(side), "link", "set", "eth0", "up")
            self.ip("-n", self.ns(side), "link", "set", "lo", "up")
        limit = time.monotonic() + 10
        for side in self.addrs:
            while "state UP" not in self.ip("-n", self.ns(side), "-o", "link", "show", "eth0"):
                if time.monotonic() > limit:
                    raise RuntimeError("eth0 in %s did not come up" % self.ns(side))
                time.sleep(0.05)
        return self

    def child(self, name, side, argv, machine=False, **kw):
        """A Child in @side's namespace (`ip netns exec` execs it: same pid).
        @machine: also its own mount namespace with a private /run/lock
        (another machine: one VPN client per machine is a lock file there)."""
        if machine:
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs tmpfs /run/lock && exec \"$@\"", "sh"] + argv
        c = Child(name, ["ip", "netns", "exec", self.ns(side)] + argv, self.logdir, **kw)
        self.children.append(c)
        return c

    def connect(self, side, host, port, timeout=10):
        """A TCP connection made from inside @side's namespace."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        def make():
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect((host, port))
            except OSError:
                s.close()
                raise
            return s
        return in_netns(self.ns(side), make, timeout=timeout + 5)

    def wait_port(self, side, host, port, timeout, proc=None):
        wait_port(port, timeout, proc, connect=lambda p: self.connect(side, host, p, 0.5),
                  host=host)

    def teardown(self):
        for c in self.children:
            c.kill()
            if c in REGISTRY:
                REGISTRY.remove(c)
        self.children = []
        while self.namespaces:
            subprocess.run(["ip", "netns", "del", self.namespaces.pop()],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self in NETNS_REGISTRY:
            NETNS_REGISTRY.remove(self)


def teardown_namespaces():
    while NETNS_REGISTRY:
        try:
            NETNS_REGISTRY[-1].teardown()
        except Exception:  # keep cleaning up
            NETNS_REGISTRY.pop()


def pct(values, p):
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def run_cmd(argv):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=10).stdout.decode("utf-8", "replace").strip()
    except (OSError, subprocess.SubprocessError) as e:
        return "unavailable (%s)" % e


# --------------------------------------------------------------------------
# The benchmark

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.pt_bin = args.pt
        self.tmp = tempfile.mkdtemp(prefix="pt-bench-")
        self.logdir = os.path.join(self.tmp, "logs")
        os.makedirs(self.logdir)
        self.skips = {}
        self.results = {"machine": self.machine(), "config": {}, "skipped": self.skips}
        self.paths = {}        # name -> {"tcp": port, "echo": port, "udp": port|None}
        self.cpu_pids = {}     # name -> callable returning [(process label, pid, with_children)]
        self.pt_pairs = {}     # loopback pt path -> (server, client)
        self.ptc = self.pts = None
        self.sshd = None
        self.ssh_clients = {}
        self.socats = []
        self.vpn_prefix = "ptvb%d" % os.getpid()
        self.vpn_net = NetnsPair(self.vpn_prefix, self.logdir, VPN_ADDR)
        self.vpn_pt = self.vpn_ovpn = self.vpn_wg = ()

    # -- machine -----------------------------------------------------------
    def machine(self):
        cpu = "unknown"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = ""
        try:
            with open("/proc/meminfo") as f:
                mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1024 / 1024)
        except OSError:
            pass
        os_name = ""
        try:
            with open("/etc/os-release") as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        os_name = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        # the tree pt was built from (a worktree elsewhere with --pt), else this one
        src = os.path.dirname(os.path.realpath(self.pt_bin))
        while src != "/" and not os.path.exists(os.path.join(src, ".git")):
            src = os.path.dirname(src)
        if src == "/":
            src = SOURCE_DIR
        git = run_cmd(["git", "-C", src, "describe", "--always", "--dirty"])
        return {
            "hostname": platform.node(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory": mem,
            "kernel": platform.release(),
            "os": os_name,
            "pt": run_cmd([self.pt_bin, "--version"]) + " (git %s%s)" % (
                git, "" if src == SOURCE_DIR else ", built in %s" % src),
            "ssh": run_cmd(["ssh", "-V"]),
            "socat": (run_cmd(["socat", "-V"]).split("\n") + [""])[1].strip()
            if shutil.which("socat") else "not installed",
            "iperf3": run_cmd(["iperf3", "--version"]).split("\n")[0]
            if shutil.which("iperf3") else "not installed",
            "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        }

    # -- services ----------------------------------------------------------
    def start_services(self):
        self.svc = Child("services", [sys.executable, os.path.join(HERE, "services.py")],
                         self.logdir, pipe_out=True)
        _, _, line = self.svc.wait_line("out", lambda l: l.startswith("{"), 10)
        ports = json.loads(line)
        self.echo_port, self.ctl_port, self.udp_port = ports["echo"], ports["control"], ports["udp"]
        self.ctl = socket.create_connection(("127.0.0.1", self.ctl_port), timeout=10)
        self.ctl_file = self.ctl.makefile("r")
        self.have_iperf = shutil.which("iperf3") is not None
        self.iperf_servers = {}
        if self.have_iperf:
            self.iperf_port = self.start_iperf_server()
        else:
            self.skips["iperf3"] = "SKIP: iperf3 not installed (apt-get install openssh-server iperf3)"
            print(self.skips["iperf3"])
            self.iperf_port = None
        self.paths["direct"] = {"tcp": self.iperf_port, "echo": self.echo_port,
                                "udp": self.udp_port}
        # IPv6: a second echo service and iperf3 server on ::1
        self.echo6_port = self.iperf6_port = None
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
        except OSError as e:
            self.skips["ipv6"] = "SKIP: IPv6 rows: no ::1 here (%s)" % e
            print(self.skips["ipv6"])
            return
        self.svc6 = Child("services-v6", [sys.executable, os.path.join(HERE, "services.py"),
                                          "--bind", "::1"], self.logdir, pipe_out=True)
        _, _, line = self.svc6.wait_line("out", lambda l: l.startswith("{"), 10)
        self.echo6_port = json.loads(line)["echo"]
        if self.have_iperf:
            self.iperf6_port = self.start_iperf_server("::1")
        self.paths["direct-v6"] = {"tcp": self.iperf6_port, "echo": self.echo6_port,
                                   "udp": None, "host": "::1"}

    def start_iperf_server(self, host="127.0.0.1"):
        old = self.iperf_servers.get(host)
        port = old[1] if old else free_port()
        c = Child("iperf3-server" + ("-v6" if ":" in host else ""),
                  ["iperf3", "-s", "-B", host, "-p", str(port)], self.logdir)
        wait_port(port, 10, c, host=host)
        self.iperf_servers[host] = (c, port)
        return port

    def restart_iperf_server(self, host):
        c, _ = self.iperf_servers[host]
        c.kill()
        self.start_iperf_server(host)

    def udp_stats(self, run):
        self.ctl.sendall(b"stats %d\n" % run)
        return json.loads(self.ctl_file.readline())

    # -- socat -------------------------------------------------------------
    def socat_relay(self, name, listen_port, target_host, target_port, spawn):
        return spawn(name, [
            "socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay" % listen_port,
            "TCP:%s:%d,nodelay" % (target_host, target_port)])

    def start_socat(self):
        if not shutil.which("socat"):
            self.skips["socat"] = "SKIP: socat not installed (apt-get install socat)"
            print(self.skips["socat"])
            return
        ports = {}
        for svc, target in (("tcp", self.iperf_port), ("echo", self.echo_port)):
            if target is None:
                ports[svc] = None
                continue
            p = free_port()
            c = self.socat_relay("socat-%s" % svc, p, "127.0.0.1", target,
                                 lambda n, a: Child(n, a, self.logdir))
            wait_port(p, 10, c)
            self.socats.append(c)
            ports[svc] = p
        ports["udp"] = None
        self.paths["socat"] = ports
        self.cpu_pids["socat"] = lambda: [("socat", c.pid, True) for c in self.socats]

    # -- sshd + ssh -L -----------------------------------------------------
    def ssh_skip_reason(self):
        sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
        if not sshd or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
            return None, "SKIP: sshd not installed (apt-get install openssh-server iperf3)"
        return sshd, None

    def ssh_keys(self):
        """Throwaway host and user keys (made once per run): the directory."""
        d = os.path.join(self.tmp, "ssh")
        if os.path.isdir(d):
            return d
        os.makedirs(d, mode=0o700)
        for key in ("host_ed25519", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pt-bench",
                            "-f", os.path.join(d, key)], check=True)
        shutil.copy(os.path.join(d, "id_ed25519.pub"), os.path.join(d, "authorized_keys"))
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            # sshd run as root needs its privilege-separation directory (what
            # the distribution's service would create at boot)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        return d

    def start_sshd(self, tag, sshd, listen, spawn):
        """An sshd of our own on @listen:free port; (child, port), or
        (None, "SKIP: …") when its configuration is refused."""
        d = self.ssh_keys()
        port = free_port()
        cfg = os.path.join(d, "sshd_config-%s" % tag)
        with open(cfg, "w") as f:
            f.write("\n".join([
                "Port %d" % port,
                "ListenAddress %s" % listen,
                "HostKey %s" % os.path.join(d, "host_ed25519"),
                "PidFile %s" % os.path.join(d, "sshd-%s.pid" % tag),
                "AuthorizedKeysFile %s" % os.path.join(d, "authorized_keys"),
                "AuthenticationMethods publickey",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "Ciphers aes128-gcm@openssh.com,chacha20-poly1305@openssh.com",
                "Compression no",
                "UseDNS no",
                "MaxStartups 100",
                "LogLevel ERROR",
                ""]))
        chk = subprocess.run([sshd, "-t", "-f", cfg], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        if chk.returncode != 0:
            return None, "SKIP: sshd -t failed: %s" % chk.stdout.decode().strip()
        return spawn("sshd-%s" % tag, [sshd, "-D", "-e", "-f", cfg]), port

    def start_ssh_client(self, name, cipher, host, sshd_port, forwards, spawn):
        """`ssh -N -L` for each (listen port, target host, target port) of
        @forwards; checks the cipher it negotiated (from -v)."""
        d = self.ssh_keys()
        user = os.environ.get("USER") or run_cmd(["id", "-un"])
        argv = ["ssh", "-F", "/dev/null", "-N", "-T", "-v",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=%s" % os.path.join(d, "known_hosts"),
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "ExitOnForwardFailure=yes", "-o", "IdentitiesOnly=yes",
                "-o", "Ciphers=%s" % cipher, "-o", "Compression=no",
                "-i", os.path.join(d, "id_ed25519"), "-p", str(sshd_port)]
        for lport, thost, tport in forwards:
            argv += ["-L", "127.0.0.1:%d:%s:%d" % (lport, thost, tport)]
        argv.append("%s@%s" % (user, host))
        c = spawn(name, argv)
        _, _, line = c.wait_line("err", lambda l: "cipher:" in l and "client->server" in l, 15)
        got = re.search(r"cipher: (\S+)", line).group(1)
        if got != cipher:
            raise RuntimeError("%s negotiated %s, not %s" % (name, got, cipher))
        return c

    def start_ssh(self):
        sshd, reason = self.ssh_skip_reason()
        spawn = lambda n, a: Child(n, a, self.logdir)
        if reason is None:
            self.sshd, port = self.start_sshd("main", sshd, "127.0.0.1", spawn)
            if self.sshd is None:
                reason = port
        if reason:
            self.skips["ssh"] = reason
            print(reason)
            return
        self.sshd_port = port
        wait_port(self.sshd_port, 10, self.sshd)
        for name, cipher in SSH_CIPHERS.items():
            ports = {"tcp": free_port() if self.iperf_port else None, "echo": free_port(),
                     "udp": None}
            fw = [(ports["echo"], "127.0.0.1", self.echo_port)]
            if ports["tcp"]:
                fw.append((ports["tcp"], "127.0.0.1", self.iperf_port))
            c = self.start_ssh_client(name, cipher, "127.0.0.1", self.sshd_port, fw, spawn)
            wait_port(ports["echo"], 15, c)
            self.ssh_clients[name] = c
            self.paths[name] = ports
            self.cpu_pids[name] = (lambda c=c: [("ssh", c.pid, False)] +
                                   [("sshd tree", p, False) for p in descendants(self.sshd.pid)])
        self.results["config"]["ssh"] = "sshd on 127.0.0.1:%d, throwaway ed25519 keys in %s" % (
            self.sshd_port, self.ssh_keys())

    # -- pt ----------------------------------------------------------------
    def pt_pair(self, tag, forwards, cli_ice=PT_ICE, srv_ice=None, env=None, net=None,
                allowed=("127.0.0.0/8",)):
        """Starts a pt server + client and joins them. @forwards: list of
        source URIs; @env: extra environment of both; @net: a NetnsPair (the
        server in its srv namespace, the client in its cli one).
        Returns (server, client, timings, {source: port})."""
        if net is not None:
            spawn_srv = lambda n, a, **kw: net.child(n, "srv", a, **kw)
            spawn_cli = lambda n, a, **kw: net.child(n, "cli", a, **kw)
        else:
            spawn_srv = spawn_cli = lambda n, a, **kw: Child(n, a, self.logdir, **kw)
        argv = [self.pt_bin, "server", "manual"] + list(srv_ice or cli_ice)
        for a in allowed:
            argv += ["--allowed-tcp", a, "--allowed-udp", a]
        srv = spawn_srv("pt-server-%s" % tag, argv, stdin=subprocess.PIPE, pipe_out=True, env=env)
        argv = [self.pt_bin, "client", "manual"] + list(cli_ice)
        for src in forwards:
            argv += ["--source", src, "--target", "127.0.0.1:0"]
        t_start = time.monotonic()
        cli = spawn_cli("pt-client-%s" % tag, argv, stdin=subprocess.PIPE, pipe_out=True, env=env)
        offer, t_offer = cli.read_block("OFFER", 15)
        srv.write(offer)
        answer, t_answer = srv.read_block("ANSWER", 15)
        t0 = time.monotonic()
        cli.write(answer)
        listen = {}
        start = 0
        t_ready = None
        for _ in forwards:
            idx, t, line = cli.wait_line("err", lambda l: '"ready"' in l, 30, start)
            ev = json.loads(line)
            host, _, port = ev["listen"].rpartition(":")
            listen[ev.get("source")] = int(port)
            start = idx + 1
            t_ready = t
        return srv, cli, {"start": t_start, "offer": t_offer, "answer_out": t_answer,
                          "answer_in": t0, "ready": t_ready}, listen

    @staticmethod
    def data_path(child):
        """What pt says carries its data: the last `data-path` event's
        "data_path" ("fast" / "libnice"), or "unknown" when it printed none
        (a pt without the event); and every such event."""
        evs = [ev for _, ev in Bench.events(child) if ev.get("event") == "data-path"]
        return (evs[-1].get("data_path", "unknown") if evs else "unknown"), evs

    @staticmethod
    def path_kind(child):
        """The path kind of the last `state`/`path` event that had one."""
        kinds = [ev.get("path") for _, ev in Bench.events(child)
                 if ev.get("event") in ("state", "path") and ev.get("path")]
        return kinds[-1] if kinds else None

    def record_pt(self, section, p, srv, cli, **extra):
        """Records what each pt process of path @p says about its data path."""
        d = {}
        for side, c in (("client", cli), ("server", srv)):
            kind, evs = self.data_path(c)
            d[side] = kind
            d[side + "_events"] = evs
            d[side + "_path_kind"] = self.path_kind(c)
        d.update(extra)
        self.results.setdefault("data_path", {}).setdefault(section, {})[p] = d
        return d

    def start_coturn(self, tag, listen, spawn, connect=None):
        """turnserver on @listen (as tests/integration/harness.py starts it:
        long-term credentials u:p, realm test, no TLS/DTLS, loopback peers
        allowed); (child, port)."""
        port = free_port()
        d = os.path.join(self.tmp, "turn-%s" % tag)
        os.makedirs(d, exist_ok=True)
        c = spawn("turnserver-%s" % tag, [
            "turnserver", "-n", "--listening-ip=%s" % listen, "--relay-ip=%s" % listen,
            "--listening-port=%d" % port, "--lt-cred-mech", "--user=u:p", "--realm=test",
            "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
            "--pidfile=%s" % os.path.join(d, "turnserver.pid"),
            "--userdb=%s" % os.path.join(d, "turndb"), "--log-file=stdout"])
        wait_port(port, 20, c, connect=connect, host=listen)
        return c, port

    def start_pt(self):
        srcs = ["tcp://127.0.0.1:%d" % self.echo_port, "udp://127.0.0.1:%d" % self.udp_port]
        if self.iperf_port:
            srcs.insert(0, "tcp://127.0.0.1:%d" % self.iperf_port)
        self.pt_pairs = {}
        pairs = [("pt", "main", PT_ICE, None, srcs),
                 ("pt-libnice", "libnice", PT_ICE, PT_LIBNICE_ENV, srcs)]
        main_only = getattr(self.args, "main_pair_only", False)   # bench/profile.py
        if main_only:
            del pairs[1:]
        elif shutil.which("turnserver"):
            turn, port = self.start_coturn("loopback", "127.0.0.1",
                                           lambda n, a: Child(n, a, self.logdir))
            self.turn_children = [turn]
            self.cpu_turn = turn
            pairs.append(("pt-turn", "turn", PT_ICE + [
                "--relay-only", "--turn", "turn://u:p@127.0.0.1:%d" % port], None, srcs[:-1]))
        else:
            self.skips["pt-turn"] = ("SKIP: forced-TURN row: turnserver not installed "
                                     "(apt-get install coturn)")
            print(self.skips["pt-turn"])
        if self.echo6_port and not main_only:
            s6 = ["tcp://[::1]:%d" % self.echo6_port]
            if self.iperf6_port:
                s6.insert(0, "tcp://[::1]:%d" % self.iperf6_port)
            pairs.append(("pt-v6", "v6", ["--json", "--no-stun", "--local-address", "::1"],
                          None, s6))
        for p, tag, ice, env, fw in pairs:
            allowed = ("::1/128",) if p == "pt-v6" else ("127.0.0.0/8",)
            srv, cli, _, listen = self.pt_pair(tag, fw, ice, env=env, allowed=allowed)
            self.pt_pairs[p] = (srv, cli)
            tcp_src = [u for u in fw if "udp://" not in u]
            self.paths[p] = {"tcp": listen.get(tcp_src[0]) if len(tcp_src) > 1 else None,
                             "echo": listen[tcp_src[-1]],
                             "udp": listen.get(srcs[-1]) if p in ("pt", "pt-libnice") else None}
            self.cpu_pids[p] = (lambda srv=srv, cli=cli: [("pt client", cli.pid, False),
                                                          ("pt server", srv.pid, False)])
        if "pt-turn" in self.paths:
            self.cpu_pids["pt-turn"] = (lambda f=self.cpu_pids["pt-turn"]: f() +
                                        [("turnserver", self.cpu_turn.pid, False)])
        self.pts, self.ptc = self.pt_pairs["pt"]

    def record_loopback_data_paths(self):
        for p, (srv, cli) in self.pt_pairs.items():
            self.record_pt("loopback", p, srv, cli,
                           env=PT_LIBNICE_ENV if p == "pt-libnice" else {})

    def pt_fds(self):
        n = 0
        for pid in (self.ptc.pid, self.pts.pid):
            try:
                n += len(os.listdir("/proc/%d/fd" % pid))
            except OSError:
                pass
        return n

    def wait_pt_drained(self, timeout):
        """Waits until the main pt pair holds no more descriptors than when
        idle (+4): the connections of an earlier run are torn down."""
        limit = time.monotonic() + timeout
        while self.pt_fds() > self.pt_idle_fds + 4 and time.monotonic() < limit:
            time.sleep(0.2)

    def pt_memory(self):
        return {"server": proc_status(self.pts.pid), "client": proc_status(self.ptc.pid)}

    def check_alive(self):
        pt = [c for pair in self.pt_pairs.values() for c in pair]
        for c in [self.svc] + pt + self.socats + list(self.ssh_clients.values()):
            if c is not None and not c.alive():
                raise RuntimeError("%s died (status %r); log: %s" % (c.name, c.popen.poll(), c.logpath))

    # -- throughput ----------------------------------------------------------
    def iperf(self, port, streams, seconds, host="127.0.0.1", wrap=(), restart=None):
        argv = list(wrap) + ["iperf3", "-c", host, "-p", str(port), "-t", str(seconds), "-J",
                             "-P", str(streams), "--connect-timeout", "5000"]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=seconds + 20, start_new_session=True)
        except subprocess.TimeoutExpired:
            # the iperf3 server may be stuck on the aborted test: restart it
            if restart is not None:
                restart()
            return None, "timeout"
        try:
            j = json.loads(r.stdout.decode())
        except ValueError:
            return None, "bad output: %s" % r.stderr.decode()[-300:]
        if "error" in j:
            return None, j["error"]
        s = j["end"]["sum_received"]
        return {"bytes": s["bytes"], "seconds": s["seconds"],
                "MBps": s["bytes"] / s["seconds"] / 1e6}, None

    @staticmethod
    def cpu_by_process(groups):
        """{label: CPU seconds} of [(label, pid, with_children)]."""
        out = {}
        for label, pid, ch in groups:
            out[label] = out.get(label, 0.0) + cpu_seconds(pid, ch)
        return out

    def interleaved_throughput(self, name, order, target, cpu_groups, reps, secs, check):
        """iperf3 through each path of @order, @reps repetitions interleaved
        (rep 1 of every path, then rep 2, ...), 1 and 8 streams.
        @target(p) -> dict(port=, host=, wrap=, restart=); @cpu_groups[p]() ->
        [(process label, pid, with_children)].  Returns (figures, cpu)."""
        out, cpu = {}, {}
        for streams in (1, 8):
            key = "%d-stream" % streams
            runs = {p: [] for p in order}
            errors = {p: [] for p in order}
            acc = {p: {} for p in order}
            nbytes = {p: 0 for p in order}
            for rep in range(reps):
                for p in order:
                    check()
                    before = self.cpu_by_process(cpu_groups.get(p, lambda: [])())
                    r, err = self.iperf(streams=streams, seconds=secs, **target(p))
                    time.sleep(0.2)  # let socat's children be reaped
                    after = self.cpu_by_process(cpu_groups.get(p, lambda: [])())
                    if r is None:
                        errors[p].append(err)
                        log("%s %s %s rep %d: FAILED (%s)" % (name, key, p, rep + 1, err))
                        continue
                    runs[p].append(r["MBps"])
                    for label, t in after.items():
                        acc[p][label] = acc[p].get(label, 0.0) + t - before.get(label, 0.0)
                    nbytes[p] += r["bytes"]
                    log("%s %s %-10s rep %d: %8.1f MB/s" % (name, key, p, rep + 1, r["MBps"]))
            ref = statistics.median(runs["ssh-aes"]) if runs.get("ssh-aes") else None
            out[key] = {}
            for p in order:
                med = statistics.median(runs[p]) if runs[p] else None
                out[key][p] = {"median_MBps": med, "runs_MBps": runs[p], "errors": errors[p],
                               "ratio_to_ssh_aes": (med / ref) if (med and ref) else None}
                if p in cpu_groups and nbytes[p]:
                    total = sum(acc[p].values())
                    cpu.setdefault(key, {})[p] = {
                        "cpu_seconds": total, "bytes": nbytes[p],
                        "cpu_s_per_GiB": total / (nbytes[p] / GiB),
                        "per_process": {label: {"cpu_seconds": t,
                                                "cpu_s_per_GiB": t / (nbytes[p] / GiB)}
                                        for label, t in acc[p].items()}}
        return out, cpu

    def throughput(self):
        reps, secs = (1, 2) if self.quick else (3, 3)
        self.results["config"]["throughput"] = "%d repetitions x %d s, iperf3 client->server" % (reps, secs)
        if not self.have_iperf:
            self.results["throughput"] = {"skipped": self.skips["iperf3"]}
            return
        order = [p for p in LOOPBACK_ORDER if self.paths.get(p, {}).get("tcp")]

        def target(p):
            return {"port": self.paths[p]["tcp"], "host": self.paths[p].get("host", "127.0.0.1"),
                    "restart": lambda: self.restart_iperf_server(
                        "::1" if p.endswith("-v6") else "127.0.0.1")}
        out, cpu = self.interleaved_throughput("loopback", order, target, self.cpu_pids,
                                               reps, secs, self.check_alive)
        self.results["throughput"] = out
        self.results["cpu"] = cpu
        self.record_loopback_data_paths()

    # -- latency -----------------------------------------------------------
    @staticmethod
    def rtt(s, msg, p):
        t0 = time.perf_counter_ns()
        s.sendall(msg)
        buf = bytearray()
        while len(buf) < len(msg):
            d = s.recv(65536)
            if not d:
                raise RuntimeError("%s: echo closed" % p)
            buf += d
        t1 = time.perf_counter_ns()
        if bytes(buf) != msg:
            raise RuntimeError("%s: echo returned wrong bytes" % p)
        return (t1 - t0) / 1000.0

    @staticmethod
    def udp_out_datagrams(net, side):
        """Udp OutDatagrams of @side's namespace (/proc/net/snmp)."""
        rows = [l.split() for l in net.run(side, ["cat", "/proc/net/snmp"]).splitlines()
                if l.startswith("Udp:")]
        return int(dict(zip(rows[0][1:], rows[1][1:]))["OutDatagrams"])

    def packets_per_round_trip(self, net, pairs, paths, n):
        """For each pt path: UDP datagrams each namespace sent per 1-byte
        request/response, over @n back-to-back round trips with nothing else
        in flight (the namespaces hold only the pt pairs' UDP)."""
        out = {}
        msg = b"x"
        for p in pairs:
            s = net.connect("cli", paths[p]["host"], paths[p]["echo"])
            try:
                s.settimeout(10)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for _ in range(50):
                    self.rtt(s, msg, p)
                before = {side: self.udp_out_datagrams(net, side) for side in ("cli", "srv")}
                for _ in range(n):
                    self.rtt(s, msg, p)
                after = {side: self.udp_out_datagrams(net, side) for side in ("cli", "srv")}
            finally:
                s.close()
            out[p] = {"round_trips": n,
                      "client": (after["cli"] - before["cli"]) / n,
                      "server": (after["srv"] - before["srv"]) / n}
            log("veth %-10s UDP datagrams per round trip: client %.2f + server %.2f" % (
                p, out[p]["client"], out[p]["server"]))
        return out

    def interleaved_latency(self, name, order, connect, n, block, check, base=lambda p: "direct"):
        """Request/response round trips through each path of @order (a
        socket from @connect(p)), 1 B then 1 KiB, the paths interleaved in
        blocks of @block; "added" is relative to the path @base(p)."""
        out = {}
        for size in (1, 1024):
            msg = os.urandom(size)
            out["%dB" % size] = res = {}
            socks = {}
            samples = {p: [] for p in order}
            try:
                for p in order:
                    s = connect(p)
                    s.settimeout(10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    socks[p] = s
                    for _ in range(50):
                        self.rtt(s, msg, p)
                # interleave the paths so that noise from the rest of the
                # machine falls on all of them alike
                while len(samples[order[0]]) < n:
                    check()
                    for p in order:
                        for _ in range(min(block, n - len(samples[p]))):
                            samples[p].append(self.rtt(socks[p], msg, p))
            finally:
                for s in socks.values():
                    s.close()
            for p in order:
                res[p] = {"p50_us": pct(samples[p], 50), "p99_us": pct(samples[p], 99),
                          "mean_us": statistics.mean(samples[p]), "n": len(samples[p])}
            for p in order:
                b = base(p) if base(p) in res else order[0]
                res[p]["added_p50_us"] = res[p]["p50_us"] - res[b]["p50_us"]
                res[p]["added_p99_us"] = res[p]["p99_us"] - res[b]["p99_us"]
                res[p]["added_to"] = b
                log("%s latency %5dB %-10s p50 %8.1f us  p99 %8.1f us" % (
                    name, size, p, res[p]["p50_us"], res[p]["p99_us"]))
        return out

    def latency(self):
        n = 300 if self.quick else 2000
        block = 100
        self.results["config"]["latency"] = (
            "%d round trips per size after 50 warm-up, paths interleaved in blocks of %d, "
            "TCP_NODELAY on the client" % (n, block))
        order = [p for p in LOOPBACK_ORDER if self.paths.get(p, {}).get("echo")]

        def connect(p):
            host = self.paths[p].get("host", "127.0.0.1")
            return socket.create_connection((host, self.paths[p]["echo"]), timeout=10)
        self.results["latency"] = self.interleaved_latency(
            "loopback", order, connect, n, block, self.check_alive,
            base=lambda p: "direct-v6" if p.endswith("-v6") else "direct")
        self.record_loopback_data_paths()

    # -- setup ---------------------------------------------------------------
    def setup(self):
        reps = 2 if self.quick else 5
        samples = []
        for rep in range(reps):
            srv, cli, t, listen = self.pt_pair("setup%d" % rep, ["tcp://127.0.0.1:%d" % self.echo_port])
            try:
                port = list(listen.values())[0]
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(b"x")
                if s.recv(1) != b"x":
                    raise RuntimeError("setup: echo mismatch")
                t_echo = time.monotonic()
                s.close()
                mem = {"server": proc_status(srv.pid), "client": proc_status(cli.pid)}
            finally:
                cli.kill()
                srv.kill()
                for c in (cli, srv):
                    if c in REGISTRY:
                        REGISTRY.remove(c)
            sample = {
                "client_start_to_offer_ms": (t["offer"] - t["start"]) * 1000,
                "offer_to_answer_ms": (t["answer_out"] - t["offer"]) * 1000,
                "answer_to_ready_ms": (t["ready"] - t["answer_in"]) * 1000,
                "answer_to_first_byte_echoed_ms": (t_echo - t["answer_in"]) * 1000,
                "client_start_to_first_byte_echoed_ms": (t_echo - t["start"]) * 1000,
                "client_start_to_ready_ms": (t["ready"] - t["start"]) * 1000,
                "fresh_pair_memory_kB": mem,
            }
            # where the time goes: the client's JSON state events, as read
            with cli.cond:
                for t_line, line in cli.err_lines:
                    if line.startswith("{") and t["answer_in"] <= t_line <= t_echo:
                        try:
                            ev = json.loads(line)
                        except ValueError:
                            continue
                        if ev.get("event") == "state":
                            sample["answer_to_state_%s_ms" % ev.get("state")] = \
                                (t_line - t["answer_in"]) * 1000
            samples.append(sample)
            log("setup rep %d: answer->ready %.1f ms, answer->first byte echoed %.1f ms" % (
                rep + 1, sample["answer_to_ready_ms"], sample["answer_to_first_byte_echoed_ms"]))
        keys = sorted({k for s in samples for k in s if k.endswith("_ms")})
        self.results["setup"] = {
            "manual": {k: statistics.median(s[k] for s in samples if k in s) for k in keys},
            "manual_min": {k: min(s[k] for s in samples if k in s) for k in keys},
            "manual_max": {k: max(s[k] for s in samples if k in s) for k in keys},
            "manual_runs": samples,
        }

    # -- UDP -----------------------------------------------------------------
    def udp(self):
        secs = 1.0 if self.quick else 2.0
        rates = (10000, 50000, 100000)
        self.results["config"]["udp"] = "one-way, %.0f s per rate, paced in 1 ms slots; sink counts after 0.5 s drain" % secs
        out = {}
        run_id = random.randrange(1 << 20)
        for size in (100, 1100):
            for rate in rates:
                for p in [p for p in ("direct", "pt", "pt-libnice") if self.paths.get(p, {}).get("udp")]:
                    self.check_alive()
                    run_id += 1
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
                    s.connect(("127.0.0.1", self.paths[p]["udp"]))
                    pad = b"\0" * (size - 8)
                    pk = struct.Struct("!II").pack
                    total = int(rate * secs)
                    sent = 0
                    send_err = 0
                    t0 = time.perf_counter()
                    while sent < total:
                        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
                        while sent < due:
                            try:
                                s.send(pk(run_id, sent) + pad)
                            except (BlockingIOError, ConnectionRefusedError, OSError):
                                send_err += 1
                            sent += 1
                        if sent < total:
                            nxt = t0 + sent / rate
                            d = nxt - time.perf_counter()
                            if d > 0:
                                time.sleep(min(d, 0.001))
                    t_send = time.perf_counter() - t0
                    s.close()
                    time.sleep(0.5)
                    st = self.udp_stats(run_id)
                    r = {"offered_pps": rate, "sent": sent, "send_seconds": t_send,
                         "achieved_send_pps": sent / t_send, "received": st["distinct"],
                         "received_pps": st["distinct"] / t_send,
                         "loss_pct": 100.0 * (1 - st["distinct"] / sent),
                         "send_errors": send_err}
                    out.setdefault("%dB" % size, {}).setdefault(p, []).append(r)
                    log("udp %4dB %6d pps %-6s sent %6.0f pps, received %6.0f pps, loss %5.1f%%" % (
                        size, rate, p, r["achieved_send_pps"], r["received_pps"], r["loss_pct"]))
        self.results["udp"] = out

    # -- scale ---------------------------------------------------------------
    def scale_run(self, port, n, payload_size, on_all_open=None, batch=None):
        """Opens @n connections to the echo at @port (all at once, or
        @batch at a time, each batch echoed before the next opens), sends
        each a distinct payload, checks the echo, holds all @n open, calls
        @on_all_open, then half-closes all and waits for every EOF."""
        sel = selectors.DefaultSelector()
        conns = []
        t0 = time.monotonic()
        limit = t0 + (45 if self.quick else 90)
        stall = 8.0 if self.quick else 15.0
        state = {"done": 0, "connected": 0, "last": t0, "all_connected": None}
        errors = []
        ovf0 = listen_overflows()

        def open_some(k):
            for _ in range(k):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                st = {"i": len(conns), "sock": s, "payload": os.urandom(payload_size),
                      "sent": 0, "got": bytearray(), "connected": False}
                conns.append(st)
                sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)

        def pump(target):
            while state["done"] < target:
                now = time.monotonic()
                if now > limit or now - state["last"] > stall:
                    stuck = [st for st in conns
                             if st["sent"] < payload_size or len(st["got"]) < payload_size]
                    raise RuntimeError(
                        "%d of %d connections complete after %.0fs (%d connected; no progress "
                        "for %.0fs); of the %d stuck, %d had sent all %d B, %d had received "
                        "nothing back; listen overflows during the run: %d"
                        % (state["done"], n, now - t0, state["connected"], now - state["last"],
                           len(stuck), sum(1 for st in stuck if st["sent"] == payload_size),
                           payload_size, sum(1 for st in stuck if not st["got"]),
                           listen_overflows() - ovf0))
                events = sel.select(timeout=1.0)
                if events:
                    state["last"] = time.monotonic()
                for key, mask in events:
                    st = key.data
                    s = st["sock"]
                    if not st["connected"] and mask & selectors.EVENT_WRITE:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise RuntimeError("connect failed: %s" % os.strerror(err))
                        st["connected"] = True
                        state["connected"] += 1
                        if state["connected"] == n:
                            state["all_connected"] = time.monotonic()
                    try:
                        if mask & selectors.EVENT_WRITE and st["sent"] < payload_size:
                            st["sent"] += s.send(st["payload"][st["sent"]:])
                        if mask & selectors.EVENT_READ:
                            d = s.recv(65536)
                            if not d:
                                raise RuntimeError("connection %d closed early after %d bytes"
                                                   % (st["i"], len(st["got"])))
                            st["got"] += d
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError as e:
                        raise RuntimeError("connection %d (of %d open, %d complete): %s after "
                                           "sending %d B and receiving %d B"
                                           % (st["i"], len(conns), state["done"], e,
                                              st["sent"], len(st["got"])))
                    ev = 0
                    if len(st["got"]) < payload_size:
                        ev |= selectors.EVENT_READ
                    if st["sent"] < payload_size:
                        ev |= selectors.EVENT_WRITE
                    if ev:
                        sel.modify(s, ev, st)
                    else:
                        sel.unregister(s)
                        if bytes(st["got"]) != st["payload"]:
                            errors.append(st["i"])
                        state["done"] += 1

        try:
            step = batch or n
            try:
                while len(conns) < n:
                    open_some(min(step, n - len(conns)))
                    pump(len(conns))
            except RuntimeError as e:
                # sample (e.g. memory) while the connections are still open
                e.extra = on_all_open() if on_all_open else None
                raise
            t_done = time.monotonic()
            extra = on_all_open() if on_all_open else None
            open_now = sum(1 for st in conns if st["sock"].fileno() >= 0)
            for st in conns:
                st["sock"].shutdown(socket.SHUT_WR)
            for st in conns:
                s = st["sock"]
                s.setblocking(True)
                s.settimeout(30)
                try:
                    if s.recv(1) != b"":
                        errors.append(st["i"])
                except OSError:
                    errors.append(st["i"])
            t_closed = time.monotonic()
        finally:
            for st in conns:
                st["sock"].close()
            sel.close()
        return {"connections": n, "held_open_at_once": open_now,
                "opened": "all at once" if not batch else "%d at a time" % batch,
                "payload_bytes_each_way": payload_size,
                "bytes_checked": n * payload_size * 2, "mismatches": len(set(errors)),
                "all_connected_s": (state["all_connected"] or t_done) - t0,
                "all_echoed_s": t_done - t0, "all_closed_s": t_closed - t0,
                "listen_overflows": listen_overflows() - ovf0}, extra

    def scale(self):
        n = 200 if self.quick else 1000
        self.results["config"]["scale_connections"] = n
        size = 16 * 1024
        self.results["config"]["scale"] = (
            "%d connections, %d B each way, echo checked, all %d held open, then half-closed; "
            "'burst' opens all at once, 'ramp' opens 8 at a time (below GLib's default listen backlog of 10)" % (n, size, n))
        out = {}
        runs = [(mode, batch, p, n) for mode, batch in (("burst", None), ("ramp", 8))
                for p in ("direct", "ssh-aes", "pt") if p in self.paths]
        # pt's first stream is its control stream: show what one fewer gives
        runs.append(("ramp-1", 8, "pt", n - 1))
        for mode, batch, p, n in runs:
            if p not in self.paths:
                continue
            if mode == "ramp-1" and "error" not in out.get("pt/ramp", {}):
                continue
            if True:
                self.check_alive()
                if p == "pt":
                    self.wait_pt_drained(30)
                hook = self.pt_memory if p == "pt" else None
                key = "%s/%s" % (p, mode)
                try:
                    r, extra = self.scale_run(self.paths[p]["echo"], n, size, hook, batch)
                except RuntimeError as e:
                    log("scale %s: FAILED: %s" % (key, e))
                    out[key] = {"error": str(e)}
                    if getattr(e, "extra", None) is not None:
                        self.results["memory"]["at_scale_" + mode] = e.extra
                    continue
                out[key] = r
                if extra is not None:
                    self.results["memory"]["at_scale_" + mode] = extra
                log("scale %-14s %d conns: all connected %.2f s, all echoed %.2f s, closed %.2f s, "
                    "mismatches %d, listen overflows %d" % (
                        key, n, r["all_connected_s"], r["all_echoed_s"], r["all_closed_s"],
                        r["mismatches"], r["listen_overflows"]))
                time.sleep(1)
        self.results["scale"] = out

    # -- Nostr mode (local relay) --------------------------------------------
    def nostr_skip_reason(self):
        """None when Nostr mode can be measured, else a "SKIP: ..." line
        (printed once and recorded under "skipped")."""
        if hasattr(self, "_nostr_skip"):
            return self._nostr_skip
        reason = None
        self.node = shutil.which("node")
        if self.node is None:
            reason = ("node is not installed (./scripts/setup test installs it, "
                      "then: npm ci --prefix tests/relay)")
        elif not os.path.isdir(os.path.join(RELAY_DIR, "node_modules", "@nostr-relay")):
            reason = "tests/relay/node_modules is missing (run: npm ci --prefix tests/relay)"
        else:
            r = subprocess.run([self.pt_bin, "server", "nostr", "--help"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
            if r.returncode != 0:
                reason = "%s has no Nostr mode (`pt server nostr --help` failed)" % self.pt_bin
        self._nostr_skip = None
        if reason:
            self._nostr_skip = "SKIP: Nostr mode: %s" % reason
            self.skips["nostr"] = self._nostr_skip
            print(self._nostr_skip)
        return self._nostr_skip

    def start_relay(self, tag):
        """tests/relay/relay.mjs on a free loopback port; it exits when its
        stdin closes, so it gets a pipe that stays open until it is killed."""
        relay = Child("relay-%s" % tag, [self.node, os.path.join(RELAY_DIR, "relay.mjs"), "0"],
                      self.logdir, stdin=subprocess.PIPE, pipe_out=True)
        _, _, line = relay.wait_line("out", lambda l: l.startswith("listening "), 20)
        return relay, "ws://127.0.0.1:%s" % line.split()[1]

    def nostr_keys(self, n, tag):
        """@n fresh key files (mode 0600, written by `pt keygen`): [(path, npub)]."""
        d = os.path.join(self.tmp, "keys-%s" % tag)
        os.makedirs(d, mode=0o700, exist_ok=True)
        keys = []
        for i in range(n):
            path = os.path.join(d, "%d.nsec" % i)
            r = subprocess.run([self.pt_bin, "keygen", "--output", path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=10)
            if r.returncode != 0:
                raise RuntimeError("pt keygen failed: %s" % r.stderr.decode().strip())
            keys.append((path, r.stdout.decode().strip()))
        return keys

    def nostr_server(self, tag, relay_url, client_npubs):
        (skey, snpub), = self.nostr_keys(1, "server-%s" % tag)
        argv = [self.pt_bin, "server", "nostr"] + PT_ICE + ["--nsec-file", skey]
        for npub in client_npubs:
            argv += ["--peer-npub", npub]
        argv += ["--allowed-tcp", "127.0.0.0/8", "--relay", relay_url]
        # The default --max-sessions (64) would refuse the scale section's extra clients.
        argv += ["--max-sessions", str(max(64, len(client_npubs) + 8))]
        srv = Child("pt-nostr-server-%s" % tag, argv, self.logdir)
        srv.wait_line("err", lambda l: '"listening"' in l, 20)
        srv.wait_line("err", lambda l: '"relay"' in l and '"connected"' in l, 20)
        return srv, snpub

    def nostr_client(self, name, key, server_npub, relay_url):
        return Child(name, [self.pt_bin, "client", "nostr"] + PT_ICE + [
            "--nsec-file", key, "--peer-npub", server_npub,
            "--source", "tcp://127.0.0.1:%d" % self.echo_port, "--target", "127.0.0.1:0",
            "--relay", relay_url, "--no-reconnect"], self.logdir)

    @staticmethod
    def events(child, since=0.0):
        """[(time, event dict)] of a child's JSON lines on stderr."""
        out = []
        with child.cond:
            lines = list(child.err_lines)
        for t, line in lines:
            if t >= since and line.startswith("{"):
                try:
                    out.append((t, json.loads(line)))
                except ValueError:
                    pass
        return out

    @staticmethod
    def client_failure(child):
        """What a failed pt client said last (its error/refused event, or its
        last stderr line) and its exit status."""
        msg = None
        with child.cond:
            lines = list(child.err_lines)
        for _, line in reversed(lines):
            if '"error"' in line or '"refused"' in line:
                try:
                    ev = json.loads(line)
                    msg = ev.get("message") or ev.get("reason") or line
                except ValueError:
                    msg = line
                break
        if msg is None and lines:
            msg = lines[-1][1]
        return "exit %r: %s" % (child.popen.poll(), msg or "(nothing on stderr)")

    def nostr_setup(self):
        """Client start -> first byte echoed through the tunnel, Nostr mode,
        one server (started once, as a user's would be) and a local relay,
        a fresh client process with a fresh key per repetition."""
        reason = self.nostr_skip_reason()
        if reason:
            self.results["nostr_setup"] = {"skipped": reason}
            return
        reps = 3 if self.quick else 10
        relay, url = self.start_relay("setup")
        keys = self.nostr_keys(reps, "setup")
        srv, snpub = self.nostr_server("setup", url, [npub for _, npub in keys])
        samples = []
        try:
            for rep, (key, npub) in enumerate(keys):
                t0 = time.monotonic()
                cli = self.nostr_client("pt-nostr-client-setup%d" % rep, key, snpub, url)
                try:
                    try:
                        _, t_ready, line = cli.wait_line("err", lambda l: '"ready"' in l, 45)
                    except RuntimeError as e:
                        with cli.cond:
                            exited = cli.eof["err"]
                        if exited:
                            try:
                                cli.popen.wait(5)
                            except subprocess.TimeoutExpired:
                                pass
                        raise RuntimeError("nostr setup rep %d: %s" % (
                            rep + 1, self.client_failure(cli) if exited else e))
                    port = int(json.loads(line)["listen"].rpartition(":")[2])
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    s.sendall(b"x")
                    if s.recv(1) != b"x":
                        raise RuntimeError("nostr setup: echo mismatch")
                    t_echo = time.monotonic()
                    s.close()
                    mem = proc_status(cli.pid)
                finally:
                    cli.kill()
                    if cli in REGISTRY:
                        REGISTRY.remove(cli)
                sample = {"client_start_to_ready_ms": (t_ready - t0) * 1000,
                          "client_start_to_first_byte_echoed_ms": (t_echo - t0) * 1000,
                          "client_memory_kB": mem}
                for t, ev in self.events(cli, t0):
                    name = None
                    if ev.get("event") == "relay" and ev.get("state") == "connected":
                        name = "relay_connected"
                    elif ev.get("event") == "state":
                        name = "state_%s" % ev.get("state")
                    if name and "client_start_to_%s_ms" % name not in sample:
                        sample["client_start_to_%s_ms" % name] = (t - t0) * 1000
                for t, ev in self.events(srv, t0):
                    if ev.get("event") == "request" and ev.get("peer") == npub:
                        sample["client_start_to_server_request_ms"] = (t - t0) * 1000
                        break
                if "client_start_to_state_checking_ms" in sample:
                    # the client's `checking` state follows the answer at once
                    # (0.4 ms in manual mode): the same origin as manual's figure
                    sample["answer_to_first_byte_echoed_ms"] = (
                        sample["client_start_to_first_byte_echoed_ms"] -
                        sample["client_start_to_state_checking_ms"])
                samples.append(sample)
                log("nostr setup rep %d: client start->ready %.1f ms, ->first byte echoed %.1f ms"
                    % (rep + 1, sample["client_start_to_ready_ms"],
                       sample["client_start_to_first_byte_echoed_ms"]))
                # the server should see the session end before the next one
                limit = time.monotonic() + 10
                while (sum(1 for _, ev in self.events(srv) if ev.get("event") == "closed")
                       < rep + 1 and time.monotonic() < limit):
                    time.sleep(0.05)
            closed = sum(1 for _, ev in self.events(srv) if ev.get("event") == "closed")
            srv_mem = proc_status(srv.pid)
        finally:
            for c in (srv, relay):
                c.kill()
                if c in REGISTRY:
                    REGISTRY.remove(c)
        keys_ms = sorted({k for s in samples for k in s if k.endswith("_ms")})
        self.results["nostr_setup"] = {
            "repetitions": reps,
            "how": "one pt server nostr (started once) and one local relay (tests/relay/relay.mjs); "
                   "per repetition a fresh `pt client nostr --no-reconnect` with its own key; "
                   "clock starts just before the client process is spawned",
            "median": {k: statistics.median(s[k] for s in samples if k in s) for k in keys_ms},
            "min": {k: min(s[k] for s in samples if k in s) for k in keys_ms},
            "max": {k: max(s[k] for s in samples if k in s) for k in keys_ms},
            "runs": samples,
            "server_sessions_closed": closed,
            "server_memory_kB_after": srv_mem,
        }

    def nostr_scale(self):
        """@n `pt client nostr` processes, each with its own key, on one
        `pt server nostr` through one local relay, started @wave at a time
        (the next wave once every client of the last is ready or failed);
        each moves checksummed bytes; all are held up until every one is
        done, then all stopped, and the server watched for leaks."""
        reason = self.nostr_skip_reason()
        if reason:
            self.results["nostr_scale"] = {"skipped": reason}
            return
        n = self.args.nostr_clients or (25 if self.quick else 100)
        wave = min(self.args.nostr_wave or n, n)
        rounds = self.args.nostr_rounds or (1 if self.quick else 2)
        payload = (256 if self.quick else 1024) * 1024
        t_ready_max = 60.0
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        relay, url = self.start_relay("scale")
        keys = self.nostr_keys(n, "scale")
        srv, snpub = self.nostr_server("scale", url, [npub for _, npub in keys])
        out = {"clients": n, "wave": wave, "rounds": [], "payload_bytes_each_way": payload,
               "rlimit_nofile": [soft, hard],
               "how": "%d pt client nostr processes (own key each, all listed by --peer-npub; "
                      "--no-reconnect) on one pt server nostr through one local relay, %s; "
                      "each sends %d random bytes through its tunnel to the echo service and "
                      "checks the SHA-256 of what comes back; all held up until the last is "
                      "done, then all stopped (SIGTERM)" % (
                          n, "all started at once" if wave >= n else
                          "started in waves of %d (the next wave once the last is ready)" % wave,
                          payload)}

        def fds(pid):
            try:
                return len(os.listdir("/proc/%d/fd" % pid))
            except OSError:
                return None

        samples = []        # (t, server VmRSS kB, server fds, server CPU s)
        sampling = threading.Event()

        def sampler():
            while not sampling.is_set():
                samples.append((time.monotonic(), proc_status(srv.pid).get("VmRSS"),
                                fds(srv.pid), cpu_seconds(srv.pid)))
                sampling.wait(0.25)
        sampler_thread = threading.Thread(target=sampler, daemon=True, name="nostr-sampler")

        def flow(cli, rec):
            """Waits for the client's ready, then moves @payload bytes each way."""
            try:
                _, t, line = cli.wait_line("err", lambda l: '"ready"' in l, t_ready_max)
            except RuntimeError:
                with cli.cond:
                    exited = cli.eof["err"]
                if exited:
                    # stderr closes before the exit is reaped: wait for the status
                    try:
                        cli.popen.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
                    rec["error"] = self.client_failure(cli)
                else:
                    rec["error"] = "not ready after %.0f s" % t_ready_max
                rec["phase"] = "setup"
                return
            rec["ready"] = t
            try:
                port = int(json.loads(line)["listen"].rpartition(":")[2])
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
                data = os.urandom(payload)
                want = hashlib.sha256(data).digest()
                err = []

                def send():
                    try:
                        s.sendall(data)
                        s.shutdown(socket.SHUT_WR)
                    except OSError as e:
                        err.append(e)
                sender = threading.Thread(target=send, daemon=True)
                sender.start()
                h = hashlib.sha256()
                got = 0
                while True:
                    d = s.recv(262144)
                    if not d:
                        break
                    h.update(d)
                    got += len(d)
                sender.join(60)
                s.close()
                if err:
                    raise err[0]
                if got != payload or h.digest() != want:
                    rec["mismatch"] = True
                    raise RuntimeError("echo: %d of %d bytes, checksum %s" % (
                        got, payload, "ok" if h.digest() == want else "WRONG"))
                rec["done"] = time.monotonic()
            except (OSError, RuntimeError, ValueError) as e:
                rec["error"] = "transfer: %s" % e
                rec["phase"] = "transfer"

        try:
            time.sleep(1)
            out["server_idle"] = {"memory_kB": proc_status(srv.pid), "fds": fds(srv.pid)}
            relay_cpu0 = cpu_seconds(relay.pid)
            cpu0 = cpu_seconds(srv.pid)
            sampler_thread.start()
            for rnd in range(rounds):
                self.check_alive()
                clients, recs, threads = [], [], []
                t0 = time.monotonic()
                n_closed0 = sum(1 for _, ev in self.events(srv) if ev.get("event") == "closed")
                n_refused0 = sum(1 for _, ev in self.events(srv) if ev.get("event") == "refused")
                for w0 in range(0, n, wave):
                    batch = []
                    for i in range(w0, min(n, w0 + wave)):
                        rec = {"i": i, "start": time.monotonic()}
                        cli = self.nostr_client("pt-nostr-client-r%d-%d" % (rnd, i),
                                                keys[i][0], snpub, url)
                        th = threading.Thread(target=flow, args=(cli, rec), daemon=True,
                                              name="nostr-client-%d" % i)
                        th.start()
                        clients.append(cli)
                        recs.append(rec)
                        threads.append(th)
                        batch.append(rec)
                    if w0 + wave < n:
                        limit = time.monotonic() + t_ready_max + 5
                        while (any("ready" not in r and "error" not in r for r in batch)
                               and time.monotonic() < limit):
                            time.sleep(0.02)
                for th in threads:
                    th.join(t_ready_max + 120)
                t_end = time.monotonic()
                ready = [r["ready"] - t0 for r in recs if "ready" in r]
                done = [r["done"] - t0 for r in recs if "done" in r]
                failures = {}
                for r in recs:
                    if "error" in r:
                        # one line per kind of failure, not per client key
                        kind = re.sub(r"npub1[02-9ac-hj-np-z]+", "npub1…", r["error"])
                        failures.setdefault(kind, []).append(r["i"])
                # all sessions up at once: what the server holds now
                at_peak = {"memory_kB": proc_status(srv.pid), "fds": fds(srv.pid),
                           "cpu_s": cpu_seconds(srv.pid) - cpu0}
                clients_cpu = sum(cpu_seconds(c.pid) for c in clients)
                clients_rss = sorted(proc_status(c.pid).get("VmHWM", 0) for c in clients if c.alive())
                t_stop = time.monotonic()
                for c in clients:
                    try:
                        os.killpg(c.pid, signal.SIGTERM)
                    except (ProcessLookupError, PermissionError):
                        pass
                for c in clients:
                    c.kill(grace=5)
                    if c in REGISTRY:
                        REGISTRY.remove(c)
                n_up = len(ready)
                limit = time.monotonic() + 30
                while time.monotonic() < limit:
                    n_closed = sum(1 for _, ev in self.events(srv) if ev.get("event") == "closed")
                    if n_closed - n_closed0 >= n_up:
                        break
                    time.sleep(0.1)
                t_closed = time.monotonic()
                time.sleep(2)
                after = {"memory_kB": proc_status(srv.pid), "fds": fds(srv.pid),
                         "cpu_s": cpu_seconds(srv.pid) - cpu0}
                r = {
                    "round": rnd + 1,
                    "ready": len(ready), "complete": len(done), "failed": n - len(done),
                    "mismatches": sum(1 for x in recs if x.get("mismatch")),
                    "failures": {k: len(v) for k, v in failures.items()},
                    "failed_clients": failures,
                    "all_ready_s": max(ready) if len(ready) == n else None,
                    "ready_p50_s": pct(ready, 50), "ready_max_s": max(ready) if ready else None,
                    "all_complete_s": max(done) if len(done) == n else None,
                    "last_complete_s": max(done) if done else None,
                    "elapsed_s": t_end - t0,
                    "setup_s_per_client_p50": pct([x["ready"] - x["start"] for x in recs
                                                   if "ready" in x], 50),
                    "setup_s_per_client_max": max([x["ready"] - x["start"] for x in recs
                                                   if "ready" in x] or [0]),
                    "server_requests": sum(1 for t, ev in self.events(srv, t0)
                                           if ev.get("event") == "request"),
                    "server_refused": sum(1 for _, ev in self.events(srv)
                                          if ev.get("event") == "refused") - n_refused0,
                    "server_refusals": sorted({ev.get("reason", "?") for _, ev in self.events(srv, t0)
                                               if ev.get("event") == "refused"}),
                    "server_sessions_closed": n_closed - n_closed0,
                    "server_all_closed_after_stop_s": (t_closed - t_stop)
                    if n_closed - n_closed0 >= n_up else None,
                    "server_with_all_up": at_peak,
                    "server_after_stop_2s": after,
                    "clients_cpu_s": clients_cpu,
                    "client_VmHWM_kB_p50": pct(clients_rss, 50),
                }
                out["rounds"].append(r)
                log("nostr scale round %d: %d clients (waves of %d): %d ready (all by %s), "
                    "%d complete (all by %s), failures %s; server RSS %s kB with all up, "
                    "%s kB after; fds %s -> %s; closed %d"
                    % (rnd + 1, n, wave, len(ready), fmt(r["all_ready_s"], "%.2f s"), len(done),
                       fmt(r["all_complete_s"], "%.2f s"), r["failures"] or "none",
                       at_peak["memory_kB"].get("VmRSS"), after["memory_kB"].get("VmRSS"),
                       at_peak["fds"], after["fds"], r["server_sessions_closed"]))
            # --nostr-linger: how long the server keeps what the ended
            # sessions used (RSS every 15 s after the last round)
            linger = []
            t_linger = time.monotonic()
            while time.monotonic() - t_linger < self.args.nostr_linger:
                time.sleep(min(15, self.args.nostr_linger - (time.monotonic() - t_linger)))
                self.check_alive()
                linger.append((round(time.monotonic() - t_linger), proc_status(srv.pid).get("VmRSS"),
                               fds(srv.pid)))
                log("nostr scale: %3d s after the last round: server RSS %s kB, %s fds" % linger[-1])
            if linger:
                out["server_after_last_round"] = linger
            sampling.set()
            sampler_thread.join(2)
            out["server_VmHWM_kB"] = proc_status(srv.pid).get("VmHWM")
            out["server_cpu_s"] = cpu_seconds(srv.pid) - cpu0
            out["relay_cpu_s"] = cpu_seconds(relay.pid) - relay_cpu0
            out["server_peak_fds"] = max([x[2] for x in samples if x[2] is not None] +
                                         [x["server_with_all_up"]["fds"] for x in out["rounds"]
                                          if x["server_with_all_up"]["fds"] is not None],
                                         default=None)
            out["server_rss_timeline"] = [(round(t - samples[0][0], 2), rss, nfd, round(c - cpu0, 2))
                                          for t, rss, nfd, c in samples] if samples else []
        finally:
            sampling.set()
            for c in (srv, relay):
                c.kill()
                if c in REGISTRY:
                    REGISTRY.remove(c)
        self.results["nostr_scale"] = out

    # -- veth: TCP forwards between two namespaces ---------------------------
    # Two "machines" joined by one 1500-MTU veth: the services in the far one
    # (srv) on 127.0.0.1, reached from the near one (cli) directly across the
    # veth, through socat, ssh -L and pt (fast path on and off).
    def veth(self):
        reps, secs = (1, 2) if self.quick else (3, 3)
        n = 300 if self.quick else 2000
        reason = NetnsPair.skip_reason("ptvv%d-probe" % os.getpid())
        if reason is None and not self.have_iperf:
            reason = "iperf3 not installed (apt-get install iperf3)"
        if reason:
            self.results["veth"] = {"skipped": "SKIP: veth: %s" % reason}
            print(self.results["veth"]["skipped"])
            return
        A = VETH_ADDR
        net = NetnsPair("ptvv%d" % os.getpid(), self.logdir, A)
        out = {"config": "two network namespaces joined by one veth (%s and %s, MTU 1500); "
                         "iperf3 -s and the echo service in the far one (%s) on 127.0.0.1 "
                         "(and its veth address, for the direct row); iperf3 -c, socat, ssh and "
                         "the pt client in the near one; %d repetitions x %d s per stream count, "
                         "%d round trips per size, paths interleaved"
                         % (A["srv"], A["cli"], A["srv"], reps, secs, n),
               "paths": {}, "rows_skipped": []}
        self.results["veth"] = out
        try:
            net.build()
            svc = net.child("veth-services", "srv", [sys.executable,
                                                     os.path.join(HERE, "services.py"),
                                                     "--bind", "0.0.0.0"], pipe_out=True)
            _, _, line = svc.wait_line("out", lambda l: l.startswith("{"), 10)
            echo = json.loads(line)["echo"]
            iperf_port = free_port()
            iperf_srv = []

            def start_iperf():
                c = net.child("veth-iperf3-server", "srv", ["iperf3", "-s", "-p", str(iperf_port)])
                net.wait_port("srv", "127.0.0.1", iperf_port, 10, c)
                iperf_srv[:] = [c]

            def restart_iperf():
                iperf_srv[0].kill()
                start_iperf()
            start_iperf()
            paths = {"direct": {"host": A["srv"], "tcp": iperf_port, "echo": echo}}
            cpu = {}
            watch = [svc]
            spawn_cli = lambda name, argv: net.child(name, "cli", argv)
            spawn_srv = lambda name, argv: net.child(name, "srv", argv)
            if shutil.which("socat"):
                socats, ports = [], {}
                for kind, tport in (("tcp", iperf_port), ("echo", echo)):
                    lp = free_port()
                    c = self.socat_relay("veth-socat-%s" % kind, lp, A["srv"], tport, spawn_cli)
                    net.wait_port("cli", "127.0.0.1", lp, 10, c)
                    socats.append(c)
                    ports[kind] = lp
                paths["socat"] = dict(ports, host="127.0.0.1")
                cpu["socat"] = lambda: [("socat", c.pid, True) for c in socats]
                watch += socats
            else:
                out["rows_skipped"].append("SKIP: veth socat row: socat not installed (apt-get install socat)")
            sshd_bin, reason = self.ssh_skip_reason()
            if reason is None:
                sshd, sport = self.start_sshd("veth", sshd_bin, A["srv"], spawn_srv)
                if sshd is None:
                    reason = sport
            if reason:
                out["rows_skipped"].append(reason.replace("SKIP: ", "SKIP: veth ssh -L row: "))
            else:
                net.wait_port("cli", A["srv"], sport, 10, sshd)
                ports = {"tcp": free_port(), "echo": free_port()}
                ssh = self.start_ssh_client("veth-ssh-aes", SSH_CIPHERS["ssh-aes"], A["srv"], sport,
                                            [(ports["tcp"], "127.0.0.1", iperf_port),
                                             (ports["echo"], "127.0.0.1", echo)], spawn_cli)
                net.wait_port("cli", "127.0.0.1", ports["echo"], 15, ssh)
                paths["ssh-aes"] = dict(ports, host="127.0.0.1")
                cpu["ssh-aes"] = lambda: [("ssh", ssh.pid, False)] + [
                    ("sshd tree", p, False) for p in descendants(sshd.pid)]
                watch += [sshd, ssh]
            for s in out["rows_skipped"]:
                print(s)
            pairs = {}
            fw = ["tcp://127.0.0.1:%d" % iperf_port, "tcp://127.0.0.1:%d" % echo]
            veth_env = {"pt": None, "pt-bbr": PT_BBR_ENV, "pt-libnice": PT_LIBNICE_ENV}
            for p, tag, env in (("pt", "veth", None), ("pt-bbr", "veth-bbr", PT_BBR_ENV),
                                ("pt-libnice", "veth-libnice", PT_LIBNICE_ENV)):
                srv, cli, _, listen = self.pt_pair(
                    tag, fw, cli_ice=["--json", "--no-stun", "--local-address", A["cli"]],
                    srv_ice=["--json", "--no-stun", "--local-address", A["srv"]], env=env, net=net)
                pairs[p] = (srv, cli)
                paths[p] = {"host": "127.0.0.1", "tcp": listen[fw[0]], "echo": listen[fw[1]]}
                cpu[p] = (lambda srv=srv, cli=cli: [("pt client", cli.pid, False),
                                                    ("pt server", srv.pid, False)])
                watch += [srv, cli]
            link = json.loads(net.ip("-n", net.ns("cli"), "-j", "link", "show", "eth0"))
            out["mtu"] = link[0]["mtu"]
            order = [p for p in VETH_ORDER if p in paths]

            def check():
                for c in watch:
                    if not c.alive():
                        raise RuntimeError("veth: %s died (status %r); log: %s"
                                           % (c.name, c.popen.poll(), c.logpath))

            def target(p):
                return {"port": paths[p]["tcp"], "host": paths[p]["host"],
                        "wrap": ["ip", "netns", "exec", net.ns("cli")], "restart": restart_iperf}
            out["throughput"], out["cpu"] = self.interleaved_throughput(
                "veth", order, target, cpu, reps, secs, check)
            out["latency"] = self.interleaved_latency(
                "veth", order, lambda p: net.connect("cli", paths[p]["host"], paths[p]["echo"]),
                n, 100, check)
            out["packets_per_rt"] = self.packets_per_round_trip(net, pairs, paths, n // 2)
            for p, (srv, cli) in pairs.items():
                out["paths"][p] = self.record_pt("veth", p, srv, cli, env=veth_env[p] or {})
        finally:
            net.teardown()

    # -- relay -> direct upgrade ---------------------------------------------
    def upgrade(self):
        """A pt tunnel between two namespaces that comes up through coturn
        (the direct path between the two pt hosts' addresses dropped by
        nftables in the client's namespace) and moves to the direct path
        when the rule is deleted, while one iperf3 stream runs."""
        reason = NetnsPair.skip_reason("ptvu%d-probe" % os.getpid())
        for tool, pkg in (("iperf3", "iperf3"), ("turnserver", "coturn"), ("nft", "nftables")):
            if reason is None and shutil.which(tool) is None:
                reason = "%s not installed (apt-get install %s)" % (tool, pkg)
        if reason:
            self.results["upgrade"] = {"skipped": "SKIP: relay->direct upgrade: %s" % reason}
            print(self.results["upgrade"]["skipped"])
            return
        A = VETH_ADDR
        turn_addr = "10.98.0.3"    # coturn's own address on the far side's eth0
        before_s, wait_switch, after_s = (3.0, 25.0, 3.0) if self.quick else (4.0, 25.0, 4.0)
        net = NetnsPair("ptvu%d" % os.getpid(), self.logdir, A, extra_addrs={"srv": [turn_addr]})
        out = {"config": "Two namespaces joined by a veth (MTU 1500); coturn in the far one on %s; "
                         "nftables in the near one drops everything between %s and %s (the two pt "
                         "hosts' addresses), so the tunnel comes up relayed; one iperf3 stream "
                         "(client->server, 0.5 s intervals as the iperf3 client reports them); "
                         "%.0f s after the stream starts the rule is deleted"
                         % (turn_addr, A["cli"], A["srv"], before_s)}
        self.results["upgrade"] = out
        iperf = None
        try:
            net.build()
            iperf_port = free_port()
            c = net.child("upgrade-iperf3-server", "srv", ["iperf3", "-s", "-p", str(iperf_port)])
            net.wait_port("srv", "127.0.0.1", iperf_port, 10, c)
            _, tport = self.start_coturn("upgrade", turn_addr,
                                         lambda n, a: net.child(n, "srv", a),
                                         connect=lambda p: net.connect("cli", turn_addr, p, 0.5))
            rules = os.path.join(self.tmp, "upgrade.nft")
            with open(rules, "w") as f:
                f.write("table inet ptbench {\n"
                        "  chain in { type filter hook input priority 0; policy accept; "
                        "ip saddr %s drop; }\n"
                        "  chain out { type filter hook output priority 0; policy accept; "
                        "ip daddr %s drop; }\n}\n" % (A["srv"], A["srv"]))
            net.run("cli", ["nft", "-f", rules])
            url = "turn://u:p@%s:%d" % (turn_addr, tport)
            ice = {side: ["--json", "--no-stun", "--local-address", A[side], "--turn", url]
                   for side in A}
            src = "tcp://127.0.0.1:%d" % iperf_port
            srv, cli, t, listen = self.pt_pair("upgrade", [src], cli_ice=ice["cli"],
                                               srv_ice=ice["srv"], net=net)
            out["path_at_start"] = {"client": self.path_kind(cli), "server": self.path_kind(srv)}
            log("upgrade: tunnel up via %s (client) / %s (server)" % (
                out["path_at_start"]["client"], out["path_at_start"]["server"]))
            iperf = net.child("upgrade-iperf3", "cli", [
                "iperf3", "-c", "127.0.0.1", "-p", str(listen[src]), "-t", "60", "-i", "0.5",
                "--forceflush", "-f", "m"], pipe_out=True)
            t_iperf = time.monotonic()
            time.sleep(before_s)
            t_unblock = time.monotonic()
            net.run("cli", ["nft", "delete", "table", "inet", "ptbench"])
            switched = {}
            limit = t_unblock + wait_switch
            while len(switched) < 2 and time.monotonic() < limit:
                for side, c in (("client", cli), ("server", srv)):
                    if side in switched:
                        continue
                    for te, ev in self.events(c, t_unblock):
                        if ev.get("event") in ("path", "state") and ev.get("path") in (
                                "host", "srflx", "prflx"):
                            switched[side] = (te - t_unblock, ev["path"])
                            break
                if not iperf.alive():
                    break
                time.sleep(0.05)
            t_switch = max([t_unblock + s for s, _ in switched.values()] or [time.monotonic()])
            time.sleep(after_s)
            t_end = time.monotonic()
            iperf.kill()
            # interval lines: "[  5]   1.00-1.50   sec  40.2 MBytes   674 Mbits/sec ..."
            unit = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
            intervals = []
            with iperf.cond:
                lines = list(iperf.out_lines)
            for tl, l in lines:
                m = re.match(r"\[\s*\d+\]\s+([\d.]+)-([\d.]+)\s+sec\s+([\d.]+)\s+([KMG]?)Bytes", l)
                if not m or "sender" in l or "receiver" in l:
                    continue
                a, b = float(m.group(1)), float(m.group(2))
                intervals.append((tl - (b - a), tl, float(m.group(3)) * unit[m.group(4)]))

            def rate(t0, t1):
                sel = [(e - s, n) for s, e, n in intervals if s >= t0 - 0.05 and e <= t1 + 0.05]
                secs = sum(d for d, _ in sel)
                return (sum(n for _, n in sel) / secs / 1e6) if secs > 0 else None
            out.update({
                "switched": {side: {"seconds_after_unblock": s, "path": k}
                             for side, (s, k) in switched.items()},
                "before_MBps": rate(t_iperf + 1.0, t_unblock),
                "after_MBps": rate(t_switch + 0.5, t_end) if len(switched) == 2 else None,
                "between_MBps": rate(t_unblock, t_switch),
                "lowest_interval_after_unblock_MBps": min(
                    [n / (e - s) / 1e6 for s, e, n in intervals if s >= t_unblock and e > s],
                    default=None),
                "intervals": [(round(s - t_unblock, 2), round(e - t_unblock, 2), n)
                              for s, e, n in intervals],
                "iperf3_errors": [l for _, l in lines if "error" in l.lower()][:5],
            })
            out["pt"] = self.record_pt("upgrade", "pt", srv, cli)
            out["pt"]["data_path_events_after_unblock"] = {
                side: [(round(te - t_unblock, 3), ev) for te, ev in self.events(c, t_unblock)
                       if ev.get("event") == "data-path"]
                for side, c in (("client", cli), ("server", srv))}
            log("upgrade: before %s MB/s, switch client %s / server %s, after %s MB/s" % (
                fmt(out["before_MBps"]), switched.get("client"), switched.get("server"),
                fmt(out["after_MBps"])))
        finally:
            if iperf is not None:
                iperf.kill()
            net.teardown()

    # -- VPN mode ------------------------------------------------------------
    # Two namespaces joined by a veth ("two machines"); iperf3 in them directly
    # over the veth, through `pt vpn` (manual pairing) and through OpenVPN.
    def vpn_helper(self):
        return os.environ.get("PT_TUN_HELPER") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.realpath(self.pt_bin))),
            "helper", "peertunnel-tun-helper")

    def vpn_ns(self, side):
        return self.vpn_net.ns(side)

    def vpn_skip_reason(self):
        reason = NetnsPair.skip_reason(self.vpn_prefix + "-probe")
        if reason:
            return reason.replace("(network namespaces)", "(network namespaces and TUN devices)")
        for tool, pkg in (("iperf3", "iperf3"), ("unshare", "util-linux"),
                          ("ping", "iputils-ping")):
            if shutil.which(tool) is None:
                return "%s not installed (apt-get install %s)" % (tool, pkg)
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun"
        if not os.access(self.vpn_helper(), os.X_OK):
            return "the TUN helper was not built (%s)" % self.vpn_helper()
        return None

    def vpn_ip(self, *argv):
        return self.vpn_net.ip(*argv)

    def vpn_child(self, name, side, argv, machine=False, **kw):
        return self.vpn_net.child(name, side, argv, machine=machine, **kw)

    def vpn_start_pt(self):
        env = {"PT_TUN_HELPER": self.vpn_helper()}
        srv = self.vpn_child("vpn-pt-server", "srv", [
            self.pt_bin, "vpn", "server", "--manual", "--json", "--no-stun",
            "--local-address", VPN_ADDR["srv"], "--network", "10.77.0.0/24"],
            machine=True, stdin=subprocess.PIPE, pipe_out=True, env=env)
        _, _, line = srv.wait_line("err", lambda l: '"event":"vpn"' in l.replace(" ", ""), 20)
        ev_srv = json.loads(line)
        cli = self.vpn_child("vpn-pt-client", "cli", [
            self.pt_bin, "vpn", "client", "--manual", "--json", "--no-stun",
            "--local-address", VPN_ADDR["cli"]],
            machine=True, stdin=subprocess.PIPE, pipe_out=True, env=env)
        offer, _ = cli.read_block("OFFER", 20)
        srv.write(offer)
        answer, _ = srv.read_block("ANSWER", 20)
        cli.write(answer)
        _, _, line = cli.wait_line("err", lambda l: '"event":"vpn"' in l.replace(" ", ""), 30)
        ev_cli = json.loads(line)
        cli.wait_line("err", lambda l: '"event":"ready"' in l.replace(" ", ""), 30)
        self.vpn_pt = (srv, cli)
        return {"server": ev_srv, "client": ev_cli,
                "target": ev_srv["address"].split("/")[0]}

    def vpn_start_openvpn(self):
        d = os.path.join(self.tmp, "openvpn")
        os.makedirs(d, mode=0o700)
        fp = {}
        for side in ("srv", "cli"):
            # throwaway self-signed P-256 certificates; each side pins the
            # other's by fingerprint (--peer-fingerprint), no CA
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                            "-subj", "/CN=pt-bench-%s" % side,
                            "-keyout", os.path.join(d, side + ".key"),
                            "-out", os.path.join(d, side + ".crt")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out = subprocess.run(["openssl", "x509", "-in", os.path.join(d, side + ".crt"),
                                  "-noout", "-fingerprint", "-sha256"],
                                 check=True, stdout=subprocess.PIPE).stdout.decode()
            fp[side] = out.strip().split("=", 1)[1]
        common = ["--dev", "ovpnb0", "--dev-type", "tun", "--proto", "udp", "--tun-mtu", "1400",
                  "--data-ciphers", VPN_OVPN_CIPHER, "--disable-dco", "--verb", "3"]
        srv = self.vpn_child("vpn-openvpn-server", "srv", ["openvpn"] + common + [
            "--local", VPN_ADDR["srv"], "--lport", "1194",
            "--ifconfig", "10.66.0.1", "10.66.0.2", "--tls-server", "--dh", "none",
            "--cert", os.path.join(d, "srv.crt"), "--key", os.path.join(d, "srv.key"),
            "--peer-fingerprint", fp["cli"]], pipe_out=True)
        cli = self.vpn_child("vpn-openvpn-client", "cli", ["openvpn"] + common + [
            "--remote", VPN_ADDR["srv"], "1194", "--nobind",
            "--ifconfig", "10.66.0.2", "10.66.0.1", "--tls-client",
            "--cert", os.path.join(d, "cli.crt"), "--key", os.path.join(d, "cli.key"),
            "--peer-fingerprint", fp["srv"]], pipe_out=True)
        for c in (srv, cli):
            c.wait_line("out", lambda l: "Initialization Sequence Completed" in l, 30)
        _, _, line = cli.wait_line("out", lambda l: "Data Channel: cipher" in l, 10)
        got = re.search(r"cipher '([^']+)'", line).group(1)
        if got != VPN_OVPN_CIPHER:
            raise RuntimeError("OpenVPN negotiated %s, not %s" % (got, VPN_OVPN_CIPHER))
        self.vpn_ovpn = (srv, cli)
        return {"cipher": got, "target": "10.66.0.1",
                "version": " ".join(run_cmd(["openvpn", "--version"]).split()[:2])}

    def vpn_start_wireguard(self):
        """wireguard-go (user space, foreground) in each namespace, keys
        from `wg genkey`, peers and endpoints set with `wg set`; the tunnel
        addresses 10.55.0.1 (server side) and 10.55.0.2, MTU 1420 (the
        wg-quick default for a 1500 path)."""
        d = os.path.join(self.tmp, "wireguard")
        os.makedirs(d, mode=0o700)
        keys = {}
        for side in VPN_ADDR:
            priv = subprocess.run(["wg", "genkey"], check=True, stdout=subprocess.PIPE).stdout
            path = os.path.join(d, side + ".key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, priv)
            os.close(fd)
            pub = subprocess.run(["wg", "pubkey"], input=priv, check=True,
                                 stdout=subprocess.PIPE).stdout.decode().strip()
            keys[side] = (path, pub)
        tun = {"srv": "10.55.0.1", "cli": "10.55.0.2"}
        # the UAPI socket (/var/run/wireguard/NAME.sock) is not per namespace:
        # a distinct device name per side
        devs = {side: "wg%d%s" % (os.getpid() % 1000000, side[0]) for side in VPN_ADDR}
        children = []
        for side in VPN_ADDR:
            other = "cli" if side == "srv" else "srv"
            c = self.vpn_child("vpn-wireguard-go-%s" % side, side,
                               ["wireguard-go", "-f", devs[side]], env={"LOG_LEVEL": "error"})
            children.append(c)
            limit = time.monotonic() + 10
            while not os.path.exists("/var/run/wireguard/%s.sock" % devs[side]):
                if not c.alive() or time.monotonic() > limit:
                    raise RuntimeError("wireguard-go did not create %s (log: %s)"
                                       % (devs[side], c.logpath))
                time.sleep(0.05)
            self.vpn_net.run(side, ["wg", "set", devs[side], "private-key", keys[side][0],
                                    "listen-port", "51820", "peer", keys[other][1],
                                    "allowed-ips", tun[other] + "/32",
                                    "endpoint", "%s:51820" % VPN_ADDR[other]])
            self.vpn_ip("-n", self.vpn_ns(side), "addr", "add", tun[side] + "/24", "dev", devs[side])
            self.vpn_ip("-n", self.vpn_ns(side), "link", "set", devs[side], "mtu", "1420", "up")
        self.vpn_wg = tuple(children)
        return {"target": tun["srv"], "devs": devs,
                "version": run_cmd(["wireguard-go", "--version"]).splitlines()[0]}

    def vpn_iperf(self, target, seconds, reverse):
        argv = ["ip", "netns", "exec", self.vpn_ns("cli"), "iperf3", "-c", target,
                "-t", str(seconds), "-J", "--connect-timeout", "5000"] + (["-R"] if reverse else [])
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=seconds + 20, start_new_session=True)
        except subprocess.TimeoutExpired:
            # a stalled tunnel leaves the iperf3 server inside the aborted test
            self.vpn_iperf_srv.kill()
            self.vpn_start_iperf_server()
            return None, "timeout (no result %d s after the %d s test)" % (seconds + 20, seconds)
        try:
            j = json.loads(r.stdout.decode())
        except ValueError:
            return None, "bad output: %s" % r.stderr.decode()[-300:]
        if "error" in j:
            return None, j["error"]
        s = j["end"]["sum_received"]
        return {"bytes": s["bytes"], "seconds": s["seconds"], "MBps": s["bytes"] / s["seconds"] / 1e6,
                "retransmits": j["end"].get("sum_sent", {}).get("retransmits")}, None

    def vpn_start_iperf_server(self):
        self.vpn_iperf_srv = self.vpn_child("vpn-iperf3-server", "srv", ["iperf3", "-s"])

    def vpn_ping(self, target):
        p = subprocess.run(["ip", "netns", "exec", self.vpn_ns("cli"), "ping", "-q", "-n",
                            "-c", "50", "-i", "0.01", "-W", "1", target],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/", p.stdout.decode())
        loss = re.search(r"([\d.]+)% packet loss", p.stdout.decode())
        return {"min_ms": float(m.group(1)), "avg_ms": float(m.group(2)), "max_ms": float(m.group(3)),
                "loss_pct": float(loss.group(1)) if loss else None} if m else None

    def vpn_counters(self, devs):
        """UDP counters of both namespaces (/proc/net/snmp is per namespace)
        and the statistics of the tunnel device @devs[side] in each."""
        out = {}
        for side in VPN_ADDR:
            ns = self.vpn_ns(side)
            p = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"],
                               stdout=subprocess.PIPE, timeout=10)
            rows = [l.split() for l in p.stdout.decode().splitlines() if l.startswith("Udp:")]
            if len(rows) >= 2:
                udp = dict(zip(rows[0][1:], (int(x) for x in rows[1][1:])))
                for k in ("InDatagrams", "OutDatagrams", "RcvbufErrors", "SndbufErrors", "InErrors"):
                    out["%s udp %s" % (side, k)] = udp.get(k, 0)
            if devs.get(side):
                link = json.loads(self.vpn_ip("-n", ns, "-j", "-s", "link", "show", devs[side]))
                st = link[0].get("stats64", {})
                for d in ("rx", "tx"):
                    for k in ("packets", "dropped", "errors"):
                        out["%s %s %s_%s" % (side, devs[side], d, k)] = st.get(d, {}).get(k, 0)
        return out

    def vpn(self):
        reps, secs = (1, 2) if self.quick else (3, 3)
        reason = self.vpn_skip_reason()
        if reason:
            self.results["vpn"] = {"skipped": "SKIP: VPN: %s" % reason}
            print(self.results["vpn"]["skipped"])
            return
        out = {"config": "two network namespaces joined by a veth (%s and %s, MTU 1500); iperf3 "
                         "single TCP stream, %d repetitions x %d s per direction, paths interleaved"
                         % (VPN_ADDR["srv"], VPN_ADDR["cli"], reps, secs),
               "paths": {}}
        self.results["vpn"] = out
        try:
            self.vpn_net.build()
            self.vpn_start_iperf_server()
            targets = {"direct": VPN_ADDR["srv"]}
            cpu_pids = {}
            out["paths"]["pt"] = self.vpn_start_pt()
            targets["pt"] = out["paths"]["pt"]["target"]
            cpu_pids["pt"] = [c.pid for c in self.vpn_pt]
            devs = {"pt": {"srv": out["paths"]["pt"]["server"].get("ifname"),
                           "cli": out["paths"]["pt"]["client"].get("ifname")}}
            if shutil.which("openvpn"):
                out["paths"]["openvpn"] = self.vpn_start_openvpn()
                targets["openvpn"] = "10.66.0.1"
                cpu_pids["openvpn"] = [c.pid for c in self.vpn_ovpn]
                devs["openvpn"] = {"srv": "ovpnb0", "cli": "ovpnb0"}
            else:
                out["openvpn_skipped"] = "SKIP: OpenVPN: openvpn not installed (apt-get install openvpn)"
                print(out["openvpn_skipped"])
            if shutil.which("wireguard-go") and shutil.which("wg"):
                out["paths"]["wireguard-go"] = self.vpn_start_wireguard()
                targets["wireguard-go"] = out["paths"]["wireguard-go"]["target"]
                cpu_pids["wireguard-go"] = [c.pid for c in self.vpn_wg]
                devs["wireguard-go"] = dict(out["paths"]["wireguard-go"]["devs"])
            else:
                out["wireguard_skipped"] = ("SKIP: wireguard-go: not installed "
                                            "(apt-get install wireguard-go wireguard-tools)")
                print(out["wireguard_skipped"])
            for p, t in targets.items():
                dev = {"direct": "eth0", "pt": out["paths"]["pt"]["client"].get("ifname"),
                       "openvpn": "ovpnb0",
                       "wireguard-go": devs.get("wireguard-go", {}).get("cli")}[p]
                link = json.loads(self.vpn_ip("-n", self.vpn_ns("cli"), "-j", "link", "show", dev))
                out["paths"].setdefault(p, {})["mtu"] = link[0]["mtu"]
                out["paths"][p]["target"] = t
            # warm-up (and wait for the iperf3 server): one short run per path
            for p, t in targets.items():
                limit = time.monotonic() + 15
                while True:
                    r, err = self.vpn_iperf(t, 1, False)
                    if r is not None:
                        break
                    if time.monotonic() > limit:
                        raise RuntimeError("vpn: iperf3 through %s never ran: %s" % (p, err))
                    time.sleep(0.3)
                out["paths"][p]["ping_idle"] = self.vpn_ping(t)
            mem0 = {p: [proc_status(pid) for pid in pids] for p, pids in cpu_pids.items()}
            out["cpu_processes"] = {p: [run_cmd(["cat", "/proc/%d/comm" % pid]) for pid in pids]
                                    for p, pids in cpu_pids.items()}
            for direction, reverse in (("client->server", False), ("server->client", True)):
                runs = {p: [] for p in targets}
                retr = {p: [] for p in targets}
                errors = {p: [] for p in targets}
                cpu_acc = {p: [0.0, 0] for p in targets}
                cpu_proc = {p: [0.0] * len(cpu_pids.get(p, [])) for p in targets}
                counters = {p: {} for p in targets}
                for rep in range(reps):
                    for p, t in targets.items():
                        c0 = self.vpn_counters(devs.get(p, {}))
                        before = [cpu_seconds(pid) for pid in cpu_pids.get(p, [])]
                        r, err = self.vpn_iperf(t, secs, reverse)
                        after = [cpu_seconds(pid) for pid in cpu_pids.get(p, [])]
                        c1 = self.vpn_counters(devs.get(p, {}))
                        for k, v in c1.items():
                            counters[p][k] = counters[p].get(k, 0) + v - c0.get(k, 0)
                        if r is None:
                            errors[p].append(err)
                            log("vpn %s %-7s rep %d: FAILED (%s)" % (direction, p, rep + 1, err))
                            continue
                        runs[p].append(r["MBps"])
                        retr[p].append(r["retransmits"])
                        cpu_acc[p][0] += sum(after) - sum(before)
                        cpu_acc[p][1] += r["bytes"]
                        cpu_proc[p] = [acc + a - b for acc, a, b in zip(cpu_proc[p], after, before)]
                        log("vpn %s %-7s rep %d: %8.1f MB/s, %s retransmits" % (
                            direction, p, rep + 1, r["MBps"], r["retransmits"]))
                ref = statistics.median(runs["openvpn"]) if runs.get("openvpn") else None
                ref_wg = statistics.median(runs["wireguard-go"]) if runs.get("wireguard-go") else None
                for p in targets:
                    med = statistics.median(runs[p]) if runs[p] else None
                    out["paths"][p][direction] = {
                        "median_MBps": med, "median_Mbitps": med * 8 if med else None,
                        "runs_MBps": runs[p], "retransmits": retr[p], "errors": errors[p],
                        "ratio_to_openvpn": (med / ref) if (med and ref) else None,
                        "ratio_to_wireguard_go": (med / ref_wg) if (med and ref_wg) else None,
                        "cpu_per_process_s_per_GiB": [
                            t / (cpu_acc[p][1] / GiB) for t in cpu_proc[p]]
                        if p in cpu_pids and cpu_acc[p][1] else None,
                        "cpu_seconds": cpu_acc[p][0] if p in cpu_pids else None,
                        "cpu_s_per_GiB": cpu_acc[p][0] / (cpu_acc[p][1] / GiB)
                        if p in cpu_pids and cpu_acc[p][1] else None,
                        "counters_summed": counters[p]}
            for p, pids in cpu_pids.items():
                out["paths"][p]["memory_kB"] = {
                    "idle": mem0[p], "after": [proc_status(pid) for pid in pids]}
            for p, t in targets.items():
                out["paths"][p]["ping_after"] = self.vpn_ping(t)
            for c in self.vpn_pt:
                if not c.alive():
                    raise RuntimeError("vpn: %s died (status %r); log: %s"
                                       % (c.name, c.popen.poll(), c.logpath))
            out["paths"]["pt"]["data_path"] = self.record_pt("vpn", "pt", *self.vpn_pt)
            # what pt said during the load besides its events (warnings, drops)
            out["paths"]["pt"]["stderr_other"] = [
                l for c in self.vpn_pt for _, l in c.err_lines
                if not l.startswith("{")][:20]
        finally:
            self.vpn_net.teardown()

    # -- QUIC's own floor ----------------------------------------------------
    def floor(self):
        """bench/quic-floor (built next to pt): a client and a server
        PtQuicConn in one process joined in memory, one stream; CPU per
        packet is what QUIC itself costs, both ends, no kernel."""
        exe = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(self.pt_bin))),
                           "bench", "quic-floor")
        if not os.access(exe, os.X_OK):
            self.results["floor"] = {"skipped": "SKIP: QUIC floor: %s not built (meson builds it "
                                                "with the tests)" % exe}
            print(self.results["floor"]["skipped"])
            return
        reps = 1 if self.quick else 3
        out = {"runs": {}}
        for kind, argv in (("mtu", ["--mib", "256" if self.quick else "1024"]),
                           ("local", ["--mib", "512" if self.quick else "2048", "--local-path"])):
            runs = []
            for _ in range(reps):
                p = subprocess.run([exe] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=120)
                if p.returncode != 0:
                    raise RuntimeError("quic-floor %s: %s" % (" ".join(argv),
                                                              p.stderr.decode().strip()))
                runs.append(json.loads(p.stdout))
            out["runs"][kind] = runs
            best = sorted(runs, key=lambda x: x["cpu_s_per_gib"])[len(runs) // 2]
            out[kind] = best
            log("floor %-5s %.0f B packets: %.3f us per data packet, %.2f s/GiB (both ends)" % (
                kind, best["mean_packet_bytes"], best["us_per_data_packet"], best["cpu_s_per_gib"]))
        self.results["floor"] = out

    # -- main --------------------------------------------------------------
    def run(self):
        t_begin = time.monotonic()
        self.results["machine"]["loadavg_at_start"] = list(os.getloadavg())
        log("work dir %s" % self.tmp)
        self.start_services()
        self.start_socat()
        self.start_ssh()
        self.start_pt()
        time.sleep(1)
        self.results["memory"] = {"idle": self.pt_memory()}
        self.pt_idle_fds = self.pt_fds()
        log("pt idle memory: %s" % self.results["memory"]["idle"])
        sections = self.args.only.split(",") if self.args.only else SECTIONS
        for sec in sections:
            ts = time.monotonic()
            load0 = list(os.getloadavg())
            log("== %s (load average %s)" % (sec, "/".join("%.2f" % x for x in load0)))
            try:
                getattr(self, sec.replace("-", "_"))()
            except RuntimeError as e:
                if not sec.startswith("nostr-") and sec not in ("vpn", "veth", "upgrade"):
                    raise
                # Nostr or VPN mode failing (relay, server, a client, a
                # tunnel), or a namespace section, is a figure too: report
                # it and go on
                log("%s: FAILED: %s" % (sec, e))
                self.results[sec.replace("-", "_")] = {"skipped": "FAILED: %s" % e}
            self.results.setdefault("section_seconds", {})[sec] = time.monotonic() - ts
            self.results.setdefault("section_loadavg", {})[sec] = {
                "start": load0, "end": list(os.getloadavg())}
        self.wait_pt_drained(30)
        time.sleep(2)
        self.results["memory"]["after_load"] = self.pt_memory()
        self.results["run_seconds"] = time.monotonic() - t_begin
        self.results["machine"]["loadavg_at_end"] = list(os.getloadavg())
        self.results["quick"] = self.quick


# --------------------------------------------------------------------------
# Report

def fmt(v, spec="%.1f"):
    return "—" if v is None else spec % v


def cpu_cell(c):
    """Summed CPU s/GiB, then each process's: "5.16 (pt client 2.61 + pt server 2.55)"."""
    if not c:
        return "—"
    pp = c.get("per_process") or {}
    if len(pp) <= 1:
        return "%.2f" % c["cpu_s_per_GiB"]
    return "%.2f (%s)" % (c["cpu_s_per_GiB"], " + ".join(
        "%s %.2f" % (k, v["cpu_s_per_GiB"]) for k, v in pp.items()))


def load_note(r, sec):
    x = r.get("section_loadavg", {}).get(sec)
    if not x:
        return []
    return ["Load average (1/5/15 min) at the start of this section %s, at its end %s; "
            "the section took %.0f s." % ("/".join("%.2f" % v for v in x["start"]),
                                           "/".join("%.2f" % v for v in x["end"]),
                                           r.get("section_seconds", {}).get(sec, 0)), ""]


def data_path_cell(r, section, p):
    d = r.get("data_path", {}).get(section, {}).get(p)
    if not d:
        return "—"
    return "%s / %s%s" % (d.get("client", "unknown"), d.get("server", "unknown"),
                          " (%s path)" % d["client_path_kind"] if d.get("client_path_kind") else "")


def throughput_table(L, r, section, tp, cpu, order, labels):
    L.append("| path | 1 stream MB/s | ratio | 8 streams MB/s | ratio | CPU s/GiB, 1 stream: sum (per process) | CPU s/GiB, 8 streams: sum (per process) | data path (client / server) |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for p in order:
        if p not in tp.get("1-stream", {}):
            continue
        a, b = tp["1-stream"][p], tp["8-stream"][p]
        fails = len(a["errors"]) + len(b["errors"])
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            labels[p] + (" (%d failed runs)" % fails if fails else ""),
            fmt(a["median_MBps"]), fmt(a["ratio_to_ssh_aes"], "%.2f"),
            fmt(b["median_MBps"]), fmt(b["ratio_to_ssh_aes"], "%.2f"),
            cpu_cell(cpu.get("1-stream", {}).get(p)), cpu_cell(cpu.get("8-stream", {}).get(p)),
            data_path_cell(r, section, p) if p.startswith("pt") else "—"))
    L.append("")
    L.append("CPU s/GiB: user+system CPU of the relaying processes only, per GiB received by "
             "iperf3, summed and per process (pt client, pt server; ssh, the sshd tree; socat "
             "incl. its forked children; for the forced-TURN row also turnserver). "
             "Data path: what each pt process's last `data-path` JSON event said "
             "(`fast` = pt's own batched UDP socket, `libnice`), `unknown` when it printed none.")
    L.append("")


def latency_table(L, lat, order, labels):
    L.append("| path | 1 B p50 µs | 1 B p99 µs | added p50 | added p99 | 1 KiB p50 µs | 1 KiB p99 µs | added p50 | added p99 |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in order:
        if p not in lat["1B"]:
            continue
        a, b = lat["1B"][p], lat["1024B"][p]
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            labels[p], fmt(a["p50_us"]), fmt(a["p99_us"]), fmt(a["added_p50_us"], "%+.1f"),
            fmt(a["added_p99_us"], "%+.1f"), fmt(b["p50_us"]), fmt(b["p99_us"]),
            fmt(b["added_p50_us"], "%+.1f"), fmt(b["added_p99_us"], "%+.1f")))
    L.append("")


def markdown(r):
    m = r["machine"]
    L = []
    L.append("# PeerTunnel benchmark%s" % (" (--quick)" if r.get("quick") else ""))
    L.append("")
    L.append("%s · %s · %d cores · %s · kernel %s · %s" % (
        m["date"], m["cpu"], m["cores"], m["memory"], m["kernel"], m["os"]))
    L.append("")
    L.append("pt: %s · ssh: %s · socat: %s · iperf3: %s · python %s" % (
        m["pt"], m["ssh"], m["socat"], m["iperf3"], m["python"]))
    L.append("")
    L.append("Everything in one run, on loopback except the veth, upgrade and VPN sections (two "
             "network namespaces); whole run %.0f s. MB/s = 10^6 bytes/s of payload "
             "received by iperf3. Ratios are to `ssh -L` with aes128-gcm. Load average (1/5/15 min) "
             "at start %s, at end %s: anything else running on the machine skews every row." % (
                 r.get("run_seconds", 0),
                 "/".join("%.2f" % x for x in m.get("loadavg_at_start", [])),
                 "/".join("%.2f" % x for x in m.get("loadavg_at_end", []))))
    L.append("")
    for k, v in r.get("skipped", {}).items():
        L.append("- %s" % v)
    if r.get("skipped"):
        L.append("")
    tp = r.get("throughput", {})
    if tp and "skipped" not in tp:
        L.append("## Throughput (TCP, %s)" % r["config"].get("throughput", ""))
        L.append("")
        L += load_note(r, "throughput")
        throughput_table(L, r, "loopback", tp, r.get("cpu", {}), LOOPBACK_ORDER, PATH_LABELS)
    lat = r.get("latency")
    if lat:
        L.append("## Latency (TCP request/response, %s)" % r["config"].get("latency", ""))
        L.append("")
        L += load_note(r, "latency")
        latency_table(L, lat, LOOPBACK_ORDER, PATH_LABELS)
        L.append("\"added\" is relative to direct TCP over the same address family (the IPv6 "
                 "rows to direct TCP over ::1).")
        L.append("")
    st = r.get("setup")
    ns = r.get("nostr_setup")
    if st or ns:
        L.append("## Setup (fresh tunnels on loopback; median, and min–max over the runs)")
        L.append("")
        L += load_note(r, "setup") + load_note(r, "nostr-setup")
        L.append("| mode | measured from | → `ready` | → first byte through (echoed) | first byte min–max | runs |")
        L.append("|---|---|---:|---:|---:|---:|")

        def row(mode, origin, d, lo, hi, k_ready, k_byte, runs):
            L.append("| %s | %s | %s | %s | %s | %d |" % (
                mode, origin, fmt(d.get(k_ready), "%.1f ms"), fmt(d.get(k_byte), "%.1f ms"),
                "%.1f–%.1f ms" % (lo[k_byte], hi[k_byte]) if k_byte in lo else "—", runs))
        if st:
            s, lo, hi, n = st["manual"], st.get("manual_min", {}), st.get("manual_max", {}), len(st["manual_runs"])
            row("manual", "answer delivered to the client", s, lo, hi,
                "answer_to_ready_ms", "answer_to_first_byte_echoed_ms", n)
            row("manual", "client start (offer and answer piped at once by the harness)", s, lo, hi,
                "client_start_to_ready_ms", "client_start_to_first_byte_echoed_ms", n)
        if ns and "skipped" in ns:
            L.append("| Nostr, local relay | %s | | | | |" % ns["skipped"])
        elif ns:
            m, lo, hi, n = ns["median"], ns["min"], ns["max"], len(ns["runs"])
            row("Nostr, local relay", "client start", m, lo, hi,
                "client_start_to_ready_ms", "client_start_to_first_byte_echoed_ms", n)
            row("Nostr, local relay", "answer received (client's `checking` event)", {
                "answer_to_first_byte_echoed_ms": m.get("answer_to_first_byte_echoed_ms")}, lo, hi,
                "-", "answer_to_first_byte_echoed_ms", n)
        L.append("")
        if st:
            s = st["manual"]
            L.append("Manual, median ms: client start → offer %.1f, offer → answer %.1f." % (
                s["client_start_to_offer_ms"], s["offer_to_answer_ms"]))
            steps = sorted((v, k[len("answer_to_state_"):-3]) for k, v in s.items()
                           if k.startswith("answer_to_state_"))
            if steps:
                L.append("Client state events after the answer (median ms): " +
                         ", ".join("%s %.1f" % (name, v) for v, name in steps) + ".")
            L.append("")
        if ns and "skipped" not in ns:
            names = {"relay_connected": "relay connected", "server_request": "server sees the request",
                     "first_byte_echoed": "first byte echoed"}
            steps = sorted((v, k[len("client_start_to_"):-3]) for k, v in ns["median"].items()
                           if k.startswith("client_start_to_"))
            L.append("Nostr, from client start (median ms; %s): " % ns["how"] +
                     ", ".join("%s %.1f" % (names.get(k, k.replace("state_", "")), v)
                               for v, k in steps) + ".")
            L.append("")
    udp = r.get("udp")
    if udp:
        L.append("## UDP (%s)" % r["config"].get("udp", ""))
        L.append("")
        L += load_note(r, "udp")
        names = {"direct": "direct", "pt": "pt (fast path)", "pt-libnice": "pt (libnice path)"}
        order = [p for p in ("direct", "pt", "pt-libnice") if p in next(iter(udp.values()))]
        L.append("| size | offered pps | " + " | ".join(
            "%s sent pps | %s received pps | %s loss" % (names[p], names[p], names[p])
            for p in order) + " |")
        L.append("|---:|---:|" + "---:|---:|---:|" * len(order))
        for size, d in udp.items():
            for rows in zip(*(d[p] for p in order)):
                L.append("| %s | %d | " % (size, rows[0]["offered_pps"]) + " | ".join(
                    "%.0f | %.0f | %.1f %%" % (x["achieved_send_pps"], x["received_pps"], x["loss_pct"])
                    for x in rows) + " |")
        L.append("")
    sc = r.get("scale")
    if sc:
        L.append("## Scale (%s)" % r["config"].get("scale", ""))
        L.append("")
        L += load_note(r, "scale")
        L.append("| path | opened | all connected | all echoed + checked | all closed | mismatches | listen-queue overflows |")
        L.append("|---|---|---:|---:|---:|---:|---:|")
        for mode in ("burst", "ramp", "ramp-1"):
            for p in ("direct", "ssh-aes", "pt"):
                x = sc.get("%s/%s" % (p, mode))
                if not x:
                    continue
                if "error" in x:
                    L.append("| %s | %s | FAILED: %s | | | | |" % (PATH_LABELS[p], mode, x["error"]))
                    continue
                L.append("| %s | %d, %s | %.2f s | %.2f s | %.2f s | %d | %d |" % (
                    PATH_LABELS[p], x["connections"], x["opened"], x["all_connected_s"], x["all_echoed_s"],
                    x["all_closed_s"], x["mismatches"], x["listen_overflows"]))
        nsc = r.get("nostr_scale")
        if nsc and "skipped" in nsc:
            L.append("| Nostr client sessions | %s | | | | | |" % nsc["skipped"])
        elif nsc:
            for x in nsc["rounds"]:
                L.append("| Nostr: %d `pt client nostr` on one server (round %d) | %s | %s ready | %s complete | %s | %d | — |" % (
                    nsc["clients"], x["round"],
                    "all at once" if nsc["wave"] >= nsc["clients"] else "waves of %d" % nsc["wave"],
                    fmt(x["all_ready_s"], "%.2f s") if x["all_ready_s"] is not None else "%d of %d" % (x["ready"], nsc["clients"]),
                    fmt(x["all_complete_s"], "%.2f s") if x["all_complete_s"] is not None else "%d of %d" % (x["complete"], nsc["clients"]),
                    fmt(x["server_all_closed_after_stop_s"], "%.2f s after stop"), x["mismatches"]))
        L.append("")
    nsc = r.get("nostr_scale")
    if nsc and "skipped" in nsc:
        L.append("## Nostr mode: concurrent client sessions")
        L.append("")
        L.append(nsc["skipped"])
        L.append("")
    elif nsc:
        L.append("## Nostr mode: %d client sessions on one server" % nsc["clients"])
        L.append("")
        L += load_note(r, "nostr-scale")
        L.append("%s. Times from the first client's start. RLIMIT_NOFILE %d (hard %d)." % (
            nsc["how"], nsc["rlimit_nofile"][0], nsc["rlimit_nofile"][1]))
        L.append("")
        L.append("| round | ready | all ready | complete (bytes checked) | all complete | failed | server RSS with all up | server RSS 2 s after stop | server fds idle / all up / after | server CPU s (cumulative) | sessions closed |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        idle = nsc["server_idle"]
        for x in nsc["rounds"]:
            L.append("| %d | %d | %s | %d | %s | %d | %s kB | %s kB | %s / %s / %s | %.2f | %d |" % (
                x["round"], x["ready"], fmt(x["all_ready_s"], "%.2f s"), x["complete"],
                fmt(x["all_complete_s"], "%.2f s"), x["failed"],
                x["server_with_all_up"]["memory_kB"].get("VmRSS"),
                x["server_after_stop_2s"]["memory_kB"].get("VmRSS"),
                idle["fds"], x["server_with_all_up"]["fds"], x["server_after_stop_2s"]["fds"],
                x["server_after_stop_2s"]["cpu_s"], x["server_sessions_closed"]))
        L.append("")
        L.append("Server (`pt server nostr`): idle RSS %s kB, peak RSS (VmHWM) %s kB, peak fds %s, "
                 "CPU %.2f s over the whole section; the relay (node) used %.2f s of CPU." % (
                     idle["memory_kB"].get("VmRSS"), nsc.get("server_VmHWM_kB"),
                     nsc.get("server_peak_fds"), nsc.get("server_cpu_s", 0), nsc.get("relay_cpu_s", 0)))
        if nsc.get("server_after_last_round"):
            L.append("Server RSS after the last round's clients stopped: " + ", ".join(
                "%d s %s kB" % (t, rss) for t, rss, _ in nsc["server_after_last_round"]) + ".")
        for x in nsc["rounds"]:
            L.append("Round %d: per-client setup (start → ready) p50 %s, max %s; %d clients' CPU %.1f s; "
                     "client peak RSS p50 %s kB; server saw %d requests, %d refused%s." % (
                         x["round"], fmt(x["setup_s_per_client_p50"], "%.2f s"),
                         fmt(x["setup_s_per_client_max"], "%.2f s"), nsc["clients"], x["clients_cpu_s"],
                         fmt(x["client_VmHWM_kB_p50"], "%.0f"), x["server_requests"], x["server_refused"],
                         (" (%s)" % "; ".join(x["server_refusals"])) if x["server_refusals"] else ""))
            for err, k in sorted(x["failures"].items(), key=lambda kv: -kv[1]):
                L.append("- round %d: %d client(s): %s" % (x["round"], k, err))
        L.append("")
    ve = r.get("veth")
    if ve and "skipped" in ve:
        L.append("## TCP forwards across a veth")
        L.append("")
        L.append(ve["skipped"])
        L.append("")
    elif ve:
        L.append("## TCP forwards across a veth (%s)" % ve["config"])
        L.append("")
        L += load_note(r, "veth")
        for s in ve.get("rows_skipped", []):
            L.append("- %s" % s)
        if ve.get("rows_skipped"):
            L.append("")
        if ve.get("throughput"):
            L.append("Throughput (iperf3 client → server, veth MTU %s):" % ve.get("mtu", "?"))
            L.append("")
            throughput_table(L, r, "veth", ve["throughput"], ve.get("cpu", {}), VETH_ORDER,
                             VETH_LABELS)
        if ve.get("latency"):
            L.append("Latency (request/response from the near namespace to the echo service in the "
                     "far one; \"added\" is relative to direct TCP across the veth):")
            L.append("")
            latency_table(L, ve["latency"], VETH_ORDER, VETH_LABELS)
        if ve.get("packets_per_rt"):
            L.append("")
            L.append("QUIC packets per 1-byte round trip (UDP datagrams each namespace sent, "
                     "back-to-back round trips, one pt pair at a time): " + "; ".join(
                         "%s %.2f (client %.2f + server %.2f, %d round trips)" % (
                             VETH_LABELS.get(p, p), v["client"] + v["server"], v["client"],
                             v["server"], v["round_trips"])
                         for p, v in ve["packets_per_rt"].items()) + ".")
            L.append("")
    up = r.get("upgrade")
    if up:
        L.append("## Relay → direct upgrade while a stream runs")
        L.append("")
        if "skipped" in up:
            L.append(up["skipped"])
            L.append("")
        else:
            L.append(up["config"] + ".")
            L.append("")
            L += load_note(r, "upgrade")
            sw = up.get("switched", {})
            ps = up.get("path_at_start", {})
            pt = up.get("pt", {})
            if ps.get("client") != "relay":
                L.append("**The tunnel did not come up relayed (client: %s), so this is no "
                         "upgrade: the figures below do not measure one.**" % ps.get("client"))
                L.append("")
            L.append("| | client | server |")
            L.append("|---|---|---|")
            L.append("| path when the tunnel came up | %s | %s |" % (ps.get("client"), ps.get("server")))
            L.append("| direct path announced (`path` event), s after the rule was deleted | %s | %s |" % (
                fmt(sw.get("client", {}).get("seconds_after_unblock"), "%.2f s") +
                (" (%s)" % sw["client"]["path"] if "client" in sw else " (none within the wait)"),
                fmt(sw.get("server", {}).get("seconds_after_unblock"), "%.2f s") +
                (" (%s)" % sw["server"]["path"] if "server" in sw else " (none within the wait)")))
            L.append("| data path at the end | %s | %s |" % (pt.get("client", "unknown"),
                                                           pt.get("server", "unknown")))
            L.append("")
            L.append("Throughput of the one stream: relayed (from 1 s after it started to the unblock) "
                     "%s MB/s; between the unblock and the later side's switch %s MB/s; direct "
                     "(from 0.5 s after the switch) %s MB/s; the slowest 0.5 s interval after the "
                     "unblock %s MB/s." % (
                         fmt(up.get("before_MBps")), fmt(up.get("between_MBps")),
                         fmt(up.get("after_MBps")), fmt(up.get("lowest_interval_after_unblock_MBps"))))
            if up.get("iperf3_errors"):
                L.append("iperf3 said: " + "; ".join("`%s`" % l for l in up["iperf3_errors"]))
            L.append("")
    fl = r.get("floor")
    if fl:
        L.append("## QUIC's own cost per packet (bench/quic-floor: client and server in one "
                 "process, joined in memory)")
        L.append("")
        if "skipped" in fl:
            L.append(fl["skipped"])
        else:
            L.extend(load_note(r, "floor"))
            L.append("| packets | mean size | µs per data packet (both ends) | CPU s/GiB (both ends) "
                     "| MB/s on one core | ACK packets per data packet |")
            L.append("|---|---:|---:|---:|---:|---:|")
            for kind, label in (("mtu", "path MTU (veth, LAN, Internet)"),
                                ("local", "this machine's own addresses")):
                v = fl.get(kind)
                if v:
                    L.append("| %s | %.0f B | %.3f | %.2f | %.0f | %.2f |" % (
                        label, v["mean_packet_bytes"], v["us_per_data_packet"],
                        v["cpu_s_per_gib"], v["mb_per_s_one_core"],
                        v["ack_packets"] / max(1, v["data_packets"])))
            L.append("")
            L.append("ngtcp2 framing, GnuTLS AEAD and header protection, ACKs, flow control and "
                     "the GLib loop for sender and receiver together, on one core, with no "
                     "socket: the user-space floor under pt's CPU per byte (the median run of "
                     "%d)." % len(fl["runs"].get("mtu", [])))
        L.append("")
    vpn = r.get("vpn")
    if vpn and "skipped" in vpn:
        L.append("## VPN mode")
        L.append("")
        L.append(vpn["skipped"])
        L.append("")
    elif vpn:
        L.append("## VPN mode (%s)" % vpn["config"])
        L.append("")
        L += load_note(r, "vpn")
        for k in ("openvpn_skipped", "wireguard_skipped"):
            if vpn.get(k):
                L.append("- %s" % vpn[k])
                L.append("")
        L.append("| path | MTU | client→server MB/s | ratio to OpenVPN | ratio to wireguard-go | "
                 "server→client MB/s | ratio to OpenVPN | ratio to wireguard-go | "
                 "CPU s/GiB c→s: sum (server + client) | CPU s/GiB s→c: sum (server + client) | "
                 "TCP retransmits c→s / s→c (median) | ping idle / after, avg ms |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

        def med(xs):
            xs = [x for x in xs if x is not None]
            return "%d" % statistics.median(xs) if xs else "—"

        def vcpu(a):
            if a.get("cpu_s_per_GiB") is None:
                return "—"
            pp = a.get("cpu_per_process_s_per_GiB") or []
            return "%.2f%s" % (a["cpu_s_per_GiB"],
                               " (%s)" % " + ".join("%.2f" % x for x in pp) if len(pp) > 1 else "")
        for p in VPN_ORDER:
            x = vpn["paths"].get(p)
            if not x or "client->server" not in x:
                continue
            a, b = x["client->server"], x["server->client"]
            fails = a["errors"] + b["errors"]
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |" % (
                VPN_LABELS[p] + (" (%d failed runs)" % len(fails) if fails else ""), x.get("mtu", "?"),
                fmt(a["median_MBps"]), fmt(a["ratio_to_openvpn"], "%.2f"),
                fmt(a.get("ratio_to_wireguard_go"), "%.2f"),
                fmt(b["median_MBps"]), fmt(b["ratio_to_openvpn"], "%.2f"),
                fmt(b.get("ratio_to_wireguard_go"), "%.2f"),
                vcpu(a), vcpu(b),
                med(a["retransmits"]), med(b["retransmits"]),
                fmt((x.get("ping_idle") or {}).get("avg_ms"), "%.3f"),
                fmt((x.get("ping_after") or {}).get("avg_ms"), "%.3f")))
        L.append("")
        ov = vpn["paths"].get("openvpn", {})
        wg = vpn["paths"].get("wireguard-go", {})
        L.append("MB/s = 10^6 bytes/s received by iperf3 (×8 for Mbit/s). "
                 "CPU s/GiB: user+system CPU of the two tunnel processes (pt vpn server, client; "
                 "openvpn server, client; wireguard-go server side, client side), per GiB "
                 "received, summed and per process. pt: `pt vpn server --manual "
                 "--network 10.77.0.0/24` and `pt vpn client --manual` (default MTU), TUN devices "
                 "from the helper as root, QUIC with AES-128-GCM. OpenVPN: %s, point-to-point TLS "
                 "mode with throwaway P-256 certificates pinned by `--peer-fingerprint`, "
                 "`--data-ciphers %s` (negotiated: %s), UDP, `--tun-mtu 1400`, `--disable-dco` "
                 "(user space, like pt), default buffers. wireguard-go: %s in the foreground, one "
                 "per namespace, keys from `wg genkey`, peer and endpoint set with `wg set`, MTU "
                 "1420 (ChaCha20-Poly1305, WireGuard's only cipher)." % (
                     ov.get("version", "not run"), VPN_OVPN_CIPHER, ov.get("cipher", "—"),
                     wg.get("version", "not run")))
        L.append("")
        L.append("Where packets were lost, summed over the runs of each direction: IP packets the "
                 "tunnel process read from the sending side's TUN device and wrote to the receiving "
                 "side's (`ip -s link`); UDP datagrams (each namespace's /proc/net/snmp, which also "
                 "counts the tunnel's own ACK/control packets); the kernel's drops. pt's TUN "
                 "devices use the virtio-net offloads: the kernel hands pt TCP super-packets of up "
                 "to 64 KB, which pt cuts to the tunnel MTU, and the far end joins a flow's "
                 "segments into one write, so its packet counts are of different packets and its "
                 "losses show as TCP retransmits above.")
        L.append("")
        L.append("| path | direction | IP packets read from TUN (sender) | written to TUN (receiver) | "
                 "missing | UDP sent (sender) | UDP received (receiver) | UDP receive-buffer drops "
                 "(receiver) | TUN queue drops (sender) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for p in ("pt", "openvpn", "wireguard-go"):
            x = vpn["paths"].get(p)
            if not x or "client->server" not in x:
                continue
            for d, tx, rx in (("client->server", "cli", "srv"), ("server->client", "srv", "cli")):
                c = x[d].get("counters_summed", {})

                def dev(side, k, c=c):
                    return next((n for key, n in c.items() if key.startswith(side + " ")
                                 and key.endswith(" " + k) and " udp " not in key), None)
                read, written = dev(tx, "tx_packets"), dev(rx, "rx_packets")
                if p == "pt":
                    # pt's TUN devices carry TCP super-packets (IFF_VNET_HDR, TSO, and
                    # segments joined on write): the two counts are not of the same packets
                    missing = "— (TUN offloads)"
                elif read and written is not None:
                    missing = "%d (%.1f %%)" % (read - written, 100.0 * (read - written) / read)
                else:
                    missing = "—"
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    VPN_LABELS[p], d.replace("->", "→"), read, written, missing,
                    c.get(tx + " udp OutDatagrams", "—"), c.get(rx + " udp InDatagrams", "—"),
                    c.get(rx + " udp RcvbufErrors", "—"), dev(tx, "tx_dropped")))
        L.append("")
        if vpn["paths"].get("pt", {}).get("data_path"):
            L.append("pt vpn data path (client / server, from its `data-path` events): %s." % (
                data_path_cell(r, "vpn", "pt")))
        ptm = vpn["paths"].get("pt", {}).get("memory_kB")
        if ptm:
            L.append("pt vpn server / client VmRSS idle %s / %s kB, after the runs %s / %s kB "
                     "(peak %s / %s kB)." % (
                         ptm["idle"][0].get("VmRSS"), ptm["idle"][1].get("VmRSS"),
                         ptm["after"][0].get("VmRSS"), ptm["after"][1].get("VmRSS"),
                         ptm["after"][0].get("VmHWM"), ptm["after"][1].get("VmHWM")))
        if vpn["paths"].get("pt", {}).get("stderr_other"):
            L.append("pt printed during the runs: " + "; ".join(
                "`%s`" % l for l in vpn["paths"]["pt"]["stderr_other"][:5]))
        L.append("")
    mem = r.get("memory")
    if mem:
        L.append("## Memory of the main pt pair (kB, /proc/PID/status)")
        L.append("")
        L.append("| when | server VmRSS | server VmHWM | client VmRSS | client VmHWM |")
        L.append("|---|---:|---:|---:|---:|")
        nconn = r["config"].get("scale_connections", "?")
        for when, label in (("idle", "idle (paired, before load)"),
                            ("at_scale_burst", "%s connections open (burst)" % nconn),
                            ("at_scale_ramp", "%s connections open (ramp)" % nconn),
                            ("at_scale_ramp-1", "%s connections open (ramp)" % (nconn - 1)
                             if isinstance(nconn, int) else "one fewer (ramp)"),
                            ("after_load", "after the load ends (+2 s)")):
            x = mem.get(when)
            if not x:
                continue
            L.append("| %s | %s | %s | %s | %s |" % (
                label, x["server"].get("VmRSS"), x["server"].get("VmHWM"),
                x["client"].get("VmRSS"), x["client"].get("VmHWM")))
        L.append("")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="~1 minute smoke version")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--nostr-clients", type=int, default=0,
                    help="nostr-scale: number of pt client nostr processes (default 100, --quick 25)")
    ap.add_argument("--nostr-wave", type=int, default=0,
                    help="nostr-scale: start the clients this many at a time (default: all at once)")
    ap.add_argument("--nostr-rounds", type=int, default=0,
                    help="nostr-scale: rounds of clients on the same server (default 2, --quick 1)")
    ap.add_argument("--nostr-linger", type=float, default=0,
                    help="nostr-scale: then watch the idle server's RSS for this many seconds")
    ap.add_argument("--pt", default=os.path.join(SOURCE_DIR, "_build", "cli", "pt"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the logs")
    args = ap.parse_args()
    for sec in (args.only.split(",") if args.only else []):
        if sec not in SECTIONS:
            ap.error("unknown section %r (sections: %s)" % (sec, ",".join(SECTIONS)))

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    # SIGINT too: a shell that starts us in the background would leave it ignored
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)

    b = Bench(args)
    ok = False
    try:
        b.run()
        ok = True
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
    except Exception as e:
        log("FAILED: %s: %s" % (type(e).__name__, e))
        import traceback
        traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        kill_all()
        teardown_namespaces()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    if ok:
        os.makedirs(args.out, exist_ok=True)
        name = "latest-quick" if args.quick else "latest"
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(b.results, f, indent=2, sort_keys=True)
        md = markdown(b.results)
        with open(os.path.join(args.out, name + ".md"), "w") as f:
            f.write(md)
        print(md)
        log("wrote %s/%s.{json,md}" % (args.out, name))
    if ok and not args.keep:
        shutil.rmtree(b.tmp, ignore_errors=True)
    else:
        log("logs kept in %s" % b.logdir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
