"""The ``git-clone`` init container: the pipeline's repository at the resolved revision.

Credentials (``spec.code.git.credentialsSecret``) never appear in the pod spec: the
Secret is mounted as a read-only volume into this container only, and the clone
script turns its files into an ``Authorization`` header that reaches git through
``GIT_CONFIG_*`` variables of the git process — not through ``args`` (visible in
``ps``), not through ``env`` values of the spec, and not ``git clone -c`` (which
would write it into the checkout's ``.git/config``, readable by the trainer). The
header is scoped to the repository's origin (``http.<origin>.extraHeader``) and
redirects are not followed (``http.followRedirects=false``), so it reaches no
other host. The same ``username``/``password`` or ``token`` keys as the
operator's own ``ls-remote`` (docs/triggers.md). The gatherer has already checked
that the Secret opted in for this URL (``modelpipe.sources.credentials``).

The container runs the operator's own trainer image (Helm value ``trainer.image``),
never ``spec.code.image``: an image the pipeline's author chose would be handed the
Secret's files. URL and revision reach git as data (env, never shell text), in
positions ``--`` marks as non-options; a revision that looks like an option is
refused by the script itself (admission refuses it too), as is any transport
but http(s), git, ssh and file (``ext::`` runs a command).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from modelpipe.api.sources import TOKEN_USERNAME
from modelpipe.api.v1alpha1.spec import GitSource
from modelpipe.layout import GIT_CONTAINER
from modelpipe.manifests.common import HOME_ENV, Manifest, container_security_context

CREDENTIALS_VOLUME = "git-credentials"
CREDENTIALS_MOUNT = "/var/run/modelpipe/git-credentials"
# Files missing from the Secret read as empty; a token is the password of TOKEN_USERNAME.
_AUTH_SCRIPT = (
    'if [ -n "$GIT_AUTH_ORIGIN" ]; then '
    'read_key() { cat "$GIT_CREDENTIALS_DIR/$1" 2>/dev/null || true; }; '
    "user=$(read_key username); pass=$(read_key password); token=$(read_key token); "
    'if [ -n "$token" ]; then pass="$token"; [ -n "$user" ] || user=' + TOKEN_USERNAME + "; fi; "
    "basic=$(printf '%s:%s' \"$user\" \"$pass\" | base64 | tr -d '\\n'); "
    "export GIT_CONFIG_COUNT=1 "
    'GIT_CONFIG_KEY_0="http.$GIT_AUTH_ORIGIN.extraHeader" '
    'GIT_CONFIG_VALUE_0="Authorization: Basic $basic"; '
    "unset user pass token basic; fi; "
)
_CLONE_SCRIPT = (
    'case "$GIT_REVISION" in -*|"") echo "refused: revision looks like an option" >&2; exit 2;; '
    "esac; "
    'git -c http.followRedirects=false clone --quiet --no-checkout -- "$GIT_URL" "$SRC" && '
    'git -C "$SRC" checkout --quiet --detach "$GIT_REVISION" --'
)
# ext:: runs a command; fd:: and others are no business of a clone.
CLONE_PROTOCOLS = "http:https:git:ssh:file"


def auth_origin(url: str) -> str | None:
    """``scheme://host[:port]/`` of an http(s) URL, the scope of the header; else None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/"


def credentials_volume(git: GitSource) -> Manifest | None:
    """The Secret as a volume (owner- and group-readable: the pod's fsGroup), if one is named."""
    if not git.credentials_secret:
        return None
    return {
        "name": CREDENTIALS_VOLUME,
        "secret": {"secretName": git.credentials_secret, "defaultMode": 0o440},
    }


def git_clone_container(
    *, git: GitSource, revision: str, source_dir: str, mounts: list[Manifest], image: str
) -> Manifest:
    """Clone ``git.url`` and check out ``revision`` (pinned, or resolved from ``git.ref``).

    ``image`` is the operator's trainer image (``OperatorConfig.trainer_image``).
    """
    env: list[Manifest] = [
        {"name": "GIT_URL", "value": git.url},
        {"name": "GIT_REVISION", "value": revision},
        {"name": "SRC", "value": source_dir},
        {"name": "GIT_TERMINAL_PROMPT", "value": "0"},  # fail, never wait for a password
        {"name": "GIT_ALLOW_PROTOCOL", "value": CLONE_PROTOCOLS},
        HOME_ENV,
    ]
    mounts = list(mounts)
    script = _CLONE_SCRIPT
    origin = auth_origin(git.url)
    if git.credentials_secret and origin is not None:
        env += [
            {"name": "GIT_AUTH_ORIGIN", "value": origin},
            {"name": "GIT_CREDENTIALS_DIR", "value": CREDENTIALS_MOUNT},
        ]
        mounts.append(
            {"name": CREDENTIALS_VOLUME, "mountPath": CREDENTIALS_MOUNT, "readOnly": True}
        )
        script = _AUTH_SCRIPT + script
    return {
        "name": GIT_CONTAINER,
        "image": image,
        "command": ["sh", "-c", script],
        "env": env,
        "volumeMounts": mounts,
        "securityContext": container_security_context(),
    }
