"""``spark-lsp doctor``: the llama.cpp build against the CPU, the threads, the model and its file.

It prints one line per check and a warning for each thing that leaves speed unused or will fail
(a build without an instruction set the CPU has, more threads than cores, a model file that does
not match its pinned hash). Exit status 1 when the model cannot be used, else 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from spark_lsp import cpu, models
from spark_lsp.cli.log import configure_logging
from spark_lsp.engine.settings import EngineSettings, add_engine_arguments, engine_settings_from

REBUILD = (
    "python3 install.py in a source checkout (it chooses these flags), or "
    'CMAKE_ARGS="{args}" pip install --force-reinstall --no-cache-dir --no-deps llama-cpp-python'
)


def add_parser(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor", help="check the llama.cpp build against the CPU, the threads and the model"
    )
    add_engine_arguments(doctor)


def build_lines(report: cpu.CpuReport, system_info: str) -> tuple[list[str], list[str]]:
    """(lines, warnings) about the CPU and the llama.cpp build."""
    build = cpu.build_features(system_info)
    lines = [
        f"cpu: {report.model} ({report.machine}), {report.cores} cores available",
        "cpu features: " + (" ".join(sorted(report.features)) or "none known (not x86-64?)"),
        "llama.cpp build: " + (" ".join(sorted(build)) or "no CPU features reported"),
    ]
    warnings = []
    unused = cpu.unused_features(report.features, build)
    if unused:
        warnings.append(
            f"the llama.cpp build leaves {', '.join(unused)} unused; rebuild it with: "
            + REBUILD.format(args=cpu.cmake_args(report.features, report.machine))
        )
    missing = sorted(build & {name for _, name in cpu.X86_FEATURES} - report.features)
    if missing and report.machine == "x86_64":
        warnings.append(
            f"the llama.cpp build uses {', '.join(missing)}, which this CPU (or its kernel) does "
            "not offer: it may crash with SIGILL; rebuild it with: "
            + REBUILD.format(args=cpu.cmake_args(report.features, report.machine))
        )
    return lines, warnings


def thread_lines(settings: EngineSettings, report: cpu.CpuReport) -> tuple[list[str], list[str]]:
    threads = settings.thread_count
    warnings = []
    if threads > report.cores:
        warnings.append(
            f"--threads {threads} is more than the {report.cores} cores available: threads "
            "that wait for a core slow every decode step"
        )
    return [f"threads: {threads} (--threads {settings.threads or '0: all cores'})"], warnings


def model_lines(settings: EngineSettings) -> tuple[list[str], list[str], bool]:
    """(lines, warnings, whether the model can be used)."""
    if settings.backend == "remote":
        return [f"model: served by {settings.endpoint} (backend remote)"], [], True
    preset = models.PRESETS.get(settings.model or "default") if not settings.hf_repo else None
    try:
        path = models.resolve(
            settings.model, settings.hf_repo, settings.hf_file, models.stderr_progress()
        )
        models.check_gguf_header(path)
        if preset is not None:
            models.verify(preset, path.parent, models.stderr_progress())
    except models.ModelError as error:
        return [], [f"model: {error}"], False
    size = path.stat().st_size
    check = "sha256 verified" if preset is not None else "GGUF header checked (no pinned hash)"
    return [f"model: {path} ({size:,} bytes, {check})"], [], True


def run(args: argparse.Namespace) -> int:
    import llama_cpp

    configure_logging("warning", None)
    settings = engine_settings_from(args)
    report = cpu.cpu_report()
    lines, warnings = build_lines(report, llama_cpp.llama_print_system_info().decode())
    threads, thread_warnings = thread_lines(settings, report)
    model, model_warnings, usable = model_lines(settings)
    lines += threads
    warnings += thread_warnings
    for line in lines + model:
        print(line)
    for warning in warnings + model_warnings:
        print(f"warning: {warning}")
    if not warnings and not model_warnings:
        print("ok: nothing leaves speed unused")
    return 0 if usable else 1
