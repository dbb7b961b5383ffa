"""install.py: the README's install builds llama.cpp for this CPU and keeps one build per flags."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from spark_lsp import cpu

ROOT = Path(__file__).resolve().parent.parent


def load_install() -> ModuleType:
    spec = importlib.util.spec_from_file_location("spark_install", ROOT / "install.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.+?)\n```", readme)


def test_ci_runs_the_readme_test_command_and_both_commands_use_the_install_script() -> None:
    start, test = readme_commands()[:2]
    assert start.startswith("python3 install.py && ")
    assert test.startswith("python3 install.py --dev && ")
    assert "CMAKE_ARGS" not in start + test  # the project chooses the flags, not the user
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == test


def test_each_set_of_flags_keeps_its_own_build(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    install = load_install()
    monkeypatch.setenv("SPARK_LSP_CACHE_DIR", str(tmp_path))
    avx2 = install.wheel_dir("-DGGML_AVX2=ON")
    avx512 = install.wheel_dir("-DGGML_AVX2=ON -DGGML_AVX512=ON")
    assert avx2 != avx512 and avx2.parent == avx512.parent == tmp_path / "llama-cpp-wheels"
    assert install.wheel_dir("-DGGML_AVX2=ON") == avx2
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_AVX2=OFF")
    assert install.chosen_cmake_args()[0] == "-DGGML_AVX2=OFF"  # the user's override wins


def test_the_installed_build_uses_every_instruction_set_this_cpu_offers() -> None:
    """What install.py chose, checked on the build the tests run on (this machine's)."""
    from llama_cpp import llama_cpp

    system_info = llama_cpp.llama_print_system_info().decode()
    report = cpu.cpu_report()
    build = cpu.build_features(system_info)
    assert cpu.unused_features(report.features, build) == []
    if report.machine == "x86_64":
        assert not (build & cpu.FEATURE_NAMES) - report.features


def test_a_kept_wheel_is_reused_only_while_its_recorded_hash_matches(monkeypatch, tmp_path) -> None:
    install = load_install()
    monkeypatch.setenv("SPARK_LSP_CACHE_DIR", str(tmp_path))
    built = tmp_path / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    built.write_bytes(b"a wheel")
    directory = install.wheel_dir("-DGGML_AVX2=ON")
    wheel = install.keep_wheel(built, directory, "-DGGML_AVX2=ON")
    assert install.kept_wheel(directory) == wheel
    assert json.loads((directory / "wheel.json").read_text())["cmake_args"] == "-DGGML_AVX2=ON"
    wheel.write_bytes(b"a wheel, changed")  # a truncated download, a tampered cache
    assert install.kept_wheel(directory) is None
    (directory / "wheel.json").unlink()
    assert install.kept_wheel(directory) is None  # a build of an older install.py: no record


MEASUREMENT = {
    "preset": "small",
    "decode_tokens_per_s": 21.5,
    "prompt_tokens_per_s": 240.0,
    "rss_bytes": 800_000_000,
    "answer": " a + b",
}
DIES_OF_SIGILL = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
ANSWERS = [sys.executable, "-c", f"print({json.dumps(json.dumps(MEASUREMENT))})"]


def test_a_build_whose_proving_decode_dies_of_sigill_falls_back_to_the_baseline(capsys) -> None:
    install = load_install()
    built: list[str] = []
    children = iter([DIES_OF_SIGILL, ANSWERS])
    record = install.machine.Record(cpu="test")
    args, measurement = install.proven_build(
        "-DGGML_AMX_INT8=ON",
        "-DGGML_AVX2=ON",
        built.append,
        lambda: install.prove(next(children)),
        record,
    )
    assert built == ["-DGGML_AMX_INT8=ON", "-DGGML_AVX2=ON"]
    assert args == "-DGGML_AVX2=ON" and measurement.decode_tokens_per_s == 21.5
    assert record.failed_builds == [
        {"cmake_args": "-DGGML_AMX_INT8=ON", "detail": "killed by SIGILL"}
    ]
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and "failed its proving decode (killed by SIGILL)" in said[0]
    assert "rebuilding once with the baseline" in said[0]


def test_when_the_baseline_fails_too_the_install_stops_with_the_reason() -> None:
    install = load_install()
    record = install.machine.Record(cpu="test")
    with pytest.raises(SystemExit, match="baseline build failed its proving decode too: killed"):
        install.proven_build(
            "-DGGML_AVX512=ON",
            "-DGGML_AVX2=ON",
            lambda _: None,
            lambda: install.prove(DIES_OF_SIGILL),
            record,
        )
    assert len(record.failed_builds) == 2


def test_a_proof_that_answers_garbage_or_nothing_is_a_failure() -> None:
    install = load_install()
    wrong = [sys.executable, "-c", "import sys; sys.exit('spark-lsp: error: the build answered x')"]
    assert install.prove(wrong) == (None, "spark-lsp: error: the build answered x")
    silent = [sys.executable, "-c", "pass"]
    assert install.prove(silent)[0] is None
