# SPDX-License-Identifier: Apache-2.0
"""Starts `nnproof serve` on 127.0.0.1 with a port it picks itself, and talks to it (standard library only).

Every wait is bounded: a server that does not print its address within START_TIMEOUT seconds, or a
request that takes longer than REQUEST_TIMEOUT, fails the test instead of hanging it.
"""
import http.client
import json
import re
import signal
import subprocess
import threading

START_TIMEOUT = 60
REQUEST_TIMEOUT = 120


class Server:
    def __init__(self, binary, models, *extra, env=None):
        args = [binary, "serve", "--listen", "127.0.0.1:0", *extra]
        for m in models:
            args += ["--model", m]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.lines = []
        self.port = None
        self.scheme = "https" if "--tls-cert" in extra else "http"
        ready = threading.Event()

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line.rstrip("\n"))
                m = re.search(r"listening on https?://127\.0\.0\.1:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(START_TIMEOUT) or self.port is None:
            self.kill()
            raise AssertionError("server did not start: " + "\n".join(self.lines))
        self.url = f"{self.scheme}://127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, data, _ = self.request(method, path, body, headers)
        return status, json.loads(data)

    def stop(self, timeout=120):
        """SIGTERM, then the exit code (the server must stop by itself)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("server did not stop within %d s of SIGTERM" % timeout)
        self.reader.join(10)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def run(args, timeout=REQUEST_TIMEOUT):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def npy_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def make_npy(rows, cols, value=0.0625):
    """A float64 (rows, cols) .npy file's bytes, every element `value` (numpy's version 1.0 layout)."""
    import struct

    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + struct.pack("<d", value) * (rows * cols)
