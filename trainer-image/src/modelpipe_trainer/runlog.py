"""The run's own log, kept in the model directory (``train.log``).

A Job's pod and its logs go when the Job is pruned; the model directory stays. So the
trainer copies what it logs during ``train`` into a buffer and writes it beside the model,
where ``kubectl modelpipe logs NAME --run VERSION`` finds it later.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

TRAIN_LOG_FILE = "train.log"
LOGGER = "modelpipe_trainer"
# Keep a runaway log from filling the artifacts volume: the head is what explains a run.
MAX_LOG_BYTES = 1 << 20
FORMAT = "%(asctime)s %(levelname)s %(message)s"


class KeptLog:
    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def text(self) -> bytes:
        data = self.buffer.getvalue().encode()
        if len(data) > MAX_LOG_BYTES:
            return data[:MAX_LOG_BYTES] + b"\n[log truncated]\n"
        return data


@contextmanager
def kept_log() -> Iterator[KeptLog]:
    """Copy the trainer's log records into a buffer while the block runs."""
    kept = KeptLog()
    handler = logging.StreamHandler(kept.buffer)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger(LOGGER)
    previous = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield kept
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
