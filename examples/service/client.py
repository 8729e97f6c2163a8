#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A client of `nnproof serve` in Python's standard library (docs/SERVICE.md; tested by ctest).

Usage: client.py SERVER_URL MODEL_NAME INPUT.npy PROOF_OUT.nnp [TOKEN]
Lists the server's models, sends INPUT.npy to POST /v1/prove and writes the proof bundle. Verify it
against your own copy of the model before you use its outputs:
    nnproof verify --model M.onnx --input INPUT.npy --proof PROOF_OUT.nnp --output Y.npy
(`nnproof query` does both steps in one command.)
"""
import json
import sys
import urllib.error
import urllib.request

url, model, inp, out = sys.argv[1:5]
headers = {"Authorization": "Bearer " + sys.argv[5]} if len(sys.argv) > 5 else {}

with urllib.request.urlopen(urllib.request.Request(url + "/v1/models", headers=headers)) as r:
    for m in json.load(r)["models"]:
        print(f"{m['name']}: binding {m['model_binding'][:16]}..., field {m['field']}, input {m['input_shape']}")

with open(inp, "rb") as f:
    req = urllib.request.Request(url + "/v1/prove?model=" + model, data=f.read(), method="POST",
                                 headers={**headers, "Content-Type": "application/octet-stream"})
try:
    with urllib.request.urlopen(req, timeout=600) as r:
        bundle = r.read()
except urllib.error.HTTPError as e:  # 400 bad input, 401 token, 404 model, 413 too large, 503 busy
    sys.exit(f"server refused: {e.code} {json.load(e)['error']}")
with open(out, "wb") as f:
    f.write(bundle)
print(f"{len(bundle)} bytes of proof -> {out}")
