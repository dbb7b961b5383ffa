"""The CPU's instruction sets from real /proc/cpuinfo texts; the AMX probe in a child."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_lsp import cpu

DATA = Path(__file__).parent / "test_data" / "cpuinfo"
XEON = DATA / "xeon_sapphire_rapids_kvm.txt"  # lists AMX; the hypervisor does not run it
ZEN1 = DATA / "epyc_zen1.txt"
ZEN4 = DATA / "epyc_zen4.txt"
ARM64 = DATA / "arm64_neoverse_n1.txt"
AVX512_FAMILY = {"AVX512", "AVX512_VBMI", "AVX512_VNNI", "AVX512_BF16"}


def flags_of(path: Path) -> frozenset[str]:
    return cpu.cpuinfo_flags(path.read_text(encoding="utf-8"))[1]


def test_every_flag_of_the_table_is_spelled_as_linux_prints_it() -> None:
    xeon = flags_of(XEON)
    for feature in cpu.X86_FEATURES:
        assert all(flag in xeon for flag in feature.flags), feature
    assert "avx512vbmi" in xeon and "avx512_vbmi" not in xeon  # the spelling that hid VBMI


def test_the_xeon_gets_avx512_with_vbmi_and_amx_only_when_it_runs() -> None:
    flags = flags_of(XEON)
    features = cpu.llama_features(flags, amx_runs=False)
    assert features == {"AVX", "AVX2", "FMA", "F16C", "BMI2", "AVX_VNNI"} | AVX512_FAMILY
    args = cpu.cmake_args(features, "x86_64")
    assert "-DGGML_AVX512_VBMI=ON" in args and "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AMX_TILE=OFF" in args and "-DGGML_AMX_INT8=OFF" in args
    probed = cpu.llama_features(flags, amx_runs=True)
    assert probed >= cpu.AMX
    with_amx = cpu.cmake_args(probed, "x86_64", amx_weights=True)
    # AMX_INT8 alone does not compile (GCC 12): it always comes with AMX_TILE.
    assert "-DGGML_AMX_TILE=ON" in with_amx and "-DGGML_AMX_INT8=ON" in with_amx
    assert "-DGGML_AMX_INT8=OFF" in cpu.cmake_args(probed, "x86_64", amx_weights=False)
    assert cpu.EMBEDDED_WEIGHT_TYPES <= cpu.AMX_WEIGHT_TYPES  # Q4_K_M: Q4_K and Q6_K


def test_zen1_is_avx2_only() -> None:
    features = cpu.llama_features(flags_of(ZEN1), amx_runs=False)
    assert features == {"AVX", "AVX2", "FMA", "F16C", "BMI2"}
    assert "-DGGML_AVX512=OFF" in cpu.cmake_args(features, "x86_64")
    assert cpu.cpuinfo_flags(ZEN1.read_text())[0] == "AMD EPYC 7551 32-Core Processor"


def test_zen4_has_avx512_with_vbmi_vnni_bf16_and_no_amx() -> None:
    features = cpu.llama_features(flags_of(ZEN4), amx_runs=True)
    assert features == {"AVX", "AVX2", "FMA", "F16C", "BMI2"} | AVX512_FAMILY
    args = cpu.cmake_args(features, "x86_64")
    assert "-DGGML_AVX512_BF16=ON" in args and "-DGGML_AVX_VNNI=OFF" in args
    assert "-DGGML_AMX_TILE=OFF" in args


def test_arm64_leaves_the_flags_to_llama_cpp() -> None:
    model, flags = cpu.cpuinfo_flags(ARM64.read_text())
    assert "asimd" in flags and model == ""
    assert cpu.llama_features(flags, amx_runs=False) == frozenset()
    assert cpu.cmake_args(frozenset(), "aarch64") == ""
    assert cpu.baseline_args(frozenset(), "aarch64") == ""


def test_avx512_needs_all_five_subsets_llama_cpp_compiles_with() -> None:
    knights_landing = frozenset({"avx", "avx2", "avx512f", "avx512cd", "avx512er", "avx512pf"})
    assert "AVX512" not in cpu.llama_features(knights_landing, amx_runs=False)


def test_the_baseline_never_uses_more_than_avx2_fma_f16c() -> None:
    xeon = cpu.llama_features(flags_of(XEON), amx_runs=True)
    baseline = cpu.baseline_args(xeon, "x86_64")
    assert "-DGGML_AVX2=ON" in baseline and "-DGGML_FMA=ON" in baseline
    assert "-DGGML_F16C=ON" in baseline
    assert "-DGGML_AVX512=OFF" in baseline and "-DGGML_AMX_INT8=OFF" in baseline
    assert "-DGGML_BMI2=OFF" in baseline


def test_a_fault_in_the_probe_child_is_reported_not_suffered() -> None:
    ud2 = bytes.fromhex("0f0b")  # the instruction defined to be invalid
    result = cpu.run_code_in_child(ud2, request_amx=False)
    assert not result.passed and result.detail == "killed by SIGILL"
    assert cpu.run_code_in_child(bytes.fromhex("c3"), request_amx=False).passed  # ret


@pytest.mark.skipif(
    "amx_tile" in flags_of(Path("/proc/cpuinfo")), reason="this CPU lists AMX: probe it for real"
)
def test_tile_instructions_fault_where_amx_is_not_offered() -> None:
    result = cpu.run_code_in_child(cpu.AMX_PROBE_CODE, request_amx=False)
    assert not result.passed and result.detail == "killed by SIGILL"


def test_a_cpu_listing_amx_that_this_machine_does_not_run_builds_without_it() -> None:
    report = cpu.cpu_report(XEON)  # the Xeon's flags, this machine's kernel and probe
    if not cpu.amx_probe().passed:
        assert not report.features & cpu.AMX
        assert report.amx_note.startswith("AMX listed but unusable")
        assert "-DGGML_AMX_INT8=OFF" in cpu.cmake_args(report.features, report.machine)
    assert {"AVX512", "AVX512_VBMI"} <= report.features
