"""rnn_lesson: a simple RNN and BPTT in plain numpy, learning binary addition.

The numerics (data, activations, initializers, model, evaluate, train,
gradcheck) need only numpy; ``plots`` and ``widgets`` are imported on their own.
"""

from .activations import ACTIVATIONS, d_relu, d_sigmoid, d_tanh, get_activation, relu, sigmoid, tanh
from .data import (
    all_pairs,
    bits_to_int,
    int_to_bits,
    make_batch,
    make_delay_batch,
    random_delay_batch,
    random_pairs,
)
from .evaluate import evaluate_all_pairs
from .gradcheck import gradient_check, numerical_gradient, relative_error
from .initializers import INITIALIZERS, init_weight
from .model import (
    PARAM_NAMES,
    accuracy,
    backward,
    check_params,
    forward,
    init_params,
    loss,
    stack_params,
    unstack_params,
)
from .train import TrainResult, train

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "PARAM_NAMES",
    "TrainResult",
    "accuracy",
    "all_pairs",
    "backward",
    "bits_to_int",
    "check_params",
    "d_relu",
    "d_sigmoid",
    "d_tanh",
    "evaluate_all_pairs",
    "forward",
    "get_activation",
    "gradient_check",
    "init_params",
    "init_weight",
    "int_to_bits",
    "loss",
    "make_batch",
    "make_delay_batch",
    "numerical_gradient",
    "random_delay_batch",
    "random_pairs",
    "relative_error",
    "relu",
    "sigmoid",
    "stack_params",
    "tanh",
    "train",
    "unstack_params",
]
