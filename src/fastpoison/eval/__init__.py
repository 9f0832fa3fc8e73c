"""Evaluation: metrics, seed statistics, experiment cells."""
