"""Replay video cost: render, encode, and both together for one 500-step episode.

Times ``render_frames`` (all frames as one array), ``encode_mp4`` (of those frames),
``replay_video`` (draw and encode in a pipeline) and the Replay page's clip (the same with
the theta strip under the cart and the last frame held for ``render.HOLD_FRAMES``), each the
median of several runs with min and max, plus the MP4's size. The episode is a smooth synthetic
one, and the MP4 is decoded back to check it. Last, the Replay page's nudge range
(pg.viz.nudge.recoverable_range) for the shipped policy, which the page computes once per
(policy, start, step).

    python benchmarks/bench_replay.py [--runs 5] [--steps 500] [--size 480x320] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pg.viz import render  # noqa: E402

BUDGET_S = 1.0
"""What a 500-step replay may cost in total on a 2-core host."""


def synthetic_episode(steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """states (T, 4), actions (T,), p_right (T,), nudges (T,): a pole swaying, a cart drifting."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    theta = 0.1 * np.sin(t / 20)
    x = 1.2 * np.sin(t / 180) + 0.002 * t
    states = np.stack([x, np.gradient(x) * 50, theta, np.gradient(theta) * 50], axis=1)
    p_right = 1 / (1 + np.exp(-(12 * theta + 2 * states[:, 3])))
    actions = (rng.random(steps) < p_right).astype(np.int64)
    nudges = np.zeros(steps)
    nudges[steps // 2] = 1.0
    return {"states": states, "actions": actions, "p_right": p_right, "nudges": nudges}


def timed(fn: Callable[[], object], runs: int) -> tuple[dict[str, float], object]:
    """Wall time (ms) of ``runs`` calls: median, min, max; the median CPU time of the process
    (all threads: a figure that other programs on the machine inflate less); the last result."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    stats = {"median": statistics.median(wall), "min": min(wall), "max": max(wall)}
    stats["cpu"] = statistics.median(cpu)
    return {f"{key}_ms": 1e3 * seconds for key, seconds in stats.items()}, result


def check_mp4(mp4: bytes, steps: int, fps: int, width: int, height: int) -> dict[str, object]:
    """Decode the MP4 with PyAV: frame count, size and duration as asked, index first."""
    import av

    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        n_frames = sum(1 for _ in container.decode(stream))
        duration = container.duration / av.time_base
        codec = f"{stream.codec_context.name} {stream.codec_context.profile} {stream.codec_context.pix_fmt}"
    same_size = (stream.width, stream.height) == (width, height)
    index_first = mp4.index(b"moov") < mp4.index(b"mdat")
    ok = n_frames == steps and abs(duration - steps / fps) < 1e-3 and same_size and index_first
    return {"frames": n_frames, "duration_s": duration, "codec": codec, "ok": ok}


def measure(runs: int, steps: int, width: int, height: int, fps: int = 50) -> dict[str, object]:
    episode = synthetic_episode(steps)
    size = {"width": width, "height": height}
    render.replay_video(**episode, fps=fps, **size)  # warm up: imports, fonts, background
    render_stats, frames = timed(lambda: render.render_frames(**episode, **size), runs)
    encode_stats, _ = timed(lambda: render.encode_mp4(frames, fps=fps), runs)  # noqa: F821 (frames is bound above; deleted below)
    del frames
    total_stats, mp4 = timed(lambda: render.replay_video(**episode, fps=fps, **size), runs)
    page_size = {"width": width, "height": height + round(height * render.STRIP_FRACTION / (1 - render.STRIP_FRACTION))}
    page_size["height"] += page_size["height"] % 2
    held = {"n_frames": steps + render.HOLD_FRAMES, "end_label": "balanced 500 steps", "strip_steps": steps}
    page_stats, _ = timed(lambda: render.replay_video(**episode, fps=fps, **page_size, **held), runs)
    return {
        "steps": steps, "fps": fps, "width": width, "height": height, "runs": runs,
        "cpus": os.cpu_count(), "load_average": os.getloadavg()[0],
        "preset": render.X264_PRESET, "crf": render.X264_CRF,
        "render": render_stats, "encode": encode_stats, "replay_video": total_stats,
        "replay_page_clip": page_stats, "nudge_range": nudge_range_stats(runs),
        "mp4_kb": len(mp4) / 1024, "check": check_mp4(mp4, steps, fps, width, height),
    }  # fmt: skip


def nudge_range_stats(runs: int) -> dict[str, float]:
    """Time of the nudge range for the shipped policy at step 100 of seed 0 (greedy)."""
    from pg.runs.checkpoint import load_run
    from pg.viz.nudge import recoverable_range

    policy = load_run(Path(__file__).resolve().parents[1] / "assets" / "policy.npz").policy
    stats, _ = timed(lambda: recoverable_range(policy, seed=0, nudge_step=100), runs)
    return stats


def print_table(result: dict) -> None:
    print(f"Replay of a {result['steps']}-step episode at {result['width']}x{result['height']}, "
          f"{result['fps']} fps; {result['runs']} runs on {result['cpus']} CPUs "
          f"(x264 {result['preset']}, crf {result['crf']})")  # fmt: skip
    print(f"{'stage':<28}{'median ms':>10}{'min ms':>9}{'max ms':>9}{'CPU ms':>9}")
    rows = {
        "render_frames": "render",
        "encode_mp4 (given frames)": "encode",
        "replay_video (pipelined)": "replay_video",
        "Replay page clip (+strip)": "replay_page_clip",
        "nudge range (step 100)": "nudge_range",
    }
    for label, key in rows.items():
        s = result[key]
        print(f"{label:<28}{s['median_ms']:>10.0f}{s['min_ms']:>9.0f}{s['max_ms']:>9.0f}{s['cpu_ms']:>9.0f}")
    check = result["check"]
    total_s = result["replay_video"]["median_ms"] / 1e3
    print(f"mp4: {result['mp4_kb']:.0f} KB, {check['frames']} frames, {check['duration_s']:.2f} s, "
          f"{check['codec']}; decodes as asked: {'yes' if check['ok'] else 'NO'}")  # fmt: skip
    verdict = "within" if total_s <= BUDGET_S else "OVER"
    load = result["load_average"]
    print(f"budget {BUDGET_S:.1f} s for replay_video: {verdict} ({total_s:.2f} s; load average {load:.1f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per stage (median, min, max)")
    parser.add_argument("--steps", type=int, default=500, help="episode length T (frames)")
    parser.add_argument("--size", default="480x320", help="frame size WIDTHxHEIGHT (even numbers)")
    parser.add_argument("--quick", action="store_true", help="3 runs instead of --runs")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    result = measure(3 if args.quick else args.runs, args.steps, width, height)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if result["check"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
