"""A word n-gram language model: built with interpolated modified Kneser-Ney, kept as ARPA.

The model follows the ARPA back-off format that KenLM and SRILM read and write: each stored
n-gram has a log10 probability and (if it is the context of a longer stored n-gram) a log10
back-off weight. ``p(w | h)`` is the stored probability of ``h w`` when there is one, else
``bow(h) * p(w | h[1:])``. Sentences are padded with ``<s>`` and ``</s>``; words outside the
vocabulary score as ``<unk>``.

Estimation (Chen & Goodman 1998, "An empirical study of smoothing techniques", section 3.5;
the same recipe as KenLM's ``lmplz``): n-grams below the highest order use continuation counts
(how many distinct words precede them) unless they start with ``<s>``; each order has three
discounts from its counts-of-counts; the unigram level interpolates with the uniform
distribution, so ``<unk>`` gets the left-over mass. Interpolated probabilities are stored
directly, so the back-off form is exact. Pruning drops rare n-grams of order >= 2 and
recomputes the back-off weights so every context still sums to one. A ``UnigramPrior``
(general-English word frequencies) may replace part of the stored unigrams before that.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, TextIO

from facespeech.stages.errors import ModelError

log = logging.getLogger(__name__)

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
DEFAULT_ORDER = 3
DEFAULT_LM_NAME = "lm.arpa.gz"  # shipped beside the recognizer in stages/speech/models/
LN10 = math.log(10.0)
# ARPA's conventional "probability zero" (for <s>, which is never predicted).
LOG10_ZERO = -99.0
# Used when counts-of-counts are too sparse to estimate a discount (tiny corpora);
# Chen & Goodman's averages for D1, D2, D3+.
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
# Back-off weights are 1 - sum(kept) over 1 - sum(lower); below this the ratio is noise.
MIN_BACKOFF_MASS = 1e-12

Ngram = tuple[str, ...]


class NgramLM:
    """A back-off word n-gram model (ARPA semantics).

    Args:
        order: the longest n-gram (3 for a trigram model).
        probs: ``{"w1 w2 w3": log10 p(w3 | w1 w2)}`` for every stored n-gram; words are joined
            by one space (a compact key: a dict of tuples costs about twice the memory).
        backoffs: ``{"w1 w2": log10 bow}`` for stored n-grams that are contexts; missing
            entries mean a weight of 1.
    """

    def __init__(self, *, order: int, probs: dict[str, float], backoffs: dict[str, float]) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        if UNK not in probs:
            raise ValueError(f"the model has no {UNK} unigram")
        self.order = order
        self.probs = probs
        self.backoffs = backoffs

    @property
    def vocabulary(self) -> frozenset[str]:
        """The words the model knows (without ``<s>``, ``</s>``, ``<unk>``)."""
        return frozenset(k for k in self.probs if " " not in k and k not in (BOS, EOS, UNK))

    def log10_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """``log10 p(word | context)``; the context is cut to the last ``order - 1`` words."""
        if word not in self.probs:
            word = UNK
        start = max(0, len(context) - self.order + 1)
        words = [w if w in self.probs else UNK for w in context[start:]]
        backoff = 0.0
        while True:
            key = " ".join([*words, word])
            prob = self.probs.get(key)
            if prob is not None:
                return backoff + prob
            # ``words`` is never empty here: every (in-vocabulary) unigram is stored.
            backoff += self.backoffs.get(" ".join(words), 0.0)
            words = words[1:]

    def log_prob(self, word: str, context: Sequence[str] = ()) -> float:
        """Natural-log ``p(word | context)`` (the decoder's unit)."""
        return self.log10_prob(word, context) * LN10

    def sentence_log10_prob(self, words: Sequence[str]) -> float:
        """``log10 p(words </s> | <s>)``."""
        history: list[str] = [BOS]
        total = 0.0
        for word in [*words, EOS]:
            total += self.log10_prob(word, history)
            history.append(word)
        return total

    def ngram_counts(self) -> list[int]:
        """How many n-grams of each order (1..order) are stored."""
        counts = [0] * self.order
        for key in self.probs:
            counts[key.count(" ")] += 1
        return counts

    # ---------------------------------------------------------------- ARPA I/O

    def write_arpa(self, path: Path) -> None:
        """Write the model as ARPA text (gzip-compressed when ``path`` ends in ``.gz``).

        The file is written to a temporary name first, then renamed over ``path``.
        """
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with ExitStack() as stack:
                out: TextIO
                if path.name.endswith(".gz"):
                    raw = stack.enter_context(open(tmp, "wb"))
                    # No time stamp or name in the header: the same model gives the same bytes.
                    packed = stack.enter_context(
                        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="")
                    )
                    out = stack.enter_context(io.TextIOWrapper(packed, encoding="utf-8"))
                else:
                    out = stack.enter_context(open(tmp, "w", encoding="utf-8"))
                self._write_arpa_text(out)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)

    def _write_arpa_text(self, out: TextIO) -> None:
        by_order: list[list[str]] = [[] for _ in range(self.order)]
        for key in self.probs:
            by_order[key.count(" ")].append(key)
        out.write("\\data\\\n")
        for n, keys in enumerate(by_order, start=1):
            out.write(f"ngram {n}={len(keys)}\n")
        for n, keys in enumerate(by_order, start=1):
            out.write(f"\n\\{n}-grams:\n")
            for key in sorted(keys):
                bow = self.backoffs.get(key)
                line = f"{self.probs[key]:.6f}\t{key}"
                out.write(f"{line}\t{bow:.6f}\n" if bow is not None else f"{line}\n")
        out.write("\n\\end\\\n")

    @classmethod
    def load(cls, path: Path) -> NgramLM:
        """Read an ARPA file (plain or ``.gz``); raises ``ModelError`` naming the file."""
        try:
            with _open_text(path, "r", gz=path.name.endswith(".gz")) as lines:
                return cls._parse_arpa(lines, path)
        except (OSError, UnicodeDecodeError, EOFError) as exc:
            raise ModelError(path, f"cannot read language model: {exc}") from exc

    @classmethod
    def _parse_arpa(cls, lines: Iterable[str], path: Path) -> NgramLM:
        probs: dict[str, float] = {}
        backoffs: dict[str, float] = {}
        order = 0
        section = 0
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            # The common case first: an n-gram line of the current section (loading is
            # otherwise twice as slow, and it is paid by every `speechpipe transcribe`).
            if section and len(fields) == section + 1:
                key = " ".join(fields[1:]) if section > 1 else fields[1]
            elif section and len(fields) == section + 2:
                key = " ".join(fields[1:-1]) if section > 1 else fields[1]
                backoffs[key] = _number(fields[-1], path, number)
            elif not fields or fields[0] == "ngram" or (section == 0 and line[0] != "\\"):
                continue
            elif fields[0].endswith("-grams:") and fields[0].startswith("\\"):
                section = int(fields[0][1 : fields[0].index("-")])
                order = max(order, section)
                continue
            elif fields[0] == "\\end\\":
                break
            elif fields[0] == "\\data\\":
                continue
            else:
                raise ModelError(path, f"bad ARPA line {number}: expected {section} words")
            probs[key] = _number(fields[0], path, number)
        if order == 0:
            raise ModelError(path, "not an ARPA language model (no n-gram sections)")
        if UNK not in probs:
            probs[UNK] = LOG10_ZERO
        return cls(order=order, probs=probs, backoffs=backoffs)


def _number(text: str, path: Path, line: int) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise ModelError(path, f"bad ARPA line {line}: {exc}") from exc


def default_lm_path() -> Path:
    """The language model shipped inside the package (``stages/speech/models/lm.arpa.gz``)."""
    return Path(
        str(resources.files("facespeech.stages.speech").joinpath("models", DEFAULT_LM_NAME))
    )


def _open_text(path: Path, mode: Literal["r", "w"], *, gz: bool) -> TextIO:
    if gz:
        return gzip.open(path, "rt" if mode == "r" else "wt", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


# ---------------------------------------------------------------- estimation


def _count(sentences: Iterable[Sequence[str]], order: int) -> list[Counter[Ngram]]:
    """Raw counts of every n-gram of each order in the padded sentences."""
    counts: list[Counter[Ngram]] = [Counter() for _ in range(order)]
    for sentence in sentences:
        tokens = (BOS, *sentence, EOS)
        for n in range(1, order + 1):
            grams = counts[n - 1]
            for i in range(len(tokens) - n + 1):
                grams[tokens[i : i + n]] += 1
    counts[0].pop((BOS,), None)
    return counts


def _adjust(raw: list[Counter[Ngram]]) -> list[Counter[Ngram]]:
    """Kneser-Ney counts: continuation counts below the top order, except after ``<s>``."""
    adjusted = [Counter[Ngram]() for _ in raw]
    adjusted[-1] = raw[-1]
    for n in range(len(raw) - 1):
        grams = adjusted[n]
        for gram in raw[n + 1]:
            grams[gram[1:]] += 1
        for gram, count in raw[n].items():
            if gram[0] == BOS:
                grams[gram] = count
    return adjusted


def _discounts(counts: Counter[Ngram]) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from counts-of-counts."""
    of = Counter(c for c in counts.values() if c <= 4)
    n1, n2, n3, n4 = of[1], of[2], of[3], of[4]
    if min(n1, n2, n3, n4) == 0:
        return FALLBACK_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    found = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < d < j for j, d in enumerate(found, start=1)):
        return FALLBACK_DISCOUNTS
    return found


def _interpolate(
    adjusted: list[Counter[Ngram]], vocab_size: int
) -> list[tuple[dict[Ngram, float], dict[Ngram, float]]]:
    """Per order: ``(p(w | h) for stored h w, gamma(h) for contexts)``, natural probabilities."""
    levels: list[tuple[dict[Ngram, float], dict[Ngram, float]]] = []
    for n, counts in enumerate(adjusted, start=1):
        d = _discounts(counts)
        totals: defaultdict[Ngram, float] = defaultdict(float)
        mass: defaultdict[Ngram, float] = defaultdict(float)
        for gram, count in counts.items():
            totals[gram[:-1]] += count
            mass[gram[:-1]] += d[min(count, 3) - 1]
        gammas = {h: mass[h] / totals[h] for h in totals}
        probs: dict[Ngram, float] = {}
        lower = levels[-1][0] if levels else {}
        for gram, count in counts.items():
            h = gram[:-1]
            below = lower[gram[1:]] if n > 1 else 1.0 / vocab_size
            probs[gram] = (count - d[min(count, 3) - 1]) / totals[h] + gammas[h] * below
        levels.append((probs, gammas))
    return levels


@dataclass(frozen=True, slots=True)
class UnigramPrior:
    """Word frequencies from a larger text than the model's own (e.g. a general-English
    frequency list), mixed into the stored unigrams: ``p(w) = (1 - weight) p_KN(w) + weight
    p_prior(w)``, ``p_prior`` being ``frequencies`` over the model's words (words it lacks get
    its smallest frequency), scaled to the mass ``p_KN`` gives words. ``</s>`` and ``<unk>``
    keep their Kneser-Ney probabilities, and so do the stored bigrams and trigrams; only what
    backs off to the unigrams changes (the back-off weights are recomputed to sum to one).

    Why: the n-gram text here is small and off-domain (dictionary glosses, novels), so its
    unigram counts say little about how often a word is *spoken*, while the n-grams it does
    hold are still its best evidence. Mixing the prior in below the bigrams instead
    (interpolating every order with it) was no better on speechocean762 dev (lm.md).
    """

    frequencies: Mapping[str, float]
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"unigram prior weight must be in [0, 1], got {self.weight}")
        if not self.frequencies or min(self.frequencies.values()) <= 0:
            raise ValueError("a unigram prior needs positive frequencies for some words")


def _mix_unigrams(unigrams: dict[Ngram, float], prior: UnigramPrior) -> None:
    """Mix ``prior`` into the unigram probabilities ``unigrams`` in place."""
    words = [g for g in unigrams if g[0] not in (BOS, EOS, UNK)]
    floor = min(prior.frequencies.values())
    frequency = {g: prior.frequencies.get(g[0], floor) for g in words}
    scale = sum(unigrams[g] for g in words) / sum(frequency.values())
    for g in words:
        unigrams[g] = (1.0 - prior.weight) * unigrams[g] + prior.weight * frequency[g] * scale


def build_kneser_ney(
    sentences: Iterable[Sequence[str]],
    *,
    order: int = DEFAULT_ORDER,
    min_counts: Sequence[int] = (),
    unigram_prior: UnigramPrior | None = None,
) -> NgramLM:
    """Estimate an interpolated modified Kneser-Ney model from tokenised sentences.

    Args:
        sentences: each a sequence of words (already normalised: no ``<s>`` or ``</s>``).
        order: the longest n-gram.
        min_counts: per order from 2 up, the raw count an n-gram needs to be kept (``(1, 2)``
            drops trigrams seen once); an n-gram that a kept longer one needs is always kept.
        unigram_prior: word frequencies to mix into the unigram level (the vocabulary is
            still the text's own).
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    if any(m < 1 for m in min_counts):
        raise ValueError(f"min_counts must be >= 1, got {tuple(min_counts)}")
    raw = _count(sentences, order)
    if not set(raw[0]) - {(EOS,)}:
        raise ValueError("no words to build a language model from")
    adjusted = _adjust(raw)
    # Vocabulary of predicted tokens: the words, </s> and <unk> (not <s>).
    vocab_size = len(adjusted[0]) + (0 if (UNK,) in adjusted[0] else 1)
    levels = _interpolate(adjusted, vocab_size)
    if unigram_prior is not None:
        _mix_unigrams(levels[0][0], unigram_prior)  # after the higher orders used them
    kept = _prune(raw, min_counts)
    log10 = {g: math.log10(p) for n, (probs, _) in enumerate(levels) for g, p in probs.items()}
    log10 = {g: v for g, v in log10.items() if len(g) == 1 or g in kept[len(g) - 1]}
    unk = levels[0][1][()] / vocab_size
    log10.setdefault((UNK,), math.log10(unk))
    log10[(BOS,)] = LOG10_ZERO
    model = NgramLM(order=order, probs={" ".join(g): v for g, v in log10.items()}, backoffs={})
    _set_backoffs(model)
    log.info("built a %d-gram model: %s n-grams", order, model.ngram_counts())
    return model


def _prune(raw: list[Counter[Ngram]], min_counts: Sequence[int]) -> list[set[Ngram]]:
    """The n-grams kept per order; prefixes and suffixes of kept n-grams stay too."""
    kept: list[set[Ngram]] = [set(raw[0])]
    for n in range(1, len(raw)):
        need = min_counts[n - 1] if n - 1 < len(min_counts) else 1
        kept.append({g for g, c in raw[n].items() if c >= need})
    for n in range(len(raw) - 1, 1, -1):
        for gram in kept[n]:
            kept[n - 1].add(gram[:-1])
            kept[n - 1].add(gram[1:])
    return kept


def _set_backoffs(model: NgramLM) -> None:
    """Back-off weights that make each context sum to one over the vocabulary.

    ``bow(h) = (1 - sum p(w | h)) / (1 - sum p(w | h[1:]))`` over the stored ``h w``
    (SRILM's formula), computed order by order so the lower model is final when used.
    """
    children: defaultdict[str, list[str]] = defaultdict(list)
    for key in model.probs:
        if " " in key:
            context, _, word = key.rpartition(" ")
            children[context].append(word)
    by_order: defaultdict[int, list[str]] = defaultdict(list)
    for context in children:
        by_order[context.count(" ")].append(context)
    for n in sorted(by_order):
        for context in by_order[n]:
            words = context.split(" ")
            seen = sum(10.0 ** model.probs[f"{context} {w}"] for w in children[context])
            lower = sum(10.0 ** model.log10_prob(w, words[1:]) for w in children[context])
            numerator, denominator = 1.0 - seen, 1.0 - lower
            if numerator > MIN_BACKOFF_MASS and denominator > MIN_BACKOFF_MASS:
                model.backoffs[context] = math.log10(numerator / denominator)
            else:
                model.backoffs[context] = LOG10_ZERO if numerator <= 0 else 0.0


def read_sentences(paths: Iterable[Path]) -> Iterator[list[str]]:
    """Whitespace-split lines of plain text files (``.gz`` allowed), skipping blank lines."""
    for path in paths:
        with _open_text(path, "r", gz=path.name.endswith(".gz")) as lines:
            for line in lines:
                words = line.split()
                if words:
                    yield words
