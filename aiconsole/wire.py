"""The probe package for the wire: every module, loaded on the host from memory.

Nothing is written on a host. What runs there is a small Python program: an import hook that
serves the package's modules from memory, then a call of the entry point. Inside the package,
modules import each other by their full names (``aiconsole.probe.proc``), exactly as they do
on the console, so one code base serves both; the hook answers for ``aiconsole`` and
everything under the probe package before any other finder, so a host with another
``aiconsole`` installed still runs the one that was sent.

Two forms:

- :func:`bundle`: one self-contained program with the module sources as string literals;
- :func:`payload`: what the SSH collector sends, cheaper to start on every host at every
  connect. A header line, then three zlib-compressed parts: the hook program, the sources
  (``marshal``), and the modules compiled by the console's interpreter, each marshalled on
  its own. A host whose interpreter has the console's bytecode magic unmarshals only the
  modules it imports (compiling them is most of a start-up's CPU); any other host compiles
  the sources. :data:`UNPACK` is the host's side of it.
"""

from __future__ import annotations

import functools
import importlib.util
import marshal
import zlib
from dataclasses import dataclass
from pathlib import Path

# Runs on the host (Python 3.8+), before any module of the package. ``_SOURCES`` and
# ``_CODES`` (module name to source text, and to marshalled code) are set before it runs.
_LOADER = """\
import sys

# The import machinery's spec class, without importing importlib (its abc module pulls in
# typing, re and more: tens of ms on every host). A finder and loader need no base class.
_ModuleSpec = type(sys.__spec__)


class _FromMemory:
    def find_spec(self, name, path=None, target=None):
        if name in _PACKAGES or name in _SOURCES or name in _CODES:
            return _ModuleSpec(name, self, is_package=name in _PACKAGES)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        if name in _PACKAGES:
            module.__path__ = []
        if name in _CODES:
            import marshal

            exec(marshal.loads(_CODES[name]), module.__dict__)
        elif name in _SOURCES:
            exec(compile(_SOURCES[name], "<aiconsole " + name + ">", "exec"), module.__dict__)


sys.meta_path.insert(0, _FromMemory())
"""

MARSHAL_VERSION = 4
"""Readable by every Python 3.4+, so the sources reach a 3.8 host from a newer console."""

ZLIB_LEVEL = 6
"""Level 9 saves 1% of the bytes for four times the console's start-up CPU (about 60 ms)."""

BYTECODE_MAGIC = importlib.util.MAGIC_NUMBER
"""The bytecode a host's interpreter must have for the console's compiled modules."""

# The host's side of :func:`payload` (its size was read from argv; the bytes are in
# ``payload``). ``_frozen_importlib_external`` is loaded at every start, so asking it for the
# magic costs nothing.
UNPACK = (
    "import marshal, zlib\n"
    "head, _, payload = payload.partition(b'\\n')\n"
    "_, program_size, sources_size, _, magic = head.split()\n"
    "program_end = int(program_size)\n"
    "sources_end = program_end + int(sources_size)\n"
    "here = getattr(sys.modules.get('_frozen_importlib_external'), 'MAGIC_NUMBER', b'')\n"
    "_SOURCES, _CODES = {}, {}\n"
    "if here.hex().encode() == magic:\n"
    "    _CODES = marshal.loads(zlib.decompress(payload[sources_end:]))\n"
    "else:\n"
    "    _SOURCES = marshal.loads(zlib.decompress(payload[program_end:sources_end]))\n"
    "program = zlib.decompress(payload[:program_end])\n"
    "del payload\n"
)


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def _sources(package_dir: Path, package: str) -> dict[str, str]:
    return {
        _module_name(package, package_dir, path): path.read_text()
        for path in sorted(package_dir.rglob("*.py"))
    }


def _program(package_dir: Path, package: str, entry: str) -> str:
    """The hook and the entry call; ``_SOURCES``/``_CODES`` come from elsewhere."""
    packages = {".".join(package.split(".")[: n + 1]) for n in range(package.count("."))}
    packages |= {
        _module_name(package, package_dir, path) for path in package_dir.rglob("__init__.py")
    }
    module, _, function = entry.partition(":")
    return (
        f"_PACKAGES = {sorted(packages)!r}\n"
        + _LOADER
        # from-import: a package may bind a name equal to its entry module's
        + f"from {module} import {function} as _entry\nsys.exit(_entry())\n"
    )


@functools.cache
def bundle(package_dir: Path, package: str, entry: str) -> str:
    """The program that runs ``entry`` (``module:function``) with the package loaded from
    memory. ``package`` is the package's full name; its parents become empty packages."""
    sources = _sources(package_dir, package)
    return f"_SOURCES = {sources!r}\n_CODES = {{}}\n" + _program(package_dir, package, entry)


@functools.cache
def payload(package_dir: Path, package: str, entry: str) -> bytes:
    """What the SSH collector sends (see the module's docstring and :data:`UNPACK`)."""
    sources = _sources(package_dir, package)
    codes = {
        name: marshal.dumps(compile(text, f"<aiconsole {name}>", "exec", dont_inherit=True))
        for name, text in sources.items()
    }
    parts = [
        zlib.compress(_program(package_dir, package, entry).encode(), ZLIB_LEVEL),
        zlib.compress(marshal.dumps(sources, MARSHAL_VERSION), ZLIB_LEVEL),
        zlib.compress(marshal.dumps(codes, MARSHAL_VERSION), ZLIB_LEVEL),
    ]
    sizes = b" ".join(str(len(part)).encode() for part in parts)
    return b"aiconsole-probe %s %s\n" % (sizes, BYTECODE_MAGIC.hex().encode()) + b"".join(parts)


@dataclass(frozen=True)
class Unpacked:
    program: str
    sources: dict[str, str]
    codes: dict[str, bytes]
    magic: bytes


def unpack(data: bytes) -> Unpacked:
    """Read a :func:`payload` back (as a host would, for tests and tools)."""
    head, _, rest = data.partition(b"\n")
    _, program_size, sources_size, codes_size, magic = head.split()
    ends = [int(program_size), int(program_size) + int(sources_size)]
    ends.append(ends[1] + int(codes_size))
    return Unpacked(
        program=zlib.decompress(rest[: ends[0]]).decode(),
        sources=marshal.loads(zlib.decompress(rest[ends[0] : ends[1]])),
        codes=marshal.loads(zlib.decompress(rest[ends[1] : ends[2]])),
        magic=bytes.fromhex(magic.decode()),
    )
