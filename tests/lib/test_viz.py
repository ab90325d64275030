"""The figures of assignments 01-04 draw what they claim, without a display."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from lessonlib import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + \
        [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]


def test_show_values_writes_every_value_in_its_cell():
    fig = viz.show_values(np.array([[1.0, 2.0], [3.0, 4.5]]))
    assert sorted(_texts(fig)[:4]) == ["1", "2", "3", "4.5"]


def test_show_values_text_is_readable_on_dark_and_light_cells():
    fig = viz.show_values(np.array([[0.0, 1.0]]), cmap="gray")
    colours = [t.get_color() for t in fig.axes[0].texts]
    assert colours == ["white", "black"]  # black cell -> white text, white cell -> black


def test_sliding_window_shows_the_output_size_of_the_formula():
    fig = viz.plot_sliding_window(n=7, kernel_size=3, stride=2, padding=1)
    assert any("= 4" in t and "output" not in t for t in _texts(fig))
    assert "output 4x4" in _texts(fig)


def test_sliding_window_hatches_what_no_window_reaches():
    def hatched(fig):
        return sum(1 for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_hatch())

    assert hatched(viz.plot_sliding_window(n=8, kernel_size=3, stride=2)) == 15  # last row + col
    assert hatched(viz.plot_sliding_window(n=7, kernel_size=3, stride=2)) == 0


def test_sliding_window_survives_a_kernel_that_does_not_fit():
    fig = viz.plot_sliding_window(n=3, kernel_size=3, dilation=3)
    assert "no output" in _texts(fig)


def test_coverage_counts_windows_per_pixel():
    fig = viz.plot_coverage(4, 3, paddings=(0,))
    values = [t.get_text() for t in fig.axes[0].texts]
    assert values[0] == "1" and values[5] == "4"  # corner read once, inner pixel by 4 windows


def test_explorer_is_a_static_figure_without_widgets():
    fig = viz.sliding_window_explorer(interactive=False)
    assert isinstance(fig, matplotlib.figure.Figure)


def test_explorer_widget_carries_a_png_for_viewers_without_widgets():
    box = viz.sliding_window_explorer(n=6, kernel_size=2, interactive=True)
    bundle = box._repr_mimebundle_()
    assert "image/png" in bundle and "text/plain" in bundle
    sliders = [w for row in box.children[:2] for w in row.children]
    sliders[2].value = 2  # stride: redraws without error
    assert {s.description for s in sliders} >= {"kernel", "stride", "padding", "dilation"}


def test_explorer_is_static_under_nbgrader(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert isinstance(viz.sliding_window_explorer(), matplotlib.figure.Figure)


@pytest.mark.parametrize("draw", [
    lambda: viz.show_images([np.ones((4, 5)), -np.ones((4, 5))], ["a", "b"], same_scale=True),
    lambda: viz.show_images([np.zeros((4, 5, 3))] * 3, ncols=2),
    lambda: viz.plot_correlation_step(np.eye(4), np.ones((2, 2)), np.ones((3, 3)), 1, 1),
    lambda: viz.plot_signals({"x": np.arange(5.0), "y": (2, np.ones(3))}, stems=("x",)),
    lambda: viz.plot_connectivity(6, 3),
    lambda: viz.plot_pooling(np.arange(16.0).reshape(4, 4), np.ones((2, 2))),
    lambda: viz.plot_activation(np.tanh, "tanh"),
    lambda: viz.plot_bars(["a", "b"], [10, 10_000]),
    lambda: viz.plot_curves(np.arange(3), {"a": [0, 1, 2]}, "x", "y"),
])
def test_every_figure_draws(draw):
    fig = draw()
    assert isinstance(fig, matplotlib.figure.Figure)
    fig.canvas.draw()


def test_connectivity_counts_the_weights():
    fig = viz.plot_connectivity(8, 3)
    titles = [ax.get_title() for ax in fig.axes]
    assert "48 weights" in titles[0] and "3 weights" in titles[1]
