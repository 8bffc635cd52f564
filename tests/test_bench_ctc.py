"""benchmarks/bench_ctc.py keeps running: every section at a toy size, results agreeing with
the peers'."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ctc.py"


def test_bench_ctc_runs_at_a_toy_size(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # its shared helpers (_timing)
    spec = importlib.util.spec_from_file_location("bench_ctc", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    argv = ["--n", "3", "--t", "12", "--c", "5", "--s", "4", "--compile-t", "15"]
    argv += ["--pairs", "20", "--length", "8", "--repeats", "1", "--threads", "1"]
    assert bench.main(argv) == 0
    out, err = capsys.readouterr()
    assert "DIFFERS" not in err, err
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split(" | ")[0] for row in rows]
    assert sum(name == "| case" for name in names) == 3  # one table per section
    assert "| lossatlas.torch.CTCLoss()" in names
    assert "| lossatlas.ctc_loss, jit(value_and_grad)" in names
    assert "| edit_distance, lists of strings" in names
