"""``speechpipe synth``: TTS sentences -> 16 kHz mono WAV clips and a training manifest."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from facespeech.cli.speech_synth import synth
from facespeech.pipelines.speech_accent import ACCENT_RULES, accented_phoneme_input
from facespeech.pipelines.speech_synth import (
    DEFAULT_VOICES,
    DIGIT_WORDS,
    TtsPrograms,
    _Job,
    _render_chunk,
    digit_lines,
    plan_jobs,
    select_sentences,
    synthesize,
)
from facespeech.pipelines.speech_synth import main as speech_synth_main

SENTENCES = ("The cat sat on the mat.", "Seven green apples")


@pytest.fixture
def espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def _manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.usefixtures("espeak")
def test_synth_command_writes_16k_mono_wavs_and_manifest(tmp_path: Path) -> None:
    text = tmp_path / "sentences.txt"
    text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "synth"

    result = CliRunner().invoke(synth, [str(text), "--out", str(out), "--voices", "espeak"])

    assert result.exit_code == 0, result.output
    rows = _manifest(out / "manifest.tsv")
    assert [r["transcript"] for r in rows] == ["the cat sat on the mat", "seven green apples"]
    assert {r["split"] for r in rows} == {"train"}
    assert all(r["speaker"].startswith("espeak:en") for r in rows)
    for row in rows:
        info = sf.info(out / row["path"])
        assert (info.samplerate, info.channels) == (16_000, 1)
        assert info.duration == pytest.approx(float(row["duration"]), abs=1e-3)
        assert 0.3 < info.duration < 10.0


@pytest.mark.parametrize(
    ("family", "voice", "package"),
    [
        ("festival-kal", "kal_diphone", "festvox-kallpc16k"),
        ("festival-ked", "ked_diphone", "festvox-kdlpc16k"),
    ],
)
def test_festival_voices_render_16k_mono_speech(
    tmp_path: Path, family: str, voice: str, package: str
) -> None:
    if TtsPrograms().available([family]) != [family]:
        pytest.skip(f"festival or its {voice} voice is missing (apt-get install {package})")
    result = synthesize(["the cat sat on the mat"], tmp_path, voices=[family], seed=1)

    assert result.failures == []
    [row] = _manifest(result.manifest)
    assert (row["transcript"], row["speaker"]) == ("the cat sat on the mat", f"festival:{voice}")
    samples, rate = sf.read(tmp_path / row["path"], dtype="float32", always_2d=True)
    assert (rate, samples.shape[1]) == (16_000, 1)
    assert 0.5 < samples.shape[0] / rate < 5.0
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence


def test_festival_from_a_prefix_reads_only_the_prefix(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "festival"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    settings = {"stretch": 1.0, "f0": 100.0}

    command = TtsPrograms(tmp_path).command(
        "festival:kal_diphone", 'a "b"', Path("x.wav"), settings
    )

    assert command[:4] == [str(program), "--datadir", str(tmp_path / "share" / "festival"), "-q"]
    assert "(define system-voice-path nil)" in command
    quoted = '(Utterance Text "a \\"b\\"")'  # the text's quotes escaped for Scheme
    assert command[-1] == f'(utt.save.wave (utt.synth {quoted}) "x.wav" \'riff)'


def test_festival_settings_vary_per_sentence() -> None:
    jobs = plan_jobs([f"sentence number {i}" for i in range(20)], ["festival-kal"], seed=0)
    assert {job.voice for job in jobs} == {"festival:kal_diphone"}
    assert all(0.85 <= job.settings["stretch"] <= 1.2 for job in jobs)
    assert all(90.0 <= job.settings["f0"] <= 210.0 for job in jobs)
    assert len({round(job.settings["f0"]) for job in jobs}) > 10


def test_vocal_tract_scale_rises_with_pitch() -> None:
    jobs = plan_jobs([f"sentence number {i}" for i in range(400)], ["kal", "festival-ked"], seed=0)
    f0 = np.array([job.settings["f0"] for job in jobs])
    tract = np.array([job.settings["tract"] for job in jobs])
    assert tract.min() >= 0.92
    assert tract.max() <= 1.22
    assert tract[f0 > 180].mean() > tract[f0 < 110].mean() + 0.1


def test_tract_scale_renders_slower_and_lower_to_be_played_faster() -> None:
    settings = {"stretch": 1.1, "f0": 180.0, "tract": 1.2}
    command = TtsPrograms().command("flite:kal16", "a b", Path("x.wav"), settings)
    assert "duration_stretch=1.320" in command
    assert "int_f0_target_mean=150.0" in command


@pytest.mark.usefixtures("espeak")
def test_tract_scale_raises_formants_and_keeps_the_tempo(tmp_path: Path) -> None:
    def render(index: int, tract: float) -> np.ndarray:
        settings = {"rate": 160.0, "pitch": 50.0, "amplitude": 100.0, "tract": tract}
        job = _Job(index, "the quick brown fox jumps over the lazy dog", "espeak:en-us", settings)
        [row] = _render_chunk((TtsPrograms(), tmp_path, [job]))
        assert row.error is None
        samples, _ = sf.read(tmp_path / f"audio/000/{index:06d}.wav", dtype="float32")
        return samples

    def centroid_hz(samples: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(samples)) ** 2
        return float((np.fft.rfftfreq(samples.size, 1 / 16_000) * power).sum() / power.sum())

    plain, shorter_tract = render(0, 1.0), render(1, 1.2)
    assert shorter_tract.size == pytest.approx(plain.size, rel=0.05)
    assert centroid_hz(shorter_tract) > 1.1 * centroid_hz(plain)


def test_pico_markup_carries_speed_and_pitch_rendered_for_the_tract_scale(tmp_path: Path) -> None:
    program = tmp_path / "bin" / "pico2wave"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    settings = {"speed": 110.0, "pitch": 90.0, "tract": 0.9}
    command = TtsPrograms(tmp_path).command("pico:en-GB", "a b", Path("x.wav"), settings)
    assert command[0] == str(program)
    # Rendered faster and higher by 1 / 0.9, then played slower: formants and F0 go down.
    assert command[1:] == [
        "-w",
        "x.wav",
        "-l",
        "en-GB",
        "<speed level='122'><pitch level='100'>a b</pitch></speed>",
    ]


def test_pico_voices_are_drawn_with_their_own_ranges() -> None:
    jobs = plan_jobs([f"sentence number {i}" for i in range(200)], ["pico-us", "pico-gb"], seed=0)
    assert {job.voice for job in jobs} == {"pico:en-US", "pico:en-GB"}
    assert all(80 <= job.settings["speed"] <= 125 for job in jobs)
    assert all(80 <= job.settings["pitch"] <= 125 for job in jobs)
    tract = np.array([job.settings["tract"] for job in jobs])
    assert 0.84 <= tract.min() < 0.9
    assert tract.max() <= 1.08


def test_pico_voices_render_through_a_pico2wave_program(tmp_path: Path) -> None:
    # A stand-in with pico2wave's command line: a 16 kHz tone whose length follows the text.
    program = tmp_path / "prefix" / "bin" / "pico2wave"
    program.parent.mkdir(parents=True)
    program.write_text(
        "#!/bin/sh\n"
        f'exec {sys.executable} -c "import sys, numpy, soundfile; '
        "n = 400 * len(sys.argv[5]); "
        "soundfile.write(sys.argv[2], 0.3 * numpy.sin(numpy.arange(n) / 5), 16000, "
        'subtype=\'PCM_16\')" "$@"\n'
    )
    program.chmod(0o755)
    programs = TtsPrograms(tmp_path / "prefix")
    assert programs.available(["pico-us", "pico-gb"]) == ["pico-us", "pico-gb"]
    assert TtsPrograms(tmp_path).available(["pico-us"]) == []  # no bin/pico2wave there

    result = synthesize(
        list(SENTENCES[1:]), tmp_path / "out", voices=["pico-us"], programs=programs
    )

    assert result.failures == []
    [row] = _manifest(result.manifest)
    assert (row["transcript"], row["speaker"]) == ("Seven green apples", "pico:en-US")
    info = sf.info(tmp_path / "out" / row["path"])
    assert (info.samplerate, info.channels) == (16_000, 1)
    assert info.duration > 0.5


def test_default_voices_leave_pico_out_so_old_recipes_render_the_same() -> None:
    assert not set(DEFAULT_VOICES) & {"pico-us", "pico-gb"}
    assert plan_jobs(["a b c"] * 30, DEFAULT_VOICES, seed=5) == plan_jobs(
        ["a b c"] * 30, ("espeak", "kal", "kal16", "awb", "festival-kal", "festival-ked"), seed=5
    )


def test_held_out_voices_are_refused(tmp_path: Path) -> None:
    for voice in ("rms", "us-slt-hts"):
        with pytest.raises(ValueError, match="held out"):
            synthesize(["a b c"], tmp_path, voices=["festival-kal", voice])
    result = CliRunner().invoke(synth, [__file__, "--out", str(tmp_path), "--voices", "slt"])
    assert result.exit_code == 2
    assert "held out" in result.output


def test_plan_is_seeded_and_varies_the_voice() -> None:
    sentences = [f"sentence number {i}" for i in range(50)]
    first = plan_jobs(sentences, ["espeak", "kal"], seed=3)
    assert first == plan_jobs(sentences, ["espeak", "kal"], seed=3)
    assert len({job.voice for job in first}) > 10


def test_select_sentences_drops_dev_and_test_transcripts(tmp_path: Path) -> None:
    text = tmp_path / "text.txt"
    text.write_text("One two three four.\nHello there my friend.\nToo short.\n", encoding="utf-8")
    manifest = tmp_path / "manifest.tsv"
    manifest.write_text(
        "path\ttranscript\tsplit\na.wav\tHELLO THERE MY FRIEND\tdev\n"
        "b.wav\tone two three four\ttrain\n",
        encoding="utf-8",
    )

    assert select_sentences([str(text)], [manifest]) == ["one two three four"]


def test_digit_lines_hold_every_digit_word_and_seeded_strings(tmp_path: Path) -> None:
    lines = digit_lines(seed=7)
    assert len(lines) == 1600
    assert all(lines.count(word) >= 100 for word in DIGIT_WORDS)
    strings = lines[1000:]
    assert all(2 <= len(line.split()) <= 8 for line in strings)
    assert {word for line in strings for word in line.split()} == set(DIGIT_WORDS)
    assert lines == digit_lines(seed=7)
    assert lines != digit_lines(seed=8)

    out = tmp_path / "digits.txt"
    assert speech_synth_main(["digits", str(out), "--seed", "7"]) == 0
    assert out.read_text(encoding="utf-8").splitlines() == lines


PHONEMES = "D_@2 T_'I_N I_z v_'E_r_i g_'U_d__:__: a_n_d"  # espeak-ng -x --sep=_, en-us


def test_accent_with_every_rule_off_speaks_espeaks_own_phonemes() -> None:
    spoken = accented_phoneme_input(PHONEMES, {}, np.random.default_rng(0))

    assert spoken == "[[D@2 T'IN Iz v'Eri g'Ud and]]"  # the pause marks are espeak's to add


def test_accent_with_every_rule_on_rewrites_th_v_and_lax_vowels() -> None:
    always = {f"accent_{rule}": 1.0 for rule in ACCENT_RULES}

    spoken = accented_phoneme_input(PHONEMES, always, np.random.default_rng(0))

    words = spoken.removeprefix("[[").removesuffix("]]").split()
    assert words[0][0] in "dz"  # "the": no dental fricatives left
    assert words[1][0] in "sf"  # "thing"
    assert words[3][0] in "wf"  # "very"
    assert "I" not in spoken.replace("I2", "").replace("I#", "")  # lax i spoken tense, i:
    assert spoken == accented_phoneme_input(PHONEMES, always, np.random.default_rng(0))


def test_accent_speakers_are_drawn_per_sentence_with_rule_probabilities() -> None:
    jobs = plan_jobs([f"sentence number {i}" for i in range(50)], ["espeak-accent"], seed=4)

    assert all(job.voice.startswith("espeak-accent:en") for job in jobs)
    assert len({job.settings["accent_seed"] for job in jobs}) == len(jobs)
    for job in jobs:
        rates = [job.settings[f"accent_{rule}"] for rule in ACCENT_RULES]
        assert all(0.0 <= rate <= 1.0 for rate in rates)
        assert 110 <= job.settings["rate"] <= 165
    assert jobs == plan_jobs([f"sentence number {i}" for i in range(50)], ["espeak-accent"], 4)


@pytest.mark.usefixtures("espeak")
def test_accented_espeak_renders_speech_with_the_plain_transcript(tmp_path: Path) -> None:
    result = synthesize(["the thing is very good"], tmp_path, voices=["espeak-accent"], seed=2)

    assert result.failures == []
    assert list(result.seconds_per_voice) == ["espeak-accent"]
    [row] = _manifest(result.manifest)
    assert row["transcript"] == "the thing is very good"
    assert row["speaker"].startswith("espeak-accent:en")
    samples, rate = sf.read(tmp_path / row["path"], dtype="float32")
    assert rate == 16_000
    assert 0.7 < samples.size / rate < 4.0
    assert np.sqrt(np.mean(samples**2)) > 0.01  # speech, not silence
