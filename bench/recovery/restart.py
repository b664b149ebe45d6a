#!/usr/bin/env python3
"""One timed start of the daemon on an existing data directory (used by bench/recovery/run.sh).

usage: restart.py DAEMON CONFIG EVENT_PORT ADMIN_PORT LOG SIGNAL
Starts DAEMON -config CONFIG (output to LOG) and times, from exec:
  bound_ms    the event port takes a TCP connection (the listen backlog: bound, not yet serving)
  ready_ms    the daemon answers `durable?` on it with `durable|<epoch>|<seq>` (recovered, serving)
Then reads VmHWM (peak RSS so far: recovery's) and eventserver_log_recovery_seconds from
/metrics, stops the daemon with SIGNAL (KILL or TERM), waits for it and prints one line:
  bound_ms=.. ready_ms=.. recovery_s=.. hwm_kb=.. durable_seq=.. stop_ms=.. exit=..
Gives up after 120 s.
"""
import os, signal, socket, subprocess, sys, time, urllib.request

daemon, config, event_port, admin_port, log_path, sig = sys.argv[1:7]
deadline = 120.0


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    return "na"


with open(log_path, "w") as log:
    t0 = time.monotonic()
    proc = subprocess.Popen([daemon, "-config", config], stdout=log, stderr=subprocess.STDOUT)
    bound = ready = None
    seq = "na"
    while ready is None and time.monotonic() - t0 < deadline:
        if proc.poll() is not None:
            sys.exit(f"restart.py: the daemon exited with {proc.returncode}; see {log_path}")
        try:
            s = socket.create_connection(("127.0.0.1", int(event_port)), timeout=deadline)
        except OSError:
            time.sleep(0.002)
            continue
        bound = bound or time.monotonic() - t0
        s.sendall(b"durable?\r\n")
        reply = b""
        while b"\n" not in reply:
            chunk = s.recv(256)  # blocks until the daemon accepts (after recovery) and answers
            if not chunk:
                break
            reply += chunk
        if reply.startswith(b"durable|"):
            ready = time.monotonic() - t0
            seq = reply.split(b"|")[2].strip().decode()
        s.close()
    hwm = "na"
    with open(f"/proc/{proc.pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                hwm = line.split()[1]
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10).read().decode()
    t1 = time.monotonic()
    proc.send_signal(signal.SIGKILL if sig == "KILL" else signal.SIGTERM)
    code = proc.wait(timeout=60)
    stop = time.monotonic() - t1
    print(f"bound_ms={bound * 1000:.1f} ready_ms={ready * 1000:.1f} "
          f"recovery_s={metric(metrics, 'eventserver_log_recovery_seconds')} hwm_kb={hwm} "
          f"durable_seq={seq} edges={metric(metrics, 'eventserver_follow_edges')} "
          f"stop_ms={stop * 1000:.0f} exit={code}")
