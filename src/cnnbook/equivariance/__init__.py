"""Chapter 1: shifts, how far a layer is from commuting with them, and the layers compared.

The subpackage holds :mod:`~cnnbook.equivariance.shifts` (shift operators and the border
zone of zero padding), :mod:`~cnnbook.equivariance.measures` (the error measures),
:mod:`~cnnbook.equivariance.operators` (linear layers as numpy functions and matrices)
and :mod:`~cnnbook.equivariance.images` (the image utilities); their public names are
re-exported here. The torch layers are in :mod:`cnnbook.layers`.

Conventions used throughout (and in the chapter's proofs):

- a *shift* ``T_s`` moves content ``s`` samples towards higher indices,
  ``(T_s x)[i] = x[i - s]``, either wrapping around (``"circular"``) or filling the vacated
  samples with zeros (``"zeros"``, the spelling of torch's ``padding_mode``);
- a *convolution* is what deep-learning libraries compute, a cross-correlation with a
  kernel of odd size ``k`` centred on the output sample, ``y[i] = sum_j w[j] x[i + j - c]``
  with ``c = (k - 1) // 2``;
- a layer with total stride ``S`` maps a shift by ``s`` of its input to a shift by ``s / S``
  of its output; when ``s / S`` is not an integer the output grid cannot express it, and the
  band-limited (Fourier) shift is used as the reference.

Every shift and error function accepts numpy arrays and torch tensors alike and returns
the type it was given. Errors are relative errors in the L2 (Euclidean) norm over all
entries, ``||difference|| / ||reference||``; chapter 3's gradient checks use the max norm
(:func:`cnnbook.cnn1d.relative_error`).
"""

from cnnbook.equivariance.images import (
    detect_peaks,
    downsample_mean,
    lifting_p4,
    match_template,
)
from cnnbook.equivariance.measures import (
    equivariance_error,
    equivariance_residual,
    invariance_error,
    transform_error,
)
from cnnbook.equivariance.operators import (
    circulant,
    circular_correlate,
    layer_parameter_counts,
    locally_connected_matrix,
    shift_commutant,
    shift_matrix,
)
from cnnbook.equivariance.shifts import (
    MODES,
    Array,
    PaddingMode,
    border_zone,
    check_padding_mode,
    fractional_shift,
    shift,
    shift2d,
)

__all__ = [
    "MODES",
    "Array",
    "PaddingMode",
    "border_zone",
    "check_padding_mode",
    "circulant",
    "circular_correlate",
    "detect_peaks",
    "downsample_mean",
    "equivariance_error",
    "equivariance_residual",
    "fractional_shift",
    "invariance_error",
    "layer_parameter_counts",
    "lifting_p4",
    "locally_connected_matrix",
    "match_template",
    "shift",
    "shift2d",
    "shift_commutant",
    "shift_matrix",
    "transform_error",
]
