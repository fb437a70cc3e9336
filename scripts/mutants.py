#!/usr/bin/env python3
"""A small mutation run: does the test suite notice one-line bugs in the core modules?

Each mutant below names a file, the exact text of one line there (matched without its
indentation, so it survives code moving around) and the line that replaces it. Mutants are
applied one at a time to a temporary copy of the tree (the working tree, or ``--rev`` from git),
never to the tree itself; the tests that exercise that module then run in the copy. A mutant is
*killed* when they fail, *survived* when they pass, and *not applicable* when its line is gone
(several originals may be listed for code that has been rewritten: the first present is used).

    scripts/mutants.py                  # fast tests only (no SSH or Slurm estate)
    scripts/mutants.py --estate         # also the estate tests (root, slow)
    scripts/mutants.py --rev 6b86398    # the tree of a past commit
    scripts/mutants.py --only cpu-order,nodeset-cap --list

Exit status: 0 when every applicable mutant was killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ESTATE_MARKERS = ("tests.estate", "tests.slurm_estate")
"""A test file that imports these builds an SSH/Slurm estate: root, a machine-wide lock."""


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    changes: tuple[tuple[str, str], ...]
    """(original line, replacement) pairs, tried in order; the first original found is used."""
    tests: tuple[str, ...]
    why: str


def m(name: str, path: str, tests: str, why: str, *changes: tuple[str, str]) -> Mutant:
    return Mutant(name, path, changes, tuple(tests.split()), why)


PROBE_TESTS = "tests/test_probe_parsers.py tests/test_probe_program.py tests/test_xid.py"
SLURM_TESTS = (
    "tests/test_slurm_parse.py tests/test_slurm_hostile.py tests/test_slurm_actions.py "
    "tests/test_slurm_estate.py"
)
NODESET_TESTS = "tests/test_nodeset.py tests/test_config.py tests/test_slurm_parse.py"

MUTANTS: tuple[Mutant, ...] = (
    m("disk-sector-bytes", "aiconsole/probe.py", PROBE_TESTS,
      "disk rates count the device's 4 KiB blocks, though /proc/diskstats counts 512-byte sectors",
      ("SECTOR_BYTES = 512", "SECTOR_BYTES = 4096")),
    m("gpu-power-units", "aiconsole/probe.py", PROBE_TESTS,
      "NVML's milliwatts shown as kilowatts",
      ("gpu[\"power_draw_w\"] = None if power is None else power / 1000.0",
       "gpu[\"power_draw_w\"] = None if power is None else power / 1000000.0")),
    m("rate-reset", "aiconsole/probe.py", PROBE_TESTS,
      "a counter that did not move is reported as reset",
      ("if current < previous:", "if current <= previous:")),
    m("rate-formula", "aiconsole/probe.py", PROBE_TESTS,
      "the rate divides the counter's total, not its increase",
      ("return (current - previous) / seconds, None", "return current / seconds, None")),
    m("cpu-order", "aiconsole/probe.py", PROBE_TESTS,
      "cores sorted as text: cpu10 before cpu2",
      ('cores = sorted((n for n in stat if n != "cpu"), key=lambda n: int(n[3:]))',
       'cores = sorted(n for n in stat if n != "cpu")')),
    m("cpu-idle-tick", "aiconsole/probe.py", PROBE_TESTS,
      "a core with no ticks since the last sample divides by zero",
      ("if total <= 0:", "if total < 0:")),
    m("xid-anchor", "aiconsole/probe.py", PROBE_TESTS,
      "any line that mentions Xid counts as an NVIDIA XID event",
      ('marker = message.find("NVRM: Xid")', 'marker = message.find("Xid")'),
      ("if not message.startswith(XID_MARKER):", "if XID_MARKER not in message:")),
    m("xid-pci-colon", "aiconsole/probe.py", PROBE_TESTS,
      "the ':' after the PCI address is left in front of the XID code",
      ('rest = rest.lstrip(":").strip()', "rest = rest.strip()"),
      ('address, sep, rest = message[len(XID_MARKER) :].partition("): ")',
       'address, sep, rest = message[len(XID_MARKER) :].partition(")")')),
    m("xid-order", "aiconsole/probe.py", PROBE_TESTS,
      "XID events kept newest first, so the limit drops the newest",
      ('self._events.sort(key=lambda e: e["at"] if e["at"] is not None else 0.0)',
       'self._events.sort(key=lambda e: e["at"] if e["at"] is not None else 0.0, reverse=True)')),
    m("probe-interval", "aiconsole/probe.py", PROBE_TESTS,
      "the probe accepts an interval of 0 (a busy loop on every host)",
      ('if options["interval"] <= 0:', 'if options["interval"] < 0:')),
    m("nic-speed-unknown", "aiconsole/probe.py", PROBE_TESTS,
      "a NIC's 'unknown' speed (0xFFFFFFFF) is shown as 4 Pbit/s",
      ("if speed is None or speed <= 0 or speed >= 0xFFFFFFFF:",
       "if speed is None or speed <= 0:")),
    m("nodeset-cap", "aiconsole/nodeset.py", NODESET_TESTS,
      "the host cap lets one host more through",
      ("if int(end) - int(start) >= MAX_HOSTS:", "if int(end) - int(start) > MAX_HOSTS:"),
      ("if total > MAX_HOSTS:", "if total > MAX_HOSTS + 1:")),
    m("nodeset-leading-dash", "aiconsole/nodeset.py", NODESET_TESTS,
      "a host name may start with '-' and reach ssh as an option (-v, -oBatchMode)",
      ('HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})$")',
       'HOST_NAME = re.compile(r"^[A-Za-z0-9-](?:[A-Za-z0-9._-]{0,252})$")'),
      ('HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")',
       'HOST_NAME = re.compile(r"[A-Za-z0-9-][A-Za-z0-9._-]{0,252}")')),
    m("nodeset-backwards", "aiconsole/nodeset.py", NODESET_TESTS,
      "a range that goes backwards by one expands to nothing instead of an error",
      ("if int(end) < int(start):", "if int(end) < int(start) - 1:"),
      ("if int(high) < int(low):", "if int(high) < int(low) - 1:")),
    m("nodeset-difference", "aiconsole/nodeset.py", NODESET_TESTS,
      "'!' adds hosts instead of removing them",
      ('if operator == "!":', 'if operator == "?":')),
    m("config-interval", "aiconsole/config.py", "tests/test_config.py tests/test_cli.py",
      "a zero interval is accepted",
      ("if settings.interval <= 0:", "if settings.interval < 0:"),
      ("if getattr(settings, key) <= 0:", "if getattr(settings, key) < 0:")),
    m("config-float-finite", "aiconsole/config.py", "tests/test_config.py",
      "nan and inf are accepted as durations",
      ("if isinstance(value, float) and not math.isfinite(value):", "if False:")),
    m("role-can-act", "aiconsole/actions/policy.py", f"{SLURM_TESTS} tests/test_cli.py",
      "a viewer can act when not read-only",
      ('return self.role == "operator" and not self.read_only', "return not self.read_only")),
    m("role-check", "aiconsole/actions/policy.py", f"{SLURM_TESTS} tests/test_cli.py",
      "only a role named 'admin' is refused; a viewer may act",
      ('if self.role != "operator":', 'if self.role == "admin":')),
    m("blast-radius-share", "aiconsole/actions/policy.py", SLURM_TESTS,
      "taking out exactly the allowed share is refused",
      ("if total and count / total > self.max_out_of_service:",
       "if total and count / total >= self.max_out_of_service:")),
    m("blast-radius-partitions", "aiconsole/actions/slurm.py", SLURM_TESTS,
      "a node in several partitions counts only against its first",
      ("for partition in node.partitions:", "for partition in node.partitions[:1]:")),
    m("blast-radius-size", "aiconsole/actions/slurm.py", SLURM_TESTS,
      "a partition's size is taken as the whole cluster's",
      ("partition: sum(partition in node.partitions for node in cluster.nodes)",
       "partition: len(cluster.nodes)")),
    m("slurm-state-suffix", "aiconsole/slurm/parse.py", SLURM_TESTS,
      "only '*' is stripped from a node state: 'idle~' (powered down) is a state of its own",
      ('words = [word.rstrip("*~#!%$@^-") for word in state_text.strip().split("+")]',
       'words = [word.rstrip("*") for word in state_text.strip().split("+")]'),
      ('stripped = word.rstrip("".join(SUFFIX_FLAGS))', 'stripped = word.rstrip("*")')),
    m("slurm-not-responding", "aiconsole/slurm/parse.py", SLURM_TESTS,
      "a '*' on a flag (idle+DRAIN*) no longer marks the node as not responding",
      ('if "*" in state_text and "NOT_RESPONDING" not in flags:',
       'if state_text.startswith("*") and "NOT_RESPONDING" not in flags:'),
      ('"*": "NOT_RESPONDING",', '"*": "NOT_RESPONDING_SOMETIMES",')),
    m("slurm-default-partition", "aiconsole/slurm/parse.py", SLURM_TESTS,
      "the default partition keeps its '*' (gpu* is not gpu)",
      ('partition_name = partition.strip().rstrip("*")', "partition_name = partition.strip()")),
    m("duration-minutes", "aiconsole/slurm/parse.py", SLURM_TESTS,
      "a bare number in a Slurm duration is read as seconds, not minutes",
      ("seconds *= 60", "seconds *= 1"),
      ("return values[0] * 60  # a bare number is minutes in Slurm's time formats",
       "return values[0]")),
    m("duration-days", "aiconsole/slurm/parse.py", SLURM_TESTS,
      "a day in a Slurm duration counts as an hour",
      ("return days * 86400 + seconds", "return days * 3600 + seconds"),
      ("return days * 86400 + hours * 3600 + minutes * 60 + seconds",
       "return days * 3600 + hours * 3600 + minutes * 60 + seconds")),
    m("exit-unverified", "aiconsole/cli_actions.py",
      "tests/test_cli.py tests/test_slurm_actions.py tests/test_slurm_estate.py",
      "an action whose result was not verified exits 0 instead of 4",
      ("return 0 if outcome.ok else EXIT_UNVERIFIED", "return 0")),
    m("data-age", "aiconsole/store.py", "tests/test_collectors.py tests/test_fleet_view.py",
      "a host's data age is measured backwards (always 0)",
      ("else msgspec.structs.replace(state, age_s=round(max(0.0, now - state.received_at), 3))",
       "else msgspec.structs.replace(state, age_s=round(max(0.0, state.received_at - now), 3))")),
)  # fmt: skip


def is_estate(test: Path) -> bool:
    text = test.read_text(errors="replace")
    return any(marker in text for marker in ESTATE_MARKERS)


def tests_for(mutant: Mutant, tree: Path, estate: bool) -> list[str]:
    """The mutant's own test files plus any other that imports the mutated module."""
    module = mutant.path.removesuffix(".py").replace("/", ".")
    chosen = [t for t in mutant.tests if (tree / t).exists()]
    for test in sorted((tree / "tests").glob("test_*.py")):
        relative = str(test.relative_to(tree))
        if relative not in chosen and module in test.read_text(errors="replace"):
            chosen.append(relative)
    return [t for t in chosen if estate or not is_estate(tree / t)]


def copy_tree(rev: str | None, into: Path) -> None:
    if rev:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", rev],
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
        return
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", ".hypothesis", ".*_cache")
    shutil.copytree(REPO, into, ignore=ignore, dirs_exist_ok=True, symlinks=True)


def pytest(tree: Path, tests: list[str], timeout: float) -> tuple[str, float, str]:
    """("pass" | "fail" | "timeout", seconds, first failing test) for the tests in the copy."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="1")
    env.setdefault("HYPOTHESIS_PROFILE", "ci")
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started, ""
    # 5: nothing collected; anything else non-zero: a test failed or could not import.
    status = "pass" if result.returncode == 0 else "fail"
    # Which test noticed: a kill by a test that has nothing to do with the change is a flake.
    failed = re.search(rb"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
    first = failed.group(1).decode(errors="replace") if failed else ""
    return status, time.monotonic() - started, first.removeprefix("tests/test_").split("[")[0]


def code(line: str) -> str:
    """A line without its indentation and trailing comment: what mutants match."""
    return re.sub(r"\s+#.*$", "", line).strip()


def candidates(mutant: Mutant, tree: Path) -> list[Path]:
    """The files a mutant's line may be in: its file, or, when the path names a module that
    became a package (``aiconsole/probe.py`` -> ``aiconsole/probe/``), every module of it."""
    target = tree / mutant.path
    if target.is_file():
        return [target]
    package = target.with_suffix("")
    return sorted(package.rglob("*.py")) if package.is_dir() else []


def locate(mutant: Mutant, tree: Path) -> tuple[Path, int, str] | str:
    """(file, line index, replacement) of the first listed original present once, or why
    none is."""
    files = candidates(mutant, tree)
    if not files:
        return "file gone"
    texts = {path: path.read_text().splitlines() for path in files}
    for old, new in mutant.changes:
        found = [
            (path, i)
            for path, lines in texts.items()
            for i, line in enumerate(lines)
            if code(line) == code(old)
        ]
        if len(found) > 1:
            return f"line found {len(found)} times"
        if found:
            return found[0][0], found[0][1], new
    return "line gone"


def apply(target: Path, index: int, new: str) -> str:
    """Mutate the copy in place; returns the original text to restore."""
    original = target.read_text()
    lines = original.splitlines(keepends=True)
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = indent + new.strip() + "\n"
    target.write_text("".join(lines))
    return original


def run_one(
    mutant: Mutant, tree: Path, tests: list[str], where: tuple[Path, int, str], timeout: float
) -> tuple[str, float, str]:
    """(verdict, seconds, first failing test) for one mutant; its file is restored afterwards."""
    original = apply(*where)
    try:
        status, seconds, failed = pytest(tree, tests, timeout)
    finally:
        where[0].write_text(original)
    verdict = {"pass": "survived", "fail": "killed", "timeout": "killed (timeout)"}[status]
    return verdict, seconds, failed


def check_import(tree: Path) -> None:
    """The copy, not the installed tree, must be what the tests import."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    code = "import aiconsole, sys; sys.stdout.write(aiconsole.__file__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True)
    where = result.stdout.decode()
    if not where.startswith(str(tree)):
        sys.exit(f"mutants: the copy is not what Python imports ({where!r}); stopping")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="mutate this git revision's tree (default: the working tree)")
    parser.add_argument("--estate", action="store_true", help="also run SSH/Slurm estate tests")
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per test run")
    args = parser.parse_args()
    chosen = [mu for mu in MUTANTS if not args.only or mu.name in args.only.split(",")]
    if args.list:
        for mu in chosen:
            print(f"{mu.name:26} {mu.path:28} {mu.why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="aiconsole-mutants-") as temporary:
        tree = Path(temporary)
        copy_tree(args.rev, tree)
        check_import(tree)
        baseline: dict[tuple[str, ...], tuple[str, float, str]] = {}
        rows: list[tuple[str, str, str, float, str]] = []
        for mutant in chosen:
            tests = tests_for(mutant, tree, args.estate)
            verdict, seconds, detail = "no tests", 0.0, ""
            where = locate(mutant, tree)
            if isinstance(where, str):
                verdict = f"not applicable ({where})"
            elif tests:
                if tuple(tests) not in baseline:  # the unmutated copy, once per set of tests
                    baseline[tuple(tests)] = pytest(tree, tests, args.timeout)
                base_status, base_seconds, base_failed = baseline[tuple(tests)]
                # A mutant that makes a loop spin is killed by the clock, well past the baseline.
                timeout = min(args.timeout, 3 * base_seconds + 30)
                if base_status == "pass":
                    verdict, seconds, detail = run_one(mutant, tree, tests, where, timeout)
                else:
                    verdict, detail = f"tests fail unmutated ({base_status})", base_failed
            if verdict == "survived":
                detail = " ".join(re.sub(r"^tests/test_|\.py$", "", t) for t in tests)
            rows.append((mutant.name, mutant.path, verdict, seconds, detail))
            print(f"  {mutant.name}: {verdict} ({seconds:.0f} s) {detail}", file=sys.stderr)
    print(f"{'mutant':26} {'file':28} {'result':26} {'s':>4}  killed by / tests that missed it")
    for name, path, verdict, seconds, detail in rows:
        print(f"{name:26} {path:28} {verdict:26} {seconds:4.0f}  {detail}")
    counts = {v: sum(row[2].startswith(v) for row in rows) for v in ("killed", "survived")}
    other = len(rows) - counts["killed"] - counts["survived"]
    print(
        f"\n{counts['killed']} killed, {counts['survived']} survived, {other} other, of {len(rows)}"
    )
    return 0 if counts["survived"] == 0 and other == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
