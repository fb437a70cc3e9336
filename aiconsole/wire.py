"""The probe package as one payload for the wire: every module's source, loaded on the host
from memory.

Nothing is written on a host. The payload is a small Python program: the package's module
sources as string literals and an import hook that serves them, then a call of the entry
point. Inside the package, modules import each other by their full names
(``aiconsole.probe.proc``), exactly as they do on the console, so one code base serves both;
the hook answers for ``aiconsole`` and everything under the probe package before any other
finder, so a host with another ``aiconsole`` installed still runs the one that was sent.
"""

from __future__ import annotations

import functools
from pathlib import Path

# Runs on the host (Python 3.8+), before any module of the package.
_LOADER = """\
import sys

# The import machinery's spec class, without importing importlib (its abc module pulls in
# typing, re and more: tens of ms on every host). A finder and loader need no base class.
_ModuleSpec = type(sys.__spec__)


class _FromMemory:
    def find_spec(self, name, path=None, target=None):
        if name in _PACKAGES or name in _SOURCES:
            return _ModuleSpec(name, self, is_package=name in _PACKAGES)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name = module.__name__
        if name in _PACKAGES:
            module.__path__ = []
        source = _SOURCES.get(name)
        if source is not None:
            exec(compile(source, "<aiconsole " + name + ">", "exec"), module.__dict__)


sys.meta_path.insert(0, _FromMemory())
"""


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


@functools.cache
def bundle(package_dir: Path, package: str, entry: str) -> str:
    """The program that runs ``entry`` (``module:function``) with the package loaded from
    memory. ``package`` is the package's full name; its parents become empty packages."""
    sources: dict[str, str] = {}
    packages = {".".join(package.split(".")[: n + 1]) for n in range(package.count("."))}
    for path in sorted(package_dir.rglob("*.py")):
        name = _module_name(package, package_dir, path)
        sources[name] = path.read_text()
        if path.name == "__init__.py":
            packages.add(name)
    module, _, function = entry.partition(":")
    return (
        f"_SOURCES = {sources!r}\n_PACKAGES = {sorted(packages)!r}\n"
        + _LOADER
        # from-import: a package may bind a name equal to its entry module's
        + f"from {module} import {function} as _entry\nsys.exit(_entry())\n"
    )
