"""The head kinds, one table: what each kind's output activation, loss and metrics are, and how it decodes.

A head's kind is decided once, when :func:`transfer.attach_head` builds it
(from ``classes`` and ``activation``), and recorded on the
:class:`~transfer.model.backbone.TransferModel`. Everything else reads this
table: :func:`transfer.fine_tune` takes its loss and metrics, ``predict_files``
its decoding, export its top-1 (as keras-hub's tasks own their activation,
loss and decoding).

Example:
    >>> kind = HEAD_KINDS["binary"]
    >>> kind.activation, kind.loss, kind.metrics
    ('sigmoid', 'binary_crossentropy', ('accuracy',))
    >>> kind.top1(np.array([[0.7], [0.2]])), HEAD_KINDS["multiclass"].top1(np.array([[0.2, 0.8]]))
    (array([1, 0]), array([1]))
    >>> kind_of("softmax", 10).name, kind_of(None, 30).name
    ('multiclass', 'regression')
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class HeadKind:
    """One kind of head: ``activation`` of its output layer, the default ``loss`` and ``metrics``.

    ``scores`` turns one output row into one score per class (a binary head's one
    unit into ``[p(0), p(1)]``); ``top1`` gives the predicted class per row
    (None for regression, which has no classes).
    """

    name: str
    activation: str
    loss: str
    metrics: tuple
    classifies: bool = True
    units: tuple = (1, None)  # the smallest and largest number of outputs (None: no limit)
    units_rule: str = ""  # what that means, for an error

    def fits(self, units):
        """Whether an output layer of ``units`` units can be this kind (a binary head has exactly one)."""
        low, high = self.units
        return low <= units and (high is None or units <= high)

    def scores(self, row):
        """Per-class scores of one output row (binary: both classes)."""
        row = np.asarray(row)
        return np.concatenate([1.0 - row, row]) if self.name == "binary" else row

    def top1(self, outputs):
        """The predicted class of each row of ``outputs`` (N, units); None for regression."""
        if not self.classifies:
            return None
        outputs = np.asarray(outputs)
        if outputs.shape[-1] == 1:  # one sigmoid unit
            return (outputs[:, 0] > 0.5).astype(int)
        return np.argmax(outputs, axis=-1)

    def decode(self, row, class_names=None, top=3):
        """``[(name, score), ...]`` best first; regression: ``[("output i", value), ...]`` in order."""
        if not self.classifies:
            return [(f"output {i}", float(v)) for i, v in enumerate(np.asarray(row)[:top])]
        p = self.scores(row)
        names = class_names or [str(i) for i in range(len(p))]
        return [(names[i], float(p[i])) for i in np.argsort(-p)[:top]]


HEAD_KINDS = {kind.name: kind for kind in (
    HeadKind("binary", "sigmoid", "binary_crossentropy", ("accuracy",), units=(1, 1),
             units_rule="one sigmoid output"),
    HeadKind("multiclass", "softmax", "sparse_categorical_crossentropy", ("accuracy",), units=(2, None),
             units_rule="one output per class (at least 2)"),
    HeadKind("multilabel", "sigmoid", "binary_crossentropy", ("binary_accuracy",)),
    HeadKind("regression", "linear", "mse", ("mae",), classifies=False),
)}


def kind_of(activation, classes):
    """The head kind an output ``activation`` over ``classes`` units makes (None or "linear": regression)."""
    if activation == "softmax":
        return HEAD_KINDS["multiclass"]
    if activation == "sigmoid":
        return HEAD_KINDS["binary" if classes == 1 else "multilabel"]
    return HEAD_KINDS["regression"]


def classifier_kind(units):
    """The kind of a classifier with ``units`` probability outputs: one sigmoid unit is binary, more a softmax."""
    return HEAD_KINDS["binary" if units == 1 else "multiclass"]


def get_kind(name, model_name=None):
    """The :class:`HeadKind` called ``name``; a clear error for an unknown or missing one."""
    if name not in HEAD_KINDS:
        what = f"{model_name!r} records" if model_name else "Received"
        raise ValueError(f"Head kinds are {', '.join(HEAD_KINDS)}. {what}: head_kind={name!r}")
    return HEAD_KINDS[name]
