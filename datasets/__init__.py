"""Real data sets from their real file formats, tf.data pipelines, and XLA-friendly augmentation.

* ``datasets.cifar10``: CIFAR-10 (python or binary version, or download), ``load`` and ``pipelines``.
* ``datasets.dogs_vs_cats``: Kaggle and Microsoft layouts, bad files skipped and reported.
* ``datasets.image_folder``: any folder of class subfolders of images, checked like Dogs-vs-Cats;
  ``datasets.decoded_cache``: decoded images kept after the first epoch (``decoded_cache=``).
* ``datasets.digits``: scikit-learn's real digits on canvases, and few-shot splits (the transfer demo's data).
* ``datasets.standins``: small offline stand-ins written in the real file formats (the notebooks' data).
* ``datasets.facial_keypoints``: Kaggle's ``training.csv``, masked loss and RMSE metric, submissions.
* ``datasets.tfdata``: arrays -> shuffled, batched, cached, prefetched tf.data; ``batched``, the one
  finisher every data set's pipeline ends with.
* ``datasets.Augment`` / ``datasets.KeypointAugment``: ImageDataGenerator's transforms as Keras layers.
* ``datasets.PolicyAugment``: timm's training augmentation (``RandomResizedCrop``, ``TrivialAugment`` or
  ``RandAugment``, ``RandomErasing``), each also a layer of its own; all compile under XLA.
* ``datasets.array_pickle`` (CIFAR's pickles without running code from the file),
  ``datasets.keypoints_csv`` (Kaggle's CSVs, plain or zipped), ``datasets.imagefiles``
  (image folders checked and reported): every bad input is a clear error or a counted
  skip (``docs/bad_input.md`` lists them).

Example (needs the real data set, so the tests skip it):
    >>> import datasets
    >>> (x_train, y_train), (x_test, y_test) = datasets.cifar10.load()          # doctest: +SKIP
    >>> train = datasets.tfdata.from_arrays(x_train, y_train, 128,
    ...                                     augment=datasets.Augment(horizontal_flip=True))  # doctest: +SKIP
"""

from datasets import geometry, imagefiles, tfdata
from datasets.augment import Augment, augment_from_idg
from datasets.keypoint_augment import KeypointAugment
from datasets.auto_augment import RandAugment, TrivialAugment
from datasets.policy_augment import PolicyAugment, RandomErasing, RandomResizedCrop
from datasets import cifar10, digits, dogs_vs_cats, facial_keypoints, standins
from datasets import decoded_cache, image_folder

__all__ = ["cifar10", "digits", "dogs_vs_cats", "facial_keypoints", "standins", "tfdata", "geometry", "imagefiles",
           "Augment", "KeypointAugment", "augment_from_idg", "PolicyAugment", "RandomResizedCrop", "TrivialAugment",
           "RandAugment", "RandomErasing", "decoded_cache", "image_folder"]
