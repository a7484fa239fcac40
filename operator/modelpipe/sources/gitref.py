"""Resolve a git branch or tag to a commit SHA with ``git ls-remote``.

``git`` itself is the protocol library: it speaks smart HTTP (v0 and v2),
``git://`` and ssh, and honours proxies. What we add is a hermetic environment
(no user or system config, no prompts, no ``ext::`` transport) and credentials
passed as an ``http.extraHeader`` through ``GIT_CONFIG_*`` variables — never on
the command line or in the URL, where they would show in process listings and
error messages.

The egress policy (``egress.py``) judges the host's addresses before git runs,
and git is pinned to those very addresses (``http.curloptResolve``), so it cannot
resolve the name again to somewhere else. Redirects are not followed
(``http.followRedirects=false``): the header goes to the origin and nowhere else.
git's own error text (which can carry the server's ``remote:`` lines) never
leaves this module: failures are told in the operator's words.

Git servers answer ref discovery with ``Cache-Control: no-cache`` and no
validators (git-http-backend, GitHub, GitLab), and protocol v2 lists refs in a
POST, so conditional requests do not apply here; shared polling
(``registry.py``) is what keeps the request count at one per interval.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from modelpipe.api.sources import (
    TOKEN_USERNAME,
    Credentials,
    ErrorReason,
    Observation,
    SourceError,
    check_url,
)
from modelpipe.sources.check import Check
from modelpipe.sources.egress import EgressPolicy
from modelpipe.sources.egress_guard import (
    EgressRefused,
    Resolver,
    Unresolvable,
    checked_addresses,
    resolve,
)

GIT_SCHEMES = frozenset({"http", "https", "git", "ssh"})
ALLOWED_PROTOCOLS = "http:https:git:ssh"
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "git": 9418, "ssh": 22}
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


def curl_resolve(*, url: str, addresses: Sequence[str]) -> str | None:
    """An ``http.curloptResolve`` entry pinning an http(s) URL's host to ``addresses``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or not addresses:
        return None
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    listed = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
    return f"{parts.hostname}:{port}:{listed}"


def build_env(
    *,
    url: str,
    credentials: Credentials | None,
    base: Mapping[str, str],
    addresses: Sequence[str] = (),
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
    config = [("http.followRedirects", "false")]
    pin = curl_resolve(url=url, addresses=addresses)
    if pin is not None:
        config.append(("http.curloptResolve", pin))
    parts = urlsplit(url)
    if credentials is not None and not credentials.empty and parts.scheme in ("http", "https"):
        # Scoped to the origin as well: no other host ever gets the header.
        origin = f"{parts.scheme}://{parts.netloc}/"
        authorization = credentials.basic_authorization(token_username=TOKEN_USERNAME)
        config.append((f"http.{origin}.extraHeader", f"Authorization: {authorization}"))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
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


# (reason, what git's stderr says, what we say instead)
_STDERR_REASONS: tuple[tuple[ErrorReason, tuple[str, ...], str], ...] = (
    (
        ErrorReason.INVALID_SOURCE,
        (
            "returned error: 301",
            "returned error: 302",
            "returned error: 303",
            "returned error: 307",
            "returned error: 308",
        ),
        "the server redirected; redirects are not followed, use the repository's final URL",
    ),
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
        "the server wants credentials or refused them; check credentialsSecret",
    ),
    (
        ErrorReason.NOT_FOUND,
        ("repository not found", "not found", "does not appear to be a git repository"),
        "no git repository at this URL",
    ),
    (ErrorReason.TIMEOUT, ("timed out", "timeout"), "the server did not answer in time"),
    (
        ErrorReason.SERVER_ERROR,
        ("the requested url returned error: 5",),
        "the server answered with an error (5xx)",
    ),
    (
        ErrorReason.UNREACHABLE,
        ("could not resolve", "failed to connect", "connection refused", "unable to access"),
        "cannot reach the server",
    ),
)


def classify_failure(*, returncode: int, stderr: str) -> SourceError:
    """Turn a failed ``ls-remote`` into a reason and a message in the operator's words.

    git's stderr can quote the server (``remote: ...`` lines, a proxy's page), and
    the server is the pipeline author's choice: it is read here, never repeated.
    """
    lowered = stderr.lower()
    for reason, needles, message in _STDERR_REASONS:
        if any(needle in lowered for needle in needles):
            return SourceError(reason, message)
    return SourceError(ErrorReason.UNREACHABLE, f"git ls-remote failed (exit code {returncode})")


async def check(c: Check) -> Observation:
    """The git source type (modelpipe.sources.kinds): the commit ``c.key.ref`` points to."""
    return await resolve_git_ref(
        url=c.key.url, ref=c.key.ref, credentials=c.credentials,
        timeout_seconds=c.timeout_seconds, policy=c.egress, resolver=c.resolver,
    )  # fmt: skip


async def resolve_git_ref(
    *,
    url: str,
    ref: str,
    credentials: Credentials | None,
    timeout_seconds: float,
    policy: EgressPolicy | None = None,
    resolver: Resolver = resolve,
) -> Observation:
    """Check the destination, then run ``git ls-remote`` once; the only I/O here."""
    problem = check_url(url, schemes=GIT_SCHEMES) or check_ref(ref)
    if problem:
        return Observation.failed(ErrorReason.INVALID_SOURCE, problem)
    parts = urlsplit(url)
    try:
        addresses = await checked_addresses(
            policy or EgressPolicy(), parts.hostname or "",
            parts.port or _DEFAULT_PORTS.get(parts.scheme, 0), resolver=resolver,
        )  # fmt: skip
    except EgressRefused as refused:
        return Observation.failed(ErrorReason.DESTINATION_REFUSED, str(refused))
    except Unresolvable as unresolved:
        return Observation.failed(ErrorReason.UNREACHABLE, str(unresolved))
    process = await asyncio.create_subprocess_exec(
        *build_command(url=url, ref=ref),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=build_env(url=url, credentials=credentials, base=os.environ, addresses=addresses),
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
