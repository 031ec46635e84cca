#!/usr/bin/env bash
# Fails (listing the files) when a tracked C source differs from what
# clang-format makes of it with the repository's .clang-format. Fix with:
#   clang-format -i $(git ls-files '*.c' '*.h')
set -euo pipefail
cf=${1:-clang-format}
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find core acl store plugin bridge cli bench tests -name '*.[ch]')
bad=()
for f in $files; do
  if ! "$cf" --dry-run -Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "format_check: ${#bad[@]} file(s) differ from .clang-format:"
  printf '  %s\n' "${bad[@]}"
  echo "fix: clang-format -i ${bad[*]}"
  exit 1
fi
echo "format_check: every C source follows .clang-format"
