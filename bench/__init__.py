"""`returnrisk bench`: one run, one input log, three consumers on the local broker and Redis.

(a) a bare aiokafka consume-and-forward loop (the ceiling for a Python consumer), (b) a faust
agent forwarding raw batches with `stream.take` (the framework's ceiling) and (c) the real
worker (`returnrisk worker`), then end-to-end latency of (c) at a fixed offered load, Redis
round trips per event and Redis bytes per customer. Performance is reported, never asserted.
"""
