#!/usr/bin/env python3
"""Text that relays and peers choose never reaches the terminal raw (issue 12, item 6).

A relay may put anything in a CLOSED reason, a NOTICE or an unknown message
type. Printed raw, "\\n ready 127.0.0.1:1" forges the line that scripts wait
for and "\\x1b[2J" clears the screen. These tests run real `pt client nostr`
processes in text mode against a tiny hostile relay (a stdlib websocket
server in this file) and check that every such string shows up on one line,
escaped.

Run: PT_BUILD_DIR=$PWD/_build python3 tests/integration/test_hostile_text.py
"""

import base64
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_manual  # noqa: E402
from test_manual import Base, T_USAGE, PT  # noqa: E402,F401

HOSTILE = "bye\n ready 127.0.0.1:1\x1b[2J"
ESCAPED = "bye\\n ready 127.0.0.1:1\\x1b[2J"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HostileRelay:
    """A websocket server that greets each connection with a NOTICE carrying
    HOSTILE and answers every REQ with a CLOSED carrying it; with
    unknown_type=True it sends a message whose type is HOSTILE instead (which
    makes pt drop the relay)."""

    def __init__(self, unknown_type=False):
        self.unknown_type = unknown_type
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = "ws://127.0.0.1:%d" % self.port
        self.closed = False
        self.reqs = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _recv_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    @staticmethod
    def _send_text(conn, text):
        payload = text.encode("utf-8")
        head = bytes([0x81])
        if len(payload) < 126:
            head += bytes([len(payload)])
        elif len(payload) < 65536:
            head += bytes([126]) + struct.pack("!H", len(payload))
        else:
            head += bytes([127]) + struct.pack("!Q", len(payload))
        conn.sendall(head + payload)

    def _serve(self, conn):
        conn.settimeout(60)
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", request).group(1)
            accept = base64.b64encode(hashlib.sha1(key + WS_GUID.encode()).digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            if self.unknown_type:
                self._send_text(conn, json.dumps([HOSTILE, "x"]))
            else:
                self._send_text(conn, json.dumps(["NOTICE", HOSTILE]))
            while True:
                b0, b1 = self._recv_exact(conn, 2)
                n = b1 & 0x7f
                if n == 126:
                    n = struct.unpack("!H", self._recv_exact(conn, 2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._recv_exact(conn, 8))[0]
                mask = self._recv_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(self._recv_exact(conn, n)))
                opcode = b0 & 0x0f
                if opcode == 8:
                    return
                if opcode == 9:
                    conn.sendall(bytes([0x8a, len(data)]) + data)
                    continue
                if opcode != 1:
                    continue
                try:
                    msg = json.loads(data.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(msg, list) and msg and msg[0] == "REQ":
                    self._send_text(conn, json.dumps(["CLOSED", msg[1], HOSTILE]))
                    with self.cond:
                        self.reqs += 1
                        self.cond.notify_all()
        except (OSError, EOFError, AttributeError, ValueError):
            pass
        finally:
            conn.close()


class TestHostileText(Base):
    test_seconds = 60

    def keygen(self, name):
        path = os.path.join(self.tmp, name + ".nsec")
        out = subprocess.run([PT, "keygen", "--output", path], capture_output=True, text=True,
                             timeout=T_USAGE)
        self.assertEqual(out.returncode, 0, out.stderr)
        return path, out.stdout.strip()

    def assert_escaped(self, proc, what):
        """@what (a regex) shows up with ESCAPED on its line; nothing raw."""
        idx, line, _ = proc.wait_err(lambda l, e: re.search(what, l) and ESCAPED in l,
                                     self.deadline.bound(20),
                                     "a line with %s and the escaped text" % what)
        for l in proc.err_lines:
            self.assertNotIn("\x1b", l, "a raw ESC reached the terminal: %r" % l)
            self.assertIsNone(re.match(r"^\s*ready 127\.0\.0\.1:1\b", l),
                              "a relay forged a ready line: %r" % l)
        self.assertFalse(proc.has_ready(), "the client looks ready")
        return line

    def test_relay_text_escaped(self):
        relay = HostileRelay()
        odd = HostileRelay(unknown_type=True)
        self.services += [relay, odd]
        key, _ = self.keygen("client")
        _, server_npub = self.keygen("server")
        echo = self.tcp_service(H.echo_handler, "echo")
        cli = self.pt("client", "client", "nostr", "-v", "--no-stun",
                      "--local-address", "127.0.0.1", "--nsec-file", key,
                      "--peer-npub", server_npub, "--relay", relay.url, "--relay", odd.url,
                      "--source", echo.uri, "--target", "127.0.0.1:0")
        self.assert_escaped(cli, r"closed subscription")
        self.assert_escaped(cli, r"notice")
        self.assert_escaped(cli, r"unknown message type")


def main(argv):
    return test_manual.main(argv, sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
