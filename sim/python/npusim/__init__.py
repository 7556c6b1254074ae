"""npusim from Python.

run, sweep, compile and memtest take the command line's options as keyword
arguments (``kv_len=2048`` for ``--kv-len 2048``; a list repeats an option,
``set=["core.array.rows=256", "memory.dram.stacks=4"]``; ``True`` gives a
flag) and return what the command writes as JSON, as a dict: the same
report, field for field. ``sweep`` returns its CSV's rows, ready for
``pandas.DataFrame``.

    import npusim, pandas
    rows = npusim.sweep(system="examples/hw/npu-hbm3.textproto",
                        model="examples/models/llama2-7b.json", layers=4,
                        vary={"batch": [1, 4, 16]})
    pandas.DataFrame(rows)[["batch", "tokens_per_s", "bound"]]

Bad input raises npusim.Error (a ValueError) with the command line's message.
"""

import csv as _csv
import json as _json
import os as _os
import tempfile as _tempfile

from . import _npusim

Error = _npusim.Error
__version__ = _npusim.__version__

__all__ = ["Error", "run", "sweep", "compile", "memtest", "command"]


def _argv(options):
    argv = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def command(name, *args):
    """Runs ``npusim NAME ARGS...`` in this process (its output goes to stdout)."""
    return _npusim.command(name, [str(a) for a in args])


def _json_of(name, options, output_flag):
    with _tempfile.TemporaryDirectory(prefix="npusim-") as tmp:
        path = _os.path.join(tmp, "out.json")
        _npusim.command(name, _argv(options) + [output_flag, path])
        with open(path) as f:
            return _json.load(f)


def run(**options):
    """``npusim run``: the report of one simulation, as a dict."""
    return _json_of("run", dict(options, quiet=True), "--report")


def memtest(**options):
    """``npusim memtest``: the memory's report, as a dict."""
    return _json_of("memtest", dict(options, quiet=True), "--report")


def compile(emit="isa", **options):
    """``npusim compile --emit EMIT``: the program (or graph), as a dict."""
    return _json_of("compile", dict(options, emit=emit), "--output")


def _number(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def sweep(vary, csv=None, **options):
    """``npusim sweep``: one dict per point, the CSV's columns (numbers as numbers).

    vary: {"batch": [1, 4], "memory.dram.stacks": [4, 5]} or a list of
    "field=v1,v2" strings. With csv=FILE the CSV (and its journal) stay there,
    and the same call again resumes.
    """
    if isinstance(vary, dict):
        vary = ["{}={}".format(k, ",".join(str(v) for v in vs)) for k, vs in vary.items()]
    with _tempfile.TemporaryDirectory(prefix="npusim-") as tmp:
        path = csv or _os.path.join(tmp, "sweep.csv")
        _npusim.command("sweep", _argv(dict(options, vary=list(vary), quiet=True, csv=path)))
        with open(path, newline="") as f:
            return [{k: _number(v) for k, v in row.items()} for row in _csv.DictReader(f)]
