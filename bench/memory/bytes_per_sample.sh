#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak resident memory of `nnproof prove` and `nnproof verify` (GNU time's "Maximum resident set
# size") at two batch sizes per model, the marginal bytes per sample between them, and the
# prover's own estimate (prove --dry-run --json) at the larger batch: docs/PERFORMANCE.md, "Memory".
#   bench/memory/bytes_per_sample.sh [BIN] [B1] [B2]     (default build/host/nnproof 256 1024)
set -euo pipefail
bin=${1:-build/host/nnproof} b1=${2:-256} b2=${3:-1024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 examples/service/timit_model.py "$work/timit.onnx" "$work/timit_unused.npy" 1 >/dev/null
# model|per-sample shape|inputs (unit: 8-bit pixels / 255, u8: integers 0..255, bit: 0 or 1)|field flag
models=(
  "examples/mlp/model.onnx|16|bit|"
  "examples/fashion_mnist/fcquad.onnx|1,28,28|unit|"
  "examples/fashion_mnist/cnn2quad.onnx|1,28,28|unit|--field m127"
  "examples/cifar_cnn/cifar_cnn.onnx|3,32,32|u8|"
  "$work/timit.onnx|1845|bit|"
)
rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }  # KiB
printf '| model | field | prove B/sample | verify B/sample | prove peak at %s | estimate at %s | verify peak at %s |\n' "$b2" "$b2" "$b2"
printf '|---|---|---|---|---|---|---|\n'
for entry in "${models[@]}"; do
  IFS='|' read -r model shape kind field <<<"$entry"
  for b in "$b1" "$b2"; do
    /usr/bin/python3 -c "
import numpy as np, sys
shape = (int(sys.argv[2]),) + tuple(int(s) for s in sys.argv[3].split(','))
top = {'unit': 256, 'u8': 256, 'bit': 2}[sys.argv[4]]
x = np.random.default_rng(1).integers(0, top, shape).astype(np.float32)
np.save(sys.argv[1], x / 255 if sys.argv[4] == 'unit' else x)
" "$work/x$b.npy" "$b" "$shape" "$kind"
    # shellcheck disable=SC2086
    p[$b]=$(rss "$bin" prove --model "$model" --input "$work/x$b.npy" --proof "$work/p$b.nnp" $field)
    v[$b]=$(rss "$bin" verify --model "$model" --input "$work/x$b.npy" --proof "$work/p$b.nnp")
  done
  # shellcheck disable=SC2086
  est=$("$bin" prove --model "$model" --input "$work/x$b2.npy" --dry-run --json $field |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['plan_peak_bytes'] >> 20)")
  fname=$("$bin" inspect "$work/p$b2.nnp" --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['field'])")
  printf '| %s | %s | %d | %d | %d MiB | %d MiB | %d MiB |\n' "$(basename "$model")" "$fname" \
    $(((p[$b2] - p[$b1]) * 1024 / (b2 - b1))) $(((v[$b2] - v[$b1]) * 1024 / (b2 - b1))) \
    $((p[$b2] / 1024)) "$est" $((v[$b2] / 1024))
done
