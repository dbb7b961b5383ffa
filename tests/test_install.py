"""install.py: the README's install builds llama.cpp for this CPU and keeps one build per flags."""

from __future__ import annotations

import importlib.util
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


def test_the_flags_follow_the_cpu_avx512_included_and_never_amx_unless_granted() -> None:
    flags = frozenset(
        ["avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_int8"]
    )
    args = cpu.cmake_args(cpu.llama_features(flags, amx_granted=False), "x86_64")
    assert "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_BF16=ON" in args
    assert "-DGGML_AVX512_VBMI=OFF" in args and "-DGGML_AMX_INT8=OFF" in args
    avx2_only = cpu.cmake_args(cpu.llama_features(frozenset({"avx", "avx2"}), False), "x86_64")
    assert "-DGGML_AVX2=ON" in avx2_only and "-DGGML_AVX512=OFF" in avx2_only
    assert cpu.cmake_args(frozenset(), "aarch64") == ""  # llama.cpp's own ARM detection


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
        assert not (build & {name for _, name in cpu.X86_FEATURES}) - report.features
