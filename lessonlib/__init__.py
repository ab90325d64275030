"""lessonlib: convolutional neural networks from first principles.

A NumPy reference implementation with PyTorch semantics (layout NCHW,
weights ``(C_out, C_in // groups, kH, kW)``), plus the data, plotting,
checking and grading tools of the course.

Every public name is importable from the package itself::

    from lessonlib import conv2d, max_pool2d, Sequential, load_digits
"""

from .arithmetic import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .signal import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .optim import *  # noqa: F401,F403
from .gradcheck import *  # noqa: F401,F403
from .data import *  # noqa: F401,F403
from .augment import *  # noqa: F401,F403
from .train import *  # noqa: F401,F403

__version__ = "0.1.0"
