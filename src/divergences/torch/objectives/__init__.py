"""Training objectives from the seed papers, in torch (autograd), each with its formula in the docstring.

* :func:`cs_divergence_loss` (categorical predictive distributions) and
  :func:`conditional_cs_divergence` (the kernel estimator of the CS information bottleneck)
  (:mod:`.cauchy_schwarz`);
* :func:`monge_gap` (:mod:`.monge_gap`);
* :func:`f_sft_loss`, the f-divergence SFT objectives of the implicit-reward view (:mod:`.f_sft`);
* :func:`plackett_luce_distillation_loss`, :func:`soft_infonce_loss` (:mod:`.ranking`);
* :class:`HarmonicHead`, :func:`harmonic_logits`, :func:`harmonic_loss` (:mod:`.harmonic`);
* :func:`distance_covariance`, :func:`distance_correlation`, :func:`jdcov`, :func:`ccdcov` (:mod:`.dcov`);
* :func:`group_js_divergence`, the Jensen–Shannon measure for calibrating a fairness regulariser's
  strength across groups (:mod:`.fair_calibration`).
"""

from __future__ import annotations

from .cauchy_schwarz import conditional_cs_divergence, cs_divergence_loss
from .dcov import ccdcov, distance_correlation, distance_covariance, jdcov
from .f_sft import f_sft_loss
from .fair_calibration import group_js_divergence
from .harmonic import HarmonicHead, harmonic_distances, harmonic_logits, harmonic_loss
from .monge_gap import monge_gap
from .ranking import plackett_luce_distillation_loss, soft_infonce_loss

__all__ = [
    "HarmonicHead",
    "ccdcov",
    "conditional_cs_divergence",
    "cs_divergence_loss",
    "distance_correlation",
    "distance_covariance",
    "f_sft_loss",
    "group_js_divergence",
    "harmonic_distances",
    "harmonic_logits",
    "harmonic_loss",
    "jdcov",
    "monge_gap",
    "plackett_luce_distillation_loss",
    "soft_infonce_loss",
]
