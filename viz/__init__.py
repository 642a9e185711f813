"""viz: plots people would rather look at than read, for models, data and training runs.

Each function returns a matplotlib Figure and, given ``path``, also saves it as
a PNG. Nothing here calls ``pyplot.show()``: in a notebook the figure shows
itself, in a script call ``plt.show()`` or pass ``path``.

Training: :func:`plot_history`, :func:`join_histories` (:mod:`viz.history`),
:func:`plot_lr_find` (:mod:`viz.lr_find`).
Data and results: :func:`plot_augmentation_grid`, :func:`plot_keypoints`,
:func:`plot_confusion_matrix` (:mod:`viz.images`). Inside the network:
:func:`plot_filters`, :func:`plot_feature_maps`, :func:`conv_layer_names`
(:mod:`viz.maps`), :func:`grad_cam`, :func:`plot_grad_cam` (:mod:`viz.cam`).

Example:
    >>> import viz
    >>> fig = viz.plot_feature_maps(zoo.cnn_mnist(), "block1_conv", np.zeros((28, 28, 1)), path="maps.png")
    >>> len(fig.axes), os.path.exists("maps.png")
    (32, True)
"""

from viz.cam import grad_cam, plot_grad_cam
from viz.history import join_histories, plot_history
from viz.lr_find import plot_lr_find
from viz.images import plot_augmentation_grid, plot_confusion_matrix, plot_keypoints
from viz.maps import conv_layer_names, plot_feature_maps, plot_filters

__all__ = ["conv_layer_names", "grad_cam", "join_histories", "plot_augmentation_grid", "plot_confusion_matrix",
           "plot_feature_maps", "plot_filters", "plot_grad_cam", "plot_history", "plot_keypoints", "plot_lr_find"]
