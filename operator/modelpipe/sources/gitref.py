"""Resolve a git branch or tag to a commit SHA with ``git ls-remote``.

``git`` itself is the protocol library: it speaks smart HTTP (v0 and v2),
``git://`` and ssh, follows redirects and honours proxies. What we add is a
hermetic environment (no user or system config, no prompts, no ``ext::``
transport) and credentials passed as an ``http.extraHeader`` through
``GIT_CONFIG_*`` variables — never on the command line or in the URL, where they
would show in process listings and error messages.

Git servers answer ref discovery with ``Cache-Control: no-cache`` and no
validators (git-http-backend, GitHub, GitLab), and protocol v2 lists refs in a
POST, so conditional requests do not apply here; shared polling
(``registry.py``) is what keeps the request count at one per interval.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from modelpipe.sources.model import (
    Credentials,
    ErrorReason,
    Observation,
    SourceError,
    check_url,
)

GIT_SCHEMES = frozenset({"http", "https", "git", "ssh"})
ALLOWED_PROTOCOLS = "http:https:git:ssh"
# Hosts that accept a token as the basic-auth password ignore the user name.
TOKEN_USERNAME = "x-access-token"  # noqa: S105 (a user name, not a secret)
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_BAD_REF = re.compile(r"(\.\.|[\x00-\x20~^:?*\[\\\x7f]|@\{|//|\.lock$|/$|^/|\.$|^-)")


def check_ref(ref: str) -> str | None:
    """Return a problem with a branch/tag name (git check-ref-format rules), or None."""
    if not ref:
        return "ref must not be empty"
    if ref != "HEAD" and _BAD_REF.search(ref):
        return f"ref {ref!r} is not a valid git branch or tag name"
    return None


def ls_remote_patterns(ref: str) -> list[str]:
    """Patterns that let the server filter refs (protocol v2 ref-prefix)."""
    if ref == "HEAD":
        return ["HEAD"]
    if ref.startswith("refs/"):
        return [ref, f"{ref}^{{}}"]
    return [f"refs/heads/{ref}", f"refs/tags/{ref}", f"refs/tags/{ref}^{{}}"]


def build_command(*, url: str, ref: str) -> list[str]:
    return ["git", "ls-remote", "--", url, *ls_remote_patterns(ref)]


def build_env(
    *, url: str, credentials: Credentials | None, base: Mapping[str, str]
) -> dict[str, str]:
    """The complete environment for ``git``: nothing from the operator's own leaks in."""
    env = {
        "PATH": base.get("PATH", "/usr/bin:/bin"),
        "HOME": "/nonexistent",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
        "LC_ALL": "C",
    }
    for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"):
        if proxy in base:
            env[proxy] = base[proxy]
    parts = urlsplit(url)
    if credentials is not None and not credentials.empty and parts.scheme in ("http", "https"):
        # Scoped to the origin, so a redirect to another host does not get the header.
        origin = f"{parts.scheme}://{parts.netloc}/"
        env["GIT_CONFIG_COUNT"] = "1"
        env["GIT_CONFIG_KEY_0"] = f"http.{origin}.extraHeader"
        authorization = credentials.basic_authorization(token_username=TOKEN_USERNAME)
        env["GIT_CONFIG_VALUE_0"] = f"Authorization: {authorization}"
    return env


def select_commit(output: str, *, ref: str) -> str | None:
    """Pick the commit for ``ref`` from ``ls-remote`` output.

    A branch wins over a tag of the same name (as ``git checkout`` does), and an
    annotated tag resolves to the commit it points at (its ``^{}`` line).
    """
    refs: dict[str, str] = {}
    for line in output.splitlines():
        sha, _, name = line.partition("\t")
        if _SHA.match(sha) and name:
            refs[name] = sha
    if ref == "HEAD":
        candidates = ["HEAD"]
    elif ref.startswith("refs/"):
        candidates = [f"{ref}^{{}}", ref]
    else:
        candidates = [f"refs/heads/{ref}", f"refs/tags/{ref}^{{}}", f"refs/tags/{ref}"]
    return next((refs[name] for name in candidates if name in refs), None)


_STDERR_REASONS: tuple[tuple[ErrorReason, tuple[str, ...]], ...] = (
    (
        ErrorReason.AUTH_FAILED,
        (
            "authentication failed",
            "could not read username",
            "could not read password",
            # Whole phrases only: a bare "403" also matches port numbers like 40369.
            "returned error: 403",
            "returned error: 401",
            "permission denied",
        ),
    ),
    (
        ErrorReason.NOT_FOUND,
        ("repository not found", "not found", "does not appear to be a git repository"),
    ),
    (ErrorReason.TIMEOUT, ("timed out", "timeout")),
    (ErrorReason.SERVER_ERROR, ("the requested url returned error: 5",)),
    (
        ErrorReason.UNREACHABLE,
        ("could not resolve", "failed to connect", "connection refused", "unable to access"),
    ),
)


def classify_failure(*, returncode: int, stderr: str) -> SourceError:
    """Turn a failed ``ls-remote`` into a reason and a one-line, credential-free message."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = lines[-1] if lines else f"git ls-remote exited with {returncode}"
    detail = detail.removeprefix("fatal: ")[:300]
    lowered = stderr.lower()
    for reason, needles in _STDERR_REASONS:
        if any(needle in lowered for needle in needles):
            return SourceError(reason, detail)
    return SourceError(ErrorReason.UNREACHABLE, detail)


async def resolve_git_ref(
    *, url: str, ref: str, credentials: Credentials | None, timeout_seconds: float
) -> Observation:
    """Run ``git ls-remote`` once; the only function here that does I/O."""
    problem = check_url(url, schemes=GIT_SCHEMES) or check_ref(ref)
    if problem:
        return Observation.failed(ErrorReason.INVALID_SOURCE, problem)
    process = await asyncio.create_subprocess_exec(
        *build_command(url=url, ref=ref),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=build_env(url=url, credentials=credentials, base=os.environ),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout_seconds)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Observation.failed(
            ErrorReason.TIMEOUT, f"git ls-remote did not answer within {timeout_seconds:g}s"
        )
    if process.returncode != 0:
        error = classify_failure(
            returncode=process.returncode or 1, stderr=stderr.decode(errors="replace")
        )
        return Observation(error=error)
    sha = select_commit(stdout.decode(errors="replace"), ref=ref)
    if sha is None:
        return Observation.failed(
            ErrorReason.REF_NOT_FOUND, f"no branch or tag named {ref!r} in the repository"
        )
    return Observation(value=sha)
