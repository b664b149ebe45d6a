"""The daemon under a bench script: a config written to a temporary directory, the process
started on it, its ports read from its log; stopped by its pid (SIGTERM, then SIGKILL after
10 s) when the `with` block ends."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_loopback_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class daemon_process:
    def __init__(self, binary, config):
        self.dir = tempfile.mkdtemp(prefix="eventserver-bench-")
        path = os.path.join(self.dir, "config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        self.log = open(os.path.join(self.dir, "daemon.log"), "w+")
        self.process = subprocess.Popen([binary, "-config", path], stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            m = re.search(r"listening for event sources on [0-9.]+:(\d+) and clients on [0-9.]+:(\d+)", self.log_text())
            if m:
                self.event_port, self.client_port = int(m[1]), int(m[2])
                return
            time.sleep(0.05)
        self.stop()
        sys.exit("the daemon did not come up:\n" + self.log_text())

    def log_text(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
