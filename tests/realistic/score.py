"""Scores `scrawl predict --json` output on the realistic sets against their labels.csv: prints
accuracy per set (and per kind inside it), a few failures, and exits 1 when a set is below its
floor in floors.json. Called by tests/realistic/run.sh; /usr/bin/python3 score.py --help."""
import argparse
import csv
import json
import os
import sys

SETS = {  # set -> (what counts as right, description)
    "photos": ("digit", "photos of ink on paper, digit accuracy"),
    "canvas": ("digit", "canvas exports, digit accuracy"),
    "numbers": ("number", "rows of 2-10 digits, exact string"),
    "mnist": ("digit", "the photos' digits as plain MNIST 28x28 (reference)"),
    "lined": ("digit", "photos on ruled or squared paper, digit accuracy"),
    "tilted": ("number", "rows of 2-10 digits turned 6-15 degrees, exact string"),
    "underlined": ("number", "rows of 3-10 digits with a pen line under them, exact string"),
    "boxed": ("number", "rows of 2-10 digits with a pen box around them, exact string"),
    "mixed": ("number", "rows of 2-10 digits of mixed sizes (0.65-1.35), exact string"),
    "desk": ("digit", "photos of a note on a desk, digit accuracy"),
    "glare": ("digit", "photos under a flash's glare, digit accuracy"),
    "dim": ("digit", "photos in dim light (dark and noisy), digit accuracy"),
    "fold": ("digit", "photos of a folded note (a crease across), digit accuracy"),
    # make_alt_sets.py: the same kinds drawn another way (a check against tuning to one generator)
    "alt_photos": ("digit", "other generator: photos (plain, pencil, colour, vignette, small)"),
    "alt_canvas": ("digit", "other generator: canvas exports, digit accuracy"),
    "alt_numbers": ("number", "other generator: rows of 2-10 digits (tiles, ink rows), exact"),
}


def labels_read(path):
    with open(path, newline="") as f:
        return {row["file"]: row["label"] for row in csv.DictReader(f)}


def preds_read(path):
    """basename -> prediction object; lines that are not JSON objects are ignored."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict) and "file" in obj:
                out[os.path.basename(str(obj["file"]))] = obj
    return out


def answer(pred, kind):
    if pred is None:
        return "(missing)"
    if "error" in pred:
        err = pred["error"]
        if isinstance(err, dict):
            err = err.get("message", err)
        return f"(error: {err})"
    value = pred.get(kind)
    return "(none)" if value is None else str(value)


def group_of(set_name, name):
    """A kind within a set, read from the file name the generator gives it."""
    if set_name in ("canvas", "alt_canvas"):
        return "transparent" if "transparent" in name else "white on black"
    if set_name in ("numbers", "tilted", "underlined", "boxed", "mixed"):
        return "touching" if "touching" in name else "separate"
    if set_name == "alt_numbers":
        return ("tiles" if "_tiles" in name else "ink rows") + \
            (", touching" if "touching" in name else ", separate")
    if set_name == "alt_photos":
        return name.rsplit("_", 1)[-1].split(".")[0]
    if set_name == "lined":
        return "ruled" if "ruled" in name else "squared"
    if set_name == "desk":
        return "running off the photo" if "_cut" in name else "whole sheet in view"
    return None


def score_set(set_name, sets_dir, preds_dir):
    kind = SETS[set_name][0]
    labels = labels_read(os.path.join(sets_dir, set_name, "labels.csv"))
    preds = preds_read(os.path.join(preds_dir, set_name + ".jsonl"))
    right, groups, failures = 0, {}, []
    length_ok = 0  # numbers: rows split into the right count of digits (segmentation)
    for name, label in sorted(labels.items()):
        got = answer(preds.get(name), kind)
        ok = got == label
        right += ok
        length_ok += len(got) == len(label)
        g = group_of(set_name, name)
        if g:
            n, r = groups.get(g, (0, 0))
            groups[g] = (n + 1, r + ok)
        if not ok:
            conf = (preds.get(name) or {}).get("confidence")
            failures.append((name, label, got, conf))
    return {"n": len(labels), "right": right, "groups": groups, "failures": failures,
            "length_ok": length_ok if kind == "number" else None}


def sheet_write(path, sets_dir, failures, limit=48):
    """A contact sheet of failures (image, label, answer) for people to look at."""
    from PIL import Image, ImageDraw
    cell, cols = 180, 6
    items = failures[:limit]
    if not items:
        return
    rows = (len(items) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cell, rows * (cell + 28)), (90, 90, 90))
    draw = ImageDraw.Draw(sheet)
    for i, (set_name, name, label, got, _) in enumerate(items):
        im = Image.open(os.path.join(sets_dir, set_name, name))
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (190, 230, 190, 255))  # shows transparency
            bg.alpha_composite(im)
            im = bg
        im = im.convert("RGB")
        im.thumbnail((cell - 4, cell - 4))
        x, y = (i % cols) * cell, (i // cols) * (cell + 28)
        sheet.paste(im, (x + 2, y + 2))
        draw.text((x + 2, y + cell - 2), name[:28], fill=(255, 255, 255))
        draw.text((x + 2, y + cell + 10), f"want {label} got {got}"[:28], fill=(255, 255, 0))
    sheet.save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sets", required=True, help="folder make_sets.py wrote")
    ap.add_argument("--preds", required=True, help="folder with <set>.jsonl predictions")
    ap.add_argument("--floors", help="floors.json to check against (omit: report only)")
    ap.add_argument("--json", help="also write the scores here as JSON")
    ap.add_argument("--sheet", help="write a PNG contact sheet of failures here")
    ap.add_argument("--show", type=int, default=5, help="failures listed per set")
    args = ap.parse_args()

    floors = {}
    if args.floors:
        with open(args.floors) as f:
            floors = {k: float(v) for k, v in json.load(f).items() if k in SETS}

    results, failed, all_failures = {}, [], []
    print(f"{'set':<10}{'right':>12}{'accuracy':>10}{'floor':>8}  what")
    for set_name, (_, desc) in SETS.items():
        r = score_set(set_name, args.sets, args.preds)
        acc = 100.0 * r["right"] / max(1, r["n"])
        floor = floors.get(set_name)
        verdict = ""
        if floor is not None and acc < floor:
            verdict = "  BELOW FLOOR"
            failed.append(set_name)
        floor_s = f"{floor:.1f}" if floor is not None else "-"
        print(f"{set_name:<10}{r['right']:>6}/{r['n']:<5}{acc:>9.2f}%{floor_s:>8}  {desc}{verdict}")
        for g, (n, right) in sorted(r["groups"].items()):
            print(f"  {g:<18}{right:>4}/{n:<5}{100.0 * right / max(1, n):>8.2f}%")
        if r["length_ok"] is not None:
            k = r["length_ok"]
            print(f"  {'digit count right':<18}{k:>4}/{r['n']:<5}{100.0 * k / max(1, r['n']):>8.2f}%"
                  "  (the rest: split or merged wrongly)")
        results[set_name] = {"n": r["n"], "right": r["right"], "accuracy": round(acc, 2),
                             "groups": {g: {"n": n, "right": k}
                                        for g, (n, k) in r["groups"].items()}}
        all_failures += [(set_name,) + f for f in r["failures"]]

    for set_name in SETS:
        fs = [f for f in all_failures if f[0] == set_name][:args.show]
        if fs:
            print(f"\nsome {set_name} failures (file, want, got, confidence):")
            for _, name, label, got, conf in fs:
                conf_s = f"{conf:.3f}" if isinstance(conf, (int, float)) else "-"
                print(f"  {name:<28} {label:<12} {got:<14} {conf_s}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    if args.sheet:
        per_set = [[f for f in all_failures if f[0] == s][:16] for s in SETS]
        sheet_write(args.sheet, args.sets, [f for fs in per_set for f in fs])
        print(f"\nfailures contact sheet: {args.sheet}")
    if failed:
        print(f"\nrealistic: FAIL: below floor: {', '.join(failed)}")
        return 1
    print("\nrealistic: " + ("all sets at or above their floors" if floors
                            else "no floors checked (report only)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
