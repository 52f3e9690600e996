"""Policy backtest (`returnrisk policy backtest`): a policy, or two side by side, decided over
an event log by the worker's own code and priced with its economics against what happened
afterwards.

Where things are:
- `replay`: the log through `features.batch.process_batch` and the worker's `Decider`.
- `outcomes`: what followed each decision in the log (returns, received condition, repurchase).
- `ledger`: the decisions priced: offer cost, credit lost, money protected, net.
- `html` / `run`: the page, the CSV files and backtest.json of one run.
"""
