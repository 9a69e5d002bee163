"""The SQLite store: jobs, trials and every metric report, in one file.

:class:`Store` (``store.py``) owns the connection and offers one method per
operation; the operations live by idea:

* ``connection.py``: opening the file, write transactions;
* ``schema.py``: the tables, their version, migrations of older stores;
* ``jobs.py``: jobs, the lease that says which tuner runs one, stop requests;
* ``fencing.py``: a store that took a lease writes the job only while it holds it;
* ``trials.py``: trials and their attempts;
* ``metrics.py``: the metric reports of trials;
* ``scalings.py``: the scale verdicts on ``auto`` parameters.

Import direction: the runner and the CLI use the store; the store imports
neither (the metric report record is :mod:`fasthpo.metric_report`).
"""

from fasthpo.storage.fencing import LeaseLostError
from fasthpo.storage.jobs import JOB_STATES, Job, JobBusyError, Lease
from fasthpo.storage.scalings import ScalingVerdict
from fasthpo.storage.schema import SCHEMA_VERSION
from fasthpo.storage.store import DB_ENV, DEFAULT_DB, Store, default_db_path
from fasthpo.storage.trials import ATTEMPT_STATES, TRIAL_STATES, Attempt, Trial

__all__ = [
    "ATTEMPT_STATES",
    "DB_ENV",
    "DEFAULT_DB",
    "JOB_STATES",
    "SCHEMA_VERSION",
    "TRIAL_STATES",
    "Attempt",
    "Job",
    "JobBusyError",
    "Lease",
    "LeaseLostError",
    "ScalingVerdict",
    "Store",
    "Trial",
    "default_db_path",
]
