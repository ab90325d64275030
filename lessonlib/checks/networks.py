"""Checks of assignments 05-08: the classifier, backpropagation, LeNet and beyond.

Every ``check_<name>(student_fn, hidden=False, seed=0)`` compares the
student's ``<name>`` with lessonlib's reference (or, where lessonlib has
no counterpart, with a formula written here) and raises
:class:`~lessonlib.checks.CheckFailed` naming the likely mistake. A check
that passes prints one line and returns None, so a grade cell shows nothing
else.

==========================  ==================================================
assignment                  checks
==========================  ==================================================
05_classifier               flatten, linear, softmax, log_softmax,
                            cross_entropy, cross_entropy_backward
06_backprop                 relu_backward, linear_backward,
                            max_pool2d_backward, avg_pool2d_backward,
                            conv2d_backward, numerical_gradient
07_lenet                    build_lenet, accuracy, train_step
08_beyond                   conv_param_count, grouped_conv2d,
                            depthwise_separable_conv2d, receptive_field,
                            conv_transpose2d
==========================  ==================================================
"""

from .networks_backprop import *  # noqa: F401,F403
from .networks_backprop import __all__ as _backprop
from .networks_beyond import *  # noqa: F401,F403
from .networks_beyond import __all__ as _beyond
from .networks_classifier import *  # noqa: F401,F403
from .networks_classifier import __all__ as _classifier
from .networks_lenet import *  # noqa: F401,F403
from .networks_lenet import __all__ as _lenet

__all__ = [*_classifier, *_backprop, *_lenet, *_beyond]
