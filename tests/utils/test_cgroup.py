"""cgroup discovery and reads on fake trees: v2, v1 (huge "no limit"), nested, missing files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.cgroup_trees import (
    V1_MEMORY_MOUNT,
    V1_NO_LIMIT,
    V2_MOUNT,
    build_tree,
    v1_tree,
    v2_tree,
)
from utils.cgroup import (
    WorkingSetReader,
    discover_cgroups,
    read_cpu_limit,
    read_memory_limit,
)

GIB = 1024**3


def test_v2_group_is_found_under_the_unified_mount(tmp_path: Path) -> None:
    v2_tree(tmp_path, group="/app.slice/algo.scope")

    groups = discover_cgroups(tmp_path)

    assert groups.memory is not None
    assert groups.memory.version == 2
    assert groups.memory.directory == tmp_path / "sys/fs/cgroup/app.slice/algo.scope"
    assert groups.memory.top == tmp_path / "sys/fs/cgroup"


def test_v2_limit_of_the_group_itself(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice/algo.scope": str(2 * GIB), "/app.slice": "max"})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, problems = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == 2 * GIB
    assert "cgroup v2 memory.max" in limit.source
    assert limit.source.endswith("app.slice/algo.scope)")
    assert problems == []


def test_v2_tighter_parent_wins_over_the_group(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice/algo.scope": str(4 * GIB), "/app.slice": str(3 * GIB)})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, _ = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == 3 * GIB
    assert limit.source.endswith("app.slice)")


def test_v2_max_everywhere_means_no_limit(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice/algo.scope": "max", "/app.slice": "max"})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, problems = read_memory_limit(groups.memory)

    assert limit is None
    assert problems == []


def test_v2_missing_limit_files_mean_no_limit(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    assert read_memory_limit(groups.memory) == (None, [])


def test_v2_without_the_memory_controller_has_no_memory_group(tmp_path: Path) -> None:
    v2_tree(tmp_path, controllers="cpuset cpu io pids")

    groups = discover_cgroups(tmp_path)

    assert groups.memory is None
    assert any("memory controller not enabled" in note for note in groups.notes)


def test_v1_huge_value_means_no_limit(tmp_path: Path) -> None:
    v1_tree(tmp_path, limits={"/docker/abc123": V1_NO_LIMIT, "/docker": V1_NO_LIMIT})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None
    assert groups.memory.version == 1

    assert read_memory_limit(groups.memory) == (None, [])


def test_v1_real_limit_is_read(tmp_path: Path) -> None:
    v1_tree(tmp_path, limits={"/docker/abc123": str(GIB), "/docker": V1_NO_LIMIT})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, _ = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == GIB
    assert "cgroup v1 memory.limit_in_bytes" in limit.source


def test_v1_tighter_parent_wins(tmp_path: Path) -> None:
    v1_tree(tmp_path, limits={"/docker/abc123": str(2 * GIB), "/docker": str(GIB)})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, _ = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == GIB


def test_v1_is_preferred_on_a_hybrid_host(tmp_path: Path) -> None:
    v1_tree(tmp_path)

    groups = discover_cgroups(tmp_path)

    assert groups.memory is not None
    assert groups.memory.version == 1
    assert groups.memory.directory == tmp_path / "sys/fs/cgroup/memory/docker/abc123"


def test_a_container_without_cgroup_namespace_uses_the_mount_point(tmp_path: Path) -> None:
    # /proc/self/cgroup shows the host path; the container sees its own group as the mount.
    build_tree(
        tmp_path,
        proc_cgroup="0::/system.slice/docker-abc.scope\n",
        mounts=[
            V2_MOUNT.replace(
                " / /sys/fs/cgroup ", " /system.slice/docker-abc.scope /sys/fs/cgroup "
            )
        ],
        files={
            "/sys/fs/cgroup/cgroup.controllers": "cpu memory",
            "/sys/fs/cgroup/memory.max": str(GIB),
        },
    )
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None
    assert groups.memory.directory == tmp_path / "sys/fs/cgroup"

    limit, _ = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == GIB


def test_a_garbled_limit_is_reported_and_skipped(tmp_path: Path) -> None:
    v2_tree(tmp_path, limits={"/app.slice/algo.scope": "lots", "/app.slice": str(GIB)})
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    limit, problems = read_memory_limit(groups.memory)

    assert limit is not None
    assert limit.value == GIB
    assert len(problems) == 1
    assert "not a number" in problems[0]


def test_no_proc_files_means_no_groups_and_a_note(tmp_path: Path) -> None:
    groups = discover_cgroups(tmp_path)

    assert groups.memory is None
    assert groups.cpu is None
    assert groups.notes
    assert "no cgroup information" in groups.notes[0]


def test_v1_memory_listed_but_not_mounted_is_noted(tmp_path: Path) -> None:
    build_tree(tmp_path, proc_cgroup="7:memory:/x\n", mounts=[], files={})

    groups = discover_cgroups(tmp_path)

    assert groups.memory is None
    assert any("listed but not mounted" in note for note in groups.notes)


def test_escaped_mount_points_are_decoded(tmp_path: Path) -> None:
    build_tree(
        tmp_path,
        proc_cgroup="7:memory:/\n",
        mounts=[V1_MEMORY_MOUNT.replace("/sys/fs/cgroup/memory", "/cg\\040mem")],
        files={"/cg mem/memory.limit_in_bytes": str(GIB)},
    )

    groups = discover_cgroups(tmp_path)

    assert groups.memory is not None
    assert groups.memory.top == tmp_path / "cg mem"


def test_v2_working_set_is_usage_minus_inactive_file(tmp_path: Path) -> None:
    v2_tree(tmp_path, current=1_000_000, inactive=200_000)
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    reader = WorkingSetReader(groups.memory)

    assert reader.read() == 800_000
    assert "memory.current - inactive_file" in reader.source


def test_v1_working_set_uses_total_inactive_file(tmp_path: Path) -> None:
    # V1_STAT has inactive_file 1 (this group only) and total_inactive_file (with children).
    v1_tree(tmp_path, usage=1_000_000, inactive=250_000)
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    assert WorkingSetReader(groups.memory).read() == 750_000


def test_working_set_is_never_negative(tmp_path: Path) -> None:
    v2_tree(tmp_path, current=100, inactive=500)
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None

    assert WorkingSetReader(groups.memory).read() == 0


def test_working_set_read_failure_raises_for_the_caller(tmp_path: Path) -> None:
    v2_tree(tmp_path)
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None
    reader = WorkingSetReader(groups.memory)
    (groups.memory.directory / "memory.stat").unlink()

    with pytest.raises(OSError, match=r"memory\.stat"):
        reader.read()


def test_memory_stat_without_inactive_file_is_an_error(tmp_path: Path) -> None:
    v2_tree(tmp_path)
    groups = discover_cgroups(tmp_path)
    assert groups.memory is not None
    (groups.memory.directory / "memory.stat").write_text("anon 1\nactive_file 2\n")

    with pytest.raises(ValueError, match="inactive_file"):
        WorkingSetReader(groups.memory).read()


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ({"/app.slice/algo.scope": "150000 100000"}, 1.5),
        ({"/app.slice/algo.scope": "max 100000"}, None),
        ({"/app.slice/algo.scope": "400000 100000", "/app.slice": "50000 100000"}, 0.5),
        ({}, None),
    ],
    ids=["quota", "max", "tighter-parent", "missing-files"],
)
def test_v2_cpu_quota_in_cpus(
    tmp_path: Path, cpu_max: dict[str, str], expected: float | None
) -> None:
    v2_tree(tmp_path, cpu_max=cpu_max)
    groups = discover_cgroups(tmp_path)
    assert groups.cpu is not None

    limit, _ = read_cpu_limit(groups.cpu)

    assert (limit.value if limit else None) == expected


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [
        ({"/docker/abc123": ("50000", "100000")}, 0.5),
        ({"/docker/abc123": ("-1", "100000")}, None),
        ({"/docker/abc123": ("-1", "100000"), "/docker": ("200000", "100000")}, 2.0),
    ],
    ids=["quota", "unlimited", "parent"],
)
def test_v1_cpu_quota_in_cpus(
    tmp_path: Path, cpu: dict[str, tuple[str, str]], expected: float | None
) -> None:
    v1_tree(tmp_path, cpu=cpu)
    groups = discover_cgroups(tmp_path)
    assert groups.cpu is not None
    assert groups.cpu.version == 1

    limit, _ = read_cpu_limit(groups.cpu)

    assert (limit.value if limit else None) == expected
