"""Comparing a lossy codec's output with the samples it was made from: decoded by ffmpeg, an
independent decoder, then aligned and measured. Shared by the API and Windows tests."""

import subprocess

import numpy as np


def ffmpeg_decoded(data, rate, channels):
    """`data` (an encoded file) decoded by ffmpeg to 16-bit samples (frames × channels)."""
    out = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-f",
                          "s16le", "-ac", str(channels), "-ar", str(rate), "pipe:1"],
                         input=data, capture_output=True, check=True, timeout=60).stdout
    return np.frombuffer(out, dtype="<i2").reshape(-1, channels).astype(np.float64)


def lossy_match(decoded, expected):
    """How `decoded` (a lossy codec's output, mono) matches `expected`: the lag that aligns them
    best (the decoder's leftover delay, samples; found by FFT cross-correlation within 10 000
    samples), the SNR there (dB) and the level difference (dB)."""
    expected = expected.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(decoded) + len(expected))))
    corr = np.fft.irfft(np.fft.rfft(decoded, n) * np.conj(np.fft.rfft(expected, n)), n)
    lags = np.concatenate([np.arange(0, 10000), np.arange(-10000, 0)])
    best = int(lags[np.argmax(np.concatenate([corr[:10000], corr[-10000:]]))])
    a = expected[max(0, -best):]
    b = decoded[max(0, best):]
    a, b = a[:min(len(a), len(b))], b[:min(len(a), len(b))]
    noise = np.sum((a - b) ** 2)
    snr = float("inf") if noise == 0 else 10 * np.log10(np.sum(a ** 2) / noise)
    level = 10 * np.log10(np.sum(b ** 2) / np.sum(a ** 2))
    return best, snr, level
