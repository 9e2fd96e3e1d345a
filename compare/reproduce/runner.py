"""Train the configurations a reproduction needs: cached, local or on Dask.

Each configuration trains once, whatever the number of figures that use it,
and is written to the cache the moment it finishes, so an interrupted
reproduce resumes with the runs still missing; a damaged cache entry is
trained again. Runs are independent, so they go to ``jobs`` local processes,
or to a Dask distributed cluster when a scheduler address is given
(``pip install twinprop[cluster]``).
"""

import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from compare.common.errors import ConfigError, DivergenceError
from compare.data.load import Dataset
from compare.jsonable import to_jsonable
from compare.reproduce.cache import RunCache, run_key
from compare.reproduce.figures import Run, relative_cost
from compare.reproduce.results import DIVERGED, OK, RunOutcome
from compare.reproduce.soundness import DamagedRun
from compare.train.config import TrainConfig
from compare.twins import TWINS

RunFn = Callable[[TrainConfig, tuple[str, ...], "Path | None"], Any]
"""``run_fn(config, twins, data_dir)`` -> an object with ``.metrics`` and ``.params``."""
Todo = list[tuple[str, Run]]
Finished = Iterator[tuple[str, Run, RunOutcome]]

# One BLAS thread per worker: with one worker per core, more would only fight.
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler
# Per process: (name, data_dir, dtype) -> Dataset, loaded once.
_DATASETS: dict[tuple[str, str | None, str], Dataset] = {}


def dataset(name: str = "mnist", data_dir: Path | None = None, dtype: str = "float64",
            quiet: bool = True) -> Dataset:
    """The data set, loaded once per process (every run of a worker shares it)."""
    from compare.data.load import load_dataset
    key = (name, None if data_dir is None else str(data_dir), dtype)
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(name=name, data_dir=data_dir, dtype=dtype, quiet=quiet)
    return _DATASETS[key]


def train(config: TrainConfig, twins: tuple[str, ...], data_dir: Path | None) -> Any:
    """The real run function: ``compare.train.trainer.run_training`` on the data set.

    Returns the trainer's result (``.metrics``, ``.params``); raises
    DivergenceError when the loss stops being finite.
    """
    from compare.train import trainer  # looked up at call time, like the twins
    data = dataset(config.dataset, data_dir, config.dtype)
    return trainer.run_training(config, twins=tuple(twins), data=data)


def run_one(run_fn: RunFn, config: TrainConfig, twins: tuple[str, ...],
            data_dir: Path | None) -> RunOutcome:
    """Run ``run_fn(config, twins, data_dir)`` and wrap its result as a RunOutcome.

    A diverged run is an outcome (cached, drawn as such), not a failure.
    """
    start = time.perf_counter()
    try:
        result = run_fn(config, twins, data_dir)
    except DivergenceError as err:
        return RunOutcome(DIVERGED, {}, message=str(err),
                          wall_seconds=time.perf_counter() - start)
    params = {twin: [(np.asarray(W), np.asarray(b)) for W, b in layers]
              for twin, layers in result.params.items()}
    return RunOutcome(OK, to_jsonable(result.metrics), params,
                      wall_seconds=time.perf_counter() - start)


def run_all(runs: Sequence[Run], cache: RunCache, twins: Sequence[str] = tuple(TWINS),
            jobs: int | None = None, scheduler: str | None = None,
            data_dir: Path | None = None, run_fn: RunFn = train,
            log: Callable[[str], None] | None = None) -> dict[str, RunOutcome]:
    """Make sure every configuration in ``runs`` is trained and cached.

    Args:
        runs: the planned runs (a configuration may appear several times).
        cache: where finished runs are kept.
        twins: registered twin names trained in lockstep in every run.
        jobs: local worker processes (None = os.cpu_count()); 1 trains in
            this process.
        scheduler: a Dask scheduler address; when given, ``jobs`` is ignored.
        data_dir: passed to load_dataset in every worker.
        run_fn: trains one configuration (tests inject a fake one); must be
            picklable for workers.
        log: takes one line of progress (default: stderr).
    Returns:
        run key -> RunOutcome, for every distinct configuration.
    """
    say = log or _stderr
    twins = tuple(twins)
    distinct: dict[str, tuple[Run, list[str]]] = {}  # key -> (first Run, figures using it)
    for run in runs:
        key = run_key(run.config, twins)
        _, used_by = distinct.setdefault(key, (run, []))
        if run.figure not in used_by:
            used_by.append(run.figure)
    outcomes: dict[str, RunOutcome] = {}
    todo: Todo = []
    for key, (run, _) in distinct.items():
        try:
            cached = cache.load(run.config, twins)
        except DamagedRun as err:
            say(f"the cached run {cache.folder(key)} is damaged ({err}); training it again")
            cached = None
        if cached is None:
            todo.append((key, run))
        else:
            outcomes[key] = cached
    workers = max(1, jobs or os.cpu_count() or 1)
    where = (f"on the Dask cluster at {scheduler}" if scheduler
             else f"on {min(workers, max(1, len(todo)))} local process(es)")
    say(f"{len(distinct)} configuration{'s' if len(distinct) != 1 else ''}: "
        f"{len(outcomes)} cached, {len(todo)} to train" + (f" {where}" if todo else ""))
    if todo and run_fn is train and not scheduler:
        # Fetch (or check) the data here once, with its messages, rather
        # than in every worker at the same time.
        for name, dtype in sorted({(r.config.dataset, r.config.dtype) for _, r in todo}):
            dataset(name, data_dir, dtype, quiet=False)
    # Longest first, so the last runs to finish are short ones.
    todo.sort(key=lambda item: -relative_cost(item[1].config))
    finished: Finished
    if scheduler:
        finished = _on_dask(todo, run_fn, twins, data_dir, scheduler)
    elif workers == 1 or len(todo) <= 1:
        finished = _in_process(todo, run_fn, twins, data_dir)
    else:
        finished = _on_processes(todo, run_fn, twins, data_dir, workers)
    for count, (key, run, outcome) in enumerate(finished, 1):
        cache.store(run.config, twins, outcome)
        outcomes[key] = outcome
        say(f"[{count}/{len(todo)}] {describe(run, distinct[key][1], outcome)}")
    return outcomes


def describe(run: Run, used_by: Sequence[str], outcome: RunOutcome) -> str:
    """One progress line for a finished run."""
    head = f"fig {'/'.join(used_by)} {run.label} seed {run.seed}"
    if not outcome.ok:
        return f"{head}: diverged after {outcome.wall_seconds:.0f} s ({outcome.message})"
    accs = ", ".join(f"{twin} {epochs[-1]['test_acc']:.4f}"
                     for twin, epochs in outcome.metrics.items() if epochs)
    return f"{head}: {outcome.wall_seconds:.0f} s, final test accuracy {accs}"


def _stderr(line: str) -> None:
    print(f"reproduce: {line}", file=sys.stderr, flush=True)


def _in_process(todo: Todo, run_fn: RunFn, twins: tuple[str, ...],
                data_dir: Path | None) -> Finished:
    for key, run in todo:
        yield key, run, run_one(run_fn, run.config, twins, data_dir)


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Set the BLAS thread variables the spawned workers inherit; restore after."""
    saved = {name: os.environ.get(name) for name in _BLAS_THREAD_VARS}
    for name in _BLAS_THREAD_VARS:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _on_processes(todo: Todo, run_fn: RunFn, twins: tuple[str, ...], data_dir: Path | None,
                  jobs: int) -> Finished:
    # spawn, not fork: a fresh interpreter reads the BLAS thread variables
    # (a forked child keeps the parent's already-started BLAS threads).
    context = multiprocessing.get_context("spawn")
    with _one_blas_thread():
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context)
        try:
            futures: dict[Future[RunOutcome], tuple[str, Run]] = {
                pool.submit(run_one, run_fn, run.config, twins, data_dir): (key, run)
                for key, run in todo}
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    try:
        for future in as_completed(futures):
            key, run = futures[future]
            yield key, run, future.result()
    finally:
        # On an error or Ctrl-C, start nothing more; finished runs are cached.
        pool.shutdown(wait=False, cancel_futures=True)


def import_distributed() -> ModuleType:
    """The ``dask.distributed`` module, or a ConfigError saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise ConfigError("--scheduler needs Dask, an optional extra: "
                          "pip install twinprop[cluster]") from None
    return distributed


def _on_dask(todo: Todo, run_fn: RunFn, twins: tuple[str, ...], data_dir: Path | None,
             address: str) -> Finished:
    distributed = import_distributed()
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as err:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} ({err}); "
                          f"start one with 'dask scheduler' or drop --scheduler") from None
    with client:
        # pure=False: a run is submitted because it is not cached, never deduplicated.
        futures = [client.submit(run_one, run_fn, run.config, twins, data_dir, pure=False)
                   for _, run in todo]
        by_key = {future.key: item for future, item in zip(futures, todo)}
        try:
            for future in distributed.as_completed(futures):
                key, run = by_key[future.key]
                yield key, run, future.result()
        finally:
            client.cancel(futures)
