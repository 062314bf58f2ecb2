"""Information theory of recorded spike trains, in bits.

Fixes the flaws of the paper's analysis (sklearn ``mutual_info_classif`` at lag 0 in
nats, "MI > 0" as the criterion): the plug-in MI of binary trains is positive for every
neuron that spikes at all, so it is reported beside Miller-Madow and shuffle-corrected
estimates, with a permutation test of each output neuron's summed score, Benjamini-
Hochberg control of the false discovery rate, and lag 1 (an input spike reaches the
output layer one step later) as well as lag 0.

Modules
-------
:mod:`~snninfo.information.estimators`
    Entropies, plug-in / Miller-Madow MI of all (input, output) pairs, the vectorised
    permutation test, Benjamini-Hochberg.
:mod:`~snninfo.information.stimulus`
    I(class; spike count) per neuron and I(class; prediction) over the test set.
:mod:`~snninfo.information.pipeline`
    ``compute_information`` (datasets -> information dataset) and ``run`` (files ->
    information.nc); the layout of information.nc is documented there.
:mod:`~snninfo.information.cli`
    The ``information`` subcommand (``add_information_parser``) and a stand-alone ``main``.
"""

from snninfo.information.estimators import (
    NULL_METHODS,
    TIE_TOLERANCE,
    JointCounts,
    PermutationResult,
    benjamini_hochberg,
    binary_entropy,
    joint_counts,
    mi_from_contingency,
    mi_from_counts,
    miller_madow_bias,
    miller_madow_bias_contingency,
    miller_madow_mi,
    permutation_p_value,
    permutation_test,
    plugin_mi,
    spike_entropy,
)
from snninfo.information.pipeline import compute_information, run
from snninfo.information.stimulus import (
    DEFAULT_COUNT_CAP,
    StimulusResult,
    bin_counts,
    class_entropy,
    count_information,
    prediction_information,
)

__all__ = [
    "DEFAULT_COUNT_CAP",
    "NULL_METHODS",
    "TIE_TOLERANCE",
    "JointCounts",
    "PermutationResult",
    "StimulusResult",
    "benjamini_hochberg",
    "bin_counts",
    "binary_entropy",
    "class_entropy",
    "compute_information",
    "count_information",
    "joint_counts",
    "mi_from_contingency",
    "mi_from_counts",
    "miller_madow_bias",
    "miller_madow_bias_contingency",
    "miller_madow_mi",
    "permutation_p_value",
    "permutation_test",
    "plugin_mi",
    "prediction_information",
    "run",
    "spike_entropy",
]
