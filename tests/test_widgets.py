"""The explorer, driven headless: set a control, check that what it shows changes."""

import base64

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rnn_lesson import widgets as W  # noqa: E402

PNG_MAGIC = b"\x89PNG"
# With the course's output derivative, ReLU and normal(std=1) weights blow up: seed 2 at update 6.
DIVERGING = {"activation": "relu", "init": "normal", "std": 1.0, "course_output": True, "seed": 2}


def close(box: W.Explorer) -> None:
    # Close the box and every widget in it (not Widget.close_all, which closes every widget).
    for w in [*box.controls.values(), *box.children, box]:
        w.close()


def shown_png(ex: W.Explorer) -> bytes:
    (out,) = ex.plot.outputs
    assert out["output_type"] == "display_data"
    return base64.b64decode(out["data"]["image/png"])


@pytest.fixture(scope="module")
def ex():
    box = W.explorer(n_updates=600)
    yield box
    close(box)


def test_run_experiment_default_learns_every_pair():
    result, text = W.run_experiment()  # tanh, Xavier, lr 0.1, H 16, 2,000 updates, seed 0
    assert result.accuracy[-1] == 1.0
    assert result.first_perfect() == 900  # the same run as notebook 04's Xavier run, seed 0
    lines = text.splitlines()
    assert lines[0] == ("settings: tanh, Xavier, lr 0.1, hidden size 16, 2,000 updates, seed 0")
    assert lines[1] == "result:   100.00% of all pairs right after 2,000 updates"
    assert "first 100% at update 900 (checked every 100 updates)" in lines[2]
    assert lines[3] == "sample:   77 + 51: the network says 128 (10000000 in bits): right"


def test_run_experiment_is_reproducible_and_seed_dependent():
    _, a = W.run_experiment(n_updates=300, seed=1)
    _, b = W.run_experiment(n_updates=300, seed=1)
    _, c = W.run_experiment(n_updates=300, seed=2)
    assert a == b
    assert a.splitlines()[1:] != c.splitlines()[1:]


def test_run_experiment_diverged_says_so_and_shows_no_sample():
    result, text = W.run_experiment(**DIVERGING, n_updates=200)
    assert result.diverged_at == 6
    assert "diverged at update 6" in text
    assert result.message() in text
    assert "sample:   none, the run diverged" in text
    assert "the course's output derivative" in text.splitlines()[0]


def test_run_experiment_std_only_named_for_normal():
    _, text = W.run_experiment(init="normal", std=0.3, n_updates=100)
    assert "normal(std=0.3)" in text
    _, text = W.run_experiment(init="he", std=0.3, n_updates=100)
    assert "He," in text and "std" not in text.splitlines()[0]


def test_run_experiment_rejects_bad_settings():
    with pytest.raises(ValueError, match="initializer"):
        W.run_experiment(init="uniform", n_updates=100)
    with pytest.raises(ValueError, match="activation"):
        W.run_experiment(activation="softplus", n_updates=100)


def test_history_png_is_a_png_and_leaves_no_pyplot_figure():
    result, _ = W.run_experiment(n_updates=200)
    assert W.history_png(result, "title").startswith(PNG_MAGIC)
    assert plt.get_fignums() == []


def test_explorer_controls_are_the_promised_widgets(ex):
    c = ex.controls
    assert set(c) == set(W.DEFAULTS)
    assert isinstance(c["lr"], ipywidgets.FloatLogSlider)
    assert c["lr"].min == -3 and c["lr"].max == 0 and c["lr"].base == 10  # 0.001 to 1
    assert isinstance(c["init"], ipywidgets.Dropdown)
    assert {v for _, v in c["init"].options} == {"normal", "xavier", "he"}
    assert set(c["activation"].options) == {"tanh", "sigmoid", "relu"}
    for name in ("lr", "std", "hidden_size", "n_updates"):
        assert c[name].continuous_update is False, name  # retrain on release, not while dragging
    assert isinstance(ex, ipywidgets.VBox)
    assert ex.summary in ex.children and ex.plot in ex.children


def test_explorer_shows_the_first_result(ex):
    assert ex.settings()["n_updates"] == 600
    assert "lr 0.1," in ex.summary.value and "600 updates" in ex.summary.value
    assert ex.text.splitlines()[1].endswith("% of all pairs right after 600 updates")
    assert shown_png(ex).startswith(PNG_MAGIC)
    assert ex.controls["std"].disabled  # std is for normal(std) only
    assert ex.last_seconds > 0
    assert plt.get_fignums() == []


def test_moving_the_learning_rate_retrains(ex):
    before_text, before_png = ex.text, shown_png(ex)
    ex.controls["lr"].value = 0.5
    assert ex.text != before_text
    assert "lr 0.5," in ex.text and "lr 0.5," in ex.summary.value
    assert ex.result.accuracy[-1] < 1.0  # lr 0.5 is too large for per-sample SGD
    assert shown_png(ex) != before_png
    ex.controls["lr"].value = 0.1
    assert ex.text == before_text  # same settings, same seed: the same run


def test_choosing_normal_init_enables_std_and_retrains(ex):
    ex.controls["init"].value = "normal"
    assert not ex.controls["std"].disabled
    assert "normal(std=1)" in ex.text
    ex.controls["std"].value = 0.1
    assert "normal(std=0.1)" in ex.text
    ex.controls["init"].value = "he"
    assert ex.controls["std"].disabled and "He," in ex.text


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("activation", "sigmoid", "sigmoid, "),
        ("hidden_size", 8, "hidden size 8,"),
        ("n_updates", 300, "300 updates"),
        ("seed", 7, "seed 7"),
    ],
)
def test_every_control_retrains(ex, name, value, shown):
    ex.controls[name].value = value
    assert shown in ex.text.splitlines()[0]
    assert shown in ex.summary.value


def test_a_diverged_run_shows_the_message_not_a_plot():
    box = W.explorer(n_updates=200)
    try:
        for name, value in DIVERGING.items():
            box.controls[name].value = value
        assert box.result.diverged_at == 6
        assert "diverged at update 6" in box.summary.value
        assert "#b00" in box.summary.value  # in red
        (out,) = box.plot.outputs
        assert out["output_type"] == "stream"
        assert "diverged at update 6" in out["text"]
        box.controls["course_output"].value = False  # the right derivative: no divergence
        assert box.result.diverged_at is None
        assert shown_png(box).startswith(PNG_MAGIC)
    finally:
        close(box)


def test_explorer_rejects_unknown_settings():
    with pytest.raises(ValueError, match="unknown settings"):
        W.explorer(learning_rate=0.1)


def test_summarize_a_stack_says_which_model_diverged():
    # It used to say "the run diverged" for any stack: diverged_at is then a list, never None.
    import numpy as np

    import rnn_lesson as R

    starts = [R.init_params(16, rng=np.random.default_rng(s)) for s in (0, 1)]
    result = R.train(
        R.stack_params(starts), rng=np.random.default_rng(0), n_updates=300, eval_every=100
    )
    text = W.summarize(result, "two seeds", 100)
    assert "diverged" not in text
    assert "model 0: 77 + 51: the network says" in text
    assert "model 1: 77 + 51: the network says" in text
    huge = R.train(
        R.stack_params(starts),
        rng=np.random.default_rng(0),
        activation="relu",
        lr=[0.1, 1e45],
        n_updates=300,
        eval_every=100,
    )
    assert huge.diverged_at[0] is None and huge.diverged_at[1] is not None
    text = W.summarize(huge, "one diverges", 100)
    assert "sample:   model 1: none, the run diverged" in text
    assert "model 0: 77 + 51: the network says" in text


def test_summary_of_a_single_run_is_unchanged():
    # The text notebook 05 shows, line for line (the stack support must not change it).
    _, text = W.run_experiment(n_updates=300, seed=1)
    lines = text.splitlines()
    assert lines[0] == "settings: tanh, Xavier, lr 0.1, hidden size 16, 300 updates, seed 1"
    assert lines[2].startswith("          never 100% (checked every 15 updates)")
    assert lines[3].startswith("sample:   77 + 51: the network says ")
