"""spark-lsp doctor: the CPU's features against the llama.cpp build's, threads, the model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spark_lsp import cpu, machine
from spark_lsp.cli.doctor import build_lines, thread_lines
from spark_lsp.engine.settings import EngineSettings

XEON_CPUINFO = Path(__file__).parent / "test_data" / "cpuinfo" / "xeon_sapphire_rapids_kvm.txt"
AVX2_BUILD = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 |"
AVX512_BUILD = AVX2_BUILD + " AVX512 = 1 | AVX512_VNNI = 1 |"
XEON_BUILD = AVX2_BUILD + (
    " AVX_VNNI = 1 | AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 |"
)


def xeon(amx: bool = False) -> cpu.CpuReport:
    model, flags = cpu.cpuinfo_flags(XEON_CPUINFO.read_text())
    return cpu.CpuReport(model, "x86_64", cpu.llama_features(flags, amx), 2)


def test_cpu_features_are_read_and_amx_counts_only_when_it_runs() -> None:
    report = xeon()
    assert report.model == "Intel(R) Xeon(R) Processor"
    assert {"AVX2", "AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"} <= report.features
    assert "AMX_INT8" not in report.features
    assert "AMX_INT8" in xeon(amx=True).features
    assert cpu.build_features(AVX2_BUILD) >= {"AVX2", "FMA", "OPENMP"}


def test_the_avx512_build_on_the_xeon_leaves_nothing_unused() -> None:
    assert build_lines(xeon(), XEON_BUILD)[1] == []


def test_unproven_flags_are_never_recommended_only_the_proving_install() -> None:
    lines, warnings = build_lines(xeon(), AVX2_BUILD)
    assert any(line.startswith("llama.cpp build: ") for line in lines)
    assert len(warnings) == 1
    assert "AVX_VNNI, AVX512, AVX512_VBMI, AVX512_VNNI, AVX512_BF16 unused" in warnings[0]
    assert "python3 install.py" in warnings[0] and "CMAKE_ARGS" not in warnings[0]


def test_flags_proven_here_are_recommended_as_they_are() -> None:
    report = xeon()
    wanted = cpu.cmake_args(report.features, report.machine)
    proven = machine.Record(cpu=report.model, cmake_args=wanted, build_proven=True)
    lines, warnings = build_lines(report, AVX2_BUILD, proven)
    assert f'CMAKE_ARGS="{wanted}"' in warnings[0]
    assert f"install: proven by a decode at install ({wanted})" in lines
    elsewhere = machine.Record(cpu="another CPU", cmake_args=wanted, build_proven=True)
    assert "CMAKE_ARGS" not in build_lines(report, AVX2_BUILD, elsewhere)[1][0]


def test_a_build_that_failed_its_proof_here_is_explained_not_recommended() -> None:
    report = xeon(amx=True)
    failed = machine.Record(
        cpu=report.model,
        cmake_args=cpu.baseline_args(report.features),
        build_proven=True,
        failed_builds=[
            {"cmake_args": cpu.cmake_args(report.features), "detail": "killed by SIGILL"}
        ],
    )
    lines, warnings = build_lines(report, AVX2_BUILD, failed)
    assert warnings == []
    assert any(
        "failed its proving decode on this machine (killed by SIGILL)" in line for line in lines
    )


def test_a_build_using_what_the_cpu_lacks_warns_of_sigill() -> None:
    amd = cpu.CpuReport("AMD EPYC", "x86_64", frozenset({"AVX", "AVX2", "FMA", "F16C"}), 2)
    _, warnings = build_lines(amd, AVX512_BUILD)
    assert any("SIGILL" in warning and "AVX512" in warning for warning in warnings)
    _, none = build_lines(amd, "CPU : AVX = 1 | AVX2 = 1 | FMA = 1 | F16C = 1 |")
    assert none == []


def test_more_threads_than_cores_is_a_warning() -> None:
    assert thread_lines(EngineSettings(threads=8), xeon())[1]
    assert thread_lines(EngineSettings(threads=2), xeon())[1] == []


def run_doctor(*flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spark_lsp", "doctor", *flags],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_doctor_on_this_machine_checks_the_build_and_verifies_the_embedded_model() -> None:
    done = run_doctor()
    assert done.returncode == 0, done.stderr
    report = cpu.cpu_report()
    assert f"{report.cores} cores available" in done.stdout
    assert "llama.cpp build: " in done.stdout and "sha256 verified" in done.stdout
    assert "model choice (auto): small: set by SPARK_LSP_MODEL" in done.stdout


def test_doctor_fails_on_a_model_file_that_is_not_gguf(tmp_path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    done = run_doctor("--model", str(bogus))
    assert done.returncode == 1
    assert f"warning: model: {bogus} is not a GGUF model file" in done.stdout
