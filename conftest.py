"""Repository-wide pytest configuration: the local-cluster fixtures."""

pytest_plugins = ["localkube.pytest_plugin"]
