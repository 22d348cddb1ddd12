"""Checks a screenshot of the app against the core's numbers.

usage: gui_check.py SHOT.png LAYOUT.json NPY_DIR PNG_DIR
- the screenshot is not blank;
- every attention heatmap P the app drew (LAYOUT.json: its screen rectangle, rows, cols) shows, at the centre
  of each cell, the colour that the CPU colormap gives the core's P for that cell (the CLI's PNG export: its
  index.json says where each image's grid starts and its cell size), within 4/255 per channel;
- padded keys are 0 in P, and so have the colour of 0.
"""
import json
import os
import sys

import numpy as np
from PIL import Image

shot_path, layout_path, npy_dir, png_dir = sys.argv[1:5]
shot = np.asarray(Image.open(shot_path).convert("RGB")).astype(int)
failures = []

distinct = len(np.unique(shot.reshape(-1, 3), axis=0))
if distinct < 50 or shot.std() < 10:
    failures.append(f"the screenshot looks blank ({distinct} colours, std {shot.std():.1f})")

layout = json.load(open(layout_path))
index = {e["tensor"]: e for e in json.load(open(os.path.join(png_dir, "index.json")))}
checked = 0
for entry in layout:
    key = entry["key"]
    if not key.endswith(".P") or ":" in key:
        continue
    P = np.load(os.path.join(npy_dir, key + ".npy"))
    if P.shape != (entry["rows"], entry["cols"]):
        failures.append(f"{key}: drawn as {entry['rows']}x{entry['cols']}, the core has {P.shape}")
        continue
    ref = index.get(key)
    if not ref or not os.path.exists(os.path.join(png_dir, ref["file"])):
        failures.append(f"{key}: no PNG export to compare with")
        continue
    if (ref["rows"], ref["cols"]) != P.shape:
        failures.append(f"{key}: the PNG export has {ref['rows']}x{ref['cols']} cells, the core {P.shape}")
        continue
    cpu = np.asarray(Image.open(os.path.join(png_dir, ref["file"])).convert("RGB")).astype(int)
    cell, x0, y0 = ref["cell"], ref["x0"], ref["y0"]
    cell_w = (entry["x1"] - entry["x0"]) / entry["cols"]
    cell_h = (entry["y1"] - entry["y0"]) / entry["rows"]
    worst = 0
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            x = int(entry["x0"] + (j + 0.5) * cell_w)
            y = int(entry["y0"] + (i + 0.5) * cell_h)
            on_screen = shot[y, x]
            expected = cpu[y0 + i * cell + cell // 2, x0 + j * cell + cell // 2]
            worst = max(worst, int(np.abs(on_screen - expected).max()))
            checked += 1
    if worst > 4:
        failures.append(f"{key}: a cell differs from the core's colour by {worst}/255")
    print(f"{key}: {P.size} cells match the core's P (worst channel difference {worst}/255)")
    pad = P.shape[1] - 1
    if not (P[:, pad] == 0).all():
        failures.append(f"{key}: the padded key has weight")

if checked == 0:
    failures.append("no attention heatmap was drawn")
for f in failures:
    print("FAIL", f)
print(f"{checked} cells checked" if not failures else f"{len(failures)} check(s) failed")
sys.exit(1 if failures else 0)
