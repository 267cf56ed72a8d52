"""Build fake cgroup filesystems (``/proc/self/cgroup``, ``mountinfo`` and group files) in tmp."""

from __future__ import annotations

from pathlib import Path

V1_NO_LIMIT = "9223372036854771712"  # what a v1 kernel writes for "no limit"

V2_MOUNT = "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev shared:4 - cgroup2 cgroup2 rw,nsdelegate"
V1_MEMORY_MOUNT = "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory"
V1_CPU_MOUNT = (
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:7 - cgroup cgroup rw,cpu,cpuacct"
)
V2_UNIFIED_MOUNT = "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid shared:11 - cgroup2 cgroup2 rw"
V2_STAT = "anon 700000\nfile 300000\nactive_file 100000\ninactive_file {inactive}\n"
V1_STAT = (
    "cache 300000\nrss 700000\ninactive_file 1\nactive_file 2\n"
    "hierarchical_memory_limit 9223372036854771712\n"
    "total_cache 300000\ntotal_inactive_file {inactive}\ntotal_active_file 100000\n"
)


def build_tree(root: Path, *, proc_cgroup: str, mounts: list[str], files: dict[str, str]) -> Path:
    """Write a fake root under ``root``: ``files`` maps paths (from ``/``) to their content."""
    (root / "proc/self").mkdir(parents=True, exist_ok=True)
    (root / "proc/self/cgroup").write_text(proc_cgroup)
    (root / "proc/self/mountinfo").write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n" + "\n".join(mounts) + "\n"
    )
    for name, content in files.items():
        path = root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def v2_tree(
    root: Path,
    *,
    group: str = "/app.slice/algo.scope",
    limits: dict[str, str] | None = None,
    current: int = 1_000_000,
    inactive: int = 200_000,
    cpu_max: dict[str, str] | None = None,
    controllers: str = "cpuset cpu io memory pids",
) -> Path:
    """A cgroup v2 tree; ``limits`` maps a group path ("" is the top) to its memory.max."""
    base = "/sys/fs/cgroup"
    group_dir = f"{base}{group}"
    files = {
        f"{base}/cgroup.controllers": controllers,
        f"{group_dir}/cgroup.controllers": controllers,
        f"{group_dir}/memory.current": f"{current}\n",
        f"{group_dir}/memory.stat": V2_STAT.format(inactive=inactive),
    }
    for where, value in (limits or {}).items():
        files[f"{base}{where}/memory.max"] = f"{value}\n"
    for where, value in (cpu_max or {}).items():
        files[f"{base}{where}/cpu.max"] = f"{value}\n"
    return build_tree(root, proc_cgroup=f"0::{group}\n", mounts=[V2_MOUNT], files=files)


def v1_tree(
    root: Path,
    *,
    group: str = "/docker/abc123",
    limits: dict[str, str] | None = None,
    usage: int = 1_000_000,
    inactive: int = 250_000,
    cpu: dict[str, tuple[str, str]] | None = None,
) -> Path:
    """A cgroup v1 tree; ``limits`` maps a group path ("" is the top) to limit_in_bytes."""
    memory = "/sys/fs/cgroup/memory"
    cpu_base = "/sys/fs/cgroup/cpu,cpuacct"
    files = {
        f"{memory}{group}/memory.usage_in_bytes": f"{usage}\n",
        f"{memory}{group}/memory.stat": V1_STAT.format(inactive=inactive),
        f"{memory}/memory.limit_in_bytes": V1_NO_LIMIT,
    }
    for where, value in (limits or {}).items():
        files[f"{memory}{where}/memory.limit_in_bytes"] = f"{value}\n"
    for where, (quota, period) in (cpu or {}).items():
        files[f"{cpu_base}{where}/cpu.cfs_quota_us"] = f"{quota}\n"
        files[f"{cpu_base}{where}/cpu.cfs_period_us"] = f"{period}\n"
    proc = f"12:memory:{group}\n4:cpu,cpuacct:{group}\n1:name=systemd:{group}\n0::/\n"
    return build_tree(
        root,
        proc_cgroup=proc,
        mounts=[V1_MEMORY_MOUNT, V1_CPU_MOUNT, V2_UNIFIED_MOUNT],
        files=files,
    )
