#!/usr/bin/env python3
"""`pt up PROFILES-FILE [NAME…]`: the desktop app's tunnels run by pt.

The profiles files here are written the way the app's PtProfileStore writes
them (docs/profiles.md): "[profile ID]" groups, secrets flagged with
secrets-in-keyring when the app keeps them in the keyring. A serving Nostr
profile holds three clients at once, each transferring checked data, and the
first is not dropped when the others arrive; manual profiles pair with
`pt server manual` and `pt client manual`; a connecting Nostr profile with
`pt server nostr`; shared-name profiles with `pt bind` and `pt tcp`; bad
files and missing secrets are usage errors that say
what to do. A serving manual profile takes one pasted offer after another
and holds three clients at once too.

Run: PT_BUILD_DIR=$PWD/_build python3 tests/integration/test_up.py [TestUp.test_…]
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from test_manual import Base, T_BLOCK, T_READY, T_USAGE, PT, main  # noqa: E402
from test_nostr import ICE, NostrBase, T_NOSTR  # noqa: E402

ICE_KEYS = "local-addresses=127.0.0.1;\nno-stun=true\n"


class UpMixin:
    def profiles_file(self, text, mode=0o600, name="profiles.ini"):
        path = os.path.join(self.tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write("# PeerTunnel tunnels, written by the desktop app\n" + text)
        os.chmod(path, mode)
        return path

    def up(self, path, *args, name="up", env=None):
        p = H.PtProc(name, [PT, "up", path, "--json", *args], env=env)
        self.procs.append(p)
        return p

    def usage(self, args, words, env=None):
        out = subprocess.run([PT, "up", *args], capture_output=True, text=True,
                             timeout=T_USAGE, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, **(env or {})))
        self.assertEqual(out.returncode, 2, "expected a usage error:\n" + out.stderr)
        for w in words:
            self.assertIn(w, out.stderr)
        return out.stderr


class TestUpManual(UpMixin, Base):

    def test_manual_client_profile(self):
        """A connecting manual profile pairs with pt server manual through stdio."""
        echo = self.tcp_service(H.echo_handler, "echo")
        path = self.profiles_file(
            "[profile 3f2a]\nname=Echo here\nrole=connect\nmode=manual\n"
            "sources=%s;\ntargets=127.0.0.1:0;\n" % echo.uri + ICE_KEYS)
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        up = self.up(path)
        self.join(up, srv)
        (addr,) = up.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 1024 * 1024)
        ev = up.wait_event("ready", self.deadline.bound(5))
        self.assertEqual(ev["tunnel"], "Echo here", "events name the tunnel")
        self.assertEqual(ev["source"], echo.uri)

    def test_manual_server_profile(self):
        """A serving manual profile answers pt client manual's offer and carries its data."""
        echo = self.tcp_service(H.echo_handler, "echo")
        path = self.profiles_file(
            "[profile 5e]\nname=Desk\nrole=serve\nmode=manual\n"
            "allowed-tcp=127.0.0.1/32;\n" + ICE_KEYS)
        up = self.up(path)
        cli = self.client(echo.uri)
        self.join(cli, up)
        (addr,) = cli.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 1024 * 1024)
        ev = up.wait_event("state", self.deadline.bound(5), state="up")
        self.assertEqual(ev["tunnel"], "Desk", "events name the tunnel")

    def test_manual_server_profile_many_clients(self):
        """A serving manual profile takes one pasted offer after another: three
        clients at once, each carrying checked data, the first not dropped when
        the others arrive; the same offer pasted again is refused, and the
        profile goes on serving."""
        echo = self.tcp_service(H.echo_handler, "echo")
        path = self.profiles_file(
            "[profile 5f]\nname=Desk\nrole=serve\nmode=manual\n"
            "allowed-tcp=127.0.0.1/32;\n" + ICE_KEYS)
        up = self.up(path)
        clients = []
        for i in range(3):
            cli = self.client(echo.uri, name="client%d" % i)
            offer = cli.read_block("OFFER", self.deadline.bound(T_BLOCK))
            up.write(offer)
            cli.write(up.read_block("ANSWER", self.deadline.bound(T_BLOCK)))
            (addr,) = cli.wait_ready(self.deadline.bound(T_READY))
            self.assert_echo(addr, 256 * 1024)
            clients.append((cli, addr, offer))
        # Everyone is still up: the first has not been dropped.
        for cli, addr, _ in clients:
            self.assertTrue(cli.alive(), "a client was dropped when another arrived")
            self.assert_echo(addr, 256 * 1024)
        self.assertEqual(up.events_named("closed"), [], "no session was dropped")

        up.write(clients[0][2])
        up.wait_err(lambda line, ev: "already answered" in line, self.deadline.bound(T_BLOCK),
                    "the replayed offer's refusal")
        self.assertTrue(up.alive(), "pt up stopped after a replayed offer")
        self.assert_echo(clients[1][1], 64 * 1024)

    def test_usage_errors(self):
        path = self.profiles_file(
            "[profile a1]\nname=One\nrole=connect\nmode=manual\n"
            "sources=tcp://127.0.0.1:22;\ntargets=127.0.0.1:0;\n" + ICE_KEYS +
            "[profile b2]\nname=Two\nrole=connect\nmode=manual\n"
            "sources=tcp://127.0.0.1:22;\ntargets=127.0.0.1:0;\n" + ICE_KEYS +
            "[profile c3]\nname=Keyed\nrole=connect\nmode=nostr\n"
            "peers=npub1ugc3hrh5vxnx3qmaw3tvw8y2hlwdnvlxsf2xcfjm2q3yvqkqrx7qkxm8sw;\n"
            "sources=tcp://127.0.0.1:22;\ntargets=127.0.0.1:0;\n" + ICE_KEYS +
            "[profile d4]\nname=Locked\nrole=connect\nmode=manual\nsecrets-in-keyring=true\n"
            "sources=tcp://127.0.0.1:22;\ntargets=127.0.0.1:0;\n" + ICE_KEYS)
        self.usage([], ["profiles file"])
        self.usage([path, "Three"], ["no tunnel named", "Three", "“One”", "“Two”"])
        self.usage([path, "One", "Two"], ["both manual", "one at a time"])
        self.usage([path, "Keyed"], ["needs this computer's key", "--nsec-file"],
                   env={"XDG_CONFIG_HOME": self.tmp})
        err = self.usage([path, "Locked", "--secrets-file", os.devnull + "-missing"],
                         ["secrets file"])
        self.assertNotIn("Traceback", err)
        err = self.usage([path, "Locked"], ["keyring", "[profile d4]", "--secrets-file"],
                         env={"XDG_CONFIG_HOME": self.tmp})
        # A group or world-readable profiles file may hold secrets: refused.
        loose = self.profiles_file("[profile e5]\nname=Loose\nmode=manual\n", mode=0o644)
        self.usage([loose], ["chmod 600"])
        bad = self.profiles_file("[profile f6]\nname=Bad\nrole=sideways\n")
        self.usage([bad], ["unknown role"])
        invalid = self.profiles_file(
            "[profile g7]\nname=Port\nrole=connect\nmode=manual\n"
            "sources=tcp://127.0.0.1:99999;\ntargets=127.0.0.1:0;\n" + ICE_KEYS)
        self.usage([invalid], ["“Port”"])

    def test_secrets_from_the_apps_file(self):
        """secrets-in-keyring with the app's fallback secrets file: found there."""
        echo = self.tcp_service(H.echo_handler, "echo")
        path = self.profiles_file(
            "[profile 77]\nname=Held\nrole=connect\nmode=manual\nsecrets-in-keyring=true\n"
            "sources=%s;\ntargets=127.0.0.1:0;\n" % echo.uri + ICE_KEYS)
        conf = os.path.join(self.tmp, "conf", "peertunnel")
        os.makedirs(conf, mode=0o700)
        fd = os.open(os.path.join(conf, "secrets"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            # One profile's secrets are a key file of their own, kept as one value.
            f.write("[secrets]\nprofile/77/secrets=[secrets]\\ntoken=not-used-by-manual\\n\n")
        srv = self.server("--allowed-tcp", "127.0.0.1/32")
        up = self.up(path, env={"XDG_CONFIG_HOME": os.path.join(self.tmp, "conf")})
        self.join(up, srv)
        (addr,) = up.wait_ready(self.deadline.bound(T_READY))
        self.assert_echo(addr, 64 * 1024)
        self.assertNotIn("not-used-by-manual", up.stderr_text(), "a secret was printed")


class TestUpNostr(UpMixin, NostrBase):
    test_seconds = 240

    def test_serving_profile_three_clients(self):
        """A serving profile keeps every client: three at once, checked data,
        the first still carrying after the others arrived."""
        relay = self.relay()
        skey, snpub = self.keygen("server")
        keys = [self.keygen("client%d" % i) for i in range(3)]
        echo = self.tcp_service(H.echo_handler, "echo")
        path = self.profiles_file(
            "[profile 5e]\nname=Office\nrole=serve\nmode=nostr\nrelays=%s;\npeers=%s;\n"
            "allowed-tcp=127.0.0.1/32;\n" % (relay, ";".join(n for _, n in keys)) + ICE_KEYS)
        up = self.up(path, "--nsec-file", skey)
        up.wait_event("listening", self.deadline.bound(T_NOSTR), npub=snpub, tunnel="Office")
        up.wait_event("relay", self.deadline.bound(T_NOSTR), url=relay + "/", state="connected",
                      tunnel="Office")

        c1 = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", keys[0][0], name="c1")
        (a1,) = c1.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(a1, 256 * 1024)
        others = []
        for i in (1, 2):
            c = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", keys[i][0],
                                  name="c%d" % (i + 1))
            others.append(c.wait_ready(self.deadline.bound(T_NOSTR))[0])
        # All three at once, each with its own checked stream.
        workers = [H.Worker(self.assert_echo, a, 1024 * 1024, name="echo-%d" % i)
                   for i, a in enumerate([a1] + others)]
        for w in workers:
            w.start()
        for w in workers:
            w.join_ok(self.deadline.bound(90))
        peers = {ev["peer"] for ev in up.events_named("request")}
        self.assertEqual(peers, {n for _, n in keys}, "one session per client")
        self.assertEqual(up.events_named("closed"), [], "no session was dropped")
        self.assertTrue(c1.alive(), "the first client must stay up")

        # A key the profile does not list is refused, named, and the others stay.
        skey_x, snpub_x = self.keygen("stranger")
        stranger = self.nostr_client([relay], snpub, echo.uri, "--nsec-file", skey_x,
                                     name="stranger")
        self.assert_refused(stranger, ["does not allow this client's key"])
        ev = up.wait_event("refused", self.deadline.bound(10), peer=snpub_x)
        self.assertEqual(ev["tunnel"], "Office")
        self.assert_echo(a1, 64 * 1024)

    def test_connecting_nostr_profile(self):
        """A connecting Nostr profile against pt server nostr."""
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        srv, snpub, ckey, cnpub = self.listed_server(relay)
        path = self.profiles_file(
            "[profile 9c]\nname=Home\nrole=connect\nmode=nostr\nrelays=%s;\npeers=%s;\n"
            "sources=%s;\ntargets=127.0.0.1:0;\n" % (relay, snpub, echo.uri) + ICE_KEYS)
        up = self.up(path, env={"PT_NSEC": open(ckey).read().strip()})
        (addr,) = up.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 1024 * 1024)
        ev = srv.wait_event("request", self.deadline.bound(5))
        self.assertEqual(ev["peer"], cnpub)
        up.wait_event("relay", self.deadline.bound(5), url=relay + "/", state="connected", tunnel="Home")

    def test_shared_name_profiles(self):
        """Shared name: a serving profile reached by pt bind, a connecting one
        reaching pt tcp; each carries checked data."""
        relay = self.relay()
        echo = self.tcp_service(H.echo_handler, "echo")
        serve_name = "correct horse battery staple tulip serve %d" % os.getpid()
        path = self.profiles_file(
            "[profile 4d]\nname=Shared desk\nrole=serve\nmode=name\nrelays=%s;\n"
            "expose=%s\nshared-name=%s\n" % (relay, echo.uri, serve_name) + ICE_KEYS)
        up = self.up(path, name="up-serve")
        up.wait_event("relay", self.deadline.bound(T_NOSTR), state="connected", tunnel="Shared desk")
        bind = H.PtProc("pt-bind", [PT, "bind", *ICE, "--port", "0", "--id-file",
                                    self.secret_file("serve-name", serve_name + "\n"),
                                    "--relay", relay])
        self.procs.append(bind)
        (addr,) = bind.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 512 * 1024)
        up.wait_event("request", self.deadline.bound(5), tunnel="Shared desk")

        connect_name = "correct horse battery staple tulip connect %d" % os.getpid()
        expose = H.PtProc("pt-tcp", [PT, "tcp", *ICE, "--port", str(echo.addr[1]), "--id-file",
                                     self.secret_file("connect-name", connect_name + "\n"),
                                     "--relay", relay])
        self.procs.append(expose)
        self.wait_listening(expose)
        path = self.profiles_file(
            "[profile 4e]\nname=By name\nrole=connect\nmode=name\nrelays=%s;\n"
            "sources=tcp://127.0.0.1:1;\ntargets=127.0.0.1:0;\nshared-name=%s\n"
            % (relay, connect_name) + ICE_KEYS, name="connect.ini")
        up2 = self.up(path, name="up-connect")
        (addr,) = up2.wait_ready(self.deadline.bound(T_NOSTR))
        self.assert_echo(addr, 512 * 1024)
        self.assertNotIn(connect_name, up2.stderr_text(), "the shared name was printed")
        self.assertNotIn(serve_name, up.stderr_text(), "the shared name was printed")


if __name__ == "__main__":
    sys.exit(main(sys.argv, sys.modules[__name__]))
