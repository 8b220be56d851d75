"""The systems genq is measured against, each driven the same way (see ``bench/peers/run.py``).

Every peer runs two tasks: ``noop`` (counted by ``probe.done``, for throughput) and
``timed`` (``probe.started``, for enqueue→start latency, returning a value so that the
client can wait for its result). The probe writes to a Redis database of its own, one
round trip per job, which every peer pays alike.
"""
