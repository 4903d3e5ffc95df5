#!/usr/bin/env python3
"""The polkit policy: valid against polkit's DTD, and pointing at the helper.

    check_policy.py POLICY HELPER-INSTALLED-PATH

xmllint --dtdvalid /usr/share/polkit-1/policyconfig-1.dtd (packages libxml2-utils and
polkitd); SKIP (exit 77) with the reason when either is missing. The action id, the
auth_admin_keep defaults and the exec.path annotation are checked in any case.
"""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

DTD = "/usr/share/polkit-1/policyconfig-1.dtd"
ACTION = "io.github.peertunnel.PeerTunnel.create-tun"


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    policy, helper_path = sys.argv[1:]

    root = ET.parse(policy).getroot()
    actions = {a.get("id"): a for a in root.findall("action")}
    if list(actions) != [ACTION]:
        print("FAIL: expected exactly the action", ACTION, "got", list(actions))
        return 1
    action = actions[ACTION]
    for kind in ("allow_any", "allow_inactive", "allow_active"):
        value = action.findtext("defaults/" + kind)
        if value != "auth_admin_keep":
            print(f"FAIL: {kind} is {value!r}, expected auth_admin_keep")
            return 1
    exec_path = [a.text for a in action.findall("annotate")
                 if a.get("key") == "org.freedesktop.policykit.exec.path"]
    if exec_path != [helper_path]:
        print(f"FAIL: exec.path is {exec_path}, expected [{helper_path!r}]")
        return 1
    if not os.path.isabs(helper_path):
        print("FAIL: exec.path must be absolute:", helper_path)
        return 1
    print("ok: action", ACTION, "exec.path", helper_path)

    xmllint = shutil.which("xmllint")
    if xmllint is None:
        print("SKIP: xmllint not found (Debian package libxml2-utils): DTD not checked")
        return 77
    if not os.path.exists(DTD):
        print(f"SKIP: {DTD} not found (Debian package polkitd): DTD not checked")
        return 77
    r = subprocess.run([xmllint, "--noout", "--nonet", "--dtdvalid", DTD, policy],
                       capture_output=True, text=True, timeout=20)
    sys.stdout.write(r.stdout + r.stderr)
    if r.returncode != 0:
        print("FAIL: xmllint --dtdvalid", DTD, "exit", r.returncode)
        return 1
    print("ok: valid against", DTD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
