"""The ssh client config, read once for the whole fleet and evaluated per host like OpenSSH.

asyncssh tokenises the whole config again for every host it connects to; with a config that
has a stanza per host, a cold fleet of N hosts costs N x N line splits (about 3 s of console
CPU for 256 hosts). Here each file is split into lines once (and again only when a file
read changes), and each host walks the already-split lines:

- ``Host`` patterns (``*``, ``?``, ``!`` negation; case-sensitive, separated by spaces only)
  and ``Match`` with ``all``, ``host``, ``originalhost``, ``user`` and ``localuser`` (comma
  lists, ``!`` negation, host patterns lowercased) decide which lines apply, as in OpenSSH's
  ``readconf.c``; every criterion of a ``Match`` line must hold;
- ``Include`` (globs, sorted; relative to ``~/.ssh``; at most 16 deep) is read where it
  stands: inside a block that does not apply, its ``Host``/``Match`` lines never match;
- each option line that applies is handed to asyncssh's own handler for that keyword, so
  values keep asyncssh's types and its first-value-wins (or append) rule, and the ``%``
  tokens of ``IdentityFile``, ``ProxyCommand``, ... are expanded once, at the end.

A config using anything else that decides which lines apply (``Match exec``, ``canonical``,
``final``, ``tagged``, ``localnetwork``, ``address``, hostname canonicalisation, an ``Include``
with tokens) is not evaluated here: :func:`load` returns None and the caller asks asyncssh to
evaluate it per host, as before.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.config import SSHClientConfig

FileStamp = tuple[str, int, int, int] | tuple[str, None, None, None]


def stamp(path: str) -> FileStamp:
    """What identifies one version of a file; a missing file has a stamp too."""
    try:
        info = os.stat(path)
    except OSError:
        return (path, None, None, None)
    return (path, info.st_mtime_ns, info.st_size, info.st_ino)


MAX_INCLUDE_DEPTH = 16
"""As OpenSSH's READCONF_MAX_DEPTH: an Include loop is an error, not a hang."""

MATCH_CRITERIA = {"all", "host", "originalhost", "user", "localuser"}
"""The ``Match`` criteria evaluated here; any other sends the config back to asyncssh."""

NO_SPLIT = {"proxycommand", "remotecommand"}
"""Keywords whose value is the rest of the line, unsplit (as asyncssh and OpenSSH take it)."""


class Unsupported(Exception):
    """The config uses something evaluated only by asyncssh itself, per host."""


class ConfigError(ValueError):
    """A config line ssh would refuse (names the file and the line)."""


@dataclass(frozen=True)
class Option:
    path: str
    number: int
    keyword: str
    """Lowercase, as written."""
    args: tuple[str, ...]


@dataclass(frozen=True)
class HostLine:
    patterns: tuple[tuple[bool, re.Pattern[str]], ...]
    """(negated, pattern) in the order written."""


@dataclass(frozen=True)
class Criterion:
    negated: bool
    kind: str
    patterns: tuple[tuple[bool, re.Pattern[str]], ...] = ()


@dataclass(frozen=True)
class MatchLine:
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class IncludeLine:
    files: tuple[tuple[Entry, ...], ...]


Entry = Option | HostLine | MatchLine | IncludeLine


def compile_pattern(pattern: str, lower: bool = False) -> re.Pattern[str]:
    """OpenSSH's wildcard: ``*`` any run, ``?`` one character, everything else literal."""
    if lower:
        pattern = pattern.lower()
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def pattern_list(text: str, lower: bool) -> tuple[tuple[bool, re.Pattern[str]], ...]:
    """A comma list as ``match_pattern_list`` reads it: ``!`` negates one element."""
    items = []
    for item in text.split(","):
        negated = item.startswith("!")
        items.append((negated, compile_pattern(item[1:] if negated else item, lower)))
    return tuple(items)


def list_matches(value: str, patterns: tuple[tuple[bool, re.Pattern[str]], ...]) -> bool:
    """True when an element matches and no negated one does."""
    positive = False
    for negated, pattern in patterns:
        if pattern.fullmatch(value):
            if negated:
                return False
            positive = True
    return positive


def split_line(line: str) -> tuple[str, list[str]]:
    """The keyword (lowercase) and its arguments, split as asyncssh splits them (quotes,
    ``key=value``, ``key = value``); ``Host`` and ``Match`` split at every ``=``."""
    words = shlex.split(line)
    keyword, args = "", []
    split_equals = True
    for index, word in enumerate(words):
        if word.startswith("="):
            if len(word) > 1:
                args.append(word[1:])
        elif not split_equals:
            args.extend(words[index:])
            break
        elif word.endswith("="):
            args.append(word[:-1])
        elif "=" in word:
            args.extend(word.split("=", 1))
        else:
            args.append(word)
        if index == 0:
            if not args:
                raise ValueError("a line starts with '='")
            keyword = args.pop(0).lower()
            split_equals = keyword in ("host", "match")
    if keyword in NO_SPLIT:
        args = [line[len(keyword) :].strip()]
    return keyword, args


@dataclass
class Reader:
    """Reads a config file and what it includes, remembering every file and folder read."""

    home_ssh: Path = field(default_factory=lambda: Path("~/.ssh").expanduser())
    stamps: list[FileStamp] = field(default_factory=list)

    def read(self, path: str, depth: int = 0) -> tuple[Entry, ...]:
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"{path}: Include nested more than {MAX_INCLUDE_DEPTH} deep")
        self.stamps.append(stamp(path))
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
        entries: list[Entry] = []
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                keyword, args = split_line(line)
            except ValueError as error:
                raise ConfigError(f"{path} line {number}: {error}") from None
            entries.append(self._entry(path, number, keyword, args, depth))
        return tuple(entries)

    def _entry(self, path: str, number: int, keyword: str, args: list[str], depth: int) -> Entry:
        where = f"{path} line {number}"
        if not args:
            raise ConfigError(f"{where}: missing argument for {keyword}")
        if keyword == "host":
            patterns = []
            for arg in args:
                negated = arg.startswith("!")
                patterns.append((negated, compile_pattern(arg[1:] if negated else arg)))
            return HostLine(tuple(patterns))
        if keyword == "match":
            return MatchLine(self._criteria(where, args))
        if keyword == "include":
            return IncludeLine(tuple(self.read(p, depth + 1) for p in self._included(args)))
        if keyword == "canonicalizehostname" and args[0].lower() not in ("no", "false"):
            raise Unsupported(f"{where}: CanonicalizeHostname")
        return Option(path, number, keyword, tuple(args))

    def _criteria(self, where: str, args: list[str]) -> tuple[Criterion, ...]:
        criteria = []
        words = iter(args)
        for word in words:
            negated = word.startswith("!")
            kind = (word[1:] if negated else word).lower()
            if kind not in MATCH_CRITERIA:
                raise Unsupported(f"{where}: Match {kind}")
            if kind == "all":
                criteria.append(Criterion(negated, kind))
                continue
            value = next(words, None)
            if value is None:
                raise ConfigError(f"{where}: Match {kind} needs a pattern")
            lower = kind in ("host", "originalhost")
            criteria.append(Criterion(negated, kind, pattern_list(value, lower)))
        if any(c.kind == "all" for c in criteria) and len(criteria) > 1:
            raise ConfigError(f"{where}: Match all must stand alone")
        return tuple(criteria)

    def _included(self, args: list[str]) -> Iterator[str]:
        for arg in args:
            if "%" in arg or "${" in arg:
                raise Unsupported(f"Include {arg}")
            path = Path(arg).expanduser()
            pattern = str(path if path.is_absolute() else self.home_ssh / path)
            folder = os.path.dirname(pattern)
            self.stamps.append(stamp(folder))  # a file added to a conf.d is seen
            yield from (p for p in sorted(glob.glob(pattern)) if os.path.isfile(p))


# asyncssh's handler per keyword, its first-value-wins and value types included. Checked at
# import: an asyncssh without them only loses the speed-up (every host then goes to asyncssh).
HANDLERS: dict[str, tuple[str, Callable[..., None]]] | None = getattr(
    SSHClientConfig, "_handlers", None
)


class ResolvedConfig(SSHClientConfig):
    """One host's evaluated config, in the shape asyncssh's connection options read."""

    def __init__(self, host: str, local_user: str, user: str | None, port: int | None) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]  # asyncssh accepts "no previous config"
            False,
            False,
            False,
            local_user,
            () if user is None else user,  # type: ignore[arg-type]  # () is "not given"
            host,
            () if port is None else port,  # type: ignore[arg-type]
        )
        self._tokens = {"%": "%"}
        self.loaded = True

    def apply(self, option: Option) -> None:
        assert HANDLERS is not None
        handler = HANDLERS.get(option.keyword)
        if handler is None:
            return  # asyncssh ignores what it does not use; so do we
        name, function = handler
        args = list(option.args)
        self._path, self._line_no = Path(option.path), option.number
        function(self, name, args)
        if args:
            raise ConfigError(f"{option.path} line {option.number}: extra data: {' '.join(args)}")

    def finish(self) -> None:
        """Expand ``%`` tokens once, with the final host, port and user (as ssh does)."""
        self._set_tokens()
        for name in self._percent_expand:
            value = self._options.get(name)
            if isinstance(value, list):
                self._options[name] = [self._expand_val(v) for v in value]
            elif isinstance(value, str):
                self._options[name] = self._expand_val(value)

    def match_value(self, kind: str) -> str:
        """What ``Match host|originalhost|user|localuser`` compares at this point."""
        if kind == "host":  # HostName as set so far (its %h already expanded)
            return str(self._options.get("Hostname", self._orig_host))
        if kind == "user":
            return str(self._options.get("User") or self._local_user)
        return self._orig_host if kind == "originalhost" else self._local_user

    def options(self) -> dict[str, Any]:
        return dict(self._options)


@dataclass(frozen=True, eq=False)  # one object per version of the files: compared by identity
class FleetConfig:
    """Every config file split once; :meth:`resolve` evaluates it for one host."""

    files: tuple[tuple[Entry, ...], ...]
    stamps: tuple[FileStamp, ...]

    def resolve(
        self, host: str, local_user: str, user: str | None = None, port: int | None = None
    ) -> ResolvedConfig:
        config = ResolvedConfig(host, local_user, user, port)
        for entries in self.files:
            self._walk(entries, config, True, False)
        config.finish()
        return config

    def _walk(
        self, entries: tuple[Entry, ...], config: ResolvedConfig, active: bool, never: bool
    ) -> bool:
        for entry in entries:
            if isinstance(entry, Option):
                if active:
                    config.apply(entry)
            elif isinstance(entry, HostLine):
                active = not never and host_line_matches(entry, config._orig_host)
            elif isinstance(entry, MatchLine):
                active = not never and match_line_holds(entry, config)
            else:
                # As OpenSSH: each included file starts in the includer's state; inside a
                # block that does not apply, its blocks never match; after each file the
                # includer's block goes on as it was.
                for included in entry.files:
                    self._walk(included, config, active, never or not active)
        return active


def host_line_matches(line: HostLine, host: str) -> bool:
    """``Host``: any pattern matches and no negated one does (case as typed)."""
    matched = False
    for negated, pattern in line.patterns:
        if pattern.fullmatch(host):
            if negated:
                return False
            matched = True
    return matched


def match_line_holds(line: MatchLine, config: ResolvedConfig) -> bool:
    result = True
    for criterion in line.criteria:
        if criterion.kind == "all":
            holds = True
        else:
            holds = list_matches(config.match_value(criterion.kind), criterion.patterns)
        if holds == criterion.negated:
            result = False
    return result


_cache: dict[tuple[str, ...], tuple[tuple[FileStamp, ...], FleetConfig | None]] = {}
"""Per list of config files: the stamps of every file read, and what was made of them."""


def load(paths: list[str]) -> FleetConfig | None:
    """The config files split once (again only after a file read has changed); None when the
    config needs asyncssh's own per-host evaluation (or this asyncssh lacks what is used)."""
    if HANDLERS is None:
        return None
    key = tuple(paths)
    cached = _cache.get(key)
    if cached is not None and all(stamp(s[0]) == s for s in cached[0]):
        return cached[1]
    reader = Reader()
    loaded: FleetConfig | None
    try:
        files = tuple(reader.read(p) for p in paths)
        loaded = FleetConfig(files, tuple(reader.stamps))
    except Unsupported:
        # Decided by the files read up to the line asyncssh must evaluate: remembered until
        # one of those changes, so each host does not read them again.
        loaded = None
    except OSError as error:
        raise ConfigError(f"cannot read ssh config: {error}") from None
    _cache[key] = (tuple(reader.stamps), loaded)
    return loaded


def client_config(config: ResolvedConfig, **kwargs: Any) -> asyncssh.SSHClientConnectionOptions:
    """asyncssh's connection options from an already evaluated config (no file is read)."""
    return PreResolvedOptions(config, **kwargs)


class PreResolvedOptions(asyncssh.SSHClientConnectionOptions):
    """Connection options whose config is the one evaluated here, not re-read by asyncssh."""

    def __init__(self, config: ResolvedConfig, **kwargs: Any) -> None:
        # asyncssh's own constructor takes the "last config" only from a previous options
        # object; the base class it calls accepts it directly.
        asyncssh.misc.Options.__init__(self, last_config=config, config=None, **kwargs)
