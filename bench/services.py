#!/usr/bin/python3
"""Loopback services for the PeerTunnel benchmark (stdlib only).

Run as a child process of bench/ptbench.py, so that the services do not share
the benchmark driver's interpreter (and GIL).  One single-threaded epoll loop:

  * TCP echo  - writes back what it reads; half-closes after EOF; TCP_NODELAY.
  * UDP sink  - counts datagrams whose first 4 bytes are a run id
                (payload: run id u32 | sequence u32 | padding).
  * control   - TCP, one line per request: "stats RUNID" answers one JSON
                line {"run": id, "packets": n, "bytes": b, "distinct": d}.

On start it prints one JSON line with the ports on stdout, then serves until
killed (the driver kills its process group).  `services.py --bind ADDR`
listens on ADDR (default 127.0.0.1; 0.0.0.0 in the veth section's far
namespace, so that the direct path reaches it across the veth).
"""

import json
import selectors
import socket
import struct
import sys

BUF = 256 * 1024


BIND = "127.0.0.1"


def listener(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET6 if ":" in BIND else socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((BIND, 0))
    if kind == socket.SOCK_STREAM:
        s.listen(4096)
    s.setblocking(False)
    return s


class Echo:
    __slots__ = ("sock", "out", "eof", "sel")

    def __init__(self, sock, sel):
        self.sock, self.sel = sock, sel
        self.out = bytearray()
        self.eof = False

    def events(self):
        ev = 0
        if not self.eof and len(self.out) < 4 * BUF:
            ev |= selectors.EVENT_READ
        if self.out:
            ev |= selectors.EVENT_WRITE
        return ev

    def close(self):
        try:
            self.sel.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()

    def handle(self, mask):
        try:
            if mask & selectors.EVENT_READ:
                d = self.sock.recv(BUF)
                if d:
                    self.out += d
                else:
                    self.eof = True
            if self.out:
                try:
                    n = self.sock.send(self.out)
                    del self.out[:n]
                except BlockingIOError:
                    pass
            if self.eof and not self.out:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.close()
                return
            ev = self.events()
            if ev:
                self.sel.modify(self.sock, ev, self)
        except (ConnectionError, OSError):
            self.close()


def main():
    sel = selectors.DefaultSelector()
    echo_l = listener()
    ctl_l = listener()
    udp = listener(socket.SOCK_DGRAM)
    try:
        udp.setsockopt(socket.SOL_SOCKET, 33, 8 * 1024 * 1024)  # SO_RCVBUFFORCE (root)
    except OSError:
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    stats = {}   # run id -> [packets, bytes, set-of-seq-or-None]
    ctl_buf = {}

    sel.register(echo_l, selectors.EVENT_READ, "echo-accept")
    sel.register(ctl_l, selectors.EVENT_READ, "ctl-accept")
    sel.register(udp, selectors.EVENT_READ, "udp")
    sys.stdout.write(json.dumps({"echo": echo_l.getsockname()[1],
                                 "control": ctl_l.getsockname()[1],
                                 "udp": udp.getsockname()[1]}) + "\n")
    sys.stdout.flush()
    unpack = struct.Struct("!II").unpack_from
    while True:
        for key, mask in sel.select():
            tag = key.data
            if tag == "udp":
                for _ in range(256):
                    try:
                        d = udp.recv(65536)
                    except BlockingIOError:
                        break
                    if len(d) < 8:
                        continue
                    run, seq = unpack(d)
                    st = stats.get(run)
                    if st is None:
                        st = stats[run] = [0, 0, set()]
                    st[0] += 1
                    st[1] += len(d)
                    st[2].add(seq)
            elif tag == "echo-accept":
                for _ in range(64):
                    try:
                        c, _ = echo_l.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    e = Echo(c, sel)
                    sel.register(c, selectors.EVENT_READ, e)
            elif tag == "ctl-accept":
                try:
                    c, _ = ctl_l.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                ctl_buf[c] = b""
                sel.register(c, selectors.EVENT_READ, "ctl")
            elif tag == "ctl":
                c = key.fileobj
                try:
                    d = c.recv(4096)
                except OSError:
                    d = b""
                if not d:
                    sel.unregister(c)
                    c.close()
                    ctl_buf.pop(c, None)
                    continue
                ctl_buf[c] += d
                while b"\n" in ctl_buf[c]:
                    line, _, rest = ctl_buf[c].partition(b"\n")
                    ctl_buf[c] = rest
                    parts = line.decode().split()
                    if len(parts) == 2 and parts[0] == "stats":
                        run = int(parts[1])
                        st = stats.pop(run, [0, 0, set()])
                        reply = {"run": run, "packets": st[0], "bytes": st[1],
                                 "distinct": len(st[2])}
                    else:
                        reply = {"error": "bad request"}
                    c.setblocking(True)
                    c.sendall((json.dumps(reply) + "\n").encode())
                    c.setblocking(False)
            else:
                tag.handle(mask)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bind":
        BIND = sys.argv[2]
    try:
        main()
    except KeyboardInterrupt:
        pass
