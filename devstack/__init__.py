"""Local infrastructure for development: a tansu broker and a Redis on loopback.

`returnrisk dev up|down|status` is built from small parts: `endpoints` (where things listen),
`probes` (is something answering), `binaries` (where tansu and redis-server are), `launch` and
`processes` (start and stop servers), `state` (what `up` started), `topics` (create and count
topics), `stack` (the three verbs) and `settings` (`RETURNRISK_DEV_*`); the commands are
`returnrisk/dev_cli.py`. Every failure a user can fix is a `DevError`.
"""
