# SPDX-License-Identifier: Apache-2.0
"""A tampering server for the query tests: a proxy in front of `nnproof serve` that changes its answers."""
import http.server
import threading
import time


class Tamperer:
    """A proxy in front of the real server that changes what it answers, by mode."""

    def __init__(self, upstream, swap_model):
        self.mode = "pass"
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                path = self.path
                if proxy.mode == "other" and path.startswith("/v1/prove"):
                    path = "/v1/prove?model=other"
                if proxy.mode == "stall":
                    time.sleep(6)
                kind = {"Content-Type": self.headers.get("Content-Type", "application/octet-stream")}
                status, data, _ = upstream.request("POST", path, body, kind)
                length = len(data)
                if proxy.mode == "flip_output" and path.startswith("/v1/prove"):
                    data = bytearray(data)
                    data[132 + 8 * 3] ^= 1  # the first claimed output (docs/FORMAT.md, L = 3)
                elif proxy.mode == "flip_message" and path.startswith("/v1/prove"):
                    data = bytearray(data)
                    data[-1] ^= 1
                elif proxy.mode == "flip_step" and "/step" in path and "want=256" not in path:
                    data = bytearray(data)
                    data[0] ^= 1
                elif proxy.mode == "truncate":
                    data = data[: len(data) // 2]
                    length = len(data)
                elif proxy.mode == "cut":  # announces the whole bundle, sends half, closes
                    data = data[: len(data) // 2]
                elif proxy.mode == "error":
                    status, data = 500, b'{"error": "out of memory", "status": 500}'
                    length = len(data)
                self.send_response(status)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(bytes(data))
                if proxy.mode == "cut":
                    self.close_connection = True

            def do_GET(self):
                status, data, _ = upstream.request("GET", self.path)
                if proxy.mode == "swap_model" and self.path.endswith("/model"):
                    data = swap_model  # another model (the untrained one): not what the proof is about
                if proxy.mode == "flip_proof" and self.path.endswith("/proof"):
                    data = bytearray(data)
                    data[len(data) // 2] ^= 0x10
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(bytes(data))

            def do_DELETE(self):
                status, data, _ = upstream.request("DELETE", self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
