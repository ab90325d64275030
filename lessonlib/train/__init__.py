"""Training recipes built from lessonlib's layers: the 8x8 digits CNN and LeNet-5 on MNIST.

* :mod:`lessonlib.train.digits`: a small CNN on scikit-learn's 8x8 digits
  (:func:`make_digits_cnn`, :func:`train_digits_cnn`) and the helpers
  :func:`predict` and :func:`evaluate`, which work for any model.
  ``python -m lessonlib.train`` runs it.
* :mod:`lessonlib.train.mnist`: LeNet-5 and an MLP baseline on 5,000 real
  28x28 MNIST digits (:func:`make_lenet5`, :func:`make_mlp`,
  :func:`train_mnist`), and the accuracy on translated images
  (:func:`shifted_accuracy`; the shifts themselves are :mod:`lessonlib.augment`).

Every name is importable from ``lessonlib.train`` and from ``lessonlib``.
"""

from . import digits, mnist
from .digits import *  # noqa: F401,F403
from .digits import main  # noqa: F401  (python -m lessonlib.train)
from .mnist import *  # noqa: F401,F403

__all__ = [*digits.__all__, *mnist.__all__]
