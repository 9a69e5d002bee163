"""The service's documented limits on a tuning job, checked before anything runs.

From the service's "Resource Limits for Automatic Model Tuning" page and the
API reference of CreateHyperParameterTuningJob (see docs/sagemaker.md for the
sources). Each is enforced with the path of the field that breaks it.
"""

from __future__ import annotations

#: Hyperparameters that can be searched (all ranges together).
MAX_RANGES = 30
#: Values of one categorical range.
MAX_CATEGORICAL_VALUES = 30
#: Metric definitions of one tuning job.
MAX_METRIC_DEFINITIONS = 20
#: Parallel training jobs of one tuning job (the default quota is 10; it can be raised to 100).
MAX_PARALLEL_TRAINING_JOBS = 100
#: Training jobs of one tuning job, by strategy (Random can be raised to 10,000).
MAX_TRAINING_JOBS = {"Bayesian": 750, "Hyperband": 750, "Grid": 750, "Random": 10_000}
#: ResourceLimits.MaxRuntimeInSeconds: the field's documented range (the limits page
#: gives 30 days as the default maximum run time of a tuning job).
MIN_TUNING_RUNTIME = 120
MAX_TUNING_RUNTIME = 15_768_000
#: Parent jobs of a warm start.
MAX_WARM_START_PARENTS = 5
#: RetryStrategy.MaximumRetryAttempts.
MAX_RETRY_ATTEMPTS = 30
#: HyperParameterTuningJobName: 1 to 32 characters, letters, digits and single hyphens.
JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$"
