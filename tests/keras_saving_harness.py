"""A shared serialization and saving harness (in KerasHub's manner): every objective and both architectures
pass the same checks, so a new objective gets them by being listed.

* :func:`run_serialization_test` — ``get_config`` → ``from_config`` gives an object with the same config, and the
  config is JSON (what a ``.keras`` file stores);
* :func:`run_saving_test` — ``save("x.keras")`` → ``keras.models.load_model`` in this process gives equal
  weights, and :func:`load_in_fresh_process` does it in a new Python process (nothing registered by hand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np


def run_serialization_test(instance) -> None:
    config = instance.get_config()
    json.dumps(config)  # a .keras file stores it as JSON
    rebuilt = type(instance).from_config(config)
    assert rebuilt.get_config() == config
    assert [tuple(v.shape) for v in rebuilt.weights] == [tuple(v.shape) for v in instance.weights]


def run_saving_test(instance, path: Path) -> object:
    """Save ``instance`` to ``path`` (``.keras``), load it back here, assert equal weights; return the loaded."""
    instance.save(path) if isinstance(instance, keras.Model) else keras.Sequential([instance]).save(path)
    loaded = keras.models.load_model(path)
    loaded_weights = loaded.weights if isinstance(instance, keras.Model) else loaded.layers[0].weights
    assert len(loaded_weights) == len(instance.weights)
    for original, restored in zip(instance.weights, loaded_weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(original), keras.ops.convert_to_numpy(restored))
    return loaded


def load_in_fresh_process(code: str, timeout: float = 180) -> dict:
    """Run ``code`` (which prints one JSON line last) in a new interpreter; return that JSON."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
