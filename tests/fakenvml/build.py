"""Compile the stand-in ``libnvidia-ml.so.1`` (fake_nvml.c) against NVIDIA's real nvml.h.

Used by the test fixtures, the screenshot script and the benchmarks. The header comes from the
``nvidia-nvml-dev`` wheel (a test dependency), so the stand-in's signatures are NVIDIA's own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("fake_nvml.c")
SONAME = "libnvidia-ml.so.1"


def nvml_header_dir() -> Path:
    """The include directory of the installed nvidia-nvml-dev wheel."""
    for entry in map(Path, sys.path):
        for header in sorted((entry / "nvidia").glob("*/include/nvml.h")):
            return header.parent
    raise FileNotFoundError(
        "nvml.h not found: install the test dependencies (pip install -e '.[test]')"
    )


def build(out_dir: Path, *, old_driver: bool = False) -> Path:
    """Compile into ``out_dir/libnvidia-ml.so.1`` and return ``out_dir``.

    ``old_driver`` leaves out the symbols drivers before R510 lack (memory v2, ``_v3`` calls).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / SONAME
    command = [
        "gcc",
        "-shared",
        "-fPIC",
        "-O1",
        "-std=gnu11",
        "-Wall",
        "-Werror",
        "-Wno-deprecated-declarations",  # nvmlDeviceGetTemperature is deprecated in CUDA 13
        f"-Wl,-soname,{SONAME}",
        "-I",
        str(nvml_header_dir()),
        *(["-DFAKE_NVML_OLD_DRIVER"] if old_driver else []),
        "-o",
        str(target),
        str(SOURCE),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return out_dir


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else "build/fakenvml")))
