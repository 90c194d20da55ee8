"""The torchrun recipe (examples/torchrun_fit.py) on CPU: two processes with gloo, launched by
``python -m torch.distributed.run --standalone``; both ranks must end with identical parameters.
The same launch checks the data layouts of docs/distributed.md: for PCD/CD and Baum-Welch, each rank
passing its own shard gives the same model as every rank passing all the data."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "torchrun_fit.py"

WORKER = textwrap.dedent('''
    import os, runpy, sys
    from pathlib import Path
    import torch, torch.distributed as dist
    import graphdgm as gd
    from graphdgm.runtime import torch_save_atomic

    example, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group("gloo")  # once: the recipe uses a process group already started
    sys.argv = [example, "--epochs", "2", "--examples", "128", "--batch-size", "16", "--out", str(out)]
    runpy.run_path(example, run_name="__main__")  # the recipe itself

    rank, world = dist.get_rank(), dist.get_world_size()
    x = torch.bernoulli(torch.full((64, 6), 0.4, dtype=torch.float64), generator=torch.Generator().manual_seed(3))

    def rbm_fit(data):
        torch.manual_seed(0)
        rbm = gd.compile(gd.RBM(6, 3))
        gd.fit(rbm, data, method="cd", epochs=2, batch_size=8, seed=0, progress=False)
        return {k: v.clone() for k, v in rbm.state_dict().items()}

    truth = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=1))
    _, y = truth.sample(40, 12, seed=0)

    def hmm_fit(data, **kw):
        hmm = gd.compile(gd.HiddenMarkovModel.random(2, symbols=3, seed=2))
        h = gd.fit(hmm, data, method="baum_welch", iterations=4, progress=False, **kw)
        return {**{k: v.clone() for k, v in hmm.state_dict().items()}, "ll": torch.tensor(h.last["log_likelihood"])}

    res = {"rbm_full": rbm_fit(x), "rbm_shard": rbm_fit(x.chunk(world)[rank]),
           "hmm_full": hmm_fit(y), "hmm_shard": hmm_fit(y.chunk(world)[rank]),
           "hmm_alone": hmm_fit(y, distributed=False)}
    torch_save_atomic(res, out / f"layout{rank}.pt")
    dist.barrier()  # every rank done before any tears the group down
    dist.destroy_process_group()
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)  # skip the interpreter's teardown, which gloo's threads sometimes abort (conftest.exit_worker)
''')


@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is not available")
def test_torchrun_recipe_two_ranks_identical(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}  # CPU and gloo, whatever the machine has
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", str(worker), str(EXAMPLE), str(out)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"torchrun did not finish in 180 s:\n{e.stdout!r:.2000}\n{e.stderr!r:.2000}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "parameters identical on every rank" in proc.stdout

    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]  # written by the recipe
    assert sorted(ranks[0]) == sorted(ranks[1]) and any(k.startswith("rbm.") for k in ranks[0])
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name
    import graphdgm as gd

    torch.manual_seed(0)
    untrained = gd.compile(gd.RBM(16, 8)).state_dict()
    assert any(not torch.equal(ranks[0][f"rbm.{k}"], v) for k, v in untrained.items())  # it trained

    layouts = [torch.load(out / f"layout{r}.pt", weights_only=True) for r in range(2)]
    for res in layouts:
        # PCD/CD: shards are gathered, so each rank's shard gives the model that all the data gives
        for k, v in res["rbm_full"].items():
            assert torch.equal(v, res["rbm_shard"][k]), f"RBM {k}: shards and replicated data trained differently"
        # Baum-Welch: shards summed over ranks == all the data on one process == every rank all the data
        for k, v in res["hmm_alone"].items():
            torch.testing.assert_close(res["hmm_shard"][k], v, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(res["hmm_full"][k], v, rtol=1e-10, atol=1e-12)
    for k, v in layouts[0]["rbm_full"].items():
        assert torch.equal(v, layouts[1]["rbm_full"][k])
