"""Who may act, and how much one action may take out of service."""

from __future__ import annotations

from dataclasses import dataclass


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
            raise ActionRefused("read-only mode (--read-only): no actions")
        if self.role != "operator":
            raise ActionRefused(
                f'role {self.role!r} cannot act (settings.role = "operator" in the config)'
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
