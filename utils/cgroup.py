"""Linux control groups (v1 and v2): the memory and CPU limits that actually bind a container.

Inside a container psutil reports the host's memory and CPUs; the limit that gets the process
killed is its cgroup's. This module finds the process's memory and CPU groups from
``/proc/self/cgroup`` and ``/proc/self/mountinfo`` and reads:

* the memory limit: the smallest ``memory.max`` (v2) or ``memory.limit_in_bytes`` (v1) from the
  process's group up to the top of the visible hierarchy (a parent can be tighter). v2 writes
  ``max`` for "no limit"; v1 writes a huge number (``9223372036854771712``), so any v1 value
  at or above :data:`V1_UNLIMITED_BYTES` means "no limit";
* the working set: usage minus ``inactive_file`` (``memory.current`` and ``inactive_file`` on v2,
  ``memory.usage_in_bytes`` and ``total_inactive_file`` on v1), the figure ``docker stats`` and
  the kubelet use, because page cache the kernel can drop does not get a process killed;
* the CPU quota: the smallest ``cpu.max`` (v2) or ``cpu.cfs_quota_us / cpu.cfs_period_us`` (v1)
  up the tree, in CPUs.

Every path is taken relative to ``root`` so tests build fake trees in a temporary directory.
Discovery never raises: what cannot be found is reported in :attr:`Cgroups.notes`. The
per-sample read (:meth:`WorkingSetReader.read`) raises :class:`OSError` or :class:`ValueError`
and the caller decides (the system probe marks the metric missing for that sample).

Standard library only: this module ships into LEAN with the monitor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

# v1 reports "no limit" as PAGE_COUNTER_MAX rounded to the page size (about 2**63); nothing real
# comes near 2**60 bytes (1 EiB).
V1_UNLIMITED_BYTES = 1 << 60

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit and where it comes from.

    Attributes:
        value: Bytes for memory, CPUs for CPU.
        source: Where the figure was read, for people (e.g. ``"cgroup v2 memory.max
            (/sys/fs/cgroup/app)"``).
    """

    value: float
    source: str


@dataclass(frozen=True, slots=True)
class CgroupController:
    """Where one controller (``memory`` or ``cpu``) of this process lives.

    Attributes:
        name: ``"memory"`` or ``"cpu"``.
        version: 1 or 2.
        directory: The process's own group directory.
        top: The top of the hierarchy visible to the process (the mount point).
    """

    name: str
    version: int
    directory: Path
    top: Path

    def levels(self) -> list[Path]:
        """Return the group directory and each parent up to and including the top."""
        if not self.directory.is_relative_to(self.top):
            return [self.directory]
        levels = [self.directory]
        current = self.directory
        while current != self.top:
            current = current.parent
            levels.append(current)
        return levels


@dataclass(frozen=True, slots=True)
class Cgroups:
    """The process's memory and CPU groups (``None`` where there is none) and what was seen."""

    memory: CgroupController | None = None
    cpu: CgroupController | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class _Mount:
    root: str
    mount_point: str
    fstype: str
    super_options: frozenset[str]


def _unescape(text: str) -> str:
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def _parse_mountinfo(text: str) -> list[_Mount]:
    mounts = []
    for line in text.splitlines():
        before, sep, after = line.partition(" - ")
        if not sep:
            continue
        left = before.split()
        right = after.split()
        if len(left) < 5 or len(right) < 3:
            continue
        fstype = right[0]
        if fstype not in ("cgroup", "cgroup2"):
            continue
        mounts.append(
            _Mount(
                root=_unescape(left[3]),
                mount_point=_unescape(left[4]),
                fstype=fstype,
                super_options=frozenset(right[2].split(",")),
            )
        )
    return mounts


def _parse_proc_cgroup(text: str) -> tuple[dict[str, str], str | None]:
    """Return (v1 controller -> path, v2 path or None)."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
            continue
        for controller in controllers.split(","):
            if controller:
                v1[controller] = path
    return v1, v2


def _group_directory(root: Path, mount: _Mount, path: str) -> tuple[Path, Path]:
    """Map a path from /proc/self/cgroup to a directory under the mount; return (dir, top)."""
    top = root / mount.mount_point.lstrip("/")
    mount_root = mount.root.rstrip("/")
    if mount_root and (path == mount_root or path.startswith(mount_root + "/")):
        relative = path[len(mount_root) :]
    elif mount_root in ("", "/"):
        relative = path
    else:
        # The group lies outside what this mount shows (a container without a cgroup
        # namespace): the mount point itself is the process's group.
        relative = ""
    directory = top / relative.lstrip("/") if relative.strip("/") else top
    if not directory.is_dir():
        directory = top
    return directory, top


def discover_cgroups(root: Path = Path("/")) -> Cgroups:
    """Find this process's memory and CPU cgroups (v1 preferred where a v1 controller is mounted).

    Args:
        root: The filesystem root (``/``); tests pass a fake tree.

    Returns:
        The groups found; never raises. Problems are described in ``notes``.
    """
    notes: list[str] = []
    try:
        proc_cgroup = (root / "proc/self/cgroup").read_text(encoding="utf-8")
        mountinfo = (root / "proc/self/mountinfo").read_text(encoding="utf-8")
    except OSError as error:
        return Cgroups(notes=(f"no cgroup information ({error.strerror or error})",))
    v1_paths, v2_path = _parse_proc_cgroup(proc_cgroup)
    mounts = _parse_mountinfo(mountinfo)
    found: dict[str, CgroupController | None] = {}
    for name in ("memory", "cpu"):
        found[name] = _find_controller(root, name, v1_paths, v2_path, mounts, notes)
    return Cgroups(memory=found["memory"], cpu=found["cpu"], notes=tuple(notes))


def _find_controller(
    root: Path,
    name: str,
    v1_paths: dict[str, str],
    v2_path: str | None,
    mounts: list[_Mount],
    notes: list[str],
) -> CgroupController | None:
    if name in v1_paths:
        for mount in mounts:
            if mount.fstype == "cgroup" and name in mount.super_options:
                directory, top = _group_directory(root, mount, v1_paths[name])
                return CgroupController(name, 1, directory, top)
        notes.append(f"cgroup v1 {name} controller listed but not mounted")
    if v2_path is not None:
        for mount in mounts:
            if mount.fstype != "cgroup2":
                continue
            directory, top = _group_directory(root, mount, v2_path)
            if name in _controllers(directory, top):
                return CgroupController(name, 2, directory, top)
            notes.append(f"cgroup v2 {name} controller not enabled for {directory}")
            return None
    notes.append(f"no {name} cgroup")
    return None


def _controllers(directory: Path, top: Path) -> set[str]:
    for candidate in (directory, top):
        try:
            return set((candidate / "cgroup.controllers").read_text(encoding="ascii").split())
        except OSError:
            continue
    return set()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None


def read_memory_limit(controller: CgroupController) -> tuple[Limit | None, list[str]]:
    """Return the tightest memory limit from the group up to the top, and any problems seen.

    A level without the limit file (the v2 root) or with "no limit" does not limit. A level
    whose file cannot be read or parsed is skipped and reported.
    """
    file_name = "memory.max" if controller.version == 2 else "memory.limit_in_bytes"
    best: Limit | None = None
    problems: list[str] = []
    for level in controller.levels():
        path = level / file_name
        try:
            text = _read_text(path)
        except OSError as error:
            problems.append(f"cannot read {path}: {error.strerror or error}")
            continue
        if text is None or text == "max":
            continue
        try:
            value = int(text)
        except ValueError:
            problems.append(f"{path}: not a number: {text[:40]!r}")
            continue
        if controller.version == 1 and value >= V1_UNLIMITED_BYTES:
            continue
        if best is None or value < best.value:
            best = Limit(float(value), f"cgroup v{controller.version} {file_name} ({level})")
    return best, problems


def read_cpu_limit(controller: CgroupController) -> tuple[Limit | None, list[str]]:
    """Return the tightest CPU quota (in CPUs) from the group up to the top, and any problems."""
    best: Limit | None = None
    problems: list[str] = []
    for level in controller.levels():
        try:
            if controller.version == 2:
                name = "cpu.max"
                text = _read_text(level / name)
                if text is None:
                    continue
                quota_text, _, period_text = text.partition(" ")
                if quota_text == "max":
                    continue
                quota, period = int(quota_text), int(period_text or "100000")
            else:
                name = "cpu.cfs_quota_us"
                quota_raw = _read_text(level / name)
                period_raw = _read_text(level / "cpu.cfs_period_us")
                if quota_raw is None or period_raw is None:
                    continue
                quota, period = int(quota_raw), int(period_raw)
                if quota < 0:
                    continue
        except OSError as error:
            problems.append(f"cannot read CPU quota in {level}: {error.strerror or error}")
            continue
        except ValueError:
            problems.append(f"cannot parse CPU quota in {level}")
            continue
        if period <= 0 or quota <= 0:
            problems.append(f"CPU quota in {level} is not positive ({quota}/{period})")
            continue
        cpus = quota / period
        if best is None or cpus < best.value:
            best = Limit(cpus, f"cgroup v{controller.version} {name} ({level})")
    return best, problems


class WorkingSetReader:
    """Read a memory group's working set (usage minus inactive file cache) each sample.

    The file paths are fixed at construction; :meth:`read` does two small reads and no
    directory walking.
    """

    def __init__(self, controller: CgroupController) -> None:
        self.controller = controller
        if controller.version == 2:
            self._usage_path = controller.directory / "memory.current"
            self._inactive_keys: tuple[bytes, ...] = (b"inactive_file",)
            usage_name = "memory.current"
        else:
            self._usage_path = controller.directory / "memory.usage_in_bytes"
            self._inactive_keys = (b"total_inactive_file", b"inactive_file")
            usage_name = "memory.usage_in_bytes"
        self._stat_path = controller.directory / "memory.stat"
        self.source = (
            f"cgroup v{controller.version} {usage_name} - "
            f"{self._inactive_keys[0].decode()} ({controller.directory})"
        )

    def read(self) -> int:
        """Return the working set in bytes (never negative).

        Raises:
            OSError: A file cannot be read.
            ValueError: A file does not hold what the kernel writes there.
        """
        with self._usage_path.open("rb") as usage_file:
            usage = int(usage_file.read())
        with self._stat_path.open("rb") as stat_file:
            stat = stat_file.read()
        inactive = _stat_value(stat, self._inactive_keys)
        return max(usage - inactive, 0)


def _stat_value(stat: bytes, keys: tuple[bytes, ...]) -> int:
    for key in keys:
        start = stat.find(key + b" ")
        # the key must start a line (``inactive_file`` also ends ``total_inactive_file``)
        while start > 0 and stat[start - 1 : start] != b"\n":
            start = stat.find(key + b" ", start + 1)
        if start < 0:
            continue
        end = stat.find(b"\n", start)
        return int(stat[start + len(key) + 1 : end if end >= 0 else None])
    names = " or ".join(k.decode() for k in keys)
    msg = f"memory.stat has no {names}"
    raise ValueError(msg)
