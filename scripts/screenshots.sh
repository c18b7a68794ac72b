#!/bin/sh
# Regenerate screenshots/: pytop's live view on examples/demo.py, run in a
# private tmux server at 120x36, one screen per view (Functions and its WALL
# and memory-growth variants, Threads, Call tree, Source, Memory, the help
# overlay). Each is
# saved as text (tmux capture-pane -p, screenshots/NAME.txt) and as a PNG
# (capture-pane -e -> tests/tui/ansi2html.py -> headless Chromium).
#
#   scripts/screenshots.sh                   builds build/pytop first if it is missing
#   PYTOP=path/to/pytop scripts/screenshots.sh
#   COLS=100 ROWS=30 PYTHON=python3.12 scripts/screenshots.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$top/screenshots}
cols=${COLS:-120}
rows=${ROWS:-36}
pytop=${PYTOP:-$top/build/pytop}
python=${PYTHON:-python3}

if ! command -v tmux >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    "$top/scripts/deps.sh"     # installs tmux and chromium among the build dependencies
fi
[ -x "$pytop" ] || "$top/scripts/build.sh" "$top/build"
pytop=$(cd "$(dirname "$pytop")" && pwd)/$(basename "$pytop")

# The pane must take its size from tmux, not from our terminal.
unset LINES COLUMNS TMUX TMUX_PANE
tmp=$(mktemp -d)
sock=pytop-shots-$$
demo=
tm() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() {
    [ -n "$demo" ] && kill "$demo" 2>/dev/null
    socket_path=$(tm display-message -p '#{socket_path}' 2>/dev/null || true)
    tm kill-server 2>/dev/null || true
    [ -n "$socket_path" ] && rm -f "$socket_path"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "screenshots: $*" >&2; exit 1; }
screen() { tm capture-pane -p -t shots; }

# wait_for TEXT [SECONDS]: poll the screen until it shows TEXT.
wait_for() {
    n=$(( ${2:-30} * 4 ))
    while [ "$n" -gt 0 ]; do
        screen | grep -q -F -- "$1" && return 0
        sleep 0.25
        n=$((n - 1))
    done
    screen >&2
    die "timed out waiting for '$1' on the screen (above)"
}

# keys KEY...: type keys, then wait for the screen to change and settle.
keys() {
    before=$(screen)
    tm send-keys -t shots "$@"
    n=40
    while [ "$n" -gt 0 ] && [ "$(screen)" = "$before" ]; do
        sleep 0.25
        n=$((n - 1))
    done
    sleep 1.2    # one refresh, so the view has its numbers
}

# shot NAME: save the screen as NAME.txt and NAME.png.
shot() {
    screen >"$out/$1.txt"
    tm capture-pane -p -e -t shots >"$tmp/$1.ans"
    "$python" "$top/tests/tui/ansi2html.py" --cols "$cols" --rows "$rows" --title "pytop: $1" \
        "$tmp/$1.ans" >"$tmp/$1.html"
    # Headless Chromium lays the page out in a viewport shorter than its window
    # (and no narrower than 500 px): shoot a taller window, then cut the
    # picture to the page.
    size=$("$python" "$top/tests/tui/ansi2html.py" --cols "$cols" --rows "$rows" --size)
    width=${size%x*}
    [ "$width" -ge 500 ] || width=500
    profile=$(mktemp -d)
    rm -f "$out/$1.png"
    if ! chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
            --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
            --force-device-scale-factor=1 --user-data-dir="$profile" \
            --window-size="$width,$((${size#*x} + 400))" \
            --screenshot="$out/$1.png" "file://$tmp/$1.html" >"$tmp/chromium.log" 2>&1 \
            || [ ! -s "$out/$1.png" ]; then
        cat "$tmp/chromium.log" >&2
        die "chromium could not render $1.png"
    fi
    rm -rf "$profile"
    "$python" "$top/tests/tui/ansi2html.py" --cols "$cols" --rows "$rows" --crop "$out/$1.png"
    echo "wrote $out/$1.txt $out/$1.png"
}

mkdir -p "$out"
cd "$top"
"$python" examples/demo.py >/dev/null 2>&1 &
demo=$!
# A pyenv shim is a shell script that execs Python in the same process.
n=40
until readlink "/proc/$demo/exe" 2>/dev/null | grep -q python || [ "$n" -eq 0 ]; do
    sleep 0.25
    n=$((n - 1))
done
kill -0 "$demo" 2>/dev/null || die "examples/demo.py did not start"
sleep 1

tm start-server \; set-option -g default-terminal tmux-256color \; set-option -g status off \; \
    new-session -d -s shots -x "$cols" -y "$rows" "'$pytop' -p $demo; echo EXITED-\$?; sleep 100000"
wait_for fingerprint 60          # the demo's hottest function, once samples are in
sleep 6                          # let the window fill

shot functions
keys c;       wait_for WALL 10;  shot functions-wall
keys c
keys 2;       wait_for poller 10; shot threads
keys 3;       shot calltree
keys 1
keys Home Enter; shot source
keys Escape
keys 5;       shot memory
keys 1
keys m;       shot functions-memory
keys m
keys '?';     shot help
keys Escape
tm send-keys -t shots q
wait_for EXITED-0 10
