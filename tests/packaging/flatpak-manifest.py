#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
#
# tests/packaging/flatpak-manifest.py — read flatpak/*.json for check-flatpak.
#
# Everything check-flatpak needs to know about a manifest comes from here, so
# the checks and the module builds read the manifest itself and cannot drift
# from it. Standard library only. Subcommands (MANIFEST is a path):
#
#   pins MANIFEST              every archive/file source has a sha256, every git
#                              source a 40-hex commit; prints one line per problem
#   finish-args MANIFEST       finish-args are exactly the allowed ones; problems
#   same-deps A B              the dependency modules of A and B are identical
#   app-id MANIFEST ROOT       the id the project's meson build gives this manifest's
#                              peertunnel module (meson.build + -Ddevelopment=…)
#   field MANIFEST KEY         a top-level string field (id, command, runtime …)
#   modules MANIFEST           the module names, in build order
#   version MANIFEST MODULE    the upstream version the module's first source pins
#   archives MANIFEST MODULE…  "sha256 file-name url main|extra" for each archive/
#                              file source (file name as flatpak-builder stores it)
#   submanifest MANIFEST OUT MODULE…
#                              write a copy holding only those modules
#   config-opts MANIFEST MODULE  one config-opt per line
#   key MANIFEST MODULE        a digest of the module's JSON (for build caching)
#   build MANIFEST MODULE SRCDIR PREFIX EXTRA-SOURCES
#                              build MODULE the way flatpak-builder would, with the
#                              unpacked upstream source in SRCDIR standing in for
#                              its first source, into PREFIX (as /app); later
#                              archive sources come from EXTRA-SOURCES/downloads/
#                              <sha256>/<file> and are checked against their sha256
#
# Exit status: 0 fine, 1 problems found or a build failed, 2 usage errors.

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

ALLOWED_FINISH_ARGS = [
    "--share=network",
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
    "--talk-name=org.kde.StatusNotifierWatcher",
]

# Why an argument is refused, for the ones people reach for; anything else
# outside ALLOWED_FINISH_ARGS is refused as "not needed by the app".
FORBIDDEN_FINISH_ARGS = [
    (r"^--talk-name=org\.freedesktop\.Flatpak", "a sandbox escape (runs commands on the host)"),
    (r"^--filesystem=(host|host-os|host-etc|home|/|~)", "exposes the user's files"),
    (r"^--device=(all|shm)$", "every device node"),
    (r"^--socket=(session-bus|system-bus)$", "the whole D-Bus bus"),
    (r"^--socket=x11$", "X11 even under Wayland (use --socket=fallback-x11)"),
    (r"^--(own|talk|system-talk|system-own)-name=", "a D-Bus name the app does not use"),
    (r"^--allow=", "a sandbox relaxation"),
]

# Paths of git submodules that flatpak-builder leaves out when a git source says
# "disable-submodules": the Debian tarball that stands in for the checkout has
# them, so the emulated build deletes them to prove they are not needed.
# (ngtcp2 v1.24.0's .gitmodules.)
SUBMODULES = {
    "https://github.com/ngtcp2/ngtcp2.git": ["tests/munit", "third-party/urlparse"],
}

HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def die(msg, code=2):
    print(f"flatpak-manifest: {msg}", file=sys.stderr)
    sys.exit(code)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_modules(manifest):
    """Modules in build order, nested ones before their parent (as flatpak-builder)."""
    out = []

    def walk(mods):
        for m in mods:
            if isinstance(m, str):
                die(f"module file reference '{m}' is not supported here")
            walk(m.get("modules", []))
            out.append(m)

    walk(manifest.get("modules", []))
    return out


def module(manifest, name):
    for m in all_modules(manifest):
        if m.get("name") == name:
            return m
    die(f"no module '{name}'")


def source_file_name(src):
    if src.get("dest-filename"):
        return src["dest-filename"]
    if src.get("url"):
        return os.path.basename(src["url"].split("?")[0])
    return os.path.basename(src.get("path", ""))


def cmd_pins(manifest):
    problems = []
    for m in all_modules(manifest):
        name = m.get("name", "?")
        for i, src in enumerate(m.get("sources", [])):
            if isinstance(src, str):
                problems.append(f"{name}: source {i} is a file reference ('{src}'), not inline")
                continue
            kind = src.get("type")
            where = f"{name}: source {i} ({kind})"
            if kind in ("archive", "file"):
                if src.get("url"):
                    if not HEX64.match(src.get("sha256", "")):
                        problems.append(f"{where}: no sha256 for {src['url']}")
                    if not src["url"].startswith("https://"):
                        problems.append(f"{where}: not an https URL: {src['url']}")
                elif not src.get("path"):
                    problems.append(f"{where}: neither url nor path")
            elif kind == "git":
                if not HEX40.match(src.get("commit", "")):
                    problems.append(f"{where}: no 40-hex commit for {src.get('url')}")
                if src.get("branch"):
                    problems.append(f"{where}: a branch moves; pin tag + commit")
                if not src.get("url", "").startswith("https://"):
                    problems.append(f"{where}: not an https URL: {src.get('url')}")
            elif kind in ("dir", "patch", "shell", "script"):
                pass
            else:
                problems.append(f"{where}: source type '{kind}' is not allowed here")
    for p in problems:
        print(p)
    return 1 if problems else 0


def cmd_finish_args(manifest):
    problems = []
    for arg in manifest.get("finish-args", []):
        if arg in ALLOWED_FINISH_ARGS:
            continue
        why = "not needed by the app"
        for pattern, reason in FORBIDDEN_FINISH_ARGS:
            if re.search(pattern, arg):
                why = reason
                break
        problems.append(f"finish-arg {arg}: {why}")
    for arg in ALLOWED_FINISH_ARGS:
        if arg not in manifest.get("finish-args", []):
            problems.append(f"finish-arg {arg} is missing (the app needs it)")
    for p in problems:
        print(p)
    return 1 if problems else 0


def cmd_same_deps(a, b):
    deps_a = [m for m in all_modules(a) if m.get("name") != "peertunnel"]
    deps_b = [m for m in all_modules(b) if m.get("name") != "peertunnel"]
    if json.dumps(deps_a, sort_keys=True) == json.dumps(deps_b, sort_keys=True):
        return 0
    names = sorted({m.get("name") for m in deps_a + deps_b})
    for n in names:
        ma = [m for m in deps_a if m.get("name") == n]
        mb = [m for m in deps_b if m.get("name") == n]
        if json.dumps(ma, sort_keys=True) != json.dumps(mb, sort_keys=True):
            print(f"module {n} differs")
    return 1


def cmd_app_id(manifest, root):
    with open(os.path.join(root, "meson.build"), encoding="utf-8") as f:
        text = f.read()
    found = re.search(r"^\s*app_id\s*=\s*'([^']+)'", text, re.M)
    if not found:
        die("meson.build sets no app_id = '…'", 1)
    app_id = found.group(1)
    opts = module(manifest, "peertunnel").get("config-opts", [])
    devel = False
    for o in opts:
        if re.match(r"^-Ddevelopment=(true|enabled|yes|1)$", o):
            devel = True
        elif o.startswith("-Ddevelopment="):
            devel = False
    if devel:
        suffix = re.search(r"app_id\s*\+=\s*'([^']+)'", text)
        if not suffix:
            die("meson.build has no app_id += '…' for -Ddevelopment=true", 1)
        app_id += suffix.group(1)
    print(app_id)
    return 0


def upstream_version(src):
    if src.get("type") == "git":
        tag = src.get("tag") or ""
        return re.sub(r"^v", "", tag)
    found = re.search(r"(\d+(?:\.\d+)+)", source_file_name(src))
    return found.group(1) if found else ""


def cmd_archives(manifest, names):
    for name in names:
        for i, src in enumerate(module(manifest, name).get("sources", [])):
            if src.get("type") in ("archive", "file") and src.get("url"):
                role = "main" if i == 0 else "extra"
                print(src.get("sha256", "-"), source_file_name(src), src["url"], role)
    return 0


def cmd_submanifest(manifest, out, names):
    sub = {k: v for k, v in manifest.items() if k != "modules"}
    sub["modules"] = [module(manifest, n) for n in names]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(sub, f, indent=2)
        f.write("\n")
    return 0


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def extract(archive, dest, strip):
    """Unpack a tarball into dest, dropping `strip` leading path components."""
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            parts = member.name.split("/")
            if len(parts) <= strip or ".." in parts:
                continue
            member.name = "/".join(parts[strip:])
            if member.islnk():
                member.linkname = "/".join(member.linkname.split("/")[strip:])
            members.append(member)
        if hasattr(tarfile, "fully_trusted_filter"):
            tar.extractall(dest, members=members, filter="fully_trusted")
        else:
            tar.extractall(dest, members=members)


def run(cmd, cwd, env, log, shell=False):
    shown = cmd if shell else " ".join(cmd)
    log.write(f"\n$ (cd {cwd} && {shown})\n")
    log.flush()
    rc = subprocess.call(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, shell=shell)
    if rc != 0:
        raise RuntimeError(f"'{shown}' failed (exit {rc}) in {cwd}")


def cmd_build(manifest_path, manifest, name, srcdir, prefix, extra):
    mod = module(manifest, name)
    sources = mod.get("sources", [])
    if not sources:
        die(f"module {name} has no sources")
    jobs = os.environ.get("FLATPAK_BUILDER_N_JOBS", "2")
    env = dict(os.environ)
    env.update({
        "FLATPAK_DEST": prefix,
        "FLATPAK_ID": manifest.get("id", ""),
        "FLATPAK_BUILDER_N_JOBS": jobs,
        "PKG_CONFIG_PATH": os.path.join(prefix, "lib", "pkgconfig"),
    })
    env.setdefault("CFLAGS", "-O2 -g")
    env.update(mod.get("build-options", {}).get("env", {}))
    base = os.path.dirname(os.path.abspath(manifest_path))
    log_path = os.path.join(os.path.dirname(srcdir), f"{name}.log")
    with open(log_path, "w", encoding="utf-8") as log:
        try:
            first = sources[0]
            if first.get("type") == "git" and first.get("disable-submodules"):
                for sub in SUBMODULES.get(first.get("url"), []):
                    shutil.rmtree(os.path.join(srcdir, sub), ignore_errors=True)
                    log.write(f"removed submodule {sub} (disable-submodules)\n")
            for src in sources[1:]:
                kind = src.get("type")
                dest = os.path.join(srcdir, src.get("dest", ""))
                if kind in ("archive", "file"):
                    fname = source_file_name(src)
                    path = os.path.join(extra, "downloads", src.get("sha256", "-"), fname)
                    if not os.path.exists(path):
                        raise RuntimeError(f"{fname} is not in {extra} (no network here)")
                    got = sha256_of(path)
                    if got != src.get("sha256"):
                        raise RuntimeError(f"{fname}: sha256 {got}, manifest says {src.get('sha256')}")
                    if kind == "archive":
                        extract(path, dest, int(src.get("strip-components", 1)))
                    else:
                        os.makedirs(dest, exist_ok=True)
                        shutil.copy(path, os.path.join(dest, fname))
                elif kind == "shell":
                    for c in src.get("commands", []):
                        run(["/bin/sh", "-c", c], srcdir, env, log)
                elif kind == "patch":
                    strip = str(src.get("strip-components", 1))
                    for p in [src["path"]] if src.get("path") else src.get("paths", []):
                        run(["patch", f"-p{strip}", "-i", os.path.join(base, p)], dest, env, log)
                else:
                    raise RuntimeError(f"source type {kind} after the first is not emulated")

            workdir = os.path.join(srcdir, mod["subdir"]) if mod.get("subdir") else srcdir
            system = mod.get("buildsystem", "autotools")
            opts = mod.get("config-opts", [])
            # flatpak-builder passes --libdir / CMAKE_INSTALL_LIBDIR only when it
            # builds a runtime; for an app it passes the prefix alone.
            make_args = mod.get("make-args", [])
            install_args = mod.get("make-install-args", [])
            if system == "simple":
                for c in mod.get("build-commands", []):
                    run(["/bin/sh", "-c", c], workdir, env, log)
            elif system == "autotools":
                configure = os.path.join(workdir, "configure")
                if not os.path.exists(configure) and not mod.get("no-autogen"):
                    for script in ("autogen", "autogen.sh", "bootstrap", "bootstrap.sh"):
                        if os.path.exists(os.path.join(workdir, script)):
                            run([f"./{script}"], workdir, dict(env, NOCONFIGURE="1"), log)
                            break
                    else:
                        raise RuntimeError("no configure and no autogen, autogen.sh or bootstrap")
                if not os.path.exists(configure):
                    raise RuntimeError("no configure script")
                with open(configure, encoding="utf-8", errors="replace") as f:
                    needs_builddir = "buildapi-variable-require-builddir" in f.read()
                builddir = workdir
                configure_cmd = "./configure"
                if needs_builddir or mod.get("builddir"):
                    builddir = os.path.join(workdir, "_flatpak_build")
                    os.makedirs(builddir, exist_ok=True)
                    configure_cmd = "../configure"
                if not mod.get("no-configure"):
                    run([configure_cmd, f"--prefix={prefix}"] + opts,
                        builddir, env, log)
                run(["make", f"-j{jobs}"] + make_args, builddir, env, log)
                run(["make", "install"] + install_args, builddir, env, log)
            elif system in ("cmake", "cmake-ninja"):
                builddir = workdir
                final = "."
                if mod.get("builddir"):
                    builddir = os.path.join(workdir, "_flatpak_build")
                    os.makedirs(builddir, exist_ok=True)
                    final = ".."
                generator = "Ninja" if system == "cmake-ninja" else "Unix Makefiles"
                run(["cmake", f"-DCMAKE_INSTALL_PREFIX:PATH={prefix}", "-G", generator]
                    + opts + [final],
                    builddir, env, log)
                tool = "ninja" if system == "cmake-ninja" else "make"
                run([tool, f"-j{jobs}"] + make_args, builddir, env, log)
                run([tool, "install"] + install_args, builddir, env, log)
            elif system == "meson":
                builddir = os.path.join(workdir, "_flatpak_build")
                run(["meson", "setup", f"--prefix={prefix}"] + opts
                    + [builddir], workdir, env, log)
                run(["ninja", "-C", builddir, f"-j{jobs}"], workdir, env, log)
                run(["ninja", "-C", builddir, "install"], workdir, env, log)
            else:
                raise RuntimeError(f"buildsystem {system} is not emulated")
            for c in mod.get("post-install", []):
                run(["/bin/sh", "-c", c], workdir, env, log)
        except RuntimeError as e:
            log.write(f"\nFAILED: {e}\n")
            print(f"{name}: {e} (log: {log_path})", file=sys.stderr)
            return 1
    return 0


def main(argv):
    if len(argv) < 3:
        die("usage: flatpak-manifest.py SUBCOMMAND MANIFEST …")
    sub, path = argv[1], argv[2]
    manifest = load(path)
    rest = argv[3:]
    if sub == "pins":
        return cmd_pins(manifest)
    if sub == "finish-args":
        return cmd_finish_args(manifest)
    if sub == "same-deps" and len(rest) == 1:
        return cmd_same_deps(manifest, load(rest[0]))
    if sub == "app-id" and len(rest) == 1:
        return cmd_app_id(manifest, rest[0])
    if sub == "field" and len(rest) == 1:
        print(manifest.get(rest[0], ""))
        return 0
    if sub == "modules":
        for m in all_modules(manifest):
            print(m.get("name"))
        return 0
    if sub == "version" and len(rest) == 1:
        srcs = module(manifest, rest[0]).get("sources", [])
        print(upstream_version(srcs[0]) if srcs else "")
        return 0
    if sub == "archives" and rest:
        return cmd_archives(manifest, rest)
    if sub == "submanifest" and len(rest) >= 2:
        return cmd_submanifest(manifest, rest[0], rest[1:])
    if sub == "config-opts" and len(rest) == 1:
        for o in module(manifest, rest[0]).get("config-opts", []):
            print(o)
        return 0
    if sub == "key" and len(rest) == 1:
        blob = json.dumps(module(manifest, rest[0]), sort_keys=True).encode()
        print(hashlib.sha256(blob).hexdigest())
        return 0
    if sub == "build" and len(rest) == 4:
        return cmd_build(path, manifest, rest[0], os.path.abspath(rest[1]),
                         os.path.abspath(rest[2]), os.path.abspath(rest[3]))
    die(f"bad arguments for '{sub}'")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
