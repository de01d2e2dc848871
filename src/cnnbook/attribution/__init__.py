"""Chapter 2: gradient saliency, DeconvNet and guided backpropagation, behind one function.

The three rules send a class score (or one hidden activation) back to the input through
the same transposed filters and the same max-pool switches; they differ only at the
ReLUs, by which of two masks they apply to the backward signal there:

============  ==========================  ==============================
rule          forward mask ``[a > 0]``    backward mask ``[g > 0]``
============  ==========================  ==============================
gradient      yes                         no
deconvnet     no                          yes
guided        yes                         yes
============  ==========================  ==============================

:func:`attribute` applies the rule to *every* ReLU the model applies -- ``nn.ReLU``
modules, in place or not, and the functional calls ``F.relu``, ``torch.relu``,
``Tensor.relu`` and their in-place variants, with their arguments given by position or
by keyword -- with one mechanism: a :class:`~torch.overrides.TorchFunctionMode`, active
during the forward pass only, that routes each ReLU through an autograd function whose
backward applies the rule's masks. Nothing is attached to the model, so nothing can be
left behind. A ReLU the mode cannot reach is found in the autograd graph afterwards, and
refused (:mod:`cnnbook.attribution.rules` says which ReLUs those are).

The subpackage holds :mod:`~cnnbook.attribution.rules` (the rules, the function mode and
the escaped-ReLU check), :mod:`~cnnbook.attribution.maps` (:func:`attribute` and its
targets), :mod:`~cnnbook.attribution.units` (projections of hidden units) and
:mod:`~cnnbook.attribution.layerwise` (a layer-by-layer DeconvNet, as Zeiler & Fergus
describe it); their public names are re-exported here. The sanity checks of the chapter
are in :mod:`cnnbook.sanity`.
"""

from cnnbook.attribution.layerwise import (
    LayerCache,
    Switches,
    layer_backward,
    layer_forward,
    layerwise_attribute,
)
from cnnbook.attribution.maps import Target, attribute, class_maps
from cnnbook.attribution.rules import RULES, Rule, RuleName, relu_rule
from cnnbook.attribution.units import project_unit, strongest_units, unit_maps

__all__ = [
    "RULES",
    "LayerCache",
    "Rule",
    "RuleName",
    "Switches",
    "Target",
    "attribute",
    "class_maps",
    "layer_backward",
    "layer_forward",
    "layerwise_attribute",
    "project_unit",
    "relu_rule",
    "strongest_units",
    "unit_maps",
]
