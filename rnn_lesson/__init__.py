"""rnn_lesson: a simple RNN and BPTT in plain numpy, learning binary addition.

The numerics (data, activations, initializers, model, evaluate, train,
gradcheck) need only numpy; ``plots`` and ``widgets`` are imported on their own.
"""

from .activations import ACTIVATIONS, d_relu, d_sigmoid, d_tanh, get_activation, relu, sigmoid, tanh
from .adder import (
    carry_chain_pairs,
    exact_share,
    handmade_adder,
    random_sequences,
    rnn_add,
    sequences,
)
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
    rnn_step_backward,
    rnn_step_forward,
    stack_params,
    step_grads,
    unstack_params,
)
from .probe import (
    fit_probe,
    full_adder,
    input_reader,
    kmeans,
    minimize,
    pca,
    probe_predict,
    read_automaton,
    unit_signs,
    unit_thresholds,
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
    "carry_chain_pairs",
    "check_params",
    "d_relu",
    "d_sigmoid",
    "d_tanh",
    "evaluate_all_pairs",
    "exact_share",
    "fit_probe",
    "forward",
    "full_adder",
    "get_activation",
    "gradient_check",
    "handmade_adder",
    "init_params",
    "init_weight",
    "int_to_bits",
    "input_reader",
    "kmeans",
    "loss",
    "make_batch",
    "make_delay_batch",
    "minimize",
    "numerical_gradient",
    "pca",
    "probe_predict",
    "random_delay_batch",
    "random_pairs",
    "random_sequences",
    "read_automaton",
    "relative_error",
    "relu",
    "rnn_add",
    "rnn_step_backward",
    "rnn_step_forward",
    "sequences",
    "sigmoid",
    "stack_params",
    "step_grads",
    "tanh",
    "train",
    "unit_signs",
    "unit_thresholds",
    "unstack_params",
]
