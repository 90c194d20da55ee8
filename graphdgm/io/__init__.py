"""Reading and writing models: UAI files and evidence, pgmpy models, and JSON specs."""
from graphdgm.io.model_io import load, save
from graphdgm.io.pgmpy_interop import (
    bayesian_network_from_pgmpy, bayesian_network_to_pgmpy,
)
from graphdgm.io.pgmpy_interop import factor_to_pgmpy, from_pgmpy, pgmpy_factors, pgmpy_names, to_pgmpy
from graphdgm.io.serialize import load_spec, save_spec, spec_from_dict, spec_to_dict
from graphdgm.io.uai import evidence_to_names, read_evidence, read_uai, write_evidence, write_uai

__all__ = [
    "bayesian_network_from_pgmpy", "bayesian_network_to_pgmpy",
    "evidence_to_names", "factor_to_pgmpy", "from_pgmpy", "load", "load_spec", "save", "pgmpy_factors", "pgmpy_names", "read_evidence",
    "read_uai", "save_spec", "spec_from_dict", "spec_to_dict", "to_pgmpy", "write_evidence", "write_uai",
]
