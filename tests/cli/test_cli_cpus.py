"""``--processes auto``: the CPUs this process may use, from its affinity and its cgroup's CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sendx_worker.cli.cpus import available_cpus, quota_files, usable_cpus

ROOT = Path("/sys/fs/cgroup")


@pytest.mark.parametrize(
    ("affinity", "quotas", "expected"),
    [
        (2, [], 2),  # no cgroup quota: the affinity
        (8, ["max 100000"], 8),  # v2, no limit
        (8, ["-1 100000"], 8),  # v1, no limit
        (8, ["100000 100000"], 1),  # a container limited to 1 CPU runs 1 process
        (8, ["150000 100000"], 2),  # 1.5 CPUs: rounded up
        (8, ["50000 100000"], 1),  # half a CPU: still one process
        (2, ["400000 100000"], 2),  # a quota above the affinity does not add CPUs
        (8, ["max 100000", "300000 100000", "600000 100000"], 3),  # the tightest level wins
        (8, ["garbage", "", "0 100000", "100000 0"], 8),  # unreadable quotas are ignored
        (0, [], 1),  # at least one
    ],
)
def test_usable_cpus_is_the_affinity_lowered_to_the_cgroup_quota(
    affinity: int, quotas: list[str], expected: int
) -> None:
    assert usable_cpus(affinity, quotas) == expected


def test_a_cgroup_v2_process_is_limited_by_its_cgroup_and_every_ancestor() -> None:
    assert quota_files("0::/system.slice/sendx.service\n") == [
        (ROOT / "system.slice/sendx.service/cpu.max",),
        (ROOT / "system.slice/cpu.max",),
        (ROOT / "cpu.max",),
    ]


def test_inside_a_container_the_limit_is_at_the_mounts_root() -> None:
    assert quota_files("0::/\n") == [(ROOT / "cpu.max",)]
    assert quota_files("0::/../../elsewhere\n") == [(ROOT / "elsewhere/cpu.max",), (ROOT / "cpu.max",)]
    assert quota_files("") == [(ROOT / "cpu.max",)]  # no /proc/self/cgroup: look at the root


def test_cgroup_v1_quotas_are_read_from_the_cpu_hierarchy() -> None:
    found = quota_files("4:memory:/x\n3:cpu,cpuacct:/docker/abc\n", root=Path("/cg"))
    named = [
        (Path("/cg/cpu,cpuacct") / d / "cpu.cfs_quota_us", Path("/cg/cpu,cpuacct") / d / "cpu.cfs_period_us")
        for d in ("docker/abc", "docker", "")
    ]
    linked = [
        (Path("/cg/cpu") / d / "cpu.cfs_quota_us", Path("/cg/cpu") / d / "cpu.cfs_period_us")
        for d in ("docker/abc", "docker", "")
    ]
    assert found == named + linked


def test_this_machine_has_at_least_one() -> None:
    assert 1 <= available_cpus() <= len(os.sched_getaffinity(0))
