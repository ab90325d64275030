"""The public API promised in the design: every name exists and is documented.

Other tools import these names from ``lessonlib`` directly; renaming one
breaks them, so this file pins the list.
"""

import inspect
import re

import pytest
from numpydoc.docscrape import get_doc_object
from numpydoc.validate import validate

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


# Every public function and class of the package, found rather than listed, so that a
# new public name is validated too; FUNCTIONS and CLASSES above are among them.
PUBLIC = sorted(
    name for name, obj in vars(lessonlib).items()
    if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
    and obj.__module__.startswith("lessonlib")
)

# The numpydoc.validate codes every public docstring must pass: it parses as numpydoc,
# has a one-line summary, documents every parameter (in order, with a type) and what is
# returned. The others are left out on purpose:
#   ES01 EX01 SA01-SA04  extended summary, Examples, See Also: welcome, not required;
#   PR07 RT03            a description under every parameter and return: a typed name
#                        such as ``dx : ndarray of shape (N, C, H, W)`` already says it all;
#   RT02                 the project names its return values (``out : ndarray of shape
#                        ...``), as the numpydoc standard allows, which RT02 refuses;
#   SS05                 "infinitive verb" is a heuristic (a first word ending in s): it
#                        flags noun-phrase summaries such as "Gradients of conv2d ..."
#                        and passes others ("The 5,000 real MNIST digits ...");
#   PR08 PR09 RT04 RT05  capital letter and full stop of each description: punctuation.
NUMPYDOC_CODES = {
    "GL01", "GL02", "GL03", "GL05", "GL06", "GL07", "GL08", "GL10",  # form and sections
    "SS01", "SS02", "SS03", "SS04", "SS06",                          # a one-line summary
    "PR01", "PR02", "PR03", "PR04", "PR05", "PR06", "PR10",          # every parameter, typed
    "RT01", "YD01",                                   # a Returns (Yields) section if any
}
# Public methods (forward, backward, step...) are validated for what they write, not for
# completeness: their one-line docstrings ("Apply conv2d.") point to the function, whose
# docstring is validated in full.
METHOD_CODES = NUMPYDOC_CODES - {"GL08", "PR01", "RT01"}

# The project's own rule, on top of numpydoc (two local codes, same form):
#   SH01  an array function of the design says a shape in numpydoc form, "of shape (...)";
#   SH02  every parameter or return typed as an array gives its shape (in its type or its
#         description: "of shape (N, C, H, W)", "of any shape", "of the same shape").
SHAPE_FREE = SHAPELESS | {"load_digits", "load_photo"}
ARRAY_TYPE = re.compile(r"\b(ndarray|array_like)\b")


def docstring_errors(obj, codes=NUMPYDOC_CODES, needs_shape=False):
    """The ``(code, message)`` pairs ``obj``'s docstring fails: ``codes``, SH01, SH02."""
    doc = get_doc_object(obj)
    errors = [(code, msg) for code, msg in validate(doc)["errors"] if code in codes]
    if needs_shape and not re.search(r"of shape \(", inspect.getdoc(obj) or ""):
        errors.append(("SH01", "No shape in numpydoc form (of shape (...)) in the docstring"))
    for section in ("Parameters", "Returns"):
        for item in doc[section]:
            if ARRAY_TYPE.search(item.type) and "shape" not in item.type + " ".join(item.desc):
                errors.append(("SH02", f"{section[:-1]} {item.name or item.type!r} is an "
                                       f"array whose shape is not given"))
    return errors


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_a_valid_numpydoc_docstring_with_shapes(name):
    needs_shape = name in FUNCTIONS and name not in SHAPE_FREE
    assert docstring_errors(getattr(lessonlib, name), needs_shape=needs_shape) == []


def test_every_pinned_name_is_validated():
    assert set(FUNCTIONS + CLASSES) <= set(PUBLIC)


@pytest.mark.parametrize("name", [n for n in PUBLIC if inspect.isclass(getattr(lessonlib, n))])
def test_public_methods_write_valid_numpydoc(name):
    cls = getattr(lessonlib, name)
    methods = [m for m, f in vars(cls).items() if not m.startswith("_") and inspect.isfunction(f)]
    assert {m: docstring_errors(getattr(cls, m), METHOD_CODES) for m in methods} \
        == {m: [] for m in methods}


# Negative controls: each bad docstring is caught, by the code that names its fault.
def _codes(obj, needs_shape=True):
    return {code for code, _ in docstring_errors(obj, needs_shape=needs_shape)}


def test_negative_control_an_undocumented_function_is_caught():
    def conv2d(x, weight):
        return x

    assert "GL08" in _codes(conv2d)


def test_negative_control_an_undocumented_parameter_is_caught():
    def linear(x, weight, bias):
        """Return ``x @ weight.T + bias``.

        Parameters
        ----------
        x : ndarray of shape (N, D_in)
        weight : ndarray of shape (D_out, D_in)

        Returns
        -------
        ndarray of shape (N, D_out)
        """
        return x @ weight.T + bias

    assert _codes(linear) == {"PR01"}


def test_negative_control_an_untyped_parameter_is_caught():
    def conv2d_backward(dout, x, weight, stride=1):
        """Return the gradients of conv2d.

        Parameters
        ----------
        dout : ndarray of shape (N, C_out, Ho, Wo)
        x : ndarray of shape (N, C_in, H, W)
        weight : ndarray of shape (C_out, C_in, kH, kW)
        stride
            As given to conv2d.

        Returns
        -------
        dx : ndarray of shape (N, C_in, H, W)
        """
        return dout

    assert _codes(conv2d_backward) == {"PR04"}


def test_negative_control_a_missing_returns_section_is_caught():
    def relu(x):
        """Return ``max(x, 0)`` elementwise.

        Parameters
        ----------
        x : ndarray of shape (N, ...)
        """
        return x * (x > 0)

    assert _codes(relu) == {"RT01"}


def test_negative_control_a_docstring_without_shapes_is_caught():
    def relu(x):
        """Return ``max(x, 0)`` elementwise.

        Parameters
        ----------
        x : ndarray
            The input.

        Returns
        -------
        ndarray
        """
        return x * (x > 0)

    assert _codes(relu) == {"SH01", "SH02"}
    assert _codes(relu, needs_shape=False) == {"SH02"}


@pytest.mark.parametrize("name,params", sorted(SIGNATURES.items()))
def test_signatures_follow_the_design(name, params):
    got = list(inspect.signature(getattr(lessonlib, name)).parameters)[: len(params)]
    assert got == params
