"""Data sets: binarized MNIST (local file or download) and synthetic mixtures for GANs."""
from graphdgm.data.mnist import download_binarized_mnist, find_binarized_mnist, load_binarized_mnist
from graphdgm.data.problems import pedigree_network, spin_glass_grid
from graphdgm.data.toy import GaussianMixture2D, grid_of_gaussians, ring_of_gaussians

__all__ = ["pedigree_network", "spin_glass_grid", "GaussianMixture2D", "grid_of_gaussians", "ring_of_gaussians", "download_binarized_mnist", "find_binarized_mnist", "load_binarized_mnist"]
