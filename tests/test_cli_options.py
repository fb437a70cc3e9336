"""Global options on either side of every command; usage errors exit 64; --help epilogs;
and what the local ``snapshot --json`` imports."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from aiconsole.cli_options import GLOBAL_OPTIONS, subcommands
from aiconsole.cli_parsers import build_parser
from tests.conftest import run_aiconsole

# A value for each global option; --prometheus and --hosts name only this machine.
GLOBAL_VALUES: dict[str, list[str]] = {
    "--config": ["--config", "/nonexistent/aiconsole.toml"],
    "--hosts": ["--hosts", "127.0.0.[1-2]"],
    "--interval": ["--interval", "2.5"],
    "--timeout": ["--timeout", "3"],
    "--accept-new-host-keys": ["--accept-new-host-keys"],
    "--slurm": ["--slurm", "local"],
    "--cluster": ["--cluster", "c1"],
    "--context": ["--context", "kind-a"],
    "--prometheus": ["--prometheus", "http://127.0.0.1:9"],
    "--read-only": ["--read-only"],
    "--theme": ["--theme", "nord"],
}
# Where a command has an option of the same name, after the command it means the command's.
SHADOWED = {("drain", "--timeout"), ("diagnose", "--timeout")}
REQUIRED_VALUES = {"--for": "1h", "--note": "n", "--policy": "defrag"}


def command_paths() -> list[str]:
    # A parent's positionals show in a nested command's prog (``replay FILE snapshot``).
    return [
        " ".join(w for w in child.prog.split(" ")[1:] if not w.isupper())
        for child in subcommands(build_parser())
    ]


def _arguments(parser: argparse.ArgumentParser) -> list[str]:
    """A parser's positionals and required options, with stand-in values."""
    argv: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue  # its commands are tested as paths of their own
        if not action.option_strings and action.dest != "help":
            argv.append("n1")
        elif action.required:
            flag = action.option_strings[0]
            argv += [flag, REQUIRED_VALUES.get(flag, "x")]
    return argv


def command_argv(path: str) -> list[str]:
    """The command words plus the arguments each level requires, found from the parsers (so
    a command added later is covered with no change here)."""
    parser = build_parser()
    argv: list[str] = []
    for n, word in enumerate(path.split()):
        if n:
            argv += _arguments(parser)  # a parent's own positionals come before its command
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
        argv.append(word)
    if any(isinstance(a, argparse._SubParsersAction) and a.required for a in parser._actions):
        return argv  # "hosts": needs its subcommand, tested as a path of its own
    return argv + _arguments(parser)


def parse(argv: list[str]) -> dict[str, object]:
    return vars(build_parser().parse_args(argv))


def test_the_options_are_defined_once_and_every_command_is_covered() -> None:
    assert sorted(GLOBAL_VALUES) == sorted(flags[0] for flags, _ in GLOBAL_OPTIONS)
    paths = command_paths()
    for expected in ("snapshot", "health", "schema", "serve", "hosts check", "drain", "audit"):
        assert expected in paths


@pytest.mark.parametrize("path", command_paths())
def test_every_global_option_means_the_same_before_or_after_every_command(path: str) -> None:
    command = command_argv(path)
    if path == "hosts":
        command = [*command, "check"]
    groups = [
        values for flag, values in GLOBAL_VALUES.items() if (path.split()[0], flag) not in SHADOWED
    ]
    options = [value for values in groups for value in values]
    before = parse([*options, *command])
    after = parse([*command, *options])
    assert after == before
    assert before["hosts"] == "127.0.0.[1-2]" and before["context"] == ["kind-a"]
    assert before["read_only"] is True and before["interval"] == 2.5
    # Half on each side, and a repeatable option given on both sides keeps both values.
    others = [values for values in groups if values[0] != "--context"]
    first = [value for values in others[::2] for value in values]
    second = [value for values in others[1::2] for value in values]
    split = parse([*first, "--context", "kind-b", *command, *second, "--context", "kind-a"])
    assert {k: v for k, v in split.items() if k != "context"} == {
        k: v for k, v in before.items() if k != "context"
    }
    assert split["context"] == ["kind-b", "kind-a"]


def test_nothing_given_leaves_the_defaults() -> None:
    args = parse(command_argv("hosts check"))
    assert args["hosts"] is None and args["context"] is None and args["read_only"] is False
    assert not [name for name in args if name.startswith("_")]


def test_a_command_option_of_the_same_name_keeps_its_meaning() -> None:
    args = parse(["--timeout", "4", "drain", "n1", "--timeout", "30"])
    assert (args["timeout"], args["drain_timeout"]) == (4.0, 30.0)
    shadowed = {
        (child.prog.split(" ", 1)[1], flag)
        for child in subcommands(build_parser())
        for flags, keywords in GLOBAL_OPTIONS
        for flag in flags
        if child._option_string_actions[flag].help != keywords["help"]
    }
    assert shadowed == SHADOWED


def test_options_after_the_command_work_from_the_shell(no_gpu_env: dict[str, str]) -> None:
    # The commands, which stopped at "unrecognized arguments" before.
    code, stdout, stderr = run_aiconsole(
        "snapshot", "--json", "--window", "0", "--hosts", "127.0.0.1", "--timeout", "2",
        env=no_gpu_env,
    )  # fmt: skip
    assert code in (0, 2), stderr
    assert [host["name"] for host in json.loads(stdout)["hosts"]] == ["127.0.0.1"]
    code, stdout, stderr = run_aiconsole(
        "snapshot", "--json", "--window", "0", "--slurm", "local", env=no_gpu_env
    )
    assert code in (0, 2), stderr
    assert [cluster["name"] for cluster in json.loads(stdout)["clusters"]] == ["local"]


@pytest.mark.parametrize(
    "argv",
    [
        ["snapshot", "--window", "abc"],
        ["snapshot", "--no-such-option"],
        ["--interval", "fast", "snapshot"],
        ["no-such-command"],
        ["snapshot", "--window", "-1"],
        ["--interval", "0", "snapshot"],
    ],
)
def test_usage_errors_exit_64_with_one_line(argv: list[str], no_gpu_env: dict[str, str]) -> None:
    code, stdout, stderr = run_aiconsole(*argv, env=no_gpu_env)
    assert code == 64
    assert stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and "error:" in stderr


@pytest.mark.parametrize("path", ["", *command_paths()])
def test_every_help_page_lists_exit_codes_and_explains_every_option(path: str) -> None:
    parser = build_parser()
    for child in subcommands(parser):
        if child.prog == f"aiconsole {path}":
            parser = child
    text = parser.format_help()
    assert "exit codes:" in text and "64" in text
    assert "as above" not in text
    global_flags = {flag for flags, _ in GLOBAL_OPTIONS for flag in flags}
    shown = [a for a in parser._actions if global_flags.intersection(a.option_strings)]
    assert len(shown) == len(GLOBAL_OPTIONS)  # a shadowed one is the command's own
    for action in shown:
        assert action.help and len(action.help) > 20, f"{path}: {action.option_strings}"


def test_local_snapshot_json_imports_only_what_it_uses(no_gpu_env: dict[str, str]) -> None:
    script = (
        "import sys\n"
        "from aiconsole.cli import main\n"
        "code = main(['snapshot', '--json', '--window', '0'])\n"
        "print(code, ' '.join(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=no_gpu_env, capture_output=True, text=True, check=True
    )
    code, modules = result.stderr.split(" ", 1)
    assert code == "0" and json.loads(result.stdout)["hosts"]
    unwanted = (
        "asyncio",  # the local fleet is sampled without an event loop
        "concurrent.futures",
        "asyncssh",
        "textual",
        "rich",
        "kubernetes",
        "prometheus_client",
        "aiconsole.slurm",
        "aiconsole.collectors.ssh",
        "aiconsole.collectors.slurm",
        "aiconsole.collectors.kubernetes",
    )
    loaded = sorted(
        name
        for name in modules.split()
        if any(name == u or name.startswith(f"{u}.") for u in unwanted)
    )
    assert loaded == []
