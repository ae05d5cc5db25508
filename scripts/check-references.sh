#!/usr/bin/env bash
# Checks that the repository refers only to things inside it: no file may
# point readers at a design document outside the project or at tracker
# issue numbers, which users of the crate cannot see. Point at a section
# of docs/design.md, at docs/expiry.md or at a module instead. Public
# upstream references (`uniffi-rs#2740`, `synapse#8429`, MSC and RFC
# numbers) are fine.
#
# Searches every file git tracks, and new files not yet added (not the
# ignored ones, so not target/), text only. Prints each offending line and
# closes with `references: N outside the project` (exit 1), or
# `references: ok`. Also checks that every link into docs/design.md names
# a section it has.
# Outside a git work tree it prints a line starting "SKIPPED:" (counted as
# skipped by scripts/test-all.sh).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# What must not come back (extended regular expressions, case as given):
#   the old design brief by its file name, upper case;
#   an issue by number (the word "issue", any case of its first letter,
#   singular or plural, then a number, with or without "#");
#   the repository the brief lived in.
patterns=(
    'DESIGN\.md'
    '[Ii]ssues? #?[0-9]'
    '[Ss]teering (repo|document)'
)

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "SKIPPED: not a git work tree, nothing to list the project's files with"
    exit 0
fi

args=()
for p in "${patterns[@]}"; do
    args+=(-e "$p")
done

# git grep exits 1 when nothing matched, 0 when something did, >1 on error.
hits=$(git grep --untracked -n -I -E "${args[@]}" -- .)
rc=$?
if [[ $rc -gt 1 ]]; then
    echo "references: git grep failed (exit $rc)"
    exit 2
fi
found=0
if [[ $rc -eq 0 ]]; then
    echo "$hits"
    found=$(printf '%s\n' "$hits" | wc -l)
    echo "references: $found outside the project: refer to a section of docs/design.md, docs/expiry.md or a module instead"
fi

# Every link into docs/design.md names a section it has: `design.md`, `#`
# and the anchor elsewhere; a Markdown link to `#` and the anchor inside it. Anchors as GitHub makes them from the
# headings: lower case, punctuation dropped, spaces as hyphens.
anchors=$(grep -E '^#+ ' docs/design.md | sed -E 's/^#+ //' | tr '[:upper:]' '[:lower:]' |
    sed -E 's/[^a-z0-9 _-]//g; s/ /-/g')
links=$( (git grep --untracked -n -I -o -E 'design\.md#[a-z0-9_-]+' -- . |
    sed -E 's/design\.md#//'
    grep -n -o -E '\]\(#[a-z0-9_-]+\)' docs/design.md | sed -E 's/^/docs\/design.md:/; s/\]\(#//; s/\)$//') )
broken=0
while IFS= read -r link; do
    [[ -z $link ]] && continue
    anchor=${link##*:}
    if ! grep -qxF -- "$anchor" <<<"$anchors"; then
        echo "${link%:*}: no section #$anchor in docs/design.md"
        broken=$((broken + 1))
    fi
done <<<"$links"
[[ $broken -gt 0 ]] && echo "references: $broken links to a section docs/design.md does not have"

if [[ $found -gt 0 || $broken -gt 0 ]]; then
    exit 1
fi
echo "references: ok ($(git ls-files | wc -l) tracked files searched, $(grep -c . <<<"$links") links into docs/design.md)"
