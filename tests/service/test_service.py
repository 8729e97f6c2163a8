#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`nnproof serve` and `nnproof query` end to end on 127.0.0.1 (docs/SERVICE.md).

Usage: test_service.py NNPROOF_BIN SOURCE_DIR CASE, CASE one of the functions named case_*.
Each case starts its own servers (ports they pick), stops them, and fails on any unmet property.
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, make_npy, npy_bytes, run  # noqa: E402

BIN, SRC, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
MODEL = os.path.join(SRC, "examples/mlp/model.onnx")
INPUT = os.path.join(SRC, "examples/mlp/input.npy")
TMP = tempfile.mkdtemp(prefix="nnproof-service-")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def tmp(name):
    return os.path.join(TMP, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def query(url, *extra, model=MODEL, inp=INPUT, timeout=180):
    return run([BIN, "query", "--server", url, "--model", model, *(["--input", inp] if inp else []), *extra],
               timeout=timeout)


def other_model():
    """The mlp with other scales (nnproof quantize, alpha and beta <= 4): same shapes, another binding."""
    path = tmp("other.onnx")
    if not os.path.exists(path):
        labels = tmp("labels.npy")
        with open(labels, "wb") as f:  # (8,) int64 zeros
            header = "{'descr': '<i8', 'fortran_order': False, 'shape': (8,), }"
            header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
            f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(64))
        r = run([BIN, "quantize", "--model", MODEL, "--calibration", INPUT, "--labels", labels, "--out", path,
                 "--max-exponent", "2"])
        check(r.returncode == 0, "quantize failed: " + r.stderr)
    return path


def proved_by_cli(model=MODEL, inp=INPUT):
    out = tmp("cli.nnp")
    r = run([BIN, "prove", "--model", model, "--input", inp, "--proof", out, "--engine", "cpu"])
    check(r.returncode == 0, "nnproof prove failed: " + r.stderr)
    return read(out)


def case_api():
    """Every API call; the served bundle is byte-identical to nnproof prove's; query verifies it."""
    srv = Server(BIN, [MODEL, other_model()], "--engine", "cpu")
    try:
        status, h = srv.json("GET", "/v1/health")
        check(status == 200 and h["status"] == "ok", f"health: {status} {h}")
        status, models = srv.json("GET", "/v1/models")
        names = {m["name"]: m for m in models["models"]}
        check(status == 200 and set(names) == {"model", "other"}, f"models: {models}")
        m = names["model"]
        check(len(m["model_binding"]) == 64 and m["field"] == "m61" and m["input_shape"] == [16], f"model: {m}")
        check(m["alpha"] == 16 and m["beta"] == 16 and m["outputs"] == 4, f"scales: {m}")
        check(names["other"]["model_binding"] != m["model_binding"], "two models, one binding")

        expected = proved_by_cli()
        for key in ("model", m["model_binding"]):
            status, body, headers = srv.request("POST", "/v1/prove?model=" + key, npy_bytes(INPUT))
            check(status == 200, f"prove by {key}: {status} {body[:200]}")
            check(body == expected, f"prove by {key}: the bundle differs from nnproof prove's")
            check(headers.get("X-Nnproof-Batch") == "8", f"batch header: {headers}")

        # query: VERIFIED, outputs and labels as verify writes them from the same bundle.
        r = query(srv.url, "--output", tmp("y.npy"), "--labels-out", tmp("l.npy"), "--save-proof", tmp("saved.nnp"),
                  "--json")
        check(r.returncode == 0, f"query: {r.returncode} {r.stdout} {r.stderr}")
        verdict = json.loads(r.stdout)
        check(verdict["verdict"] == "VERIFIED" and verdict["batch"] == 8 and len(verdict["labels"]) == 8, r.stdout)
        check(read(tmp("saved.nnp")) == expected, "--save-proof holds another bundle")
        r = run([BIN, "verify", "--model", MODEL, "--input", INPUT, "--proof", tmp("saved.nnp"), "--output",
                 tmp("y2.npy"), "--labels-out", tmp("l2.npy")])
        check(r.returncode == 0 and r.stdout == "VERIFIED\n", r.stdout + r.stderr)
        check(read(tmp("y.npy")) == read(tmp("y2.npy")) and read(tmp("l.npy")) == read(tmp("l2.npy")),
              "query's outputs differ from verify's")
        r = query(srv.url)
        check(r.returncode == 0 and r.stdout == "VERIFIED\n", f"plain query: {r.stdout} {r.stderr}")

        # An interactive session by hand: start, the outputs (8 x 4 elements of 8 bytes), end.
        status, s = srv.json("POST", "/v1/interactive?model=model", npy_bytes(INPUT))
        check(status == 200 and len(s["session"]) == 32 and s["soundness_bits"] >= 100, f"session: {s}")
        status, out, _ = srv.request("POST", f"/v1/interactive/{s['session']}/step?want=256", b"")
        check(status == 200 and len(out) == 256, f"step: {status} {len(out)}")
        status, _ = srv.json("DELETE", f"/v1/interactive/{s['session']}")
        check(status == 200, "end session")
        status, _, _ = srv.request("POST", f"/v1/interactive/{s['session']}/step?want=8", b"")
        check(status == 404, f"a step after the end: {status}")

        status, met = srv.json("GET", "/v1/metrics")
        check(status == 200 and met["proofs"] >= 4 and met["prove_seconds_total"] > 0, f"metrics: {met}")
        # Ten requests before this one (the metrics count a request once its log line is out); one failed.
        check(met["queue_length"] == 0 and met["requests"] == 10 and met["failures"] == 1, f"metrics: {met}")
    finally:
        code = srv.stop()
    check(code == 0, f"server exit {code}")
    logged = [l for l in srv.lines if l.startswith("nnproof serve: 127.0.0.1:")]
    check(len(logged) == 11, "one log line per request: " + "\n".join(srv.lines))
    check(srv.lines[-1].startswith("nnproof serve: stopped after 11 requests (1 failed)"), srv.lines[-1])
    check(any("POST /v1/prove model=model batch=8 status=200" in l for l in logged), "\n".join(logged))


class Tamperer:
    """A proxy in front of the real server that changes what it answers, by mode."""

    def __init__(self, upstream):
        import http.server

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
                    data = read(MODEL)  # the untrained model: not what the proof is about
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


def case_tamper():
    """query rejects (exit 1) whatever a tampering server changes, and writes nothing."""
    srv = Server(BIN, [MODEL, other_model()], "--engine", "cpu")
    proxy = Tamperer(srv)
    try:
        r = query(proxy.url)
        check(r.returncode == 0, "through an honest proxy: " + r.stdout + r.stderr)
        expect = {
            "flip_output": "REJECTED: ",
            "flip_message": "REJECTED: ",
            "other": "REJECTED: model binding",
            "truncate": "REJECTED: proof format",
            "cut": "REJECTED: server: ",
            "stall": "REJECTED: server: the server sent no answer within 2 s",
        }
        for mode, start in expect.items():
            proxy.mode = mode
            y = tmp(f"y-{mode}.npy")
            r = query(proxy.url, "--output", y, "--timeout", "2")
            check(r.returncode == 1 and r.stdout.startswith(start), f"{mode}: {r.returncode} {r.stdout} {r.stderr}")
            check(not os.path.exists(y), f"{mode}: an output was written for a rejected answer")
        proxy.mode = "flip_step"
        r = query(proxy.url, "--interactive", "--output", tmp("y-step.npy"))
        check(r.returncode == 1 and r.stdout.startswith("REJECTED"), f"flip_step: {r.stdout} {r.stderr}")
        check(not os.path.exists(tmp("y-step.npy")), "interactive: an output was written for a rejection")
        proxy.mode = "error"
        r = query(proxy.url)
        check(r.returncode == 4 and "answered HTTP 500: out of memory" in r.stderr, f"error: {r.stderr}")
        check(len(r.stderr.strip().splitlines()) == 1, "one line: " + r.stderr)
    finally:
        proxy.close()
        srv.stop()
    # Unreachable: the server has stopped, its port is closed.
    r = query(srv.url)
    check(r.returncode == 4 and "could not be reached" in r.stderr, f"unreachable: {r.returncode} {r.stderr}")


def case_interactive():
    """query --interactive verifies with >= 100 bits, challenges drawn by the client; outputs as prove's."""
    srv = Server(BIN, [MODEL], "--engine", "cpu")
    try:
        r = query(srv.url, "--interactive", "--json", "--labels-out", tmp("li.npy"), "--output", tmp("yi.npy"))
        check(r.returncode == 0, f"interactive: {r.stdout} {r.stderr}")
        v = json.loads(r.stdout)
        check(v["verdict"] == "VERIFIED" and v["interactive"] and v["soundness_bits"] >= 100, r.stdout)
        r2 = run([BIN, "prove", "--model", MODEL, "--input", INPUT, "--proof", tmp("p.nnp"), "--output", tmp("yp.npy"),
                  "--labels-out", tmp("lp.npy")])
        check(r2.returncode == 0, r2.stderr)
        check(read(tmp("li.npy")) == read(tmp("lp.npy")) and read(tmp("yi.npy")) == read(tmp("yp.npy")),
              "interactive outputs differ from prove's")
        status, met = srv.json("GET", "/v1/metrics")
        check(met["sessions"] == 0, f"the session was not ended: {met}")
    finally:
        check(srv.stop() == 0, "server exit")


def case_hostile():
    """Refusals for hostile or broken requests, no work without the token, and the server keeps serving."""
    token = tmp("token")
    with open(token, "w") as f:
        f.write("s3cret-token\n")
    auth = {"Authorization": "Bearer s3cret-token"}
    srv = Server(BIN, [MODEL], "--engine", "cpu", "--token-file", token, "--max-request-bytes", "300000",
                 "--max-batch", "64", "--idle-timeout", "3")
    try:
        body = npy_bytes(INPUT)
        for headers in ({}, {"Authorization": "Bearer wrong-token!"}, {"Authorization": "s3cret-token"}):
            status, data, _ = srv.request("POST", "/v1/prove?model=model", body, headers)
            check(status == 401 and b"token" in data, f"no token: {status} {data}")
        status, _, _ = srv.request("GET", "/v1/models")
        check(status == 401, "models without the token")
        status, met = srv.json("GET", "/v1/metrics", headers=auth)
        check(met["proofs"] == 0, f"work was done without the token: {met}")
        r = query(srv.url)
        check(r.returncode == 4 and "401" in r.stderr, f"query without the token: {r.stderr}")

        cases = [
            ("oversized", "/v1/prove?model=model", make_npy(2400, 16), 413),
            ("batch", "/v1/prove?model=model", make_npy(65, 16), 413),
            ("malformed", "/v1/prove?model=model", b"\x93NUMPY\x01\x00garbage", 400),
            ("empty", "/v1/prove?model=model", b"", 400),
            ("shape", "/v1/prove?model=model", make_npy(2, 15), 400),
            ("unknown", "/v1/prove?model=nosuch", body, 404),
            ("no model", "/v1/prove", body, 400),
            ("bad want", "/v1/interactive/" + "0" * 32 + "/step?want=x", b"", 400),
            ("no session", "/v1/interactive/" + "0" * 32 + "/step?want=8", b"", 404),
        ]
        for name, path, data, want in cases:
            status, reply, _ = srv.request("POST", path, data, auth)
            check(status == want, f"{name}: {status} {reply[:300]}")
            check(json.loads(reply)["status"] == want, f"{name}: the JSON refusal: {reply[:300]}")
        # An interactive client that floods its session with challenges the prover never reads (more
        # than a pipe holds): answered within the idle timeout, not a thread held forever.
        status, sess = srv.json("POST", "/v1/interactive?model=model", body, auth)
        check(status == 200, f"session: {sess}")
        t0 = time.time()
        status, reply, _ = srv.request("POST", f"/v1/interactive/{sess['session']}/step?want=256", bytes(200000), auth)
        check(status in (410, 504) and time.time() - t0 < 30, f"flooded step: {status} {reply[:200]}")
        srv.request("DELETE", f"/v1/interactive/{sess['session']}", None, auth)
        # Garbage bytes on a raw connection: refused or closed, and the server still serves.
        for junk in (os.urandom(3000), b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                     b"\x16\x03\x01" + os.urandom(500)):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                try:
                    s.recv(4096)
                except OSError:
                    pass
        r = query(srv.url, "--token-file", token)
        check(r.returncode == 0, f"after the hostile requests: {r.stdout} {r.stderr}")
        status, met = srv.json("GET", "/v1/metrics", headers=auth)
        check(met["proofs"] == 1 and met["failures"] >= len(cases) + 5, f"metrics: {met}")
    finally:
        check(srv.stop() == 0, "server exit")


def case_load():
    """8 concurrent clients x 25 queries: every proof verifies; the server's memory stays bounded."""
    srv = Server(BIN, [MODEL], "--engine", "cpu", "--workers", "2", "--threads", "1", "--queue", "16")
    try:
        def client(i, n):
            codes = []
            for _ in range(n):
                r = query(srv.url, "--timeout", "120")
                codes.append((r.returncode, r.stdout.strip(), r.stderr.strip()))
            return codes

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            warm = [c for f in [pool.submit(client, i, 1) for i in range(8)] for c in f.result()]
        rss_warm = srv.rss_kib()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = [c for f in [pool.submit(client, i, 24) for i in range(8)] for c in f.result()]
        rss_end = srv.rss_kib()
        bad = [r for r in warm + results if r[0] != 0 or r[1] != "VERIFIED"]
        check(len(warm + results) == 200 and not bad, f"{len(bad)} of 200 not verified: {bad[:3]}")
        status, met = srv.json("GET", "/v1/metrics")
        check(met["proofs"] == 200 and met["queue_length"] == 0, f"metrics: {met}")
        # No growth with the number of requests: 192 more requests, at most 32 MiB more memory.
        check(rss_end - rss_warm < 32 * 1024, f"memory grew from {rss_warm} KiB to {rss_end} KiB")
        print(f"load: 200 queries verified; server RSS {rss_warm} KiB after 8, {rss_end} KiB after 200")
    finally:
        check(srv.stop() == 0, "server exit")


def case_sigterm():
    """SIGTERM mid-load: every accepted request is answered with a proof that verifies; new ones are refused."""
    model = os.path.join(SRC, "examples/fashion_mnist/fcquad.onnx")
    inp = tmp("images.npy")
    with open(inp, "wb") as f:
        f.write(make_npy(256, 784, 0.5))
    srv = Server(BIN, [model], "--engine", "cpu", "--workers", "1", "--queue", "32")
    body = npy_bytes(inp)
    results = []

    def send():
        try:
            status, data, _ = srv.request("POST", "/v1/prove?model=fcquad", body)
            results.append((status, data))
        except OSError as e:
            results.append((None, str(e)))

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline:  # until all 12 are accepted, one proof running and >= 4 waiting
        status, met = srv.json("GET", "/v1/metrics")
        accepted = met["running"] + met["queue_length"] + met["proofs"]
        if accepted == 12 and met["running"] >= 1 and met["queue_length"] >= 4:
            break
        time.sleep(0.01)
    check(accepted == 12 and met["queue_length"] >= 4, f"no queue formed: {met}")
    srv.proc.send_signal(15)
    time.sleep(0.3)
    try:
        status, _, _ = srv.request("POST", "/v1/prove?model=fcquad", body, timeout=10)
        check(status == 503, f"a new request during the drain got {status}")
    except OSError:
        pass  # or the listener is already closed: refused either way
    for t in threads:
        t.join(300)
    code = srv.stop()
    check(code == 0, f"server exit {code}")
    check(len(results) == 12 and all(s == 200 for s, _ in results), f"lost: {[s for s, _ in results]}")
    with open(tmp("drained.nnp"), "wb") as f:
        f.write(results[-1][1])
    r = run([BIN, "verify", "--model", model, "--input", inp, "--proof", tmp("drained.nnp")])
    check(r.returncode == 0, "a drained proof does not verify: " + r.stdout)
    check(len(set(d for _, d in results)) == 1, "the same request got different bundles")
    check(any("SIGTERM" in l for l in srv.lines), "\n".join(srv.lines))


def case_timeout():
    """--request-timeout: proofs still queued or running past it are answered 504; the server keeps serving."""
    model = os.path.join(SRC, "examples/fashion_mnist/cnn2quad.onnx")  # ten proofs of 256 images: > 1 s
    body = make_npy(256, 784, 0.5)
    srv = Server(BIN, [model, MODEL], "--engine", "cpu", "--workers", "1", "--threads", "1", "--queue", "16",
                 "--field", "m127", "--request-timeout", "1")
    results = []

    def send():
        status, data, _ = srv.request("POST", "/v1/prove?model=cnn2quad", body)
        results.append((status, data))

    try:
        threads = [threading.Thread(target=send) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        statuses = sorted(s for s, _ in results)
        check(len(results) == 10 and set(statuses) <= {200, 504} and 504 in statuses, f"statuses: {statuses}")
        late = [d for s, d in results if s == 504][0]
        check(b"--request-timeout" in late, late)
        r = query(srv.url)
        check(r.returncode == 0, f"after the timeouts: {r.stdout} {r.stderr}")
    finally:
        check(srv.stop() == 0, "server exit")


def case_disconnect():
    """A client that closes its connection frees its queued proof: it is dropped, not run for nobody."""
    model = os.path.join(SRC, "examples/fashion_mnist/cnn2quad.onnx")
    body = make_npy(256, 784, 0.5)
    srv = Server(BIN, [model], "--engine", "cpu", "--workers", "1", "--threads", "1", "--field", "m127")
    try:
        conns = []
        for _ in range(4):
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=300)
            c.request("POST", "/v1/prove?model=cnn2quad", body)
            conns.append(c)
        deadline = time.time() + 60
        while time.time() < deadline:  # all four accepted: one running, three waiting
            status, met = srv.json("GET", "/v1/metrics")
            if met["running"] + met["queue_length"] + met["proofs"] == 4:
                break
            time.sleep(0.01)
        for c in conns[1:]:
            c.close()
        r = conns[0].getresponse()
        check(r.status == 200 and len(r.read()) > 0, f"the client that stayed: {r.status}")
        deadline = time.time() + 120
        while time.time() < deadline:
            status, met = srv.json("GET", "/v1/metrics")
            if met["running"] + met["queue_length"] == 0 and met["abandoned"] + met["proofs"] >= 4:
                break
            time.sleep(0.05)
        check(met["proofs"] + met["abandoned"] == 4 and met["abandoned"] >= 2, f"metrics: {met}")
        print(f"disconnect: {met['abandoned']} of 3 closed connections' proofs dropped, {met['proofs']} proved")
        with open(tmp("one.npy"), "wb") as f:
            f.write(make_npy(1, 784))
        r = query(srv.url, model=model, inp=tmp("one.npy"))
        check(r.returncode == 0, f"after the disconnects: {r.stdout} {r.stderr}")
    finally:
        check(srv.stop() == 0, "server exit")


def labels_file(name, values):
    path = tmp(name)
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (%d,), }" % len(values)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
                + b"".join(v.to_bytes(8, "little", signed=True) for v in values))
    return path


def case_train():
    """query --train: the trained model is written only when verify-training accepts it (0 or 3)."""
    labels = labels_file("train-labels.npy", [0, 1, 2, 3, 0, 1, 2, 3])
    srv = Server(BIN, [MODEL], "--engine", "cpu")
    proxy = Tamperer(srv)
    train = ["--train", "--data", INPUT, "--labels", labels, "--epochs", "2", "--field", "m127", "--lr", "0.125"]
    try:
        out = tmp("trained.onnx")
        r = query(srv.url, *train, "--out", out, "--save-proof", tmp("t.nnpt"), inp="")
        check(r.returncode in (0, 3) and os.path.exists(out), f"train: {r.returncode} {r.stdout} {r.stderr}")
        check("VERIFIED" in r.stdout and "server: epoch 2" in r.stderr, r.stdout + r.stderr)
        v = run([BIN, "verify-training", "--model", out, "--data", INPUT, "--labels", labels, "--proof", tmp("t.nnpt"),
                 "--lr", "0.125"])
        check(v.returncode == r.returncode, f"verify-training says {v.returncode}: {v.stdout}")
        for mode in ("swap_model", "flip_proof"):
            proxy.mode = mode
            bad = tmp(f"{mode}.onnx")
            r = query(proxy.url, *train, "--out", bad, inp="")
            check(r.returncode == 1 and "REJECTED" in r.stdout, f"{mode}: {r.returncode} {r.stdout} {r.stderr}")
            check(not os.path.exists(bad), f"{mode}: a rejected model was written")
        status, before = srv.json("GET", "/v1/metrics")
        r = query(srv.url, "--train", "--data", INPUT, "--labels", labels_file("bad.npy", [9] * 8), "--out",
                  tmp("x.onnx"), inp="")
        check(r.returncode == 2, f"the client's bad labels: {r.returncode} {r.stderr}")
        status, after = srv.json("GET", "/v1/metrics")
        check(after["requests"] == before["requests"] + 1, "the client sent bad labels to the server")
        r = query(srv.url, *train[:-4], "--field", "m61", "--lr", "1", "--out", tmp("y.onnx"), inp="")
        check(r.returncode in (0, 3, 4), f"m61 training: {r.returncode} {r.stderr}")
        if r.returncode == 4:
            check("the training job failed" in r.stderr, r.stderr)
    finally:
        proxy.close()
        check(srv.stop() == 0, "server exit")


def case_tls():
    """HTTPS with a certificate: query checks it against --tls-ca; without the CA it cannot connect."""
    cert, key = tmp("cert.pem"), tmp("key.pem")
    r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
    check(r.returncode == 0, r.stderr)
    srv = Server(BIN, [MODEL], "--engine", "cpu", "--tls-cert", cert, "--tls-key", key)
    try:
        r = query(srv.url, "--tls-ca", cert)
        check(r.returncode == 0 and r.stdout == "VERIFIED\n", f"https: {r.stdout} {r.stderr}")
        r = query(srv.url)
        check(r.returncode == 4, f"an unknown CA was accepted: {r.returncode} {r.stderr}")
        r = query(srv.url.replace("https", "http"))
        check(r.returncode in (1, 4), f"plain HTTP to an HTTPS server: {r.returncode}")
    finally:
        check(srv.stop() == 0, "server exit")


def case_python_example():
    """docs/SERVICE.md's Python client (examples/service/client.py) proves and nnproof verify accepts."""
    srv = Server(BIN, [MODEL], "--engine", "cpu")
    try:
        example = os.path.join(SRC, "examples/service/client.py")
        r = run([sys.executable, example, srv.url, "model", INPUT, tmp("py.nnp")])
        check(r.returncode == 0, f"example: {r.stdout} {r.stderr}")
        check(read(tmp("py.nnp")) == proved_by_cli(), "the example's bundle differs from nnproof prove's")
        r = run([BIN, "verify", "--model", MODEL, "--input", INPUT, "--proof", tmp("py.nnp")])
        check(r.returncode == 0, r.stdout)
    finally:
        check(srv.stop() == 0, "server exit")


if __name__ == "__main__":
    try:
        globals()["case_" + CASE]()
        print(f"service {CASE}: ok")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
