#!/usr/bin/env python3
"""Allow-lists with ports, and what a refusal tells the client (issue 12, items 9 and 10).

Real `pt` processes on loopback, as in test_manual.py:

  * `--allowed-tcp 127.0.0.1:PORT` grants that port and no other port of the
    same address: a client asking for another port is refused, the service
    there sees no connection, and the refusal it is shown names its forward
    and says why without telling the server's allow-list; a second client
    asking for the allowed port is served, bytes intact;
  * a name the client picks resolves, on the server, to an address outside
    the list: the client is not told what the server's resolver answered;
  * entries with a bad port are usage errors that name the entry and the fault.

    python3 tests/integration/test_allow_list.py [TestAllowList.test_port_outside_entry]
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
import test_manual  # noqa: E402
from test_manual import Base, PT  # noqa: E402


class TestAllowList(Base):

    def refusal(self, cli, srv, source):
        """The client's error for a refused @source, after checking the
        things every refusal does (exit 1, no ready, server alive)."""
        rc = self.expect_exit(cli, 30)
        self.assertEqual(rc, 1, "refused forward: client exit status %r, expected 1" % rc)
        self.assertFalse(cli.has_ready(), "client said ready for a refused forward")
        errors = [ev.get("message", "") for ev in cli.events_named("error")]
        self.assertTrue(errors, "the client printed no error event:\n" + cli.stderr_text())
        message = " ".join(errors)
        self.assertIn(source, message, "the client's error does not name the refused forward")
        ev = srv.wait_event("rejected", self.deadline.bound(15))
        self.assertEqual(ev.get("forward"), source)
        self.assertTrue(srv.alive(), "server exited after refusing a forward")
        return message, ev.get("reason", "")

    def test_port_outside_entry(self):
        echo = self.tcp_service(H.echo_handler, "echo")
        other = self.tcp_service(H.echo_handler, "other-port")
        entry = "127.0.0.1:%d" % echo.port
        srv = self.server("--allowed-tcp", entry)

        cli = self.client(other.uri, name="client-other-port")
        self.join(cli, srv)
        message, reason = self.refusal(cli, srv, other.uri)
        self.assertIn("not allowed by the server", message)
        # The allow-list stays on the server.
        for text in (message, reason):
            self.assertNotIn(entry, text, "the refusal tells the allow-list: %r" % text)
            self.assertNotIn("127.0.0.1/32", text, "the refusal tells the allow-list: %r" % text)
            self.assertNotIn(":%d" % echo.port, text, "the refusal tells the allowed port: %r" % text)
        self.assertEqual(other.accepted, 0, "the server connected to a port it should refuse")

        # A well-behaved client, the allowed port: served.
        cli2, (addr,) = self.pair(srv, echo.uri, name="client-allowed")
        self.assert_echo(addr, 512 * 1024)

    def test_name_outside_list(self):
        """The client names a host; the server's resolver turns it into
        127.0.0.1, which the list does not allow: the client hears "not
        allowed", never the address."""
        echo = self.tcp_service(H.echo_handler, "echo")
        srv = self.server("--allowed-tcp", "192.0.2.1:%d" % echo.port)
        source = "tcp://localhost:%d" % echo.port
        cli = self.client(source, name="client-name")
        self.join(cli, srv)
        message, reason = self.refusal(cli, srv, source)
        self.assertIn("not allowed by the server", message)
        for text in (message, reason):
            self.assertNotIn("127.0.0.1", text, "the refusal echoes the resolver: %r" % text)
            self.assertNotRegex(text, r"::1\b", "the refusal echoes the resolver: %r" % text)
            self.assertNotIn("192.0.2.1", text, "the refusal tells the allow-list: %r" % text)
        self.assertEqual(echo.accepted, 0)

    def _usage(self, entry, pattern):
        p = H.PtProc("usage", [PT, "server", "manual", "--allowed-tcp", entry])
        self.procs.append(p)
        rc = p.wait_exit(self.deadline.bound(10))
        text = p.stderr_text()
        self.assertEqual(rc, 2, "--allowed-tcp %s: exit status %r, expected 2" % (entry, rc))
        self.assertIn(entry, text, "the error does not name the entry")
        self.assertRegex(text, re.compile(pattern, re.I),
                         "--allowed-tcp %s: message does not match %r" % (entry, pattern))

    def test_bad_ports(self):
        self._usage("127.0.0.1:0", r"port 0")
        self._usage("127.0.0.1:65536", r"65535")
        self._usage("10.0.0.0/8:8099-8000", r"backwards.*8000-8099")
        self._usage("127.0.0.1:ssh", r"invalid port")
        self._usage("::1/128:22", r"brackets")


def main(argv):
    return test_manual.main(argv, sys.modules[__name__])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
