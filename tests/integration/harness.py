"""Helpers for the PeerTunnel integration tests (stdlib only).

What lives here:

  * locating the ``pt`` binary (``$PT_BIN``, else ``$PT_BUILD_DIR/cli/pt``,
    else ``<source>/_build/cli/pt``);
  * ``PtProc``: a child process in its own process group whose stdout and
    stderr are read by background threads, so that a test can wait (with a
    timeout) for an armored block on stdout or for a JSON event / text line on
    stderr, and notice at once when the process exits;
  * ``Deadline``: a whole-test time bound;
  * small local services on 127.0.0.1 (TCP echo, TCP source, half-close
    services, UDP echo) run in daemon threads;
  * socket helpers that never block without a timeout;
  * the signal block codec used by the tampering tests;
  * coturn start-up (waits on a real STUN Binding response).

Every process started through ``spawn`` is killed (whole process group,
SIGKILL) by ``kill_all`` which the test runner calls from tearDown, from
atexit and from its SIGINT/SIGTERM handlers.
"""

import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("PT_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))


def pt_binary():
    explicit = os.environ.get("PT_BIN")
    if explicit:
        return explicit
    build = os.environ.get("PT_BUILD_DIR") or os.path.join(SOURCE_DIR, "_build")
    return os.path.join(build, "cli", "pt")


# --------------------------------------------------------------------------
# Time bounds

class TestTimeout(AssertionError):
    pass


class Deadline:
    """A point in time; every wait takes min(its own bound, what is left)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def bound(self, timeout=None):
        left = self.left()
        if left <= 0:
            raise TestTimeout("whole-test deadline of %ss exceeded" % self.seconds)
        return left if timeout is None else min(timeout, left)


# --------------------------------------------------------------------------
# Child processes

_ALL = []
_ALL_LOCK = threading.Lock()


def kill_all():
    with _ALL_LOCK:
        procs = list(_ALL)
    for p in procs:
        p.kill()


atexit.register(kill_all)


def _kill_group(popen):
    if popen.poll() is not None:
        return
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        popen.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


BLOCK_BEGIN = "-----BEGIN PEERTUNNEL %s-----"
BLOCK_END = "-----END PEERTUNNEL %s-----"


class ProcessExited(AssertionError):
    pass


class PtProc:
    """A child process with line-buffered views of stdout and stderr."""

    def __init__(self, name, argv, cwd=None, env=None, stdin=subprocess.PIPE,
                 stdout_to=None):
        self.name = name
        self.argv = list(argv)
        self.out_lines = []
        self.err_lines = []
        self.events = []          # (index in err_lines, dict) for JSON lines
        self.out_eof = False
        self.err_eof = False
        self.out_pos = 0          # read_block cursor
        self.cond = threading.Condition()
        full_env = dict(os.environ)
        full_env.setdefault("LC_ALL", "C.UTF-8")
        if env:
            full_env.update(env)
        self.popen = subprocess.Popen(
            self.argv, cwd=cwd, env=full_env, stdin=stdin,
            stdout=stdout_to if stdout_to is not None else subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        with _ALL_LOCK:
            _ALL.append(self)
        self._threads = []
        if stdout_to is None:
            self._start_reader(self.popen.stdout, self.out_lines, "out")
        else:
            self.out_eof = True
        self._start_reader(self.popen.stderr, self.err_lines, "err")

    # -- readers ---------------------------------------------------------
    def _start_reader(self, stream, sink, which):
        def run():
            try:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    with self.cond:
                        sink.append(line)
                        if which == "err":
                            ev = parse_event(line)
                            if ev is not None:
                                self.events.append((len(sink) - 1, ev))
                        self.cond.notify_all()
            except (OSError, ValueError):
                pass
            finally:
                with self.cond:
                    if which == "out":
                        self.out_eof = True
                    else:
                        self.err_eof = True
                    self.cond.notify_all()
        t = threading.Thread(target=run, name="%s-%s" % (self.name, which), daemon=True)
        t.start()
        self._threads.append(t)

    # -- life cycle --------------------------------------------------------
    @property
    def pid(self):
        return self.popen.pid

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def kill(self):
        _kill_group(self.popen)
        for f in (self.popen.stdin,):
            try:
                if f:
                    f.close()
            except OSError:
                pass

    def signal(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit status, or raises TestTimeout (the process is left running)."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestTimeout("%s did not exit within %.1fs" % (self.name, timeout))
        # let the readers drain what is left
        for t in self._threads:
            t.join(timeout=2)
        return rc

    # -- stdin -------------------------------------------------------------
    def write(self, text):
        if self.popen.stdin is None:
            raise AssertionError("%s has no stdin pipe" % self.name)
        try:
            self.popen.stdin.write(text.encode())
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ProcessExited("%s: cannot write to stdin (%s); exit status %r"
                                % (self.name, e, self.popen.poll()))

    def close_stdin(self):
        try:
            self.popen.stdin.close()
        except (OSError, AttributeError):
            pass

    # -- waiting on output -------------------------------------------------
    def read_block(self, kind, timeout):
        """Next complete BEGIN..END block of @kind from stdout (text with
        trailing newline); lines before BEGIN are skipped."""
        begin, end = BLOCK_BEGIN % kind, BLOCK_END % kind
        limit = time.monotonic() + timeout
        with self.cond:
            while True:
                start = None
                for i in range(self.out_pos, len(self.out_lines)):
                    line = self.out_lines[i].strip()
                    if start is None and line == begin:
                        start = i
                    elif start is not None and line == end:
                        self.out_pos = i + 1
                        return "\n".join(l.strip() for l in self.out_lines[start:i + 1]) + "\n"
                if self.out_eof:
                    raise ProcessExited(
                        "%s: stdout closed before a complete %s block (exit status %r)"
                        % (self.name, kind, self.popen.poll()))
                left = limit - time.monotonic()
                if left <= 0:
                    raise TestTimeout("%s: no complete %s block on stdout within %.1fs"
                                      % (self.name, kind, timeout))
                self.cond.wait(min(left, 0.5))

    def wait_err(self, pred, timeout, what, start=0, allow_exit=False):
        """First stderr line (index >= start) for which pred(line, event) is
        true; returns (index, line, event-or-None)."""
        limit = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.err_lines):
                    line = self.err_lines[i]
                    ev = parse_event(line)
                    if pred(line, ev):
                        return i, line, ev
                    i += 1
                if self.err_eof:
                    if allow_exit:
                        return None
                    raise ProcessExited("%s: exited (status %r) before %s"
                                        % (self.name, self.popen.poll(), what))
                left = limit - time.monotonic()
                if left <= 0:
                    if allow_exit:
                        return None
                    raise TestTimeout("%s: no %s on stderr within %.1fs"
                                      % (self.name, what, timeout))
                self.cond.wait(min(left, 0.5))

    def wait_event(self, name, timeout, start=0, **match):
        """Wait for a JSON event {"event": name, **match}; returns the dict."""
        def pred(line, ev):
            if not ev or ev.get("event") != name:
                return False
            return all(ev.get(k) == v for k, v in match.items())
        desc = "event %r%s" % (name, (" with %r" % match) if match else "")
        return self.wait_err(pred, timeout, desc, start)[2]

    def wait_ready(self, timeout, count=1):
        """Wait for @count ready notices (JSON or text); returns the list of
        (host, port) they announce."""
        found = []
        start = 0
        for _ in range(count):
            idx, line, ev = self.wait_err(_is_ready, timeout, "ready notice", start)
            found.append(split_hostport(ready_address(line, ev)))
            start = idx + 1
        return found

    def has_ready(self):
        with self.cond:
            return any(_is_ready(l, parse_event(l)) for l in self.err_lines)

    def stderr_text(self):
        with self.cond:
            return "\n".join(self.err_lines)

    def stdout_text(self):
        with self.cond:
            return "\n".join(self.out_lines)

    def events_named(self, name):
        with self.cond:
            return [ev for _, ev in self.events if ev.get("event") == name]

    def log_tail(self, n=40):
        with self.cond:
            err = self.err_lines[-n:]
            out = self.out_lines[-10:]
        return ("--- %s (pid %s, status %r): %s\n--- stderr (last %d lines):\n%s\n"
                "--- stdout (last 10 lines):\n%s\n"
                % (self.name, self.popen.pid, self.popen.poll(), " ".join(self.argv),
                   len(err), "\n".join(err), "\n".join(out)))


def parse_event(line):
    s = line.strip()
    if not s.startswith("{"):
        return None
    try:
        ev = json.loads(s)
    except ValueError:
        return None
    return ev if isinstance(ev, dict) else None


_READY_RE = re.compile(r"^ready\s+(\S+)")


def _is_ready(line, ev):
    if ev is not None:
        return ev.get("event") == "ready" and isinstance(ev.get("listen"), str)
    return _READY_RE.match(line.strip()) is not None


def ready_address(line, ev):
    if ev is not None:
        return ev["listen"]
    return _READY_RE.match(line.strip()).group(1)


def split_hostport(text):
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    return host, int(port)


# --------------------------------------------------------------------------
# Ports and sockets

def free_port(kind=socket.SOCK_STREAM, both=False):
    """A port that was free on 127.0.0.1 (for TCP, or TCP and UDP at once)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, kind)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if both:
            other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
            t = socket.socket(socket.AF_INET, other)
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                t.close()
                continue
            t.close()
        s.close()
        return port
    raise RuntimeError("no free port")


def recv_all(sock, deadline, limit=None):
    """Read until EOF; bounded by @deadline (a Deadline)."""
    chunks = []
    total = 0
    while True:
        sock.settimeout(max(0.05, deadline.bound(30)))
        try:
            data = sock.recv(256 * 1024)
        except socket.timeout:
            if deadline.left() <= 0:
                raise TestTimeout("recv: whole-test deadline exceeded after %d bytes" % total)
            raise TestTimeout("recv: no data for 30s after %d bytes" % total)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
        total += len(data)
        if limit is not None and total > limit:
            raise AssertionError("received more than %d bytes" % limit)


def send_all(sock, data, deadline):
    sock.settimeout(max(0.05, deadline.bound(60)))
    sock.sendall(data)


def connect(addr, deadline, timeout=10):
    s = socket.create_connection(addr, timeout=deadline.bound(timeout))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Worker(threading.Thread):
    """A daemon thread whose exception (if any) is re-raised by join_ok."""

    def __init__(self, fn, *args, name=None):
        super().__init__(daemon=True, name=name)
        self.fn, self.args = fn, args
        self.result = None
        self.error = None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # reported by join_ok
            self.error = e

    def join_ok(self, timeout):
        self.join(timeout)
        if self.is_alive():
            raise TestTimeout("%s still running after %.1fs" % (self.name, timeout))
        if self.error is not None:
            raise self.error
        return self.result


def exchange(addr, data, deadline):
    """Connect, send @data while receiving, half-close, read to EOF;
    returns the bytes received."""
    s = connect(addr, deadline)
    try:
        def sender():
            send_all(s, data, deadline)
            s.shutdown(socket.SHUT_WR)
        w = Worker(sender, name="sender")
        w.start()
        got = recv_all(s, deadline)
        w.join_ok(max(1, deadline.bound()))
        return got
    finally:
        s.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# Local services

class TcpService:
    """Listens on 127.0.0.1:0 and runs @handler(conn) per connection in a
    thread. Counts connections; records handler exceptions and results."""

    def __init__(self, handler, name="service"):
        self.handler = handler
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.errors = []
        self.results = []
        self.cond = threading.Condition()
        self.closed = False
        self.conns = []
        threading.Thread(target=self._accept_loop, daemon=True, name=name).start()

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    @property
    def uri(self):
        return "tcp://127.0.0.1:%d" % self.port

    def _accept_loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.accepted += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.settimeout(120)
            res = self.handler(conn)
            with self.cond:
                self.results.append(res)
                self.cond.notify_all()
        except BaseException as e:
            with self.cond:
                self.errors.append(e)
                self.cond.notify_all()
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def wait_results(self, count, timeout):
        limit = time.monotonic() + timeout
        with self.cond:
            while len(self.results) + len(self.errors) < count:
                left = limit - time.monotonic()
                if left <= 0:
                    raise TestTimeout("%s: %d of %d connections finished within %.1fs"
                                      % (self.name, len(self.results) + len(self.errors),
                                         count, timeout))
                self.cond.wait(min(left, 0.5))
            if self.errors:
                raise AssertionError("%s: handler failed: %r" % (self.name, self.errors[0]))
            return list(self.results)

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.cond:
            conns = list(self.conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass


def _read_to_eof(conn):
    chunks = []
    while True:
        d = conn.recv(256 * 1024)
        if not d:
            return b"".join(chunks)
        chunks.append(d)


def echo_handler(conn):
    """Writes back exactly what it reads; shuts down write on EOF."""
    total = 0
    while True:
        d = conn.recv(256 * 1024)
        if not d:
            break
        conn.sendall(d)
        total += len(d)
    conn.shutdown(socket.SHUT_WR)
    return total


def source_handler(payload):
    """Sends @payload, then closes (reading nothing)."""
    def handler(conn):
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        # drain until the peer closes so the close is orderly
        _read_to_eof(conn)
        return len(payload)
    return handler


def reply_after_eof_handler(reply_for):
    """Reads to EOF, THEN sends reply_for(data), then closes."""
    def handler(conn):
        data = _read_to_eof(conn)
        conn.sendall(reply_for(data))
        conn.shutdown(socket.SHUT_WR)
        return sha(data)
    return handler


def half_close_first_handler(greeting):
    """Sends @greeting, shuts down its write side, then reads to EOF and
    returns the SHA-256 of what it received."""
    def handler(conn):
        conn.sendall(greeting)
        conn.shutdown(socket.SHUT_WR)
        data = _read_to_eof(conn)
        return (len(data), sha(data))
    return handler


class UdpEcho:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.peers = set()
        threading.Thread(target=self._loop, daemon=True, name="udp-echo").start()

    @property
    def uri(self):
        return "udp://127.0.0.1:%d" % self.port

    def _loop(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
                self.peers.add(peer)
                self.sock.sendto(data, peer)
            except OSError:
                return

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Signal blocks (format: docs/protocol.md; layout used by the tests:
#  magic "PT" (2) | version (1) | kind (1) | session id (8) | timestamp (8) |
#  fingerprint (32) | ... | checksum (4) = SHA-256(everything before)[:4])

FINGERPRINT_OFFSET = 20
FINGERPRINT_LEN = 32


def block_payload(block):
    lines = [l.strip() for l in block.strip().splitlines()]
    if not (lines[0].startswith("-----BEGIN PEERTUNNEL ") and
            lines[-1].startswith("-----END PEERTUNNEL ")):
        raise AssertionError("not an armored block: %r" % block[:80])
    kind = lines[0][len("-----BEGIN PEERTUNNEL "):-len("-----")]
    return kind, base64.b64decode("".join(lines[1:-1]), validate=True)


def armor(kind, payload):
    b64 = base64.b64encode(payload).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return "%s\n%s\n%s\n" % (BLOCK_BEGIN % kind, body, BLOCK_END % kind)


def checksum_ok(payload):
    return hashlib.sha256(payload[:-4]).digest()[:4] == payload[-4:]


def with_checksum(payload_without_sum):
    return payload_without_sum + hashlib.sha256(payload_without_sum).digest()[:4]


# --------------------------------------------------------------------------
# coturn

def stun_binding(addr, timeout, tcp=False):
    """Sends one STUN Binding request; True if a matching success response
    arrives within @timeout."""
    txid = os.urandom(12)
    req = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + txid
    try:
        if tcp:
            s = socket.create_connection(addr, timeout=timeout)
            s.settimeout(timeout)
            s.sendall(req)
            hdr = b""
            while len(hdr) < 20:
                d = s.recv(20 - len(hdr))
                if not d:
                    return False
                hdr += d
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            s.sendto(req, addr)
            hdr, _ = s.recvfrom(2048)
    except OSError:
        return False
    finally:
        try:
            s.close()
        except (OSError, UnboundLocalError):
            pass
    if len(hdr) < 20:
        return False
    mtype, _, cookie = struct.unpack("!HHI", hdr[:8])
    return mtype == 0x0101 and cookie == 0x2112A442 and hdr[8:20] == txid


def have_coturn():
    return shutil.which("turnserver") is not None


def make_tls_cert(tmpdir, name="localhost"):
    """A throwaway self-signed certificate for @name (and 127.0.0.1);
    returns (cert_path, key_path)."""
    cert = os.path.join(tmpdir, "tls-cert.pem")
    key = os.path.join(tmpdir, "tls-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % name],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    return cert, key


def start_coturn(tmpdir, deadline, user="u", password="p", tls=None):
    """Starts turnserver on a free loopback port; returns (PtProc, port).
    Waits until it answers STUN over UDP and accepts TCP. With tls=(cert, key)
    it also serves TURN over TLS; then returns (PtProc, port, tls_port)."""
    port = free_port(socket.SOCK_DGRAM, both=True)
    tls_port = free_port() if tls else None
    log = open(os.path.join(tmpdir, "turnserver.log"), "wb")
    tls_args = (["--tls-listening-port=%d" % tls_port, "--cert=%s" % tls[0],
                 "--pkey=%s" % tls[1]] if tls else ["--no-tls"])
    argv = ["turnserver", "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
            "--listening-port=%d" % port, "--lt-cred-mech",
            "--user=%s:%s" % (user, password), "--realm=test"] + tls_args + ["--no-dtls",
            "--no-cli", "--allow-loopback-peers",
            "--pidfile=%s" % os.path.join(tmpdir, "turnserver.pid"),
            "--userdb=%s" % os.path.join(tmpdir, "turndb"),
            "--log-file=stdout"]
    proc = PtProc("turnserver", argv, stdin=subprocess.DEVNULL, stdout_to=log)
    log.close()
    limit = time.monotonic() + deadline.bound(20)
    while True:
        if not proc.alive():
            raise AssertionError("turnserver exited with status %r; log in %s"
                                 % (proc.poll(), tmpdir))
        if stun_binding(("127.0.0.1", port), 0.3) and \
                stun_binding(("127.0.0.1", port), 1, tcp=True):
            if not tls:
                return proc, port
            try:
                socket.create_connection(("127.0.0.1", tls_port), timeout=1).close()
                return proc, port, tls_port
            except OSError:
                pass
        if time.monotonic() > limit:
            raise TestTimeout("turnserver did not answer STUN within 20s")


def make_tmpdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def tcp_connections_to(port, pids):
    """Number of ESTABLISHED TCP connections to 127.0.0.1:@port owned by
    the processes @pids (Linux /proc; None where /proc is not readable)."""
    inodes = set()
    try:
        for pid in pids:
            fd_dir = "/proc/%d/fd" % pid
            for fd in os.listdir(fd_dir):
                try:
                    link = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        with open("/proc/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return None
    want = "0100007F:%04X" % port
    n = 0
    for row in rows:
        cols = row.split()
        if cols[2] == want and cols[3] == "01" and cols[9] in inodes:
            n += 1
    return n
