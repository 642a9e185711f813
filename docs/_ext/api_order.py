"""The order of the API reference: the calls a user meets first, then the other functions, then the classes.

Plain data, no imports: ``api_reference.py`` builds the pages from it and ``docs/check_html.py`` checks
the built pages against it. A name listed here but missing from a package is left out; a name a package
exports but not listed here still gets documented: an unlisted function after the listed ones (beside
the functions of its module), an unlisted class after the listed classes.
"""

# Per package (or documented submodule): its functions in the order a user meets them.
ENTRY_POINTS = {
    "transfer": ["load_backbone", "attach_head", "fine_tune", "lr_find", "evaluate", "predict_tta", "freeze",
                 "unfreeze", "trainable_report", "extract_features", "save_model", "load_model", "predict_files",
                 "export", "head_on_features", "combine", "load_artifact"],
    "zoo": ["list_models", "create_model", "summary", "receptive_field", "conv_output_size", "conv_params",
            "default_input_shape", "min_input_size", "get_arch", "list_configs", "get_builder",
            "register_model", "register_config", "unregister"],
    "datasets": ["augment_from_idg"],
    "viz": ["plot_history", "join_histories", "plot_lr_find", "plot_augmentation_grid", "plot_keypoints",
            "plot_confusion_matrix", "plot_filters", "plot_feature_maps", "conv_layer_names", "grad_cam",
            "plot_grad_cam"],
    "datasets.cifar10": ["load", "pipelines"],
    "datasets.digits": ["load_canvases", "few_shot_split", "load_small"],
    "datasets.dogs_vs_cats": ["load", "load_test", "write_submission", "scan"],
    "datasets.facial_keypoints": ["load", "pipelines", "load_test", "write_submission"],
    "datasets.tfdata": ["from_arrays", "batched"],
    "transfer.demo": ["run"],
    "transfer.cli": ["main"],
    "zoo.cli": ["main"],
    "zoo.notebook": ["setup"],
}

# The "Start here" table at the top of a package's page, names relative to the package (default: its
# ENTRY_POINTS). The data sets' entry points live in their modules.
START_HERE = {
    "zoo": ["list_models", "create_model", "summary", "receptive_field", "conv_output_size", "get_arch",
            "register_model"],
    "datasets": ["cifar10.load", "dogs_vs_cats.load", "facial_keypoints.load", "digits.load_canvases",
                 "tfdata.from_arrays", "Augment", "KeypointAugment"],
}

# Per package: its classes, the ones a user holds first at the top.
CLASSES = {
    "transfer": ["Backbone", "TransferModel", "Recipe", "FineTuneHistory", "LRFinderResult", "TTAModel",
                 "TrainableReport", "DiscriminativeOptimizer", "ImagePreprocessing", "ResumableCheckpoint", "RunState"],
    "zoo": ["Report", "LayerRow", "ArchConfig", "WeightSet", "WeightFiles", "KerasApp", "HubBackbone",
            "WeightsUnavailableError"],
    "datasets": ["Augment", "KeypointAugment", "PolicyAugment", "RandomResizedCrop", "TrivialAugment", "RandAugment",
                 "RandomErasing"],
}

# The other functions are grouped by the module that defines them: a module that defines an entry point
# comes where that entry point does; the rest follow in this order (then alphabetically).
MODULES = {
    "zoo": ["zoo.models.classic", "zoo.models.resnet", "zoo.models.cifar_resnet", "zoo.models.tutorial",
            "zoo.blocks"],
    "transfer": ["transfer.model.backbone", "transfer.training.optimizers", "transfer.model.groups",
                 "transfer.training.checkpoint",
                 "transfer.training.distributed"],
}

# Classes whose constructor is Keras's Functional one (inputs, outputs): the calls that make one instead.
MADE_BY = {
    "transfer.Backbone": ["transfer.load_backbone", "transfer.as_backbone"],
    "transfer.TransferModel": ["transfer.attach_head", "transfer.combine"],
}
