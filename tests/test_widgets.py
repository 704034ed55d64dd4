"""The explorer, driven headless: set a control, check that what it shows changes.

Most tests use ``background=False`` (a change retrains before it returns); the tests of the
worker thread wait for it with ``Explorer.wait``.
"""

import base64
import dataclasses

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import rnn_lesson as R  # noqa: E402
from rnn_lesson import widgets as W  # noqa: E402
from rnn_lesson.experiments import backward_course_output  # noqa: E402

PNG_MAGIC = b"\x89PNG"
# With the course's output derivative, ReLU and normal(std=1) weights blow up: seed 2 at update 6.
DIVERGING = {"activation": "relu", "init": "normal", "std": 1.0, "course_output": True, "seed": 2}
# The controls, as scripts/check_in_lab.py finds them in the browser by their labels:
# key -> (widget type, description, values, default)
SPEC = {
    "lr": (ipywidgets.SelectionSlider, "learning rate",
           [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 4], 0.1),
    "init": (ipywidgets.Dropdown, "initial weights", ["normal", "xavier", "he"], "xavier"),
    "std": (ipywidgets.SelectionSlider, "normal's std", [0.01, 0.03, 0.1, 0.3, 1, 3, 10], 1),
    "activation": (ipywidgets.Dropdown, "hidden activation", ["tanh", "sigmoid", "relu"], "tanh"),
    "hidden_size": (ipywidgets.IntSlider, "hidden size", (1, 64, 1), 16),
    "n_updates": (ipywidgets.IntSlider, "updates", (100, 10_000, 100), 2000),
    "seed": (ipywidgets.BoundedIntText, "first seed", (0, 999_999, 1), 0),
    "n_seeds": (ipywidgets.IntSlider, "seeds", (1, 10, 1), 5),
    "batch_size": (ipywidgets.SelectionSlider, "batch size", [1, 2, 4, 8, 16, 32, 64, 128], 1),
    "clip_norm": (ipywidgets.Dropdown, "clip gradient norm", [W.OFF, 0.5, 1, 2, 5], None),
    "course_output": (ipywidgets.Dropdown, "output derivative", [False, True], False),
}  # fmt: skip


def close(box: W.Explorer) -> None:
    # Close the box and every widget in it (not Widget.close_all, which closes every widget).
    box.wait()
    for w in [*box.controls.values(), *box.children, box]:
        w.close()


def shown_png(ex: W.Explorer) -> bytes:
    (out,) = ex.plot.outputs
    assert out["output_type"] == "display_data"
    return base64.b64decode(out["data"]["image/png"])


@pytest.fixture(scope="module")
def ex():
    # 4 hidden units: the evaluations over all pairs, most of the time, cost a quarter of 16's
    box = W.explorer(n_updates=200, n_seeds=2, hidden_size=4, background=False)
    yield box
    close(box)


# run_experiment: several seeds at once


def test_each_seed_of_the_stack_is_its_own_single_run():
    stacked, _ = W.run_experiment(n_updates=200, seed=4, n_seeds=3)
    alone, _ = W.run_experiment(n_updates=200, seed=5, n_seeds=1)
    for name in R.PARAM_NAMES:
        np.testing.assert_array_equal(stacked.params[name][1], alone.params[name])
    for got, want in zip(stacked.curve(1), alone.curve(), strict=True):
        np.testing.assert_array_equal(got, want)
    # ||g|| is summed in another order for a stack than for one model: equal up to rounding
    # (so with clip_norm the runs differ in the last bits too)
    np.testing.assert_allclose(stacked.grad_norm[:, 1], alone.grad_norm, rtol=1e-14)


def test_the_summary_counts_the_seeds_that_reached_100_percent():
    result, text = W.run_experiment(n_updates=1000, n_seeds=3, seed=0)
    firsts = result.first_perfect()
    reached = [f for f in firsts if f is not None]
    lines = text.splitlines()
    assert lines[0] == (
        "settings: tanh, Xavier, lr 0.1, hidden size 16, batch 1, no clipping, "
        "1,000 updates, 3 seeds 0-2"
    )
    assert lines[1].startswith(f"result:   {len(reached)} of 3 seeds reached 100% of all pairs")
    assert "(checked every 100 updates)" in lines[1]  # 10 evaluations in all
    median = sorted(np.inf if f is None else f for f in firsts)[1]  # the 2nd of 3
    assert (f"median seed first at update {median:,.0f}" in lines[1]) == np.isfinite(median)
    ends = [f"{100 * a:.2f}%" for a in result.accuracy[-1]]
    assert lines[2] == "          at the end (update 1,000): " + ", ".join(ends)
    right = sum(a == 1.0 for a in result.accuracy[-1])
    assert lines[3].startswith(f"sample:   77 + 51 = 128: {right} of 3 networks say so")
    assert not any(line.startswith("diverged") for line in lines)


def test_with_an_even_count_the_median_seed_is_a_seed_at_an_evaluated_update():
    result, _ = W.run_experiment(n_updates=400, n_seeds=4, seed=0)
    acc = np.zeros_like(result.accuracy)
    for k, i in enumerate((2, 4, 6, 9)):  # the seeds reach 100% at these evaluations, and stay
        acc[i:, k] = 1.0
    text = W.summarize(dataclasses.replace(result, accuracy=acc), "crafted", eval_every=40)
    u = result.updates
    # the 2nd of the 4 seeds (the lower median): update u[4], where np.median would have said
    # (u[4] + u[6]) / 2, an update no evaluation saw
    want = f"4 of 4 seeds reached 100% of all pairs, the median seed first at update {u[4]:,}"
    assert want in text and u[4] != (u[4] + u[6]) / 2


def test_one_seed_is_one_run_as_before():
    result, text = W.run_experiment(n_updates=2000, n_seeds=1, seed=0)
    assert result.accuracy.ndim == 1  # one model, not a stack of one
    assert result.accuracy[-1] == 1.0
    assert result.first_perfect() == 1000  # notebook 04's Xavier seed 0 (first 100% at 900)
    lines = text.splitlines()
    assert lines[0].endswith("2,000 updates, seed 0")
    assert lines[1] == (
        "result:   1 of 1 seed reached 100% of all pairs, first at update 1,000 "
        "(checked every 200 updates)"
    )
    assert lines[3] == "sample:   77 + 51: the network says 128 (10000000 in bits): right"


def test_batch_size_and_clipping_reach_train():
    result, text = W.run_experiment(n_updates=100, n_seeds=1, batch_size=8, clip_norm=0.5, lr=2.0)
    params = R.init_params(16, rng=np.random.default_rng(0))
    rng = np.random.default_rng(0)
    R.init_params(16, rng=rng)  # the same draws: weights first, then the pairs
    want = R.train(
        params, rng=rng, lr=2.0, n_updates=100, batch_size=8, clip_norm=0.5, eval_every=10
    )
    np.testing.assert_array_equal(result.params["W"], want.params["W"])
    assert "batch 8, gradients clipped at norm 0.5" in text.splitlines()[0]


def test_divergence_is_reported_at_the_same_update_however_long_the_run():
    # The issue: this run was "diverged at update 5" with 100 updates and "6" with 200,
    # because an evaluation over all pairs (every 5 or every 10 updates) overflowed first.
    reports = {}
    for n_updates in (100, 200, 1000):
        result, text = W.run_experiment(**DIVERGING, n_updates=n_updates, n_seeds=1)
        reports[n_updates] = result.diverged_at
        assert "diverged: seed 2 at update 6" in text
        assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
    assert reports[100] == reports[200] == reports[1000] == 6
    # in a stack too: seed 2 is model 0 of seeds 2-4
    result, text = W.run_experiment(**DIVERGING, n_updates=20, n_seeds=3)
    assert result.diverged_at[0] == 6 and "seed 2 at update 6" in text
    assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))


def test_a_diverged_single_run_says_so_and_shows_no_sample():
    result, text = W.run_experiment(**DIVERGING, n_updates=200, n_seeds=1)
    assert result.diverged_at == 6
    assert "diverged: seed 2 at update 6" in text
    assert "sample:   none, the run diverged" in text
    assert "the course's output derivative" in text.splitlines()[0]


def test_run_experiment_std_only_named_for_normal():
    _, text = W.run_experiment(init="normal", std=0.3, n_updates=100, n_seeds=1)
    assert "normal(std=0.3)" in text
    _, text = W.run_experiment(init="he", std=0.3, n_updates=100, n_seeds=1)
    assert "He," in text and "std" not in text.splitlines()[0]


# train's options that the explorer uses


def train_diverging(**kwargs):
    rng = np.random.default_rng(2)
    params = R.init_params(16, "normal", rng=rng)
    kwargs = {"activation": "relu", "backward_fn": backward_course_output, **kwargs}
    return R.train(params, rng=rng, **kwargs)


def test_eval_overflow_stops_false_makes_divergence_independent_of_evaluations():
    # By default an evaluation that overflows is divergence: at update 5 when checked every 5.
    assert train_diverging(n_updates=100, eval_every=5).diverged_at == 5
    assert train_diverging(n_updates=200, eval_every=10).diverged_at == 6
    for every in (1, 5, 10, 100):
        result = train_diverging(n_updates=200, eval_every=every, eval_overflow_stops=False)
        assert result.diverged_at == 6, every
        assert np.all(np.isfinite(result.loss)) and np.all(np.isfinite(result.accuracy))
        assert result.updates[-1] < 6


def test_eval_at_evaluates_there_and_at_both_ends():
    rng = np.random.default_rng(0)
    params = R.init_params(4, rng=rng)
    result = R.train(params, rng=rng, n_updates=50, eval_at=[7, 30, 7])
    np.testing.assert_array_equal(result.updates, [0, 7, 30, 50])


def test_should_stop_cancels_after_that_update():
    calls = []

    def stop_after_30() -> bool:
        calls.append(1)
        return len(calls) >= 30

    def start():
        rng = np.random.default_rng(0)
        return R.init_params(8, rng=rng), rng

    params, rng = start()
    stopped = R.train(params, rng=rng, n_updates=1000, eval_every=20, should_stop=stop_after_30)
    assert len(calls) == 30  # not called again after it said stop
    np.testing.assert_array_equal(stopped.updates, [0, 20])  # no evaluation at the stop
    params, rng = start()
    thirty = R.train(params, rng=rng, n_updates=30, eval_every=20)
    for name in R.PARAM_NAMES:
        np.testing.assert_array_equal(stopped.params[name], thirty.params[name])


# the explorer's widgets


def test_explorer_controls_are_the_promised_widgets(ex):
    c = ex.controls
    assert list(c) == list(SPEC) == list(W.DEFAULTS)
    for key, (kind, description, values, default) in SPEC.items():
        control = c[key]
        assert type(control) is kind, key
        assert control.description == description, key
        if isinstance(values, tuple):
            assert (control.min, control.max) == values[:2], key
            if hasattr(control, "step"):
                assert control.step == values[2], key
        else:
            assert [o[1] if isinstance(o, tuple) else o for o in control.options] == values, key
        assert W.DEFAULTS[key] == default, key
        if isinstance(control, ipywidgets.widgets.widget_int._Int | ipywidgets.SelectionSlider):
            if not isinstance(control, ipywidgets.BoundedIntText):
                assert control.continuous_update is False, key
    assert [label for label, _ in c["lr"].options][-4:] == ["0.5", "1", "2", "4"]
    assert [label for label, _ in c["clip_norm"].options][0] == "off"
    # every menu shows its value by name: ipywidgets shows an empty box for the value None
    for key in ("init", "activation", "clip_norm", "course_output"):
        assert c[key].label is not None and c[key].value is not None, key
    assert c["clip_norm"].label == "off" and ex.settings()["clip_norm"] is None
    assert isinstance(ex, ipywidgets.VBox)
    assert ex.summary in ex.children and ex.plot in ex.children


def test_explorer_shows_the_first_result(ex):
    assert ex.settings()["n_updates"] == 200 and ex.settings()["n_seeds"] == 2
    assert "lr 0.1," in ex.summary.value and "200 updates, 2 seeds 0-1" in ex.summary.value
    assert ex.text.splitlines()[1].startswith("result:   ")
    assert "of 2 seeds reached 100% of all pairs" in ex.text
    assert "answered in " in ex.summary.value and "color:gray" in ex.summary.value
    assert shown_png(ex).startswith(PNG_MAGIC)
    assert ex.controls["std"].disabled  # std is for normal(std) only
    assert ex.last_seconds > 0
    assert plt.get_fignums() == []


def test_a_change_keeps_the_previous_result_to_compare(ex):
    before_text, before_result = ex.text, ex.result
    ex.controls["lr"].value = 0.5
    assert ex.previous is before_result
    assert "lr 0.5," in ex.text and "lr 0.5," in ex.summary.value
    alone = W.curves_png(ex.result)
    assert shown_png(ex) != alone  # the previous curves are drawn behind
    assert shown_png(ex) == W.curves_png(ex.result, before_result, W._title(ex.settings()))
    ex.controls["lr"].value = 0.1
    assert ex.text == before_text  # same settings, same seeds: the same runs


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("lr", 2.0, "lr 2,"),
        ("lr", 0.01, "lr 0.01,"),
        ("activation", "sigmoid", "sigmoid, "),
        ("hidden_size", 2, "hidden size 2,"),
        ("n_updates", 100, "100 updates"),
        ("seed", 7, "2 seeds 7-8"),
        ("n_seeds", 1, "seed 0"),
        ("batch_size", 32, "batch 32,"),
        ("clip_norm", 1.0, "clipped at norm 1,"),
        ("course_output", True, "output derivative σ"),
    ],
)
def test_every_control_retrains(ex, name, value, shown):
    ex.controls[name].value = value
    try:
        assert shown in ex.text.splitlines()[0]
        assert shown in ex.summary.value
    finally:
        ex.controls[name].value = {"n_updates": 200, "n_seeds": 2, "hidden_size": 4}.get(
            name, W.DEFAULTS[name]
        )


def test_std_reaches_the_round_values(ex):
    ex.controls["init"].value = "normal"
    try:
        assert not ex.controls["std"].disabled
        for std in (0.1, 0.3, 1.0, 3.0):
            ex.controls["std"].value = std
            assert f"normal(std={std:g})" in ex.text
    finally:
        ex.controls["init"].value = "xavier"
    assert ex.controls["std"].disabled


def test_a_diverged_seed_is_shown_in_red():
    box = W.explorer(n_updates=100, n_seeds=2, background=False, **DIVERGING)
    try:
        assert box.result.diverged_at[0] == 6
        assert "<span style='color:#b00'>diverged: seed 2 at update 6" in box.summary.value
        assert shown_png(box).startswith(PNG_MAGIC)
        box.controls["course_output"].value = False  # the right derivative: no divergence
        assert box.result.diverged_at == [None, None]
        assert "#b00" not in box.summary.value
    finally:
        close(box)


def test_in_the_background_the_latest_change_wins():
    box = W.explorer(n_updates=100, n_seeds=1, hidden_size=4)  # the first run: synchronous
    try:
        assert box.background and "100 updates" in box.text
        box.controls["n_updates"].value = 10_000  # a long run, cancelled by the next change
        box.controls["lr"].value = 0.5
        box.controls["n_updates"].value = 200
        box.wait(timeout=60)
        assert "lr 0.5," in box.text and "200 updates" in box.text
        assert "lr 0.5," in box.summary.value and "answered in" in box.summary.value
        assert box.cancelled == 2  # the two older runs never wrote their results
        assert box.result.updates[-1] == 200
    finally:
        close(box)


def test_curves_png_is_a_png_and_leaves_no_pyplot_figure():
    one, _ = W.run_experiment(n_updates=100, n_seeds=1, hidden_size=4)
    three, _ = W.run_experiment(n_updates=100, n_seeds=3, hidden_size=4)
    assert W.curves_png(one).startswith(PNG_MAGIC)
    assert W.curves_png(three, one).startswith(PNG_MAGIC)
    assert W.history_png(one, "title").startswith(PNG_MAGIC)
    assert plt.get_fignums() == []


def test_explorer_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown settings"):
        W.explorer(learning_rate=0.1)


def test_evaluating_in_the_background_gives_the_same_history():
    def run(**kwargs):
        rngs = [np.random.default_rng(s) for s in (0, 2)]
        starts = [R.init_params(16, "normal", rng=rng) for rng in rngs]
        return R.train(
            R.stack_params(starts),
            rng=rngs,
            activation="relu",
            backward_fn=backward_course_output,  # model 1 (seed 2) diverges at update 6
            n_updates=60,
            eval_every=7,
            eval_overflow_stops=False,
            **kwargs,
        )

    now, later = run(), run(eval_in_background=True)
    assert now.diverged_at == later.diverged_at == [None, 6]
    for name in ("updates", "loss", "accuracy", "grad_norm", "_n_valid"):
        np.testing.assert_array_equal(getattr(now, name), getattr(later, name))
    assert later.updates[-1] == 60
    with pytest.raises(ValueError, match="eval_overflow_stops=False"):
        R.train(R.init_params(2, rng=np.random.default_rng(0)), rng=np.random.default_rng(0),
                eval_in_background=True)  # fmt: skip
