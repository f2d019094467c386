"""Experiments: configs, the cell runner, metrics, results and the command line."""
