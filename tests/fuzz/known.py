"""The inputs of every class of damage found so far, built by code (some are a megabyte of one opcode).

``KNOWN`` lists ``(name, target, mutated file, bytes maker, expected)``: ``expected``
is ``(outcome, fragment)``, the ending each input must now have and a piece of its
message (or, for a file skipped and counted, of the skip reasons). Before the fixes
each of these crashed, blew up memory or ended in an unclear exception.
"""

import io
import json
import os
import struct
import zipfile

import numpy as np
from PIL import Image

from tests.fuzz.runner import SEEDS


def _seed(target, name):
    with open(os.path.join(SEEDS, target, name), "rb") as f:
        return f.read()


def _encode(image, fmt):
    buf = io.BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def _photo():
    return Image.fromarray((np.arange(24 * 24 * 3) % 251).astype(np.uint8).reshape(24, 24, 3))


def _png_without_idat():
    png = _encode(_photo().convert("P"), "PNG")
    i = png.index(b"IDAT") - 4
    n = struct.unpack(">I", png[i:i + 4])[0]
    return png[:i] + png[i + 12 + n:]


def _zip_field(data, offset_in_header, value, fmt):
    """``data`` (a one-member zip) with a field of its local and central headers changed."""
    raw = bytearray(data)
    for magic, base in ((b"PK\x03\x04", 0), (b"PK\x01\x02", 2)):
        at = raw.index(magic) + offset_in_header + base
        raw[at:at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(raw)


def _zip_crc(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.infolist()[0]
    return _zip_field(data, 14, (info.CRC + 1) & 0xFFFFFFFF, "<I")


def _npz(arrays, object_ok=False):
    buf = io.BytesIO()
    np.savez(buf, **arrays, allow_pickle=object_ok) if object_ok else np.savez(buf, **arrays)
    return buf.getvalue()


def _npz_huge_header():
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_seed("checkpoint", "run/resume-0004.npz"))) as zf, \
            zipfile.ZipFile(buf, "w") as out:
        for info in zf.infolist():
            raw = zf.read(info)
            if info.filename == "model/0.npy":
                end = raw.index(b"}") + 1
                header = raw[:end].decode("latin-1")
                shape = header[header.index("(") + 1:header.index(")")]
                raw = header.replace(f"({shape})", f"(10000000000, {shape.split(',')[-1].strip() or 1})"
                                     ).encode("latin-1") + raw[end:]
            out.writestr(info, raw)
    return buf.getvalue()


def _state(**changes):
    state = json.loads(_seed("checkpoint", "run/state.json"))
    for key, value in changes.items():
        if value is KeyError:
            del state[key]
        else:
            state[key] = value
    return json.dumps(state).encode()


def _keras_config(edit):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_seed("keras_file", "model.keras"))) as zf, zipfile.ZipFile(buf, "w") as out:
        for info in zf.infolist():
            raw = zf.read(info)
            out.writestr(info, edit(raw.decode()).encode() if info.filename == "config.json" else raw)
    return buf.getvalue()


def _big_csv_with_stray_quote():
    text = _seed("keypoints_csv", "training.csv").decode()
    header, *rows = text.splitlines()
    rows = (rows * 20)[:50]  # over 1 MiB, as the real file is
    rows[1] = rows[1].replace(",", ',"', 1)
    return ("\n".join([header, *rows]) + "\n").encode()


BATCH, NPZ, STATE = "cifar-10-batches-py/test_batch", "run/resume-0004.npz", "run/state.json"
CLEAR, LOADED = "clear error", "loaded"
KNOWN = [
    # 1. CIFAR pickles: a SIGSEGV and memory blow-ups of the C unpickler
    ("deep tuple key", "cifar_batch", BATCH, lambda: b"\x80\x02}(" + b")" + b"\x85" * 1_000_000 + b"K\x01u.",
     (CLEAR, "a dict key of type tuple refused")),
    ("deep tuple value", "cifar_batch", BATCH, lambda: b"\x80\x02}(C\x04data)" + b"\x85" * 100_000 + b"u.",
     (CLEAR, "nested deeper than 32 levels")),
    ("memo index 2**31", "cifar_batch", BATCH, lambda: b"\x80\x02}r" + struct.pack("<I", 2**31) + b".",
     (CLEAR, "Not a CIFAR-10 batch")),
    ("memo index 300,000,000", "cifar_batch", BATCH, lambda: b"\x80\x02}r" + struct.pack("<I", 300_000_000) + b".",
     (CLEAR, "Not a CIFAR-10 batch")),
    # 2. damaged archives
    ("truncated tar.gz", "cifar_archive", "cifar-10-python.tar.gz",
     lambda: _seed("cifar_archive", "cifar-10-python.tar.gz")[:20000], (CLEAR, "damaged or truncated archive")),
    ("corrupt deflate in tar.gz", "cifar_archive", "cifar-10-python.tar.gz",
     lambda: (lambda d: d[:30] + bytes(64) + d[94:])(_seed("cifar_archive", "cifar-10-python.tar.gz")),
     (CLEAR, "damaged or truncated archive")),
    ("zip member CRC", "keypoints_zip", "training.zip", lambda: _zip_crc(_seed("keypoints_zip", "training.zip")),
     (CLEAR, "damaged or truncated archive (BadZipFile")),
    ("zip encrypted flag", "keypoints_zip", "training.zip",
     lambda: _zip_field(_seed("keypoints_zip", "training.zip"), 6, 1, "<H"), (CLEAR, "(RuntimeError")),
    ("zip unknown method", "keypoints_zip", "training.zip",
     lambda: _zip_field(_seed("keypoints_zip", "training.zip"), 8, 99, "<H"), (CLEAR, "(NotImplementedError")),
    ("CSV ending in an end record", "keypoints_csv", "training.csv",
     lambda: _seed("keypoints_csv", "training.csv") + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, 46, 0, 0),
     (CLEAR, "line")),
    ("train.zip member CRC", "dogs_zip", "train.zip", lambda: _zip_crc(_seed("dogs_zip", "train.zip")),
     (CLEAR, "damaged or truncated archive")),
    # 3. a stray quote in a CSV over 1 MiB
    ("stray quote", "keypoints_csv", "training.csv", _big_csv_with_stray_quote, (CLEAR, "a stray quote")),
    # 4. images Pillow reads and TensorFlow does not (they failed mid-epoch), and Pillow's IndexError
    ("1-bit BMP", "dogs_folder", "PetImages/Cat/3.bmp", lambda: _encode(_photo().convert("1"), "BMP"),
     (LOADED, "'truncated or corrupt': 1")),
    ("BMP with trailing bytes", "dogs_folder", "PetImages/Cat/3.bmp",
     lambda: _seed("dogs_folder", "PetImages/Cat/3.bmp") + bytes(64), (LOADED, "'truncated or corrupt': 1")),
    ("PNG with a wrong IEND CRC", "dogs_folder", "PetImages/Cat/1.png",
     lambda: _seed("dogs_folder", "PetImages/Cat/1.png")[:-4] + bytes(4), (LOADED, "'truncated or corrupt': 1")),
    ("palette PNG without IDAT", "dogs_folder", "PetImages/Cat/1.png", _png_without_idat,
     (LOADED, "'truncated or corrupt': 1")),
    # 5. damaged .keras files, and a tiny image into a flexible-input model
    ("deeply nested config", "keras_file", "model.keras", lambda: _keras_config(lambda t: "[" * 50000 + "]" * 50000),
     (CLEAR, "nests deeper than 200 levels")),
    ("input dimension 32e9", "keras_file", "model.keras",
     lambda: _keras_config(lambda t: t.replace("[null, 16, 16, 1]", "[null, 16, 16, 32000000000]")),
     (CLEAR, "32000000000")),
    ("wrong type in config", "keras_file", "model.keras",
     lambda: _keras_config(lambda t: t.replace('"module": "keras.layers"', '"module": 5', 1)),
     (CLEAR, "(AttributeError")),
    ("deeply nested class names", "keras_file", "model.classes.json", lambda: b"[" * 100000 + b"]" * 100000,
     (CLEAR, "nested too deep")),
    ("class names with a 5000-digit number", "keras_file", "model.classes.json", lambda: b"[" + b"1" * 5000 + b"]",
     (CLEAR, "model.classes.json: not a JSON list of class names (Exceeds the limit")),
    ("1x1 image, flexible model", "predict_image", "images/1.png", lambda: _encode(Image.new("L", (1, 1)), "PNG"),
     (LOADED, "cannot take a 1x1 image")),
    # 6. damaged checkpoint folders
    ("state: wrong type", "checkpoint", STATE, lambda: _state(phase="two"), (CLEAR, "phase='two'")),
    ("state: missing key", "checkpoint", STATE, lambda: _state(run=KeyError), (CLEAR, "keys missing: ['run']")),
    ("state: extra key", "checkpoint", STATE, lambda: _state(colour=1), (CLEAR, "keys unknown: ['colour']")),
    ("state: deep nesting", "checkpoint", STATE, lambda: b'{"format": 2, "run": ' + b"[" * 100000 + b"]" * 100000
     + b"}", (CLEAR, "nested too deep")),
    ("state: a 5000-digit number", "checkpoint", STATE, lambda: b'{"format": ' + b"1" * 5000 + b"}",
     (CLEAR, "state.json is not a run state written by transfer.fine_tune (Exceeds the limit")),
    ("state: counters of another type", "checkpoint", STATE,
     lambda: _state(early_stopping={"wait": "x"}), (CLEAR, "early_stopping=")),
    ("state: resume_file outside the folder", "checkpoint", STATE, lambda: _state(resume_file="../../x.npz"),
     (CLEAR, "resume_file=")),
    ("npz: no model key", "checkpoint", NPZ, lambda: _npz({"optimizer/0": np.zeros(2, np.float32)}),
     (CLEAR, "no model weights")),
    ("npz: not a zip", "checkpoint", NPZ, lambda: _seed("checkpoint", NPZ)[:5000], (CLEAR, "resume-0004.npz")),
    ("npz: object array", "checkpoint", NPZ, lambda: _npz({"model/0": np.array([None, 1], object)}, True),
     (CLEAR, "dtype object refused")),
    ("npz: header claims 10**10 elements", "checkpoint", NPZ, _npz_huge_header, (CLEAR, "header declares")),
]

from tests.fuzz.known_doors import DOORS  # noqa: E402  (issue 27: timm folders, artifacts, special files, resume)

KNOWN += DOORS
