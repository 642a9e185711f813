"""One fuzz target per loader: run it on a folder (a seed's tree with one file mutated) and classify the ending.

Every target returns normally when the loader loaded (or skipped and counted a
bad file); an exception is classified by :func:`classify`: a *clear error* is a
``ValueError`` / ``OSError`` (or ``pickle.UnpicklingError`` for pickles) whose
message names the input (its folder or the mutated file's name); anything else is
an *unclear exception*. Memory, crashes and timeouts are seen by the parent
(``tests.fuzz.runner``), since the process running the target may not survive them.
"""

import os
import pickle

TIMM = "mobilenetv3_small_050.seed"  # the timm checkpoint folder inside the timm_folder seed
# target -> (the seed's folder under tests/fuzz/seeds, the files a mutation may change)
TARGETS = {
    "cifar_batch": ["cifar-10-batches-py/test_batch", "cifar-10-batches-py/data_batch_1"],
    "cifar_archive": ["cifar-10-python.tar.gz"],
    "keypoints_csv": ["training.csv"],
    "keypoints_zip": ["training.zip"],
    "dogs_folder": ["PetImages/Cat/0.jpg", "PetImages/Cat/1.png", "PetImages/Cat/2.gif", "PetImages/Cat/3.bmp",
                    "PetImages/Dog/0.jpg", "PetImages/Dog/1.png"],
    "dogs_zip": ["train.zip"],
    "keras_file": ["model.keras", "model.classes.json"],
    "predict_image": ["images/0.jpg", "images/1.png", "images/2.gif", "images/3.bmp"],
    "checkpoint": ["run/state.json", "run/resume-0004.npz"],
    "timm_folder": [f"{TIMM}/config.json", f"{TIMM}/model.safetensors", f"{TIMM}/model.safetensors.index.json"],
    "artifact": ["model.tflite", "model.onnx"],
}
CLEAR_TYPES = (ValueError, OSError, pickle.UnpicklingError)
_MODELS = {}


def _cifar_batch(root):
    from datasets import cifar10

    cifar10.load(os.path.join(root, "cifar-10-batches-py"))


def _cifar_archive(root):
    from datasets import cifar10

    cifar10.load(os.path.join(root, "cifar-10-python.tar.gz"))


def _keypoints(name):
    def run(root):
        from datasets import facial_keypoints

        facial_keypoints.load(os.path.join(root, name), complete_only=False)
    return run


def _dogs(path):
    def run(root):
        from datasets import dogs_vs_cats

        train, _, report = dogs_vs_cats.load(os.path.join(root, path), image_size=(8, 8), batch_size=4,
                                             validation_split=0.0, cache=False, progress=False,
                                             return_report=True, extract_dir=os.path.join(root, "extracted"))
        try:
            seen = sum(int(x.shape[0]) for x, _ in train)  # the whole epoch: every kept file decodes
        except Exception as e:  # noqa: BLE001  (a file that passed the scan failed mid-epoch: a finding)
            raise MidEpochError(f"{type(e).__name__} mid-epoch: {str(e)[:200]}") from e
        assert seen == report.n_kept, (seen, report.n_kept)
        return f"skipped {report.skipped_by_reason}"
    return run


class MidEpochError(Exception):
    """A file the scan kept failed inside the tf.data pipeline (never a clear error)."""


def _keras_file(root):
    import transfer

    transfer.load_model(os.path.join(root, "model.keras"))


def _model(flexible):
    from tests.fuzz.seeds import tiny_model

    if flexible not in _MODELS:
        _MODELS[flexible] = tiny_model(flexible)
    return _MODELS[flexible]


def _predict_image(root):
    import transfer

    folder = os.path.join(root, "images")
    reasons = []
    for flexible in (False, True):  # the model's own size, and each image at its own size
        result = transfer.predict_files(_model(flexible), [folder], ["a", "b", "c"], top=2)
        assert len(result) + len(result.skipped) == len(os.listdir(folder))
        reasons += [why for _, why in result.skipped]
    return "skipped: " + "; ".join(reasons) if reasons else ""


def _checkpoint(root):
    import transfer
    from tests.fuzz.seeds import digits_data, fine_tune_options, tiny_model

    train, val = digits_data()
    transfer.fine_tune(tiny_model(), train, val, resume=True, **fine_tune_options(os.path.join(root, "run")))


def _timm_folder(root, mutated):
    import transfer

    base = transfer.load_backbone(os.path.join(root, TIMM))
    return f"{base.name}: {base.count_params()} weights"


def _artifact(root, mutated):
    """``transfer.predict_files`` with the mutated artifact's path (load_model's checks, then the runtime)."""
    import transfer

    result = transfer.predict_files(os.path.join(root, mutated), [os.path.join(root, "images")], top=2)
    assert len(result) + len(result.skipped) == 1
    return "; ".join(why for _, why in result.skipped)


RUN = {"cifar_batch": _cifar_batch, "cifar_archive": _cifar_archive,
       "keypoints_csv": _keypoints("training.csv"), "keypoints_zip": _keypoints("training.zip"),
       "dogs_folder": _dogs(""), "dogs_zip": _dogs("train.zip"), "keras_file": _keras_file,
       "predict_image": _predict_image, "checkpoint": _checkpoint, "timm_folder": _timm_folder,
       "artifact": _artifact}
WITH_MUTATED = {"timm_folder", "artifact"}  # targets told which file changed


def classify(error, root, mutated):
    """``("clear error" | "unclear exception" | "memory", detail)`` for what a target raised."""
    detail = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
    if isinstance(error, MemoryError):
        return "memory", detail
    names_input = root in str(error) or os.path.basename(mutated) in str(error)
    if isinstance(error, CLEAR_TYPES) and not isinstance(error, MidEpochError) and names_input:
        return "clear error", detail
    return "unclear exception", detail


def run(target, root, mutated):
    """Run ``target`` on ``root``; ``(outcome, detail)``."""
    try:
        detail = RUN[target](root, mutated) if target in WITH_MUTATED else RUN[target](root)
    except BaseException as e:  # noqa: BLE001  (KeyboardInterrupt and SystemExit are findings too)
        if isinstance(e, KeyboardInterrupt):
            raise
        return classify(e, root, mutated)
    return "loaded", detail or ""
