"""The simple RNN (単純RNN): parameters, forward pass, backpropagation through time.

Course notation, row vectors, one time step t:

    u[t] = x[t] @ W_in + z[t-1] @ W + b      pre-activation of the hidden layer (中間層)
    z[t] = f(u[t])                           hidden state, z[-1] = 0
    y[t] = sigmoid(z[t] @ W_out + c)         output: the predicted bit t of a + b

Loss (損失関数, also 誤差関数): L = mean over the batch of sum over t of 1/2 (y[t] - d[t])**2.

Shapes, for H hidden units:

    X (batch, T, 2)   D, Y (batch, T, 1)   u, z (batch, T, H)
    W_in (2, H)   W (H, H)   W_out (H, 1)   b (H,)   c (1,)

A stack of K independent models: every parameter may carry a leading axis K,
W_in (K, 2, H) and so on. X and D then have shape (K, batch, T, .), or keep
(batch, T, .) to give every model the same data. The code below is written with
``@`` and axis-aware sums, so one forward and one backward serve both.
"""

from __future__ import annotations

import math

import numpy as np

from .activations import ACTIVATIONS, DERIVATIVES_FROM_Z, get_activation, sigmoid
from .checks import MAX_ELEMENTS, array_size, positive_int, real_array
from .initializers import init_weight

PARAM_NAMES = ("W_in", "W", "W_out", "b", "c")
N_IN, N_OUT = 2, 1
MAX_HIDDEN = 4096  # W then has 4096**2 = 2**24 entries, the package's array limit
assert MAX_HIDDEN**2 == MAX_ELEMENTS

Params = dict[str, np.ndarray]


def init_params(
    hidden_size: int = 16,
    init: str = "xavier",
    *,
    rng: np.random.Generator,
    std: float = 1.0,
) -> Params:
    """New parameters: weights from ``init`` ('normal', 'xavier', 'he'), biases zero.

    ``std`` is used by 'normal' only (the course uses std = 1).
    Draw order is fixed (W_in, W, W_out), so ``rng``'s seed fixes every weight.
    returns {'W_in': (2, H), 'W': (H, H), 'W_out': (H, 1), 'b': (H,), 'c': (1,)}
    """
    H = positive_int(hidden_size, "hidden size", MAX_HIDDEN)
    return {
        "W_in": init_weight((N_IN, H), init, rng, std),
        "W": init_weight((H, H), init, rng, std),
        "W_out": init_weight((H, N_OUT), init, rng, std),
        "b": np.zeros(H),
        "c": np.zeros(N_OUT),
    }


def stack_params(models: list[Params]) -> Params:
    """K single models -> one stack with a leading axis K (all must have one hidden size)."""
    if not isinstance(models, (list, tuple)) or not models:
        raise ValueError(f"stack_params needs a list of at least one model, got {models!r:.80}")
    checked = [as_params(m) for m in models]
    if any(lead != () for _, lead, _ in checked) or len({H for _, _, H in checked}) != 1:
        raise ValueError("stack_params takes single (unstacked) models of one hidden size")
    return {k: np.stack([p[k] for p, _, _ in checked]) for k in PARAM_NAMES}


def unstack_params(params: Params) -> list[Params]:
    """A stack with leading axis K -> a list of K single models (copies)."""
    params, lead, _ = as_params(params)
    if len(lead) != 1:
        raise ValueError(f"unstack_params needs one leading model axis, got lead shape {lead}")
    return [{k: params[k][i].copy() for k in PARAM_NAMES} for i in range(lead[0])]


def check_params(params: object) -> tuple[tuple[int, ...], int]:
    """Check the five parameters fit together and are finite numbers; return (lead shape, H).

    lead is () for one model and (K,) for a stack of K.
    """
    _, lead, H = as_params(params)
    return lead, H


def as_params(params: object) -> tuple[Params, tuple[int, ...], int]:
    """``check_params``, and the five parameters as float64 arrays: (params, lead, H).

    Lists and integer or float32 arrays are converted; float64 arrays are used as they are
    (not copied). Refused: missing keys, shapes that do not fit, text, booleans, complex
    numbers, inf and NaN.
    """
    if not isinstance(params, dict):
        raise ValueError(
            f"params must be a dict with keys {PARAM_NAMES}, got {type(params).__name__}"
        )
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; it needs all of {PARAM_NAMES}")
    p = {k: real_array(params[k], f"params {k}", "numbers (floats)", False) for k in PARAM_NAMES}
    W_in = p["W_in"]
    if W_in.ndim < 2 or W_in.shape[-2] != N_IN:
        raise ValueError(f"W_in must have shape (..., {N_IN}, H), got {W_in.shape}")
    lead, H = W_in.shape[:-2], W_in.shape[-1]
    expected = {
        "W_in": lead + (N_IN, H),
        "W": lead + (H, H),
        "W_out": lead + (H, N_OUT),
        "b": lead + (H,),
        "c": lead + (N_OUT,),
    }
    for k, shape in expected.items():
        if p[k].shape != shape:
            raise ValueError(
                f"{k} has shape {p[k].shape}, but W_in {W_in.shape} asks for {shape} "
                f"(H = {H}, lead {lead})"
            )
    if H < 1:
        raise ValueError("hidden size H must be at least 1")
    return p, lead, H


_NO_D = object()  # check_inputs's default: only X is checked (D = None is a bad D)


def check_inputs(
    params: Params, X: object, D: object = _NO_D
) -> tuple[Params, np.ndarray, np.ndarray | None]:
    """Check the parameters, and X (and D, if given) against them; return them as float arrays
    (D as None if not given).

    Also refuses a batch whose hidden states, (K, batch, T, H) numbers, would not fit the
    package's array limit.
    """
    params, lead, H = as_params(params)
    X = real_array(X, "X", "numbers (bits are 0 or 1)")
    ok_ranks = (3,) if not lead else (3, 3 + len(lead))
    if X.ndim not in ok_ranks or X.shape[-1] != N_IN:
        want = "(batch, T, 2)" + (f" or {lead + ('batch', 'T', 2)}" if lead else "")
        raise ValueError(f"X must have shape {want}, got {X.shape}")
    if X.ndim > 3 and X.shape[: len(lead)] != lead:
        raise ValueError(f"X's leading axes {X.shape[: len(lead)]} must match the stack {lead}")
    if X.shape[-3] < 1 or X.shape[-2] < 1:
        raise ValueError(f"X needs at least one sample and one time step, got {X.shape}")
    n_models = math.prod(lead) if X.ndim == 3 else 1  # a shared X: every model runs on it
    array_size(n_models * X[..., 0].size * H, f"the hidden states of X {X.shape} (H = {H})")
    if D is _NO_D:
        return params, X, None
    D = real_array(D, "D", "numbers (bits are 0 or 1)")
    if D.shape[-1:] != (N_OUT,) or D.shape[:-1] != X.shape[:-1]:
        raise ValueError(
            f"D must have shape {X.shape[:-1] + (N_OUT,)} to match X {X.shape}, got {D.shape}"
        )
    return params, X, D


def forward(params: Params, X: np.ndarray, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """Run the RNN over every time step of every sequence in X.

    X: (batch, T, 2) float, time runs LSB to MSB (or (K, batch, T, 2) for a stack)
    returns Y: (batch, T, 1) outputs in (0, 1), and the cache that ``backward`` needs.
    Weights so large that the hidden state overflows (ReLU's can) raise ValueError.
    """
    params, X, _ = check_inputs(params, X)
    get_activation(activation)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, by value
        y, cache = _forward(params, X, activation)
    if not (np.isfinite(cache["u"]).all() and np.isfinite(y).all()):
        raise ValueError(too_large(params, "the hidden state"))
    return y, cache


def backward(params: Params, cache: dict, D: np.ndarray) -> Params:
    """Backpropagation through time (通時的誤差逆伝播法, BPTT).

    D: (batch, T, 1) target bits, as X in ``forward``.
    returns the gradients dL/dW_in, dL/dW, dL/dW_out, dL/db, dL/dc under the parameters' keys.
    """
    check_cache(cache)
    params, _, D = check_inputs(params, cache["X"], D)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is caught below, by value
        grads = _backward(params, cache, D)
    if not all(np.isfinite(g).all() for g in grads.values()):
        raise ValueError(too_large(params, "the gradients"))
    return grads


def check_cache(cache: object) -> dict:
    """Raise unless ``cache`` looks like the cache that ``forward`` returns."""
    if not isinstance(cache, dict) or not {"X", "u", "z", "y", "activation"} <= cache.keys():
        raise ValueError("cache must be the second value returned by forward(params, X)")
    return cache


def too_large(params: Params, what: str) -> str:
    """The message for weights so large that ``what`` overflows to inf or NaN."""
    biggest = max(float(np.abs(params[k]).max()) for k in PARAM_NAMES)
    return (
        f"{what} overflowed to inf or NaN: the weights are too large "
        f"(largest |weight| {biggest:.3g}); start from smaller ones, e.g. init_params's defaults"
    )


def check_grads(grads: object, params: Params, name: str = "backward_fn") -> Params:
    """Raise unless ``grads`` holds one array per parameter, shaped like it, as BPTT returns."""
    if not isinstance(grads, dict) or not set(PARAM_NAMES) <= grads.keys():
        raise ValueError(
            f"{name} must return a dict of gradients with keys {PARAM_NAMES}, "
            f"got {type(grads).__name__}"
        )
    for k in PARAM_NAMES:
        if np.shape(grads[k]) != params[k].shape:
            raise ValueError(
                f"{name} returned gradient {k} of shape {np.shape(grads[k])}; "
                f"it must have the shape of params {k}, {params[k].shape}"
            )
    return grads


def rnn_step_forward(
    x_t: np.ndarray, z_prev: np.ndarray, params: Params, activation: str = "tanh"
) -> tuple[np.ndarray, dict]:
    """One time step of the hidden layer: u[t] = x[t] W_in + z[t-1] W + b, z[t] = f(u[t]).

    x_t: (batch, 2) the input bits of step t; z_prev: (batch, H) the hidden state z[t-1]
    (zeros before the first step); a stack of K models adds a leading K to each (x_t may
    stay (batch, 2), shared by every model).
    returns z_t: (batch, H), and the step's cache {x, z_prev, u, z, activation} for
    ``rnn_step_backward``. No checks: ``forward`` checks what it is given.
    """
    f, _ = ACTIVATIONS[activation]
    W_in, b = params["W_in"], params["b"]
    u_t = _matmul_for(x_t, W_in)(x_t, W_in) + b[..., None, :]  # x[t] W_in + b
    z_t = _recurrent_part(u_t, z_prev, params["W"], f)  # + z[t-1] W, then f
    return z_t, {"x": x_t, "z_prev": z_prev, "u": u_t, "z": z_t, "activation": activation}


def _recurrent_part(u_t: np.ndarray, z_prev: np.ndarray, W: np.ndarray, f) -> np.ndarray:
    """Add z[t-1] W to ``u_t`` (in place: u_t may be a view into the sequence's u) and
    return z[t] = f(u[t])."""
    u_t += _matmul_for(z_prev, W)(z_prev, W)
    return f(u_t)


def rnn_step_backward(
    dz_t: np.ndarray, cache: dict, params: Params
) -> tuple[np.ndarray, np.ndarray]:
    """Back through one time step: from dL/dz[t] to dL/du[t] and dL/dz[t-1].

    dz_t: (batch, H) dL/dz[t], all that reaches z[t] (from the output y[t] and from step t + 1)
    cache: the step's cache from ``rnn_step_forward``
    returns (dz_prev, delta): δ[t] = dL/du[t] = dz_t ⊙ f'(u[t]), (batch, H), and
    dz_prev = δ[t] Wᵀ, (batch, H), what flows on to z[t-1] through this step. The step's
    parameter gradients follow from δ[t]: ``step_grads(cache["x"], cache["z_prev"], delta)``.
    """
    f_prime = DERIVATIVES_FROM_Z[cache["activation"]](cache["z"])  # f'(u[t]), from z[t]
    W_T = np.swapaxes(params["W"], -1, -2)
    return _delta_step(dz_t, f_prime, W_T)


def _delta_step(
    dz_t: np.ndarray, f_prime: np.ndarray, W_T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """δ[t] = dz_t ⊙ f'(u[t]) and dz_prev = δ[t] Wᵀ: (dz_prev, δ[t])."""
    delta = dz_t * f_prime
    return _matmul_for(delta, W_T)(delta, W_T), delta


def step_grads(x_t: np.ndarray, z_prev: np.ndarray, delta: np.ndarray) -> Params:
    """The gradients of one step's W_in, W and b from its hidden delta δ[t] = dL/du[t]:
    dW_in = x[t]ᵀ δ[t], dW = z[t-1]ᵀ δ[t], db = δ[t], each summed over the batch.

    x_t: (batch, 2); z_prev, delta: (batch, H); a stack adds a leading K to each.
    BPTT adds them up over the steps (``_bptt`` does it as one product per parameter).
    """
    x_T, z_T = np.swapaxes(x_t, -1, -2), np.swapaxes(z_prev, -1, -2)
    return {
        "W_in": _matmul_for(x_T, delta)(x_T, delta),
        "W": _matmul_for(z_T, delta)(z_T, delta),
        "b": delta.sum(axis=-2),
    }


def _forward(params: Params, X: np.ndarray, activation: str) -> tuple[np.ndarray, dict]:
    """The forward pass over whole sequences, ``rnn_step_forward`` at t = 0, 1, ..., T - 1:
    the input parts x[t] W_in + b of all steps at once (they do not depend on the past),
    then the recurrent part step by step; last the outputs y[t] = σ(z[t] W_out + c)."""
    f, _ = get_activation(activation)
    W = params["W"]
    u = _each_step(X, params["W_in"]) + params["b"][..., None, None, :]  # x[t] W_in + b, all t
    z = np.empty_like(u)
    z_prev = np.zeros(u.shape[:-2] + u.shape[-1:])  # z[-1] = 0, shape (..., batch, H)
    for t in range(X.shape[-2]):
        z[..., t, :] = z_prev = _recurrent_part(u[..., t, :], z_prev, W, f)
    y = sigmoid(_each_step(z, params["W_out"]) + params["c"][..., None, None, :])
    return y, {"X": X, "u": u, "z": z, "y": y, "activation": activation}


def _backward(params: Params, cache: dict, D: np.ndarray) -> Params:
    y = cache["y"]
    # δout[t] = ∂L/∂(z[t] W_out + c) = (y[t] - d[t]) · y[t](1 - y[t]), / batch for the mean
    delta_out = (y - D) * y * (1.0 - y) / y.shape[-3]
    return _bptt(params, cache, delta_out)[0]


def _bptt(params: Params, cache: dict, delta_out: np.ndarray) -> tuple[Params, np.ndarray]:
    """BPTT from the output deltas δout (..., batch, T, 1): ``rnn_step_backward`` at
    t = T - 1, ..., 0 (with f'(u[t]) of every step computed at once), then every step's
    gradients (``step_grads``) summed over the steps.

    Returns the gradients and the hidden deltas δ (..., batch, T, H).
    """
    get_activation(cache["activation"])
    X, u, z = cache["X"], cache["u"], cache["z"]
    W_T = np.swapaxes(params["W"], -1, -2)
    # δout[t] W_outᵀ, all t: with one output unit, each entry is one product, so no matmul
    from_out = delta_out * np.swapaxes(params["W_out"], -1, -2)[..., None, :, :]
    f_prime = DERIVATIVES_FROM_Z[cache["activation"]](z)  # f'(u[t]) from z[t] = f(u[t]), all t
    delta = np.empty_like(u)
    dz_next = 0.0  # what flows back into z[T-1] from step T: nothing comes after the end
    for t in reversed(range(u.shape[-2])):
        # z[t] feeds y[t] and u[t+1]: dL/dz[t] = δout[t] W_outᵀ + δ[t+1] Wᵀ
        dz_next, delta[..., t, :] = _delta_step(
            dz_next + from_out[..., t, :], f_prime[..., t, :], W_T
        )
    # Σ over t of every step's gradients, as one product per parameter
    grads = {
        "W_in": _sum_outer(X, delta),  # Σ_t x[t]ᵀ δ[t]
        "W": _sum_outer(z[..., :-1, :], delta[..., 1:, :]),  # Σ_t z[t-1]ᵀ δ[t]; z[-1] = 0
        "W_out": _sum_outer(z, delta_out),  # Σ_t z[t]ᵀ δout[t]
        "b": delta.sum(axis=(-3, -2)),  # Σ_t δ[t]
        "c": delta_out.sum(axis=(-3, -2)),  # Σ_t δout[t]
    }
    return grads, delta


def _matmul_for(*arrays: np.ndarray):
    """np.dot when every operand is a plain matrix (the same product as @, with less overhead
    per call, which adds up in the time loops); np.matmul for a stack (it broadcasts)."""
    for a in arrays:  # (a plain loop: called several times per update, all() costs more)
        if a.ndim != 2:
            return np.matmul
    return np.dot


def _each_step(A: np.ndarray, M: np.ndarray) -> np.ndarray:
    """A[t] @ M for every sample and step: (..., batch, T, i), (..., i, j) -> (..., batch, T, j).

    Folding batch and time into one axis makes it a single matrix product.
    """
    A2 = A.reshape(*A.shape[:-3], -1, A.shape[-1])
    out = _matmul_for(A2, M)(A2, M)
    return out.reshape(*out.shape[:-2], *A.shape[-3:-1], M.shape[-1])


def _sum_outer(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Σ over batch and time of a[t]ᵀ g[t]: (..., batch, T, i), (..., batch, T, j) -> (..., i, j)"""
    a2 = a.reshape(*a.shape[:-3], -1, a.shape[-1])  # batch and time folded into one axis
    g2 = g.reshape(*g.shape[:-3], -1, g.shape[-1])
    a2 = a2.swapaxes(-1, -2)
    return _matmul_for(a2, g2)(a2, g2)  # a shared X (no model axis) broadcasts over a stack


def _check_outputs(Y: object, D: object) -> tuple[np.ndarray, np.ndarray]:
    Y = real_array(Y, "Y", "outputs in [0, 1]")
    D = real_array(D, "D", "bits in [0, 1]")
    if Y.ndim < 3 or Y.shape[-1] != N_OUT or D.shape not in (Y.shape, Y.shape[-3:]):
        raise ValueError(
            f"Y must have shape (..., batch, T, 1) and D the same or (batch, T, 1), "
            f"got {Y.shape} and {D.shape}"
        )
    if Y.shape[-3] < 1 or Y.shape[-2] < 1:
        raise ValueError(f"Y and D need at least one sample and one time step, got {Y.shape}")
    for name, A in (("Y", Y), ("D", D)):
        if (A < 0).any() or (A > 1).any():
            raise ValueError(f"{name} must hold values in [0, 1], got {A.min():g} to {A.max():g}")
    return Y, D


def loss(Y: np.ndarray, D: np.ndarray) -> np.ndarray | float:
    """L = mean over the batch of Σ_t 1/2 (y[t] - d[t])**2: a float, or one per model.

    Y: (..., batch, T, 1) outputs in [0, 1]; D: the same shape or (batch, T, 1), bits.
    """
    Y, D = _check_outputs(Y, D)
    out = (0.5 * (Y - D) ** 2).sum(axis=(-2, -1)).mean(axis=-1)
    return float(out) if np.ndim(out) == 0 else out


def accuracy(Y: np.ndarray, D: np.ndarray) -> np.ndarray | float:
    """Share of sums that are exactly right: every output bit, rounded at 0.5, equals d."""
    Y, D = _check_outputs(Y, D)
    out = np.all((Y > 0.5) == (D > 0.5), axis=(-2, -1)).mean(axis=-1)
    return float(out) if np.ndim(out) == 0 else out
