"""Generates the realistic test sets (photos of ink on paper, canvas exports, rows of digits level,
tilted, underlined, boxed and of mixed sizes, photos on ruled and squared paper, photos of a note
on a desk, photos under a flash's glare, in dim light and of a folded note) from the MNIST *test*
digits only, deterministically (fixed seed), each with a labels.csv (file,label).
Run by tests/realistic/run.sh; usage: /usr/bin/python3 make_sets.py OUT_DIR (needs SCRAWL_DATA)."""
import argparse
import math
import os
import struct
import sys
import time

import numpy as np
from PIL import Image, ImageFilter

SEED = 20240605
SET_IDS = {"photos": 1, "canvas": 2, "numbers": 3, "mnist": 4, "lined": 5, "tilted": 6, "desk": 7,
           "underlined": 8, "boxed": 9, "glare": 10, "dim": 11, "fold": 12, "mixed": 13}


# ---- MNIST ----

def idx_read(path, magic):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        sys.exit(f"make_sets: cannot read {path} ({e.strerror}); run scripts/fetch_mnist.sh")
    got, n = struct.unpack(">II", data[:8])
    if got != magic:
        sys.exit(f"make_sets: {path}: bad IDX magic {got:#x} (want {magic:#x}); "
                 "run scripts/fetch_mnist.sh")
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, n * rows * cols, 16).reshape(n, rows, cols)
    return np.frombuffer(data, np.uint8, n, 8)


def mnist_test(data_dir):
    images = idx_read(os.path.join(data_dir, "t10k-images-idx3-ubyte"), 2051)
    labels = idx_read(os.path.join(data_dir, "t10k-labels-idx1-ubyte"), 2049)
    if len(images) != len(labels):
        sys.exit("make_sets: image and label counts differ")
    return images, labels


# ---- shared helpers ----

def rng_for(set_name, i):
    # One generator per item: items do not depend on each other, so a change to one set or a
    # different count leaves the other items as they were.
    return np.random.default_rng([SEED, SET_IDS[set_name], i])


def log_uniform(rng, lo, hi):
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def resize_f(a, w, h):
    """Float array resized with bicubic (upscale) or antialiased bicubic (downscale)."""
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize(
        (max(1, int(w)), max(1, int(h))), Image.BICUBIC), np.float32)


def rotate_f(a, degrees, expand=True):
    """An alpha in [0, 1] rotated (bicubic; its overshoot clipped)."""
    return np.clip(np.asarray(Image.fromarray(a.astype(np.float32), "F").rotate(
        degrees, resample=Image.BICUBIC, expand=expand, fillcolor=0.0), np.float32), 0.0, 1.0)


def smooth_noise(rng, h, w, cells):
    """Low-frequency noise in about [-1, 1]: a coarse random grid upsampled smoothly."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    g = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return np.clip(resize_f(g, w, h), -1.2, 1.2)


def ink_crop(a, thresh=0.05):
    ys, xs = np.nonzero(a > thresh)
    if len(ys) == 0:
        return a
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def grey_dilate(v, r):
    """Grey dilation by an octagon of radius r pixels (3x3 squares alternating with crosses):
    a round brush tip, at a cost linear in r."""
    for i in range(int(round(r))):
        p = np.pad(v, 1)
        m = np.maximum(np.maximum(p[:-2, 1:-1], p[2:, 1:-1]), np.maximum(p[1:-1, :-2], p[1:-1, 2:]))
        if i % 2 == 0:
            m = np.maximum(m, np.maximum(np.maximum(p[:-2, :-2], p[:-2, 2:]),
                                         np.maximum(p[2:, :-2], p[2:, 2:])))
        v = np.maximum(v, m)
    return v


def runs_min(lab, fg):
    """Each horizontal run of foreground takes the smallest label in it."""
    prev = np.zeros_like(fg)
    prev[:, 1:] = fg[:, :-1]
    f = fg.ravel()
    idx = np.flatnonzero(f)
    firsts = np.flatnonzero((fg & ~prev).ravel()[idx])
    mins = np.minimum.reduceat(lab.ravel()[idx], firsts)
    out = lab.copy()
    out.ravel()[idx] = np.repeat(mins, np.diff(np.append(firsts, len(idx))))
    return out


def label_pieces(mask, diagonal):
    """Connected pieces of a small boolean image: each pixel gets the smallest flat index in its
    piece, by minima along row and column runs, between neighbours, and pointer jumping (a few
    numpy passes, no scipy)."""
    H, W = mask.shape
    big = (H + 2) * (W + 2)
    fg = np.zeros((H + 2, W + 2), bool)
    fg[1:-1, 1:-1] = mask
    if not fg.any():
        return np.full(mask.shape, big)
    lab = np.where(fg, np.arange(big).reshape(H + 2, W + 2), big)
    shifts = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if diagonal:
        shifts += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    flat_fg = fg.ravel()
    while True:
        m = runs_min(lab, fg)
        m = runs_min(m.T, fg.T).T
        src = m.copy()  # read neighbours from a copy: background must not pass labels on
        inner = m[1:-1, 1:-1]
        for dy, dx in shifts:
            np.minimum(inner, src[1 + dy:H + 1 + dy, 1 + dx:W + 1 + dx], out=inner)
        m[~fg] = big
        flat = np.append(m.ravel(), big)
        for _ in range(2):  # pointer jumping: a label points at a pixel with a smaller label
            flat[:-1][flat_fg] = flat[flat[:-1][flat_fg]]
        m = flat[:-1].reshape(H + 2, W + 2)
        if (m == lab).all():
            return lab[1:-1, 1:-1]
        lab = m


def hole_area(mask):
    """Background pixels that the border cannot reach (4-connected): the inside of loops."""
    bg = np.pad(~mask, 1, constant_values=True)  # a ring of background joins the outside
    lab = label_pieces(bg, diagonal=False)
    return int((bg & (lab != lab[0, 0])).sum())


def piece_count(mask, min_px):
    """8-connected pieces of at least min_px pixels."""
    lab = label_pieces(mask, diagonal=True)
    _, counts = np.unique(lab[mask], return_counts=True)
    return int((counts >= min_px).sum())


def digit_ink(d, scale, rng, thr=None, edge_px=None, dilate=0.0):
    """MNIST digit (uint8 white on black) scaled by `scale` into a pen stroke alpha in [0, 1]:
    smooth bicubic upscale, grey dilation for a wider brush, then a soft threshold that sets the
    pen's weight (`thr`) and the width of its anti-aliased edge in output pixels (`edge_px`).
    A pen that would break the digit apart or close its loops (a person sees that and writes
    bigger) is moved back toward MNIST's own pen."""
    if thr is None:
        thr = rng.uniform(0.3, 0.7)
    if edge_px is None:
        edge_px = rng.uniform(1.2, 3.0)
    h, w = d.shape
    d01 = d.astype(np.float32) / 255.0

    def level(sc, t, r):
        """The ink level before the threshold t, at scale sc, for a brush grown by r (at scale)."""
        v = resize_f(d01, round(w * sc), round(h * sc))
        r_sc = r * sc / scale
        return grey_dilate(v, r_sc) if r_sc >= 1 else v

    # The shape is judged at 42-70 px, where the mask (ink > 0.5 after the soft threshold, i.e.
    # level > t) looks as it does at full size. A finer pen can only break strokes: pieces are
    # compared with MNIST's pen. A bolder one can only close loops: loops are compared with a
    # slightly finer pen, because a small loop that MNIST's pen barely keeps open would be drawn
    # larger by a person with a thick brush, not filled in.
    sc = float(np.clip(scale, 1.5, 2.5))
    plain = 0.45
    if thr > plain and dilate < 1:
        speck = int(sc * sc)  # about one MNIST pixel
        ref_pieces = piece_count(level(sc, plain, 0) > plain, speck)
        while thr > plain + 0.02 and piece_count(level(sc, thr, 0) > thr, speck) > ref_pieces:
            thr = (thr + plain) / 2
    else:
        ref_holes = hole_area(level(sc, 0.55, 0) > 0.55)
        for _ in range(3):
            if hole_area(level(sc, thr, dilate) > thr) >= 0.7 * ref_holes:
                break
            thr, dilate = (thr + plain) / 2, dilate / 2
        else:
            thr, dilate = plain, 0.0

    # v rises by about 1 per source pixel across an edge, i.e. 1/scale per output pixel.
    soft = float(np.clip(edge_px / max(scale, 1.0), 0.04, 0.6))
    return np.clip((level(scale, thr, dilate) - (thr - soft / 2)) / soft, 0.0, 1.0)


def place(canvas, patch, x, y):
    """Max-composites `patch` into `canvas` at integer (x, y), clipped to the canvas."""
    h, w = patch.shape
    H, W = canvas.shape
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        return
    sub = canvas[y0:y1, x0:x1]
    np.maximum(sub, patch[y0 - y:y1 - y, x0 - x:x1 - x], out=sub)


# ---- looks ----

PAPERS = [  # relative RGB tints of paper under the light
    (1.00, 1.00, 1.00), (1.00, 0.97, 0.88), (0.93, 0.96, 1.00), (1.00, 0.94, 0.93),
    (0.94, 1.00, 0.93), (0.97, 0.95, 0.90), (1.00, 0.96, 0.62),  # last: a sticky note
]
INKS = [  # dark pens: black, blue ballpoint, navy, red, green, brown, pencil grey
    (25, 25, 30), (35, 50, 140), (20, 30, 80), (150, 30, 35), (25, 90, 45), (80, 50, 30),
    (85, 85, 90),
]
INK_WEIGHTS = [0.3, 0.25, 0.12, 0.08, 0.08, 0.07, 0.10]

CANVAS_COLOURS = [  # brush colours a drawing app offers, all visible on white
    (0, 0, 0), (30, 30, 30), (0, 0, 255), (25, 80, 200), (220, 20, 30), (0, 140, 60),
    (130, 40, 180), (230, 110, 0), (0, 130, 140), (200, 0, 130), (90, 60, 40), (60, 60, 160),
]


def jitter_colour(rng, c, amount):
    return np.clip(np.array(c, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


LINE_COLOURS = [  # printed rules: light blue, grey, pale green
    (120, 160, 225), (140, 140, 140), (140, 190, 150)]


def lines_alpha(rng, H, W, squared):
    """Printed rules of ruled (or squared) paper as alpha (H, W): lines 0.18-0.35 of the short
    side apart (three or more in view), 1-4 px wide, turned up to 8 degrees with the page."""
    S = min(H, W)
    step = rng.uniform(0.18, 0.35) * S
    width = max(1.2, rng.uniform(0.8, 2.0) * S / 150)
    turn = math.radians(rng.uniform(-8, 8))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    alpha = np.zeros((H, W), np.float32)
    axes = [(yy * math.cos(turn) - xx * math.sin(turn), rng.uniform(0, step))]
    if squared:
        axes.append((xx * math.cos(turn) + yy * math.sin(turn), rng.uniform(0, step)))
    for coord, offset in axes:
        dist = np.abs(((coord - offset) % step + step / 2) % step - step / 2)
        alpha = np.maximum(alpha, np.clip(width / 2 + 0.5 - dist, 0, 1))
    return alpha * rng.uniform(0.75, 1.0)


def photo_render(alpha, rng, digit_h, lines=None):
    """Ink alpha (H, W) -> RGB PIL image that looks like a phone photo of a pen on paper:
    tinted, textured paper (ruled or squared when `lines` says so); a light gradient, vignette
    and sometimes a cast shadow; uneven ink; defocus blur and sensor noise."""
    H, W = alpha.shape
    S = max(H, W)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    yy /= S
    xx /= S

    # Paper: brightness, tint, fibre and blotch texture.
    bright = rng.uniform(170, 250)
    tint = np.array(PAPERS[rng.integers(len(PAPERS))], np.float32) + rng.uniform(-0.03, 0.03, 3)
    paper = np.empty((H, W, 3), np.float32)
    paper[:] = bright * np.clip(tint, 0, 1.05)
    texture = 1 + rng.uniform(0, 0.05) * smooth_noise(rng, H, W, rng.uniform(3, 12))
    paper *= texture[..., None]
    if lines:
        rule = lines_alpha(rng, H, W, lines == "squared")[..., None]
        colour = jitter_colour(rng, LINE_COLOURS[rng.integers(len(LINE_COLOURS))], 15)
        paper = paper * (1 - rule) + colour * (bright / 255) * rule

    # Ink: a dark colour, pressure varying along the strokes.
    ink = jitter_colour(rng, INKS[rng.choice(len(INKS), p=INK_WEIGHTS)], 18)
    opacity = rng.uniform(0.8, 1.0)
    pressure = 1 - rng.uniform(0, 0.3) * (0.5 + 0.5 * smooth_noise(rng, H, W, rng.uniform(4, 10)))
    a = (alpha * opacity * pressure)[..., None]
    img = paper * (1 - a) + ink * a

    # Light: a linear gradient, a vignette, and sometimes a soft-edged shadow.
    theta = rng.uniform(0, 2 * math.pi)
    proj = xx * math.cos(theta) + yy * math.sin(theta)
    proj = (proj - proj.min()) / max(1e-6, float(proj.max() - proj.min()))
    light = 1 - rng.uniform(0, 0.35) * proj
    cx, cy = rng.uniform(0.2, 0.8) * W / S, rng.uniform(0.2, 0.8) * H / S
    light *= 1 - rng.uniform(0, 0.3) * ((xx - cx) ** 2 + (yy - cy) ** 2) * 2
    if rng.random() < 0.45:
        phi = rng.uniform(0, 2 * math.pi)
        d = xx * math.cos(phi) + yy * math.sin(phi)
        cut = rng.uniform(float(d.min()), float(d.min()) + 0.6 * float(d.max() - d.min()))
        soft = rng.uniform(0.02, 0.15)
        light *= 1 - rng.uniform(0.2, 0.5) / (1 + np.exp(np.clip((d - cut) / soft, -30, 30)))
    img *= np.clip(light, 0.2, 1.1)[..., None]

    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    blur = rng.uniform(0, 0.5 + digit_h / 150)  # defocus scales with the digits, not the frame
    if blur > 0.3:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    arr = np.asarray(out, np.float32)
    sigma = rng.uniform(1, 8)
    noise = rng.normal(0, sigma, (H, W, 1)) * 0.7 + rng.normal(0, sigma * 0.5, (H, W, 3))
    arr = np.clip(arr + noise, 0, 255).astype(np.uint8)
    out = Image.fromarray(arr, "RGB")
    if rng.random() < 0.1:
        out = out.convert("L")
    return out


def jpeg_save(img, path, rng):
    img.save(path, "JPEG", quality=int(rng.integers(60, 96)),
             subsampling=int(rng.choice([0, 2])))


def canvas_render(alpha, rng, style):
    """Ink alpha (H, W) -> what a browser canvas exports. style "transparent": RGBA, strokes of
    one colour on a fully transparent background; style "dark": white strokes on black."""
    H, W = alpha.shape
    if style == "transparent":
        colour = jitter_colour(rng, CANVAS_COLOURS[rng.integers(len(CANVAS_COLOURS))], 10)
        rgba = np.empty((H, W, 4), np.uint8)
        # Canvas stores transparent pixels as (0,0,0,0); some apps clear to white first.
        bg = 255 if rng.random() < 0.25 else 0
        on = alpha > 0
        rgba[..., :3] = bg
        rgba[on, :3] = colour.astype(np.uint8)
        rgba[..., 3] = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA")
    fg = rng.uniform(215, 255)
    bg = rng.uniform(0, 25)
    grey = np.clip(bg + (fg - bg) * alpha + 0.5, 0, 255).astype(np.uint8)
    r = rng.random()
    if r < 0.4:
        return Image.fromarray(grey, "L")
    if r < 0.8:
        return Image.fromarray(np.stack([grey] * 3, -1), "RGB")
    return Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)]), "RGBA")


# ---- the sets ----

def make_photo(d, rng, lines=None):
    """One digit photographed: 48-600 px, digit 35-70 % of the short side, off-centre, rotated;
    on ruled or squared paper when `lines` is "ruled" or "squared"."""
    S = log_uniform(rng, 48, 600)
    aspect = rng.uniform(0.75, 1.33)
    W, H = int(round(S * min(1, aspect))), int(round(S * min(1, 1 / aspect)))
    ink_h = rng.uniform(0.35, 0.7) * min(W, H)  # ink height; MNIST ink is about 20 of 28 px
    patch = digit_ink(d, ink_h / 20.0, rng)
    patch = ink_crop(rotate_f(patch, rng.uniform(-12, 12)))
    ph, pw = patch.shape
    if pw > 0.9 * W or ph > 0.9 * H:  # a wide digit after rotation: shrink to keep margins
        f = min(0.9 * W / pw, 0.9 * H / ph)
        patch = np.clip(resize_f(patch, pw * f, ph * f), 0, 1)
        ph, pw = patch.shape
    x = int(rng.uniform(0.04 * W, max(0.04 * W, W - pw - 0.04 * W) + 1e-6))
    y = int(rng.uniform(0.04 * H, max(0.04 * H, H - ph - 0.04 * H) + 1e-6))
    alpha = np.zeros((H, W), np.float32)
    place(alpha, patch, x, y)
    return photo_render(alpha, rng, ink_h, lines)


DESKS = [  # RGB of what a sheet lies on: wood, dark wood, grey laminate, green mat, fabric
    (120, 85, 50), (70, 45, 30), (95, 95, 100), (40, 80, 55), (85, 40, 55),
]


def make_desk(d, rng, cut):
    """A photo of a note (make_photo's paper) lying on a desk, turned up to 10 degrees: the sheet
    fills 45-75% of the frame. With `cut`, it runs off one side of the photo."""
    sheet = make_photo(d, rng).convert("RGB")
    angle = rng.uniform(-10, 10)
    mask = Image.new("L", sheet.size, 255).rotate(angle, resample=Image.BILINEAR, expand=True)
    sheet = sheet.rotate(angle, resample=Image.BICUBIC, expand=True)
    sw, sh = sheet.size
    f = rng.uniform(1.15, 1.5)
    W, H = int(sw * f), int(sh * f)
    base = jitter_colour(rng, DESKS[rng.integers(len(DESKS))], 20) * rng.uniform(0.6, 1.1)
    grain = 1 + rng.uniform(0.05, 0.2) * smooth_noise(rng, H, W, rng.uniform(8, 30))
    desk = np.clip(base[None, None, :] * grain[..., None] + rng.normal(0, 4, (H, W, 1)), 0, 255)
    out = Image.fromarray(desk.astype(np.uint8), "RGB")
    x = int(rng.uniform(0.25, 0.75) * (W - sw))
    y = int(rng.uniform(0.25, 0.75) * (H - sh))
    if cut:  # pushed off one side by 5-20% of the sheet
        side = int(rng.integers(4))
        push = rng.uniform(0.05, 0.2)
        if side == 0:
            x = -int(push * sw)
        elif side == 1:
            x = W - sw + int(push * sw)
        elif side == 2:
            y = -int(push * sh)
        else:
            y = H - sh + int(push * sh)
    out.paste(sheet, (x, y), mask)
    return out


def make_glare(d, rng):
    """A photo (make_photo's) taken with a flash: a soft elliptical spot of light, 50-90% of the
    way to white at its centre, over a random part of the page (it may cover the digit, touch it
    or miss it), then the sensor's noise again and JPEG."""
    img = np.asarray(make_photo(d, rng).convert("RGB"), np.float32)
    H, W = img.shape[:2]
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H
    rx, ry = rng.uniform(0.15, 0.45) * W, rng.uniform(0.15, 0.45) * H
    turn = rng.uniform(0, math.pi)
    u = ((xx - cx) * math.cos(turn) + (yy - cy) * math.sin(turn)) / rx
    v = (-(xx - cx) * math.sin(turn) + (yy - cy) * math.cos(turn)) / ry
    glare = rng.uniform(0.5, 0.9) * np.exp(-1.5 * (u * u + v * v))
    img = img + glare[..., None] * (255 - img) + rng.normal(0, rng.uniform(1, 3), (H, W, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def make_dim(d, rng):
    """A photo (make_photo's) taken in dim light: a fifth to two fifths of the exposure, and the
    sensor noise that comes with it (sigma 3-8 grey levels, some of it in colour)."""
    img = np.asarray(make_photo(d, rng).convert("RGB"), np.float32) * rng.uniform(0.2, 0.4)
    H, W = img.shape[:2]
    sigma = rng.uniform(3, 8)
    img = img + rng.normal(0, sigma, (H, W, 1)) * 0.8 + rng.normal(0, sigma * 0.4, (H, W, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def make_canvas(d, rng, style):
    """One digit drawn on a 280-400 px browser canvas with a thick brush."""
    S = int(rng.uniform(280, 400))
    W, H = (S, S) if rng.random() < 0.8 else (S, int(S * rng.uniform(0.6, 0.9)))
    ink_h = rng.uniform(0.45, 0.85) * H
    scale = ink_h / 20.0
    # Brush 14-40 px wide, but at most a fifth of the digit's height: with a wide brush people
    # draw bigger, or the digit becomes a blob they would redraw. MNIST's pen is about 2.5 px of
    # 20, i.e. 0.12 of the digit height; the rest is grey dilation.
    want = min(rng.uniform(14, 40), 0.2 * ink_h)
    dilate = max(0.0, (want - 0.12 * ink_h) / 2)
    patch = digit_ink(d, scale, rng, thr=rng.uniform(0.3, 0.45), edge_px=rng.uniform(0.8, 1.6),
                      dilate=dilate)
    patch = ink_crop(rotate_f(patch, rng.uniform(-6, 6)))
    ph, pw = patch.shape
    if pw > 0.94 * W or ph > 0.94 * H:
        f = min(0.94 * W / pw, 0.94 * H / ph)
        patch = np.clip(resize_f(patch, pw * f, ph * f), 0, 1)
        ph, pw = patch.shape
    x = int(rng.uniform(0.03 * W, max(0.03 * W, W - pw - 0.03 * W) + 1e-6))
    y = int(rng.uniform(0.03 * H, max(0.03 * H, H - ph - 0.03 * H) + 1e-6))
    alpha = np.zeros((H, W), np.float32)
    place(alpha, patch, x, y)
    return canvas_render(alpha, rng, style)


def underline_draw(alpha, rng, h):
    """A pen line under the row, in place: 0.06-0.12 h thick, from a little before the first ink
    to a little after the last, sloping up to 2%, from 0.15 h below the lowest foot to slightly
    through it."""
    on = alpha > 0.5
    ys, xs = np.nonzero(on.any(1))[0], np.nonzero(on.any(0))[0]
    t = rng.uniform(0.06, 0.12) * h
    y0 = ys.max() + rng.uniform(-0.02, 0.15) * h + t / 2
    x0 = max(0, int(xs.min() - rng.uniform(0, 0.2) * h))
    x1 = min(alpha.shape[1], int(xs.max() + rng.uniform(0, 0.2) * h))
    slope = rng.uniform(-0.02, 0.02)
    yy = np.arange(alpha.shape[0], dtype=np.float32)[:, None]
    xx = np.arange(x0, x1, dtype=np.float32)[None, :]
    centre = y0 + slope * (xx - x0)
    line = np.clip(t / 2 + 0.7 - np.abs(yy - centre), 0, 1)  # soft edges about a pixel wide
    alpha[:, x0:x1] = np.maximum(alpha[:, x0:x1], line)


def box_draw(alpha, rng, h):
    """A pen box around the row, clear of it by 0.15-0.4 h, 0.05-0.1 h thick: returns alpha grown
    by 0.6 h on every side to hold it."""
    pad = int(0.6 * h) + 4
    alpha = np.pad(alpha, pad)
    on = alpha > 0.5
    ys, xs = np.nonzero(on.any(1))[0], np.nonzero(on.any(0))[0]
    t = max(1.5, rng.uniform(0.05, 0.1) * h)
    y0, y1 = ys.min() - rng.uniform(0.15, 0.4) * h, ys.max() + rng.uniform(0.15, 0.4) * h
    x0, x1 = xs.min() - rng.uniform(0.15, 0.4) * h, xs.max() + rng.uniform(0.15, 0.4) * h
    yy = np.arange(alpha.shape[0], dtype=np.float32)[:, None]
    xx = np.arange(alpha.shape[1], dtype=np.float32)[None, :]
    # Distance outside the inner rectangle and inside the outer one, as a soft band.
    inner = np.maximum(np.maximum(y0 + t / 2 - yy, yy - (y1 - t / 2)),
                       np.maximum(x0 + t / 2 - xx, xx - (x1 - t / 2)))
    outer = np.maximum(np.maximum(y0 - t / 2 - yy, yy - (y1 + t / 2)),
                       np.maximum(x0 - t / 2 - xx, xx - (x1 + t / 2)))
    band = np.clip(np.minimum(inner + 0.5, 0.5 - outer), 0, 1)
    return np.maximum(alpha, band.astype(np.float32))


def make_number(digits, rng, touching, tilt=None, underline=False, boxed=False, sizes=0.15):
    """A row of digits: common height 24-110 px with per-digit size (within `sizes` either way)
    and baseline jitter, gaps measured ink to ink (so 0 means the strokes just touch, below 0
    they cross slightly). The
    row is turned up to 4 degrees, or by `tilt` degrees (a number photographed askew, or drawn
    uphill on a canvas). With `underline`, a pen line is drawn under it (an amount); with
    `boxed`, a pen box around it (an amount box)."""
    h = log_uniform(rng, 24, 110)
    thr, edge_px = rng.uniform(0.3, 0.6), rng.uniform(1.2, 3.0)
    canvas_style = rng.random() < 0.15
    dilate = rng.uniform(0, 0.04 * h) if canvas_style else 0  # brush up to 0.2 h, as canvas
    patches = []
    for d in digits:
        s = h / 20.0 * rng.uniform(1 - sizes, 1 + sizes)
        p = ink_crop(digit_ink(d, s, rng, thr=thr, edge_px=edge_px, dilate=dilate))
        p = ink_crop(rotate_f(p, rng.uniform(-5, 5)))
        patches.append(p)
    n = len(patches)
    touch = np.zeros(n, bool)  # touch[i]: digit i touches digit i-1
    if touching:
        touch[1:] = rng.random(n - 1) < 0.35
        if not touch[1:].any():
            touch[rng.integers(1, n)] = True

    top_pad = int(rng.uniform(0.3, 1.2) * h) + 4
    row_h = int(max(p.shape[0] for p in patches) + 0.3 * h) + 2 * top_pad
    base = top_pad + int(1.1 * h)  # baseline
    env = np.full(row_h, -1e9, np.float32)  # rightmost ink x per canvas row so far
    placed = []
    x_end = 0.0
    for i, p in enumerate(patches):
        ph, pw = p.shape
        y = int(base - ph + rng.normal(0, 0.05 * h))
        y = int(np.clip(y, 2, row_h - ph - 2))
        on = p > 0.5
        rows = np.nonzero(on.any(1))[0]
        if i == 0:
            x = int(rng.uniform(0.3, 1.0) * h) + 4
        else:
            # Gaps are measured where the ink reaches half strength; soft edges and blur
            # spread each side by about edge_px, so a clear gap needs more than 2 * edge_px.
            gap = (-rng.uniform(0, 0.04) * h if touch[i]
                   else max(2 * edge_px + 2,
                            h * rng.choice([rng.uniform(0.08, 0.2), rng.uniform(0.2, 0.6)])))
            left = np.argmax(on[rows], axis=1).astype(np.float32)  # leftmost ink per row
            prev = env[y + rows]
            if (prev > -1e8).any():
                x = int(math.ceil(float(np.max(prev - left)) + 1 + gap))
            else:
                x = int(math.ceil(x_end + gap))
            x = max(x, int(x_end - 0.25 * h))  # no deep tuck under an overhanging stroke
        right = (pw - 1 - np.argmax(on[rows, ::-1], axis=1)).astype(np.float32)
        np.maximum.at(env, y + rows, x + right)
        placed.append((p, x, y))
        x_end = max(x_end, x + pw)
    W = int(x_end + rng.uniform(0.3, 1.0) * h) + 4
    alpha = np.zeros((row_h, W), np.float32)
    for p, x, y in placed:
        place(alpha, p, x, y)
    if underline:
        underline_draw(alpha, rng, h)
    if boxed:
        alpha = box_draw(alpha, rng, h)
    if canvas_style:
        if tilt is not None:
            alpha = rotate_f(alpha, tilt, expand=True)
        return canvas_render(alpha, rng, "transparent" if rng.random() < 0.5 else "dark"), "png"
    alpha = rotate_f(alpha, rng.uniform(-4, 4) if tilt is None else tilt, expand=True)
    return photo_render(alpha, rng, h), "jpg"


def write_labels(folder, rows):
    tmp = os.path.join(folder, "labels.csv.tmp")
    with open(tmp, "w") as f:
        f.write("file,label\n")
        for name, label in rows:
            f.write(f"{name},{label}\n")
    os.replace(tmp, os.path.join(folder, "labels.csv"))


def make_fold(d, rng):
    """A photo (make_photo's) of a note that was folded: a straight crease across the whole page
    at any angle and place, 15-35% darker along a line about 0.4% of the photo wide, the paper on
    one side of it 8-20% darker (turned a little from the light), then noise again and JPEG."""
    img = np.asarray(make_photo(d, rng).convert("RGB"), np.float32)
    H, W = img.shape[:2]
    S = max(H, W)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    phi = rng.uniform(0, math.pi)
    dist = xx * math.cos(phi) + yy * math.sin(phi)
    cut = rng.uniform(np.percentile(dist, 25), np.percentile(dist, 75))
    side = np.where(dist > cut, rng.uniform(0.8, 0.92), 1.0)
    crease = 1 - rng.uniform(0.15, 0.35) * np.exp(-((dist - cut) / max(1.0, 0.004 * S)) ** 2)
    img = img * (side * crease)[..., None] + rng.normal(0, rng.uniform(1, 3), (H, W, 1))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def photo_set(out, name, prefix, idx, images, labels, make):
    """One JPEG per digit of idx into out/name, PREFIX_NNNN[suffix].jpg: make(d, rng, i) ->
    (image, suffix), with the item's own generator (which then also draws the JPEG settings)."""
    rows = []
    for i, k in enumerate(idx):
        rng = rng_for(name, i)
        img, suffix = make(images[k], rng, i)
        fn = f"{prefix}_{i:04d}{suffix}.jpg"
        jpeg_save(img, os.path.join(out, name, fn), rng)
        rows.append((fn, int(labels[k])))
    write_labels(os.path.join(out, name), rows)


def number_set(out, name, prefix, count, pool, pos, images, labels, min_digits=2, extra=None):
    """Rows of min_digits-10 digits taken in turn from pool (from pos), every third touching,
    written to out/name as prefix_NNNN[_touching].jpg|png with their labels. extra(rng) gives
    more arguments for make_number (drawn after the row's length and digits)."""
    rows = []
    for i in range(count):
        rng = rng_for(name, i)
        n = int(rng.integers(min_digits, 11))
        ks = pool[np.arange(pos, pos + n) % len(pool)]
        pos += n
        touching = i % 3 == 0  # a third of the rows have touching digits
        kwargs = extra(rng) if extra else {}
        label = "".join(str(int(labels[k])) for k in ks)
        img, ext = make_number([images[k] for k in ks], rng, touching, **kwargs)
        fn = f"{prefix}_{i:04d}{'_touching' if touching else ''}.{ext}"
        path = os.path.join(out, name, fn)
        if ext == "jpg":
            jpeg_save(img, path, rng)
        else:
            img.save(path, compress_level=6)
        rows.append((fn, label))
    write_labels(os.path.join(out, name), rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", help="output folder (photos/, canvas/, numbers/, mnist/ go inside)")
    ap.add_argument("--photos", type=int, default=1000)
    ap.add_argument("--canvas", type=int, default=1000)
    ap.add_argument("--numbers", type=int, default=300)
    ap.add_argument("--lined", type=int, default=400,
                    help="photos on ruled and squared paper (half each)")
    ap.add_argument("--tilted", type=int, default=150,
                    help="rows of digits turned 6-15 degrees either way")
    ap.add_argument("--underlined", type=int, default=120,
                    help="rows of 3-10 digits with a pen line under them")
    ap.add_argument("--boxed", type=int, default=120,
                    help="rows of 2-10 digits with a pen box around them")
    ap.add_argument("--mixed", type=int, default=150,
                    help="rows of 2-10 digits of mixed sizes (0.65-1.35 of the row's)")
    ap.add_argument("--desk", type=int, default=300,
                    help="photos of a note on a desk (a fifth running off the photo)")
    ap.add_argument("--glare", type=int, default=300, help="photos under a flash's glare")
    ap.add_argument("--dim", type=int, default=300, help="photos in dim light")
    ap.add_argument("--fold", type=int, default=300, help="photos of a folded note")
    ap.add_argument("--data", default=os.environ.get("SCRAWL_DATA"),
                    help="MNIST folder (default: $SCRAWL_DATA)")
    args = ap.parse_args()
    if not args.data:
        sys.exit("make_sets: set SCRAWL_DATA (run scripts/fetch_mnist.sh) or pass --data")
    images, labels = mnist_test(args.data)
    t0 = time.time()

    # Disjoint slices of one fixed permutation of the test set, one per set.
    order = np.random.default_rng(SEED).permutation(len(images))
    photo_idx = order[:args.photos]
    canvas_idx = order[args.photos:args.photos + args.canvas]
    number_pool = order[args.photos + args.canvas:]
    lined_idx = order[::-1][:args.lined]  # from the far end: numbers take the pool's start
    tilted_pool = number_pool[len(number_pool) // 2:]  # past what the level numbers use
    desk_idx = order[::-1][args.lined:args.lined + args.desk]  # after lined's, from the far end
    glare_start = args.lined + args.desk
    glare_idx = order[::-1][glare_start:glare_start + args.glare]  # after desk's
    dim_start = glare_start + args.glare
    dim_idx = order[::-1][dim_start:dim_start + args.dim]  # after glare's
    fold_start = dim_start + args.dim
    fold_idx = order[::-1][fold_start:fold_start + args.fold]  # after dim's

    for name in SET_IDS:
        os.makedirs(os.path.join(args.out, name), exist_ok=True)

    photo_set(args.out, "photos", "photo", photo_idx, images, labels,
              lambda d, rng, i: (make_photo(d, rng), ""))

    # The photos' digits as they are in MNIST: a reference that tells the model's own errors
    # from what the photo look costs.
    rows = []
    for i, k in enumerate(photo_idx):
        fn = f"mnist_{i:04d}.png"
        Image.fromarray(images[k], "L").save(os.path.join(args.out, "mnist", fn))
        rows.append((fn, int(labels[k])))
    write_labels(os.path.join(args.out, "mnist"), rows)

    rows = []
    for i, k in enumerate(canvas_idx):
        rng = rng_for("canvas", i)
        style = "transparent" if i % 2 == 0 else "dark"
        fn = f"canvas_{i:04d}_{style}.png"
        make_canvas(images[k], rng, style).save(os.path.join(args.out, "canvas", fn),
                                                 compress_level=6)
        rows.append((fn, int(labels[k])))
    write_labels(os.path.join(args.out, "canvas"), rows)

    number_set(args.out, "numbers", "number", args.numbers, number_pool, 0, images, labels)

    def lined_photo(d, rng, i):
        kind = "ruled" if i % 2 == 0 else "squared"
        return make_photo(d, rng, kind), "_" + kind

    photo_set(args.out, "lined", "lined", lined_idx, images, labels, lined_photo)

    number_set(args.out, "tilted", "tilted", args.tilted, tilted_pool, 0, images, labels,
               extra=lambda rng: {"tilt": float(rng.uniform(6, 15) * rng.choice([-1, 1]))})
    # The far half of the tilted rows' pool: unused there.
    number_set(args.out, "underlined", "underlined", args.underlined, tilted_pool,
               len(tilted_pool) // 2, images, labels, min_digits=3,
               extra=lambda rng: {"underline": True})
    # From the middle of the level rows' pool, past what they use.
    number_set(args.out, "boxed", "boxed", args.boxed, number_pool, len(number_pool) // 4,
               images, labels, extra=lambda rng: {"boxed": True})
    # Between the boxed rows' digits and the tilted rows' pool.
    number_set(args.out, "mixed", "mixed", args.mixed, number_pool, 3 * len(number_pool) // 8,
               images, labels, extra=lambda rng: {"sizes": 0.35})

    def desk_photo(d, rng, i):
        cut = i % 5 == 4  # a fifth run off the photo
        return make_desk(d, rng, cut), "_cut" if cut else "_whole"

    photo_set(args.out, "desk", "desk", desk_idx, images, labels, desk_photo)
    photo_set(args.out, "glare", "glare", glare_idx, images, labels,
              lambda d, rng, i: (make_glare(d, rng), ""))
    photo_set(args.out, "dim", "dim", dim_idx, images, labels,
              lambda d, rng, i: (make_dim(d, rng), ""))
    photo_set(args.out, "fold", "fold", fold_idx, images, labels,
              lambda d, rng, i: (make_fold(d, rng), ""))

    print(f"make_sets: {args.photos} photos (and as plain MNIST), {args.canvas} canvas, "
          f"{args.numbers} numbers ({args.tilted} tilted, {args.underlined} underlined, "
          f"{args.boxed} boxed, {args.mixed} of mixed sizes), "
          f"{args.lined} on lined paper, "
          f"{args.desk} on a desk, {args.glare} under a glare, {args.dim} in dim light, "
          f"{args.fold} folded "
          f"in {time.time() - t0:.1f}s -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
