"""The one plotting helper: PNG at >= 150 dpi plus SVG, atomic, no global state left behind."""

import matplotlib
import pytest
from PIL import Image

from qlatent.experiments.plotting import DPI, figure, save_figure


def _draw(path):
    with figure(path, ncols=2, figsize=(4, 2)) as (fig, axes):
        assert axes.shape == (1, 2)
        axes[0][0].plot([0, 1], [1, 0])
        axes[0][1].bar([0, 1], [2, 3])
        axes[0][1].set_title("bars")
    return fig


def test_figure_writes_png_at_150_dpi_and_svg_and_leaves_rcparams_alone(tmp_path):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    _draw(tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as image:
        assert min(image.info["dpi"]) == pytest.approx(DPI, abs=0.5) and DPI >= 150
    svg = (tmp_path / "a.svg").read_text()
    assert "<svg" in svg and ">bars<" in svg  # text kept as text
    assert dict(matplotlib.rcParams) == before and matplotlib.get_backend() == backend
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg"]  # no temp files


def test_the_same_figure_gives_the_same_svg_bytes(tmp_path):
    _draw(tmp_path / "a.png")
    _draw(tmp_path / "b.png")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_a_failing_block_writes_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), figure(tmp_path / "c.png"):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_named(tmp_path):
    fig = _draw(tmp_path / "a.png")
    with pytest.raises(ValueError, match="dpi"):
        save_figure(fig, tmp_path / "d.png", dpi=100)
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, tmp_path / "d.png", formats=("png", "jpg"))
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, tmp_path / "d.png", formats="png")
    with pytest.raises(ValueError, match="nrows"):
        with figure(tmp_path / "e.png", nrows=0):
            pass
    paths = save_figure(fig, tmp_path / "f.png", formats=("png", "pdf"))
    assert [p.name for p in paths] == ["f.png", "f.pdf"]
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
