"""Stands in for PyTorch when `make test` checks that the suite passes without it.

With this folder on PYTHONPATH, ``import torch`` fails as it does where
PyTorch is not installed, so every comparison test must skip, not fail.
"""

raise ModuleNotFoundError("No module named 'torch' (hidden by tests/_without_torch)", name="torch")
