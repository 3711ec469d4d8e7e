"""Command-line jobs (train, evaluate, build-dataset, ...).

Each is runnable as `python hub_scripts/NAME.py` or `rs-retrieval NAME`.
"""
