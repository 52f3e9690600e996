"""`returnrisk bench`: one run, one input log, three consumers on the local broker and Redis.

(a) a bare aiokafka consume-and-forward loop (the ceiling for a Python consumer), (b) a faust
agent forwarding raw batches with `stream.take` (the framework's ceiling) and (c) the real
worker (`returnrisk worker`), then Redis round trips per event and Redis bytes per customer,
then sustained end-to-end latency of (c)'s warm worker: a second simulated log offered at a
fixed rate (half of (c)'s events/s) for max(60 s, the time to offer 100,000 scores' worth of
events), with p50/p95/p99/max, offered and achieved rates, and the worker's backlog.
Performance is reported, never asserted.
"""
