"""Kaggle's facial-keypoints CSV files, plain or zipped, read with every error naming file, line and column.

Kaggle ships ``training.zip``, ``test.zip`` and ``IdLookupTable.csv``; each zip
holds one CSV. :func:`read_rows` accepts the CSV, the zip, or the folder that
holds either, and reads text as UTF-8 with or without a byte-order mark (Excel
writes one). A row whose field count differs from the header's (a download cut
mid-row, a row without its ``Image``) is an error, not a skipped row: a damaged
file should be fetched again rather than trained on in part.

Example:
    >>> path = os.path.join(tmp, "t.csv")
    >>> _ = open(path, "w", encoding="utf-8-sig").write("ImageId,Image\\n1,0 255\\n")
    >>> where, header, rows = read_rows(path, "t.csv")
    >>> header, rows
    (['ImageId', 'Image'], [(2, ['1', '0 255'])])
"""

import csv
import io
import math
import os
import zipfile

import numpy as np

from datasets.damaged import archive_errors, looks_like_zip

IMAGE_SIZE = 96
KAGGLE_PAGE = "https://www.kaggle.com/c/facial-keypoints-detection/data"
MAX_COORDINATE = 10 * IMAGE_SIZE  # a sane bound on pixel coordinates; 1e9 is a broken file, not a face


def _find(path, filename):
    """``path`` (the CSV, its zip, or a folder with either) -> the file to open."""
    path = os.path.expanduser(os.fspath(path))
    if os.path.isdir(path):
        for name in (filename, os.path.splitext(filename)[0] + ".zip"):
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        path = os.path.join(path, filename)
    if not os.path.isfile(path):
        zipped = os.path.splitext(filename)[0] + ".zip"
        raise FileNotFoundError(
            f"{filename} (or {zipped}) not found. It is not downloaded for you (Kaggle asks for an account): "
            f"get {zipped} from {KAGGLE_PAGE}, put it in a folder and pass that folder's path. "
            f"Received: {path!r}.")
    return path


_MAX_MEMBER = 1 << 30  # the real training.csv is 230 MB; a zip member declaring more is not one (or a bomb)


def _open_text(path, filename):
    """-> (name for errors, text stream). A zip is read in place: its one CSV member is opened."""
    if not looks_like_zip(path):
        return path, open(path, encoding="utf-8-sig", newline="")
    with archive_errors(path):
        zf = zipfile.ZipFile(path)
        members = [m for m in zf.namelist() if m.lower().endswith(".csv") and not m.startswith("__MACOSX")]
        wanted = [m for m in members if os.path.basename(m) == filename] or members
        if len(wanted) != 1:
            zf.close()
            raise ValueError(f"{path}: expected one CSV member ({filename}). Received members: {zf.namelist()}.")
        size = zf.getinfo(wanted[0]).file_size
        if size > _MAX_MEMBER:
            zf.close()
            raise ValueError(f"{path}: {wanted[0]} declares {size} bytes; {filename} is far smaller "
                             f"(at most {_MAX_MEMBER}). A damaged or hostile archive?")
        return f"{path}: {wanted[0]}", io.TextIOWrapper(zf.open(wanted[0]), encoding="utf-8-sig", newline="")


def read_rows(path, filename):
    """Read a CSV (or its zip) -> ``(where, header, [(line number, fields)])``, blank lines dropped.

    ``where`` names the file (and zip member) for error messages. Every row must
    have as many fields as the header.

    Example:
        >>> _ = open("cut.csv", "w").write("ImageId,Image\\n1,0 0\\n2\\n")
        >>> read_rows("cut.csv", "cut.csv")
        Traceback (most recent call last):
        ...
        ValueError: cut.csv line 3: 1 fields, but the header has 2 (a row without its Image field, or a file cut short?).
    """
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 20))  # an Image field is ~35 kB
    where, stream = _open_text(_find(path, filename), filename)
    reader = None
    try:
        with archive_errors(where), stream:
            reader = csv.reader(stream)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{where} is empty.")
            header = [h.strip() for h in header]
            rows = [(reader.line_num, r) for r in reader if r]
    except UnicodeDecodeError as e:
        raise ValueError(f"{where} is not UTF-8 text (byte {e.start}: {e.reason}); save it as CSV UTF-8.") from None
    except csv.Error as e:  # e.g. one stray quote: the field runs on to the end of the file
        line = reader.line_num if reader is not None else 1
        raise ValueError(f"{where} line {line}: not a readable CSV row ({e}); a stray quote (\") that opens "
                         f"a field which never closes?") from None
    for line, r in rows:
        if len(r) != len(header):
            raise ValueError(f"{where} line {line}: {len(r)} fields, but the header has {len(header)} "
                             f"(a row without its Image field, or a file cut short?).")
    return where, header, rows


def require_columns(where, header, columns):
    """The index of each of ``columns`` in ``header``; ValueError naming the missing ones.

    Example:
        >>> require_columns("t.csv", ["ImageId", "Image"], ["Image"])
        [1]
    """
    missing = [c for c in columns if c not in header]
    if missing:
        raise ValueError(f"{where} lacks the columns {missing}. Received header: {header}.")
    return [header.index(c) for c in columns]


def parse_coordinates(rows, cols, header, where):
    """Keypoint fields -> float32 (N, len(cols)) pixels, NaN where a field is empty.

    Example:
        >>> parse_coordinates([(2, ["30.5", ""])], [0, 1], ["nose_tip_x", "nose_tip_y"], "t.csv")
        array([[30.5,  nan]], dtype=float32)
        >>> parse_coordinates([(2, ["inf", ""])], [0, 1], ["nose_tip_x", "nose_tip_y"], "t.csv")
        Traceback (most recent call last):
        ...
        ValueError: t.csv line 2, column nose_tip_x: a keypoint must be a finite pixel coordinate ... Received: inf
    """
    out = np.full((len(rows), len(cols)), np.nan, np.float32)
    for i, (line, r) in enumerate(rows):
        for j, c in enumerate(cols):
            text = r[c].strip()
            if not text:
                continue  # Kaggle's missing value
            try:
                v = float(text)
            except ValueError:
                v = None
            if v is None or not math.isfinite(v) or abs(v) > MAX_COORDINATE:
                raise ValueError(f"{where} line {line}, column {header[c]}: a keypoint must be a finite pixel "
                                 f"coordinate within +-{MAX_COORDINATE}, or empty when missing. "
                                 f"Received: {text[:40]}")
            out[i, j] = v
    return out


def parse_images(rows, col, where):
    """``Image`` fields (9216 space-separated 0-255 values) -> float32 (N, 96, 96, 1) in [0, 1].

    Example:
        >>> parse_images([(2, ["7", " ".join(["255"] * 9216)])], 1, "t.csv").shape
        (1, 96, 96, 1)
    """
    n_pixels = IMAGE_SIZE * IMAGE_SIZE
    if not rows:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 1), np.float32)
    try:
        # numpy's C text reader parses all rows in one call, ~50x faster than int() per value.
        text = io.StringIO("\n".join(r[col].strip() for _, r in rows))
        pixels = np.loadtxt(text, dtype=np.float32, ndmin=2)
    except ValueError:
        pixels = None
    if pixels is None or pixels.shape != (len(rows), n_pixels):
        for line, r in rows:  # the slow path, only to name the first bad row
            values = r[col].split()
            if len(values) != n_pixels:
                raise ValueError(f"{where} line {line}, column Image: {n_pixels} pixel values (96x96) are "
                                 f"needed. Received: {len(values)} (a file cut short?).")
            for j, v in enumerate(values):
                try:
                    float(v)
                except ValueError:
                    raise ValueError(f"{where} line {line}, column Image (pixel {j}): pixel values must be "
                                     f"0-255. Received: {v[:40]}") from None
        raise ValueError(f"{where}: the Image column could not be read as {n_pixels} numbers per row.")
    bad = ~((pixels >= 0) & (pixels <= 255))  # NaN is bad too
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"{where} line {rows[i][0]}, column Image (pixel {j}): pixel values must be 0-255. "
                         f"Received: {pixels[i, j]:g}")
    return (pixels / 255.0).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)
