"""The public API promised in the design: every name exists and is documented.

Other tools import these names from ``lessonlib`` directly; renaming one
breaks them, so this file pins the list.
"""

import inspect
import re

import pytest

import lessonlib

FUNCTIONS = [
    "conv_output_size", "conv_transpose_output_size", "pad2d",
    "convolve1d", "correlate1d", "conv2d", "conv_transpose2d",
    "max_pool2d", "avg_pool2d", "relu", "flatten", "linear",
    "softmax", "log_softmax", "cross_entropy",
    "conv2d_backward", "conv_transpose2d_backward", "max_pool2d_backward",
    "avg_pool2d_backward", "relu_backward", "linear_backward",
    "cross_entropy_backward", "load_digits", "load_photo", "train_val_split",
    "load_mnist", "make_lenet5", "make_mlp", "train_mnist", "shift_images", "random_shifts",
    "shifted_accuracy",
    "batch_norm2d", "batch_norm2d_backward", "dropout", "dropout_backward",
    "momentum_step", "adam_step", "fan_in", "kaiming_normal", "naive_normal",
    "init_model", "activation_stats",
]
CLASSES = [
    "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "ReLU", "Flatten",
    "Linear", "Sequential", "CrossEntropyLoss", "SGD",
    "BatchNorm2d", "Dropout", "Adam",
]
# Array-valued functions document shapes in numpydoc form: "of shape (...)".
SHAPELESS = {"conv_output_size", "conv_transpose_output_size"}

# Parameter names (in order) that the design fixes for each function.
SIGNATURES = {
    "conv_output_size": ["n", "kernel_size", "stride", "padding", "dilation"],
    "conv_transpose_output_size": ["n", "kernel_size", "stride", "padding",
                                   "output_padding", "dilation"],
    "pad2d": ["x", "padding", "value"],
    "conv2d": ["x", "weight", "bias", "stride", "padding", "dilation", "groups"],
    "conv_transpose2d": ["x", "weight", "bias", "stride", "padding", "output_padding",
                         "groups", "dilation"],
    "max_pool2d": ["x", "kernel_size", "stride", "padding"],
    "avg_pool2d": ["x", "kernel_size", "stride", "padding"],
    "linear": ["x", "weight", "bias"],
    "softmax": ["z", "axis"],
    "log_softmax": ["z", "axis"],
    "cross_entropy": ["logits", "targets"],
    "conv2d_backward": ["dout", "x", "weight", "stride", "padding", "dilation", "groups"],
    "max_pool2d_backward": ["dout", "x", "kernel_size", "stride", "padding"],
    "avg_pool2d_backward": ["dout", "x", "kernel_size", "stride", "padding"],
    "relu_backward": ["dout", "x"],
    "linear_backward": ["dout", "x", "weight"],
    "cross_entropy_backward": ["logits", "targets"],
    "batch_norm2d": ["x", "gamma", "beta", "running_mean", "running_var", "training",
                     "momentum", "eps"],
    "batch_norm2d_backward": ["dout", "x", "gamma", "eps"],
    "dropout": ["x", "p", "training", "rng"],
    "dropout_backward": ["dout", "mask", "p"],
    "momentum_step": ["param", "grad", "velocity", "lr", "momentum"],
    "adam_step": ["param", "grad", "m", "v", "t", "lr", "betas", "eps"],
    "fan_in": ["shape"],
    "kaiming_normal": ["shape", "rng", "gain", "dtype"],
    "naive_normal": ["shape", "std", "rng", "dtype"],
    "init_model": ["model", "scheme", "rng"],
    "activation_stats": ["model", "x"],
    "train_val_split": ["X", "y", "n_val", "rng"],
}


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES)
def test_public_name_is_importable_from_the_package(name):
    assert hasattr(lessonlib, name), f"lessonlib.{name} is missing from the public API"


def docstring_problems(obj, needs_shape):
    """What is missing from ``obj``'s docstring: an empty list if nothing."""
    doc = inspect.getdoc(obj) or ""
    problems = []
    if len(doc.splitlines()) < 3:
        problems.append("no real docstring")
    if inspect.isfunction(obj) and inspect.signature(obj).parameters \
            and "Parameters\n----------" not in doc:
        problems.append("no numpydoc Parameters section")
    if needs_shape and not re.search(r"of shape \(", doc):
        problems.append("no shape in the docstring")
    return problems


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES)
def test_public_name_has_a_numpydoc_docstring_with_shapes(name):
    needs_shape = name in FUNCTIONS and name not in SHAPELESS | {"load_digits", "load_photo"}
    assert docstring_problems(getattr(lessonlib, name), needs_shape) == []


def test_negative_control_an_undocumented_function_is_caught():
    def conv2d(x, weight):
        """Convolve."""

    def relu(x):
        """Rectify.

        Parameters
        ----------
        x : ndarray
        """

    assert "no real docstring" in docstring_problems(conv2d, True)
    assert docstring_problems(relu, True) == ["no shape in the docstring"]


@pytest.mark.parametrize("name,params", sorted(SIGNATURES.items()))
def test_signatures_follow_the_design(name, params):
    got = list(inspect.signature(getattr(lessonlib, name)).parameters)[: len(params)]
    assert got == params
