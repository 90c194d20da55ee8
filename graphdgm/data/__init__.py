"""Data sets: binarized MNIST (local file or download)."""
from graphdgm.data.mnist import download_binarized_mnist, find_binarized_mnist, load_binarized_mnist

__all__ = ["download_binarized_mnist", "find_binarized_mnist", "load_binarized_mnist"]
