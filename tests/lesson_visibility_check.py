#!/usr/bin/env python3
"""Every highlighted tensor of every lesson step is drawn, inside the window (issue 9, item 3).

For each lesson in assets/lessons/ and each of its states (0 = the opening state with the lesson's highlights,
k = after try step k with that step's own highlights), runs
    qkvlab --lesson N --step K --screenshot x.png --layout-json l.json --width 1440 --height 900
and the same in presentation mode at 1280x720, and checks that every highlighted tensor appears in l.json
(the app's own record of each heatmap it drew) with a non-empty rectangle inside the window.
usage: lesson_visibility_check.py QKVLAB_BINARY ASSETS_DIR WORK_DIR [LESSON_NUMBER ...]
"""
import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import time

# Highlights whose fix belongs to another branch of issue 9, in one place: (lesson, tensor) -> why. The lead
# removes each entry once that branch is merged; a pending case is reported, not failed.
PENDING = {}
# Heatmaps of the Attention, Masks and Q·K·V tabs that are drawn but run below the window
# until the heatmap widget fills (and fits) the space it has (Heatmap helper, items 6 and 12).
PENDING_LAYOUT = set()  # (lesson, step)

SIZES = [("1440x900", ["--width", "1440", "--height", "900"], 1440, 900),
         ("presentation-1280x720", ["--presentation", "--width", "1280", "--height", "720"], 1280, 720)]


def matches(key, tensor):
    # As app/widgets/heatmap.cpp outlines it: the tensor itself, or a copy under a view prefix, never its gradient.
    if key == tensor:
        return True
    return key.endswith(tensor) and not key.startswith("dL/d") and key[-len(tensor) - 1] in "/."


def cases(assets, only):
    for path in sorted(glob.glob(os.path.join(assets, "lessons", "*.json"))):
        lesson = json.load(open(path, encoding="utf-8"))
        if only and lesson["number"] not in only:
            continue
        states = [(0, lesson.get("highlight", []))]
        states += [(k + 1, step.get("highlight", [])) for k, step in enumerate(lesson.get("try", []))]
        for step, highlights in states:
            tensors = sorted({h["tensor"] for h in highlights})
            if tensors:
                yield lesson["number"], step, tensors


def check(app, work, number, step, tensors):
    problems, pending = [], []
    for label, args, width, height in SIZES:
        base = os.path.join(work, f"{number:02d}-{step}-{label}")
        cmd = [app, "--lesson", str(number), "--step", str(step), "--screenshot", base + ".png", "--layout-json", base + ".json",
               "--frames", "4"] + args
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        for _ in range(2):  # the shared Xvfb now and then refuses a connection while many apps start at once
            if run.returncode == 0 or "Failed to open display" not in run.stderr:
                break
            time.sleep(1.0)
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if run.returncode != 0:
            problems.append(f"lesson {number} step {step} ({label}): the app exited {run.returncode}: {run.stderr.strip()[-300:]}")
            continue
        drawn = json.load(open(base + ".json"))
        for tensor in tensors:
            if (number, tensor) in PENDING:
                pending.append(f"lesson {number} step {step}: {tensor} — pending: {PENDING[(number, tensor)]}")
                continue
            hits = [d for d in drawn if matches(d["key"], tensor)]
            inside = [d for d in hits if d["x1"] > d["x0"] and d["y1"] > d["y0"] and d["x0"] >= 0 and d["y0"] >= 0
                      and d["x1"] <= width + 0.5 and d["y1"] <= height + 0.5]
            if not hits:
                problems.append(f"lesson {number} step {step} ({label}): {tensor} is not drawn "
                                f"(drawn: {', '.join(d['key'] for d in drawn) or 'nothing'})")
            elif not inside and (number, step) in PENDING_LAYOUT:
                pending.append(f"lesson {number} step {step} ({label}): {tensor} drawn below the window — pending: the heatmap widget's fit")
            elif not inside:
                d = hits[0]
                problems.append(f"lesson {number} step {step} ({label}): {tensor} is drawn at "
                                f"({d['x0']:.0f},{d['y0']:.0f})-({d['x1']:.0f},{d['y1']:.0f}), outside the {width}x{height} window")
    return problems, pending


def main():
    app, assets, work = sys.argv[1:4]
    only = {int(a) for a in sys.argv[4:]}
    todo = list(cases(assets, only))
    problems, pending = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for p, q in pool.map(lambda c: check(app, work, *c), todo):
            problems += p
            pending += q
    for line in sorted(set(pending)):
        print("pend " + line)
    for line in problems:
        print("FAIL " + line)
    print(f"{len(todo)} lesson states checked at 2 sizes, {len(problems)} problems, {len(set(pending))} pending")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
