"""A package bundled into one program runs on a host's python3 from memory: its modules import
each other by full name, nothing is written, and the one that was sent wins over an installed
package of the same name."""

from __future__ import annotations

import marshal
import subprocess
import sys
import zlib
from pathlib import Path

from aiconsole.wire import UNPACK, bundle, payload, unpack


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


# -- the payload the SSH collector sends -------------------------------------------------------


def run_payload(data: bytes, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    """As the bootstrap on a host: read the payload, unpack it, run the program."""
    code = (
        "import sys\npayload = sys.stdin.buffer.read()\n"
        + UNPACK
        + ("exec(compile(program, 'p', 'exec'))\n")
    )
    return subprocess.run(
        [sys.executable, "-I", "-c", code, "x"],
        input=data, capture_output=True, cwd=tmp_path, timeout=30,
    )  # fmt: skip


def repack(
    data: bytes, *, magic: bytes | None = None, codes: dict[str, bytes] | None = None
) -> bytes:
    """The payload with another bytecode magic or other compiled modules."""
    sent = unpack(data)
    parts = [
        zlib.compress(sent.program.encode()),
        zlib.compress(marshal.dumps(sent.sources)),
        zlib.compress(marshal.dumps(sent.codes if codes is None else codes)),
    ]
    sizes = b" ".join(str(len(p)).encode() for p in parts)
    head = b"aiconsole-probe %s %s\n" % (sizes, (magic or sent.magic).hex().encode())
    return head + b"".join(parts)


def test_a_host_with_the_consoles_bytecode_runs_the_compiled_modules(tmp_path: Path) -> None:
    package = make_package(tmp_path / "src")
    data = payload(package, "acme.demo", "acme.demo.main:main")
    result = run_payload(data, tmp_path)
    assert (result.returncode, result.stdout) == (3, b"sent 4 ['x']\n"), result.stderr
    # The compiled modules are what runs (not the sources beside them): change one.
    changed = dict(unpack(data).codes)
    changed["acme.demo.readers.cpu"] = marshal.dumps(
        compile("def count():\n    return 5\n", "c", "exec")
    )
    result = run_payload(repack(data, codes=changed), tmp_path)
    assert result.stdout == b"sent 5 ['x']\n", result.stderr


def test_a_host_with_other_bytecode_compiles_the_sources(tmp_path: Path) -> None:
    package = make_package(tmp_path / "src")
    data = payload(package, "acme.demo", "acme.demo.main:main")
    other = repack(data, magic=b"\x00\x00\r\n", codes={"acme.demo.readers.cpu": b"not code"})
    before = set(tmp_path.rglob("*"))
    result = run_payload(other, tmp_path)
    assert (result.returncode, result.stdout) == (3, b"sent 4 ['x']\n"), result.stderr
    assert set(tmp_path.rglob("*")) == before  # nothing written
