"""The digits CNN: its shape, evaluation helpers, and that it really learns."""

import subprocess
import sys

import numpy as np
import pytest

from lessonlib import (evaluate, load_digits, make_digits_cnn, predict,
                       train_digits_cnn)
from lessonlib.train import main


def test_architecture_and_parameter_names():
    model = make_digits_cnn(rng=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"0.weight": (16, 1, 3, 3), "0.bias": (16,),
                      "3.weight": (32, 16, 3, 3), "3.bias": (32,),
                      "7.weight": (10, 128), "7.bias": (10,)}
    assert model(np.zeros((5, 1, 8, 8))).shape == (5, 10)
    assert make_digits_cnn(rng=0, dtype=np.float32)(np.zeros((1, 1, 8, 8), np.float32)).dtype \
        == np.float32


def test_predict_and_evaluate():
    model = make_digits_cnn(rng=0)
    X, y = load_digits("test")
    labels = predict(model, X, batch_size=100)
    assert labels.shape == (450,) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, np.argmax(model(X), axis=1))
    assert evaluate(model, X, labels) == 1.0
    assert evaluate(model, X, (labels + 1) % 10) == 0.0
    # negative control for the training test below: an untrained network is near chance
    assert evaluate(model, X, y) < 0.5
    with pytest.raises(ValueError, match=r"y must hold one label per example of X"):
        evaluate(model, X, y[:-1])
    with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
        predict(model, X, batch_size=0)
    with pytest.raises(ValueError, match=r"X must be a non-empty batch \(N, \.\.\.\), got shape "
                                         r"\(0, 1, 8, 8\)"):
        predict(model, X[:0])


def test_one_epoch_history_and_reproducibility():
    _, h1 = train_digits_cnn(epochs=1, progress=False, seed=3)
    _, h2 = train_digits_cnn(epochs=1, progress=False, seed=3)
    assert set(h1) == {"loss", "train_acc", "test_acc", "seconds"}
    assert len(h1["loss"]) == len(h1["train_acc"]) == len(h1["test_acc"]) == 1
    assert isinstance(h1["seconds"], float) and h1["seconds"] > 0
    assert h1["loss"] == h2["loss"] and h1["test_acc"] == h2["test_acc"]
    assert h1["loss"][0] < np.log(10)  # below the loss of a uniform guess: it learns


def test_training_a_given_model_changes_its_weights():
    model = make_digits_cnn(rng=1, dtype=np.float32)
    before = model.params["7.weight"].copy()
    trained, _ = train_digits_cnn(epochs=1, progress=False, model=model, blas_threads=None)
    assert trained is model and not np.array_equal(before, model.params["7.weight"])


@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(epochs=0), ValueError, r"epochs must be >= 1"),
    (dict(batch_size=2.5), TypeError, r"batch_size must be an integer"),
    (dict(lr=-1.0), ValueError, r"lr must be a finite number >= 0"),
    (dict(dtype=np.float16), TypeError, r"dtype must be np.float32 or np.float64"),
    (dict(seed=-1), ValueError, r"seed must be >= 0, got -1"),
    (dict(blas_threads=0), ValueError, r"blas_threads must be >= 1, got 0"),
])
def test_bad_arguments_are_refused(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        train_digits_cnn(progress=False, **kwargs)


@pytest.mark.slow
def test_reaches_97_percent_on_the_held_out_digits():
    model, history = train_digits_cnn(epochs=30, batch_size=32, seed=0, progress=False)
    X, y = load_digits("test", dtype=np.float32)
    acc = evaluate(model, X, y)
    assert acc == history["test_acc"][-1]
    assert acc >= 0.97, f"test accuracy {acc:.3f} after 30 epochs"
    assert history["loss"][-1] < history["loss"][0] / 10


def test_main_prints_accuracy_and_time(capsys):
    history = main(["--epochs", "1", "--no-progress", "--seed", "2", "--dtype", "float64"])
    out = capsys.readouterr().out
    assert out.startswith(f"test accuracy {history['test_acc'][-1]:.2%} after 1 epochs in ")
    assert "(float64, lr=0.05, seed=2)" in out


@pytest.mark.slow
def test_command_line_entry_point():
    run = subprocess.run([sys.executable, "-m", "lessonlib.train", "--epochs", "1",
                          "--no-progress"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("test accuracy ") and " s (float32, lr=" in run.stdout
    assert "Warning" not in run.stderr
