import importlib.util
import random

import pytest
from conftest import ROOT

from rag import evaluation

SHARED = ROOT.parent / "shared" / "eval"


def test_hit_rule():
    assert evaluation.hit("其实是Andy Jassy亲自带队", "就是 其实是 Andy Jassy 亲自带队 去做")
    assert not evaluation.hit("其实是Andy Jassy亲自带队", "完全无关的一段话")


@pytest.mark.skipif(not (SHARED / "score.py").exists(), reason="shared/eval/score.py not beside the repo")
def test_scores_match_the_reference_scorer():
    spec = importlib.util.spec_from_file_location("score", SHARED / "score.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    rows = evaluation.load_dataset(SHARED / "dev.jsonl")
    rng = random.Random(0)
    pool = [q for r in rows for q in r.get("evidence") or []] + ["无关的文字" * 20, "filler " * 50]
    ranked = {r["id"]: [rng.choice(pool) + "，以及更多上下文" * rng.randint(0, 40) for _ in range(12)] for r in rows}
    ours = evaluation.score(rows, ranked, {})
    theirs = ref.score(rows, ranked)
    for lang in ("all", "zh", "en"):
        assert ours[lang] == theirs[lang]


def test_calibration_set_is_answered_and_found(engine):
    """tests/data/calibration.jsonl: questions written about passages the dev set does not ask about."""
    rows = evaluation.load_dataset(ROOT / "tests" / "data" / "calibration.jsonl")

    def run(question):
        hits, verdict = engine.judged_search(question, 20)
        return [h.text for h in hits], not verdict.answerable

    result = evaluation.evaluate(rows, run)
    assert result["abstention"]["answerable_abstained"] == 0
    assert result["zh"]["in3000"] >= 0.9 and result["en"]["in3000"] >= 0.75


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "data").glob("*.jsonl")), ids=lambda p: p.name)
def test_labelled_evidence_is_in_its_transcripts(path):
    """Every evidence quote of the labelled sets is in the seed transcript it names, or in one of
    them where a set names none (as `rag eval` matches quotes); unanswerable questions have none."""
    texts = {p.name: p.read_text("utf-8") for p in (ROOT / "seeds").iterdir()}
    for row in evaluation.load_dataset(path):
        if row["type"] == "unanswerable":
            assert not row["evidence"] and row.get("source") is None, row["id"]
            continue
        source = row.get("source") or sorted(texts)
        sources = source if isinstance(source, list) else [source]
        assert row["evidence"], row["id"]
        for quote in row["evidence"]:
            assert any(evaluation.hit(quote, texts[s]) for s in sources), (row["id"], quote)


FIELD_DEV = ROOT.parent / "shared" / "corpora" / "field-dev" / "corpus"


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "data" / "field-dev").glob("*.jsonl")), ids=lambda p: p.name)
def test_labelled_evidence_of_field_dev_questions_is_in_its_transcripts(path):
    """Our own questions about the field-dev transcripts (read from ../shared, never copied here):
    every evidence quote is in the transcript the question names, as the build reads it."""
    from rag.documents import load

    if not FIELD_DEV.is_dir():
        pytest.skip(f"{FIELD_DEV} is not beside this checkout")
    texts: dict[str, str] = {}
    for row in evaluation.load_dataset(path):
        text = texts.setdefault(row["source"], load(FIELD_DEV / row["source"]).text)
        assert row["evidence"] and all(evaluation.hit(quote, text) for quote in row["evidence"]), row["id"]
