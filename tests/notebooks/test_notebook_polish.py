"""Facts fixed after a read of the notebooks as a student: they stay fixed.

Fast: no notebook is executed. The figure tests call the viz functions the
notebooks call; the text tests read the solution notebooks' sources.
"""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

from lessonlib import viz  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = {
    1: "01_convolution/convolution", 2: "02_padding_stride/padding_stride",
    3: "03_channels/channels", 4: "04_relu_pooling/relu_pooling",
    5: "05_classifier/classifier", 6: "06_backprop/backprop", 7: "07_lenet/lenet",
    8: "08_beyond/beyond", 9: "09_training/training",
}
DIVERGING = {"RdBu_r", "RdBu", "bwr", "coolwarm", "seismic", "PiYG", "PRGn", "BrBG", "PuOr",
             "RdGy", "RdYlBu", "RdYlGn", "Spectral"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _cells(n, folder="solutions"):
    nb = json.loads((ROOT / folder / f"{NOTEBOOKS[n]}.ipynb").read_text(encoding="utf-8"))
    return [("".join(c["source"]), c) for c in nb["cells"]]


def _markdown(n):
    return "\n".join(s for s, c in _cells(n) if c["cell_type"] == "markdown")


def _code(n):
    """The code of the demo cells (neither solution nor grade cells)."""
    out = []
    for s, c in _cells(n):
        meta = c.get("metadata", {}).get("nbgrader", {})
        if c["cell_type"] == "code" and not meta.get("solution") and not meta.get("grade"):
            out.append(s)
    return "\n".join(out)


# ------------------------------------------------------------ signed maps
def _centred_diverging(im):
    """The AxesImage uses a diverging map with white at 0: symmetric limits or TwoSlopeNorm."""
    if im.get_cmap().name not in DIVERGING:
        return False
    norm = im.norm
    if isinstance(norm, TwoSlopeNorm):
        return norm.vcenter == 0
    return norm.vmin is not None and np.isclose(norm.vmin, -norm.vmax) and norm.vmax > 0


def _has_colorbar(fig, im):
    return getattr(im, "colorbar", None) is not None and im.colorbar.ax in fig.axes


def _signed_images(fig):
    return [im for ax in fig.axes for im in ax.images if im.get_array().min() < 0]


@pytest.fixture
def signed():
    rng = np.random.default_rng(0)
    return rng.normal(size=(6, 7)) + 0.5       # negative and positive, not symmetric


def test_show_images_draws_signed_maps_centred_with_a_colorbar(signed):
    fig = viz.show_images([np.abs(signed), signed], ["unsigned", "signed"])
    ims = _signed_images(fig)
    assert len(ims) == 1
    assert _centred_diverging(ims[0]) and _has_colorbar(fig, ims[0])
    unsigned = fig.axes[0].images[0]
    assert unsigned.get_cmap().name == "gray" and getattr(unsigned, "colorbar", None) is None


def test_show_images_signed_flag_and_same_scale_stay_centred(signed):
    fig = viz.show_images([signed, 3 * signed], signed=True, same_scale=True)
    ims = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(ims) == 2 and all(_centred_diverging(im) and _has_colorbar(fig, im) for im in ims)
    assert ims[0].norm.vmax == ims[1].norm.vmax == pytest.approx(np.abs(3 * signed).max())


def test_correlation_step_draws_kernel_and_feature_map_centred_with_colorbars():
    image = np.arange(25.0).reshape(5, 5) % 7
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)
    fmap = np.array([[-4.0, -15, -18], [-18, 15, -7], [8, -7, 17]])
    fig = viz.plot_correlation_step(image, kernel, fmap, row=1, col=2)
    ims = _signed_images(fig)
    assert len(ims) == 2                                  # the kernel and the feature map
    assert all(_centred_diverging(im) and _has_colorbar(fig, im) for im in ims)


def test_show_values_signed_is_centred(signed):
    fig = viz.show_values(signed, signed=True, colorbar=True)
    im = fig.axes[0].images[0]
    assert _centred_diverging(im) and _has_colorbar(fig, im)


def test_plot_filters_draws_kernels_centred(signed):
    fig = viz.plot_filters(np.stack([signed[:3, :3], -2 * signed[:3, :3]])[:, None], ncols=2)
    ims = _signed_images(fig)
    assert len(ims) == 2 and all(_centred_diverging(im) for im in ims)


def test_negative_control_a_non_centred_figure_fails_the_checks(signed):
    """The checks above can fail: a viridis map, or RdBu_r with limits not around 0."""
    fig, (a1, a2) = plt.subplots(1, 2)
    plain = a1.imshow(signed, cmap="viridis")
    skewed = a2.imshow(signed, cmap="RdBu_r", vmin=signed.min(), vmax=signed.max())
    assert not _centred_diverging(plain)
    assert not _centred_diverging(skewed)
    assert not _has_colorbar(fig, skewed)
    fig.colorbar(skewed, ax=a2)
    assert _has_colorbar(fig, skewed)


# ------------------------------------------------------------ digit grids
def _overlaps(fig):
    """Pairs (title, image axes) whose boxes overlap, in display coordinates."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    images = [ax.get_window_extent(renderer) for ax in fig.axes if ax.images]
    bad = []
    for t in titles:
        for box in images:
            inter_h = min(t.y1, box.y1) - max(t.y0, box.y0)
            inter_w = min(t.x1, box.x1) - max(t.x0, box.x0)
            if inter_h > 0.5 and inter_w > 0.5:
                bad.append((t, box))
    return bad


@pytest.mark.parametrize("n, ncols, size", [(20, 10, 1.1), (1, 1, 1.8), (12, 6, 1.1)])
def test_digit_grid_titles_do_not_cover_the_images(n, ncols, size):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (n, 1, 8, 8))
    labels = np.arange(n) % 10
    fig = viz.plot_digits(images, labels, (labels + 1) % 10, ncols=ncols, size=size,
                             title="a grid of digits")
    assert not _overlaps(fig)


def test_plot_history_draws_validation_accuracy():
    fig = viz.plot_history({"loss": [2.0, 1.0], "train_acc": [0.5, 0.9], "val_acc": [0.4, 0.8]})
    labels = [line.get_label() for line in fig.axes[1].lines]
    assert labels == ["train", "validation"]


# ------------------------------------------------------------ the texts
def test_every_notebook_title_is_assignment_n_colon_topic():
    for n in NOTEBOOKS:
        for folder in ("solutions", "course"):
            first, cell = _cells(n, folder)[0]
            assert cell["cell_type"] == "markdown"
            title = first.splitlines()[0]
            assert re.fullmatch(rf"# Assignment {n}: \S.*", title), (folder, n, title)
            assert "**How this notebook works.**" in first, (folder, n)


def test_exercise_headings_share_one_style():
    for n in NOTEBOOKS:
        headings = [line for line in _markdown(n).splitlines() if "xercise" in line
                    and line.startswith("#")]
        assert headings, n
        for k, line in enumerate(headings, start=1):
            assert re.fullmatch(rf"### Exercise {k} \(\d+ points?\): .+", line), (n, line)


def test_release_stubs_are_the_nbgrader_stub():
    for n in NOTEBOOKS:
        for source, cell in _cells(n, "course"):
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                assert re.search(r"# YOUR CODE HERE\n\s*raise NotImplementedError\(\)", source), n


def test_lenet_digits_were_written_by_13_people():
    text = _markdown(7)
    assert re.search(r"written\s+by 13 people", text)
    assert not re.search(r"\b43\b", text)


def test_lenet_progress_bar_is_tqdm_auto():
    code = _code(7)
    assert "from tqdm.auto import tqdm" in code
    assert not re.search(r"^from tqdm import tqdm", code, flags=re.M)


def test_lenet_plots_validation_not_test_accuracy_during_training():
    code = _code(7)
    cell = next(s for s, _ in _cells(7) if "for epoch in progress:" in s)
    loop = cell[cell.index("for epoch in progress:"):]
    assert "X_val" in loop and "val_acc" in loop
    assert "X_test" not in loop and "test_acc" not in loop
    assert 'history = {"loss": [], "train_acc": [], "val_acc": []}' in code
    # the validation set is carved out of the training set with a fixed seed
    assert re.search(r'load_digits\("train"\)', code)
    assert "np.random.default_rng(0).permutation" in code
    assert code.count("accuracy(model(X_test), y_test)") == 1      # the test set, once


def test_lenet_grading_run_is_short_and_student_run_is_full():
    code = _code(7)
    assert 'os.environ.get("NBGRADER_EXECUTION")' in code
    assert 'os.environ.get("LESSONLIB_GRADING")' in code      # what the sandbox sets
    assert "EPOCHS = 2 if GRADING else 20" in code
    text = _markdown(7)
    assert "NBGRADER_EXECUTION" in text and "two epochs" in text


def test_lenet_fully_connected_comparison_starts_from_16x4x4():
    text = _markdown(7)
    assert "16 x 4 x 4" in text and "131,072" in text
    assert "16 x 8 x 8 volume to a 32 x 4 x 4" not in text
    assert "shapes[3], shapes[4]" in _code(7)


def test_beyond_comment_has_the_real_photo_shape():
    import lessonlib

    shape = lessonlib.load_photo(gray=True, size=128)[None, None].shape
    code = "\n".join(s for s, _ in _cells(8))
    assert f"# {shape}" in code and shape == (1, 1, 150, 128)
    assert "(1, 1, 149, 128)" not in code


def test_classifier_shift_claim_is_not_a_few_pixels_change_little():
    text = _markdown(5)
    assert "changes little when the object moves by a few pixels" not in text
    assert "single\n  pixel" in text or "single pixel" in text


def test_backprop_planted_bug_is_not_the_max_pool_answer():
    code = _code(6)
    assert "buggy_max_pool2d_backward" not in code
    assert "def buggy_moving_sum_backward" in code


def test_channels_explains_the_zero_padding_border():
    sources = [s for s, _ in _cells(3)]
    k = next(i for i, s in enumerate(sources) if "bright border" in s)
    assert "zeros" in sources[k] and 'mode="edge"' in sources[k + 1]


def test_explorer_is_static_in_the_sandboxed_grader(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("LESSONLIB_GRADING", "1")
    assert isinstance(viz.sliding_window_explorer(), matplotlib.figure.Figure)
