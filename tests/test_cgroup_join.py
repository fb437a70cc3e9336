"""The workload of a process from /proc/PID/cgroup, for every layout Slurm, the kubelet and the
container runtimes use (tests/fixtures/cgroup, typed from their documentation)."""

from __future__ import annotations

import pytest

from aiconsole.probe.cgroup import workload_of
from tests.conftest import FIXTURES

CONTAINER = "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("slurm-v1", {"kind": "slurm_job", "id": "81234", "step": "0"}),
        ("slurm-v1-multiple-slurmd", {"kind": "slurm_job", "id": "81235", "step": "batch"}),
        ("slurm-v2", {"kind": "slurm_job", "id": "81234", "step": "0"}),
        ("slurm-v2-extern", {"kind": "slurm_job", "id": "81236", "step": "extern"}),
        (
            "k8s-systemd-v2",
            {
                "kind": "pod",
                "id": "0f4c1e2a-7b3d-4c5e-9f1a-2b3c4d5e6f70",
                "container_id": CONTAINER,
                "runtime": "containerd",
            },
        ),
        (
            "k8s-systemd-guaranteed-crio",
            {
                "kind": "pod",
                "id": "0f4c1e2a-7b3d-4c5e-9f1a-2b3c4d5e6f71",
                "container_id": CONTAINER,
                "runtime": "cri-o",
            },
        ),
        (
            "k8s-cgroupfs-v1",
            {
                "kind": "pod",
                "id": "0f4c1e2a-7b3d-4c5e-9f1a-2b3c4d5e6f72",
                "container_id": CONTAINER,
                "runtime": None,
            },
        ),
        ("docker-systemd", {"kind": "container", "id": CONTAINER, "runtime": "docker"}),
        ("docker-cgroupfs", {"kind": "container", "id": CONTAINER, "runtime": "docker"}),
        ("podman-rootless", {"kind": "container", "id": CONTAINER, "runtime": "podman"}),
        ("login-session", None),
        ("forged-under-session", None),
    ],
)
def test_cgroup_layouts(fixture: str, expected: dict[str, object] | None) -> None:
    assert workload_of((FIXTURES / "cgroup" / fixture).read_text()) == expected


@pytest.mark.parametrize("text", ["", "garbage", "0::", "1:2:3:4:/slurm/uid_x/job_1", "\x00\xff"])
def test_odd_cgroup_files_name_no_workload(text: str) -> None:
    assert workload_of(text) is None


def test_unicode_digits_are_not_a_job_id() -> None:
    assert workload_of("0::/system.slice/slurmstepd.scope/job_\u0661\u0662/step_0\n") is None
