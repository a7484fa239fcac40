"""The container shim for real: mount namespace, private root, records, logs.

Needs root (mount namespaces), which sessions and CI have; no cluster.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from localkube.agent import runtime

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")
VENV_BIN = str(Path(sys.executable).parent)


def spec(code: str, **extra: Any) -> dict[str, Any]:
    return {
        "argv": ["python", "-c", code],
        "env": {"PATH": f"{VENV_BIN}:/usr/bin:/bin"},
        "cwd": "/",
        "uid": None,
        "gid": None,
        "groups": [],
        "mounts": [],
        "traversable": [os.path.realpath(sys.executable)],
        **extra,
    }


def run_to_end(pod_dir: Path, run_spec: dict[str, Any], *, index: int = 0) -> Path:
    run = runtime.new_run(pod_dir, "c", index, run_spec)
    pid = runtime.spawn_shim(run)
    os.waitpid(pid, 0)
    return run


def test_mounts_are_private_and_records_are_written(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir(mode=0o777)
    volume.chmod(0o777)  # like an emptyDir, writable by the pod's uid
    (volume / "f").write_text("from the volume")
    top = f"/lk-test-{uuid.uuid4().hex[:8]}"
    root_mode = Path("/root").stat().st_mode
    code = (
        "import os, sys\n"
        f"print(open('{top}/cfg/f').read())\n"
        "print('oops', file=sys.stderr)\n"
        f"open('{top}/cfg/new', 'w').write('x')\n"
        "open('/tmp/lk-private-file', 'w').write('stays in the pod')\n"
        "open('/dev/termination-log', 'w').write('result: ok')\n"
        "print(os.getuid(), os.getgid(), os.getcwd())\n"
        "raise SystemExit(3)\n"
    )
    term = tmp_path / "pod" / "containers" / "c" / "0" / "termination-log"  # as the agent plans
    mounts = [
        {"source": str(volume), "target": f"{top}/cfg", "read_only": False, "is_dir": True},
        {
            "source": str(term),
            "target": "/dev/termination-log",
            "read_only": False,
            "is_dir": False,
        },
    ]
    run_spec = spec(code, mounts=mounts, uid=1000, gid=1000, cwd="/workdir/x")
    run = run_to_end(tmp_path / "pod", run_spec)
    assert runtime.run_state(run) is runtime.RunState.EXITED
    exited = runtime.read_exit(run, fallback_to_logs=False)
    assert (exited.exit_code, exited.reason, exited.message) == (3, "Error", "result: ok")
    texts = [(e.stream, e.text) for e in runtime.read_log(run)]
    assert ("stdout", b"from the volume") in texts
    assert ("stderr", b"oops") in texts
    assert ("stdout", b"1000 1000 /workdir/x") in texts
    assert (volume / "new").read_text() == "x", "volume writes reach the host directory"
    for leaked in (top, "/tmp/lk-private-file", "/dev/termination-log", "/workdir"):
        assert not Path(leaked).exists(), f"{leaked} leaked onto the host"
    assert Path("/root").stat().st_mode == root_mode, "the host's /root keeps its mode"


def test_missing_binary_is_a_start_error(tmp_path: Path) -> None:
    run = run_to_end(tmp_path, {**spec(""), "argv": ["no-such-binary-lk"]})
    exited = runtime.read_exit(run, fallback_to_logs=False)
    assert (exited.exit_code, exited.reason) == (128, "StartError")
    assert "no-such-binary-lk" in exited.message


def test_fallback_to_logs_on_error(tmp_path: Path) -> None:
    run = run_to_end(tmp_path, spec("import sys; print('boom'); sys.exit(1)"))
    assert runtime.read_exit(run, fallback_to_logs=True).message == "boom"
    assert runtime.read_exit(run, fallback_to_logs=False).message == ""


def wait_until(fn: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_run_outlives_its_starter_and_is_found_again(tmp_path: Path) -> None:
    """What an agent restart relies on: the lock says alive, exit.json says how it ended."""
    run = runtime.new_run(tmp_path, "c", 0, spec("import time; time.sleep(30)"))
    pid = runtime.spawn_shim(run)
    wait_until(lambda: (run / "started.json").exists())
    assert runtime.run_state(run) is runtime.RunState.RUNNING
    assert runtime.signal_run(run, signal.SIGTERM)
    os.waitpid(pid, 0)
    assert runtime.run_state(run) is runtime.RunState.EXITED
    exited = runtime.read_exit(run, fallback_to_logs=False)
    assert exited.exit_code == 143 and exited.signal == signal.SIGTERM


def test_killed_shim_is_detected_as_lost(tmp_path: Path) -> None:
    run = runtime.new_run(tmp_path, "c", 0, spec("import time; time.sleep(30)"))
    pid = runtime.spawn_shim(run)
    wait_until(lambda: (run / "started.json").exists())
    child = json.loads((run / "started.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert runtime.run_state(run) is runtime.RunState.LOST
    assert runtime.signal_run(run, signal.SIGKILL)  # the orphaned process is still findable
    wait_until(
        lambda: (
            not Path(f"/proc/{child}").exists()
            or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
        )
    )


def test_read_only_root_and_no_new_privs(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    code = (
        "import errno\n"
        # A name of its own: the host's /tmp is shared, and a /tmp/x there gave EISDIR.
        f"try:\n    open('/tmp/mp-ro-probe-{tmp_path.name}', 'w')\n"
        "except OSError as e:\n    print('root', errno.errorcode[e.errno])\n"
        "open('/v/ok', 'w').write('y')\n"
        "print('nnp', open('/proc/self/status').read().split('NoNewPrivs:')[1].split()[0])\n"
    )
    mounts = [{"source": str(volume), "target": "/v", "read_only": False, "is_dir": True}]
    run = run_to_end(
        tmp_path / "pod", spec(code, mounts=mounts, read_only_root=True, no_new_privs=True)
    )
    texts = [e.text for e in runtime.read_log(run)]
    assert texts == [b"root EROFS", b"nnp 1"]
    assert (volume / "ok").read_text() == "y", "volumes stay writable"
