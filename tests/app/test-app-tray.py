#!/usr/bin/python3
# test-app-tray.py PEERTUNNEL — the tray item against a StatusNotifierWatcher
# stand-in on the private session bus of gtk-test-runner.
#
# The stand-in owns org.kde.StatusNotifierWatcher and says a host is there;
# the app must register its item, export a menu listing the tunnels with
# "Show Window" and "Quit", start a tunnel when its entry is clicked, and
# quit from the menu. TAP output; skips without /usr/bin/python3's gi.
#
# SPDX-License-Identifier: GPL-3.0-or-later

import os
import subprocess
import sys
import time

# G_DEBUG=fatal-warnings is for the app, not for this driver's own GLib
# (the AT-SPI client library warns while the app's tree is still building).
APP_G_DEBUG = os.environ.pop("G_DEBUG", None)

try:
    import gi
    gi.require_version("Gio", "2.0")
    from gi.repository import Gio, GLib
except (ImportError, ValueError) as e:
    print("1..0 # SKIP no gi bindings for /usr/bin/python3 (%s)" % e)
    sys.exit(0)

WATCHER_XML = """
<node>
 <interface name='org.kde.StatusNotifierWatcher'>
  <method name='RegisterStatusNotifierItem'><arg type='s' direction='in'/></method>
  <method name='RegisterStatusNotifierHost'><arg type='s' direction='in'/></method>
  <property name='RegisteredStatusNotifierItems' type='as' access='read'/>
  <property name='IsStatusNotifierHostRegistered' type='b' access='read'/>
  <property name='ProtocolVersion' type='i' access='read'/>
  <signal name='StatusNotifierItemRegistered'><arg type='s'/></signal>
 </interface>
</node>
"""

app_path = sys.argv[1]
bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
registered = []


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        service = params.unpack()[0]
        # An item may pass its unique name or a well-known name; both reach it.
        registered.append(service if service.startswith((":", "org.")) else sender)
    invocation.return_value(None)


def on_get(conn, sender, path, iface, prop):
    if prop == "RegisteredStatusNotifierItems":
        return GLib.Variant("as", registered)
    if prop == "IsStatusNotifierHostRegistered":
        return GLib.Variant("b", True)
    if prop == "ProtocolVersion":
        return GLib.Variant("i", 0)
    return None


node = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML)
bus.register_object("/StatusNotifierWatcher", node.interfaces[0], on_call, on_get, None)
Gio.bus_own_name_on_connection(bus, "org.kde.StatusNotifierWatcher",
                               Gio.BusNameOwnerFlags.NONE, None, None)

# One tunnel to list: a serve profile that needs nothing to start.
config = os.path.join(os.environ["XDG_CONFIG_HOME"], "peertunnel")
os.makedirs(config, exist_ok=True)
with open(os.path.join(config, "profiles.ini"), "w") as f:
    f.write("[profile 1111-tray-test]\nname=Tray test\nrole=serve\n"
            "allowed-tcp=127.0.0.1/32;\nlocal-addresses=127.0.0.1;\nno-stun=true\n")

app_env = dict(os.environ)
if APP_G_DEBUG:
    app_env["G_DEBUG"] = APP_G_DEBUG
app = subprocess.Popen([app_path], env=app_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
ctx = GLib.MainContext.default()


def finish(code):
    if app.poll() is None:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
    sys.exit(code)


def spin_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        while ctx.pending():
            ctx.iteration(False)
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    return pred()


def call(path, iface, method, args, reply):
    return bus.call_sync(registered[0], path, iface, method, args, GLib.VariantType(reply),
                         Gio.DBusCallFlags.NONE, 5000, None).unpack()


def menu_items():
    revision, layout = call("/MenuBar", "com.canonical.dbusmenu", "GetLayout",
                            GLib.Variant("(iias)", (0, -1, [])), "(u(ia{sv}av))")
    return [(child[0], child[1]) for child in layout[2]]


print("1..4")
if not spin_until(lambda: registered, 20):
    print("not ok 1 the item registers with the watcher")
    print("# " + (app.stderr.read().decode(errors="replace") if app.poll() is not None else "app still running"))
    finish(1)
print("ok 1 the item registers with the watcher (%s)" % registered[0])

props = bus.call_sync(registered[0], "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "GetAll",
                      GLib.Variant("(s)", ("org.kde.StatusNotifierItem",)), GLib.VariantType("(a{sv})"),
                      Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
if props.get("Menu") != "/MenuBar" or not props.get("IconName") or props.get("Status") != "Passive":
    print("not ok 2 the item names its icon and menu # %r" % props)
    finish(1)
print("ok 2 the item names its icon (%s) and menu, passive with nothing running" % props["IconName"])

items = spin_until(lambda: [i for i in menu_items() if i[1].get("label") == "Tray test"] and menu_items(), 10)
labels = [i[1].get("label") for i in items or []]
if "Tray test" not in labels or "Show Window" not in labels or "Quit" not in labels:
    print("not ok 3 the menu lists the tunnels, Show Window and Quit # %r" % labels)
    finish(1)
tunnel = [i for i in items if i[1].get("label") == "Tray test"][0]
if tunnel[1].get("toggle-type") != "checkmark" or tunnel[1].get("toggle-state") != 0:
    print("not ok 3 the menu lists the tunnels, Show Window and Quit # toggle %r" % tunnel[1])
    finish(1)
print("ok 3 the menu lists the tunnels (as toggles), Show Window and Quit")

call("/MenuBar", "com.canonical.dbusmenu", "Event",
     GLib.Variant("(isvu)", (tunnel[0], "clicked", GLib.Variant("i", 0), 0)), "()")


def toggled():
    for ident, p in menu_items():
        if ident == tunnel[0] and p.get("toggle-state") == 1:
            return True
    return False


if not spin_until(toggled, 10):
    print("not ok 4 clicking the tunnel starts it, Quit quits # not started")
    finish(1)
status = bus.call_sync(registered[0], "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "Get",
                       GLib.Variant("(ss)", ("org.kde.StatusNotifierItem", "Status")),
                       GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
quit_id = [i[0] for i in items if i[1].get("label") == "Quit"][0]
call("/MenuBar", "com.canonical.dbusmenu", "Event",
     GLib.Variant("(isvu)", (quit_id, "clicked", GLib.Variant("i", 0), 0)), "()")
try:
    app.wait(15)
except subprocess.TimeoutExpired:
    print("not ok 4 clicking the tunnel starts it, Quit quits # still running after Quit")
    finish(1)
if status != "Active" or app.returncode != 0:
    print("not ok 4 clicking the tunnel starts it, Quit quits # status %s, exit %s" % (status, app.returncode))
    finish(1)
print("ok 4 clicking the tunnel starts it (item Active), Quit quits")
finish(0)
