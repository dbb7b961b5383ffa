"""The default model preset: chosen from the install's measurements, trusted only on its CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_lsp import cpu, machine, models

GIB = 1024**3


def measured(preset: str, decode: float, rss: float) -> machine.Measurement:
    return machine.Measurement(preset, decode, 200.0, int(rss * GIB), " a + b")


# Short-prompt decode rates of the kind `spark-lsp model measure` gives on each machine.
XEON_SMALL, XEON_LARGE = measured("small", 30.0, 0.8), measured("large", 15.0, 2.0)
ZEN1_SMALL, ZEN1_LARGE = measured("small", 14.0, 0.8), measured("large", 7.5, 2.0)


def test_the_large_preset_is_the_default_where_it_stays_interactive_and_fits() -> None:
    choice = machine.choose(XEON_SMALL, XEON_LARGE, 20 * GIB)
    assert choice.preset == "large"
    assert "15.0 tokens/s" in choice.reason and "2.0 GiB" in choice.reason


def test_a_slow_large_preset_or_too_little_memory_keeps_the_small_one() -> None:
    slow = machine.choose(ZEN1_SMALL, ZEN1_LARGE, 20 * GIB)
    assert slow.preset == "small" and "7.5 tokens/s" in slow.reason
    tight = machine.choose(XEON_SMALL, XEON_LARGE, 3 * GIB)
    assert tight.preset == "small" and "3.0 GiB are available" in tight.reason


def test_the_large_preset_is_not_even_downloaded_where_the_small_one_is_slow() -> None:
    assert machine.large_could_be_interactive(XEON_SMALL)
    assert not machine.large_could_be_interactive(measured("small", 10.0, 0.8))
    choice = machine.choose(measured("small", 10.0, 0.8), None, 20 * GIB)
    assert choice.preset == "small" and "would fall short" in choice.reason


def write(tmp_path: Path, cpu_model: str, preset: str) -> Path:
    path = tmp_path / "machine.json"
    record = machine.Record(cpu=cpu_model, choice={"preset": preset, "reason": f"{preset}: why"})
    machine.write_record(record, path)
    return path


def test_auto_follows_the_record_of_this_cpu(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(models.MODEL_ENV)
    here = cpu.cpu_report(probe=False).model
    monkeypatch.setattr(models, "installed", lambda model: True)
    assert models.machine_choice(write(tmp_path, here, "large")) == machine.Choice(
        "large", "large: why"
    )
    other = models.machine_choice(write(tmp_path, "another CPU", "large"))
    assert other.preset == "small" and "another CPU" in other.reason
    assert models.machine_choice(tmp_path / "none.json").preset == "small"
    monkeypatch.setattr(models, "installed", lambda model: model is not models.LARGE_MODEL)
    missing = models.machine_choice(write(tmp_path, here, "large"))
    assert missing.preset == "small" and "not installed" in missing.reason


def test_a_damaged_record_is_no_record(tmp_path) -> None:
    path = tmp_path / "machine.json"
    path.write_text("{not json")
    assert machine.read_record(path) is None
    path.write_text('["a list"]')
    assert machine.read_record(path) is None
    path.write_text('{"cpu": "x", "choice": "large"}')
    assert machine.read_record(path) is None
    path.write_text('{"cpu": "x", "choice": {"preset": ["large"]}}')
    assert machine.read_record(path) is None


def test_preset_names() -> None:
    assert models.preset_name("small") == "small" and models.preset_name("large") == "large"
    assert models.PRESETS["default"] is models.PRESETS["small"]  # the older name keeps working
    assert models.preset_name("/models/x.gguf") is None
    assert models.preset_name(None, hf_repo="org/repo") is None
    assert models.preset_name("auto") in ("small", "large")


def test_the_environment_can_name_the_preset(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.MODEL_ENV, "default")
    assert models.machine_choice(tmp_path / "none.json") == machine.Choice(
        "small", "small: set by SPARK_LSP_MODEL"
    )
    monkeypatch.setenv(models.MODEL_ENV, "/tmp/evil.gguf")  # presets only: a path is ignored
    assert "SPARK_LSP_MODEL" not in models.machine_choice(tmp_path / "none.json").reason


def test_a_busy_cpu_is_waited_for_and_reported() -> None:
    readings = iter([0.9, 0.8, 0.1])
    assert machine.wait_until_quiet(lambda: next(readings), wait_s=60) == 0.1
    assert machine.wait_until_quiet(lambda: 0.95, wait_s=0) == 0.95  # gave up: said, not hidden
    fraction = machine.cpu_busy_fraction(0.2)
    assert fraction is None or 0.0 <= fraction <= 1.0
