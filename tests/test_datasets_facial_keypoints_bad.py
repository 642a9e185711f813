"""Broken or unusual training.csv files: a clear error naming file, line and column, or the right data.

Issue 11, finding 4: a download cut mid-row or a row without its Image field raised
IndexError; a UTF-8 BOM (an Excel export) was a missing column; pixels outside
0-255 and coordinates of 1e9 or inf were accepted; Kaggle's training.zip gave a
UnicodeDecodeError.
"""

import zipfile

import numpy as np
import pytest

from datasets import facial_keypoints as fk
from test_datasets_facial_keypoints import write_training_csv


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "training.csv"
    images, values = write_training_csv(path, n=4, missing_rows=(1,))
    return path, images, values


def lines_of(path):
    return path.read_text().splitlines(keepends=True)


def test_file_cut_mid_row_names_file_and_line(csv_path):
    path, _, _ = csv_path
    text = path.read_text()
    path.write_text(text[: len(text) - 20000])  # the last row's Image field is cut short
    with pytest.raises(ValueError, match=r"training.csv line 5, column Image: .*9216") as info:
        fk.load(path)
    assert str(path) in str(info.value)


def test_file_cut_in_the_coordinates_names_file_and_line(csv_path):
    path, _, _ = csv_path
    lines = lines_of(path)
    path.write_text("".join(lines[:3]) + lines[3][:200])
    with pytest.raises(ValueError, match=r"training.csv line 4: .*fields.*31"):
        fk.load(path, complete_only=False)


def test_row_without_its_image_field(csv_path):
    path, _, _ = csv_path
    lines = lines_of(path)
    lines[2] = ",".join(lines[2].split(",")[:30]) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=r"training.csv line 3: 30 fields.*31"):
        fk.load(path, complete_only=False)


def test_utf8_bom_from_excel_is_accepted(csv_path):
    path, images, values = csv_path
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    x, k = fk.load(path)
    np.testing.assert_allclose(fk.to_pixels(k[0]), values[0], rtol=1e-5)
    assert x.shape == (3, 96, 96, 1)


@pytest.mark.parametrize("value, pattern", [("300", "0-255. Received: 300"), ("-1", "Received: -1"),
                                            ("nan", "Received: nan")])
def test_pixels_outside_0_255_name_line_and_column(csv_path, value, pattern):
    path, _, _ = csv_path
    lines = lines_of(path)
    fields = lines[3].rstrip("\n").split(",")
    pixels = fields[30].split(" ")
    pixels[100] = value
    lines[3] = ",".join(fields[:30] + [" ".join(pixels)]) + "\n"
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=rf"training.csv line 4, column Image \(pixel 100\).*{pattern}"):
        fk.load(path)


@pytest.mark.parametrize("value", ["1e9", "inf", "-inf", "nan", "abc", "-961"])
def test_coordinates_non_finite_or_far_outside_name_line_and_column(csv_path, value):
    path, _, _ = csv_path
    lines = lines_of(path)
    fields = lines[4].split(",")
    fields[21] = value  # nose_tip_y
    lines[4] = ",".join(fields)
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match=rf"training.csv line 5, column nose_tip_y.*Received: {value}"):
        fk.load(path)


def test_kaggle_training_zip_is_read_directly(csv_path, tmp_path):
    path, images, values = csv_path
    archive = tmp_path / "training.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(path, "training.csv")
    path.unlink()
    for given in (archive, tmp_path):  # the zip itself, or the folder that holds it
        x, k = fk.load(given)
        assert x.shape == (3, 96, 96, 1)
        np.testing.assert_allclose(x[0, :, :, 0], images[0].reshape(96, 96) / 255.0, rtol=1e-6)


def test_errors_inside_a_zip_name_the_zip_and_line(csv_path, tmp_path):
    path, _, _ = csv_path
    lines = lines_of(path)
    archive = tmp_path / "training.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("training.csv", "".join(lines[:3]) + lines[3][:100])
    with pytest.raises(ValueError, match=r"training.zip.*training.csv line 4"):
        fk.load(archive, complete_only=False)


def test_not_utf8_text_is_a_clear_error(tmp_path):
    (tmp_path / "training.csv").write_bytes(b"\xff\xfe" + "left_eye_center_x".encode("utf-16-le"))
    with pytest.raises(ValueError, match="training.csv.*UTF-8"):
        fk.load(tmp_path)
