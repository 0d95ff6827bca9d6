"""Build the fused ops where they run: compiled at first use against the installed TensorFlow, then cached.

The C++ sources ship inside the package (``word2vec_sgd.cc``, the training step; ``word2vec_tokens.cc`` and
``word2vec_examples.cc``, the pipeline's text stages (token ids, token counts) and windowing), built into one
library. The first process that needs it compiles them with the compiler and flags that ``tf.sysconfig`` reports
(plus ``-O3 -march=native``), which takes about 25 s; every later process loads the cached library. Nothing is
fetched from the network.

Cache: ``$TFW2V_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/tfw2v/kernels``, else ``~/.cache/tfw2v/kernels``. An
entry is named by a hash of everything the binary depends on: the TensorFlow version and its flags, our flags,
the sources, the compiler's version and the CPU (model and feature flags), so a change of any of them builds a
new entry. Builds write a temporary file and rename it into place under a file lock, so concurrent processes
neither clash nor load half-written files. An entry that fails to load (truncated, corrupt) is rebuilt once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shlex
import shutil
import subprocess
from pathlib import Path

SOURCES = tuple(Path(__file__).with_name(name) for name in ("word2vec_sgd.cc", "word2vec_examples.cc",
                                                                      "word2vec_tokens.cc"))
OPTIMISATION_FLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-fPIC", "-shared")
COMPILER_CANDIDATES = ("g++", "c++", "clang++")


class KernelUnavailable(RuntimeError):
    """The fused kernel cannot be built or loaded here; the message says why (naming the compiler)."""


def cache_dir() -> Path:
    if os.environ.get("TFW2V_KERNEL_CACHE"):
        return Path(os.environ["TFW2V_KERNEL_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tfw2v" / "kernels"


def find_compiler() -> str:
    """The C++ compiler: ``$CXX`` if set, else the first of g++, c++, clang++ on ``PATH``."""
    requested = os.environ.get("CXX")
    if requested:
        found = shutil.which(shlex.split(requested)[0])
        if found is None:
            raise KernelUnavailable(f"the C++ compiler CXX={requested!r} was not found")
        return found
    for name in COMPILER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise KernelUnavailable(f"no C++ compiler found (looked for $CXX, {', '.join(COMPILER_CANDIDATES)} on PATH)")


def _cpu_description() -> str:
    """The CPU's model name and feature flags (what -march=native compiles for)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        import platform

        return platform.processor() or platform.machine()
    wanted = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(wanted))


def compile_command(compiler: str, output: Path) -> list[str]:
    import tensorflow as tf

    flags = list(OPTIMISATION_FLAGS)
    if "avx512_fp16" in _cpu_description().split():  # /proc/cpuinfo spells it so
        flags.append("-mno-avx512fp16")  # Eigen's headers do not compile with AVX512-FP16 enabled
    return [compiler, *tf.sysconfig.get_compile_flags(), *flags, *map(str, SOURCES), "-o", str(output),
            *tf.sysconfig.get_link_flags()]


def _compiler_version(compiler: str) -> str:
    try:
        return subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise KernelUnavailable(f"the C++ compiler {compiler} does not run ({e})") from None


def entry_name(compiler: str) -> str:
    import tensorflow as tf

    digest = hashlib.sha256()
    for part in (tf.__version__, " ".join(compile_command(compiler, Path("out"))), _compiler_version(compiler),
                 _cpu_description()):
        digest.update(part.encode() + b"\0")
    for source in SOURCES:
        digest.update(source.read_bytes())
    return f"tfw2v_ops-{tf.__version__}-{digest.hexdigest()[:16]}.so"


def build(compiler: str, target: Path) -> None:
    """Compile into ``target`` atomically (a temporary file renamed into place)."""
    temporary = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    command = compile_command(compiler, temporary)
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        temporary.unlink(missing_ok=True)
        raise KernelUnavailable(f"the C++ compiler {compiler} failed to run ({e})") from None
    if result.returncode != 0:
        temporary.unlink(missing_ok=True)
        lines = result.stderr.strip().splitlines() or ["(no output)"]
        first_error = next((line for line in lines if "error" in line), lines[-1])
        names = " and ".join(source.name for source in SOURCES)
        raise KernelUnavailable(f"compiling {names} with {compiler} failed (exit {result.returncode}): "
                                f"{first_error.strip()}")
    os.replace(temporary, target)


def load_library():
    """Build if needed, then load the op library; returns the module of ``tf.load_op_library``.

    Raises :class:`KernelUnavailable` when there is no compiler or the build or load fails.
    """
    import tensorflow as tf

    compiler = find_compiler()
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise KernelUnavailable(f"the kernel cache {directory} cannot be created ({e.strerror or e})") from None
    target = directory / entry_name(compiler)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time; the others wait and then load its result
        if not target.exists():
            build(compiler, target)
        try:
            return tf.load_op_library(str(target))
        except (tf.errors.OpError, OSError):  # a corrupt or truncated entry: build it again, once
            target.unlink(missing_ok=True)
            build(compiler, target)
            try:
                return tf.load_op_library(str(target))
            except (tf.errors.OpError, OSError) as e:
                raise KernelUnavailable(f"the freshly built kernel {target} does not load: {e}") from None
