"""Resumable runs: a real ``tfw2v train`` is stopped mid-epoch (SIGTERM, SIGKILL), started again with the same
``--out``, and must finish with the same corpus words and (within tolerance) the same result as an
uninterrupted run with the same seed.

Tolerance, and why: each epoch's subsampling and window draws are seeded by ``(seed, epoch)``, the checkpoint
holds the negative sampler's state, and the restart skips exactly the batches the checkpoint had consumed — so
the resumed run replays the uninterrupted run's examples and negatives, and in practice matches it bit for bit.
The tests still allow for float summation order in multi-threaded kernels (and for an end-of-epoch sampler
step that TensorFlow may or may not execute when the dataset runs out), which would make the trajectories
drift apart without being a resume bug: words read must match to 1e-6 relative (a skipped or repeated batch
changes them by ~100 words), the final epoch's loss to 2% relative, and the embeddings must point the same way
(mean row cosine >= 0.95; a resume that lost the model state or restarted the epoch falls far below).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tfw2v.export import read_word2vec_format

TIMEOUT = 240
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] .*)$"
)
EPOCHS = 3
CORPUS_WORDS = 59_890
# ~510 steps per epoch, a checkpoint every 40: the first one appears early in epoch 1. Keras calls back once per
# execution, so steps_per_execution (default 32) must divide 40 for checkpoints to land on multiples of 40.
SETTINGS = ["--epochs", str(EPOCHS), "--dim", "16", "--batch-size", "64", "--checkpoint-every", "40",
            "--steps-per-execution", "8",
            "--seed", "11", "--export", "word2vec", "--analogies", "none", "--similarity", "none",
            "--probe", "police", "--progress", "lines"]


def tfw2v_command() -> list[str]:
    script = Path(sys.executable).with_name("tfw2v")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tfw2v.cli"]


def environment() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def train(corpus: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*tfw2v_command(), "train", str(corpus), *SETTINGS, "--out", str(out)],
                          capture_output=True, text=True, env=environment(), timeout=TIMEOUT)


def user_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and not TF_NOISE.match(line)]


def start_and_stop(corpus: Path, out: Path, how: signal.Signals) -> subprocess.CompletedProcess:
    """Start training, wait for its first checkpoint (mid-epoch 1), then send ``how``."""
    process = subprocess.Popen([*tfw2v_command(), "train", str(corpus), *SETTINGS, "--out", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment())
    deadline = time.monotonic() + TIMEOUT
    try:
        while not (out / "checkpoints" / "checkpoint").exists():
            assert process.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        process.send_signal(how)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, lee_path):
    """An uninterrupted run with the same settings."""
    out = tmp_path_factory.mktemp("resume") / "reference"
    result = train(lee_path, out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def assert_same_result(resumed: Path, reference: Path) -> None:
    ours = json.loads((resumed / "run.json").read_text())
    theirs = json.loads((reference / "run.json").read_text())
    assert ours["status"] == "complete"
    assert ours["words_seen"] == pytest.approx(EPOCHS * CORPUS_WORDS, abs=1.0)
    assert ours["words_seen"] == pytest.approx(theirs["words_seen"], rel=1e-6)

    history = json.loads((resumed / "history.json").read_text())
    expected = json.loads((reference / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(EPOCHS))
    assert history[-1]["loss"] == pytest.approx(expected[-1]["loss"], rel=0.02)

    a = read_word2vec_format(resumed / "export/vectors.txt")
    b = read_word2vec_format(reference / "export/vectors.txt")
    assert a.tokens == b.tokens
    cosines = np.sum(a.unit_vectors * b.unit_vectors, axis=1)
    assert cosines.mean() >= 0.95, (cosines.mean(), float(np.abs(a.vectors - b.vectors).max()))


def restored_position(stdout: str) -> tuple[int, int]:
    match = re.search(r"restored ckpt-\d+: epoch (\d+)/\d+, step (\d+)", stdout)
    assert match, stdout
    return int(match.group(1)), int(match.group(2))


def test_sigterm_saves_and_the_run_resumes_mid_epoch(tmp_path, lee_path, reference):
    out = tmp_path / "run"
    stopped = start_and_stop(lee_path, out, signal.SIGTERM)
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stdout + stopped.stderr
    lines = user_lines(stopped.stderr)
    assert len(lines) == 1 and "Traceback" not in stopped.stderr, lines
    assert re.match(r"tfw2v train: stopped by SIGTERM in epoch 1 at step \d+; checkpoint .*ckpt-\d+; run the same "
                    r"command again to resume$", lines[0]), lines[0]
    status = json.loads((out / "run.json").read_text())
    assert status["status"] == "training" and 0 < status["words_seen"] < CORPUS_WORDS
    stopped_step = int(re.search(r"at step (\d+)", lines[0]).group(1))

    resumed = train(lee_path, out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    epoch, step = restored_position(resumed.stdout)
    assert (epoch, step) == (1, stopped_step)  # the signal's own checkpoint: nothing is trained twice
    assert f"Epoch 1/{EPOCHS} (resumed at step {step})" in resumed.stdout
    assert_same_result(out, reference)

    again = train(lee_path, out)
    assert again.returncode == 0 and "this run is complete" in again.stdout


def test_sigkill_resumes_from_the_last_periodic_checkpoint(tmp_path, lee_path, reference):
    out = tmp_path / "run"
    killed = start_and_stop(lee_path, out, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL

    resumed = train(lee_path, out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    epoch, step = restored_position(resumed.stdout)
    assert epoch == 1 and step > 0 and step % 40 == 0, (epoch, step)  # inside epoch 1, not at its start
    assert_same_result(out, reference)


@pytest.mark.slow
def test_sigint_behaves_like_sigterm(tmp_path, lee_path, reference):
    out = tmp_path / "run"
    stopped = start_and_stop(lee_path, out, signal.SIGINT)
    assert stopped.returncode == 128 + signal.SIGINT
    assert "stopped by SIGINT" in user_lines(stopped.stderr)[0]
    resumed = train(lee_path, out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_same_result(out, reference)
