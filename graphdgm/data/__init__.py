"""Data sets: binarized MNIST (a local file, the cache, or a checksummed download), small real data
that works offline (digits, the bnlearn networks, the Nile series), hard instances and synthetic
mixtures for GANs."""
from graphdgm.data.mnist import download_binarized_mnist, find_binarized_mnist, load_binarized_mnist
from graphdgm.data.problems import pedigree_network, spin_glass_grid
from graphdgm.data.real import BNLEARN_NETWORKS, bnlearn_network, load_digits_binary, nile_flow
from graphdgm.data.toy import GaussianMixture2D, grid_of_gaussians, ring_of_gaussians

__all__ = ["pedigree_network", "spin_glass_grid", "GaussianMixture2D", "grid_of_gaussians", "ring_of_gaussians",
           "download_binarized_mnist", "find_binarized_mnist", "load_binarized_mnist", "BNLEARN_NETWORKS",
           "bnlearn_network", "load_digits_binary", "nile_flow"]
