"""``spec.code``: the training code, the image that runs it, its git checkout and its test."""

from __future__ import annotations

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from modelpipe.api.config import config_in
from modelpipe.api.durations import DURATION_PATTERN, cel_minimum
from modelpipe.api.v1alpha1._base import (
    DEFAULT_POLL,
    MIN_POLL,
    OBJECT_NAME_PATTERN,
    Arg,
    SpecModel,
    cel,
    validations,
)


class GitSource(SpecModel):
    """A git repository cloned by an init container at ``spec.code.revision``."""

    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Clone URL (https://, ssh or file://).",
        json_schema_extra=validations(
            cel(
                "!self.startsWith('-') && !self.matches('^[A-Za-z][A-Za-z0-9+.-]*::')",
                "git.url must be a URL (https://, ssh://, file://), not an option or a git "
                "transport helper such as ext::",
            ),
        ),
    )
    path: str = Field(
        default=".",
        max_length=512,
        description="Directory inside the repository the trainer and the code test run in.",
    )
    config_file: str | None = Field(
        default=None,
        min_length=1,
        max_length=512,
        description="YAML file in the repository (path from its root), e.g. train.yaml, holding "
        "`estimator: {className, params}`; it replaces spec.training.estimator, so the "
        "model's settings are versioned with its code. A missing or invalid file fails the "
        "run (TrainingFailed).",
        json_schema_extra=validations(
            cel(
                "!self.startsWith('/') && !self.contains('..')",
                "git.configFile must be a relative path inside the repository, without '..'",
            ),
        ),
    )
    ref: str | None = Field(
        default=None,
        max_length=256,
        description="Branch or tag to follow: its head commit becomes the revision "
        "unless spec.code.revision pins one. A new commit starts a run.",
    )
    poll_interval: str | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description=f"How often the ref is checked, e.g. 30s or 5m. Default {DEFAULT_POLL}.",
        json_schema_extra=validations(cel_minimum(MIN_POLL, "git.pollInterval")),
    )
    credentials_secret: str | None = Field(
        default=None,
        max_length=253,
        pattern=OBJECT_NAME_PATTERN,
        description="Secret in the pipeline's namespace with username and password, or token "
        "(sent as the password), for an https URL. Never logged.",
    )


class CodeTest(SpecModel):
    """A command run before training, e.g. the repository's unit tests; failure blocks training."""

    command: list[Arg] = Field(
        min_length=1, max_length=64, description="Command and arguments, run in the code directory."
    )
    image: str | None = Field(
        default=None,
        max_length=512,
        description="Image to run the test in. Defaults to spec.code.image.",
    )


class CodeSpec(SpecModel):
    """The training code: a revision, the image that runs it and optionally a git checkout."""

    revision: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Git SHA or any version string; part of the input hash. Pinned: wins "
        "over the commit resolved from git.ref. Required unless git.ref is set.",
        json_schema_extra=validations(
            cel("!self.startsWith('-')", "code.revision must not start with '-' (an option)")
        ),
    )
    # Omitted, it is the configured trainer image (see _configured_image); it stays out of
    # model_fields_set, so serving can tell an author's image from the default.
    image: str = Field(
        default=None,
        validate_default=True,
        min_length=1,
        max_length=512,
        description="Trainer image; it must provide the modelpipe-trainer command. Defaults "
        "to the operator's configured trainer image (Helm value trainer.image).",
    )
    git: GitSource | None = Field(
        default=None, description="Clone this repository at the revision."
    )
    test: CodeTest | None = Field(default=None, description="Validate the code before training.")

    @field_validator("image", mode="before")
    @classmethod
    def _configured_image(cls, image: object, info: ValidationInfo) -> object:
        """The operator's trainer image (``api.config``) when the pipeline names none."""
        return config_in(info.context).trainer_image if image is None else image

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.revision) || (has(self.git) && has(self.git.ref))",
                "set code.revision (a pinned version) or code.git.ref (a branch or tag to follow)",
            ),
        )
    )
