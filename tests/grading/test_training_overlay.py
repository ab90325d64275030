"""Grading 09: the kernel keeps BatchNorm2d, Dropout and shift_images, not the graded functions.

While 09 is graded, the modules that compute batch norm, dropout and the
random shifts are stubs (:mod:`lessonlib.grading.references`). The
notebook's networks still need the two layers, and its last experiment
``shift_images`` with one offset for the batch: the overlay provides
independent versions (``PERMITTED``). These tests pin that they compute
what the real ones compute, that nothing else is reachable (the functions,
an offset per image), and that a student's function built on them is
still refused, in the kernel, by the checks.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import lessonlib
from lessonlib.grading.references import build_overlay

CHECKS = ["check_train_val_split", "check_kaiming_normal", "check_momentum_step",
          "check_adam_step", "check_batch_norm2d", "check_batch_norm2d_backward",
          "check_dropout", "check_dropout_backward", "check_random_shifts"]


def _env(overlay):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COV_", "COVERAGE")) and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(overlay)
    return env


@pytest.fixture(scope="module")
def overlay(tmp_path_factory):
    return build_overlay(tmp_path_factory.mktemp("overlay09"), CHECKS, "09_training")


def _real_results():
    rng = np.random.default_rng(0)
    x, dout = rng.normal(1.0, 2.0, (4, 3, 2, 3)), rng.standard_normal((4, 3, 2, 3))
    out = {}
    bn = lessonlib.BatchNorm2d(3, momentum=0.3)
    bn.weight[...], bn.bias[...] = [1.5, 0.5, -1.0], [0.1, -0.2, 0.3]
    out["bn_train"] = bn(x)
    out["bn_dx_train"] = bn.backward(dout)
    out["bn_grads"] = np.concatenate([bn.grads["weight"], bn.grads["bias"]])
    out["bn_running"] = np.concatenate([bn.running_mean, bn.running_var])
    out["bn_eval"] = bn.eval()(x)
    out["bn_dx_eval"] = bn.backward(dout)
    drop = lessonlib.Dropout(0.4, rng=5)
    out["drop_train"] = drop(x)
    out["drop_dx"] = drop.backward(dout)
    out["drop_eval"] = drop.eval()(x)
    out["shift"] = lessonlib.shift_images(x, 1, -2)
    out["shift_out"] = lessonlib.shift_images(x, 0, 5)
    return {k: v.tolist() for k, v in out.items()}


SCRIPT = """
import json, sys
import numpy as np
import lessonlib
from lessonlib._unavailable import ReferenceUnavailable
assert lessonlib.__file__.startswith({overlay!r}), lessonlib.__file__
rng = np.random.default_rng(0)
x, dout = rng.normal(1.0, 2.0, (4, 3, 2, 3)), rng.standard_normal((4, 3, 2, 3))
out = {{}}
bn = lessonlib.BatchNorm2d(3, momentum=0.3)
bn.weight[...], bn.bias[...] = [1.5, 0.5, -1.0], [0.1, -0.2, 0.3]
out["bn_train"] = bn(x)
out["bn_dx_train"] = bn.backward(dout)
out["bn_grads"] = np.concatenate([bn.grads["weight"], bn.grads["bias"]])
out["bn_running"] = np.concatenate([bn.running_mean, bn.running_var])
out["bn_eval"] = bn.eval()(x)
out["bn_dx_eval"] = bn.backward(dout)
drop = lessonlib.Dropout(0.4, rng=5)
out["drop_train"] = drop(x)
out["drop_dx"] = drop.backward(dout)
out["drop_eval"] = drop.eval()(x)
out["shift"] = lessonlib.shift_images(x, 1, -2)
out["shift_out"] = lessonlib.shift_images(x, 0, 5)
refused = []
for name, call in [
        ("batch_norm2d", lambda: lessonlib.batch_norm2d(x, np.ones(3), np.zeros(3))),
        ("batch_norm2d_backward", lambda: lessonlib.batch_norm2d_backward(dout, x, np.ones(3))),
        ("dropout", lambda: lessonlib.dropout(x, 0.5, rng=0)),
        ("random_shifts", lambda: lessonlib.random_shifts(x, 1, rng=0)),
        ("shift_images per image", lambda: lessonlib.shift_images(x, np.arange(4), 0)),
        ("train_val_split", lambda: lessonlib.train_val_split(x, np.arange(4), 1, rng=0)),
        ("kaiming_normal", lambda: lessonlib.kaiming_normal((3, 2), rng=0)),
        ("adam_step", lambda: lessonlib.adam_step(x, x, x, x, 1))]:
    try:
        call()
    except ReferenceUnavailable:
        refused.append(name)
print("RESULTS" + json.dumps({{"out": {{k: v.tolist() for k, v in out.items()}},
                              "refused": refused,
                              "load_digits": list(lessonlib.load_digits("test")[0].shape)}}))
"""


def test_the_kept_layers_compute_what_the_real_ones_compute(overlay, tmp_path):
    res = subprocess.run([sys.executable, "-c", SCRIPT.format(overlay=str(overlay))],
                         cwd=tmp_path, env=_env(overlay), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.split("RESULTS")[1])
    real = _real_results()
    for key, value in real.items():
        np.testing.assert_allclose(got["out"][key], value, rtol=1e-12, atol=1e-12,
                                   err_msg=key)
    assert got["refused"] == ["batch_norm2d", "batch_norm2d_backward", "dropout",
                              "random_shifts", "shift_images per image", "train_val_split",
                              "kaiming_normal", "adam_step"]
    assert got["load_digits"] == [450, 1, 8, 8]           # data stays, split is blocked
    assert "LESSONLIB-REFERENCE-CALLED lessonlib.augment.shift_images" in res.stderr


KERNEL = r"""
import json, os, struct, sys
out = os.fdopen(os.dup(1), "wb")
os.dup2(2, 1)
import numpy as np
import lessonlib
ns = {"np": np, "lessonlib": lessonlib}
exec(sys.argv[1], ns)
while True:
    head = sys.stdin.buffer.read(8)
    if len(head) < 8:
        break
    expr = sys.stdin.buffer.read(struct.unpack(">Q", head)[0]).decode()
    try:
        answer = b"+" + str(eval(expr, ns)).encode()
    except BaseException as exc:
        answer = b"-" + repr(exc).encode()
    out.write(struct.pack(">Q", len(answer)) + answer)
    out.flush()
"""

STUDENT = textwrap.dedent("""
    def batch_norm2d(x, gamma, beta, running_mean, running_var, training=True, momentum=0.1,
                     eps=1e-5):
        layer = lessonlib.BatchNorm2d(x.shape[1], eps=eps, momentum=momentum)
        layer.params["weight"][...], layer.params["bias"][...] = gamma, beta
        layer.running_mean, layer.running_var = running_mean, running_var
        return layer.train(training)(x)

    def dropout(x, p, training, rng):
        layer = lessonlib.Dropout(p, rng=rng).train(training)
        return layer(x), layer._cache[0]

    def random_shifts(X, max_shift, rng):
        dx, dy = rng.integers(-max_shift, max_shift + 1, size=(2, len(X)))
        return np.stack([lessonlib.shift_images(X[i:i + 1], int(dx[i]), int(dy[i]))[0]
                         for i in range(len(X))])
""")


@pytest.mark.parametrize("name, label", [
    ("batch_norm2d", "lessonlib.nn.normalization.BatchNorm2d.forward"),
    ("dropout", "lessonlib.nn.normalization.Dropout.forward"),
    ("random_shifts", "lessonlib.augment.shift_images"),
])
def test_a_function_built_on_the_kept_layers_is_refused_in_the_kernel(overlay, tmp_path, name,
                                                                      label):
    """The kept layers work in the kernel, so the student's function gives the right answer;
    the check refuses it all the same, told by the kernel which labels were called."""
    from lessonlib import checks
    from lessonlib.checks import CheckFailed
    from lessonlib.grading.verdict import KernelLink

    proc = subprocess.Popen([sys.executable, "-c", KERNEL, STUDENT], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            env=_env(overlay))

    def ask(expr):
        data = expr.encode()
        proc.stdin.write(struct.pack(">Q", len(data)) + data)
        proc.stdin.flush()
        head = proc.stdout.read(8)
        answer = proc.stdout.read(struct.unpack(">Q", head)[0]).decode()
        assert answer[0] == "+", answer
        return answer[1:]

    try:
        remote = KernelLink(ask).resolve(name)
        with pytest.raises(CheckFailed, match=rf"{name} calls {label}, which computes"):
            getattr(checks, f"check_{name}")(remote)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
