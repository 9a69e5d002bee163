"""The managed tuning service's request format, run locally.

``request`` turns the body of a CreateHyperParameterTuningJob request into the
mapping a fasthpo job file would hold (then :mod:`fasthpo.config` validates it
as any job file); ``export`` writes a stored job back as such a request;
``script_mode`` is the launcher that gives a trial the service's script-mode
environment. Importing this package imports none of them.
"""
