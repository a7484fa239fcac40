"""Run one probe (httpGet, tcpSocket, exec) against a running container.

Each runner answers ``(ok, message)``; the thresholds live in
:mod:`localkube.agent.probestate`. Exec probes enter the container's mount
namespace with ``nsenter`` so they see the same files the container sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import aiohttp

from localkube.agent.probestate import ProbeSpec, resolve_port

Json = dict[str, Any]
MAX_OUTPUT = 1024


async def run_probe(
    spec: ProbeSpec,
    *,
    container: Json,
    pod_ip: str,
    pid: int | None,
    env: Mapping[str, str],
    http: aiohttp.ClientSession,
) -> tuple[bool, str]:
    """One probe attempt; never raises."""
    try:
        if spec.handler == "httpGet":
            return await _http_get(spec, container=container, pod_ip=pod_ip, http=http)
        if spec.handler == "tcpSocket":
            return await _tcp(spec, container=container, pod_ip=pod_ip)
        if spec.handler == "exec":
            return await _exec(spec, pid=pid, env=env)
        return False, f"{spec.handler or 'empty'} probes are not supported by localkube"
    except (TimeoutError, OSError, aiohttp.ClientError) as err:
        return False, f"{type(err).__name__}: {err}"


def _port(spec: ProbeSpec, container: Json) -> int:
    port = resolve_port(spec.detail.get("port", 0), container)
    if port is None:
        raise OSError(f"port {spec.detail.get('port')!r} is not a port of the container")
    return port


async def _http_get(
    spec: ProbeSpec, *, container: Json, pod_ip: str, http: aiohttp.ClientSession
) -> tuple[bool, str]:
    d = spec.detail
    scheme = str(d.get("scheme", "HTTP")).lower()
    url = f"{scheme}://{d.get('host') or pod_ip}:{_port(spec, container)}{d.get('path', '/')}"
    headers = {h["name"]: h["value"] for h in d.get("httpHeaders") or []}
    timeout = aiohttp.ClientTimeout(total=spec.timeout)
    async with http.get(url, headers=headers, timeout=timeout, ssl=False) as resp:
        ok = 200 <= resp.status < 400
        return ok, "" if ok else f"HTTP probe failed with statuscode: {resp.status}"


async def _tcp(spec: ProbeSpec, *, container: Json, pod_ip: str) -> tuple[bool, str]:
    host = spec.detail.get("host") or pod_ip
    conn = asyncio.open_connection(host, _port(spec, container))
    _, writer = await asyncio.wait_for(conn, spec.timeout)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _exec(spec: ProbeSpec, *, pid: int | None, env: Mapping[str, str]) -> tuple[bool, str]:
    command = [str(c) for c in spec.detail.get("command") or []]
    if not command:
        return False, "exec probe has no command"
    # The container's mount namespace, root and working directory.
    prefix = ["nsenter", "--target", str(pid), "--mount", "--root", "--wd", "--"] if pid else []
    proc = await asyncio.create_subprocess_exec(
        *prefix,
        *command,
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), spec.timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False, f"command timed out after {spec.timeout:g}s"
    text = out[:MAX_OUTPUT].decode("utf-8", "replace").strip()
    if proc.returncode == 0:
        return True, text
    if proc.returncode in (126, 127) and "nsenter" in text:
        return False, f'exec probe: "{command[0]}": executable file not found ({text})'
    return False, text or f"command exited with code {proc.returncode}"
