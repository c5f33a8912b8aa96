"""The synthetic prior: batches of random classification tasks generated on the fly.

A mixture of task families, each a random function of random inputs turned into classes
by random quantile cuts:

* ``"mlp_scm"``  random MLP structural causal models: root causes pushed through random
  sparse layers with noise; features and the target are random nodes of the graph, so some
  features are causes, some effects, some irrelevant (TabPFN's prior);
* ``"tree"``     sums of random (oblivious) decision trees with splits inside the data;
* ``"linear"``   sparse linear functions with noise;
* ``"gp"``       GP-like smooth functions (random Fourier features, random length-scale);

followed by corruptions: columns made categorical (few integer codes in random order),
monotone warps (heavy tails), missing values completely at random.

Everything is batched on the training device: a batch shares (rows, features, classes) and
one family; each episode in it has its own random function.  All draws use the global torch
RNG of the device, seeded by :func:`autometa.fewshot.train.train`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

#: Default mixture weights of the task families.
PRIOR_WEIGHTS: dict[str, float] = {"mlp_scm": 0.4, "tree": 0.25, "linear": 0.15, "gp": 0.2}


def _u(lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(()))


def _ri(lo: int, hi: int) -> int:
    """Random integer in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, ()))


def _inputs(B: int, N: int, Fd: int, device) -> torch.Tensor:
    """Random inputs: normal, uniform or skewed, optionally correlated."""
    kind = _ri(0, 3)
    if kind == 0:
        x = torch.randn(B, N, Fd, device=device)
    elif kind == 1:
        x = torch.rand(B, N, Fd, device=device) * 2 - 1
    elif kind == 2:
        x = torch.randn(B, N, Fd, device=device).exp() - 1.0
    else:  # correlated Gaussian
        A = torch.randn(B, Fd, Fd, device=device) / math.sqrt(Fd)
        x = torch.randn(B, N, Fd, device=device) @ A
    return x


def _mlp_scm(B: int, N: int, Fd: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    n_layers = _ri(2, 4)
    width = max(Fd + 1, _ri(8, 48))
    acts = [
        torch.tanh,
        F.relu,
        torch.sin,
        lambda t: t.abs(),
        F.leaky_relu,
        lambda t: t * torch.sigmoid(t),
    ]
    act = acts[_ri(0, len(acts) - 1)]
    noise = torch.rand(B, 1, 1, device=device) * 0.3
    h = _inputs(B, N, width, device)
    nodes = []
    for _ in range(n_layers):
        W = torch.randn(B, width, width, device=device) / math.sqrt(width)
        W = W * (torch.rand(B, width, width, device=device) < _u(0.3, 1.0))  # sparse graph
        h = act(h @ W * _u(0.8, 2.0)) + noise * torch.randn_like(h)
        nodes.append(h)
    nodes = torch.cat(nodes, -1)  # (B, N, n_layers*width)
    pick = torch.argsort(torch.rand(B, nodes.shape[-1], device=device), dim=1)[:, : Fd + 1]
    chosen = torch.gather(nodes, 2, pick[:, None].expand(-1, N, -1))
    return chosen[..., :Fd], chosen[..., Fd]


def _tree(B: int, N: int, Fd: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    x = _inputs(B, N, Fd, device)
    T, D = _ri(1, 8), _ri(1, 5)
    feat = torch.randint(0, Fd, (B, T, D), device=device)
    row = torch.randint(0, N, (B, T, D), device=device)
    thr = x[torch.arange(B, device=device)[:, None, None], row, feat]  # splits inside the data
    xv = torch.gather(x, 2, feat.view(B, 1, T * D).expand(-1, N, -1)).view(B, N, T, D)
    bits = (xv > thr[:, None]).long()
    leaf = (bits * (2 ** torch.arange(D, device=device))).sum(-1)  # (B, N, T)
    values = torch.randn(B, T, 2**D, device=device)
    y = torch.gather(values[:, None].expand(-1, N, -1, -1), 3, leaf[..., None]).squeeze(-1).sum(-1)
    return x, y + 0.1 * _u(0, 1) * torch.randn_like(y)


def _linear(B: int, N: int, Fd: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    x = _inputs(B, N, Fd, device)
    w = torch.randn(B, Fd, device=device) * (torch.rand(B, Fd, device=device) < _u(0.2, 1.0))
    y = torch.einsum(
        "bnf,bf->bn", (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6), w
    )
    return x, y + _u(0, 1) * y.std(1, keepdim=True) * torch.randn_like(y)


def _gp(B: int, N: int, Fd: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    x = _inputs(B, N, Fd, device)
    xs = (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6)
    M = 64
    ls = torch.exp(torch.rand(B, 1, 1, device=device) * 2.5 - 0.5) * math.sqrt(max(Fd, 1) / 2)
    relevant = (torch.rand(B, Fd, 1, device=device) < _u(0.3, 1.0)).float()
    W = torch.randn(B, Fd, M, device=device) * relevant / ls
    b = torch.rand(B, 1, M, device=device) * 2 * math.pi
    a = torch.randn(B, M, device=device) / math.sqrt(M)
    y = torch.einsum("bnm,bm->bn", torch.cos(xs @ W + b), a)
    return x, y + 0.05 * torch.randn_like(y)


FAMILIES = {"mlp_scm": _mlp_scm, "tree": _tree, "linear": _linear, "gp": _gp}


def _to_classes(y: torch.Tensor, C: int) -> torch.Tensor:
    """Cut continuous targets (B, N) into C classes at random (imbalanced) quantiles."""
    B = y.shape[0]
    alpha = _u(0.5, 6.0)
    props = torch.distributions.Dirichlet(torch.full((C,), alpha, device=y.device)).sample((B,))
    props = 0.02 + props * (1 - 0.02 * C) if C * 0.02 < 1 else torch.full_like(props, 1 / C)
    levels = props.cumsum(-1)[:, :-1].clamp(0, 1)  # (B, C-1)
    srt = y.sort(dim=1).values
    idx = (levels * (y.shape[1] - 1)).round().long()
    thr = torch.gather(srt, 1, idx)  # (B, C-1)
    cls = (y[:, :, None] > thr[:, None, :]).sum(-1)
    if torch.rand(()) < 0.5:  # non-monotone class assignment: classes are not ordinal bins
        perm = torch.argsort(torch.rand(B, C, device=y.device), 1)
        cls = torch.gather(perm, 1, cls)
    return cls


def _corrupt(x: torch.Tensor, p_missing: float, p_categorical: float) -> torch.Tensor:
    B, N, Fd = x.shape
    dev = x.device
    if p_categorical > 0:
        cat = torch.rand(B, 1, Fd, device=dev) < p_categorical
        levels = _ri(2, 10)
        srt = x.sort(dim=1).values
        q = torch.linspace(0, 1, levels + 1, device=dev)[1:-1]
        thr = srt[:, (q * (N - 1)).long()]  # (B, levels-1, F)
        code = (x[:, :, None, :] > thr[:, None]).sum(2)  # (B, N, F)
        perm = torch.argsort(torch.rand(B, Fd, levels, device=dev), -1).float()
        coded = torch.gather(perm, 2, code.transpose(1, 2)).transpose(1, 2)
        x = torch.where(cat, coded, x)
    if torch.rand(()) < 0.3:  # heavy tails and monotone warps on some columns
        warp = torch.rand(B, 1, Fd, device=dev) < 0.3
        x = torch.where(warp, torch.sinh(2 * x.clamp(-5, 5)), x)
    if torch.rand(()) < 0.5:  # arbitrary scales/offsets per column
        x = x * torch.exp(torch.randn(B, 1, Fd, device=dev)) + torch.randn(B, 1, Fd, device=dev) * 3
    if p_missing > 0:
        rate = torch.rand(B, 1, Fd, device=dev) * p_missing
        x = torch.where(torch.rand_like(x) < rate, torch.full_like(x, float("nan")), x)
    return x


def context_first(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """A row order per episode that puts one row of every present class first (so among
    the context rows whenever there are at least as many as classes), the rest in random
    order.

    Parameters
    ----------
    y : Tensor of shape (B, N), long
    n_classes : int
        Labels are ``0 .. n_classes - 1``.

    Returns
    -------
    Tensor of shape (B, N), long: row indices.
    """
    B, N = y.shape
    key = torch.rand(B, N, device=y.device)
    first = torch.full((B, n_classes), 2.0, device=y.device).scatter_reduce(1, y, key, "amin")
    is_first = torch.gather(first, 1, y) == key
    return torch.argsort(key - 2.0 * is_first.float(), dim=1)


def sample_prior_batch(
    batch_size: int,
    n_rows: int,
    n_ctx: int,
    n_features: int,
    n_classes: int,
    *,
    device: str | torch.device = "cpu",
    weights: dict[str, float] | None = None,
    p_missing: float = 0.1,
    p_categorical: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of synthetic episodes.

    Parameters
    ----------
    batch_size, n_rows, n_ctx, n_features, n_classes : int
        Episode shape: ``n_rows`` rows of which the first ``n_ctx`` are context.
    device : str or torch.device
    weights : dict, optional
        Mixture weights over :data:`FAMILIES` (default :data:`PRIOR_WEIGHTS`).
    p_missing : float
        Upper bound of the per-column missing rate (applied to half of the batches).
    p_categorical : float
        Upper bound of the fraction of columns turned categorical.

    Returns
    -------
    x : Tensor of shape (batch_size, n_rows, n_features), float32, NaN where missing
    y : Tensor of shape (batch_size, n_rows), long; every class occurring in an episode
        occurs among its first ``n_ctx`` rows (needs ``n_ctx >= n_classes``).

    Examples
    --------
    >>> x, y = sample_prior_batch(4, 60, 20, 5, 3)
    >>> x.shape, y.shape
    (torch.Size([4, 60, 5]), torch.Size([4, 60]))
    """
    if n_ctx < n_classes:
        raise ValueError(f"n_ctx={n_ctx} must be at least n_classes={n_classes}")
    w = weights or PRIOR_WEIGHTS
    names = [k for k in w if w[k] > 0]
    probs = torch.tensor([w[k] for k in names], dtype=torch.float)
    fam = names[int(torch.multinomial(probs / probs.sum(), 1))]
    x, yc = FAMILIES[fam](batch_size, n_rows, n_features, device)
    yc = torch.nan_to_num(yc)
    y = _to_classes(yc + 1e-6 * torch.randn_like(yc), n_classes)
    pm = p_missing if torch.rand(()) < 0.5 else 0.0
    x = _corrupt(torch.nan_to_num(x.float(), 0.0, 1e6, -1e6), pm, _u(0, p_categorical))
    order = context_first(y, n_classes)
    x = torch.gather(x, 1, order[..., None].expand(-1, -1, n_features))
    y = torch.gather(y, 1, order)
    return x, y
