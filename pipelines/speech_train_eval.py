"""Dev-set scoring during training: greedy CTC decoding of a padded batch and WER/CER (jiwer).

Greedy decoding is enough for the training log (the shipped decoders live in
``stages/speech/ctc_decode.py``); it runs on the batch's tensors, without building emissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import jiwer
import numpy as np
import torch
from facespeech.pipelines.speech_train_data import Utterance
from facespeech.stages.speech.alphabet import BLANK_INDEX, LABELS
from facespeech.stages.speech.audio import AudioLoader
from facespeech.stages.speech.recognizer import CtcModel
from facespeech.stages.speech.spectrogram import LogMelFeatures
from numpy.typing import NDArray
from torch import Tensor

EVAL_BATCH_SECONDS = 600.0  # padded audio seconds per dev batch


@dataclass(frozen=True, slots=True)
class DevScore:
    """Word and character error rates (fractions, not percent) over ``n_utterances``."""

    wer: float
    cer: float
    n_utterances: int


def greedy_texts(log_probs: Tensor, lengths: Tensor) -> list[str]:
    """``log_probs`` ``(B, T, n_labels)``, ``lengths`` ``(B,)`` -> best-path texts (repeats
    collapsed, blanks dropped, spaces squeezed)."""
    best = log_probs.argmax(dim=-1).cpu()  # (B, T)
    texts = []
    for row, length in enumerate(lengths.tolist()):
        path = torch.unique_consecutive(best[row, :length])
        text = "".join(LABELS[i] for i in path.tolist() if i != BLANK_INDEX)
        texts.append(" ".join(text.split()))
    return texts


def score(references: Sequence[str], hypotheses: Sequence[str]) -> DevScore:
    """WER and CER of ``hypotheses`` against non-empty ``references``."""
    words = jiwer.process_words(list(references), list(hypotheses))
    chars = jiwer.process_characters(list(references), list(hypotheses))
    return DevScore(wer=float(words.wer), cer=float(chars.cer), n_utterances=len(references))


class DevSet:
    """Dev clips read once and kept in memory as ``float32`` waveforms."""

    def __init__(self, utterances: Sequence[Utterance]) -> None:
        loader = AudioLoader()
        order = sorted(range(len(utterances)), key=lambda i: utterances[i].duration_s)
        self.utterances = [utterances[i] for i in order]
        self.samples: list[NDArray[np.float32]] = [loader(u.path).samples for u in self.utterances]

    def transcribe(self, model: CtcModel, features: LogMelFeatures, device: str) -> list[str]:
        """Greedy transcripts of every clip (in ``self.utterances`` order)."""
        texts: list[str] = []
        start = 0
        while start < len(self.samples):
            end = start + 1
            while (
                end < len(self.samples)
                and (end + 1 - start) * len(self.samples[end])
                <= EVAL_BATCH_SECONDS * features.sample_rate_hz
            ):
                end += 1
            chunk = self.samples[start:end]
            lengths = torch.tensor([len(s) for s in chunk])
            padded = torch.zeros(len(chunk), int(lengths.max()))
            for row, s in enumerate(chunk):
                padded[row, : len(s)] = torch.from_numpy(s)
            with torch.inference_mode():
                values, frame_lengths = features(padded.to(device), lengths.to(device))
                log_probs, out_lengths = model(values, frame_lengths)
            texts += greedy_texts(log_probs, out_lengths)
            start = end
        return texts

    def evaluate(self, model: CtcModel, features: LogMelFeatures, device: str) -> DevScore:
        """Greedy WER/CER of ``model`` (left in the train/eval mode it came in)."""
        was_training = model.training
        model.eval()
        try:
            hypotheses = self.transcribe(model, features, device)
        finally:
            model.train(was_training)
        return score([u.text for u in self.utterances], hypotheses)
