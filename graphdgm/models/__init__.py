"""Model families as constructors that return a :class:`~graphdgm.Graph`.

Every module in this package is one family: a function (or a few) that declares blocks and
edges and returns the graph. Modules are found here automatically and their ``__all__`` names
are exported as ``graphdgm.<Name>``, so a new energy-based family is one file plus its tests.

>>> import graphdgm as gd
>>> "DBM" in gd.models.__all__
True
"""
from __future__ import annotations

import importlib
import pkgutil

__all__: list[str] = []
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
