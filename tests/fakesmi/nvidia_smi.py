"""A stand-in ``nvidia-smi`` for the probe's fallback path, answering from the stand-in NVML.

The real nvidia-smi is itself an NVML client, so this one asks the stand-in library (through
the unmodified pynvml) and prints what the real tool prints for the ``--query-*`` options the
probe uses, in its CSV format (``[N/A]`` for a value the driver does not support). Both of the
probe's GPU paths then read one configured machine, and their models can be compared.

``$FAKE_SMI_REJECT`` (comma-separated field names) plays an older driver: a query naming one
of them fails the way the real tool fails, naming the first unknown field.

Installed into a test's PATH as ``nvidia-smi`` by :func:`install`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
NA = "[N/A]"
NO_DRIVER = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running."
)


def install(bin_dir: Path) -> Path:
    """Write an executable ``nvidia-smi`` into ``bin_dir`` that runs this module."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "nvidia-smi"
    runner = f"runpy.run_path({str(Path(__file__))!r}, run_name='__main__')"
    script.write_text(f"#!{sys.executable}\nimport runpy\n{runner}\n")
    script.chmod(0o755)
    return script


def config_value(key: str) -> str | None:
    path = os.environ.get("FAKE_NVML_CONFIG")
    found = None
    if path and os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition("=")
            if name == key:
                found = value
    return found


class Answers:
    """Formats each query field for one GPU handle as nvidia-smi does (``nounits``)."""

    def __init__(self, nvml: Any, index: int, handle: Any) -> None:
        self.nvml = nvml
        self.index = index
        self.handle = handle

    def ask(self, call: Callable[..., Any], *args: Any, fmt: Callable[[Any], str] = str) -> str:
        try:
            return fmt(call(self.handle, *args))
        except self.nvml.NVMLError_NotSupported:
            return NA
        except self.nvml.NVMLError as error:
            return f"[{error}]"

    def field(self, name: str) -> str:
        nvml, ask = self.nvml, self.ask
        simple: dict[str, Callable[[], str]] = {
            "index": lambda: str(self.index),
            "name": lambda: ask(nvml.nvmlDeviceGetName),
            "uuid": lambda: ask(nvml.nvmlDeviceGetUUID),
            "pci.bus_id": lambda: ask(nvml.nvmlDeviceGetPciInfo, fmt=lambda p: p.busId),
            "memory.total": lambda: ask(
                nvml.nvmlDeviceGetMemoryInfo, fmt=lambda m: str(m.total // MIB)
            ),
            "memory.used": lambda: ask(
                nvml.nvmlDeviceGetMemoryInfo, fmt=lambda m: str(m.used // MIB)
            ),
            "utilization.gpu": lambda: ask(
                nvml.nvmlDeviceGetUtilizationRates, fmt=lambda u: str(u.gpu)
            ),
            "utilization.memory": lambda: ask(
                nvml.nvmlDeviceGetUtilizationRates, fmt=lambda u: str(u.memory)
            ),
            "temperature.gpu": lambda: ask(
                nvml.nvmlDeviceGetTemperature, nvml.NVML_TEMPERATURE_GPU
            ),
            "power.draw": lambda: ask(
                nvml.nvmlDeviceGetPowerUsage, fmt=lambda w: f"{w / 1000:.2f}"
            ),
            "enforced.power.limit": lambda: ask(
                nvml.nvmlDeviceGetEnforcedPowerLimit, fmt=lambda w: f"{w / 1000:.2f}"
            ),
            "power.limit": lambda: ask(
                nvml.nvmlDeviceGetEnforcedPowerLimit, fmt=lambda w: f"{w / 1000:.2f}"
            ),
            "clocks.sm": lambda: ask(nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_SM),
            "clocks.max.sm": lambda: ask(nvml.nvmlDeviceGetMaxClockInfo, nvml.NVML_CLOCK_SM),
            "clocks.mem": lambda: ask(nvml.nvmlDeviceGetClockInfo, nvml.NVML_CLOCK_MEM),
            "clocks.max.memory": lambda: ask(nvml.nvmlDeviceGetMaxClockInfo, nvml.NVML_CLOCK_MEM),
            "fan.speed": lambda: ask(nvml.nvmlDeviceGetFanSpeed),
            "pstate": lambda: ask(nvml.nvmlDeviceGetPerformanceState, fmt=lambda p: f"P{p}"),
            "clocks_event_reasons.active": lambda: ask(
                nvml.nvmlDeviceGetCurrentClocksThrottleReasons, fmt=lambda m: f"0x{m:016X}"
            ),
            "clocks_throttle_reasons.active": lambda: ask(
                nvml.nvmlDeviceGetCurrentClocksThrottleReasons, fmt=lambda m: f"0x{m:016X}"
            ),
            "ecc.mode.current": lambda: ask(
                nvml.nvmlDeviceGetEccMode, fmt=lambda m: "Enabled" if m[0] else "Disabled"
            ),
            "retired_pages.sbe": lambda: ask(
                nvml.nvmlDeviceGetRetiredPages,
                nvml.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS,
                fmt=lambda pages: str(len(pages)),
            ),
            "retired_pages.dbe": lambda: ask(
                nvml.nvmlDeviceGetRetiredPages,
                nvml.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR,
                fmt=lambda pages: str(len(pages)),
            ),
            "retired_pages.pending": lambda: ask(
                nvml.nvmlDeviceGetRetiredPagesPendingStatus, fmt=lambda p: "Yes" if p else "No"
            ),
            "pcie.link.gen.current": lambda: ask(nvml.nvmlDeviceGetCurrPcieLinkGeneration),
            "pcie.link.gen.max": lambda: ask(nvml.nvmlDeviceGetMaxPcieLinkGeneration),
            "pcie.link.width.current": lambda: ask(nvml.nvmlDeviceGetCurrPcieLinkWidth),
            "pcie.link.width.max": lambda: ask(nvml.nvmlDeviceGetMaxPcieLinkWidth),
            "mig.mode.current": lambda: ask(
                nvml.nvmlDeviceGetMigMode, fmt=lambda m: "Enabled" if m[0] else "Disabled"
            ),
            "driver_version": lambda: nvml.nvmlSystemGetDriverVersion(),
        }
        if name.startswith("ecc.errors."):
            _, _, kind, counter, _total = name.split(".")
            return self.ecc(kind, counter)
        return simple[name]()

    def ecc(self, kind: str, counter: str) -> str:
        nvml = self.nvml
        try:
            if not nvml.nvmlDeviceGetEccMode(self.handle)[0]:
                return NA
        except nvml.NVMLError:
            return NA
        return self.ask(
            nvml.nvmlDeviceGetTotalEccErrors,
            getattr(nvml, f"NVML_MEMORY_ERROR_TYPE_{kind.upper()}"),
            getattr(nvml, f"NVML_{counter.upper()}_ECC"),
        )


def rejected(fields: list[str]) -> str | None:
    unknown = set(filter(None, os.environ.get("FAKE_SMI_REJECT", "").split(",")))
    return next((field for field in fields if field in unknown), None)


def banner(pynvml: Any) -> str:
    """The top of plain ``nvidia-smi``'s table, the one place it prints the CUDA version
    ("N/A" when the driver cannot tell, as in containers without libcuda)."""
    driver = pynvml.nvmlSystemGetDriverVersion()
    try:
        version = pynvml.nvmlSystemGetCudaDriverVersion()
        cuda = f"{version // 1000}.{version % 1000 // 10}"
    except pynvml.NVMLError:
        cuda = "N/A"
    rule = "+" + "-" * 89 + "+"
    title = f"NVIDIA-SMI {driver:<22}Driver Version: {driver:<15}CUDA Version: {cuda:<9}"
    return "\n".join(["Sun Nov 29 18:38:11 2026", rule, f"| {title:<87} |", rule])


def main(argv: list[str]) -> int:
    import pynvml

    queries = {arg.split("=", 1)[0]: arg.split("=", 1)[1].split(",") for arg in argv if "=" in arg}
    fields = next(iter(queries.values()), [])
    bad = rejected(fields)
    if bad is not None:
        print(f'Field "{bad}" is not a valid field to query.\n')
        return 2
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        print(NO_DRIVER)
        return 9
    if not argv:
        print(banner(pynvml))
        return 0
    lines: list[str] = []
    status = 0
    for index in range(pynvml.nvmlDeviceGetCount()):
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        except pynvml.NVMLError_GpuIsLost:
            bus = config_value(f"gpu{index}.bus_id") or "?"
            lines.append(
                f"Unable to determine the device handle for GPU{bus[4:]}: GPU is lost.  "
                "Reboot the system to recover this GPU"
            )
            status = 15
            continue
        answers = Answers(pynvml, index, handle)
        uuid = answers.field("uuid")
        if "--query-gpu" in queries:
            lines.append(", ".join(answers.field(f) for f in fields))
        elif "--query-remapped-rows" in queries:
            try:
                rows = pynvml.nvmlDeviceGetRemappedRows(handle)
                values = [str(int(value)) for value in rows[:4]]
            except pynvml.NVMLError:
                values = [NA] * 4
            lines.append(", ".join([uuid, *values]))
        elif "--query-compute-apps" in queries:
            for process in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                used = NA if process.usedGpuMemory is None else str(process.usedGpuMemory // MIB)
                lines.append(f"{uuid}, {process.pid}, {used}")
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
