"""transfer: pretrained backbones, heads, safe freezing, two-phase fine-tuning, feature extraction."""

from transfer.backbones import KERAS_APPS, available_backbones, load_backbone
from transfer.groups import find_backbone, layer_groups
from transfer.preprocessing import ImagePreprocessing
from zoo.weights import WeightsUnavailableError

__all__ = [name for name in dir() if not name.startswith("_")]
