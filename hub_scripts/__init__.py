"""Command-line jobs (train, evaluate, build-dataset, ...): each runnable as `python hub_scripts/NAME.py` or `rs-retrieval NAME`."""
