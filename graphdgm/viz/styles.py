"""The drawings' shared styles, in one module that imports no other drawing module: colours by
variable kind, the font (graphviz-pure has built-in metrics for it), the block styles by role,
and a domain described in words."""
from __future__ import annotations

from graphdgm.spec.domains import Domain

COLOURS = {"spin": "#a6cee3", "binary": "#fdbf6f", "categorical": "#b2df8a", "real": "#fb9a99"}
FONT = "Helvetica"
ROLE_STYLE = {"observed": "filled,rounded", "latent": "filled,rounded,dashed", "input": "filled,rounded,bold"}


def describe_domain(d: Domain) -> str:
    """A domain in words, with its state labels: the tooltip text of a variable or block.

    >>> import graphdgm as gd
    >>> describe_domain(gd.Categorical(2, labels=("no", "yes")))
    'categorical(2) {no, yes}'
    """
    return d.describe() + (" {" + ", ".join(str(s) for s in d.labels) + "}" if d.labels else "")


__all__ = ["COLOURS", "FONT", "ROLE_STYLE", "describe_domain"]
