"""Shared pieces of the chaos and soak suite (stdlib only).

Builds on tests/integration/harness.py (processes, services, deadlines) and
tests/integration/test_manual.py (the Base test case: a watchdog per test,
pairing a manual client with a manual server); imported, not copied.

What lives here:

  * ``Pump``: one TCP connection through a tunnel to an echo service that
    keeps sending a known byte stream at a set rate while it reads the echo,
    and checks every received byte against what was sent (so a cut-off
    stream is allowed to end early, but never to differ);
  * ``fd_count`` / ``rss_kib``: /proc readings of a pt process (pt turns
    PR_SET_DUMPABLE off; this module sets PT_DUMPABLE=1 for every child so a
    non-root runner may read /proc/PID/fd);
  * ``main``: the unittest runner of the chaos files; exit 77 (meson: SKIP)
    when every test was skipped.
"""

import hashlib
import os
import signal
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for sub in ("integration", "natlab"):
    path = os.path.join(TESTS, sub)
    if path not in sys.path:
        sys.path.insert(0, path)

# Every pt started from here stays dumpable, so /proc/PID/fd is readable.
os.environ["PT_DUMPABLE"] = "1"

import harness as H  # noqa: E402
import test_manual as TM  # noqa: E402

PT = H.pt_binary()
KiB = 1024
MiB = 1024 * KiB
SKIP_EXIT = 77


def fd_count(pid):
    """Open descriptors of @pid (None if the process is gone)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def rss_kib(pid):
    """Resident set size of @pid in KiB (None if the process is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def error_saying(*words):
    """A wait_err predicate: an `error` event whose message holds one of
    @words (lower case)."""
    def pred(line, ev):
        if ev is None or ev.get("event") != "error":
            return False
        msg = ev.get("message", "").lower()
        return any(w in msg for w in words)
    return pred


def wait_until(pred, timeout, what, interval=0.1):
    """Polls @pred (a /proc reading has no event to wait on) until it
    returns a true value or @timeout passes; returns its last value."""
    limit = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > limit:
            raise H.TestTimeout("%s: not within %.1fs" % (what, timeout))
        time.sleep(interval)


# --------------------------------------------------------------------------
# A checked byte stream

PATTERN_LEN = 4 * MiB + 7          # not a power of two: a shifted stream differs
_PATTERN = None


def pattern():
    global _PATTERN
    if _PATTERN is None:
        _PATTERN = os.urandom(PATTERN_LEN) * 2
    return _PATTERN


def pattern_bytes(offset, n):
    """@n bytes of the endless stream at @offset (n <= PATTERN_LEN)."""
    p = pattern()
    o = offset % PATTERN_LEN
    return p[o:o + n]


def pattern_sha(n):
    h = hashlib.sha256()
    off = 0
    while off < n:
        k = min(1 * MiB, n - off)
        h.update(pattern_bytes(off, k))
        off += k
    return h.hexdigest()


class Pump:
    """A TCP connection through a tunnel to an echo service: sends the
    pattern at @rate bytes/s (in 16 KiB chunks) and reads the echo back,
    comparing each byte with the pattern at its offset."""

    CHUNK = 16 * KiB

    def __init__(self, addr, deadline, rate=512 * KiB, connect=None, name="pump"):
        self.name = name
        self.rate = rate
        self.deadline = deadline
        self.sock = (connect or H.connect)(addr, deadline)
        self.sent = 0
        self.received = 0
        self.sha_rx = hashlib.sha256()
        self.corrupt_at = None       # first offset that differed
        self.ended = None            # why the reader stopped: "eof" or an error
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.send_error = None
        self._rx = threading.Thread(target=self._reader, daemon=True, name=name + "-rx")
        self._tx = threading.Thread(target=self._writer, daemon=True, name=name + "-tx")
        self._rx.start()
        self._tx.start()

    def _writer(self):
        t0 = time.monotonic()
        try:
            while not self.stopping.is_set():
                due = t0 + self.sent / self.rate
                now = time.monotonic()
                if due > now:
                    self.stopping.wait(due - now)     # pacing, not synchronisation
                    continue
                chunk = pattern_bytes(self.sent, self.CHUNK)
                self.sock.settimeout(30)
                self.sock.sendall(chunk)
                with self.cond:
                    self.sent += len(chunk)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.send_error = e

    def _reader(self):
        try:
            while True:
                self.sock.settimeout(90)
                d = self.sock.recv(256 * KiB)
                if not d:
                    reason = "eof"
                    break
                with self.cond:
                    if self.corrupt_at is None and d != pattern_bytes(self.received, len(d)):
                        want = pattern_bytes(self.received, len(d))
                        i = next(i for i in range(len(d)) if d[i] != want[i])
                        self.corrupt_at = self.received + i
                    self.sha_rx.update(d)
                    self.received += len(d)
                    self.cond.notify_all()
        except OSError as e:
            reason = "%s: %s" % (type(e).__name__, e)
        with self.cond:
            self.ended = reason
            self.cond.notify_all()

    def wait_received(self, n, timeout):
        """Waits until @n more bytes than now came back; returns the total."""
        limit = time.monotonic() + timeout
        with self.cond:
            goal = self.received + n
            while self.received < goal:
                if self.ended is not None:
                    raise AssertionError("%s ended (%s) after %d bytes, waiting for %d"
                                         % (self.name, self.ended, self.received, goal))
                left = limit - time.monotonic()
                if left <= 0:
                    raise H.TestTimeout("%s: %d of %d bytes echoed within %.1fs"
                                        % (self.name, self.received, goal, timeout))
                self.cond.wait(min(left, 0.5))
            return self.received

    def wait_ended(self, timeout):
        """Waits until the reader saw EOF or an error; returns the reason."""
        limit = time.monotonic() + timeout
        with self.cond:
            while self.ended is None:
                left = limit - time.monotonic()
                if left <= 0:
                    raise H.TestTimeout("%s: connection still open after %.1fs (%d bytes in)"
                                        % (self.name, timeout, self.received))
                self.cond.wait(min(left, 0.5))
            return self.ended

    def finish(self, timeout):
        """Stops sending, half-closes and reads the rest; returns the bytes
        echoed (which must then equal the bytes sent)."""
        self.stopping.set()
        self._tx.join(timeout)
        self.wait_ended(timeout)
        return self.received

    def check_intact(self, test, complete=False):
        """Asserts that what came back is the stream sent (a prefix of it,
        unless @complete), byte for byte and by SHA-256."""
        with self.cond:
            got, sent, corrupt = self.received, self.sent, self.corrupt_at
            digest = self.sha_rx.hexdigest()
        test.assertIsNone(corrupt, "%s: echoed byte at offset %r differs from what was sent"
                          % (self.name, corrupt))
        test.assertLessEqual(got, sent, "%s: more bytes came back (%d) than were sent (%d)"
                             % (self.name, got, sent))
        test.assertEqual(digest, pattern_sha(got), "%s: SHA-256 of the %d echoed bytes differs"
                         % (self.name, got))
        if complete:
            test.assertEqual(got, sent, "%s: %d bytes sent, %d came back"
                             % (self.name, sent, got))

    def close(self):
        self.stopping.set()
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Runner

class Result(TM.Result):
    pass


def _on_signal(signum, frame):
    H.kill_all()
    sys.stderr.write("interrupted by signal %d; children killed\n" % signum)
    os._exit(130)


def main(argv, module):
    """Runs the tests of @module named in @argv (all by default). Exit 0
    when all passed, 1 on any failure, 77 when every test was skipped."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    names = [a for a in argv[1:] if not a.startswith("-")]
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromNames(names, module) if names else \
        loader.loadTestsFromModule(module)
    sys.stdout.write("pt binary: %s\n" % PT)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=Result,
                                    descriptions=False)
    try:
        result = runner.run(suite)
    finally:
        H.kill_all()
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    for test, reason in result.skipped:
        print("SKIP: %s: %s" % (test.id().rsplit(".", 1)[-1], reason))
    sys.stdout.flush()
    if failed:
        return 1
    return SKIP_EXIT if skipped and not passed else 0
