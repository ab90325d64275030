"""The benchmark script runs and writes the JSON it documents (its times are not tested)."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"

CONV_ROW_KEYS = {"name", "in_suite", "x_shape", "weight_shape", "stride", "padding", "groups",
                 "lessonlib_ms", "lessonlib_cpu_ms", "lessonlib_spread_pct", "torch_ms",
                 "torch_cpu_ms", "ratio", "cpu_ratio", "runs"}


def run_bench(tmp_path, *args):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--output", str(out), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text()), proc.stdout


def test_quick_conv_section_writes_the_documented_json(tmp_path):
    result, stdout = run_bench(tmp_path, "--quick", "--only", "conv", "--tiny", "--no-torch")
    assert set(result) == {"environment", "options", "conv", "targets"}
    assert result["environment"]["threads_requested"] == 1
    assert result["options"]["sections"] == ["conv"]
    conv = result["conv"]
    assert {"rows", "geomean_ratio", "geomean_cpu_ratio", "loops", "load_average"} <= set(conv)
    assert len(conv["rows"]) == 1
    row = conv["rows"][0]
    assert CONV_ROW_KEYS <= set(row), CONV_ROW_KEYS - set(row)
    assert row["runs"] == 3
    assert row["torch_ms"] is None and row["ratio"] is None    # --no-torch: empty columns
    assert {"name", "loops_ms", "fast_ms", "slowdown"} <= set(conv["loops"])
    assert "conv2d forward + backward" in stdout


def test_unknown_section_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(RUN), "--only", "gpu",
                           "--output", str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert "invalid choice: 'gpu'" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_negative_threads_are_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(RUN), "--threads", "-1",
                           "--output", str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert "--threads must be >= 0" in proc.stderr
