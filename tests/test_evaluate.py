"""evaluate_all_pairs (a prefix tree, walked in float32 with error bounds) against forward in
float64 on every pair (the plain way): the accuracy exactly, the loss to 1e-6 relative."""

import functools
import tracemalloc

import numpy as np
import pytest

import rnn_lesson as R
from rnn_lesson import evaluate
from rnn_lesson.model import _forward

NAMES = ["sigmoid", "tanh", "relu"]


def plain(params, name, T):
    X, D = R.make_batch(*R.all_pairs(T), T)
    Y, _ = R.forward(params, X, name)
    return R.loss(Y, D), R.accuracy(Y, D)


def somewhat_trained(name, T, seed):
    """A model part of the way to 100%, so accuracy is neither 0 nor 1 and the test has teeth.

    (A sigmoid hidden layer learns slowly: at T >= 6 its accuracy here is still about 0.)
    """
    p = R.init_params(8, "xavier", rng=np.random.default_rng(seed))
    lr = {"sigmoid": 8.0, "tanh": 1.0, "relu": 0.5}[name]
    result = R.train(
        p,
        rng=np.random.default_rng(seed),
        activation=name,
        lr=lr,
        n_updates=100,
        batch_size=16,
        T=T,
        eval_every=100,
    )
    return result.params


@pytest.mark.parametrize("T", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("name", NAMES)
def test_single_model(name, T):
    params = [
        R.init_params(8, "normal", rng=np.random.default_rng(T)),
        somewhat_trained(name, T, T),
    ]
    for p in params:
        loss, acc = R.evaluate_all_pairs(p, name, T)
        ref_loss, ref_acc = plain(p, name, T)
        assert isinstance(loss, float) and isinstance(acc, float)
        assert loss == pytest.approx(ref_loss, rel=1e-6)
        assert acc == ref_acc


@pytest.mark.parametrize("T", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("name", NAMES)
def test_stack(name, T):
    ms = [somewhat_trained(name, T, seed) for seed in (20, 30, 40)]
    S = R.stack_params(ms)
    loss, acc = R.evaluate_all_pairs(S, name, T)
    assert loss.shape == acc.shape == (3,)
    ref_loss, ref_acc = plain(S, name, T)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    np.testing.assert_array_equal(acc, ref_acc)


@pytest.mark.parametrize("name", ["tanh", "relu"])
def test_the_models_used_are_not_trivial(name):
    # Guard for the tests above: accuracies strictly between 0 and 1, so a wrong
    # accuracy cannot hide behind an all-wrong or all-right model.
    for T, seed in [(4, 4), (6, 6), (8, 20), (8, 30)]:
        acc = R.evaluate_all_pairs(somewhat_trained(name, T, seed), name, T)[1]
        assert 0 < acc < 1, (name, T, seed, acc)


def test_default_is_tanh_at_eight_bits():
    p = somewhat_trained("tanh", 8, 0)
    assert R.evaluate_all_pairs(p) == R.evaluate_all_pairs(p, "tanh", 8)


@pytest.mark.parametrize("chunk", [2**6, 2**9, 2**12])
def test_chunked_walk_gives_the_same_numbers(monkeypatch, chunk):
    # Chunks of prefixes, walked one after another, give the numbers of the whole tree at once.
    stack = R.stack_params([somewhat_trained(name, 6, 0) for name in ["tanh"] * 2])
    whole = R.evaluate_all_pairs(stack, "tanh", 6)
    monkeypatch.setattr(evaluate, "CHUNK_ELEMENTS", chunk)
    chunked = R.evaluate_all_pairs(stack, "tanh", 6)
    np.testing.assert_array_equal(chunked[1], whole[1])
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-6)  # (float32 sums, other shapes)
    np.testing.assert_allclose(
        chunked[0], [plain(m, "tanh", 6)[0] for m in R.unstack_params(stack)], rtol=1e-6
    )


def test_memory_stays_bounded_for_long_sequences():
    # T = 10, H = 32: the last level holds 4**9 x 32 = 8.4 million hidden numbers, 67 MB per
    # array, and the tree walked level by level held several such arrays at once (266 MB).
    # In chunks of at most CHUNK_ELEMENTS = 2**16 numbers per array it peaks at a few MB
    # (with 2**22, 32 MB per array, it peaked near 135 MB).
    p = R.init_params(32, rng=np.random.default_rng(0))
    tracemalloc.start()
    try:
        loss, acc = R.evaluate_all_pairs(p, "tanh", 10)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MB"


@functools.lru_cache
def trained_networks(name, seed=0):
    """Networks of one activation at every stage: untrained (biases 0, so many logits exactly
    0), half-trained, trained, diverging (lr far too large, the last finite weights), and
    with large weights (normal std 3 and 10: large |W| makes float32's error grow fastest)."""
    nets = {}
    for init, std in [("xavier", 1.0), ("normal", 1.0), ("normal", 3.0), ("normal", 10.0)]:
        p = R.init_params(16, init, rng=np.random.default_rng(seed), std=std)
        nets[f"{init} {std:g} untrained"] = p
        for n, lr in [(300, 0.1), (1000, 0.1), (400, 5.0)]:
            kw = dict(rng=np.random.default_rng(seed + 1), activation=name, lr=lr, n_updates=n)
            r = R.train(p, **kw, eval_every=n, eval_overflow_stops=False)
            nets[f"{init} {std:g} lr {lr} {n} updates"] = r.params
    return nets


def near_zero_logits(p, name, rng):
    """``p`` with c moved so that the logit of one random (pair, step) is 1e-6 (or -1e-6):
    float32, which is off by about that much, cannot tell that logit's sign."""
    X, D = R.make_batch(*R.all_pairs(8), 8)
    Y, cache = R.forward(p, X, name)
    v = cache["z"] @ p["W_out"][:, 0] + p["c"][0]
    i, t = rng.integers(v.shape[0]), rng.integers(8)
    q = {k: a.copy() for k, a in p.items()}
    q["c"] = q["c"] - v[i, t] + rng.choice([-1e-6, 1e-6])
    return q


@pytest.mark.parametrize("name", NAMES)
def test_float32_walk_gives_float64_forwards_accuracy_on_every_network(name):
    # The accuracy is that of forward in float64 exactly, the loss to 1e-6 relative, for
    # networks untrained, half-trained, trained, diverging and with large weights, and for
    # each of them moved so that some logit lies within 1e-6 of 0 (float32's error is about
    # that large, so a walk that trusted float32's sign there would count that pair wrong).
    rng = np.random.default_rng(7)
    X, D = R.make_batch(*R.all_pairs(8), 8)
    checked = 0
    for label, p in trained_networks(name).items():
        for q in (p, near_zero_logits(p, name, rng)):
            with np.errstate(over="ignore", invalid="ignore"):
                Y, _ = _forward(q, X, name)
            if not np.isfinite(Y).all():  # overflows in float64 too: no reference
                continue
            loss, acc = R.evaluate_all_pairs(q, name)
            assert acc == R.accuracy(Y, D), label
            assert loss == pytest.approx(R.loss(Y, D), rel=1e-6), label
            checked += 1
    assert checked >= 20


def test_the_near_zero_logits_are_decided_by_the_float64_recomputation(monkeypatch):
    # Guard for the test above: its networks have logits whose sign float32 gets wrong. With
    # the pairs in doubt taken as float32 computes them, the accuracy differs for some.
    rng = np.random.default_rng(7)
    X, D = R.make_batch(*R.all_pairs(8), 8)
    nets = [near_zero_logits(p, "tanh", rng) for p in trained_networks("tanh").values()]
    monkeypatch.setattr(evaluate, "_pairs_of", lambda leaves, T: (leaves[:0], leaves[:0]))
    wrong = 0
    for q in nets:  # (the pairs in doubt, now never recomputed, count as wrong)
        Y, _ = _forward(q, X, "tanh")
        wrong += R.evaluate_all_pairs(q, "tanh")[1] != R.accuracy(Y, D)
    assert wrong > 0


def test_float32_overflow_and_many_doubts_fall_back_to_float64(monkeypatch):
    # relu with weights so large that float32 overflows (float64 does not): walked in float64
    p = R.init_params(16, "normal", rng=np.random.default_rng(0))
    p["W"], p["W_in"] = p["W"] * 1e5, p["W_in"] * 1e5
    X, D = R.make_batch(*R.all_pairs(8), 8)
    Y, cache = R.forward(p, X, "relu")
    assert np.abs(cache["u"]).max() > 1e39  # beyond float32's largest number
    walks = []
    walk = evaluate._walk
    monkeypatch.setattr(evaluate, "_walk", lambda w, *a: walks.append(w.dtype) or walk(w, *a))
    loss, acc = R.evaluate_all_pairs(p, "relu")
    assert walks[-1] == np.float64 and acc == R.accuracy(Y, D) > 0
    assert loss == pytest.approx(R.loss(Y, D), rel=1e-12)
    # a network whose logits in doubt have bounds that could move the loss by as much as
    # the loss itself (the gauge of _Sums.add_logits): the same
    p = trained_networks("tanh")["normal 3 untrained"]
    walks.clear()
    loss, acc = R.evaluate_all_pairs(p, "tanh")
    assert list(dict.fromkeys(walks)) == [np.float32, np.float64]
    Y, _ = R.forward(p, X, "tanh")
    assert acc == R.accuracy(Y, D) and loss == pytest.approx(R.loss(Y, D), rel=1e-12)


def test_error_bounds_hold():
    # Every logit's bound in the float32 walk is at least its actual error against float64
    # (the walk decides nothing on a logit closer to 0 than twice its bound).
    X, D = R.make_batch(*R.all_pairs(8), 8)
    for name in NAMES:
        for label, p in trained_networks(name).items():
            with np.errstate(over="ignore", invalid="ignore"):
                Y, cache = _forward(p, X, name)
            if not np.isfinite(cache["z"]).all():
                continue
            exact = cache["z"] @ p["W_out"][:, 0] + p["c"][0]  # (pairs, T) in float64
            v, bound = logit_bounds(p, name)
            gap = np.abs(v - exact)
            assert np.all(gap <= bound), f"{name} {label}: {gap.max():.2e} > its bound"


def logit_bounds(p, name, T=8):
    """The float32 walk's logits and their bounds, (pairs, T) each, in all_pairs' order."""
    w = evaluate._Weights(p, name, np.float32)
    vs = []
    # the walk's steps without chunks, recording v and its bound as the walk computes them
    z, err, *_ = evaluate._root(p, np.float32)
    group, size = 1, None
    for t in range(T):
        m = 4 if t < T - 1 else 1
        n, H = z.shape
        u = z @ (w.W4 if m == 4 else w.W) + w.rows("input", m, n)
        if t < T - evaluate.COARSE_STEPS:
            err = evaluate._bound(w, err, u, m, t).reshape(n * m, H)
        else:
            err, size = evaluate._coarse_bound(w, err, size if group > 1 else np.abs(z), m)
            group *= m
            evaluate._f_in_place(w, u)
        z = u.reshape(n * m, H)
        v = (z @ w.W_out)[:, 0] + w.c
        v_err = np.repeat((err @ w.abs_W_out)[:, 0] + w.c_error, group)
        vs.append((v, v_err))
    # node i of step t is the prefix of the 4**(T - 2 - t) leaves from i * 4**(T - 2 - t) on
    leaves = 4 ** (T - 1)
    v_all, b_all = np.empty((leaves, T)), np.empty((leaves, T))
    for t, (v, b) in enumerate(vs):
        reps = leaves // v.size
        v_all[:, t], b_all[:, t] = np.repeat(v, reps), np.repeat(b, reps)
    a, bb = evaluate._pairs_of(np.arange(leaves), T)
    order = np.argsort(a * 2 ** (T - 1) + bb)  # all_pairs: a varies slowest
    return v_all[order], b_all[order]


def test_relu_is_walked_in_float64_since_its_float32_loss_can_be_far_off():
    # Guard for the choice: relu walked in float32, with large weights and c moved far out
    # (as near_zero_logits moves it), gives a loss off by far more than 1e-6 (2.6e-5 here).
    large = trained_networks("relu")["normal 10 untrained"]
    p = near_zero_logits(large, "relu", np.random.default_rng(0))
    X, D = R.make_batch(*R.all_pairs(8), 8)
    Y, _ = _forward(p, X, "relu")
    with np.errstate(over="ignore", invalid="ignore"):
        loss32, acc32 = evaluate._evaluate_one(p, "relu", 8, np.float32)
    assert acc32 == R.accuracy(Y, D)  # the accuracy is exact either way
    assert abs(loss32 - R.loss(Y, D)) > 1e-6 * R.loss(Y, D)
    assert R.evaluate_all_pairs(p, "relu")[0] == pytest.approx(R.loss(Y, D), rel=1e-9)


def blas_threads():
    """Threads of the BLAS libraries the evaluation controls: those loaded when it first ran
    (numpy's; a library loaded later, such as scipy's own OpenBLAS, computes no product of
    the walk, and finding it anew at every evaluation would cost more than the walk)."""
    return [i["num_threads"] for i in evaluate._blas_controller().info() if i["user_api"] == "blas"]


def test_the_walk_runs_blas_on_one_thread_and_gives_the_threads_back(monkeypatch):
    from threadpoolctl import threadpool_limits

    seen = []
    walk = evaluate._walk

    def recording_walk(*args):
        seen.append(blas_threads())
        return walk(*args)

    monkeypatch.setattr(evaluate, "_walk", recording_walk)
    p = R.init_params(16, "xavier", rng=np.random.default_rng(0))
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        assert before and all(n == 2 for n in before)
        R.evaluate_all_pairs(p)
        assert blas_threads() == before
    assert seen and all(n == 1 for threads in seen for n in threads)


def test_evaluations_in_several_threads_at_once_give_the_threads_back(monkeypatch):
    """Evaluations that overlap in several threads leave BLAS's threads as they found them.
    Here each starts once the one before is inside its walk, and they end in the order they
    started, each after the one before has returned: the order in which settings that each
    evaluation saved and restored on its own, with no thread in control, would leave one
    thread behind (the second saves the first's one thread, and restores it last)."""
    import threading

    from threadpoolctl import threadpool_limits

    n = 3
    entered = [threading.Event() for _ in range(n)]
    done = [threading.Event() for _ in range(n)]
    walk = evaluate._walk

    def run(k):
        def waiting_walk(*args):
            entered[k].set()
            if k > 0:
                done[k - 1].wait(timeout=30)
            else:
                entered[n - 1].wait(timeout=30)
            return walk(*args)

        evaluate_in(waiting_walk)
        done[k].set()

    local = threading.local()
    monkeypatch.setattr(evaluate, "_walk", lambda *args: local.walk(*args))

    def evaluate_in(walk_here):
        local.walk = walk_here
        R.evaluate_all_pairs(p, "tanh", 4)

    p = R.init_params(8, "xavier", rng=np.random.default_rng(1))
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
        for k, t in enumerate(threads):
            t.start()
            assert entered[k].wait(timeout=30)
        for t in threads:
            t.join(timeout=60)
        assert all(e.is_set() for e in done)
        assert blas_threads() == before


def test_evaluations_in_several_threads_at_once_keep_their_buffers_apart():
    """The walk writes its largest arrays into buffers kept per thread (``_thread_buffers``):
    evaluations of different networks running at once in several threads (numpy lets go of
    the GIL inside each large operation, so they interleave) give exactly the numbers each
    gives alone: the same accuracy, and the loss to 1e-9. (Not to the last bit: the BLAS
    thread count is the process's, threadpoolctl lets only one thread set it, and OpenBLAS's
    float32 products on two threads round differently, moving the loss by about 1e-11. With
    one set of buffers shared by all threads, the accuracy or the loss was off here in 3 of 3
    runs.)"""
    from concurrent.futures import ThreadPoolExecutor

    nets = [
        (R.init_params(16, "xavier", rng=np.random.default_rng(seed)), name)
        for seed, name in enumerate(["tanh", "sigmoid", "tanh", "tanh"])
    ]
    alone = [R.evaluate_all_pairs(p, name) for p, name in nets]
    with ThreadPoolExecutor(len(nets)) as pool:
        for _ in range(5):
            together = list(pool.map(lambda net: R.evaluate_all_pairs(*net), nets))
            assert [acc for _, acc in together] == [acc for _, acc in alone]
            np.testing.assert_allclose([x for x, _ in together], [x for x, _ in alone], rtol=1e-9)
