#!/usr/bin/python3
"""Profiles the pt client + server during a single-stream TCP transfer on
loopback (iperf3 through the tunnel).  Run it through `./bench/run --profile`.

  1. native speed: throughput, UDP datagrams/s and payload bytes per datagram
     (from /proc/net/snmp), user vs system CPU of each pt process;
  2. syscalls per datagram: `strace -c -f` attached to each pt process for a
     few seconds of the transfer (slows it; the ratios are what matter);
  3. `perf record -g`: hardware cycles when `perf stat -e instructions true`
     works, else the cpu-clock software event (user + kernel stacks);
  4. `valgrind --tool=callgrind` on both pt processes, instrumentation switched on
     only for the transfer (instructions executed in user space, not cycles).

Raw outputs go to bench/results/profile/; a summary is printed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ptbench as B  # noqa: E402


def udp_counters():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Udp:")]
    d = dict(zip(rows[0][1:], (int(x) for x in rows[1][1:])))
    return d["InDatagrams"], d["OutDatagrams"]


def cpu_split(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    fl = data[data.rindex(")") + 2:].split()
    return int(fl[11]) / B.CLK_TCK, int(fl[12]) / B.CLK_TCK


def iperf_async(port, seconds, out):
    return subprocess.Popen(["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(seconds),
                             "-J"], stdout=open(out, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def iperf_result(path):
    try:
        j = json.load(open(path))
        s = j["end"]["sum_received"]
        return s["bytes"], s["seconds"]
    except (ValueError, KeyError, OSError):
        return None, None


def perf_mode():
    r = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    txt = r.stdout.decode()
    if r.returncode == 0 and "not supported" not in txt and "<not" not in txt:
        return "cycles"
    r = subprocess.run(["perf", "stat", "-x,", "-e", "cpu-clock", "true"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode == 0 and "not supported" not in r.stdout.decode():
        return "cpu-clock"
    return None


def main():
    out = os.path.join(HERE, "results", "profile")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    secs = 6
    args = type("A", (), {"quick": True, "pt": os.environ.get("PT_BIN") or
                          os.path.join(B.SOURCE_DIR, "_build", "cli", "pt"), "only": None,
                          "main_pair_only": True})
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, B._on_signal)
    b = B.Bench(args)
    summary = {"machine": b.results["machine"], "loadavg_at_start": os.getloadavg()}
    try:
        b.start_services()
        if not b.have_iperf:
            print("SKIP: iperf3 not installed (apt-get install openssh-server iperf3)")
            return 1
        b.start_pt()
        port = b.paths["pt"]["tcp"]
        pids = {"client": b.ptc.pid, "server": b.pts.pid}

        # 1. native speed
        B.log("native transfer, %d s" % secs)
        c0 = {k: cpu_split(p) for k, p in pids.items()}
        u0 = udp_counters()
        ip = iperf_async(port, secs, os.path.join(out, "iperf-native.json"))
        ip.wait(timeout=secs + 30)
        u1 = udp_counters()
        c1 = {k: cpu_split(p) for k, p in pids.items()}
        nbytes, nsecs = iperf_result(os.path.join(out, "iperf-native.json"))
        dgrams = u1[1] - u0[1]
        summary["native"] = {
            "MBps": nbytes / nsecs / 1e6 if nbytes else None,
            "bytes": nbytes,
            "udp_datagrams_sent": dgrams,
            "udp_datagrams_per_s": dgrams / nsecs if nsecs else None,
            "payload_bytes_per_datagram_all": nbytes / dgrams if dgrams else None,
            "cpu": {k: {"user_s": c1[k][0] - c0[k][0], "system_s": c1[k][1] - c0[k][1]}
                    for k in pids},
        }
        B.log("native: %s" % json.dumps(summary["native"]))

        # 2. syscalls (strace -c), one process at a time so that each sees
        #    the other at full speed
        if shutil.which("strace"):
            summary["strace"] = {}
            for who, pid in pids.items():
                B.log("strace -c on pt %s, %d s" % (who, secs))
                f = os.path.join(out, "strace-%s.txt" % who)
                st = subprocess.Popen(["strace", "-c", "-f", "-o", f, "-p", str(pid)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
                time.sleep(0.5)
                u0 = udp_counters()
                ip = iperf_async(port, secs, os.path.join(out, "iperf-strace-%s.json" % who))
                ip.wait(timeout=secs + 30)
                u1 = udp_counters()
                os.kill(st.pid, signal.SIGINT)
                st.wait(timeout=10)
                nb, ns = iperf_result(os.path.join(out, "iperf-strace-%s.json" % who))
                calls = {}
                for line in open(f):
                    m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
                    if m:
                        calls[m.group(2)] = int(m.group(1))
                summary["strace"][who] = {"MBps_under_strace": nb / ns / 1e6 if nb else None,
                                          "bytes": nb, "udp_in": u1[0] - u0[0],
                                          "udp_out": u1[1] - u0[1], "calls": calls}
        else:
            summary["strace"] = "SKIP: strace not installed (apt-get install strace)"

        # 3. perf record
        mode = perf_mode() if shutil.which("perf") else None
        summary["perf_mode"] = mode
        if mode:
            B.log("perf record -g (%s), %d s" % (mode, secs))
            data = os.path.join(out, "perf.data")
            ev = ["-e", "cycles"] if mode == "cycles" else ["-e", "cpu-clock"]
            pr = subprocess.Popen(["perf", "record", "-g", "-F", "2000"] + ev + ["-o", data, "-p",
                                  "%d,%d" % (pids["client"], pids["server"])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
            time.sleep(0.5)
            ip = iperf_async(port, secs, os.path.join(out, "iperf-perf.json"))
            ip.wait(timeout=secs + 30)
            os.kill(pr.pid, signal.SIGINT)
            pr.wait(timeout=30)
            for name, extra in (("perf-self.txt", ["--no-children", "--sort", "comm,dso,sym"]),
                                ("perf-dso.txt", ["--no-children", "--sort", "comm,dso"]),
                                ("perf-children.txt", ["--children", "--sort", "sym"])):
                with open(os.path.join(out, name), "w") as f:
                    subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none",
                                    "--percent-limit", "0.5"] + extra,
                                   stdout=f, stderr=subprocess.DEVNULL, timeout=300)
        # 4. callgrind
        if shutil.which("valgrind"):
            b.ptc.kill()
            b.pts.kill()
            B.log("callgrind: pairing pt under valgrind")
            vg = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                  "--callgrind-out-file=%s/callgrind.%%q{PT_ROLE}.out" % out]
            real = B.PT_ICE
            srcs = ["tcp://127.0.0.1:%d" % b.iperf_port]
            srv = B.Child("vg-pt-server", vg + [args.pt, "server", "manual"] + real +
                          ["--allowed-tcp", "127.0.0.0/8"], b.logdir, stdin=subprocess.PIPE,
                          pipe_out=True, env={"PT_ROLE": "server"})
            cli = B.Child("vg-pt-client", vg + [args.pt, "client", "manual"] + real +
                          ["--source", srcs[0], "--target", "127.0.0.1:0"], b.logdir,
                          stdin=subprocess.PIPE, pipe_out=True, env={"PT_ROLE": "client"})
            offer, _ = cli.read_block("OFFER", 60)
            srv.write(offer)
            answer, _ = srv.read_block("ANSWER", 60)
            cli.write(answer)
            _, _, line = cli.wait_line("err", lambda l: '"ready"' in l, 90)
            vport = int(json.loads(line)["listen"].rpartition(":")[2])
            for c in (cli, srv):
                subprocess.run(["callgrind_control", "-i", "on", str(c.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            vsecs = 10
            B.log("callgrind: %d s transfer" % vsecs)
            ip = iperf_async(vport, vsecs, os.path.join(out, "iperf-callgrind.json"))
            ip.wait(timeout=vsecs + 60)
            nb, ns = iperf_result(os.path.join(out, "iperf-callgrind.json"))
            summary["callgrind_MBps"] = nb / ns / 1e6 if nb else None
            summary["callgrind_bytes"] = nb
            for c in (cli, srv):
                subprocess.run(["callgrind_control", "-d", str(c.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            time.sleep(1)
            for role in ("client", "server"):
                files = sorted(f for f in os.listdir(out) if f.startswith("callgrind.%s.out" % role))
                dumps = [os.path.join(out, f) for f in files]
                # the last dump holds the transfer (collection was off before)
                with open(os.path.join(out, "callgrind-%s.txt" % role), "w") as f:
                    for d in dumps:
                        f.write("#### %s\n" % d)
                        f.flush()
                        subprocess.run(["callgrind_annotate", "--threshold=98", d], stdout=f,
                                       stderr=subprocess.STDOUT, timeout=120)
                        f.flush()
                        f.write("\n#### inclusive %s\n" % d)
                        f.flush()
                        subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=90", d],
                                       stdout=f, stderr=subprocess.STDOUT, timeout=120)
    except KeyboardInterrupt:
        B.log("interrupted")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        B.kill_all()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    summary["loadavg_at_end"] = os.getloadavg()
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))
    B.log("raw outputs in %s" % out)
    shutil.rmtree(b.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
