"""Which failed attempts of a trial are run again, and how often.

A trial is retried with the same hyperparameters, as a new attempt of the same
trial (same id; attempts are stored). Retries never count against
``limits.max_trials``. What is retried:

* an attempt **lost to a tuner crash** (the tuner died while it ran): always,
  and it does not count as one of the trial's attempts — it was not the
  trial's fault;
* an attempt **killed by a signal** it did not get from the tuner (the OOM
  killer, a preempted node), while attempts remain;
* an attempt that **exited with one of** ``retry.exit_codes``, while attempts
  remain.

A plain non-zero exit is a verdict on the hyperparameters (a diverged run, a
bug) and is not retried unless its code is listed. Trials the tuner stopped
(runtime limit, early stopping, ``fasthpo stop``) are never retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fasthpo.errors import ConfigError


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a trial gets, and which exit codes besides signals are retried."""

    max_attempts: int = 1
    exit_codes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise ConfigError("max_attempts", f"must be a positive integer, got {self.max_attempts!r}")
        for i, code in enumerate(self.exit_codes):
            if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 255:
                raise ConfigError(f"exit_codes[{i}]", f"must be an exit code 1-255, got {code!r}")

    def retries(self, attempt: int, exit_code: int | None) -> bool:
        """Whether a failed attempt number ``attempt`` (with ``exit_code``) gets another attempt."""
        if attempt >= self.max_attempts or exit_code is None:
            return False
        return exit_code < 0 or exit_code in self.exit_codes

    def to_dict(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "exit_codes": list(self.exit_codes)}
