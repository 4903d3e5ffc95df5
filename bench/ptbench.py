#!/usr/bin/python3
"""PeerTunnel benchmark driver (stdlib only).  Run it through ./bench/run.

Compares, in one run on loopback, a `pt` tunnel (manual mode) with `ssh -L`
(aes128-gcm and chacha20-poly1305, against a throwaway sshd), a `socat` TCP
relay and direct TCP; and Nostr mode (`pt server nostr` / `pt client nostr`
through the test relay, tests/relay/relay.mjs): setup time, and 100 client
sessions on one server; and, as root, VPN mode (`pt vpn`) beside OpenVPN and a
bare veth between two network namespaces.  See bench/README.md for what each
figure means.

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
    "pt": "pt tunnel",
}
PT_ICE = ["--json", "--no-stun", "--local-address", "127.0.0.1"]
RELAY_DIR = os.path.join(SOURCE_DIR, "tests", "relay")
SECTIONS = ["throughput", "latency", "setup", "nostr-setup", "udp", "scale", "nostr-scale", "vpn"]
VPN_ADDR = {"srv": "10.98.0.1", "cli": "10.98.0.2"}   # the veth between the two namespaces
VPN_OVPN_CIPHER = "AES-128-GCM"   # what pt's QUIC negotiates too (engine/pt-quic-conn.c)
VPN_LABELS = {"direct": "direct (veth, no tunnel)", "pt": "pt vpn (manual pairing)",
              "openvpn": "OpenVPN (UDP, TLS, %s)" % VPN_OVPN_CIPHER}


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


def wait_port(port, timeout, proc=None):
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if proc is not None and not proc.alive():
            raise RuntimeError("%s exited (status %r); log: %s"
                               % (proc.name, proc.popen.poll(), proc.logpath))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open within %.0fs" % (port, timeout))


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
        self.cpu_pids = {}     # name -> callable returning [(pid, with_children)]
        self.ptc = self.pts = None
        self.sshd = None
        self.ssh_clients = {}
        self.socats = []
        self.vpn_prefix = "ptvb%d" % os.getpid()
        self.vpn_namespaces, self.vpn_children = [], []
        self.vpn_pt = self.vpn_ovpn = ()

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
        if self.have_iperf:
            self.start_iperf_server()
        else:
            self.skips["iperf3"] = "SKIP: iperf3 not installed (apt-get install openssh-server iperf3)"
            print(self.skips["iperf3"])
            self.iperf_port = None
        self.paths["direct"] = {"tcp": self.iperf_port, "echo": self.echo_port,
                                "udp": self.udp_port}

    def start_iperf_server(self):
        self.iperf_port = getattr(self, "iperf_port", None) or free_port()
        self.iperf_srv = Child("iperf3-server", ["iperf3", "-s", "-B", "127.0.0.1",
                                                 "-p", str(self.iperf_port)], self.logdir)
        wait_port(self.iperf_port, 10, self.iperf_srv)

    def udp_stats(self, run):
        self.ctl.sendall(b"stats %d\n" % run)
        return json.loads(self.ctl_file.readline())

    # -- socat -------------------------------------------------------------
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
            c = Child("socat-%s" % svc, [
                "socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,backlog=1024,nodelay" % p,
                "TCP:127.0.0.1:%d,nodelay" % target], self.logdir)
            wait_port(p, 10, c)
            self.socats.append(c)
            ports[svc] = p
        ports["udp"] = None
        self.paths["socat"] = ports
        self.cpu_pids["socat"] = lambda: [(c.pid, True) for c in self.socats]

    # -- sshd + ssh -L -----------------------------------------------------
    def start_ssh(self):
        sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
        if not sshd or not shutil.which("ssh") or not shutil.which("ssh-keygen"):
            self.skips["ssh"] = "SKIP: sshd not installed (apt-get install openssh-server iperf3)"
            print(self.skips["ssh"])
            return
        d = os.path.join(self.tmp, "ssh")
        os.makedirs(d, mode=0o700)
        for key in ("host_ed25519", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pt-bench",
                            "-f", os.path.join(d, key)], check=True)
        shutil.copy(os.path.join(d, "id_ed25519.pub"), os.path.join(d, "authorized_keys"))
        if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
            # sshd run as root needs its privilege-separation directory (what
            # the distribution's service would create at boot)
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.sshd_port = free_port()
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join([
                "Port %d" % self.sshd_port,
                "ListenAddress 127.0.0.1",
                "HostKey %s" % os.path.join(d, "host_ed25519"),
                "PidFile %s" % os.path.join(d, "sshd.pid"),
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
            self.skips["ssh"] = "SKIP: sshd -t failed: %s" % chk.stdout.decode().strip()
            print(self.skips["ssh"])
            return
        self.sshd = Child("sshd", [sshd, "-D", "-e", "-f", cfg], self.logdir)
        wait_port(self.sshd_port, 10, self.sshd)
        user = os.environ.get("USER") or run_cmd(["id", "-un"])
        for name, cipher in SSH_CIPHERS.items():
            ports = {"tcp": free_port() if self.iperf_port else None, "echo": free_port(),
                     "udp": None}
            argv = ["ssh", "-F", "/dev/null", "-N", "-T", "-v",
                    "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=%s" % os.path.join(d, "known_hosts"),
                    "-o", "GlobalKnownHostsFile=/dev/null",
                    "-o", "ExitOnForwardFailure=yes", "-o", "IdentitiesOnly=yes",
                    "-o", "Ciphers=%s" % cipher, "-o", "Compression=no",
                    "-i", os.path.join(d, "id_ed25519"), "-p", str(self.sshd_port)]
            if ports["tcp"]:
                argv += ["-L", "127.0.0.1:%d:127.0.0.1:%d" % (ports["tcp"], self.iperf_port)]
            argv += ["-L", "127.0.0.1:%d:127.0.0.1:%d" % (ports["echo"], self.echo_port),
                     "%s@127.0.0.1" % user]
            c = Child(name, argv, self.logdir)
            wait_port(ports["echo"], 15, c)
            _, _, line = c.wait_line(
                "err", lambda l: "cipher:" in l and "client->server" in l, 5)
            got = re.search(r"cipher: (\S+)", line).group(1)
            if got != cipher:
                raise RuntimeError("%s negotiated %s, not %s" % (name, got, cipher))
            self.ssh_clients[name] = c
            self.paths[name] = ports
            self.cpu_pids[name] = (lambda c=c: [(c.pid, False)] +
                                   [(p, False) for p in descendants(self.sshd.pid)])
        self.results["config"]["ssh"] = "sshd on 127.0.0.1:%d, throwaway ed25519 keys in %s" % (
            self.sshd_port, d)

    # -- pt ----------------------------------------------------------------
    def pt_pair(self, tag, forwards):
        """Starts a pt server + client and joins them. @forwards: list of
        source URIs. Returns (server, client, timings, {source: port})."""
        srv = Child("pt-server-%s" % tag, [self.pt_bin, "server", "manual"] + PT_ICE +
                    ["--allowed-tcp", "127.0.0.0/8", "--allowed-udp", "127.0.0.0/8"],
                    self.logdir, stdin=subprocess.PIPE, pipe_out=True)
        argv = [self.pt_bin, "client", "manual"] + PT_ICE
        for src in forwards:
            argv += ["--source", src, "--target", "127.0.0.1:0"]
        t_start = time.monotonic()
        cli = Child("pt-client-%s" % tag, argv, self.logdir, stdin=subprocess.PIPE,
                    pipe_out=True)
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

    def start_pt(self):
        srcs = ["tcp://127.0.0.1:%d" % self.echo_port, "udp://127.0.0.1:%d" % self.udp_port]
        if self.iperf_port:
            srcs.insert(0, "tcp://127.0.0.1:%d" % self.iperf_port)
        self.pts, self.ptc, _, listen = self.pt_pair("main", srcs)
        self.paths["pt"] = {
            "tcp": listen.get("tcp://127.0.0.1:%d" % self.iperf_port) if self.iperf_port else None,
            "echo": listen["tcp://127.0.0.1:%d" % self.echo_port],
            "udp": listen["udp://127.0.0.1:%d" % self.udp_port]}
        self.cpu_pids["pt"] = lambda: [(self.ptc.pid, False), (self.pts.pid, False)]

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
        for c in [self.svc, self.pts, self.ptc] + self.socats + list(self.ssh_clients.values()):
            if c is not None and not c.alive():
                raise RuntimeError("%s died (status %r); log: %s" % (c.name, c.popen.poll(), c.logpath))

    # -- throughput ----------------------------------------------------------
    def iperf(self, port, streams, seconds):
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds), "-J",
                "-P", str(streams), "--connect-timeout", "5000"]
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=seconds + 20, start_new_session=True)
        except subprocess.TimeoutExpired:
            # the iperf3 server may be stuck on the aborted test: restart it
            self.iperf_srv.kill()
            self.start_iperf_server()
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

    def throughput(self):
        reps, secs = (1, 2) if self.quick else (5, 3)
        self.results["config"]["throughput"] = "%d repetitions x %d s, iperf3 client->server" % (reps, secs)
        out = {}
        cpu = {}
        if not self.have_iperf:
            self.results["throughput"] = {"skipped": self.skips["iperf3"]}
            return
        order = [p for p in ("direct", "socat", "ssh-aes", "ssh-chacha", "pt") if p in self.paths]
        for streams in (1, 8):
            key = "%d-stream" % streams
            runs = {p: [] for p in order}
            errors = {p: [] for p in order}
            cpu_acc = {p: [0.0, 0] for p in order}
            for rep in range(reps):
                for p in order:
                    self.check_alive()
                    pids = self.cpu_pids.get(p, lambda: [])()
                    before = sum(cpu_seconds(pid, ch) for pid, ch in pids)
                    r, err = self.iperf(self.paths[p]["tcp"], streams, secs)
                    time.sleep(0.2)  # let socat's children be reaped
                    pids = self.cpu_pids.get(p, lambda: [])()
                    after = sum(cpu_seconds(pid, ch) for pid, ch in pids)
                    if r is None:
                        errors[p].append(err)
                        log("%s %s rep %d: FAILED (%s)" % (key, p, rep + 1, err))
                        continue
                    runs[p].append(r["MBps"])
                    cpu_acc[p][0] += after - before
                    cpu_acc[p][1] += r["bytes"]
                    log("%s %-10s rep %d: %8.1f MB/s" % (key, p, rep + 1, r["MBps"]))
            ref = statistics.median(runs["ssh-aes"]) if runs.get("ssh-aes") else None
            out[key] = {}
            for p in order:
                med = statistics.median(runs[p]) if runs[p] else None
                out[key][p] = {"median_MBps": med, "runs_MBps": runs[p], "errors": errors[p],
                               "ratio_to_ssh_aes": (med / ref) if (med and ref) else None}
                if p in self.cpu_pids and cpu_acc[p][1]:
                    cpu.setdefault(key, {})[p] = {
                        "cpu_seconds": cpu_acc[p][0], "bytes": cpu_acc[p][1],
                        "cpu_s_per_GiB": cpu_acc[p][0] / (cpu_acc[p][1] / GiB)}
        self.results["throughput"] = out
        self.results["cpu"] = cpu

    # -- latency -----------------------------------------------------------
    def latency(self):
        n = 300 if self.quick else 2000
        block = 100
        self.results["config"]["latency"] = (
            "%d round trips per size after 50 warm-up, paths interleaved in blocks of %d, "
            "TCP_NODELAY on the client" % (n, block))
        out = {}
        order = [p for p in ("direct", "socat", "ssh-aes", "ssh-chacha", "pt") if p in self.paths]

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

        for size in (1, 1024):
            msg = os.urandom(size)
            out["%dB" % size] = res = {}
            socks = {}
            samples = {p: [] for p in order}
            try:
                for p in order:
                    s = socket.create_connection(("127.0.0.1", self.paths[p]["echo"]), timeout=10)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    socks[p] = s
                    for _ in range(50):
                        rtt(s, msg, p)
                # interleave the paths so that noise from the rest of the
                # machine falls on all of them alike
                while len(samples[order[0]]) < n:
                    self.check_alive()
                    for p in order:
                        for _ in range(min(block, n - len(samples[p]))):
                            samples[p].append(rtt(socks[p], msg, p))
            finally:
                for s in socks.values():
                    s.close()
            for p in order:
                res[p] = {"p50_us": pct(samples[p], 50), "p99_us": pct(samples[p], 99),
                          "mean_us": statistics.mean(samples[p]), "n": len(samples[p])}
            for p in order:
                res[p]["added_p50_us"] = res[p]["p50_us"] - res["direct"]["p50_us"]
                res[p]["added_p99_us"] = res[p]["p99_us"] - res["direct"]["p99_us"]
                log("latency %5dB %-10s p50 %8.1f us  p99 %8.1f us" % (
                    size, p, res[p]["p50_us"], res[p]["p99_us"]))
        self.results["latency"] = out

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
                for p in ("direct", "pt"):
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

    # -- VPN mode ------------------------------------------------------------
    # Two namespaces joined by a veth ("two machines"); iperf3 in them directly
    # over the veth, through `pt vpn` (manual pairing) and through OpenVPN.
    def vpn_helper(self):
        return os.environ.get("PT_TUN_HELPER") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.realpath(self.pt_bin))),
            "helper", "peertunnel-tun-helper")

    def vpn_ns(self, side):
        return "%s-%s" % (self.vpn_prefix, side)

    def vpn_skip_reason(self):
        if os.geteuid() != 0:
            return "needs root (network namespaces and TUN devices)"
        for tool, pkg in (("ip", "iproute2"), ("iperf3", "iperf3"), ("unshare", "util-linux"),
                          ("ping", "iputils-ping")):
            if shutil.which(tool) is None:
                return "%s not installed (apt-get install %s)" % (tool, pkg)
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun"
        if not os.access(self.vpn_helper(), os.X_OK):
            return "the TUN helper was not built (%s)" % self.vpn_helper()
        p = subprocess.run(["ip", "netns", "add", self.vpn_ns("probe")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            return "cannot create network namespaces: %s" % p.stdout.decode().strip()
        subprocess.run(["ip", "netns", "del", self.vpn_ns("probe")])
        return None

    def vpn_ip(self, *argv):
        p = subprocess.run(["ip"] + list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=20)
        if p.returncode != 0:
            raise RuntimeError("ip %s: %s" % (" ".join(argv), p.stdout.decode().strip()))
        return p.stdout.decode()

    def vpn_build(self):
        for side in VPN_ADDR:
            self.vpn_ip("netns", "add", self.vpn_ns(side))
            self.vpn_namespaces.append(self.vpn_ns(side))
        self.vpn_ip("link", "add", "eth0", "netns", self.vpn_ns("srv"), "type", "veth",
                    "peer", "name", "eth0", "netns", self.vpn_ns("cli"))
        for side, addr in VPN_ADDR.items():
            self.vpn_ip("-n", self.vpn_ns(side), "addr", "add", addr + "/24", "dev", "eth0")
            self.vpn_ip("-n", self.vpn_ns(side), "link", "set", "eth0", "up")
            self.vpn_ip("-n", self.vpn_ns(side), "link", "set", "lo", "up")
        limit = time.monotonic() + 10
        for side in VPN_ADDR:
            while "state UP" not in self.vpn_ip("-n", self.vpn_ns(side), "-o", "link", "show", "eth0"):
                if time.monotonic() > limit:
                    raise RuntimeError("vpn: eth0 in %s did not come up" % self.vpn_ns(side))
                time.sleep(0.05)

    def vpn_teardown(self):
        for c in self.vpn_children:
            c.kill()
            if c in REGISTRY:
                REGISTRY.remove(c)
        self.vpn_children = []
        while self.vpn_namespaces:
            subprocess.run(["ip", "netns", "del", self.vpn_namespaces.pop()],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def vpn_child(self, name, side, argv, machine=False, **kw):
        if machine:
            # its own mount namespace with a private /run/lock: another machine
            # (one VPN client per machine is a lock file there)
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                    "mount -t tmpfs tmpfs /run/lock && exec \"$@\"", "sh"] + argv
        c = Child(name, ["ip", "netns", "exec", self.vpn_ns(side)] + argv, self.logdir, **kw)
        self.vpn_children.append(c)
        return c

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
        reps, secs = (1, 2) if self.quick else (5, 3)
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
            self.vpn_build()
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
            for p, t in targets.items():
                dev = {"direct": "eth0", "pt": out["paths"]["pt"]["client"].get("ifname"),
                       "openvpn": "ovpnb0"}[p]
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
                counters = {p: {} for p in targets}
                for rep in range(reps):
                    for p, t in targets.items():
                        c0 = self.vpn_counters(devs.get(p, {}))
                        before = sum(cpu_seconds(pid) for pid in cpu_pids.get(p, []))
                        r, err = self.vpn_iperf(t, secs, reverse)
                        after = sum(cpu_seconds(pid) for pid in cpu_pids.get(p, []))
                        c1 = self.vpn_counters(devs.get(p, {}))
                        for k, v in c1.items():
                            counters[p][k] = counters[p].get(k, 0) + v - c0.get(k, 0)
                        if r is None:
                            errors[p].append(err)
                            log("vpn %s %-7s rep %d: FAILED (%s)" % (direction, p, rep + 1, err))
                            continue
                        runs[p].append(r["MBps"])
                        retr[p].append(r["retransmits"])
                        cpu_acc[p][0] += after - before
                        cpu_acc[p][1] += r["bytes"]
                        log("vpn %s %-7s rep %d: %8.1f MB/s, %s retransmits" % (
                            direction, p, rep + 1, r["MBps"], r["retransmits"]))
                ref = statistics.median(runs["openvpn"]) if runs.get("openvpn") else None
                for p in targets:
                    med = statistics.median(runs[p]) if runs[p] else None
                    out["paths"][p][direction] = {
                        "median_MBps": med, "median_Mbitps": med * 8 if med else None,
                        "runs_MBps": runs[p], "retransmits": retr[p], "errors": errors[p],
                        "ratio_to_openvpn": (med / ref) if (med and ref) else None,
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
            # what pt said during the load besides its events (warnings, drops)
            out["paths"]["pt"]["stderr_other"] = [
                l for c in self.vpn_pt for _, l in c.err_lines
                if not l.startswith("{")][:20]
        finally:
            self.vpn_teardown()

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
            log("== %s" % sec)
            try:
                getattr(self, sec.replace("-", "_"))()
            except RuntimeError as e:
                if not sec.startswith("nostr-") and sec != "vpn":
                    raise
                # Nostr or VPN mode failing (relay, server, a client, a
                # tunnel) is a figure too: report it and go on
                log("%s: FAILED: %s" % (sec, e))
                self.results[sec.replace("-", "_")] = {"skipped": "FAILED: %s" % e}
            self.results.setdefault("section_seconds", {})[sec] = time.monotonic() - ts
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
    L.append("Everything on loopback in one run; whole run %.0f s. MB/s = 10^6 bytes/s of payload "
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
        L.append("| path | 1 stream MB/s | ratio | 8 streams MB/s | ratio | CPU s/GiB (1 stream) | CPU s/GiB (8 streams) |")
        L.append("|---|---:|---:|---:|---:|---:|---:|")
        cpu = r.get("cpu", {})
        for p in ("direct", "socat", "ssh-aes", "ssh-chacha", "pt"):
            if p not in tp.get("1-stream", {}):
                continue
            a, b = tp["1-stream"][p], tp["8-stream"][p]
            c1 = cpu.get("1-stream", {}).get(p, {}).get("cpu_s_per_GiB")
            c8 = cpu.get("8-stream", {}).get(p, {}).get("cpu_s_per_GiB")
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                PATH_LABELS[p], fmt(a["median_MBps"]), fmt(a["ratio_to_ssh_aes"], "%.2f"),
                fmt(b["median_MBps"]), fmt(b["ratio_to_ssh_aes"], "%.2f"),
                fmt(c1, "%.2f") if p != "direct" else "—", fmt(c8, "%.2f") if p != "direct" else "—"))
        L.append("")
        L.append("CPU s/GiB: user+system CPU of the relaying processes only (pt client+server; "
                 "ssh+sshd; socat incl. its forked children), per GiB received by iperf3.")
        L.append("")
    lat = r.get("latency")
    if lat:
        L.append("## Latency (TCP request/response, %s)" % r["config"].get("latency", ""))
        L.append("")
        L.append("| path | 1 B p50 µs | 1 B p99 µs | added p50 | added p99 | 1 KiB p50 µs | 1 KiB p99 µs | added p50 | added p99 |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for p in ("direct", "socat", "ssh-aes", "ssh-chacha", "pt"):
            if p not in lat["1B"]:
                continue
            a, b = lat["1B"][p], lat["1024B"][p]
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                PATH_LABELS[p], fmt(a["p50_us"]), fmt(a["p99_us"]), fmt(a["added_p50_us"], "%+.1f"),
                fmt(a["added_p99_us"], "%+.1f"), fmt(b["p50_us"]), fmt(b["p99_us"]),
                fmt(b["added_p50_us"], "%+.1f"), fmt(b["added_p99_us"], "%+.1f")))
        L.append("")
    st = r.get("setup")
    ns = r.get("nostr_setup")
    if st or ns:
        L.append("## Setup (fresh tunnels on loopback; median, and min–max over the runs)")
        L.append("")
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
        L.append("| size | offered pps | direct sent pps | direct received pps | direct loss | pt sent pps | pt received pps | pt loss |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for size, d in udp.items():
            for a, b in zip(d["direct"], d["pt"]):
                L.append("| %s | %d | %.0f | %.0f | %.1f %% | %.0f | %.0f | %.1f %% |" % (
                    size, a["offered_pps"], a["achieved_send_pps"], a["received_pps"], a["loss_pct"],
                    b["achieved_send_pps"], b["received_pps"], b["loss_pct"]))
        L.append("")
    sc = r.get("scale")
    if sc:
        L.append("## Scale (%s)" % r["config"].get("scale", ""))
        L.append("")
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
    vpn = r.get("vpn")
    if vpn and "skipped" in vpn:
        L.append("## VPN mode")
        L.append("")
        L.append(vpn["skipped"])
        L.append("")
    elif vpn:
        L.append("## VPN mode (%s)" % vpn["config"])
        L.append("")
        if vpn.get("openvpn_skipped"):
            L.append("- %s" % vpn["openvpn_skipped"])
            L.append("")
        L.append("| path | MTU | client→server MB/s | ratio | server→client MB/s | ratio | "
                 "CPU s/GiB c→s | CPU s/GiB s→c | TCP retransmits c→s / s→c (median) | ping idle / after, avg ms |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

        def med(xs):
            xs = [x for x in xs if x is not None]
            return "%d" % statistics.median(xs) if xs else "—"
        for p in ("direct", "pt", "openvpn"):
            x = vpn["paths"].get(p)
            if not x or "client->server" not in x:
                continue
            a, b = x["client->server"], x["server->client"]
            fails = a["errors"] + b["errors"]
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s |" % (
                VPN_LABELS[p] + (" (%d failed runs)" % len(fails) if fails else ""), x.get("mtu", "?"),
                fmt(a["median_MBps"]), fmt(a["ratio_to_openvpn"], "%.2f"),
                fmt(b["median_MBps"]), fmt(b["ratio_to_openvpn"], "%.2f"),
                fmt(a["cpu_s_per_GiB"], "%.2f"), fmt(b["cpu_s_per_GiB"], "%.2f"),
                med(a["retransmits"]), med(b["retransmits"]),
                fmt((x.get("ping_idle") or {}).get("avg_ms"), "%.3f"),
                fmt((x.get("ping_after") or {}).get("avg_ms"), "%.3f")))
        L.append("")
        ov = vpn["paths"].get("openvpn", {})
        L.append("Ratios are to OpenVPN's median. MB/s = 10^6 bytes/s received by iperf3 (×8 for Mbit/s). "
                 "CPU s/GiB: user+system CPU of the two tunnel processes (pt vpn server+client; "
                 "openvpn server+client), per GiB received. pt: `pt vpn server --manual "
                 "--network 10.77.0.0/24` and `pt vpn client --manual` (default MTU), TUN devices "
                 "from the helper as root, QUIC with AES-128-GCM. OpenVPN: %s, point-to-point TLS "
                 "mode with throwaway P-256 certificates pinned by `--peer-fingerprint`, "
                 "`--data-ciphers %s` (negotiated: %s), UDP, `--tun-mtu 1400`, `--disable-dco` "
                 "(user space, like pt), default buffers." % (
                     ov.get("version", "not run"), VPN_OVPN_CIPHER, ov.get("cipher", "—")))
        L.append("")
        L.append("Where packets were lost, summed over the runs of each direction: IP packets the "
                 "tunnel process read from the sending side's TUN device and wrote to the receiving "
                 "side's (`ip -s link`); UDP datagrams (each namespace's /proc/net/snmp, which also "
                 "counts the tunnel's own ACK/control packets); the kernel's drops.")
        L.append("")
        L.append("| path | direction | IP packets read from TUN (sender) | written to TUN (receiver) | "
                 "missing | UDP sent (sender) | UDP received (receiver) | UDP receive-buffer drops "
                 "(receiver) | TUN queue drops (sender) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for p in ("pt", "openvpn"):
            x = vpn["paths"].get(p)
            if not x or "client->server" not in x:
                continue
            for d, tx, rx in (("client->server", "cli", "srv"), ("server->client", "srv", "cli")):
                c = x[d].get("counters_summed", {})

                def dev(side, k, c=c):
                    return next((n for key, n in c.items() if key.startswith(side + " ")
                                 and key.endswith(" " + k) and " udp " not in key), None)
                read, written = dev(tx, "tx_packets"), dev(rx, "rx_packets")
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    VPN_LABELS[p], d.replace("->", "→"), read, written,
                    "%d (%.1f %%)" % (read - written, 100.0 * (read - written) / read)
                    if read and written is not None else "—",
                    c.get(tx + " udp OutDatagrams", "—"), c.get(rx + " udp InDatagrams", "—"),
                    c.get(rx + " udp RcvbufErrors", "—"), dev(tx, "tx_dropped")))
        L.append("")
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
