"""What the CPU offers against what the llama.cpp build uses, and the build flags that match.

The CPU's features come from ``/proc/cpuinfo`` (Linux), under the names Linux prints there
(``avx512vbmi`` has no underscore, ``avx512_vnni`` has one). AMX needs more than its flags: a
virtual machine may list ``amx_tile`` and have the kernel report the tile state, yet fault on the
first tile instruction (a build with AMX then dies with SIGILL at its first decode). So AMX counts
only when a child process has executed tile instructions on this machine (``amx_probe``). The
build's features come from llama.cpp's own system info line (``CPU : AVX = 1 | AVX2 = 1 | ...``).

Standard library only: ``install.py`` loads this file before anything is installed.
"""

from __future__ import annotations

import os
import platform
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Feature:
    """One instruction set: llama.cpp's name (its system info and the CMake option
    ``GGML_<name>``) and the /proc/cpuinfo flags it needs, all of them."""

    name: str
    flags: tuple[str, ...]
    probed: bool = False  # a hypervisor can list it and still fault: only a probe decides


# llama.cpp compiles GGML_AVX512 with -mavx512f -mavx512cd -mavx512vl -mavx512dq -mavx512bw,
# so all five must be there (a Xeon Phi has avx512f without bw).
X86_FEATURES: tuple[Feature, ...] = (
    Feature("AVX", ("avx",)),
    Feature("AVX2", ("avx2",)),
    Feature("FMA", ("fma",)),
    Feature("F16C", ("f16c",)),
    Feature("BMI2", ("bmi2",)),
    Feature("AVX_VNNI", ("avx_vnni",)),
    Feature("AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")),
    Feature("AVX512_VBMI", ("avx512vbmi",)),
    Feature("AVX512_VNNI", ("avx512_vnni",)),
    Feature("AVX512_BF16", ("avx512_bf16",)),
    Feature("AMX_TILE", ("amx_tile",), probed=True),
    Feature("AMX_INT8", ("amx_tile", "amx_int8"), probed=True),
    Feature("AMX_BF16", ("amx_tile", "amx_bf16"), probed=True),
)
FEATURE_NAMES = frozenset(feature.name for feature in X86_FEATURES)
AMX = frozenset(feature.name for feature in X86_FEATURES if feature.probed)
# What any x86-64 machine of the last decade runs: the fallback when a proving run fails.
BASELINE = frozenset({"AVX", "AVX2", "FMA", "F16C"})
# Weight types with AMX matrix kernels in the llama.cpp that llama-cpp-python 0.3.36 vendors
# (ggml-cpu/amx/common.h, qtype_has_amx_kernels); other types would gain nothing from AMX.
AMX_WEIGHT_TYPES = frozenset({"Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "IQ4_XS"})
# The embedded presets are Q4_K_M: Q4_K and Q6_K tensors (norms stay F32).
EMBEDDED_WEIGHT_TYPES = frozenset({"Q4_K", "Q6_K"})
EMBEDDED_WEIGHTS_HAVE_AMX = EMBEDDED_WEIGHT_TYPES <= AMX_WEIGHT_TYPES

# arch_prctl(2): the kernel grants the AMX tile data state to a process that asks for it.
_ARCH_GET_XCOMP_SUPP = 0x1021
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_SYS_ARCH_PRCTL_X86_64 = 158

# ldtilecfg [rdi]; tilezero tmm0; tilerelease; ret (VEX-encoded AMX instructions).
AMX_PROBE_CODE = bytes.fromhex("c4e2784907c4e27b49c0c4e27849c0c3")
_PROBE_SOURCE = f"""
import ctypes, mmap, sys
code = bytes.fromhex(sys.argv[1])
if sys.argv[2] == "amx":
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall({_SYS_ARCH_PRCTL_X86_64}, {_ARCH_REQ_XCOMP_PERM}, {_XFEATURE_XTILEDATA}) != 0:
        print("the kernel refused the AMX tile state", flush=True)
        sys.exit(3)
config = (ctypes.c_uint8 * 64)()
config[0], config[16], config[48] = 1, 64, 16  # palette 1; tile 0: 16 rows of 64 bytes
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(code)
entry = ctypes.addressof(ctypes.c_char.from_buffer(page))
ctypes.CFUNCTYPE(None, ctypes.c_void_p)(entry)(ctypes.addressof(config))
print("ok", flush=True)
"""


@dataclass(frozen=True)
class ProbeResult:
    passed: bool
    detail: str  # what happened, for one line of output


@dataclass(frozen=True)
class CpuReport:
    model: str
    machine: str  # x86_64, aarch64 ...
    features: frozenset[str]  # llama.cpp's names of what the CPU runs (AMX: only when probed)
    cores: int  # cores this process may run on
    amx_note: str = ""  # why AMX is on or off, when the CPU lists it


def cpuinfo_flags(text: str) -> tuple[str, frozenset[str]]:
    """(the model name, the flags) of the first processor in a /proc/cpuinfo text."""
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", text, re.MULTILINE)
    flags = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
    return (
        model.group(1).strip() if model else "",
        frozenset(flags.group(1).split()) if flags else frozenset(),
    )


def listed_features(flags: frozenset[str]) -> frozenset[str]:
    """The llama.cpp names of the x86 features whose cpuinfo flags are all in ``flags``."""
    return frozenset(f.name for f in X86_FEATURES if all(flag in flags for flag in f.flags))


def llama_features(flags: frozenset[str], amx_runs: bool) -> frozenset[str]:
    """The features among ``flags`` a build may use; AMX only when ``amx_runs`` (probed)."""
    listed = listed_features(flags)
    return listed if amx_runs else listed - AMX


def amx_granted() -> bool:
    """Whether the kernel says it can grant AMX tiles (Linux x86-64). Necessary, not enough:
    a hypervisor can still fault on the instructions."""
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        mask = ctypes.c_uint64(0)
        status = libc.syscall(_SYS_ARCH_PRCTL_X86_64, _ARCH_GET_XCOMP_SUPP, ctypes.byref(mask))
    except (OSError, AttributeError):
        return False
    return status == 0 and bool(mask.value & (1 << _XFEATURE_XTILEDATA))


def run_code_in_child(code: bytes, request_amx: bool, timeout: float = 20.0) -> ProbeResult:
    """Execute raw x86-64 ``code`` (called with a 64-byte tile config in rdi) in a child Python
    process: a fault kills the child, never this process."""
    command = [sys.executable, "-c", _PROBE_SOURCE, code.hex(), "amx" if request_amx else "-"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return ProbeResult(False, f"the probe could not run ({error})")
    return probe_outcome(done.returncode, done.stdout + done.stderr)


def probe_outcome(returncode: int, output: str) -> ProbeResult:
    if returncode == 0 and output.strip().endswith("ok"):
        return ProbeResult(True, "ran")
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ProbeResult(False, f"killed by {name}")
    last = output.strip().splitlines()[-1] if output.strip() else f"exit status {returncode}"
    return ProbeResult(False, last[:200])


def amx_probe() -> ProbeResult:
    """Whether AMX tile instructions really run here (executed in a child process)."""
    if not amx_granted():
        return ProbeResult(False, "the kernel does not offer the AMX tile state")
    return run_code_in_child(AMX_PROBE_CODE, request_amx=True)


def cpu_report(cpuinfo: Path = Path("/proc/cpuinfo"), probe: bool = True) -> CpuReport:
    """This machine's CPU; ``probe=False`` leaves AMX out without running the probe."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    model, flags = cpuinfo_flags(text)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    amx_runs, note = False, ""
    if listed_features(flags) & AMX:
        if probe:
            result = amx_probe()
            amx_runs = result.passed
            note = "AMX ran in a probe" if amx_runs else f"AMX listed but unusable: {result.detail}"
        else:
            note = "AMX listed, not probed"
    return CpuReport(
        model or platform.processor() or "?",
        platform.machine(),
        llama_features(flags, amx_runs),
        cores,
        note,
    )


def build_features(system_info: str) -> frozenset[str]:
    """The features a llama.cpp build reports as on (``NAME = 1``)."""
    return frozenset(re.findall(r"([A-Z0-9_]+) = 1", system_info))


def unused_features(
    cpu: frozenset[str], build: frozenset[str], amx_weights: bool = EMBEDDED_WEIGHTS_HAVE_AMX
) -> list[str]:
    """The CPU's features the build leaves unused, in llama.cpp's order (AMX only when the
    weights have AMX kernels). llama.cpp's system info names only AMX_INT8 of the three."""
    wanted = wanted_features(cpu, amx_weights)
    return [
        f.name
        for f in X86_FEATURES
        if f.name in wanted and f.name not in build and f.name not in ("AMX_TILE", "AMX_BF16")
    ]


def wanted_features(cpu: frozenset[str], amx_weights: bool) -> frozenset[str]:
    """What a build for ``cpu`` should use: AMX only for weights with AMX kernels, and only with
    its tile instructions (AMX_INT8 does not even compile without AMX_TILE)."""
    if not amx_weights or "AMX_TILE" not in cpu:
        return cpu - AMX
    return cpu


def cmake_args(
    cpu: frozenset[str], machine: str = "x86_64", amx_weights: bool = EMBEDDED_WEIGHTS_HAVE_AMX
) -> str:
    """CMAKE_ARGS for a portable build using exactly the wanted features of ``cpu`` (never
    native: a native build may pick what the hypervisor withholds). Elsewhere than x86-64,
    none: llama.cpp's defaults detect ARM's features at build time."""
    if machine not in ("x86_64", "AMD64"):
        return ""
    wanted = wanted_features(cpu, amx_weights)
    flags = ["-DGGML_NATIVE=OFF"]
    flags += [f"-DGGML_{f.name}={'ON' if f.name in wanted else 'OFF'}" for f in X86_FEATURES]
    return " ".join(flags)


def baseline_args(cpu: frozenset[str], machine: str = "x86_64") -> str:
    """The build that cannot fault: AVX2, FMA and F16C (as far as the CPU lists them) on
    x86-64, llama.cpp's defaults elsewhere."""
    return cmake_args(cpu & BASELINE, machine, amx_weights=False)
