"""Names from the command line or a cluster, checked before they reach a request.

Node and pod names are RFC 1123 subdomains, namespaces and contexts' namespaces RFC 1123
labels. Anything else is refused with a one-line message before any contact with a cluster:
a name goes into a URL path, so a ``/`` or ``..`` in it must never get that far.
"""

from __future__ import annotations

import re

from aiconsole.text import clean

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_LABEL_RE = re.compile(_LABEL)
_CONTEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:/+-]{0,252}")
MAX_REASON = 500


class InvalidName(ValueError):
    """A name that cannot be a Kubernetes object's name; the message says which and why."""


def check_subdomain(name: str, what: str = "node") -> str:
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        raise InvalidName(
            f"invalid {what} name {clean(name, 80)!r}: lower-case letters, digits, '-' and '.' "
            "(RFC 1123), at most 253 characters"
        )
    return name


def check_node(name: str) -> str:
    return check_subdomain(name, "node")


def check_pod(name: str) -> str:
    return check_subdomain(name, "pod")


def check_namespace(name: str) -> str:
    if not _LABEL_RE.fullmatch(name):
        raise InvalidName(
            f"invalid namespace {clean(name, 80)!r}: lower-case letters, digits and '-' "
            "(RFC 1123 label), at most 63 characters"
        )
    return name


def check_context(name: str) -> str:
    """A kubeconfig context name (free-form in kubeconfig, but we show and log it)."""
    if not _CONTEXT.fullmatch(name):
        raise InvalidName(f"invalid context name {clean(name, 80)!r}")
    return name


def check_reason(reason: str) -> str:
    """A reason becomes a node annotation and an audit field: printable, one line, bounded."""
    if clean(reason, MAX_REASON) != reason or not reason.strip():
        raise InvalidName(
            f"invalid reason {clean(reason, 80)!r}: one printable line, at most {MAX_REASON} "
            "characters"
        )
    return reason
