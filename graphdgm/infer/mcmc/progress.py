"""Kept so old imports work: the progress bar lives in :mod:`graphdgm.runtime.progress`."""
from graphdgm.runtime.progress import progress_bar

__all__ = ["progress_bar"]
