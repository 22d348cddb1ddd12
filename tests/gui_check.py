"""Checks a screenshot of the app against the core's numbers.

usage: gui_check.py SHOT.png LAYOUT.json NPY_DIR PNG_DIR
- the screenshot is not blank;
- every attention heatmap P the app drew (LAYOUT.json: its screen rectangle, rows, cols) shows, at the centre
  of each cell, the colour that the CPU colormap gives the core's P for that cell (the CLI's PNG export: its
  index.json says where each image's grid starts and its cell size), within 4/255 per channel;
- padded keys are 0 in P; they are masked (−∞ in S_masked), so their cells show the colour of 0 under the grey
  hatch of masked cells (stripes of 120/255 grey), never the plain colour of a tiny weight.
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
    cell, px0, py0 = ref["cell"], ref["x0"], ref["y0"]
    # The whole cell rectangle (full_*), which is the visible one when nothing is clipped.
    x0, y0 = entry.get("full_x0", entry["x0"]), entry.get("full_y0", entry["y0"])
    x1, y1 = entry.get("full_x1", entry["x1"]), entry.get("full_y1", entry["y1"])
    if (x0, y0, x1, y1) != (entry["x0"], entry["y0"], entry["x1"], entry["y1"]):
        failures.append(f"{key}: clipped on screen (visible {entry['x0']},{entry['y0']}-{entry['x1']},{entry['y1']})")
    cell_w = (x1 - x0) / entry["cols"]
    cell_h = (y1 - y0) / entry["rows"]
    S_masked = np.load(os.path.join(npy_dir, key[: -len(".P")] + ".S_masked.npy"))
    masked = np.isneginf(S_masked)
    if entry.get("masked_cells", -1) != int(masked.sum()):
        failures.append(f"{key}: {entry.get('masked_cells')} cells drawn as masked, the core masks {int(masked.sum())}")
    worst = 0
    hatched = 0
    for i in range(P.shape[0]):
        for j in range(P.shape[1]):
            expected = cpu[py0 + i * cell + cell // 2, px0 + j * cell + cell // 2]
            if masked[i, j]:
                # Stripes: some pixels of the cell are the 120-grey hatch, others the colour of P (= 0).
                patch = shot[int(y0 + i * cell_h) + 2 : int(y0 + (i + 1) * cell_h) - 2, int(x0 + j * cell_w) + 2 : int(x0 + (j + 1) * cell_w) - 2]
                patch = patch.reshape(-1, 3)
                grey = (np.abs(patch - 120).max(axis=1) <= 3).any()
                colour = (np.abs(patch - expected).max(axis=1) <= 4).any()
                if not (grey and colour):
                    failures.append(f"{key}: masked cell ({i}, {j}) is not hatched over the colour of 0")
                hatched += 1
                continue
            x = int(x0 + (j + 0.5) * cell_w)
            y = int(y0 + (i + 0.5) * cell_h)
            on_screen = shot[y, x]
            worst = max(worst, int(np.abs(on_screen - expected).max()))
            checked += 1
    if worst > 4:
        failures.append(f"{key}: a cell differs from the core's colour by {worst}/255")
    print(f"{key}: {P.size - hatched} cells match the core's P (worst channel difference {worst}/255), {hatched} masked cells hatched")
    pad = P.shape[1] - 1
    if not (P[:, pad] == 0).all():
        failures.append(f"{key}: the padded key has weight")
    if hatched == 0:
        failures.append(f"{key}: no masked cell was checked (the session pads its last key)")

if checked == 0:
    failures.append("no attention heatmap was drawn")
for f in failures:
    print("FAIL", f)
print(f"{checked} cells checked" if not failures else f"{len(failures)} check(s) failed")
sys.exit(1 if failures else 0)
