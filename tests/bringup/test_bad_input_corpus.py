"""The bad-input corpus (tests/bad_input/cases.yaml): each malformed file or argument, handed to the
`dexsim` verb that reads it, is refused with exit code 2 and one line naming the problem -- no
traceback -- before anything is written (the case's --out is never created)."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import dexsim_bringup
from dexsim_bringup.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "bad_input"
DEMO_CHECKPOINT = Path(dexsim_bringup.__file__).parent / "resources" / "demo_policy"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def test_the_corpus_is_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    used = {Path(a.split("/")[1]).parts[0] for c in CASES for a in c["argv"] if a.startswith("{c}/")}
    shipped = {p.name for p in CORPUS.iterdir()} - {"cases.yaml"}
    assert shipped <= used, f"corpus files no case uses: {sorted(shipped - used)}"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [a.replace("{c}", str(CORPUS)).replace("{out}", str(out)).replace("{demo}", str(DEMO_CHECKPOINT))
            for a in case["argv"]]
    rc = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(err) == 1, err
    assert err[0].startswith(f"dexsim {argv[0]}: error: "), err[0]
    assert case["expect"] in err[0], err[0]
    assert "Traceback" not in err[0]
    assert not out.exists(), f"{out} was created"
