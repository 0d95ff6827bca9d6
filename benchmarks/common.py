"""Shared benchmark plumbing: where the data is, and how a measurement is timed and recorded."""

from __future__ import annotations

import gzip
import json
import os
import platform
import resource
import shutil
import sys
import threading
from pathlib import Path

SHARED_DATA = Path(os.environ.get("TFW2V_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
CORPUS = SHARED_DATA / "enwiki2015_text8style.gz"
RESULTS = Path(__file__).resolve().parent / "results"

MISSING_CORPUS = f"""benchmark corpus not found: {CORPUS}
Set TFW2V_SHARED_DATA to the folder that holds enwiki2015_text8style.gz, or use text8:
  curl -O http://mattmahoney.net/dc/text8.zip && unzip text8.zip && gzip text8
  TFW2V_BENCH_CORPUS=$PWD/text8.gz python benchmarks/...
"""


def corpus_path() -> Path:
    """The benchmark corpus, or exit with instructions to get one."""
    path = Path(os.environ.get("TFW2V_BENCH_CORPUS", CORPUS))
    if not path.exists():
        sys.exit(MISSING_CORPUS)
    return path


def prepare_corpus(words: int | None, scratch: Path) -> str:
    """An uncompressed copy of the corpus (optionally its first ``words`` words) that every trainer reads."""
    target = scratch / "corpus.txt"
    with gzip.open(corpus_path(), "rb") as src, open(target, "wb") as dst:
        if words is None:
            shutil.copyfileobj(src, dst)
        else:  # the first `words` words, read piece by piece (a word cut by a read is carried over)
            left, carry = words, b""
            while left > 0:
                piece = src.read(1 << 20)
                tokens = (carry + piece).split()
                carry = tokens.pop() if piece and tokens and not piece[-1:].isspace() else b""
                dst.write(b" " + b" ".join(tokens[:left]))
                left -= len(tokens[:left])
                if not piece:
                    break
    return str(target)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB: ``VmHWM`` where there is ``/proc``, else ``ru_maxrss``.

    Not ``ru_maxrss`` first: Linux keeps it across ``fork`` and ``execve``, so a child started by a parent
    that once held 1 GB reports at least 1 GB whatever it does. ``VmHWM`` belongs to the process's own memory
    map, which ``execve`` makes anew.
    """
    peak = proc_status_mib().get("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


PROC_FIELDS = ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")


def proc_status_mib() -> dict[str, float]:
    """``/proc/self/status`` memory lines, MiB: ``VmHWM`` is the peak RSS; ``VmRSS`` and its split into
    ``RssAnon`` (heap, tensors, arrays), ``RssFile`` (mapped files: shared libraries) and ``RssShmem`` are
    *current* values, not peaks. Empty where there is no ``/proc`` (not Linux)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _, rest = line.partition(":")
        if key in PROC_FIELDS:
            values[key] = int(rest.split()[0]) / 1024  # kB
    return values


class AnonPeakSampler:
    """The largest ``RssAnon`` (anonymous resident memory: what the process allocated, without mapped
    libraries) seen by a daemon thread that reads ``/proc/self/status`` every ``interval`` seconds.

    Linux keeps no peak of ``RssAnon``, so this is a *sampled* peak: a lower bound that can miss spikes
    shorter than ``interval``. Reading the file costs some microseconds per sample."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peak_mib, self.samples = interval, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="anon-peak-sampler")

    def _sample(self) -> None:
        anon = proc_status_mib().get("RssAnon")
        if anon is not None:
            self.peak_mib, self.samples = max(self.peak_mib, anon), self.samples + 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> "AnonPeakSampler":
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {"sampled_peak_anon_mib": self.peak_mib, "interval_s": self.interval, "samples": self.samples}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def save(name: str, record: dict) -> Path:
    """Write ``results/<name>.json`` and return its path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **record}, indent=2) + "\n")
    return path
