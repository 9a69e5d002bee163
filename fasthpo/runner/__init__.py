"""Running tuning jobs: the tuner loop, its backends, and reading what trials report.

Import direction: the runner uses strategies and the store; nothing in the
maths imports the runner.
"""
