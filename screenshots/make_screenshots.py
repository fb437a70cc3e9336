"""Make the README's pictures from a real run: this machine, read by the real probe, with
stand-in GPUs (the test suite's libnvidia-ml.so.1, loaded by the unmodified pynvml).

Run: .venv/bin/python screenshots/make_screenshots.py   (needs the test extras installed)

On a machine with real NVIDIA GPUs, ``make_screenshots.py --real DIR`` draws the same screens
from the real driver, no stand-in, into DIR (``real-fleet.svg``, ``real-host.svg``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakenvml.build import build  # noqa: E402

OUT = REPO / "screenshots"
WORKLOADS = (
    "import time; time.sleep(120)  # train.py --model llama-70b",
    "import time; time.sleep(120)  # vllm serve --tp 2",
)


def nvml_config(path: Path, pids: list[int]) -> None:
    lines = ["device_count=4", "driver_version=550.54.15"]
    figures = [(97, 71, 690, 78), (93, 64, 655, 74), (0, 3, 71, 33), (45, 38, 301, 57)]
    for index, (util, memory_pct, watts, temp) in enumerate(figures):
        total = 80 * 1024**3
        prefix = f"gpu{index}."
        lines += [
            prefix + "name=NVIDIA H100 80GB HBM3",
            prefix + f"uuid=GPU-5e3c0a{index:02d}-8d1f-4c0e-9b1e-7a2f00{index:06d}",
            prefix + f"bus_id=00000000:{0x18 + 0x20 * index:02X}:00.0",
            prefix + f"util_gpu={util}",
            prefix + f"util_memory={memory_pct // 2}",
            prefix + f"memory_total={total}",
            prefix + f"memory_used={total * memory_pct // 100}",
            prefix + f"temperature={temp}",
            prefix + f"power_usage={watts * 1000}",
            prefix + "power_limit=700000",
            prefix + "sm_clock=1980",
        ]
    lines.append(f"gpu0.processes={pids[0]}:{60 * 1024**3}")
    lines.append(f"gpu1.processes={pids[0]}:{52 * 1024**3}")
    lines.append(f"gpu3.processes={pids[1]}:{30 * 1024**3}")
    path.write_text("\n".join(lines) + "\n")


async def capture(out: Path = OUT, prefix: str = "") -> None:
    from aiconsole.app import ConsoleApp
    from aiconsole.fleet import local_fleet

    fleet = local_fleet(interval=0.5)
    app = ConsoleApp(fleet, refresh_interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        await asyncio.sleep(1.6)  # two samples, so every rate is filled in
        await pilot.pause()
        app.save_screenshot(prefix + "fleet.svg", path=str(out))
        await pilot.press("enter")
        await asyncio.sleep(1.1)
        await pilot.pause()
        app.save_screenshot(prefix + "host.svg", path=str(out))
        if not prefix:
            await pilot.press("escape", "question_mark")
            await pilot.pause()
            app.save_screenshot("help.svg", path=str(OUT))
    fleet.close()
    if prefix:
        return
    # The same machine in the smallest usual terminal: what gives way, and what does not.
    fleet = local_fleet(interval=0.5)
    app = ConsoleApp(fleet, refresh_interval=0.5)
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.sleep(1.6)
        await pilot.pause()
        app.save_screenshot("fleet-80x24.svg", path=str(OUT))
    fleet.close()


def main() -> None:
    if sys.argv[1:2] == ["--real"]:
        asyncio.run(capture(Path(sys.argv[2]), "real-"))
        return
    if "FAKE_NVML_CONFIG" in os.environ:
        asyncio.run(capture())
        return
    with tempfile.TemporaryDirectory() as tmp:
        workloads = [subprocess.Popen([sys.executable, "-c", code]) for code in WORKLOADS]
        try:
            lib = build(Path(tmp) / "lib")
            config = Path(tmp) / "nvml.conf"
            nvml_config(config, [p.pid for p in workloads])
            # The library must be on the loader's path before the process starts: re-run.
            env = dict(os.environ, LD_LIBRARY_PATH=str(lib), FAKE_NVML_CONFIG=str(config))
            subprocess.run([sys.executable, __file__], env=env, check=True)
        finally:
            for process in workloads:
                process.kill()
    names = ("fleet.svg", "host.svg", "help.svg", "fleet-80x24.svg")
    print("wrote", ", ".join(str(OUT / name) for name in names))


if __name__ == "__main__":
    main()
