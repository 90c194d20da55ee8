"""Factor groups: factors of one kind and one table shape, stacked into one batched tensor.

Every group answers ``log_tables()`` of shape (F, k_1, ..., k_a) and has a ``scope`` buffer of
shape (F, a) with packed variable indices. Backends loop over groups (kinds), never over factors.
"""
from __future__ import annotations

import torch
from torch import nn


class FactorGroup(nn.Module):
    """Base: a stack of F factors over ``arity`` variables with a common table shape."""

    kind: str = "table"
    scope: torch.Tensor

    def __init__(self, name: str, scope: torch.Tensor, table_shape: tuple[int, ...]) -> None:
        super().__init__()
        self.name = name
        self.register_buffer("scope", scope.long())  # (F, a)
        self.table_shape = tuple(int(k) for k in table_shape)
        strides = [1] * len(self.table_shape)
        for p in range(len(strides) - 2, -1, -1):
            strides[p] = strides[p + 1] * self.table_shape[p + 1]
        self.register_buffer("strides", torch.tensor(strides, dtype=torch.long))  # (a,)

    @property
    def num_factors(self) -> int:
        """Number F of factors in the group."""
        return int(self.scope.shape[0])

    @property
    def arity(self) -> int:
        """Number of variables each factor touches."""
        return int(self.scope.shape[1])

    def log_tables(self) -> torch.Tensor:  # (F, k_1, ..., k_a)
        """(F, k_1, ..., k_a) log-potential tables of every factor; subclasses implement it."""
        raise NotImplementedError

    def log_potential(self, state: torch.Tensor) -> torch.Tensor:
        """Σ_f log φ_f(state) for a batch of packed states (B, n) of state indices -> (B,)."""
        flat_idx = (state[:, self.scope] * self.strides).sum(-1)  # (B, F)
        flat_tab = self.log_tables().reshape(self.num_factors, -1)  # (F, Π k)
        vals = flat_tab.gather(1, flat_idx.t())  # (F, B)
        return vals.sum(0)


class TableGroup(FactorGroup):
    """Explicit log-tables, learnable."""

    kind = "table"

    def __init__(self, name: str, scope: torch.Tensor, log_tables: torch.Tensor, names: tuple[str, ...]) -> None:
        super().__init__(name, scope, tuple(log_tables.shape[1:]))
        self.log_table = nn.Parameter(log_tables.clone())  # (F, k_1, ..., k_a); -inf marks zeros
        self.factor_names = names

    def log_tables(self) -> torch.Tensor:
        """(F, k_1, ..., k_a) the learnable log-tables themselves (-inf marks zeros)."""
        return self.log_table


class IsingCouplingGroup(FactorGroup):
    """log φ(x_i, x_j) = w · v(x_i) · v(x_j) with learnable w (E,) and fixed domain values."""

    kind = "ising"

    def __init__(self, name: str, pairs: torch.Tensor, weight: torch.Tensor, values_a: torch.Tensor, values_b: torch.Tensor) -> None:
        super().__init__(name, pairs, (values_a.shape[-1], values_b.shape[-1]))
        self.weight = nn.Parameter(weight.clone())  # (E,)
        self.register_buffer("values_a", values_a)  # (E, k_a)
        self.register_buffer("values_b", values_b)  # (E, k_b)

    def log_tables(self) -> torch.Tensor:
        """(E, k_a, k_b) tables w_e · v(x_i) · v(x_j) from the weights and the domain values."""
        return self.weight[:, None, None] * self.values_a[:, :, None] * self.values_b[:, None, :]  # (E, k_a, k_b)


class PottsCouplingGroup(FactorGroup):
    """log φ(x_i, x_j) = w · [x_i = x_j] with learnable w (E,)."""

    kind = "potts"

    def __init__(self, name: str, pairs: torch.Tensor, weight: torch.Tensor, k_a: int, k_b: int) -> None:
        super().__init__(name, pairs, (k_a, k_b))
        self.weight = nn.Parameter(weight.clone())  # (E,)
        eq = torch.arange(k_a)[:, None] == torch.arange(k_b)[None, :]
        self.register_buffer("equal", eq.to(weight.dtype))  # (k_a, k_b)

    def log_tables(self) -> torch.Tensor:
        """(E, k_a, k_b) tables w_e · [x_i = x_j]."""
        return self.weight[:, None, None] * self.equal  # (E, k_a, k_b)


class IsingFieldGroup(FactorGroup):
    """log φ(x_i) = h_i · v(x_i) with learnable h (n,)."""

    kind = "ising_field"

    def __init__(self, name: str, variables: torch.Tensor, weight: torch.Tensor, values: torch.Tensor) -> None:
        super().__init__(name, variables[:, None], (values.shape[-1],))
        self.weight = nn.Parameter(weight.clone())  # (n,)
        self.register_buffer("values", values)  # (n, k)

    def log_tables(self) -> torch.Tensor:
        """(n, k) tables h_i · v(x_i) from the fields and the domain values."""
        return self.weight[:, None] * self.values  # (n, k)


class TableFieldGroup(FactorGroup):
    """log φ(x_i = s) = h[i, s] with learnable h (n, k)."""

    kind = "table_field"

    def __init__(self, name: str, variables: torch.Tensor, weight: torch.Tensor) -> None:
        super().__init__(name, variables[:, None], (weight.shape[-1],))
        self.weight = nn.Parameter(weight.clone())  # (n, k)

    def log_tables(self) -> torch.Tensor:
        """(n, k) the learnable fields h[i, s] themselves."""
        return self.weight
