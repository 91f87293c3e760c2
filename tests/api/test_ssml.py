"""SSML through `orator serve`'s OpenAI endpoint, read by real clients: pauses measured in the
returned audio and in its word timings (exact to the sample), `<say-as>` readings checked by
their phonemes against the same words written out, pace changes measured, the document's
shown text in the timings and in the subtitles (read by the `srt` parser), a streamed SSML
response equal to the whole one, and malformed documents refused with their position."""
import base64
import io

import numpy as np
import openai
import pytest
import soundfile
import srt

from test_streaming import port  # noqa: F401 (the server, a fixture)

RATE = 24_000
FADE = RATE * 5 // 1000  # each render's own sound kept past its words at a pause


def client(port):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")


def timed(port, text, **fields):
    """The timed endpoint's reply: (samples as int16, timings, srt)."""
    reply = client(port).post("/audio/speech/timed", cast_to=object,
                              body={"model": "tts-1", "voice": "alloy", "input": text, **fields})
    audio, rate = soundfile.read(io.BytesIO(base64.b64decode(reply["audio"])), dtype="int16")
    assert rate == RATE
    return audio, reply["timings"], reply["srt"]


def phonemes(word):
    return "".join(p["phoneme"] for p in word["phonemes"])


@pytest.mark.parametrize("ms", [0, 250, 1500])
def test_a_break_is_that_long_between_the_words_and_silent(port, ms):
    text = (f'<speak>The first part ends here. <break time="{ms}ms"/> '
            f'And the second part starts.</speak>')
    audio, timings, _ = timed(port, text)
    words = timings["words"]
    here = next(i for i, w in enumerate(words) if w["text"] == "here")
    end, start = words[here]["end_sample"], words[here + 1]["start_sample"]
    print(f"break {ms} ms: words {end} -> {start}, {start - end} samples")
    assert start - end == ms * RATE // 1000, "the pause between the words is the break"
    assert timings["text"] == "The first part ends here. And the second part starts."
    if ms >= 20:
        between = audio[end + FADE:start - FADE]
        assert len(between) == ms * RATE // 1000 - 2 * FADE
        assert not between.any(), "digital silence between the two renders' fades"
    assert audio[start:words[here + 1]["end_sample"]].any(), "the next word is heard"


def test_breaks_of_different_lengths_differ_by_exactly_their_difference(port):
    lengths = {}
    for ms in (300, 1300):
        audio, _, _ = timed(port, f'<speak>Counting down. <break time="{ms}ms"/>Three, two, '
                                  f'one.<break time="{ms}ms"/></speak>')
        lengths[ms] = len(audio)
    print("lengths:", lengths)
    assert lengths[1300] - lengths[300] == 2 * RATE


# (SSML content, the same words written out): each must sound as its written form.
READINGS = [
    ('<say-as interpret-as="ordinal">3</say-as>', "third"),
    ('<say-as interpret-as="cardinal">1,204</say-as>', "one thousand two hundred four"),
    ('<say-as interpret-as="date">2026-12-07</say-as>', "December seventh, twenty twenty-six"),
    ('<say-as interpret-as="date" format="dmy">7/12/1905</say-as>',
     "the seventh of December, nineteen oh five"),
    ('<say-as interpret-as="telephone">555-0100</say-as>', "five five five, zero one zero zero"),
    ('<say-as interpret-as="characters">BBC</say-as>', "B. B. C."),
    ('<sub alias="World Wide Web">WWW</sub>', "World Wide Web"),
    ('<phoneme alphabet="ipa" ph="təmˈɑːtoʊ">tomato</phoneme>', "tomahto"),
]


@pytest.mark.parametrize("markup,written", READINGS)
def test_say_as_sub_and_phoneme_sound_as_their_words(port, markup, written):
    _, ssml, _ = timed(port, f"<speak>We said {markup} today.</speak>")
    _, plain, _ = timed(port, f"We said {written} today.")
    said = [w for w in ssml["words"] if w["text"] not in ("We", "said", "today")]
    assert len(said) == 1, "the markup is one word of the shown text"
    heard = phonemes(said[0])
    expected = "".join(phonemes(w) for w in plain["words"]
                       if w["text"] not in ("We", "said", "today"))
    strip = str.maketrans("", "", "ˈˌ")
    print(f"{markup}: {heard} / {written}: {expected}")
    if "phoneme" in markup:
        assert heard.translate(strip) == "təmɑːtoʊ"
    else:
        assert heard.translate(strip) == expected.translate(strip)
    start = ssml["text"].index(said[0]["text"])
    assert said[0]["char_start"] == start, "the word points at the shown markup's content"


def test_prosody_and_emphasis_change_the_pace(port):
    def span(text):
        _, timings, _ = timed(port, text)
        words = [w for w in timings["words"] if w["text"].strip(".") in ("slowly", "spoken")]
        return words[-1]["end_sample"] - words[0]["start_sample"], timings
    plain, _ = span("<speak>This is slowly spoken.</speak>")
    slow, timings = span('<speak>This is <prosody rate="50%">slowly spoken</prosody>.</speak>')
    strong, _ = span('<speak>This is <emphasis level="strong">slowly spoken</emphasis>.</speak>')
    print(f"plain {plain}, prosody 50% {slow}, emphasis strong {strong} samples")
    assert 1.7 <= slow / plain <= 2.3
    assert 1.05 <= strong / plain <= 1.35
    assert [w["index"] for w in timings["words"]] == list(range(len(timings["words"])))


def test_subtitles_show_the_documents_text(port):
    _, timings, subtitles = timed(
        port, '<speak>Visit <sub alias="the World Wide Web">WWW</sub> today. '
              '<break time="2s"/>Then come back.</speak>')
    cues = list(srt.parse(subtitles))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == timings["text"]
    assert "WWW" in cues[0].content
    words = {w["text"]: w for w in timings["words"]}
    assert cues[-1].start.total_seconds() == pytest.approx(words["Then"]["start_ms"] / 1000,
                                                           abs=0.001)


def test_a_streamed_ssml_response_is_the_whole_one(port):
    text = ('<speak>A streamed document. <break time="400ms"/><prosody rate="fast">With a '
            'quicker part</prosody> and <say-as interpret-as="ordinal">2</say-as> ends.</speak>')
    whole, _, _ = timed(port, text)
    body = bytearray()
    with client(port).audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=text, response_format="pcm") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        for piece in response.iter_bytes():
            body += piece
    streamed = np.frombuffer(bytes(body), dtype="<i2")
    assert len(streamed) == len(whole)
    assert np.array_equal(streamed, whole)


@pytest.mark.parametrize("text,where", [
    ("<speak>\n  Fine text\n  <audio src='x.wav'/></speak>", "line 3, column 3: <audio>"),
    ('<speak>One <break time="soon"/></speak>', "line 1, column 12: break time"),
    ("<speak>Unclosed <emphasis>text</speak>", "the SSML is not well-formed: line 1"),
    ('<speak><say-as interpret-as="date">2026-13-01</say-as></speak>', "line 1, column 8"),
])
def test_malformed_ssml_is_refused_with_its_position(port, text, where):
    with pytest.raises(openai.BadRequestError) as refused:
        client(port).audio.speech.create(model="tts-1", voice="alloy", input=text)
    assert where in str(refused.value), str(refused.value)


def test_ssml_false_reads_markup_as_text(port):
    _, timings, _ = timed(port, "<speak>plain</speak>", ssml=False)
    assert timings["text"] == "<speak>plain</speak>" or "speak" in timings["text"]
