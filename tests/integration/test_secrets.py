#!/usr/bin/env python3
"""Secrets stay out of reach (issue 12, items 11 and 15), with real `pt` processes.

  * PT_NSEC, PT_AUTH_TOKEN and PT_ID are taken out of the environment at
    start: neither child processes nor /proc/PID/environ show them;
  * --nsec-file naming a FIFO fails at once, saying so, instead of hanging;
  * a --config line that lost its key (a pasted TURN URL with its password)
    is reported by file and line, never quoted.

Run: PT_BUILD_DIR=$PWD/_build python3 tests/integration/test_secrets.py
"""

import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_manual  # noqa: E402
from test_manual import Base, T_USAGE, PT  # noqa: E402,F401

ICE = ["--no-stun", "--local-address", "127.0.0.1"]


class SilentListener:
    """Accepts TCP connections and never answers: a relay that hangs, so
    that pt stays up while the test looks at it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "ws://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


class TestSecrets(Base):
    test_seconds = 60

    def keygen(self, name):
        path = os.path.join(self.tmp, name + ".nsec")
        out = subprocess.run([PT, "keygen", "--output", path], capture_output=True, text=True,
                             timeout=T_USAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return path, out.stdout.strip()

    def token(self):
        out = subprocess.run([PT, "token"], capture_output=True, text=True, timeout=T_USAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def test_secret_environment_taken(self):
        key, _ = self.keygen("client")
        with open(key) as f:
            nsec = f.read().strip()
        _, server_npub = self.keygen("server")
        token = self.token()
        relay = SilentListener()
        self.services.append(relay)
        # PT_DUMPABLE=1: /proc/PID/environ stays readable for a test that is not root
        env = {"PT_NSEC": nsec, "PT_AUTH_TOKEN": token, "PT_ID": "not-used-here-x",
               "PT_DUMPABLE": "1"}
        cli = H.PtProc("client", [PT, "client", "nostr", "-v", *ICE, "--peer-npub", server_npub,
                                  "--relay", relay.url, "--source", "tcp://127.0.0.1:22",
                                  "--target", "127.0.0.1:0"], env=env)
        self.procs.append(cli)
        self.assertTrue(relay.accepted.wait(self.deadline.bound(15)),
                        "pt never reached the relay:\n" + cli.log_tail())
        self.assertTrue(cli.alive())
        with open("/proc/%d/environ" % cli.pid, "rb") as f:
            environ = f.read()
        for name, value in env.items():
            if name == "PT_DUMPABLE":
                continue
            self.assertNotIn(value.encode(), environ,
                             "%s is still in pt's environment" % name)
        err = cli.stderr_text()
        self.assertNotIn(nsec, err)
        self.assertNotIn(token, err)

    def test_nsec_file_fifo_fails_at_once(self):
        fifo = os.path.join(self.tmp, "key.nsec")
        os.mkfifo(fifo, 0o600)
        out = subprocess.run([PT, "server", "nostr", *ICE, "--nsec-file", fifo,
                              "--any-peer", "--auth-token-file", fifo,
                              "--relay", "ws://127.0.0.1:1"],
                             capture_output=True, text=True, timeout=T_USAGE,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("named pipe", out.stderr)
        self.assertIn(fifo, out.stderr)

    def test_config_line_without_key_not_quoted(self):
        conf = os.path.join(self.tmp, "client.conf")
        with open(conf, "w") as f:
            f.write("[client manual]\n=turn://alice:hunter2@turn.example.org:3478\n")
        out = subprocess.run([PT, "client", "manual", "--config", conf, "--source",
                              "tcp://127.0.0.1:22", "--target", "0"],
                             capture_output=True, text=True, timeout=T_USAGE,
                             stdin=subprocess.DEVNULL)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("%s:2:" % conf, out.stderr)
        self.assertIn("no key before", out.stderr)
        self.assertNotIn("hunter2", out.stderr)
        self.assertNotIn("alice", out.stderr)


def main(argv):
    return test_manual.main(argv, sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
