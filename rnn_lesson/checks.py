"""Argument checks shared by the public functions.

Every check raises ``ValueError`` with a message that says what was wrong and
what is allowed, so a learner who passes the wrong thing sees how to fix it.
Nothing is clamped or rounded: a value is either accepted as it is or refused.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from numbers import Integral, Real

import numpy as np

# The largest array a function of this package allocates: 2**24 float64 = 128 MB.
# Bigger requests are refused with this limit in the message instead of ending in MemoryError.
MAX_ELEMENTS = 2**24


def positive_int(value: object, name: str, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not a whole number in 1..maximum."""
    allowed = "a whole number >= 1" if maximum is None else f"a whole number from 1 to {maximum:,}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if value < 1 or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return int(value)


def seed(value: object, name: str = "seed") -> int:
    """Return a seed for ``np.random.default_rng`` as an int: a whole number >= 0."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


def boolean(value: object, name: str) -> bool:
    """Return ``value`` as a bool, or raise if it is not True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, or raise listing the allowed names."""
    if not isinstance(value, str) or value not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"unknown {name} {value!r}; choose one of {names}")
    return value


def positive_number(value: object, name: str, maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number in (0, maximum]."""
    allowed = "a positive finite number" + (f" at most {maximum:g}" if maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    try:
        as_float = float(value)
    except OverflowError:  # an int too large for a float, e.g. 10**400
        as_float = math.inf
    if not (math.isfinite(as_float) and as_float > 0) or (maximum and as_float > maximum):
        raise ValueError(f"{name} must be {allowed}, got {_short(value)}")
    return as_float


def _short(value: object) -> str:
    """repr(value), cut to 40 characters (10**400 has 401 digits)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def learning_rate(lr: object, n_models: int | None = None) -> float | np.ndarray:
    """Check a learning rate: one positive finite number, or one per model.

    ``n_models`` is the size of the leading model axis (None for one model).
    Returns a float, or a float array of shape (n_models,).
    """
    allowed = "a positive finite number" + (
        f" or {n_models} of them, one per model" if n_models is not None else ""
    )
    if isinstance(lr, Real) and not isinstance(lr, bool):
        return positive_number(lr, "learning rate")
    arr = np.asarray(lr, dtype=float) if _is_numeric_sequence(lr) else None
    if arr is None or arr.ndim != 1 or n_models is None or arr.shape[0] != n_models:
        raise ValueError(f"learning rate must be {allowed}, got {lr!r}")
    if not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise ValueError(f"learning rate must be {allowed}; got {arr.tolist()}")
    return arr


def _is_numeric_sequence(obj: object) -> bool:
    try:
        arr = np.asarray(obj)
    except (TypeError, ValueError):
        return False
    return arr.dtype.kind in "iuf"


def real_array(A: object, name: str, what: str = "numbers", bools: bool = True) -> np.ndarray:
    """``A`` as a float64 array of finite real numbers, or raise.

    Refused: text, None, complex numbers (their imaginary part would be dropped),
    ragged nested lists, numbers too large for a float (inf after conversion), NaN,
    and booleans if not ``bools``. Integers are accepted and converted; a float64
    array is not copied.
    """
    if type(A) is np.ndarray and A.dtype == np.float64:  # the usual case, checked quickly
        if not np.isfinite(A).all():
            raise ValueError(f"{name} must hold finite {what}, got inf or NaN")
        return A
    try:
        arr = np.asarray(A)
    except (TypeError, ValueError):  # e.g. ragged nested lists
        arr = None
    if arr is None or arr.dtype.kind not in ("biuf" if bools else "iuf"):
        if arr is None:
            got = "a ragged or mixed sequence"
        elif arr.dtype.kind == "c":
            got = "complex numbers (their imaginary part would be lost; only real ones are allowed)"
        else:
            got = f"dtype {arr.dtype}"
        raise ValueError(f"{name} must be an array of {what}, got {got}")
    with np.errstate(over="ignore"):  # float128 beyond float64's range becomes inf: refused below
        arr = arr.astype(float, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite {what}, got inf or NaN")
    return arr


def generator(value: object) -> np.random.Generator:
    """Return ``value`` if it is a ``numpy.random.Generator``, or raise."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
            f"got {type(value).__name__}"
        )
    return value


def function(value: object, name: str, signature: str, n_args: int) -> Callable:
    """Return ``value`` if it can be called with ``n_args`` arguments, or raise showing the
    expected ``signature``."""
    if not callable(value):
        raise ValueError(f"{name} must be a function {signature}, got {value!r}")
    try:
        inspect.signature(value).bind(*[None] * n_args)
    except TypeError:
        raise ValueError(
            f"{name} must take {n_args} arguments, {signature}; got {value!r}"
        ) from None
    except ValueError:  # some built-ins have no signature to inspect: let the call decide
        pass
    return value


def values(seq: object, name: str, check: Callable[[object, str], object]) -> tuple:
    """A non-empty list or tuple of distinct values, each passed through ``check(value, name)``.

    A lone string is refused: it is a sequence of characters, not of names.
    """
    if not isinstance(seq, (list, tuple)) or not seq:
        raise ValueError(f"{name} must be a tuple or list of at least one value, got {seq!r}")
    out = tuple(check(v, f"each of {name}") for v in seq)
    repeated = sorted({repr(v) for v in out if out.count(v) > 1})
    if repeated:
        raise ValueError(f"{name} must list distinct values; repeated: {', '.join(repeated)}")
    return out


def array_size(n_elements: int, what: str) -> None:
    """Raise if an array of ``n_elements`` numbers, described by ``what``, is too large."""
    if n_elements > MAX_ELEMENTS:
        raise ValueError(
            f"{what} has {n_elements:,} numbers, more than the limit of {MAX_ELEMENTS:,} "
            f"({MAX_ELEMENTS * 8 // 2**20} MB); use smaller sizes"
        )


def number_in(value: object, name: str, low: float, high: float, whole: bool = False) -> float:
    """Return ``value`` if it is a number (a whole one if ``whole``) in [low, high], or raise."""
    kind = "a whole number" if whole else "a number"
    allowed = f"{kind} from {low:,} to {high:,}" if whole else f"{kind} from {low:g} to {high:g}"
    number = Integral if whole else Real
    if isinstance(value, bool) or not isinstance(value, number) or not low <= value <= high:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value
