#!/usr/bin/env python3
"""Turn a terminal screen captured with `tmux capture-pane -e -p` into an
HTML page that looks like the terminal: a monospace grid on a dark
background, with the screen's colours and attributes (SGR sequences:
bold, dim, italic, underline, reverse, strike; 8, 16, 256 and 24-bit
colours). Python 3 standard library only.

    tmux capture-pane -e -p -t PANE | ansi2html.py --cols 120 --rows 36 > screen.html

With --size it prints only the page's size in CSS pixels, "WIDTHxHEIGHT";
with --crop PNG it cuts a browser's screenshot of the page (taken in a
taller window) to the page's height.
"""
import argparse
import html
import math
import re
import struct
import sys
import zlib

FONT_PX = 15
LINE_PX = 19              # line height; box-drawing glyphs stretch to fill it
CHAR_EM = 0.602           # DejaVu Sans Mono's advance width, in em
PAD_PX = 14

BG = "#16181d"
FG = "#d7dae0"
# The 16 ANSI colours, tuned for a dark background (normal, then bright).
PALETTE16 = ["#2e3440", "#e06c75", "#98c379", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d7dae0",
             "#5c6370", "#ff7b86", "#b5e890", "#ffd68a", "#82c4ff", "#e09cf5", "#7fd6e0", "#ffffff"]


def color256(n):
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return "#%02x%02x%02x" % (v, v, v)


class Style(object):
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "strike", "hidden")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = self.strike = self.hidden = False

    def key(self):
        return tuple(getattr(self, a) for a in self.__slots__)

    def apply(self, params):
        """Apply one SGR parameter list (already split on ';' or ':')."""
        i = 0
        while i < len(params):
            p = params[i]
            if p in (38, 48) and i + 1 < len(params):
                kind = params[i + 1]
                if kind == 5 and i + 2 < len(params):
                    c = color256(params[i + 2] % 256)
                    i += 3
                elif kind == 2 and i + 4 < len(params):
                    r, g, b = (max(0, min(255, v)) for v in params[i + 2:i + 5])
                    c = "#%02x%02x%02x" % (r, g, b)
                    i += 5
                else:
                    i += 2
                    continue
                if p == 38:
                    self.fg = c
                else:
                    self.bg = c
                continue
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 2:
                self.dim = True
            elif p == 3:
                self.italic = True
            elif p in (4, 21):
                self.underline = True
            elif p == 7:
                self.reverse = True
            elif p == 8:
                self.hidden = True
            elif p == 9:
                self.strike = True
            elif p == 22:
                self.bold = self.dim = False
            elif p == 23:
                self.italic = False
            elif p == 24:
                self.underline = False
            elif p == 27:
                self.reverse = False
            elif p == 28:
                self.hidden = False
            elif p == 29:
                self.strike = False
            elif 30 <= p <= 37:
                self.fg = PALETTE16[p - 30]
            elif p == 39:
                self.fg = None
            elif 40 <= p <= 47:
                self.bg = PALETTE16[p - 40]
            elif p == 49:
                self.bg = None
            elif 90 <= p <= 97:
                self.fg = PALETTE16[p - 90 + 8]
            elif 100 <= p <= 107:
                self.bg = PALETTE16[p - 100 + 8]
            i += 1

    def css(self):
        fg, bg = self.fg, self.bg
        if self.reverse:
            fg, bg = (bg or BG), (fg or FG)
        out = []
        if fg and fg != FG:
            out.append("color:%s" % fg)
        if bg and bg != BG:
            out.append("background:%s" % bg)
        if self.bold:
            out.append("font-weight:bold")
        if self.dim:
            out.append("opacity:.6")
        if self.italic:
            out.append("font-style:italic")
        deco = [d for d, on in (("underline", self.underline), ("line-through", self.strike)) if on]
        if deco:
            out.append("text-decoration:%s" % " ".join(deco))
        if self.hidden:
            out.append("visibility:hidden")
        return ";".join(out)


# CSI (with any parameters and intermediates), OSC (to BEL or ST), other ESC pairs.
_ESC = re.compile(r"\x1b\[([0-9;:?<=>]*)([ -/]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def parse(text):
    """[[(style css, text)]] per line, carrying SGR state across lines as tmux does."""
    style = Style()
    lines = []
    for raw in text.split("\n"):
        cells = []
        pos = 0
        for m in _ESC.finditer(raw):
            if m.start() > pos:
                cells.append((style.css(), raw[pos:m.start()]))
            pos = m.end()
            if m.group(3) == "m" and not m.group(2):
                params = [int(x) if x.isdigit() else 0 for x in re.split(r"[;:]", m.group(1) or "0")]
                style.apply(params or [0])
        if pos < len(raw):
            cells.append((style.css(), raw[pos:]))
        lines.append(cells)
    return lines


# Block elements drawn as boxes, not glyphs, so bars and charts have no gaps
# between lines: character -> (direction, filled fraction).
BLOCKS = {"\u2588": ("top", 1.0), "\u2580": ("bottom", 0.5), "\u2590": ("left", 0.5)}
for _i in range(1, 8):
    BLOCKS[chr(0x2580 + _i)] = ("top", _i / 8.0)            # lower one eighth .. seven eighths
    BLOCKS[chr(0x2590 - _i)] = ("right", _i / 8.0)          # left one eighth .. seven eighths
BLOCKS["\u2590"] = ("left", 0.5)                             # right half
BLOCKS["\u2594"] = ("bottom", 1 / 8.0)                       # upper one eighth
BLOCKS["\u2595"] = ("left", 1 / 8.0)                         # right one eighth


def colors_of(css):
    fg = re.search(r"(?:^|;)color:([^;]+)", css)
    bg = re.search(r"background:([^;]+)", css)
    return (fg.group(1) if fg else FG), (bg.group(1) if bg else BG)


def block_html(ch, css):
    direction, part = BLOCKS[ch]
    fg, bg = colors_of(css)
    p = "%.1f%%" % (part * 100)
    return ('<span class="blk" style="background:linear-gradient(to %s,%s 0 %s,%s %s 100%%)"> </span>'
            % (direction, fg, p, bg, p))


def span(css, s):
    """HTML for a run of text in one style, block elements drawn as boxes."""
    out = []
    for run in re.findall("[%s]+|[^%s]+" % ("".join(BLOCKS), "".join(BLOCKS)), s):
        if run[0] in BLOCKS:
            out.extend(block_html(c, css) for c in run)
        else:
            t = html.escape(run)
            out.append('<span style="%s">%s</span>' % (css, t) if css else t)
    return "".join(out)


def render(text, cols, rows, title):
    lines = parse(text)
    if lines and not lines[-1]:
        lines.pop()
    lines = lines[:rows] + [[] for _ in range(rows - len(lines[:rows]))]
    out = []
    for cells in lines:
        width = 0
        spans = []
        for css, s in cells:
            s = s[:max(0, cols - width)]
            width += len(s)
            if not s:
                continue
            spans.append(span(css, s))
        if width < cols:
            spans.append(" " * (cols - width))
        out.append("".join(spans))
    w, h = page_size(cols, rows)
    return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title>
<style>
html, body { margin: 0; background: %(bg)s; }
body { padding: %(pad)dpx; width: %(w)dpx; height: %(h)dpx; box-sizing: border-box; overflow: hidden; }
pre { margin: 0; color: %(fg)s; font-family: "DejaVu Sans Mono", "Liberation Mono", monospace;
      font-size: %(font)dpx; line-height: %(line)dpx; font-variant-ligatures: none; white-space: pre; }
.blk { display: inline-block; width: 1ch; height: %(line)dpx; vertical-align: top; }
</style></head>
<body><pre>%(body)s</pre></body></html>
""" % {"title": html.escape(title), "bg": BG, "fg": FG, "pad": PAD_PX, "font": FONT_PX, "line": LINE_PX,
       "w": w, "h": h, "body": "\n".join(out)}


def page_size(cols, rows):
    return (int(math.ceil(cols * FONT_PX * CHAR_EM)) + 2 * PAD_PX, rows * LINE_PX + 2 * PAD_PX)


def crop_png(path, height):
    """Keep the top `height` rows of a non-interlaced PNG, in place.

    Headless Chromium lays the page out in a viewport shorter than the window
    it captures (and paints little beyond it), so the window is made taller
    than the page and the picture cut to the page here. Cutting rows off the
    bottom needs no unfiltering: each row's filter looks only at rows above."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != PNG_SIGNATURE:
        raise ValueError("%s is not a PNG file" % path)
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    width, old_height, depth, ctype, comp, filt, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if interlace or height >= old_height:
        return
    stride = (width * {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype] * depth + 7) // 8
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    out = [PNG_SIGNATURE, png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, comp, filt, 0))]
    image_written = False
    for kind, body in chunks[1:]:
        if kind == b"IDAT":
            if not image_written:
                out.append(png_chunk(b"IDAT", zlib.compress(raw[:height * (stride + 1)], 9)))
                image_written = True
        elif kind != b"IEND":
            out.append(png_chunk(kind, body))
    out.append(png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(b"".join(out))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--title", default="pytop")
    ap.add_argument("--size", action="store_true", help="print WIDTHxHEIGHT of the page on stdout and exit")
    ap.add_argument("--crop", metavar="PNG", help="cut PNG (a screenshot of the page) to the page's height and exit")
    ap.add_argument("input", nargs="?", help="captured screen (default: stdin)")
    args = ap.parse_args()
    if args.size:
        print("%dx%d" % page_size(args.cols, args.rows))
        return 0
    if args.crop:
        crop_png(args.crop, page_size(args.cols, args.rows)[1])
        return 0
    if args.input:
        with open(args.input, encoding="utf-8", errors="replace") as f:
            text = f.read()
    else:
        text = sys.stdin.buffer.read().decode("utf-8", "replace")
    sys.stdout.write(render(text, args.cols, args.rows, args.title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
