#!/usr/bin/env bash
# Checks that every C file is formatted as .clang-format says (STYLE.md:
# "formatting is a tool's job"). Changes nothing; lists the files to
# reformat and exits 1 when there are any.
#   scripts/check-format.sh            check
#   clang-format -i FILE...            fix (the command is printed on failure)
set -uo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(server/*.c server/*.h tests/unit/*.c bench/*.c bench/*.h)
if ! command -v clang-format >/dev/null; then
    echo "check-format: clang-format is not installed (scripts/deps.sh --test)" >&2
    exit 2
fi
bad=()
# One run over all files is quick; only when it fails, find the files one by one.
if ! clang-format --dry-run -Werror "${files[@]}" >/dev/null 2>&1; then
    for f in "${files[@]}"; do
        clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    [ "${#bad[@]}" -gt 0 ] || bad=("(clang-format failed: run it by hand)")
fi
if [ "${#bad[@]}" -gt 0 ]; then
    echo "check-format: ${#bad[@]} of ${#files[@]} C files are not clang-formatted:"
    printf '  %s\n' "${bad[@]}"
    echo "fix with: clang-format -i ${bad[*]}"
    exit 1
fi
echo "check-format: ${#files[@]} C files, all formatted ($(clang-format --version | head -1))"
