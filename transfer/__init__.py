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

from transfer.backbones import available_backbones, load_backbone, policy_scope, with_policy
from transfer.checkpoint import PhaseEarlyStopping, ResumableCheckpoint, atomic_save, read_state
from transfer.run_state import RunState
from transfer import distributed
from transfer.distributed import data_parallel, is_chief, process_shard
from transfer.features import cache_key, cache_path, extract_features
from transfer.finetune import FineTuneHistory, fine_tune
from transfer.recipe import Recipe
from transfer.freezing import TrainableReport, freeze, trainable_report, unfreeze
from transfer.groups import derive_groups, find_backbone, layer_groups
from transfer.heads import attach_head, combine, head_on_features
from transfer.models import Backbone, TransferModel, as_backbone, head_kind
from transfer.io import load_model, predict_files, save_model
from transfer.optimizers import DiscriminativeOptimizer, group_multipliers
from transfer.preprocessing import ImagePreprocessing
from transfer.artifacts import Artifact, load_artifact
from transfer.export import ExportVerificationError, export
from transfer.export_checks import ExportReport
from zoo.weights import WeightsUnavailableError

__all__ = [name for name in dir() if not name.startswith("_")]
