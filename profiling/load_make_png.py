"""Writes a 28x28 greyscale PNG of a handwritten-looking 7 (dark ink on light paper) for the
HTTP load scripts, using only the standard library (zlib + struct), so any python3 runs it.
Usage: python3 profiling/load_make_png.py OUT.png   (used by load_wrk.sh and load_compare.sh)"""
import struct
import sys
import zlib

W = H = 28


def draw_seven():
    img = [[235] * W for _ in range(H)]

    def dot(cx, cy, r=1.6):
        for y in range(H):
            for x in range(W):
                d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
                if d < r + 0.5:
                    v = 30 if d < r - 0.5 else int(30 + (d - r + 0.5) * 205)
                    img[y][x] = min(img[y][x], v)

    def line(x0, y0, x1, y1):
        n = int(max(abs(x1 - x0), abs(y1 - y0)) * 3) + 1
        for i in range(n + 1):
            t = i / n
            dot(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)

    line(7, 6, 21, 6)
    line(21, 6, 12, 23)
    return img


def png(img):
    raw = b"".join(b"\x00" + bytes(row) for row in img)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "wb") as f:
        f.write(png(draw_seven()))
