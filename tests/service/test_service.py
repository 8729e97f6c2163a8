#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`nnproof serve` and `nnproof query` end to end on 127.0.0.1 (docs/SERVICE.md): the API,
byte-identical bundles, tampering servers, hostile requests, load, TLS, the documented Python client.

Usage: test_service.py NNPROOF_BIN SOURCE_DIR CASE, CASE one of the functions named case_*.
Each case starts its own servers (ports they pick), stops them, and fails on any unmet property.
"""
import concurrent.futures
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import BIN, INPUT, MODEL, SRC, check, main, other_model, proved_by_cli, query, read, tmp  # noqa: E402
from harness import Server, make_npy, npy_bytes, run  # noqa: E402
from tamperer import Tamperer  # noqa: E402


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
        # Ten requests before this one (each counted before its reply is written); one failed.
        check(met["queue_length"] == 0 and met["requests"] == 10 and met["failures"] == 1, f"metrics: {met}")
    finally:
        code = srv.stop()
    check(code == 0, f"server exit {code}")
    logged = [l for l in srv.lines if l.startswith("nnproof serve: 127.0.0.1:")]
    check(len(logged) == 11, "one log line per request: " + "\n".join(srv.lines))
    check(srv.lines[-1].startswith("nnproof serve: stopped after 11 requests (1 failed)"), srv.lines[-1])
    check(any("POST /v1/prove model=model batch=8 status=200" in l for l in logged), "\n".join(logged))


def case_tamper():
    """query rejects (exit 1) whatever a tampering server changes, and writes nothing."""
    srv = Server(BIN, [MODEL, other_model()], "--engine", "cpu")
    proxy = Tamperer(srv, read(MODEL))
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
            r = query(proxy.url, "--output", y, *(["--timeout", "2"] if mode == "stall" else []))
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


def case_odd_image():
    """A CNN whose 5 x 6 image pads to 8 x 8 in version 3's tables: query sizes the bundle it accepts
    and the soundness it reports by the padded tables (not the model's dense shape), both ways."""
    fixtures = os.path.join(SRC, "tests", "fixtures", "service")
    model, inp = os.path.join(fixtures, "odd_cnn.onnx"), os.path.join(fixtures, "odd_input.npy")
    srv = Server(BIN, [model], "--engine", "cpu")
    try:
        r = run([BIN, "prove", "--model", model, "--input", inp, "--proof", tmp("odd.nnp")])
        check(r.returncode == 0, r.stderr)
        bits = float((r.stdout + r.stderr).split(" bits")[0].split()[-1])  # "..., m61, 116.2 bits, proof ..."
        r = query(srv.url, "--json", "--save-proof", tmp("served.nnp"), model=model, inp=inp)
        check(r.returncode == 0, f"query: {r.returncode} {r.stdout} {r.stderr}")
        check(read(tmp("served.nnp")) == read(tmp("odd.nnp")), "the served bundle differs from prove's")
        v = json.loads(r.stdout)
        check(v["verdict"] == "VERIFIED" and abs(v["soundness_bits"] - bits) < 0.05, f"{r.stdout} vs {bits}")
        r = query(srv.url, "--interactive", "--json", model=model, inp=inp)
        check(r.returncode == 0, f"interactive: {r.returncode} {r.stdout} {r.stderr}")
        v = json.loads(r.stdout)
        check(v["verdict"] == "VERIFIED" and v["soundness_bits"] >= 100, r.stdout)
    finally:
        check(srv.stop() == 0, "server exit")


def case_chunked():
    """A server under --max-memory answers a batch too large for one proof with a chunked bundle
    (docs/FORMAT.md): query verifies it chunk by chunk, with the outputs of one proof of the batch."""
    model = os.path.join(SRC, "examples/fashion_mnist/cnn2quad.onnx")
    inp = tmp("images64.npy")
    with open(inp, "wb") as f:
        f.write(make_npy(64, 784, 0.5))
    srv = Server(BIN, [model], "--engine", "cpu", "--field", "m127", "--max-memory", "150M")
    try:
        r = query(srv.url, "--json", "--save-proof", tmp("chunked.nnp"), "--output", tmp("served.npy"),
                  model=model, inp=inp)
        check(r.returncode == 0, f"query: {r.returncode} {r.stdout} {r.stderr}")
        v = json.loads(r.stdout)
        check(v["verdict"] == "VERIFIED" and v["soundness_bits"] >= 100, r.stdout)
        r = run([BIN, "inspect", "--json", tmp("chunked.nnp")])
        check(r.returncode == 0 and json.loads(r.stdout)["chunks"] > 1, f"not chunked: {r.stdout} {r.stderr}")
        r = run([BIN, "prove", "--model", model, "--input", inp, "--field", "m127", "--proof", tmp("one.nnp"),
                 "--output", tmp("one.npy")])
        check(r.returncode == 0, r.stderr)
        check(read(tmp("served.npy")) == read(tmp("one.npy")), "chunked outputs differ from one proof's")
    finally:
        check(srv.stop() == 0, "server exit")


def case_hostile():
    """Refusals for hostile or broken requests, no work without the token, and the server keeps serving."""
    token = tmp("token")
    with open(token, "w") as f:
        f.write("s3cret-token\n")
    auth = {"Authorization": "Bearer s3cret-token"}
    srv = Server(BIN, [MODEL], "--engine", "cpu", "--token-file", token, "--max-request-bytes", "300000",
                 "--max-batch", "64", "--idle-timeout", "8")
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
        # No growth with the number of requests: 192 more requests, at most 32 MiB more memory. Under
        # AddressSanitizer freed memory waits in its quarantine (up to 256 MiB), so RSS grows with
        # the requests whatever the server does: the bound is checked in the release build only.
        if os.environ.get("NNPROOF_SANITIZED") == "1":
            print(f"load: memory bound not checked under ASan (RSS {rss_warm} -> {rss_end} KiB: quarantine)")
        else:
            check(rss_end - rss_warm < 32 * 1024, f"memory grew from {rss_warm} KiB to {rss_end} KiB")
        print(f"load: 200 queries verified; server RSS {rss_warm} KiB after 8, {rss_end} KiB after 200")
    finally:
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
    main(globals())
