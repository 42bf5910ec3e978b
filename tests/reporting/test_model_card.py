"""The model card's account of what a version can estimate before labels arrive: a
classifier's calibration, a regressor's loss model, in Markdown and HTML."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlgate.lineage import Lineage
from mlgate.registry.artifacts import ArtifactInfo
from mlgate.registry.bundle import ModelCard
from mlgate.reporting.model_card import card_html, card_markdown, card_sections
from mlgate.results import RunResult
from mlgate.stats.estimate import Calibration
from mlgate.stats.loss import LossModel

KINDS = {"x": "numeric", "group": "categorical"}


def cards(card: ModelCard) -> tuple[str, str]:
    """The card of `card`'s version 4, in Markdown and HTML."""
    run = RunResult(
        name="demo",
        run_id="r1",
        output_dir="out",
        passed=True,
        stage="done",
        target="y",
        validation={},
        lineage=Lineage(
            train_fingerprint="sha256:1",
            test_fingerprint=None,
            config_hash="2",
            git_commit=None,
            git_dirty=None,
            seed=0,
            packages={},
        ),
    )
    sections = card_sections(run, card, None, version="4", events=[])
    return card_markdown(sections, title="demo"), card_html(sections, title="demo")


def model_card(task: str, **fitted: object) -> ModelCard:
    return ModelCard.model_validate(
        {
            "name": "demo",
            "task": task,
            "target": "y",
            "features": list(KINDS),
            "kinds": KINDS,
            "artifact": ArtifactInfo(path="model.skops", sha256="0", size_bytes=1),
        }
        | fitted
    )


def test_a_classifier_card_shows_its_calibration_and_whether_it_is_usable() -> None:
    rng = np.random.default_rng(0)
    top = rng.uniform(0.5, 1.0, 300)
    calibration = Calibration.fit(top, rng.random(300) < top)
    assert calibration.usable
    assert calibration.separation is not None
    markdown, page = cards(model_card("classification", calibration=calibration))
    expected = (
        "## Estimation without labels\n\n"
        "- Accuracy from the model's confidence, calibrated on 300 held-out rows, 6 bins; "
        "its probabilities tell right answers from wrong ones with ROC AUC "
        f"{calibration.separation:.4f} (held-out accuracy "
        f"{calibration.held_out_accuracy:.4f}).\n"
        "- Usable: the monitor and the rollout analysis estimate accuracy (F1 and ROC AUC for "
        "two classes) before labels arrive.\n"
    )
    assert expected in markdown
    assert "<h2>Estimation without labels</h2><ul><li>Accuracy from the model&#x27;s" in page
    # Probabilities that rank the wrong answers above the right ones say why not.
    wrong_when_sure = Calibration.fit(top, top < np.median(top))
    markdown, page = cards(model_card("classification", calibration=wrong_when_sure))
    assert (
        "- Not usable: the model's probabilities do not tell its right answers from its wrong "
        "ones on the held-out rows (ROC AUC 0.000).\n"
    ) in markdown
    assert "<li>Not usable: the model&#x27;s probabilities do not tell" in page


def test_a_regressor_card_shows_its_loss_model() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, 400)
    frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400)})
    truth = 2 * x + rng.normal(0, 1, 400) * (0.3 + np.abs(x))
    loss = LossModel.fit(frame, 2 * x, truth, KINDS)
    assert loss.usable
    markdown, page = cards(model_card("regression", loss_model=loss))
    expected = (
        f"- MAE and RMSE from a loss model on 400 held-out rows, {len(loss.absolute)} leaves "
        f"(held-out MAE {loss.held_out_mae:.4f}, RMSE {loss.held_out_rmse:.4f}).\n"
        "- Usable: the monitor and the rollout analysis estimate MAE and RMSE before labels "
        "arrive.\n"
    )
    assert expected in markdown
    assert 2 <= len(loss.absolute) <= 8
    assert f"<li>MAE and RMSE from a loss model on 400 held-out rows, {len(loss.absolute)}" in page
    few = LossModel.fit(frame[:60], 2 * x[:60], truth[:60], KINDS)
    markdown, _ = cards(model_card("regression", loss_model=few))
    assert "- MAE and RMSE from a loss model on 60 held-out rows, 0 leaves (" in markdown
    assert "- Not usable: 60 held-out rows with a residual; a loss model needs 100.\n" in markdown
    markdown, _ = cards(model_card("regression"))
    assert "## Estimation without labels\n\nNothing: no calibration or loss model" in markdown
