"""``fasthpo dashboard``: a live, read-only page over a store's jobs (see :mod:`fasthpo.dashboard.server`)."""

from fasthpo.dashboard.server import serve

__all__ = ["serve"]
