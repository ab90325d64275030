"""Checks that the notebooks' grade cells call.

Each ``check_<name>(student_fn, hidden=False, seed=0)`` compares the
student's function with lessonlib's reference on hand-made and random
cases and raises :class:`CheckFailed` with a diagnosis when they differ.
``hidden=True`` runs the larger set of cases used under
``### BEGIN HIDDEN TESTS``.

One module per assignment holds its checks, their cases and their
diagnoses; every public name is re-exported here.

==================  ====================================================
module              checks
==================  ====================================================
``convolution``     01: convolve1d, correlate1d, correlate2d,
                    vertical_edge_kernel
``padding_stride``  02: pad2d, conv_output_size (and the drills,
                    conv_arithmetic_drills and drill_feedback)
``channels``        03: conv2d, conv2d_fast, conv2d_param_count,
                    linear_param_count
``relu_pooling``    04: relu, max_pool2d, avg_pool2d
``classifier``      05: flatten, linear, softmax, log_softmax,
                    cross_entropy, cross_entropy_backward
``backprop``        06: relu_backward, linear_backward,
                    max_pool2d_backward, avg_pool2d_backward,
                    conv2d_backward, numerical_gradient,
                    kernel_loss_and_grad
``lenet``           07: build_lenet, build_lenet5, accuracy, train_step
``beyond``          08: conv_param_count, grouped_conv2d,
                    pointwise_conv2d, depthwise_separable_conv2d,
                    dilated_conv2d, receptive_field, conv_transpose2d
``training``        09: train_val_split, kaiming_normal, momentum_step,
                    adam_step, batch_norm2d, batch_norm2d_backward,
                    dropout, dropout_backward, random_shifts
==================  ====================================================

The machinery: :mod:`~lessonlib.checks._core` (cases, diagnoses,
comparison, rendering), :mod:`~lessonlib.checks._runner` (the one runner
and the reference-refusal policy) and :mod:`~lessonlib.checks.fixtures` (what a
check hands to the student's function). The checks' loop references with
switches for known mistakes are the library's own loop oracles
(:mod:`lessonlib.loops`).
"""

from ._core import Case, CheckFailed, Diagnosis, run_cases  # noqa: F401
from .convolution import *  # noqa: F401,F403
from .padding_stride import *  # noqa: F401,F403
from .channels import *  # noqa: F401,F403
from .relu_pooling import *  # noqa: F401,F403
from .classifier import *  # noqa: F401,F403
from .backprop import *  # noqa: F401,F403
from .lenet import *  # noqa: F401,F403
from .beyond import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403
