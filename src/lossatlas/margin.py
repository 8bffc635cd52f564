"""Margin losses of ``m = y * f`` for binary targets ``y`` in {-1, 1} and a real score ``f``.

Targets in {0, 1} are accepted too (0 is read as -1); any other target value is an error.
The subgradient at a kink is fixed and the same on every backend (documented per loss).
"""

from __future__ import annotations

import abc
from typing import Any

from ._loss import ElementwiseLoss
from ._registry import register
from ._spec import FRIEDMAN_2001, LIGHTGBM_2017, BoostingHessian, LossSpec, Properties
from ._xp import const, sigmoid_pair, sigmoid_pair_values, softplus, where0

_SIGNED_TARGET = "y in {-1, 1} (0 is read as -1)"


def _signs(xp: Any, target: Any) -> Any:
    return xp.where(target == 0, const(xp, -1.0, target), target)


class _MarginLoss(ElementwiseLoss):
    """Shared plumbing: kernels of the margin m, derivatives by the chain rule (dm/df = y)."""

    def _value(self, xp: Any, pred: Any, target: Any) -> Any:
        return self._of_margin(xp, _signs(xp, target) * pred)

    def _grad(self, xp: Any, pred: Any, target: Any) -> Any:
        y = _signs(xp, target)
        return y * self._d_margin(xp, y * pred)

    def _hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return self._dd_margin(xp, _signs(xp, target) * pred)

    @abc.abstractmethod
    def _of_margin(self, xp: Any, m: Any) -> Any:
        """The loss as a function of the margin m."""

    @abc.abstractmethod
    def _d_margin(self, xp: Any, m: Any) -> Any:
        """d loss / d m."""

    @abc.abstractmethod
    def _dd_margin(self, xp: Any, m: Any) -> Any:
        """d^2 loss / d m^2."""


class Hinge(_MarginLoss):
    r"""Hinge loss ``max(0, 1 - y f)`` (support vector machines).

    ``grad = -y`` where ``y f < 1`` and 0 where ``y f >= 1`` (the subgradient 0 at the kink);
    ``hess = 0`` everywhere.
    """

    spec = LossSpec(
        name="hinge",
        family="margin",
        summary="Hinge loss: zero beyond margin 1, linear penalty inside it (SVM).",
        pred_domain="real",
        target_domain="sign",
        properties=Properties(convex=True, robust=True, smoothness="C0"),
        formula=r"\ell(f, y) = \max(0,\ 1 - y f)",
        references=(
            "Cortes, C., Vapnik, V. (1995). Support-vector networks. "
            "Machine Learning 20(3), 273-297.",
        ),
        aliases=("hinge_loss", "Hinge"),
        framework_names={
            "keras": "keras.losses.Hinge, keras.losses.hinge",
            "tensorflow": "tf.keras.losses.Hinge, tf.compat.v1.losses.hinge_loss",
            "optax": "optax.hinge_loss",
            "sklearn": "sklearn.metrics.hinge_loss",
        },
        derivative_notes="grad = -y where y*f < 1, else 0 (0 at the kink); hess = 0.",
        kinks=lambda p: (1.0,),
        when_to_use="Maximum-margin linear classifiers; sparse solutions (support vectors).",
        boosting=BoostingHessian(
            "surrogate",
            r"h = 1",
            "The second derivative is 0 wherever it exists. As for the L1 loss, a unit "
            "Hessian makes each leaf's Newton step the mean of the gradients.",
            (FRIEDMAN_2001, LIGHTGBM_2017),
        ),
    )

    def _of_margin(self, xp: Any, m: Any) -> Any:
        return where0(xp, m < 1, 1.0 - m)

    def _d_margin(self, xp: Any, m: Any) -> Any:
        return -xp.astype(m < 1, m.dtype)

    def _dd_margin(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return xp.ones_like(pred)


class SquaredHinge(_MarginLoss):
    r"""Squared hinge loss ``max(0, 1 - y f)**2``.

    ``grad = -2 y max(0, 1 - y f)``; ``hess = 2`` where ``y f < 1``, else 0 (0 at the kink).
    """

    spec = LossSpec(
        name="squared_hinge",
        family="margin",
        summary="Squared hinge loss: a differentiable hinge that punishes large violations more.",
        pred_domain="real",
        target_domain="sign",
        properties=Properties(convex=True, robust=False, smoothness="C1"),
        formula=r"\ell(f, y) = \max(0,\ 1 - y f)^2",
        references=(
            "Rennie, J. D. M., Srebro, N. (2005). Loss functions for preference levels. "
            "IJCAI Workshop.",
            "Lee, C.-P., Lin, C.-J. (2013). A study on L2-loss (squared hinge-loss) "
            "multiclass SVM. Neural Computation 25(5).",
        ),
        aliases=("squared_hinge_loss", "SquaredHinge", "l2_svm"),
        framework_names={
            "keras": "keras.losses.SquaredHinge, keras.losses.squared_hinge",
            "tensorflow": "tf.keras.losses.SquaredHinge",
        },
        derivative_notes="grad = -2y max(0, 1 - y f); hess = 2 where y*f < 1, else 0.",
        kinks=lambda p: (1.0,),
        when_to_use="Linear SVMs trained with smooth optimisers (L2-SVM).",
        boosting=BoostingHessian(
            "surrogate",
            r"h = 2",
            "The second derivative is 0 for y f > 1, where the gradient is 0 too; a leaf of "
            "such rows would divide 0 by 0. The active branch's curvature 2 bounds the loss's "
            "curvature everywhere, so each Newton step minimises a quadratic that lies above "
            "the loss and never overshoots.",
        ),
    )

    def _of_margin(self, xp: Any, m: Any) -> Any:
        slack = where0(xp, m < 1, 1.0 - m)
        return slack * slack

    def _d_margin(self, xp: Any, m: Any) -> Any:
        return -2.0 * where0(xp, m < 1, 1.0 - m)

    def _dd_margin(self, xp: Any, m: Any) -> Any:
        return 2.0 * xp.astype(m < 1, m.dtype)

    def _boosting_hess(self, xp: Any, pred: Any, target: Any) -> Any:
        return 2.0 * xp.ones_like(pred)


class LogisticLoss(_MarginLoss):
    r"""Logistic loss ``log(1 + exp(-y f))`` (PyTorch's ``SoftMarginLoss`` per element).

    Equal to binary cross entropy with logits for labels mapped to {0, 1}. Finite for any f.
    ``grad = -y sigmoid(-y f)``, ``hess = sigmoid(y f) sigmoid(-y f)``.
    """

    spec = LossSpec(
        name="logistic_loss",
        family="margin",
        summary="Logistic loss on the margin: the log-likelihood of logistic regression.",
        pred_domain="real",
        target_domain="sign",
        properties=Properties(convex=True, robust=True, smoothness="Cinf"),
        formula=r"\ell(f, y) = \log(1 + e^{-y f})",
        references=(
            "Berkson, J. (1944). Application of the logistic function to bio-assay. JASA 39(227).",
        ),
        aliases=(
            "soft_margin",
            "soft_margin_loss",
            "SoftMarginLoss",
            "logistic",
            "log_loss_margin",
        ),
        framework_names={
            "pytorch": "torch.nn.SoftMarginLoss, torch.nn.functional.soft_margin_loss",
            "paddle": "paddle.nn.SoftMarginLoss",
        },
        derivative_notes="grad = -y sigmoid(-y f), hess = sigmoid(y f) sigmoid(-y f).",
        when_to_use="Probabilistic linear classification with +-1 labels.",
    )

    def _of_margin(self, xp: Any, m: Any) -> Any:
        return softplus(xp, -m)

    def _d_margin(self, xp: Any, m: Any) -> Any:
        return -sigmoid_pair(xp, m)[1]

    def _dd_margin(self, xp: Any, m: Any) -> Any:
        up, down = sigmoid_pair(xp, m)
        return up * down

    def _boosting_grad_hess(self, xp: Any, pred: Any, target: Any) -> tuple[Any, Any]:
        y = _signs(xp, target)
        up, down = sigmoid_pair_values(xp, y * pred)
        return -y * down, up * down


class ExponentialLoss(_MarginLoss):
    r"""Exponential loss ``exp(-y f)`` (AdaBoost).

    Grows exponentially with a wrong margin, so a few mislabeled points dominate.
    ``grad = -y exp(-y f)``, ``hess = exp(-y f)``.
    """

    spec = LossSpec(
        name="exponential_loss",
        family="margin",
        summary="Exponential loss: AdaBoost's loss, very sensitive to label noise.",
        pred_domain="real",
        target_domain="sign",
        properties=Properties(convex=True, robust=False, smoothness="Cinf"),
        formula=r"\ell(f, y) = e^{-y f}",
        references=(
            "Freund, Y., Schapire, R. E. (1997). A decision-theoretic generalization of "
            "on-line learning and an application to boosting. JCSS 55(1).",
            "Friedman, J., Hastie, T., Tibshirani, R. (2000). Additive logistic "
            "regression. Annals of Statistics 28(2).",
        ),
        aliases=("exponential", "adaboost_loss"),
        framework_names={
            "sklearn": "sklearn.ensemble.GradientBoostingClassifier(loss='exponential')"
        },
        derivative_notes="grad = -y exp(-y f), hess = exp(-y f).",
        when_to_use="Boosting on clean labels; avoid with label noise.",
    )

    def _of_margin(self, xp: Any, m: Any) -> Any:
        return xp.exp(-m)

    def _d_margin(self, xp: Any, m: Any) -> Any:
        return -xp.exp(-m)

    def _dd_margin(self, xp: Any, m: Any) -> Any:
        return xp.exp(-m)


class ZeroOneLoss(_MarginLoss):
    r"""Zero-one loss: 1 where ``y f <= 0`` (misclassified or on the boundary), else 0.

    Not differentiable: ``grad = hess = 0``. The result stays attached to the autograd graph
    (with zero gradient) so it can sit inside a training objective.
    """

    spec = LossSpec(
        name="zero_one_loss",
        family="margin",
        summary="Zero-one loss: the classification error that the other margin losses bound.",
        pred_domain="real",
        target_domain="sign",
        properties=Properties(convex=False, robust=True, smoothness="discontinuous", bounded=True),
        formula=r"\ell(f, y) = \mathbb{1}[y f \le 0]",
        references=(
            "Bartlett, P. L., Jordan, M. I., McAuliffe, J. D. (2006). Convexity, "
            "classification, and risk bounds. JASA 101(473).",
        ),
        aliases=("zero_one", "0-1", "misclassification"),
        framework_names={"sklearn": "sklearn.metrics.zero_one_loss"},
        derivative_notes="grad = hess = 0.",
        kinks=lambda p: (0.0,),
        when_to_use="Evaluation only: its gradient carries no information.",
        boosting=BoostingHessian(
            "none", reason="its gradient is 0 almost everywhere; boost a margin loss that bounds it"
        ),
    )

    def _of_margin(self, xp: Any, m: Any) -> Any:
        # the zero branch depends on m so the result stays on the graph; NaN propagates
        zero = xp.where(xp.isnan(m), m, const(xp, 0.0, m))
        return xp.where(m <= 0, const(xp, 1.0, m), zero)

    def _d_margin(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)

    def _dd_margin(self, xp: Any, m: Any) -> Any:
        return xp.zeros_like(m)


hinge = register(Hinge())
squared_hinge = register(SquaredHinge())
logistic_loss = register(LogisticLoss())
exponential_loss = register(ExponentialLoss())
zero_one_loss = register(ZeroOneLoss())

__all__ = ["exponential_loss", "hinge", "logistic_loss", "squared_hinge", "zero_one_loss"]
