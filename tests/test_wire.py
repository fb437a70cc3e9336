"""A package bundled into one program runs on a host's python3 from memory: its modules import
each other by full name, nothing is written, and the one that was sent wins over an installed
package of the same name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from aiconsole.wire import bundle


def make_package(root: Path) -> Path:
    package = root / "demo"
    (package / "readers").mkdir(parents=True)
    (package / "__init__.py").write_text("VERSION = 'sent'\n")
    (package / "readers" / "__init__.py").write_text("")
    (package / "readers" / "cpu.py").write_text("def count():\n    return 4\n")
    (package / "main.py").write_text(
        "import sys\n"
        "from acme.demo import VERSION\n"
        "from acme.demo.readers.cpu import count\n"
        "def main():\n"
        "    print(VERSION, count(), sys.argv[1:])\n"
        "    return 3\n"
    )
    return package


def run_bundle(program: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # As the SSH collector runs it: the interpreter isolated, the program on stdin.
    return subprocess.run(
        [sys.executable, "-I", "-c", "import sys; exec(compile(sys.stdin.read(), 'b', 'exec'))",
         *args],
        input=program, capture_output=True, text=True, cwd=tmp_path, timeout=30,
    )  # fmt: skip


def test_a_bundled_package_runs_from_memory(tmp_path: Path) -> None:
    program = bundle(make_package(tmp_path / "src"), "acme.demo", "acme.demo.main:main")
    before = set(tmp_path.rglob("*"))
    result = run_bundle(program, tmp_path, "--interval", "1")
    assert result.returncode == 3, result.stderr
    assert result.stdout == "sent 4 ['--interval', '1']\n"
    assert set(tmp_path.rglob("*")) == before  # nothing written (no __pycache__ either)


def test_the_sent_package_wins_over_an_installed_one(tmp_path: Path) -> None:
    program = bundle(make_package(tmp_path / "src"), "acme.demo", "acme.demo.main:main")
    installed = tmp_path / "site" / "acme" / "demo"
    installed.mkdir(parents=True)
    (installed.parent / "__init__.py").write_text("")
    (installed / "__init__.py").write_text("VERSION = 'installed'\n")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; exec(compile(sys.stdin.read(), 'b', 'exec'))"],
        input=program, capture_output=True, text=True, timeout=30,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.stdout.startswith("sent 4"), result.stderr
