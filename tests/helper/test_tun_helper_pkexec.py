#!/usr/bin/env python3
"""The TUN helper started the way the app starts it: pkexec, polkit, a system bus.

    test_tun_helper_pkexec.py HELPER POLICY-TEMPLATE

As root, the test moves into fresh mount and network namespaces (nothing it does is
seen outside) and there:

  * mounts a tmpfs on /run and starts a private system bus on
    /run/dbus/system_bus_socket (pkexec is setuid, so it ignores
    DBUS_SYSTEM_BUS_ADDRESS: the bus must be at the standard path);
  * bind-mounts a directory holding only our action (the policy template with
    exec.path = a copy of HELPER) over /usr/share/polkit-1/actions, and one holding
    a rule that grants that action to the user "nobody" over the rules.d directories;
  * starts polkitd on that bus;
  * as "nobody", runs `pkexec HELPER` with one end of a socketpair as stdin, and
    checks that the fd comes back and carries a packet routed into the device; so
    polkit mapped the helper's path to io.github.peertunnel.PeerTunnel.create-tun;
  * as "daemon" (no rule: auth_admin_keep, and no authentication agent), checks that
    pkexec refuses and no device appears.

Prints "SKIP: reason" and exits 77 when the machine cannot do this (not root, no
pkexec/polkitd/dbus-daemon, no namespaces); never passes without having run.
"""
import ctypes
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_tun_helper as direct  # noqa: E402  (request/packet helpers)

ACTION = "io.github.peertunnel.PeerTunnel.create-tun"
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
POLKITD_CANDIDATES = ["/usr/lib/polkit-1/polkitd", "/usr/libexec/polkitd",
                      "/usr/libexec/polkit-1/polkitd"]
TIMEOUT = 20

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

RULE = """polkit.addRule(function (action, subject) {
  if (action.id == "%s" && subject.user == "nobody")
    return polkit.Result.YES;
});
""" % ACTION

procs = []


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


def run(*args, check=True, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def preconditions():
    if os.geteuid() != 0:
        skip("needs root (private mount/network namespaces, a system bus and polkitd)")
    pkexec = shutil.which("pkexec")
    if pkexec is None:
        skip("pkexec not found (Debian package pkexec)")
    if not os.stat(pkexec).st_mode & 0o4000:
        skip(f"{pkexec} is not setuid root")
    polkitd = next((p for p in POLKITD_CANDIDATES if os.access(p, os.X_OK)), None)
    if polkitd is None:
        skip("polkitd not found (Debian package polkitd)")
    for tool in ("dbus-daemon", "dbus-send", "setpriv", "mount"):
        if shutil.which(tool) is None:
            skip(f"{tool} not found")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun does not exist")
    for user in ("nobody", "daemon"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            skip(f"no user {user!r} to run pkexec as")
    return pkexec, polkitd


def enter_namespaces():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
        skip(f"unshare(CLONE_NEWNS | CLONE_NEWNET) failed: {os.strerror(ctypes.get_errno())}")
    # Nothing mounted from here on propagates back to the machine.
    run("mount", "--make-rprivate", "/")
    run("ip", "link", "set", "lo", "up")


def bind(src, dst):
    run("mount", "--bind", src, dst)


def stage(tmp, helper, template):
    """The helper copy, our action, our rule and the bus configuration."""
    os.chmod(tmp, 0o755)
    bindir = os.path.join(tmp, "libexec")
    os.mkdir(bindir, 0o755)
    helper_copy = os.path.join(bindir, "peertunnel-tun-helper")
    shutil.copy(helper, helper_copy)
    os.chmod(helper_copy, 0o755)

    actions = os.path.join(tmp, "actions")
    os.mkdir(actions, 0o755)
    with open(template) as f:
        policy = f.read().replace("@TUN_HELPER_PATH@", helper_copy)
    with open(os.path.join(actions, "io.github.peertunnel.PeerTunnel.policy"), "w") as f:
        f.write(policy)

    rules = os.path.join(tmp, "rules.d")
    os.mkdir(rules, 0o755)
    with open(os.path.join(rules, "50-peertunnel-test.rules"), "w") as f:
        f.write(RULE)

    bus_conf = os.path.join(tmp, "system-bus.conf")
    with open(bus_conf, "w") as f:
        f.write(BUS_CONFIG)
    return helper_copy, actions, rules, bus_conf


def wait_for(what, check, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def start_bus_and_polkitd(polkitd, actions, rules, bus_conf, log):
    run("mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", "/run")
    os.mkdir("/run/dbus", 0o755)
    bind(actions, "/usr/share/polkit-1/actions")
    for d in ("/etc/polkit-1/rules.d", "/usr/share/polkit-1/rules.d"):
        if os.path.isdir(d):
            bind(rules, d)

    bus = subprocess.Popen(["dbus-daemon", f"--config-file={bus_conf}", "--nofork",
                            "--nopidfile"], stdout=log, stderr=log)
    procs.append(bus)
    wait_for("the system bus socket", lambda: os.path.exists("/run/dbus/system_bus_socket"))

    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/run/dbus/system_bus_socket")
    pk = subprocess.Popen([polkitd, "--no-debug"], stdout=log, stderr=log, env=env)
    procs.append(pk)

    def has_owner():
        r = run("dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.PolicyKit1", check=False, env=env)
        if pk.poll() is not None:
            raise RuntimeError(f"polkitd exited with {pk.returncode}")
        return "boolean true" in r.stdout
    wait_for("polkitd on the bus", has_owner)


def pkexec_helper(pkexec, helper_copy, user, request):
    """Runs `pkexec HELPER` as @user with a socketpair as stdin. Returns (exit code,
    reply or None, fd or None, stderr)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours:
        proc = subprocess.Popen(
            ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}",
             "--clear-groups", "--", pkexec, helper_copy],
            stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, close_fds=True,
            cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
        theirs.close()
        try:
            ours.send(request)
            ours.settimeout(TIMEOUT)
            try:
                msg, fds, _, _ = socket.recv_fds(ours, 8192, 4)
            except (ConnectionResetError, socket.timeout):
                msg, fds = b"", []
            _, err = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    reply = direct.parse_reply(msg) if msg else None
    return proc.returncode, reply, (fds[0] if fds else None), err.decode(errors="replace")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    helper, template = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pkexec, polkitd = preconditions()
    enter_namespaces()

    tmp = tempfile.mkdtemp(prefix="pt-pkexec-")
    log_path = os.path.join(tmp, "daemons.log")
    failed = False
    try:
        helper_copy, actions, rules, bus_conf = stage(tmp, helper, template)
        with open(log_path, "w") as log:
            try:
                start_bus_and_polkitd(polkitd, actions, rules, bus_conf, log)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                log.flush()
                skip(f"could not start a private system bus and polkitd: {e}; "
                     f"log: {open(log_path).read().strip()[-400:]}")

        # Granted: nobody, by the rule, for our action only.
        request = direct.request_text("pt5", 1400, "address=10.55.0.2/24", "address=fd55::2/64",
                                      "route=10.56.0.0/16")
        rc, reply, fd, err = pkexec_helper(pkexec, helper_copy, "nobody", request)
        if fd is None:
            if "authentication agent" in err.lower() or "not authorized" in err.lower():
                print(f"FAIL: polkit did not grant {ACTION} to nobody: is exec.path "
                      f"mapped to the action? pkexec: {err.strip()}")
            else:
                print(f"FAIL: no fd through pkexec (exit {rc}, reply {reply}): {err.strip()}")
            failed = True
        else:
            try:
                assert rc == 0, (rc, err)
                assert reply["status"] == "ok" and reply["ifname"] == "pt5", reply
                assert direct.tun_name(fd)[0] == "pt5"
                payload = b"through pkexec"
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.sendto(payload, ("10.56.0.1", 4242))
                direct.read_packet(fd, direct.udp4_matcher("10.55.0.2", "10.56.0.1", 4242,
                                                           payload))
                print("ok: pkexec as nobody: polkit granted", ACTION,
                      "and the fd carried a routed packet")
            finally:
                os.close(fd)

        # Not granted: daemon has no rule; auth_admin_keep needs an agent, there is none.
        request = direct.request_text("pt6", 1400, "address=10.66.0.2/24")
        rc, reply, fd, err = pkexec_helper(pkexec, helper_copy, "daemon", request)
        if fd is not None:
            os.close(fd)
            print("FAIL: pkexec ran the helper for daemon without authentication")
            failed = True
        elif rc == 0 or reply is not None or direct.link_exists("pt6"):
            print(f"FAIL: pkexec as daemon: exit {rc}, reply {reply}: {err.strip()}")
            failed = True
        else:
            print(f"ok: pkexec as daemon refused (exit {rc}): {err.strip()}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if failed and os.path.exists(log_path):
            print("daemon log:\n" + open(log_path).read()[-2000:])
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
