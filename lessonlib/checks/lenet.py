"""Checks of assignment 07: building LeNet (8x8) and LeNet-5 (28x28), accuracy, one training step.

These checks are deterministic: the model is built from a fixed seed and
compared with the reference computation on fixed inputs, so a verdict
never depends on how a training run happened to go.
"""

from __future__ import annotations

import copy

import numpy as np

from ._core import Case, CheckFailed, Diagnosis, case, compare, crash_line, passed, randn
from ._runner import guard, ref, run_with_hints
from .fixtures import small_model

__all__ = ["check_build_lenet", "check_build_lenet5", "check_accuracy", "check_train_step"]

#: Parameter shapes of the course's LeNet for 8x8 digits, in order.
LENET_SHAPES = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (10, 128), (10,)]


def _call(fn, name, *args, **kwargs):
    """Call the student's ``fn`` on these very objects; crashes become CheckFailed."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError()` "
                          f"with your code.") from None
    except CheckFailed:
        raise
    except Exception as exc:  # the student's bug, reported with their line
        raise CheckFailed(f"{name} raised {type(exc).__name__}: {exc}{crash_line(exc)}.") \
            from None


def _check_callable(fn, name):
    if not callable(fn):
        raise CheckFailed(f"{name} must be a function, got {type(fn).__name__}.")
    mod = getattr(fn, "__module__", "") or ""
    if mod == "lessonlib" or mod.startswith("lessonlib."):
        raise CheckFailed(f"{name} is lessonlib's reference implementation, not yours. "
                          f"Write the function yourself.")


# ------------------------------------------------------------ build_lenet
def _lenet_forward(x, arrays, relu=True, pool="max"):
    """The reference computation of the course's LeNet from its six arrays."""
    conv2d, flatten, linear = ref("conv2d"), ref("flatten"), ref("linear")
    pool_fn = ref("max_pool2d" if pool == "max" else "avg_pool2d")
    r1, r2 = relu if isinstance(relu, tuple) else (relu, relu)
    act1 = ref("relu") if r1 else (lambda a: a)
    act2 = ref("relu") if r2 else (lambda a: a)
    w1, b1, w2, b2, w3, b3 = arrays
    h = pool_fn(act1(conv2d(x, w1, b1, padding=1)), 2)
    h = pool_fn(act2(conv2d(h, w2, b2, padding=1)), 2)
    return linear(flatten(h), w3, b3)


def _shape_advice(got):
    if len(got) != len(LENET_SHAPES):
        n = len(got) // 2
        return (f"The network has {len(got)} parameter arrays ({n} layer(s) with weights); "
                f"LeNet here has 6: two Conv2d and one Linear, each with a weight and a bias.")
    for g, e in zip(got, LENET_SHAPES):
        if g != e:
            if len(e) == 2 and len(g) == 2 and g[0] == 10:
                return (f"Linear has in_features={g[1]}; after two 2x2 max-pools an 8x8 image "
                        f"is 2x2, and 32 channels of 2x2 flatten to 32*2*2 = 128.")
            return f"A parameter has shape {g}, expected {e}: check the layer's channels and kernel."
    return ""


def _same_stream(a, b, m=12):
    """Whether two weight arrays start with the same random draws (up to one scale)."""
    a, b = np.ravel(a)[:m].astype(float), np.ravel(b)[:m].astype(float)
    if len(a) < m or len(b) < m or not np.all(np.abs(b) > 1e-12):
        return False
    r = a / b
    return bool(np.allclose(r, r[0], rtol=1e-6, atol=0))


def _one_seed_everywhere(arrays):
    weights = [a for a in arrays if a.ndim > 1]
    return any(_same_stream(weights[i], weights[j])
               for i in range(len(weights)) for j in range(i + 1, len(weights)))


def _built_model(student_fn, name, seed, reference, shapes, advice):
    """The student's model from ``student_fn(rng=seed)`` and its parameter arrays.

    Refuses the reference builder, anything that is not a model, parameter
    shapes other than ``shapes`` (``advice(got)`` says which layer), and one
    int seed handed to every layer.
    """
    _check_callable(student_fn, name)
    student_fn = guard(student_fn, name, forbidden=[reference])
    model = _call(student_fn, name, rng=seed)
    if model is None:
        raise CheckFailed(f"{name} returned None. Did you forget `return model`?")
    if not (hasattr(model, "params") and callable(getattr(model, "forward", None))):
        raise CheckFailed(f"{name} must return a model (a lessonlib Sequential), got "
                          f"{type(model).__name__}.")
    arrays = [np.asarray(v) for v in model.params.values()]
    got = [a.shape for a in arrays]
    if got != shapes:
        raise CheckFailed(f"The parameters of the model have shapes {got}, expected "
                          f"{shapes}. {advice(got)}")
    if _one_seed_everywhere(arrays):
        raise CheckFailed(
            f"The layers of the model from {name} start from the same random numbers: the "
            f"int seed `rng` was given to every layer, so each one draws the same initial "
            f"weights (identical up to scale). Make ONE generator, rng = "
            f"np.random.default_rng(rng), and pass that generator to every layer.")
    return model, arrays


def _backward_reaches_the_input(model, rng, x_shape):
    """``model.backward`` after the last forward pass (a batch of ``x_shape``) gives dx."""
    dx = _call(model.backward, "model.backward", rng.standard_normal((x_shape[0], 10)))
    if np.shape(dx) != x_shape:
        raise CheckFailed(f"model.backward returned shape {np.shape(dx)}, expected "
                          f"{x_shape}: build the model from lessonlib layers.")


def check_build_lenet(student_fn, hidden=False, seed=0):
    """Check ``build_lenet(rng=None)``: the layers, their shapes and the forward pass."""
    name = "build_lenet"
    model, arrays = _built_model(student_fn, name, seed, "lessonlib.train.make_digits_cnn",
                                 LENET_SHAPES, _shape_advice)
    rng = np.random.default_rng(seed + 1)
    sizes = [2, 1, 5] if hidden else [2, 1]
    n = 0
    for size in sizes:
        x = rng.uniform(0, 1, (size, 1, 8, 8))
        the_case = Case(args=(x,), description=f"a batch of {size} 8x8 image(s)")
        got = _call(model, f"the model from {name}", x.copy())
        diagnoses = [
            Diagnosis(lambda x: _lenet_forward(x, arrays, relu=False),
                      "The ReLUs are missing: put ReLU() after each Conv2d."),
            Diagnosis(lambda x: _lenet_forward(x, arrays, pool="avg"),
                      "Use MaxPool2d(2), not average pooling."),
            Diagnosis(lambda x: _lenet_forward(x, arrays, relu=(True, False)),
                      "The second ReLU is missing: put ReLU() after each Conv2d, the second "
                      "one too."),
            Diagnosis(lambda x: _lenet_forward(x, arrays, relu=(False, True)),
                      "The first ReLU is missing: put ReLU() after each Conv2d, the first "
                      "one too."),
        ]
        compare(f"{name}()(x)", got, _lenet_forward(x, arrays), the_case, diagnoses,
                lambda g, e, c: ("The output must be one row of 10 class scores per image."
                                 if len(g) != 2 or g[-1] != 10 else ""))
        n += 1
    if hidden:
        _backward_reaches_the_input(model, rng, (5, 1, 8, 8))
        n += 1
    passed(name, n)


# ----------------------------------------------------------- build_lenet5
#: Parameter shapes of LeNet-5 for 28x28 digits (C1, C3, C5, F6, output), in order.
LENET5_SHAPES = [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,), (120, 16, 5, 5), (120,),
                 (84, 120), (84,), (10, 84), (10,)]
_LENET5_LAYERS = ["C1", "C1", "C3", "C3", "C5", "C5", "F6", "F6", "output", "output"]


def _lenet5_forward(x, arrays, relu=(True, True, True, True), pool="max", padding=2):
    """The reference computation of LeNet-5 from its ten arrays."""
    conv2d, flatten, linear = ref("conv2d"), ref("flatten"), ref("linear")
    pool_fn = ref("max_pool2d" if pool == "max" else "avg_pool2d")
    acts = [ref("relu") if r else (lambda a: a) for r in relu]
    w1, b1, w3, b3, w5, b5, w6, b6, w7, b7 = arrays
    h = pool_fn(acts[0](conv2d(x, w1, b1, padding=padding)), 2)
    h = pool_fn(acts[1](conv2d(h, w3, b3)), 2)
    h = acts[2](conv2d(h, w5, b5))
    h = acts[3](linear(flatten(h), w6, b6))
    return linear(h, w7, b7)


def _lenet5_advice(got):
    if len(got) != len(LENET5_SHAPES):
        return (f"The network has {len(got)} parameter arrays; LeNet-5 has 10: three Conv2d "
                f"(C1, C3, C5) and two Linear (F6, output), each with a weight and a bias.")
    for layer, g, e in zip(_LENET5_LAYERS, got, LENET5_SHAPES):
        if g == e:
            continue
        if layer == "C5" and g == (120, 400):
            return ("C5 is a convolution, Conv2d(16, 120, 5): on the 16 x 5 x 5 volume it gives "
                    "120 x 1 x 1 (the same numbers as Linear(400, 120), but keep the paper's "
                    "layer), then Flatten.")
        if layer == "F6" and len(g) == 2 and g[0] == 84:
            return (f"F6 has in_features={g[1]}; C5 gives 120 maps of 1x1, which flatten to 120. "
                    f"Is C1 padded (padding=2) and C5 a 5x5 convolution?")
        return f"The {layer} parameter has shape {g}, expected {e}: check its channels and kernel."
    return ""


def check_build_lenet5(student_fn, hidden=False, seed=0):
    """Check ``build_lenet5(rng=None)``: LeNet-5's layers, shapes and forward pass on 28x28."""
    name = "build_lenet5"
    model, arrays = _built_model(student_fn, name, seed, "lessonlib.train.mnist.make_lenet5",
                                 LENET5_SHAPES, _lenet5_advice)
    rng = np.random.default_rng(seed + 1)
    n = 0
    for size in ([3, 1, 4] if hidden else [2, 1]):
        x = rng.uniform(0, 1, (size, 1, 28, 28))
        the_case = Case(args=(x,), description=f"a batch of {size} 28x28 image(s)")
        try:
            got = model(x.copy())
        except Exception as exc:  # the student's model, reported with its line
            hint = (" Is C1 padded? Conv2d(1, 6, 5, padding=2) keeps 28x28, as LeCun's 32x32 "
                    "input did; without it C5's 5x5 kernel does not fit the 4x4 maps."
                    if "larger than" in str(exc) or "kernel" in str(exc) else "")
            raise CheckFailed(f"the model from {name} raised {type(exc).__name__} on a batch "
                              f"of 28x28 images: {exc}{hint}") from None
        no = (False,)
        diagnoses = [
            Diagnosis(lambda x: _lenet5_forward(x, arrays, pool="avg"),
                      "Use MaxPool2d(2) for S2 and S4, not average pooling."),
            Diagnosis(lambda x: _lenet5_forward(x, arrays, relu=no * 4),
                      "The ReLUs are missing: put ReLU() after C1, C3, C5 and F6."),
            Diagnosis(lambda x: _lenet5_forward(x, arrays, relu=(True, True, True, False)),
                      "The ReLU after F6 is missing: Linear(120, 84), then ReLU()."),
            Diagnosis(lambda x: _lenet5_forward(x, arrays, relu=(True, True, False, True)),
                      "The ReLU after C5 is missing: Conv2d(16, 120, 5), then ReLU()."),
        ]
        compare(f"{name}()(x)", got, _lenet5_forward(x, arrays), the_case, diagnoses,
                lambda g, e, c: ("The output must be one row of 10 class scores per image."
                                 if len(g) != 2 or g[-1] != 10 else ""))
        n += 1
    if hidden:
        _backward_reaches_the_input(model, rng, (4, 1, 28, 28))
        n += 1
    passed(name, n)


# --------------------------------------------------------------- accuracy
def _accuracy(logits, targets):
    return float(np.mean(np.argmax(np.asarray(logits), axis=1) == np.asarray(targets)))


def check_accuracy(student_fn, hidden=False, seed=0):
    """Check ``accuracy(logits, targets)``: fraction of rows whose argmax is the target."""
    rng = np.random.default_rng(seed)
    z = np.array([[2.0, 0.1, -1.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.9], [1.0, 2.0, 0.0]])
    z4 = np.array([[0.1, 0.5, 0.9], [0.2, 0.9, 0.4], [0.6, 0.8, 0.1], [0.3, 0.2, 0.9]])
    cases = [case(z4, np.array([0, 1, 2, 0]),
                  description="logits [[0.1, 0.5, 0.9], [0.2, 0.9, 0.4], [0.6, 0.8, 0.1], "
                  "[0.3, 0.2, 0.9]], targets [0, 1, 2, 0] (1 of 4 right)"),
             case(z, np.array([0, 1, 2, 0]), description="4 examples, 3 of them right")]
    if hidden:
        big = randn(rng, 50, 10)
        cases += [
            case(np.array([[0.1, 0.9]]), np.array([0]), description="N=1, wrong"),
            case(np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]), np.array([0, 2]),
                 description="ties: argmax picks the first of equal scores"),
            case(big, np.argmax(big, axis=1) * (rng.uniform(size=50) < 0.7),
                 description="50 examples, 10 classes"),
            case(randn(rng, 3, 3), np.array([0, 1, 2]), description="square logits (3, 3)"),
            case(randn(rng, 6, 4), [0, 1, 2, 3, 0, 1], description="targets given as a list"),
        ]
    diagnoses = [
        Diagnosis(lambda z, t: 100 * _accuracy(z, t),
                  "That is a percentage; return the fraction, between 0 and 1."),
        Diagnosis(lambda z, t: 100 * _accuracy(z, t) * len(t) / 100,
                  "That is the number of correct predictions; divide by N."),
        Diagnosis(lambda z, t: 1 - _accuracy(z, t),
                  "That is the error rate; accuracy is the fraction of CORRECT predictions."),
        Diagnosis(lambda z, t: float(np.mean(np.argmax(z, axis=0) == np.asarray(t))),
                  "argmax over axis 0 picks, for each class, the best example; take it over "
                  "the classes, axis=1."),
        Diagnosis(lambda z, t: float(np.mean(np.argmin(z, axis=1) == np.asarray(t))),
                  "That uses argmin: the predicted class is the one with the HIGHEST score, "
                  "np.argmax(logits, axis=1)."),
        Diagnosis(lambda z, t: float(np.sum(np.argmax(z, axis=1) == np.asarray(t)) // len(t)),
                  "That is an integer division (//) of the number of correct predictions by "
                  "N: it rounds down to 0 (or 1). Divide with /, or take np.mean(...)."),
    ]
    hints = [(("raised",), "The predicted class of each row is np.argmax(logits, axis=1); "
              "compare it with targets and average.")]
    run_with_hints("accuracy", student_fn, _accuracy, cases, hints,
                   diagnoses=diagnoses,
                   forbidden=["lessonlib.train.evaluate", "lessonlib.train.predict"])


# ------------------------------------------------------------- train_step
def _step(model, x, y, lr, sign=1.0, scale=1.0, loss_after=False):
    """One step of gradient descent on ``model`` (in place); returns the loss."""
    logits = model(x)
    loss = ref("cross_entropy")(logits, y)
    model.backward(scale * ref("cross_entropy_backward")(logits, y))
    grads = model.grads
    for k, p in model.params.items():
        p -= sign * lr * grads[k]
    if loss_after:
        loss = ref("cross_entropy")(model(x), y)
    return loss


def _others_changed(theirs, before, k):
    """Whether a parameter other than ``k`` of the student's model moved from ``before``."""
    try:
        return any(not np.allclose(np.asarray(theirs.params[j]), np.asarray(p))
                   for j, p in before.items() if j != k)
    except Exception:  # a model without these parameters: no such advice
        return False


def _after(k, **opts):
    def wrong(model, x, y, lr):
        model = copy.deepcopy(model)
        _step(model, x, y, lr, **opts)
        return model.params[k]
    return wrong


def check_train_step(student_fn, hidden=False, seed=0):
    """Check ``train_step(model, x, y, lr)``: forward, loss, backward, update; returns the loss."""
    name = "train_step"
    _check_callable(student_fn, name)
    make = getattr(student_fn, "make", None)   # while grading: build the model in the kernel
    student_fn = guard(student_fn, name, forbidden=["lessonlib.optim.SGD.step",
                                                    "lessonlib.train.train_digits_cnn"])
    rng = np.random.default_rng(seed)
    setups = [(4, 0.1, 1), (1, 0.5, 2)]
    if hidden:
        setups += [(1, 0.5, 1), (6, 0.05, 3)]
    n = 0
    for size, lr, steps in setups:
        x = rng.uniform(0, 1, (size, 1, 4, 4))
        y = rng.integers(0, 3, size)
        mine = small_model(seed)
        theirs = make(small_model, seed) if make is not None else small_model(seed)
        for step in range(steps):
            start = {j: np.array(p, copy=True) for j, p in mine.params.items()}
            desc = (f"a batch of {size} 4x4 image(s), lr={lr}"
                    + (f", step {step + 1} of {steps}" if steps > 1 else ""))
            the_case = Case(args=(copy.deepcopy(mine), x, y, lr), description=desc)
            loss = _call(student_fn, name, theirs, x.copy(), y.copy(), lr)
            expected = _step(mine, x, y, lr)
            compare(f"the loss returned by {name}", loss, expected, the_case, [
                Diagnosis(lambda m, x, y, lr: _step(copy.deepcopy(m), x, y, lr, loss_after=True),
                          "That is the loss AFTER the update; return the loss of the forward "
                          "pass, computed before the weights change."),
            ], lambda g, e, c: "Return the loss as one number (the mean cross-entropy).")
            for k, p in mine.params.items():
                if k not in theirs.params:
                    raise CheckFailed(f"The model lost its parameter {k!r}.")
                compare(f"model.params[{k!r}] after {name}", theirs.params[k], p, the_case, [
                    Diagnosis(lambda m, x, y, lr, _k=k: m.params[_k],
                              f"{k!r} did not change while other parameters did: update "
                              f"every parameter of model.params (the biases too), "
                              f"p -= lr * g." if _others_changed(theirs, start, k) else
                              "The parameters did not change. Update them in place, "
                              "p -= lr * g (p = p - lr * g makes a new array that the model "
                              "never sees), after model.backward(...)."),
                    Diagnosis(_after(k, sign=-1.0),
                              "The parameters moved uphill: gradient DEscent subtracts, "
                              "p -= lr * g."),
                    Diagnosis(lambda m, x, y, lr, _k=k: _after(_k)(m, x, y, 1.0),
                              "The learning rate is ignored: p -= lr * g."),
                    Diagnosis(_after(k, scale=float(size)),
                              "The step is N times too large: the gradient of the MEAN loss "
                              "is (p - y) / N."),
                ][:4 if size > 1 else 3])
            n += 1
    passed(name, n)
