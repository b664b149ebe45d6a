#!/usr/bin/env python3
# An ingest's throughput on this machine: a nats-server (R1, its own store in a temporary
# directory) and build/eventserver with cluster role "ingest"; one source sends N events at once
# (a mix of broadcasts, follows, private messages and status updates) and the clock stops when
# it is told durable|1|N, i.e. when JetStream has acknowledged every batch. Prints the wall
# time and the CPU seconds of the ingest and of nats-server over that span.
#
#   bench/cluster/ingest_throughput.py [N=1000000] [path/to/eventserver]
import socket, subprocess, time, os, re, sys, json, tempfile, shutil
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
d = tempfile.mkdtemp(prefix="ingbench")
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", d + "/store", "--ports_file_dir", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(500):
    files = [f for f in os.listdir(d) if f.endswith(".ports")]
    if files: break
    time.sleep(0.01)
url = re.search(r"nats://127\.0\.0\.1:\d+", open(d + "/" + files[0]).read()).group(0)
cfg = d + "/c.json"
json.dump({"eventListenerPort": 0, "adminListenerPort": 0, "cluster": {"role": "ingest", "servers": [url]}}, open(cfg, "w"))
log = open(d + "/out.log", "w")
ing = subprocess.Popen([sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "../../build/eventserver"), "-config", cfg], stdout=log, stderr=log)
port = None
for _ in range(1000):
    m = re.search(r"ingest: listening for event sources on 127\.0\.0\.1:(\d+)", open(d + "/out.log").read())
    if m: port = int(m.group(1)); break
    time.sleep(0.01)
time.sleep(0.3)
payload = b"".join(b"%d|%s\r\n" % (i, [b"B", b"F|%d|%d" % (i % 1000, i % 999), b"P|1|2", b"S|%d" % (i % 1000)][i % 4]) for i in range(1, N + 1))
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"durable?\r\n")
c0, n0 = cpu(ing.pid), cpu(nats.pid)
t0 = time.time()
s.sendall(payload)
buf = b""
want = b"durable|1|%d\r\n" % N
while want not in buf:
    buf = buf[-200:] + s.recv(65536)
t = time.time() - t0
print(f"{N} events ({len(payload)/1e6:.1f} MB): {t:.2f} s wall, {N/t/1e6:.2f} M events/s; ingest CPU {cpu(ing.pid)-c0:.2f} s, nats-server CPU {cpu(nats.pid)-n0:.2f} s")
ing.terminate(); ing.wait(); nats.terminate(); nats.wait(); shutil.rmtree(d)
