"""What a cluster could leave on the host: the processes that still hold one of its
network namespaces or name its directory. Tests check these are gone after ``down``."""

from __future__ import annotations

from pathlib import Path


def net_namespace_inodes() -> dict[int, int]:
    """pid -> inode of its network namespace, for every process we can see."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                found[int(proc.name)] = (proc / "ns" / "net").stat().st_ino
            except OSError:
                continue
    return found


def processes_mentioning(marker: bytes, *files: str) -> list[str]:
    """ "pid (file)" for each process whose /proc/<pid>/<file> contains ``marker``."""
    hits = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            for name in files:
                try:
                    if marker in (proc / name).read_bytes():
                        hits.append(f"{proc.name} ({name})")
                except OSError:
                    continue
    return hits
