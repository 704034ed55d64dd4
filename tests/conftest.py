"""What several test files share: a setting that diverges, and a stack in which one model does."""

import numpy as np
import pytest

import rnn_lesson as R

DIVERGES = {"activation": "relu", "lr": 1e45}  # std-1 ReLU at this rate overflows in a few updates


@pytest.fixture(scope="session")
def diverging_stack():
    """(models, result): two std-1 ReLU models trained as a stack, 300 updates, checked every
    50; model 0 at lr 0.01 trains to the end, model 1 at lr 1e45 diverges early."""
    models = [R.init_params(16, "normal", rng=np.random.default_rng(s)) for s in (0, 1)]
    result = R.train(
        R.stack_params(models),
        rng=np.random.default_rng(0),
        activation="relu",
        lr=[0.01, DIVERGES["lr"]],
        n_updates=300,
        eval_every=50,
    )
    return models, result
