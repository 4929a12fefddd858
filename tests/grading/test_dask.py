"""Grading spread over a Dask cluster (here a local one with two worker processes) gives the same rows."""

import json
import shutil

import pytest
from helpers import EXAMPLE_LIMITS, graded_examples_group

from autograde.grading.folder import grade_folder

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
LAB = "lab2_music_generation"  # the quickest lab under smoke
# In the pytest process that grades the lab's examples.
pytestmark = [pytest.mark.notebook, pytest.mark.slow, graded_examples_group(LAB)]


def test_grading_on_a_local_dask_cluster(course, graded_examples, tmp_path):
    graded_examples(LAB)  # graded here first, which leaves the lab's self-test cached for the cluster (the same limits)
    examples = course.examples_dir(LAB)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    for name in ("partial.ipynb", "untouched.ipynb", "not-a-notebook.py"):
        shutil.copy(examples / "submissions" / name, submissions / name)
    expected = json.loads((examples / "expected.json").read_text())

    # Non-daemonic workers, as the README says, so that they may start the kernel server.
    with dask.config.set({"distributed.worker.daemon": False}):
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            # The limits of the suite's other gradings of the examples: the lab's self-test runs once a session.
            rows = grade_folder(
                course,
                LAB,
                submissions,
                tmp_path / "out",
                dask_scheduler=cluster.scheduler_address,
                limits=EXAMPLE_LIMITS,
                progress=False,
            )

    assert sorted(r.file for r in rows) == ["not-a-notebook.py", "partial.ipynb", "untouched.ipynb"]
    for row in rows:
        assert row.score == expected[row.file]["score"]
    assert (tmp_path / "out" / "feedback" / "partial.html").is_file()
    assert "partial" in (tmp_path / "out" / "grades.csv").read_text()
    results = [json.loads(p.read_text()) for p in (tmp_path / "out" / "results").glob("*.json")]
    assert len(results) == 2 and all(r["forked_kernel"] for r in results)
