#!/usr/bin/python3
"""The memory wall from Python: Llama-2-7B decode (2 of its 32 layers, and
the LM head) with a 2048-token KV cache on an NPU, batch 1 to 256, on HBM3
and on HBM4. Tokens/s rises with the batch (the weights are read once for
every sequence) but every point stays memory-limited: each sequence reads
its own KV cache. HBM4 moves the wall to the scratchpad's DMA port, so it
gains only a few percent.

  PYTHONPATH=build/python examples/python/memory_wall.py
"""
import os

import npusim
import pandas

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
rows = npusim.sweep(system=os.path.join(ROOT, "examples/hw/npu-hbm3.textproto"),
                    model=os.path.join(ROOT, "examples/models/llama2-7b.json"),
                    layers=2, kv_len=2048,
                    vary={"memory.dram.preset": ['"HBM3-6400"', '"HBM4-8000"'],
                          "batch": [1, 16, 256]})
wall = pandas.DataFrame(rows)
print(wall.pivot(index="batch", columns="memory.dram.preset", values="tokens_per_s").round(0))
print(wall[["memory.dram.preset", "batch", "bandwidth_share", "array_utilization", "bound",
            "bound_share"]].round(3).to_string(index=False))
