"""The ``lessonlib`` a grading kernel imports: a copy without the graded references.

While assignment A is graded, the student's kernel imports an *overlay*,
a copy of the ``lessonlib`` package put first on its ``PYTHONPATH``
(:func:`build_overlay`). In it, every module that can compute a function
graded in A is replaced by a stub module: the same names, none of the
code. So a student's ``conv2d`` that returns ``lessonlib.conv2d(...)``
(under any name, through ``importlib``, ``reload``, the module's source
file, ``lessonlib.loops.conv`` or ``lessonlib.Conv2d``) gets
``lessonlib._unavailable.ReferenceUnavailable`` (a ``RuntimeError``)
instead of the answer, and the stub writes one line
``LESSONLIB-REFERENCE-CALLED <dotted name> (<where>)`` to the kernel's
stderr (file descriptor 2) before raising, so that the grader can flag
the attempt even when the student catches the exception. ``<where>`` is
``graded-call`` while the grader is calling the student's function
(:mod:`lessonlib.grading.in_kernel` is on the stack), ``check`` when a
check run in a notebook cell calls its reference, else ``notebook``: a
student who compares their function with ``lessonlib.conv2d`` in a cell
of their own is not necessarily cheating. The real code of a blocked
module is not in the overlay at all: there is nothing to recover by
reading files, ``gc`` or closures.

Which modules are blocked is decided per check (:data:`GRADED_FAMILIES`),
so adding a check to a grade cell forces a decision (a test fails until
it has an entry). Three refinements keep the notebooks working:

* :data:`DISPLAY_ORACLES`: figures and feedback helpers of modules that
  are *not* blocked but print a graded value (the sliding-window figure
  of 02 writes ``o = ... = 3`` in its title). In the overlay they draw
  nothing and return ``None``, silently: the demo cells that call them
  still run, and nothing is revealed.
* :data:`PERMITTED`: a function of a blocked module that an exercise
  tells the student to build on (08's grouped convolution is made of
  ``lessonlib.conv2d`` calls with ``groups=1``). The overlay provides a
  small independent implementation restricted to what is allowed; the
  rest raises like any stub.
* :data:`NEVER_BLOCKED`: modules the kernel side of grading needs
  (:mod:`lessonlib.grading.in_kernel`, the check machinery); no family
  may contain them.

Nothing here runs in the kernel; :func:`build_overlay` runs in the grader,
which imports the real modules to list their names.
"""

from __future__ import annotations

import __future__
import ast
import importlib
import importlib.util
import inspect
import os
import shutil
import sys
import types

__all__ = ["GRADED_FAMILIES", "DISPLAY_ORACLES", "PERMITTED", "NEVER_BLOCKED",
           "REFERENCE_MARK", "blocked_modules", "build_overlay", "overlay_plan"]

#: What a blocked reference writes to the kernel's stderr when it is called.
REFERENCE_MARK = "LESSONLIB-REFERENCE-CALLED"

# The convolution stack: whichever of these is left, the others' results follow.
#   conv            conv2d (groups, stride, padding, dilation), conv2d_backward,
#                   depthwise_separable_conv2d; output shapes are conv_output_size
#   fast.im2col     the engine conv and conv_transpose run on (forward, backward)
#   loops.conv      loop versions of conv2d, conv2d_backward, conv_transpose2d
#   conv_transpose  conv_transpose2d, the adjoint of conv2d: its backward is a conv2d
#                   forward, and conv2d_backward's dx is a conv_transpose2d
#   nn.conv         Conv2d / ConvTranspose2d, whose forward and backward are the above
_CONV = frozenset({"conv", "fast.im2col", "loops.conv", "conv_transpose", "nn.conv"})
# pooling and its loop versions (loops.pooling also holds the loop of the pooling
# gradient with switches for known mistakes that the checks of 06 build diagnoses from)
_POOL = frozenset({"pooling", "loops.pooling"})
_TRAINING = frozenset({"checks.training"})       # the checks of 09 and their references

#: Check name -> the lessonlib modules (relative to ``lessonlib``) that compute the
#: graded function, or something it follows from with no real work. The modules of
#: ``lessonlib.checks`` that hold a check's own reference computation are listed too:
#: the grading kernel never runs a check (the grader does), so it needs none of them.
GRADED_FAMILIES: dict[str, frozenset[str]] = {
    # ---------------------------------------------------------------- 01_convolution
    # signal has convolve1d / correlate1d; conv2d of a (1, 1, 1, n) signal with a
    # (1, 1, 1, k) kernel, padded k - 1, is the full 1-D correlation (flip it: convolution).
    "check_convolve1d": frozenset({"signal"}) | _CONV,
    "check_correlate1d": frozenset({"signal"}) | _CONV,
    # signal.correlate2d itself; conv2d with one channel is a 2-D correlation.
    "check_correlate2d": frozenset({"signal"}) | _CONV,
    # A kernel the student designs: lessonlib holds none to return.
    "check_vertical_edge_kernel": frozenset(),
    # -------------------------------------------------------------- 02_padding_stride
    # padding.pad2d itself; conv2d's zero padding with a 1x1 identity kernel pads too, and
    # so does signal.correlate2d(x, kernel, "full") with a one-hot corner kernel.
    "check_pad2d": frozenset({"padding", "signal"}) | _CONV,
    # arithmetic.conv_output_size itself; it is the output shape of every convolution
    # (conv's output_hw, Conv2d, the dout shape checks of the backward functions) and,
    # for the dilated span, of pooling (pooling._output_size is an lru_cache of it;
    # MaxPool2d / AvgPool2d in nn.layers). viz's sliding-window figures and the drills'
    # feedback print it too: see DISPLAY_ORACLES.
    "check_conv_output_size": frozenset({"arithmetic", "nn.layers"}) | _CONV | _POOL,
    # ------------------------------------------------------------------- 03_channels
    # conv2d itself; the exercise's check also refuses signal.correlate2d, since a
    # layer's output is a sum of per-channel correlate2d maps plus the bias.
    "check_conv2d": frozenset({"signal"}) | _CONV,
    # The same layer, vectorised: the same modules compute it.
    "check_conv2d_fast": frozenset({"signal"}) | _CONV,
    # Conv2d(in, out, k, bias=...).params holds exactly the counted arrays; the
    # check's reference is checks.channels.conv2d_param_count_reference.
    "check_conv2d_param_count": frozenset({"nn.conv", "checks.channels"}),
    # Likewise Linear(...).params (layers) and linear_param_count_reference.
    "check_linear_param_count": frozenset({"nn.layers", "checks.channels"}),
    # --------------------------------------------------------------- 04_relu_pooling
    # activations.relu (and relu_backward(x, x) == relu(x)); layers.ReLU; max pooling
    # with (1, 2) windows over x stacked with zeros is max(x, 0).
    "check_relu": frozenset({"activations", "nn.layers"}) | _POOL,
    # pooling, its loop versions, MaxPool2d / AvgPool2d (layers).
    "check_max_pool2d": frozenset({"nn.layers"}) | _POOL,
    # ... and average pooling (count_include_pad) is a depthwise conv2d with a box
    # kernel: conv2d(x, ones((C, 1, k, k)) / k**2, stride=s, padding=p, groups=C).
    "check_avg_pool2d": frozenset({"nn.layers"}) | _POOL | _CONV,
    # ----------------------------------------------------------------- 05_classifier
    # linear.flatten; layers.Flatten reshapes by itself.
    "check_flatten": frozenset({"linear", "nn.layers"}),
    # linear.linear; layers.Linear; a 1x1 conv2d of (N, in, 1, 1) is a linear layer.
    "check_linear": frozenset({"linear", "nn.layers"}) | _CONV,
    # activations.softmax; N * cross_entropy_backward(z, t) + onehot(t) is softmax
    # (losses, layers.CrossEntropyLoss); the check's _ce_backward_parts computes it.
    "check_softmax": frozenset({"activations", "losses", "nn.layers",
                                "checks.classifier"}),
    # activations.log_softmax; -cross_entropy(z[n:n+1], [c]) is log_softmax(z)[n, c];
    # the check's _ce_parts returns it.
    "check_log_softmax": frozenset({"activations", "losses", "nn.layers",
                                    "checks.classifier"}),
    # losses.cross_entropy, layers.CrossEntropyLoss; with lessonlib's log_softmax
    # (activations) only the picking and the mean would be left; _ce_parts.
    "check_cross_entropy": frozenset({"losses", "activations", "nn.layers",
                                      "checks.classifier"}),
    # losses, CrossEntropyLoss.backward; (softmax(z) - onehot) / N with lessonlib's
    # softmax (activations); _ce_backward_parts. Not gradcheck: a numerical gradient of
    # the student's own cross_entropy is the notebook's own verification (section 6).
    "check_cross_entropy_backward": frozenset({"losses", "activations", "nn.layers",
                                               "checks.classifier"}),
    # ------------------------------------------------------------------ 06_backprop
    # gradcheck.numerical_gradient (and gradcheck); the check's _exact returns the exact
    # gradient of its test function (checks.backprop; the test function itself,
    # checks.fixtures.Smooth, must reach the kernel: see NEVER_BLOCKED).
    "check_numerical_gradient": frozenset({"gradcheck", "checks.backprop"}),
    # activations.relu_backward; ReLU.backward (layers).
    "check_relu_backward": frozenset({"activations", "nn.layers"}),
    # linear.linear_backward; Linear.backward; conv2d_backward of 1x1 kernels on
    # (N, in, 1, 1) returns exactly (dx, dweight, dbias); the check's _lin_parts
    # (checks.backprop) is linear_backward.
    "check_linear_backward": frozenset({"linear", "nn.layers", "checks.backprop"})
    | _CONV,
    # pooling.max_pool2d_backward, the loop versions, MaxPool2d.backward (the loop with
    # switches the checks build diagnoses from, loops.pooling, is correct by default).
    "check_max_pool2d_backward": frozenset({"nn.layers"}) | _POOL,
    # ... the same for average pooling, which is also a depthwise box-kernel conv:
    # its gradient is conv2d_backward's dx (or a conv_transpose2d) of that kernel.
    "check_avg_pool2d_backward": frozenset({"nn.layers"}) | _POOL | _CONV,
    # conv.conv2d_backward, the loop version, Conv2d.backward; conv_transpose2d gives
    # dx and conv_transpose2d_backward the correlations dweight is made of.
    "check_conv2d_backward": _CONV,
    # signal.correlate2d gives the prediction and dkernel = 2/M * correlate2d(image, r);
    # conv2d / conv2d_backward of a (1, 1, H, W) image do the same; gradcheck's
    # numerical_gradient of a quadratic is its exact gradient; the check's _kernel_ref.
    "check_kernel_loss_and_grad": frozenset({"signal", "gradcheck", "checks.backprop"})
    | _CONV,
    # -------------------------------------------------------------------- 07_lenet
    # The notebook builds and trains its network from lessonlib's layers, losses and
    # data: they stay. Blocked is only what computes the graded thing itself.
    # train.make_digits_cnn builds this very network (same layers, same rng use).
    "check_build_lenet": frozenset({"train", "train.digits", "train.mnist", "checks.lenet"}),
    # train.make_lenet5 builds LeNet-5 itself.
    "check_build_lenet5": frozenset({"train", "train.digits", "train.mnist", "checks.lenet"}),
    # train.evaluate / predict compute the accuracy of any callable (a lambda that
    # returns the logits); the check's _accuracy.
    "check_accuracy": frozenset({"train", "train.digits", "train.mnist", "checks.lenet"}),
    # optim.SGD(model, lr).step() is the in-place update of the step (the exercise's
    # trap); train.train_digits_cnn's loop and the check's _step are the whole step.
    "check_train_step": frozenset({"optim", "train", "train.digits", "train.mnist", "checks.lenet"}),
    # ------------------------------------------------------------------- 08_beyond
    # Conv2d(in, out, k, groups=g, bias=b).params (nn.conv); the check's _param_count,
    # which is checks.channels.conv2d_param_count_reference with groups.
    "check_conv_param_count": frozenset({"nn.conv", "checks.beyond", "checks.channels"}),
    # conv2d(groups=g), Conv2d(groups=g), conv_transpose2d_backward with groups; the
    # exercise builds on conv2d with groups=1, which PERMITTED keeps.
    "check_grouped_conv2d": _CONV | {"checks.beyond"},
    # A 1x1 conv2d (its weight (C_out, C_in, 1, 1)), Conv2d, conv_transpose2d of the
    # transposed weight; and a linear layer at every pixel: linear.linear, layers.Linear.
    "check_pointwise_conv2d": _CONV | {"linear", "nn.layers", "checks.beyond"},
    # conv.depthwise_separable_conv2d itself, or two grouped conv2d calls.
    "check_depthwise_separable_conv2d": _CONV | {"checks.beyond"},
    # conv2d(dilation=d), its loop version, Conv2d(dilation=d); conv2d with groups=1 and
    # dilation=1 on a spread kernel is the exercise's way, which PERMITTED keeps.
    "check_dilated_conv2d": _CONV | {"checks.beyond"},
    # The check's _rf. (Measuring the field by backpropagation, as the notebook's
    # figure does, is real work, and conv2d_backward is blocked in 08 anyway.)
    "check_receptive_field": frozenset({"checks.beyond"}),
    # conv_transpose2d itself, the loop version, ConvTranspose2d, and conv2d_backward,
    # whose dx is exactly a transposed convolution.
    "check_conv_transpose2d": _CONV | {"checks.beyond"},
    # ----------------------------------------------------------------- 09_training
    # split.train_val_split itself. It has a module of its own so that data, whose
    # load_digits the notebook needs (and which is NEVER_BLOCKED), stays; the check's _tvs.
    "check_train_val_split": _TRAINING | {"split"},
    # init.kaiming_normal; naive_normal(shape, sqrt(2 / fan_in), rng) is the same draw,
    # init_model the same weights; the check's _normal.
    "check_kaiming_normal": _TRAINING | {"nn.init"},
    # optim.momentum_step, and SGD(momentum=...).step of a one-parameter model; the
    # check's own step.
    "check_momentum_step": _TRAINING | {"optim"},
    # optim.adam_step, and Adam.step; the check's _adam.
    "check_adam_step": _TRAINING | {"optim"},
    # normalization.batch_norm2d / batch_norm2d_backward, and BatchNorm2d.forward /
    # .backward (nn.normalization), which call them; the check's _bn and _bn_back. The
    # notebook's networks need the layer: PERMITTED keeps an independent BatchNorm2d.
    "check_batch_norm2d": _TRAINING | {"normalization", "nn.normalization"},
    "check_batch_norm2d_backward": _TRAINING | {"normalization", "nn.normalization"},
    # dropout.dropout / dropout_backward, and Dropout.forward / .backward (nn.normalization);
    # the check's _drop. PERMITTED keeps an independent Dropout layer for the notebook.
    "check_dropout": _TRAINING | {"dropout", "nn.normalization"},
    "check_dropout_backward": _TRAINING | {"dropout", "nn.normalization"},
    # augment.random_shifts, and shift_images with one offset per image is all of it but
    # the draw (train.mnist only imports them); the check's _shifts. PERMITTED keeps
    # shift_images with one int offset for the whole batch, which the notebook's test of
    # shifted digits uses.
    "check_random_shifts": _TRAINING | {"augment"},
}

#: Check name -> functions (``module.name``) of modules that stay but show a graded
#: value. In the overlay they return None without drawing or printing anything.
DISPLAY_ORACLES: dict[str, tuple[str, ...]] = {
    # plot_sliding_window titles its figure "o = floor(...) + 1 = 3" and draws o x o
    # cells; the explorer and plot_coverage draw it; drill_feedback says whether a
    # guess equals conv_output_size (an oracle to search with).
    "check_conv_output_size": ("viz.windows.plot_sliding_window",
                               "viz.windows.sliding_window_explorer",
                               "viz.windows.plot_coverage",
                               "checks.padding_stride.drill_feedback"),
}

#: Check name -> {``module.name``: restriction} for functions of blocked modules that
#: the exercise builds on. A function is provided (restricted) when every check of the
#: assignment whose family blocks its module permits it, with the restrictions of all of
#: them ("groups=1" and "groups=1, dilation=1" make "groups=1, dilation=1").
PERMITTED: dict[str, dict[str, str]] = {
    # "convolve them with an ordinary convolution (lessonlib.conv2d with its default
    # groups=1, ...)": the exercise text and the instructor's solution.
    "check_grouped_conv2d": {"conv.conv2d": "groups=1"},
    # Built from the student's grouped_conv2d, hence from conv2d with groups=1.
    "check_depthwise_separable_conv2d": {"conv.conv2d": "groups=1"},
    # A forward convolution is not a transposed one: writing conv_transpose2d with it
    # (zero insertion, flipped and transposed kernel, padding k - 1 - p) is a
    # legitimate solution, and the notebook's demos measure gradients with it.
    "check_conv_transpose2d": {"conv.conv2d": "groups=1"},
    # Not built on: the check refuses every conv2d call, also in the kernel (a function
    # it forbids by name is watched there). Permitted so that 08's other exercises keep it.
    "check_pointwise_conv2d": {"conv.conv2d": "groups=1"},
    # "spread the kernel with zeros and call an ordinary convolution": dilation=1 only.
    "check_dilated_conv2d": {"conv.conv2d": "groups=1, dilation=1"},
    # 09's networks (digits_cnn(batch_norm=True, dropout=0.5)) are made of BatchNorm2d and
    # Dropout layers, whose module is blocked by all four checks of batch norm and dropout.
    # The overlay keeps independent layers whose computation lives in their forward and
    # backward methods only (no function of batch normalisation or dropout is reachable),
    # and the checks refuse those methods by name, in the kernel too: a student's
    # batch_norm2d cannot be a BatchNorm2d in disguise.
    **{c: {"nn.normalization.BatchNorm2d": "as a layer",
           "nn.normalization.Dropout": "as a layer"}
       for c in ("check_batch_norm2d", "check_batch_norm2d_backward", "check_dropout",
                 "check_dropout_backward")},
    # The notebook measures its networks on test digits shifted by one offset for all
    # (lessonlib.shift_images(X_test, s, 0)); one offset per image, the exercise's core,
    # is refused, and check_random_shifts refuses shift_images by name anyway.
    "check_random_shifts": {"augment.shift_images": "one int shift for the whole batch"},
}

#: Modules the grading kernel needs whatever is graded; no family may contain them.
#: (checks.fixtures holds what a check hands to the student's function: the model of
#: train_step, the test function of numerical_gradient, built or rebuilt in the kernel.)
NEVER_BLOCKED = frozenset({
    "_validation", "nn.module", "data", "viz.networks", "checks", "checks._core",
    "checks._runner", "checks.fixtures", "grading", "grading.in_kernel",
})

# Module-level names that every module has; a stub gets its own.
_MODULE_DUNDERS = frozenset({"__name__", "__doc__", "__file__", "__loader__", "__spec__",
                             "__package__", "__builtins__", "__cached__", "__path__",
                             "__annotations__"})


def _family(check):
    try:
        return GRADED_FAMILIES[check]
    except KeyError:
        raise ValueError(
            f"{check!r} has no entry in lessonlib.grading.references.GRADED_FAMILIES: "
            f"decide which lessonlib modules compute what it grades (possibly none) "
            f"and add it.") from None


def blocked_modules(check_names):
    """The modules replaced by stubs while checks ``check_names`` are graded.

    Parameters
    ----------
    check_names : iterable of str
        Names of the checks the assignment's grade cells call, e.g.
        ``["check_conv2d", "check_conv2d_param_count"]``.

    Returns
    -------
    list of str
        Sorted module names relative to ``lessonlib`` (``"conv"``,
        ``"nn.layers"``, ...).

    Raises
    ------
    ValueError
        For a check without an entry in :data:`GRADED_FAMILIES`.
    """
    out = set()
    for check in check_names:
        out |= _family(check)
    return sorted(out)


def overlay_plan(check_names):
    """What :func:`build_overlay` does for ``check_names``, without writing anything.

    Returns
    -------
    dict
        ``"blocked"``: sorted module names; ``"display"``: sorted ``module.name``
        display stand-ins (in modules that are not blocked); ``"permitted"``:
        ``{"module.name": restriction}`` provided despite their module being
        blocked; ``"graded"``: ``{module: [graded function names]}``, for messages.
    """
    checks = sorted(set(check_names))
    blocked = blocked_modules(checks)
    display = sorted({d for c in checks for d in DISPLAY_ORACLES.get(c, ())
                      if d.rsplit(".", 1)[0] not in blocked})
    permitted = {}
    for c in checks:
        for dotted, rule in PERMITTED.get(c, {}).items():
            module = dotted.rsplit(".", 1)[0]
            blockers = [b for b in checks if module in _family(b)]
            if module in blocked and all(dotted in PERMITTED.get(b, {}) for b in blockers):
                clauses = permitted.get(dotted, "").split(", ") + rule.split(", ")
                permitted[dotted] = ", ".join(dict.fromkeys(c for c in clauses if c))
    graded = {m: sorted(c[len("check_"):] for c in checks if m in _family(c)) for m in blocked}
    return {"blocked": blocked, "display": display, "permitted": permitted, "graded": graded}


# ------------------------------------------------------------------ overlay files

_UNAVAILABLE = '''"""Stand-ins for lessonlib's references while an assignment is graded.

This module exists only in the copy of lessonlib that a grading kernel
imports (written by lessonlib.grading.references.build_overlay). The
modules that compute what is graded are replaced by stubs made here:
calling one writes "{mark} <name> (<where>)" to file descriptor 2 and
raises ReferenceUnavailable. <where> is "graded-call" when the call
happens while the grader calls the student's function
(lessonlib.grading.in_kernel), "check" when a check run in a notebook cell
calls its reference, else "notebook" (a cell's own code).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_IN_KERNEL = os.path.join(_HERE, "grading", "in_kernel.py")
_CHECKS = os.path.join(_HERE, "checks") + os.sep

#: The assignment being graded, and the modules replaced by stubs.
ASSIGNMENT = {assignment!r}
BLOCKED = {blocked!r}
MARK = {mark!r}


class ReferenceUnavailable(RuntimeError):
    """A reference of lessonlib was called while it is not available (grading)."""


def _where(depth):
    """Who called the stub: "graded-call", "check" or "notebook"."""
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return "notebook"
    caller = frame.f_code.co_filename
    while frame is not None:
        if frame.f_code.co_filename == _IN_KERNEL:
            return "graded-call"
        frame = frame.f_back
    return "check" if caller.startswith(_CHECKS) else "notebook"


def called(dotted, message, _write=os.write, _mark=MARK, _depth=3):
    """Report a call to the blocked ``dotted`` on stderr (fd 2), then raise."""
    try:
        where = _where(_depth)
        _write(2, f"{{_mark}} {{dotted}} ({{where}})\\n".encode("utf-8", "replace"))
    except Exception:  # a closed or redirected stderr must not change what is raised
        pass
    raise ReferenceUnavailable(message)


def _own_code(f, name):
    """``f`` with a code object of its own, named ``name`` (tracebacks, profilers)."""
    try:
        f.__code__ = f.__code__.replace(co_name=name, co_qualname=name)
    except (AttributeError, TypeError, ValueError):   # pragma: no cover - older Pythons
        f.__code__ = f.__code__.replace(co_name=name)
    return f


def function(module, name, message):
    """A function that raises ReferenceUnavailable when it is called."""
    dotted = f"{{module}}.{{name}}"

    def stub(*args, **kwargs):
        called(dotted, message)

    stub.__name__ = stub.__qualname__ = name
    stub.__module__ = module
    stub.__doc__ = message
    return _own_code(stub, name)


def cls(module, name, message, base=object):
    """A class that can be subclassed and used with isinstance, never instantiated."""
    dotted = f"{{module}}.{{name}}"

    def __new__(klass, *args, **kwargs):
        called(dotted, message)

    def __init__(self, *args, **kwargs):  # pragma: no cover - __new__ raised already
        called(dotted, message)

    _own_code(__new__, name)
    return type(name, (base,), {{"__new__": __new__, "__init__": __init__,
                                "__module__": module, "__qualname__": name,
                                "__doc__": message}})


class Opaque:
    """Stands for a module-level object that is not a simple constant."""

    __slots__ = ("_dotted", "_message")

    def __init__(self, dotted, message):
        object.__setattr__(self, "_dotted", dotted)
        object.__setattr__(self, "_message", message)

    def __getattr__(self, attr):
        if attr.startswith("_"):   # introspection (copy, pickle, IPython) stays quiet
            raise AttributeError(attr)
        called(self._dotted, self._message)

    def __call__(self, *args, **kwargs):
        called(self._dotted, self._message)

    def __getitem__(self, key):
        called(self._dotted, self._message)

    def __iter__(self):
        called(self._dotted, self._message)

    def __len__(self):
        called(self._dotted, self._message)

    def __contains__(self, item):
        called(self._dotted, self._message)

    def __repr__(self):
        return f"<{{self._dotted}}: not available while {{ASSIGNMENT}} is graded>"


def opaque(module, name, message):
    return Opaque(f"{{module}}.{{name}}", message)


def inert(module, name):
    """A figure or feedback helper that would show a graded value: draws nothing."""

    def display_stand_in(*args, **kwargs):
        return None

    display_stand_in.__name__ = display_stand_in.__qualname__ = name
    display_stand_in.__module__ = module
    display_stand_in.__doc__ = (f"Draws and prints nothing while {{ASSIGNMENT}} is graded "
                                f"(it would show what is graded).")
    return display_stand_in
'''

# Independent implementations of PERMITTED functions (not lessonlib's code).
_PERMITTED_SOURCE = '''"""Building blocks an exercise may use although their module is blocked.

Only in a grading kernel's copy of lessonlib. Small independent
implementations, restricted to what the exercise allows; anything else
raises like every stub (see lessonlib._unavailable).
"""

import numbers

import numpy as np

from lessonlib._unavailable import called
from lessonlib._validation import (as_float_array, as_generator, as_pair, check_int,
                                   float_dtype, result_dtype)


def conv2d_groups1(module, name, message, rule):
    """``conv2d`` for ``groups=1`` only (and ``dilation=1`` if the rule says so): direct sums
    over the kernel taps."""
    dotted = f"{module}.{name}"
    undilated = "dilation=1" in rule.split(", ")

    def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        if isinstance(groups, bool) or groups != 1:
            called(dotted, f"{message} (lessonlib.conv2d with {rule} is allowed; "
                           f"groups={groups!r} is not)")
        if undilated and as_pair(dilation, "dilation") != (1, 1):
            called(dotted, f"{message} (lessonlib.conv2d with {rule} is allowed; "
                           f"dilation={dilation!r} is not)")
        x = as_float_array(x, "x", ndim=4, hint="Layout is (N, C, H, W).")
        weight = as_float_array(weight, "weight", ndim=4,
                                hint="Layout is (C_out, C_in, kH, kW).")
        if weight.shape[1] != x.shape[1]:
            raise ValueError(f"weight {weight.shape} expects {weight.shape[1]} input "
                             f"channels, x {x.shape} has {x.shape[1]}.")
        dtype = result_dtype(x, weight)
        sh, sw = as_pair(stride, "stride")
        dh, dw = as_pair(dilation, "dilation")
        kh, kw = weight.shape[2:]
        span_h, span_w = dh * (kh - 1), dw * (kw - 1)
        if isinstance(padding, str):
            if padding == "valid":
                pads = (0, 0, 0, 0)
            elif padding == "full":
                pads = (span_h, span_h, span_w, span_w)
            elif padding == "same" and (sh, sw) == (1, 1):
                pads = (span_h // 2, span_h - span_h // 2, span_w // 2, span_w - span_w // 2)
            else:
                raise ValueError(f"padding={padding!r} is not supported here (with "
                                 f"stride={stride!r}).")
        else:
            ph, pw = as_pair(padding, "padding", minimum=0)
            pads = (ph, ph, pw, pw)
        xp = np.pad(x.astype(dtype, copy=False),
                    ((0, 0), (0, 0), (pads[0], pads[1]), (pads[2], pads[3])))
        ho = (xp.shape[2] - span_h - 1) // sh + 1
        wo = (xp.shape[3] - span_w - 1) // sw + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"the kernel {kh}x{kw} (dilation {dh}, {dw}) does not fit in "
                             f"the padded input {xp.shape[2]}x{xp.shape[3]}.")
        w = weight.astype(dtype, copy=False)
        out = np.zeros((x.shape[0], w.shape[0], ho, wo), dtype)
        for a in range(kh):
            for b in range(kw):
                tap = xp[:, :, a * dh:a * dh + sh * (ho - 1) + 1:sh,
                         b * dw:b * dw + sw * (wo - 1) + 1:sw]
                out += np.einsum("nchw,oc->nohw", tap, w[:, :, a, b])
        if bias is not None:
            bias = as_float_array(bias, "bias", ndim=1)
            if bias.shape != (w.shape[0],):
                raise ValueError(f"bias must have shape ({w.shape[0]},), got {bias.shape}.")
            out += bias.astype(dtype, copy=False)[None, :, None, None]
        return out

    conv2d.__module__ = module
    conv2d.__doc__ = (f"2-D convolution (cross-correlation), {rule} only, while "
                      f"lessonlib's conv2d is not available.\\n\\n{message}")
    return conv2d


def _named(obj, module, name, rule, message):
    obj.__module__, obj.__name__, obj.__qualname__ = module, name, name
    obj.__doc__ = (f"{name} ({rule}) while lessonlib's is not available: an independent "
                   f"implementation.\\n\\n{message}")
    return obj


def _per_channel(a):
    return a[None, :, None, None]


def batch_norm_layer(module, name, message, rule):
    """``BatchNorm2d``, computed in its methods: no function of batch normalisation."""
    # Imported here, not above: lessonlib.nn imports the stubs that call this factory.
    from lessonlib.nn.module import Module, check_input

    class BatchNorm2d(Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float64):
            super().__init__()
            self.num_features = check_int(num_features, "num_features", 1)
            self.eps, self.momentum = float(eps), float(momentum)
            if not (self.eps > 0 and 0 <= self.momentum <= 1):
                raise ValueError(f"eps must be > 0 and momentum in [0, 1], got eps={eps!r}, "
                                 f"momentum={momentum!r}.")
            dtype = float_dtype(dtype)
            self.params = {"weight": np.ones(self.num_features, dtype),
                           "bias": np.zeros(self.num_features, dtype)}
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
            self.running_mean = np.zeros(self.num_features, dtype)
            self.running_var = np.ones(self.num_features, dtype)

        def forward(self, x):
            x = check_input(self, x, self.num_features, "channels")
            dtype = result_dtype(x, self.params["weight"], self.params["bias"])
            x = x.astype(dtype, copy=False)
            if self.training:
                m = x.size // x.shape[1]
                if m < 2:
                    raise ValueError(f"Expected more than 1 value per channel when training, "
                                     f"got x of shape {x.shape}.")
                mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
                self.running_mean *= 1 - self.momentum
                self.running_mean += self.momentum * mean
                self.running_var *= 1 - self.momentum
                self.running_var += self.momentum * var * (m / (m - 1))
            else:
                mean = self.running_mean.astype(dtype, copy=False)
                var = self.running_var.astype(dtype, copy=False)
            inv_std = 1.0 / np.sqrt(var + self.eps)
            xhat = (x - _per_channel(mean)) * _per_channel(inv_std)
            self._cache = (xhat, inv_std, self.training)
            return xhat * _per_channel(self.params["weight"].astype(dtype, copy=False)) \\
                + _per_channel(self.params["bias"].astype(dtype, copy=False))

        def backward(self, dout):
            xhat, inv_std, training = self._cached()
            dout = as_float_array(dout, "dout")
            if dout.shape != xhat.shape:
                raise ValueError(f"dout must have the shape of x {xhat.shape}, got {dout.shape}.")
            dgamma, dbeta = (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
            scale = _per_channel(self.params["weight"] * inv_std)
            if training:
                m = dout.size // dout.shape[1]
                dout = dout - _per_channel(dbeta / m) - xhat * _per_channel(dgamma / m)
            self._set_grads(weight=dgamma, bias=dbeta)
            return (dout * scale).astype(result_dtype(dout, xhat), copy=False)

        def extra_repr(self):
            return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                    f"affine=True, bias=True, track_running_stats=True")

    return _named(BatchNorm2d, module, name, rule, message)


def dropout_layer(module, name, message, rule):
    """``Dropout``, computed in its methods: no function of dropout."""
    from lessonlib.nn.module import Module   # see batch_norm_layer

    class Dropout(Module):
        def __init__(self, p=0.5, rng=None):
            super().__init__()
            if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
                raise ValueError(f"p must be a number in [0, 1], got {p!r}.")
            self.p, self.rng = float(p), as_generator(rng)

        def forward(self, x):
            x = as_float_array(x, "x")
            if not self.training:
                self._cache = (np.ones(x.shape, dtype=bool), 1.0)
                return x.copy()
            keep = self.rng.random(x.shape) >= self.p
            scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
            self._cache = (keep, scale)
            return x * keep * x.dtype.type(scale)

        def backward(self, dout):
            keep, scale = self._cached()
            dout = as_float_array(dout, "dout")
            return dout * keep * dout.dtype.type(scale)

        def extra_repr(self):
            return f"p={self.p}, inplace=False"

    return _named(Dropout, module, name, rule, message)


def shift_whole_batch(module, name, message, rule):
    """``shift_images`` with one int offset for every image: zeros shifted in."""
    dotted = f"{module}.{name}"

    def shift_images(X, dx, dy):
        if not all(isinstance(d, numbers.Integral) and not isinstance(d, (bool, np.bool_))
                   for d in (dx, dy)):
            called(dotted, f"{message} (lessonlib.shift_images with {rule} is allowed; an "
                           f"offset per image is not)")
        X = as_float_array(X, "X", ndim=4, hint="Layout is (N, C, H, W).")
        dx, dy = int(dx), int(dy)
        h, w = X.shape[2:]
        out = np.zeros_like(X)
        if abs(dx) < w and abs(dy) < h:
            out[:, :, max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] = \\
                X[:, :, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
        return out

    return _named(shift_images, module, name, rule, message)
'''

_PERMITTED_FACTORIES = {"conv.conv2d": "conv2d_groups1",
                        "nn.normalization.BatchNorm2d": "batch_norm_layer",
                        "nn.normalization.Dropout": "dropout_layer",
                        "augment.shift_images": "shift_whole_batch"}


def _package_dir():
    spec = importlib.util.find_spec("lessonlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("lessonlib is not installed as a package")
    return os.path.abspath(list(spec.submodule_search_locations)[0])


def _module_path(src, module):
    """The source file of ``lessonlib.<module>`` relative to the package folder."""
    real = importlib.import_module(f"lessonlib.{module}")
    path = os.path.abspath(real.__file__)
    if not path.startswith(src + os.sep):
        raise RuntimeError(f"lessonlib.{module} is not inside {src}: {path}")
    return real, os.path.relpath(path, src)


def _is_constant(value, depth=0):
    if depth > 4:
        return False
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return type(value) in (type(None), bool, int, float, complex, str, bytes)
    if type(value) in (tuple, list, frozenset, set):
        return all(_is_constant(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(_is_constant(k, depth + 1) and _is_constant(v, depth + 1)
                   for k, v in value.items())
    return False


def _literal(value):
    """Source text of a constant, or None when it does not round-trip."""
    text = repr(value)
    try:
        if ast.literal_eval(text) == value and type(ast.literal_eval(text)) is type(value):
            return text
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return None


def _public_name(module_name, name, obj, package):
    """``lessonlib.<name>`` when the package exports this very object, else dotted."""
    if getattr(package, name, None) is obj and obj is not None:
        return f"lessonlib.{name}"
    return f"lessonlib.{module_name}.{name}"


def _message(public, assignment, graded):
    if not graded:
        return f"{public} is not available while {assignment} is graded."
    if len(graded) == 1:
        return (f"{public} is not available while {assignment} is graded: your "
                f"{graded[0]} must compute its result itself.")
    names = ", ".join(graded[:-1]) + " and " + graded[-1]
    return (f"{public} is not available while {assignment} is graded: your {names} "
            f"must compute their results themselves.")


def _origin(value, full):
    """``(module, attribute)`` a name was imported from, when it was defined elsewhere."""
    mod, attr = getattr(value, "__module__", None), getattr(value, "__name__", None)
    if not (isinstance(mod, str) and isinstance(attr, str)) or mod == full:
        return None
    try:
        if getattr(sys.modules.get(mod), attr, None) is value:
            return mod, attr
    except Exception:  # a module with a strange __getattr__: stub the name instead
        pass
    return None


def _exception_base(cls):
    for base in cls.__mro__[1:]:
        if base.__module__ == "builtins" and issubclass(base, BaseException):
            return base.__name__
    return "object"


def _stub_source(module_name, real, assignment, graded, permitted):
    """Source text of the stub module standing for ``lessonlib.<module_name>``."""
    import lessonlib as package

    full = f"lessonlib.{module_name}"
    head = [f'"""Stand-in for {full} while {assignment} is graded.',
            "",
            "Every name of the real module is defined, but nothing here computes:",
            "calling a function or making an instance raises",
            "lessonlib._unavailable.ReferenceUnavailable. The real code is not part of",
            'this copy of lessonlib (see lessonlib.grading.references)."""', ""]
    if getattr(real, "annotations", None) is __future__.annotations:
        head.append("from __future__ import annotations")
    head += ["import importlib as _lessonlib_importlib",
             "import lessonlib._unavailable as _lessonlib_unavailable"]
    helpers = ["_lessonlib_importlib", "_lessonlib_unavailable"]
    if permitted:
        head.append("import lessonlib._permitted as _lessonlib_permitted")
        helpers.append("_lessonlib_permitted")
    head.append("")
    body = []
    for name in sorted(vars(real)):
        value = vars(real)[name]
        if name in _MODULE_DUNDERS or name in helpers:
            continue
        if name == "annotations" and value is __future__.annotations:
            continue
        if name.startswith("__") and name.endswith("__"):
            text = _literal(value) if _is_constant(value) else None
            if text is not None:
                body.append(f"{name} = {text}")
            continue
        public = _public_name(module_name, name, value, package)
        message = _message(public, assignment, graded)
        args = f"{full!r}, {name!r}, {message!r}"
        dotted = f"{module_name}.{name}"
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith(full + "."):
                continue   # a submodule of this package: bound when it is imported
            body.append(f"{name} = _lessonlib_importlib.import_module({value.__name__!r})")
        elif dotted in permitted:
            factory = _PERMITTED_FACTORIES[dotted]
            body.append(f"{name} = _lessonlib_permitted.{factory}({args}, "
                        f"{permitted[dotted]!r})")
        elif _is_constant(value) and _literal(value) is not None:
            body.append(f"{name} = {_literal(value)}")
        elif _origin(value, full) is not None:
            # Imported from another module: taken from there (from the overlay, so a
            # name of another blocked module is that module's stub).
            mod, attr = _origin(value, full)
            body.append(f"{name} = getattr(_lessonlib_importlib.import_module({mod!r}), "
                        f"{attr!r})")
        elif inspect.isclass(value):
            base = _exception_base(value)
            extra = f", base={base}" if base != "object" else ""
            body.append(f"{name} = _lessonlib_unavailable.cls({args}{extra})")
        elif callable(value):
            body.append(f"{name} = _lessonlib_unavailable.function({args})")
        else:
            body.append(f"{name} = _lessonlib_unavailable.opaque({args})")
    tail = ["", f"del {', '.join(helpers)}", ""]
    return "\n".join(head + body + tail)


def _display_source(module_name, names):
    full = f"lessonlib.{module_name}"
    lines = ["", "",
             "# -- grading overlay (lessonlib.grading.references): display-only stand-ins,",
             "# -- these would show what is graded.",
             "import lessonlib._unavailable as _lessonlib_unavailable"]
    lines += [f"{n} = _lessonlib_unavailable.inert({full!r}, {n!r})" for n in names]
    lines += ["del _lessonlib_unavailable", ""]
    return "\n".join(lines)


def _copy_package(src, root):
    """Copy lessonlib's .py files and subpackages, without caches and grading."""
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rel = os.path.relpath(dirpath, src)
        parts = [] if rel == "." else rel.split(os.sep)
        if parts[:1] == ["grading"]:
            dirnames[:] = []
            continue
        os.makedirs(os.path.join(root, *parts), exist_ok=True)
        for f in sorted(filenames):
            if f.endswith(".py"):
                shutil.copyfile(os.path.join(dirpath, f), os.path.join(root, *parts, f))
    grading = os.path.join(root, "grading")
    os.makedirs(grading, exist_ok=True)
    with open(os.path.join(grading, "__init__.py"), "w", encoding="utf-8") as fh:
        fh.write('"""The part of lessonlib\'s grading that runs in a grading kernel: '
                 'in_kernel only."""\n')
    in_kernel = os.path.join(src, "grading", "in_kernel.py")
    if os.path.exists(in_kernel):
        shutil.copyfile(in_kernel, os.path.join(grading, "in_kernel.py"))


def build_overlay(dest, check_names, assignment="this assignment"):
    """Write ``dest/lessonlib``: lessonlib without the references ``check_names`` grade.

    The copy holds lessonlib's source (``.py`` files and subpackages, no
    ``__pycache__``; of ``lessonlib.grading`` only ``in_kernel`` and a
    docstring-only ``__init__``). Each module of :func:`blocked_modules`
    is replaced by a stub module defining every module-level name of the
    real one (listed by importing the real module here): its functions
    and classes become stubs that raise
    ``lessonlib._unavailable.ReferenceUnavailable`` (a ``RuntimeError``)
    when called or instantiated, after writing ``LESSONLIB-REFERENCE-CALLED
    <dotted name> (<where>)`` to file descriptor 2; simple constants
    (numbers, strings, and tuples, lists and dicts of them) are copied;
    modules, and names the module imported from another one, are imported
    from there (within the copy: a name of another blocked module is that
    module's stub); other objects become opaque stubs. Stub classes can
    be subclassed and used with ``isinstance``. Functions of
    :data:`DISPLAY_ORACLES` become no-ops and :data:`PERMITTED` ones
    restricted implementations (``lessonlib/_permitted.py``). Importing
    the copy writes nothing and needs no ``__pycache__``.

    Parameters
    ----------
    dest : str or path-like
        Folder to put first on the kernel's ``PYTHONPATH``; created if
        needed. An existing ``dest/lessonlib`` is replaced.
    check_names : iterable of str
        The checks the assignment's grade cells call.
    assignment : str
        The assignment's name, for the stubs' messages
        ("lessonlib.conv2d is not available while 03_channels is graded: ...").

    Returns
    -------
    str
        ``dest``.
    """
    dest = os.fspath(dest)
    plan = overlay_plan(check_names)
    src = _package_dir()
    root = os.path.join(dest, "lessonlib")
    if os.path.lexists(root):
        shutil.rmtree(root)
    os.makedirs(dest, exist_ok=True)
    _copy_package(src, root)
    with open(os.path.join(root, "_unavailable.py"), "w", encoding="utf-8") as fh:
        fh.write(_UNAVAILABLE.format(assignment=assignment, blocked=tuple(plan["blocked"]),
                                     mark=REFERENCE_MARK))
    if plan["permitted"]:
        with open(os.path.join(root, "_permitted.py"), "w", encoding="utf-8") as fh:
            fh.write(_PERMITTED_SOURCE)
    for module in plan["blocked"]:
        real, rel = _module_path(src, module)
        permitted = {d: r for d, r in plan["permitted"].items()
                     if d.rsplit(".", 1)[0] == module}
        text = _stub_source(module, real, assignment, plan["graded"][module], permitted)
        with open(os.path.join(root, rel), "w", encoding="utf-8") as fh:
            fh.write(text)
    by_module = {}
    for dotted in plan["display"]:
        module, name = dotted.rsplit(".", 1)
        by_module.setdefault(module, []).append(name)
    for module, names in sorted(by_module.items()):
        real, rel = _module_path(src, module)
        for n in names:
            if not callable(getattr(real, n, None)):
                raise RuntimeError(f"DISPLAY_ORACLES names lessonlib.{module}.{n}, which "
                                   f"is not a function")
        with open(os.path.join(root, rel), "a", encoding="utf-8") as fh:
            fh.write(_display_source(module, names))
    return dest
