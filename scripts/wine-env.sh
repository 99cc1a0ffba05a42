# Sourced by scripts/wine-test.sh and scripts/wine-interop.sh: a ready Wine prefix for Windows
# builds of openclaw-node on Linux. Needs wine (Debian: wine + wine64), x86_64-w64-mingw32-gcc
# (gcc-mingw-w64-x86-64) and the rustup target x86_64-pc-windows-gnu; `.ci/run` installs them
# (step `wine`), this file only checks and says what is missing.
#
# WINEPREFIX: OPENCLAW_WINE_PREFIX, else ${TMPDIR:-/tmp}/openclaw-node-wine-<uid>. It is created
# on first use (wineboot with HOME set to a scratch directory, because wineboot links the
# profile's Documents, Desktop... to the HOME of the moment; Mono and Gecko skipped, they cannot
# be installed offline), and given the bcryptprimitives stub (scripts/wine/bcryptprimitives.c).
wine_missing=()
command -v wine >/dev/null || wine_missing+=("wine (apt-get install wine wine64)")
command -v x86_64-w64-mingw32-gcc >/dev/null || wine_missing+=("x86_64-w64-mingw32-gcc (apt-get install gcc-mingw-w64-x86-64)")
rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu ||
  wine_missing+=("the Rust target (rustup target add x86_64-pc-windows-gnu)")
if ((${#wine_missing[@]})); then
  printf 'wine-env: missing: %s\n' "${wine_missing[@]}" >&2
  return 2 2>/dev/null || exit 2
fi
export WINEPREFIX=${OPENCLAW_WINE_PREFIX:-${TMPDIR:-/tmp}/openclaw-node-wine-$(id -u)}
export WINEDEBUG=${WINEDEBUG:--all} WINEARCH=win64 WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY
wine_env_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wine_home=$(mktemp -d)
  HOME=$wine_home wineboot --init >/dev/null 2>&1 || true
  wineserver -w || true
  rm -rf "$wine_home"
fi
wine_stub="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$wine_stub" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -o "$wine_stub" "$wine_env_dir/wine/bcryptprimitives.c" \
    -ladvapi32 -Wl,--kill-at
fi
