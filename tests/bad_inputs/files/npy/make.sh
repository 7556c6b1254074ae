#!/usr/bin/env bash
# Writes the .npy files the npy bad-input cases use (needs python3-numpy,
# which python3-matplotlib brings). The files are committed; run this only
# to change them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
/usr/bin/python3 - <<'PY'
import numpy as np
x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(2, 16)
np.save("x.npy", x)
np.save("x_wrong_shape.npy", x.reshape(4, 8))
np.save("x_too_few.npy", x[:1])
bad = x.copy(); bad[1, 3] = np.nan
np.save("x_nan.npy", bad)
inf = x.copy(); inf[0, 0] = np.inf
np.save("x_inf.npy", inf)
np.save("x_fortran.npy", np.asfortranarray(np.ones((2, 16), np.float32) + np.eye(2, 16, dtype=np.float32)))
np.save("x_big_endian.npy", x.astype(">f4"))
np.save("x_complex.npy", x.astype(np.complex64))
np.save("x_int_past_2p24.npy", np.full((2, 16), 2**30, np.int64))
np.save("x_past_fp16.npy", np.full((2, 16), 1e5, np.float32))
w = (np.arange(16 * 8, dtype=np.float32).reshape(16, 8) % 7 - 3) / 8
np.save("w.npy", w)
# What the NPU computes: fp16 operands, fp32 sums, an fp16 result.
y = (x.astype(np.float16).astype(np.float32) @ w.astype(np.float16).astype(np.float32))
np.save("y.npy", y.astype(np.float16).astype(np.float32))
np.save("y_wrong_shape.npy", np.zeros((8, 2), np.float32))
np.save("y_far.npy", np.full((2, 8), 100, np.float32))
with open("x_truncated.npy", "wb") as f:
    f.write(open("x.npy", "rb").read()[:-10])
with open("x_long.npy", "wb") as f:
    f.write(open("x.npy", "rb").read() + b"\0" * 8)
raw = open("x.npy", "rb").read()
with open("x_header_cut.npy", "wb") as f:
    f.write(raw[:20])
with open("x_bad_header.npy", "wb") as f:
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 16, }" + b" " * 57 + b"\n"
    f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + raw[128:])
with open("x_huge_shape.npy", "wb") as f:
    hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }"
    hdr += b" " * (127 - 10 - len(hdr)) + b"\n"
    f.write(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr + b"\0" * 16)
PY
