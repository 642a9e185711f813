"""Architectures; importing this package registers every builder."""

from zoo.models import cifar_resnet, classic, resnet, tutorial  # noqa: F401
