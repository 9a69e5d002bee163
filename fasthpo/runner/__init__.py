"""Running tuning jobs: the tuner loop, its backends, and reading what trials report.

Import direction: the runner uses the job records (:mod:`fasthpo.jobspec`),
strategies and the store, never :mod:`fasthpo.config`; nothing in the maths
imports the runner.
"""
