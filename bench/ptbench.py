#!/usr/bin/python3
"""PeerTunnel benchmark driver (stdlib only).  Run it through ./bench/run.

Compares, in one run on loopback, a `pt` tunnel (manual mode) with `ssh -L`
(aes128-gcm and chacha20-poly1305, against a throwaway sshd), a `socat` TCP
relay and direct TCP.  See bench/README.md for what each figure means.

Every child runs in its own process group; all of them are killed (SIGTERM,
then SIGKILL) on normal exit, on an exception, on Ctrl-C and on SIGTERM/SIGHUP.
"""

import argparse
import datetime
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
        git = run_cmd(["git", "-C", SOURCE_DIR, "describe", "--always", "--dirty"])
        return {
            "hostname": platform.node(),
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory": mem,
            "kernel": platform.release(),
            "os": os_name,
            "pt": run_cmd([self.pt_bin, "--version"]) + " (git %s)" % git,
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
            "manual_runs": samples,
            "nostr": "n/a (Nostr mode not built yet)",
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
        out["nostr_100_sessions"] = "n/a (Nostr mode not built yet)"
        self.results["scale"] = out

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
        sections = self.args.only.split(",") if self.args.only else \
            ["throughput", "latency", "setup", "udp", "scale"]
        for sec in sections:
            ts = time.monotonic()
            log("== %s" % sec)
            getattr(self, sec)()
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
    if st:
        s = st["manual"]
        L.append("## Setup (medians of %d fresh pairs)" % len(st["manual_runs"]))
        L.append("")
        L.append("| mode | client start → offer | offer → answer | answer → `ready` | answer → first byte through (echoed) |")
        L.append("|---|---:|---:|---:|---:|")
        L.append("| manual | %.1f ms | %.1f ms | %.1f ms | %.1f ms |" % (
            s["client_start_to_offer_ms"], s["offer_to_answer_ms"], s["answer_to_ready_ms"],
            s["answer_to_first_byte_echoed_ms"]))
        L.append("| Nostr | %s | | | |" % st["nostr"])
        L.append("")
        steps = sorted((v, k[len("answer_to_state_"):-3]) for k, v in s.items()
                       if k.startswith("answer_to_state_"))
        if steps:
            L.append("Client state events after the answer (median ms): " +
                     ", ".join("%s %.1f" % (name, v) for v, name in steps) + ".")
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
        L.append("| 100 Nostr sessions | %s | | | | | |" % sc.get("nostr_100_sessions"))
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
    ap.add_argument("--only", help="comma-separated sections: throughput,latency,setup,udp,scale")
    ap.add_argument("--pt", default=os.path.join(SOURCE_DIR, "_build", "cli", "pt"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir with the logs")
    args = ap.parse_args()

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
