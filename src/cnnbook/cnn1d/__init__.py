"""Chapter 3: the 1-D CNN of question 3, its parameter count and its hand-derived gradients.

The network is ``X -> zero padding -> Conv1 + ReLU -> AVGPOOL1 -> FC1 + ReLU -> Z + sigmoid``
with one convolution channel, trained with the binary cross-entropy summed over examples.
Parameters follow the sheet's notation: ``W_C, b_C`` (Conv1, the sheet's $W^C$, $b^C$),
``W_A, b_M`` (AVGPOOL1 -> FC1, the sheet's $W^A_{ji}$, $b^M_j$; ``W_A[j, i]`` is the weight
from pooled position ``i`` to FC1 unit ``j``) and ``W_F, b_F`` (FC1 -> Z, the sheet's
$W^F$, $b^F$). The layers' outputs are ``c, a, f, z``; their pre-activations are
``c_hat, f_hat, z_hat``. Arrays are indexed from 0, the chapter's formulas from 1.

The subpackage, whose public names are re-exported here:

- :mod:`~cnnbook.cnn1d.spec`: the :class:`Spec`, the parameter counts, initial values
  and input checks;
- :mod:`~cnnbook.cnn1d.layers`: every layer's forward pass with its cache and its
  backward pass;
- :mod:`~cnnbook.cnn1d.network`: the network's output, cost and gradients;
- :mod:`~cnnbook.cnn1d.checks`: the gradient checks and the kinks' clearance;
- :mod:`~cnnbook.cnn1d.twin`: the torch twin, the autograd oracle;
- :mod:`~cnnbook.cnn1d.sgd`: plain SGD with the hand-derived gradients and on the twin;
- :mod:`~cnnbook.cnn1d.diagram`: Figure 1 of the sheet, drawn from a :class:`Spec`.
"""

from cnnbook.cnn1d.checks import (
    kink_clearance,
    numerical_gradients,
    relative_error,
)
from cnnbook.cnn1d.diagram import (
    draw_network,
)
from cnnbook.cnn1d.layers import (
    ConvCache,
    DenseCache,
    PoolCache,
    ReLUCache,
    avgpool_backward,
    avgpool_forward,
    bce_with_logits,
    conv_backward,
    conv_forward,
    dense_backward,
    dense_forward,
    pad_forward,
    relu_backward,
    relu_forward,
    sigmoid,
)
from cnnbook.cnn1d.network import (
    NetworkCache,
    cost,
    cost_and_gradients,
    forward,
    gradients,
    pre_activations,
)
from cnnbook.cnn1d.sgd import (
    TrainingRun,
    flatten,
    minibatches,
    train_sgd,
    train_sgd_torch,
)
from cnnbook.cnn1d.spec import (
    PARAM_NAMES,
    Params,
    Spec,
    check_params,
    count_in_m,
    count_parameters,
    init_params,
)
from cnnbook.cnn1d.twin import (
    TorchTwin,
    autograd_gradients,
    torch_twin,
)

__all__ = [
    "PARAM_NAMES",
    "ConvCache",
    "DenseCache",
    "NetworkCache",
    "Params",
    "PoolCache",
    "ReLUCache",
    "Spec",
    "TorchTwin",
    "TrainingRun",
    "autograd_gradients",
    "avgpool_backward",
    "avgpool_forward",
    "bce_with_logits",
    "check_params",
    "conv_backward",
    "conv_forward",
    "cost",
    "cost_and_gradients",
    "count_in_m",
    "count_parameters",
    "dense_backward",
    "dense_forward",
    "draw_network",
    "flatten",
    "forward",
    "gradients",
    "init_params",
    "kink_clearance",
    "minibatches",
    "numerical_gradients",
    "pad_forward",
    "pre_activations",
    "relative_error",
    "relu_backward",
    "relu_forward",
    "sigmoid",
    "torch_twin",
    "train_sgd",
    "train_sgd_torch",
]
