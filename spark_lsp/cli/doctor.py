"""``spark-lsp doctor``: the llama.cpp build against the CPU, the threads, the model and its file.

It prints one line per check and a warning for each thing that leaves speed unused or will fail
(a build without an instruction set the CPU has, more threads than cores, a model file that does
not match its pinned hash). Exit status 1 when the model cannot be used, else 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from spark_lsp import cpu, machine, models
from spark_lsp.cli.log import configure_logging
from spark_lsp.engine.remote.transport import display_url
from spark_lsp.engine.settings import EngineSettings, add_engine_arguments, engine_settings_from

REINSTALL = (
    "python3 install.py in a source checkout (it builds with them and keeps the build only if a "
    "proving decode passes on this machine)"
)


def add_parser(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor", help="check the llama.cpp build against the CPU, the threads and the model"
    )
    add_engine_arguments(doctor)


def rebuild_advice(report: cpu.CpuReport, record: machine.Record | None, wanted: str) -> str:
    """How to rebuild: the exact flags only when a build with them was proven here."""
    proven = record.cmake_args if record and record.build_proven else None
    if proven == wanted and record is not None and record.cpu == report.model:
        return (
            f'CMAKE_ARGS="{wanted}" pip install --force-reinstall --no-cache-dir --no-deps '
            "llama-cpp-python (proven on this machine by the install), or " + REINSTALL
        )
    return REINSTALL


def failed_here(record: machine.Record | None, features: list[str]) -> str | None:
    """The detail of a proving run on this machine that failed with ``features`` on, if any."""
    for failure in record.failed_builds if record else []:
        args = failure.get("cmake_args", "")
        if any(f"-DGGML_{name}=ON" in args for name in features):
            return failure.get("detail", "failed")
    return None


def build_lines(
    report: cpu.CpuReport, system_info: str, record: machine.Record | None = None
) -> tuple[list[str], list[str]]:
    """(lines, warnings) about the CPU and the llama.cpp build."""
    build = cpu.build_features(system_info)
    features = " ".join(sorted(report.features)) or "none known (not x86-64?)"
    lines = [
        f"cpu: {report.model} ({report.machine}), {report.cores} cores available",
        f"cpu features: {features}" + (f" ({report.amx_note})" if report.amx_note else ""),
        "llama.cpp build: " + (" ".join(sorted(build)) or "no CPU features reported"),
    ]
    if record is not None and record.cpu == report.model:
        state = "proven by a decode at install" if record.build_proven else "not proven"
        lines.append(f"install: {state} ({record.cmake_args or 'llama.cpp defaults'})")
    warnings = []
    wanted = cpu.cmake_args(report.features, report.machine)
    unused = cpu.unused_features(report.features, build)
    if unused and (detail := failed_here(record, unused)):
        lines.append(
            f"llama.cpp build leaves {', '.join(unused)} unused: a build with them failed its "
            f"proving decode on this machine ({detail}), so the baseline build serves"
        )
    elif unused:
        warnings.append(
            f"the llama.cpp build leaves {', '.join(unused)} unused; rebuild it with: "
            + rebuild_advice(report, record, wanted)
        )
    missing = sorted(build & cpu.FEATURE_NAMES - report.features)
    if missing and report.machine == "x86_64":
        warnings.append(
            f"the llama.cpp build uses {', '.join(missing)}, which this CPU (or its hypervisor) "
            "does not run: it may crash with SIGILL; rebuild it with: "
            + rebuild_advice(report, record, wanted)
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
        served_by = display_url(settings.endpoint or "")
        return [f"model: served by {served_by} (backend remote)"], [], True
    name = models.preset_name(settings.model, settings.hf_repo)
    preset = models.PRESETS[name] if name is not None else None
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
    lines = [f"model: {path} ({size:,} bytes, {check})"]
    if settings.model in (None, "", models.AUTO) and not settings.hf_repo:
        lines.append(f"model choice (auto): {models.machine_choice().reason}")
    return lines, [], True


def run(args: argparse.Namespace) -> int:
    import llama_cpp

    configure_logging("warning", None)
    settings = engine_settings_from(args)
    report = cpu.cpu_report()
    system_info = llama_cpp.llama_print_system_info().decode()
    lines, warnings = build_lines(report, system_info, machine.read_record())
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
