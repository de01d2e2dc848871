"""Shared code of the book *Homework 4: CNN, worked answers*.

One module per question, plus the pieces every chapter uses:

- :mod:`cnnbook.equivariance` -- chapter 1, translation equivariance of convolutions: shifts,
  error measures, linear operators and image utilities;
- :mod:`cnnbook.layers` -- torch layers of chapter 1's networks (locally connected, blur pool);
- :mod:`cnnbook.attribution` -- chapter 2, gradient, DeconvNet and guided backpropagation:
  the rules, the maps, projections of hidden units and a layer-by-layer DeconvNet;
- :mod:`cnnbook.sanity` -- chapter 2, sanity checks of the maps: rank correlations,
  localisation and cascading randomisation;
- :mod:`cnnbook.inversion` -- chapter 2, up-convolutional decoders that invert the CNN's
  features, the closed-form linear decoder and what a reconstruction keeps;
- :mod:`cnnbook.cnn1d` -- chapter 3, the 1-D CNN, its parameter count and hand-derived gradients;
- :mod:`cnnbook.dilation` -- chapter 4, dilated convolution, its output size, its Kronecker
  form and receptive fields;
- :mod:`cnnbook.data` -- real data shipped with installed packages, and procedural data;
- :mod:`cnnbook.plotting` -- the one figure style of the book;
- :mod:`cnnbook.text` -- numbers as the prose writes them (errors, powers of ten, counts);
- :mod:`cnnbook.models` -- the builders of the networks the chapters use;
- :mod:`cnnbook.recipes` -- the recipes of the models the book trains (data, builder, seed);
- :mod:`cnnbook.training` -- training loops, evaluation, and loading a recipe's model;
- :mod:`cnnbook.artifacts` -- the committed weights, their manifest, saving and freshness;
- :mod:`cnnbook.hashing` -- the recipe hash: a recipe's data and the code it runs;
- :mod:`cnnbook.kernel` -- the Jupyter kernels the build starts, with CurveZMQ keys;
- :mod:`cnnbook.runtime` -- deterministic set-up shared by every notebook.
"""

from cnnbook.runtime import reproducible

__all__ = ["reproducible"]
__version__ = "1.0.0"
