"""datasets.digits: scikit-learn's real digits on canvases, and the few-shot split."""

import numpy as np
import pytest

from datasets import digits


def test_canvases_hold_each_digit_once_at_a_fixed_place():
    small, labels = digits.load_small(12)
    x, y = digits.load_canvases(canvas=20, digit=12, seed=0)
    assert x.shape == (1797, 20, 20, 1) and x.dtype == np.float32 and np.array_equal(y, labels)
    # every canvas holds its digit's pixels, nothing else: the same ink, wherever it was put
    np.testing.assert_allclose(x.sum(axis=(1, 2, 3)), small.sum(axis=(1, 2)), rtol=1e-5)
    again, _ = digits.load_canvases(canvas=20, digit=12, seed=0)
    other, _ = digits.load_canvases(canvas=20, digit=12, seed=1)
    assert np.array_equal(x, again) and not np.array_equal(x, other)
    # the places vary: the ink's centre of mass spreads over the canvas
    rows = (x[..., 0].sum(axis=2) * np.arange(20)).sum(axis=1) / x[..., 0].sum(axis=(1, 2))
    assert rows.max() - rows.min() > 4


def test_place_rejects_a_canvas_smaller_than_the_digit():
    with pytest.raises(ValueError, match="canvas=8"):
        digits.place(np.ones((2, 12, 12)), canvas=8)
    with pytest.raises(ValueError, match="shape"):
        digits.place(np.ones((2, 12, 10)), canvas=20)


def test_few_shot_split_is_disjoint_balanced_and_relabelled():
    x, y = digits.load_canvases()
    index = np.arange(len(y))
    (itr, ytr), (iva, yva), (ite, yte) = digits.few_shot_split(index, y, range(5, 10), shots=3, seed=0)
    assert len(itr) == len(iva) == 15
    assert np.bincount(ytr).tolist() == [3] * 5 and np.bincount(yva).tolist() == [3] * 5
    assert not (set(itr) & set(iva) or set(itr) & set(ite) or set(iva) & set(ite))
    assert len(itr) + len(iva) + len(ite) == int(np.sum(y >= 5))  # every 5-9 image, nothing else
    assert np.array_equal(y[ite] - 5, yte) and np.array_equal(y[itr] - 5, ytr)
    (again, _), _, _ = digits.few_shot_split(index, y, range(5, 10), shots=3, seed=0)
    (other, _), _, _ = digits.few_shot_split(index, y, range(5, 10), shots=3, seed=1)
    assert np.array_equal(itr, again) and not np.array_equal(itr, other)


def test_few_shot_split_says_when_a_class_is_too_small():
    x, y = np.zeros((10, 2)), np.array([0] * 5 + [1] * 5)
    with pytest.raises(ValueError, match="Class 0 has 5 images.*shots=3"):
        digits.few_shot_split(x, y, [0, 1], shots=3)
