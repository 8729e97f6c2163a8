#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ctest Memory.ChunkedUnderAddressLimit (issue 19, item 4): 5000 images through the committed CNN
# (examples/fashion_mnist/cnn2quad.onnx, m127) with 1.5 GB of address space. One proof of the batch
# peaks at ~5.2 GiB (docs/PERFORMANCE.md, "Memory") and ended in std::bad_alloc; prove now reads the
# limit (its default --max-memory is 80% of it), proves in chunks, and verify checks them under the
# same limit. Forcing one proof (--max-memory 100G) must fail as one line naming --max-memory, exit
# 2. Then a tiny --max-memory on 64 images gives several chunks whose verified outputs are those of
# one proof.
#   check_address_limit.sh NNPROOF SOURCE_DIR WORK_DIR
set -euo pipefail
bin=$1 src=$2 work=$3
model="$src/examples/fashion_mnist/cnn2quad.onnx"
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 - "$work" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(19)
for n in (5000, 64):  # Fashion-MNIST-like: 8-bit pixels scaled to [0, 1]
    x = rng.integers(0, 256, (n, 1, 28, 28)).astype(np.float32) / 255
    np.save(f"{sys.argv[1]}/x{n}.npy", x)
PY

limited() { (ulimit -v 1500000 && "$@"); }  # KiB: 1.43 GiB of address space

# The whole batch in one proof does not fit: one line, exit 2, naming the flag.
set +e
limited "$bin" prove --model "$model" --input "$work/x5000.npy" --proof "$work/one.nnp" --field m127 \
  --max-memory 100G 2>"$work/oom.err"
code=$?
set -e
cat "$work/oom.err"
[ "$code" = 2 ] || { echo "one proof under 1.5 GB: exit $code, not 2"; exit 1; }
[ "$(wc -l <"$work/oom.err")" = 1 ] || { echo "the out-of-memory error is not one line"; exit 1; }
grep -q "out of memory.*--max-memory" "$work/oom.err"
[ ! -e "$work/one.nnp" ] || { echo "a failed prove left a proof file"; exit 1; }

# The default limit follows the address-space limit: chunks, then verified under the same limit.
limited "$bin" prove --model "$model" --input "$work/x5000.npy" --proof "$work/chunked.nnp" --field m127 \
  2>&1 | tee "$work/prove.log"
grep -q "proved 5000 samples in [0-9]* chunks" "$work/prove.log"
limited "$bin" verify --model "$model" --input "$work/x5000.npy" --proof "$work/chunked.nnp" \
  --output "$work/chunked.npy" | tee "$work/verify.log"
grep -qx VERIFIED "$work/verify.log"
"$bin" inspect "$work/chunked.nnp" | grep "^chunks:"

# A tiny --max-memory: several chunks, the same verified outputs as one proof of the batch.
"$bin" prove --model "$model" --input "$work/x64.npy" --proof "$work/small.nnp" --field m127 \
  --max-memory 150M 2>&1 | grep "in [0-9]* chunks"
"$bin" prove --model "$model" --input "$work/x64.npy" --proof "$work/whole.nnp" --field m127
for p in small whole; do
  "$bin" verify --model "$model" --input "$work/x64.npy" --proof "$work/$p.nnp" --output "$work/$p.npy" |
    grep -qx VERIFIED
done
cmp "$work/small.npy" "$work/whole.npy"
echo "chunked under 1.5 GB of address space: proved and verified; tiny --max-memory matches one proof"
