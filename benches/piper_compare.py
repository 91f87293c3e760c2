"""piper-tts 1.8.0 on the same machine, voice and sentences as benches/speech.rs, for the
side-by-side table in docs/PERFORMANCE.md. Prints voice load time, median synthesis time per
sentence (piper's defaults: all graph optimisations, ONNX Runtime's default thread count), and
the process's peak RSS.

Run with the test venv (cargo xtask setup):
  target/test-venv/bin/python benches/piper_compare.py [--threads N]
"""

import argparse
import resource
import statistics
import time
from pathlib import Path

import onnxruntime
from piper import PiperVoice

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "target" / "assets" / "voices" / "en_US-joe-medium.onnx"
SENTENCES = {
    "4_words": "Thanks for the follow.",
    "16_words": "Welcome back to the stream, everyone; today we are building a speech plugin in Rust.",
    "40_words": "When you finish the first part of the tutorial, save your work, close the editor, "
    "open the terminal, type the command exactly as shown, press enter, and wait for the "
    "build to complete before you move on to the second part of the lesson today.",
    "44_words_unpunctuated": "when you finish the first part of the tutorial save your work and close the editor "
    "then open the terminal and type the command exactly as it is shown and wait for the "
    "build to complete before you move on to the second part",
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT default)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    voice = PiperVoice.load(str(MODEL))
    if args.threads:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        voice.session = onnxruntime.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    print(f"voice load: {(time.perf_counter() - started) * 1000:.0f} ms")
    for name, text in SENTENCES.items():
        times = []
        audio_seconds = 0.0
        for _ in range(args.runs + 1):
            started = time.perf_counter()
            chunks = list(voice.synthesize(text))
            times.append(time.perf_counter() - started)
            audio_seconds = sum(len(c.audio_float_array) for c in chunks) / 22050
        median = statistics.median(times[1:])  # the first run warms up
        print(f"{name}: {median * 1000:.0f} ms for {audio_seconds:.2f} s of audio (RTF {median / audio_seconds:.3f})")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
