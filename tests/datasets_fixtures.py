"""Writers of small files in the exact real formats of CIFAR-10, Dogs-vs-Cats and facial keypoints."""

import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
from PIL import Image


class Py2Pickler(pickle._Pickler):
    """Protocol 2 with bytes written as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), as cPickle did.

    Python 3 writes bytes at protocol 2 through a ``_codecs.encode`` call; the original
    CIFAR files, written by Python 2, contain plain string opcodes instead.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj):
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 1 (which wrote the originals) names numpy.core.multiarray; GLOBAL is text, so swap it.
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_arrays(n_per_batch=6, seed=0):
    """Six batches of random images and labels: {name: (images (n,32,32,3), labels (n,))}."""
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    return {name: (rng.integers(0, 256, (n_per_batch, 32, 32, 3), dtype=np.uint8),
                   rng.integers(0, 10, n_per_batch).astype(np.uint8)) for name in names}


def _rows(images):
    """(n, 32, 32, 3) -> (n, 3072): 1024 R, then 1024 G, then 1024 B, row-major."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def write_cifar_python(root, arrays):
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    for name, (images, labels) in arrays.items():
        batch = {b"batch_label": f"training batch of {name}".encode(), b"labels": [int(v) for v in labels],
                 b"data": _rows(images), b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))]}
        with open(os.path.join(folder, name), "wb") as f:
            f.write(py2_pickle(batch))
    meta = {b"num_cases_per_batch": len(labels), b"num_vis": 3072,
            b"label_names": [n.encode() for n in ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                                   "frog", "horse", "ship", "truck")]}
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        f.write(py2_pickle(meta))
    return folder


def write_cifar_binary(root, arrays):
    folder = os.path.join(root, "cifar-10-batches-bin")
    os.makedirs(folder, exist_ok=True)
    for name, (images, labels) in arrays.items():
        records = np.concatenate([labels[:, None], _rows(images)], axis=1).astype(np.uint8)
        with open(os.path.join(folder, name + ".bin"), "wb") as f:
            f.write(records.tobytes())
    with open(os.path.join(folder, "batches.meta.txt"), "w") as f:
        f.write("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n")
    return folder


def make_tar_gz(folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=os.path.basename(folder))
    return archive


def jpeg_bytes(array, fmt="JPEG", **kw):
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **kw)
    return buf.getvalue()


def small_photos(chelsea, astronaut, size=64):
    """Two real photographs resized small: the cat and the astronaut."""
    return [np.asarray(Image.fromarray(p).resize((size, size))) for p in (chelsea, astronaut)]


BAD_FILES = {  # name -> (bytes maker, expected reason prefix)
    "empty": (lambda good: b"", "empty file"),
    "truncated": (lambda good: good[: len(good) // 2], "truncated or corrupt"),
    "garbage": (lambda good: b"\xff\xd8\xff\xe0" + os.urandom(300), "truncated or corrupt"),
    "text": (lambda good: b"this is not an image\n" * 20, "not an image"),
}


def write_kaggle_train(folder, cat, dog, n_each=3):
    """Kaggle's train/ folder: cat.N.jpg / dog.N.jpg, plus bad files with labelled names."""
    os.makedirs(folder, exist_ok=True)
    good = {}
    for i in range(n_each):
        for name, photo in (("cat", cat), ("dog", dog)):
            path = os.path.join(folder, f"{name}.{i}.jpg")
            with open(path, "wb") as f:
                f.write(jpeg_bytes(np.roll(photo, 3 * i, axis=1), quality=90))
            good[path] = int(name == "dog")
    data = jpeg_bytes(cat)
    with open(os.path.join(folder, f"cat.{n_each}.jpg"), "wb") as f:
        f.write(b"")  # empty
    with open(os.path.join(folder, f"dog.{n_each}.jpg"), "wb") as f:
        f.write(data[: len(data) // 2])  # truncated
    # A PNG named .jpg: not JFIF, but a real image TensorFlow decodes, so it is kept.
    path = os.path.join(folder, f"dog.{n_each + 1}.jpg")
    with open(path, "wb") as f:
        f.write(jpeg_bytes(dog, "PNG"))
    good[path] = 1
    with open(os.path.join(folder, "notes.txt"), "w") as f:  # not cat.N/dog.N: skipped, counted by name
        f.write("hello")
    return good, 3  # kept files with labels, number of skipped files (2 bad images, notes.txt)


def write_petimages(root, cat, dog, n_each=3):
    """Microsoft's PetImages/Cat, PetImages/Dog with Thumbs.db, corrupt and odd files."""
    good = {}
    for label, (sub, photo) in enumerate((("Cat", cat), ("Dog", dog))):
        folder = os.path.join(root, "PetImages", sub)
        os.makedirs(folder, exist_ok=True)
        for i in range(n_each):
            path = os.path.join(folder, f"{i}.jpg")
            with open(path, "wb") as f:
                f.write(jpeg_bytes(np.flip(photo, axis=1) if i % 2 else photo))
            good[path] = label
        with open(os.path.join(folder, "Thumbs.db"), "wb") as f:  # OLE2 compound file header
            f.write(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    bad = os.path.join(root, "PetImages", "Cat")
    data = jpeg_bytes(cat)
    for k, (make, _) in enumerate(BAD_FILES.values()):
        with open(os.path.join(bad, f"{100 + k}.jpg"), "wb") as f:
            f.write(make(data))
    # A TIFF named .jpg (Pillow reads it, TensorFlow cannot): skipped as an unsupported format.
    with open(os.path.join(root, "PetImages", "Dog", "200.jpg"), "wb") as f:
        f.write(jpeg_bytes(dog, "TIFF"))
    # A JPEG without the JFIF APP0 marker (EXIF-style): a real image, kept.
    path = os.path.join(root, "PetImages", "Dog", "201.jpg")
    raw = jpeg_bytes(dog)
    assert raw[6:10] == b"JFIF"
    app0_len = struct.unpack(">H", raw[4:6])[0]
    with open(path, "wb") as f:
        f.write(raw[:2] + raw[4 + app0_len:])  # drop the APP0 segment
    good[path] = 1
    return good, 2 + len(BAD_FILES) + 1  # kept, bad (2 Thumbs.db, the bad files, the TIFF)


def zip_folder(folder, archive, arc_root):
    with zipfile.ZipFile(archive, "w") as zf:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                full = os.path.join(dirpath, name)
                zf.write(full, os.path.join(arc_root, os.path.relpath(full, folder)))
    return archive
