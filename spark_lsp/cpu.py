"""What the CPU offers against what the llama.cpp build uses, and the build flags that match.

The CPU's features come from ``/proc/cpuinfo`` (Linux); AMX counts only when the kernel grants
it to this process (a virtual machine may report the flags and still fault on the first tile
instruction, which is how a ``-march=native`` build dies with SIGILL). The build's features come
from llama.cpp's own system info line (``CPU : AVX = 1 | AVX2 = 1 | ...``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

# /proc/cpuinfo flag -> the name llama.cpp's system info and CMake option use.
X86_FEATURES: tuple[tuple[str, str], ...] = (
    ("avx", "AVX"),
    ("avx2", "AVX2"),
    ("fma", "FMA"),
    ("f16c", "F16C"),
    ("bmi2", "BMI2"),
    ("avx_vnni", "AVX_VNNI"),
    ("avx512f", "AVX512"),
    ("avx512_vbmi", "AVX512_VBMI"),
    ("avx512_vnni", "AVX512_VNNI"),
    ("avx512_bf16", "AVX512_BF16"),
    ("amx_int8", "AMX_INT8"),
)
AMX = frozenset({"AMX_INT8"})
# The extended states the kernel supports and will grant on request (llama.cpp's AMX code
# requests XTILEDATA itself); a VM that hides AMX from XCR0 leaves the bit out.
_ARCH_GET_XCOMP_SUPP = 0x1021
_XFEATURE_XTILEDATA = 18
_SYS_ARCH_PRCTL_X86_64 = 158


@dataclass(frozen=True)
class CpuReport:
    model: str
    machine: str  # x86_64, aarch64 ...
    features: frozenset[str]  # llama.cpp's names of what the CPU offers (and the OS allows)
    cores: int  # cores this process may run on


def cpuinfo_flags(text: str) -> tuple[str, frozenset[str]]:
    """(the model name, the flags) of the first processor in a /proc/cpuinfo text."""
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
    return (
        model.group(1).strip() if model else "",
        frozenset(flags.group(1).split()) if flags else frozenset(),
    )


def llama_features(flags: frozenset[str], amx_granted: bool) -> frozenset[str]:
    """The llama.cpp names of the x86 features among ``flags``; AMX only when granted."""
    found = {name for flag, name in X86_FEATURES if flag in flags}
    return frozenset(found if amx_granted else found - AMX)


def amx_granted() -> bool:
    """Whether the kernel can grant this process AMX tiles (Linux x86-64 only)."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.c_uint64(0)
        status = libc.syscall(_SYS_ARCH_PRCTL_X86_64, _ARCH_GET_XCOMP_SUPP, ctypes.byref(mask))
    except (OSError, AttributeError):
        return False
    return status == 0 and bool(mask.value & (1 << _XFEATURE_XTILEDATA))


def cpu_report(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuReport:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model, flags = cpuinfo_flags(text)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return CpuReport(
        model or platform.processor() or "?",
        platform.machine(),
        llama_features(flags, amx_granted()),
        cores,
    )


def build_features(system_info: str) -> frozenset[str]:
    """The features a llama.cpp build reports as on (``NAME = 1``)."""
    return frozenset(re.findall(r"([A-Z0-9_]+) = 1", system_info))


def unused_features(cpu: frozenset[str], build: frozenset[str]) -> list[str]:
    """The CPU's features the build leaves unused, in llama.cpp's order."""
    return [name for _, name in X86_FEATURES if name in cpu and name not in build]


def cmake_args(cpu: frozenset[str], machine: str = "x86_64") -> str:
    """CMAKE_ARGS for a portable build using exactly the features ``cpu`` has (never native:
    a native build may pick AMX the kernel does not grant). Elsewhere than x86-64, none:
    llama.cpp's defaults detect ARM's features at build time."""
    if machine not in ("x86_64", "AMD64"):
        return ""
    flags = ["-DGGML_NATIVE=OFF"]
    flags += [f"-DGGML_{name}={'ON' if name in cpu else 'OFF'}" for _, name in X86_FEATURES]
    return " ".join(flags)
