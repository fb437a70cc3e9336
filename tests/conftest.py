"""Shared fixtures: the stand-in NVML library, its per-test configuration, recorded hosts."""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.fakenvml.build import SONAME, build

# Property tests: a short budget by default (CI), a long one by hand: HYPOTHESIS_PROFILE=long.
# No deadline: eight test runs share two cores, and speed belongs in bench/.
settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("long", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

H100 = {
    "name": "NVIDIA H100 80GB HBM3",
    "memory_total": str(80 * 1024**3),
    "memory_used": str(20 * 1024**3),
    "util_gpu": "87",
    "util_memory": "41",
    "temperature": "64",
    "power_usage": "512000",
    "power_limit": "700000",
    "sm_clock": "1980",
    # Depth, as an H100 SXM reports it: no fan (Not Supported), no retired pages (Hopper remaps
    # rows instead), 18 NVLinks, PCIe Gen5 x16.
    "max_sm_clock": "1980",
    "mem_clock": "2619",
    "max_mem_clock": "2619",
    "pstate": "0",
    "clocks_event_reasons": "0",
    "energy_mj": "987654321",
    "ecc_mode": "1",
    "ecc_corrected_volatile": "0",
    "ecc_uncorrected_volatile": "0",
    "ecc_corrected_aggregate": "0",
    "ecc_uncorrected_aggregate": "0",
    "remapped_rows": "0,0,0,0",
    "pcie_gen": "5",
    "pcie_width": "16",
    "pcie_max_gen": "5",
    "pcie_max_width": "16",
    "nvlink": ",".join(["1"] * 18),
    "mig_mode": "0",
}


class NvmlConfig:
    """Writes the key=value file the stand-in library reads on every NVML call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, str] = {}

    def set(self, **values: object) -> NvmlConfig:
        self.values.update({key: str(value) for key, value in values.items()})
        self._write()
        return self

    def gpu(self, index: int, **values: object) -> NvmlConfig:
        fields = {
            **H100,
            "uuid": f"GPU-{index:08d}-0000-0000-0000-000000000000",
            "bus_id": f"00000000:{0x18 + index:02X}:00.0",
            **values,
        }
        return self.set(**{f"gpu{index}.{key}": value for key, value in fields.items()})

    def _write(self) -> None:
        text = "".join(f"{key}={value}\n" for key, value in self.values.items())
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.path)  # atomic: the library may read it at any moment


@pytest.fixture(scope="session")
def fake_nvml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding the compiled stand-in libnvidia-ml.so.1."""
    return build(tmp_path_factory.mktemp("fakenvml"))


@pytest.fixture
def nvml_config(tmp_path: Path) -> NvmlConfig:
    return NvmlConfig(tmp_path / "fake-nvml.conf")


@pytest.fixture
def gpu_env(fake_nvml_dir: Path, nvml_config: NvmlConfig) -> dict[str, str]:
    """Environment for a child process that should see the stand-in GPUs."""
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [str(fake_nvml_dir), *filter(None, [env.get("LD_LIBRARY_PATH")])]
    )
    env["FAKE_NVML_CONFIG"] = str(nvml_config.path)
    return env


@pytest.fixture
def no_gpu_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a child process on a host with no NVIDIA driver at all."""
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    env.pop("FAKE_NVML_CONFIG", None)
    return env


@pytest.fixture
def nvml_in_process(
    fake_nvml_dir: Path, nvml_config: NvmlConfig, monkeypatch: pytest.MonkeyPatch
) -> Iterator[NvmlConfig]:
    """Make pynvml in *this* process load the stand-in (as the recipe does: by absolute path
    before nvmlInit, so pynvml's own CDLL("libnvidia-ml.so.1") finds it by soname).

    The library then stays loaded for the rest of the test session, so tests that need
    "no driver" run in a child process.
    """
    monkeypatch.setenv("FAKE_NVML_CONFIG", str(nvml_config.path))
    ctypes.CDLL(str(fake_nvml_dir / SONAME), mode=ctypes.RTLD_GLOBAL)
    yield nvml_config


def run_aiconsole(*args: str, env: dict[str, str], timeout: float = 60) -> tuple[int, str, str]:
    """Run the installed console's CLI in a child process (as a user would)."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "aiconsole", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    return result.returncode, result.stdout, result.stderr


PROBE_MAIN = (
    f"import sys; sys.path.insert(0, {str(REPO)!r}); from aiconsole.probe.main import main; "
    "sys.exit(main())"
)


@pytest.fixture
def smi_env(gpu_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A host whose python3 has no pynvml but whose PATH has nvidia-smi (the stand-in one,
    answering from the same stand-in driver as ``gpu_env``)."""
    from tests.fakesmi.nvidia_smi import install

    install(tmp_path / "smi-bin")
    env = dict(gpu_env)
    env["PATH"] = os.pathsep.join([str(tmp_path / "smi-bin"), env.get("PATH", os.defpath)])
    return env


def probe_without_pynvml(*args: str) -> list[str]:
    """The probe program under an interpreter that cannot import pynvml (``-S``: no
    site-packages), as on a host where only the driver and nvidia-smi are installed."""
    return [sys.executable, "-S", "-c", PROBE_MAIN, *args]


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test writes into the developer's own state (audit log, acknowledgements,
    recordings) or sends records to the machine's syslog; tests that check those point
    them somewhere on purpose."""
    # Beside the test's own tmp_path, not in it: some tests check what appears there.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("AICONSOLE_AUDIT_SYSLOG", "off")
