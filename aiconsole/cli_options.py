"""The global options, defined once and accepted before or after any command.

Operators type ``aiconsole snapshot --json --hosts 'gpu[01-32]'`` as often as
``aiconsole --hosts 'gpu[01-32]' snapshot --json``; both must mean the same. The options are
declared here once (:data:`GLOBAL_OPTIONS`); :func:`spread_global_options` copies them onto
every subcommand, nested ones included, after the whole parser is built, so a command added
later gets them with no code of its own. On a subcommand they default to ``SUPPRESS``: a value
given before the command survives when it is not repeated after it.

A usage error (an unknown option, a value of the wrong type) exits :data:`EXIT_USAGE` (64,
``EX_USAGE`` of sysexits.h) with one line, so a script can tell a typo from a degraded fleet
(2) or an error (1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_USAGE = 64

# One definition per global option: (flags, add_argument keywords). "default" is set by
# the parser that receives them: real defaults on the main parser, SUPPRESS on commands.
GLOBAL_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--config",),
        {
            "metavar": "PATH",
            "help": "inventory file (default: $AICONSOLE_CONFIG, else "
            "~/.config/aiconsole/config.toml)",
        },
    ),
    (
        ("--hosts",),
        {
            "metavar": "NODESET",
            "help": "hosts to watch over SSH, e.g. 'gpu[01-32],login1' or '@group!gpu07'",
        },
    ),
    (
        ("--interval",),
        {
            "type": float,
            "metavar": "S",
            "help": "seconds between samples and refreshes (default 1, or the config's)",
        },
    ),
    (
        ("--timeout",),
        {
            "type": float,
            "metavar": "S",
            "help": "SSH connect timeout per host in seconds (default 5, or the config's)",
        },
    ),
    (
        ("--accept-new-host-keys",),
        {
            "action": "store_true",
            "help": "record the key of a host not yet in known_hosts (as ssh's accept-new); "
            "a changed key is still refused",
        },
    ),
    (
        ("--slurm",),
        {
            "metavar": "HOST",
            "help": "a Slurm cluster whose commands (sinfo, squeue, scontrol) run over SSH on "
            "HOST, or here with 'local'",
        },
    ),
    (
        ("--cluster",),
        {"metavar": "NAME", "help": "a Slurm cluster named in the config's [clusters] table"},
    ),
    (
        ("--context",),
        {
            "action": "append",
            "metavar": "NAME",
            "help": "a Kubernetes cluster: a kubeconfig context (repeatable, on either side "
            "of the command; 'all' for every one)",
        },
    ),
    (
        ("--prometheus",),
        {
            "metavar": "URL",
            "help": "read the fleet from this Prometheus server (dcgm-exporter, node_exporter "
            "and up series); the config's [prometheus] table adds credentials",
        },
    ),
    (
        ("--read-only",),
        {"action": "store_true", "help": "see everything, act on nothing"},
    ),
    (
        ("--theme",),
        {
            "metavar": "NAME",
            "help": "colour theme of the console, e.g. nord, gruvbox, textual-light (default: "
            "the one last chosen in the command palette, else the config's [ui] theme)",
        },
    ),
)

# Where a repeatable option given after a command lands before it is merged (one name per
# nesting depth: a subcommand's values would otherwise overwrite its parent command's).
_AFTER = "_after_command_"

EXIT_CODES_USAGE = f"{EXIT_USAGE} usage error (unknown option, bad value; one line on stderr)"


class UsageParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit :data:`EXIT_USAGE`."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if getattr(self, "_is_main", False):
            merge_repeated(parsed)
        return parsed, extras


def add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The global options on ``parser``: with their defaults on the main parser; with
    SUPPRESS on a command (``suppress``), skipping a flag the command defines itself (its
    own meaning wins there, e.g. ``drain --timeout``)."""
    own = set(parser._option_string_actions)
    shadowed = [f for flags, _ in GLOBAL_OPTIONS for f in flags if suppress and f in own]
    title = "global options (also accepted before the command)" if suppress else "global options"
    note = (
        f"{', '.join(shadowed)} after the command is this command's own (see above); "
        "give the global one before the command"
        if shadowed
        else None
    )
    group = parser.add_argument_group(title, note)
    for flags, keywords in GLOBAL_OPTIONS:
        if suppress and own.intersection(flags):
            continue
        options = dict(keywords)
        if suppress:
            options["default"] = argparse.SUPPRESS
            if options.get("action") == "append":
                options["dest"] = f"{_AFTER}{_depth(parser)}{flags[0].lstrip('-')}"
        group.add_argument(*flags, **options)


def _depth(parser: argparse.ArgumentParser) -> int:
    return parser.prog.count(" ")


def subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command parser under ``parser``, nested ones included (each once)."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found.append(child)
                found.extend(subcommands(child))
    return found


def spread_global_options(parser: UsageParser, epilogs: dict[str, str]) -> None:
    """Give every command the global options and an epilog listing its exit codes
    (``epilogs`` by command path such as ``"hosts check"``; others get the common ones)."""
    parser._is_main = True  # type: ignore[attr-defined]
    for child in subcommands(parser):
        add_global_options(child, suppress=True)
        path = child.prog.split(" ", 1)[1] if " " in child.prog else child.prog
        codes = epilogs.get(path, "0 done; 1 error (one line on stderr)")
        if child.epilog is None:
            child.epilog = f"exit codes: {codes}; {EXIT_CODES_USAGE}"


def merge_repeated(namespace: argparse.Namespace) -> None:
    """Fold the values of a repeatable option given after a command into those given before
    it, in the order typed."""
    for name in sorted(vars(namespace)):
        if not name.startswith(_AFTER):
            continue
        dest = name[len(_AFTER) :].lstrip("0123456789").replace("-", "_")
        after = vars(namespace).pop(name) or []
        setattr(namespace, dest, [*(getattr(namespace, dest, None) or []), *after])


def usage_error(message: str) -> int:
    """A usage error found after parsing (a value out of range): one line, :data:`EXIT_USAGE`."""
    print(f"aiconsole: error: {message}", file=sys.stderr)
    return EXIT_USAGE
