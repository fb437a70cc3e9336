"""Who may act, and how much one action may take out of service."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]


class ActionRefused(Exception):
    """The operator may not do this; the message says why and what would allow it."""


@dataclass(frozen=True)
class Policy:
    role: str = "operator"
    read_only: bool = False
    max_out_of_service: float = 0.25
    force: bool = False

    @property
    def can_act(self) -> bool:
        return self.role == "operator" and not self.read_only

    def check_can_act(self) -> None:
        if self.read_only:
            raise ActionRefused("read-only mode (--read-only, or the site policy): no actions")
        if self.role != "operator":
            raise ActionRefused(
                f"role {self.role!r} cannot act (settings.role in the config; the site "
                f"policy {site_policy_path()} may cap it)"
            )

    def blast_radius(self, taking_out: dict[str, tuple[int, int]]) -> list[str]:
        """Refusals for partitions where this action takes out too large a share.

        ``taking_out``: partition -> (nodes this action takes out, nodes in the partition).
        """
        if self.force:
            return []
        refusals = []
        for partition, (count, total) in sorted(taking_out.items()):
            if total and count / total > self.max_out_of_service:
                refusals.append(
                    f"takes {count} of {total} nodes of partition {partition} out of service "
                    f"(more than {self.max_out_of_service:.0%}); use --force if that is meant"
                )
        return refusals


SITE_POLICY = Path("/etc/aiconsole/policy.toml")
SITE_POLICY_ENV = "AICONSOLE_SITE_POLICY"
"""Names another site policy file (tests, unusual layouts); the user config cannot."""
ROLE_RANK = {"viewer": 0, "operator": 1}


class SitePolicyError(ValueError):
    """The site policy file exists but cannot be trusted as written: nobody may act."""


@dataclass(frozen=True)
class SitePolicy:
    """Limits a machine's administrator pins: a user's config can tighten them, not loosen.

    ``/etc/aiconsole/policy.toml``::

        role = "viewer"              # the most anyone here may be (viewer: no actions)
        read_only = true             # no actions from this machine at all
        max_out_of_service = 0.1     # the largest share of a partition one action may take
    """

    role: str | None = None
    read_only: bool = False
    max_out_of_service: float | None = None
    source: Path | None = None

    def apply(self, policy: Policy) -> Policy:
        role = policy.role
        if self.role is not None and ROLE_RANK.get(role, 0) > ROLE_RANK[self.role]:
            role = self.role
        share = policy.max_out_of_service
        if self.max_out_of_service is not None:
            share = min(share, self.max_out_of_service)
        return replace(
            policy,
            role=role,
            read_only=policy.read_only or self.read_only,
            max_out_of_service=share,
        )


def site_policy_path() -> Path:
    from_env = os.environ.get(SITE_POLICY_ENV)
    return Path(from_env) if from_env else SITE_POLICY


def load_site_policy(path: Path | None = None) -> SitePolicy:
    """The pinned limits, or none when the file does not exist."""
    path = path or site_policy_path()
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return SitePolicy()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SitePolicyError(f"{path}: cannot read the site policy: {error}") from None
    unknown = set(data) - {"role", "read_only", "max_out_of_service"}
    if unknown:
        raise SitePolicyError(f"{path}: {sorted(unknown)[0]}: unknown key")
    role = data.get("role")
    if role is not None and role not in ROLE_RANK:
        raise SitePolicyError(f"{path}: role: must be one of {', '.join(ROLE_RANK)}")
    read_only = data.get("read_only", False)
    if not isinstance(read_only, bool):
        raise SitePolicyError(f"{path}: read_only: must be true or false")
    share = data.get("max_out_of_service")
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1
    ):
        raise SitePolicyError(f"{path}: max_out_of_service: must be a share in (0, 1]")
    return SitePolicy(role, read_only, None if share is None else float(share), path)
