"""Train the configurations a reproduction needs: cached, local or on Dask.

Each configuration trains once, whatever the number of figures that use it,
and is written to the cache the moment it finishes, so an interrupted
reproduce resumes with the runs still missing. Runs are independent, so they
go to ``jobs`` local processes, or to a Dask distributed cluster when a
scheduler address is given (``pip install twinprop[cluster]``).
"""

import contextlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from compare.common.errors import ConfigError, DivergenceError
from compare.jsonable import to_jsonable
from compare.reproduce.cache import run_key
from compare.reproduce.figures import estimate_seconds
from compare.reproduce.results import DIVERGED, OK, RunOutcome

# The twins of the paper's figures: the hand-derived one and its autograd
# oracle (any registered twins can be asked for with --twins).
TWINS = ("manual", "autodiff")
# One BLAS thread per worker: with one worker per core, more would only fight.
_BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler
_DATASETS = {}  # per process: (name, data_dir, dtype) -> Dataset, loaded once


def dataset(name="mnist", data_dir=None, dtype="float64", quiet=True):
    """The data set, loaded once per process (every run of a worker shares it)."""
    from compare.data.load import load_dataset
    key = (name, None if data_dir is None else str(data_dir), dtype)
    if key not in _DATASETS:
        _DATASETS[key] = load_dataset(name=name, data_dir=data_dir, dtype=dtype, quiet=quiet)
    return _DATASETS[key]


def train(config, twins, data_dir):
    """The real run function: ``compare.train.trainer.run_training`` on the data set.

    Returns the trainer's result (``.metrics``, ``.params``); raises
    DivergenceError when the loss stops being finite.
    """
    from compare.train import trainer  # looked up at call time, like the twins
    data = dataset(config.dataset, data_dir, config.dtype)
    return trainer.run_training(config, twins=tuple(twins), data=data)


def run_one(run_fn, config, twins, data_dir):
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


def run_all(runs, cache, twins=TWINS, jobs=None, scheduler=None, data_dir=None,
            run_fn=train, log=None):
    """Make sure every configuration in ``runs`` is trained and cached.

    Args:
        runs: list of figures.Run (a configuration may appear several times).
        cache: a cache.RunCache.
        twins: twin names trained in lockstep in every run.
        jobs: local worker processes (None = os.cpu_count()); 1 trains in
            this process.
        scheduler: a Dask scheduler address; when given, ``jobs`` is ignored.
        data_dir: passed to load_dataset in every worker.
        run_fn: ``run_fn(config, twins, data_dir)`` -> object with .metrics and
            .params (tests inject a fake one); must be picklable for workers.
        log: callable taking one line of progress (default: stderr).
    Returns:
        dict run key -> RunOutcome, for every distinct configuration.
    """
    log = log or _stderr
    twins = tuple(twins)
    distinct = {}  # key -> (first Run, figures using it)
    for run in runs:
        key = run_key(run.config, twins)
        first, used_by = distinct.setdefault(key, (run, []))
        if run.figure not in used_by:
            used_by.append(run.figure)
    outcomes, todo = {}, []
    for key, (run, _) in distinct.items():
        cached = cache.load(run.config, twins)
        if cached is None:
            todo.append((key, run))
        else:
            outcomes[key] = cached
    jobs = max(1, jobs or os.cpu_count() or 1)
    where = (f"on the Dask cluster at {scheduler}" if scheduler
             else f"on {min(jobs, max(1, len(todo)))} local process(es)")
    log(f"{len(distinct)} configuration{'s' if len(distinct) != 1 else ''}: "
        f"{len(outcomes)} cached, {len(todo)} to train"
        + (f" {where}" if todo else ""))
    if todo and run_fn is train and not scheduler:
        # Fetch (or check) the data here once, with its messages, rather
        # than in every worker at the same time.
        for name, dtype in sorted({(r.config.dataset, r.config.dtype) for _, r in todo}):
            dataset(name, data_dir, dtype, quiet=False)
    # Longest first, so the last runs to finish are short ones.
    todo.sort(key=lambda item: -estimate_seconds(item[1].config))
    if scheduler:
        finished = _on_dask(todo, run_fn, twins, data_dir, scheduler)
    elif jobs == 1 or len(todo) <= 1:
        finished = _in_process(todo, run_fn, twins, data_dir)
    else:
        finished = _on_processes(todo, run_fn, twins, data_dir, jobs)
    for count, (key, run, outcome) in enumerate(finished, 1):
        cache.store(run.config, twins, outcome)
        outcomes[key] = outcome
        log(f"[{count}/{len(todo)}] {describe(run, distinct[key][1], outcome)}")
    return outcomes


def describe(run, used_by, outcome):
    """One progress line for a finished run."""
    head = f"fig {'/'.join(used_by)} {run.label} seed {run.seed}"
    if not outcome.ok:
        return f"{head}: diverged after {outcome.wall_seconds:.0f} s ({outcome.message})"
    accs = ", ".join(f"{twin} {epochs[-1]['test_acc']:.4f}"
                     for twin, epochs in outcome.metrics.items() if epochs)
    return f"{head}: {outcome.wall_seconds:.0f} s, final test accuracy {accs}"


def _stderr(line):
    print(f"reproduce: {line}", file=sys.stderr, flush=True)


def _in_process(todo, run_fn, twins, data_dir):
    for key, run in todo:
        yield key, run, run_one(run_fn, run.config, twins, data_dir)


@contextlib.contextmanager
def _one_blas_thread():
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


def _on_processes(todo, run_fn, twins, data_dir, jobs):
    # spawn, not fork: a fresh interpreter reads the BLAS thread variables
    # (a forked child keeps the parent's already-started BLAS threads).
    context = multiprocessing.get_context("spawn")
    with _one_blas_thread():
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context)
        try:
            futures = {pool.submit(run_one, run_fn, run.config, twins, data_dir): (key, run)
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


def import_distributed():
    """The ``dask.distributed`` module, or a ConfigError saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise ConfigError("--scheduler needs Dask, an optional extra: "
                          "pip install twinprop[cluster]") from None
    return distributed


def _on_dask(todo, run_fn, twins, data_dir, address):
    distributed = import_distributed()
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as err:
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
