"""Notebook 07's numerics: the k-step delay task, truncated BPTT, the reach of a gradient."""

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import through_time as G


def start(seed=0, H=5, init="xavier"):
    p = R.init_params(H, init, rng=np.random.default_rng(seed))
    p["b"] = 0.1 * np.random.default_rng(seed + 100).standard_normal(H)
    p["c"] = np.array([0.2])
    return p


# --------------------------------------------------------------------------- the task
@pytest.mark.parametrize("k", [0, 1, 3, 6])
def test_delay_targets_are_the_first_stream_k_steps_back(k):
    bits = np.random.default_rng(k).integers(0, 2, size=(5, 7, 2))
    X, D, mask = R.make_delay_batch(bits, k)
    assert X.shape == (5, 7, 2) and D.shape == (5, 7, 1) and mask.shape == (7, 1)
    np.testing.assert_array_equal(X, bits)
    for t in range(7):
        expected = bits[:, t - k, 0] if t >= k else np.zeros(5)
        np.testing.assert_array_equal(D[:, t, 0], expected)
        assert mask[t, 0] == (1.0 if t >= k else 0.0)


def test_delay_zero_is_a_copy_and_stream_one_never_matters():
    bits = np.random.default_rng(0).integers(0, 2, size=(4, 6, 2))
    X, D, mask = R.make_delay_batch(bits, 0)
    np.testing.assert_array_equal(D[..., 0], bits[..., 0])
    assert mask.sum() == 6
    flipped = bits.copy()
    flipped[..., 1] = 1 - flipped[..., 1]
    np.testing.assert_array_equal(R.make_delay_batch(flipped, 2)[1], R.make_delay_batch(bits, 2)[1])


def test_random_delay_batch_is_one_seeded_draw():
    X, D, mask = R.random_delay_batch(np.random.default_rng(3), 6, 9, 2)
    bits = np.random.default_rng(3).integers(0, 2, size=(6, 9, 2))
    for a, b in zip((X, D, mask), R.make_delay_batch(bits, 2), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("bits", "k"),
    [
        (np.zeros((2, 5, 2)), 5),
        (np.zeros((2, 5, 2)), -1),
        (np.zeros((2, 5, 2)), 1.0),
        (np.zeros((2, 5, 2)), True),
        (np.zeros((2, 5, 3)), 1),
        (np.zeros((5, 2)), 1),
        (np.full((2, 5, 2), 2), 1),
        (np.full((2, 5, 2), 0.5), 1),
    ],
)
def test_bad_delay_input_is_refused(bits, k):
    with pytest.raises(ValueError):
        R.make_delay_batch(bits, k)


def test_delay_loss_and_accuracy_score_only_the_steps_from_k_on():
    X, D, mask = R.random_delay_batch(np.random.default_rng(0), 50, 8, 3)
    perfect = 0.2 + 0.6 * D  # right everywhere
    assert G.delay_accuracy(perfect, D, mask) == 1.0
    wrong_early = perfect.copy()
    wrong_early[:, :3] = 1 - wrong_early[:, :3]  # wrong at the unscored steps only
    assert G.delay_accuracy(wrong_early, D, mask) == 1.0
    assert G.delay_loss(wrong_early, D, mask) == pytest.approx(G.delay_loss(perfect, D, mask))
    wrong_last = perfect.copy()
    wrong_last[:, -1] = 1 - wrong_last[:, -1]
    assert G.delay_accuracy(wrong_last, D, mask) == pytest.approx(4 / 5)


# --------------------------------------------------------------------------- gradients
def delay_loss_of(X, D, mask, activation="tanh"):
    return lambda p: G.delay_loss(R.forward(p, X, activation)[0], D, mask)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu"])
def test_delay_bptt_matches_central_differences(activation):
    p = start(1)
    X, D, mask = R.random_delay_batch(np.random.default_rng(2), 3, 7, 2)
    Y, cache = R.forward(p, X, activation)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None)
    numeric = R.numerical_gradient(delay_loss_of(X, D, mask, activation), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(grads[k], numeric[k]) < 1e-7, k


def held_state_loss(params_ref, X, D, mask, tau, activation="tanh"):
    """The loss truncated BPTT differentiates: each chunk starts from the state the reference
    weights gave it, held fixed (so no gradient crosses a cut)."""
    _, cache = R.forward(params_ref, X, activation)
    z_ref = cache["z"].copy()
    T = X.shape[1]

    def loss(p):
        total = 0.0
        for a in range(0, T, tau):
            z0 = z_ref[:, a - 1] if a > 0 else np.zeros((X.shape[0], z_ref.shape[-1]))
            Y, _ = G.forward_from(p, X[:, a : a + tau], z0, activation)
            total += G.delay_loss(Y, D[:, a : a + tau], mask[a : a + tau])
        return total

    return loss


@pytest.mark.parametrize("tau", [1, 2, 3, 7, 20])
def test_truncated_bptt_is_the_gradient_of_the_held_state_loss(tau):
    p = start(2)
    X, D, mask = R.random_delay_batch(np.random.default_rng(4), 3, 7, 1)
    Y, cache = R.forward(p, X)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau)
    ref = {k: v.copy() for k, v in p.items()}
    numeric = R.numerical_gradient(held_state_loss(ref, X, D, mask, tau), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(grads[k], numeric[k]) < 1e-7, (k, tau)
    if tau >= 7:  # one chunk: full BPTT
        full = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None)
        for k in R.PARAM_NAMES:
            np.testing.assert_allclose(grads[k], full[k], rtol=1e-12, atol=1e-15)


def test_truncation_differs_from_full_bptt_and_cuts_the_reach():
    p = start(3)
    X, D, mask = R.random_delay_batch(np.random.default_rng(5), 4, 8, 0)
    Y, cache = R.forward(p, X)
    delta_out = np.zeros_like(Y)
    delta_out[:, -1] = 1.0  # the last step's error only
    g2 = G.truncated_bptt(p, cache, delta_out, 2)
    full = G.truncated_bptt(p, cache, delta_out, None)
    assert R.relative_error(g2["W"], full["W"]) > 1e-3
    # with τ = 2 the last error reaches steps 6 and 7 only: W_in's gradient is x[6]ᵀδ[6] + x[7]ᵀδ[7]
    _, delta = R.model._bptt(p, cache, delta_out)
    expected = sum(X[:, t].T @ delta[:, t] for t in (6, 7))
    np.testing.assert_allclose(g2["W_in"], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("tau", [2, 3, 5])
def test_chunk_by_chunk_equals_truncated_bptt_with_one_chunks_cache(tau):
    p = start(4)
    X, D, mask = R.random_delay_batch(np.random.default_rng(6), 3, 10, 2)
    Y, cache = R.forward(p, X)
    whole = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau)
    total = {k: 0.0 for k in R.PARAM_NAMES}
    z0 = np.zeros((3, 5))
    for a in range(0, 10, tau):
        Yc, chunk = G.forward_from(p, X[:, a : a + tau], z0, "tanh")
        assert chunk["u"].shape[1] == min(tau, 10 - a)  # this cache holds τ steps, not T
        g = G.chunk_bptt(p, chunk, G.delay_delta_out(Yc, D[:, a : a + tau], mask[a : a + tau]))
        total = {k: total[k] + g[k] for k in R.PARAM_NAMES}
        z0 = chunk["z"][:, -1]  # the state flows on to the next chunk
    for k in R.PARAM_NAMES:
        np.testing.assert_allclose(total[k], whole[k], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(Yc, Y[:, -Yc.shape[1] :], rtol=1e-13)


def test_truncation_per_model_in_a_stack():
    ms = [start(s) for s in range(3)]
    S = R.stack_params(ms)
    X, D, mask = R.random_delay_batch(np.random.default_rng(7), 4, 9, 1)
    Y, cache = R.forward(S, X)
    taus = [2, None, 4]
    grads = G.truncated_bptt(S, cache, G.delay_delta_out(Y, D, mask), taus)
    for i, (p, tau) in enumerate(zip(ms, taus, strict=True)):
        y, c = R.forward(p, X)
        g = G.truncated_bptt(p, c, G.delay_delta_out(y, D, mask), tau)
        for k in R.PARAM_NAMES:
            np.testing.assert_allclose(grads[k][i], g[k], rtol=1e-11, atol=1e-14)
    with pytest.raises(ValueError):
        G.truncated_bptt(S, cache, G.delay_delta_out(Y, D, mask), [2, 3])
    with pytest.raises(ValueError):
        G.truncated_bptt(S, cache, G.delay_delta_out(Y, D, mask), 0)


# --------------------------------------------------------------------------- training
def test_train_delay_learns_a_short_delay():
    p = R.init_params(16, "xavier", rng=np.random.default_rng(0))
    result = G.train_delay(
        p, rng=np.random.default_rng(1), k=2, T=10, n_updates=300, eval_every=100
    )
    np.testing.assert_array_equal(result.updates, [0, 100, 200, 300])
    assert result.accuracy[0] < 0.7 and result.accuracy[-1] == 1.0


def test_train_delay_stack_equals_separate_runs():
    ms = [R.init_params(6, "xavier", rng=np.random.default_rng(s)) for s in range(3)]
    ks, taus, lrs = [1, 3, 2], [None, 2, 4], [0.5, 0.3, 1.0]
    stacked = G.train_delay(
        R.stack_params(ms),
        rng=np.random.default_rng(2),
        k=ks,
        truncate=taus,
        lr=np.array(lrs),
        T=8,
        n_updates=60,
        batch_size=4,
        eval_every=30,
        n_test=50,
    )
    assert stacked.accuracy.shape == (3, 3)
    for i, p in enumerate(ms):
        alone = G.train_delay(
            p,
            rng=np.random.default_rng(2),
            k=ks[i],
            truncate=taus[i],
            lr=lrs[i],
            T=8,
            n_updates=60,
            batch_size=4,
            eval_every=30,
            n_test=50,
        )
        for k in R.PARAM_NAMES:
            np.testing.assert_allclose(
                stacked.params[k][i], alone.params[k], rtol=1e-10, atol=1e-13
            )
        np.testing.assert_array_equal(stacked.accuracy[:, i], alone.accuracy)


# --------------------------------------------------------------------------- reach, norm
def test_gradient_reach_is_the_product_of_jacobians():
    p = start(5, H=6, init="normal")
    X, _ = R.make_batch(*R.random_pairs(np.random.default_rng(8), 1, 9), 9)
    reach = G.gradient_reach(p, X)
    _, cache = R.forward(p, X)
    f_prime = 1 - cache["z"][0] ** 2  # tanh
    v = p["W_out"][:, 0] * f_prime[-1]  # δ[T-1] for δout[T-1] = 1
    assert reach[0] == 1.0
    for k in range(1, 9):
        v = (v @ p["W"].T) * f_prime[-1 - k]  # one more factor Wᵀ diag(f'(u[t-k]))
        assert reach[k] == pytest.approx(
            np.linalg.norm(v) / np.linalg.norm(p["W_out"][:, 0] * f_prime[-1]), rel=1e-12
        )
    stack = G.gradient_reach(R.stack_params([p, start(6, H=6)]), X)
    assert stack.shape == (2, 9) and np.allclose(stack[0], reach)


def test_global_grad_norm():
    g = {
        k: np.full(s, 2.0)
        for k, s in zip(R.PARAM_NAMES, [(2, 3), (3, 3), (3, 1), (3,), (1,)], strict=True)
    }
    assert G.global_grad_norm(g) == pytest.approx(2.0 * np.sqrt(6 + 9 + 3 + 3 + 1))
    stacked = {k: np.stack([v, 2 * v]) for k, v in g.items()}
    np.testing.assert_allclose(G.global_grad_norm(stacked), [2.0 * np.sqrt(22), 4.0 * np.sqrt(22)])


# --------------------------------------------------------------------------- n_scored
def last_steps_mask(T, k, n_scored):
    """The delay task's mask with only the last n_scored steps kept."""
    mask = R.make_delay_batch(np.zeros((1, T, 2), dtype=int), k)[2]
    mask[: T - n_scored] = 0.0
    return mask


def test_scoring_the_last_steps_is_the_gradient_of_their_loss():
    p = start(6)
    bits = np.random.default_rng(9).integers(0, 2, size=(3, 8, 2))
    X, D, _ = R.make_delay_batch(bits, 2)
    mask = last_steps_mask(8, 2, 3)  # steps 5, 6, 7 only
    Y, cache = R.forward(p, X)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None)
    numeric = R.numerical_gradient(delay_loss_of(X, D, mask, "tanh"), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(grads[k], numeric[k]) < 1e-7, k


@pytest.mark.parametrize("truncate", [None, 2])
def test_train_delay_with_n_scored_steps_on_the_last_steps_loss(truncate):
    p = start(7)
    T, k, n_scored, batch = 9, 3, 4, 5
    result = G.train_delay(
        p, rng=np.random.default_rng(3), k=k, T=T, lr=0.3, n_updates=1, batch_size=batch,
        truncate=truncate, eval_every=1, n_test=40, n_scored=n_scored,
    )  # fmt: skip
    mask = last_steps_mask(T, k, n_scored)
    X, D, _ = R.make_delay_batch(np.random.default_rng(3).integers(0, 2, size=(batch, T, 2)), k)
    Y, cache = R.forward(p, X)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), truncate)
    for name in R.PARAM_NAMES:
        np.testing.assert_allclose(result.params[name], p[name] - 0.3 * grads[name], rtol=1e-12)
    # the accuracy scores the same last steps of the test sequences
    bits = np.random.default_rng(12345).integers(0, 2, size=(40, T, 2))
    X_test, D_test, _ = R.make_delay_batch(bits, k)
    for params, acc in ((p, result.accuracy[0]), (result.params, result.accuracy[1])):
        expected = G.delay_accuracy(R.forward(params, X_test)[0], D_test, mask)
        assert acc == pytest.approx(expected)
    # and differs from scoring every step t >= k (the loss of more steps, another step)
    every = G.train_delay(
        p, rng=np.random.default_rng(3), k=k, T=T, lr=0.3, n_updates=1, batch_size=batch,
        truncate=truncate, eval_every=1, n_test=40,
    )  # fmt: skip
    assert R.relative_error(every.params["W"], result.params["W"]) > 1e-6


def test_n_scored_is_the_same_for_every_delay_of_a_stack():
    ms = [start(s) for s in (1, 2)]
    stacked = G.train_delay(
        R.stack_params(ms), rng=np.random.default_rng(4), k=[1, 4], T=8, n_updates=2,
        batch_size=3, eval_every=2, n_test=20, n_scored=4,
    )  # fmt: skip
    for i, (p, k) in enumerate(zip(ms, [1, 4], strict=True)):
        alone = G.train_delay(
            p, rng=np.random.default_rng(4), k=k, T=8, n_updates=2, batch_size=3,
            eval_every=2, n_test=20, n_scored=4,
        )  # fmt: skip
        np.testing.assert_allclose(stacked.params["W"][i], alone.params["W"], rtol=1e-10)
        np.testing.assert_array_equal(stacked.accuracy[:, i], alone.accuracy)


@pytest.mark.parametrize("n_scored", [0, -1, 6, 2.5, "4"])
def test_bad_n_scored_is_refused(n_scored):
    p = start(0)
    with pytest.raises(ValueError, match="n_scored"):
        G.train_delay(p, rng=np.random.default_rng(0), k=3, T=8, n_updates=1, n_scored=n_scored)


# --------------------------------------------------------------------------- entry_term
def frozen_entry_loss(params_ref, X, D, mask, tau):
    """The held-state loss with W also held at params_ref where it multiplies the state that
    enters a chunk: u[c] = x[c] W_in + z[c-1] W_ref + b at every chunk start c > 0 (tanh)."""
    return frozen_steps_loss(params_ref, X, D, mask, tau, frozen=range(tau, X.shape[1], tau))


@pytest.mark.parametrize("tau", [1, 2, 3, 7])
def test_truncation_without_the_entry_term_is_the_gradient_of_the_frozen_entry_loss(tau):
    p = start(8)
    X, D, mask = R.random_delay_batch(np.random.default_rng(10), 3, 7, 1)
    Y, cache = R.forward(p, X)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau, entry_term=False)
    ref = {k: v.copy() for k, v in p.items()}
    numeric = R.numerical_gradient(frozen_entry_loss(ref, X, D, mask, tau), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(grads[k], numeric[k]) < 1e-7, (k, tau)
    kept = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau)
    for k in ("W_in", "W_out", "b", "c"):  # only W's gradient changes
        np.testing.assert_array_equal(grads[k], kept[k])
    if tau < 7:  # with a cut, W's gradient loses the entering state's terms
        assert R.relative_error(grads["W"], kept["W"]) > 1e-6


def test_entry_term_per_model_in_a_stack_and_bad_values():
    ms = [start(s) for s in range(3)]
    S = R.stack_params(ms)
    X, D, mask = R.random_delay_batch(np.random.default_rng(11), 4, 9, 2)
    Y, cache = R.forward(S, X)
    taus = [2, None, 4]
    grads = G.truncated_bptt(S, cache, G.delay_delta_out(Y, D, mask), taus, entry_term=False)
    for i, (p, tau) in enumerate(zip(ms, taus, strict=True)):
        y, c = R.forward(p, X)
        g = G.truncated_bptt(p, c, G.delay_delta_out(y, D, mask), tau, entry_term=False)
        np.testing.assert_allclose(grads["W"][i], g["W"], rtol=1e-11, atol=1e-14)
    for bad in (0, "no", None):
        with pytest.raises(ValueError, match="entry_term"):
            G.truncated_bptt(S, cache, G.delay_delta_out(Y, D, mask), taus, entry_term=bad)
        with pytest.raises(ValueError, match="entry_term"):
            G.train_delay(
                ms[0], rng=np.random.default_rng(0), k=1, T=6, n_updates=1, entry_term=bad
            )
    one = G.train_delay(
        ms[0], rng=np.random.default_rng(5), k=2, T=8, n_updates=3, batch_size=4, truncate=2,
        eval_every=3, n_test=20, entry_term=False,
    )  # fmt: skip
    kept = G.train_delay(
        ms[0], rng=np.random.default_rng(5), k=2, T=8, n_updates=3, batch_size=4, truncate=2,
        eval_every=3, n_test=20,
    )  # fmt: skip
    assert R.relative_error(one.params["W"], kept.params["W"]) > 1e-6


# --------------------------------------------------------------------------- drop_w_terms_at
def frozen_steps_loss(params_ref, X, D, mask, tau, frozen):
    """The held-state loss of truncation length tau (entering terms kept) with W held at
    params_ref where it multiplies z[t-1] at the steps t in ``frozen`` (tanh)."""
    _, cache = R.forward(params_ref, X)
    z_ref, W_ref = cache["z"].copy(), params_ref["W"].copy()

    def loss(p):
        total = 0.0
        for a in range(0, X.shape[1], tau):
            z, zs = None, []
            for t in range(a, min(a + tau, X.shape[1])):
                W_t = W_ref if t in frozen else p["W"]
                state = (z_ref[:, a - 1] if a > 0 else None) if t == a else z
                entering = 0.0 if state is None else state @ W_t
                z = np.tanh(X[:, t] @ p["W_in"] + entering + p["b"])
                zs.append(z)
            Y = R.sigmoid(np.stack(zs, axis=1) @ p["W_out"] + p["c"])
            total += G.delay_loss(Y, D[:, a : a + tau], mask[a : a + tau])
        return total

    return loss


@pytest.mark.parametrize("tau, frozen", [(3, (2, 4)), (7, (1, 5)), (2, (2, 3))])
def test_dropping_w_terms_is_the_gradient_with_w_held_at_those_steps(tau, frozen):
    p = start(9)
    X, D, mask = R.random_delay_batch(np.random.default_rng(12), 3, 7, 1)
    Y, cache = R.forward(p, X)
    grads = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau, drop_w_terms_at=frozen)
    ref = {k: v.copy() for k, v in p.items()}
    numeric = R.numerical_gradient(frozen_steps_loss(ref, X, D, mask, tau, frozen), p)
    for k in R.PARAM_NAMES:
        assert R.relative_error(grads[k], numeric[k]) < 1e-7, (k, tau, frozen)
    kept = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), tau)
    assert R.relative_error(grads["W"], kept["W"]) > 1e-6  # the dropped terms were not zero
    for k in ("W_in", "W_out", "b", "c"):
        np.testing.assert_array_equal(grads[k], kept[k])


def test_dropping_w_terms_without_truncation_and_bad_steps():
    p = start(3)
    X, D, mask = R.random_delay_batch(np.random.default_rng(13), 3, 6, 1)
    Y, cache = R.forward(p, X)
    full = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None)
    none = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None, drop_w_terms_at=[])
    np.testing.assert_array_equal(none["W"], full["W"])  # nothing named: full BPTT
    dropped = G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), None, drop_w_terms_at=[3])
    ref = {k: v.copy() for k, v in p.items()}
    numeric = R.numerical_gradient(frozen_steps_loss(ref, X, D, mask, 6, (3,)), p)
    assert R.relative_error(dropped["W"], numeric["W"]) < 1e-7
    for bad in ([0], [6], [2, 2], [1.5], (True,), 3, "1"):
        with pytest.raises(ValueError, match="drop_w_terms_at"):
            G.truncated_bptt(p, cache, G.delay_delta_out(Y, D, mask), 2, drop_w_terms_at=bad)
        with pytest.raises(ValueError, match="drop_w_terms_at"):
            G.train_delay(
                p, rng=np.random.default_rng(0), k=1, T=6, n_updates=1, drop_w_terms_at=bad
            )
    trained = G.train_delay(
        p, rng=np.random.default_rng(5), k=2, T=8, n_updates=3, batch_size=4, truncate=4,
        eval_every=3, n_test=20, drop_w_terms_at=(5,),
    )  # fmt: skip
    plain = G.train_delay(
        p, rng=np.random.default_rng(5), k=2, T=8, n_updates=3, batch_size=4, truncate=4,
        eval_every=3, n_test=20,
    )  # fmt: skip
    assert not np.array_equal(trained.params["W"], plain.params["W"])  # the option reaches train
