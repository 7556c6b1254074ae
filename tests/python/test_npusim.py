"""import npusim: the Python API returns what the command line writes.

Run by ctest (python_api) with PYTHONPATH=build/python, NPUSIM the command
and NPUSIM_SOURCE_DIR the repository."""

import json
import os
import subprocess
import tempfile

import pytest

import npusim

SRC = os.environ["NPUSIM_SOURCE_DIR"]
CLI = os.environ["NPUSIM"]
HW = os.path.join(SRC, "examples/hw/npu-128x128-ideal.textproto")


def cli_json(*args, output="--report"):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.json")
        subprocess.run([CLI, *args, output, path], check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            return json.load(f)


def test_run_equals_the_command_lines_report():
    options = dict(system=HW, layer="tiny", kv_len=64, batch=4, set=["core.array.count=2"])
    report = npusim.run(**options)
    assert report == cli_json("run", "--system", HW, "--layer", "tiny", "--kv-len", "64",
                              "--batch", "4", "--set", "core.array.count=2", "--quiet")
    assert report["cycles"] > 0 and report["limiter"]["resource"]


def test_memtest_and_compile_equal_the_command_line():
    assert npusim.memtest(dram="HBM3-6400", requests=2000) == cli_json(
        "memtest", "--dram", "HBM3-6400", "--requests", "2000", "--quiet")
    program = npusim.compile(system=HW, layer="tiny")
    assert program == cli_json("compile", "--system", HW, "--layer", "tiny", output="--output")
    assert len(program["cores"][0]["dma"]) > 0


def test_sweep_rows_load_into_pandas_and_match_runs():
    pandas = pytest.importorskip("pandas")
    rows = npusim.sweep(system=HW, layer="tiny", kv_len=64,
                        vary={"batch": [1, 4], "core.array.count": [1, 2]})
    frame = pandas.DataFrame(rows)
    assert list(frame["batch"]) == [1, 1, 4, 4]
    assert frame["tokens_per_s"].dtype.kind == "f"
    last = npusim.run(system=HW, layer="tiny", kv_len=64, batch=4, set=["core.array.count=2"])
    assert frame["cycles"].iloc[3] == int(last["cycles"])
    # Batch 4 decodes more tokens per second than batch 1.
    assert frame["tokens_per_s"].iloc[2] > 2 * frame["tokens_per_s"].iloc[0]


def test_a_sweep_with_a_csv_resumes(tmp_path):
    csv = str(tmp_path / "s.csv")
    first = npusim.sweep(system=HW, layer="tiny", vary=["batch=1,2"], csv=csv)
    assert os.path.exists(csv + ".journal")
    assert npusim.sweep(system=HW, layer="tiny", vary=["batch=1,2"], csv=csv) == first


def test_bad_input_raises_npusim_error_with_the_command_lines_message():
    with pytest.raises(npusim.Error, match="--batch: '0' is not an integer between 1 and 65536"):
        npusim.run(system=HW, layer="tiny", batch=0)
    with pytest.raises(ValueError, match="unknown option --bogus"):
        npusim.run(system=HW, layer="tiny", bogus=1)
    assert npusim.__version__.count(".") == 2
