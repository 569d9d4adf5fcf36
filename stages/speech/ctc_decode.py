"""CTC decoders: emissions ``float32 (n_frames, n_labels)`` -> ``Transcript`` with word times.

Both decoders share one interface, ``decoder(emissions) -> Transcript``:

- ``GreedyCtcDecoder``: the best label per frame, repeats collapsed, blanks dropped
  ("HHHEE_LL_LLLOOO" -> "hello").
- ``BeamSearchDecoder``: CTC prefix beam search (Hannun et al. 2014, "First-pass large
  vocabulary continuous speech recognition using bi-directional recurrent DNNs") with a word
  n-gram model applied when a word ends, a per-word bonus, and an optional vocabulary that
  limits what can be spelled (a prefix set: only its words can be formed).

Word times come from the CTC alignment of the decoded text (the greedy path, or a Viterbi
forced alignment for beam search): a word spans the frames of its characters, so
``start_s = offset_s + first_frame * frame_s`` and ``end_s = offset_s + (last_frame + 1) *
frame_s``. Its confidence is the mean posterior of the aligned labels over those frames.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from typing import Final

import numpy as np
from facespeech.stages.speech.alphabet import BLANK_INDEX, INDEX, LABELS, SPACE, SPACE_INDEX
from facespeech.stages.speech.lm import BOS, EOS, NgramLM
from facespeech.stages.speech.types import Emissions, Transcript, Word
from numpy.typing import NDArray

NEG_INF: Final = -math.inf
# Tuned on speechocean762 dev with the shipped model and LM (stages/speech/models/lm.md).
# Stage 7: width 32 -> 128 gained 1.5-2 points in every weight/bonus cell (49.6 % at 0.6/2.0
# against 51.6 % at width 32; 256 no better) for about 4x the search time, which stays a small
# part of transcription (RTF well under 0.05 on 2 cores, benchmarks/RESULTS.md).
DEFAULT_BEAM_WIDTH = 128
DEFAULT_LM_WEIGHT = 0.6
DEFAULT_WORD_BONUS = 2.0
# Frames where blank is this likely cannot start a character worth keeping; skipping their
# expansion is the main saving (most CTC frames are blank).
DEFAULT_BLANK_SKIP_PROB = 0.999
# Labels less likely than this in a frame are not tried (the frame's best always is). e**-5
# is 0.7 %; -8 gave the same dev WER (within 2 words of 663) at 1.3-1.7x the time.
DEFAULT_CHAR_MIN_LOG_PROB = -5.0
# With a vocabulary its spellings already limit the labels tried, and the right word may need
# an unlikely letter: a held-out TTS voice's "zero" had 'z' below e**-5 (the digit set then
# gave no word at all); from e**-8 down it was found. fsdd dev/test were unchanged.
VOCABULARY_CHAR_MIN_LOG_PROB = -12.0
# Prefixes this far (natural log) below the best are dropped even when the beam has room.
DEFAULT_BEAM_THRESHOLD = 12.0
# Subtracted once a word's spelling leaves the LM's vocabulary (as pyctcdecode's
# unk_score_offset): without it, running words together ("callitbear") dodged the LM's
# per-word cost, as an unknown word is scored only when it ends.
DEFAULT_UNKNOWN_WORD_PENALTY = 10.0
# ... and this much per letter of such a word: a spelling model for words the LM does not know
# (about a uniform guess over 27 labels, ln 27 = 3.3, times the LM weight). Without it one
# unknown word cost the same at any length, so on voices the model hears badly the search
# ran many words together into one ("camprictrigianseandmangansofthrupicalefrica": 43 such
# words over 12 letters in the 200 held-out TTS sentences with stage 7). 0.5-3.0 all gave
# speechocean762 dev 51.9 % (51.7 without: one word of 663); held-out TTS 56.9 -> 53.2 %.
DEFAULT_UNKNOWN_CHAR_PENALTY = 2.0


class GreedyCtcDecoder:
    """Best path decoding: argmax label per frame, repeats collapsed, blanks removed."""

    def __call__(self, emissions: Emissions) -> Transcript:
        log_probs = _check(emissions)
        if len(log_probs) == 0:
            return _transcript(emissions, "", np.zeros(0, np.int64), np.zeros(0, np.int64))
        path = log_probs.argmax(axis=1)
        # A frame starts a character when its label is not blank and differs from the frame
        # before (a repeat only counts again after a blank).
        starts = (path != BLANK_INDEX) & np.r_[True, path[1:] != path[:-1]]
        positions = np.cumsum(starts) - 1
        positions = np.where(path == BLANK_INDEX, -1, positions)
        text = "".join(LABELS[i] for i in path[starts])
        return _transcript(emissions, text, path, positions)


class _Beam:
    """One prefix: CTC log-probabilities ending in blank / non-blank, and its LM state."""

    __slots__ = ("bonus", "last", "lm_score", "p_b", "p_nb", "partial", "words")

    def __init__(
        self, last: int, words: tuple[str, ...], partial: str, lm_score: float, penalty: float
    ) -> None:
        self.p_b = NEG_INF
        self.p_nb = NEG_INF
        self.last = last  # label whose repeat collapses (space for an empty prefix)
        self.words = words  # completed words
        self.partial = partial  # the word being spelled
        self.lm_score = lm_score  # weighted LM log-probs, bonuses, penalties of the words
        self.bonus = lm_score + penalty  # ... and the penalty of the word being spelled


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


class BeamSearchDecoder:
    """CTC prefix beam search with an optional word n-gram LM and vocabulary.

    Args:
        beam_width: prefixes kept after each frame (>= 1).
        lm: a word n-gram model; its natural-log probability times ``lm_weight`` is added as
            each word ends (and for ``</s>`` at the end).
        lm_weight: scale of the LM log-probabilities (>= 0).
        word_bonus: natural-log score added per word with an LM, against its bias for short
            output (without an LM there is no per-word cost to balance, and none is added).
        vocabulary: if given, only these words can be produced (lower case, spelled with
            ``alphabet.LABELS``); e.g. the ten digit words for digit strings.
        blank_skip_prob: frames whose blank probability exceeds this only extend existing
            prefixes with blank (no new characters); in (0, 1].
        char_min_log_prob: labels below this natural-log probability in a frame are not
            tried (the frame's best label always is); default -5, or -12 with a vocabulary.
        beam_threshold: prefixes scoring this much (natural log) below the best are dropped.
        unknown_word_penalty: with an LM, subtracted (natural log) from a prefix as soon as
            the word it spells is no longer the start of a word the LM knows.
        unknown_char_penalty: with an LM, subtracted (natural log) per letter of such a word,
            so that long unknown words (often several words run together) cost more.
    """

    def __init__(
        self,
        *,
        beam_width: int = DEFAULT_BEAM_WIDTH,
        lm: NgramLM | None = None,
        lm_weight: float = DEFAULT_LM_WEIGHT,
        word_bonus: float = DEFAULT_WORD_BONUS,
        vocabulary: Iterable[str] | None = None,
        blank_skip_prob: float = DEFAULT_BLANK_SKIP_PROB,
        char_min_log_prob: float | None = None,
        beam_threshold: float = DEFAULT_BEAM_THRESHOLD,
        unknown_word_penalty: float = DEFAULT_UNKNOWN_WORD_PENALTY,
        unknown_char_penalty: float = DEFAULT_UNKNOWN_CHAR_PENALTY,
    ) -> None:
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        if lm_weight < 0 or not math.isfinite(lm_weight):
            raise ValueError(f"lm_weight must be a finite number >= 0, got {lm_weight}")
        if not math.isfinite(word_bonus):
            raise ValueError(f"word_bonus must be finite, got {word_bonus}")
        if not 0 < blank_skip_prob <= 1:
            raise ValueError(f"blank_skip_prob must be in (0, 1], got {blank_skip_prob}")
        if not beam_threshold > 0:
            raise ValueError(f"beam_threshold must be > 0, got {beam_threshold}")
        if not unknown_word_penalty >= 0:
            raise ValueError(f"unknown_word_penalty must be >= 0, got {unknown_word_penalty}")
        if not unknown_char_penalty >= 0:
            raise ValueError(f"unknown_char_penalty must be >= 0, got {unknown_char_penalty}")
        self.beam_width = beam_width
        self.lm = lm
        self.lm_weight = lm_weight
        self.word_bonus = word_bonus
        self.vocabulary = vocabulary
        self.blank_skip_prob = blank_skip_prob
        if char_min_log_prob is None:
            char_min_log_prob = (
                DEFAULT_CHAR_MIN_LOG_PROB if vocabulary is None else VOCABULARY_CHAR_MIN_LOG_PROB
            )
        self.char_min_log_prob = char_min_log_prob
        self.beam_threshold = beam_threshold
        self.unknown_word_penalty = unknown_word_penalty
        self.unknown_char_penalty = unknown_char_penalty
        self._words = _check_vocabulary(vocabulary) if vocabulary is not None else None
        self._prefixes = _prefixes(self._words) if self._words is not None else None
        self._lm_words = lm.vocabulary if lm is not None else None
        self._lm_prefixes = _prefixes(self._lm_words) if self._lm_words is not None else None

    def __call__(self, emissions: Emissions) -> Transcript:
        log_probs = _check(emissions)
        text = self._search(log_probs)
        labels = np.array([INDEX[c] for c in text], dtype=np.int64)
        path, positions = _force_align(log_probs, labels)
        return _transcript(emissions, text, path, positions)

    # ---------------------------------------------------------------- search

    def _search(self, log_probs: NDArray[np.float32]) -> str:
        """The best text (words separated by single spaces)."""
        skip = (log_probs[:, BLANK_INDEX] > math.log(self.blank_skip_prob)).tolist()
        tried = log_probs >= self.char_min_log_prob
        tried[np.arange(len(log_probs)), log_probs.argmax(axis=1)] = True
        tried[:, BLANK_INDEX] = False
        rows = log_probs.astype(np.float64).tolist()
        start = _Beam(SPACE_INDEX, (), "", 0.0, 0.0)
        start.p_b = 0.0
        beams = {"": start}
        lm_cache: dict[tuple[tuple[str, ...], str], float] = {}
        for t, row in enumerate(rows):
            if skip[t]:
                blank = row[BLANK_INDEX]
                for beam in beams.values():
                    repeat = beam.p_nb + row[beam.last]
                    beam.p_b = _logaddexp(beam.p_b, beam.p_nb) + blank
                    beam.p_nb = repeat
                continue
            beams = self._step(beams, row, np.flatnonzero(tried[t]).tolist(), lm_cache)
        return self._finish(beams, lm_cache)

    def _step(
        self,
        beams: dict[str, _Beam],
        row: list[float],
        labels: list[int],
        lm_cache: dict[tuple[tuple[str, ...], str], float],
    ) -> dict[str, _Beam]:
        """Extend every prefix by one frame; keep the best (``beam_width``, ``beam_threshold``)."""
        lse = _logaddexp
        blank = row[BLANK_INDEX]
        lm_prefixes = self._lm_prefixes
        out: dict[str, _Beam] = {}
        for key, beam in beams.items():
            p_b, p_nb, last, partial = beam.p_b, beam.p_nb, beam.last, beam.partial
            total = lse(p_b, p_nb)
            stay = out.get(key)
            if stay is None:
                stay = out[key] = _Beam(last, beam.words, partial, beam.lm_score, 0.0)
                stay.bonus = beam.bonus
            stay.p_b = lse(stay.p_b, total + blank)
            stay.p_nb = lse(stay.p_nb, p_nb + row[last])
            for label in labels:
                if label == SPACE_INDEX:
                    if not partial:
                        # A space after a space (or at the start) changes no text: like a repeat.
                        stay.p_nb = lse(stay.p_nb, p_b + row[label])
                        continue
                    if self._words is not None and partial not in self._words:
                        continue
                    new_key = key + SPACE
                    nxt = out.get(new_key)
                    if nxt is None:
                        score = beam.lm_score + self._word_score(beam.words, partial, lm_cache)
                        nxt = out[new_key] = _Beam(
                            SPACE_INDEX, (*beam.words, partial), "", score, 0.0
                        )
                    nxt.p_nb = lse(nxt.p_nb, total + row[label])
                    continue
                spelled = partial + LABELS[label]
                if self._prefixes is not None and spelled not in self._prefixes:
                    continue
                new_key = key + LABELS[label]
                nxt = out.get(new_key)
                if nxt is None:
                    penalty = (
                        0.0
                        if lm_prefixes is None or spelled in lm_prefixes
                        else -self._unknown_cost(spelled)
                    )
                    nxt = out[new_key] = _Beam(label, beam.words, spelled, beam.lm_score, penalty)
                # A repeated label extends the prefix only after a blank.
                nxt.p_nb = lse(nxt.p_nb, (p_b if label == last else total) + row[label])
        scored = [(lse(b.p_b, b.p_nb) + b.bonus, k) for k, b in out.items()]
        floor = max(scored)[0] - self.beam_threshold
        kept = [item for item in scored if item[0] >= floor]
        if len(kept) > self.beam_width:
            kept = heapq.nlargest(self.beam_width, kept)
        return {k: out[k] for _, k in kept}

    def _unknown_cost(self, spelling: str) -> float:
        """What a word the LM does not know costs (natural log), by its letters so far."""
        return self.unknown_word_penalty + self.unknown_char_penalty * len(spelling)

    def _word_score(
        self,
        history: tuple[str, ...],
        word: str,
        lm_cache: dict[tuple[tuple[str, ...], str], float],
    ) -> float:
        """Weighted LM log-probability of ``word`` after ``history``, plus the word bonus."""
        if self.lm is None:
            return 0.0
        context = (BOS, *history)[-(self.lm.order - 1) :] if self.lm.order > 1 else ()
        cached = lm_cache.get((context, word))
        if cached is None:
            cached = self.lm_weight * self.lm.log_prob(word, context)
            if word != EOS:
                cached += self.word_bonus
            if self._lm_words is not None and word != EOS and word not in self._lm_words:
                cached -= self._unknown_cost(word)  # kept: it was paid while spelling, too
            lm_cache[(context, word)] = cached
        return cached

    def _finish(
        self, beams: dict[str, _Beam], lm_cache: dict[tuple[tuple[str, ...], str], float]
    ) -> str:
        """Close the last word and the sentence of every prefix; return the best text."""
        best_text, best_score = "", NEG_INF
        for beam in beams.values():
            words, score = beam.words, beam.lm_score
            if beam.partial:
                if self._words is not None and beam.partial not in self._words:
                    continue
                score += self._word_score(words, beam.partial, lm_cache)
                words = (*words, beam.partial)
            score += self._word_score(words, EOS, lm_cache)
            score += _logaddexp(beam.p_b, beam.p_nb)
            if score > best_score:
                best_text, best_score = " ".join(words), score
        return best_text


# ---------------------------------------------------------------- shared helpers


def _check(emissions: Emissions) -> NDArray[np.float32]:
    log_probs = emissions.log_probs
    if log_probs.ndim != 2 or log_probs.shape[1] != len(LABELS):
        raise ValueError(
            f"emissions must be (n_frames, {len(LABELS)}), got {tuple(log_probs.shape)}"
        )
    return log_probs


def _check_vocabulary(vocabulary: Iterable[str]) -> frozenset[str]:
    words = frozenset(vocabulary)
    if not words:
        raise ValueError("vocabulary is empty")
    allowed = set(LABELS) - {LABELS[BLANK_INDEX], SPACE}
    for word in words:
        if not word or not set(word) <= allowed:
            raise ValueError(
                f"vocabulary word {word!r} must be non-empty lower-case letters or apostrophes"
            )
    return words


def _prefixes(words: Iterable[str]) -> frozenset[str]:
    """Every prefix (including the empty one and the whole word) of every word."""
    return frozenset(word[:i] for word in words for i in range(len(word) + 1))


def _force_align(
    log_probs: NDArray[np.float32], labels: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Viterbi CTC alignment of ``labels`` to the frames.

    Returns ``(path, positions)``, both ``int64 (n_frames,)``: the label of each frame and
    the index in ``labels`` it belongs to (-1 for blank frames).
    """
    n_frames = len(log_probs)
    if len(labels) == 0 or n_frames == 0:
        return np.zeros(n_frames, dtype=np.int64), np.full(n_frames, -1, dtype=np.int64)
    ext = np.full(2 * len(labels) + 1, BLANK_INDEX, dtype=np.int64)  # blank, l1, blank, ...
    ext[1::2] = labels
    n_states = len(ext)
    # A state may skip the blank before it unless it repeats the label two states back.
    can_skip = np.zeros(n_states, dtype=bool)
    can_skip[2:] = (ext[2:] != BLANK_INDEX) & (ext[2:] != ext[:-2])
    emit = log_probs[:, ext].astype(np.float64)  # (n_frames, n_states)
    alpha = np.full(n_states, NEG_INF)
    alpha[:2] = emit[0, :2]
    back = np.zeros((n_frames, n_states), dtype=np.int8)  # states moved back: 0, 1 or 2
    moves = np.empty((3, n_states))
    for t in range(1, n_frames):
        moves[0] = alpha
        moves[1, 0], moves[1, 1:] = NEG_INF, alpha[:-1]
        moves[2, :2], moves[2, 2:] = NEG_INF, np.where(can_skip[2:], alpha[:-2], NEG_INF)
        back[t] = moves.argmax(axis=0)
        alpha = moves[back[t], np.arange(n_states)] + emit[t]
    state = n_states - 1 if alpha[-1] >= alpha[-2] else n_states - 2
    if not math.isfinite(alpha[state]):
        raise ValueError(f"{len(labels)} labels cannot be aligned to {n_frames} frames")
    states = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        states[t] = state
        state -= int(back[t, state])
    positions = np.where(states % 2 == 1, states // 2, -1)
    return ext[states], positions


def _transcript(
    emissions: Emissions,
    text: str,
    path: NDArray[np.int64],
    positions: NDArray[np.int64],
) -> Transcript:
    """Words with times and confidences from an alignment of ``text`` (see module doc)."""
    frame_s, offset_s = emissions.frame_s, emissions.offset_s
    end_s = offset_s + len(path) * frame_s
    if not text.strip():
        return Transcript(emissions.source, "", (), offset_s, end_s)
    chars = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    is_space = chars == ord(SPACE)
    # Word number of each character (-1 for spaces).
    word_of_char = np.where(is_space, -1, np.cumsum(~is_space & np.r_[True, is_space[:-1]]) - 1)
    word_of_frame = np.where(positions >= 0, word_of_char[np.maximum(positions, 0)], -1)
    frames = np.flatnonzero(word_of_frame >= 0)
    owner = word_of_frame[frames]
    firsts = frames[np.r_[True, owner[1:] != owner[:-1]]]
    lasts = frames[np.r_[owner[1:] != owner[:-1], True]]
    aligned = np.exp(emissions.log_probs[np.arange(len(path)), path].astype(np.float64))
    cumulative = np.r_[0.0, np.cumsum(aligned)]
    words = text.split()
    assert len(words) == len(firsts), "every word has frames in a valid alignment"
    result = tuple(
        Word(
            text=word,
            start_s=offset_s + int(first) * frame_s,
            end_s=offset_s + (int(last) + 1) * frame_s,
            confidence=float((cumulative[last + 1] - cumulative[first]) / (last + 1 - first)),
        )
        for word, first, last in zip(words, firsts, lasts, strict=True)
        if word.strip("'")  # a lone apostrophe is no word (transcripts drop it too)
    )
    return Transcript(emissions.source, " ".join(w.text for w in result), result, offset_s, end_s)
