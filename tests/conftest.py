"""Fixtures every test directory may use: a real S3 server (tests/objectstore)."""

from tests.objectstore.fixtures import (  # noqa: F401 (fixtures are found by name)
    s3_binary,
    s3_bucket,
    s3_outage_server,
    s3_server,
)
