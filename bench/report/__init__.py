"""Reporting: MAEs with intervals, the comparison table, parity plots, regression baselines."""
