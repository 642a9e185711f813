"""Architectures; importing this package registers every builder."""

from zoo.models import cifar_resnet, classic, keras_applications, resnet, tutorial  # noqa: F401
