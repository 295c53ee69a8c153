"""Experiments: replications, design comparisons and their statistics."""

from hasim.experiment.stats import mean_ci

__all__ = ["mean_ci"]
