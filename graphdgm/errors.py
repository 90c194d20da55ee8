"""Exceptions raised by graphdgm; each message names the variable, the shape and the fix."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class GraphdgmError(Exception):
    """Base class of every graphdgm error."""


class SpecError(GraphdgmError, ValueError):
    """A model declaration is invalid (bad shape, bad value, duplicate or unknown name)."""


class UnknownVariableError(SpecError, KeyError):
    """A variable or block name that the model does not declare."""

    def __init__(self, name: str, known: Iterable[str], what: str = "variable") -> None:
        known = list(known)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        sample = ", ".join(repr(k) for k in known[:6]) + (", ..." if len(known) > 6 else "")
        msg = f"unknown {what} {name!r}.{hint} The model declares: {sample or 'nothing yet'}."
        super().__init__(msg)
        self.name = name

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0])


class EvidenceError(GraphdgmError, ValueError):
    """Evidence that is malformed or has probability zero under the model."""


class CapabilityError(GraphdgmError, TypeError):
    """A backend needs a capability that the compiled model does not have."""


class InferenceError(GraphdgmError, RuntimeError):
    """An inference backend cannot answer this query (for example the induced width is too large)."""


class FormatError(GraphdgmError, ValueError):
    """A file (UAI, evidence, saved model) is malformed; the message gives the line or token."""


class ConvergenceWarning(UserWarning):
    """An approximate answer may be wrong, and the message says why and what to try: MCMC chains
    that have not mixed (split R-hat above ``rhat_threshold``, the worst variables named), AIS
    importance weights with a low effective sample size, loopy BP or mean field at its iteration
    cap, at the symmetric fixed point, or with several fixed points. The figures are in the
    backend's ``diagnostics``; each backend's threshold option (None) turns its warning off."""
