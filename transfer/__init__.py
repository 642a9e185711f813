"""transfer: pretrained backbones, heads, BatchNorm-safe freezing, two-phase fine-tuning, feature extraction.

A quick tour (``weights="imagenet"`` fetches Keras's file once; ``None`` here keeps it offline):

    >>> import transfer
    >>> base = transfer.load_backbone("resnet50", weights=None, input_shape=(64, 64, 3))
    >>> model = transfer.attach_head(base, classes=1, dropout=0.2)            # binary head
    >>> x, y = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)), np.arange(8) % 2
    >>> result = transfer.fine_tune(model, (x, y), (x, y), epochs=(1, 1), unfreeze_from="conv5",
    ...                             checkpoint_dir="runs/cats", verbose=0)
    >>> result.phase_epochs
    [1, 1]
    >>> transfer.save_model(model, "cats.keras", class_names=["cat", "dog"])
    'cats.keras'

Run ``python -m transfer demo`` for the whole story offline on real digits.
"""

from zoo import startup

startup.quiet_start()  # only when running as a command: no TensorFlow start-up lines (before Keras is imported)

from transfer.model.dtypes import policy_scope, with_policy
from transfer.sources.backbones import available_backbones, load_backbone
from transfer.training.atomic import atomic_save
from transfer.training.checkpoint import PhaseEarlyStopping, ResumableCheckpoint, read_state
from transfer.training.run_state import RunState
from transfer.training import distributed
from transfer.training.distributed import data_parallel, is_chief, process_shard
from transfer.training.features import cache_key, cache_path, extract_features
from transfer.training.finetune import FineTuneHistory, fine_tune
from transfer.training.recipe import Recipe
from transfer.training.lr_find import LRFinderResult, lr_find
from transfer.model.freezing import TrainableReport, freeze, trainable_report, unfreeze
from transfer.model.groups import derive_groups, find_backbone, layer_groups
from transfer.model.heads import attach_head, combine, head_on_features
from transfer.model.backbone import Backbone, TransferModel, as_backbone, head_kind
from transfer.serving.saving import load_model, save_model
from transfer.serving.predict import predict_files
from transfer.serving.tta import TTAModel, evaluate, predict_tta
from transfer.training.optimizers import DiscriminativeOptimizer, group_multipliers
from transfer.sources.preprocessing import ImagePreprocessing
from transfer.sources.lite0 import efficientnet_lite0_folder
from transfer.serving.artifacts import Artifact, load_artifact
from transfer.serving.export import ExportVerificationError, export
from transfer.serving.export_checks import ExportReport
from zoo.weights import WeightsUnavailableError

__all__ = [name for name in dir() if not name.startswith("_")]
