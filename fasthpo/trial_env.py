"""The environment variables the tuner sets for a trial's processes, named in one place.

Standard library only (in fact, no imports at all): :mod:`fasthpo.reporting`,
which training scripts import, reads some of these, and must stay light.

Each instance of a trial sees::

    FASTHPO_TRIAL_ID         the trial's id within its job
    FASTHPO_ATTEMPT          which attempt at the trial this is (1, 2, ...)
    FASTHPO_JOB_NAME         the job's name
    FASTHPO_TRIAL_DIR        the trial folder (shared by the instances: checkpoints, outputs);
                             unique to one attempt, so recovery finds leftover processes by it
    FASTHPO_HYPERPARAMETERS  JSON object of static and tuned hyperparameters
    FASTHPO_METRICS_FILE     where fasthpo.report appends its JSON lines (per instance)
    FASTHPO_INSTANCE_RANK    0 .. N-1
    FASTHPO_INSTANCE_COUNT   N
"""

#: Names starting with this are the tuner's own; a job file may not set them.
RESERVED_PREFIX = "FASTHPO_"

TRIAL_ID_ENV = "FASTHPO_TRIAL_ID"
ATTEMPT_ENV = "FASTHPO_ATTEMPT"
JOB_NAME_ENV = "FASTHPO_JOB_NAME"
TRIAL_DIR_ENV = "FASTHPO_TRIAL_DIR"
HYPERPARAMETERS_ENV = "FASTHPO_HYPERPARAMETERS"
METRICS_FILE_ENV = "FASTHPO_METRICS_FILE"
INSTANCE_RANK_ENV = "FASTHPO_INSTANCE_RANK"
INSTANCE_COUNT_ENV = "FASTHPO_INSTANCE_COUNT"
