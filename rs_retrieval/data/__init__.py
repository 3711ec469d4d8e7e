"""Datasets: the embedded synthetic bilingual set and builders for Karpathy-style caption datasets."""
