"""Importing a retailer's order lines into the event log every other command reads.

`returnrisk import` reads order-line tables (CSV, gzip CSV, Parquet) in chunks through a YAML
mapping (`mapping.py`), sorts each row into kept, excluded or rejected (`rows.py`), matches
credit lines to the purchases they take back (`credits.py`), builds one `order_placed` per
order and one `return_requested` per credit invoice and order (`events.py`) and writes them in
time order (`writer.py`). `run.py` runs the steps in that order.
"""
