#!/usr/bin/python3
# test-app-atspi.py PEERTUNNEL — accessibility smoke test over AT-SPI.
#
# Starts the real app (through gtk-test-runner: Xvfb + a private session bus,
# with GTK's AT-SPI backend on), finds "New Tunnel" by its accessible name and
# role, activates it through the accessibility API, and checks that the
# editor opens with labelled controls. TAP output; skips, saying why, without
# the gi bindings for Atspi (Debian: gir1.2-atspi-2.0, python3-gi).
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import subprocess
import sys
import time

# G_DEBUG=fatal-warnings is for the app, not for this driver's own GLib
# (the AT-SPI client library warns while the app's tree is still building).
APP_G_DEBUG = os.environ.pop("G_DEBUG", None)


def skip(reason):
    print("1..0 # SKIP " + reason)
    print("SKIP: " + reason, file=sys.stderr)
    sys.exit(0)


try:
    import gi
    gi.require_version("Atspi", "2.0")
    from gi.repository import Atspi
except (ImportError, ValueError) as e:
    skip("no Atspi bindings for /usr/bin/python3 (%s)" % e)

app_path = sys.argv[1]
env = dict(os.environ)
if APP_G_DEBUG:
    env["G_DEBUG"] = APP_G_DEBUG
env["GTK_A11Y"] = "atspi"
env.pop("NO_AT_BRIDGE", None)

app = subprocess.Popen([app_path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(code):
    if app.poll() is None:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
    sys.exit(code)


def walk(node, depth=0):
    if node is None or depth > 40:
        return
    yield node
    try:
        count = node.get_child_count()
    except Exception:
        return
    for i in range(count):
        try:
            child = node.get_child_at_index(i)
        except Exception:
            continue
        yield from walk(child, depth + 1)


def find_app():
    desktop = Atspi.get_desktop(0)
    for i in range(desktop.get_child_count()):
        a = desktop.get_child_at_index(i)
        try:
            if a is not None and a.get_process_id() == app.pid:
                return a
        except Exception:
            pass
    return None


def wait_for(what, pred, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if app.poll() is not None:
            print("not ok - the app exited (%s)" % app.returncode)
            print("# " + app.stderr.read().decode(errors="replace").replace("\n", "\n# "))
            finish(1)
        found = pred()
        if found is not None:
            return found
        time.sleep(0.2)
    print("# timed out waiting for " + what)
    return None


print("1..3")
root = wait_for("the app on the accessibility bus", find_app)
if root is None:
    print("not ok 1 the app is on the accessibility bus")
    finish(1)
print("ok 1 the app is on the accessibility bus (%s)" % root.get_name())


def new_tunnel_button():
    for node in walk(root):
        try:
            if node.get_role() == Atspi.Role.PUSH_BUTTON and node.get_name() == "New Tunnel":
                return node
        except Exception:
            pass
    return None


button = wait_for("a push button named “New Tunnel”", new_tunnel_button)
if button is None:
    print("not ok 2 “New Tunnel” is a labelled push button")
    finish(1)
print("ok 2 “New Tunnel” is a labelled push button")

action = button.get_action_iface()
if action is None or action.get_n_actions() < 1:
    print("not ok 3 activating “New Tunnel” opens the editor # no action interface")
    finish(1)
action.do_action(0)


def editor():
    for i in range(root.get_child_count()):
        w = root.get_child_at_index(i)
        try:
            if w is not None and w.get_name() == "New Tunnel" and w.get_role() in (
                    Atspi.Role.FRAME, Atspi.Role.WINDOW, Atspi.Role.DIALOG):
                return w
        except Exception:
            pass
    return None


win = wait_for("the “New Tunnel” editor window", editor)
if win is None:
    print("not ok 3 activating “New Tunnel” opens the editor")
    finish(1)
names = set()
for node in walk(win):
    try:
        names.add(node.get_name())
    except Exception:
        pass
missing = [n for n in ("Name", "Add a forward", "Service on the other computer (host:port)")
           if n not in names]
if missing:
    print("not ok 3 activating “New Tunnel” opens the editor # unlabelled: %s" % ", ".join(missing))
    finish(1)
print("ok 3 activating “New Tunnel” opens the editor, its controls labelled")
finish(0)
